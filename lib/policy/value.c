/*
 * value.c - Rego values: construction, the total order, lookups, JSON
 * conversion and printing.
 *
 * Order (OPA's ast.Compare): null < booleans < numbers < strings <
 * arrays < objects < sets.  Numbers compare numerically across kinds;
 * strings bytewise; arrays and sets element by element then by length;
 * objects by sorted keys and values interleaved, then by size.
 * Objects and sets are kept sorted in this order, so lookups are binary
 * searches and equal values have equal layouts.
 */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "policy/rego.h"

struct rv rv_null_v = { .t = RV_NULL };
struct rv rv_true_v = { .t = RV_BOOL, .u.b = true };
struct rv rv_false_v = { .t = RV_BOOL, .u.b = false };
struct rv rv_empty_str_v = { .t = RV_STR, .n = 0, .u.s = "" };
struct rv rv_empty_arr_v = { .t = RV_ARR, .n = 0, .u.a = NULL };
struct rv rv_empty_obj_v = { .t = RV_OBJ, .n = 0, .u.o = NULL };
struct rv rv_empty_set_v = { .t = RV_SET, .n = 0, .u.a = NULL };

static struct rv small_ints[256];
static bool small_init;

static void
init_small(void)
{
	int	i;

	for (i = 0; i < 256; i++) {
		small_ints[i].t = RV_NUM;
		small_ints[i].nk = NK_INT;
		small_ints[i].u.i = i - 128;
	}
	small_init = true;
}

struct rv *
rv_bool(bool b)
{
	return b ? RV_TRUE : RV_FALSE;
}

struct rv *
rv_int(struct arena *a, int64_t i)
{
	struct rv	*v;

	if (i >= -128 && i < 128) {
		if (!small_init)
			init_small();
		return &small_ints[i + 128];
	}
	if ((v = arena_alloc(a, sizeof(*v))) == NULL)
		return NULL;
	v->t = RV_NUM;
	v->nk = NK_INT;
	v->n = 0;
	v->u.i = i;
	return v;
}

struct rv *
rv_num_dbl(struct arena *a, double d)
{
	struct rv	*v;

	if (isfinite(d) && d == floor(d) && d >= -9223372036854775808.0 &&
	    d < 9223372036854775808.0)
		return rv_int(a, (int64_t)d);
	if ((v = arena_alloc(a, sizeof(*v))) == NULL)
		return NULL;
	v->t = RV_NUM;
	v->nk = NK_DBL;
	v->n = 0;
	v->u.d = d;
	return v;
}

/* Validate JSON number grammar; *isint when no fraction or exponent. */
static bool
num_syntax(const char *s, size_t n, bool *isint)
{
	size_t	i = 0;

	*isint = true;
	if (i < n && s[i] == '-')
		i++;
	if (i >= n)
		return false;
	if (s[i] == '0')
		i++;
	else if (s[i] >= '1' && s[i] <= '9') {
		while (i < n && s[i] >= '0' && s[i] <= '9')
			i++;
	} else
		return false;
	if (i < n && s[i] == '.') {
		*isint = false;
		i++;
		if (i >= n || s[i] < '0' || s[i] > '9')
			return false;
		while (i < n && s[i] >= '0' && s[i] <= '9')
			i++;
	}
	if (i < n && (s[i] == 'e' || s[i] == 'E')) {
		*isint = false;
		i++;
		if (i < n && (s[i] == '+' || s[i] == '-'))
			i++;
		if (i >= n || s[i] < '0' || s[i] > '9')
			return false;
		while (i < n && s[i] >= '0' && s[i] <= '9')
			i++;
	}
	return i == n;
}

