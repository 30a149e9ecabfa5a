/*
 * builtins.c - the builtin registry and the core builtins: comparison,
 * arithmetic, sets, membership, aggregates, types and conversions.
 *
 * A builtin gets its evaluated arguments and sets *out (NULL: undefined)
 * or fails with bi_type_err()/bi_err() (BI_ERR): the evaluator turns a
 * failure into "undefined" unless strict mode is on.  Messages follow
 * OPA's ("count: operand 1 must be one of {array, object, set, string}
 * but got null") so policies tested with OPA see the same errors.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "policy/rego.h"

#define A	EVA(ev)

/*
 * Argument helpers.
 */
int
bi_arg_str(struct ev *ev, const char *fn, struct rv *const *args, int i,
    const char **s, size_t *n)
{
	if (args[i]->t != RV_STR)
		return bi_type_err(ev, fn, i + 1, "string", args[i]);
	*s = args[i]->u.s;
	if (n != NULL)
		*n = args[i]->n;
	return SF_OK;
}

int
bi_arg_num(struct ev *ev, const char *fn, struct rv *const *args, int i)
{
	if (args[i]->t != RV_NUM)
		return bi_type_err(ev, fn, i + 1, "number", args[i]);
	return SF_OK;
}

int
bi_arg_int(struct ev *ev, const char *fn, struct rv *const *args, int i,
    int64_t *out)
{
	if (args[i]->t != RV_NUM)
		return bi_type_err(ev, fn, i + 1, "number", args[i]);
	if (!rv_get_int(args[i], out))
		return bi_type_errf(ev, "%s: operand %d must be integer number "
		    "but got floating-point number", fn, i + 1);
	return SF_OK;
}

int
bi_arg_type(struct ev *ev, const char *fn, struct rv *const *args, int i,
    enum rv_type t)
{
	static const char *names[] = { "", "null", "boolean", "number",
	    "string", "array", "object", "set" };

	if (args[i]->t != t)
		return bi_type_err(ev, fn, i + 1, names[t], args[i]);
	return SF_OK;
}

/*
 * Numbers.
 */
static struct rv *
num_from_i128(struct arena *a, __int128 x)
{
	char		 buf[48], *p = buf + sizeof(buf) - 1;
	bool		 neg = x < 0;
	unsigned __int128 u;

	if (x >= INT64_MIN && x <= INT64_MAX)
		return rv_int(a, (int64_t)x);
	u = neg ? (unsigned __int128)(-(x + 1)) + 1 : (unsigned __int128)x;
	*p = '\0';
	do {
		*--p = (char)('0' + (int)(u % 10));
		u /= 10;
	} while (u != 0);
	if (neg)
		*--p = '-';
	return rv_num_text(a, p, strlen(p));
}

/* Parse a big decimal integer into int128 when it fits. */
static bool
big_to_i128(const struct rv *v, __int128 *out)
{
	const char	*s;
	bool		 neg = false;
	__int128	 x = 0;

	if (v->nk == NK_INT) {
		*out = v->u.i;
		return true;
	}
	if (v->nk != NK_BIG || !rv_is_int(v))
		return false;
	s = v->u.s;
	if (*s == '-') {
		neg = true;
		s++;
	}
	for (; *s != '\0'; s++) {
		if (x > ((__int128)1 << 120))
			return false;
		x = x * 10 + (*s - '0');
	}
	*out = neg ? -x : x;
	return true;
}

enum arith { AR_ADD, AR_SUB, AR_MUL };

static struct rv *
arith(struct ev *ev, enum arith op, const struct rv *a, const struct rv *b)
{
	__int128	 x, y;
	double		 r;

	if (big_to_i128(a, &x) && big_to_i128(b, &y) &&
	    x < ((__int128)1 << 100) && x > -((__int128)1 << 100) &&
	    y < ((__int128)1 << 100) && y > -((__int128)1 << 100)) {
		switch (op) {
		case AR_ADD:
			return num_from_i128(A, x + y);
		case AR_SUB:
			return num_from_i128(A, x - y);
		case AR_MUL:
			if ((x < ((__int128)1 << 62) && x > -((__int128)1 << 62)
			    && y < ((__int128)1 << 62) &&
			    y > -((__int128)1 << 62)))
				return num_from_i128(A, x * y);
			break;
		}
	}
	switch (op) {
	case AR_ADD:
		r = rv_get_dbl(a) + rv_get_dbl(b);
		break;
	case AR_SUB:
		r = rv_get_dbl(a) - rv_get_dbl(b);
		break;
	default:
		r = rv_get_dbl(a) * rv_get_dbl(b);
		break;
	}
	return rv_num_dbl(A, r);
}

