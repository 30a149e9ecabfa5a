/*
 * parser.c - Rego v1 modules, queries and terms -> AST.
 *
 * Recursive descent.  Infix precedence, lowest first (as OPA):
 *   := =   (expression level only)
 *   in     (x in xs, k, v in xs)
 *   == != < <= > >=
 *   |
 *   &
 *   + -
 *   * / %
 *   unary -, then primary terms with references and calls.
 * Operators become calls to their builtin names (eq, assign, equal, neq,
 * lt, lte, gt, gte, or, and, plus, minus, mul, div, rem,
 * internal.member_2, internal.member_3).  Expressions of a body are
 * separated by ';' or newlines; an infix operator or a reference suffix
 * after a newline starts a new expression, except 'with', 'else' and
 * 'as', which continue across lines.
 */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "policy/rego.h"

#define MAX_DEPTH	200

struct parser {
	struct arena	*a;
	struct lexer	 lx;
	struct token	 tok;
	char		*err;		/* heap */
	int		 depth;
	bool		 nobar;		/* '|' ends the term (comprehension head) */
};

struct pstate {
	struct lexer	 lx;
	struct token	 tok;
	int		 depth;
};

static void
save(struct parser *p, struct pstate *s)
{
	s->lx = p->lx;
	s->tok = p->tok;
	s->depth = p->depth;
}

static void
restore(struct parser *p, struct pstate *s)
{
	p->lx = s->lx;
	p->tok = s->tok;
}

