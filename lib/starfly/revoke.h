/*
 * starfly/revoke.h - revocations (lib/revoke.c) and the cross-process
 * nonce table (lib/nonce.c).  Included by starfly.h only.
 *
 * The store is the source of truth.  Namespace "revoked", key
 * "<kind>:<id>" (kind "sub": a subject id as the exchange computes it, a
 * WIMSE/SPIFFE URI; kind "jti": one token of this unit), value a JSON
 * object
 *   {"time":N,"expires":N,"lifted":0|1,"kind","id","reason","event",
 *    "source"}
 * time: when the revocation took effect (seconds); expires: when the
 * entry stops refusing (0: until lifted); lifted: 1 once lifted (the
 * entry then refuses only tokens issued at or before time, until
 * expires).
 *
 * Every change goes through revoke_commit, which also appends one record
 * per change to a journal in namespace "revlog" (keys "head", "tail" and
 * one 16-hex-digit sequence number per record) in the same synced write.
 * Every process that decides (exchange, mcp) keeps an in-memory index and
 * calls revoke_refresh before each request: one memory load when the
 * store's change marker has not moved, otherwise one read of the journal
 * head and of each new record (never a walk of the store), so a
 * revocation acknowledged by signals.fcgi is seen by the next request of
 * any process.  lib/revoke.c explains the design.
 */
#ifndef STARFLY_REVOKE_H
#define STARFLY_REVOKE_H

#define REVOKE_NS		"revoked"
#define REVOKE_LOG_NS		"revlog"

struct revoke_index;

/* An empty index (not tied to a store).  *out is new. */
int		 revoke_new(struct revoke_index **out);
/*
 * Build from the store: one read walk of "revoked", then the journal
 * records committed meanwhile.  Entries already expired at now are left
 * out.  *out is new.
 */
int		 revoke_load(struct store *st, int64_t now,
		    struct revoke_index **out);
/*
 * Bring ix up to date with st (the store it was loaded from): nothing
 * when store_generation(st) has not moved since the last call; else the
 * journal records since ix's position; else (ix too far behind, or the
 * journal was reset) a full rebuild in place.  On failure ix keeps its
 * previous state and the next call tries again.
 */
int		 revoke_refresh(struct revoke_index *ix, struct store *st,
		    int64_t now);
void		 revoke_free(struct revoke_index *ix);
size_t		 revoke_count(const struct revoke_index *ix);
/* Entries not expired at now (a scan of the table). */
size_t		 revoke_live(const struct revoke_index *ix, int64_t now);
/* Bytes held (tables and interned reasons), for metrics. */
size_t		 revoke_memory(const struct revoke_index *ix);
/* Journal position (last record applied); 0 before any. */
uint64_t	 revoke_position(const struct revoke_index *ix);

/*
 * Is subject id (kind "sub") or token id (kind "jti") revoked, for a
 * token issued at iat (0: a new exchange)?  A live entry (not expired at
 * now) refuses everything; a lifted one refuses only tokens issued at or
 * before its time.  SF_OK or SF_EREVOKED (*reason borrowed from ix,
 * valid until the next refresh, may be NULL).  Costs one hash of
 * kind:id and a probe: no allocation, no system call.
 */
int		 revoke_check(const struct revoke_index *ix, const char *kind,
		    const char *id, int64_t iat, int64_t now,
		    const char **reason);

/* Set an entry of an in-memory index (tests, benchmarks). */
int		 revoke_add(struct revoke_index *ix, const char *kind,
		    const char *id, int64_t time, int64_t expires,
		    const char *reason);

/*
 * Durable changes.  revoke_commit applies ops in one store write (one
 * sync) with their journal records and returns SF_OK only after the
 * sync.
 *  REVOKE_PUT   revoke kind:id at time until expires (0: until lifted).
 *               Merged with a live entry: the later time, the later
 *               expiry (0 wins), reason/event/source of the later time.
 *  REVOKE_LIFT  lift kind:id at time (RISC account-enabled, compliance
 *               back): new exchanges are allowed again; tokens issued at
 *               or before the revocation (and before the lift's second)
 *               stay refused until the revocation time + token_ttl,
 *               after which the entry goes.  result is SF_ENOTFOUND when
 *               there was no live, unlifted entry.
 *  REVOKE_DEL   remove the entry outright (pruning, operator);
 *               SF_ENOTFOUND when absent.
 *  REVOKE_MARK  put ns/key = val, removed again when its journal record
 *               is trimmed (>= 24 h later unless the journal is at its
 *               cap): idempotence markers such as seen SET jtis.  If any
 *               MARK key already exists, nothing is applied and the
 *               commit returns SF_EEXIST.
 *  REVOKE_COUNT in the JSON object stored at ns/key, member val becomes
 *               {"count": count + 1, "last": time} (statistics written
 *               with the change; not journaled).
 * Before applying, a commit rolls forward the records a crashed commit
 * left (see lib/revoke.c); revoke_recover does only that.
 */
