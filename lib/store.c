/*
 * store.c - the GDBM store shared by every process of a unit.
 *
 * Design.
 *
 * Files.  PATH is the GDBM database, PATH.gen the change marker (layout in
 * store_marker.h).  Both are mode 0660 (forced with fchmod, so the umask
 * does not matter): the FastCGI programs and starflyctl of one unit share
 * a group.  New databases are built under a temporary name and renamed
 * into place, so a crash never leaves a half-created PATH.
 *
 * Locking.  GDBM's own lock makes a writer's open fail at once while any
 * reader has the file, so GDBM is opened with GDBM_NOLOCK and we lock
 * ourselves, with open-file-description locks (F_OFD_SETLK) on two bytes
 * of PATH.gen:
 *  - MAIN: shared for a read transaction, exclusive for a write one;
 *  - GATE: a turnstile against writer starvation.  A writer takes GATE
 *    exclusively, then MAIN, then drops GATE; a reader takes GATE shared,
 *    then MAIN shared, then drops GATE.  While a writer waits for the
 *    readers inside to leave, new readers queue at GATE.
 * Waiting is bounded (store_set_timeout, default 2 s): try, then sleep
 * 20 us doubling to 1 ms, until the deadline; then SF_EBUSY.  (A futex
 * wake-up on unlock was tried and measured slower: waking every waiter
 * on each release thrashes.)  Why fcntl
 * locks on a separate file rather than GDBM's locks or flock: they are
 * dropped by the kernel when a process dies, so a kill -9 never leaves a
 * stale lock; they do not follow the database inode, which gdbm_recover
 * replaces by rename; OFD locks belong to the open file, not the process,
 * so two handles in one process exclude each other (classic POSIX locks
 * would not) and closing some other descriptor of the file does not drop
 * them; and two byte ranges of one file give the turnstile without a
 * third file.  A handle used after fork() reopens its descriptor so the
 * child does not share the parent's locks.
 *
 * Transactions.  No process keeps the database open: every operation
 * locks, opens GDBM (GDBM_NOMMAP: plain pread/pwrite, so a killed process
 * leaves whole system calls behind it rather than a torn memcpy into a
 * mapping), works, and for a write calls gdbm_sync (fsync) before it
 * closes, bumps the generation and unlocks.  SF_OK is returned only after
 * the sync.  The generation is a 64-bit atomic in the shared mapping of
 * PATH.gen, bumped with release order while the writer still holds MAIN,
 * so a reader who sees it move and then takes the read lock sees the
 * write; store_generation() is one atomic load.  It starts at the wall
 * clock in nanoseconds so a recreated marker does not repeat old values.
 *
 * Crash safety (kill -9 at any instruction).  GDBM's crash tolerance
 * needs a reflink file system; ext4 has none.  What GDBM does give: each
 * gdbm_store/gdbm_delete writes new data to free space, then the changed
 * buckets, then the directory, then the header, so after each call the
 * file in the page cache is consistent again.  The one unsafe window is
 * the call itself.  So around each GDBM update the writer
 *   1. copies the database's header block into PATH.gen (image),
 *   2. sets inflight = 1, does the update, sets inflight = 0.
 * Whoever next takes a lock and finds inflight set knows a writer died in
 * that window and repairs before anything else: if GDBM refuses to open
 * the file (a torn header), the header image is written back; then
 * gdbm_recover with GDBM_RCVR_FORCE rebuilds the database from its
 * buckets into a new file renamed over PATH.  That walk reads every
 * record reachable at the time of the crash; records acknowledged before
 * are reachable because an update only rewrites in place the bucket
 * slots, directory entries and header it changes, never another record's
 * data.  The exception is GDBM reusing a record's space when a value is
 * replaced by one of exactly the same size; to keep even that key's old
 * value intact we store each value with a trailer of one byte (0x00) or,
 * when the old record has that very size, two bytes (0x00 0x01).
 * Readers that find inflight set upgrade to the write lock to repair.
 * GDBM errors that mean damage (GDBM_NEED_RECOVERY, bad header, bucket,
 * avail or directory) trigger the same repair.  Every repair is logged
 * and counted in stats.recoveries.
 * Power loss: acknowledged writes were fsynced; PATH.gen is not, so it
 * records the kernel boot id, and the first writer or reader after a
 * reboot rebuilds the database once the same way (no header image is
 * trusted across a reboot).
 * The rebuild is done under the name PATH.repair (gdbm_recover writes
 * PATH.repair.XXXXXX and renames it to that name), then renamed over
 * PATH; so a repair killed half-way leaves PATH intact plus files with a
 * distinctive name, which the next repair removes.
 * Limit: the repair rebuilds under the database owner's rights
 * (gdbm_copy_meta chowns the new file), so run the unit's programs as one
 * user.
 */
#include <sys/mman.h>
#include <sys/stat.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <gdbm.h>
#include <libgen.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "starfly.h"
#include "store_marker.h"

#define STORE_TIMEOUT_MS	2000
#define STORE_FILE_MODE		0660
#define STORE_GDBM_FLAGS	(GDBM_NOLOCK | GDBM_NOMMAP | GDBM_CLOEXEC)
#define STORE_BOOT_UNKNOWN	0xff	/* boot_id byte: verified, id unknown */
#define STORE_FULLKEY		(STORE_NS_MAX + 1 + STORE_KEY_MAX + 1)

