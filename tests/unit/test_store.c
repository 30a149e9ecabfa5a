/*
 * test_store.c - lib/store.c against real GDBM files in a temporary
 * directory, with real child processes for the locking and crash cases.
 */
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "starfly.h"
#include "store_marker.h"
#include "t.h"
#include "../bin/store_killpoint.h"

static char dir[64];
static char db[128];
static char gen[160];
static char undo[160];

static void
rm_dir_files(void)
{
	struct dirent *de;
	char p[512];
	DIR *d;

	if ((d = opendir(dir)) == NULL)
		return;
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		snprintf(p, sizeof(p), "%s/%s", dir, de->d_name);
		unlink(p);
	}
	closedir(d);
}

/* A fresh, empty store for each test. */
static struct store *
fresh(void)
{
	struct store *st = NULL;

	rm_dir_files();
	if (store_open(db, true, &st) != SF_OK)
		return NULL;
	return st;
}

static int
count_files(void)
{
	struct dirent *de;
	int n = 0;
	DIR *d;

	if ((d = opendir(dir)) == NULL)
		return -1;
	while ((de = readdir(d)) != NULL)
		if (de->d_name[0] != '.')
			n++;
	closedir(d);
	return n;
}

static int
touch(const char *name)
{
	char p[256];
	int fd;

	snprintf(p, sizeof(p), "%s/%s", dir, name);
	if ((fd = open(p, O_WRONLY | O_CREAT, 0600)) == -1)
		return 0;
	close(fd);
	return 1;
}

static int
exists(const char *name)
{
	char p[256];

	snprintf(p, sizeof(p), "%s/%s", dir, name);
	return access(p, F_OK) == 0;
}

