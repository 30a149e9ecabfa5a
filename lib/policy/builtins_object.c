/*
 * builtins_object.c - object.*, json.* and walk.
 *
 * Values are immutable: every update builds new objects in the
 * evaluation arena.  JSON text follows Go's encoding/json as OPA emits
 * it: object keys sorted, sets as arrays, '<', '>' and '&' escaped.
 */
#include <stdlib.h>
#include <string.h>

#include "policy/rego.h"

#define A	EVA(ev)

static int
oom_rc(struct rv *v, struct rv **out)
{
	*out = v;
	return v == NULL ? SF_ENOMEM : SF_OK;
}

/* A copy of o without the keys for which drop() says so. */
static struct rv *
obj_select(struct ev *ev, const struct rv *o, const struct rv *keys,
    bool keep)
{
	struct rv_kv	*kv;
	uint32_t	 i, j, n = 0;
	bool		 in;

	if ((kv = arena_alloc(A, (o->n + 1) * sizeof(*kv))) == NULL)
		return NULL;
	for (i = 0; i < o->n; i++) {
		in = false;
		if (keys->t == RV_OBJ)
			in = rv_obj_get(keys, o->u.o[i].k) != NULL;
		else if (keys->t == RV_SET)
			in = rv_set_has(keys, o->u.o[i].k);
		else
			for (j = 0; j < keys->n && !in; j++)
				in = rv_eq(keys->u.a[j], o->u.o[i].k);
		if (in == keep)
			kv[n++] = o->u.o[i];
	}
	return rv_obj_from(A, kv, n, NULL);
}

static int
keys_arg(struct ev *ev, const char *fn, struct rv *const *args)
{
	int	 rc;

	if ((rc = bi_arg_type(ev, fn, args, 0, RV_OBJ)) != SF_OK)
		return rc;
	if (args[1]->t != RV_ARR && args[1]->t != RV_SET &&
	    args[1]->t != RV_OBJ)
		return bi_type_err(ev, fn, 2, "one of {object, set, array}",
		    args[1]);
	return SF_OK;
}

static int
bi_object_remove(struct ev *ev, struct rv *const *args, struct rv **out)
{
	int	 rc;

	if ((rc = keys_arg(ev, "object.remove", args)) != SF_OK)
		return rc;
	return oom_rc(obj_select(ev, args[0], args[1], false), out);
}

static int
bi_object_filter(struct ev *ev, struct rv *const *args, struct rv **out)
{
	int	 rc;

	if ((rc = keys_arg(ev, "object.filter", args)) != SF_OK)
		return rc;
	return oom_rc(obj_select(ev, args[0], args[1], true), out);
}

static int
bi_object_get(struct ev *ev, struct rv *const *args, struct rv **out)
{
	struct rv	*v = args[0];
	uint32_t	 i;
	int		 rc;

	if ((rc = bi_arg_type(ev, "object.get", args, 0, RV_OBJ)) != SF_OK)
		return rc;
	if (args[1]->t != RV_ARR) {
		v = rv_obj_get(args[0], args[1]);
		*out = v != NULL ? v : args[2];
		return SF_OK;
	}
	for (i = 0; i < args[1]->n && v != NULL; i++) {
		if (v->t != RV_OBJ && v->t != RV_ARR) {
			v = NULL;
			break;
		}
		v = rv_index(v, args[1]->u.a[i]);
	}
	*out = v != NULL ? v : args[2];
	return SF_OK;
}

static int
bi_object_keys(struct ev *ev, struct rv *const *args, struct rv **out)
{
	struct rv	**items;
	uint32_t	 i;
	int		 rc;

	if ((rc = bi_arg_type(ev, "object.keys", args, 0, RV_OBJ)) != SF_OK)
		return rc;
	if ((items = arena_alloc(A, (args[0]->n + 1) * sizeof(*items))) ==
	    NULL)
		return SF_ENOMEM;
	for (i = 0; i < args[0]->n; i++)
		items[i] = args[0]->u.o[i].k;
	return oom_rc(rv_set_from(A, items, args[0]->n), out);
}