struct rv *
rv_num_text(struct arena *a, const char *s, size_t n)
{
	char		 buf[64], *tmp = NULL, *end;
	const char	*z;
	struct rv	*v;
	bool		 isint;
	double		 d;

	if (!num_syntax(s, n, &isint))
		return NULL;
	if (n < sizeof(buf)) {
		memcpy(buf, s, n);
		buf[n] = '\0';
		z = buf;
	} else {
		if ((tmp = arena_strndup(a, s, n)) == NULL)
			return NULL;
		z = tmp;
	}
	if (isint) {
		long long	 ll;

		errno = 0;
		ll = strtoll(z, &end, 10);
		if (errno == 0 && *end == '\0')
			return rv_int(a, (int64_t)ll);
		/* Out of int64: keep the decimal text. */
		if ((v = arena_alloc(a, sizeof(*v))) == NULL)
			return NULL;
		v->t = RV_NUM;
		v->nk = NK_BIG;
		v->n = (uint32_t)n;
		v->u.s = tmp != NULL ? tmp : arena_strndup(a, s, n);
		return v->u.s == NULL ? NULL : v;
	}
	d = strtod(z, &end);
	if (!isfinite(d)) {
		if ((v = arena_alloc(a, sizeof(*v))) == NULL)
			return NULL;
		v->t = RV_NUM;
		v->nk = NK_BIG;
		v->n = (uint32_t)n;
		v->u.s = tmp != NULL ? tmp : arena_strndup(a, s, n);
		return v->u.s == NULL ? NULL : v;
	}
	return rv_num_dbl(a, d);
}

struct rv *
rv_str_ref(struct arena *a, const char *s, size_t n)
{
	struct rv	*v;

	if (n == 0)
		return &rv_empty_str_v;
	if ((v = arena_alloc(a, sizeof(*v))) == NULL)
		return NULL;
	v->t = RV_STR;
	v->nk = 0;
	v->n = (uint32_t)n;
	v->u.s = s;
	return v;
}

struct rv *
rv_str(struct arena *a, const char *s, size_t n)
{
	char	*p;

	if (n == 0)
		return &rv_empty_str_v;
	if (n > UINT32_MAX - 1 || (p = arena_strndup(a, s, n)) == NULL)
		return NULL;
	return rv_str_ref(a, p, n);
}

struct rv *
rv_cstr(struct arena *a, const char *s)
{
	return rv_str(a, s, strlen(s));
}

struct rv *
rv_arr(struct arena *a, uint32_t n)
{
	struct rv	*v;

	if ((v = arena_alloc(a, sizeof(*v))) == NULL)
		return NULL;
	v->t = RV_ARR;
	v->nk = 0;
	v->n = n;
	v->u.a = NULL;
	if (n > 0 && (v->u.a = arena_calloc(a, n, sizeof(*v->u.a))) == NULL)
		return NULL;
	return v;
}

static int
cmp_ptr(const void *x, const void *y)
{
	return rv_cmp(*(struct rv *const *)x, *(struct rv *const *)y);
}

static int
cmp_kv(const void *x, const void *y)
{
	return rv_cmp(((const struct rv_kv *)x)->k, ((const struct rv_kv *)y)->k);
}

/* Key order with a fast path for the usual string keys. */
static inline int
key_cmp(const struct rv *a, const struct rv *b)
{
	uint32_t	 m;
	int		 c;

	if (a->t == RV_STR && b->t == RV_STR) {
		m = a->n < b->n ? a->n : b->n;
		c = m > 0 ? memcmp(a->u.s, b->u.s, m) : 0;
		if (c != 0)
			return c;
		return a->n < b->n ? -1 : a->n > b->n;
	}
	return rv_cmp(a, b);
}

/* Is the sequence already strictly increasing? (common for built values) */
static bool
sorted_ptrs(struct rv **it, size_t n)
{
	size_t	i;

	for (i = 1; i < n; i++)
		if (rv_cmp(it[i - 1], it[i]) >= 0)
			return false;
	return true;
}

struct rv *
rv_set_from(struct arena *a, struct rv **items, size_t n)
{
	struct rv	*v;
	size_t		 i, j;

	if ((v = arena_alloc(a, sizeof(*v))) == NULL)
		return NULL;
	v->t = RV_SET;
	v->nk = 0;
	if (n > 1 && !sorted_ptrs(items, n)) {
		qsort(items, n, sizeof(*items), cmp_ptr);
		for (i = 1, j = 1; i < n; i++)
			if (rv_cmp(items[j - 1], items[i]) != 0)
				items[j++] = items[i];
		n = j;
	}
	v->n = (uint32_t)n;
	v->u.a = n > 0 ? items : NULL;
	return v;
}