/* Map PATH.gen the way store.c does, to inspect or damage it. */
static struct store_marker *
map_marker(void)
{
	struct store_marker *m;
	int fd;

	if ((fd = open(gen, O_RDWR)) == -1)
		return NULL;
	m = mmap(NULL, sizeof(*m), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	close(fd);
	return m == MAP_FAILED ? NULL : m;
}

static int
get_eq(struct store *st, const char *ns, const char *key, const char *want)
{
	char *v = NULL;
	size_t len = 0;
	int rc;

	if ((rc = store_get(st, ns, key, &v, &len)) != SF_OK)
		return rc;
	rc = (len == strlen(want) && memcmp(v, want, len) == 0 &&
	    v[len] == '\0') ? SF_OK : SF_EINVAL;
	free(v);
	return rc;
}

static void
test_put_get_replace(void)
{
	struct store *st = fresh();
	char *v = NULL;
	size_t len = 99;

	T(st != NULL);
	T_OK(store_put(st, "tool", "alpha", "{\"a\":1}", 7, STORE_REPLACE));
	T_OK(get_eq(st, "tool", "alpha", "{\"a\":1}"));
	/* Same size: the padded record form must round-trip. */
	T_OK(store_put(st, "tool", "alpha", "{\"a\":2}", 7, STORE_REPLACE));
	T_OK(get_eq(st, "tool", "alpha", "{\"a\":2}"));
	T_OK(store_put(st, "tool", "alpha", "{\"a\":3}", 7, STORE_REPLACE));
	T_OK(get_eq(st, "tool", "alpha", "{\"a\":3}"));
	T_OK(store_put(st, "tool", "alpha", "{\"a\":33}", 8, STORE_REPLACE));
	T_OK(get_eq(st, "tool", "alpha", "{\"a\":33}"));
	/* Empty value. */
	T_OK(store_put(st, "meta", "empty", "", 0, STORE_REPLACE));
	T_OK(store_get(st, "meta", "empty", &v, &len));
	T(v != NULL && len == 0 && v[0] == '\0');
	free(v);
	/* Binary value with NULs. */
	T_OK(store_put(st, "meta", "bin", "a\0b\0", 4, STORE_REPLACE));
	T_OK(store_get(st, "meta", "bin", &v, &len));
	T(len == 4 && memcmp(v, "a\0b\0", 4) == 0);
	free(v);
	/* Same key in another namespace is another entry. */
	T(store_get(st, "agent", "alpha", &v, &len) == SF_ENOTFOUND);
	T(v == NULL && len == 0);
	store_close(st);
}

static void
test_insert_and_notfound(void)
{
	struct store *st = fresh();
	struct store_stats s;

	T(st != NULL);
	T_OK(store_put(st, "nonce", "n1", "1", 1, STORE_INSERT));
	T(store_put(st, "nonce", "n1", "2", 1, STORE_INSERT) == SF_EEXIST);
	T_OK(get_eq(st, "nonce", "n1", "1"));
	T(store_del(st, "nonce", "n2") == SF_ENOTFOUND);
	T_OK(store_del(st, "nonce", "n1"));
	T(store_del(st, "nonce", "n1") == SF_ENOTFOUND);
	T(get_eq(st, "nonce", "n1", "1") == SF_ENOTFOUND);
	T_OK(store_put(st, "nonce", "n1", "3", 1, STORE_INSERT));
	T_OK(get_eq(st, "nonce", "n1", "3"));
	store_get_stats(st, &s);
	T(s.writes == 3 && s.write_failures == 0);
	T(s.write_ns > 0 && s.write_ns_max > 0 && s.write_ns_max <= s.write_ns);
	store_close(st);
}

struct seen {
	int n;
	int bad;
	int stop_after;
};

static int
iter_cb(const char *key, const char *val, size_t len, void *arg)
{
	struct seen *s = arg;
	char want[64];

	snprintf(want, sizeof(want), "v-%s", key);
	if (len != strlen(want) || strcmp(val, want) != 0)
		s->bad++;
	s->n++;
	if (s->stop_after > 0 && s->n == s->stop_after)
		return SF_EDENIED;
	return SF_OK;
}

static void
test_iter(void)
{
	struct store *st = fresh();
	struct seen s;
	char k[32], v[64];
	int i;

	T(st != NULL);
	for (i = 0; i < 50; i++) {
		snprintf(k, sizeof(k), "k%d/x", i);	/* '/' inside a key */
		snprintf(v, sizeof(v), "v-%s", k);
		T_OK(store_put(st, "tool", k, v, strlen(v), STORE_REPLACE));
	}
	T_OK(store_put(st, "toolx", "k1/x", "other", 5, STORE_REPLACE));
	T_OK(store_put(st, "agent", "k2/x", "other", 5, STORE_REPLACE));
	memset(&s, 0, sizeof(s));
	T_OK(store_iter(st, "tool", iter_cb, &s));
	T(s.n == 50 && s.bad == 0);
	memset(&s, 0, sizeof(s));
	T_OK(store_iter(st, "empty", iter_cb, &s));
	T(s.n == 0);
	memset(&s, 0, sizeof(s));
	s.stop_after = 5;
	T(store_iter(st, "tool", iter_cb, &s) == SF_EDENIED);
	T(s.n == 5);
	T(store_iter(st, "Tool", iter_cb, &s) == SF_EINVAL);
	store_close(st);
}

static int
nested_cb(const char *key, const char *val, size_t len, void *arg)
{
	struct store *st = arg;
	char *v = NULL;
	size_t l;

	(void)key;
	(void)val;
	(void)len;
	return store_get(st, "tool", "a", &v, &l) == SF_EBUSY ? SF_EREPLAY :
	    SF_OK;
}

static void
test_nested_refused(void)
{
	struct store *st = fresh();

	T(st != NULL);
	T_OK(store_put(st, "tool", "a", "1", 1, STORE_REPLACE));
	T(store_iter(st, "tool", nested_cb, st) == SF_EREPLAY);
	/* The handle still works afterwards. */
	T_OK(get_eq(st, "tool", "a", "1"));
	store_close(st);
}

struct batch_arg {
	int fail_at;
	char *seen;
};

static int
batch_cb(struct store_batch *b, void *arg)
{
	struct batch_arg *a = arg;
	size_t len;
	int rc;

	if ((rc = store_batch_put(b, "agent", "a1", "one", 3,
	    STORE_REPLACE)) != SF_OK)
		return rc;
	if ((rc = store_batch_put(b, "agent", "a2", "two", 3,
	    STORE_INSERT)) != SF_OK)
		return rc;
	if (a->fail_at == 2)
		return SF_EDENIED;
	if ((rc = store_batch_del(b, "agent", "gone")) != SF_OK)
		return rc;
	if ((rc = store_batch_get(b, "agent", "a1", &a->seen, &len)) !=
	    SF_OK)
		return rc;
	return store_batch_put(b, "agent", "a3", "three", 5, STORE_REPLACE);
}

static void
test_batch(void)
{
	struct store *st = fresh();
	struct batch_arg a;
	uint64_t g;

	T(st != NULL);
	T_OK(store_put(st, "agent", "gone", "x", 1, STORE_REPLACE));
	g = store_generation(st);
	memset(&a, 0, sizeof(a));
	T_OK(store_batch(st, batch_cb, &a));
	T(store_generation(st) == g + 1);	/* one commit, one bump */
	T(a.seen != NULL && strcmp(a.seen, "one") == 0);
	free(a.seen);
	T_OK(get_eq(st, "agent", "a1", "one"));
	T_OK(get_eq(st, "agent", "a2", "two"));
	T_OK(get_eq(st, "agent", "a3", "three"));
	T(get_eq(st, "agent", "gone", "x") == SF_ENOTFOUND);

	/* A second run fails inside (a2 exists): writes made stay, bump. */
	g = store_generation(st);
	memset(&a, 0, sizeof(a));
	T(store_batch(st, batch_cb, &a) == SF_EEXIST);
	T(store_generation(st) == g + 1);
	/* The callback's own error is returned. */
	T_OK(store_del(st, "agent", "a2"));
	memset(&a, 0, sizeof(a));
	a.fail_at = 2;
	T(store_batch(st, batch_cb, &a) == SF_EDENIED);
	T_OK(get_eq(st, "agent", "a2", "two"));
	store_close(st);
}

static void
test_generation(void)
{
	struct store *st = fresh(), *st2 = NULL;
	char *v;
	size_t len;
	struct seen s;
	uint64_t g;

	T(st != NULL);
	T_OK(store_open(db, false, &st2));
	g = store_generation(st);
	T(store_generation(st2) == g);
	T_OK(store_put(st, "meta", "x", "1", 1, STORE_REPLACE));
	T(store_generation(st) == g + 1);
	T(store_generation(st2) == g + 1);	/* same mapping, no call */
	T_OK(store_put(st2, "meta", "x", "2", 1, STORE_REPLACE));
	T(store_generation(st) == g + 2);
	T_OK(store_del(st, "meta", "x"));
	T(store_generation(st) == g + 3);
	/* Reads and refused writes do not move it. */
	T(store_get(st, "meta", "x", &v, &len) == SF_ENOTFOUND);
	memset(&s, 0, sizeof(s));
	T_OK(store_iter(st, "meta", iter_cb, &s));
	T(store_del(st, "meta", "x") == SF_ENOTFOUND);
	T_OK(store_put(st, "meta", "y", "1", 1, STORE_INSERT));
	T(store_generation(st) == g + 4);
	T(store_put(st, "meta", "y", "1", 1, STORE_INSERT) == SF_EEXIST);
	T(store_generation(st) == g + 4);
	store_close(st2);
	store_close(st);
}

static void
test_reopen_and_modes(void)
{
	struct store *st = NULL;
	struct stat sb;
	mode_t old;
	int rc;

	rm_dir_files();
	T(store_open(db, false, &st) == SF_ENOTFOUND);
	T(st == NULL);
	T(count_files() == 0);			/* nothing created */
	old = umask(077);
	rc = store_open(db, true, &st);
	umask(old);
	T_OK(rc);
	T(stat(db, &sb) == 0 && (sb.st_mode & 0777) == 0660);
	T(stat(gen, &sb) == 0 && (sb.st_mode & 0777) == 0660);
	old = umask(077);
	rc = store_put(st, "revoked", "sub-1", "{}", 2, STORE_REPLACE);
	umask(old);
	T_OK(rc);
	store_close(st);
	st = NULL;
	T_OK(store_open(db, false, &st));
	T_OK(get_eq(st, "revoked", "sub-1", "{}"));
	store_close(st);
	st = NULL;
	T_OK(store_open(db, true, &st));	/* create on existing: keeps */
	T_OK(get_eq(st, "revoked", "sub-1", "{}"));
	store_close(st);
	T(stat(undo, &sb) == 0 && (sb.st_mode & 0777) == 0660);
	T(count_files() == 3);
	T(store_open("", true, &st) == SF_EINVAL);
	T(store_open("/nonexistent-dir/x.db", true, &st) == SF_ESYS);
}

static void
test_limits(void)
{
	struct store *st = fresh();
	char ns[STORE_NS_MAX + 2], key[STORE_KEY_MAX + 2], *big, *v;
	size_t len;

	T(st != NULL);
	T(store_put(st, "Tool", "a", "1", 1, STORE_REPLACE) == SF_EINVAL);
	T(store_put(st, "to/ol", "a", "1", 1, STORE_REPLACE) == SF_EINVAL);
	T(store_put(st, "", "a", "1", 1, STORE_REPLACE) == SF_EINVAL);
	T(store_put(st, "tool", "", "1", 1, STORE_REPLACE) == SF_EINVAL);
	T(store_put(st, NULL, "a", "1", 1, STORE_REPLACE) == SF_EINVAL);
	T(store_get(st, "tool", NULL, &v, &len) == SF_EINVAL);
	memset(ns, 'n', sizeof(ns));
	ns[STORE_NS_MAX] = '\0';
	memset(key, 'k', sizeof(key));
	key[STORE_KEY_MAX] = '\0';
	T_OK(store_put(st, ns, key, "1", 1, STORE_REPLACE));
	T_OK(get_eq(st, ns, key, "1"));
	ns[STORE_NS_MAX] = 'n';
	ns[STORE_NS_MAX + 1] = '\0';
	T(store_put(st, ns, "a", "1", 1, STORE_REPLACE) == SF_ETOOBIG);
	ns[STORE_NS_MAX] = '\0';
	key[STORE_KEY_MAX] = 'k';
	key[STORE_KEY_MAX + 1] = '\0';
	T(store_put(st, ns, key, "1", 1, STORE_REPLACE) == SF_ETOOBIG);
	T(store_get(st, ns, key, &v, &len) == SF_ETOOBIG);
	T((big = malloc(STORE_VAL_MAX + 1)) != NULL);
	memset(big, 'v', STORE_VAL_MAX + 1);
	T(store_put(st, "tool", "big", big, STORE_VAL_MAX + 1,
	    STORE_REPLACE) == SF_ETOOBIG);
	T_OK(store_put(st, "tool", "big", big, STORE_VAL_MAX, STORE_REPLACE));
	free(big);
	T_OK(store_get(st, "tool", "big", &v, &len));
	T(len == STORE_VAL_MAX && v[0] == 'v' && v[len - 1] == 'v');
	free(v);
	store_close(st);
}

/*
 * A child holds the write lock (inside store_batch) until the parent
 * writes a byte to it; the parent sees bounded waits end in SF_EBUSY.
 */
struct holder {
	int release;
	int hold_ms;
};

static int
hold_cb(struct store_batch *b, void *arg)
{
	struct holder *h = arg;
	struct timespec ts;
	char c;
	int rc;

	if ((rc = store_batch_put(b, "meta", "held", "1", 1,
	    STORE_REPLACE)) != SF_OK)
		return rc;
	if (write(STDOUT_FILENO, "L", 1) != 1)
		return SF_EIO;
	if (h->hold_ms > 0) {
		ts.tv_sec = h->hold_ms / 1000;
		ts.tv_nsec = (long)(h->hold_ms % 1000) * 1000000;
		nanosleep(&ts, NULL);
	} else if (read(h->release, &c, 1) != 1)
		return SF_EIO;
	return SF_OK;
}

/* Start the holder; returns its pid once it holds the lock. */
static pid_t
start_holder(int hold_ms, int *release_fd)
{
	int up[2], down[2];
	struct holder h;
	struct store *st;
	pid_t pid;
	char c;

	if (pipe(up) == -1 || pipe(down) == -1)
		return -1;
	if ((pid = fork()) == 0) {
		dup2(up[1], STDOUT_FILENO);
		close(up[0]);
		close(down[1]);
		h.release = down[0];
		h.hold_ms = hold_ms;
		if (store_open(db, false, &st) != SF_OK)
			_exit(2);
		_exit(store_batch(st, hold_cb, &h) == SF_OK ? 0 : 3);
	}
	close(up[1]);
	close(down[0]);
	*release_fd = down[1];
	if (read(up[0], &c, 1) != 1) {
		close(up[0]);
		return -1;
	}
	close(up[0]);
	return pid;
}

static void
test_timeout_busy(void)
{
	struct store *st = fresh();
	struct store_stats s;
	uint64_t t0, el;
	char *v = NULL;
	size_t len;
	pid_t pid;
	int rel, status;

	T(st != NULL);
	T_OK(store_put(st, "meta", "x", "1", 1, STORE_REPLACE));
	T((pid = start_holder(0, &rel)) > 0);
	store_set_timeout(st, 150);
	t0 = sf_mono_ns();
	T(store_get(st, "meta", "x", &v, &len) == SF_EBUSY);
	el = sf_mono_ns() - t0;
	T(v == NULL);
	/* Bounded, not instant. */
	T(el >= 150000000u && el < 1500000000u);
	t0 = sf_mono_ns();
	T(store_put(st, "meta", "x", "2", 1, STORE_REPLACE) == SF_EBUSY);
	el = sf_mono_ns() - t0;
	T(el >= 150000000u && el < 1500000000u);
	store_set_timeout(st, 0);			/* try once */
	T(store_del(st, "meta", "x") == SF_EBUSY);
	store_get_stats(st, &s);
	T(s.lock_timeouts == 3 && s.lock_waits >= 3);
	T(s.write_failures == 2);
	T(write(rel, "x", 1) == 1);
	close(rel);
	T(waitpid(pid, &status, 0) == pid && WIFEXITED(status) &&
	    WEXITSTATUS(status) == 0);
	store_set_timeout(st, 2000);
	T_OK(get_eq(st, "meta", "x", "1"));		/* nothing lost */
	T_OK(get_eq(st, "meta", "held", "1"));		/* child's write */
	store_close(st);
}

static void
test_waits_for_writer(void)
{
	struct store *st = fresh();
	struct store_stats s;
	pid_t pid;
	int rel, status;
	uint64_t g;

	T(st != NULL);
	g = store_generation(st);
	/* The holder keeps the write lock 300 ms; a 2 s wait gets through. */
	T((pid = start_holder(300, &rel)) > 0);
	T_OK(get_eq(st, "meta", "held", "1"));
	T(store_generation(st) == g + 1);
	T_OK(store_put(st, "meta", "after", "1", 1, STORE_REPLACE));
	store_get_stats(st, &s);
	T(s.lock_waits >= 1 && s.lock_timeouts == 0);
	close(rel);
	T(waitpid(pid, &status, 0) == pid && WIFEXITED(status) &&
	    WEXITSTATUS(status) == 0);
	store_close(st);
}

/* The child inherits the handle: its locks must be its own. */
static int
fork_cb(const char *key, const char *val, size_t len, void *arg)
{
	struct store *st = arg;
	pid_t pid;
	int status;

	(void)key;
	(void)val;
	(void)len;
	if ((pid = fork()) == 0) {
		struct store_stats s;
		int rc;

		store_set_timeout(st, 100);
		rc = store_put(st, "meta", "k", "2", 1, STORE_REPLACE);
		store_get_stats(st, &s);
		_exit(rc == SF_EBUSY && s.lock_timeouts == 1 ? 0 : 1);
	}
	if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) ||
	    WEXITSTATUS(status) != 0)
		return SF_EINVAL;
	return SF_OK;
}