/* Recursive union: b wins, nested objects merge. */
static struct rv *
union2(struct ev *ev, const struct rv *a, const struct rv *b)
{
	struct rv_kv	*kv;
	struct rv	*av;
	uint32_t	 i, n = 0;

	if ((kv = arena_alloc(A, (a->n + b->n + 1) * sizeof(*kv))) == NULL)
		return NULL;
	for (i = 0; i < a->n; i++)
		if (rv_obj_get(b, a->u.o[i].k) == NULL)
			kv[n++] = a->u.o[i];
	for (i = 0; i < b->n; i++) {
		kv[n] = b->u.o[i];
		av = rv_obj_get(a, b->u.o[i].k);
		if (av != NULL && av->t == RV_OBJ && b->u.o[i].v->t == RV_OBJ &&
		    (kv[n].v = union2(ev, av, b->u.o[i].v)) == NULL)
			return NULL;
		n++;
	}
	return rv_obj_from(A, kv, n, NULL);
}

static int
bi_object_union(struct ev *ev, struct rv *const *args, struct rv **out)
{
	int	 rc;

	if ((rc = bi_arg_type(ev, "object.union", args, 0, RV_OBJ)) != SF_OK ||
	    (rc = bi_arg_type(ev, "object.union", args, 1, RV_OBJ)) != SF_OK)
		return rc;
	return oom_rc(union2(ev, args[0], args[1]), out);
}

static int
bi_object_union_n(struct ev *ev, struct rv *const *args, struct rv **out)
{
	struct rv	*acc = &rv_empty_obj_v;
	uint32_t	 i;
	int		 rc;

	if ((rc = bi_arg_type(ev, "object.union_n", args, 0, RV_ARR)) != SF_OK)
		return rc;
	for (i = 0; i < args[0]->n; i++) {
		if (args[0]->u.a[i]->t != RV_OBJ)
			return bi_type_errf(ev, "object.union_n: operand 1 "
			    "must be array of objects but got array containing "
			    "%s", rv_type_name(args[0]->u.a[i]));
		if ((acc = union2(ev, acc, args[0]->u.a[i])) == NULL)
			return SF_ENOMEM;
	}
	*out = acc;
	return SF_OK;
}

static bool is_subset(const struct rv *super, const struct rv *sub);

static bool
array_slice_of(const struct rv *super, const struct rv *sub)
{
	uint32_t	 i, j;

	if (sub->n == 0)
		return true;
	for (i = 0; i + sub->n <= super->n; i++) {
		for (j = 0; j < sub->n; j++)
			if (!rv_eq(super->u.a[i + j], sub->u.a[j]))
				break;
		if (j == sub->n)
			return true;
	}
	return false;
}

static bool
is_subset(const struct rv *super, const struct rv *sub)
{
	uint32_t	 i, j;
	const struct rv	*sv;

	if (super->t == RV_OBJ && sub->t == RV_OBJ) {
		for (i = 0; i < sub->n; i++) {
			if ((sv = rv_obj_get(super, sub->u.o[i].k)) == NULL)
				return false;
			if ((sv->t == RV_OBJ || sv->t == RV_SET ||
			    sv->t == RV_ARR) && sv->t == sub->u.o[i].v->t) {
				if (!is_subset(sv, sub->u.o[i].v))
					return false;
			} else if (!rv_eq(sv, sub->u.o[i].v))
				return false;
		}
		return true;
	}
	if (super->t == RV_SET && sub->t == RV_SET) {
		for (i = 0; i < sub->n; i++)
			if (!rv_set_has(super, sub->u.a[i]))
				return false;
		return true;
	}
	if (super->t == RV_ARR && sub->t == RV_ARR)
		return array_slice_of(super, sub);
	if (super->t == RV_ARR && sub->t == RV_SET) {
		for (i = 0; i < sub->n; i++) {
			for (j = 0; j < super->n; j++)
				if (rv_eq(super->u.a[j], sub->u.a[i]))
					break;
			if (j == super->n)
				return false;
		}
		return true;
	}
	return rv_eq(super, sub);
}

static int
bi_object_subset(struct ev *ev, struct rv *const *args, struct rv **out)
{
	const struct rv	*a = args[0], *b = args[1];

	if (!((a->t == RV_OBJ && b->t == RV_OBJ) ||
	    (a->t == RV_SET && b->t == RV_SET) ||
	    (a->t == RV_ARR && (b->t == RV_ARR || b->t == RV_SET))))
		return bi_type_errf(ev, "object.subset: both arguments must "
		    "be of the same type or array and set, got %s and %s",
		    rv_type_name(a), rv_type_name(b));
	*out = rv_bool(is_subset(a, b));
	return SF_OK;
}

