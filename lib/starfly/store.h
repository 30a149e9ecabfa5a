/*
 * starfly/store.h - the GDBM store shared by every process of a unit
 * (lib/store.c).  Included by starfly.h only.
 *
 * GDBM admits one writer or many readers.  So: no process keeps the
 * database open; each operation opens, works and closes; a writer waits a
 * bounded time for readers (and readers for a writer) instead of failing;
 * every acknowledged write is synced before the call returns; and a
 * change marker (a small memory-mapped counter file beside the database,
 * bumped after every committed write) lets any process see that something
 * changed without opening the database: reading it costs a memory load.
 *
 * Files: PATH (the GDBM database), PATH.gen (the change marker, which
 * also carries the reader/writer locks and the crash-recovery state) and
 * PATH.undo (the undo record of the update in flight, made on the first
 * write).  All are created mode 0660 whatever the umask: the programs of
 * one unit share a group.  Local file systems only (fcntl locks).
 *
 * Keys are namespaced: "<ns>/<key>" (ns: "tool", "agent", "revoked",
 * "nonce", "meta", ...).  ns is 1..STORE_NS_MAX bytes of [a-z0-9_.-];
 * key is 1..STORE_KEY_MAX bytes, any byte but NUL.  Values are opaque
 * bytes (JSON by convention) of at most STORE_VAL_MAX bytes.  Oversized
 * input is SF_ETOOBIG, malformed names SF_EINVAL; both are logged.
 *
 * A handle is for one thread.  It survives fork(): the child reopens its
 * lock descriptor on first use.  Store functions must not be called from
 * inside a store_iter or store_batch callback on the same handle (they
 * return SF_EBUSY).
 */
#ifndef STARFLY_STORE_H
#define STARFLY_STORE_H

#define STORE_NS_MAX	32
#define STORE_KEY_MAX	512
#define STORE_VAL_MAX	(1024 * 1024)

struct store;

/*
 * Open a handle on the store at path (the GDBM file; path.gen is the
 * change marker).  Creates both when create is true; SF_ENOTFOUND when
 * the database is absent and create is false.  Keeps only the marker
 * mapped, never the database.  *out is new (store_close).
 */
int		 store_open(const char *path, bool create, struct store **out);
void		 store_close(struct store *st);

/*
 * Current value of the change marker: one memory load, no system call.
 * It moves after every committed write (and after a repair); cache what
 * you read together with the value and reload when it differs (compare
 * with !=: a recreated marker starts from the clock, not from the old
 * value).
 */
uint64_t	 store_generation(const struct store *st);

/*
 * Read one value.  *val is new (free(3) it; NUL-terminated for
 * convenience, *len excludes the NUL; wipe it first if it is secret).
 * SF_ENOTFOUND when absent.
 */
int		 store_get(struct store *st, const char *ns, const char *key,
		    char **val, size_t *len);

enum store_put_mode {
	STORE_REPLACE = 0,	/* insert or overwrite */
	STORE_INSERT = 1	/* SF_EEXIST if present */
};

/* Write one value, synced and marker bumped before SF_OK is returned. */
int		 store_put(struct store *st, const char *ns, const char *key,
		    const void *val, size_t len, enum store_put_mode mode);

/* Delete; SF_ENOTFOUND when absent.  Synced before SF_OK. */
int		 store_del(struct store *st, const char *ns, const char *key);

/*
 * Call fn for every entry of namespace ns (key without the "ns/" prefix,
 * NUL-terminated; val NUL-terminated too; both borrowed for the call).
 * fn returns SF_OK to go on, any other value stops the walk and is
 * returned.  Holds a read open for the walk, so keep fn short; order is
 * unspecified.
 */
typedef int	(*store_iter_fn)(const char *key, const char *val, size_t len,
		    void *arg);
int		 store_iter(struct store *st, const char *ns, store_iter_fn fn,
		    void *arg);

/*
 * Several writes under one writer open and one sync.  fn receives a batch
 * handle (borrowed, valid during the call); store_batch_get/put/del only
 * inside it.  The sync happens once, after fn returns.  Not all or
 * nothing: on a non-SF_OK return from fn (which store_batch returns) the
 * writes already made stay; they are synced and the marker is bumped all
 * the same, so caches see them.  A crash in the middle keeps a prefix of
 * the batch's writes.
 */
struct store_batch;
typedef int	(*store_batch_fn)(struct store_batch *b, void *arg);
int		 store_batch(struct store *st, store_batch_fn fn, void *arg);
int		 store_batch_get(struct store_batch *b, const char *ns,
		    const char *key, char **val, size_t *len);
int		 store_batch_put(struct store_batch *b, const char *ns,
		    const char *key, const void *val, size_t len,
		    enum store_put_mode mode);
int		 store_batch_del(struct store_batch *b, const char *ns,
		    const char *key);

/*
 * How long an operation waits for the other side (default 2000 ms);
 * SF_EBUSY when the wait runs out.  0 means try once.
 */
void		 store_set_timeout(struct store *st, unsigned int ms);

/* Per-handle counters for metrics (this process only). */
struct store_stats {
	uint64_t	 writes;	/* write transactions acknowledged */
	uint64_t	 write_failures; /* write transactions that failed */
	uint64_t	 write_ns;	/* total time of acknowledged writes */
	uint64_t	 write_ns_max;	/* slowest acknowledged write */
	uint64_t	 reads;		/* read transactions (get, iter) */
	uint64_t	 lock_waits;	/* lock not free on the first try */
	uint64_t	 lock_timeouts;	/* ... and not within the timeout */
	uint64_t	 recoveries;	/* database rebuilt by gdbm_recover */
};
void		 store_get_stats(const struct store *st, struct store_stats *out);

#endif /* STARFLY_STORE_H */
