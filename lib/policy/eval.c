/*
 * eval.c - top-down evaluation of compiled Rego.
 *
 * Continuation passing: evaluating an expression or a term calls a
 * continuation once per solution; variables are bound before a
 * continuation runs and unbound when it returns, so backtracking needs no
 * trail.  A continuation returns 0 to ask for more solutions, EV_STOP to
 * end the enumeration (not, every, early exit) or a negative error.
 *
 * Documents under data are computed on demand: base data from the
 * bundle, virtual documents from rules (cached per evaluation and per
 * `with` scope), merged along the rule tree.  `with` replaces parts of
 * input or data, or functions, for the duration of one expression.
 *
 * Limits: a step budget, an arena budget and a C stack budget; hitting
 * one ends the evaluation with EVE_LIMIT (SF_ELIMIT for callers).
 */
#include <sys/resource.h>

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "policy/rego.h"

#define EV_STOP		1
#define EV_ERR		(-1)

#define DEF_STEPS	(50 * 1000 * 1000ULL)
#define DEF_MEM		((size_t)512 * 1024 * 1024)
#define DEF_STACK	((size_t)3 * 1024 * 1024)

typedef int (*kfn)(struct ev *ev, void *ctx);
typedef int (*vfn)(struct ev *ev, struct rv *v, void *ctx);

struct ovl {
	struct rv	**path;
	uint32_t	 n;
	struct rv	*v;
};

struct mock {
	const char		*fname;
	struct rv		*v;		/* value replacement */
	struct node		*fn;		/* function replacement */
	const struct builtin	*bi;		/* builtin replacement */
};

struct wstate {
	struct rv	*input;
	struct ovl	*ovl;
	uint32_t	 novl;
	struct mock	*mocks;
	uint32_t	 nmocks;
	struct rv	**cache;
	uint8_t		*busy;
};

struct ev {
	struct policy_c	*pc;
	struct arena	*a;
	struct wstate	 w;
	bool		 strict;
	uint64_t	 steps, max_steps;
	const char	*stack_base;
	size_t		 max_stack;
	int64_t		 now_ns;
	bool		 now_set;
	unsigned char	 seed[32];
	bool		 seed_set;
	enum ev_err	 err;
	char		 msg[400];
	struct loc	 errloc;
	bool		 have_loc;
};

static struct rv undef_v;	/* cache marker: undefined */
#define UNDEF	(&undef_v)

static int eval_term(struct ev *ev, struct rv **fr, struct term *t, vfn vk,
    void *ctx);
static int eval_body(struct ev *ev, struct rv **fr, struct body *b,
    uint32_t i, kfn k, void *ctx);
static int unify_tv(struct ev *ev, struct rv **fr, struct term *t,
    struct rv *v, kfn k, void *ctx);
static int node_value(struct ev *ev, struct node *n, struct rv **out);
static int call_func(struct ev *ev, struct node *n, struct rv **args,
    uint32_t nargs, vfn vk, void *ctx);
static int eval_det(struct ev *ev, struct rv **fr, struct term *t,
    struct rv **out);
static int call_builtin(struct ev *ev, const struct builtin *b,
    struct rv **args, const struct loc *l, vfn vk, void *ctx);
static int first_val(struct ev *ev, struct rv *v, void *c);

/*
 * Errors.
 */
