/*
 * store-stress - the concurrency proof for lib/store.c.
 *
 *	store-stress [-s] [-r readers] [-n writes] [-d dir]
 *
 * One writer process stores -n distinct keys "stress/k<seq>" (seq 1..n),
 * counting a write as acknowledged only on SF_OK.  -r reader processes
 * (default 4) loop like request handlers: each "request" looks at
 * store_generation(); when it has moved, the writer (the only one) has
 * committed at least generation - g0 writes, so the reader must find key
 * k<generation - g0> with its value, plus one older key picked at random.
 * Anything else is a violation.  At the end every acknowledged key must
 * be present with its value and nothing else may be there.
 * -s (storm): readers never pause; between generation moves they read a
 * random committed key back to back, so some reader always holds the
 * read lock: the writer must still get through (writer starvation).
 *
 * Prints one line: "PASS store-stress: <figures>" or "FAIL store-stress:
 * <why>: <figures>"; exits 0 on PASS.
 */
#include <sys/mman.h>
#include <sys/wait.h>

#include <dirent.h>
#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "starfly.h"

#define MAX_READERS	32

struct reader_res {
	uint64_t	lookups;	/* gets made after a generation move */
	uint64_t	changes;	/* generation moves seen */
	uint64_t	violations;
	uint64_t	failures;	/* gets that returned an error */
	uint64_t	lock_waits;
	uint64_t	lock_timeouts;
	uint64_t	recoveries;
};

struct shared {
	_Atomic int		stop;
	uint64_t		g0;
	uint64_t		acked;
	uint64_t		failed;
	uint64_t		gen_mismatch;
	uint64_t		elapsed_ns;
	struct store_stats	wstats;
	struct reader_res	r[MAX_READERS];
	unsigned char		ack[];		/* one byte per seq */
};

static const char *dbpath;
static int storm;

static void
value_for(uint64_t seq, char *buf, size_t bufsz)
{
	static const char pad[] =
	    "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx";

	snprintf(buf, bufsz, "{\"seq\":%llu,\"pad\":\"%.*s\"}",
	    (unsigned long long)seq, (int)(seq % (sizeof(pad) - 1)), pad);
}

/* Get k<seq> and compare; returns 1 when it matches, 0 when not, -1 err. */
static int
lookup(struct store *st, uint64_t seq, int *err)
{
	char key[32], want[128], *v = NULL;
	size_t len;
	int rc, ok;

	snprintf(key, sizeof(key), "k%llu", (unsigned long long)seq);
	value_for(seq, want, sizeof(want));
	if ((rc = store_get(st, "stress", key, &v, &len)) != SF_OK) {
		*err = rc;
		return rc == SF_ENOTFOUND ? 0 : -1;
	}
	ok = len == strlen(want) && memcmp(v, want, len) == 0;
	free(v);
	return ok;
}

static void
reader(struct shared *sh, int idx, uint64_t n)
{
	struct reader_res *r = &sh->r[idx];
	struct store_stats s;
	struct store *st;
	struct timespec pause = { 0, 50000 };
	uint64_t last, g, seq;
	unsigned int rnd = (unsigned int)getpid();
	int err = 0, m;

	if (store_open(dbpath, false, &st) != SF_OK) {
		r->failures++;
		return;
	}
	last = sh->g0;
	while (!atomic_load(&sh->stop)) {
		g = store_generation(st);
		if (g == last) {
			if (!storm) {
				nanosleep(&pause, NULL);	/* idle */
				continue;
			}
			if ((seq = last - sh->g0) > 0) {
				rnd = rnd * 1103515245u + 12345u;
				if (lookup(st, 1 + (uint64_t)(rnd >> 8) % seq,
				    &err) != 1)
					r->failures++;
				r->lookups++;
			}
			continue;
		}
		r->changes++;
		last = g;
		seq = g - sh->g0;
		if (seq == 0 || seq > n) {
			r->violations++;
			fprintf(stderr, "reader %d: generation %llu out of "
			    "range\n", idx, (unsigned long long)seq);
			continue;
		}
		/* The newest committed key, then one older one. */
		for (m = 0; m < 2; m++) {
			int got = lookup(st, seq, &err);

			r->lookups++;
			if (got == 0) {
				r->violations++;
				if (r->violations <= 3)
					fprintf(stderr, "reader %d: k%llu "
					    "missing or wrong after generation "
					    "moved (%s)\n", idx,
					    (unsigned long long)seq,
					    sf_strerror(err));
			} else if (got < 0) {
				r->failures++;
				if (r->failures <= 3)
					fprintf(stderr, "reader %d: get: "
					    "%s\n", idx, sf_strerror(err));
			}
			rnd = rnd * 1103515245u + 12345u;
			seq = 1 + (uint64_t)(rnd >> 8) % seq;
		}
	}
	store_get_stats(st, &s);
	r->lock_waits = s.lock_waits;
	r->lock_timeouts = s.lock_timeouts;
	r->recoveries = s.recoveries;
	store_close(st);
}