static void
test_fork_inherited_handle(void)
{
	struct store *st = fresh();
	pid_t pid;
	int status;

	T(st != NULL);
	T_OK(store_put(st, "meta", "k", "1", 1, STORE_REPLACE));
	/* While the parent reads, the child's write must wait, not pass. */
	T_OK(store_iter(st, "meta", fork_cb, st));
	if ((pid = fork()) == 0)
		_exit(store_put(st, "meta", "k", "3", 1, STORE_REPLACE) ==
		    SF_OK ? 0 : 1);
	T(waitpid(pid, &status, 0) == pid && WIFEXITED(status) &&
	    WEXITSTATUS(status) == 0);
	T_OK(get_eq(st, "meta", "k", "3"));
	store_close(st);
}

static int
fill_cb(struct store_batch *b, void *arg)
{
	char k[32], v[64];
	int i, n = *(int *)arg, rc;

	for (i = 0; i < n; i++) {
		snprintf(k, sizeof(k), "k%d", i);
		snprintf(v, sizeof(v), "value-%d-%s", i, i % 3 ? "x" : "yyyyy");
		if ((rc = store_batch_put(b, "tool", k, v, strlen(v),
		    STORE_REPLACE)) != SF_OK)
			return rc;
	}
	return SF_OK;
}