static int
ev_fail(struct ev *ev, enum ev_err code, const struct loc *l,
    const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/* Record the first error of an evaluation. */
static bool
set_err(struct ev *ev, enum ev_err code, const char *fmt, va_list ap)
{
	if (ev->err != EVE_NONE)
		return false;
	ev->err = code;
	vsnprintf(ev->msg, sizeof(ev->msg), fmt, ap);
	return true;
}

static int
ev_fail(struct ev *ev, enum ev_err code, const struct loc *l,
    const char *fmt, ...)
{
	va_list	 ap;
	bool	 first;

	va_start(ap, fmt);
	first = set_err(ev, code, fmt, ap);
	va_end(ap);
	if (first && l != NULL && l->file != NULL) {
		ev->errloc = *l;
		ev->have_loc = true;
	}
	return EV_ERR;
}

static int
oom(struct ev *ev)
{
	if (ev->a->over)
		return ev_fail(ev, EVE_LIMIT, NULL,
		    "evaluation memory limit exceeded");
	return ev_fail(ev, EVE_NOMEM, NULL, "out of memory");
}

const char *
ev_err_code(enum ev_err e)
{
	switch (e) {
	case EVE_CONFLICT: return "eval_conflict_error";
	case EVE_TYPE: return "eval_type_error";
	case EVE_BUILTIN: return "eval_builtin_error";
	case EVE_LIMIT: return "eval_limit_error";
	case EVE_NOMEM: return "eval_internal_error";
	case EVE_INTERNAL: return "eval_internal_error";
	default: return "";
	}
}

/* Builtin support. */
struct arena *
ev_arena(struct ev *ev)
{
	return ev->a;
}

int64_t
ev_now_ns(struct ev *ev)
{
	struct timespec	 ts;

	if (!ev->now_set) {
		clock_gettime(CLOCK_REALTIME, &ts);
		ev->now_ns = (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
		ev->now_set = true;
	}
	return ev->now_ns;
}

void
ev_clear_error(struct ev *ev)
{
	ev->err = EVE_NONE;
	ev->msg[0] = '\0';
}

const unsigned char *
ev_seed(struct ev *ev)
{
	if (!ev->seed_set) {
		if (sf_random(ev->seed, sizeof(ev->seed)) != SF_OK)
			memset(ev->seed, 0x5a, sizeof(ev->seed));
		ev->seed_set = true;
	}
	return ev->seed;
}

struct rv *
ev_str(struct ev *ev, const char *s, size_t n)
{
	return rv_str(ev->a, s, n);
}

int
bi_err(struct ev *ev, const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	(void)set_err(ev, EVE_BUILTIN, fmt, ap);
	va_end(ap);
	return BI_ERR;
}

int
bi_type_errf(struct ev *ev, const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	(void)set_err(ev, EVE_TYPE, fmt, ap);
	va_end(ap);
	return BI_ERR;
}

int
bi_type_err(struct ev *ev, const char *fn, int argn, const char *want,
    const struct rv *got)
{
	return bi_type_errf(ev, "%s: operand %d must be %s but got %s", fn,
	    argn, want, rv_type_name(got));
}

/*
 * Limits.
 */
static int
tick(struct ev *ev)
{
	char	 here;

	if (++ev->steps > ev->max_steps)
		return ev_fail(ev, EVE_LIMIT, NULL,
		    "evaluation step limit exceeded");
	if (ev->stack_base != NULL &&
	    (size_t)(ev->stack_base > &here ? ev->stack_base - &here :
	    &here - ev->stack_base) > ev->max_stack)
		return ev_fail(ev, EVE_LIMIT, NULL,
		    "evaluation depth limit exceeded");
	return 0;
}

/*
 * Growable value lists (in the evaluation arena).
 */
struct vlist {
	struct rv	**v;
	uint32_t	 n, cap;
};

static int
vlist_add(struct ev *ev, struct vlist *l, struct rv *v)
{
	if (l->n == l->cap) {
		uint32_t	 cap = l->cap == 0 ? 8 : l->cap * 2;
		struct rv	**nv;

		if ((nv = arena_grow(ev->a, l->v, l->n, cap, sizeof(*nv))) ==
		    NULL)
			return oom(ev);
		l->v = nv;
		l->cap = cap;
	}
	l->v[l->n++] = v;
	return 0;
}

struct kvlist {
	struct rv_kv	*kv;
	uint32_t	 n, cap;
};

static int
kvlist_add(struct ev *ev, struct kvlist *l, struct rv *k, struct rv *v)
{
	if (l->n == l->cap) {
		uint32_t	 cap = l->cap == 0 ? 8 : l->cap * 2;
		struct rv_kv	*nv;

		if ((nv = arena_grow(ev->a, l->kv, l->n, cap, sizeof(*nv))) ==
		    NULL)
			return oom(ev);
		l->kv = nv;
		l->cap = cap;
	}
	l->kv[l->n].k = k;
	l->kv[l->n++].v = v;
	return 0;
}

static struct rv **
new_frame(struct ev *ev, uint32_t n)
{
	return arena_calloc(ev->a, n == 0 ? 1 : n, sizeof(struct rv *));
}

/*
 * A frame for a rule or function body: on the caller's stack when small
 * (it lives exactly as long as the evaluation of the body, continuations
 * included), else in the arena.
 */
#define FRAME_STACK	24

static struct rv **
frame_get(struct ev *ev, uint32_t n, struct rv **buf)
{
	if (n <= FRAME_STACK) {
		memset(buf, 0, (n == 0 ? 1 : n) * sizeof(*buf));
		return buf;
	}
	return new_frame(ev, n);
}

/*
 * Object updates: a copy of o with key set (used by `with`).
 */
static struct rv *
obj_set(struct ev *ev, struct rv *o, struct rv *k, struct rv *v)
{
	struct rv_kv	*kv;
	uint32_t	 i, n = 0;
	bool		 found = false;

	if (o == NULL || o->t != RV_OBJ)
		o = &rv_empty_obj_v;
	if ((kv = arena_alloc(ev->a, (o->n + 1) * sizeof(*kv))) == NULL)
		return NULL;
	for (i = 0; i < o->n; i++) {
		if (!found && rv_eq(o->u.o[i].k, k)) {
			kv[n].k = k;
			kv[n++].v = v;
			found = true;
			continue;
		}
		kv[n++] = o->u.o[i];
	}
	if (!found) {
		kv[n].k = k;
		kv[n++].v = v;
	}
	return rv_obj_from(ev->a, kv, n, NULL);
}

/* Upsert v at path below doc (creating objects). */
static struct rv *
upsert(struct ev *ev, struct rv *doc, struct rv **path, uint32_t n,
    struct rv *v)
{
	struct rv	*child, *nc;

	if (n == 0)
		return v;
	child = doc != NULL && doc->t == RV_OBJ ? rv_obj_get(doc, path[0]) :
	    NULL;
	if ((nc = upsert(ev, child, path + 1, n - 1, v)) == NULL)
		return NULL;
	return obj_set(ev, doc, path[0], nc);
}

/*
 * Data documents with `with` overlays.
 */
static bool
path_eq(struct rv **a, uint32_t na, struct rv **b, uint32_t nb)
{
	uint32_t	 i;

	if (na != nb)
		return false;
	for (i = 0; i < na; i++)
		if (!rv_eq(a[i], b[i]))
			return false;
	return true;
}

static bool
path_prefix(struct rv **pre, uint32_t np, struct rv **p, uint32_t n)
{
	uint32_t	 i;

	if (np > n)
		return false;
	for (i = 0; i < np; i++)
		if (!rv_eq(pre[i], p[i]))
			return false;
	return true;
}

/* Last overlay at exactly path, or -1. */
static int
ovl_exact(struct ev *ev, struct rv **path, uint32_t n)
{
	int	 i;

	for (i = (int)ev->w.novl - 1; i >= 0; i--)
		if (path_eq(ev->w.ovl[i].path, ev->w.ovl[i].n, path, n))
			return i;
	return -1;
}

/* Apply overlays strictly below path, from index from on. */
static int
ovl_apply_below(struct ev *ev, struct rv **path, uint32_t n, uint32_t from,
    struct rv **v)
{
	uint32_t	 i;
	struct ovl	*o;

	for (i = from; i < ev->w.novl; i++) {
		o = &ev->w.ovl[i];
		if (o->n <= n || !path_prefix(path, n, o->path, o->n))
			continue;
		if ((*v = upsert(ev, *v, o->path + n, o->n - n, o->v)) == NULL)
			return oom(ev);
	}
	return 0;
}

static bool
ovl_touches(struct ev *ev, struct rv **path, uint32_t n)
{
	uint32_t	 i;

	for (i = 0; i < ev->w.novl; i++)
		if (path_prefix(path, n, ev->w.ovl[i].path, ev->w.ovl[i].n) ||
		    path_prefix(ev->w.ovl[i].path, ev->w.ovl[i].n, path, n))
			return true;
	return false;
}

static int doc_at(struct ev *ev, struct node *n, struct rv *base,
    struct rv **path, uint32_t depth, struct rv **out);

/* The document of a namespace node: base data plus its children. */
static int
ns_doc(struct ev *ev, struct node *n, struct rv *base, struct rv **path,
    uint32_t depth, struct rv **out)
{
	struct kvlist	 kv = { 0 };
	struct rv	*cv, *key, **cpath;
	uint32_t	 i, j;
	int		 rc;

	*out = NULL;
	if (base != NULL && base->t != RV_OBJ && n->nkids == 0) {
		*out = base;
		return 0;
	}
	if (base != NULL && base->t == RV_OBJ)
		for (i = 0; i < base->n; i++)
			if ((rc = kvlist_add(ev, &kv, base->u.o[i].k,
			    base->u.o[i].v)) < 0)
				return rc;
	/* children's paths matter only to `with` overlays */
	cpath = NULL;
	if (ev->w.novl > 0) {
		if ((cpath = arena_alloc(ev->a, (depth + 1) *
		    sizeof(*cpath))) == NULL)
			return oom(ev);
		if (depth > 0)
			memcpy(cpath, path, depth * sizeof(*cpath));
	}
	for (i = 0; i < n->nkids; i++) {
		struct node *k = n->kids[i];

		if (k->kind == NK_FUNC)
			continue;
		if ((key = rv_str_ref(ev->a, k->name, k->namelen)) == NULL)
			return oom(ev);
		if (cpath != NULL)
			cpath[depth] = key;
		if ((rc = doc_at(ev, k, base != NULL ? rv_obj_get(base, key) :
		    NULL, cpath, depth + 1, &cv)) < 0)
			return rc;
		if (cv == NULL)
			continue;
		for (j = 0; j < kv.n; j++)
			if (rv_eq(kv.kv[j].k, key))
				break;
		if (j < kv.n)
			kv.kv[j].v = cv;
		else if ((rc = kvlist_add(ev, &kv, key, cv)) < 0)
			return rc;
	}
	if ((*out = rv_obj_from(ev->a, kv.kv, kv.n, NULL)) == NULL)
		return oom(ev);
	return 0;
}

/*
 * The document at path (node may be NULL: base data only), with the
 * overlays of the current `with` scope applied.
 */
static int
doc_at(struct ev *ev, struct node *n, struct rv *base, struct rv **path,
    uint32_t depth, struct rv **out)
{
	int	 rc = 0, oi;

	*out = NULL;
	if (ev->w.novl > 0 && (oi = ovl_exact(ev, path, depth)) >= 0) {
		*out = ev->w.ovl[oi].v;
		return ovl_apply_below(ev, path, depth, (uint32_t)oi + 1, out);
	}
	if (n == NULL)
		*out = base;
	else if (n->kind == NK_NS)
		rc = ns_doc(ev, n, base, path, depth, out);
	else if (n->kind != NK_FUNC)
		rc = node_value(ev, n, out);
	if (rc < 0)
		return rc;
	if (ev->w.novl > 0)
		return ovl_apply_below(ev, path, depth, 0, out);
	return 0;
}

/*
 * References.
 */
struct walkk {
	struct rv	**fr;
	struct term	*t;
	uint32_t	 i;
	struct rv	*coll;
	vfn		 vk;
	void		*ctx;
	/* data walks */
	struct node	*node;
	struct rv	*base;
	struct rv	**path;
};

static int walk_value(struct ev *ev, struct rv **fr, struct term *t,
    uint32_t i, struct rv *v, vfn vk, void *ctx);

static bool
term_bound(struct rv **fr, const struct term *t)
{
	uint32_t	 i;

	for (i = 0; i < t->nvars; i++)
		if (fr[t->vars[i]] == NULL)
			return false;
	return true;
}

static int
walk_key_found(struct ev *ev, struct rv *key, void *c)
{
	struct walkk	*w = c;
	struct rv	*v;

	if ((v = rv_index(w->coll, key)) == NULL)
		return 0;
	return walk_value(ev, w->fr, w->t, w->i + 1, v, w->vk, w->ctx);
}

struct iterk {
	struct walkk	*w;
	struct rv	*val;
};

static int
walk_iter_next(struct ev *ev, void *c)
{
	struct iterk	*ik = c;

	return walk_value(ev, ik->w->fr, ik->w->t, ik->w->i + 1, ik->val,
	    ik->w->vk, ik->w->ctx);
}

/* Iterate over the keys of coll, unifying operand op with each key. */
static int
walk_iterate(struct ev *ev, struct walkk *w, struct term *op)
{
	struct rv	*coll = w->coll, *key, *val;
	struct iterk	 ik;
	uint32_t	 i;
	int		 rc;
	int32_t		 slot = op->kind == T_VAR ? op->u.var.slot : -1;

	ik.w = w;
	for (i = 0; i < coll->n; i++) {
		if ((rc = tick(ev)) < 0)
			return rc;
		switch (coll->t) {
		case RV_ARR:
			if ((key = rv_int(ev->a, i)) == NULL)
				return oom(ev);
			val = coll->u.a[i];
			break;
		case RV_SET:
			key = val = coll->u.a[i];
			break;
		default:
			key = coll->u.o[i].k;
			val = coll->u.o[i].v;
			break;
		}
		if (slot >= 0) {
			w->fr[slot] = key;
			rc = walk_value(ev, w->fr, w->t, w->i + 1, val, w->vk,
			    w->ctx);
			w->fr[slot] = NULL;
		} else {
			ik.val = val;
			rc = unify_tv(ev, w->fr, op, key, walk_iter_next, &ik);
		}
		if (rc != 0)
			return rc;
	}
	return 0;
}

static int
walk_value(struct ev *ev, struct rv **fr, struct term *t, uint32_t i,
    struct rv *v, vfn vk, void *ctx)
{
	struct term	*op;
	struct rv	*key;
	struct walkk	 w;

	for (; i < t->u.ref.n; i++) {
		op = t->u.ref.ops[i];
		if (op->kind == T_VALUE)
			key = op->u.v;
		else if (op->kind == T_VAR && op->u.var.slot >= 0 &&
		    fr[op->u.var.slot] != NULL)
			key = fr[op->u.var.slot];
		else {
			w.fr = fr;
			w.t = t;
			w.i = i;
			w.coll = v;
			w.vk = vk;
			w.ctx = ctx;
			if (op->kind == T_VAR || ((op->kind == T_ARRAY ||
			    op->kind == T_OBJECT) && !term_bound(fr, op))) {
				if (v->t != RV_ARR && v->t != RV_OBJ &&
				    v->t != RV_SET)
					return 0;
				return walk_iterate(ev, &w, op);
			}
			return eval_term(ev, fr, op, walk_key_found, &w);
		}
		if ((v = rv_index(v, key)) == NULL)
			return 0;
	}
	return vk(ev, v, ctx);
}

static int data_walk(struct ev *ev, struct rv **fr, struct term *t,
    uint32_t i, struct node *n, struct rv *base, struct rv **path,
    vfn vk, void *ctx);

static int
data_key_found(struct ev *ev, struct rv *key, void *c)
{
	struct walkk	*w = c;
	struct node	*k = NULL;
	struct rv	*nb;

	w->path[w->i] = key;
	if (key->t == RV_STR && w->node != NULL) {
		/* binary search by name */
		uint32_t lo = 0, hi = w->node->nkids;

		while (lo < hi) {
			uint32_t mid = lo + (hi - lo) / 2;
			struct node *m = w->node->kids[mid];
			size_t l = m->namelen < key->n ? m->namelen : key->n;
			int c2 = memcmp(m->name, key->u.s, l);

			if (c2 == 0)
				c2 = m->namelen < key->n ? -1 :
				    m->namelen > key->n ? 1 : 0;
			if (c2 == 0) {
				k = m;
				break;
			}
			if (c2 < 0)
				lo = mid + 1;
			else
				hi = mid;
		}
	}
	nb = w->base != NULL ? rv_index(w->base, key) : NULL;
	if (nb == NULL && w->base != NULL && w->base->t == RV_OBJ &&
	    key->t == RV_NUM && rv_is_int(key)) {
		/* storage paths are strings: data[2] is data["2"] */
		struct sbuf	 kb;

		sbuf_init(&kb, ev->a);
		rv_write_num(&kb, key);
		if (kb.oom)
			return oom(ev);
		nb = rv_obj_gets(w->base, kb.s);
	}
	if (k == NULL && nb == NULL && ev->w.novl == 0)
		return 0;
	return data_walk(ev, w->fr, w->t, w->i + 1, k, nb, w->path, w->vk,
	    w->ctx);
}

/*
 * Walk data along ref t from operand i, at rule-tree node n (NULL below
 * the tree) with base document base.  path[0..i) holds the keys so far.
 */
static int
data_walk(struct ev *ev, struct rv **fr, struct term *t, uint32_t i,
    struct node *n, struct rv *base, struct rv **path, vfn vk, void *ctx)
{
	struct term	*op;
	struct rv	*v;
	struct walkk	 w;
	int		 rc, oi;

	for (;;) {
		if (ev->w.novl > 0 && (oi = ovl_exact(ev, path, i)) >= 0) {
			v = ev->w.ovl[oi].v;
			if ((rc = ovl_apply_below(ev, path, i,
			    (uint32_t)oi + 1, &v)) < 0)
				return rc;
			return walk_value(ev, fr, t, i, v, vk, ctx);
		}
		if (n == NULL && (ev->w.novl == 0 ||
		    !ovl_touches(ev, path, i))) {
			/* base data: keep going for integer keys */
			if (base == NULL)
				return 0;
			if (base->t != RV_OBJ || i == t->u.ref.n)
				return walk_value(ev, fr, t, i, base, vk, ctx);
		}
		if (n != NULL && n->kind != NK_NS) {
			if ((rc = doc_at(ev, n, base, path, i, &v)) < 0)
				return rc;
			return v == NULL ? 0 : walk_value(ev, fr, t, i, v, vk,
			    ctx);
		}
		if (i == t->u.ref.n) {
			if ((rc = doc_at(ev, n, base, path, i, &v)) < 0)
				return rc;
			return v == NULL ? 0 : vk(ev, v, ctx);
		}
		op = t->u.ref.ops[i];
		if (op->kind == T_VALUE || (op->kind == T_VAR &&
		    op->u.var.slot >= 0 && fr[op->u.var.slot] != NULL) ||
		    (op->kind != T_VAR && term_bound(fr, op) &&
		    op->kind != T_ARRAY && op->kind != T_OBJECT) ||
		    ((op->kind == T_ARRAY || op->kind == T_OBJECT) &&
		    term_bound(fr, op))) {
			w.fr = fr;
			w.t = t;
			w.i = i;
			w.vk = vk;
			w.ctx = ctx;
			w.node = n;
			w.base = base;
			w.path = path;
			if (op->kind == T_VALUE)
				return data_key_found(ev, op->u.v, &w);
			if (op->kind == T_VAR)
				return data_key_found(ev,
				    fr[op->u.var.slot], &w);
			return eval_term(ev, fr, op, data_key_found, &w);
		}
		/* enumeration: materialize this document */
		if ((rc = doc_at(ev, n, base, path, i, &v)) < 0)
			return rc;
		return v == NULL ? 0 : walk_value(ev, fr, t, i, v, vk, ctx);
	}
}

static int
eval_data_ref(struct ev *ev, struct rv **fr, struct term *t, vfn vk,
    void *ctx)
{
	struct rv	**path, *base = ev->pc->data, *pbuf[16];
	struct node	*n = ev->pc->root;
	uint32_t	 i = 0, d;

	if (t->u.ref.n < 16)
		path = pbuf;	/* lives while the continuation runs */
	else if ((path = arena_alloc(ev->a, (t->u.ref.n + 1) *
	    sizeof(*path))) == NULL)
		return oom(ev);
	if (ev->w.novl == 0 && t->u.ref.node != NULL) {
		/* the compiler walked the constant prefix */
		n = t->u.ref.node;
		d = t->u.ref.ndepth;
		if (n->kind != NK_NS)
			base = NULL;	/* rules shadow base data */
		for (i = 0; i < d; i++) {
			path[i] = t->u.ref.ops[i]->u.v;
			if (base != NULL)
				base = rv_index(base, path[i]);
		}
	}
	return data_walk(ev, fr, t, i, n, base, path, vk, ctx);
}

struct headk {
	struct term	*t;
	struct rv	**fr;
	vfn		 vk;
	void		*ctx;
};

static int
ref_head_val(struct ev *ev, struct rv *v, void *c)
{
	struct headk	*h = c;

	return walk_value(ev, h->fr, h->t, 0, v, h->vk, h->ctx);
}

static int
eval_ref(struct ev *ev, struct rv **fr, struct term *t, vfn vk, void *ctx)
{
	struct term	*h = t->u.ref.head;
	struct rv	*v;
	struct headk	 hk;

	if (h->kind == T_VAR) {
		if (h->u.var.slot == SLOT_DATA)
			return eval_data_ref(ev, fr, t, vk, ctx);
		if (h->u.var.slot == SLOT_INPUT) {
			if (ev->w.input == NULL)
				return 0;
			return walk_value(ev, fr, t, 0, ev->w.input, vk, ctx);
		}
		if (h->u.var.slot >= 0 && (v = fr[h->u.var.slot]) != NULL)
			return walk_value(ev, fr, t, 0, v, vk, ctx);
		return ev_fail(ev, EVE_INTERNAL, &t->loc,
		    "var %s is unbound", h->u.var.name);
	}
	hk.t = t;
	hk.fr = fr;
	hk.vk = vk;
	hk.ctx = ctx;
	return eval_term(ev, fr, h, ref_head_val, &hk);
}

/*
 * Lists of terms to values (arguments, collection items).
 */
typedef int (*argsfn)(struct ev *ev, struct rv **vals, void *ctx);

struct argsk {
	struct rv	**fr;
	struct term	**ts;
	uint32_t	 n, i;
	struct rv	**vals;
	uint32_t	*perm;		/* evaluation order, or NULL */
	argsfn		 done;
	void		*ctx;
};

static int args_step(struct ev *ev, struct argsk *ak);

static int
args_val(struct ev *ev, struct rv *v, void *c)
{
	struct argsk	*ak = c, nk = *ak;

	nk.vals[nk.perm != NULL ? nk.perm[nk.i] : nk.i] = v;
	nk.i++;
	return args_step(ev, &nk);
}

static int
args_step(struct ev *ev, struct argsk *ak)
{
	struct term	*t;
	uint32_t	 j;

	while (ak->i < ak->n) {
		j = ak->perm != NULL ? ak->perm[ak->i] : ak->i;
		t = ak->ts[j];
		if (t->kind == T_VALUE) {
			ak->vals[j] = t->u.v;
			ak->i++;
			continue;
		}
		if (t->kind == T_VAR && t->u.var.slot >= 0 &&
		    ak->fr[t->u.var.slot] != NULL) {
			ak->vals[j] = ak->fr[t->u.var.slot];
			ak->i++;
			continue;
		}
		return eval_term(ev, ak->fr, t, args_val, ak);
	}
	return ak->done(ev, ak->vals, ak->ctx);
}

static int
eval_list(struct ev *ev, struct rv **fr, struct term **ts, uint32_t n,
    argsfn done, void *ctx)
{
	struct argsk	 ak;
	struct rv	*vbuf[8];
	uint32_t	 i;

	ak.fr = fr;
	ak.ts = ts;
	ak.n = n;
	ak.i = 0;
	ak.done = done;
	ak.ctx = ctx;
	ak.perm = NULL;
	if (n <= 8)
		ak.vals = vbuf;	/* lives while the continuation runs */
	else if ((ak.vals = arena_alloc(ev->a, (n + 1) * sizeof(*ak.vals))) ==
	    NULL)
		return oom(ev);
	for (i = 0; i < n; i++) {
		int rc;

		if ((rc = eval_det(ev, fr, ts[i], &ak.vals[i])) < 0)
			return rc;
		if (rc != 0)
			break;
		if (ak.vals[i] == NULL)
			return 0;	/* an undefined argument */
	}
	if (i == n)
		return done(ev, ak.vals, ctx);
	for (i = 0; i < n; i++)
		if (ts[i]->kind == T_VAR && ts[i]->u.var.slot >= 0 &&
		    fr[ts[i]->u.var.slot] == NULL)
			break;
	if (i < n) {
		/* unbound variables are bound by the other arguments'
		 * iterations (x == xs[x]): evaluate them last */
		uint32_t k = 0;

		if ((ak.perm = arena_alloc(ev->a, (n + 1) *
		    sizeof(*ak.perm))) == NULL)
			return oom(ev);
		for (i = 0; i < n; i++)
			if (!(ts[i]->kind == T_VAR && ts[i]->u.var.slot >= 0 &&
			    fr[ts[i]->u.var.slot] == NULL))
				ak.perm[k++] = i;
		for (i = 0; i < n; i++)
			if (ts[i]->kind == T_VAR && ts[i]->u.var.slot >= 0 &&
			    fr[ts[i]->u.var.slot] == NULL)
				ak.perm[k++] = i;
	}
	return args_step(ev, &ak);
}

/*
 * Collections.
 */
struct collk {
	struct term	*t;
	vfn		 vk;
	void		*ctx;
};

static int
coll_done(struct ev *ev, struct rv **vals, void *c)
{
	struct collk	*ck = c;
	struct term	*t = ck->t;
	struct rv	*v, **items;
	struct rv_kv	*kv;
	uint32_t	 i, n = t->u.coll.n;
	bool		 conflict;

	switch (t->kind) {
	case T_ARRAY:
		if ((v = rv_arr(ev->a, n)) == NULL)
			return oom(ev);
		memcpy(v->u.a, vals, n * sizeof(*vals));
		break;
	case T_SET:
		if ((items = arena_alloc(ev->a, (n + 1) * sizeof(*items))) ==
		    NULL)
			return oom(ev);
		memcpy(items, vals, n * sizeof(*vals));
		if ((v = rv_set_from(ev->a, items, n)) == NULL)
			return oom(ev);
		break;
	default:
		if ((kv = arena_alloc(ev->a, (n + 1) * sizeof(*kv))) == NULL)
			return oom(ev);
		for (i = 0; i < n; i++) {
			kv[i].k = vals[i];
			kv[i].v = vals[n + i];
		}
		if ((v = rv_obj_from(ev->a, kv, n, &conflict)) == NULL) {
			if (conflict)
				return ev_fail(ev, EVE_CONFLICT, &t->loc,
				    "object keys must be unique");
			return oom(ev);
		}
		break;
	}
	return ck->vk(ev, v, ck->ctx);
}

static int
eval_coll(struct ev *ev, struct rv **fr, struct term *t, vfn vk, void *ctx)
{
	struct collk	 ck = { t, vk, ctx };
	struct term	**ts;
	uint32_t	 n = t->u.coll.n;

	if (t->kind != T_OBJECT)
		return eval_list(ev, fr, t->u.coll.items, n, coll_done, &ck);
	if ((ts = arena_alloc(ev->a, (2 * n + 1) * sizeof(*ts))) == NULL)
		return oom(ev);
	memcpy(ts, t->u.coll.items, n * sizeof(*ts));
	memcpy(ts + n, t->u.coll.vals, n * sizeof(*ts));
	return eval_list(ev, fr, ts, 2 * n, coll_done, &ck);
}

/*
 * Comprehensions.
 */
struct compk {
	struct rv	**fr;
	struct term	*t;
	struct vlist	 items;
	struct kvlist	 kv;
	struct rv	*key;
};

static int
comp_val(struct ev *ev, struct rv *v, void *c)
{
	struct compk	*ck = c;

	if (ck->t->kind == T_OCOMP)
		return kvlist_add(ev, &ck->kv, ck->key, v);
	return vlist_add(ev, &ck->items, v);
}

static int
comp_key(struct ev *ev, struct rv *k, void *c)
{
	struct compk	*ck = c;

	ck->key = k;
	return eval_term(ev, ck->fr, ck->t->u.comp.val, comp_val, ck);
}

static int
comp_sol(struct ev *ev, void *c)
{
	struct compk	*ck = c;

	if (ck->t->kind == T_OCOMP)
		return eval_term(ev, ck->fr, ck->t->u.comp.key, comp_key, ck);
	return eval_term(ev, ck->fr, ck->t->u.comp.val, comp_val, ck);
}

static int
eval_comp(struct ev *ev, struct rv **fr, struct term *t, vfn vk, void *ctx)
{
	struct compk	 ck;
	struct rv	*v;
	bool		 conflict;
	int		 rc;

	memset(&ck, 0, sizeof(ck));
	ck.fr = fr;
	ck.t = t;
	if ((rc = eval_body(ev, fr, t->u.comp.body, 0, comp_sol, &ck)) < 0)
		return rc;
	switch (t->kind) {
	case T_ACOMP:
		if ((v = rv_arr(ev->a, ck.items.n)) == NULL)
			return oom(ev);
		if (ck.items.n > 0)
			memcpy(v->u.a, ck.items.v,
			    ck.items.n * sizeof(*ck.items.v));
		break;
	case T_SCOMP:
		if ((v = rv_set_from(ev->a, ck.items.v, ck.items.n)) == NULL)
			return oom(ev);
		break;
	default:
		if ((v = rv_obj_from(ev->a, ck.kv.kv, ck.kv.n, &conflict)) ==
		    NULL) {
			if (conflict)
				return ev_fail(ev, EVE_CONFLICT, &t->loc,
				    "object keys must be unique");
			return oom(ev);
		}
		break;
	}
	return vk(ev, v, ctx);
}

/*
 * Calls.
 */
struct callk {
	struct term	*t;
	vfn		 vk;
	void		*ctx;
	uint32_t	 nargs;
};

static const struct mock *
find_mock(struct ev *ev, const char *fname)
{
	uint32_t	 i;

	for (i = ev->w.nmocks; i > 0; i--)
		if (ev->w.mocks[i - 1].fname == fname)
			return &ev->w.mocks[i - 1];
	return NULL;
}

static int
call_builtin(struct ev *ev, const struct builtin *b, struct rv **args,
    const struct loc *l, vfn vk, void *ctx)
{
	struct rv	*out = NULL;
	uint32_t	 i;
	int		 rc;

	if (b->fn == NULL)
		return ev_fail(ev, EVE_BUILTIN, l, "%s: not available",
		    b->name);
	rc = b->fn(ev, args, &out);
	if (rc == BI_ERR) {
		if (ev->err == EVE_CONFLICT || ev->err == EVE_LIMIT ||
		    ev->err == EVE_NOMEM || ev->strict) {
			if (!ev->have_loc && l != NULL && l->file != NULL) {
				ev->errloc = *l;
				ev->have_loc = true;
			}
			return EV_ERR;
		}
		ev->err = EVE_NONE;
		ev->msg[0] = '\0';
		return 0;
	}
	if (rc < 0) {
		if (ev->err == EVE_NONE)
			return oom(ev);
		return EV_ERR;
	}
	if (out == NULL)
		return 0;
	if (b->flags & BI_MULTI) {
		for (i = 0; i < out->n; i++)
			if ((rc = vk(ev, out->u.a[i], ctx)) != 0)
				return rc;
		return 0;
	}
	return vk(ev, out, ctx);
}

static int
call_done(struct ev *ev, struct rv **vals, void *c)
{
	struct callk		*ck = c;
	struct term		*t = ck->t;
	const struct mock	*m;
	struct wstate		 saved;
	int			 rc;

	if (ev->w.nmocks > 0 && (m = find_mock(ev, t->u.call.fname)) != NULL) {
		if (m->v != NULL)
			return ck->vk(ev, m->v, ck->ctx);
		/* a replacement runs without the current mocks */
		saved = ev->w;
		ev->w.mocks = NULL;
		ev->w.nmocks = 0;
		if (m->bi != NULL)
			rc = call_builtin(ev, m->bi, vals, &t->loc, ck->vk,
			    ck->ctx);
		else
			rc = call_func(ev, m->fn, vals, ck->nargs, ck->vk,
			    ck->ctx);
		ev->w.mocks = saved.mocks;
		ev->w.nmocks = saved.nmocks;
		return rc;
	}
	if (t->u.call.ck == CK_FUNC)
		return call_func(ev, t->u.call.fnode, vals, ck->nargs, ck->vk,
		    ck->ctx);
	return call_builtin(ev, t->u.call.bi, vals, &t->loc, ck->vk, ck->ctx);
}

static uint32_t
arity_of(const struct term *t)
{
	if (t->u.call.ck == CK_FUNC)
		return t->u.call.fnode->arity;
	return (uint32_t)t->u.call.bi->arity;
}

static int
eval_call(struct ev *ev, struct rv **fr, struct term *t, vfn vk, void *ctx)
{
	struct callk	 ck;

	ck.t = t;
	ck.vk = vk;
	ck.ctx = ctx;
	ck.nargs = arity_of(t);
	if (ck.nargs > t->u.call.n)
		ck.nargs = t->u.call.n;
	return eval_list(ev, fr, t->u.call.args, ck.nargs, call_done, &ck);
}


/*
 * Deterministic evaluation: a term whose evaluation cannot branch (no
 * unbound variable in a reference, no multi-valued builtin, no `with`
 * overlay on data) is computed directly, without continuations.  Returns
 * 0 with *out set (NULL: undefined), 1 when the term needs the general
 * path, or an error.
 */
static bool
det_key(struct rv **fr, const struct term *op)
{
	switch (op->kind) {
	case T_VALUE:
		return true;
	case T_VAR:
		return op->u.var.slot >= 0 && fr[op->u.var.slot] != NULL;
	case T_REF:
	case T_CALL:
		return true;	/* checked when evaluated */
	default:
		return false;
	}
}

static int
det_capture(struct ev *ev, struct rv *v, void *c)
{
	(void)ev;
	*(struct rv **)c = v;
	return 0;
}

/* Base data lookup; integer keys address objects by their text. */
static struct rv *
base_index(struct ev *ev, struct rv *base, struct rv *key)
{
	struct rv	*v;
	struct sbuf	 kb;

	if (base == NULL)
		return NULL;
	if ((v = rv_index(base, key)) != NULL || base->t != RV_OBJ ||
	    key->t != RV_NUM || !rv_is_int(key))
		return v;
	sbuf_init(&kb, ev->a);
	rv_write_num(&kb, key);
	return kb.oom ? NULL : rv_obj_gets(base, kb.s);
}

static inline int det_simple(struct ev *ev, struct rv **fr, struct term *t,
    struct rv **out);

static int
det_data(struct ev *ev, struct rv **fr, struct term *t, struct rv **out)
{
	struct node	*n = t->u.ref.node, *k;
	struct rv	*base = ev->pc->data, *key, *v;
	struct rv	*pbuf[16];
	uint32_t	 i, d = t->u.ref.ndepth;
	int		 rc;

	*out = NULL;
	if (ev->w.novl > 0 || n == NULL || t->u.ref.n >= 16)
		return 1;
	for (i = d; i < t->u.ref.n; i++)
		if (!det_key(fr, t->u.ref.ops[i]))
			return 1;
	/* no overlays here, so the path is only kept for doc_at() */
	if (n->kind != NK_NS)
		base = NULL;
	else
		for (i = 0; i < d && base != NULL; i++)
			base = rv_index(base, t->u.ref.ops[i]->u.v);
	i = d;
	for (;;) {
		if (n == NULL || n->kind != NK_NS) {
			if (n == NULL)
				v = base;
			else if ((rc = doc_at(ev, n, base, pbuf, i, &v)) < 0)
				return rc;
			break;
		}
		if (i == t->u.ref.n)
			return doc_at(ev, n, base, pbuf, i, out);
		if ((rc = det_simple(ev, fr, t->u.ref.ops[i], &key)) != 0)
			return rc;
		if (key == NULL)
			return 0;
		pbuf[i++] = key;
		k = NULL;
		if (key->t == RV_STR) {
			uint32_t lo = 0, hi = n->nkids;

			while (lo < hi) {
				uint32_t mid = lo + (hi - lo) / 2;
				struct node *m = n->kids[mid];
				size_t l = m->namelen < key->n ? m->namelen :
				    key->n;
				int c = memcmp(m->name, key->u.s, l);

				if (c == 0)
					c = m->namelen < key->n ? -1 :
					    m->namelen > key->n ? 1 : 0;
				if (c == 0) {
					k = m;
					break;
				}
				if (c < 0)
					lo = mid + 1;
				else
					hi = mid;
			}
		}
		base = base_index(ev, base, key);
		if (k == NULL && base == NULL)
			return 0;
		n = k;
		if (n == NULL) {
			/* below the rule tree: base data only */
			v = base;
			break;
		}
	}
	for (; v != NULL && i < t->u.ref.n; i++) {
		if ((rc = det_simple(ev, fr, t->u.ref.ops[i], &key)) != 0)
			return rc;
		if (key == NULL)
			return 0;
		v = n == NULL && d == 0 ? base_index(ev, v, key) :
		    rv_index(v, key);
	}
	*out = v;
	return 0;
}

/* A key or argument: constants and bound variables without a call. */
static inline int
det_simple(struct ev *ev, struct rv **fr, struct term *t, struct rv **out)
{
	if (t->kind == T_VALUE) {
		*out = t->u.v;
		return 0;
	}
	if (t->kind == T_VAR && t->u.var.slot >= 0 &&
	    (*out = fr[t->u.var.slot]) != NULL)
		return 0;
	return eval_det(ev, fr, t, out);
}

static int
det_ref(struct ev *ev, struct rv **fr, struct term *t, struct rv **out)
{
	struct term	*h = t->u.ref.head;
	struct rv	*v, *key;
	uint32_t	 i;
	int		 rc;

	if (h->kind != T_VAR)
		return 1;
	if (h->u.var.slot == SLOT_DATA)
		return det_data(ev, fr, t, out);
	for (i = 0; i < t->u.ref.n; i++)
		if (!det_key(fr, t->u.ref.ops[i]))
			return 1;
	if (h->u.var.slot == SLOT_INPUT)
		v = ev->w.input;
	else if (h->u.var.slot >= 0 && fr[h->u.var.slot] != NULL)
		v = fr[h->u.var.slot];
	else
		return 1;
	for (i = 0; v != NULL && i < t->u.ref.n; i++) {
		if ((rc = det_simple(ev, fr, t->u.ref.ops[i], &key)) != 0)
			return rc;
		if (key == NULL)
			return 0;
		v = rv_index(v, key);
	}
	*out = v;
	return 0;
}

static int
det_call(struct ev *ev, struct rv **fr, struct term *t, struct rv **out)
{
	struct rv	*args[8];
	uint32_t	 i, n;
	int		 rc;

	if (t->u.call.ck != CK_BUILTIN && t->u.call.ck != CK_FUNC)
		return 1;
	n = arity_of(t);
	if (n != t->u.call.n || n > 8 || ev->w.nmocks > 0 ||
	    (t->u.call.ck == CK_BUILTIN && (t->u.call.bi->flags & BI_MULTI)))
		return 1;
	for (i = 0; i < n; i++)
		if (!det_key(fr, t->u.call.args[i]))
			return 1;
	for (i = 0; i < n; i++) {
		if ((rc = det_simple(ev, fr, t->u.call.args[i], &args[i])) != 0)
			return rc;
		if (args[i] == NULL)
			return 0;
	}
	if (t->u.call.ck == CK_FUNC)
		return call_func(ev, t->u.call.fnode, args, n, det_capture,
		    out);
	return call_builtin(ev, t->u.call.bi, args, &t->loc, det_capture,
	    out);
}

static int
eval_det(struct ev *ev, struct rv **fr, struct term *t, struct rv **out)
{
	*out = NULL;
	switch (t->kind) {
	case T_VALUE:
		*out = t->u.v;
		return 0;
	case T_VAR:
		if (t->u.var.slot >= 0)
			return (*out = fr[t->u.var.slot]) == NULL ? 1 : 0;
		if (t->u.var.slot == SLOT_INPUT) {
			*out = ev->w.input;
			return 0;
		}
		return 1;
	case T_REF:
		return det_ref(ev, fr, t, out);
	case T_CALL:
		return det_call(ev, fr, t, out);
	default:
		return 1;
	}
}

/*
 * Terms.
 */
static int
eval_term(struct ev *ev, struct rv **fr, struct term *t, vfn vk, void *ctx)
{
	struct rv	*v;
	int		 rc;

	if (t->kind == T_REF || t->kind == T_CALL) {
		if ((rc = eval_det(ev, fr, t, &v)) < 0)
			return rc;
		if (rc == 0)
			return v == NULL ? 0 : vk(ev, v, ctx);
	}
	switch (t->kind) {
	case T_VALUE:
		return vk(ev, t->u.v, ctx);
	case T_VAR:
		if (t->u.var.slot >= 0) {
			if ((v = fr[t->u.var.slot]) == NULL)
				return ev_fail(ev, EVE_INTERNAL, &t->loc,
				    "var %s is unbound", t->u.var.name);
			return vk(ev, v, ctx);
		}
		if (t->u.var.slot == SLOT_INPUT)
			return ev->w.input == NULL ? 0 :
			    vk(ev, ev->w.input, ctx);
		if (t->u.var.slot == SLOT_DATA) {
			struct rv *path[1];

			if ((rc = doc_at(ev, ev->pc->root, ev->pc->data, path,
			    0, &v)) < 0)
				return rc;
			return v == NULL ? 0 : vk(ev, v, ctx);
		}
		return ev_fail(ev, EVE_INTERNAL, &t->loc, "unresolved var %s",
		    t->u.var.name);
	case T_REF:
		return eval_ref(ev, fr, t, vk, ctx);
	case T_ARRAY:
	case T_SET:
	case T_OBJECT:
		return eval_coll(ev, fr, t, vk, ctx);
	case T_ACOMP:
	case T_SCOMP:
	case T_OCOMP:
		return eval_comp(ev, fr, t, vk, ctx);
	case T_CALL:
		return eval_call(ev, fr, t, vk, ctx);
	}
	return ev_fail(ev, EVE_INTERNAL, &t->loc, "bad term");
}

/* First value of a term (NULL when undefined). */
struct firstk {
	struct rv	*v;
};

static int
first_val(struct ev *ev, struct rv *v, void *c)
{
	(void)ev;
	((struct firstk *)c)->v = v;
	return EV_STOP;
}

static int
eval_first(struct ev *ev, struct rv **fr, struct term *t, struct rv **out)
{
	struct firstk	 fk = { NULL };
	int		 rc;

	*out = NULL;
	if (t->kind == T_VALUE) {
		*out = t->u.v;
		return 0;
	}
	rc = eval_term(ev, fr, t, first_val, &fk);
	if (rc < 0)
		return rc;
	*out = fk.v;
	return 0;
}

/*
 * Unification.
 */
struct unifyk {
	struct rv	**fr;
	struct term	*a, *b;	/* pattern terms */
	struct rv	*v;	/* value side */
	uint32_t	 i;
	kfn		 k;
	void		*ctx;
};

static int
eq_then(struct ev *ev, struct rv *v, void *c)
{
	struct unifyk	*u = c;

	if (!rv_eq(v, u->v))
		return 0;
	return u->k(ev, u->ctx);
}

static int unify_arr_step(struct ev *ev, void *c);

static int
unify_arr(struct ev *ev, struct rv **fr, struct term *t, struct rv *v,
    uint32_t i, kfn k, void *ctx)
{
	struct unifyk	 u;

	if (i == t->u.coll.n)
		return k(ev, ctx);
	u.fr = fr;
	u.a = t;
	u.v = v;
	u.i = i;
	u.k = k;
	u.ctx = ctx;
	return unify_tv(ev, fr, t->u.coll.items[i], v->u.a[i], unify_arr_step,
	    &u);
}

static int
unify_arr_step(struct ev *ev, void *c)
{
	struct unifyk	*u = c;

	return unify_arr(ev, u->fr, u->a, u->v, u->i + 1, u->k, u->ctx);
}

static int unify_obj_step(struct ev *ev, void *c);

static int
unify_obj_key(struct ev *ev, struct rv *key, void *c)
{
	struct unifyk	*u = c;
	struct rv	*val;

	if ((val = rv_obj_get(u->v, key)) == NULL)
		return 0;
	return unify_tv(ev, u->fr, u->a->u.coll.vals[u->i], val,
	    unify_obj_step, u);
}

static int
unify_obj(struct ev *ev, struct rv **fr, struct term *t, struct rv *v,
    uint32_t i, kfn k, void *ctx)
{
	struct unifyk	 u;

	if (i == t->u.coll.n)
		return k(ev, ctx);
	u.fr = fr;
	u.a = t;
	u.v = v;
	u.i = i;
	u.k = k;
	u.ctx = ctx;
	return eval_term(ev, fr, t->u.coll.items[i], unify_obj_key, &u);
}

static int
unify_obj_step(struct ev *ev, void *c)
{
	struct unifyk	*u = c;

	return unify_obj(ev, u->fr, u->a, u->v, u->i + 1, u->k, u->ctx);
}

/* Unify term t (in frame fr) with value v. */
static int
unify_tv(struct ev *ev, struct rv **fr, struct term *t, struct rv *v, kfn k,
    void *ctx)
{
	struct unifyk	 u;
	struct rv	*cur;
	int		 rc;

	switch (t->kind) {
	case T_VALUE:
		return rv_eq(t->u.v, v) ? k(ev, ctx) : 0;
	case T_VAR:
		if (t->u.var.slot < 0)
			break;
		if ((cur = fr[t->u.var.slot]) != NULL)
			return rv_eq(cur, v) ? k(ev, ctx) : 0;
		fr[t->u.var.slot] = v;
		rc = k(ev, ctx);
		fr[t->u.var.slot] = NULL;
		return rc;
	case T_ARRAY:
		if (term_bound(fr, t))
			break;
		if (v->t != RV_ARR || v->n != t->u.coll.n)
			return 0;
		return unify_arr(ev, fr, t, v, 0, k, ctx);
	case T_OBJECT:
		if (term_bound(fr, t))
			break;
		if (v->t != RV_OBJ || v->n != t->u.coll.n)
			return 0;
		return unify_obj(ev, fr, t, v, 0, k, ctx);
	default:
		break;
	}
	u.v = v;
	u.k = k;
	u.ctx = ctx;
	return eval_term(ev, fr, t, eq_then, &u);
}

static int
unify_tt_b(struct ev *ev, struct rv *v, void *c)
{
	struct unifyk	*u = c;

	return unify_tv(ev, u->fr, u->b, v, u->k, u->ctx);
}

static int unify_tt(struct ev *ev, struct rv **fr, struct term *a,
    struct term *b, kfn k, void *ctx);

static int
unify_tt_step(struct ev *ev, void *c)
{
	struct unifyk	*u = c;
	struct unifyk	 n;

	if (u->i + 1 >= u->a->u.coll.n)
		return u->k(ev, u->ctx);
	n = *u;
	n.i++;
	return unify_tt(ev, n.fr, n.a->u.coll.items[n.i],
	    n.b->u.coll.items[n.i], unify_tt_step, &n);
}

static bool
evaluable(struct rv **fr, struct term *t)
{
	if (t->kind == T_VAR)
		return t->u.var.slot < 0 || fr[t->u.var.slot] != NULL;
	if (t->kind == T_ARRAY || t->kind == T_OBJECT)
		return term_bound(fr, t);
	return true;
}

static int
unify_tt(struct ev *ev, struct rv **fr, struct term *a, struct term *b,
    kfn k, void *ctx)
{
	struct unifyk	 u;

	u.fr = fr;
	u.k = k;
	u.ctx = ctx;
	if (evaluable(fr, b)) {
		u.b = a;
		if (b->kind == T_VALUE)
			return unify_tv(ev, fr, a, b->u.v, k, ctx);
		return eval_term(ev, fr, b, unify_tt_b, &u);
	}
	if (evaluable(fr, a)) {
		u.b = b;
		if (a->kind == T_VALUE)
			return unify_tv(ev, fr, b, a->u.v, k, ctx);
		return eval_term(ev, fr, a, unify_tt_b, &u);
	}
	if (a->kind == T_ARRAY && b->kind == T_ARRAY) {
		if (a->u.coll.n != b->u.coll.n)
			return 0;
		if (a->u.coll.n == 0)
			return k(ev, ctx);
		u.a = a;
		u.b = b;
		u.i = 0;
		return unify_tt(ev, fr, a->u.coll.items[0], b->u.coll.items[0],
		    unify_tt_step, &u);
	}
	if (a->kind == T_OBJECT && b->kind == T_OBJECT) {
		/* keys are ground: pair them up, then unify values */
		struct term	*pa, *pb;
		uint32_t	 i, j, n = a->u.coll.n;

		if (n != b->u.coll.n)
			return 0;
		if ((pa = arena_calloc(ev->a, 1, sizeof(*pa))) == NULL ||
		    (pb = arena_calloc(ev->a, 1, sizeof(*pb))) == NULL)
			return oom(ev);
		pa->kind = pb->kind = T_ARRAY;
		pa->u.coll.n = pb->u.coll.n = n;
		pa->u.coll.items = arena_calloc(ev->a, n + 1, sizeof(*pa->u.coll.items));
		pb->u.coll.items = arena_calloc(ev->a, n + 1, sizeof(*pb->u.coll.items));
		if (pa->u.coll.items == NULL || pb->u.coll.items == NULL)
			return oom(ev);
		for (i = 0; i < n; i++) {
			struct rv *kva, *kvb;
			int rc2;

			if ((rc2 = eval_first(ev, fr, a->u.coll.items[i],
			    &kva)) < 0)
				return rc2;
			if (kva == NULL)
				return 0;
			for (j = 0; j < n; j++) {
				if ((rc2 = eval_first(ev, fr,
				    b->u.coll.items[j], &kvb)) < 0)
					return rc2;
				if (kvb != NULL && rv_eq(kva, kvb))
					break;
			}
			if (j == n)
				return 0;
			pa->u.coll.items[i] = a->u.coll.vals[i];
			pb->u.coll.items[i] = b->u.coll.vals[j];
		}
		if (n == 0)
			return k(ev, ctx);
		u.a = pa;
		u.b = pb;
		u.i = 0;
		return unify_tt(ev, fr, pa->u.coll.items[0],
		    pb->u.coll.items[0], unify_tt_step, &u);
	}
	return ev_fail(ev, EVE_INTERNAL, &a->loc,
	    "cannot unify terms with unbound variables on both sides");
}

/*
 * Expressions.
 */
struct exprk {
	kfn		 k;
	void		*ctx;
	struct term	*out;
	struct rv	**fr;
};

static int
truthy_then(struct ev *ev, struct rv *v, void *c)
{
	struct exprk	*ek = c;

	if (!rv_truthy(v))
		return 0;
	return ek->k(ev, ek->ctx);
}

static int
unify_out(struct ev *ev, struct rv *v, void *c)
{
	struct exprk	*ek = c;

	return unify_tv(ev, ek->fr, ek->out, v, ek->k, ek->ctx);
}

static int
stop_k(struct ev *ev, void *ctx)
{
	(void)ev;
	(void)ctx;
	return EV_STOP;
}

struct everyk {
	struct rv	**fr;
	struct expr	*e;
	kfn		 k;
	void		*ctx;
};

static int
every_dom(struct ev *ev, struct rv *d, void *c)
{
	struct everyk	*ek = c;
	struct expr	*e = ek->e;
	struct rv	*key, *val;
	uint32_t	 i;
	int		 rc;
	int32_t		 ks = e->ekey != NULL ? e->ekey->u.var.slot : -1;
	int32_t		 vs = e->eval_->u.var.slot;

	if (d->t != RV_ARR && d->t != RV_OBJ && d->t != RV_SET)
		return 0;
	for (i = 0; i < d->n; i++) {
		switch (d->t) {
		case RV_ARR:
			if ((key = rv_int(ev->a, i)) == NULL)
				return oom(ev);
			val = d->u.a[i];
			break;
		case RV_SET:
			key = val = d->u.a[i];
			break;
		default:
			key = d->u.o[i].k;
			val = d->u.o[i].v;
			break;
		}
		if (ks >= 0)
			ek->fr[ks] = key;
		ek->fr[vs] = val;
		rc = eval_body(ev, ek->fr, e->ebody, 0, stop_k, NULL);
		if (ks >= 0)
			ek->fr[ks] = NULL;
		ek->fr[vs] = NULL;
		if (rc < 0)
			return rc;
		if (rc != EV_STOP)
			return 0;
	}
	return ek->k(ev, ek->ctx);
}

static int
eval_expr_core(struct ev *ev, struct rv **fr, struct expr *e, kfn k,
    void *ctx)
{
	struct term	*t = e->t;
	struct exprk	 ek;
	struct everyk	 evk;
	int		 rc;

	if (e->neg) {
		struct expr	 pos = *e;

		pos.neg = false;
		pos.nwith = 0;
		rc = eval_expr_core(ev, fr, &pos, stop_k, NULL);
		if (rc < 0)
			return rc;
		if (rc == EV_STOP)
			return 0;
		return k(ev, ctx);
	}
	if (e->kind == E_EVERY) {
		evk.fr = fr;
		evk.e = e;
		evk.k = k;
		evk.ctx = ctx;
		return eval_term(ev, fr, e->edomain, every_dom, &evk);
	}
	if (e->kind != E_TERM)
		return k(ev, ctx);
	ek.k = k;
	ek.ctx = ctx;
	ek.fr = fr;
	if (t->kind == T_CALL) {
		if (t->u.call.ck == CK_UNIFY)
			return unify_tt(ev, fr, t->u.call.args[0],
			    t->u.call.args[1], k, ctx);
		if (t->u.call.n == arity_of(t) + 1) {
			ek.out = t->u.call.args[t->u.call.n - 1];
			return eval_call(ev, fr, t, unify_out, &ek);
		}
	}
	return eval_term(ev, fr, t, truthy_then, &ek);
}

/* `with`: the continuation runs in the outer state. */
struct withk {
	struct wstate	 outer, inner;
	kfn		 k;
	void		*ctx;
};

static int
with_cont(struct ev *ev, void *c)
{
	struct withk	*wk = c;
	int		 rc;

	ev->w = wk->outer;
	rc = wk->k(ev, wk->ctx);
	ev->w = wk->inner;
	return rc;
}

static int
eval_with(struct ev *ev, struct rv **fr, struct expr *e, kfn k, void *ctx)
{
	struct withk	 wk;
	struct wstate	 in = ev->w;
	struct with	*w;
	struct rv	*v;
	uint32_t	 i, nd = 0, nm = 0;
	int		 rc;

	for (i = 0; i < e->nwith; i++) {
		if (e->withs[i]->kind == WK_DATA)
			nd++;
		else if (e->withs[i]->kind == WK_FUNC)
			nm++;
	}
	if (nd > 0) {
		if ((in.ovl = arena_alloc(ev->a, (ev->w.novl + nd) *
		    sizeof(*in.ovl))) == NULL)
			return oom(ev);
		if (ev->w.novl > 0)
			memcpy(in.ovl, ev->w.ovl, ev->w.novl * sizeof(*in.ovl));
	}
	if (nm > 0) {
		if ((in.mocks = arena_alloc(ev->a, (ev->w.nmocks + nm) *
		    sizeof(*in.mocks))) == NULL)
			return oom(ev);
		if (ev->w.nmocks > 0)
			memcpy(in.mocks, ev->w.mocks,
			    ev->w.nmocks * sizeof(*in.mocks));
	}
	for (i = 0; i < e->nwith; i++) {
		w = e->withs[i];
		v = NULL;
		if (w->kind != WK_FUNC || (w->rnode == NULL && w->rbi == NULL)) {
			if ((rc = eval_first(ev, fr, w->value, &v)) < 0)
				return rc;
			if (v == NULL)
				return 0;
		}
		switch (w->kind) {
		case WK_INPUT:
			if ((in.input = upsert(ev, in.input, w->path, w->npath,
			    v)) == NULL)
				return oom(ev);
			break;
		case WK_DATA:
			in.ovl[in.novl].path = w->path;
			in.ovl[in.novl].n = w->npath;
			in.ovl[in.novl++].v = v;
			break;
		default:
			in.mocks[in.nmocks].fname = w->fname;
			in.mocks[in.nmocks].v = v;
			in.mocks[in.nmocks].fn = w->rnode;
			in.mocks[in.nmocks++].bi = w->rbi;
			break;
		}
	}
	if ((in.cache = arena_calloc(ev->a, ev->pc->nnodes + 1,
	    sizeof(*in.cache))) == NULL ||
	    (in.busy = arena_calloc(ev->a, ev->pc->nnodes + 1, 1)) == NULL)
		return oom(ev);
	wk.outer = ev->w;
	wk.inner = in;
	wk.k = k;
	wk.ctx = ctx;
	ev->w = in;
	rc = eval_expr_core(ev, fr, e, with_cont, &wk);
	ev->w = wk.outer;
	return rc;
}

static int
eval_expr(struct ev *ev, struct rv **fr, struct expr *e, kfn k, void *ctx)
{
	int	 rc;

	if ((rc = tick(ev)) < 0)
		return rc;
	if (e->nwith > 0)
		return eval_with(ev, fr, e, k, ctx);
	return eval_expr_core(ev, fr, e, k, ctx);
}

struct bodyk {
	struct rv	**fr;
	struct body	*b;
	uint32_t	 i;
	kfn		 k;
	void		*ctx;
};

static int
body_next(struct ev *ev, void *c)
{
	struct bodyk	*bk = c;

	return eval_body(ev, bk->fr, bk->b, bk->i + 1, bk->k, bk->ctx);
}

static int
eval_body(struct ev *ev, struct rv **fr, struct body *b, uint32_t i, kfn k,
    void *ctx)
{
	struct bodyk	 bk;

	if (b == NULL || i >= b->n)
		return k(ev, ctx);
	bk.fr = fr;
	bk.b = b;
	bk.i = i;
	bk.k = k;
	bk.ctx = ctx;
	return eval_expr(ev, fr, b->e[i], body_next, &bk);
}

/*
 * Rules.
 */
struct rulek {
	struct rv	**fr;
	struct rule	*r;
	struct rv	*result;	/* complete, function */
	bool		 any;		/* a body held */
	const char	*conflict_msg;
	/* object/multi rules */
	struct mtree	*tree;
	struct rv	**sfx;
};

static int
rule_val(struct ev *ev, struct rv *v, void *c)
{
	struct rulek	*rk = c;

	if (rk->result != NULL && !rv_eq(rk->result, v))
		return ev_fail(ev, EVE_CONFLICT, &rk->r->loc, "%s",
		    rk->conflict_msg);
	rk->result = v;
	return 0;
}

static int
rule_sol(struct ev *ev, void *c)
{
	struct rulek	*rk = c;
	int		 rc;

	rk->any = true;
	if (rk->r->const_value) {
		if ((rc = rule_val(ev, rk->r->value->u.v, rk)) < 0)
			return rc;
		return EV_STOP;
	}
	return eval_term(ev, rk->fr, rk->r->value, rule_val, rk);
}

/* Evaluate one definition (and its else chain) into rk->result. */
static int
eval_definition(struct ev *ev, struct rule *r, struct rulek *rk)
{
	struct rule	*rr;
	struct rv	*fbuf[FRAME_STACK];
	int		 rc;

	for (rr = r; rr != NULL; rr = rr->els) {
		if ((rk->fr = frame_get(ev, rr->nslots, fbuf)) == NULL)
			return oom(ev);
		rk->r = rr;
		rk->any = false;
		rc = eval_body(ev, rk->fr, rr->body, 0, rule_sol, rk);
		if (rc < 0)
			return rc;
		if (rk->any)
			break;
	}
	return 0;
}

static int
eval_complete(struct ev *ev, struct node *n, struct rv **out)
{
	struct rulek	 rk;
	uint32_t	 i;
	int		 rc;

	memset(&rk, 0, sizeof(rk));
	rk.conflict_msg = "complete rules must not produce multiple outputs";
	for (i = 0; i < n->nrules; i++)
		if ((rc = eval_definition(ev, n->rules[i], &rk)) < 0)
			return rc;
	if (rk.result == NULL && n->deflt != NULL) {
		rk.fr = new_frame(ev, n->deflt->nslots);
		if (rk.fr == NULL)
			return oom(ev);
		rk.r = n->deflt;
		if ((rc = eval_term(ev, rk.fr, n->deflt->value, rule_val,
		    &rk)) < 0)
			return rc;
	}
	*out = rk.result;
	return 0;
}

/*
 * Mutable trees for documents built from rules with dynamic heads.
 */
enum { MT_MAP = 1, MT_LEAF, MT_SET };

struct mtree {
	uint8_t		 kind;
	struct rv	*leaf;			/* MT_LEAF */
	struct vlist	 set;			/* MT_SET */
	struct rv	**keys;			/* MT_MAP */
	struct mtree	**vals;
	uint32_t	 n, cap;
};

static struct mtree *
mt_new(struct ev *ev, int kind)
{
	struct mtree	*m;

	if ((m = arena_calloc(ev->a, 1, sizeof(*m))) == NULL)
		return NULL;
	m->kind = (uint8_t)kind;
	return m;
}

static int
mt_conflict(struct ev *ev, const struct loc *l)
{
	return ev_fail(ev, EVE_CONFLICT, l, "object keys must be unique");
}

/* The child for key (created as kind when absent). */
static int
mt_child(struct ev *ev, struct mtree *m, struct rv *key, int kind,
    struct mtree **out, const struct loc *l)
{
	uint32_t	 i;

	*out = NULL;
	for (i = 0; i < m->n; i++)
		if (rv_eq(m->keys[i], key)) {
			*out = m->vals[i];
			return 0;
		}
	if (m->n == m->cap) {
		uint32_t cap = m->cap == 0 ? 4 : m->cap * 2;

		m->keys = arena_grow(ev->a, m->keys, m->n, cap,
		    sizeof(*m->keys));
		m->vals = arena_grow(ev->a, m->vals, m->n, cap,
		    sizeof(*m->vals));
		if (m->keys == NULL || m->vals == NULL)
			return oom(ev);
		m->cap = cap;
	}
	if ((m->vals[m->n] = mt_new(ev, kind)) == NULL)
		return oom(ev);
	m->keys[m->n] = key;
	*out = m->vals[m->n++];
	(void)l;
	return 0;
}

/* Insert at path: a leaf value (kind MT_LEAF) or a set element (MT_SET). */
static int
mt_insert(struct ev *ev, struct mtree *m, struct rv **path, uint32_t n,
    int kind, struct rv *v, const struct loc *l)
{
	struct mtree	*c;
	uint32_t	 i;
	int		 rc;

	for (i = 0; i < n; i++) {
		if (m->kind != MT_MAP)
			return mt_conflict(ev, l);
		if ((rc = mt_child(ev, m, path[i], i + 1 == n ? kind : MT_MAP,
		    &c, l)) < 0)
			return rc;
		m = c;
	}
	if (kind == MT_MAP)
		return m->kind == MT_MAP ? 0 : mt_conflict(ev, l);
	if (m->kind != kind)
		return mt_conflict(ev, l);
	if (kind == MT_SET)
		return v == NULL ? 0 : vlist_add(ev, &m->set, v);
	if (m->leaf != NULL && !rv_eq(m->leaf, v))
		return mt_conflict(ev, l);
	m->leaf = v;
	return 0;
}

static struct rv *
mt_freeze(struct ev *ev, struct mtree *m)
{
	struct rv_kv	*kv;
	uint32_t	 i;

	switch (m->kind) {
	case MT_LEAF:
		return m->leaf;
	case MT_SET:
		return rv_set_from(ev->a, m->set.v, m->set.n);
	default:
		if ((kv = arena_alloc(ev->a, (m->n + 1) * sizeof(*kv))) ==
		    NULL)
			return NULL;
		for (i = 0; i < m->n; i++) {
			kv[i].k = m->keys[i];
			if ((kv[i].v = mt_freeze(ev, m->vals[i])) == NULL)
				return NULL;
		}
		return rv_obj_from(ev->a, kv, m->n, NULL);
	}
}

struct objk {
	struct ev	*ev;
	struct rule	*r;
	struct rv	**fr;
	struct mtree	*tree;
	struct rv	**prefix;
	uint32_t	 nprefix;
	struct rv	**path;
};

static int
obj_leaf(struct ev *ev, struct rv *v, void *c)
{
	struct objk	*ok = c;
	struct rule	*r = ok->r;

	return mt_insert(ev, ok->tree, ok->path, ok->nprefix + r->nsuffix,
	    r->kind == RK_MULTI ? MT_SET : MT_LEAF, v, &r->loc);
}

static int
obj_sfx(struct ev *ev, struct rv **vals, void *c)
{
	struct objk	*ok = c;
	struct rule	*r = ok->r;

	memcpy(ok->path + ok->nprefix, vals, r->nsuffix * sizeof(*vals));
	if (r->kind == RK_MULTI)
		return eval_term(ev, ok->fr, r->key, obj_leaf, ok);
	return eval_term(ev, ok->fr, r->value, obj_leaf, ok);
}

static int
obj_sol(struct ev *ev, void *c)
{
	struct objk	*ok = c;

	return eval_list(ev, ok->fr, ok->r->suffix, ok->r->nsuffix, obj_sfx,
	    ok);
}

/* Fill tree with the documents of node n (and below) at prefix. */
static int
obj_fill(struct ev *ev, struct mtree *tree, struct node *n, struct rv **prefix,
    uint32_t np)
{
	struct objk	 ok;
	struct rv	*fbuf[FRAME_STACK];
	struct rv	*v, *key, **cp;
	struct mtree	*dummy;
	uint32_t	 i;
	int		 rc;

	switch (n->kind) {
	case NK_FUNC:
		return 0;
	case NK_COMPLETE:
		if ((rc = node_value(ev, n, &v)) < 0)
			return rc;
		if (v == NULL)
			return 0;
		return mt_insert(ev, tree, prefix, np, MT_LEAF, v,
		    &n->rules[0]->loc);
	case NK_MULTI:
		if ((rc = node_value(ev, n, &v)) < 0)
			return rc;
		if ((rc = mt_insert(ev, tree, prefix, np, MT_SET, NULL,
		    n->nrules > 0 ? &n->rules[0]->loc : NULL)) < 0)
			return rc;
		for (i = 0; v != NULL && i < v->n; i++)
			if ((rc = mt_insert(ev, tree, prefix, np, MT_SET,
			    v->u.a[i], &n->rules[0]->loc)) < 0)
				return rc;
		return 0;
	case NK_OBJ:
		if ((rc = mt_insert(ev, tree, prefix, np, MT_MAP, NULL, NULL))
		    < 0)
			return rc;
		for (i = 0; i < n->nrules; i++) {
			struct rule *r = n->rules[i];

			ok.r = r;
			ok.tree = tree;
			ok.nprefix = np;
			if ((ok.path = arena_alloc(ev->a, (np + r->nsuffix + 1)
			    * sizeof(*ok.path))) == NULL ||
			    (ok.fr = frame_get(ev, r->nslots, fbuf)) == NULL)
				return oom(ev);
			if (np > 0)
				memcpy(ok.path, prefix, np * sizeof(*prefix));
			if ((rc = eval_body(ev, ok.fr, r->body, 0, obj_sol,
			    &ok)) < 0)
				return rc;
		}
		break;
	default:
		if ((rc = mt_insert(ev, tree, prefix, np, MT_MAP, NULL, NULL))
		    < 0)
			return rc;
		break;
	}
	(void)dummy;
	if ((cp = arena_alloc(ev->a, (np + 1) * sizeof(*cp))) == NULL)
		return oom(ev);
	if (np > 0)
		memcpy(cp, prefix, np * sizeof(*cp));
	for (i = 0; i < n->nkids; i++) {
		if (n->kids[i]->kind == NK_FUNC)
			continue;
		if ((key = rv_str_ref(ev->a, n->kids[i]->name,
		    n->kids[i]->namelen)) == NULL)
			return oom(ev);
		cp[np] = key;
		if ((rc = obj_fill(ev, tree, n->kids[i], cp, np + 1)) < 0)
			return rc;
	}
	return 0;
}

static int
eval_obj(struct ev *ev, struct node *n, struct rv **out)
{
	struct mtree	*t;
	int		 rc;

	if ((t = mt_new(ev, MT_MAP)) == NULL)
		return oom(ev);
	if ((rc = obj_fill(ev, t, n, NULL, 0)) < 0)
		return rc;
	if ((*out = mt_freeze(ev, t)) == NULL)
		return oom(ev);
	return 0;
}

struct multik {
	struct rv	**fr;
	struct rule	*r;
	struct vlist	 items;
};

static int
multi_elem(struct ev *ev, struct rv *v, void *c)
{
	return vlist_add(ev, &((struct multik *)c)->items, v);
}

static int
multi_sol(struct ev *ev, void *c)
{
	struct multik	*mk = c;

	return eval_term(ev, mk->fr, mk->r->key, multi_elem, mk);
}

static int
eval_multi(struct ev *ev, struct node *n, struct rv **out)
{
	struct multik	 mk;
	struct rv	*fbuf[FRAME_STACK];
	uint32_t	 i;
	int		 rc;

	memset(&mk, 0, sizeof(mk));
	for (i = 0; i < n->nrules; i++) {
		mk.r = n->rules[i];
		if ((mk.fr = frame_get(ev, mk.r->nslots, fbuf)) == NULL)
			return oom(ev);
		if ((rc = eval_body(ev, mk.fr, mk.r->body, 0, multi_sol, &mk)) <
		    0)
			return rc;
	}
	if ((*out = rv_set_from(ev->a, mk.items.v, mk.items.n)) == NULL)
		return oom(ev);
	return 0;
}

/* The value of a rule node, cached in the current `with` scope. */
static int
node_value(struct ev *ev, struct node *n, struct rv **out)
{
	struct rv	*c;
	int		 rc;

	*out = NULL;
	if ((c = ev->w.cache[n->id]) != NULL) {
		*out = c == UNDEF ? NULL : c;
		return 0;
	}
	if (ev->w.busy[n->id])
		return ev_fail(ev, EVE_LIMIT, NULL,
		    "rule %s depends on itself", n->path);
	ev->w.busy[n->id] = 1;
	switch (n->kind) {
	case NK_COMPLETE:
		rc = eval_complete(ev, n, out);
		break;
	case NK_MULTI:
		rc = eval_multi(ev, n, out);
		break;
	case NK_OBJ:
		rc = eval_obj(ev, n, out);
		break;
	default:
		rc = 0;
		break;
	}
	ev->w.busy[n->id] = 0;
	if (rc < 0)
		return rc;
	ev->w.cache[n->id] = *out != NULL ? *out : UNDEF;
	return 0;
}

/*
 * User functions.
 */
struct funck {
	struct rulek	 rk;
	struct rv	**args;
	uint32_t	 nargs;
};

static int
func_args_ok(struct ev *ev, void *c)
{
	struct funck	*fk = c;

	return eval_body(ev, fk->rk.fr, fk->rk.r->body, 0, rule_sol, &fk->rk);
}

struct fargk {
	struct funck	*fk;
	uint32_t	 i;
};

static int
func_arg_step(struct ev *ev, void *c)
{
	struct fargk	*ak = c, n;

	if (ak->i + 1 >= ak->fk->nargs)
		return func_args_ok(ev, ak->fk);
	n.fk = ak->fk;
	n.i = ak->i + 1;
	return unify_tv(ev, n.fk->rk.fr, n.fk->rk.r->args[n.i],
	    n.fk->args[n.i], func_arg_step, &n);
}

static int
call_func(struct ev *ev, struct node *n, struct rv **args, uint32_t nargs,
    vfn vk, void *ctx)
{
	struct funck	 fk;
	struct rv	*fbuf[FRAME_STACK];
	struct fargk	 ak;
	struct rule	*rr;
	uint32_t	 i;
	int		 rc;

	if (n == NULL || n->kind != NK_FUNC)
		return 0;
	if ((rc = tick(ev)) < 0)
		return rc;
	memset(&fk, 0, sizeof(fk));
	fk.rk.conflict_msg =
	    "functions must not produce multiple outputs for same inputs";
	fk.args = args;
	fk.nargs = nargs;
	for (i = 0; i < n->nrules; i++) {
		for (rr = n->rules[i]; rr != NULL; rr = rr->els) {
			if ((fk.rk.fr = frame_get(ev, rr->nslots, fbuf)) ==
			    NULL)
				return oom(ev);
			fk.rk.r = rr;
			fk.rk.any = false;
			if (nargs == 0)
				rc = func_args_ok(ev, &fk);
			else {
				ak.fk = &fk;
				ak.i = 0;
				rc = unify_tv(ev, fk.rk.fr, rr->args[0],
				    args[0], func_arg_step, &ak);
			}
			if (rc < 0)
				return rc;
			if (fk.rk.any)
				break;
		}
	}
	if (fk.rk.result == NULL && n->deflt != NULL) {
		if ((fk.rk.fr = new_frame(ev, n->deflt->nslots)) == NULL)
			return oom(ev);
		fk.rk.r = n->deflt;
		if ((rc = eval_first(ev, fk.rk.fr, n->deflt->value,
		    &fk.rk.result)) < 0)
			return rc;
	}
	if (fk.rk.result == NULL)
		return 0;
	return vk(ev, fk.rk.result, ctx);
}

/*
 * Queries.
 */
struct queryk {
	const struct query	*q;
	struct rv		**fr;
	row_fn			 row;
	void			*ctx;
	struct rv		**vals;
};

static int
query_sol(struct ev *ev, void *c)
{
	struct queryk	*qk = c;
	uint32_t	 i;
	int		 rc;

	for (i = 0; i < qk->q->nouts; i++)
		qk->vals[i] = qk->fr[qk->q->outs[i]];
	rc = qk->row(qk->ctx, qk->vals, qk->q->nouts);
	if (rc < 0)
		return ev_fail(ev, rc == SF_ELIMIT ? EVE_LIMIT : EVE_NOMEM,
		    NULL, "result rejected");
	return rc > 0 ? EV_STOP : 0;
}

/* The stack budget: 3 MiB, or half the stack limit when that is less. */
static size_t
default_stack(void)
{
	static size_t	 budget;
	struct rlimit	 rl;

	if (budget == 0) {
		budget = DEF_STACK;
		if (getrlimit(RLIMIT_STACK, &rl) == 0 &&
		    rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur / 2 < budget)
			budget = (size_t)rl.rlim_cur / 2;
		if (budget < 64 * 1024)
			budget = 64 * 1024;
	}
	return budget;
}

struct ev *
rego_ev_new(struct policy_c *pc, struct arena *a, struct rv *input,
    const struct ev_opts *o)
{
	struct ev	*ev;

	if (a->limit == 0)
		a->limit = o != NULL && o->max_mem != 0 ? o->max_mem : DEF_MEM;
	if ((ev = arena_calloc(a, 1, sizeof(*ev))) == NULL)
		return NULL;
	ev->pc = pc;
	ev->a = a;
	ev->w.input = input;
	ev->strict = o != NULL && o->strict;
	ev->max_steps = o != NULL && o->max_steps != 0 ? o->max_steps :
	    DEF_STEPS;
	ev->max_stack = o != NULL && o->max_stack != 0 ? o->max_stack :
	    default_stack();
	ev->w.cache = arena_calloc(a, pc->nnodes + 1, sizeof(*ev->w.cache));
	ev->w.busy = arena_calloc(a, pc->nnodes + 1, 1);
	if (ev->w.cache == NULL || ev->w.busy == NULL)
		return NULL;
	return ev;
}

int
rego_ev_run(struct ev *ev, const struct query *q, row_fn row, void *ctx,
    struct ev_result *res)
{
	struct queryk	 qk;
	char		 base;
	int		 rc;

	memset(res, 0, sizeof(*res));
	ev->stack_base = &base;
	ev->err = EVE_NONE;
	ev->have_loc = false;
	ev->msg[0] = '\0';
	qk.q = q;
	qk.fr = new_frame(ev, q->nslots);
	qk.vals = arena_calloc(ev->a, q->nouts + 1, sizeof(*qk.vals));
	qk.row = row;
	qk.ctx = ctx;
	if (qk.fr == NULL || qk.vals == NULL) {
		res->code = ev->a->over ? EVE_LIMIT : EVE_NOMEM;
		snprintf(res->msg, sizeof(res->msg), "%s",
		    ev->a->over ? "evaluation memory limit exceeded" :
		    "out of memory");
		return ev->a->over ? SF_ELIMIT : SF_ENOMEM;
	}
	rc = eval_body(ev, qk.fr, q->body, 0, query_sol, &qk);
	if (rc >= 0)
		return SF_OK;
	if (ev->err == EVE_NONE)
		ev->err = EVE_INTERNAL;
	res->code = ev->err;
	if (ev->have_loc)
		snprintf(res->msg, sizeof(res->msg), "%s:%u: %s: %s",
		    ev->errloc.file, ev->errloc.line, ev_err_code(ev->err),
		    ev->msg);
	else
		snprintf(res->msg, sizeof(res->msg), "%s: %s",
		    ev_err_code(ev->err), ev->msg);
	switch (ev->err) {
	case EVE_LIMIT:
		return SF_ELIMIT;
	case EVE_NOMEM:
		return SF_ENOMEM;
	default:
		return SF_EPOLICY;
	}
}

int
rego_eval(struct policy_c *pc, struct arena *a, const struct query *q,
    struct rv *input, const struct ev_opts *o, row_fn row, void *ctx,
    struct ev_result *res)
{
	struct ev	*ev;

	memset(res, 0, sizeof(*res));
	if ((ev = rego_ev_new(pc, a, input, o)) == NULL) {
		res->code = a->over ? EVE_LIMIT : EVE_NOMEM;
		snprintf(res->msg, sizeof(res->msg), "%s",
		    a->over ? "evaluation memory limit exceeded" :
		    "out of memory");
		return a->over ? SF_ELIMIT : SF_ENOMEM;
	}
	return rego_ev_run(ev, q, row, ctx, res);
}
