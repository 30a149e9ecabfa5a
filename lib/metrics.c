/*
 * metrics.c - Prometheus metrics summed over every process of the unit.
 *
 * One file, run_dir/metrics.shm, mapped MAP_SHARED by every process: a
 * fixed layout of 64-bit counters that each process bumps with relaxed
 * atomic adds (no lock, no syscall on the hot path).  The sum over
 * processes is therefore the counter itself; a scrape (sys.fcgi) reads
 * the segment and renders the text exposition format.  Histograms keep
 * per-bucket counts (not cumulative) and a sum in nanoseconds; the
 * _count is derived from the buckets at render time so that it always
 * equals the +Inf bucket.
 *
 * Every label comes from a fixed table (unknown values count as
 * "other"), except MCP tool ids, which get the first METRICS_TOOLS
 * distinct ids a slot each (claimed with a compare-and-swap) and
 * "_other" past that.
 *
 * The layout carries a magic and its size; a segment of another layout
 * (an older build) is re-initialised by the first opener, under lockf.
 */
#include <sys/mman.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "starfly.h"

#define METRICS_MAGIC	0x53464d4554523031ull	/* "SFMETR01" */
#define METRICS_TOOLS	256
#define METRICS_SSE	256
#define TOOL_ID_MAX	128

/* Histogram bounds in ns, and their "le" label; +Inf is implied. */
static const uint64_t bucket_ns[] = {
	10000, 25000, 50000, 100000, 250000, 500000,
	1000000, 2500000, 5000000, 10000000, 25000000, 50000000,
	100000000, 250000000, 500000000, 1000000000, 2500000000,
	5000000000, 10000000000
};
static const char *const bucket_le[] = {
	"1e-05", "2.5e-05", "5e-05", "0.0001", "0.00025", "0.0005",
	"0.001", "0.0025", "0.005", "0.01", "0.025", "0.05",
	"0.1", "0.25", "0.5", "1", "2.5", "5", "10"
};
#define NBUCKETS	(sizeof(bucket_ns) / sizeof(bucket_ns[0]))

struct hist {
	uint64_t	 b[NBUCKETS + 1];	/* last: > every bound */
	uint64_t	 sum_ns;
};

static const char *const progs[] = {
	"exchange", "jwks", "mcp", "signals", "sys", "events", "other"
};
#define NPROGS	(sizeof(progs) / sizeof(progs[0]))

/* Every route of API.md; anything else is "other". */
static const struct {
	const char	*path;
} routes[] = {
	{ "/v1/exchange/token" }, { "/v1/identity/agent" },
	{ "/v1/identity/jwks" }, { "/.well-known/oauth-authorization-server" },
	{ "/v1/mcp/tools" }, { "/v1/mcp/verify" },
	{ "/v1/signals/events" }, { "/v1/signals/status" },
	{ "/v1/federation/revocation-hash" },
	{ "/v1/federation/revocation-export" },
	{ "/v1/sys/health" }, { "/v1/sys/seal" }, { "/v1/sys/unseal" },
	{ "/metrics" }, { "/v1/events" },
};
#define NROUTES	(sizeof(routes) / sizeof(routes[0]) + 1)

static const int codes[] = {
	200, 201, 202, 204, 304, 400, 401, 403, 404, 405, 409, 413, 415,
	429, 500, 501, 503
};
#define NCODES_EXACT	(sizeof(codes) / sizeof(codes[0]))
#define NCODES		(NCODES_EXACT + 5)	/* then 1xx..5xx */

static const char *const xstatus[] = {
	"success", "denied", "revoked", "replay", "sealed",
	"invalid_request", "invalid_target", "invalid_scope",
	"invalid_client", "unsupported_grant_type",
	"temporarily_unavailable", "server_error", "other"
};
#define NXSTATUS	(sizeof(xstatus) / sizeof(xstatus[0]))

static const char *const sources[] = {
	"jwt", "access_token", "oidc", "spiffe-svid", "agent-mcp", "aws-sts",
	"gcp-wif", "azure-mi", "none", "other"
};
#define NSOURCES	(sizeof(sources) / sizeof(sources[0]))