static int
out_or_oom(struct rv *v, struct rv **out)
{
	*out = v;
	return v == NULL ? SF_ENOMEM : SF_OK;
}

static int
bi_plus(struct ev *ev, struct rv *const *args, struct rv **out)
{
	if (args[0]->t != RV_NUM)
		return bi_type_err(ev, "plus", 1, "number", args[0]);
	if (args[1]->t != RV_NUM)
		return bi_type_err(ev, "plus", 2, "number", args[1]);
	return out_or_oom(arith(ev, AR_ADD, args[0], args[1]), out);
}

static int
bi_mul(struct ev *ev, struct rv *const *args, struct rv **out)
{
	if (args[0]->t != RV_NUM)
		return bi_type_err(ev, "mul", 1, "number", args[0]);
	if (args[1]->t != RV_NUM)
		return bi_type_err(ev, "mul", 2, "number", args[1]);
	return out_or_oom(arith(ev, AR_MUL, args[0], args[1]), out);
}

/* Sorted merge helpers for sets. */
static struct rv *
set_op(struct ev *ev, const struct rv *a, const struct rv *b, int op)
{
	struct rv	**items;
	uint32_t	 i = 0, j = 0, n = 0;
	int		 c;

	if ((items = arena_alloc(A, (a->n + b->n + 1) * sizeof(*items))) ==
	    NULL)
		return NULL;
	while (i < a->n || j < b->n) {
		if (i >= a->n)
			c = 1;
		else if (j >= b->n)
			c = -1;
		else
			c = rv_cmp(a->u.a[i], b->u.a[j]);
		if (c < 0) {
			if (op != '&')
				items[n++] = a->u.a[i];
			i++;
		} else if (c > 0) {
			if (op == '|')
				items[n++] = b->u.a[j];
			j++;
		} else {
			if (op != '-')
				items[n++] = a->u.a[i];
			i++;
			j++;
		}
	}
	return rv_set_from(A, items, n);
}

static int
bi_minus(struct ev *ev, struct rv *const *args, struct rv **out)
{
	if (args[0]->t == RV_NUM) {
		if (args[1]->t != RV_NUM)
			return bi_type_err(ev, "minus", 2, "number", args[1]);
		return out_or_oom(arith(ev, AR_SUB, args[0], args[1]), out);
	}
	if (args[0]->t == RV_SET) {
		if (args[1]->t != RV_SET)
			return bi_type_err(ev, "minus", 2, "set", args[1]);
		return out_or_oom(set_op(ev, args[0], args[1], '-'), out);
	}
	return bi_type_err(ev, "minus", 1, "one of {number, set}", args[0]);
}

static int
bi_and(struct ev *ev, struct rv *const *args, struct rv **out)
{
	if (args[0]->t != RV_SET)
		return bi_type_err(ev, "and", 1, "set", args[0]);
	if (args[1]->t != RV_SET)
		return bi_type_err(ev, "and", 2, "set", args[1]);
	return out_or_oom(set_op(ev, args[0], args[1], '&'), out);
}

static int
bi_or(struct ev *ev, struct rv *const *args, struct rv **out)
{
	if (args[0]->t != RV_SET)
		return bi_type_err(ev, "or", 1, "set", args[0]);
	if (args[1]->t != RV_SET)
		return bi_type_err(ev, "or", 2, "set", args[1]);
	return out_or_oom(set_op(ev, args[0], args[1], '|'), out);
}