/* Keys k0..k(n-1) of namespace tool, in one batch. */
static int
fill(struct store *st, int n)
{
	return store_batch(st, fill_cb, &n);
}

static int
check(struct store *st, int n)
{
	char k[32], v[64];
	int i, rc;

	for (i = 0; i < n; i++) {
		snprintf(k, sizeof(k), "k%d", i);
		snprintf(v, sizeof(v), "value-%d-%s", i, i % 3 ? "x" : "yyyyy");
		if ((rc = get_eq(st, "tool", k, v)) != SF_OK)
			return rc;
	}
	return SF_OK;
}

/*
 * A writer that died after GDBM extended the file but before it wrote
 * the header leaves next_block short of the file size: GDBM then says
 * GDBM_NEED_RECOVERY.  Produce exactly that by growing the file.
 */
static void
test_recover_need_recovery(void)
{
	struct store *st = fresh();
	struct store_stats s;
	char zero[3 * STORE_BLOCK];
	int fd;

	T(st != NULL);
	T_OK(fill(st, 300));
	/* Leftovers of a killed repair or creation, and innocent files. */
	T(touch("unit.db.repair.Ab12Cd") && touch("unit.db.repair") &&
	    touch("unit.db.new.4242") && touch("unit.db.repairs") &&
	    touch("unit.db.backup") && touch("unit.db.new.x1"));
	T((fd = open(db, O_WRONLY | O_APPEND)) != -1);
	memset(zero, 0, sizeof(zero));
	T(write(fd, zero, sizeof(zero)) == (ssize_t)sizeof(zero));
	close(fd);
	T_OK(check(st, 300));
	store_get_stats(st, &s);
	T(s.recoveries == 1);
	T_OK(store_put(st, "tool", "after", "1", 1, STORE_REPLACE));
	T_OK(check(st, 300));
	store_get_stats(st, &s);
	T(s.recoveries == 1);
	T(!exists("unit.db.repair.Ab12Cd") && !exists("unit.db.repair") &&
	    !exists("unit.db.new.4242"));
	T(exists("unit.db.repairs") && exists("unit.db.backup") &&
	    exists("unit.db.new.x1"));
	T(count_files() == 6);		/* db, gen, undo and the 3 kept */
	store_close(st);
}