struct rv *
rv_obj_from(struct arena *a, struct rv_kv *kv, size_t n, bool *conflict)
{
	struct rv	*v;
	size_t		 i, j;
	bool		 sorted = true;

	if (conflict != NULL)
		*conflict = false;
	for (i = 1; i < n; i++)
		if (key_cmp(kv[i - 1].k, kv[i].k) >= 0) {
			sorted = false;
			break;
		}
	if (!sorted) {
		if (n <= 16) {
			/* insertion sort: small objects are the common case */
			for (i = 1; i < n; i++) {
				struct rv_kv x = kv[i];

				for (j = i; j > 0 && key_cmp(kv[j - 1].k, x.k) > 0;
				    j--)
					kv[j] = kv[j - 1];
				kv[j] = x;
			}
		} else
			qsort(kv, n, sizeof(*kv), cmp_kv);
		for (i = 1, j = 1; i < n; i++) {
			if (key_cmp(kv[j - 1].k, kv[i].k) != 0) {
				kv[j++] = kv[i];
				continue;
			}
			if (!rv_eq(kv[j - 1].v, kv[i].v)) {
				if (conflict != NULL)
					*conflict = true;
				return NULL;
			}
		}
		n = j;
	}
	if ((v = arena_alloc(a, sizeof(*v))) == NULL)
		return NULL;
	v->t = RV_OBJ;
	v->nk = 0;
	v->n = (uint32_t)n;
	v->u.o = n > 0 ? kv : NULL;
	return v;
}

/*
 * Numbers.
 */
bool
rv_is_int(const struct rv *v)
{
	return v->t == RV_NUM && (v->nk == NK_INT ||
	    (v->nk == NK_BIG && strpbrk(v->u.s, ".eE") == NULL));
}

bool
rv_get_int(const struct rv *v, int64_t *out)
{
	if (v->t != RV_NUM || v->nk != NK_INT)
		return false;
	*out = v->u.i;
	return true;
}

double
rv_get_dbl(const struct rv *v)
{
	switch (v->nk) {
	case NK_INT:
		return (double)v->u.i;
	case NK_DBL:
		return v->u.d;
	default:
		return strtod(v->u.s, NULL);
	}
}

/* Compare two decimal integer texts (possibly signed). */
static int
cmp_bigtext(const char *a, const char *b)
{
	bool	 na = *a == '-', nb = *b == '-';
	size_t	 la, lb;
	int	 c;

	if (na != nb)
		return na ? -1 : 1;
	if (na) {
		a++;
		b++;
	}
	while (*a == '0' && a[1] != '\0')
		a++;
	while (*b == '0' && b[1] != '\0')
		b++;
	la = strlen(a);
	lb = strlen(b);
	if (la != lb)
		c = la < lb ? -1 : 1;
	else {
		c = strcmp(a, b);
		c = c < 0 ? -1 : c > 0 ? 1 : 0;
	}
	return na ? -c : c;
}

static int
cmp_num(const struct rv *a, const struct rv *b)
{
	double	 x, y;

	if (a->nk == NK_INT && b->nk == NK_INT)
		return a->u.i < b->u.i ? -1 : a->u.i > b->u.i ? 1 : 0;
	if (a->nk == NK_BIG && b->nk == NK_BIG && rv_is_int(a) && rv_is_int(b))
		return cmp_bigtext(a->u.s, b->u.s);
	if (a->nk == NK_BIG && b->nk == NK_INT && rv_is_int(a))
		return a->u.s[0] == '-' ? -1 : 1;
	if (b->nk == NK_BIG && a->nk == NK_INT && rv_is_int(b))
		return b->u.s[0] == '-' ? 1 : -1;
	x = rv_get_dbl(a);
	y = rv_get_dbl(b);
	return x < y ? -1 : x > y ? 1 : 0;
}