static int
bi_div(struct ev *ev, struct rv *const *args, struct rv **out)
{
	double		 x, y;
	int64_t		 a, b;

	if (args[0]->t != RV_NUM)
		return bi_type_err(ev, "div", 1, "number", args[0]);
	if (args[1]->t != RV_NUM)
		return bi_type_err(ev, "div", 2, "number", args[1]);
	y = rv_get_dbl(args[1]);
	if (y == 0)
		return bi_err(ev, "div: divide by zero");
	if (rv_get_int(args[0], &a) && rv_get_int(args[1], &b) && b != 0 &&
	    !(a == INT64_MIN && b == -1) && a % b == 0)
		return out_or_oom(rv_int(A, a / b), out);
	x = rv_get_dbl(args[0]);
	return out_or_oom(rv_num_dbl(A, x / y), out);
}

static int
bi_rem(struct ev *ev, struct rv *const *args, struct rv **out)
{
	int64_t		 a, b;
	__int128	 x, y;

	if (args[0]->t != RV_NUM)
		return bi_type_err(ev, "rem", 1, "number", args[0]);
	if (args[1]->t != RV_NUM)
		return bi_type_err(ev, "rem", 2, "number", args[1]);
	if (!rv_is_int(args[0]) || !rv_is_int(args[1]))
		return bi_err(ev, "rem: modulo on floating-point number");
	if (rv_get_int(args[0], &a) && rv_get_int(args[1], &b)) {
		if (b == 0)
			return bi_err(ev, "rem: modulo by zero");
		if (b == -1)
			return out_or_oom(rv_int(A, 0), out);
		return out_or_oom(rv_int(A, a % b), out);
	}
	if (big_to_i128(args[0], &x) && big_to_i128(args[1], &y)) {
		if (y == 0)
			return bi_err(ev, "rem: modulo by zero");
		return out_or_oom(num_from_i128(A, x % y), out);
	}
	return bi_err(ev, "rem: number too large");
}

/*
 * Comparison.
 */
static int
bi_equal(struct ev *ev, struct rv *const *args, struct rv **out)
{
	(void)ev;
	*out = rv_bool(rv_eq(args[0], args[1]));
	return SF_OK;
}

static int
bi_neq(struct ev *ev, struct rv *const *args, struct rv **out)
{
	(void)ev;
	*out = rv_bool(!rv_eq(args[0], args[1]));
	return SF_OK;
}

static int
bi_lt(struct ev *ev, struct rv *const *args, struct rv **out)
{
	(void)ev;
	*out = rv_bool(rv_cmp(args[0], args[1]) < 0);
	return SF_OK;
}

static int
bi_lte(struct ev *ev, struct rv *const *args, struct rv **out)
{
	(void)ev;
	*out = rv_bool(rv_cmp(args[0], args[1]) <= 0);
	return SF_OK;
}

static int
bi_gt(struct ev *ev, struct rv *const *args, struct rv **out)
{
	(void)ev;
	*out = rv_bool(rv_cmp(args[0], args[1]) > 0);
	return SF_OK;
}

static int
bi_gte(struct ev *ev, struct rv *const *args, struct rv **out)
{
	(void)ev;
	*out = rv_bool(rv_cmp(args[0], args[1]) >= 0);
	return SF_OK;
}

/*
 * Membership.
 */
static int
bi_member2(struct ev *ev, struct rv *const *args, struct rv **out)
{
	const struct rv	*c = args[1];
	uint32_t	 i;

	(void)ev;
	*out = RV_FALSE;
	switch (c->t) {
	case RV_SET:
		*out = rv_bool(rv_set_has(c, args[0]));
		break;
	case RV_ARR:
		for (i = 0; i < c->n; i++)
			if (rv_eq(c->u.a[i], args[0])) {
				*out = RV_TRUE;
				break;
			}
		break;
	case RV_OBJ:
		for (i = 0; i < c->n; i++)
			if (rv_eq(c->u.o[i].v, args[0])) {
				*out = RV_TRUE;
				break;
			}
		break;
	default:
		break;
	}
	return SF_OK;
}

static int
bi_member3(struct ev *ev, struct rv *const *args, struct rv **out)
{
	const struct rv	*c = args[2], *v;

	(void)ev;
	*out = RV_FALSE;
	switch (c->t) {
	case RV_SET:
		*out = rv_bool(rv_eq(args[0], args[1]) &&
		    rv_set_has(c, args[1]));
		break;
	case RV_ARR:
	case RV_OBJ:
		v = rv_index(c, args[0]);
		*out = rv_bool(v != NULL && rv_eq(v, args[1]));
		break;
	default:
		break;
	}
	return SF_OK;
}

