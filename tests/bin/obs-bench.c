/*
 * obs-bench - what observability adds to one exchange: a metrics update
 * (metrics_exchange + metrics_request + metrics_policy, as exchange.fcgi
 * makes them) and an audit append (audit_record of an exchange-sized
 * record), each alone and with P processes doing the same at once.
 * Prints nanoseconds per operation; measures, never asserts.
 *
 *	obs-bench [SECONDS] [PROCS]
 */
#include <sys/wait.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "starfly.h"

static struct sf_conf conf;

static double
run_metrics(struct metrics *m, double secs, uint64_t *ops)
{
	uint64_t t0 = sf_mono_ns(), end = t0 + (uint64_t)(secs * 1e9), n = 0;
	int i;

	while (sf_mono_ns() < end) {
		for (i = 0; i < 1000; i++) {
			metrics_exchange(m, "success",
			    "urn:ietf:params:oauth:token-type:jwt", 42000);
			metrics_policy(m, "exchange", 9000);
			metrics_request(m, "exchange.fcgi",
			    "/v1/exchange/token", 200, 45000);
		}
		n += 1000;
	}
	*ops = n;
	return (double)(sf_mono_ns() - t0) / (double)n;
}

static double
run_audit(struct audit *a, double secs, uint64_t *ops)
{
	uint64_t t0 = sf_mono_ns(), end = t0 + (uint64_t)(secs * 1e9), n = 0;
	json_t *x = json_pack("{s:s, s:i}", "scope", "read:data", "ttl", 300);

	while (sf_mono_ns() < end) {
		(void)audit_record(a, "5f0c2a1e-8d3b-4c1a-9a7e-2b1d0c9e8f7a",
		    "exchange", "token_exchange",
		    "wimse://dev.local/ns/bench/sa/agent",
		    "https://api.target.example.com", "allow", NULL, x);
		n++;
	}
	json_decref(x);
	*ops = n;
	return (double)(sf_mono_ns() - t0) / (double)n;
}

/* procs children each running what; prints the mean per op. */
static void
contended(const char *what, int procs, double secs)
{
	int i, p[2], st;
	double sum = 0, v;
	pid_t pid;

	if (pipe(p) != 0)
		return;
	for (i = 0; i < procs; i++) {
		if ((pid = fork()) == 0) {
			struct metrics *m = NULL;
			struct audit *a = NULL;
			uint64_t ops;

			close(p[0]);
			if (strcmp(what, "metrics") == 0) {
				(void)metrics_open(&conf, &m);
				v = run_metrics(m, secs, &ops);
			} else {
				(void)audit_open(&conf, "bench", &a);
				v = run_audit(a, secs, &ops);
				audit_close(a);
			}
			if (write(p[1], &v, sizeof(v)) == -1)
				_exit(1);
			_exit(0);
		}
	}
	close(p[1]);
	for (i = 0; i < procs; i++)
		if (read(p[0], &v, sizeof(v)) == sizeof(v))
			sum += v;
	close(p[0]);
	while (wait(&st) > 0)
		;
	printf("%-8s %d processes at once: %8.0f ns per update (mean of "
	    "the processes)\n", what, procs, sum / procs);
}

int
main(int argc, char *argv[])
{
	char base[] = "/tmp/sf-obs-bench.XXXXXX", run[64], aud[64], cmd[192];
	struct metrics *m = NULL;
	struct audit *a = NULL;
	double secs = argc > 1 ? atof(argv[1]) : 1.5;
	int procs = argc > 2 ? atoi(argv[2]) : 2;
	uint64_t ops;
	double ns;

	if (mkdtemp(base) == NULL)
		return 1;
	snprintf(run, sizeof(run), "%s/run", base);
	snprintf(aud, sizeof(aud), "%s/audit", base);
	snprintf(cmd, sizeof(cmd), "mkdir -p %s %s", run, aud);
	if (system(cmd) != 0)
		fprintf(stderr, "%s failed\n", cmd);
	conf.run_dir = run;
	conf.audit_dir = aud;
	log_init("obs-bench", 0, SF_LOG_ERR);
	if (metrics_open(&conf, &m) != SF_OK || audit_open(&conf, "bench", &a)
	    != SF_OK)
		return 1;
	ns = run_metrics(m, secs, &ops);
	printf("metrics  1 process:            %8.0f ns per exchange's "
	    "updates (3 calls; %llu in %.1f s)\n", ns,
	    (unsigned long long)ops, secs);
	ns = run_audit(a, secs, &ops);
	printf("audit    1 process:            %8.0f ns per append (%llu "
	    "records in %.1f s, no disk sync on the path)\n", ns,
	    (unsigned long long)ops, secs);
	audit_close(a);
	contended("metrics", procs, secs);
	contended("audit", procs, secs);
	metrics_close(m);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", base);
	if (system(cmd) != 0)
		fprintf(stderr, "%s failed\n", cmd);
	return 0;
}
