/*
 * builtins_misc.c - semver.*, uuid.*, urlquery.*, bits.*, units.* and
 * test.sleep.
 */
#include <openssl/evp.h>

#include <ctype.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "policy/rego.h"

#define A	EVA(ev)

static int
out_v(struct rv *v, struct rv **out)
{
	*out = v;
	return v == NULL ? SF_ENOMEM : SF_OK;
}

/*
 * Semantic versions (semver.org 2.0).
 */
struct semver {
	uint64_t	 v[3];
	const char	*pre;
	size_t		 pren;
};

static bool
num_ident(const char *s, size_t n)
{
	size_t	 i;

	if (n == 0)
		return false;
	for (i = 0; i < n; i++)
		if (!isdigit((unsigned char)s[i]))
			return false;
	return true;
}

static bool
parse_semver(const char *s, size_t n, struct semver *sv)
{
	size_t	 i = 0, k, start;
	const char *e = s + n;

	memset(sv, 0, sizeof(*sv));
	for (k = 0; k < 3; k++) {
		start = i;
		while (i < n && isdigit((unsigned char)s[i])) {
			if (sv->v[k] > 1000000000000ULL)
				return false;
			sv->v[k] = sv->v[k] * 10 + (uint64_t)(s[i] - '0');
			i++;
		}
		if (i == start || (i - start > 1 && s[start] == '0'))
			return false;
		if (k < 2) {
			if (i >= n || s[i] != '.')
				return false;
			i++;
		}
	}
	if (i < n && s[i] == '-') {
		const char *p;

		i++;
		sv->pre = s + i;
		while (i < n && s[i] != '+')
			i++;
		sv->pren = (size_t)(s + i - sv->pre);
		/* identifiers: [0-9A-Za-z-]+, numeric ones without zeros */
		for (p = sv->pre; p <= sv->pre + sv->pren;) {
			const char *q = p;

			while (q < sv->pre + sv->pren && *q != '.')
				q++;
			if (q == p)
				return false;
			for (const char *c = p; c < q; c++)
				if (!isalnum((unsigned char)*c) && *c != '-')
					return false;
			if (num_ident(p, (size_t)(q - p)) && q - p > 1 &&
			    *p == '0')
				return false;
			p = q + 1;
		}
	}
	if (i < n && s[i] == '+') {
		i++;
		if (i >= n)
			return false;
		for (; i < n; i++)
			if (!isalnum((unsigned char)s[i]) && s[i] != '-' &&
			    s[i] != '.')
				return false;
	}
	(void)e;
	return i == n;
}

static int
cmp_pre(const struct semver *a, const struct semver *b)
{
	const char	*p = a->pre, *q = b->pre;
	const char	*pe = a->pre + a->pren, *qe = b->pre + b->pren;

	if (a->pren == 0 || b->pren == 0)
		return a->pren == b->pren ? 0 : a->pren == 0 ? 1 : -1;
	while (p < pe && q < qe) {
		const char *pn = p, *qn = q;
		size_t pl, ql;
		int c;

		while (pn < pe && *pn != '.')
			pn++;
		while (qn < qe && *qn != '.')
			qn++;
		pl = (size_t)(pn - p);
		ql = (size_t)(qn - q);
		if (num_ident(p, pl) && num_ident(q, ql)) {
			if (pl != ql)
				return pl < ql ? -1 : 1;
			c = memcmp(p, q, pl);
		} else if (num_ident(p, pl))
			return -1;
		else if (num_ident(q, ql))
			return 1;
		else {
			c = memcmp(p, q, pl < ql ? pl : ql);
			if (c == 0 && pl != ql)
				c = pl < ql ? -1 : 1;
		}
		if (c != 0)
			return c < 0 ? -1 : 1;
		p = pn + (pn < pe);
		q = qn + (qn < qe);
		if ((pn >= pe) != (qn >= qe))
			return pn >= pe ? -1 : 1;
		if (pn >= pe)
			break;
	}
	return 0;
}