static const char *const points[] = {
	"exchange", "mcp_tool_call", "signal", "other"
};
#define NPOINTS		(sizeof(points) / sizeof(points[0]))

static const char *const events[] = {
	"session-revoked", "credential-change", "device-compliance-change",
	"assurance-level-change", "token-claims-change", "account-disabled",
	"account-enabled", "account-purged", "credential-compromise",
	"identifier-changed", "identifier-recycled", "other"
};
#define NEVENTS		(sizeof(events) / sizeof(events[0]))

static const char *const results[] = {
	"accepted", "duplicate", "rejected", "error", "other"
};
#define NRESULTS	(sizeof(results) / sizeof(results[0]))

static const char *const atypes[] = {
	"exchange", "agent", "tool", "verify", "signal", "revocation",
	"seal", "key", "other"
};
#define NATYPES		(sizeof(atypes) / sizeof(atypes[0]))

struct tool_slot {
	uint64_t	 hash;		/* 0: free; claimed by CAS */
	uint32_t	 ready;		/* name written (release) */
	char		 name[TOOL_ID_MAX + 1];
	uint64_t	 n[2];		/* deny, allow */
};

struct metrics_shm {
	uint64_t	 magic;
	uint64_t	 size;
	int64_t		 created;
	uint64_t	 requests[NPROGS][NROUTES][NCODES];
	struct hist	 request_dur[NPROGS];
	uint64_t	 exchanges[NXSTATUS][NSOURCES];
	struct hist	 exchange_dur;
	struct hist	 policy_dur[NPOINTS];
	struct tool_slot tools[METRICS_TOOLS];
	uint64_t	 tools_other[2];
	struct hist	 verify_dur;
	uint64_t	 signals[NEVENTS][NRESULTS];
	uint64_t	 revocations;		/* gauge */
	struct hist	 store_dur;
	uint64_t	 store_failures;
	uint64_t	 audit_records[NATYPES];
	uint64_t	 audit_failures;
	struct hist	 audit_dur;
	int32_t		 sse_pid[METRICS_SSE];	/* 0: free */
	uint64_t	 sse_refused;
};

struct metrics {
	struct metrics_shm	*shm;
	int			 fd;
};

static struct metrics *metrics_first;

#define ADD(p, v)	__atomic_fetch_add((p), (v), __ATOMIC_RELAXED)
#define LOAD(p)		__atomic_load_n((p), __ATOMIC_RELAXED)

static void
hist_add(struct hist *h, uint64_t ns)
{
	size_t i;

	for (i = 0; i < NBUCKETS; i++)
		if (ns <= bucket_ns[i])
			break;
	ADD(&h->b[i], 1);
	ADD(&h->sum_ns, ns);
}

/* Index of s in tab[0..n-1] (the last entry is "other"). */
static size_t
lookup(const char *const *tab, size_t n, const char *s)
{
	size_t i;

	if (s != NULL)
		for (i = 0; i + 1 < n; i++)
			if (strcmp(tab[i], s) == 0)
				return i;
	return n - 1;
}

int
metrics_open(const struct sf_conf *c, struct metrics **out)
{
	struct metrics *m = NULL;
	struct stat sb;
	char *path = NULL;
	void *p = MAP_FAILED;
	int fd = -1, rc = SF_ESYS;
	bool locked = false;

	*out = NULL;
	if (c == NULL || c->run_dir == NULL)
		return SF_EINVAL;
	if ((m = calloc(1, sizeof(*m))) == NULL ||
	    sf_asprintf(&path, "%s/metrics.shm", c->run_dir) != SF_OK) {
		rc = SF_ENOMEM;
		goto out;
	}
	if ((fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0660)) == -1)
		goto out;
	if (lockf(fd, F_LOCK, 0) == -1)
		goto out;
	locked = true;
	if (fstat(fd, &sb) == -1)
		goto out;
	if ((size_t)sb.st_size != sizeof(struct metrics_shm) &&
	    ftruncate(fd, (off_t)sizeof(struct metrics_shm)) == -1)
		goto out;
	p = mmap(NULL, sizeof(struct metrics_shm), PROT_READ | PROT_WRITE,
	    MAP_SHARED, fd, 0);
	if (p == MAP_FAILED)
		goto out;
	m->shm = p;
	if (m->shm->magic != METRICS_MAGIC ||
	    m->shm->size != sizeof(struct metrics_shm)) {
		memset(m->shm, 0, sizeof(*m->shm));
		m->shm->size = sizeof(struct metrics_shm);
		m->shm->created = sf_now();
		__atomic_store_n(&m->shm->magic, METRICS_MAGIC,
		    __ATOMIC_RELEASE);
	}
	rc = SF_OK;