/*
 * Aggregates.
 */
static int
bi_count(struct ev *ev, struct rv *const *args, struct rv **out)
{
	switch (args[0]->t) {
	case RV_ARR:
	case RV_OBJ:
	case RV_SET:
		return out_or_oom(rv_int(A, args[0]->n), out);
	case RV_STR:
		return out_or_oom(rv_int(A, (int64_t)utf8_len(args[0]->u.s,
		    args[0]->n)), out);
	default:
		return bi_type_err(ev, "count", 1,
		    "one of {array, object, set, string}", args[0]);
	}
}

static int
fold_nums(struct ev *ev, const char *fn, const struct rv *c, bool mul,
    struct rv **out)
{
	struct rv	*acc;
	uint32_t	 i;

	if (c->t != RV_ARR && c->t != RV_SET)
		return bi_type_err(ev, fn, 1, "one of {array, set}", c);
	acc = rv_int(A, mul ? 1 : 0);
	for (i = 0; i < c->n; i++) {
		if (c->u.a[i]->t != RV_NUM)
			return bi_type_errf(ev, "%s: operand 1 must be one of "
			    "{array, set} containing numbers but got %s", fn,
			    rv_type_name(c->u.a[i]));
		if ((acc = arith(ev, mul ? AR_MUL : AR_ADD, acc, c->u.a[i])) ==
		    NULL)
			return SF_ENOMEM;
	}
	*out = acc;
	return SF_OK;
}

static int
bi_sum(struct ev *ev, struct rv *const *args, struct rv **out)
{
	return fold_nums(ev, "sum", args[0], false, out);
}

static int
bi_product(struct ev *ev, struct rv *const *args, struct rv **out)
{
	return fold_nums(ev, "product", args[0], true, out);
}

static int
minmax(struct ev *ev, const char *fn, const struct rv *c, int sign,
    struct rv **out)
{
	struct rv	*m = NULL;
	uint32_t	 i;

	if (c->t != RV_ARR && c->t != RV_SET)
		return bi_type_err(ev, fn, 1, "one of {array, set}", c);
	for (i = 0; i < c->n; i++)
		if (m == NULL || rv_cmp(c->u.a[i], m) * sign > 0)
			m = c->u.a[i];
	*out = m;
	return SF_OK;
}

static int
bi_max(struct ev *ev, struct rv *const *args, struct rv **out)
{
	return minmax(ev, "max", args[0], 1, out);
}

static int
bi_min(struct ev *ev, struct rv *const *args, struct rv **out)
{
	return minmax(ev, "min", args[0], -1, out);
}

static int
cmp_ptr(const void *x, const void *y)
{
	return rv_cmp(*(struct rv *const *)x, *(struct rv *const *)y);
}

static int
bi_sort(struct ev *ev, struct rv *const *args, struct rv **out)
{
	struct rv	*v;

	if (args[0]->t != RV_ARR && args[0]->t != RV_SET)
		return bi_type_err(ev, "sort", 1, "one of {array, set}",
		    args[0]);
	if ((v = rv_arr(A, args[0]->n)) == NULL)
		return SF_ENOMEM;
	if (args[0]->n > 0) {
		memcpy(v->u.a, args[0]->u.a, args[0]->n * sizeof(*v->u.a));
		if (args[0]->t == RV_ARR)
			qsort(v->u.a, v->n, sizeof(*v->u.a), cmp_ptr);
	}
	*out = v;
	return SF_OK;
}

/*
 * Numbers.
 */
static int
round_like(struct ev *ev, const char *fn, struct rv *const *args,
    double (*f)(double), struct rv **out)
{
	if (args[0]->t != RV_NUM)
		return bi_type_err(ev, fn, 1, "number", args[0]);
	if (rv_is_int(args[0])) {
		*out = args[0];
		return SF_OK;
	}
	return out_or_oom(rv_num_dbl(A, f(rv_get_dbl(args[0]))), out);
}

