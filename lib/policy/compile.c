/*
 * compile.c - from parsed modules to an evaluable policy.
 *
 * Stages, in order (each error is "file:line:col: code: message"):
 *  1. the rule tree: every rule is placed at the node named by its
 *     package and the constant prefix of its head reference; the rest of
 *     the head (p[x].y) is its dynamic suffix.  Kind conflicts, multiple
 *     defaults and rules below complete rules are rejected.
 *  2. names: local variables (:=, some, every, function arguments) get
 *     frame slots by scope; other names resolve to rules of the package,
 *     imports, input/data, or become variables of the rule; calls resolve
 *     to builtins or user functions (unknown name or wrong arity is an
 *     error; network builtins are refused).
 *  3. safety: the expressions of every body are reordered so that each
 *     runs only when the variables it reads are bound (OPA's algorithm);
 *     anything left is an unsafe variable.
 *  4. recursion: a cycle in the rule dependency graph is an error.
 *  5. folding: ground composites become constants; pattern variables are
 *     recorded for unification.
 */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "policy/rego.h"

struct scope {
	struct scope	*up;
	const char	**names;
	int32_t		*slots;
	uint32_t	 n, cap;
};

struct cc {
	struct policy_c	*pc;
	struct arena	*a;
	char		*err;
	struct module	*mod;
	struct node	*pkgnode;
	struct node	*curnode;	/* node of the rule being compiled */
	struct scope	*scope;
	/* slots of the current frame */
	const char	**slotnames;
	uint32_t	 nslots, capslots;
	/* undeclared names -> slot (rule wide) */
	struct scope	 free;
	bool		 in_query;
};

static void
cerr(struct cc *cc, const struct loc *l, const char *code, const char *fmt,
    ...) __attribute__((format(printf, 4, 5)));

static void
cerr(struct cc *cc, const struct loc *l, const char *code, const char *fmt,
    ...)
{
	va_list	 ap;
	char	 msg[512];

	if (cc->err != NULL)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (l != NULL && l->file != NULL)
		sf_asprintf(&cc->err, "%s:%u:%u: %s: %s", l->file, l->line,
		    l->col, code, msg);
	else
		sf_asprintf(&cc->err, "%s: %s", code, msg);
	if (cc->err == NULL)
		cc->err = sf_strdup("out of memory");
}

static void *
calloc_cc(struct cc *cc, size_t n, size_t size)
{
	void	*p;

	if ((p = arena_calloc(cc->a, n == 0 ? 1 : n, size)) == NULL)
		cerr(cc, NULL, "rego_compile_error", "out of memory");
	return p;
}

/*
 * The rule tree.
 */