enum revoke_op_type {
	REVOKE_PUT = 1,
	REVOKE_LIFT,
	REVOKE_DEL,
	REVOKE_MARK,
	REVOKE_COUNT
};
struct revoke_op {
	enum revoke_op_type type;
	const char	*kind;		/* "sub" or "jti" */
	const char	*id;
	int64_t		 time;		/* PUT: revocation; LIFT: lift time */
	int64_t		 expires;	/* PUT: 0 = until lifted */
	int64_t		 token_ttl;	/* LIFT: longest token lifetime */
	const char	*reason;	/* PUT; may be NULL */
	const char	*event;		/* PUT, LIFT; may be NULL */
	const char	*source;	/* PUT, LIFT; may be NULL */
	const char	*ns, *key, *val; /* MARK, COUNT */
	int		 result;	/* out: SF_OK or SF_ENOTFOUND */
};
int		 revoke_commit(struct store *st, struct revoke_op *ops,
		    size_t nops, int64_t now);
int		 revoke_recover(struct store *st);

/* One-op conveniences. */
int		 revoke_put(struct store *st, const char *kind, const char *id,
		    int64_t time, int64_t expires, const char *reason,
		    const char *event, const char *source);
int		 revoke_lift(struct store *st, const char *kind, const char *id,
		    int64_t now, int64_t token_ttl, const char *source);

/* Validate kind and id (kind "sub"|"jti", id 1..500 bytes, no NUL). */
bool		 revoke_valid(const char *kind, const char *id);

/*
 * A stored entry, decoded (revoke_entries, revoke_get).  Strings are
 * borrowed from the list / entry they came from.
 */
struct revoke_entry {
	const char	*kind;
	const char	*id;
	const char	*reason;	/* may be NULL */
	const char	*event;		/* may be NULL */
	const char	*source;	/* may be NULL */
	int64_t		 time;
	int64_t		 expires;
	bool		 lifted;
};

/*
 * Every stored entry not expired at now (all of them when now is 0),
 * sorted by kind then id (bytewise): *out (new, revoke_list_free) holds
 * *n entries.  One read walk of the store.
 */
struct revoke_list;
int		 revoke_entries(struct store *st, int64_t now,
		    struct revoke_list **out, size_t *n);
const struct revoke_entry *revoke_list_get(const struct revoke_list *l,
		    size_t i);
void		 revoke_list_free(struct revoke_list *l);

/*
 * The federation hash (API.md): "sha256:" and the lowercase hex SHA-256
 * of the canonical serialisation of the entries of l (README.md,
 * "Revocation hash"): the RFC 8785 (JCS) serialisation of the array of
 * objects {"expires","id","kind","lifted","time"}, lifted a JSON boolean,
 * in the list's order.  out holds 72 bytes.  The empty set hashes "[]".
 */
int		 revoke_hash(const struct revoke_list *l, char out[72]);
/* One entry as export JSON (new reference). */
json_t		*revoke_entry_json(const struct revoke_entry *e);
/*
 * RFC 8785 serialisation of a JSON string (UTF-8 in, quoted and escaped)
 * appended to buf; used by revoke_hash, exposed for tests.
 */
int		 revoke_jcs_string(const char *s, char **buf, size_t *len,
		    size_t *cap);

/*
 * The journal's tail in shared memory (PATH.revlog beside the store
 * PATH; lib/revoke.c explains it).  Once a process has called
 * revoke_ring_open, its commits are posted there after their sync and
 * its refreshes read from there instead of the store, so readers no
 * longer queue behind a committing writer's fsync.  Optional: a process
 * without it (or whose ring cannot be opened) reads the store, and
 * either kind sees every change.  Every process of a unit that reads or
 * writes revocations should call it once at start, before forking.  One
 * store per process: the ring is the process's, not a handle's.
 */
int		 revoke_ring_open(const char *store_path);
void		 revoke_ring_close(void);
/* Highest journal seq posted (0 without a ring). */
uint64_t	 revoke_ring_head(void);
/*
 * A revision of the tool registry kept in the ring: toolreg writers bump
 * it after their commit, so tool caches need not read the store when only
 * revocations moved the marker.  0 without a ring.
 */
uint64_t	 revoke_ring_tools(void);
void		 revoke_ring_note_tools(void);

/*
 * The nonce table: fixed-size, in a shared memory file (run_dir), used by
 * every exchange process of the unit, so an execution-scope nonce is
 * accepted once per unit for its lifetime.  Insert is a robust
 * process-shared mutex held for a few loads and stores.
 */
struct nonce_table;
int		 nonce_open(const char *path, struct nonce_table **out);
void		 nonce_close(struct nonce_table *nt);
/*
 * Record nonce until expires.  SF_OK if new, SF_EREPLAY if seen and not
 * expired, SF_ELIMIT if the table is full of live nonces.
 */
int		 nonce_use(struct nonce_table *nt, const char *nonce,
		    int64_t now, int64_t expires);

#endif /* STARFLY_REVOKE_H */
