/*
 * revoke-bench - revocation index figures at scale (tests/bench/
 * mcp-signals.sh): fill a store with N revoked subjects through
 * revoke_commit (journal included), then time a full load, its memory,
 * revoke_check for hits and misses (against a 1000-entry index too), a
 * refresh when nothing moved, and incremental refreshes after 1 and 100
 * commits by another handle, next to what a full reload costs.
 *
 *	revoke-bench DIR [N]	(N default 1000000; DIR is created)
 */
#include <sys/stat.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "starfly.h"

#define BATCH	10000
#define LOOKUPS	1000000

static long
rss_kib(void)
{
	char line[256];
	long v = -1;
	FILE *fp = fopen("/proc/self/status", "r");

	while (fp != NULL && fgets(line, sizeof(line), fp) != NULL)
		if (strncmp(line, "VmRSS:", 6) == 0)
			v = atol(line + 6);
	if (fp != NULL)
		fclose(fp);
	return v;
}

static void
subject(char *buf, size_t len, long i)
{
	snprintf(buf, len, "wimse://bench.example/ns/n%ld/sa/user-%ld",
	    i % 1000, i);
}

/*
 * ns per revoke_check over LOOKUPS ids drawn from [lo, lo + span): ids
 * are made 1024 at a time outside the timed loop.
 */
static double
lookups(const struct revoke_index *ix, long lo, long span, int want,
    int64_t now)
{
	static char ids[1024][96];
	uint64_t t0, t = 0;
	long i, k, bad = 0;
	unsigned long x = 88172645463325252UL;

	for (i = 0; i < LOOKUPS; i += 1024) {
		for (k = 0; k < 1024; k++) {
			x ^= x << 13;
			x ^= x >> 7;
			x ^= x << 17;
			subject(ids[k], sizeof(ids[k]), lo + (long)(x %
			    (unsigned long)span));
		}
		t0 = sf_mono_ns();
		for (k = 0; k < 1024; k++)
			if (revoke_check(ix, "sub", ids[k], 0, now, NULL) !=
			    want)
				bad++;
		t += sf_mono_ns() - t0;
	}
	if (bad > 0)
		fprintf(stderr, "revoke-bench: %ld wrong answers\n", bad);
	return (double)t / (double)(i);
}

static int
fill(struct store *st, long from, long to, int64_t now)
{
	static struct revoke_op ops[BATCH];
	static char ids[BATCH][96];
	long i, k;
	int rc;

	for (i = from; i < to; i += BATCH) {
		for (k = 0; k < BATCH && i + k < to; k++) {
			subject(ids[k], sizeof(ids[k]), i + k);
			memset(&ops[k], 0, sizeof(ops[k]));
			ops[k].type = REVOKE_PUT;
			ops[k].kind = "sub";
			ops[k].id = ids[k];
			ops[k].time = now;
			ops[k].reason = "https://schemas.openid.net/secevent/"
			    "caep/event-type/session-revoked";
			ops[k].source = "bench";
		}
		if ((rc = revoke_commit(st, ops, (size_t)k, now)) != SF_OK)
			return rc;
	}
	return SF_OK;
}