/*
 * JSON text.
 */
struct jfmt {
	const char	*prefix, *indent;
	bool		 pretty;
};

static void
jnl(struct sbuf *b, const struct jfmt *f, int depth)
{
	int	 i;

	sbuf_putc(b, '\n');
	sbuf_puts(b, f->prefix);
	for (i = 0; i < depth; i++)
		sbuf_puts(b, f->indent);
}

static void
jwrite(struct sbuf *b, const struct rv *v, const struct jfmt *f, int depth)
{
	uint32_t	 i;

	if (!f->pretty || (v->t != RV_ARR && v->t != RV_SET && v->t != RV_OBJ)
	    || v->n == 0) {
		rv_write_json(b, v);
		return;
	}
	sbuf_putc(b, v->t == RV_OBJ ? '{' : '[');
	for (i = 0; i < v->n; i++) {
		if (i > 0)
			sbuf_putc(b, ',');
		jnl(b, f, depth + 1);
		if (v->t == RV_OBJ) {
			rv_write_json_key(b, v->u.o[i].k);
			sbuf_puts(b, ": ");
			jwrite(b, v->u.o[i].v, f, depth + 1);
		} else
			jwrite(b, v->u.a[i], f, depth + 1);
	}
	jnl(b, f, depth);
	sbuf_putc(b, v->t == RV_OBJ ? '}' : ']');
}

static int
out_sbuf(struct ev *ev, struct sbuf *b, struct rv **out)
{
	if (b->oom)
		return SF_ENOMEM;
	*out = rv_str_ref(A, b->s != NULL ? b->s : "", b->len);
	return *out == NULL ? SF_ENOMEM : SF_OK;
}

static int
bi_json_marshal(struct ev *ev, struct rv *const *args, struct rv **out)
{
	struct sbuf	 b;

	sbuf_init(&b, A);
	rv_write_json(&b, args[0]);
	return out_sbuf(ev, &b, out);
}

static int
bi_json_marshal_opts(struct ev *ev, struct rv *const *args, struct rv **out)
{
	struct jfmt	 f = { "", "\t", false };
	const struct rv	*o = args[1];
	struct sbuf	 b;
	uint32_t	 i;
	bool		 set_pretty = false, pretty = false;

	if (o->t != RV_OBJ)
		return bi_type_err(ev, "json.marshal_with_options", 2,
		    "object", o);
	for (i = 0; i < o->n; i++) {
		const struct rv *k = o->u.o[i].k, *v = o->u.o[i].v;

		if (k->t != RV_STR)
			goto badkey;
		if (strcmp(k->u.s, "pretty") == 0) {
			if (v->t != RV_BOOL)
				return bi_type_errf(ev, "json.marshal_with_"
				    "options: operand 2 \"pretty\" must be "
				    "boolean but got %s", rv_type_name(v));
			set_pretty = true;
			pretty = v->u.b;
		} else if (strcmp(k->u.s, "indent") == 0 ||
		    strcmp(k->u.s, "prefix") == 0) {
			if (v->t != RV_STR)
				return bi_type_errf(ev, "json.marshal_with_"
				    "options: operand 2 \"%s\" must be string "
				    "but got %s", k->u.s, rv_type_name(v));
			if (k->u.s[0] == 'i')
				f.indent = v->u.s;
			else
				f.prefix = v->u.s;
			if (!set_pretty)
				pretty = true;
		} else
			goto badkey;
	}
	f.pretty = set_pretty ? pretty : pretty;
	sbuf_init(&b, A);
	if (f.pretty)
		sbuf_puts(&b, f.prefix);
	jwrite(&b, args[0], &f, 0);
	return out_sbuf(ev, &b, out);
badkey:
	{
		struct sbuf kb;

		sbuf_init(&kb, A);
		rv_write_rego(&kb, o->u.o[i].k);
		return bi_type_errf(ev, "json.marshal_with_options: operand 2 "
		    "object contained unknown key %s", kb.s != NULL ? kb.s :
		    "");
	}
}