static void
writer(struct shared *sh, uint64_t n)
{
	struct store *st;
	char key[32], val[128];
	uint64_t seq, t0;
	int rc;

	if (store_open(dbpath, false, &st) != SF_OK) {
		sh->failed = n;
		return;
	}
	t0 = sf_mono_ns();
	for (seq = 1; seq <= n; seq++) {
		snprintf(key, sizeof(key), "k%llu", (unsigned long long)seq);
		value_for(seq, val, sizeof(val));
		rc = store_put(st, "stress", key, val, strlen(val),
		    STORE_INSERT);
		if (rc != SF_OK) {
			sh->failed++;
			if (sh->failed <= 3)
				fprintf(stderr, "writer: k%llu: %s\n",
				    (unsigned long long)seq, sf_strerror(rc));
			continue;
		}
		sh->ack[seq] = 1;
		sh->acked++;
		if (store_generation(st) - sh->g0 != sh->acked)
			sh->gen_mismatch++;
	}
	sh->elapsed_ns = sf_mono_ns() - t0;
	store_get_stats(st, &sh->wstats);
	store_close(st);
}

struct verify {
	struct shared	*sh;
	uint64_t	 n;
	uint64_t	 present;
	uint64_t	 bad;
};

static int
verify_cb(const char *key, const char *val, size_t len, void *arg)
{
	struct verify *v = arg;
	char want[128];
	long long seq;

	if (key[0] != 'k' || sf_strtonum(key + 1, 1, (long long)v->n, &seq)
	    != SF_OK || !v->sh->ack[seq]) {
		v->bad++;
		return SF_OK;
	}
	value_for((uint64_t)seq, want, sizeof(want));
	if (len != strlen(want) || memcmp(val, want, len) != 0)
		v->bad++;
	else
		v->present++;
	return SF_OK;
}

static void
rm_tree(const char *dir)
{
	struct dirent *de;
	char p[4096];
	DIR *d;

	if ((d = opendir(dir)) != NULL) {
		while ((de = readdir(d)) != NULL) {
			if (de->d_name[0] == '.')
				continue;
			snprintf(p, sizeof(p), "%s/%s", dir, de->d_name);
			unlink(p);
		}
		closedir(d);
	}
	rmdir(dir);
}