static int
bi_abs(struct ev *ev, struct rv *const *args, struct rv **out)
{
	int64_t	 i;

	if (args[0]->t != RV_NUM)
		return bi_type_err(ev, "abs", 1, "number", args[0]);
	if (rv_get_int(args[0], &i) && i != INT64_MIN)
		return out_or_oom(rv_int(A, i < 0 ? -i : i), out);
	if (args[0]->nk == NK_BIG && args[0]->u.s[0] == '-')
		return out_or_oom(rv_num_text(A, args[0]->u.s + 1,
		    args[0]->n - 1), out);
	if (args[0]->nk == NK_BIG) {
		*out = args[0];
		return SF_OK;
	}
	return out_or_oom(rv_num_dbl(A, fabs(rv_get_dbl(args[0]))), out);
}

static int
bi_ceil(struct ev *ev, struct rv *const *args, struct rv **out)
{
	return round_like(ev, "ceil", args, ceil, out);
}

static int
bi_floor(struct ev *ev, struct rv *const *args, struct rv **out)
{
	return round_like(ev, "floor", args, floor, out);
}

static int
bi_round(struct ev *ev, struct rv *const *args, struct rv **out)
{
	return round_like(ev, "round", args, round, out);
}

static int
range_common(struct ev *ev, const char *fn, int64_t a, int64_t b,
    int64_t step, struct rv **out)
{
	struct rv	*v;
	uint64_t	 n, i;

	n = (a <= b ? (uint64_t)(b - a) : (uint64_t)(a - b)) / (uint64_t)step
	    + 1;
	if (n > 10 * 1000 * 1000)
		return bi_err(ev, "%s: range too large", fn);
	if ((v = rv_arr(A, (uint32_t)n)) == NULL)
		return SF_ENOMEM;
	for (i = 0; i < n; i++) {
		int64_t x = a <= b ? a + (int64_t)i * step :
		    a - (int64_t)i * step;

		if ((v->u.a[i] = rv_int(A, x)) == NULL)
			return SF_ENOMEM;
	}
	*out = v;
	return SF_OK;
}

static int
bi_numbers_range(struct ev *ev, struct rv *const *args, struct rv **out)
{
	int64_t	 a, b;
	int	 rc;

	if ((rc = bi_arg_int(ev, "numbers.range", args, 0, &a)) != SF_OK ||
	    (rc = bi_arg_int(ev, "numbers.range", args, 1, &b)) != SF_OK)
		return rc;
	return range_common(ev, "numbers.range", a, b, 1, out);
}

static int
bi_numbers_range_step(struct ev *ev, struct rv *const *args, struct rv **out)
{
	int64_t	 a, b, s;
	int	 rc;

	if ((rc = bi_arg_int(ev, "numbers.range_step", args, 0, &a)) !=
	    SF_OK ||
	    (rc = bi_arg_int(ev, "numbers.range_step", args, 1, &b)) != SF_OK)
		return rc;
	if (args[2]->t != RV_NUM)
		return bi_type_err(ev, "numbers.range_step", 3, "number",
		    args[2]);
	if (!rv_is_int(args[2]))
		return bi_type_errf(ev, "numbers.range_step: operand 3 must be "
		    "integer number but got floating-point number");
	if (!rv_get_int(args[2], &s)) {
		/* a step beyond int64 yields only the start */
		if (args[2]->u.s[0] == '-')
			return bi_err(ev, "numbers.range_step: step must be a "
			    "positive integer");
		s = INT64_MAX;
	}
	if (s <= 0)
		return bi_err(ev, "numbers.range_step: step must be a positive "
		    "integer");
	return range_common(ev, "numbers.range_step", a, b, s, out);
}

/*
 * Types.
 */
#define IS_TYPE(name, ty)						\
static int								\
bi_is_##name(struct ev *ev, struct rv *const *args, struct rv **out)	\
{									\
	(void)ev;							\
	*out = rv_bool(args[0]->t == (ty));				\
	return SF_OK;							\
}
IS_TYPE(null, RV_NULL)
IS_TYPE(boolean, RV_BOOL)
IS_TYPE(number, RV_NUM)
IS_TYPE(string, RV_STR)
IS_TYPE(array, RV_ARR)
IS_TYPE(object, RV_OBJ)
IS_TYPE(set, RV_SET)

static int
bi_type_name(struct ev *ev, struct rv *const *args, struct rv **out)
{
	return out_or_oom(rv_cstr(A, rv_type_name(args[0])), out);
}