static int
parse_json(struct ev *ev, const char *s, size_t n, struct rv **out)
{
	json_t		*j;
	json_error_t	 je;

	*out = NULL;
	j = json_loadb(s, n, JSON_DECODE_ANY | JSON_ALLOW_NUL, &je);
	if (j == NULL)
		j = json_loadb(s, n, JSON_DECODE_ANY | JSON_ALLOW_NUL |
		    JSON_DECODE_INT_AS_REAL, &je);
	if (j == NULL)
		return bi_err(ev, "json.unmarshal: %s", je.text);
	*out = rv_from_json(A, j);
	json_decref(j);
	return *out == NULL ? SF_ENOMEM : SF_OK;
}

static int
bi_json_unmarshal(struct ev *ev, struct rv *const *args, struct rv **out)
{
	const char	*s;
	size_t		 n;
	int		 rc;

	if ((rc = bi_arg_str(ev, "json.unmarshal", args, 0, &s, &n)) != SF_OK)
		return rc;
	return parse_json(ev, s, n, out);
}

static int
bi_json_is_valid(struct ev *ev, struct rv *const *args, struct rv **out)
{
	json_t		*j;
	json_error_t	 je;

	(void)ev;
	if (args[0]->t != RV_STR) {
		*out = RV_FALSE;
		return SF_OK;
	}
	j = json_loadb(args[0]->u.s, args[0]->n, JSON_DECODE_ANY |
	    JSON_ALLOW_NUL | JSON_DECODE_INT_AS_REAL, &je);
	*out = rv_bool(j != NULL);
	json_decref(j);
	return SF_OK;
}

/*
 * Paths: "a/b/c" (JSON pointer style, optional leading '/') or arrays.
 */
static int
parse_path(struct ev *ev, const struct rv *p, struct rv ***segs, uint32_t *n)
{
	const char	*s, *e;
	char		*seg, *w;
	uint32_t	 cnt = 0, cap = 0;
	struct rv	**v = NULL;

	*segs = NULL;
	*n = 0;
	if (p->t == RV_ARR) {
		*segs = p->u.a;
		*n = p->n;
		return SF_OK;
	}
	if (p->t != RV_STR)
		return BI_ERR;
	s = p->u.s;
	if (p->n == 0)
		return SF_OK;		/* the whole document */
	if (*s == '/')
		s++;
	for (;;) {
		e = strchr(s, '/');
		if (e == NULL)
			e = s + strlen(s);
		if ((seg = arena_alloc(A, (size_t)(e - s) + 1)) == NULL)
			return SF_ENOMEM;
		for (w = seg; s < e; s++) {
			if (*s == '~' && s + 1 < e && (s[1] == '0' ||
			    s[1] == '1')) {
				*w++ = s[1] == '0' ? '~' : '/';
				s++;
			} else
				*w++ = *s;
		}
		*w = '\0';
		if (cnt == cap) {
			cap = cap == 0 ? 8 : cap * 2;
			if ((v = arena_grow(A, v, cnt, cap, sizeof(*v))) ==
			    NULL)
				return SF_ENOMEM;
		}
		if ((v[cnt++] = rv_str_ref(A, seg, (size_t)(w - seg))) == NULL)
			return SF_ENOMEM;
		if (*e == '\0')
			break;
		s = e + 1;
	}
	*segs = v;
	*n = cnt;
	return SF_OK;
}

/* Array index from a path segment; -1 when not an index. */
static int64_t
seg_index(const struct rv *seg)
{
	int64_t		 i = 0;
	uint32_t	 k;

	if (seg->t == RV_NUM)
		return rv_get_int(seg, &i) && i >= 0 ? i : -1;
	if (seg->t != RV_STR || seg->n == 0 || seg->n > 18)
		return -1;
	if (seg->n > 1 && seg->u.s[0] == '0')
		return -1;
	for (k = 0; k < seg->n; k++) {
		if (seg->u.s[k] < '0' || seg->u.s[k] > '9')
			return -1;
		i = i * 10 + (seg->u.s[k] - '0');
	}
	return i;
}

/* Child of v at segment (objects by key, arrays by index, sets by elem). */
static struct rv *
seg_get(const struct rv *v, const struct rv *seg)
{
	int64_t	 i;

	switch (v->t) {
	case RV_OBJ:
		return rv_obj_get(v, seg);
	case RV_ARR:
		if ((i = seg_index(seg)) < 0 || (uint64_t)i >= v->n)
			return NULL;
		return v->u.a[i];
	case RV_SET:
		return rv_set_has(v, seg) ? (struct rv *)seg : NULL;
	default:
		return NULL;
	}
}