int
rv_cmp(const struct rv *a, const struct rv *b)
{
	uint32_t	 i, n;
	int		 c;

	if (a == b)
		return 0;
	if (a->t != b->t)
		return a->t < b->t ? -1 : 1;
	switch (a->t) {
	case RV_NULL:
		return 0;
	case RV_BOOL:
		return a->u.b == b->u.b ? 0 : a->u.b ? 1 : -1;
	case RV_NUM:
		return cmp_num(a, b);
	case RV_STR:
		n = a->n < b->n ? a->n : b->n;
		if (n > 0 && (c = memcmp(a->u.s, b->u.s, n)) != 0)
			return c < 0 ? -1 : 1;
		return a->n == b->n ? 0 : a->n < b->n ? -1 : 1;
	case RV_ARR:
	case RV_SET:
		n = a->n < b->n ? a->n : b->n;
		for (i = 0; i < n; i++)
			if ((c = rv_cmp(a->u.a[i], b->u.a[i])) != 0)
				return c;
		return a->n == b->n ? 0 : a->n < b->n ? -1 : 1;
	case RV_OBJ:
		n = a->n < b->n ? a->n : b->n;
		for (i = 0; i < n; i++) {
			if ((c = rv_cmp(a->u.o[i].k, b->u.o[i].k)) != 0)
				return c;
			if ((c = rv_cmp(a->u.o[i].v, b->u.o[i].v)) != 0)
				return c;
		}
		return a->n == b->n ? 0 : a->n < b->n ? -1 : 1;
	}
	return 0;
}

bool
rv_eq(const struct rv *a, const struct rv *b)
{
	if (a == b)
		return true;
	if (a->t != b->t)
		return false;
	if (a->t == RV_STR)
		return a->n == b->n && memcmp(a->u.s, b->u.s, a->n) == 0;
	if ((a->t == RV_ARR || a->t == RV_OBJ || a->t == RV_SET) &&
	    a->n != b->n)
		return false;
	return rv_cmp(a, b) == 0;
}

bool
rv_truthy(const struct rv *v)
{
	return v != NULL && !(v->t == RV_BOOL && !v->u.b);
}