struct store {
	char			*path;		/* the GDBM database */
	char			*mpath;		/* PATH.gen */
	char			*rpath;		/* PATH.repair, see store_repair */
	int			 mfd;		/* PATH.gen; carries the locks */
	pid_t			 mpid;		/* process that opened mfd */
	struct store_marker	*m;		/* PATH.gen, mapped shared */
	unsigned int		 timeout_ms;
	bool			 boot_known;
	unsigned char		 boot_id[16];
	bool			 busy;		/* inside a transaction */
	struct store_stats	 stats;
};

/* One locked, open use of the database. */
struct txn {
	struct store	*st;
	GDBM_FILE	 dbf;
	bool		 write;
	bool		 written;	/* something was modified */
	bool		 damaged;	/* GDBM reported damage */
	uint64_t	 t0;
};

struct store_batch {
	struct txn	*t;
};

static int	 store_repair(struct store *, const char *);

/*
 * Names and records.
 */

static int
make_key(const char *ns, const char *key, char *buf, size_t bufsz,
    size_t *klen)
{
	size_t nl, kl, i;

	*klen = 0;
	if (ns == NULL || key == NULL) {
		log_err("store: namespace or key missing");
		return SF_EINVAL;
	}
	nl = strlen(ns);
	kl = strlen(key);
	if (nl == 0 || kl == 0) {
		log_err("store: empty namespace or key");
		return SF_EINVAL;
	}
	if (nl > STORE_NS_MAX || kl > STORE_KEY_MAX) {
		log_err("store: namespace (%zu bytes, max %d) or key (%zu "
		    "bytes, max %d) too long", nl, STORE_NS_MAX, kl,
		    STORE_KEY_MAX);
		return SF_ETOOBIG;
	}
	for (i = 0; i < nl; i++) {
		char c = ns[i];

		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		    c == '_' || c == '.' || c == '-')) {
			log_err("store: namespace \"%s\": only [a-z0-9_.-] "
			    "allowed", ns);
			return SF_EINVAL;
		}
	}
	if (nl + 1 + kl + 1 > bufsz)
		return SF_ETOOBIG;
	memcpy(buf, ns, nl);
	buf[nl] = '/';
	memcpy(buf + nl + 1, key, kl + 1);
	*klen = nl + 1 + kl;
	return SF_OK;
}

/*
 * A record is the value followed by 0x00, or by 0x00 0x01 (see the
 * design note).  Either way rec[vlen] is a NUL.  Returns the value
 * length or -1 when the record is malformed.
 */
static long
record_value_len(const char *rec, int n)
{
	if (n >= 1 && rec[n - 1] == 0)
		return (long)n - 1;
	if (n >= 2 && rec[n - 1] == 1 && rec[n - 2] == 0)
		return (long)n - 2;
	return -1;
}

/*
 * GDBM errors.
 */

/* Error codes that mean the file is damaged and store_repair may help. */
static bool
gdbm_damage(int ge)
{
	switch (ge) {
	case GDBM_NEED_RECOVERY:
	case GDBM_BAD_MAGIC_NUMBER:
	case GDBM_BAD_HEADER:
	case GDBM_BAD_AVAIL:
	case GDBM_BAD_BUCKET:
	case GDBM_BAD_HASH_TABLE:
	case GDBM_BAD_DIR_ENTRY:
	case GDBM_BAD_HASH_ENTRY:
	case GDBM_BUCKET_CACHE_CORRUPTED:
	case GDBM_BLOCK_SIZE_ERROR:
	case GDBM_FILE_EOF:
		return true;
	default:
		return false;
	}
}

static int
gdbm_to_sf(int ge)
{
	switch (ge) {
	case GDBM_NO_ERROR:
		return SF_OK;
	case GDBM_MALLOC_ERROR:
		return SF_ENOMEM;
	case GDBM_ITEM_NOT_FOUND:
		return SF_ENOTFOUND;
	case GDBM_CANNOT_REPLACE:
		return SF_EEXIST;
	case GDBM_CANT_BE_READER:
	case GDBM_CANT_BE_WRITER:
		return SF_EBUSY;
	default:
		return SF_ESTORE;
	}
}

/*
 * Log a failed GDBM call inside a transaction and classify it.  Damage
 * marks the transaction so that txn_end repairs the database.
 */
static int
txn_gdbm_fail(struct txn *t, const char *what)
{
	int ge = gdbm_last_errno(t->dbf);

	if (gdbm_damage(ge) || gdbm_needs_recovery(t->dbf))
		t->damaged = true;
	log_err("store: %s: %s: %s", t->st->path, what,
	    gdbm_db_strerror(t->dbf));
	return t->damaged ? SF_ESTORE : gdbm_to_sf(ge);
}

/*
 * Files, boot id, marker.
 */

static int
fsync_dir(const char *path)
{
	char *copy;
	int fd, rc = SF_OK;

	if ((copy = sf_strdup(path)) == NULL)
		return SF_ENOMEM;
	fd = open(dirname(copy), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd == -1 || fsync(fd) == -1) {
		log_err("store: fsync of the directory of %s: %s", path,
		    strerror(errno));
		rc = SF_ESYS;
	}
	if (fd != -1)
		close(fd);
	free(copy);
	return rc;
}