static struct rv *
path_get(const struct rv *v, struct rv **segs, uint32_t n)
{
	uint32_t	 i;

	for (i = 0; i < n && v != NULL; i++)
		v = seg_get(v, segs[i]);
	return (struct rv *)v;
}

enum pop { P_ADD, P_REMOVE, P_REPLACE };

/* Apply one operation at path below v; NULL result: failure. */
static struct rv *
path_apply(struct ev *ev, const struct rv *v, struct rv **segs, uint32_t n,
    enum pop op, struct rv *val, bool *ok)
{
	struct rv	*child, *nc, *r, **items;
	struct rv_kv	*kv;
	uint32_t	 i, k;
	int64_t		 idx;

	*ok = false;
	if (n == 0) {
		if (op == P_REMOVE)
			return NULL;
		*ok = true;
		return val;
	}
	if (n > 1) {
		if ((child = seg_get(v, segs[0])) == NULL)
			return NULL;
		if ((nc = path_apply(ev, child, segs + 1, n - 1, op, val, ok))
		    == NULL || !*ok)
			return NULL;
		*ok = false;
		switch (v->t) {
		case RV_OBJ:
			if ((kv = arena_alloc(A, v->n * sizeof(*kv))) == NULL)
				return NULL;
			for (i = 0; i < v->n; i++) {
				kv[i] = v->u.o[i];
				if (rv_eq(kv[i].k, segs[0]))
					kv[i].v = nc;
			}
			r = rv_obj_from(A, kv, v->n, NULL);
			break;
		case RV_ARR:
			idx = seg_index(segs[0]);
			if ((r = rv_arr(A, v->n)) == NULL)
				return NULL;
			memcpy(r->u.a, v->u.a, v->n * sizeof(*r->u.a));
			r->u.a[idx] = nc;
			break;
		case RV_SET:
			if ((items = arena_alloc(A, v->n * sizeof(*items))) ==
			    NULL)
				return NULL;
			for (i = 0; i < v->n; i++)
				items[i] = rv_eq(v->u.a[i], segs[0]) ? nc :
				    v->u.a[i];
			r = rv_set_from(A, items, v->n);
			break;
		default:
			return NULL;
		}
		*ok = r != NULL;
		return r;
	}
	/* last segment */
	switch (v->t) {
	case RV_OBJ:
		if (op != P_ADD && rv_obj_get(v, segs[0]) == NULL)
			return NULL;
		if ((kv = arena_alloc(A, (v->n + 1) * sizeof(*kv))) == NULL)
			return NULL;
		for (i = 0, k = 0; i < v->n; i++)
			if (!rv_eq(v->u.o[i].k, segs[0]))
				kv[k++] = v->u.o[i];
		if (op != P_REMOVE) {
			kv[k].k = segs[0];
			kv[k++].v = val;
		}
		r = rv_obj_from(A, kv, k, NULL);
		break;
	case RV_ARR:
		if (op == P_ADD && segs[0]->t == RV_STR && segs[0]->n == 1 &&
		    segs[0]->u.s[0] == '-')
			idx = v->n;
		else if ((idx = seg_index(segs[0])) < 0)
			return NULL;
		if ((op == P_ADD && (uint64_t)idx > v->n) ||
		    (op != P_ADD && (uint64_t)idx >= v->n))
			return NULL;
		if ((r = rv_arr(A, v->n + 1)) == NULL)
			return NULL;
		for (i = 0, k = 0; i < v->n; i++) {
			if (i == idx) {
				if (op == P_ADD)
					r->u.a[k++] = val;
				else if (op == P_REPLACE) {
					r->u.a[k++] = val;
					continue;
				} else
					continue;
			}
			r->u.a[k++] = v->u.a[i];
		}
		if (op == P_ADD && (uint64_t)idx == v->n)
			r->u.a[k++] = val;
		r->n = k;
		break;
	case RV_SET:
		if ((items = arena_alloc(A, (v->n + 1) * sizeof(*items))) ==
		    NULL)
			return NULL;
		for (i = 0, k = 0; i < v->n; i++)
			if (!rv_eq(v->u.a[i], segs[0]))
				items[k++] = v->u.a[i];
		if (op == P_ADD) {
			if (!rv_eq(segs[0], val))
				return NULL;
			items[k++] = val;
		} else if (k == v->n)
			return NULL;
		else if (op == P_REPLACE)
			items[k++] = val;
		r = rv_set_from(A, items, k);
		break;
	default:
		return NULL;
	}
	*ok = r != NULL;
	return r;
}