static int
bi_semver_compare(struct ev *ev, struct rv *const *args, struct rv **out)
{
	struct semver	 a, b;
	int		 i, c = 0, rc;

	if ((rc = bi_arg_type(ev, "semver.compare", args, 0, RV_STR)) != SF_OK ||
	    (rc = bi_arg_type(ev, "semver.compare", args, 1, RV_STR)) != SF_OK)
		return rc;
	for (i = 0; i < 2; i++)
		if (!parse_semver(args[i]->u.s, args[i]->n, i == 0 ? &a : &b))
			return bi_err(ev, "semver.compare: operand %d: string "
			    "\"%.*s\" is not a valid SemVer", i + 1,
			    (int)(args[i]->n > 64 ? 64 : args[i]->n),
			    args[i]->u.s);
	for (i = 0; i < 3 && c == 0; i++)
		if (a.v[i] != b.v[i])
			c = a.v[i] < b.v[i] ? -1 : 1;
	if (c == 0)
		c = cmp_pre(&a, &b);
	return out_v(rv_int(A, c), out);
}

static int
bi_semver_is_valid(struct ev *ev, struct rv *const *args, struct rv **out)
{
	struct semver	 s;

	(void)ev;
	*out = rv_bool(args[0]->t == RV_STR &&
	    parse_semver(args[0]->u.s, args[0]->n, &s));
	return SF_OK;
}

/*
 * UUIDs.
 */
static bool
parse_uuid(const char *s, size_t n, unsigned char u[16])
{
	size_t	 i, k = 0;
	int	 h, l;

	if (n == 45 && strncasecmp(s, "urn:uuid:", 9) == 0) {
		s += 9;
		n -= 9;
	} else if (n == 38 && s[0] == '{' && s[37] == '}') {
		s++;
		n -= 2;
	}
	if (n == 36) {
		if (s[8] != '-' || s[13] != '-' || s[18] != '-' || s[23] != '-')
			return false;
	} else if (n != 32)
		return false;
	for (i = 0; i < n && k < 16; ) {
		if (s[i] == '-' && n == 36) {
			i++;
			continue;
		}
		if (i + 1 >= n || (h = hexdigit((unsigned char)s[i])) < 0 ||
		    (l = hexdigit((unsigned char)s[i + 1])) < 0)
			return false;
		u[k++] = (unsigned char)(h << 4 | l);
		i += 2;
	}
	return k == 16 && i == n;
}

static int
put(struct arena *a, struct rv_kv *kv, uint32_t *n, const char *k,
    struct rv *v)
{
	if (v == NULL || (kv[*n].k = rv_cstr(a, k)) == NULL)
		return SF_ENOMEM;
	kv[(*n)++].v = v;
	return SF_OK;
}

static int
bi_uuid_parse(struct ev *ev, struct rv *const *args, struct rv **out)
{
	unsigned char	 u[16];
	struct rv_kv	 kv[10];
	uint32_t	 n = 0;
	int		 version, rc;
	const char	*variant;

	if (args[0]->t != RV_STR || !parse_uuid(args[0]->u.s, args[0]->n, u)) {
		*out = NULL;
		return SF_OK;
	}
	version = u[6] >> 4;
	if ((u[8] & 0x80) == 0)
		variant = "Reserved";	/* NCS */
	else if ((u[8] & 0xc0) == 0x80)
		variant = "RFC4122";
	else if ((u[8] & 0xe0) == 0xc0)
		variant = "Microsoft";
	else
		variant = "Future";
	if ((rc = put(A, kv, &n, "version", rv_int(A, version))) != SF_OK ||
	    (rc = put(A, kv, &n, "variant", rv_cstr(A, variant))) != SF_OK)
		return rc;
	if (version == 1 || version == 2) {
		uint64_t t = ((uint64_t)(u[6] & 0x0f) << 56) |
		    ((uint64_t)u[7] << 48) | ((uint64_t)u[4] << 40) |
		    ((uint64_t)u[5] << 32) | ((uint64_t)u[0] << 24) |
		    ((uint64_t)u[1] << 16) | ((uint64_t)u[2] << 8) | u[3];
		int64_t ns = ((int64_t)t - 122192928000000000LL) * 100;
		char node[18];

		snprintf(node, sizeof(node), "%02x-%02x-%02x-%02x-%02x-%02x",
		    u[10], u[11], u[12], u[13], u[14], u[15]);
		if ((rc = put(A, kv, &n, "time", rv_int(A, ns))) != SF_OK ||
		    (rc = put(A, kv, &n, "clocksequence", rv_int(A,
		    ((u[8] & 0x3f) << 8) | u[9]))) != SF_OK ||
		    (rc = put(A, kv, &n, "nodeid", rv_cstr(A, node))) != SF_OK ||
		    (rc = put(A, kv, &n, "macvariables", rv_cstr(A,
		    (u[10] & 2) ? ((u[10] & 1) ? "local:multicast" :
		    "local:unicast") : ((u[10] & 1) ? "global:multicast" :
		    "global:unicast")))) != SF_OK)
			return rc;
		if (version == 2) {
			static const char *const dom[] = { "Person", "Group",
			    "Org" };
			char dbuf[24];
			const char *d = u[9] < 3 ? dom[u[9]] : dbuf;

			snprintf(dbuf, sizeof(dbuf), "Domain%d", u[9]);
			if ((rc = put(A, kv, &n, "domain", rv_cstr(A, d))) !=
			    SF_OK ||
			    (rc = put(A, kv, &n, "id", rv_int(A,
			    (int64_t)((uint32_t)u[0] << 24 | (uint32_t)u[1] <<
			    16 | (uint32_t)u[2] << 8 | u[3])))) != SF_OK)
				return rc;
			kv[3].v = rv_int(A, (u[8] & 0x3f) << 8);
		}
	}
	{
		struct rv_kv *c = arena_alloc(A, n * sizeof(*c));

		if (c == NULL)
			return SF_ENOMEM;
		memcpy(c, kv, n * sizeof(*c));
		return out_v(rv_obj_from(A, c, n, NULL), out);
	}
}