/* The kernel's boot id, so that PATH.gen can tell a reboot happened. */
static bool
read_boot_id(unsigned char id[16])
{
	char buf[64];
	size_t i, n = 0;
	ssize_t got;
	int fd;

	memset(id, 0, 16);
	fd = open("/proc/sys/kernel/random/boot_id", O_RDONLY | O_CLOEXEC);
	if (fd == -1)
		return false;
	got = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (got <= 0)
		return false;
	buf[got] = '\0';
	for (i = 0; buf[i] != '\0' && n < 32; i++) {
		unsigned int v;
		char c = buf[i];

		if (c == '-' || c == '\n')
			continue;
		if (c >= '0' && c <= '9')
			v = (unsigned int)(c - '0');
		else if (c >= 'a' && c <= 'f')
			v = (unsigned int)(c - 'a' + 10);
		else
			return false;
		id[n / 2] = (unsigned char)(id[n / 2] | (v << ((n % 2) ? 0 : 4)));
		n++;
	}
	return n == 32;
}

static bool
boot_zero(const unsigned char id[16])
{
	static const unsigned char zero[16];

	return memcmp(id, zero, 16) == 0;
}

/* Does PATH.gen say a repair is due?  Caller holds a lock on MAIN. */
static const char *
marker_repair_reason(const struct store *st)
{
	if (atomic_load_explicit(&st->m->inflight, memory_order_acquire))
		return "a writer died during an update";
	if (boot_zero(st->m->boot_id))
		return "the change marker is new, the database is unverified";
	if (st->boot_known && memcmp(st->m->boot_id, st->boot_id, 16) != 0)
		return "the system rebooted since the last write";
	return NULL;
}

static void
marker_set_verified(struct store *st)
{
	if (st->boot_known)
		memcpy(st->m->boot_id, st->boot_id, 16);
	else
		memset(st->m->boot_id, STORE_BOOT_UNKNOWN, 16);
}

static uint64_t
wall_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/*
 * Locks (see the design note).
 */

/* 1: got it, 0: held by someone else, -1: error (errno). */
static int
lock_byte(int fd, short type, off_t byte)
{
	struct flock fl;

	memset(&fl, 0, sizeof(fl));
	fl.l_type = type;
	fl.l_whence = SEEK_SET;
	fl.l_start = byte;
	fl.l_len = 1;
	if (fcntl(fd, F_OFD_SETLK, &fl) == 0)
		return 1;
	if (errno == EAGAIN || errno == EACCES || errno == EINTR)
		return 0;
	return -1;
}

static int
lock_wait(struct store *st, short type, off_t byte, uint64_t deadline,
    bool *waited)
{
	uint64_t pause = 20000, now;
	struct timespec ts;
	int r;

	for (;;) {
		if ((r = lock_byte(st->mfd, type, byte)) == 1)
			return SF_OK;
		if (r == -1) {
			log_err("store: %s: lock: %s", st->mpath,
			    strerror(errno));
			return SF_ESYS;
		}
		*waited = true;
		if ((now = sf_mono_ns()) >= deadline)
			return SF_EBUSY;
		if (pause > deadline - now)
			pause = deadline - now;
		ts.tv_sec = 0;
		ts.tv_nsec = (long)pause;
		nanosleep(&ts, NULL);
		if (pause < 1000000)
			pause *= 2;
	}
}

static void
unlock_byte(struct store *st, off_t byte)
{
	(void)lock_byte(st->mfd, F_UNLCK, byte);
}

static int
store_lock(struct store *st, bool write)
{
	short type = write ? F_WRLCK : F_RDLCK;
	uint64_t deadline;
	bool waited = false;
	int rc;

	deadline = sf_mono_ns() + (uint64_t)st->timeout_ms * 1000000u;
	if ((rc = lock_wait(st, type, STORE_LOCK_GATE, deadline,
	    &waited)) == SF_OK) {
		rc = lock_wait(st, type, STORE_LOCK_MAIN, deadline, &waited);
		unlock_byte(st, STORE_LOCK_GATE);
	}
	if (waited)
		st->stats.lock_waits++;
	if (rc == SF_EBUSY) {
		st->stats.lock_timeouts++;
		log_err("store: %s: %s lock not obtained within %u ms",
		    st->path, write ? "write" : "read", st->timeout_ms);
	}
	return rc;
}

static void
store_unlock(struct store *st)
{
	unlock_byte(st, STORE_LOCK_MAIN);
}

/*
 * Open GDBM on st->path; GDBM knows the file as name.  A zero-length
 * file is refused: GDBM would silently make it an empty database.
 */
static GDBM_FILE
db_open(struct store *st, bool write, const char *name, int *ge)
{
	GDBM_FILE dbf;
	struct stat sb;
	int fd;

	*ge = GDBM_NO_ERROR;
	fd = open(st->path, (write ? O_RDWR : O_RDONLY) | O_CLOEXEC);
	if (fd == -1) {
		*ge = GDBM_FILE_OPEN_ERROR;
		log_err("store: %s: open: %s", st->path, strerror(errno));
		return NULL;
	}
	if (fstat(fd, &sb) == -1 || sb.st_size == 0) {
		*ge = GDBM_EMPTY_DATABASE;
		log_err("store: %s: the database file is empty (truncated?); "
		    "restore it from a backup or remove it", st->path);
		close(fd);
		return NULL;
	}
	dbf = gdbm_fd_open(fd, name, 0, (write ? GDBM_WRITER :
	    GDBM_READER) | STORE_GDBM_FLAGS | GDBM_CLOERROR, NULL);
	if (dbf == NULL) {
		*ge = gdbm_errno;
		log_err("store: %s: gdbm open: %s", st->path,
		    gdbm_strerror(*ge));
	}
	return dbf;
}