static int
bi_json_patch(struct ev *ev, struct rv *const *args, struct rv **out)
{
	struct rv	*doc = args[0], *op, *path, *from, *val, *opv;
	struct rv	**ps, **fs;
	uint32_t	 i, np, nf;
	bool		 ok;
	int		 rc;

	if (args[1]->t != RV_ARR)
		return bi_type_err(ev, "json.patch", 2, "array", args[1]);
	for (i = 0; i < args[1]->n; i++) {
		op = args[1]->u.a[i];
		if (op->t != RV_OBJ || (opv = rv_obj_gets(op, "op")) == NULL ||
		    opv->t != RV_STR || (path = rv_obj_gets(op, "path")) ==
		    NULL)
			return bi_err(ev, "json.patch: invalid patch "
			    "operation");
		if ((rc = parse_path(ev, path, &ps, &np)) != SF_OK)
			return rc == BI_ERR ? bi_err(ev, "json.patch: invalid "
			    "path") : rc;
		val = rv_obj_gets(op, "value");
		if (strcmp(opv->u.s, "add") == 0 ||
		    strcmp(opv->u.s, "replace") == 0) {
			if (val == NULL)
				return bi_err(ev, "json.patch: missing value");
			doc = path_apply(ev, doc, ps, np, opv->u.s[0] == 'a' ?
			    P_ADD : P_REPLACE, val, &ok);
		} else if (strcmp(opv->u.s, "remove") == 0) {
			doc = path_apply(ev, doc, ps, np, P_REMOVE, NULL, &ok);
		} else if (strcmp(opv->u.s, "test") == 0) {
			struct rv *cur = path_get(doc, ps, np);

			ok = val != NULL && cur != NULL && rv_eq(cur, val);
		} else if (strcmp(opv->u.s, "move") == 0 ||
		    strcmp(opv->u.s, "copy") == 0) {
			if ((from = rv_obj_gets(op, "from")) == NULL ||
			    (rc = parse_path(ev, from, &fs, &nf)) != SF_OK)
				return bi_err(ev, "json.patch: invalid from");
			if ((val = path_get(doc, fs, nf)) == NULL)
				return bi_err(ev, "json.patch: from does not "
				    "exist");
			ok = true;
			if (opv->u.s[0] == 'm') {
				/* moving into one's own child is invalid */
				if (np > nf && (nf == 0 || path_get(val, ps +
				    nf, 0) != NULL)) {
					uint32_t k;

					for (k = 0; k < nf; k++)
						if (!rv_eq(fs[k], ps[k]))
							break;
					if (k == nf)
						return bi_err(ev, "json.patch: "
						    "cannot move into child");
				}
				doc = path_apply(ev, doc, fs, nf, P_REMOVE,
				    NULL, &ok);
			}
			if (ok && doc != NULL)
				doc = path_apply(ev, doc, ps, np, P_ADD, val,
				    &ok);
		} else
			return bi_err(ev, "json.patch: unknown op %s",
			    opv->u.s);
		if (!ok || doc == NULL)
			return bi_err(ev, "json.patch: operation %s failed",
			    opv->u.s);
	}
	*out = doc;
	return SF_OK;
}

/*
 * json.filter / json.remove over a trie of paths.
 */
struct ptrie {
	struct rv	*key;
	struct ptrie	*kids, *next;
	bool		 end;
};

static int
ptrie_add(struct ev *ev, struct ptrie *t, struct rv **segs, uint32_t n)
{
	struct ptrie	*k;
	uint32_t	 i;

	for (i = 0; i < n; i++) {
		for (k = t->kids; k != NULL; k = k->next)
			if (rv_eq(k->key, segs[i]))
				break;
		if (k == NULL) {
			if ((k = arena_calloc(A, 1, sizeof(*k))) == NULL)
				return SF_ENOMEM;
			k->key = segs[i];
			k->next = t->kids;
			t->kids = k;
		}
		t = k;
	}
	t->end = true;
	return SF_OK;
}

static int
build_trie(struct ev *ev, const char *fn, const struct rv *paths,
    struct ptrie *root)
{
	struct rv	**segs;
	uint32_t	 i, n;
	int		 rc;

