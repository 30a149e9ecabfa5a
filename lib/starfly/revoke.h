/*
 * starfly/revoke.h - revocations (lib/revoke.c) and the cross-process
 * nonce table (lib/nonce.c).  Included by starfly.h only.
 *
 * The store is the source of truth for revocations: namespace "revoked",
 * key "sub:<subject id>" or "jti:<jti>", value a JSON object
 * {subject|jti, reason, event, time, expires, source}.  Every process
 * that decides (exchange, mcp) keeps an in-memory index and reloads it
 * when the store's change marker moves, so a revocation acknowledged by
 * signals.fcgi is seen by the next request of any process.
 */
#ifndef STARFLY_REVOKE_H
#define STARFLY_REVOKE_H

struct revoke_index;

/* An empty index; *out is new. */
int		 revoke_new(struct revoke_index **out);
/* Build from the store (one read walk).  *out is new. */
int		 revoke_load(struct store *st, int64_t now,
		    struct revoke_index **out);
void		 revoke_free(struct revoke_index *ix);
size_t		 revoke_count(const struct revoke_index *ix);
/* Approximate bytes held, for metrics. */
size_t		 revoke_memory(const struct revoke_index *ix);

/*
 * Is subject id (or jti, with kind "jti") revoked for a token issued at
 * iat (0: a new exchange, where any live entry refuses)?  A revocation
 * entry refuses tokens issued at or before its time; entries past their
 * expiry are ignored.  SF_OK or SF_EREVOKED (*reason borrowed, may be
 * NULL).
 */
int		 revoke_check(const struct revoke_index *ix, const char *kind,
		    const char *id, int64_t iat, int64_t now,
		    const char **reason);

/* Add to an in-memory index (loading, tests). */
int		 revoke_add(struct revoke_index *ix, const char *kind,
		    const char *id, int64_t time, int64_t expires,
		    const char *reason);

/*
 * Durable operations for signals.fcgi and starflyctl: written to the
 * store and synced before SF_OK.  revoke_put replaces an entry (a later
 * time supersedes); revoke_lift deletes it (SF_ENOTFOUND when absent).
 */
int		 revoke_put(struct store *st, const char *kind, const char *id,
		    int64_t time, int64_t expires, const char *reason,
		    const char *event, const char *source);
int		 revoke_lift(struct store *st, const char *kind, const char *id);

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
