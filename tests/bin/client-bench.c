/*
 * client-bench CONF REF [N] - the cost of lib/client.c calls in one
 * process: N cached calls (memory cache hit) and N/10 uncached calls
 * (a full exchange each, no_cache) for entry REF.  Prints one line per
 * measure; used by tests/bench/client.sh.  Measures, never asserts.
 */
#include <stdio.h>
#include <stdlib.h>

#include "starfly.h"

static int
calls(struct client *cl, const char *ref, bool no_cache, long n,
    double *per_us)
{
	struct client_req rq = { 0 };
	struct client_token *t;
	struct client_error err;
	uint64_t t0;
	long i;

	rq.no_cache = no_cache;
	t0 = sf_mono_ns();
	for (i = 0; i < n; i++) {
		if (client_token(cl, ref, &rq, &t, &err) != SF_OK) {
			fprintf(stderr, "client-bench: %s: %s\n", ref,
			    err.message ? err.message : "failed");
			client_error_clear(&err);
			return 1;
		}
		client_token_free(t);
	}
	*per_us = (double)(sf_mono_ns() - t0) / 1e3 / (double)n;
	return 0;
}

int
main(int argc, char **argv)
{
	struct client *cl = NULL;
	char *msg = NULL;
	long long n = 100000;
	double cached, uncached;
	int rc = 1;

	if (argc < 3 || (argc == 4 && sf_strtonum(argv[3], 10, 10000000, &n)
	    != SF_OK)) {
		fprintf(stderr, "usage: client-bench CONF REF [N]\n");
		return 2;
	}
	if (client_new(&cl) != SF_OK)
		return 1;
	if (client_load(cl, argv[1], &msg) != SF_OK) {
		fprintf(stderr, "client-bench: %s\n", msg ? msg : "load failed");
		goto out;
	}
	/* Warm: one exchange fills the cache and the discovered endpoint. */
	if (calls(cl, argv[2], false, 1, &cached) != 0 ||
	    calls(cl, argv[2], false, (long)n, &cached) != 0 ||
	    calls(cl, argv[2], true, (long)(n / 10 > 200 ? 200 : n / 10),
	    &uncached) != 0)
		goto out;
	printf("library cached call: %.2f us (%lld calls)\n", cached, n);
	printf("library uncached call: %.1f us (%lld calls, one exchange "
	    "each)\n", uncached, n / 10 > 200 ? 200 : n / 10);
	rc = 0;
out:
	free(msg);
	client_free(cl);
	return rc;
}