	if (paths->t != RV_ARR && paths->t != RV_SET)
		return bi_type_err(ev, fn, 2, "one of {set, array}", paths);
	for (i = 0; i < paths->n; i++) {
		const struct rv *p = paths->u.a[i];

		if (p->t != RV_STR && p->t != RV_ARR)
			return bi_type_errf(ev, "%s: operand 2 must be one of "
			    "{set, array} containing string paths or array of "
			    "path segments but got %s", fn, rv_type_name(p));
		if ((rc = parse_path(ev, p, &segs, &n)) != SF_OK)
			return rc;
		if ((rc = ptrie_add(ev, root, segs, n)) != SF_OK)
			return rc;
	}
	return SF_OK;
}

static struct ptrie *
trie_find(const struct ptrie *t, const struct rv *key)
{
	struct ptrie	*k;
	struct sbuf	 b;
	bool		 match;

	for (k = t->kids; k != NULL; k = k->next) {
		if (rv_eq(k->key, key))
			return k;
		/* string segments address array indexes and number keys */
		if (k->key->t == RV_STR && key->t == RV_NUM) {
			sbuf_init(&b, NULL);
			rv_write_num(&b, key);
			match = b.s != NULL && b.len == k->key->n &&
			    memcmp(b.s, k->key->u.s, b.len) == 0;
			sbuf_free(&b);
			if (match)
				return k;
		}
	}
	return NULL;
}

/* keep: json.filter; else json.remove. */
static struct rv *
trie_apply(struct ev *ev, struct rv *v, const struct ptrie *t, bool keep)
{
	struct rv	*r, *key, **items, *c;
	struct rv_kv	*kv;
	struct ptrie	*k;
	uint32_t	 i, n = 0;

	if (t->end)
		return keep ? v : NULL;
	if (t->kids == NULL)
		return keep ? NULL : v;
	switch (v->t) {
	case RV_OBJ:
		if ((kv = arena_alloc(A, (v->n + 1) * sizeof(*kv))) == NULL)
			return NULL;
		for (i = 0; i < v->n; i++) {
			k = trie_find(t, v->u.o[i].k);
			if (k == NULL) {
				if (!keep)
					kv[n++] = v->u.o[i];
				continue;
			}
			if ((c = trie_apply(ev, v->u.o[i].v, k, keep)) ==
			    NULL)
				continue;
			kv[n].k = v->u.o[i].k;
			kv[n++].v = c;
		}
		return rv_obj_from(A, kv, n, NULL);
	case RV_ARR:
	case RV_SET:
		if ((items = arena_alloc(A, (v->n + 1) * sizeof(*items))) ==
		    NULL)
			return NULL;
		for (i = 0; i < v->n; i++) {
			key = v->t == RV_ARR ? rv_int(A, i) : v->u.a[i];
			if (key == NULL)
				return NULL;
			k = trie_find(t, key);
			if (k == NULL) {
				if (!keep)
					items[n++] = v->u.a[i];
				continue;
			}
			if ((c = trie_apply(ev, v->u.a[i], k, keep)) != NULL)
				items[n++] = c;
		}
		if (v->t == RV_SET)
			return rv_set_from(A, items, n);
		if ((r = rv_arr(A, n)) == NULL)
			return NULL;
		if (n > 0)
			memcpy(r->u.a, items, n * sizeof(*items));
		return r;
	default:
		return keep ? NULL : v;
	}
}

static int
filter_remove(struct ev *ev, const char *fn, struct rv *const *args,
    bool keep, struct rv **out)
{
	struct ptrie	 root;
	int		 rc;

	memset(&root, 0, sizeof(root));
	if ((rc = bi_arg_type(ev, fn, args, 0, RV_OBJ)) != SF_OK)
		return rc;
	if ((rc = build_trie(ev, fn, args[1], &root)) != SF_OK)
		return rc;
	if (!keep && root.end) {
		*out = &rv_empty_obj_v;
		return SF_OK;
	}
	if (keep && root.kids == NULL && !root.end) {
		*out = &rv_empty_obj_v;
		return SF_OK;
	}
	*out = trie_apply(ev, args[0], &root, keep);
	if (*out == NULL)
		*out = &rv_empty_obj_v;
	return SF_OK;
}