/* A v4 UUID derived from the evaluation's seed and the key. */
static int
bi_uuid_rfc4122(struct ev *ev, struct rv *const *args, struct rv **out)
{
	unsigned char	 d[32], in[64];
	unsigned int	 dl = 0;
	EVP_MD_CTX	*mc;
	char		 s[37];
	int		 rc;

	if ((rc = bi_arg_type(ev, "uuid.rfc4122", args, 0, RV_STR)) != SF_OK)
		return rc;
	memcpy(in, ev_seed(ev), 32);
	if ((mc = EVP_MD_CTX_new()) == NULL)
		return SF_ENOMEM;
	if (EVP_DigestInit_ex(mc, EVP_sha256(), NULL) != 1 ||
	    EVP_DigestUpdate(mc, in, 32) != 1 ||
	    EVP_DigestUpdate(mc, args[0]->u.s, args[0]->n) != 1 ||
	    EVP_DigestFinal_ex(mc, d, &dl) != 1) {
		EVP_MD_CTX_free(mc);
		return bi_err(ev, "uuid.rfc4122: digest failed");
	}
	EVP_MD_CTX_free(mc);
	d[6] = (d[6] & 0x0f) | 0x40;
	d[8] = (d[8] & 0x3f) | 0x80;
	snprintf(s, sizeof(s), "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-"
	    "%02x%02x%02x%02x%02x%02x", d[0], d[1], d[2], d[3], d[4], d[5],
	    d[6], d[7], d[8], d[9], d[10], d[11], d[12], d[13], d[14], d[15]);
	return out_v(rv_cstr(A, s), out);
}

/*
 * URL query encoding (Go's net/url).
 */
static void
query_escape(struct sbuf *b, const char *s, size_t n)
{
	static const char hx[] = "0123456789ABCDEF";
	size_t	 i;

	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~')
			sbuf_putc(b, (char)c);
		else if (c == ' ')
			sbuf_putc(b, '+');
		else {
			sbuf_putc(b, '%');
			sbuf_putc(b, hx[c >> 4]);
			sbuf_putc(b, hx[c & 15]);
		}
	}
}

static bool
query_unescape(struct sbuf *b, const char *s, size_t n)
{
	size_t	 i;
	int	 h, l;

	for (i = 0; i < n; i++) {
		if (s[i] == '+')
			sbuf_putc(b, ' ');
		else if (s[i] == '%') {
			if (i + 2 >= n || (h = hexdigit((unsigned char)s[i + 1])) < 0 ||
			    (l = hexdigit((unsigned char)s[i + 2])) < 0)
				return false;
			sbuf_putc(b, (char)(h << 4 | l));
			i += 2;
		} else
			sbuf_putc(b, s[i]);
	}
	return true;
}

static int
bi_urlquery_encode(struct ev *ev, struct rv *const *args, struct rv **out)
{
	struct sbuf	 b;
	int		 rc;

	if ((rc = bi_arg_type(ev, "urlquery.encode", args, 0, RV_STR)) != SF_OK)
		return rc;
	sbuf_init(&b, A);
	query_escape(&b, args[0]->u.s, args[0]->n);
	if (b.oom)
		return SF_ENOMEM;
	return out_v(rv_str_ref(A, b.s != NULL ? b.s : "", b.len), out);
}