int
main(int argc, char *argv[])
{
	struct store *st = NULL, *st2 = NULL;
	struct revoke_index *ix = NULL, *small = NULL;
	char *path = NULL, id[96];
	long n = argc > 2 ? atol(argv[2]) : 1000000, r0, r1, i;
	int64_t now = sf_now();
	uint64_t t0, t;
	struct stat sb;
	int rc;

	if (argc < 2 || n < 1000) {
		fprintf(stderr, "usage: revoke-bench DIR [N >= 1000]\n");
		return 2;
	}
	log_init("revoke-bench", 0, SF_LOG_WARN);
	(void)mkdir(argv[1], 0700);
	if (sf_asprintf(&path, "%s/bench.db", argv[1]) != SF_OK ||
	    store_open(path, true, &st) != SF_OK ||
	    store_open(path, false, &st2) != SF_OK)
		return 1;
	store_set_timeout(st, 60000);
	store_set_timeout(st2, 60000);
	if (getenv("REVOKE_BENCH_NORING") == NULL &&
	    revoke_ring_open(path) != SF_OK)
		return 1;

	t0 = sf_mono_ns();
	if ((rc = fill(st, 0, n, now)) != SF_OK) {
		fprintf(stderr, "revoke-bench: fill: %s\n", sf_strerror(rc));
		return 1;
	}
	t = sf_mono_ns() - t0;
	if (stat(path, &sb) == 0)
		printf("fill: %ld revocations in %.1f s (%.0f/s, commits of "
		    "%d), store %.0f MiB\n", n, (double)t / 1e9,
		    (double)n / ((double)t / 1e9), BATCH,
		    (double)sb.st_size / 1048576);

	r0 = rss_kib();
	t0 = sf_mono_ns();
	if ((rc = revoke_load(st2, now, &ix)) != SF_OK) {
		fprintf(stderr, "revoke-bench: load: %s\n", sf_strerror(rc));
		return 1;
	}
	t = sf_mono_ns() - t0;
	r1 = rss_kib();
	printf("full load (one walk of the store): %.2f s for %zu entries\n",
	    (double)t / 1e9, revoke_count(ix));
	printf("index memory: %.1f MiB by revoke_memory (%.1f B/entry), RSS "
	    "+%.1f MiB\n", (double)revoke_memory(ix) / 1048576,
	    (double)revoke_memory(ix) / (double)revoke_count(ix),
	    (double)(r1 - r0) / 1024);

	printf("revoke_check at %zu entries: hit %.0f ns, miss %.0f ns\n",
	    revoke_count(ix), lookups(ix, 0, n, SF_EREVOKED, now),
	    lookups(ix, n, n, SF_OK, now));
	if (revoke_new(&small) != SF_OK)
		return 1;
	for (i = 0; i < 1000; i++) {
		subject(id, sizeof(id), i);
		(void)revoke_add(small, "sub", id, now, 0, "r");
	}
	printf("revoke_check at 1000 entries: hit %.0f ns, miss %.0f ns\n",
	    lookups(small, 0, 1000, SF_EREVOKED, now),
	    lookups(small, n, n, SF_OK, now));
	revoke_free(small);

	t0 = sf_mono_ns();
	for (i = 0; i < LOOKUPS; i++)
		(void)revoke_refresh(ix, st2, now);
	printf("revoke_refresh, nothing moved: %.1f ns\n",
	    (double)(sf_mono_ns() - t0) / LOOKUPS);
	if (fill(st, n, n + 1, now) != SF_OK)
		return 1;
	t0 = sf_mono_ns();
	if (revoke_refresh(ix, st2, now) != SF_OK)
		return 1;
	printf("revoke_refresh after 1 commit elsewhere: %.0f us\n",
	    (double)(sf_mono_ns() - t0) / 1e3);
	for (i = 0; i < 100; i++) {
		subject(id, sizeof(id), n + 1 + i);
		if (revoke_put(st, "sub", id, now, 0, "r", NULL, "bench") !=
		    SF_OK)
			return 1;
	}
	t0 = sf_mono_ns();
	if (revoke_refresh(ix, st2, now) != SF_OK)
		return 1;
	printf("revoke_refresh after 100 commits elsewhere: %.0f us "
	    "(%zu entries)\n", (double)(sf_mono_ns() - t0) / 1e3,
	    revoke_count(ix));
	subject(id, sizeof(id), n + 100);
	printf("the last of them is seen: %s\n", revoke_check(ix, "sub", id,
	    0, now, NULL) == SF_EREVOKED ? "yes" : "NO");
	t0 = sf_mono_ns();
	revoke_free(ix);
	ix = NULL;
	if (revoke_load(st2, now, &ix) != SF_OK)
		return 1;
	printf("(a full reload instead would take %.2f s)\n",
	    (double)(sf_mono_ns() - t0) / 1e9);
	revoke_free(ix);
	store_close(st2);
	store_close(st);
	free(path);
	return 0;
}
