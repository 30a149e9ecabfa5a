/*
 * store.c - the GDBM store shared by every process of a unit.
 *
 * Design.
 *
 * Files.  PATH is the GDBM database, PATH.gen the change marker (layout
 * in store_marker.h), PATH.undo the undo record of the update in flight.
 * All are mode 0660, forced with fchmod whatever the umask: the FastCGI
 * programs and starflyctl of one unit share a group.  A new database is
 * built under a temporary name and renamed into place, so a crash never
 * leaves a half-created PATH.
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
 * wake-up on unlock was tried and measured no better: waking every
 * waiter on each release thrashes.)  Why fcntl locks on our own file
 * rather than GDBM's locks or flock: the kernel drops them when a process
 * dies, so a kill -9 never leaves a stale lock; they do not follow the
 * database inode, which a repair replaces by rename; OFD locks belong to
 * the open file, not the process, so two handles in one process exclude
 * each other (classic POSIX locks would not) and closing some other
 * descriptor of the file does not drop them; two byte ranges of one file
 * give the turnstile without a third file.  A handle used after fork()
 * reopens its descriptor so the child does not share the parent's locks.
 *
 * Transactions.  No process keeps the database open: every operation
 * locks, opens GDBM (GDBM_NOMMAP: plain write(2)s, so a killed writer
 * leaves whole system calls behind rather than a memcpy cut anywhere),
 * works, and for a write calls gdbm_sync (fsync) before it closes, bumps
 * the generation and unlocks.  SF_OK is returned only after the sync.
 * The generation is a 64-bit atomic in the shared mapping of PATH.gen,
 * bumped (release order) while the writer still holds MAIN, so a reader
 * who sees it move and then takes the read lock sees the write;
 * store_generation() is one atomic load.  It starts at the wall clock in
 * nanoseconds so that a recreated marker does not repeat old values.
 *
 * Crash safety (kill -9 at any moment).  GDBM's crash tolerance needs a
 * reflink file system; ext4 has none.  What GDBM does give: each
 * gdbm_store/gdbm_delete writes new data to free space, then the changed
 * buckets, then the directory, then the header, so after each call the
 * file (in the page cache) is consistent again; the unsafe window is the
 * call itself.  So around each GDBM update the writer
 *   1. writes an undo record to PATH.undo: the key and its old value, or
 *      "absent";
 *   2. copies the database's header block into PATH.gen (the image);
 *   3. sets inflight = 1, does the update, sets inflight = 0.
 * Whoever next takes a lock (reader or writer) and finds inflight set
 * knows a writer died in that window and repairs before anything else,
 * under the write lock:
 *   - it writes the image back: the header that matches the directory
 *     and buckets the rebuild must walk (a torn header might still pass
 *     GDBM's checks);
 *   - it raises the header's next_block past the end of the file: GDBM
 *     rejects a bucket whose free space reaches past next_block, which is
 *     what a bucket written just before its header looks like, and
 *     gdbm_recover would drop that bucket with every key in it;
 *   - gdbm_recover with GDBM_RCVR_FORCE rebuilds the database from its
 *     buckets into a new file, known to GDBM as PATH.repair;
 *   - the undo record puts the interrupted key back as it was;
 *   - PATH.repair is synced, its device and inode recorded in PATH.gen,
 *     then it is renamed over PATH, and the directory synced.
 * A repair killed after that rename but before it cleared its flags
 * leaves the rebuilt file in place: the next repair recognises it by its
 * inode and only finishes (the saved header describes the old file, and
 * writing it over the rebuilt one would lose every bucket).
 * A "repairing" flag in PATH.gen makes a repair that is itself killed
 * run again; the next repair also removes the PATH.repair* leftovers.
 * Why this keeps every acknowledged write: the records of other keys are
 * intact, because an update writes new data to free space and rewrites
 * in place only the bucket slots, directory entries and header it
 * changes (buckets and directories it replaces are only freed, and
 * nothing is allocated after that within the update); the one record
 * GDBM may overwrite in place is the interrupted key's own (a new value
 * can land where the old one was just freed), which the undo record
 * restores.  The interrupted update is rolled back; everything before it
 * survives.  test_store checks this at every write(2) of several kinds of
 * update, cut before, half-way through and after the write.
 * GDBM errors that mean damage (GDBM_NEED_RECOVERY, bad header, bucket,
 * avail or directory) trigger the same repair, without the undo step.
 * Every repair is logged and counted in stats.recoveries.
 * Power loss: acknowledged writes were fsynced, but PATH.gen is not, so
 * it records the kernel's boot id and the first process after a reboot
 * rebuilds the database once (neither the image nor the undo record is
 * trusted across a reboot).
 * Limit: the rebuild runs with the rights of the process that finds the
 * damage, and gdbm_copy_meta gives the new file the old owner, so run the
 * unit's programs as one user, with write access to the directory.
 */
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/uio.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <gdbm.h>
#include <libgen.h>
#include <limits.h>
#include <stdarg.h>
#include <stddef.h>
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
	char			*upath;		/* PATH.undo */
	int			 ufd;		/* PATH.undo, opened on first write */
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