out:
	if (locked) {
		(void)lseek(fd, 0, SEEK_SET);
		(void)lockf(fd, F_ULOCK, 0);
	}
	if (rc != SF_OK) {
		log_err("metrics %s: %s", path ? path : "(no path)",
		    rc == SF_ESYS ? strerror(errno) : sf_strerror(rc));
		if (p != MAP_FAILED)
			munmap(p, sizeof(struct metrics_shm));
		if (fd != -1)
			close(fd);
		free(m);
		free(path);
		return rc;
	}
	free(path);
	m->fd = fd;
	if (metrics_first == NULL)
		metrics_first = m;
	*out = m;
	return SF_OK;
}

void
metrics_close(struct metrics *m)
{
	if (m == NULL)
		return;
	if (metrics_first == m)
		metrics_first = NULL;
	munmap(m->shm, sizeof(struct metrics_shm));
	close(m->fd);
	free(m);
}

struct metrics *
metrics_default(void)
{
	return metrics_first;
}

static size_t
route_index(const char *route)
{
	size_t i;

	if (route != NULL)
		for (i = 0; i + 1 < NROUTES; i++)
			if (strcmp(routes[i].path, route) == 0)
				return i;
	return NROUTES - 1;
}

static size_t
code_index(int status)
{
	size_t i;

	for (i = 0; i < NCODES_EXACT; i++)
		if (codes[i] == status)
			return i;
	if (status >= 100 && status <= 599)
		return NCODES_EXACT + (size_t)(status / 100 - 1);
	return NCODES_EXACT + 4;	/* nonsense counts as 5xx */
}

/* "exchange.fcgi" and "exchange" both name the exchange program. */
static size_t
prog_index(const char *prog)
{
	size_t i, n;

	if (prog == NULL)
		return NPROGS - 1;
	n = strcspn(prog, ".");
	for (i = 0; i + 1 < NPROGS; i++)
		if (strlen(progs[i]) == n && strncmp(progs[i], prog, n) == 0)
			return i;
	return NPROGS - 1;
}

void
metrics_request(struct metrics *m, const char *prog, const char *route,
    int status, uint64_t ns)
{
	size_t p;

	if (m == NULL)
		return;
	p = prog_index(prog);
	ADD(&m->shm->requests[p][route_index(route)][code_index(status)], 1);
	hist_add(&m->shm->request_dur[p], ns);
}

void
metrics_after(struct http_req *req, void *arg)
{
	struct metrics *m = metrics_first;

	(void)arg;
	if (m == NULL || req == NULL)
		return;
	/* The program is this process (argv[0]'s last component). */
	metrics_request(m, program_invocation_short_name, http_path(req),
	    http_status(req), sf_mono_ns() - http_start_ns(req));
}

static size_t
source_index(const char *s)
{
	const char *p;

	if (s == NULL || *s == '\0')
		return NSOURCES - 2;	/* none */
	if ((p = strrchr(s, ':')) != NULL)
		s = p + 1;
	return lookup(sources, NSOURCES, s);
}

void
metrics_exchange(struct metrics *m, const char *status,
    const char *source_type, uint64_t ns)
{
	if (m == NULL)
		return;
	ADD(&m->shm->exchanges[lookup(xstatus, NXSTATUS, status)]
	    [source_index(source_type)], 1);
	hist_add(&m->shm->exchange_dur, ns);
}

void
metrics_policy(struct metrics *m, const char *point, uint64_t ns)
{
	if (m == NULL)
		return;
	hist_add(&m->shm->policy_dur[lookup(points, NPOINTS, point)], ns);
}