int
main(int argc, char *argv[])
{
	struct shared *sh;
	struct store *st;
	struct verify v;
	struct reader_res tot;
	char dir[4096], path[4200], why[256], fig[1024];
	const char *base = "/tmp";
	long long nreaders = 4, n = 10000, x;
	pid_t pids[MAX_READERS + 1];
	size_t shsz;
	int c, i, status, bad_exit = 0;

	while ((c = getopt(argc, argv, "d:n:r:s")) != -1) {
		switch (c) {
		case 's':
			storm = 1;
			break;
		case 'd':
			base = optarg;
			break;
		case 'n':
			if (sf_strtonum(optarg, 1, 10000000, &n) != SF_OK)
				goto usage;
			break;
		case 'r':
			if (sf_strtonum(optarg, 1, MAX_READERS, &nreaders) !=
			    SF_OK)
				goto usage;
			break;
		default:
			goto usage;
		}
	}
	log_init("store-stress", 0, SF_LOG_WARN);
	snprintf(dir, sizeof(dir), "%s/sf-stress-XXXXXX", base);
	if (mkdtemp(dir) == NULL) {
		printf("FAIL store-stress: mkdtemp %s: %s\n", dir,
		    strerror(errno));
		return 1;
	}
	snprintf(path, sizeof(path), "%s/stress.db", dir);
	dbpath = path;
	shsz = sizeof(*sh) + (size_t)n + 1;
	sh = mmap(NULL, shsz, PROT_READ | PROT_WRITE, MAP_SHARED |
	    MAP_ANONYMOUS, -1, 0);
	if (sh == MAP_FAILED || store_open(path, true, &st) != SF_OK) {
		printf("FAIL store-stress: setup\n");
		rm_tree(dir);
		return 1;
	}
	sh->g0 = store_generation(st);
	store_close(st);

	fflush(NULL);
	for (i = 0; i < nreaders; i++)
		if ((pids[i] = fork()) == 0) {
			reader(sh, i, (uint64_t)n);
			_exit(0);
		}
	if ((pids[nreaders] = fork()) == 0) {
		writer(sh, (uint64_t)n);
		_exit(0);
	}
	for (i = 0; i <= nreaders; i++) {
		if (i == 0) {	/* the writer first, then stop the readers */
			if (waitpid(pids[nreaders], &status, 0) == -1 ||
			    !WIFEXITED(status) || WEXITSTATUS(status) != 0)
				bad_exit++;
			atomic_store(&sh->stop, 1);
		}
		if (i < nreaders && (waitpid(pids[i], &status, 0) == -1 ||
		    !WIFEXITED(status) || WEXITSTATUS(status) != 0))
			bad_exit++;
	}

	memset(&v, 0, sizeof(v));
	v.sh = sh;
	v.n = (uint64_t)n;
	if (store_open(path, false, &st) != SF_OK ||
	    store_iter(st, "stress", verify_cb, &v) != SF_OK) {
		printf("FAIL store-stress: final verification could not "
		    "read the store\n");
		rm_tree(dir);
		return 1;
	}
	store_close(st);

	memset(&tot, 0, sizeof(tot));
	for (i = 0; i < nreaders; i++) {
		tot.lookups += sh->r[i].lookups;
		tot.changes += sh->r[i].changes;
		tot.violations += sh->r[i].violations;
		tot.failures += sh->r[i].failures;
		tot.lock_waits += sh->r[i].lock_waits;
		tot.lock_timeouts += sh->r[i].lock_timeouts;
		tot.recoveries += sh->r[i].recoveries;
	}
	x = sh->wstats.writes > 0 ? (long long)(sh->wstats.write_ns /
	    sh->wstats.writes) : 0;
	snprintf(fig, sizeof(fig), "%llu/%lld writes acked in %.2f s "
	    "(%.0f writes/s), write latency mean %.0f us max %.0f us, "
	    "writer lock waits %llu; %lld readers: %llu generation moves "
	    "seen, %llu lookups, %llu violations, %llu read failures, "
	    "%llu reader lock waits; %llu failed, %llu lost, %llu recoveries",
	    (unsigned long long)sh->acked, n, (double)sh->elapsed_ns / 1e9,
	    sh->elapsed_ns ? (double)sh->acked * 1e9 /
	    (double)sh->elapsed_ns : 0.0, (double)x / 1e3,
	    (double)sh->wstats.write_ns_max / 1e3,
	    (unsigned long long)sh->wstats.lock_waits, nreaders,
	    (unsigned long long)tot.changes, (unsigned long long)tot.lookups,
	    (unsigned long long)tot.violations,
	    (unsigned long long)tot.failures,
	    (unsigned long long)tot.lock_waits,
	    (unsigned long long)sh->failed,
	    (unsigned long long)(sh->acked - v.present),
	    (unsigned long long)(tot.recoveries + sh->wstats.recoveries));

	why[0] = '\0';
	if (bad_exit)
		snprintf(why, sizeof(why), "%d processes exited badly",
		    bad_exit);
	else if (sh->failed || sh->acked != (uint64_t)n)
		snprintf(why, sizeof(why), "failed writes");
	else if (v.present != sh->acked || v.bad)
		snprintf(why, sizeof(why), "lost or wrong entries (%llu bad)",
		    (unsigned long long)v.bad);
	else if (tot.violations || tot.failures)
		snprintf(why, sizeof(why), "readers missed committed writes");
	else if (sh->gen_mismatch)
		snprintf(why, sizeof(why), "generation did not move exactly "
		    "once per write (%llu)",
		    (unsigned long long)sh->gen_mismatch);
	else if (tot.lookups == 0)
		snprintf(why, sizeof(why), "readers saw no change at all");
	rm_tree(dir);
	if (why[0] != '\0') {
		printf("FAIL %s: %s: %s\n", storm ? "store-stress-storm" :
		    "store-stress", why, fig);
		return 1;
	}
	printf("PASS %s: %s\n", storm ? "store-stress-storm" :
	    "store-stress", fig);
	return 0;
usage:
	fprintf(stderr, "usage: store-stress [-s] [-r readers] [-n writes] "
	    "[-d dir]\n");
	return 2;
}
