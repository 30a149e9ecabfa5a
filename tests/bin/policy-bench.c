/*
 * policy-bench - time one exchange decision (allow, reason and claims
 * queries) on a policy bundle and watch memory over many decisions.
 *
 *   policy-bench [-n DECISIONS] [BUNDLE_DIR]	(default: policies, 1000000)
 *
 * Prints the mean time per decision, the heap in use (mallinfo2) and the
 * resident set size after warm-up and at the end: with a per-evaluation
 * arena reset between decisions neither should grow.
 */
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "starfly.h"

static long
rss_kb(void)
{
	FILE	*fp;
	long	 pages = 0, rss = 0;

	if ((fp = fopen("/proc/self/statm", "r")) == NULL)
		return -1;
	if (fscanf(fp, "%ld %ld", &pages, &rss) != 2)
		rss = -1;
	fclose(fp);
	return rss < 0 ? -1 : rss * (sysconf(_SC_PAGESIZE) / 1024);
}

static const char input_json[] =
    "{\"action\":\"exchange\",\"target\":\"https://api.example.com\","
    "\"audiences\":[\"https://api.example.com\"],"
    "\"subject\":{\"id\":\"spiffe://prod.example.com/ns/shop/sa/cart\","
    "\"trust_domain\":\"prod.example.com\","
    "\"type\":\"urn:starfly:token-type:spiffe-svid\","
    "\"issuer\":\"spiffe://prod.example.com\","
    "\"claims\":{\"sub\":\"spiffe://prod.example.com/ns/shop/sa/cart\","
    "\"aud\":[\"starfly\"],\"exp\":1900000000,\"iat\":1700000000}},"
    "\"context\":{\"scope\":\"read write\",\"client_id\":\"cart\"}}";

int
main(int argc, char **argv)
{
	const char		*dir = "policies";
	struct policy		*p;
	struct policy_decision	 d;
	json_t			*input;
	json_error_t		 je;
	char			*err = NULL;
	long			 n = 1000000, i, warm = 20000;
	long			 rss0, rss1;
	size_t			 heap0, heap1;
	uint64_t		 t0, t1;
	int			 ch;

	while ((ch = getopt(argc, argv, "n:")) != -1) {
		if (ch == 'n')
			n = atol(optarg);
		else {
			fprintf(stderr, "usage: policy-bench [-n N] [DIR]\n");
			return 2;
		}
	}
	if (optind < argc)
		dir = argv[optind];
	if (policy_load(dir, &p, &err) != SF_OK) {
		fprintf(stderr, "policy-bench: %s\n", err);
		return 1;
	}
	if ((input = json_loads(input_json, 0, &je)) == NULL)
		return 1;
	for (i = 0; i < warm; i++) {
		if (policy_decide(p, "exchange", input, &d) != SF_OK) {
			fprintf(stderr, "policy-bench: evaluation failed\n");
			return 1;
		}
		if (i == 0)
			printf("decision: allow=%s reason=%s\n",
			    d.allow ? "true" : "false",
			    d.reason != NULL ? d.reason : "(none)");
		policy_decision_clear(&d);
	}
	heap0 = mallinfo2().uordblks;
	rss0 = rss_kb();
	t0 = sf_mono_ns();
	for (i = 0; i < n; i++) {
		if (policy_decide(p, "exchange", input, &d) != SF_OK)
			return 1;
		policy_decision_clear(&d);
	}
	t1 = sf_mono_ns();
	heap1 = mallinfo2().uordblks;
	rss1 = rss_kb();
	printf("decisions: %ld\n", n);
	printf("per decision: %.2f us (allow + reason + claims)\n",
	    (double)(t1 - t0) / 1e3 / (double)n);
	printf("heap in use: %zu -> %zu bytes (%+ld)\n", heap0, heap1,
	    (long)heap1 - (long)heap0);
	printf("rss: %ld -> %ld KiB (%+ld)\n", rss0, rss1, rss1 - rss0);
	json_decref(input);
	policy_free(p);
	return heap1 > heap0 + 4096 ? 1 : 0;
}