/* FNV-1a, never 0 (0 marks a free slot). */
static uint64_t
tool_hash(const char *s)
{
	uint64_t h = 0xcbf29ce484222325ull;

	for (; *s != '\0'; s++) {
		h ^= (unsigned char)*s;
		h *= 0x100000001b3ull;
	}
	return h == 0 ? 1 : h;
}

/* The slot counting tool_id, claiming a free one; NULL: none left. */
static struct tool_slot *
tool_slot(struct metrics_shm *s, const char *tool_id)
{
	struct tool_slot *t;
	uint64_t h, cur;
	size_t i, start;

	if (tool_id == NULL || *tool_id == '\0' ||
	    strlen(tool_id) > TOOL_ID_MAX)
		return NULL;
	h = tool_hash(tool_id);
	start = (size_t)(h % METRICS_TOOLS);
	for (i = 0; i < METRICS_TOOLS; i++) {
		t = &s->tools[(start + i) % METRICS_TOOLS];
		cur = __atomic_load_n(&t->hash, __ATOMIC_ACQUIRE);
		if (cur == 0) {
			if (__atomic_compare_exchange_n(&t->hash, &cur, h,
			    false, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)) {
				sf_strlcpy(t->name, tool_id, sizeof(t->name));
				__atomic_store_n(&t->ready, 1,
				    __ATOMIC_RELEASE);
				return t;
			}
		}
		if (cur != h)
			continue;
		/* Same hash: the same id unless its name says otherwise. */
		if (!__atomic_load_n(&t->ready, __ATOMIC_ACQUIRE) ||
		    strcmp(t->name, tool_id) == 0)
			return t;
	}
	return NULL;
}

void
metrics_mcp_verify(struct metrics *m, const char *tool_id, bool allowed,
    uint64_t ns)
{
	struct tool_slot *t;

	if (m == NULL)
		return;
	if ((t = tool_slot(m->shm, tool_id)) != NULL)
		ADD(&t->n[allowed], 1);
	else
		ADD(&m->shm->tools_other[allowed], 1);
	hist_add(&m->shm->verify_dur, ns);
}

void
metrics_signal(struct metrics *m, const char *event_type, const char *result)
{
	const char *p;

	if (m == NULL)
		return;
	if (event_type != NULL && (p = strrchr(event_type, '/')) != NULL)
		event_type = p + 1;
	ADD(&m->shm->signals[lookup(events, NEVENTS, event_type)]
	    [lookup(results, NRESULTS, result)], 1);
}

void
metrics_revocations(struct metrics *m, uint64_t count)
{
	if (m == NULL)
		return;
	__atomic_store_n(&m->shm->revocations, count, __ATOMIC_RELAXED);
}

void
metrics_store_write(struct metrics *m, bool ok, uint64_t ns)
{
	if (m == NULL)
		return;
	if (!ok)
		ADD(&m->shm->store_failures, 1);
	hist_add(&m->shm->store_dur, ns);
}

void
metrics_audit(struct metrics *m, const char *type, bool ok, uint64_t ns)
{
	if (m == NULL)
		return;
	if (ok)
		ADD(&m->shm->audit_records[lookup(atypes, NATYPES, type)], 1);
	else
		ADD(&m->shm->audit_failures, 1);
	hist_add(&m->shm->audit_dur, ns);
}

static bool
pid_alive(int32_t pid)
{
	return pid > 0 && (kill((pid_t)pid, 0) == 0 || errno != ESRCH);
}