/* Lookup of a string key: the common case, without the generic compare. */
static struct rv *
obj_get_str(const struct rv *o, const char *s, uint32_t n)
{
	uint32_t	 lo = 0, hi = o->n, mid, m;
	const struct rv	*k;
	int		 c;

	if (hi <= 8) {
		/* small objects: a length check rules out most keys */
		for (mid = 0; mid < hi; mid++) {
			k = o->u.o[mid].k;
			if (k->t == RV_STR && k->n == n &&
			    (n == 0 || (k->u.s[0] == s[0] &&
			    memcmp(k->u.s, s, n) == 0)))
				return o->u.o[mid].v;
		}
		return NULL;
	}
	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		k = o->u.o[mid].k;
		if (k->t != RV_STR)
			c = k->t < RV_STR ? -1 : 1;
		else {
			m = k->n < n ? k->n : n;
			c = m > 0 ? memcmp(k->u.s, s, m) : 0;
			if (c == 0)
				c = k->n < n ? -1 : k->n > n ? 1 : 0;
		}
		if (c == 0)
			return o->u.o[mid].v;
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

struct rv *
rv_obj_get(const struct rv *o, const struct rv *key)
{
	uint32_t	 lo = 0, hi, mid;
	int		 c;

	if (o->t != RV_OBJ)
		return NULL;
	if (key->t == RV_STR)
		return obj_get_str(o, key->u.s, key->n);
	hi = o->n;
	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		c = rv_cmp(o->u.o[mid].k, key);
		if (c == 0)
			return o->u.o[mid].v;
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

struct rv *
rv_obj_gets(const struct rv *o, const char *key)
{
	if (o->t != RV_OBJ)
		return NULL;
	return obj_get_str(o, key, (uint32_t)strlen(key));
}

bool
rv_set_has(const struct rv *s, const struct rv *v)
{
	uint32_t	 lo = 0, hi, mid;
	int		 c;

	if (s->t != RV_SET)
		return false;
	hi = s->n;
	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		c = rv_cmp(s->u.a[mid], v);
		if (c == 0)
			return true;
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return false;
}

struct rv *
rv_index(const struct rv *coll, const struct rv *key)
{
	int64_t		 i;

	switch (coll->t) {
	case RV_ARR:
		if (key->t != RV_NUM || !rv_get_int(key, &i))
			return NULL;
		if (i < 0 || (uint64_t)i >= coll->n)
			return NULL;
		return coll->u.a[i];
	case RV_OBJ:
		return rv_obj_get(coll, key);
	case RV_SET:
		return rv_set_has(coll, key) ? (struct rv *)key : NULL;
	default:
		return NULL;
	}
}

const char *
rv_type_name(const struct rv *v)
{
	if (v == NULL)
		return "undefined";
	switch (v->t) {
	case RV_NULL:
		return "null";
	case RV_BOOL:
		return "boolean";
	case RV_NUM:
		return "number";
	case RV_STR:
		return "string";
	case RV_ARR:
		return "array";
	case RV_OBJ:
		return "object";
	case RV_SET:
		return "set";
	}
	return "unknown";
}

/*
 * JSON conversion.
 */
static struct rv *from_json(struct arena *a, const json_t *j, bool borrow);

struct rv *
rv_from_json(struct arena *a, const json_t *j)
{
	return from_json(a, j, false);
}

struct rv *
rv_from_json_borrow(struct arena *a, const json_t *j)
{
	return from_json(a, j, true);
}

static struct rv *
from_json(struct arena *a, const json_t *j, bool borrow)
{
	struct rv	*v;
	struct rv_kv	*kv;
	const char	*k;
	json_t		*x;
	size_t		 i, n;

	switch (json_typeof(j)) {
	case JSON_NULL:
		return RV_NULLV;
	case JSON_TRUE:
		return RV_TRUE;
	case JSON_FALSE:
		return RV_FALSE;
	case JSON_INTEGER:
		return rv_int(a, (int64_t)json_integer_value(j));
	case JSON_REAL:
		return rv_num_dbl(a, json_real_value(j));
	case JSON_STRING:
		if (borrow)
			return rv_str_ref(a, json_string_value(j),
			    json_string_length(j));
		return rv_str(a, json_string_value(j), json_string_length(j));
	case JSON_ARRAY:
		n = json_array_size(j);
		if (n == 0)
			return &rv_empty_arr_v;
		if ((v = rv_arr(a, (uint32_t)n)) == NULL)
			return NULL;
		json_array_foreach(j, i, x)
			if ((v->u.a[i] = from_json(a, x, borrow)) == NULL)
				return NULL;
		return v;
	case JSON_OBJECT:
		n = json_object_size(j);
		if (n == 0)
			return &rv_empty_obj_v;
		if ((kv = arena_alloc(a, n * sizeof(*kv))) == NULL)
			return NULL;
		i = 0;
		{
			void	*it;
			size_t	 kl;

			for (it = json_object_iter((json_t *)j); it != NULL;
			    it = json_object_iter_next((json_t *)j, it)) {
				k = json_object_iter_key(it);
				kl = json_object_iter_key_len(it);
				x = json_object_iter_value(it);
				kv[i].k = borrow ? rv_str_ref(a, k, kl) :
				    rv_str(a, k, kl);
				if (kv[i].k == NULL || (kv[i].v = from_json(a, x,
				    borrow)) == NULL)
					return NULL;
				i++;
			}
		}
		return rv_obj_from(a, kv, n, NULL);
	}
	return NULL;
}

/* The JSON key for an object key: strings as is, others as JSON text. */
static char *
key_text(const struct rv *k)
{
	struct sbuf	 b;

	if (k->t == RV_STR)
		return sf_strndup(k->u.s, k->n);
	sbuf_init(&b, NULL);
	rv_write_json(&b, k);
	if (b.oom) {
		sbuf_free(&b);
		return NULL;
	}
	sbuf_cstr(&b);
	return b.s;
}

json_t *
rv_to_json(const struct rv *v)
{
	json_t		*j, *x;
	char		*k;
	uint32_t	 i;

	switch (v->t) {
	case RV_NULL:
		return json_null();
	case RV_BOOL:
		return json_boolean(v->u.b);
	case RV_NUM:
		if (v->nk == NK_INT)
			return json_integer((json_int_t)v->u.i);
		return json_real(rv_get_dbl(v));
	case RV_STR:
		return json_stringn(v->u.s, v->n);
	case RV_ARR:
	case RV_SET:
		if ((j = json_array()) == NULL)
			return NULL;
		for (i = 0; i < v->n; i++) {
			if ((x = rv_to_json(v->u.a[i])) == NULL ||
			    json_array_append_new(j, x) != 0) {
				json_decref(j);
				return NULL;
			}
		}
		return j;
	case RV_OBJ:
		if ((j = json_object()) == NULL)
			return NULL;
		for (i = 0; i < v->n; i++) {
			k = key_text(v->u.o[i].k);
			x = rv_to_json(v->u.o[i].v);
			if (k == NULL || x == NULL ||
			    json_object_set_new(j, k, x) != 0) {
				free(k);
				json_decref(x);
				json_decref(j);
				return NULL;
			}
			free(k);
		}
		return j;
	}
	return NULL;
}

/*
 * Text buffers.
 */
void
sbuf_init(struct sbuf *b, struct arena *a)
{
	b->s = NULL;
	b->len = b->cap = 0;
	b->oom = false;
	b->a = a;
}

static bool
sbuf_reserve(struct sbuf *b, size_t n)
{
	size_t	 cap;
	char	*p;

	if (b->oom)
		return false;
	if (b->len + n + 1 <= b->cap)
		return true;
	cap = b->cap == 0 ? 64 : b->cap;
	while (cap < b->len + n + 1)
		cap *= 2;
	if (b->a != NULL)
		p = arena_grow(b->a, b->s, b->len, cap, 1);
	else
		p = realloc(b->s, cap);
	if (p == NULL) {
		b->oom = true;
		return false;
	}
	b->s = p;
	b->cap = cap;
	return true;
}

void
sbuf_put(struct sbuf *b, const char *s, size_t n)
{
	if (!sbuf_reserve(b, n))
		return;
	if (n > 0)
		memcpy(b->s + b->len, s, n);
	b->len += n;
	b->s[b->len] = '\0';
}

void
sbuf_puts(struct sbuf *b, const char *s)
{
	sbuf_put(b, s, strlen(s));
}

void
sbuf_putc(struct sbuf *b, char c)
{
	sbuf_put(b, &c, 1);
}

void
sbuf_printf(struct sbuf *b, const char *fmt, ...)
{
	va_list	 ap;
	char	 tmp[256];
	int	 n;

	va_start(ap, fmt);
	n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if ((size_t)n < sizeof(tmp)) {
		sbuf_put(b, tmp, (size_t)n);
		return;
	}
	if (!sbuf_reserve(b, (size_t)n))
		return;
	va_start(ap, fmt);
	vsnprintf(b->s + b->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
}

const char *
sbuf_cstr(struct sbuf *b)
{
	if (!sbuf_reserve(b, 0))
		return NULL;
	b->s[b->len] = '\0';
	return b->s;
}

void
sbuf_free(struct sbuf *b)
{
	if (b->a == NULL)
		free(b->s);
	b->s = NULL;
	b->len = b->cap = 0;
}

void
sbuf_put_jstr(struct sbuf *b, const char *s, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	size_t		 i, start = 0;
	unsigned char	 c;
	char		 esc[7];

	sbuf_putc(b, '"');
	for (i = 0; i < n; i++) {
		c = (unsigned char)s[i];
		if (c >= 0x20 && c != '"' && c != '\\' && c != '<' &&
		    c != '>' && c != '&')
			continue;
		sbuf_put(b, s + start, i - start);
		start = i + 1;
		switch (c) {
		case '"':
			sbuf_put(b, "\\\"", 2);
			break;
		case '\\':
			sbuf_put(b, "\\\\", 2);
			break;
		case '\n':
			sbuf_put(b, "\\n", 2);
			break;
		case '\r':
			sbuf_put(b, "\\r", 2);
			break;
		case '\t':
			sbuf_put(b, "\\t", 2);
			break;
		default:
			esc[0] = '\\';
			esc[1] = 'u';
			esc[2] = '0';
			esc[3] = '0';
			esc[4] = hex[c >> 4];
			esc[5] = hex[c & 15];
			sbuf_put(b, esc, 6);
			break;
		}
	}
	sbuf_put(b, s + start, n - start);
	sbuf_putc(b, '"');
}

/* Shortest text that reads back as the same double (like Go's 'g', -1). */
static void
put_double(struct sbuf *b, double d)
{
	char	 buf[40];
	int	 prec;
	char	*e;
	int	 exp10;

	if (isnan(d)) {
		sbuf_puts(b, "NaN");
		return;
	}
	if (isinf(d)) {
		sbuf_puts(b, d < 0 ? "-Inf" : "+Inf");
		return;
	}
	for (prec = 1; prec <= 17; prec++) {
		snprintf(buf, sizeof(buf), "%.*e", prec - 1, d);
		if (strtod(buf, NULL) == d)
			break;
	}
	/* buf is d.ddde[+-]XX; choose plain or exponent form like Go. */
	e = strchr(buf, 'e');
	exp10 = e != NULL ? atoi(e + 1) : 0;
	if (exp10 < -4 || exp10 >= 21) {
		char	 mant[32], *p;
		size_t	 ml;

		ml = (size_t)(e - buf);
		memcpy(mant, buf, ml);
		mant[ml] = '\0';
		if (strchr(mant, '.') != NULL) {
			p = mant + ml - 1;
			while (*p == '0')
				*p-- = '\0';
			if (*p == '.')
				*p = '\0';
		}
		sbuf_printf(b, "%se%c%02d", mant, exp10 < 0 ? '-' : '+',
		    exp10 < 0 ? -exp10 : exp10);
		return;
	}
	prec = prec - 1 - exp10;
	if (prec < 0)
		prec = 0;
	snprintf(buf, sizeof(buf), "%.*f", prec, d);
	sbuf_puts(b, buf);
}

void
rv_write_num(struct sbuf *b, const struct rv *v)
{
	switch (v->nk) {
	case NK_INT:
		sbuf_printf(b, "%" PRId64, v->u.i);
		break;
	case NK_DBL:
		put_double(b, v->u.d);
		break;
	default:
		sbuf_put(b, v->u.s, v->n);
		break;
	}
}

void
rv_write_json_key(struct sbuf *b, const struct rv *k)
{
	struct sbuf	 kb;

	if (k->t == RV_STR) {
		sbuf_put_jstr(b, k->u.s, k->n);
		return;
	}
	sbuf_init(&kb, NULL);
	rv_write_json(&kb, k);
	sbuf_put_jstr(b, kb.s != NULL ? kb.s : "", kb.len);
	sbuf_free(&kb);
}

/* JSON (compact) or Rego syntax (", " and ": ", sets as {..}). */
static void
write_value(struct sbuf *b, const struct rv *v, bool rego)
{
	const char	*sep = rego ? ", " : ",";
	uint32_t	 i;

	switch (v->t) {
	case RV_NULL:
		sbuf_puts(b, "null");
		break;
	case RV_BOOL:
		sbuf_puts(b, v->u.b ? "true" : "false");
		break;
	case RV_NUM:
		rv_write_num(b, v);
		break;
	case RV_STR:
		sbuf_put_jstr(b, v->u.s, v->n);
		break;
	case RV_ARR:
	case RV_SET:
		if (rego && v->t == RV_SET && v->n == 0) {
			sbuf_puts(b, "set()");
			break;
		}
		sbuf_putc(b, rego && v->t == RV_SET ? '{' : '[');
		for (i = 0; i < v->n; i++) {
			if (i > 0)
				sbuf_puts(b, sep);
			write_value(b, v->u.a[i], rego);
		}
		sbuf_putc(b, rego && v->t == RV_SET ? '}' : ']');
		break;
	case RV_OBJ:
		sbuf_putc(b, '{');
		for (i = 0; i < v->n; i++) {
			if (i > 0)
				sbuf_puts(b, sep);
			if (rego)
				write_value(b, v->u.o[i].k, rego);
			else
				rv_write_json_key(b, v->u.o[i].k);
			sbuf_puts(b, rego ? ": " : ":");
			write_value(b, v->u.o[i].v, rego);
		}
		sbuf_putc(b, '}');
		break;
	}
}

void
rv_write_json(struct sbuf *b, const struct rv *v)
{
	write_value(b, v, false);
}

void
rv_write_rego(struct sbuf *b, const struct rv *v)
{
	write_value(b, v, true);
}

int
hexdigit(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}
