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
 * Keys are namespaced: "<ns>/<key>" (ns: "tool", "agent", "revoked",
 * "nonce", "meta", ...).  Values are opaque bytes (JSON by convention).
 */
#ifndef STARFLY_STORE_H
#define STARFLY_STORE_H

struct store;

/*
 * Open a handle on the store at path (the GDBM file; path.gen is the
 * change marker).  Creates both when create is true.  Keeps only the
 * marker mapped, never the database.  *out is new.
 */
int		 store_open(const char *path, bool create, struct store **out);
void		 store_close(struct store *st);

/* Current value of the change marker: one memory load, no system call. */
uint64_t	 store_generation(const struct store *st);

/*
 * Read one value.  *val is new (NUL-terminated for convenience; *len
 * excludes it).  SF_ENOTFOUND when absent.
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
 * Call fn for every entry of namespace ns (key without the "ns/" prefix;
 * both pointers borrowed for the call).  fn returns SF_OK to go on, any
 * other value stops the walk and is returned.  Holds a read open for the
 * walk, so keep fn short.
 */
typedef int	(*store_iter_fn)(const char *key, const char *val, size_t len,
		    void *arg);
int		 store_iter(struct store *st, const char *ns, store_iter_fn fn,
		    void *arg);

/*
 * Several writes under one writer open and one sync.  fn receives a batch
 * handle; store_batch_put/del only inside it.  All or nothing is not
 * promised across a crash beyond GDBM's own guarantees; the sync happens
 * once, after fn returns SF_OK (a non-SF_OK return skips the marker bump
 * but writes already made stay).
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

/* How long an open waits for the other side (default 2000 ms). */
void		 store_set_timeout(struct store *st, unsigned int ms);

/* Counters for metrics: writes, failed writes, total write ns. */
struct store_stats {
	uint64_t	 writes;
	uint64_t	 write_failures;
	uint64_t	 write_ns;
	uint64_t	 lock_waits;
	uint64_t	 recoveries;
};
void		 store_get_stats(const struct store *st, struct store_stats *out);

#endif /* STARFLY_STORE_H */