/*
 * The state a writer killed while writing the header block leaves: the
 * header image in PATH.gen, inflight = 1, the file's header torn.
 */
static int
tear_header(struct store_marker *m)
{
	unsigned char junk[64];
	int fd, ok;

	if ((fd = open(db, O_RDWR)) == -1)
		return 0;
	ok = pread(fd, m->image, STORE_BLOCK, 0) == STORE_BLOCK;
	atomic_store(&m->image_len, STORE_BLOCK);
	atomic_store(&m->inflight, 1);
	memset(junk, 0xa5, sizeof(junk));
	ok = ok && pwrite(fd, junk, sizeof(junk), 8) == (ssize_t)sizeof(junk);
	close(fd);
	return ok;
}

/*
 * A writer killed while writing the header block: PATH.gen holds the
 * header image and inflight = 1, the file's header is torn.  Produce
 * that state by hand, then any process must repair it.
 */
static void
test_recover_torn_header(void)
{
	struct store *st = fresh(), *st2 = NULL;
	struct store_marker *m;
	struct store_stats s;
	char *v = NULL;
	size_t len;
	uint64_t g;

	T(st != NULL);
	T_OK(fill(st, 400));
	/* The last update (its undo record says "absent") is the one cut. */
	T_OK(store_put(st, "tool", "cut", "x", 1, STORE_REPLACE));
	T((m = map_marker()) != NULL);
	T(tear_header(m));
	g = store_generation(st);
	/* A reader in another handle finds it and repairs. */
	T_OK(store_open(db, false, &st2));
	T_OK(check(st2, 400));
	T(store_get(st2, "tool", "cut", &v, &len) == SF_ENOTFOUND);
	store_get_stats(st2, &s);
	T(s.recoveries == 1);
	T(atomic_load(&m->inflight) == 0);
	T(store_generation(st) > g);		/* caches must reload */
	T_OK(fill(st, 410));
	T_OK(check(st2, 410));
	store_get_stats(st, &s);
	T(s.recoveries == 0);
	munmap(m, sizeof(*m));
	store_close(st2);
	store_close(st);
}

static int	check_all(struct store *, int);

/*
 * A repair killed right after it renamed the rebuilt file over PATH,
 * before it cleared its flags: the next process must not treat the
 * rebuilt file as the damaged one (the saved header image describes the
 * old file's layout, not the new one's).
 */