static int
bi_urlquery_decode(struct ev *ev, struct rv *const *args, struct rv **out)
{
	struct sbuf	 b;
	int		 rc;

	if ((rc = bi_arg_type(ev, "urlquery.decode", args, 0, RV_STR)) != SF_OK)
		return rc;
	sbuf_init(&b, A);
	if (!query_unescape(&b, args[0]->u.s, args[0]->n))
		return bi_err(ev, "urlquery.decode: invalid URL escape");
	if (b.oom)
		return SF_ENOMEM;
	return out_v(rv_str_ref(A, b.s != NULL ? b.s : "", b.len), out);
}

static int
bi_urlquery_encode_object(struct ev *ev, struct rv *const *args,
    struct rv **out)
{
	const struct rv	*o = args[0];
	struct sbuf	 b;
	uint32_t	 i, j;
	bool		 first = true;

	if (o->t != RV_OBJ)
		return bi_type_err(ev, "urlquery.encode_object", 1, "object", o);
	sbuf_init(&b, A);
	for (i = 0; i < o->n; i++) {
		const struct rv *k = o->u.o[i].k, *v = o->u.o[i].v;

		if (k->t != RV_STR)
			return bi_type_errf(ev, "urlquery.encode_object: "
			    "operand 1 must have string keys");
		if (v->t == RV_STR) {
			if (!first)
				sbuf_putc(&b, '&');
			first = false;
			query_escape(&b, k->u.s, k->n);
			sbuf_putc(&b, '=');
			query_escape(&b, v->u.s, v->n);
			continue;
		}
		if (v->t != RV_ARR && v->t != RV_SET)
			return bi_type_errf(ev, "urlquery.encode_object: "
			    "operand 1 values must be strings, arrays or sets "
			    "of strings");
		for (j = 0; j < v->n; j++) {
			if (v->u.a[j]->t != RV_STR)
				return bi_type_errf(ev, "urlquery.encode_object: "
				    "operand 1 values must be strings");
			if (!first)
				sbuf_putc(&b, '&');
			first = false;
			query_escape(&b, k->u.s, k->n);
			sbuf_putc(&b, '=');
			query_escape(&b, v->u.a[j]->u.s, v->u.a[j]->n);
		}
	}
	if (b.oom)
		return SF_ENOMEM;
	return out_v(rv_str_ref(A, b.s != NULL ? b.s : "", b.len), out);
}

static int
bi_urlquery_decode_object(struct ev *ev, struct rv *const *args,
    struct rv **out)
{
	const char	*s, *e, *amp, *eq;
	struct rv_kv	*kv = NULL;
	struct rv	**vals;
	uint32_t	 n = 0, cap = 0, i;
	struct sbuf	 kb, vb;
	int		 rc;

	if ((rc = bi_arg_type(ev, "urlquery.decode_object", args, 0, RV_STR)) !=
	    SF_OK)
		return rc;
	s = args[0]->u.s;
	e = s + args[0]->n;
	while (s < e) {
		amp = memchr(s, '&', (size_t)(e - s));
		if (amp == NULL)
			amp = e;
		if (amp == s) {
			s++;
			continue;
		}
		eq = memchr(s, '=', (size_t)(amp - s));
		sbuf_init(&kb, A);
		sbuf_init(&vb, A);
		if (!query_unescape(&kb, s, (size_t)((eq != NULL ? eq : amp) -
		    s)) || (eq != NULL && !query_unescape(&vb, eq + 1,
		    (size_t)(amp - eq - 1))))
			return bi_err(ev, "urlquery.decode_object: invalid URL "
			    "escape");
		if (kb.oom || vb.oom)
			return SF_ENOMEM;
		for (i = 0; i < n; i++)
			if (kv[i].k->n == kb.len && memcmp(kv[i].k->u.s,
			    kb.s != NULL ? kb.s : "", kb.len) == 0)
				break;
		if (i == n) {
			if (n == cap) {
				cap = cap == 0 ? 8 : cap * 2;
				if ((kv = arena_grow(A, kv, n, cap,
				    sizeof(*kv))) == NULL)
					return SF_ENOMEM;
			}
			if ((kv[n].k = rv_str(A, kb.s != NULL ? kb.s : "",
			    kb.len)) == NULL ||
			    (kv[n].v = rv_arr(A, 0)) == NULL)
				return SF_ENOMEM;
			n++;
		}
		if ((vals = arena_alloc(A, (kv[i].v->n + 1) * sizeof(*vals))) ==
		    NULL)
			return SF_ENOMEM;
		if (kv[i].v->n > 0)
			memcpy(vals, kv[i].v->u.a, kv[i].v->n * sizeof(*vals));
		if ((vals[kv[i].v->n] = rv_str(A, vb.s != NULL ? vb.s : "",
		    vb.len)) == NULL)
			return SF_ENOMEM;
		{
			struct rv *na = rv_arr(A, 0);

			if (na == NULL)
				return SF_ENOMEM;
			na->n = kv[i].v->n + 1;
			na->u.a = vals;
			kv[i].v = na;
		}
		s = amp + 1;
	}
	return out_v(rv_obj_from(A, kv, n, NULL), out);
}

