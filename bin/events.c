/*
 * events.fcgi - the audit trail as server-sent events (HTML Living
 * Standard, "Server-sent events").
 *
 * Route: GET /v1/events[?types=a,b]
 *
 *   : connected to <unit_id>          first, then a blank line
 *   id: <seq>                         one event per audit record: the
 *   data: <the record's JSON line>    record's own line, its seq the id
 *   : heartbeat                       every 5 s
 *
 * ?types= keeps only records of those types (comma-separated; an
 * unknown type keeps nothing).  Last-Event-ID resumes after that seq,
 * across rotated files; without it the stream starts at the end.
 *
 * The stream follows the audit files with inotify: writers never know a
 * reader exists, so no exchange waits for a slow client.  Readers run
 * at nice 10 and gather a burst for BATCH_MS before writing it, so a
 * busy unit costs each stream one wake-up per BATCH_MS, not one per
 * decision.  Each open
 * stream holds this process (one worker) until the client goes; the
 * unit-wide pool is sse_workers streams (slots in the metrics segment),
 * and past it a request gets 503 with Retry-After.  With --listen the
 * program runs sse_workers + 2 processes, so that a full pool still
 * answers 503 at once instead of queueing connections.
 */
#include <errno.h>
#include <poll.h>
#include <unistd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "starfly.h"

#define HEARTBEAT_NS	(5ull * 1000 * 1000 * 1000)
#define MAX_TYPES	16
#define SPARE_WORKERS	2
#define POLL_MS		200	/* without inotify */
#define BATCH_MS	100	/* events gathered per write to a client */

struct ev_ctx {
	struct prog	 prog;
	struct metrics	*metrics;
	char		 unit_id[13];
};

static volatile sig_atomic_t ev_stop;
static struct sigaction ev_old_term, ev_old_int;

/* Stop the stream, then let the request layer's handler see it too. */
static void
ev_on_signal(int sig)
{
	const struct sigaction *old = sig == SIGTERM ? &ev_old_term :
	    &ev_old_int;

	ev_stop = 1;
	if (old->sa_handler != SIG_DFL && old->sa_handler != SIG_IGN &&
	    old->sa_handler != NULL)
		old->sa_handler(sig);
}

struct filter {
	char	*buf;
	char	*types[MAX_TYPES];
	size_t	 n;
	bool	 any;
};

/* ?types=a,b (trimmed); SF_EINVAL when repeated or too many. */
static int
filter_parse(struct http_req *req, struct filter *f, const char **why)
{
	char *p, *tok, *save = NULL;
	int rc;

	memset(f, 0, sizeof(*f));
	f->any = true;
	*why = NULL;
	rc = http_query_param(req, "types", &f->buf);
	if (rc == SF_ENOTFOUND)
		return SF_OK;
	if (rc != SF_OK) {
		*why = "\"types\" is repeated or malformed";
		return SF_EINVAL;
	}
	f->any = false;
	for (tok = strtok_r(f->buf, ",", &save); tok != NULL;
	    tok = strtok_r(NULL, ",", &save)) {
		while (*tok == ' ' || *tok == '\t')
			tok++;
		p = tok + strlen(tok);
		while (p > tok && (p[-1] == ' ' || p[-1] == '\t'))
			*--p = '\0';
		if (*tok == '\0')
			continue;
		if (f->n == MAX_TYPES) {
			*why = "at most 16 \"types\"";
			return SF_EINVAL;
		}
		f->types[f->n++] = tok;
	}
	return SF_OK;
}

static bool
filter_match(const struct filter *f, const char *type)
{
	size_t i;

	if (f->any)
		return true;
	for (i = 0; type != NULL && i < f->n; i++)
		if (strcmp(f->types[i], type) == 0)
			return true;
	return false;
}

/* Send what the trail has; SF_EIO once the client is gone. */
static int
pump(struct http_req *req, struct audit_follow *fw, const struct filter *f,
    bool *wrote)
{
	struct audit_line l;
	const char *raw;
	char id[32];
	size_t len;
	int rc, n, sent = 0;

	while ((rc = audit_follow_next(fw, &l, &raw, &len)) == SF_OK) {
		if (filter_match(f, l.type)) {
			n = snprintf(id, sizeof(id), "id: %llu\ndata: ",
			    (unsigned long long)l.seq);
			if (http_write(req, id, (size_t)n) != SF_OK ||
			    http_write(req, raw, len) != SF_OK ||
			    http_write(req, "\n\n", 2) != SF_OK) {
				audit_line_clear(&l);
				return SF_EIO;
			}
			sent++;
		}
		audit_line_clear(&l);
		if (sent >= 256)
			break;	/* flush now and then under a burst */
	}
	if (rc != SF_OK && rc != SF_ENOTFOUND)
		log_err("events: reading the audit trail: %s",
		    sf_strerror(rc));
	if (sent > 0) {
		*wrote = true;
		return http_flush(req);
	}
	return SF_OK;
}