static int
bi_json_filter(struct ev *ev, struct rv *const *args, struct rv **out)
{
	return filter_remove(ev, "json.filter", args, true, out);
}

static int
bi_json_remove(struct ev *ev, struct rv *const *args, struct rv **out)
{
	return filter_remove(ev, "json.remove", args, false, out);
}

/*
 * walk(x): every [path, value] pair, the root first.
 */
struct walkst {
	struct ev	*ev;
	struct rv	**items;
	uint32_t	 n, cap;
	struct rv	**path;
	uint32_t	 depth, pcap;
};

static int
walk_add(struct walkst *w, struct rv *v)
{
	struct ev	*ev = w->ev;
	struct rv	*pair, *p;
	uint32_t	 i;

	if (w->n == w->cap) {
		w->cap = w->cap == 0 ? 16 : w->cap * 2;
		if ((w->items = arena_grow(A, w->items, w->n, w->cap,
		    sizeof(*w->items))) == NULL)
			return SF_ENOMEM;
	}
	if ((pair = rv_arr(A, 2)) == NULL || (p = rv_arr(A, w->depth)) == NULL)
		return SF_ENOMEM;
	for (i = 0; i < w->depth; i++)
		p->u.a[i] = w->path[i];
	pair->u.a[0] = p;
	pair->u.a[1] = v;
	w->items[w->n++] = pair;
	return SF_OK;
}

static int
walk_rec(struct walkst *w, struct rv *v)
{
	struct ev	*ev = w->ev;
	uint32_t	 i;
	int		 rc;

	if ((rc = walk_add(w, v)) != SF_OK)
		return rc;
	if (v->t != RV_ARR && v->t != RV_OBJ && v->t != RV_SET)
		return SF_OK;
	if (w->depth == w->pcap) {
		w->pcap = w->pcap == 0 ? 16 : w->pcap * 2;
		if ((w->path = arena_grow(A, w->path, w->depth, w->pcap,
		    sizeof(*w->path))) == NULL)
			return SF_ENOMEM;
	}
	if (w->depth > 10000)
		return bi_err(ev, "walk: nesting too deep");
	for (i = 0; i < v->n; i++) {
		struct rv *key, *child;

		switch (v->t) {
		case RV_ARR:
			if ((key = rv_int(A, i)) == NULL)
				return SF_ENOMEM;
			child = v->u.a[i];
			break;
		case RV_SET:
			key = child = v->u.a[i];
			break;
		default:
			key = v->u.o[i].k;
			child = v->u.o[i].v;
			break;
		}
		w->path[w->depth++] = key;
		rc = walk_rec(w, child);
		w->depth--;
		if (rc != SF_OK)
			return rc;
	}
	return SF_OK;
}

static int
bi_walk(struct ev *ev, struct rv *const *args, struct rv **out)
{
	struct walkst	 w;
	struct rv	*r;
	int		 rc;

	memset(&w, 0, sizeof(w));
	w.ev = ev;
	if ((rc = walk_rec(&w, args[0])) != SF_OK)
		return rc;
	if ((r = rv_arr(A, w.n)) == NULL)
		return SF_ENOMEM;
	if (w.n > 0)
		memcpy(r->u.a, w.items, w.n * sizeof(*w.items));
	*out = r;
	return SF_OK;
}

const struct builtin bi_object[] = {
	{ "object.get", 3, bi_object_get, 0 },
	{ "object.keys", 1, bi_object_keys, 0 },
	{ "object.remove", 2, bi_object_remove, 0 },
	{ "object.filter", 2, bi_object_filter, 0 },
	{ "object.union", 2, bi_object_union, 0 },
	{ "object.union_n", 1, bi_object_union_n, 0 },
	{ "object.subset", 2, bi_object_subset, 0 },
	{ "json.marshal", 1, bi_json_marshal, 0 },
	{ "json.marshal_with_options", 2, bi_json_marshal_opts, 0 },
	{ "json.unmarshal", 1, bi_json_unmarshal, 0 },
	{ "json.is_valid", 1, bi_json_is_valid, 0 },
	{ "json.patch", 2, bi_json_patch, 0 },
	{ "json.filter", 2, bi_json_filter, 0 },
	{ "json.remove", 2, bi_json_remove, 0 },
	{ "walk", 1, bi_walk, BI_MULTI },
	{ NULL, 0, NULL, 0 }
};