/*
 * Bits.
 */
static int
int_args(struct ev *ev, const char *fn, struct rv *const *args, int n,
    int64_t *x)
{
	int	 i;

	for (i = 0; i < n; i++) {
		if (args[i]->t != RV_NUM)
			return bi_type_err(ev, fn, i + 1, "number", args[i]);
		if (!rv_get_int(args[i], &x[i]))
			return bi_type_errf(ev, "%s: operand %d must be integer "
			    "number but got floating-point number", fn, i + 1);
	}
	return SF_OK;
}

static int
bits2(struct ev *ev, const char *fn, struct rv *const *args, int op,
    struct rv **out)
{
	int64_t	 x[2];
	int	 rc;

	if ((rc = int_args(ev, fn, args, 2, x)) != SF_OK)
		return rc;
	switch (op) {
	case '&':
		return out_v(rv_int(A, x[0] & x[1]), out);
	case '|':
		return out_v(rv_int(A, x[0] | x[1]), out);
	case '^':
		return out_v(rv_int(A, x[0] ^ x[1]), out);
	}
	if (x[1] < 0)
		return bi_type_errf(ev, "%s: operand 2 must be an unsigned "
		    "integer number but got a negative integer", fn);
	if (op == '>')
		return out_v(rv_int(A, x[1] >= 63 ? (x[0] < 0 ? -1 : 0) :
		    x[0] >> x[1]), out);
	{
		/* left shifts grow past int64 like OPA's big integers */
		__int128	 r;
		char		 buf[48], *p = buf + sizeof(buf) - 1;
		unsigned __int128 u;
		bool		 neg;

		if (x[1] > 60)
			return bi_err(ev, "%s: shift too large", fn);
		r = (__int128)x[0] << x[1];
		if (r >= INT64_MIN && r <= INT64_MAX)
			return out_v(rv_int(A, (int64_t)r), out);
		neg = r < 0;
		u = neg ? (unsigned __int128)(-r) : (unsigned __int128)r;
		*p = '\0';
		do {
			*--p = (char)('0' + (int)(u % 10));
			u /= 10;
		} while (u != 0);
		if (neg)
			*--p = '-';
		return out_v(rv_num_text(A, p, strlen(p)), out);
	}
}

static int
bi_bits_and(struct ev *ev, struct rv *const *args, struct rv **out)
{
	return bits2(ev, "bits.and", args, '&', out);
}

static int
bi_bits_or(struct ev *ev, struct rv *const *args, struct rv **out)
{
	return bits2(ev, "bits.or", args, '|', out);
}

static int
bi_bits_xor(struct ev *ev, struct rv *const *args, struct rv **out)
{
	return bits2(ev, "bits.xor", args, '^', out);
}

static int
bi_bits_lsh(struct ev *ev, struct rv *const *args, struct rv **out)
{
	return bits2(ev, "bits.lsh", args, '<', out);
}

static int
bi_bits_rsh(struct ev *ev, struct rv *const *args, struct rv **out)
{
	return bits2(ev, "bits.rsh", args, '>', out);
}

static int
bi_bits_negate(struct ev *ev, struct rv *const *args, struct rv **out)
{
	int64_t	 x;
	int	 rc;

	if ((rc = int_args(ev, "bits.negate", args, 1, &x)) != SF_OK)
		return rc;
	return out_v(rv_int(A, ~x), out);
}

/*
 * Units.
 */