/* PATH.undo: this header, the key, then the old value (if has_old). */
#define STORE_UNDO_MAGIC	UINT64_C(0x53464c59554e4431) /* SFLYUND1 */
struct undo_hdr {
	uint64_t	magic;
	uint32_t	klen;
	uint32_t	has_old;
	uint64_t	olen;
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
		id[n / 2] = (unsigned char)(id[n / 2] |
		    (v << ((n % 2) ? 0 : 4)));
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
	if (atomic_load_explicit(&st->m->repairing, memory_order_acquire))
		return "a repair was interrupted";
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
	if (pwrite(fd, st->m->image, len, 0) != (ssize_t)len)
		rc = SF_ESYS;
	close(fd);
	if (rc != SF_OK)
		log_err("store: %s: restoring the header: %s", st->path,
		    strerror(errno));
	return rc;
}

/*
 * GDBM refuses a bucket whose free-space entries reach past the header's
 * next_block.  A writer killed after writing a bucket but before the
 * header leaves exactly that (the bucket's new free space lies beyond
 * the old end), and gdbm_recover would then drop the whole bucket with
 * every key in it.  So before the rebuild, next_block is raised well past
 * the end of the file (free space is not copied by the rebuild, so its
 * bounds do not matter).  *orig keeps the header's start to undo this.
 */
static int
raise_next_block(struct store *st, struct store_gdbm_head *orig,
    bool *patched)
{
	struct store_gdbm_head h;
	struct stat sb;
	int64_t end;
	int fd, rc = SF_ESTORE;

	*patched = false;
	if ((fd = open(st->path, O_RDWR | O_CLOEXEC)) == -1)
		return SF_ESYS;
	if (fstat(fd, &sb) == -1 ||
	    pread(fd, &h, sizeof(h), 0) != (ssize_t)sizeof(h))
		goto out;
	if ((h.magic != STORE_GDBM_MAGIC64 &&
	    h.magic != STORE_GDBM_NUMSYNC_MAGIC64) || h.block_size < 512 ||
	    h.block_size > (1 << 24)) {
		log_err("store: %s: not a GDBM header", st->path);
		goto out;
	}
	*orig = h;
	end = ((int64_t)sb.st_size + h.block_size - 1) / h.block_size *
	    h.block_size;
	if (h.next_block > end)
		end = h.next_block;
	h.next_block = end + ((int64_t)64 << 20);
	if (pwrite(fd, &h.next_block, sizeof(h.next_block),
	    offsetof(struct store_gdbm_head, next_block)) !=
	    (ssize_t)sizeof(h.next_block))
		goto out;
	*patched = true;
	rc = SF_OK;
out:
	close(fd);
	return rc;
}