static int
stream(struct http_req *req, struct ev_ctx *ctx, struct audit_follow *fw,
    const struct filter *f)
{
	struct pollfd pfd[2];
	uint64_t last_beat;
	char hello[64];
	bool wrote;
	int n, wait_ms;

	(void)http_add_header(req, "Cache-Control", "no-cache");
	(void)http_add_header(req, "X-Accel-Buffering", "no");
	if (http_stream_begin(req, 200, "text/event-stream") != SF_OK)
		return SF_EIO;
	n = snprintf(hello, sizeof(hello), ": connected to %s\n\n",
	    ctx->unit_id[0] ? ctx->unit_id : "starfly");
	if (http_write(req, hello, (size_t)n) != SF_OK ||
	    http_flush(req) != SF_OK)
		return SF_EIO;
	last_beat = sf_mono_ns();
	while (!ev_stop) {
		if (pump(req, fw, f, &wrote) != SF_OK)
			return SF_EIO;
		if (sf_mono_ns() - last_beat >= HEARTBEAT_NS) {
			if (http_write(req, ": heartbeat\n\n", 13) != SF_OK ||
			    http_flush(req) != SF_OK)
				return SF_EIO;
			last_beat = sf_mono_ns();
		}
		pfd[0].fd = audit_follow_fd(fw);
		pfd[0].events = POLLIN;
		pfd[0].revents = 0;
		/* The web server hangs up (or aborts) when the client left. */
		pfd[1].fd = http_conn_fd(req);
		pfd[1].events = POLLIN | POLLRDHUP;
		pfd[1].revents = 0;
		wait_ms = (int)((HEARTBEAT_NS - (sf_mono_ns() - last_beat) %
		    HEARTBEAT_NS) / 1000000) + 1;
		if (pfd[0].fd < 0 && wait_ms > POLL_MS)
			wait_ms = POLL_MS;	/* no inotify: look again soon */
		n = poll(pfd, 2, wait_ms);
		if (n == -1 && errno != EINTR) {
			log_err("events: poll: %s", strerror(errno));
			return SF_ESYS;
		}
		if (n > 0 && (pfd[1].revents & (POLLIN | POLLRDHUP | POLLHUP |
		    POLLERR)))
			return SF_EIO;	/* client gone: free the slot now */
		/*
		 * Gather what a burst appends before reading it: one wake-up
		 * and one write per client per BATCH_MS, however fast the
		 * unit decides.
		 */
		if (n > 0 && pfd[0].revents != 0 && !ev_stop)
			(void)poll(NULL, 0, BATCH_MS);
	}
	return SF_OK;
}

static int
get_events(struct http_req *req, void *arg)
{
	struct ev_ctx *ctx = arg;
	struct audit_follow *fw = NULL;
	struct sigaction sa;
	struct filter f;
	const char *why, *lei;
	long long after = 0;
	int slot = -1, rc;

	if (filter_parse(req, &f, &why) != SF_OK) {
		rc = http_error(req, 400, "invalid_request", "%s", why);
		goto out;
	}
	lei = http_header(req, "HTTP_LAST_EVENT_ID");
	if (lei != NULL && *lei != '\0' &&
	    sf_strtonum(lei, 0, INT64_MAX, &after) != SF_OK) {
		rc = http_error(req, 400, "invalid_request", "Last-Event-ID "
		    "must be an event id this stream sent (a number)");
		goto out;
	}
	if (ctx->metrics != NULL && (slot = metrics_sse_claim(ctx->metrics,
	    (int)ctx->prog.conf->sse_workers)) < 0) {
		(void)http_add_header(req, "Retry-After", "5");
		rc = http_error(req, 503, "temporarily_unavailable", "all %lld "
		    "event streams are in use", ctx->prog.conf->sse_workers);
		goto out;
	}
	if ((rc = audit_follow_open(ctx->prog.conf, (uint64_t)after, false,
	    &fw)) != SF_OK) {
		rc = http_error(req, 503, "temporarily_unavailable", "the "
		    "audit trail cannot be followed: %s", sf_strerror(rc));
		goto out;
	}
	ev_stop = 0;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = ev_on_signal;
	sigemptyset(&sa.sa_mask);
	(void)sigaction(SIGTERM, &sa, &ev_old_term);
	(void)sigaction(SIGINT, &sa, &ev_old_int);
	rc = stream(req, ctx, fw, &f);
	(void)sigaction(SIGTERM, &ev_old_term, NULL);
	(void)sigaction(SIGINT, &ev_old_int, NULL);
	rc = SF_OK;	/* the client leaving is how a stream ends */
out:
	audit_follow_close(fw);
	metrics_sse_release(ctx->metrics, slot);
	free(f.buf);
	return rc;
}

static const struct http_route routes[] = {
	{ "/v1/events", HTTP_GET, 0, get_events },
};

int
main(int argc, char *argv[])
{
	struct ev_ctx ctx = { 0 };
	struct http_server srv = { 0 };
	int rc;

	/*
	 * Streams yield the CPU to the programs that decide (before the
	 * sandbox that prog_init enters).
	 */
	errno = 0;
	if (nice(10) == -1 && errno != 0)
		fprintf(stderr, "events.fcgi: nice: %s\n", strerror(errno));
	if (prog_init(&ctx.prog, "events.fcgi", &argc, argv) != SF_OK)
		return 1;
	(void)metrics_open(ctx.prog.conf, &ctx.metrics);
	if (unit_id(ctx.prog.conf, ctx.unit_id) != SF_OK)
		ctx.unit_id[0] = '\0';
	prog_server(&ctx.prog, &srv, routes, sizeof(routes) / sizeof(routes[0]),
	    &ctx);
	/* One process per stream, and spares that answer 503 at once. */
	if (srv.listen != NULL && srv.workers < ctx.prog.conf->sse_workers +
	    SPARE_WORKERS)
		srv.workers = (int)(ctx.prog.conf->sse_workers +
		    SPARE_WORKERS);
	srv.after = metrics_after;
	rc = http_serve(&srv);
	metrics_close(ctx.metrics);
	prog_fini(&ctx.prog);
	return rc == SF_OK ? 0 : 1;
}