static int
bi_to_number(struct ev *ev, struct rv *const *args, struct rv **out)
{
	const struct rv	*v = args[0];
	const char	*s;
	size_t		 n;

	switch (v->t) {
	case RV_NULL:
		return out_or_oom(rv_int(A, 0), out);
	case RV_BOOL:
		return out_or_oom(rv_int(A, v->u.b ? 1 : 0), out);
	case RV_NUM:
		*out = (struct rv *)v;
		return SF_OK;
	case RV_STR:
		s = v->u.s;
		n = v->n;
		/* Go's ParseFloat-like: allow a leading '+', no spaces */
		if (n > 0 && s[0] == '+') {
			s++;
			n--;
		}
		if (n > 0 && (s[0] == '.' || (s[0] == '-' && n > 1 &&
		    s[1] == '.'))) {
			char *tmp = arena_alloc(A, n + 2);

			if (tmp == NULL)
				return SF_ENOMEM;
			if (s[0] == '-') {
				tmp[0] = '-';
				tmp[1] = '0';
				memcpy(tmp + 2, s + 1, n - 1);
			} else {
				tmp[0] = '0';
				memcpy(tmp + 1, s, n);
			}
			s = tmp;
			n++;
		}
		if (n >= 3 && n <= 9 && (strncasecmp(s, "nan", 3) == 0 ||
		    strncasecmp(s, "inf", 3) == 0 ||
		    strncasecmp(s, "-inf", 4) == 0))
			return bi_type_errf(ev, "to_number: operand 1 must be a "
			    "finite number but got %.*s", (int)n, s);
		if ((*out = rv_num_text(A, s, n)) == NULL)
			return bi_err(ev, "strconv.ParseFloat: parsing %.*s: "
			    "invalid syntax", (int)(v->n > 64 ? 64 : v->n),
			    v->u.s);
		return SF_OK;
	default:
		return bi_type_err(ev, "to_number", 1,
		    "one of {null, boolean, number, string}", v);
	}
}

/*
 * Sets of sets.
 */
static int
bi_union(struct ev *ev, struct rv *const *args, struct rv **out)
{
	struct rv	*acc = &rv_empty_set_v;
	uint32_t	 i;

	if (args[0]->t != RV_SET)
		return bi_type_err(ev, "union", 1, "set", args[0]);
	for (i = 0; i < args[0]->n; i++) {
		if (args[0]->u.a[i]->t != RV_SET)
			return bi_type_errf(ev, "union: operand 1 must be set "
			    "of sets but got set containing %s",
			    rv_type_name(args[0]->u.a[i]));
		if ((acc = set_op(ev, acc, args[0]->u.a[i], '|')) == NULL)
			return SF_ENOMEM;
	}
	*out = acc;
	return SF_OK;
}

static int
bi_intersection(struct ev *ev, struct rv *const *args, struct rv **out)
{
	struct rv	*acc = NULL;
	uint32_t	 i;

	if (args[0]->t != RV_SET)
		return bi_type_err(ev, "intersection", 1, "set", args[0]);
	for (i = 0; i < args[0]->n; i++) {
		if (args[0]->u.a[i]->t != RV_SET)
			return bi_type_errf(ev, "intersection: operand 1 must "
			    "be set of sets but got set containing %s",
			    rv_type_name(args[0]->u.a[i]));
		if (acc == NULL)
			acc = args[0]->u.a[i];
		else if ((acc = set_op(ev, acc, args[0]->u.a[i], '&')) == NULL)
			return SF_ENOMEM;
	}
	*out = acc != NULL ? acc : &rv_empty_set_v;
	return SF_OK;
}

/*
 * Arrays.
 */
static int
bi_array_concat(struct ev *ev, struct rv *const *args, struct rv **out)
{
	struct rv	*v;
	int		 rc;

	if ((rc = bi_arg_type(ev, "array.concat", args, 0, RV_ARR)) != SF_OK ||
	    (rc = bi_arg_type(ev, "array.concat", args, 1, RV_ARR)) != SF_OK)
		return rc;
	if ((v = rv_arr(A, args[0]->n + args[1]->n)) == NULL)
		return SF_ENOMEM;
	if (args[0]->n > 0)
		memcpy(v->u.a, args[0]->u.a, args[0]->n * sizeof(*v->u.a));
	if (args[1]->n > 0)
		memcpy(v->u.a + args[0]->n, args[1]->u.a,
		    args[1]->n * sizeof(*v->u.a));
	*out = v;
	return SF_OK;
}