static void
test_repair_cut_after_rename(void)
{
	struct store *st = fresh(), *st2 = NULL;
	struct store_marker *m;
	struct store_stats s;
	char *v = NULL;
	size_t len;
	int status;
	pid_t pid;

	T(st != NULL);
	/*
	 * Enough keys that GDBM outgrows its first directory block and moves
	 * the directory: a rebuild then lays the file out differently.
	 */
	T_OK(fill(st, 80000));
	T_OK(store_put(st, "tool", "cut", "x", 1, STORE_REPLACE));
	store_close(st);
	T((m = map_marker()) != NULL);
	T(tear_header(m));
	if ((pid = fork()) == 0) {
		killpoint_arm_rename(db);
		_exit(store_open(db, false, &st2) == SF_OK ? 0 : 2);
	}
	T(waitpid(pid, &status, 0) == pid);
	T(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
	T_OK(store_open(db, false, &st2));
	T_OK(check_all(st2, 80000));
	T(store_get(st2, "tool", "cut", &v, &len) == SF_ENOTFOUND);
	T(atomic_load(&m->inflight) == 0 && atomic_load(&m->repairing) == 0);
	T_OK(store_put(st2, "tool", "after", "1", 1, STORE_REPLACE));
	T_OK(check_all(st2, 80000));
	store_get_stats(st2, &s);
	T(s.recoveries <= 1);
	munmap(m, sizeof(*m));
	store_close(st2);
}

/* Without an image a torn header cannot be repaired: a clear error. */
static void
test_unrepairable_header(void)
{
	struct store *st = fresh();
	char *v = NULL;
	size_t len;
	unsigned char junk[64];
	int fd;

	T(st != NULL);
	T_OK(fill(st, 10));
	T((fd = open(db, O_RDWR)) != -1);
	memset(junk, 0xa5, sizeof(junk));
	T(pwrite(fd, junk, sizeof(junk), 0) == (ssize_t)sizeof(junk));
	close(fd);
	T(store_get(st, "tool", "k1", &v, &len) == SF_ESTORE);
	T(store_put(st, "tool", "k1", "1", 1, STORE_REPLACE) == SF_ESTORE);
	T(v == NULL);
	store_close(st);
}

/* A lost change marker or a reboot: the database is rebuilt once. */
static void
test_marker_lost_and_reboot(void)
{
	struct store *st = fresh();
	struct store_marker *m;
	struct store_stats s;
	struct stat sb;

	T(st != NULL);
	T_OK(fill(st, 100));
	store_close(st);
	st = NULL;
	T(unlink(gen) == 0);
	T_OK(store_open(db, false, &st));
	T(stat(gen, &sb) == 0 && (sb.st_mode & 0777) == 0660);
	store_get_stats(st, &s);
	T(s.recoveries == 1);
	T_OK(check(st, 100));
	/* Another boot id in the marker: one more rebuild, then none. */
	T((m = map_marker()) != NULL);
	m->boot_id[0] ^= 0x55;
	T_OK(check(st, 100));
	T_OK(check(st, 100));
	store_get_stats(st, &s);
	T(s.recoveries == 2);
	munmap(m, sizeof(*m));
	store_close(st);
}

/* A zero-length database is refused, never silently re-initialised. */
static void
test_truncated_database(void)
{
	struct store *st = fresh();
	char *v = NULL;
	size_t len;

	T(st != NULL);
	T_OK(fill(st, 5));
	T(truncate(db, 0) == 0);
	T(store_put(st, "tool", "k9", "1", 1, STORE_REPLACE) == SF_ESTORE);
	T(store_get(st, "tool", "k1", &v, &len) == SF_ESTORE);
	store_close(st);
}

/*
 * The repair reads and patches the start of GDBM's header
 * (store_gdbm_head); hold that layout against files GDBM 1.23 writes.
 */
static void
test_gdbm_header_layout(void)
{
	struct store *st = fresh();
	struct store_gdbm_head h;
	struct stat sb;
	int fd;

	T(st != NULL);
	T((fd = open(db, O_RDONLY)) != -1);
	T(pread(fd, &h, sizeof(h), 0) == (ssize_t)sizeof(h));
	T(fstat(fd, &sb) == 0);
	close(fd);
	T(h.magic == STORE_GDBM_MAGIC64 && h.block_size == STORE_BLOCK);
	T(h.dir == STORE_BLOCK && h.bucket_size == STORE_BLOCK);
	T(h.next_block == 4 * STORE_BLOCK && h.next_block == sb.st_size);
	T_OK(fill(st, 500));
	T((fd = open(db, O_RDONLY)) != -1);
	T(pread(fd, &h, sizeof(h), 0) == (ssize_t)sizeof(h));
	T(fstat(fd, &sb) == 0);
	close(fd);
	T(h.magic == STORE_GDBM_MAGIC64);
	T(h.next_block == sb.st_size && h.next_block > 4 * STORE_BLOCK);
	store_close(st);
}

/*
 * Crash points: an update is run in a child that SIGKILLs itself at its
 * n-th write to the database (before it, half-way through it, or after
 * it; see store_killpoint.h), for every n (every count/40th for a long
 * batch).  Then the store must open,
 * every other key must be intact and the cut key must hold its old or its
 * new value: the update happened or it did not.
 */
struct cut {
	const char	*name;
	size_t		 old_len;	/* 0: absent before */
	size_t		 new_len;	/* 0: the update deletes it */
	int		 batch;		/* >0: insert that many keys at once */
};

struct saved {
	char	*db, *gen;
	size_t	 dblen, genlen;
};

static void
pattern(char *buf, size_t len, int seed)
{
	size_t i;

	for (i = 0; i < len; i++)
		buf[i] = (char)('a' + (i * 7 + (size_t)seed * 13) % 26);
	buf[len] = '\0';
}

static int
batch_insert_cb(struct store_batch *b, void *arg)
{
	const struct cut *c = arg;
	char k[32], v[64];
	int i, rc;

	for (i = 0; i < c->batch; i++) {
		snprintf(k, sizeof(k), "b%d", i);
		snprintf(v, sizeof(v), "batch-%d", i);
		if ((rc = store_batch_put(b, "tool", k, v, strlen(v),
		    STORE_INSERT)) != SF_OK)
			return rc;
	}
	return SF_OK;
}

static int
cut_update(struct store *st, const struct cut *c)
{
	static char nv[8192];

	if (c->batch > 0)
		return store_batch(st, batch_insert_cb, (void *)(uintptr_t)c);
	if (c->new_len == 0)
		return store_del(st, "tool", "target");
	pattern(nv, c->new_len, 2);
	return store_put(st, "tool", "target", nv, c->new_len, STORE_REPLACE);
}

/*
 * Run the update in a child armed at write n (n < 0: count only).
 * Returns 0 if it completed (*count = its writes), 1 if it was killed,
 * -1 on any other outcome.
 */
static int
cut_child(const struct cut *c, long n, int mode, long *count)
{
	struct store *st;
	long seen = -1;
	int p[2], status;
	pid_t pid;

	if (pipe(p) == -1)
		return -1;
	if ((pid = fork()) == 0) {
		close(p[0]);
		if (store_open(db, false, &st) != SF_OK)
			_exit(2);
		killpoint_arm(db, n, mode);
		if (cut_update(st, c) != SF_OK)
			_exit(3);
		seen = killpoint_seen();
		_exit(write(p[1], &seen, sizeof(seen)) == sizeof(seen) ? 0 : 4);
	}
	close(p[1]);
	if (read(p[0], &seen, sizeof(seen)) != sizeof(seen))
		seen = -1;
	close(p[0]);
	if (waitpid(pid, &status, 0) != pid)
		return -1;
	if (WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL)
		return 1;
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0 && seen >= 0) {
		*count = seen;
		return 0;
	}
	return -1;
}

