/*
 * policy.c - the public policy API (starfly/policy.h): loading, queries,
 * Starfly's decision contract, `opa test`-style tests, bundle watching.
 *
 * Decision contract for point P (exchange, mcp_tool_call, signal):
 *   data.starfly.P.allow   true allows; false, any other value or
 *                          undefined denies ("no policy found" when not
 *                          a boolean)
 *   data.starfly.P.reason  a string replaces the reason
 *   data.starfly.P.claims  an object of obligations
 * The three queries run in one evaluation session (shared rule cache,
 * one input conversion).  Any evaluation error is no decision.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "policy/rego.h"

#define EVAL_KEEP	(1024 * 1024)	/* arena bytes kept between runs */

struct dq {
	char		 point[64];
	struct query	*q[3];		/* allow, reason, claims */
};

struct policy {
	struct policy_c	 pc;
	struct arena	 ea;		/* evaluation memory */
	struct dq	*dqs;
	size_t		 ndqs;
	struct ev_opts	 opts;
};

void
policy_free(struct policy *p)
{
	if (p == NULL)
		return;
	arena_destroy(&p->ea);
	arena_destroy(&p->pc.a);
	free(p->dqs);
	free(p);
}

static int
finish_load(struct policy *p, int rc, char *err, struct policy **out,
    char **errmsg)
{
	if (rc == SF_OK && p->pc.nmods == 0) {
		err = sf_strdup("no policy (.rego) files found");
		rc = SF_EPOLICY;
	}
	if (rc == SF_OK)
		rc = rego_compile(&p->pc, &err);
	if (rc != SF_OK) {
		if (errmsg != NULL)
			*errmsg = err != NULL ? err : sf_strdup(sf_strerror(rc));
		else
			free(err);
		policy_free(p);
		return rc == SF_ENOMEM ? rc : SF_EPOLICY;
	}
	if (p->pc.data == NULL)
		p->pc.data = &rv_empty_obj_v;
	*out = p;
	return SF_OK;
}

int
policy_load_paths(const char *const *paths, size_t npaths,
    const char *data_file, struct policy **out, char **errmsg)
{
	struct policy	*p;
	char		*err = NULL;
	size_t		 i;
	int		 rc = SF_OK;

	*out = NULL;
	if (errmsg != NULL)
		*errmsg = NULL;
	if ((p = calloc(1, sizeof(*p))) == NULL)
		return SF_ENOMEM;
	p->ea.limit = 0;
	for (i = 0; i < npaths && rc == SF_OK; i++)
		rc = bundle_add_path(&p->pc, paths[i], &err);
	if (rc == SF_OK && data_file != NULL)
		rc = bundle_add_path(&p->pc, data_file, &err);
	return finish_load(p, rc, err, out, errmsg);
}

int
policy_load(const char *dir, struct policy **out, char **errmsg)
{
	return policy_load_paths(&dir, 1, NULL, out, errmsg);
}

/*
 * Queries.
 */
struct rowsk {
	json_t			*rows;
	const struct query	*q;
};

static int
rows_add(void *ctx, struct rv **vals, uint32_t n)
{
	struct rowsk	*rk = ctx;
	json_t		*row, *v;
	uint32_t	 i;

	if ((row = json_object()) == NULL)
		return SF_ENOMEM;
	for (i = 0; i < n; i++) {
		if (vals[i] == NULL)
			continue;
		if ((v = rv_to_json(vals[i])) == NULL ||
		    json_object_set_new(row, rk->q->slotnames[rk->q->outs[i]],
		    v) != 0) {
			json_decref(row);
			return SF_ENOMEM;
		}
	}
	if (json_array_append_new(rk->rows, row) != 0)
		return SF_ENOMEM;
	return 0;
}

int
policy_query(struct policy *p, const char *query, const json_t *input,
    json_t **rows, char **errmsg)
{
	struct query	*q;
	struct rv	*in = NULL;
	struct rowsk	 rk;
	struct ev_result res;
	char		*err = NULL;
	int		 rc;

	*rows = NULL;
	if (errmsg != NULL)
		*errmsg = NULL;
	arena_reset(&p->ea, EVAL_KEEP);
	rc = rego_compile_query(&p->pc, &p->ea, query, strlen(query), &q,
	    &err);
	if (rc != SF_OK) {
		if (errmsg != NULL)
			*errmsg = err;
		else
			free(err);
		return SF_EPOLICY;
	}
	if (input != NULL && (in = rv_from_json_borrow(&p->ea, input)) ==
	    NULL)
		return SF_ENOMEM;
	if ((rk.rows = json_array()) == NULL)
		return SF_ENOMEM;
	rk.q = q;
	rc = rego_eval(&p->pc, &p->ea, q, in, &p->opts, rows_add, &rk, &res);
	arena_reset(&p->ea, EVAL_KEEP);
	if (rc != SF_OK) {
		json_decref(rk.rows);
		if (errmsg != NULL)
			*errmsg = sf_strdup(res.msg);
		return rc;
	}
	*rows = rk.rows;
	return SF_OK;
}