static void
perr(struct parser *p, const struct loc *l, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
perr(struct parser *p, const struct loc *l, const char *fmt, ...)
{
	va_list	 ap;
	char	 msg[256];

	if (p->err != NULL)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (sf_asprintf(&p->err, "%s:%u:%u: rego_parse_error: %s",
	    l->file != NULL ? l->file : "query", l->line, l->col, msg) != SF_OK)
		p->err = NULL;
	if (p->err == NULL)
		p->err = sf_strdup("rego_parse_error: out of memory");
}

static void
next(struct parser *p)
{
	if (p->err != NULL) {
		p->tok.t = TK_EOF;
		return;
	}
	lex_next(&p->lx, &p->tok);
	if (p->tok.t == TK_ERR) {
		perr(p, &p->tok.loc, "%s", p->tok.str);
		p->tok.t = TK_EOF;
	}
}

static void
unexpected(struct parser *p)
{
	if (p->tok.t == TK_EOF)
		perr(p, &p->tok.loc, "unexpected eof token");
	else
		perr(p, &p->tok.loc, "unexpected %.*s token",
		    (int)(p->tok.n > 40 ? 40 : p->tok.n), p->tok.p);
}

static bool
expect(struct parser *p, enum tok t)
{
	if (p->tok.t != t) {
		if (p->err == NULL) {
			if (p->tok.t == TK_EOF)
				perr(p, &p->tok.loc,
				    "unexpected eof token: expected %s",
				    tok_name(t));
			else
				perr(p, &p->tok.loc,
				    "unexpected %.*s token: expected %s",
				    (int)(p->tok.n > 40 ? 40 : p->tok.n),
				    p->tok.p, tok_name(t));
		}
		return false;
	}
	next(p);
	return true;
}

static void *
palloc(struct parser *p, size_t n)
{
	void	*x;

	if ((x = arena_calloc(p->a, 1, n)) == NULL)
		perr(p, &p->tok.loc, "out of memory");
	return x;
}

/* A growable list of pointers in the arena. */
struct plist {
	void		**v;
	uint32_t	 n, cap;
};

static bool
plist_add(struct parser *p, struct plist *l, void *x)
{
	if (l->n == l->cap) {
		uint32_t	 cap = l->cap == 0 ? 4 : l->cap * 2;
		void		**nv;

		if ((nv = arena_grow(p->a, l->v, l->n, cap, sizeof(*nv))) ==
		    NULL) {
			perr(p, &p->tok.loc, "out of memory");
			return false;
		}
		l->v = nv;
		l->cap = cap;
	}
	l->v[l->n++] = x;
	return true;
}

static struct term *
new_term(struct parser *p, enum term_kind k, const struct loc *l)
{
	struct term	*t;

	if ((t = palloc(p, sizeof(*t))) == NULL)
		return NULL;
	t->kind = (uint8_t)k;
	t->loc = *l;
	return t;
}

static struct term *
value_term(struct parser *p, struct rv *v, const struct loc *l)
{
	struct term	*t;

	if (v == NULL) {
		perr(p, l, "out of memory");
		return NULL;
	}
	if ((t = new_term(p, T_VALUE, l)) != NULL)
		t->u.v = v;
	return t;
}

static struct term *
var_term(struct parser *p, const char *name, size_t n, const struct loc *l)
{
	struct term	*t;

	if ((t = new_term(p, T_VAR, l)) == NULL)
		return NULL;
	if ((t->u.var.name = arena_strndup(p->a, name, n)) == NULL) {
		perr(p, l, "out of memory");
		return NULL;
	}
	t->u.var.slot = -1;
	t->u.var.wild = n == 1 && name[0] == '_';
	return t;
}

static struct term *
call_term(struct parser *p, const char *op, const struct loc *l,
    uint32_t n, ...)
{
	struct term	*t, *fn;
	va_list		 ap;
	uint32_t	 i;

	if ((fn = var_term(p, op, strlen(op), l)) == NULL ||
	    (t = new_term(p, T_CALL, l)) == NULL)
		return NULL;
	t->u.call.fn = fn;
	t->u.call.n = n;
	if ((t->u.call.args = palloc(p, n * sizeof(*t->u.call.args))) == NULL)
		return NULL;
	va_start(ap, n);
	for (i = 0; i < n; i++)
		t->u.call.args[i] = va_arg(ap, struct term *);
	va_end(ap);
	for (i = 0; i < n; i++)
		if (t->u.call.args[i] == NULL)
			return NULL;
	return t;
}

static struct term *parse_term_in(struct parser *p);
static struct term *parse_relation(struct parser *p);
static struct body *parse_query(struct parser *p, enum tok end);
static struct term *parse_primary(struct parser *p);
static struct term *parse_in_tail(struct parser *p, struct term *l);

/* Identifiers including keywords (after '.', or as names). */
static bool
is_name_tok(enum tok t)
{
	return t == TK_IDENT || (t >= TK_PACKAGE && t <= TK_NULL);
}

/* Append a ref operand to t (turning a var into a ref when needed). */
static struct term *
ref_append(struct parser *p, struct term *t, struct term *op)
{
	struct term	*r, **ops;

	if (t == NULL || op == NULL)
		return NULL;
	if (t->kind != T_REF) {
		if ((r = new_term(p, T_REF, &t->loc)) == NULL)
			return NULL;
		r->u.ref.head = t;
		t = r;
	}
	if ((ops = arena_grow(p->a, t->u.ref.ops, t->u.ref.n, t->u.ref.n + 1,
	    sizeof(*ops))) == NULL) {
		perr(p, &op->loc, "out of memory");
		return NULL;
	}
	ops[t->u.ref.n++] = op;
	t->u.ref.ops = ops;
	return t;
}

static bool
is_callable(const struct term *t)
{
	uint32_t	 i;

	if (t->kind == T_VAR)
		return true;
	if (t->kind != T_REF || t->u.ref.head->kind != T_VAR)
		return false;
	for (i = 0; i < t->u.ref.n; i++)
		if (t->u.ref.ops[i]->kind != T_VALUE ||
		    t->u.ref.ops[i]->u.v->t != RV_STR)
			return false;
	return true;
}

static bool
parse_args(struct parser *p, struct plist *args)
{
	bool	 nobar = p->nobar;

	p->nobar = false;
	next(p);	/* ( */
	while (p->tok.t != TK_RPAREN) {
		if (!plist_add(p, args, parse_term_in(p)) ||
		    args->v[args->n - 1] == NULL)
			return false;
		if (p->tok.t == TK_COMMA)
			next(p);
		else if (p->tok.t != TK_RPAREN) {
			unexpected(p);
			return false;
		}
	}
	next(p);
	p->nobar = nobar;
	return true;
}

/* Reference suffixes: .name, [term], (args). */
static struct term *
parse_suffixes(struct parser *p, struct term *t)
{
	struct term	*op, *c;
	struct plist	 args = { 0 };
	bool		 nobar;

	while (t != NULL && !p->tok.nl) {
		if (p->tok.t == TK_DOT && !p->tok.ws) {
			next(p);
			if (!is_name_tok(p->tok.t) || p->tok.ws) {
				unexpected(p);
				return NULL;
			}
			op = value_term(p, rv_str(p->a, p->tok.p, p->tok.n),
			    &p->tok.loc);
			next(p);
			t = ref_append(p, t, op);
		} else if (p->tok.t == TK_LBRACK && !p->tok.ws) {
			nobar = p->nobar;
			p->nobar = false;
			next(p);
			op = parse_term_in(p);
			p->nobar = nobar;
			if (op == NULL || !expect(p, TK_RBRACK))
				return NULL;
			t = ref_append(p, t, op);
		} else if (p->tok.t == TK_LPAREN && !p->tok.ws &&
		    is_callable(t)) {
			memset(&args, 0, sizeof(args));
			if (!parse_args(p, &args))
				return NULL;
			if ((c = new_term(p, T_CALL, &t->loc)) == NULL)
				return NULL;
			c->u.call.fn = t;
			c->u.call.args = (struct term **)args.v;
			c->u.call.n = args.n;
			t = c;
		} else
			break;
	}
	return t;
}

static struct term *
parse_array(struct parser *p)
{
	struct loc	 l = p->tok.loc;
	struct plist	 items = { 0 };
	struct term	*t, *head;
	bool		 nobar = p->nobar;

	next(p);	/* [ */
	if (p->tok.t == TK_RBRACK) {
		next(p);
		return value_term(p, &rv_empty_arr_v, &l);
	}
	p->nobar = true;
	head = parse_term_in(p);
	p->nobar = false;
	if (head == NULL)
		return NULL;
	if (p->tok.t == TK_BAR) {
		next(p);
		if ((t = new_term(p, T_ACOMP, &l)) == NULL)
			return NULL;
		t->u.comp.val = head;
		if ((t->u.comp.body = parse_query(p, TK_RBRACK)) == NULL)
			return NULL;
		if (!expect(p, TK_RBRACK))
			return NULL;
		p->nobar = nobar;
		return t;
	}
	plist_add(p, &items, head);
	while (p->tok.t == TK_COMMA) {
		next(p);
		if (p->tok.t == TK_RBRACK)
			break;
		if (!plist_add(p, &items, parse_term_in(p)) ||
		    items.v[items.n - 1] == NULL)
			return NULL;
	}
	if (!expect(p, TK_RBRACK))
		return NULL;
	p->nobar = nobar;
	if ((t = new_term(p, T_ARRAY, &l)) == NULL)
		return NULL;
	t->u.coll.items = (struct term **)items.v;
	t->u.coll.n = items.n;
	return t;
}

static struct term *
parse_brace(struct parser *p)
{
	struct loc	 l = p->tok.loc;
	struct plist	 keys = { 0 }, vals = { 0 };
	struct term	*t, *k, *v;
	bool		 nobar = p->nobar;

	next(p);	/* { */
	if (p->tok.t == TK_RBRACE) {
		next(p);
		return value_term(p, &rv_empty_obj_v, &l);
	}
	p->nobar = true;
	k = parse_term_in(p);
	if (k == NULL)
		return NULL;
	if (p->tok.t == TK_COLON) {
		next(p);
		v = parse_term_in(p);
		if (v == NULL)
			return NULL;
		p->nobar = false;
		if (p->tok.t == TK_BAR) {
			next(p);
			if ((t = new_term(p, T_OCOMP, &l)) == NULL)
				return NULL;
			t->u.comp.key = k;
			t->u.comp.val = v;
			if ((t->u.comp.body = parse_query(p, TK_RBRACE)) ==
			    NULL || !expect(p, TK_RBRACE))
				return NULL;
			p->nobar = nobar;
			return t;
		}
		plist_add(p, &keys, k);
		plist_add(p, &vals, v);
		while (p->tok.t == TK_COMMA) {
			next(p);
			if (p->tok.t == TK_RBRACE)
				break;
			if ((k = parse_term_in(p)) == NULL ||
			    !expect(p, TK_COLON) ||
			    (v = parse_term_in(p)) == NULL)
				return NULL;
			plist_add(p, &keys, k);
			plist_add(p, &vals, v);
		}
		if (!expect(p, TK_RBRACE))
			return NULL;
		p->nobar = nobar;
		if ((t = new_term(p, T_OBJECT, &l)) == NULL)
			return NULL;
		t->u.coll.items = (struct term **)keys.v;
		t->u.coll.vals = (struct term **)vals.v;
		t->u.coll.n = keys.n;
		return t;
	}
	p->nobar = false;
	if (p->tok.t == TK_BAR) {
		next(p);
		if ((t = new_term(p, T_SCOMP, &l)) == NULL)
			return NULL;
		t->u.comp.val = k;
		if ((t->u.comp.body = parse_query(p, TK_RBRACE)) == NULL ||
		    !expect(p, TK_RBRACE))
			return NULL;
		p->nobar = nobar;
		return t;
	}
	plist_add(p, &keys, k);
	while (p->tok.t == TK_COMMA) {
		next(p);
		if (p->tok.t == TK_RBRACE)
			break;
		if (!plist_add(p, &keys, parse_term_in(p)) ||
		    keys.v[keys.n - 1] == NULL)
			return NULL;
	}
	if (!expect(p, TK_RBRACE))
		return NULL;
	p->nobar = nobar;
	if ((t = new_term(p, T_SET, &l)) == NULL)
		return NULL;
	t->u.coll.items = (struct term **)keys.v;
	t->u.coll.n = keys.n;
	return t;
}

static struct term *
parse_number(struct parser *p, bool neg, const struct loc *l)
{
	char		 buf[512];
	struct rv	*v;

	if (p->tok.n + 2 > sizeof(buf)) {
		perr(p, l, "number too long");
		return NULL;
	}
	buf[0] = '-';
	memcpy(buf + 1, p->tok.p, p->tok.n);
	v = neg ? rv_num_text(p->a, buf, p->tok.n + 1) :
	    rv_num_text(p->a, buf + 1, p->tok.n);
	if (v == NULL) {
		perr(p, l, "invalid number");
		return NULL;
	}
	next(p);
	return value_term(p, v, l);
}

static struct term *
parse_primary(struct parser *p)
{
	struct loc	 l = p->tok.loc;
	struct term	*t = NULL;
	bool		 nobar;

	if (++p->depth > MAX_DEPTH) {
		perr(p, &l, "nesting too deep");
		return NULL;
	}
	switch (p->tok.t) {
	case TK_NUMBER:
		t = parse_number(p, false, &l);
		break;
	case TK_STRING:
		t = value_term(p, rv_str(p->a, p->tok.str, p->tok.slen), &l);
		next(p);
		break;
	case TK_TRUE:
		next(p);
		t = value_term(p, RV_TRUE, &l);
		break;
	case TK_FALSE:
		next(p);
		t = value_term(p, RV_FALSE, &l);
		break;
	case TK_NULL:
		next(p);
		t = value_term(p, RV_NULLV, &l);
		break;
	case TK_IDENT:
		if (p->tok.n == 3 && memcmp(p->tok.p, "set", 3) == 0) {
			struct pstate	 s;

			save(p, &s);
			next(p);
			if (p->tok.t == TK_LPAREN && !p->tok.ws) {
				next(p);
				if (p->tok.t == TK_RPAREN) {
					next(p);
					t = value_term(p, &rv_empty_set_v, &l);
					break;
				}
			}
			restore(p, &s);
		}
		t = var_term(p, p->tok.p, p->tok.n, &l);
		next(p);
		break;
	case TK_LBRACK:
		t = parse_array(p);
		break;
	case TK_LBRACE:
		t = parse_brace(p);
		break;
	case TK_LPAREN:
		nobar = p->nobar;
		p->nobar = false;
		next(p);
		t = parse_relation(p);
		if (t != NULL && p->tok.t == TK_COMMA) {
			/* (k, v in xs) */
			struct term	*v, *c;
			struct loc	 il;

			next(p);
			if ((v = parse_relation(p)) == NULL)
				return NULL;
			il = p->tok.loc;
			if (!expect(p, TK_IN) || (c = parse_relation(p)) ==
			    NULL)
				return NULL;
			if ((t = call_term(p, "internal.member_3", &il, 3, t,
			    v, c)) == NULL)
				return NULL;
			t->loc = t->u.call.args[0]->loc;
		}
		t = parse_in_tail(p, t);
		p->nobar = nobar;
		if (t != NULL && !expect(p, TK_RPAREN))
			t = NULL;
		break;
	case TK_MINUS:
		next(p);
		if (p->tok.t == TK_NUMBER && !p->tok.ws) {
			t = parse_number(p, true, &l);
			break;
		}
		t = parse_primary(p);
		if (t != NULL && t->kind == T_VALUE && t->u.v->t == RV_NUM) {
			/* -(number) */
			t = call_term(p, "minus", &l, 2,
			    value_term(p, rv_int(p->a, 0), &l), t);
		} else if (t != NULL)
			t = call_term(p, "minus", &l, 2,
			    value_term(p, rv_int(p->a, 0), &l), t);
		p->depth--;
		return t;
	default:
		unexpected(p);
		return NULL;
	}
	t = parse_suffixes(p, t);
	p->depth--;
	return t;
}

/* Binary operator levels. */
static struct term *
parse_factor(struct parser *p)
{
	struct term	*l, *r;
	struct loc	 loc;
	const char	*op;

	if ((l = parse_primary(p)) == NULL)
		return NULL;
	for (;;) {
		if (p->tok.nl)
			return l;
		switch (p->tok.t) {
		case TK_STAR: op = "mul"; break;
		case TK_SLASH: op = "div"; break;
		case TK_PERCENT: op = "rem"; break;
		default:
			return l;
		}
		loc = p->tok.loc;
		next(p);
		if ((r = parse_primary(p)) == NULL)
			return NULL;
		if ((l = call_term(p, op, &loc, 2, l, r)) == NULL)
			return NULL;
		l->loc = l->u.call.args[0]->loc;
	}
}

static struct term *
parse_arith(struct parser *p)
{
	struct term	*l, *r;
	struct loc	 loc;
	const char	*op;

	if ((l = parse_factor(p)) == NULL)
		return NULL;
	for (;;) {
		if (p->tok.nl)
			return l;
		switch (p->tok.t) {
		case TK_PLUS: op = "plus"; break;
		case TK_MINUS: op = "minus"; break;
		default:
			return l;
		}
		loc = p->tok.loc;
		next(p);
		if ((r = parse_factor(p)) == NULL)
			return NULL;
		if ((l = call_term(p, op, &loc, 2, l, r)) == NULL)
			return NULL;
		l->loc = l->u.call.args[0]->loc;
	}
}

static struct term *
parse_and(struct parser *p)
{
	struct term	*l, *r;
	struct loc	 loc;

	if ((l = parse_arith(p)) == NULL)
		return NULL;
	while (!p->tok.nl && p->tok.t == TK_AMP) {
		loc = p->tok.loc;
		next(p);
		if ((r = parse_arith(p)) == NULL)
			return NULL;
		if ((l = call_term(p, "and", &loc, 2, l, r)) == NULL)
			return NULL;
		l->loc = l->u.call.args[0]->loc;
	}
	return l;
}

static struct term *
parse_or(struct parser *p)
{
	struct term	*l, *r;
	struct loc	 loc;

	if ((l = parse_and(p)) == NULL)
		return NULL;
	while (!p->tok.nl && p->tok.t == TK_BAR && !p->nobar) {
		loc = p->tok.loc;
		next(p);
		if ((r = parse_and(p)) == NULL)
			return NULL;
		if ((l = call_term(p, "or", &loc, 2, l, r)) == NULL)
			return NULL;
		l->loc = l->u.call.args[0]->loc;
	}
	return l;
}

static struct term *
parse_relation(struct parser *p)
{
	struct term	*l, *r;
	struct loc	 loc;
	const char	*op;

	if ((l = parse_or(p)) == NULL)
		return NULL;
	for (;;) {
		if (p->tok.nl)
			return l;
		switch (p->tok.t) {
		case TK_EQ: op = "equal"; break;
		case TK_NE: op = "neq"; break;
		case TK_LT: op = "lt"; break;
		case TK_LE: op = "lte"; break;
		case TK_GT: op = "gt"; break;
		case TK_GE: op = "gte"; break;
		default:
			return l;
		}
		loc = p->tok.loc;
		next(p);
		if ((r = parse_or(p)) == NULL)
			return NULL;
		if ((l = call_term(p, op, &loc, 2, l, r)) == NULL)
			return NULL;
		l->loc = l->u.call.args[0]->loc;
	}
}

static struct term *
parse_in_tail(struct parser *p, struct term *l)
{
	struct term	*r;
	struct loc	 loc;

	while (l != NULL && !p->tok.nl && p->tok.t == TK_IN) {
		loc = p->tok.loc;
		next(p);
		if ((r = parse_relation(p)) == NULL)
			return NULL;
		if ((l = call_term(p, "internal.member_2", &loc, 2, l, r)) ==
		    NULL)
			return NULL;
		l->loc = l->u.call.args[0]->loc;
	}
	return l;
}

static struct term *
parse_term_in(struct parser *p)
{
	struct term	*t;

	if (++p->depth > MAX_DEPTH) {
		perr(p, &p->tok.loc, "nesting too deep");
		return NULL;
	}
	t = parse_in_tail(p, parse_relation(p));
	p->depth--;
	return t;
}

static struct with *
parse_with(struct parser *p)
{
	struct with	*w;

	if ((w = palloc(p, sizeof(*w))) == NULL)
		return NULL;
	w->loc = p->tok.loc;
	next(p);	/* with */
	if ((w->target = parse_primary(p)) == NULL)
		return NULL;
	if (!expect(p, TK_AS))
		return NULL;
	if ((w->value = parse_term_in(p)) == NULL)
		return NULL;
	return w;
}

/* some x, y | some [k,] v in xs */
static struct expr *
parse_some(struct parser *p, struct expr *e)
{
	struct plist	 decl = { 0 };
	struct term	*t, *dom;

	next(p);	/* some */
	for (;;) {
		if ((t = parse_relation(p)) == NULL)
			return NULL;
		plist_add(p, &decl, t);
		if (p->tok.t != TK_COMMA)
			break;
		next(p);
	}
	if (p->tok.t == TK_IN && !p->tok.nl) {
		if (decl.n > 2) {
			unexpected(p);
			return NULL;
		}
		next(p);
		if ((dom = parse_relation(p)) == NULL)
			return NULL;
		e->kind = E_SOME;
		e->edomain = dom;
		if (decl.n == 2) {
			e->ekey = decl.v[0];
			e->eval_ = decl.v[1];
		} else
			e->eval_ = decl.v[0];
		return e;
	}
	e->kind = E_SOME;
	e->decl = (struct term **)decl.v;
	e->ndecl = decl.n;
	for (uint32_t i = 0; i < decl.n; i++) {
		t = decl.v[i];
		if (t->kind != T_VAR) {
			perr(p, &t->loc, "expected var in some declaration");
			return NULL;
		}
	}
	return e;
}

static struct expr *
parse_every(struct parser *p, struct expr *e)
{
	struct term	*a, *b = NULL;

	next(p);	/* every */
	if ((a = parse_relation(p)) == NULL)
		return NULL;
	if (p->tok.t == TK_COMMA) {
		next(p);
		if ((b = parse_relation(p)) == NULL)
			return NULL;
	}
	if (!expect(p, TK_IN))
		return NULL;
	e->kind = E_EVERY;
	if (b != NULL) {
		e->ekey = a;
		e->eval_ = b;
	} else
		e->eval_ = a;
	if ((e->edomain = parse_relation(p)) == NULL)
		return NULL;
	if (!expect(p, TK_LBRACE))
		return NULL;
	if ((e->ebody = parse_query(p, TK_RBRACE)) == NULL)
		return NULL;
	if (!expect(p, TK_RBRACE))
		return NULL;
	return e;
}

static struct expr *
parse_literal(struct parser *p)
{
	struct expr	*e;
	struct term	*l, *r, *v;
	struct plist	 withs = { 0 };
	struct loc	 loc;

	if ((e = palloc(p, sizeof(*e))) == NULL)
		return NULL;
	e->loc = p->tok.loc;
	if (p->tok.t == TK_SOME) {
		if (parse_some(p, e) == NULL)
			return NULL;
		goto withs;
	}
	if (p->tok.t == TK_EVERY) {
		if (parse_every(p, e) == NULL)
			return NULL;
		goto withs;
	}
	if (p->tok.t == TK_NOT) {
		e->neg = true;
		next(p);
	}
	e->kind = E_TERM;
	if ((l = parse_relation(p)) == NULL)
		return NULL;
	if (p->tok.t == TK_COMMA && !p->tok.nl) {
		/* k, v in xs */
		next(p);
		if ((v = parse_relation(p)) == NULL)
			return NULL;
		loc = p->tok.loc;
		if (!expect(p, TK_IN))
			return NULL;
		if ((r = parse_relation(p)) == NULL)
			return NULL;
		if ((l = call_term(p, "internal.member_3", &loc, 3, l, v, r)) ==
		    NULL)
			return NULL;
		l->loc = l->u.call.args[0]->loc;
	}
	if ((l = parse_in_tail(p, l)) == NULL)
		return NULL;
	if (!p->tok.nl && (p->tok.t == TK_ASSIGN || p->tok.t == TK_UNIFY)) {
		const char *op = p->tok.t == TK_ASSIGN ? "assign" : "eq";

		loc = p->tok.loc;
		next(p);
		if ((r = parse_term_in(p)) == NULL)
			return NULL;
		if ((l = call_term(p, op, &loc, 2, l, r)) == NULL)
			return NULL;
		l->loc = l->u.call.args[0]->loc;
	}
	e->t = l;
withs:
	while (p->tok.t == TK_WITH) {
		if (!plist_add(p, &withs, parse_with(p)) ||
		    withs.v[withs.n - 1] == NULL)
			return NULL;
	}
	e->withs = (struct with **)withs.v;
	e->nwith = withs.n;
	return e;
}

static struct body *
parse_query(struct parser *p, enum tok end)
{
	struct body	*b;
	struct plist	 es = { 0 };
	struct expr	*e;

	if (++p->depth > MAX_DEPTH) {
		perr(p, &p->tok.loc, "nesting too deep");
		return NULL;
	}
	if ((b = palloc(p, sizeof(*b))) == NULL)
		return NULL;
	b->loc = p->tok.loc;
	for (;;) {
		while (p->tok.t == TK_SEMI)
			next(p);
		if (p->tok.t == end || p->err != NULL)
			break;
		if ((e = parse_literal(p)) == NULL)
			return NULL;
		e->idx = es.n;
		plist_add(p, &es, e);
		if (p->tok.t == TK_SEMI) {
			next(p);
			continue;
		}
		if (p->tok.t == end)
			break;
		if (!p->tok.nl) {
			unexpected(p);
			return NULL;
		}
	}
	if (p->err != NULL)
		return NULL;
	if (es.n == 0) {
		perr(p, &b->loc, "found empty body");
		return NULL;
	}
	b->e = (struct expr **)es.v;
	b->n = es.n;
	p->depth--;
	return b;
}

/* A reference made of names and [terms] only (package, import, head). */
static struct term *
parse_plain_ref(struct parser *p)
{
	struct term	*t;

	if (!is_name_tok(p->tok.t)) {
		unexpected(p);
		return NULL;
	}
	t = var_term(p, p->tok.p, p->tok.n, &p->tok.loc);
	next(p);
	while (t != NULL && !p->tok.ws &&
	    (p->tok.t == TK_DOT || p->tok.t == TK_LBRACK)) {
		if (p->tok.t == TK_DOT) {
			next(p);
			if (!is_name_tok(p->tok.t) || p->tok.ws) {
				unexpected(p);
				return NULL;
			}
			t = ref_append(p, t, value_term(p,
			    rv_str(p->a, p->tok.p, p->tok.n), &p->tok.loc));
			next(p);
		} else {
			struct term	*op;

			next(p);
			if ((op = parse_term_in(p)) == NULL ||
			    !expect(p, TK_RBRACK))
				return NULL;
			t = ref_append(p, t, op);
		}
	}
	return t;
}

/* Body after 'if': { query } or one literal. */
static struct body *
parse_rule_body(struct parser *p)
{
	struct body	*b;
	struct expr	*e;

	if (p->tok.t == TK_LBRACE) {
		struct pstate	 s;

		save(p, &s);
		next(p);
		if ((b = parse_query(p, TK_RBRACE)) != NULL &&
		    expect(p, TK_RBRACE))
			return b;
		/* not a block: a literal starting with an object or set */
		if (p->err == NULL)
			return NULL;
		free(p->err);
		p->err = NULL;
		restore(p, &s);
		p->depth = s.depth;
	}
	if ((b = palloc(p, sizeof(*b))) == NULL)
		return NULL;
	b->loc = p->tok.loc;
	if ((e = parse_literal(p)) == NULL)
		return NULL;
	if ((b->e = palloc(p, sizeof(*b->e))) == NULL)
		return NULL;
	b->e[0] = e;
	b->n = 1;
	return b;
}

static struct rule *
parse_rule(struct parser *p, struct module *m)
{
	struct rule	*r, *els, *last;
	struct plist	 args = { 0 };
	struct loc	 l = p->tok.loc;
	bool		 is_default = false;

	if ((r = palloc(p, sizeof(*r))) == NULL)
		return NULL;
	r->loc = l;
	r->module = m->file;
	r->mod = m;
	if (p->tok.t == TK_DEFAULT) {
		is_default = true;
		next(p);
	}
	r->is_default = is_default;
	if ((r->ref = parse_plain_ref(p)) == NULL)
		return NULL;
	if (p->tok.t == TK_LPAREN && !p->tok.ws) {
		if (!parse_args(p, &args))
			return NULL;
		r->kind = RK_FUNC;
		r->args = (struct term **)args.v;
		r->nargs = args.n;
	}
	if (p->tok.t == TK_CONTAINS && !p->tok.nl) {
		if (r->kind == RK_FUNC || is_default) {
			unexpected(p);
			return NULL;
		}
		next(p);
		r->kind = RK_MULTI;
		if ((r->key = parse_term_in(p)) == NULL)
			return NULL;
	} else if ((p->tok.t == TK_ASSIGN || p->tok.t == TK_UNIFY) &&
	    !p->tok.nl) {
		r->value_assign = p->tok.t == TK_ASSIGN;
		next(p);
		if ((r->value = parse_term_in(p)) == NULL)
			return NULL;
	} else if (is_default) {
		perr(p, &p->tok.loc, "default rule must have a value");
		return NULL;
	}
	if (r->kind == 0)
		r->kind = RK_COMPLETE;	/* refined by the compiler */
	if (r->value == NULL && r->kind != RK_MULTI &&
	    (r->value = value_term(p, RV_TRUE, &l)) == NULL)
		return NULL;
	if (is_default) {
		if (p->tok.t == TK_IF || (p->tok.t == TK_LBRACE && !p->tok.nl)) {
			perr(p, &p->tok.loc,
			    "default rules must not have a body");
			return NULL;
		}
		return r;
	}
	if (p->tok.t == TK_IF && !p->tok.nl) {
		next(p);
		if ((r->body = parse_rule_body(p)) == NULL)
			return NULL;
	} else if (p->tok.t == TK_LBRACE && !p->tok.nl) {
		perr(p, &p->tok.loc,
		    "`if` keyword is required before rule body");
		return NULL;
	}
	last = r;
	while (p->tok.t == TK_ELSE) {
		if (r->kind != RK_COMPLETE && r->kind != RK_FUNC) {
			perr(p, &p->tok.loc, "else keyword cannot be used on "
			    "multi-value rules");
			return NULL;
		}
		if (r->body == NULL) {
			perr(p, &p->tok.loc,
			    "else keyword cannot be used on rule without body");
			return NULL;
		}
		if ((els = palloc(p, sizeof(*els))) == NULL)
			return NULL;
		*els = *r;
		els->loc = p->tok.loc;
		els->els = NULL;
		els->is_else = true;
		els->body = NULL;
		next(p);
		if ((p->tok.t == TK_ASSIGN || p->tok.t == TK_UNIFY) &&
		    !p->tok.nl) {
			els->value_assign = p->tok.t == TK_ASSIGN;
			next(p);
			if ((els->value = parse_term_in(p)) == NULL)
				return NULL;
		} else if ((els->value = value_term(p, RV_TRUE, &els->loc)) ==
		    NULL)
			return NULL;
		if (p->tok.t == TK_IF && !p->tok.nl) {
			next(p);
			if ((els->body = parse_rule_body(p)) == NULL)
				return NULL;
		} else if (p->tok.t == TK_LBRACE && !p->tok.nl) {
			perr(p, &p->tok.loc,
			    "`if` keyword is required before rule body");
			return NULL;
		}
		last->els = els;
		last = els;
	}
	return r;
}

static struct module *
parse_module(struct parser *p, const char *file)
{
	struct module	*m;
	struct plist	 imps = { 0 }, rules = { 0 };
	struct import	*im;
	struct rule	*r;

	if ((m = palloc(p, sizeof(*m))) == NULL)
		return NULL;
	m->file = file;
	next(p);
	m->loc = p->tok.loc;
	if (p->tok.t != TK_PACKAGE) {
		perr(p, &p->tok.loc, "package expected");
		return NULL;
	}
	next(p);
	if ((m->pkg = parse_plain_ref(p)) == NULL)
		return NULL;
	while (p->tok.t == TK_IMPORT) {
		if ((im = palloc(p, sizeof(*im))) == NULL)
			return NULL;
		im->loc = p->tok.loc;
		next(p);
		if ((im->path = parse_plain_ref(p)) == NULL)
			return NULL;
		if (p->tok.t == TK_AS && !p->tok.nl) {
			next(p);
			if (p->tok.t != TK_IDENT) {
				unexpected(p);
				return NULL;
			}
			im->alias = arena_strndup(p->a, p->tok.p, p->tok.n);
			next(p);
		}
		plist_add(p, &imps, im);
	}
	while (p->tok.t != TK_EOF && p->err == NULL) {
		if (p->tok.t == TK_IMPORT) {
			perr(p, &p->tok.loc,
			    "import must come before rules");
			return NULL;
		}
		if (p->tok.t == TK_PACKAGE) {
			perr(p, &p->tok.loc, "unexpected package token");
			return NULL;
		}
		if ((r = parse_rule(p, m)) == NULL)
			return NULL;
		plist_add(p, &rules, r);
		if (p->tok.t == TK_SEMI)
			next(p);
		else if (p->tok.t != TK_EOF && !p->tok.nl) {
			unexpected(p);
			return NULL;
		}
	}
	m->imports = (struct import **)imps.v;
	m->nimports = imps.n;
	m->rules = (struct rule **)rules.v;
	m->nrules = rules.n;
	return p->err == NULL ? m : NULL;
}

static void
parser_init(struct parser *p, struct arena *a, const char *file,
    const char *src, size_t len)
{
	memset(p, 0, sizeof(*p));
	p->a = a;
	lex_init(&p->lx, a, file, src, len);
}

int
rego_parse_module(struct arena *a, const char *file, const char *src,
    size_t len, struct module **out, char **err)
{
	struct parser	 p;
	struct module	*m;

	*out = NULL;
	*err = NULL;
	parser_init(&p, a, file, src, len);
	m = parse_module(&p, file);
	if (m == NULL || p.err != NULL) {
		*err = p.err != NULL ? p.err :
		    sf_strdup("rego_parse_error: failed");
		return SF_EPOLICY;
	}
	*out = m;
	return SF_OK;
}

int
rego_parse_query(struct arena *a, const char *src, size_t len,
    struct body **out, char **err)
{
	struct parser	 p;
	struct body	*b;

	*out = NULL;
	*err = NULL;
	parser_init(&p, a, "query", src, len);
	next(&p);
	b = parse_query(&p, TK_EOF);
	if (b != NULL && p.err == NULL && p.tok.t != TK_EOF)
		unexpected(&p);
	if (b == NULL || p.err != NULL) {
		*err = p.err != NULL ? p.err :
		    sf_strdup("rego_parse_error: failed");
		return SF_EPOLICY;
	}
	*out = b;
	return SF_OK;
}

int
rego_parse_term(struct arena *a, const char *src, size_t len,
    struct term **out, char **err)
{
	struct parser	 p;
	struct term	*t;

	*out = NULL;
	*err = NULL;
	parser_init(&p, a, "term", src, len);
	next(&p);
	t = parse_term_in(&p);
	if (t != NULL && p.err == NULL && p.tok.t != TK_EOF)
		unexpected(&p);
	if (t == NULL || p.err != NULL) {
		*err = p.err != NULL ? p.err :
		    sf_strdup("rego_parse_error: failed");
		return SF_EPOLICY;
	}
	*out = t;
	return SF_OK;
}