/*
 * Repair (see the design note).  Caller holds the write lock.
 */

static void recover_log(void *, const char *, ...)
    __attribute__((format(printf, 2, 3)));

static void
recover_log(void *data, const char *fmt, ...)
{
	const struct store *st = data;
	char buf[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	log_warn("store: %s: recovery: %s", st->path, buf);
}

/* Write back the header block saved before the interrupted update. */
static int
restore_header(struct store *st)
{
	uint32_t len = atomic_load_explicit(&st->m->image_len,
	    memory_order_acquire);
	int fd, rc = SF_OK;

	if (len == 0 || len > STORE_BLOCK)
		return SF_ENOTFOUND;
	if ((fd = open(st->path, O_WRONLY | O_CLOEXEC)) == -1)
		return SF_ESYS;
	if (pwrite(fd, st->m->image, len, 0) != (ssize_t)len ||
	    fsync(fd) == -1)
		rc = SF_ESYS;
	close(fd);
	if (rc == SF_OK)
		log_warn("store: %s: header torn by the interrupted update; "
		    "restored the copy taken before it", st->path);
	else
		log_err("store: %s: restoring the header: %s", st->path,
		    strerror(errno));
	return rc;
}

/*
 * Remove what a repair or a creation killed half-way left behind: GDBM's
 * PATH.repair.XXXXXX temporary, PATH.repair, PATH.new.<pid>.  Only
 * called under the write lock, when no repair or creation can be running.
 */
static void
remove_strays(struct store *st)
{
	char *dcopy = NULL, *bcopy = NULL, *base, *n, *end;
	struct dirent *de;
	size_t blen;
	DIR *d = NULL;
	bool stray;

	if ((dcopy = sf_strdup(st->path)) == NULL ||
	    (bcopy = sf_strdup(st->path)) == NULL)
		goto out;
	base = basename(bcopy);
	blen = strlen(base);
	if ((d = opendir(dirname(dcopy))) == NULL)
		goto out;
	while ((de = readdir(d)) != NULL) {
		n = de->d_name;
		if (strncmp(n, base, blen) != 0)
			continue;
		n += blen;
		if (strncmp(n, ".repair", 7) == 0)
			stray = n[7] == '\0' ||
			    (n[7] == '.' && strlen(n + 8) == 6);
		else if (strncmp(n, ".new.", 5) == 0) {
			(void)strtol(n + 5, &end, 10);
			stray = end != n + 5 && *end == '\0';
		} else
			continue;
		if (stray && unlinkat(dirfd(d), de->d_name, 0) == 0)
			log_warn("store: removed %s left by an interrupted "
			    "repair or creation", de->d_name);
	}
out:
	if (d != NULL)
		closedir(d);
	free(dcopy);
	free(bcopy);
}

static int
store_repair(struct store *st, const char *why)
{
	gdbm_recovery rcvr;
	GDBM_FILE dbf;
	bool crashed, same_boot;
	int ge, rc;

	crashed = atomic_load_explicit(&st->m->inflight,
	    memory_order_acquire) != 0;
	same_boot = st->boot_known && memcmp(st->m->boot_id, st->boot_id,
	    16) == 0;
	log_warn("store: %s: repairing: %s (last writer pid %u)", st->path,
	    why, (unsigned int)atomic_load(&st->m->writer_pid));
	remove_strays(st);
	dbf = db_open(st, true, st->rpath, &ge);
	if (dbf == NULL && gdbm_damage(ge) && crashed && same_boot &&
	    restore_header(st) == SF_OK)
		dbf = db_open(st, true, st->rpath, &ge);
	if (dbf == NULL) {
		log_err("store: %s: cannot be opened for repair; restore "
		    "it from a backup", st->path);
		return SF_ESTORE;
	}
	memset(&rcvr, 0, sizeof(rcvr));
	rcvr.errfun = recover_log;
	rcvr.data = st;
	if (gdbm_recover(dbf, &rcvr, GDBM_RCVR_ERRFUN | GDBM_RCVR_FORCE)
	    != 0) {
		log_err("store: %s: gdbm_recover: %s (the repair must run "
		    "as the database owner)", st->path, gdbm_db_strerror(dbf));
		gdbm_close(dbf);
		return SF_ESTORE;
	}
	rc = gdbm_sync(dbf) == 0 ? SF_OK : SF_ESTORE;
	gdbm_close(dbf);
	if (rc == SF_OK && rename(st->rpath, st->path) == -1) {
		log_err("store: rename %s to %s: %s", st->rpath, st->path,
		    strerror(errno));
		rc = SF_ESYS;
	}
	if (rc == SF_OK)
		rc = fsync_dir(st->path);
	if (rc != SF_OK)
		return rc;
	st->stats.recoveries++;
	log_msg(rcvr.failed_keys || rcvr.failed_buckets ? SF_LOG_ERR :
	    SF_LOG_WARN, "store: %s: rebuilt: %zu keys in %zu buckets recovered, %zu "
	    "keys and %zu buckets lost, %zu duplicates dropped", st->path,
	    rcvr.recovered_keys, rcvr.recovered_buckets, rcvr.failed_keys,
	    rcvr.failed_buckets, rcvr.duplicate_keys);
	atomic_store_explicit(&st->m->image_len, 0, memory_order_relaxed);
	marker_set_verified(st);
	atomic_store_explicit(&st->m->inflight, 0, memory_order_release);
	atomic_fetch_add_explicit(&st->m->generation, 1, memory_order_release);
	return SF_OK;
}

/*
 * For a reader: take the write lock and repair if PATH.gen still asks for
 * it (another process may have repaired meanwhile) or, when damage is
 * non-NULL, because GDBM reported that damage.
 */
static int
store_repair_locked(struct store *st, const char *damage)
{
	const char *reason;
	int rc;

	if ((rc = store_lock(st, true)) != SF_OK)
		return rc;
	if ((reason = marker_repair_reason(st)) != NULL || damage != NULL)
		rc = store_repair(st, reason != NULL ? reason : damage);
	store_unlock(st);
	return rc;
}

/*
 * Transactions.
 */

/* Every entry point: refuse nesting, reopen the lock file after fork. */
static int
store_enter(struct store *st)
{
	int fd;

	if (st->mpid != getpid()) {
		/* A forked child: its own lock, no transaction of its own. */
		fd = open(st->mpath, O_RDWR | O_CLOEXEC);
		if (fd == -1) {
			log_err("store: %s: reopen after fork: %s", st->mpath,
			    strerror(errno));
			return SF_ESYS;
		}
		close(st->mfd);
		st->mfd = fd;
		st->mpid = getpid();
		st->busy = false;
	}
	if (st->busy) {
		log_err("store: %s: called from inside a store_iter or "
		    "store_batch callback", st->path);
		return SF_EBUSY;
	}
	return SF_OK;
}

static int
txn_begin(struct store *st, bool write, struct txn *t)
{
	const char *reason, *damage;
	int attempt, ge, rc;

	memset(t, 0, sizeof(*t));
	t->st = st;
	t->write = write;
	t->t0 = sf_mono_ns();
	if ((rc = store_enter(st)) != SF_OK)
		return rc;
	for (attempt = 0; attempt < 3; attempt++) {
		if ((rc = store_lock(st, write)) != SF_OK)
			return rc;
		damage = NULL;
		if ((reason = marker_repair_reason(st)) == NULL) {
			if ((t->dbf = db_open(st, write, st->path, &ge)) !=
			    NULL) {
				st->busy = true;
				return SF_OK;
			}
			if (!gdbm_damage(ge)) {
				store_unlock(st);
				return ge == GDBM_MALLOC_ERROR ? SF_ENOMEM :
				    SF_ESTORE;
			}
			reason = damage = "GDBM reports damage on open";
		}
		if (write) {
			rc = store_repair(st, reason);
			store_unlock(st);
		} else {
			store_unlock(st);
			rc = store_repair_locked(st, damage);
		}
		if (rc != SF_OK)
			return rc;
	}
	log_err("store: %s: still damaged after repair", st->path);
	return SF_ESTORE;
}

/* Close, sync a write, bump the marker, unlock; returns the final rc. */
static int
txn_end(struct txn *t, int rc)
{
	struct store *st = t->st;
	uint64_t ns;

	if (t->dbf != NULL && t->write && t->written && !t->damaged &&
	    gdbm_sync(t->dbf) != 0) {
		log_err("store: %s: sync: %s", st->path,
		    gdbm_db_strerror(t->dbf));
		if (rc == SF_OK)
			rc = SF_ESTORE;
	}
	if (t->dbf != NULL)
		gdbm_close(t->dbf);
	t->dbf = NULL;
	st->busy = false;
	if (t->write) {
		if (t->damaged) {
			(void)store_repair(st, "GDBM reported damage");
			if (rc == SF_OK)
				rc = SF_ESTORE;
		} else if (t->written)
			atomic_fetch_add_explicit(&st->m->generation, 1,
			    memory_order_release);
		store_unlock(st);
		if (rc == SF_OK) {
			ns = sf_mono_ns() - t->t0;
			st->stats.writes++;
			st->stats.write_ns += ns;
			if (ns > st->stats.write_ns_max)
				st->stats.write_ns_max = ns;
		} else if (rc != SF_EEXIST && rc != SF_ENOTFOUND)
			st->stats.write_failures++;
	} else {
		st->stats.reads++;
		store_unlock(st);
		if (t->damaged) {
			(void)store_repair_locked(st, "GDBM reported damage");
			if (rc == SF_OK)
				rc = SF_ESTORE;
		}
	}
	return rc;
}

/* Bracket one GDBM update: save the header, flag it in flight. */
static void
update_begin(struct txn *t)
{
	struct store_marker *m = t->st->m;
	int bs = 0;
	ssize_t n;

	atomic_store_explicit(&m->image_len, 0, memory_order_relaxed);
	if (gdbm_setopt(t->dbf, GDBM_GETBLOCKSIZE, &bs, sizeof(bs)) == 0 &&
	    bs > 0 && bs <= STORE_BLOCK) {
		n = pread(gdbm_fdesc(t->dbf), m->image, (size_t)bs, 0);
		if (n == bs)
			atomic_store_explicit(&m->image_len, (uint32_t)bs,
			    memory_order_release);
	}
	atomic_store_explicit(&m->writer_pid, (uint32_t)getpid(),
	    memory_order_relaxed);
	atomic_store_explicit(&m->inflight, 1, memory_order_release);
}

static void
update_end(struct txn *t)
{
	atomic_store_explicit(&t->st->m->inflight, 0, memory_order_release);
}

static int
txn_fetch(struct txn *t, const char *k, size_t klen, char **val,
    size_t *len)
{
	datum key, rec;
	long vlen;

	key.dptr = (char *)(uintptr_t)k;
	key.dsize = (int)klen;
	rec = gdbm_fetch(t->dbf, key);
	if (rec.dptr == NULL) {
		if (gdbm_last_errno(t->dbf) == GDBM_ITEM_NOT_FOUND)
			return SF_ENOTFOUND;
		return txn_gdbm_fail(t, "fetch");
	}
	if ((vlen = record_value_len(rec.dptr, rec.dsize)) < 0) {
		log_err("store: %s: record of %s is malformed", t->st->path,
		    k);
		sf_freezero(rec.dptr, (size_t)rec.dsize);
		return SF_ESTORE;
	}
	*val = rec.dptr;
	*len = (size_t)vlen;
	return SF_OK;
}

static int
txn_store(struct txn *t, const char *k, size_t klen, const void *val,
    size_t len, enum store_put_mode mode)
{
	datum key, rec, old;
	size_t reclen = len + 1;
	char *buf;
	int r, rc;

	if (len > STORE_VAL_MAX) {
		log_err("store: %s: value of %s is %zu bytes, max %d",
		    t->st->path, k, len, STORE_VAL_MAX);
		return SF_ETOOBIG;
	}
	if (val == NULL && len > 0)
		return SF_EINVAL;
	key.dptr = (char *)(uintptr_t)k;
	key.dsize = (int)klen;
	if (mode == STORE_REPLACE) {
		old = gdbm_fetch(t->dbf, key);
		if (old.dptr != NULL) {
			if ((size_t)old.dsize == reclen)
				reclen++;
			sf_freezero(old.dptr, (size_t)old.dsize);
		} else if (gdbm_last_errno(t->dbf) != GDBM_ITEM_NOT_FOUND)
			return txn_gdbm_fail(t, "fetch");
	}
	if ((buf = malloc(reclen)) == NULL)
		return SF_ENOMEM;
	if (len > 0)
		memcpy(buf, val, len);
	buf[len] = 0;
	if (reclen == len + 2)
		buf[len + 1] = 1;
	rec.dptr = buf;
	rec.dsize = (int)reclen;
	update_begin(t);
	r = gdbm_store(t->dbf, key, rec, mode == STORE_INSERT ?
	    GDBM_INSERT : GDBM_REPLACE);
	if (r == 0) {
		t->written = true;
		rc = SF_OK;
	} else if (r == 1)
		rc = SF_EEXIST;
	else
		rc = txn_gdbm_fail(t, "store");
	if (!t->damaged)
		update_end(t);
	sf_freezero(buf, reclen);
	return rc;
}

static int
txn_delete(struct txn *t, const char *k, size_t klen)
{
	datum key;
	int rc = SF_OK;

	key.dptr = (char *)(uintptr_t)k;
	key.dsize = (int)klen;
	update_begin(t);
	if (gdbm_delete(t->dbf, key) == 0)
		t->written = true;
	else if (gdbm_last_errno(t->dbf) == GDBM_ITEM_NOT_FOUND)
		rc = SF_ENOTFOUND;
	else
		rc = txn_gdbm_fail(t, "delete");
	if (!t->damaged)
		update_end(t);
	return rc;
}

/*
 * Public interface.
 */

/* Create the database under a temporary name; caller holds the lock. */
static int
db_create(struct store *st)
{
	GDBM_FILE dbf;
	char *tmp = NULL;
	int fd = -1, rc = SF_ESYS;

	if (sf_asprintf(&tmp, "%s.new.%ld", st->path, (long)getpid()) !=
	    SF_OK)
		return SF_ENOMEM;
	fd = open(tmp, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC,
	    STORE_FILE_MODE);
	if (fd == -1 || fchmod(fd, STORE_FILE_MODE) == -1) {
		log_err("store: %s: %s", tmp, strerror(errno));
		goto out;
	}
	dbf = gdbm_fd_open(fd, tmp, STORE_BLOCK, GDBM_WRCREAT | GDBM_BSEXACT |
	    STORE_GDBM_FLAGS | GDBM_CLOERROR, NULL);
	fd = -1;
	if (dbf == NULL) {
		log_err("store: %s: gdbm create: %s", tmp,
		    gdbm_strerror(gdbm_errno));
		rc = SF_ESTORE;
		goto out;
	}
	if (gdbm_sync(dbf) != 0) {
		log_err("store: %s: sync: %s", tmp, gdbm_db_strerror(dbf));
		gdbm_close(dbf);
		rc = SF_ESTORE;
		goto out;
	}
	gdbm_close(dbf);
	if (rename(tmp, st->path) == -1) {
		log_err("store: rename %s to %s: %s", tmp, st->path,
		    strerror(errno));
		goto out;
	}
	free(tmp);
	tmp = NULL;
	if ((rc = fsync_dir(st->path)) == SF_OK)
		marker_set_verified(st);
	log_info("store: %s: created", st->path);
out:
	if (fd != -1)
		close(fd);
	if (tmp != NULL) {
		unlink(tmp);
		free(tmp);
	}
	return rc;
}

static bool
marker_valid(const struct store_marker *m)
{
	return m->magic == STORE_MARKER_MAGIC &&
	    m->version == STORE_MARKER_VERSION &&
	    m->size == sizeof(struct store_marker);
}

/* Open, size, map and if need be initialise PATH.gen; create the db. */
static int
marker_open(struct store *st, bool create)
{
	struct stat sb;
	void *p;
	int fd, rc;
	bool have_db;

	fd = open(st->mpath, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC,
	    STORE_FILE_MODE);
	if (fd != -1)
		(void)fchmod(fd, STORE_FILE_MODE);
	else if (errno == EEXIST)
		fd = open(st->mpath, O_RDWR | O_CLOEXEC);
	if (fd == -1) {
		log_err("store: %s: %s", st->mpath, strerror(errno));
		return SF_ESYS;
	}
	st->mfd = fd;
	st->mpid = getpid();
	/* Growing with zeros is harmless even if another process races. */
	if (fstat(fd, &sb) == -1 ||
	    ((size_t)sb.st_size < sizeof(struct store_marker) &&
	    ftruncate(fd, (off_t)sizeof(struct store_marker)) == -1))
		goto syserr;
	p = mmap(NULL, sizeof(struct store_marker), PROT_READ | PROT_WRITE,
	    MAP_SHARED, fd, 0);
	if (p == MAP_FAILED)
		goto syserr;
	st->m = p;
	if (marker_valid(st->m) && access(st->path, F_OK) == 0)
		return SF_OK;

	/* First use (or a damaged marker): initialise under the lock. */
	if ((rc = store_lock(st, true)) != SF_OK)
		return rc;
	have_db = access(st->path, F_OK) == 0;
	if (!marker_valid(st->m)) {
		if (st->m->magic != 0)
			log_warn("store: %s: change marker unreadable; "
			    "reinitialised", st->mpath);
		memset(st->m, 0, sizeof(*st->m));
		st->m->version = STORE_MARKER_VERSION;
		st->m->size = sizeof(struct store_marker);
		atomic_store(&st->m->generation, wall_ns());
		/* boot_id stays zero: an existing database gets verified. */
		atomic_thread_fence(memory_order_release);
		st->m->magic = STORE_MARKER_MAGIC;
	}
	rc = SF_OK;
	if (!have_db) {
		if (create)
			rc = db_create(st);
		else {
			log_err("store: %s: no such database", st->path);
			rc = SF_ENOTFOUND;
		}
	}
	store_unlock(st);
	return rc;
syserr:
	log_err("store: %s: %s", st->mpath, strerror(errno));
	return SF_ESYS;
}

int
store_open(const char *path, bool create, struct store **out)
{
	struct store *st;
	struct txn t;
	int rc;

	*out = NULL;
	if (path == NULL || *path == '\0') {
		log_err("store: no database path");
		return SF_EINVAL;
	}
	if (strlen(path) > PATH_MAX - 32) {
		log_err("store: database path too long");
		return SF_ETOOBIG;
	}
	if (!create && access(path, F_OK) == -1) {
		log_err("store: %s: %s", path, strerror(errno));
		return errno == ENOENT ? SF_ENOTFOUND : SF_ESYS;
	}
	if ((st = calloc(1, sizeof(*st))) == NULL)
		return SF_ENOMEM;
	st->mfd = -1;
	st->timeout_ms = STORE_TIMEOUT_MS;
	st->boot_known = read_boot_id(st->boot_id);
	if ((st->path = sf_strdup(path)) == NULL ||
	    sf_asprintf(&st->mpath, "%s.gen", path) != SF_OK ||
	    sf_asprintf(&st->rpath, "%s.repair", path) != SF_OK) {
		rc = SF_ENOMEM;
		goto fail;
	}
	if ((rc = marker_open(st, create)) != SF_OK)
		goto fail;
	/* Prove the database opens now (repairing it if due), not later. */
	if ((rc = txn_begin(st, false, &t)) != SF_OK)
		goto fail;
	if ((rc = txn_end(&t, SF_OK)) != SF_OK)
		goto fail;
	st->stats.reads = 0;
	*out = st;
	return SF_OK;
fail:
	store_close(st);
	return rc;
}

void
store_close(struct store *st)
{
	if (st == NULL)
		return;
	if (st->m != NULL)
		munmap(st->m, sizeof(struct store_marker));
	if (st->mfd != -1)
		close(st->mfd);
	free(st->path);
	free(st->mpath);
	free(st->rpath);
	free(st);
}

uint64_t
store_generation(const struct store *st)
{
	return atomic_load_explicit(&st->m->generation, memory_order_acquire);
}

void
store_set_timeout(struct store *st, unsigned int ms)
{
	st->timeout_ms = ms;
}

void
store_get_stats(const struct store *st, struct store_stats *out)
{
	*out = st->stats;
}

int
store_get(struct store *st, const char *ns, const char *key, char **val,
    size_t *len)
{
	char k[STORE_FULLKEY];
	struct txn t;
	size_t klen;
	int rc, attempt;

	*val = NULL;
	*len = 0;
	if ((rc = make_key(ns, key, k, STORE_FULLKEY, &klen)) != SF_OK)
		return rc;
	/* A read that finds damage repairs it, then tries once more. */
	for (attempt = 0; attempt < 2; attempt++) {
		if ((rc = txn_begin(st, false, &t)) != SF_OK)
			return rc;
		rc = txn_fetch(&t, k, klen, val, len);
		if (!t.damaged || attempt == 1)
			return txn_end(&t, rc);
		(void)txn_end(&t, rc);
	}
	return rc;
}

int
store_put(struct store *st, const char *ns, const char *key,
    const void *val, size_t len, enum store_put_mode mode)
{
	char k[STORE_FULLKEY];
	struct txn t;
	size_t klen;
	int rc;

	if ((rc = make_key(ns, key, k, STORE_FULLKEY, &klen)) != SF_OK)
		return rc;
	if (len > STORE_VAL_MAX) {
		log_err("store: %s: value of %s is %zu bytes, max %d",
		    st->path, k, len, STORE_VAL_MAX);
		return SF_ETOOBIG;
	}
	if ((rc = txn_begin(st, true, &t)) != SF_OK) {
		st->stats.write_failures++;
		return rc;
	}
	rc = txn_store(&t, k, klen, val, len, mode);
	return txn_end(&t, rc);
}

int
store_del(struct store *st, const char *ns, const char *key)
{
	char k[STORE_FULLKEY];
	struct txn t;
	size_t klen;
	int rc;

	if ((rc = make_key(ns, key, k, STORE_FULLKEY, &klen)) != SF_OK)
		return rc;
	if ((rc = txn_begin(st, true, &t)) != SF_OK) {
		st->stats.write_failures++;
		return rc;
	}
	rc = txn_delete(&t, k, klen);
	return txn_end(&t, rc);
}

int
store_iter(struct store *st, const char *ns, store_iter_fn fn, void *arg)
{
	char prefix[STORE_FULLKEY];
	struct txn t;
	datum key, next, rec;
	size_t plen;
	char *name;
	long vlen;
	int rc;

	if (fn == NULL)
		return SF_EINVAL;
	if ((rc = make_key(ns, "x", prefix, sizeof(prefix), &plen)) != SF_OK)
		return rc;
	plen--;			/* "ns/" */
	if ((rc = txn_begin(st, false, &t)) != SF_OK)
		return rc;
	key = gdbm_firstkey(t.dbf);
	while (key.dptr != NULL) {
		if ((size_t)key.dsize > plen &&
		    memcmp(key.dptr, prefix, plen) == 0) {
			rec = gdbm_fetch(t.dbf, key);
			if (rec.dptr == NULL) {
				rc = txn_gdbm_fail(&t, "fetch");
				break;
			}
			vlen = record_value_len(rec.dptr, rec.dsize);
			name = sf_strndup(key.dptr + plen,
			    (size_t)key.dsize - plen);
			if (vlen < 0 || name == NULL) {
				rc = name == NULL ? SF_ENOMEM : SF_ESTORE;
				if (vlen < 0)
					log_err("store: %s: malformed record "
					    "in namespace %s", st->path, ns);
			} else
				rc = fn(name, rec.dptr, (size_t)vlen, arg);
			free(name);
			sf_freezero(rec.dptr, (size_t)rec.dsize);
			if (rc != SF_OK)
				break;
		}
		next = gdbm_nextkey(t.dbf, key);
		free(key.dptr);
		key = next;
	}
	if (key.dptr != NULL)
		free(key.dptr);
	else if (rc == SF_OK && gdbm_last_errno(t.dbf) != GDBM_ITEM_NOT_FOUND &&
	    gdbm_last_errno(t.dbf) != GDBM_NO_ERROR)
		rc = txn_gdbm_fail(&t, "walk");
	return txn_end(&t, rc);
}

int
store_batch(struct store *st, store_batch_fn fn, void *arg)
{
	struct store_batch b;
	struct txn t;
	int rc;

	if (fn == NULL)
		return SF_EINVAL;
	if ((rc = txn_begin(st, true, &t)) != SF_OK) {
		st->stats.write_failures++;
		return rc;
	}
	b.t = &t;
	rc = fn(&b, arg);
	b.t = NULL;
	if (rc == SF_OK && t.damaged)
		rc = SF_ESTORE;
	return txn_end(&t, rc);
}

/* A batch handle is usable inside its callback and before any damage. */
static int
batch_key(const struct store_batch *b, const char *ns, const char *key,
    char *k, size_t *klen)
{
	*klen = 0;
	if (b == NULL || b->t == NULL || b->t->dbf == NULL)
		return SF_EINVAL;
	if (b->t->damaged)
		return SF_ESTORE;
	return make_key(ns, key, k, STORE_FULLKEY, klen);
}

int
store_batch_get(struct store_batch *b, const char *ns, const char *key,
    char **val, size_t *len)
{
	char k[STORE_FULLKEY];
	size_t klen;
	int rc;

	*val = NULL;
	*len = 0;
	if ((rc = batch_key(b, ns, key, k, &klen)) != SF_OK)
		return rc;
	return txn_fetch(b->t, k, klen, val, len);
}

int
store_batch_put(struct store_batch *b, const char *ns, const char *key,
    const void *val, size_t len, enum store_put_mode mode)
{
	char k[STORE_FULLKEY];
	size_t klen;
	int rc;

	if ((rc = batch_key(b, ns, key, k, &klen)) != SF_OK)
		return rc;
	return txn_store(b->t, k, klen, val, len, mode);
}

int
store_batch_del(struct store_batch *b, const char *ns, const char *key)
{
	char k[STORE_FULLKEY];
	size_t klen;
	int rc;

	if ((rc = batch_key(b, ns, key, k, &klen)) != SF_OK)
		return rc;
	return txn_delete(b->t, k, klen);
}