static int
put_file(const char *path, const char *buf, size_t len)
{
	int fd;

	unlink(path);
	if ((fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0660)) == -1)
		return -1;
	if (len > 0 && write(fd, buf, len) != (ssize_t)len) {
		close(fd);
		return -1;
	}
	return close(fd);
}

struct fillcheck {
	int	n;		/* k0..k(n-1) expected */
	int	good;
};

static int
fillcheck_cb(const char *key, const char *val, size_t len, void *arg)
{
	struct fillcheck *f = arg;
	char v[64];
	long long i;

	if (key[0] != 'k' || sf_strtonum(key + 1, 0, f->n - 1, &i) != SF_OK)
		return SF_OK;
	snprintf(v, sizeof(v), "value-%lld-%s", i, i % 3 ? "x" : "yyyyy");
	if (len == strlen(v) && memcmp(val, v, len) == 0)
		f->good++;
	return SF_OK;
}

/* All of fill()'s n keys intact, in one read transaction. */
static int
check_all(struct store *st, int n)
{
	struct fillcheck f = { n, 0 };
	int rc;

	if ((rc = store_iter(st, "tool", fillcheck_cb, &f)) != SF_OK)
		return rc;
	return f.good == n ? SF_OK : SF_ENOTFOUND;
}

/* The state after a cut: everything else intact, the cut key old or new. */
static int
cut_verify(const struct cut *c, uint64_t *repairs)
{
	struct store_stats s;
	struct store *st;
	char want[8192], *v = NULL, k[32];
	size_t len;
	int rc, i, present, prefix_ended = 0;

	if (store_open(db, false, &st) != SF_OK)
		return 1;
	if ((rc = check_all(st, 200)) != SF_OK) {
		fprintf(stderr, "cut: other keys: %s\n", sf_strerror(rc));
		goto out;
	}
	rc = 2;
	if (c->batch > 0) {
		/* A prefix of the batch, each key whole. */
		for (i = 0; i < c->batch; i++) {
			snprintf(k, sizeof(k), "b%d", i);
			snprintf(want, sizeof(want), "batch-%d", i);
			present = get_eq(st, "tool", k, want) == SF_OK;
			if (!present && get_eq(st, "tool", k, want) !=
			    SF_ENOTFOUND)
				goto out;
			if (present && prefix_ended) {
				fprintf(stderr, "cut: %s present after a gap\n",
				    k);
				goto out;
			}
			prefix_ended |= !present;
		}
	} else {
		switch (store_get(st, "tool", "target", &v, &len)) {
		case SF_ENOTFOUND:
			if (c->old_len != 0 && c->new_len != 0)
				goto out;
			break;
		case SF_OK:
			pattern(want, c->old_len, 1);
			if (c->old_len != 0 && len == c->old_len &&
			    memcmp(v, want, len) == 0)
				break;
			pattern(want, c->new_len, 2);
			if (c->new_len != 0 && len == c->new_len &&
			    memcmp(v, want, len) == 0)
				break;
			fprintf(stderr, "cut: target holds %zu bytes "
			    "\"%.20s\"\n", len, v);
			goto out;
		default:
			goto out;
		}
	}
	rc = 0;
out:
	free(v);
	store_get_stats(st, &s);
	*repairs += s.recoveries;
	store_close(st);
	return rc;
}