/*
 * Decisions.
 */
static bool
valid_point(const char *s)
{
	size_t	 n = strlen(s), i;

	if (n == 0 || n >= sizeof(((struct dq *)0)->point))
		return false;
	for (i = 0; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' &&
		    s[i] <= 'Z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '_'))
			return false;
	return true;
}

static struct dq *
decision_queries(struct policy *p, const char *point)
{
	static const char *const names[3] = { "allow", "reason", "claims" };
	struct dq	*d, *nd;
	char		 src[160], *err = NULL;
	size_t		 i;

	for (i = 0; i < p->ndqs; i++)
		if (strcmp(p->dqs[i].point, point) == 0)
			return &p->dqs[i];
	if ((nd = realloc(p->dqs, (p->ndqs + 1) * sizeof(*nd))) == NULL)
		return NULL;
	p->dqs = nd;
	d = &p->dqs[p->ndqs];
	memset(d, 0, sizeof(*d));
	snprintf(d->point, sizeof(d->point), "%s", point);
	for (i = 0; i < 3; i++) {
		snprintf(src, sizeof(src), "x = data.starfly.%s.%s", point,
		    names[i]);
		/* compiled into policy memory: reused by every decision */
		if (rego_compile_query(&p->pc, &p->pc.a, src, strlen(src),
		    &d->q[i], &err) != SF_OK) {
			free(err);
			return NULL;
		}
	}
	p->ndqs++;
	return d;
}

static int
first_row(void *ctx, struct rv **vals, uint32_t n)
{
	if (n > 0)
		*(struct rv **)ctx = vals[0];
	return 1;	/* one row is enough */
}

void
policy_decision_clear(struct policy_decision *d)
{
	if (d == NULL)
		return;
	free(d->reason);
	json_decref(d->claims);
	memset(d, 0, sizeof(*d));
}

int
policy_decide(struct policy *p, const char *point, const json_t *input,
    struct policy_decision *out)
{
	struct dq	*d;
	struct ev	*ev;
	struct rv	*in = NULL, *v[3];
	struct ev_result res;
	int		 rc = SF_OK, i;
	const char	*reason = "no policy found";

	memset(out, 0, sizeof(*out));
	if (p == NULL || point == NULL || !valid_point(point))
		return SF_EINVAL;
	if ((d = decision_queries(p, point)) == NULL)
		return SF_ENOMEM;
	arena_reset(&p->ea, EVAL_KEEP);
	if (input != NULL && (in = rv_from_json_borrow(&p->ea, input)) ==
	    NULL) {
		rc = p->ea.over ? SF_ELIMIT : SF_ENOMEM;
		goto out;
	}
	if ((ev = rego_ev_new(&p->pc, &p->ea, in, &p->opts)) == NULL) {
		rc = p->ea.over ? SF_ELIMIT : SF_ENOMEM;
		goto out;
	}
	for (i = 0; i < 3; i++) {
		v[i] = NULL;
		if ((rc = rego_ev_run(ev, d->q[i], first_row, &v[i], &res)) !=
		    SF_OK) {
			log_warn("policy: %s: %s", point, res.msg);
			goto out;
		}
	}
	if (v[0] != NULL && v[0]->t == RV_BOOL) {
		out->allow = v[0]->u.b;
		reason = NULL;
	}
	if (v[1] != NULL && v[1]->t == RV_STR)
		reason = v[1]->u.s;
	if (reason != NULL && (out->reason = sf_strdup(reason)) == NULL) {
		rc = SF_ENOMEM;
		goto out;
	}
	if (v[2] != NULL && v[2]->t == RV_OBJ &&
	    (out->claims = rv_to_json(v[2])) == NULL) {
		rc = SF_ENOMEM;
		goto out;
	}
out:
	arena_reset(&p->ea, EVAL_KEEP);
	if (rc != SF_OK) {
		policy_decision_clear(out);
		return rc == SF_ENOMEM || rc == SF_ELIMIT ? rc : SF_EPOLICY;
	}
	return SF_OK;
}

/*
 * Tests: every rule named test_* (not functions), each in its own
 * evaluation, like `opa test`.
 */
struct tstate {
	struct policy	*p;
	FILE		*fp;
	int		 verbose;
	int		 pass, fail, errors;
};

static void
run_test(struct tstate *ts, const struct node *n)
{
	struct sbuf	 b;
	struct query	*q;
	struct rv	*v = NULL;
	struct ev_result res;
	const struct node *k;
	const struct node *chain[64];
	char		*err = NULL;
	size_t		 depth = 0, i;
	uint64_t	 t0 = sf_mono_ns();
	int		 rc;

	for (k = n; k != NULL && k->parent != NULL && depth < 64;
	    k = k->parent)
		chain[depth++] = k;
	arena_reset(&ts->p->ea, EVAL_KEEP);
	sbuf_init(&b, &ts->p->ea);
	sbuf_puts(&b, "x = data");
	for (i = depth; i > 0; i--) {
		sbuf_putc(&b, '[');
		sbuf_put_jstr(&b, chain[i - 1]->name, chain[i - 1]->namelen);
		sbuf_putc(&b, ']');
	}
	if (b.oom) {
		ts->errors++;
		fprintf(ts->fp, "ERROR %s: out of memory\n", n->path);
		return;
	}
	rc = rego_compile_query(&ts->p->pc, &ts->p->ea, b.s, b.len, &q, &err);
	if (rc == SF_OK)
		rc = rego_eval(&ts->p->pc, &ts->p->ea, q, NULL, &ts->p->opts,
		    first_row, &v, &res);
	else {
		snprintf(res.msg, sizeof(res.msg), "%s", err != NULL ? err :
		    "query does not compile");
		free(err);
	}
	if (rc != SF_OK) {
		ts->errors++;
		fprintf(ts->fp, "ERROR %s: %s\n", n->path, res.msg);
	} else if (rv_truthy(v)) {
		ts->pass++;
		if (ts->verbose)
			fprintf(ts->fp, "PASS %s (%.3f ms)\n", n->path,
			    (double)(sf_mono_ns() - t0) / 1e6);
		else
			fprintf(ts->fp, "PASS %s\n", n->path);
	} else {
		ts->fail++;
		fprintf(ts->fp, "FAIL %s: %s\n", n->path, v == NULL ?
		    "undefined" : "false");
	}
	arena_reset(&ts->p->ea, EVAL_KEEP);
}

static void
find_tests(struct tstate *ts, const struct node *n)
{
	uint32_t	 i;

	if (n->kind == NK_COMPLETE && n->namelen > 5 &&
	    strncmp(n->name, "test_", 5) == 0)
		run_test(ts, n);
	for (i = 0; i < n->nkids; i++)
		find_tests(ts, n->kids[i]);
}

int
policy_run_tests(struct policy *p, void *fpv, int verbose)
{
	struct tstate	 ts;
	FILE		*fp = fpv != NULL ? fpv : stdout;

	memset(&ts, 0, sizeof(ts));
	ts.p = p;
	ts.fp = fp;
	ts.verbose = verbose;
	find_tests(&ts, p->pc.root);
	fprintf(fp, "%d passed, %d failed\n", ts.pass, ts.fail + ts.errors);
	fflush(fp);
	return ts.fail + ts.errors == 0 ? SF_OK : SF_EPOLICY;
}

/*
 * Watching a bundle directory.
 */
#define WATCH_INTERVAL_NS	(1000ULL * 1000 * 1000)

struct policy_watch {
	char		*dir;
	struct policy	*cur;
	uint64_t	 sig, bad_sig;
	uint64_t	 last_ns;
};

int
policy_watch_open(const char *dir, struct policy_watch **out, char **errmsg)
{
	struct policy_watch	*w;
	int			 rc;

	*out = NULL;
	if (errmsg != NULL)
		*errmsg = NULL;
	if ((w = calloc(1, sizeof(*w))) == NULL ||
	    (w->dir = sf_strdup(dir)) == NULL) {
		free(w);
		return SF_ENOMEM;
	}
	w->sig = bundle_signature(dir);
	if ((rc = policy_load(dir, &w->cur, errmsg)) != SF_OK) {
		policy_watch_free(w);
		return rc;
	}
	w->last_ns = sf_mono_ns();
	*out = w;
	return SF_OK;
}

struct policy *
policy_watch_current(struct policy_watch *w)
{
	return w != NULL ? w->cur : NULL;
}

int
policy_watch_reload(struct policy_watch *w)
{
	if (w == NULL)
		return SF_EINVAL;
	w->last_ns = 0;
	w->bad_sig = 0;
	return policy_watch_refresh(w);
}

int
policy_watch_refresh(struct policy_watch *w)
{
	struct policy	*np;
	uint64_t	 now = sf_mono_ns(), sig;
	char		*err = NULL;
	int		 rc;

	if (w == NULL)
		return SF_EINVAL;
	if (now - w->last_ns < WATCH_INTERVAL_NS)
		return SF_OK;
	w->last_ns = now;
	sig = bundle_signature(w->dir);
	if (sig == w->sig || sig == w->bad_sig)
		return SF_OK;
	if ((rc = policy_load(w->dir, &np, &err)) != SF_OK) {
		log_err("policy: bundle %s rejected, keeping the previous "
		    "one: %s", w->dir, err != NULL ? err : sf_strerror(rc));
		free(err);
		w->bad_sig = sig;
		return rc;
	}
	policy_free(w->cur);
	w->cur = np;
	w->sig = sig;
	w->bad_sig = 0;
	log_info("policy: bundle %s reloaded", w->dir);
	return SF_OK;
}

void
policy_watch_free(struct policy_watch *w)
{
	if (w == NULL)
		return;
	policy_free(w->cur);
	free(w->dir);
	free(w);
}
