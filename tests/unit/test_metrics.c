/*
 * test_metrics.c - the shared metrics segment: sums across real
 * processes, bounded labels, histogram buckets, the SSE pool, render.
 */
#include <sys/wait.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "starfly.h"
#include "t.h"

static char dir[] = "/tmp/sf-metrics.XXXXXX";
static struct sf_conf conf;

static char *
render(struct metrics *m)
{
	struct metrics_info info = { "abcdef012345", "dev", 0, 10, 1 };
	char *out = NULL;
	size_t len;

	if (metrics_render(m, &info, &out, &len) != SF_OK)
		return NULL;
	return out;
}

/* The value of the exact series line "name{labels} v" in text. */
static long long
value(const char *text, const char *series)
{
	const char *p = text;
	size_t n = strlen(series);

	while ((p = strstr(p, series)) != NULL) {
		if ((p == text || p[-1] == '\n') && p[n] == ' ')
			return atoll(p + n + 1);
		p += n;
	}
	return -1;
}

static void
sum_over_processes(void)
{
	struct metrics *m = NULL;
	char *text;
	int i, j, st;
	pid_t pid;

	T_OK(metrics_open(&conf, &m));
	/* 6 processes x 500 exchanges, each its own mapping. */
	for (i = 0; i < 6; i++) {
		if ((pid = fork()) == 0) {
			struct metrics *cm = NULL;

			if (metrics_open(&conf, &cm) != SF_OK)
				_exit(1);
			for (j = 0; j < 500; j++) {
				metrics_exchange(cm, "success",
				    "urn:ietf:params:oauth:token-type:jwt",
				    40000);
				metrics_request(cm, "exchange.fcgi",
				    "/v1/exchange/token", 200, 40000);
			}
			metrics_close(cm);
			_exit(0);
		}
		T(pid > 0);
	}
	for (i = 0; i < 6; i++) {
		T(wait(&st) > 0);
		T(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	}
	T((text = render(m)) != NULL);
	T(value(text, "starfly_exchange_requests_total{status=\"success\","
	    "source_type=\"jwt\"}") == 3000);
	T(value(text, "starfly_http_requests_total{program=\"exchange\","
	    "route=\"/v1/exchange/token\",code=\"200\"}") == 3000);
	T(value(text, "starfly_exchange_duration_seconds_count") == 3000);
	/* 40 us is above 25 us and within 50 us. */
	T(value(text, "starfly_exchange_duration_seconds_bucket{le=\"2.5e-05\"}")
	    == 0);
	T(value(text, "starfly_exchange_duration_seconds_bucket{le=\"5e-05\"}")
	    == 3000);
	T(value(text, "starfly_exchange_duration_seconds_bucket{le=\"+Inf\"}")
	    == 3000);
	T(strstr(text, "starfly_exchange_duration_seconds_sum 0.120000000\n")
	    != NULL);
	free(text);
	metrics_close(m);
}

static void
bounded_labels(void)
{
	struct metrics *m = NULL;
	char *text, id[32];
	int i;

	T_OK(metrics_open(&conf, &m));
	metrics_exchange(m, "made-up-status", "urn:x:unknown", 1000);
	metrics_exchange(m, "invalid_target", NULL, 1000);
	metrics_request(m, "sys.fcgi", "/v1/some/random/path", 404, 1000);
	metrics_request(m, "sys.fcgi", "/v1/sys/health", 418, 1000);
	metrics_signal(m, "https://schemas.openid.net/secevent/caep/event-"
	    "type/session-revoked", "accepted");
	metrics_signal(m, "urn:evil:raw-subject-value", "whatever");
	metrics_policy(m, "exchange", 2000);
	for (i = 0; i < 300; i++) {
		snprintf(id, sizeof(id), "tool-%d", i);
		metrics_mcp_verify(m, id, i % 2 == 0, 5000);
	}
	metrics_mcp_verify(m, "tool-1", false, 5000);
	T((text = render(m)) != NULL);
	T(value(text, "starfly_exchange_requests_total{status=\"other\","
	    "source_type=\"other\"}") == 1);
	T(value(text, "starfly_exchange_requests_total{status=\""
	    "invalid_target\",source_type=\"none\"}") == 1);
	T(value(text, "starfly_http_requests_total{program=\"sys\","
	    "route=\"other\",code=\"404\"}") == 1);
	T(value(text, "starfly_http_requests_total{program=\"sys\","
	    "route=\"/v1/sys/health\",code=\"4xx\"}") == 1);
	T(value(text, "starfly_signals_received_total{event_type=\""
	    "session-revoked\",result=\"accepted\"}") == 1);
	T(value(text, "starfly_signals_received_total{event_type=\"other\","
	    "result=\"other\"}") == 1);
	T(value(text, "starfly_mcp_tool_calls_total{tool_id=\"tool-1\","
	    "decision=\"deny\"}") == 2);
	/* 256 ids have their own series; the rest fold into _other. */
	T(value(text, "starfly_mcp_tool_calls_total{tool_id=\"_other\","
	    "decision=\"allow\"}") + value(text, "starfly_mcp_tool_calls_total"
	    "{tool_id=\"_other\",decision=\"deny\"}") == 300 - 256);
	T(strstr(text, "raw-subject-value") == NULL);
	T(strstr(text, "starfly_unit_info{version=\"" SF_VERSION "\","
	    "unit_id=\"abcdef012345\",mode=\"dev\"} 1\n") != NULL);
	T(strstr(text, "# TYPE starfly_exchange_duration_seconds histogram\n")
	    != NULL);
	free(text);
	metrics_close(m);
}

static void
sse_pool(void)
{
	struct metrics *m = NULL;
	int a, b, st, p[2];
	char c;
	pid_t pid;

	T_OK(metrics_open(&conf, &m));
	T((a = metrics_sse_claim(m, 2)) >= 0);
	T((b = metrics_sse_claim(m, 2)) >= 0 && b != a);
	T(metrics_sse_claim(m, 2) == SF_EBUSY);
	metrics_sse_release(m, a);
	T(metrics_sse_claim(m, 2) == a);
	metrics_sse_release(m, a);
	metrics_sse_release(m, b);
	/* A process that dies holding both slots gives them back. */
	T(pipe(p) == 0);
	if ((pid = fork()) == 0) {
		struct metrics *cm = NULL;

		close(p[0]);
		if (metrics_open(&conf, &cm) != SF_OK ||
		    metrics_sse_claim(cm, 2) < 0 ||
		    metrics_sse_claim(cm, 2) < 0)
			_exit(1);
		if (write(p[1], "x", 1) == -1)
			_exit(1);
		_exit(0);	/* without releasing */
	}
	close(p[1]);
	T(read(p[0], &c, 1) == 1);
	close(p[0]);
	T(waitpid(pid, &st, 0) == pid && WIFEXITED(st) &&
	    WEXITSTATUS(st) == 0);
	T((a = metrics_sse_claim(m, 2)) >= 0);
	metrics_sse_release(m, a);
	metrics_close(m);
}

static void
null_handle_is_a_noop(void)
{
	char *out = NULL;
	size_t len = 1;

	metrics_exchange(NULL, "success", "jwt", 1);
	metrics_request(NULL, "x", "/", 200, 1);
	metrics_mcp_verify(NULL, "t", true, 1);
	metrics_after(NULL, NULL);
	T(metrics_render(NULL, NULL, &out, &len) == SF_EINVAL);
	T(out == NULL && len == 0);
}

int
main(void)
{
	char cmd[128];
	int rc;

	t_prog = "metrics";
	if (mkdtemp(dir) == NULL)
		return 1;
	conf.run_dir = dir;
	RUN(sum_over_processes);
	RUN(bounded_labels);
	RUN(sse_pool);
	RUN(null_handle_is_a_noop);
	rc = T_DONE();
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	if (system(cmd) != 0)
		fprintf(stderr, "%s failed\n", cmd);
	return rc;
}