static void
cut_case(const struct cut *c)
{
	static const char *const modes[] = { "before", "torn", "after" };
	struct saved sv;
	struct store *st;
	char old[8192];
	uint64_t repairs = 0;
	long count = 0, n, step, cuts = 0;
	int mode, r;

	memset(&sv, 0, sizeof(sv));
	T((st = fresh()) != NULL);
	T_OK(fill(st, 200));
	if (c->old_len > 0) {
		pattern(old, c->old_len, 1);
		T_OK(store_put(st, "tool", "target", old, c->old_len,
		    STORE_REPLACE));
	}
	store_close(st);
	T_OK(sf_read_file(db, 64u << 20, &sv.db, &sv.dblen));
	T_OK(sf_read_file(gen, 1u << 20, &sv.gen, &sv.genlen));
	T(cut_child(c, -1, KP_AFTER, &count) == 0);
	T(count >= 1);			/* write interposition works */
	step = count > 40 ? count / 40 : 1;
	for (mode = KP_BEFORE; mode <= KP_AFTER; mode++) {
		for (n = 1; n <= count; n += step) {
			T(put_file(db, sv.db, sv.dblen) == 0 &&
			    put_file(gen, sv.gen, sv.genlen) == 0);
			r = cut_child(c, n, mode, &count);
			if (r != 1 || cut_verify(c, &repairs) != 0) {
				fprintf(stderr, "cut %s: %s at write %ld of "
				    "%ld: %s\n", c->name, modes[mode], n, count,
				    r != 1 ? "not killed" : "bad state");
				T(0);
			}
			cuts++;
		}
	}
	T(repairs > 0);
	free(sv.db);
	free(sv.gen);
	printf("# cut %s: %ld writes, %ld crash points, %llu repairs\n",
	    c->name, count, cuts, (unsigned long long)repairs);
}

static void
test_cut_replace_shrink(void)
{
	static const struct cut c = { "replace-shrink", 600, 40, 0 };

	cut_case(&c);
}

static void
test_cut_replace_same(void)
{
	static const struct cut c = { "replace-same", 300, 300, 0 };

	cut_case(&c);
}

static void
test_cut_replace_grow(void)
{
	static const struct cut c = { "replace-grow", 40, 5000, 0 };

	cut_case(&c);
}

static void
test_cut_insert(void)
{
	static const struct cut c = { "insert", 0, 2000, 0 };

	cut_case(&c);
}

static void
test_cut_delete(void)
{
	static const struct cut c = { "delete", 500, 0, 0 };

	cut_case(&c);
}

static void
test_cut_batch_splits(void)
{
	static const struct cut c = { "batch-150-inserts", 0, 0, 150 };

	cut_case(&c);
}

int
main(void)
{
	const char *tmp;

	t_prog = "store";
	log_init("test_store", 0, SF_LOG_ERR);
	tmp = getenv("TMPDIR");
	snprintf(dir, sizeof(dir), "%s/sf-store-XXXXXX",
	    tmp != NULL && *tmp == '/' && strlen(tmp) < 40 ? tmp : "/tmp");
	if (mkdtemp(dir) == NULL) {
		printf("FAIL store: mkdtemp: %s\n", strerror(errno));
		return 1;
	}
	snprintf(db, sizeof(db), "%s/unit.db", dir);
	snprintf(gen, sizeof(gen), "%s.gen", db);
	snprintf(undo, sizeof(undo), "%s.undo", db);

	RUN(test_put_get_replace);
	RUN(test_insert_and_notfound);
	RUN(test_iter);
	RUN(test_nested_refused);
	RUN(test_batch);
	RUN(test_generation);
	RUN(test_reopen_and_modes);
	RUN(test_limits);
	RUN(test_timeout_busy);
	RUN(test_waits_for_writer);
	RUN(test_fork_inherited_handle);
	RUN(test_recover_need_recovery);
	RUN(test_recover_torn_header);
	RUN(test_repair_cut_after_rename);
	RUN(test_unrepairable_header);
	RUN(test_marker_lost_and_reboot);
	RUN(test_truncated_database);
	RUN(test_gdbm_header_layout);
	RUN(test_cut_replace_shrink);
	RUN(test_cut_replace_same);
	RUN(test_cut_replace_grow);
	RUN(test_cut_insert);
	RUN(test_cut_delete);
	RUN(test_cut_batch_splits);

	rm_dir_files();
	rmdir(dir);
	return T_DONE();
}