static int
bi_array_slice(struct ev *ev, struct rv *const *args, struct rv **out)
{
	int64_t		 s, e, n;
	struct rv	*v;
	int		 rc;

	if ((rc = bi_arg_type(ev, "array.slice", args, 0, RV_ARR)) != SF_OK ||
	    (rc = bi_arg_int(ev, "array.slice", args, 1, &s)) != SF_OK ||
	    (rc = bi_arg_int(ev, "array.slice", args, 2, &e)) != SF_OK)
		return rc;
	n = args[0]->n;
	if (s < 0)
		s = 0;
	if (e > n)
		e = n;
	if (s > e)
		s = e;
	if ((v = rv_arr(A, (uint32_t)(e - s))) == NULL)
		return SF_ENOMEM;
	if (e > s)
		memcpy(v->u.a, args[0]->u.a + s, (size_t)(e - s) *
		    sizeof(*v->u.a));
	*out = v;
	return SF_OK;
}

static int
bi_array_reverse(struct ev *ev, struct rv *const *args, struct rv **out)
{
	struct rv	*v;
	uint32_t	 i, n;
	int		 rc;

	if ((rc = bi_arg_type(ev, "array.reverse", args, 0, RV_ARR)) != SF_OK)
		return rc;
	n = args[0]->n;
	if ((v = rv_arr(A, n)) == NULL)
		return SF_ENOMEM;
	for (i = 0; i < n; i++)
		v->u.a[i] = args[0]->u.a[n - 1 - i];
	*out = v;
	return SF_OK;
}

static int
flatten_into(struct ev *ev, const struct rv *a, struct rv ***items,
    uint32_t *n, uint32_t *cap, int depth)
{
	uint32_t	 i;
	int		 rc;

	if (depth > 1000)
		return bi_err(ev, "array.flatten: nesting too deep");
	for (i = 0; i < a->n; i++) {
		if (a->u.a[i]->t == RV_ARR && depth == 0) {
			/* one level only, like OPA */
			if ((rc = flatten_into(ev, a->u.a[i], items, n, cap,
			    depth + 1)) != SF_OK)
				return rc;
			continue;
		}
		if (*n == *cap) {
			uint32_t nc = *cap == 0 ? 8 : *cap * 2;

			if ((*items = arena_grow(A, *items, *n, nc,
			    sizeof(**items))) == NULL)
				return SF_ENOMEM;
			*cap = nc;
		}
		(*items)[(*n)++] = a->u.a[i];
	}
	return SF_OK;
}

static int
bi_array_flatten(struct ev *ev, struct rv *const *args, struct rv **out)
{
	struct rv	**items = NULL, *v;
	uint32_t	 n = 0, cap = 0;
	int		 rc;

	if ((rc = bi_arg_type(ev, "array.flatten", args, 0, RV_ARR)) != SF_OK)
		return rc;
	if ((rc = flatten_into(ev, args[0], &items, &n, &cap, 0)) != SF_OK)
		return rc;
	if ((v = rv_arr(A, n)) == NULL)
		return SF_ENOMEM;
	if (n > 0)
		memcpy(v->u.a, items, n * sizeof(*items));
	*out = v;
	return SF_OK;
}

/*
 * Misc.
 */
static int
bi_print(struct ev *ev, struct rv *const *args, struct rv **out)
{
	(void)ev;
	(void)args;
	*out = RV_TRUE;
	return SF_OK;
}

static int
bi_opa_runtime(struct ev *ev, struct rv *const *args, struct rv **out)
{
	(void)ev;
	(void)args;
	*out = &rv_empty_obj_v;
	return SF_OK;
}