static int
parse_units(struct ev *ev, const char *fn, const struct rv *v, bool bytes,
    struct rv **out)
{
	char		 num[64], unit[16];
	const char	*s;
	size_t		 n, i = 0, k = 0, u = 0;
	double		 x, mult = 1;
	bool		 bin = false;

	if (v->t != RV_STR)
		return bi_type_err(ev, fn, 1, "string", v);
	s = v->u.s;
	n = v->n;
	while (i < n && s[i] == ' ')
		i++;
	while (i < n && k + 1 < sizeof(num) && (isdigit((unsigned char)s[i]) ||
	    s[i] == '.' || (k == 0 && (s[i] == '-' || s[i] == '+'))))
		num[k++] = s[i++];
	num[k] = '\0';
	while (i < n && s[i] == ' ')
		i++;
	while (i < n && u + 1 < sizeof(unit) && isalpha((unsigned char)s[i]))
		unit[u++] = (char)tolower((unsigned char)s[i++]);
	unit[u] = '\0';
	if (i != n || k == 0)
		goto bad;
	{
		char *end;

		x = strtod(num, &end);
		if (*end != '\0')
			goto bad;
	}
	if (bytes && u > 0 && unit[u - 1] == 'b')
		unit[--u] = '\0';
	if (u >= 2 && unit[u - 1] == 'i') {
		bin = true;
		unit[--u] = '\0';
	}
	if (u > 1)
		goto bad;
	if (u == 1) {
		static const char order[] = "kmgtpe";
		const char *p = strchr(order, unit[0]);

		if (!bytes && unit[0] == 'm' && !bin && v->u.s[i - 1] == 'm') {
			/* units.parse: lowercase m is milli */
			mult = 1e-3;
		} else if (p == NULL)
			goto bad;
		else
			mult = pow(bin ? 1024 : 1000, (double)(p - order + 1));
	} else if (bin)
		goto bad;
	x *= mult;
	if (bytes)
		return out_v(rv_int(A, (int64_t)x), out);
	return out_v(rv_num_dbl(A, x), out);
bad:
	return bi_err(ev, "%s: could not parse \"%.*s\"", fn,
	    (int)(n > 64 ? 64 : n), v->u.s);
}

static int
bi_units_parse_bytes(struct ev *ev, struct rv *const *args, struct rv **out)
{
	return parse_units(ev, "units.parse_bytes", args[0], true, out);
}

static int
bi_units_parse(struct ev *ev, struct rv *const *args, struct rv **out)
{
	return parse_units(ev, "units.parse", args[0], false, out);
}

/* test.sleep: for tests of time caching; at most one second. */
static int
bi_test_sleep(struct ev *ev, struct rv *const *args, struct rv **out)
{
	struct timespec	 ts = { 0, 10 * 1000 * 1000 };
	int		 rc;

	if ((rc = bi_arg_type(ev, "test.sleep", args, 0, RV_STR)) != SF_OK)
		return rc;
	nanosleep(&ts, NULL);
	*out = RV_TRUE;
	return SF_OK;
}

const struct builtin bi_misc[] = {
	{ "semver.compare", 2, bi_semver_compare, 0 },
	{ "semver.is_valid", 1, bi_semver_is_valid, 0 },
	{ "uuid.parse", 1, bi_uuid_parse, 0 },
	{ "uuid.rfc4122", 1, bi_uuid_rfc4122, BI_NONDET },
	{ "urlquery.encode", 1, bi_urlquery_encode, 0 },
	{ "urlquery.decode", 1, bi_urlquery_decode, 0 },
	{ "urlquery.encode_object", 1, bi_urlquery_encode_object, 0 },
	{ "urlquery.decode_object", 1, bi_urlquery_decode_object, 0 },
	{ "bits.and", 2, bi_bits_and, 0 },
	{ "bits.or", 2, bi_bits_or, 0 },
	{ "bits.xor", 2, bi_bits_xor, 0 },
	{ "bits.negate", 1, bi_bits_negate, 0 },
	{ "bits.lsh", 2, bi_bits_lsh, 0 },
	{ "bits.rsh", 2, bi_bits_rsh, 0 },
	{ "units.parse_bytes", 1, bi_units_parse_bytes, 0 },
	{ "units.parse", 1, bi_units_parse, 0 },
	{ "test.sleep", 1, bi_test_sleep, 0 },
	{ NULL, 0, NULL, 0 }
};