static void
lower_next_block(struct store *st, const struct store_gdbm_head *orig)
{
	int fd;

	if ((fd = open(st->path, O_WRONLY | O_CLOEXEC)) == -1 ||
	    pwrite(fd, &orig->next_block, sizeof(orig->next_block),
	    offsetof(struct store_gdbm_head, next_block)) !=
	    (ssize_t)sizeof(orig->next_block))
		log_err("store: %s: putting the header back: %s", st->path,
		    strerror(errno));
	if (fd != -1)
		close(fd);
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

/*
 * Put the key of the interrupted update back as the undo record says,
 * in the freshly rebuilt database.  A missing or unreadable record is
 * logged; the rebuild stands.
 */
static void
undo_apply(struct store *st, GDBM_FILE dbf)
{
	struct undo_hdr h;
	datum key, old;
	char *buf = NULL;
	int fd, r;

	if ((fd = open(st->upath, O_RDONLY | O_CLOEXEC)) == -1 ||
	    pread(fd, &h, sizeof(h), 0) != (ssize_t)sizeof(h) ||
	    h.magic != STORE_UNDO_MAGIC || h.klen == 0 ||
	    h.klen >= STORE_FULLKEY || h.has_old > 1 ||
	    h.olen > STORE_VAL_MAX ||
	    (buf = malloc(h.klen + h.olen + 1)) == NULL ||
	    pread(fd, buf, h.klen + h.olen, sizeof(h)) !=
	    (ssize_t)(h.klen + h.olen)) {
		log_err("store: %s: no usable undo record; the interrupted "
		    "key may hold a damaged value", st->upath);
		goto out;
	}
	key.dptr = buf;
	key.dsize = (int)h.klen;
	old.dptr = buf + h.klen;
	old.dsize = (int)h.olen;
	if (h.has_old)
		r = gdbm_store(dbf, key, old, GDBM_REPLACE);
	else if ((r = gdbm_delete(dbf, key)) != 0 &&
	    gdbm_last_errno(dbf) == GDBM_ITEM_NOT_FOUND)
		r = 0;
	if (r != 0)
		log_err("store: %s: rolling back %.*s: %s", st->path,
		    (int)h.klen, buf, gdbm_db_strerror(dbf));
	else
		log_warn("store: %s: rolled back the interrupted update of "
		    "%.*s", st->path, (int)h.klen, buf);
out:
	if (buf != NULL)
		sf_freezero(buf, h.klen + h.olen + 1);
	if (fd != -1)
		close(fd);
}

/* Has a previous repair already renamed its rebuilt file over PATH? */
static bool
rebuilt_in_place(struct store *st)
{
	uint64_t ino = atomic_load_explicit(&st->m->rebuilt_ino,
	    memory_order_acquire);
	struct stat sb;

	return ino != 0 && stat(st->path, &sb) == 0 &&
	    (uint64_t)sb.st_ino == ino && (uint64_t)sb.st_dev ==
	    atomic_load_explicit(&st->m->rebuilt_dev, memory_order_relaxed);
}

/* Record PATH.repair's identity before it is renamed over PATH. */
static int
rebuilt_record(struct store *st)
{
	struct stat sb;

	if (stat(st->rpath, &sb) == -1) {
		log_err("store: %s: %s", st->rpath, strerror(errno));
		return SF_ESYS;
	}
	atomic_store_explicit(&st->m->rebuilt_dev, (uint64_t)sb.st_dev,
	    memory_order_relaxed);
	atomic_store_explicit(&st->m->rebuilt_ino, (uint64_t)sb.st_ino,
	    memory_order_release);
	return SF_OK;
}

/* A repair is complete: clear its flags and tell every cache. */
static void
repair_done(struct store *st)
{
	st->stats.recoveries++;
	atomic_store_explicit(&st->m->image_len, 0, memory_order_relaxed);
	marker_set_verified(st);
	atomic_store_explicit(&st->m->inflight, 0, memory_order_release);
	atomic_store_explicit(&st->m->rebuilt_ino, 0, memory_order_release);
	atomic_store_explicit(&st->m->repairing, 0, memory_order_release);
	atomic_fetch_add_explicit(&st->m->generation, 1, memory_order_release);
}

static int
store_repair(struct store *st, const char *why)
{
	struct store_gdbm_head orig;
	gdbm_recovery rcvr;
	GDBM_FILE dbf = NULL;
	bool crashed, same_boot, patched = false;
	int ge, rc;

	crashed = atomic_load_explicit(&st->m->inflight,
	    memory_order_acquire) != 0;
	same_boot = st->boot_known && memcmp(st->m->boot_id, st->boot_id,
	    16) == 0;
	log_warn("store: %s: repairing: %s (last writer pid %u)", st->path,
	    why, (unsigned int)atomic_load(&st->m->writer_pid));
	/* Whatever happens from here on, an unfinished repair is redone. */
	atomic_store_explicit(&st->m->repairing, 1, memory_order_release);
	if (rebuilt_in_place(st)) {
		log_warn("store: %s: the interrupted repair had put its "
		    "rebuilt file in place; finishing it", st->path);
		if ((rc = fsync_dir(st->path)) != SF_OK)
			return rc;
		repair_done(st);
		return SF_OK;
	}
	atomic_store_explicit(&st->m->rebuilt_ino, 0, memory_order_release);
	remove_strays(st);
	/*
	 * After a crash in the same boot, the header as it was before the
	 * update is the one that matches the directory and buckets the
	 * rebuild must walk (a torn header might still pass GDBM's checks).
	 */
	if (crashed && same_boot && restore_header(st) == SF_OK)
		log_warn("store: %s: header put back as it was before the "
		    "interrupted update", st->path);
	if ((rc = raise_next_block(st, &orig, &patched)) != SF_OK ||
	    (dbf = db_open(st, true, st->rpath, &ge)) == NULL) {
		log_err("store: %s: cannot be opened for repair; restore "
		    "it from a backup", st->path);
		rc = SF_ESTORE;
		goto fail;
	}
	memset(&rcvr, 0, sizeof(rcvr));
	rcvr.errfun = recover_log;
	rcvr.data = st;
	if (gdbm_recover(dbf, &rcvr, GDBM_RCVR_ERRFUN | GDBM_RCVR_FORCE)
	    != 0) {
		log_err("store: %s: gdbm_recover: %s (the repair must run "
		    "as the database owner)", st->path, gdbm_db_strerror(dbf));
		rc = SF_ESTORE;
		goto fail;
	}
	/* dbf is now the new file, PATH.repair; PATH is untouched. */
	patched = false;
	if (crashed && same_boot)
		undo_apply(st, dbf);
	rc = gdbm_sync(dbf) == 0 ? SF_OK : SF_ESTORE;
	gdbm_close(dbf);
	dbf = NULL;
	if (rc == SF_OK)
		rc = rebuilt_record(st);
	if (rc == SF_OK && rename(st->rpath, st->path) == -1) {
		log_err("store: rename %s to %s: %s", st->rpath, st->path,
		    strerror(errno));
		rc = SF_ESYS;
	}
	if (rc == SF_OK)
		rc = fsync_dir(st->path);
	if (rc != SF_OK)
		goto fail;
	log_msg(rcvr.failed_keys || rcvr.failed_buckets ? SF_LOG_ERR :
	    SF_LOG_WARN, "store: %s: rebuilt: %zu keys in %zu buckets "
	    "recovered, %zu keys and %zu buckets lost, %zu duplicates "
	    "dropped", st->path, rcvr.recovered_keys, rcvr.recovered_buckets,
	    rcvr.failed_keys, rcvr.failed_buckets, rcvr.duplicate_keys);
	repair_done(st);
	return SF_OK;
fail:
	if (dbf != NULL)
		gdbm_close(dbf);
	if (patched)
		lower_next_block(st, &orig);
	return rc;
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

/*
 * Bracket one GDBM update of key k: write the undo record (old value, or
 * absent when old is NULL), save the header block, flag it in flight.
 * The update must not start unless this succeeds.
 */
static int
update_begin(struct txn *t, const char *k, size_t klen, const char *old,
    size_t olen)
{
	struct store *st = t->st;
	struct store_marker *m = st->m;
	struct undo_hdr h;
	struct iovec iov[3];
	int bs = 0, fd;
	ssize_t n;

	if (st->ufd == -1) {
		/* Only its creator may (and need) fchmod it: the unit's
		 * programs may run as different users of one group. */
		fd = open(st->upath, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC,
		    STORE_FILE_MODE);
		if (fd != -1 && fchmod(fd, STORE_FILE_MODE) == -1) {
			close(fd);
			fd = -1;
		} else if (fd == -1 && errno == EEXIST)
			fd = open(st->upath, O_RDWR | O_CLOEXEC);
		if (fd == -1) {
			log_err("store: %s: %s", st->upath, strerror(errno));
			if (fd != -1)
				close(fd);
			return SF_ESYS;
		}
		st->ufd = fd;
	}
	memset(&h, 0, sizeof(h));
	h.magic = STORE_UNDO_MAGIC;
	h.klen = (uint32_t)klen;
	h.has_old = old != NULL;
	h.olen = old != NULL ? olen : 0;
	iov[0].iov_base = &h;
	iov[0].iov_len = sizeof(h);
	iov[1].iov_base = (void *)(uintptr_t)k;
	iov[1].iov_len = klen;
	iov[2].iov_base = (void *)(uintptr_t)old;
	iov[2].iov_len = h.olen;
	n = pwritev(st->ufd, iov, 3, 0);
	if (n != (ssize_t)(sizeof(h) + klen + h.olen)) {
		log_err("store: %s: undo record: %s", st->upath,
		    n == -1 ? strerror(errno) : "short write");
		return SF_ESYS;
	}
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
	return SF_OK;
}

static void
update_end(struct txn *t)
{
	atomic_store_explicit(&t->st->m->inflight, 0, memory_order_release);
}

/* Turn a fetched datum into a NUL-terminated new buffer. */
static int
datum_to_str(datum *d, char **out)
{
	char *p;

	*out = NULL;
	if ((p = realloc(d->dptr, (size_t)d->dsize + 1)) == NULL) {
		sf_freezero(d->dptr, (size_t)d->dsize);
		d->dptr = NULL;
		return SF_ENOMEM;
	}
	p[d->dsize] = '\0';
	d->dptr = NULL;
	*out = p;
	return SF_OK;
}

static int
txn_fetch(struct txn *t, const char *k, size_t klen, char **val,
    size_t *len)
{
	datum key, rec;
	int rc;

	key.dptr = (char *)(uintptr_t)k;
	key.dsize = (int)klen;
	rec = gdbm_fetch(t->dbf, key);
	if (rec.dptr == NULL) {
		if (gdbm_last_errno(t->dbf) == GDBM_ITEM_NOT_FOUND)
			return SF_ENOTFOUND;
		return txn_gdbm_fail(t, "fetch");
	}
	*len = (size_t)rec.dsize;
	if ((rc = datum_to_str(&rec, val)) != SF_OK)
		*len = 0;
	return rc;
}

/*
 * The current record of k for the undo record: *old is new or NULL when
 * absent.  Errors other than absence are returned.
 */
static int
txn_old(struct txn *t, datum key, datum *old)
{
	*old = gdbm_fetch(t->dbf, key);
	if (old->dptr == NULL && gdbm_last_errno(t->dbf) != GDBM_ITEM_NOT_FOUND)
		return txn_gdbm_fail(t, "fetch");
	return SF_OK;
}

static int
txn_store(struct txn *t, const char *k, size_t klen, const void *val,
    size_t len, enum store_put_mode mode)
{
	datum key, rec, old;
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
	if ((rc = txn_old(t, key, &old)) != SF_OK)
		return rc;
	if (old.dptr != NULL && mode == STORE_INSERT)
		rc = SF_EEXIST;
	else
		rc = update_begin(t, k, klen, old.dptr, (size_t)old.dsize);
	if (old.dptr != NULL)
		sf_freezero(old.dptr, (size_t)old.dsize);
	if (rc != SF_OK)
		return rc;
	rec.dptr = val != NULL ? (char *)(uintptr_t)val : (char *)"";
	rec.dsize = (int)len;
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
	return rc;
}

static int
txn_delete(struct txn *t, const char *k, size_t klen)
{
	datum key, old;
	int rc;

	key.dptr = (char *)(uintptr_t)k;
	key.dsize = (int)klen;
	if ((rc = txn_old(t, key, &old)) != SF_OK)
		return rc;
	if (old.dptr == NULL)
		return SF_ENOTFOUND;
	rc = update_begin(t, k, klen, old.dptr, (size_t)old.dsize);
	sf_freezero(old.dptr, (size_t)old.dsize);
	if (rc != SF_OK)
		return rc;
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
	st->ufd = -1;
	st->timeout_ms = STORE_TIMEOUT_MS;
	st->boot_known = read_boot_id(st->boot_id);
	if ((st->path = sf_strdup(path)) == NULL ||
	    sf_asprintf(&st->mpath, "%s.gen", path) != SF_OK ||
	    sf_asprintf(&st->rpath, "%s.repair", path) != SF_OK ||
	    sf_asprintf(&st->upath, "%s.undo", path) != SF_OK) {
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
	if (st->ufd != -1)
		close(st->ufd);
	free(st->path);
	free(st->mpath);
	free(st->rpath);
	free(st->upath);
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
	size_t plen, vlen;
	char *name, *val;
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
			vlen = (size_t)rec.dsize;
			if ((rc = datum_to_str(&rec, &val)) == SF_OK) {
				name = sf_strndup(key.dptr + plen,
				    (size_t)key.dsize - plen);
				rc = name == NULL ? SF_ENOMEM :
				    fn(name, val, vlen, arg);
				free(name);
				sf_freezero(val, vlen + 1);
			}
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