const struct builtin bi_core[] = {
	{ "eq", 2, NULL, BI_INFIX },
	{ "assign", 2, NULL, BI_INFIX },
	{ "equal", 2, bi_equal, BI_INFIX },
	{ "neq", 2, bi_neq, BI_INFIX },
	{ "lt", 2, bi_lt, BI_INFIX },
	{ "lte", 2, bi_lte, BI_INFIX },
	{ "gt", 2, bi_gt, BI_INFIX },
	{ "gte", 2, bi_gte, BI_INFIX },
	{ "plus", 2, bi_plus, BI_INFIX },
	{ "minus", 2, bi_minus, BI_INFIX },
	{ "mul", 2, bi_mul, BI_INFIX },
	{ "div", 2, bi_div, BI_INFIX },
	{ "rem", 2, bi_rem, BI_INFIX },
	{ "and", 2, bi_and, BI_INFIX },
	{ "or", 2, bi_or, BI_INFIX },
	{ "internal.member_2", 2, bi_member2, BI_INFIX },
	{ "internal.member_3", 3, bi_member3, BI_INFIX },
	{ "count", 1, bi_count, 0 },
	{ "sum", 1, bi_sum, 0 },
	{ "product", 1, bi_product, 0 },
	{ "max", 1, bi_max, 0 },
	{ "min", 1, bi_min, 0 },
	{ "sort", 1, bi_sort, 0 },
	{ "abs", 1, bi_abs, 0 },
	{ "ceil", 1, bi_ceil, 0 },
	{ "floor", 1, bi_floor, 0 },
	{ "round", 1, bi_round, 0 },
	{ "numbers.range", 2, bi_numbers_range, 0 },
	{ "numbers.range_step", 3, bi_numbers_range_step, 0 },
	{ "is_null", 1, bi_is_null, 0 },
	{ "is_boolean", 1, bi_is_boolean, 0 },
	{ "is_number", 1, bi_is_number, 0 },
	{ "is_string", 1, bi_is_string, 0 },
	{ "is_array", 1, bi_is_array, 0 },
	{ "is_object", 1, bi_is_object, 0 },
	{ "is_set", 1, bi_is_set, 0 },
	{ "type_name", 1, bi_type_name, 0 },
	{ "to_number", 1, bi_to_number, 0 },
	{ "union", 1, bi_union, 0 },
	{ "intersection", 1, bi_intersection, 0 },
	{ "array.concat", 2, bi_array_concat, 0 },
	{ "array.slice", 3, bi_array_slice, 0 },
	{ "array.reverse", 1, bi_array_reverse, 0 },
	{ "array.flatten", 1, bi_array_flatten, 0 },
	{ "print", 1, bi_print, 0 },
	{ "opa.runtime", 0, bi_opa_runtime, 0 },
	{ "http.send", 1, NULL, BI_ABSENT },
	{ "net.lookup_ip_addr", 1, NULL, BI_ABSENT },
	{ NULL, 0, NULL, 0 }
};

/*
 * Registry: every family table merged and sorted once.
 */
static const struct builtin **all;
static size_t nall;

static int
cmp_bi(const void *x, const void *y)
{
	return strcmp((*(const struct builtin *const *)x)->name,
	    (*(const struct builtin *const *)y)->name);
}

void
builtins_sort(void)
{
	const struct builtin *const tables[] = { bi_core, bi_strings, bi_regex,
	    bi_object, bi_time, bi_crypto, bi_net, bi_misc };
	const struct builtin	**v;
	size_t			 i, n = 0;
	const struct builtin	*b;

	if (all != NULL)
		return;
	for (i = 0; i < sizeof(tables) / sizeof(tables[0]); i++)
		for (b = tables[i]; b->name != NULL; b++)
			n++;
	if ((v = calloc(n, sizeof(*v))) == NULL)
		return;
	n = 0;
	for (i = 0; i < sizeof(tables) / sizeof(tables[0]); i++)
		for (b = tables[i]; b->name != NULL; b++)
			v[n++] = b;
	qsort(v, n, sizeof(*v), cmp_bi);
	nall = n;
	all = v;
}

const struct builtin *
builtin_findn(const char *name, size_t n)
{
	size_t	 lo = 0, hi, mid;
	int	 c;

	builtins_sort();
	hi = nall;
	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		c = strncmp(all[mid]->name, name, n);
		if (c == 0 && all[mid]->name[n] != '\0')
			c = 1;
		if (c == 0)
			return all[mid];
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

const struct builtin *
builtin_find(const char *name)
{
	return builtin_findn(name, strlen(name));
}