int
metrics_sse_claim(struct metrics *m, int max)
{
	int32_t cur, me = (int32_t)getpid();
	int i;

	if (m == NULL || max <= 0)
		return SF_EINVAL;
	if (max > METRICS_SSE)
		max = METRICS_SSE;
	for (i = 0; i < max; i++) {
		cur = __atomic_load_n(&m->shm->sse_pid[i], __ATOMIC_ACQUIRE);
		if (cur != 0 && pid_alive(cur))
			continue;
		/* Free, or held by a process that died holding it. */
		if (__atomic_compare_exchange_n(&m->shm->sse_pid[i], &cur, me,
		    false, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
			return i;
	}
	ADD(&m->shm->sse_refused, 1);
	return SF_EBUSY;
}

void
metrics_sse_release(struct metrics *m, int slot)
{
	int32_t me = (int32_t)getpid();

	if (m == NULL || slot < 0 || slot >= METRICS_SSE)
		return;
	(void)__atomic_compare_exchange_n(&m->shm->sse_pid[slot], &me, 0,
	    false, __ATOMIC_ACQ_REL, __ATOMIC_RELAXED);
}

/*
 * Rendering.
 */
struct buf {
	char	*p;
	size_t	 len, cap;
	bool	 failed;
};

static void
bprintf(struct buf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
bprintf(struct buf *b, const char *fmt, ...)
{
	va_list ap;
	size_t want;
	char *np;
	int n;

	if (b->failed)
		return;
	for (;;) {
		va_start(ap, fmt);
		n = vsnprintf(b->p + b->len, b->cap - b->len, fmt, ap);
		va_end(ap);
		if (n < 0) {
			b->failed = true;
			return;
		}
		if ((size_t)n < b->cap - b->len) {
			b->len += (size_t)n;
			return;
		}
		want = b->cap * 2 + (size_t)n;
		if ((np = realloc(b->p, want)) == NULL) {
			b->failed = true;
			return;
		}
		b->p = np;
		b->cap = want;
	}
}

static void
family(struct buf *b, const char *name, const char *type, const char *help)
{
	bprintf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* A label value with \, " and newline escaped (exposition format). */
static void
blabel(struct buf *b, const char *v)
{
	for (; v != NULL && *v != '\0'; v++) {
		if (*v == '\\' || *v == '"')
			bprintf(b, "\\%c", *v);
		else if (*v == '\n')
			bprintf(b, "\\n");
		else
			bprintf(b, "%c", *v);
	}
}

/* Series of one histogram; labels is "" or 'name="v",'. */
static void
hist_out(struct buf *b, const char *name, const char *labels,
    const struct hist *h)
{
	uint64_t cum = 0, sum;
	size_t i, n = strlen(labels);

	for (i = 0; i <= NBUCKETS; i++) {
		cum += LOAD(&h->b[i]);
		bprintf(b, "%s_bucket{%sle=\"%s\"} %" PRIu64 "\n", name,
		    labels, i < NBUCKETS ? bucket_le[i] : "+Inf", cum);
	}
	sum = LOAD(&h->sum_ns);
	if (n > 0)
		bprintf(b, "%s_sum{%.*s} %" PRIu64 ".%09" PRIu64 "\n", name,
		    (int)(n - 1), labels, sum / 1000000000u,
		    sum % 1000000000u);
	else
		bprintf(b, "%s_sum %" PRIu64 ".%09" PRIu64 "\n", name,
		    sum / 1000000000u, sum % 1000000000u);
	if (n > 0)
		bprintf(b, "%s_count{%.*s} %" PRIu64 "\n", name, (int)(n - 1),
		    labels, cum);
	else
		bprintf(b, "%s_count %" PRIu64 "\n", name, cum);
}

static bool
hist_used(const struct hist *h)
{
	size_t i;

	for (i = 0; i <= NBUCKETS; i++)
		if (LOAD(&h->b[i]) != 0)
			return true;
	return false;
}

static const char *
code_name(size_t i, char out[8])
{
	if (i < NCODES_EXACT)
		snprintf(out, 8, "%d", codes[i]);
	else
		snprintf(out, 8, "%zuxx", i - NCODES_EXACT + 1);
	return out;
}

static void
render_http(struct buf *b, const struct metrics_shm *s)
{
	char code[8], lab[64];
	size_t p, r, c;
	uint64_t v;

	family(b, "starfly_http_requests_total", "counter",
	    "HTTP requests answered, by program, route and status code.");
	for (p = 0; p < NPROGS; p++)
		for (r = 0; r < NROUTES; r++)
			for (c = 0; c < NCODES; c++) {
				if ((v = LOAD(&s->requests[p][r][c])) == 0)
					continue;
				bprintf(b, "starfly_http_requests_total{"
				    "program=\"%s\",route=\"%s\",code=\"%s\"} "
				    "%" PRIu64 "\n", progs[p], r + 1 < NROUTES ?
				    routes[r].path : "other", code_name(c, code),
				    v);
			}
	family(b, "starfly_http_request_duration_seconds", "histogram",
	    "Time from request start to the end of the response, by "
	    "program.");
	for (p = 0; p < NPROGS; p++) {
		if (!hist_used(&s->request_dur[p]))
			continue;
		snprintf(lab, sizeof(lab), "program=\"%s\",", progs[p]);
		hist_out(b, "starfly_http_request_duration_seconds", lab,
		    &s->request_dur[p]);
	}
}

static void
render_decisions(struct buf *b, const struct metrics_shm *s)
{
	char lab[64];
	size_t i, j;
	uint64_t v;

	family(b, "starfly_exchange_requests_total", "counter",
	    "Token exchanges by outcome and subject token type.");
	for (i = 0; i < NXSTATUS; i++)
		for (j = 0; j < NSOURCES; j++)
			if ((v = LOAD(&s->exchanges[i][j])) != 0)
				bprintf(b, "starfly_exchange_requests_total{"
				    "status=\"%s\",source_type=\"%s\"} %" PRIu64
				    "\n", xstatus[i], sources[j], v);
	family(b, "starfly_exchange_duration_seconds", "histogram",
	    "Token exchange handling time.");
	hist_out(b, "starfly_exchange_duration_seconds", "",
	    &s->exchange_dur);
	family(b, "starfly_policy_evaluation_duration_seconds", "histogram",
	    "Rego policy evaluation time, by decision point.");
	for (i = 0; i < NPOINTS; i++) {
		if (!hist_used(&s->policy_dur[i]) && i != 0)
			continue;
		snprintf(lab, sizeof(lab), "point=\"%s\",", points[i]);
		hist_out(b, "starfly_policy_evaluation_duration_seconds", lab,
		    &s->policy_dur[i]);
	}
	family(b, "starfly_mcp_tool_calls_total", "counter",
	    "MCP verify decisions by tool and decision.");
	for (i = 0; i < METRICS_TOOLS; i++) {
		const struct tool_slot *t = &s->tools[i];

		if (!__atomic_load_n(&t->ready, __ATOMIC_ACQUIRE))
			continue;
		for (j = 0; j < 2; j++) {
			if ((v = LOAD(&t->n[j])) == 0)
				continue;
			bprintf(b, "starfly_mcp_tool_calls_total{tool_id=\"");
			blabel(b, t->name);
			bprintf(b, "\",decision=\"%s\"} %" PRIu64 "\n",
			    j ? "allow" : "deny", v);
		}
	}
	for (j = 0; j < 2; j++)
		if ((v = LOAD(&s->tools_other[j])) != 0)
			bprintf(b, "starfly_mcp_tool_calls_total{tool_id="
			    "\"_other\",decision=\"%s\"} %" PRIu64 "\n",
			    j ? "allow" : "deny", v);
	family(b, "starfly_mcp_verify_duration_seconds", "histogram",
	    "MCP verify handling time.");
	hist_out(b, "starfly_mcp_verify_duration_seconds", "",
	    &s->verify_dur);
	family(b, "starfly_signals_received_total", "counter",
	    "Security event tokens received, by event type and result.");
	for (i = 0; i < NEVENTS; i++)
		for (j = 0; j < NRESULTS; j++)
			if ((v = LOAD(&s->signals[i][j])) != 0)
				bprintf(b, "starfly_signals_received_total{"
				    "event_type=\"%s\",result=\"%s\"} %" PRIu64
				    "\n", events[i], results[j], v);
}

static void
render_state(struct buf *b, const struct metrics_shm *s)
{
	size_t i;
	uint64_t v;
	int n = 0;

	family(b, "starfly_revocation_index_size", "gauge",
	    "Entries in the revocation index (latest load of any process).");
	bprintf(b, "starfly_revocation_index_size %" PRIu64 "\n",
	    LOAD(&s->revocations));
	family(b, "starfly_store_write_duration_seconds", "histogram",
	    "Store write time, including the sync.");
	hist_out(b, "starfly_store_write_duration_seconds", "",
	    &s->store_dur);
	family(b, "starfly_store_write_failures_total", "counter",
	    "Store writes that failed.");
	bprintf(b, "starfly_store_write_failures_total %" PRIu64 "\n",
	    LOAD(&s->store_failures));
	family(b, "starfly_audit_records_total", "counter",
	    "Audit records appended, by type.");
	for (i = 0; i < NATYPES; i++)
		if ((v = LOAD(&s->audit_records[i])) != 0)
			bprintf(b, "starfly_audit_records_total{type=\"%s\"} %"
			    PRIu64 "\n", atypes[i], v);
	family(b, "starfly_audit_failures_total", "counter",
	    "Audit records that could not be appended.");
	bprintf(b, "starfly_audit_failures_total %" PRIu64 "\n",
	    LOAD(&s->audit_failures));
	family(b, "starfly_audit_append_duration_seconds", "histogram",
	    "Time one audit append adds to a request.");
	hist_out(b, "starfly_audit_append_duration_seconds", "",
	    &s->audit_dur);
	for (i = 0; i < METRICS_SSE; i++)
		if (pid_alive(__atomic_load_n(&s->sse_pid[i],
		    __ATOMIC_ACQUIRE)))
			n++;
	family(b, "starfly_sse_clients", "gauge",
	    "Open server-sent event streams.");
	bprintf(b, "starfly_sse_clients %d\n", n);
	family(b, "starfly_sse_refused_total", "counter",
	    "Event streams refused because every worker was busy.");
	bprintf(b, "starfly_sse_refused_total %" PRIu64 "\n",
	    LOAD(&s->sse_refused));
}

int
metrics_render(struct metrics *m, const struct metrics_info *info,
    char **out, size_t *len)
{
	struct buf b = { 0 };

	*out = NULL;
	*len = 0;
	if (m == NULL)
		return SF_EINVAL;
	if ((b.p = malloc(b.cap = 16384)) == NULL)
		return SF_ENOMEM;
	b.p[0] = '\0';
	family(&b, "starfly_unit_info", "gauge",
	    "Constant 1, labelled with the unit's version, id and mode.");
	bprintf(&b, "starfly_unit_info{version=\"%s\",unit_id=\"",
	    SF_VERSION);
	blabel(&b, info != NULL && info->unit_id != NULL ? info->unit_id : "");
	bprintf(&b, "\",mode=\"");
	blabel(&b, info != NULL && info->mode != NULL ? info->mode : "");
	bprintf(&b, "\"} 1\n");
	family(&b, "starfly_metrics_segment_created_seconds", "gauge",
	    "When the shared metrics segment was initialised (Unix time); "
	    "counters count from then.");
	bprintf(&b, "starfly_metrics_segment_created_seconds %" PRId64 "\n",
	    m->shm->created);
	if (info != NULL && info->sealed >= 0) {
		family(&b, "starfly_sealed", "gauge",
		    "1 while the unit is sealed (no process can sign).");
		bprintf(&b, "starfly_sealed %d\n", info->sealed);
	}
	if (info != NULL && info->key_age >= 0) {
		family(&b, "starfly_signing_key_age_seconds", "gauge",
		    "Age of the active signing key.");
		bprintf(&b, "starfly_signing_key_age_seconds %" PRId64 "\n",
		    info->key_age);
	}
	if (info != NULL && info->keys_published >= 0) {
		family(&b, "starfly_signing_keys_published", "gauge",
		    "Keys in the JWKS (active and retired-unexpired).");
		bprintf(&b, "starfly_signing_keys_published %" PRId64 "\n",
		    info->keys_published);
	}
	render_http(&b, m->shm);
	render_decisions(&b, m->shm);
	render_state(&b, m->shm);
	if (b.failed) {
		free(b.p);
		return SF_ENOMEM;
	}
	*out = b.p;
	*len = b.len;
	return SF_OK;
}