static struct node *
node_find(const struct node *n, const char *name, size_t len)
{
	uint32_t	 lo = 0, hi = n->nkids, mid;
	int		 c;
	size_t		 m;

	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		m = n->kids[mid]->namelen < len ? n->kids[mid]->namelen : len;
		c = memcmp(n->kids[mid]->name, name, m);
		if (c == 0)
			c = n->kids[mid]->namelen < len ? -1 :
			    n->kids[mid]->namelen > len ? 1 : 0;
		if (c == 0)
			return n->kids[mid];
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

static struct node *
node_child(struct cc *cc, struct node *n, const char *name, size_t len)
{
	struct node	*k, **kids;
	uint32_t	 i;

	if ((k = node_find(n, name, len)) != NULL)
		return k;
	if ((k = calloc_cc(cc, 1, sizeof(*k))) == NULL)
		return NULL;
	k->name = arena_strndup(cc->a, name, len);
	k->namelen = len;
	k->parent = n;
	if (sf_asprintf((char **)&k->path, "%s.%.*s", n->path, (int)len,
	    name) != SF_OK || k->name == NULL) {
		cerr(cc, NULL, "rego_compile_error", "out of memory");
		return NULL;
	}
	/* keep path in the arena */
	{
		char *tmp = (char *)k->path;

		k->path = arena_strdup(cc->a, tmp);
		free(tmp);
	}
	if ((kids = arena_grow(cc->a, n->kids, n->nkids, n->nkids + 1,
	    sizeof(*kids))) == NULL) {
		cerr(cc, NULL, "rego_compile_error", "out of memory");
		return NULL;
	}
	for (i = n->nkids; i > 0; i--) {
		const struct node *o = kids[i - 1];
		size_t m = o->namelen < len ? o->namelen : len;
		int c = memcmp(o->name, name, m);

		if (c == 0)
			c = o->namelen < len ? -1 : 1;
		if (c < 0)
			break;
		kids[i] = kids[i - 1];
	}
	kids[i] = k;
	n->kids = kids;
	n->nkids++;
	return k;
}

static bool
is_str_term(const struct term *t)
{
	return t->kind == T_VALUE && t->u.v->t == RV_STR;
}

/* Components of a rule head or package: name then operands. */
static uint32_t
ref_comps(struct term *t, struct term ***ops, const char **head)
{
	if (t->kind == T_VAR) {
		*head = t->u.var.name;
		*ops = NULL;
		return 0;
	}
	*head = t->u.ref.head->u.var.name;
	*ops = t->u.ref.ops;
	return t->u.ref.n;
}

static struct term *copy_term(struct cc *cc, const struct term *t);
static struct body *copy_body(struct cc *cc, const struct body *b);

static struct expr *
copy_expr(struct cc *cc, const struct expr *e)
{
	struct expr	*c;
	uint32_t	 i;

	if ((c = calloc_cc(cc, 1, sizeof(*c))) == NULL)
		return NULL;
	*c = *e;
	c->t = copy_term(cc, e->t);
	c->ekey = copy_term(cc, e->ekey);
	c->eval_ = copy_term(cc, e->eval_);
	c->edomain = copy_term(cc, e->edomain);
	c->ebody = copy_body(cc, e->ebody);
	if (e->nwith > 0) {
		c->withs = calloc_cc(cc, e->nwith, sizeof(*c->withs));
		for (i = 0; c->withs != NULL && i < e->nwith; i++) {
			c->withs[i] = calloc_cc(cc, 1, sizeof(struct with));
			if (c->withs[i] == NULL)
				return NULL;
			*c->withs[i] = *e->withs[i];
			c->withs[i]->target = copy_term(cc, e->withs[i]->target);
			c->withs[i]->value = copy_term(cc, e->withs[i]->value);
		}
	}
	if (e->ndecl > 0) {
		c->decl = calloc_cc(cc, e->ndecl, sizeof(*c->decl));
		for (i = 0; c->decl != NULL && i < e->ndecl; i++)
			c->decl[i] = copy_term(cc, e->decl[i]);
	}
	return c;
}

static struct body *
copy_body(struct cc *cc, const struct body *b)
{
	struct body	*c;
	uint32_t	 i;

	if (b == NULL)
		return NULL;
	if ((c = calloc_cc(cc, 1, sizeof(*c))) == NULL)
		return NULL;
	*c = *b;
	if ((c->e = calloc_cc(cc, b->n, sizeof(*c->e))) == NULL)
		return NULL;
	for (i = 0; i < b->n; i++)
		c->e[i] = copy_expr(cc, b->e[i]);
	return c;
}

static struct term **
copy_terms(struct cc *cc, struct term *const *ts, uint32_t n)
{
	struct term	**c;
	uint32_t	 i;

	if (n == 0 || ts == NULL)
		return NULL;
	if ((c = calloc_cc(cc, n, sizeof(*c))) == NULL)
		return NULL;
	for (i = 0; i < n; i++)
		c[i] = copy_term(cc, ts[i]);
	return c;
}

static struct term *
copy_term(struct cc *cc, const struct term *t)
{
	struct term	*c;

	if (t == NULL)
		return NULL;
	if ((c = calloc_cc(cc, 1, sizeof(*c))) == NULL)
		return NULL;
	*c = *t;
	switch (t->kind) {
	case T_REF:
		c->u.ref.head = copy_term(cc, t->u.ref.head);
		c->u.ref.ops = copy_terms(cc, t->u.ref.ops, t->u.ref.n);
		break;
	case T_ARRAY:
	case T_SET:
		c->u.coll.items = copy_terms(cc, t->u.coll.items, t->u.coll.n);
		break;
	case T_OBJECT:
		c->u.coll.items = copy_terms(cc, t->u.coll.items, t->u.coll.n);
		c->u.coll.vals = copy_terms(cc, t->u.coll.vals, t->u.coll.n);
		break;
	case T_ACOMP:
	case T_SCOMP:
	case T_OCOMP:
		c->u.comp.key = copy_term(cc, t->u.comp.key);
		c->u.comp.val = copy_term(cc, t->u.comp.val);
		c->u.comp.body = copy_body(cc, t->u.comp.body);
		break;
	case T_CALL:
		c->u.call.fn = copy_term(cc, t->u.call.fn);
		c->u.call.args = copy_terms(cc, t->u.call.args, t->u.call.n);
		break;
	default:
		break;
	}
	return c;
}

static const char *
kind_word(int k)
{
	switch (k) {
	case NK_COMPLETE: return "complete";
	case NK_MULTI: return "multi-value";
	case NK_OBJ: return "single-value";
	case NK_FUNC: return "function";
	}
	return "namespace";
}

static void
node_add_rule(struct cc *cc, struct node *n, struct rule *r, int kind)
{
	struct rule	**rs;

	if (n->kind != NK_NS && n->kind != kind) {
		cerr(cc, &r->loc, "rego_type_error",
		    "conflicting rules %s found (%s and %s)", n->path,
		    kind_word(n->kind), kind_word(kind));
		return;
	}
	if (kind == NK_FUNC) {
		if (n->kind == NK_FUNC && n->arity != r->nargs) {
			cerr(cc, &r->loc, "rego_type_error",
			    "conflicting rules %s found (functions of "
			    "different arity)", n->path);
			return;
		}
		n->arity = r->nargs;
	}
	n->kind = (uint8_t)kind;
	r->node = n;
	if (r->is_default) {
		if (n->deflt != NULL) {
			cerr(cc, &r->loc, "rego_type_error",
			    "multiple default rules %s found", n->path);
			return;
		}
		n->deflt = r;
		return;
	}
	if ((rs = arena_grow(cc->a, n->rules, n->nrules, n->nrules + 1,
	    sizeof(*rs))) == NULL) {
		cerr(cc, NULL, "rego_compile_error", "out of memory");
		return;
	}
	rs[n->nrules++] = r;
	n->rules = rs;
}

static void
place_rule(struct cc *cc, struct module *m, struct node *pkg, struct rule *r)
{
	struct term	**ops;
	const char	*head;
	struct node	*n;
	uint32_t	 nops, i;

	nops = ref_comps(r->ref, &ops, &head);
	if ((n = node_child(cc, pkg, head, strlen(head))) == NULL)
		return;
	n->pkgrule = true;
	for (i = 0; i < nops && is_str_term(ops[i]); i++)
		if ((n = node_child(cc, n, ops[i]->u.v->u.s,
		    ops[i]->u.v->n)) == NULL)
			return;
	(void)m;
	if (i < nops) {
		r->suffix = ops + i;
		r->nsuffix = nops - i;
	}
	if (r->kind == RK_FUNC) {
		if (i < nops) {
			cerr(cc, &r->loc, "rego_type_error",
			    "function references must be ground");
			return;
		}
		node_add_rule(cc, n, r, NK_FUNC);
		return;
	}
	if (r->is_default && i < nops) {
		cerr(cc, &r->loc, "rego_type_error",
		    "default rules must have ground references");
		return;
	}
	if (r->kind == RK_MULTI) {
		node_add_rule(cc, n, r, i < nops ? NK_OBJ : NK_MULTI);
		return;
	}
	if (i < nops) {
		r->kind = RK_OBJ;
		node_add_rule(cc, n, r, NK_OBJ);
	} else {
		r->kind = RK_COMPLETE;
		node_add_rule(cc, n, r, NK_COMPLETE);
	}
}

/* A rule node (not OBJ) must not have rules below it. */
static void
check_tree(struct cc *cc, struct node *n, struct node *owner)
{
	uint32_t	 i;

	if (cc->err != NULL)
		return;
	if (owner != NULL && n->kind != NK_NS) {
		struct rule *r = n->nrules > 0 ? n->rules[0] : n->deflt;

		cerr(cc, r != NULL ? &r->loc : NULL, "rego_type_error",
		    "rule %s conflicts with rule %s", owner->path, n->path);
		return;
	}
	if (owner == NULL && n->kind != NK_NS && n->kind != NK_OBJ)
		owner = n;
	n->has_rules = n->kind != NK_NS;
	for (i = 0; i < n->nkids; i++) {
		check_tree(cc, n->kids[i], owner);
		if (n->kids[i]->has_rules)
			n->has_rules = true;
	}
}

static void
number_nodes(struct node *n, uint32_t *id)
{
	uint32_t	 i;

	n->id = (*id)++;
	for (i = 0; i < n->nkids; i++)
		number_nodes(n->kids[i], id);
}

/*
 * Scopes and slots.
 */
static int32_t
new_slot(struct cc *cc, const char *name)
{
	const char	**ns;

	if (cc->nslots == cc->capslots) {
		uint32_t cap = cc->capslots == 0 ? 16 : cc->capslots * 2;

		if ((ns = arena_grow(cc->a, cc->slotnames, cc->nslots, cap,
		    sizeof(*ns))) == NULL) {
			cerr(cc, NULL, "rego_compile_error", "out of memory");
			return 0;
		}
		cc->slotnames = ns;
		cc->capslots = cap;
	}
	cc->slotnames[cc->nslots] = name;
	return (int32_t)cc->nslots++;
}

static void
scope_add(struct cc *cc, struct scope *s, const char *name, int32_t slot)
{
	if (s->n == s->cap) {
		uint32_t cap = s->cap == 0 ? 8 : s->cap * 2;

		s->names = arena_grow(cc->a, s->names, s->n, cap,
		    sizeof(*s->names));
		s->slots = arena_grow(cc->a, s->slots, s->n, cap,
		    sizeof(*s->slots));
		if (s->names == NULL || s->slots == NULL) {
			cerr(cc, NULL, "rego_compile_error", "out of memory");
			s->n = 0;
			return;
		}
		s->cap = cap;
	}
	s->names[s->n] = name;
	s->slots[s->n++] = slot;
}

static int32_t
scope_find(const struct scope *s, const char *name)
{
	uint32_t	 i;

	for (i = s->n; i > 0; i--)
		if (strcmp(s->names[i - 1], name) == 0)
			return s->slots[i - 1];
	return -1;
}

static int32_t
lookup_declared(struct cc *cc, const char *name)
{
	struct scope	*s;
	int32_t		 slot;

	for (s = cc->scope; s != NULL; s = s->up)
		if ((slot = scope_find(s, name)) >= 0)
			return slot;
	return -1;
}

static void
declare(struct cc *cc, struct term *v)
{
	if (v->u.var.wild) {
		v->u.var.slot = new_slot(cc, "_");
		return;
	}
	if (strcmp(v->u.var.name, "input") == 0 ||
	    strcmp(v->u.var.name, "data") == 0) {
		cerr(cc, &v->loc, "rego_compile_error",
		    "variables must not shadow %s (use a different variable "
		    "name)", v->u.var.name);
		return;
	}
	if (scope_find(cc->scope, v->u.var.name) >= 0) {
		cerr(cc, &v->loc, "rego_compile_error", "var %s assigned above",
		    v->u.var.name);
		return;
	}
	v->u.var.slot = new_slot(cc, v->u.var.name);
	v->u.var.decl = true;
	scope_add(cc, cc->scope, v->u.var.name, v->u.var.slot);
}

/* Declare every variable of an assignment/some pattern. */
static void
declare_pattern(struct cc *cc, struct term *t)
{
	uint32_t	 i;

	switch (t->kind) {
	case T_VAR:
		declare(cc, t);
		break;
	case T_ARRAY:
		for (i = 0; i < t->u.coll.n; i++)
			declare_pattern(cc, t->u.coll.items[i]);
		break;
	case T_OBJECT:
		for (i = 0; i < t->u.coll.n; i++)
			declare_pattern(cc, t->u.coll.vals[i]);
		break;
	case T_VALUE:
		break;
	default:
		cerr(cc, &t->loc, "rego_compile_error",
		    "cannot assign to %s", t->kind == T_REF ? "ref" :
		    t->kind == T_CALL ? "call" : "term");
		break;
	}
}

/*
 * Name resolution.
 */
static void resolve_term(struct cc *cc, struct term **tp);
static void resolve_body(struct cc *cc, struct body *b);

static struct import *
find_import(struct cc *cc, const char *name)
{
	uint32_t	 i;
	struct import	*im;
	struct term	**ops;
	const char	*head, *last;
	uint32_t	 n;

	if (cc->mod == NULL)
		return NULL;
	for (i = 0; i < cc->mod->nimports; i++) {
		im = cc->mod->imports[i];
		n = ref_comps(im->path, &ops, &head);
		if (strcmp(head, "data") != 0 && strcmp(head, "input") != 0)
			continue;
		if (n == 0 && im->alias == NULL)
			last = head;
		else if (im->alias != NULL)
			last = im->alias;
		else if (is_str_term(ops[n - 1]))
			last = ops[n - 1]->u.v->u.s;
		else
			continue;
		if (strcmp(last, name) == 0)
			return im;
	}
	return NULL;
}

/* A new data ref for the package path + name. */
static struct term *
pkg_ref(struct cc *cc, const char *name, const struct loc *l)
{
	struct term	*r, *h;
	struct module	*m = cc->mod;
	uint32_t	 i;

	if ((r = calloc_cc(cc, 1, sizeof(*r))) == NULL ||
	    (h = calloc_cc(cc, 1, sizeof(*h))) == NULL)
		return NULL;
	h->kind = T_VAR;
	h->loc = *l;
	h->u.var.name = "data";
	h->u.var.slot = SLOT_DATA;
	r->kind = T_REF;
	r->loc = *l;
	r->u.ref.head = h;
	r->u.ref.n = m->npkg + 1;
	if ((r->u.ref.ops = calloc_cc(cc, r->u.ref.n, sizeof(*r->u.ref.ops))) ==
	    NULL)
		return NULL;
	for (i = 0; i <= m->npkg; i++) {
		struct term *o = calloc_cc(cc, 1, sizeof(*o));

		if (o == NULL)
			return NULL;
		o->kind = T_VALUE;
		o->loc = *l;
		o->u.v = i < m->npkg ? m->pkgpath[i] :
		    rv_cstr(cc->a, name);
		r->u.ref.ops[i] = o;
	}
	return r;
}

/* Prepend the ops of prefix (a resolved ref or root var) to ref t. */
static struct term *
splice_ref(struct cc *cc, struct term *prefix, struct term **ops, uint32_t n,
    const struct loc *l)
{
	struct term	*r;
	uint32_t	 pn = prefix->kind == T_REF ? prefix->u.ref.n : 0, i;

	if (n == 0)
		return prefix;
	if ((r = calloc_cc(cc, 1, sizeof(*r))) == NULL)
		return NULL;
	r->kind = T_REF;
	r->loc = *l;
	r->u.ref.head = prefix->kind == T_REF ? prefix->u.ref.head : prefix;
	r->u.ref.n = pn + n;
	if ((r->u.ref.ops = calloc_cc(cc, pn + n, sizeof(*r->u.ref.ops))) ==
	    NULL)
		return NULL;
	for (i = 0; i < pn; i++)
		r->u.ref.ops[i] = prefix->u.ref.ops[i];
	for (i = 0; i < n; i++)
		r->u.ref.ops[pn + i] = ops[i];
	return r;
}

/* Resolve a bare name at the head of a term: local, rule, import, root. */
static struct term *
resolve_name(struct cc *cc, struct term *v)
{
	int32_t		 slot;
	struct node	*k;
	struct import	*im;
	struct term	*t;

	if (v->u.var.slot != -1)
		return v;	/* already resolved (shared head) */
	if (v->u.var.wild) {
		v->u.var.slot = new_slot(cc, "_");
		return v;
	}
	if ((slot = lookup_declared(cc, v->u.var.name)) >= 0) {
		v->u.var.slot = slot;
		return v;
	}
	if (strcmp(v->u.var.name, "data") == 0) {
		v->u.var.slot = SLOT_DATA;
		return v;
	}
	if (strcmp(v->u.var.name, "input") == 0) {
		v->u.var.slot = SLOT_INPUT;
		return v;
	}
	if (cc->pkgnode != NULL &&
	    (k = node_find(cc->pkgnode, v->u.var.name,
	    strlen(v->u.var.name))) != NULL && k->pkgrule)
		return pkg_ref(cc, v->u.var.name, &v->loc);
	if ((im = find_import(cc, v->u.var.name)) != NULL) {
		t = copy_term(cc, im->path);
		if (t == NULL)
			return NULL;
		if (t->kind == T_VAR)
			t->u.var.slot = strcmp(t->u.var.name, "data") == 0 ?
			    SLOT_DATA : SLOT_INPUT;
		else
			t->u.ref.head->u.var.slot =
			    strcmp(t->u.ref.head->u.var.name, "data") == 0 ?
			    SLOT_DATA : SLOT_INPUT;
		t->loc = v->loc;
		return t;
	}
	if ((slot = scope_find(&cc->free, v->u.var.name)) >= 0) {
		v->u.var.slot = slot;
		return v;
	}
	slot = new_slot(cc, v->u.var.name);
	scope_add(cc, &cc->free, v->u.var.name, slot);
	v->u.var.slot = slot;
	return v;
}

/* The node a data path names, following constant string operands. */
static struct node *
walk_const(struct node *n, struct term **ops, uint32_t nops, uint32_t *used,
    bool stop_at_rules)
{
	uint32_t	 i;
	struct node	*k;

	for (i = 0; i < nops; i++) {
		if (stop_at_rules && n->kind != NK_NS)
			break;
		if (!is_str_term(ops[i]))
			break;
		if ((k = node_find(n, ops[i]->u.v->u.s, ops[i]->u.v->n)) ==
		    NULL)
			break;
		n = k;
	}
	*used = i;
	return n;
}

static void
add_dep(struct cc *cc, struct node *to)
{
	struct node	*from = cc->curnode, **ds;
	uint32_t	 i;

	if (from == NULL || to == NULL)
		return;
	for (i = 0; i < from->ndeps; i++)
		if (from->deps[i] == to)
			return;
	if ((ds = arena_grow(cc->a, from->deps, from->ndeps, from->ndeps + 1,
	    sizeof(*ds))) == NULL)
		return;
	ds[from->ndeps++] = to;
	from->deps = ds;
}

static void
add_subtree_deps(struct cc *cc, struct node *n)
{
	uint32_t	 i;

	if (!n->has_rules)
		return;
	if (n->kind != NK_NS)
		add_dep(cc, n);
	for (i = 0; i < n->nkids; i++)
		add_subtree_deps(cc, n->kids[i]);
}

/* Rule nodes a data reference may reach (variables match any key). */
static void
match_deps(struct cc *cc, struct node *n, struct term **ops, uint32_t nops)
{
	struct node	*k;
	uint32_t	 i;

	if (!n->has_rules)
		return;
	if (n->kind != NK_NS) {
		add_dep(cc, n);
		return;
	}
	if (nops == 0) {
		add_subtree_deps(cc, n);
		return;
	}
	if (ops[0]->kind == T_VALUE) {
		if (ops[0]->u.v->t == RV_STR && (k = node_find(n,
		    ops[0]->u.v->u.s, ops[0]->u.v->n)) != NULL)
			match_deps(cc, k, ops + 1, nops - 1);
		return;
	}
	for (i = 0; i < n->nkids; i++)
		match_deps(cc, n->kids[i], ops + 1, nops - 1);
}

static void
data_ref_deps(struct cc *cc, struct term *t)
{
	struct node	*n;
	uint32_t	 used;

	n = walk_const(cc->pc->root, t->u.ref.ops, t->u.ref.n, &used, true);
	t->u.ref.node = n;
	t->u.ref.ndepth = used;
	match_deps(cc, cc->pc->root, t->u.ref.ops, t->u.ref.n);
}

static const char *
fn_name(struct cc *cc, struct term *fn, char *buf, size_t len)
{
	struct term	**ops;
	const char	*head;
	uint32_t	 n, i;
	size_t		 off;

	(void)cc;
	if (fn->kind != T_VAR && (fn->kind != T_REF ||
	    fn->u.ref.head->kind != T_VAR))
		return NULL;
	n = ref_comps(fn, &ops, &head);
	off = (size_t)snprintf(buf, len, "%s", head);
	for (i = 0; i < n && off < len; i++) {
		if (!is_str_term(ops[i]))
			return NULL;
		off += (size_t)snprintf(buf + off, len - off, ".%s",
		    ops[i]->u.v->u.s);
	}
	return off < len ? buf : NULL;
}

/*
 * Resolve a function name: user function node or builtin.  Returns false
 * when nothing matches.
 */
static bool
lookup_function(struct cc *cc, struct term *fn, struct node **np,
    const struct builtin **bp)
{
	struct term	**ops, *path;
	const char	*head;
	struct node	*n;
	struct import	*im;
	uint32_t	 nops, used;
	char		 name[512];

	*np = NULL;
	*bp = NULL;
	if (fn->kind != T_VAR && (fn->kind != T_REF ||
	    fn->u.ref.head->kind != T_VAR))
		return false;
	nops = ref_comps(fn, &ops, &head);
	if (lookup_declared(cc, head) >= 0)
		return false;
	n = NULL;
	if (strcmp(head, "data") == 0) {
		n = walk_const(cc->pc->root, ops, nops, &used, false);
		if (used != nops)
			n = NULL;
	} else if (cc->pkgnode != NULL &&
	    (n = node_find(cc->pkgnode, head, strlen(head))) != NULL &&
	    n->pkgrule) {
		n = walk_const(n, ops, nops, &used, false);
		if (used != nops)
			n = NULL;
	} else if ((im = find_import(cc, head)) != NULL) {
		struct term **iops;
		const char *ih;
		uint32_t in = ref_comps(im->path, &iops, &ih);

		n = NULL;
		if (strcmp(ih, "data") == 0) {
			n = walk_const(cc->pc->root, iops, in, &used, false);
			if (used != in)
				n = NULL;
			else {
				n = walk_const(n, ops, nops, &used, false);
				if (used != nops)
					n = NULL;
			}
		}
	} else
		n = NULL;
	if (n != NULL && n->kind == NK_FUNC) {
		*np = n;
		return true;
	}
	if (fn_name(cc, fn, name, sizeof(name)) != NULL &&
	    (*bp = builtin_find(name)) != NULL)
		return true;
	(void)path;
	return false;
}

static void
resolve_call(struct cc *cc, struct term *t)
{
	struct node		*n;
	const struct builtin	*b;
	uint32_t		 i, arity;
	char			 name[512];

	if (!lookup_function(cc, t->u.call.fn, &n, &b)) {
		if (fn_name(cc, t->u.call.fn, name, sizeof(name)) == NULL)
			snprintf(name, sizeof(name), "(expression)");
		cerr(cc, &t->loc, "rego_type_error", "undefined function %s",
		    name);
		return;
	}
	if (n != NULL) {
		t->u.call.ck = CK_FUNC;
		t->u.call.fnode = n;
		t->u.call.fname = n->path;
		arity = n->arity;
		add_dep(cc, n);
	} else {
		if (b->flags & BI_ABSENT) {
			cerr(cc, &t->loc, "rego_type_error",
			    "%s: network builtins are not available in this "
			    "engine (policies run without network access)",
			    b->name);
			return;
		}
		t->u.call.ck = b->fn == NULL && (strcmp(b->name, "eq") == 0 ||
		    strcmp(b->name, "assign") == 0) ? CK_UNIFY : CK_BUILTIN;
		t->u.call.bi = b;
		t->u.call.fname = b->name;
		arity = (uint32_t)b->arity;
	}
	if (t->u.call.n != arity && t->u.call.n != arity + 1) {
		cerr(cc, &t->loc, "rego_type_error",
		    "%s: arity mismatch: function has %u argument%s, got %u",
		    t->u.call.fname, arity, arity == 1 ? "" : "s",
		    t->u.call.n);
		return;
	}
	if (b != NULL && (strcmp(b->name, "eq") == 0 ||
	    strcmp(b->name, "assign") == 0) && t->u.call.n != 2) {
		cerr(cc, &t->loc, "rego_type_error", "%s: arity mismatch",
		    b->name);
		return;
	}
	for (i = 0; i < t->u.call.n; i++)
		resolve_term(cc, &t->u.call.args[i]);
}

static void
push_scope(struct cc *cc, struct scope *s)
{
	memset(s, 0, sizeof(*s));
	s->up = cc->scope;
	cc->scope = s;
}

static void
pop_scope(struct cc *cc)
{
	cc->scope = cc->scope->up;
}

static void
resolve_term(struct cc *cc, struct term **tp)
{
	struct term	*t = *tp, *h;
	struct scope	 s;
	uint32_t	 i;

	if (t == NULL || cc->err != NULL)
		return;
	switch (t->kind) {
	case T_VALUE:
		break;
	case T_VAR:
		*tp = resolve_name(cc, t);
		if (*tp != NULL && (*tp)->kind == T_REF &&
		    (*tp)->u.ref.head->u.var.slot == SLOT_DATA)
			data_ref_deps(cc, *tp);
		else if (*tp != NULL && (*tp)->kind == T_VAR &&
		    (*tp)->u.var.slot == SLOT_DATA) {
			add_subtree_deps(cc, cc->pc->root);
		}
		break;
	case T_REF:
		h = t->u.ref.head;
		if (h->kind == T_VAR) {
			h = resolve_name(cc, h);
			if (h == NULL)
				return;
			if (h->kind == T_REF) {
				t = splice_ref(cc, h, t->u.ref.ops, t->u.ref.n,
				    &t->loc);
				if (t == NULL)
					return;
				*tp = t;
			} else
				t->u.ref.head = h;
		} else
			resolve_term(cc, &t->u.ref.head);
		for (i = 0; i < t->u.ref.n; i++)
			resolve_term(cc, &t->u.ref.ops[i]);
		if (t->u.ref.head->kind == T_VAR &&
		    t->u.ref.head->u.var.slot == SLOT_DATA)
			data_ref_deps(cc, t);
		break;
	case T_ARRAY:
	case T_SET:
		for (i = 0; i < t->u.coll.n; i++)
			resolve_term(cc, &t->u.coll.items[i]);
		break;
	case T_OBJECT:
		for (i = 0; i < t->u.coll.n; i++) {
			resolve_term(cc, &t->u.coll.items[i]);
			resolve_term(cc, &t->u.coll.vals[i]);
		}
		break;
	case T_ACOMP:
	case T_SCOMP:
	case T_OCOMP:
		push_scope(cc, &s);
		resolve_body(cc, t->u.comp.body);
		resolve_term(cc, &t->u.comp.key);
		resolve_term(cc, &t->u.comp.val);
		pop_scope(cc);
		break;
	case T_CALL:
		resolve_call(cc, t);
		break;
	}
}

static bool
is_call_to(const struct term *t, const char *name)
{
	return t != NULL && t->kind == T_CALL && t->u.call.fn->kind == T_VAR &&
	    strcmp(t->u.call.fn->u.var.name, name) == 0;
}

/* Resolve the target of `with`. */
static void
resolve_with(struct cc *cc, struct with *w)
{
	struct term	*t = w->target, **ops = NULL;
	const char	*head;
	uint32_t	 nops, i, used;
	struct node	*n;
	const struct builtin *b;
	struct term	*full;

	if (t->kind != T_VAR && (t->kind != T_REF ||
	    t->u.ref.head->kind != T_VAR)) {
		cerr(cc, &w->loc, "rego_compile_error", "with keyword target "
		    "must reference existing input, data, or a function");
		return;
	}
	nops = ref_comps(t, &ops, &head);
	full = NULL;
	if (strcmp(head, "input") == 0) {
		w->kind = WK_INPUT;
	} else if (strcmp(head, "data") == 0) {
		w->kind = WK_DATA;
	} else if (cc->pkgnode != NULL &&
	    (n = node_find(cc->pkgnode, head, strlen(head))) != NULL &&
	    n->pkgrule && lookup_declared(cc, head) < 0) {
		w->kind = WK_DATA;
		full = pkg_ref(cc, head, &t->loc);
	} else if (find_import(cc, head) != NULL &&
	    lookup_declared(cc, head) < 0) {
		struct term *v = copy_term(cc, t);

		if (v == NULL)
			return;
		if (v->kind == T_REF)
			v->u.ref.head->u.var.slot = -1;
		else
			v->u.var.slot = -1;
		full = v;
		resolve_term(cc, &full);
		if (full == NULL)
			return;
		if (full->kind == T_VAR)
			w->kind = full->u.var.slot == SLOT_DATA ? WK_DATA :
			    WK_INPUT;
		else
			w->kind = full->u.ref.head->u.var.slot == SLOT_DATA ?
			    WK_DATA : WK_INPUT;
		ops = full->kind == T_REF ? full->u.ref.ops : NULL;
		nops = full->kind == T_REF ? full->u.ref.n : 0;
		full = NULL;
	} else if (lookup_function(cc, t, &n, &b)) {
		w->kind = WK_FUNC;
		w->fname = n != NULL ? n->path : b->name;
		goto fvalue;
	} else {
		cerr(cc, &w->loc, "rego_compile_error", "with keyword target "
		    "must reference existing input, data, or a function");
		return;
	}
	if (full != NULL) {
		full = splice_ref(cc, full, ops, nops, &t->loc);
		if (full == NULL)
			return;
		ops = full->u.ref.ops;
		nops = full->u.ref.n;
	}
	for (i = 0; i < nops; i++) {
		if (ops[i]->kind != T_VALUE) {
			cerr(cc, &w->loc, "rego_compile_error",
			    "with keyword target must be a ground reference");
			return;
		}
	}
	if (w->kind == WK_DATA) {
		n = walk_const(cc->pc->root, ops, nops, &used, false);
		if (used == nops && n->kind == NK_FUNC) {
			w->kind = WK_FUNC;
			w->fname = n->path;
			goto fvalue;
		}
	}
	w->npath = nops;
	if (nops > 0 && (w->path = calloc_cc(cc, nops, sizeof(*w->path))) ==
	    NULL)
		return;
	for (i = 0; i < nops; i++)
		w->path[i] = ops[i]->u.v;
	resolve_term(cc, &w->value);
	return;
fvalue:
	if (lookup_function(cc, w->value, &w->rnode, &w->rbi)) {
		if (w->rnode != NULL)
			add_dep(cc, w->rnode);
		return;
	}
	resolve_term(cc, &w->value);
}

/* some-in patterns: variables are declared, other terms evaluated. */
static void
declare_some_pattern(struct cc *cc, struct term **tp)
{
	struct term	*t = *tp;
	uint32_t	 i;

	switch (t->kind) {
	case T_VAR:
		declare(cc, t);
		break;
	case T_ARRAY:
		for (i = 0; i < t->u.coll.n; i++)
			declare_some_pattern(cc, &t->u.coll.items[i]);
		break;
	case T_OBJECT:
		for (i = 0; i < t->u.coll.n; i++) {
			resolve_term(cc, &t->u.coll.items[i]);
			declare_some_pattern(cc, &t->u.coll.vals[i]);
		}
		break;
	default:
		resolve_term(cc, tp);
		break;
	}
}

/* some [k,] v in xs  ->  v = xs[k] (k a fresh variable when absent). */
static void
rewrite_some_in(struct cc *cc, struct expr *e)
{
	struct term	*key, *ref, *call, *fn, *dom = e->edomain;

	resolve_term(cc, &e->edomain);
	if (cc->err != NULL)
		return;
	dom = e->edomain;
	key = e->ekey;
	if (key == NULL) {
		if ((key = calloc_cc(cc, 1, sizeof(*key))) == NULL)
			return;
		key->kind = T_VAR;
		key->loc = e->loc;
		key->u.var.name = "_";
		key->u.var.wild = true;
		key->u.var.slot = -1;
	}
	declare_some_pattern(cc, &key);
	declare_some_pattern(cc, &e->eval_);
	if (dom->kind == T_REF) {
		struct term *k1 = key;

		ref = splice_ref(cc, dom, &k1, 1, &dom->loc);
	} else {
		if ((ref = calloc_cc(cc, 1, sizeof(*ref))) == NULL)
			return;
		ref->kind = T_REF;
		ref->loc = dom->loc;
		ref->u.ref.head = dom;
		ref->u.ref.n = 1;
		if ((ref->u.ref.ops = calloc_cc(cc, 1, sizeof(*ref->u.ref.ops)))
		    == NULL)
			return;
		ref->u.ref.ops[0] = key;
	}
	if (ref == NULL)
		return;
	if ((call = calloc_cc(cc, 1, sizeof(*call))) == NULL ||
	    (fn = calloc_cc(cc, 1, sizeof(*fn))) == NULL)
		return;
	fn->kind = T_VAR;
	fn->loc = e->loc;
	fn->u.var.name = "eq";
	fn->u.var.slot = -1;
	call->kind = T_CALL;
	call->loc = e->loc;
	call->u.call.fn = fn;
	call->u.call.n = 2;
	call->u.call.ck = CK_UNIFY;
	call->u.call.bi = builtin_find("eq");
	call->u.call.fname = "eq";
	if ((call->u.call.args = calloc_cc(cc, 2, sizeof(*call->u.call.args)))
	    == NULL)
		return;
	call->u.call.args[0] = e->eval_;
	call->u.call.args[1] = ref;
	e->kind = E_TERM;
	e->t = call;
	e->edomain = e->ekey = e->eval_ = NULL;
}

static void
resolve_expr(struct cc *cc, struct expr *e)
{
	struct scope	 s;
	uint32_t	 i;

	if (cc->err != NULL)
		return;
	/* with values are evaluated in the enclosing scope */
	for (i = 0; i < e->nwith; i++)
		resolve_with(cc, e->withs[i]);
	switch (e->kind) {
	case E_SOME:
		if (e->edomain != NULL) {
			rewrite_some_in(cc, e);
			break;
		}
		for (i = 0; i < e->ndecl; i++)
			declare(cc, e->decl[i]);
		break;
	case E_EVERY:
		resolve_term(cc, &e->edomain);
		push_scope(cc, &s);
		if (e->ekey != NULL) {
			if (e->ekey->kind != T_VAR) {
				cerr(cc, &e->ekey->loc, "rego_parse_error",
				    "every: key must be a variable");
				break;
			}
			declare(cc, e->ekey);
		}
		if (e->eval_->kind != T_VAR) {
			cerr(cc, &e->eval_->loc, "rego_parse_error",
			    "every: value must be a variable");
			break;
		}
		declare(cc, e->eval_);
		resolve_body(cc, e->ebody);
		pop_scope(cc);
		break;
	case E_TERM:
		if (is_call_to(e->t, "assign")) {
			if (e->neg) {
				cerr(cc, &e->loc, "rego_compile_error",
				    "cannot negate an assignment");
				break;
			}
			resolve_term(cc, &e->t->u.call.args[1]);
			declare_pattern(cc, e->t->u.call.args[0]);
			resolve_term(cc, &e->t->u.call.args[0]);
			if (cc->err != NULL)
				break;
			e->t->u.call.ck = CK_UNIFY;
			e->t->u.call.bi = builtin_find("assign");
			e->t->u.call.fname = "assign";
			break;
		}
		resolve_term(cc, &e->t);
		break;
	}
}

static void
resolve_body(struct cc *cc, struct body *b)
{
	uint32_t	 i, j;

	if (b == NULL)
		return;
	for (i = 0; i < b->n && cc->err == NULL; i++)
		resolve_expr(cc, b->e[i]);
	/* drop declarations and print() calls */
	for (i = 0, j = 0; i < b->n; i++) {
		struct expr *e = b->e[i];

		if (e->kind == E_SOME && e->t == NULL)
			continue;
		if (e->kind == E_TERM && e->t->kind == T_CALL &&
		    e->t->u.call.bi != NULL &&
		    strcmp(e->t->u.call.bi->name, "print") == 0)
			continue;
		b->e[j++] = e;
	}
	b->n = j;
}

/*
 * Safety: bitsets over the frame's slots.
 */
struct bset {
	uint64_t	*w;
	uint32_t	 nw;
};

static bool
bs_new(struct cc *cc, struct bset *s)
{
	s->nw = (cc->nslots + 63) / 64;
	if (s->nw == 0)
		s->nw = 1;
	s->w = arena_calloc(cc->a, s->nw, sizeof(*s->w));
	if (s->w == NULL)
		cerr(cc, NULL, "rego_compile_error", "out of memory");
	return s->w != NULL;
}

static bool
bs_copy(struct cc *cc, struct bset *d, const struct bset *s)
{
	if (!bs_new(cc, d))
		return false;
	memcpy(d->w, s->w, s->nw * sizeof(*s->w));
	return true;
}

static void
bs_add(struct bset *s, int32_t i)
{
	if (i >= 0 && (uint32_t)i / 64 < s->nw)
		s->w[i / 64] |= (uint64_t)1 << (i % 64);
}

static bool
bs_has(const struct bset *s, int32_t i)
{
	return i >= 0 && (uint32_t)i / 64 < s->nw &&
	    (s->w[i / 64] & ((uint64_t)1 << (i % 64))) != 0;
}

static void
bs_or(struct bset *d, const struct bset *s)
{
	uint32_t	 i;

	for (i = 0; i < d->nw && i < s->nw; i++)
		d->w[i] |= s->w[i];
}

static bool
bs_subset(const struct bset *a, const struct bset *b)
{
	uint32_t	 i;

	for (i = 0; i < a->nw; i++)
		if ((a->w[i] & ~(i < b->nw ? b->w[i] : 0)) != 0)
			return false;
	return true;
}

static int32_t
bs_first_missing(const struct bset *a, const struct bset *b)
{
	uint32_t	 i, j;

	for (i = 0; i < a->nw; i++)
		for (j = 0; j < 64; j++)
			if (bs_has(a, (int32_t)(i * 64 + j)) &&
			    !bs_has(b, (int32_t)(i * 64 + j)))
				return (int32_t)(i * 64 + j);
	return -1;
}

static void body_all_vars(const struct body *b, struct bset *out);

/* Every variable in t, closures included. */
static void
term_all_vars(const struct term *t, struct bset *out)
{
	uint32_t	 i;

	if (t == NULL)
		return;
	switch (t->kind) {
	case T_VAR:
		bs_add(out, t->u.var.slot);
		break;
	case T_REF:
		term_all_vars(t->u.ref.head, out);
		for (i = 0; i < t->u.ref.n; i++)
			term_all_vars(t->u.ref.ops[i], out);
		break;
	case T_ARRAY:
	case T_SET:
		for (i = 0; i < t->u.coll.n; i++)
			term_all_vars(t->u.coll.items[i], out);
		break;
	case T_OBJECT:
		for (i = 0; i < t->u.coll.n; i++) {
			term_all_vars(t->u.coll.items[i], out);
			term_all_vars(t->u.coll.vals[i], out);
		}
		break;
	case T_ACOMP:
	case T_SCOMP:
	case T_OCOMP:
		term_all_vars(t->u.comp.key, out);
		term_all_vars(t->u.comp.val, out);
		body_all_vars(t->u.comp.body, out);
		break;
	case T_CALL:
		for (i = 0; i < t->u.call.n; i++)
			term_all_vars(t->u.call.args[i], out);
		break;
	}
}

static void
expr_all_vars(const struct expr *e, struct bset *out)
{
	uint32_t	 i;

	term_all_vars(e->t, out);
	term_all_vars(e->ekey, out);
	term_all_vars(e->eval_, out);
	term_all_vars(e->edomain, out);
	body_all_vars(e->ebody, out);
	for (i = 0; i < e->nwith; i++)
		term_all_vars(e->withs[i]->value, out);
}

static void
body_all_vars(const struct body *b, struct bset *out)
{
	uint32_t	 i;

	if (b == NULL)
		return;
	for (i = 0; i < b->n; i++)
		expr_all_vars(b->e[i], out);
}

/*
 * Variables of t outside closures ("own"); closures contribute their
 * variables that are visible in the enclosing body (vis), when vis given.
 */
static void
term_vars(struct cc *cc, const struct term *t, struct bset *out,
    const struct bset *vis)
{
	uint32_t	 i;
	struct bset	 cv;

	if (t == NULL)
		return;
	switch (t->kind) {
	case T_VAR:
		bs_add(out, t->u.var.slot);
		break;
	case T_REF:
		term_vars(cc, t->u.ref.head, out, vis);
		for (i = 0; i < t->u.ref.n; i++)
			term_vars(cc, t->u.ref.ops[i], out, vis);
		break;
	case T_ARRAY:
	case T_SET:
		for (i = 0; i < t->u.coll.n; i++)
			term_vars(cc, t->u.coll.items[i], out, vis);
		break;
	case T_OBJECT:
		for (i = 0; i < t->u.coll.n; i++) {
			term_vars(cc, t->u.coll.items[i], out, vis);
			term_vars(cc, t->u.coll.vals[i], out, vis);
		}
		break;
	case T_ACOMP:
	case T_SCOMP:
	case T_OCOMP:
		if (vis == NULL || !bs_new(cc, &cv))
			break;
		term_all_vars(t, &cv);
		for (i = 0; i < cv.nw; i++)
			out->w[i] |= cv.w[i] & vis->w[i];
		break;
	case T_CALL:
		for (i = 0; i < t->u.call.n; i++)
			term_vars(cc, t->u.call.args[i], out, vis);
		break;
	}
}

static void
expr_vars(struct cc *cc, const struct expr *e, struct bset *out,
    const struct bset *vis)
{
	uint32_t	 i;
	struct bset	 cv;

	term_vars(cc, e->t, out, vis);
	for (i = 0; i < e->nwith; i++)
		term_vars(cc, e->withs[i]->value, out, vis);
	if (e->kind == E_EVERY) {
		term_vars(cc, e->edomain, out, vis);
		if (vis != NULL && bs_new(cc, &cv)) {
			body_all_vars(e->ebody, &cv);
			for (i = 0; i < cv.nw; i++)
				out->w[i] |= cv.w[i] & vis->w[i];
		}
	}
}

/* Pattern variables: the term itself, array items, object values. */
static void
pattern_vars(const struct term *t, struct bset *out)
{
	uint32_t	 i;

	switch (t->kind) {
	case T_VAR:
		bs_add(out, t->u.var.slot);
		break;
	case T_ARRAY:
		for (i = 0; i < t->u.coll.n; i++)
			pattern_vars(t->u.coll.items[i], out);
		break;
	case T_OBJECT:
		for (i = 0; i < t->u.coll.n; i++)
			pattern_vars(t->u.coll.vals[i], out);
		break;
	default:
		break;
	}
}

/* Iteration variables of references whose head is safe. */
static void
ref_outputs(struct cc *cc, const struct term *t, const struct bset *safe,
    struct bset *out)
{
	uint32_t	 i;
	const struct term *h;

	if (t == NULL)
		return;
	switch (t->kind) {
	case T_REF:
		h = t->u.ref.head;
		if (h->kind == T_VAR && h->u.var.slot >= 0 &&
		    !bs_has(safe, h->u.var.slot) && !bs_has(out, h->u.var.slot))
			return;
		if (h->kind != T_VAR)
			ref_outputs(cc, h, safe, out);
		for (i = 0; i < t->u.ref.n; i++) {
			const struct term *o = t->u.ref.ops[i];

			if (o->kind == T_VAR || o->kind == T_ARRAY ||
			    o->kind == T_OBJECT)
				pattern_vars(o, out);
			else
				ref_outputs(cc, o, safe, out);
		}
		break;
	case T_ARRAY:
	case T_SET:
		for (i = 0; i < t->u.coll.n; i++)
			ref_outputs(cc, t->u.coll.items[i], safe, out);
		break;
	case T_OBJECT:
		for (i = 0; i < t->u.coll.n; i++) {
			ref_outputs(cc, t->u.coll.items[i], safe, out);
			ref_outputs(cc, t->u.coll.vals[i], safe, out);
		}
		break;
	case T_CALL:
		for (i = 0; i < t->u.call.n; i++)
			ref_outputs(cc, t->u.call.args[i], safe, out);
		break;
	default:
		break;
	}
}

static bool
all_safe(struct cc *cc, const struct term *t, const struct bset *safe,
    const struct bset *out)
{
	struct bset	 v;
	uint32_t	 i;

	if (!bs_new(cc, &v))
		return false;
	term_vars(cc, t, &v, NULL);
	/* closure vars are not considered here */
	for (i = 0; i < v.nw; i++)
		if ((v.w[i] & ~(safe->w[i] | out->w[i])) != 0)
			return false;
	return true;
}


static bool
unsafe_var(const struct term *t, const struct bset *safe,
    const struct bset *out)
{
	return t->kind == T_VAR && t->u.var.slot >= 0 &&
	    !bs_has(safe, t->u.var.slot) && !bs_has(out, t->u.var.slot);
}

static bool
same_key(const struct term *a, const struct term *b)
{
	if (a->kind == T_VALUE && b->kind == T_VALUE)
		return rv_eq(a->u.v, b->u.v);
	if (a->kind == T_VAR && b->kind == T_VAR)
		return a->u.var.slot == b->u.var.slot;
	return false;
}

/* One round of unification-driven outputs; true when out grew. */
static bool
unify_outputs(struct cc *cc, const struct term *a, const struct term *b,
    const struct bset *safe, struct bset *out)
{
	uint32_t	 i, j;
	bool		 grew = false;

	if (unsafe_var(a, safe, out)) {
		if (!unsafe_var(b, safe, out) && all_safe(cc, b, safe, out)) {
			bs_add(out, a->u.var.slot);
			return true;
		}
		return false;
	}
	if (unsafe_var(b, safe, out))
		return unify_outputs(cc, b, a, safe, out);
	if (a->kind == T_ARRAY && b->kind == T_ARRAY) {
		if (a->u.coll.n != b->u.coll.n)
			return false;
		for (i = 0; i < a->u.coll.n; i++)
			if (unify_outputs(cc, a->u.coll.items[i],
			    b->u.coll.items[i], safe, out))
				grew = true;
		return grew;
	}
	if (a->kind == T_OBJECT && b->kind == T_OBJECT) {
		for (i = 0; i < a->u.coll.n; i++)
			for (j = 0; j < b->u.coll.n; j++)
				if (same_key(a->u.coll.items[i],
				    b->u.coll.items[j]) &&
				    unify_outputs(cc, a->u.coll.vals[i],
				    b->u.coll.vals[j], safe, out))
					grew = true;
		return grew;
	}
	if ((a->kind == T_ARRAY || a->kind == T_OBJECT) &&
	    !all_safe(cc, a, safe, out) && all_safe(cc, b, safe, out)) {
		struct bset pv;

		if (!bs_new(cc, &pv))
			return false;
		pattern_vars(a, &pv);
		for (i = 0; i < pv.nw; i++) {
			if ((pv.w[i] & ~(safe->w[i] | out->w[i])) != 0)
				grew = true;
			out->w[i] |= pv.w[i];
		}
		return grew;
	}
	if ((b->kind == T_ARRAY || b->kind == T_OBJECT) &&
	    !all_safe(cc, b, safe, out) && all_safe(cc, a, safe, out))
		return unify_outputs(cc, b, a, safe, out);
	return false;
}

static bool
is_eq_call(const struct term *t)
{
	return t != NULL && t->kind == T_CALL && t->u.call.bi != NULL &&
	    (strcmp(t->u.call.bi->name, "eq") == 0 ||
	    strcmp(t->u.call.bi->name, "assign") == 0);
}

static uint32_t
call_arity(const struct term *t)
{
	if (t->u.call.ck == CK_FUNC)
		return t->u.call.fnode->arity;
	if (t->u.call.bi != NULL)
		return (uint32_t)t->u.call.bi->arity;
	return t->u.call.n;
}

static void
expr_outputs(struct cc *cc, const struct expr *e, const struct bset *safe,
    struct bset *out)
{
	const struct term	*t = e->t;
	uint32_t		 i;

	if (e->neg || e->kind != E_TERM)
		return;
	ref_outputs(cc, t, safe, out);
	if (is_eq_call(t)) {
		while (unify_outputs(cc, t->u.call.args[0], t->u.call.args[1],
		    safe, out))
			;
		return;
	}
	if (t->kind == T_CALL && t->u.call.n == call_arity(t) + 1 &&
	    t->u.call.n > 0) {
		struct bset	 in, pv;

		if (!bs_new(cc, &in) || !bs_new(cc, &pv))
			return;
		for (i = 0; i + 1 < t->u.call.n; i++)
			term_vars(cc, t->u.call.args[i], &in, NULL);
		if (!bs_subset(&in, safe)) {
			/* inputs may become safe through ref outputs */
			struct bset tmp;

			if (!bs_copy(cc, &tmp, safe))
				return;
			bs_or(&tmp, out);
			if (!bs_subset(&in, &tmp))
				return;
		}
		pattern_vars(t->u.call.args[t->u.call.n - 1], &pv);
		for (i = 0; i < pv.nw; i++)
			out->w[i] |= pv.w[i] & ~in.w[i];
	}
}

static void reorder_closures_term(struct cc *cc, struct term *t,
    const struct bset *safe, const struct bset *vis);

static void
check_head_safe(struct cc *cc, const struct term *t, const struct bset *safe,
    const struct loc *l)
{
	struct bset	 v, s2;
	int32_t		 m;

	if (t == NULL || cc->err != NULL || !bs_new(cc, &v) ||
	    !bs_copy(cc, &s2, safe))
		return;
	term_vars(cc, t, &v, NULL);
	/* iteration in head terms (q := xs[_]) binds while evaluating */
	{
		struct bset o;

		if (!bs_new(cc, &o))
			return;
		ref_outputs(cc, t, safe, &o);
		bs_or(&s2, &o);
		safe = &s2;
	}
	if ((m = bs_first_missing(&v, safe)) >= 0)
		cerr(cc, l, "rego_unsafe_var_error", "var %s is unsafe",
		    cc->slotnames[m]);
}

/*
 * Reorder body b for safety.  safe (in/out) holds the variables bound on
 * entry and, on return, those bound after the body.  vis holds the
 * variables visible from enclosing bodies (closure sharing).
 */
static void
reorder_body(struct cc *cc, struct body *b, struct bset *safe,
    const struct bset *outer_vis, const struct bset *extra_vis)
{
	struct bset	 vis, ev, out, need;
	struct expr	**placed;
	bool		*done;
	uint32_t	 i, nplaced = 0, before;
	int32_t		 m;

	if (b == NULL || cc->err != NULL)
		return;
	if (!bs_new(cc, &vis))
		return;
	for (i = 0; i < b->n; i++)
		expr_vars(cc, b->e[i], &vis, NULL);
	if (outer_vis != NULL)
		bs_or(&vis, outer_vis);
	if (extra_vis != NULL)
		bs_or(&vis, extra_vis);
	placed = calloc_cc(cc, b->n, sizeof(*placed));
	done = calloc_cc(cc, b->n, sizeof(*done));
	if (placed == NULL || done == NULL)
		return;
	do {
		before = nplaced;
		for (i = 0; i < b->n; i++) {
			if (done[i])
				continue;
			if (!bs_new(cc, &ev) || !bs_new(cc, &out) ||
			    !bs_new(cc, &need))
				return;
			expr_vars(cc, b->e[i], &ev, &vis);
			expr_outputs(cc, b->e[i], safe, &out);
			memcpy(need.w, ev.w, ev.nw * sizeof(*ev.w));
			for (uint32_t k = 0; k < need.nw; k++)
				need.w[k] &= ~out.w[k];
			if (!bs_subset(&need, safe))
				continue;
			/* closures see the variables bound so far */
			{
				struct expr *e = b->e[i];
				uint32_t k;

				reorder_closures_term(cc, e->t, safe, &vis);
				for (k = 0; k < e->nwith; k++)
					reorder_closures_term(cc,
					    e->withs[k]->value, safe, &vis);
				if (e->kind == E_EVERY) {
					struct bset es;

					reorder_closures_term(cc, e->edomain,
					    safe, &vis);
					if (!bs_copy(cc, &es, safe))
						return;
					if (e->ekey != NULL)
						bs_add(&es,
						    e->ekey->u.var.slot);
					bs_add(&es, e->eval_->u.var.slot);
					reorder_body(cc, e->ebody, &es, &vis,
					    NULL);
				}
			}
			bs_or(safe, &out);
			done[i] = true;
			placed[nplaced++] = b->e[i];
		}
	} while (nplaced != before && nplaced < b->n);
	if (nplaced < b->n) {
		for (i = 0; i < b->n; i++) {
			if (done[i])
				continue;
			if (!bs_new(cc, &ev))
				return;
			expr_vars(cc, b->e[i], &ev, &vis);
			if ((m = bs_first_missing(&ev, safe)) >= 0) {
				cerr(cc, &b->e[i]->loc, "rego_unsafe_var_error",
				    "var %s is unsafe", cc->slotnames[m]);
				return;
			}
		}
		cerr(cc, &b->loc, "rego_unsafe_var_error",
		    "body has unsafe expressions");
		return;
	}
	memcpy(b->e, placed, b->n * sizeof(*placed));
}

static void
reorder_closures_term(struct cc *cc, struct term *t, const struct bset *safe,
    const struct bset *vis)
{
	uint32_t	 i;
	struct bset	 s;

	if (t == NULL || cc->err != NULL)
		return;
	switch (t->kind) {
	case T_REF:
		reorder_closures_term(cc, t->u.ref.head, safe, vis);
		for (i = 0; i < t->u.ref.n; i++)
			reorder_closures_term(cc, t->u.ref.ops[i], safe, vis);
		break;
	case T_ARRAY:
	case T_SET:
		for (i = 0; i < t->u.coll.n; i++)
			reorder_closures_term(cc, t->u.coll.items[i], safe,
			    vis);
		break;
	case T_OBJECT:
		for (i = 0; i < t->u.coll.n; i++) {
			reorder_closures_term(cc, t->u.coll.items[i], safe,
			    vis);
			reorder_closures_term(cc, t->u.coll.vals[i], safe, vis);
		}
		break;
	case T_CALL:
		for (i = 0; i < t->u.call.n; i++)
			reorder_closures_term(cc, t->u.call.args[i], safe, vis);
		break;
	case T_ACOMP:
	case T_SCOMP:
	case T_OCOMP:
		if (!bs_copy(cc, &s, safe))
			return;
		{
			struct bset hv;

			/* head variables are visible to nested closures */
			if (!bs_new(cc, &hv))
				return;
			term_vars(cc, t->u.comp.key, &hv, NULL);
			term_vars(cc, t->u.comp.val, &hv, NULL);
			reorder_body(cc, t->u.comp.body, &s, vis, &hv);
		}
		reorder_closures_term(cc, t->u.comp.key, &s, vis);
		reorder_closures_term(cc, t->u.comp.val, &s, vis);
		check_head_safe(cc, t->u.comp.key, &s, &t->loc);
		check_head_safe(cc, t->u.comp.val, &s, &t->loc);
		break;
	default:
		break;
	}
}

/*
 * Folding and pattern variables for the evaluator.
 */
static void fold_body(struct cc *cc, struct body *b);

static void
set_pvars(struct cc *cc, struct term *t)
{
	struct bset	 pv;
	uint32_t	 i, n = 0;

	if (!bs_new(cc, &pv))
		return;
	pattern_vars(t, &pv);
	for (i = 0; i < cc->nslots; i++)
		if (bs_has(&pv, (int32_t)i))
			n++;
	t->nvars = 0;
	if (n == 0)
		return;
	if ((t->vars = calloc_cc(cc, n, sizeof(*t->vars))) == NULL)
		return;
	for (i = 0; i < cc->nslots; i++)
		if (bs_has(&pv, (int32_t)i))
			t->vars[t->nvars++] = i;
}

static void
fold_term(struct cc *cc, struct term *t)
{
	uint32_t	 i;
	bool		 ground = true;
	struct rv	*v, **items;
	struct rv_kv	*kv;
	bool		 conflict;

	if (t == NULL || cc->err != NULL)
		return;
	switch (t->kind) {
	case T_VALUE:
		t->ground = 1;
		return;
	case T_VAR:
		set_pvars(cc, t);
		return;
	case T_REF:
		fold_term(cc, t->u.ref.head);
		for (i = 0; i < t->u.ref.n; i++)
			fold_term(cc, t->u.ref.ops[i]);
		return;
	case T_ACOMP:
	case T_SCOMP:
	case T_OCOMP:
		fold_term(cc, t->u.comp.key);
		fold_term(cc, t->u.comp.val);
		fold_body(cc, t->u.comp.body);
		return;
	case T_CALL:
		for (i = 0; i < t->u.call.n; i++)
			fold_term(cc, t->u.call.args[i]);
		return;
	case T_ARRAY:
	case T_SET:
		for (i = 0; i < t->u.coll.n; i++) {
			fold_term(cc, t->u.coll.items[i]);
			if (t->u.coll.items[i]->kind != T_VALUE)
				ground = false;
		}
		break;
	case T_OBJECT:
		for (i = 0; i < t->u.coll.n; i++) {
			fold_term(cc, t->u.coll.items[i]);
			fold_term(cc, t->u.coll.vals[i]);
			if (t->u.coll.items[i]->kind != T_VALUE ||
			    t->u.coll.vals[i]->kind != T_VALUE)
				ground = false;
		}
		break;
	}
	if (!ground) {
		set_pvars(cc, t);
		return;
	}
	if (t->kind == T_ARRAY) {
		if ((v = rv_arr(cc->a, t->u.coll.n)) == NULL)
			return;
		for (i = 0; i < t->u.coll.n; i++)
			v->u.a[i] = t->u.coll.items[i]->u.v;
	} else if (t->kind == T_SET) {
		if ((items = calloc_cc(cc, t->u.coll.n, sizeof(*items))) == NULL)
			return;
		for (i = 0; i < t->u.coll.n; i++)
			items[i] = t->u.coll.items[i]->u.v;
		v = rv_set_from(cc->a, items, t->u.coll.n);
	} else {
		if ((kv = calloc_cc(cc, t->u.coll.n, sizeof(*kv))) == NULL)
			return;
		for (i = 0; i < t->u.coll.n; i++) {
			kv[i].k = t->u.coll.items[i]->u.v;
			kv[i].v = t->u.coll.vals[i]->u.v;
		}
		v = rv_obj_from(cc->a, kv, t->u.coll.n, &conflict);
		if (v == NULL && conflict)
			return;	/* left to the evaluator (conflict) */
	}
	if (v == NULL) {
		cerr(cc, NULL, "rego_compile_error", "out of memory");
		return;
	}
	t->kind = T_VALUE;
	t->u.v = v;
	t->ground = 1;
	t->nvars = 0;
}

static void
fold_expr(struct cc *cc, struct expr *e)
{
	uint32_t	 i;

	fold_term(cc, e->t);
	fold_term(cc, e->ekey);
	fold_term(cc, e->eval_);
	fold_term(cc, e->edomain);
	fold_body(cc, e->ebody);
	for (i = 0; i < e->nwith; i++)
		fold_term(cc, e->withs[i]->value);
}

static void
fold_body(struct cc *cc, struct body *b)
{
	uint32_t	 i;

	if (b == NULL)
		return;
	for (i = 0; i < b->n; i++)
		fold_expr(cc, b->e[i]);
}

/*
 * Rules.
 */
static void
begin_frame(struct cc *cc, struct scope *top)
{
	cc->slotnames = NULL;
	cc->nslots = cc->capslots = 0;
	memset(&cc->free, 0, sizeof(cc->free));
	memset(top, 0, sizeof(*top));
	cc->scope = top;
}

/* Function arguments: variables shared by name, declared in the frame. */
static void
declare_arg(struct cc *cc, struct term *t)
{
	uint32_t	 i;
	int32_t		 slot;

	switch (t->kind) {
	case T_VAR:
		if (t->u.var.wild) {
			t->u.var.slot = new_slot(cc, "_");
			break;
		}
		if ((slot = scope_find(cc->scope, t->u.var.name)) < 0) {
			slot = new_slot(cc, t->u.var.name);
			scope_add(cc, cc->scope, t->u.var.name, slot);
		}
		t->u.var.slot = slot;
		break;
	case T_ARRAY:
		for (i = 0; i < t->u.coll.n; i++)
			declare_arg(cc, t->u.coll.items[i]);
		break;
	case T_OBJECT:
		for (i = 0; i < t->u.coll.n; i++) {
			if (t->u.coll.items[i]->kind != T_VALUE) {
				cerr(cc, &t->u.coll.items[i]->loc,
				    "rego_compile_error", "function argument "
				    "object keys must be constants");
				return;
			}
			declare_arg(cc, t->u.coll.vals[i]);
		}
		break;
	case T_SET:
		for (i = 0; i < t->u.coll.n; i++)
			if (t->u.coll.items[i]->kind != T_VALUE) {
				cerr(cc, &t->loc, "rego_compile_error",
				    "function argument sets must be constants");
				return;
			}
		break;
	case T_VALUE:
		break;
	default:
		cerr(cc, &t->loc, "rego_compile_error", "function arguments "
		    "must be variables, constants or arrays and objects of "
		    "them");
		break;
	}
}

static void
compile_rule(struct cc *cc, struct rule *r)
{
	struct scope	 top;
	struct bset	 safe, hv;
	uint32_t	 i;

	begin_frame(cc, &top);
	cc->curnode = r->node;
	if (r->kind == RK_FUNC)
		for (i = 0; i < r->nargs; i++)
			declare_arg(cc, r->args[i]);
	resolve_body(cc, r->body);
	for (i = 0; i < r->nsuffix; i++)
		resolve_term(cc, &r->suffix[i]);
	resolve_term(cc, &r->key);
	resolve_term(cc, &r->value);
	if (cc->err != NULL)
		return;
	if (!bs_new(cc, &safe) || !bs_new(cc, &hv))
		return;
	for (i = 0; i < r->nargs; i++)
		term_vars(cc, r->args[i], &safe, NULL);
	for (i = 0; i < r->nsuffix; i++)
		term_vars(cc, r->suffix[i], &hv, NULL);
	term_vars(cc, r->key, &hv, NULL);
	term_vars(cc, r->value, &hv, NULL);
	reorder_body(cc, r->body, &safe, NULL, &hv);
	if (cc->err != NULL)
		return;
	{
		struct bset vis;

		if (!bs_new(cc, &vis))
			return;
		body_all_vars(r->body, &vis);
		bs_or(&vis, &hv);
		for (i = 0; i < r->nsuffix; i++)
			reorder_closures_term(cc, r->suffix[i], &safe, &vis);
		reorder_closures_term(cc, r->key, &safe, &vis);
		reorder_closures_term(cc, r->value, &safe, &vis);
	}
	for (i = 0; i < r->nsuffix; i++)
		check_head_safe(cc, r->suffix[i], &safe, &r->loc);
	check_head_safe(cc, r->key, &safe, &r->loc);
	check_head_safe(cc, r->value, &safe, &r->loc);
	if (r->is_default && r->value != NULL) {
		struct bset v;

		if (!bs_new(cc, &v))
			return;
		term_vars(cc, r->value, &v, NULL);
		if (bs_first_missing(&v, &safe) >= 0 || (r->kind == RK_FUNC &&
		    cc->nslots > 0 && r->value->kind != T_VALUE &&
		    r->value->kind != T_ARRAY && r->value->kind != T_OBJECT &&
		    r->value->kind != T_SET)) {
			cerr(cc, &r->loc, "rego_type_error",
			    "default rule value cannot contain %s",
			    "variables");
			return;
		}
	}
	for (i = 0; i < r->nargs; i++)
		fold_term(cc, r->args[i]);
	fold_body(cc, r->body);
	for (i = 0; i < r->nsuffix; i++)
		fold_term(cc, r->suffix[i]);
	fold_term(cc, r->key);
	fold_term(cc, r->value);
	r->const_value = r->value != NULL && r->value->kind == T_VALUE;
	r->nslots = cc->nslots;
	r->slotnames = cc->slotnames;
}

/* DFS over node dependencies; reports the first cycle found. */
static bool
find_cycle(struct cc *cc, struct node *n, struct node **stack, uint32_t depth)
{
	uint32_t	 i, j;

	if (n->mark == 2)
		return false;
	if (n->mark == 1) {
		char	 buf[1024];
		size_t	 off = 0;
		struct rule *r = n->nrules > 0 ? n->rules[0] : n->deflt;

		for (j = 0; j < depth && stack[j] != n; j++)
			;
		buf[0] = '\0';
		for (; j < depth && off < sizeof(buf); j++)
			off += (size_t)snprintf(buf + off, sizeof(buf) - off,
			    "%s -> ", stack[j]->path);
		if (off < sizeof(buf))
			snprintf(buf + off, sizeof(buf) - off, "%s", n->path);
		cerr(cc, r != NULL ? &r->loc : NULL, "rego_recursion_error",
		    "rule %s is recursive: %s", n->path, buf);
		return true;
	}
	if (depth >= 4096)
		return false;
	n->mark = 1;
	stack[depth] = n;
	for (i = 0; i < n->ndeps; i++)
		if (find_cycle(cc, n->deps[i], stack, depth + 1))
			return true;
	n->mark = 2;
	return false;
}

static bool
all_cycles(struct cc *cc, struct node *n, struct node **stack)
{
	uint32_t	 i;

	if (n->kind != NK_NS && find_cycle(cc, n, stack, 0))
		return true;
	for (i = 0; i < n->nkids; i++)
		if (all_cycles(cc, n->kids[i], stack))
			return true;
	return false;
}

static bool
module_pkgpath(struct cc *cc, struct module *m)
{
	struct term	**ops;
	const char	*head;
	uint32_t	 n, i;

	n = ref_comps(m->pkg, &ops, &head);
	if ((m->pkgpath = calloc_cc(cc, n + 1, sizeof(*m->pkgpath))) == NULL)
		return false;
	if ((m->pkgpath[0] = rv_cstr(cc->a, head)) == NULL)
		return false;
	for (i = 0; i < n; i++) {
		if (!is_str_term(ops[i])) {
			cerr(cc, &m->pkg->loc, "rego_parse_error",
			    "package path must be made of strings");
			return false;
		}
		m->pkgpath[i + 1] = ops[i]->u.v;
	}
	m->npkg = n + 1;
	return true;
}

static void
check_imports(struct cc *cc, struct module *m)
{
	uint32_t	 i, j, n;
	struct term	**ops;
	const char	*head;
	bool		 regov1 = false, future = false;

	for (i = 0; i < m->nimports; i++) {
		struct import *im = m->imports[i];

		n = ref_comps(im->path, &ops, &head);
		if (strcmp(head, "rego") == 0) {
			if (n != 1 || !is_str_term(ops[0]) ||
			    strcmp(ops[0]->u.v->u.s, "v1") != 0) {
				cerr(cc, &im->loc, "rego_parse_error",
				    "invalid import, must be `rego.v1`");
				return;
			}
			regov1 = true;
			continue;
		}
		if (strcmp(head, "future") == 0) {
			if (n < 1 || !is_str_term(ops[0]) ||
			    strcmp(ops[0]->u.v->u.s, "keywords") != 0) {
				cerr(cc, &im->loc, "rego_parse_error",
				    "unexpected import path, must begin with "
				    "one of: {data, future, input, rego}");
				return;
			}
			future = true;
			continue;
		}
		if (strcmp(head, "data") != 0 && strcmp(head, "input") != 0) {
			cerr(cc, &im->loc, "rego_parse_error",
			    "unexpected import path, must begin with one of: "
			    "{data, future, input, rego}");
			return;
		}
		for (j = 0; j < n; j++)
			if (!is_str_term(ops[j])) {
				cerr(cc, &im->loc, "rego_parse_error",
				    "invalid path: path elements must be "
				    "strings");
				return;
			}
		for (j = 0; j < i; j++) {
			struct import *o = m->imports[j];
			struct term **oo;
			const char *oh, *a1, *a2;
			uint32_t on = ref_comps(o->path, &oo, &oh);

			if (strcmp(oh, "data") != 0 && strcmp(oh, "input") != 0)
				continue;
			a1 = im->alias != NULL ? im->alias : n > 0 ?
			    ops[n - 1]->u.v->u.s : head;
			a2 = o->alias != NULL ? o->alias : on > 0 ?
			    oo[on - 1]->u.v->u.s : oh;
			if (strcmp(a1, a2) == 0) {
				cerr(cc, &im->loc, "rego_compile_error",
				    "import must not shadow import %s", a2);
				return;
			}
		}
	}
	(void)regov1;
	(void)future;
}

int
rego_compile(struct policy_c *pc, char **err)
{
	struct cc	 cc;
	struct node	**stack = NULL;
	uint32_t	 i, j, id = 0;
	struct rule	*r, *e;

	*err = NULL;
	memset(&cc, 0, sizeof(cc));
	cc.pc = pc;
	cc.a = &pc->a;
	if (pc->root == NULL) {
		if ((pc->root = calloc_cc(&cc, 1, sizeof(*pc->root))) == NULL)
			goto out;
		pc->root->name = "data";
		pc->root->namelen = 4;
		pc->root->path = "data";
	}
	/* 1. packages and the rule tree */
	for (i = 0; i < pc->nmods && cc.err == NULL; i++) {
		struct module *m = pc->mods[i];
		struct node *n = pc->root;

		if (!module_pkgpath(&cc, m))
			break;
		check_imports(&cc, m);
		for (j = 0; j < m->npkg && n != NULL; j++)
			n = node_child(&cc, n, m->pkgpath[j]->u.s,
			    m->pkgpath[j]->n);
		if (n == NULL)
			break;
		n->is_pkg = true;
		for (j = 0; j < m->nrules && cc.err == NULL; j++)
			place_rule(&cc, m, n, m->rules[j]);
	}
	if (cc.err == NULL)
		check_tree(&cc, pc->root, NULL);
	if (cc.err != NULL)
		goto out;
	number_nodes(pc->root, &id);
	pc->nnodes = id;
	/* 2-3, 5. each rule (and its else chain) */
	for (i = 0; i < pc->nmods && cc.err == NULL; i++) {
		struct module *m = pc->mods[i];
		struct node *n = pc->root;

		for (j = 0; j < m->npkg; j++)
			n = node_find(n, m->pkgpath[j]->u.s, m->pkgpath[j]->n);
		cc.mod = m;
		cc.pkgnode = n;
		for (j = 0; j < m->nrules && cc.err == NULL; j++) {
			r = m->rules[j];
			/* else branches get their own copy of the head */
			for (e = r->els; e != NULL; e = e->els) {
				e->ref = r->ref;
				e->node = r->node;
				e->kind = r->kind;
				e->args = copy_terms(&cc, r->args, r->nargs);
				e->suffix = copy_terms(&cc, r->suffix,
				    r->nsuffix);
			}
			compile_rule(&cc, r);
			for (e = r->els; e != NULL && cc.err == NULL;
			    e = e->els)
				compile_rule(&cc, e);
		}
	}
	if (cc.err != NULL)
		goto out;
	/* 4. recursion */
	if ((stack = calloc(4097, sizeof(*stack))) == NULL) {
		cerr(&cc, NULL, "rego_compile_error", "out of memory");
		goto out;
	}
	all_cycles(&cc, pc->root, stack);
out:
	free(stack);
	if (cc.err != NULL) {
		*err = cc.err;
		return SF_EPOLICY;
	}
	return SF_OK;
}

/* Names in the query's top body, excluding closures and wildcards. */
static void
query_outputs(struct cc *cc, struct query *q)
{
	struct bset	 v;
	uint32_t	 i, n = 0;

	if (!bs_new(cc, &v))
		return;
	for (i = 0; i < q->body->n; i++)
		expr_vars(cc, q->body->e[i], &v, NULL);
	for (i = 0; i < cc->nslots; i++)
		if (bs_has(&v, (int32_t)i) && strcmp(cc->slotnames[i], "_") &&
		    strncmp(cc->slotnames[i], "__local", 7) != 0)
			n++;
	if ((q->outs = calloc_cc(cc, n, sizeof(*q->outs))) == NULL)
		return;
	for (i = 0; i < cc->nslots; i++)
		if (bs_has(&v, (int32_t)i) && strcmp(cc->slotnames[i], "_") &&
		    strncmp(cc->slotnames[i], "__local", 7) != 0)
			q->outs[q->nouts++] = i;
}

int
rego_compile_query(struct policy_c *pc, struct arena *a, const char *src,
    size_t len, struct query **out, char **err)
{
	struct cc	 cc;
	struct scope	 top;
	struct body	*b;
	struct query	*q;
	struct bset	 safe;
	int		 rc;

	*out = NULL;
	*err = NULL;
	if ((rc = rego_parse_query(a, src, len, &b, err)) != SF_OK)
		return rc;
	memset(&cc, 0, sizeof(cc));
	cc.pc = pc;
	cc.a = a;
	cc.in_query = true;
	begin_frame(&cc, &top);
	if ((q = calloc_cc(&cc, 1, sizeof(*q))) == NULL)
		goto out;
	q->body = b;
	resolve_body(&cc, b);
	if (cc.err == NULL && b->n == 0)
		cerr(&cc, &b->loc, "rego_compile_error", "empty query");
	if (cc.err != NULL)
		goto out;
	if (!bs_new(&cc, &safe))
		goto out;
	reorder_body(&cc, b, &safe, NULL, NULL);
	if (cc.err != NULL)
		goto out;
	fold_body(&cc, b);
	q->nslots = cc.nslots;
	q->slotnames = cc.slotnames;
	query_outputs(&cc, q);
out:
	if (cc.err != NULL) {
		*err = cc.err;
		return SF_EPOLICY;
	}
	*out = q;
	return SF_OK;
}

int
rego_term_value(struct arena *a, const struct term *t, struct rv **out)
{
	struct rv	**items, *v;
	struct rv_kv	*kv;
	uint32_t	 i, n;
	bool		 conflict;
	int		 rc;

	*out = NULL;
	switch (t->kind) {
	case T_VALUE:
		*out = t->u.v;
		return SF_OK;
	case T_ARRAY:
	case T_SET:
		n = t->u.coll.n;
		if ((items = arena_calloc(a, n + 1, sizeof(*items))) == NULL)
			return SF_ENOMEM;
		for (i = 0; i < n; i++)
			if ((rc = rego_term_value(a, t->u.coll.items[i],
			    &items[i])) != SF_OK)
				return rc;
		if (t->kind == T_SET)
			v = rv_set_from(a, items, n);
		else if ((v = rv_arr(a, n)) != NULL && n > 0)
			memcpy(v->u.a, items, n * sizeof(*items));
		break;
	case T_OBJECT:
		n = t->u.coll.n;
		if ((kv = arena_calloc(a, n + 1, sizeof(*kv))) == NULL)
			return SF_ENOMEM;
		for (i = 0; i < n; i++)
			if ((rc = rego_term_value(a, t->u.coll.items[i],
			    &kv[i].k)) != SF_OK ||
			    (rc = rego_term_value(a, t->u.coll.vals[i],
			    &kv[i].v)) != SF_OK)
				return rc;
		v = rv_obj_from(a, kv, n, &conflict);
		if (v == NULL && conflict)
			return SF_EINVAL;
		break;
	default:
		return SF_EINVAL;
	}
	if (v == NULL)
		return SF_ENOMEM;
	*out = v;
	return SF_OK;
}
