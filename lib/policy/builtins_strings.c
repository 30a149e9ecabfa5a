/*
 * builtins_strings.c - string builtins and sprintf.
 *
 * Strings are UTF-8; positions (indexof, substring) count code points as
 * OPA does.  sprintf follows Go's fmt for the verbs policies use
 * (%s %v %d %q %x %X %o %b %f %e %g %t %%, flags, width, precision);
 * arguments are converted as OPA converts them: integers stay integers,
 * other numbers are floats, strings are strings, anything else is
 * printed in Rego syntax.
 */
#include <ctype.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "policy/rego.h"

#define A	EVA(ev)

/*
 * UTF-8.
 */
int
utf8_decode(const char *s, size_t n, size_t *i, uint32_t *cp)
{
	const unsigned char	*p = (const unsigned char *)s + *i;
	size_t			 left = n - *i, len;
	uint32_t		 c;

	if (left == 0)
		return -1;
	if (p[0] < 0x80) {
		*cp = p[0];
		(*i)++;
		return 0;
	}
	if ((p[0] & 0xe0) == 0xc0) {
		len = 2;
		c = p[0] & 0x1f;
	} else if ((p[0] & 0xf0) == 0xe0) {
		len = 3;
		c = p[0] & 0x0f;
	} else if ((p[0] & 0xf8) == 0xf0) {
		len = 4;
		c = p[0] & 0x07;
	} else
		goto bad;
	if (left < len)
		goto bad;
	for (size_t k = 1; k < len; k++) {
		if ((p[k] & 0xc0) != 0x80)
			goto bad;
		c = (c << 6) | (p[k] & 0x3f);
	}
	if ((len == 2 && c < 0x80) || (len == 3 && c < 0x800) ||
	    (len == 4 && (c < 0x10000 || c > 0x10ffff)) ||
	    (c >= 0xd800 && c < 0xe000))
		goto bad;
	*cp = c;
	*i += len;
	return 0;
bad:
	*cp = 0xfffd;
	(*i)++;
	return 1;
}

size_t
rego_utf8_encode(uint32_t cp, char *out)
{
	if (cp < 0x80) {
		out[0] = (char)cp;
		return 1;
	}
	if (cp < 0x800) {
		out[0] = (char)(0xc0 | (cp >> 6));
		out[1] = (char)(0x80 | (cp & 0x3f));
		return 2;
	}
	if (cp >= 0xd800 && cp < 0xe000)
		cp = 0xfffd;
	if (cp < 0x10000) {
		out[0] = (char)(0xe0 | (cp >> 12));
		out[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
		out[2] = (char)(0x80 | (cp & 0x3f));
		return 3;
	}
	if (cp > 0x10ffff)
		cp = 0xfffd;
	out[0] = (char)(0xf0 | (cp >> 18));
	out[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
	out[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
	out[3] = (char)(0x80 | (cp & 0x3f));
	return 4;
}

size_t
utf8_len(const char *s, size_t n)
{
	size_t		 i = 0, c = 0;
	uint32_t	 cp;

	while (i < n) {
		utf8_decode(s, n, &i, &cp);
		c++;
	}
	return c;
}

bool
utf8_valid(const char *s, size_t n)
{
	size_t		 i = 0;
	uint32_t	 cp;

	while (i < n)
		if (utf8_decode(s, n, &i, &cp) != 0)
			return false;
	return true;
}

/* Byte offset of code point index ci (n when past the end). */
static size_t
utf8_offset(const char *s, size_t n, size_t ci)
{
	size_t		 i = 0, c = 0;
	uint32_t	 cp;

	while (i < n && c < ci) {
		utf8_decode(s, n, &i, &cp);
		c++;
	}
	return i;
}

static int
out_str(struct ev *ev, const char *s, size_t n, struct rv **out)
{
	*out = rv_str(A, s, n);
	return *out == NULL ? SF_ENOMEM : SF_OK;
}

static int
out_sbuf(struct ev *ev, struct sbuf *b, struct rv **out)
{
	if (b->oom)
		return SF_ENOMEM;
	return out_str(ev, b->s != NULL ? b->s : "", b->len, out);
}

/*
 * Go fmt.
 */
enum farg { FA_INT, FA_BIG, FA_FLOAT, FA_STR, FA_BOOL };

struct fmtarg {
	enum farg	 k;
	int64_t		 i;
	double		 d;
	const char	*s;
	size_t		 n;
	const char	*gotype;	/* for %!verb(type=value) */
};

struct fspec {
	bool	 minus, plus, sharp, zero, space;
	int	 width, prec;	/* -1: none */
};

static void
pad(struct sbuf *b, const struct fspec *f, const char *s, size_t n)
{
	size_t	 w = f->width > 0 ? (size_t)f->width : 0;
	size_t	 runes = utf8_len(s, n), i;

	if (runes >= w) {
		sbuf_put(b, s, n);
		return;
	}
	if (f->minus) {
		sbuf_put(b, s, n);
		for (i = runes; i < w; i++)
			sbuf_putc(b, ' ');
		return;
	}
	if (f->zero && n > 0 && (s[0] == '-' || s[0] == '+')) {
		sbuf_putc(b, s[0]);
		for (i = runes; i < w; i++)
			sbuf_putc(b, '0');
		sbuf_put(b, s + 1, n - 1);
		return;
	}
	for (i = runes; i < w; i++)
		sbuf_putc(b, f->zero ? '0' : ' ');
	sbuf_put(b, s, n);
}

static void
fmt_uint(char *buf, size_t len, unsigned __int128 u, int base, bool upper)
{
	const char	*digits = upper ? "0123456789ABCDEF" :
	    "0123456789abcdef";
	char		 tmp[140];
	size_t		 n = 0, i;

	do {
		tmp[n++] = digits[(int)(u % (unsigned)base)];
		u /= (unsigned)base;
	} while (u != 0 && n < sizeof(tmp));
	for (i = 0; i < n && i + 1 < len; i++)
		buf[i] = tmp[n - 1 - i];
	buf[i] = '\0';
}

static void
fmt_integer(struct sbuf *b, const struct fspec *f, int64_t v, int base,
    bool upper)
{
	char			 digits[140], num[160];
	unsigned __int128	 u;
	bool			 neg = v < 0;
	size_t			 n = 0, dl;
	int			 i;

	u = neg ? (unsigned __int128)(-(__int128)v) : (unsigned __int128)v;
	fmt_uint(digits, sizeof(digits), u, base, upper);
	dl = strlen(digits);
	if (neg)
		num[n++] = '-';
	else if (f->plus)
		num[n++] = '+';
	else if (f->space)
		num[n++] = ' ';
	if (f->sharp) {
		if (base == 16) {
			num[n++] = '0';
			num[n++] = upper ? 'X' : 'x';
		} else if (base == 8) {
			num[n++] = '0';
		} else if (base == 2) {
			num[n++] = '0';
			num[n++] = 'b';
		}
	}
	if (f->prec >= 0)
		for (i = (int)dl; i < f->prec && n < sizeof(num) - 1; i++)
			num[n++] = '0';
	if (f->prec == 0 && v == 0)
		dl = 0;
	memcpy(num + n, digits, dl);
	n += dl;
	if (f->prec >= 0) {
		struct fspec g = *f;

		g.zero = false;
		pad(b, &g, num, n);
	} else
		pad(b, f, num, n);
}

/* Go's strconv 'g' shortest for %v; 'e'/'f'/'g' with precision. */
static void
fmt_float(struct sbuf *b, const struct fspec *f, double d, char verb)
{
	char	 buf[512], *p;
	int	 prec = f->prec;

	if (isinf(d) || isnan(d)) {
		const char *s = isnan(d) ? "NaN" : d < 0 ? "-Inf" :
		    f->plus ? "+Inf" : "+Inf";
		struct fspec g = *f;

		if (!isnan(d) && d > 0 && !f->plus)
			s = "+Inf";
		g.zero = false;
		pad(b, &g, s, strlen(s));
		return;
	}
	if (verb == 'v' || ((verb == 'g' || verb == 'G') && prec < 0)) {
		/* shortest representation */
		int	 pr, exp10;
		char	 e[64];

		for (pr = 1; pr <= 17; pr++) {
			snprintf(e, sizeof(e), "%.*e", pr - 1, d);
			if (strtod(e, NULL) == d)
				break;
		}
		exp10 = atoi(strchr(e, 'e') + 1);
		/* Go: shortest %g/%v uses the exponent form when the
		 * exponent is < -4 or >= 6 */
		if (exp10 < -4 || exp10 >= 6) {
			char	 mant[64];
			size_t	 ml = (size_t)(strchr(e, 'e') - e);

			memcpy(mant, e, ml);
			mant[ml] = '\0';
			snprintf(buf, sizeof(buf), "%se%c%02d", mant,
			    exp10 < 0 ? '-' : '+', exp10 < 0 ? -exp10 : exp10);
		} else {
			int fd = pr - 1 - exp10;

			snprintf(buf, sizeof(buf), "%.*f", fd < 0 ? 0 : fd, d);
		}
	} else {
		char	 fm[8];

		if (prec < 0)
			prec = 6;
		snprintf(fm, sizeof(fm), "%%.*%c", verb);
		snprintf(buf, sizeof(buf), fm, prec, d);
	}
	p = buf;
	if (f->plus && d >= 0 && p[0] != '-') {
		memmove(p + 1, p, strlen(p) + 1);
		p[0] = '+';
	} else if (f->space && d >= 0 && p[0] != '-') {
		memmove(p + 1, p, strlen(p) + 1);
		p[0] = ' ';
	}
	pad(b, f, p, strlen(p));
}

static void
fmt_quote(struct sbuf *b, const char *s, size_t n)
{
	size_t		 i = 0;
	uint32_t	 cp;
	char		 u[8];

	sbuf_putc(b, '"');
	while (i < n) {
		size_t start = i;

		if (utf8_decode(s, n, &i, &cp) != 0) {
			sbuf_printf(b, "\\x%02x", (unsigned char)s[start]);
			continue;
		}
		switch (cp) {
		case '"': sbuf_puts(b, "\\\""); break;
		case '\\': sbuf_puts(b, "\\\\"); break;
		case '\n': sbuf_puts(b, "\\n"); break;
		case '\r': sbuf_puts(b, "\\r"); break;
		case '\t': sbuf_puts(b, "\\t"); break;
		case '\a': sbuf_puts(b, "\\a"); break;
		case '\b': sbuf_puts(b, "\\b"); break;
		case '\f': sbuf_puts(b, "\\f"); break;
		case '\v': sbuf_puts(b, "\\v"); break;
		default:
			if (cp < 0x20 || cp == 0x7f)
				sbuf_printf(b, "\\x%02x", cp);
			else
				sbuf_put(b, u, rego_utf8_encode(cp, u));
		}
	}
	sbuf_putc(b, '"');
}

static void
bad_verb(struct sbuf *b, char verb, const struct fmtarg *a)
{
	sbuf_printf(b, "%%!%c(%s=", verb, a->gotype);
	switch (a->k) {
	case FA_INT:
		sbuf_printf(b, "%lld", (long long)a->i);
		break;
	case FA_FLOAT: {
		struct fspec f = { .prec = -1, .width = -1 };

		fmt_float(b, &f, a->d, 'v');
		break;
	}
	default:
		sbuf_put(b, a->s, a->n);
		break;
	}
	sbuf_putc(b, ')');
}

static void
fmt_one(struct sbuf *b, const struct fspec *f, char verb,
    const struct fmtarg *a)
{
	struct sbuf	 t;

	switch (verb) {
	case 'v':
	case 's':
		if (a->k == FA_INT && verb == 'v') {
			fmt_integer(b, f, a->i, 10, false);
			return;
		}
		if (a->k == FA_FLOAT && verb == 'v') {
			fmt_float(b, f, a->d, 'v');
			return;
		}
		if (verb == 's' && (a->k == FA_INT || a->k == FA_FLOAT)) {
			bad_verb(b, verb, a);
			return;
		}
		if (f->prec >= 0 && a->k != FA_INT && a->k != FA_FLOAT) {
			size_t off = utf8_offset(a->s, a->n, (size_t)f->prec);

			pad(b, f, a->s, off);
			return;
		}
		pad(b, f, a->s, a->n);
		return;
	case 'd':
		if (a->k == FA_INT) {
			fmt_integer(b, f, a->i, 10, false);
			return;
		}
		if (a->k == FA_BIG) {
			pad(b, f, a->s, a->n);
			return;
		}
		bad_verb(b, verb, a);
		return;
	case 'x':
	case 'X':
	case 'o':
	case 'b':
		if (a->k == FA_INT) {
			fmt_integer(b, f, a->i, verb == 'o' ? 8 : verb == 'b' ?
			    2 : 16, verb == 'X');
			return;
		}
		if (a->k == FA_STR && (verb == 'x' || verb == 'X')) {
			sbuf_init(&t, NULL);
			for (size_t i = 0; i < a->n; i++)
				sbuf_printf(&t, verb == 'x' ? "%02x" : "%02X",
				    (unsigned char)a->s[i]);
			pad(b, f, t.s != NULL ? t.s : "", t.len);
			sbuf_free(&t);
			return;
		}
		if (a->k == FA_FLOAT && (verb == 'x' || verb == 'X')) {
			char buf[64];

			snprintf(buf, sizeof(buf), verb == 'x' ? "%a" : "%A",
			    a->d);
			pad(b, f, buf, strlen(buf));
			return;
		}
		bad_verb(b, verb, a);
		return;
	case 'c':
		if (a->k == FA_INT) {
			char u[8];

			pad(b, f, u, rego_utf8_encode((uint32_t)a->i, u));
			return;
		}
		bad_verb(b, verb, a);
		return;
	case 'q':
		sbuf_init(&t, NULL);
		if (a->k == FA_INT) {
			char u[8];

			sbuf_putc(&t, '\'');
			sbuf_put(&t, u, rego_utf8_encode((uint32_t)a->i, u));
			sbuf_putc(&t, '\'');
		} else if (a->k == FA_FLOAT)
			bad_verb(&t, verb, a);
		else
			fmt_quote(&t, a->s, a->n);
		pad(b, f, t.s != NULL ? t.s : "", t.len);
		sbuf_free(&t);
		return;
	case 'e':
	case 'E':
	case 'f':
	case 'F':
	case 'g':
	case 'G':
		if (a->k == FA_FLOAT || a->k == FA_INT) {
			double d = a->k == FA_INT ? (double)a->i : a->d;

			if (a->k == FA_INT) {
				bad_verb(b, verb, a);
				return;
			}
			fmt_float(b, f, d, verb == 'F' ? 'f' : verb);
			return;
		}
		bad_verb(b, verb, a);
		return;
	case 't':
		if (a->k == FA_BOOL || (a->k == FA_STR && ((a->n == 4 &&
		    memcmp(a->s, "true", 4) == 0) || (a->n == 5 &&
		    memcmp(a->s, "false", 5) == 0)))) {
			pad(b, f, a->s, a->n);
			return;
		}
		bad_verb(b, verb, a);
		return;
	case 'T':
		pad(b, f, a->gotype, strlen(a->gotype));
		return;
	default:
		bad_verb(b, verb, a);
		return;
	}
}

static int
to_fmtarg(struct ev *ev, const struct rv *v, struct fmtarg *a)
{
	struct sbuf	 b;

	memset(a, 0, sizeof(*a));
	if (v->t == RV_NUM) {
		if (v->nk == NK_INT) {
			a->k = FA_INT;
			a->i = v->u.i;
			a->gotype = "int";
			return SF_OK;
		}
		if (v->nk == NK_BIG) {
			a->k = rv_is_int(v) ? FA_BIG : FA_STR;
			a->s = v->u.s;
			a->n = v->n;
			a->gotype = rv_is_int(v) ? "*big.Int" : "string";
			return SF_OK;
		}
		a->k = FA_FLOAT;
		a->d = v->u.d;
		a->gotype = "float64";
		return SF_OK;
	}
	if (v->t == RV_STR) {
		a->k = FA_STR;
		a->s = v->u.s;
		a->n = v->n;
		a->gotype = "string";
		return SF_OK;
	}
	sbuf_init(&b, A);
	rv_write_rego(&b, v);
	if (b.oom)
		return SF_ENOMEM;
	a->k = v->t == RV_BOOL ? FA_BOOL : FA_STR;
	a->s = b.s != NULL ? b.s : "";
	a->n = b.len;
	a->gotype = "string";
	return SF_OK;
}

static int
bi_sprintf(struct ev *ev, struct rv *const *args, struct rv **out)
{
	const char	*f;
	size_t		 n, i = 0;
	struct sbuf	 b;
	struct fspec	 fs;
	struct fmtarg	 a;
	uint32_t	 ai = 0;
	int		 rc;

	if ((rc = bi_arg_str(ev, "sprintf", args, 0, &f, &n)) != SF_OK)
		return rc;
	if (args[1]->t != RV_ARR)
		return bi_type_err(ev, "sprintf", 2, "array", args[1]);
	sbuf_init(&b, A);
	while (i < n) {
		if (f[i] != '%') {
			size_t s = i;

			while (i < n && f[i] != '%')
				i++;
			sbuf_put(&b, f + s, i - s);
			continue;
		}
		i++;
		if (i < n && f[i] == '%') {
			sbuf_putc(&b, '%');
			i++;
			continue;
		}
		memset(&fs, 0, sizeof(fs));
		fs.width = fs.prec = -1;
		for (; i < n; i++) {
			if (f[i] == '-')
				fs.minus = true;
			else if (f[i] == '+')
				fs.plus = true;
			else if (f[i] == '#')
				fs.sharp = true;
			else if (f[i] == '0')
				fs.zero = !fs.minus;
			else if (f[i] == ' ')
				fs.space = true;
			else
				break;
		}
		if (i < n && f[i] == '*') {
			int64_t w = 0;

			i++;
			if (ai < args[1]->n && rv_get_int(args[1]->u.a[ai], &w))
				ai++;
			fs.width = (int)(w < 0 ? -w : w);
			if (w < 0)
				fs.minus = true;
		} else
			while (i < n && isdigit((unsigned char)f[i]) &&
			    fs.width < 100000)
				fs.width = (fs.width < 0 ? 0 : fs.width) * 10 +
				    (f[i++] - '0');
		if (i < n && f[i] == '.') {
			i++;
			fs.prec = 0;
			if (i < n && f[i] == '*') {
				int64_t p = 0;

				i++;
				if (ai < args[1]->n &&
				    rv_get_int(args[1]->u.a[ai], &p))
					ai++;
				fs.prec = (int)(p < 0 ? 0 : p);
			} else
				while (i < n && isdigit((unsigned char)f[i]) &&
				    fs.prec < 100000)
					fs.prec = fs.prec * 10 + (f[i++] - '0');
		}
		if (i >= n) {
			sbuf_puts(&b, "%!(NOVERB)");
			break;
		}
		{
			size_t	 vi = i;
			uint32_t cp;

			utf8_decode(f, n, &i, &cp);
			if (cp >= 0x80) {
				sbuf_printf(&b, "%%!%.*s(", (int)(i - vi),
				    f + vi);
				if (ai < args[1]->n) {
					if ((rc = to_fmtarg(ev,
					    args[1]->u.a[ai++], &a)) != SF_OK)
						return rc;
					sbuf_printf(&b, "%s=", a.gotype);
					sbuf_put(&b, a.s != NULL ? a.s : "",
					    a.n);
				} else
					sbuf_puts(&b, "MISSING");
				sbuf_putc(&b, ')');
				continue;
			}
			if (ai >= args[1]->n) {
				sbuf_printf(&b, "%%!%c(MISSING)", f[vi]);
				continue;
			}
			if ((rc = to_fmtarg(ev, args[1]->u.a[ai++], &a)) !=
			    SF_OK)
				return rc;
			fmt_one(&b, &fs, f[vi], &a);
		}
	}
	if (ai < args[1]->n) {
		sbuf_puts(&b, "%!(EXTRA ");
		for (; ai < args[1]->n; ai++) {
			if ((rc = to_fmtarg(ev, args[1]->u.a[ai], &a)) != SF_OK)
				return rc;
			sbuf_printf(&b, "%s=", a.gotype);
			if (a.k == FA_INT)
				sbuf_printf(&b, "%lld", (long long)a.i);
			else if (a.k == FA_FLOAT) {
				struct fspec g = { .width = -1, .prec = -1 };

				fmt_float(&b, &g, a.d, 'v');
			} else
				sbuf_put(&b, a.s, a.n);
			if (ai + 1 < args[1]->n)
				sbuf_puts(&b, ", ");
		}
		sbuf_putc(&b, ')');
	}
	return out_sbuf(ev, &b, out);
}

/*
 * Simple string functions.
 */
static const char *
memmem_s(const char *h, size_t hn, const char *n, size_t nn)
{
	if (nn == 0)
		return h;
	return memmem(h, hn, n, nn);
}

static int
two_strs(struct ev *ev, const char *fn, struct rv *const *args,
    const char **a, size_t *an, const char **b, size_t *bn)
{
	int	 rc;

	if ((rc = bi_arg_str(ev, fn, args, 0, a, an)) != SF_OK)
		return rc;
	return bi_arg_str(ev, fn, args, 1, b, bn);
}

static int
bi_contains(struct ev *ev, struct rv *const *args, struct rv **out)
{
	const char	*a, *b;
	size_t		 an, bn;
	int		 rc;

	if ((rc = two_strs(ev, "contains", args, &a, &an, &b, &bn)) != SF_OK)
		return rc;
	*out = rv_bool(memmem_s(a, an, b, bn) != NULL);
	return SF_OK;
}

static int
bi_startswith(struct ev *ev, struct rv *const *args, struct rv **out)
{
	const char	*a, *b;
	size_t		 an, bn;
	int		 rc;

	if ((rc = two_strs(ev, "startswith", args, &a, &an, &b, &bn)) != SF_OK)
		return rc;
	*out = rv_bool(bn <= an && memcmp(a, b, bn) == 0);
	return SF_OK;
}

static int
bi_endswith(struct ev *ev, struct rv *const *args, struct rv **out)
{
	const char	*a, *b;
	size_t		 an, bn;
	int		 rc;

	if ((rc = two_strs(ev, "endswith", args, &a, &an, &b, &bn)) != SF_OK)
		return rc;
	*out = rv_bool(bn <= an && memcmp(a + an - bn, b, bn) == 0);
	return SF_OK;
}

static int
bi_concat(struct ev *ev, struct rv *const *args, struct rv **out)
{
	const char	*d;
	size_t		 dn;
	struct sbuf	 b;
	uint32_t	 i;
	int		 rc;

	if ((rc = bi_arg_str(ev, "concat", args, 0, &d, &dn)) != SF_OK)
		return rc;
	if (args[1]->t != RV_ARR && args[1]->t != RV_SET)
		return bi_type_err(ev, "concat", 2, "one of {array, set}",
		    args[1]);
	sbuf_init(&b, A);
	for (i = 0; i < args[1]->n; i++) {
		if (args[1]->u.a[i]->t != RV_STR)
			return bi_type_errf(ev, "concat: operand 2 must be one "
			    "of {array, set} of strings but got %s element",
			    rv_type_name(args[1]->u.a[i]));
		if (i > 0)
			sbuf_put(&b, d, dn);
		sbuf_put(&b, args[1]->u.a[i]->u.s, args[1]->u.a[i]->n);
	}
	return out_sbuf(ev, &b, out);
}

static int
bi_format_int(struct ev *ev, struct rv *const *args, struct rv **out)
{
	int64_t		 base, v;
	char		 buf[80];
	double		 d;
	struct fspec	 f = { .width = -1, .prec = -1 };
	struct sbuf	 b;
	int		 rc;

	if ((rc = bi_arg_num(ev, "format_int", args, 0)) != SF_OK)
		return rc;
	if ((rc = bi_arg_num(ev, "format_int", args, 1)) != SF_OK)
		return rc;
	if (!rv_get_int(args[1], &base) || (base != 2 && base != 8 &&
	    base != 10 && base != 16))
		return bi_type_errf(ev, "format_int: operand 2 must be one of "
		    "{2, 8, 10, 16}");
	if (!rv_get_int(args[0], &v)) {
		d = rv_get_dbl(args[0]);
		d = trunc(d);
		if (d >= 9.2e18 || d <= -9.2e18)
			return bi_err(ev, "format_int: number too large");
		v = (int64_t)d;
	}
	sbuf_init(&b, A);
	fmt_integer(&b, &f, v, (int)base, false);
	(void)buf;
	return out_sbuf(ev, &b, out);
}

static int
bi_indexof(struct ev *ev, struct rv *const *args, struct rv **out)
{
	const char	*a, *b, *p;
	size_t		 an, bn;
	int		 rc;

	if ((rc = two_strs(ev, "indexof", args, &a, &an, &b, &bn)) != SF_OK)
		return rc;
	if ((p = memmem_s(a, an, b, bn)) == NULL)
		*out = rv_int(A, -1);
	else
		*out = rv_int(A, (int64_t)utf8_len(a, (size_t)(p - a)));
	return *out == NULL ? SF_ENOMEM : SF_OK;
}

static int
bi_indexof_n(struct ev *ev, struct rv *const *args, struct rv **out)
{
	const char	*a, *b, *p;
	size_t		 an, bn, off = 0;
	struct rv	**items = NULL, *v;
	uint32_t	 n = 0, cap = 0;
	int		 rc;

	if ((rc = two_strs(ev, "indexof_n", args, &a, &an, &b, &bn)) != SF_OK)
		return rc;
	while (off <= an && (p = memmem_s(a + off, an - off, b, bn)) != NULL) {
		if (n == cap) {
			cap = cap == 0 ? 8 : cap * 2;
			if ((items = arena_grow(A, items, n, cap,
			    sizeof(*items))) == NULL)
				return SF_ENOMEM;
		}
		if ((items[n++] = rv_int(A, (int64_t)utf8_len(a,
		    (size_t)(p - a)))) == NULL)
			return SF_ENOMEM;
		off = (size_t)(p - a) + (bn > 0 ? bn : 1);
		if (bn == 0 && off > an)
			break;
	}
	if ((v = rv_arr(A, n)) == NULL)
		return SF_ENOMEM;
	if (n > 0)
		memcpy(v->u.a, items, n * sizeof(*items));
	*out = v;
	return SF_OK;
}

static uint32_t
to_lower_cp(uint32_t c)
{
	if (c >= 'A' && c <= 'Z')
		return c + 32;
	if ((c >= 0xc0 && c <= 0xde && c != 0xd7) ||
	    (c >= 0x391 && c <= 0x3ab && c != 0x3a2) ||
	    (c >= 0x410 && c <= 0x42f))
		return c + 32;
	if (c >= 0x400 && c <= 0x40f)
		return c + 80;
	if (c >= 0x100 && c <= 0x17f && (c & 1) == 0 && c != 0x130 &&
	    c != 0x138)
		return c + 1;
	return c;
}

static uint32_t
to_upper_cp(uint32_t c)
{
	if (c >= 'a' && c <= 'z')
		return c - 32;
	if ((c >= 0xe0 && c <= 0xfe && c != 0xf7) ||
	    (c >= 0x3b1 && c <= 0x3cb && c != 0x3c2) ||
	    (c >= 0x430 && c <= 0x44f))
		return c - 32;
	if (c >= 0x450 && c <= 0x45f)
		return c - 80;
	if (c >= 0x101 && c <= 0x17f && (c & 1) == 1 && c != 0x131 &&
	    c != 0x149)
		return c - 1;
	return c;
}

static int
map_case(struct ev *ev, const char *fn, struct rv *const *args,
    uint32_t (*f)(uint32_t), struct rv **out)
{
	const char	*s;
	size_t		 n, i = 0;
	uint32_t	 cp;
	struct sbuf	 b;
	char		 u[8];
	int		 rc;

	if ((rc = bi_arg_str(ev, fn, args, 0, &s, &n)) != SF_OK)
		return rc;
	sbuf_init(&b, A);
	while (i < n) {
		size_t st = i;

		if (utf8_decode(s, n, &i, &cp) != 0)
			sbuf_put(&b, s + st, i - st);
		else
			sbuf_put(&b, u, rego_utf8_encode(f(cp), u));
	}
	return out_sbuf(ev, &b, out);
}

static int
bi_lower(struct ev *ev, struct rv *const *args, struct rv **out)
{
	return map_case(ev, "lower", args, to_lower_cp, out);
}

static int
bi_upper(struct ev *ev, struct rv *const *args, struct rv **out)
{
	return map_case(ev, "upper", args, to_upper_cp, out);
}

/* Go strings.Replace(s, old, new, n); n < 0: all. */
static void
replace_n(struct sbuf *b, const char *s, size_t sn, const char *o, size_t on,
    const char *nw, size_t nn, int64_t lim)
{
	size_t		 i = 0;
	int64_t		 done = 0;
	const char	*p;
	uint32_t	 cp;

	if (on == 0) {
		/* insert before every rune and at the end */
		while (i <= sn && (lim < 0 || done < lim)) {
			size_t st = i;

			sbuf_put(b, nw, nn);
			done++;
			if (i == sn)
				return;
			utf8_decode(s, sn, &i, &cp);
			sbuf_put(b, s + st, i - st);
		}
		sbuf_put(b, s + i, sn - i);
		return;
	}
	while (i < sn && (lim < 0 || done < lim) &&
	    (p = memmem(s + i, sn - i, o, on)) != NULL) {
		sbuf_put(b, s + i, (size_t)(p - (s + i)));
		sbuf_put(b, nw, nn);
		i = (size_t)(p - s) + on;
		done++;
	}
	sbuf_put(b, s + i, sn - i);
}

static int
bi_replace(struct ev *ev, struct rv *const *args, struct rv **out)
{
	const char	*s, *o, *n;
	size_t		 sn, on, nn;
	struct sbuf	 b;
	int		 rc;

	if ((rc = bi_arg_str(ev, "replace", args, 0, &s, &sn)) != SF_OK ||
	    (rc = bi_arg_str(ev, "replace", args, 1, &o, &on)) != SF_OK ||
	    (rc = bi_arg_str(ev, "replace", args, 2, &n, &nn)) != SF_OK)
		return rc;
	sbuf_init(&b, A);
	replace_n(&b, s, sn, o, on, n, nn, -1);
	return out_sbuf(ev, &b, out);
}

static int
bi_replace_n(struct ev *ev, struct rv *const *args, struct rv **out)
{
	const struct rv	*pats = args[0];
	const char	*s;
	size_t		 sn, i = 0;
	uint32_t	 k;
	struct sbuf	 b;
	int		 rc;

	if (pats->t != RV_OBJ)
		return bi_type_err(ev, "strings.replace_n", 1, "object", pats);
	for (k = 0; k < pats->n; k++) {
		if (pats->u.o[k].k->t != RV_STR)
			return bi_type_errf(ev, "strings.replace_n: operand 1 "
			    "non-string key found in pattern object");
		if (pats->u.o[k].v->t != RV_STR)
			return bi_type_errf(ev, "strings.replace_n: operand 1 "
			    "non-string value found in pattern object");
	}
	if ((rc = bi_arg_str(ev, "strings.replace_n", args, 1, &s, &sn)) !=
	    SF_OK)
		return rc;
	/* Go's strings.NewReplacer: leftmost match, first pattern wins */
	sbuf_init(&b, A);
	while (i <= sn) {
		bool hit = false;

		for (k = 0; k < pats->n; k++) {
			const struct rv *o = pats->u.o[k].k;

			if (o->n == 0 || o->n > sn - i ||
			    memcmp(s + i, o->u.s, o->n) != 0)
				continue;
			sbuf_put(&b, pats->u.o[k].v->u.s, pats->u.o[k].v->n);
			i += o->n;
			hit = true;
			break;
		}
		if (hit)
			continue;
		if (i == sn)
			break;
		sbuf_putc(&b, s[i]);
		i++;
	}
	return out_sbuf(ev, &b, out);
}

static int
bi_split(struct ev *ev, struct rv *const *args, struct rv **out)
{
	const char	*s, *d, *p;
	size_t		 sn, dn, i = 0, n = 0;
	struct rv	*v;
	uint32_t	 cp;
	int		 rc;

	if ((rc = two_strs(ev, "split", args, &s, &sn, &d, &dn)) != SF_OK)
		return rc;
	if (dn == 0) {
		n = utf8_len(s, sn);
		if ((v = rv_arr(A, (uint32_t)n)) == NULL)
			return SF_ENOMEM;
		for (n = 0; i < sn; n++) {
			size_t st = i;

			utf8_decode(s, sn, &i, &cp);
			if ((v->u.a[n] = rv_str(A, s + st, i - st)) == NULL)
				return SF_ENOMEM;
		}
		*out = v;
		return SF_OK;
	}
	for (i = 0, n = 1; (p = memmem(s + i, sn - i, d, dn)) != NULL; n++)
		i = (size_t)(p - s) + dn;
	if ((v = rv_arr(A, (uint32_t)n)) == NULL)
		return SF_ENOMEM;
	for (i = 0, n = 0; (p = memmem(s + i, sn - i, d, dn)) != NULL; n++) {
		if ((v->u.a[n] = rv_str(A, s + i, (size_t)(p - (s + i)))) ==
		    NULL)
			return SF_ENOMEM;
		i = (size_t)(p - s) + dn;
	}
	if ((v->u.a[n] = rv_str(A, s + i, sn - i)) == NULL)
		return SF_ENOMEM;
	*out = v;
	return SF_OK;
}

static int
bi_substring(struct ev *ev, struct rv *const *args, struct rv **out)
{
	const char	*s;
	size_t		 n, st, en, runes;
	int64_t		 off, len;
	int		 rc;

	if ((rc = bi_arg_str(ev, "substring", args, 0, &s, &n)) != SF_OK ||
	    (rc = bi_arg_int(ev, "substring", args, 1, &off)) != SF_OK ||
	    (rc = bi_arg_int(ev, "substring", args, 2, &len)) != SF_OK)
		return rc;
	if (off < 0)
		return bi_err(ev, "substring: negative offset");
	runes = utf8_len(s, n);
	if ((uint64_t)off >= runes)
		return out_str(ev, "", 0, out);
	st = utf8_offset(s, n, (size_t)off);
	if (len < 0 || (uint64_t)off + (uint64_t)len > runes)
		en = n;
	else
		en = utf8_offset(s, n, (size_t)(off + len));
	return out_str(ev, s + st, en - st, out);
}

static bool
in_cutset(const char *c, size_t cn, uint32_t cp)
{
	size_t		 i = 0;
	uint32_t	 x;

	while (i < cn) {
		utf8_decode(c, cn, &i, &x);
		if (x == cp)
			return true;
	}
	return false;
}

/* Trim runes of cutset from the left (l) and/or right (r). */
static void
trim_set(const char *s, size_t n, const char *c, size_t cn, bool l, bool r,
    size_t *st, size_t *en)
{
	size_t		 i = 0, j;
	uint32_t	 cp;

	*st = 0;
	*en = n;
	if (l) {
		while (i < n) {
			j = i;
			utf8_decode(s, n, &j, &cp);
			if (!in_cutset(c, cn, cp))
				break;
			i = j;
		}
		*st = i;
	}
	if (r) {
		j = n;
		while (j > *st) {
			size_t k = j - 1;

			while (k > *st && ((unsigned char)s[k] & 0xc0) == 0x80)
				k--;
			i = k;
			utf8_decode(s, n, &i, &cp);
			if (!in_cutset(c, cn, cp))
				break;
			j = k;
		}
		*en = j;
	}
}

static int
trim_common(struct ev *ev, const char *fn, struct rv *const *args, bool l,
    bool r, struct rv **out)
{
	const char	*s, *c;
	size_t		 sn, cn, st, en;
	int		 rc;

	if ((rc = two_strs(ev, fn, args, &s, &sn, &c, &cn)) != SF_OK)
		return rc;
	trim_set(s, sn, c, cn, l, r, &st, &en);
	return out_str(ev, s + st, en - st, out);
}

static int
bi_trim(struct ev *ev, struct rv *const *args, struct rv **out)
{
	return trim_common(ev, "trim", args, true, true, out);
}

static int
bi_trim_left(struct ev *ev, struct rv *const *args, struct rv **out)
{
	return trim_common(ev, "trim_left", args, true, false, out);
}

static int
bi_trim_right(struct ev *ev, struct rv *const *args, struct rv **out)
{
	return trim_common(ev, "trim_right", args, false, true, out);
}

static int
bi_trim_prefix(struct ev *ev, struct rv *const *args, struct rv **out)
{
	const char	*s, *p;
	size_t		 sn, pn;
	int		 rc;

	if ((rc = two_strs(ev, "trim_prefix", args, &s, &sn, &p, &pn)) !=
	    SF_OK)
		return rc;
	if (pn <= sn && memcmp(s, p, pn) == 0)
		return out_str(ev, s + pn, sn - pn, out);
	*out = args[0];
	return SF_OK;
}

static int
bi_trim_suffix(struct ev *ev, struct rv *const *args, struct rv **out)
{
	const char	*s, *p;
	size_t		 sn, pn;
	int		 rc;

	if ((rc = two_strs(ev, "trim_suffix", args, &s, &sn, &p, &pn)) !=
	    SF_OK)
		return rc;
	if (pn <= sn && memcmp(s + sn - pn, p, pn) == 0)
		return out_str(ev, s, sn - pn, out);
	*out = args[0];
	return SF_OK;
}

static bool
is_space_cp(uint32_t c)
{
	return c == ' ' || (c >= '\t' && c <= '\r') || c == 0x85 ||
	    c == 0xa0 || c == 0x1680 || (c >= 0x2000 && c <= 0x200a) ||
	    c == 0x2028 || c == 0x2029 || c == 0x202f || c == 0x205f ||
	    c == 0x3000;
}

static int
bi_trim_space(struct ev *ev, struct rv *const *args, struct rv **out)
{
	const char	*s;
	size_t		 n, i = 0, j, st, en;
	uint32_t	 cp;
	int		 rc;

	if ((rc = bi_arg_str(ev, "trim_space", args, 0, &s, &n)) != SF_OK)
		return rc;
	while (i < n) {
		j = i;
		utf8_decode(s, n, &j, &cp);
		if (!is_space_cp(cp))
			break;
		i = j;
	}
	st = i;
	en = n;
	while (en > st) {
		size_t k = en - 1;

		while (k > st && ((unsigned char)s[k] & 0xc0) == 0x80)
			k--;
		j = k;
		utf8_decode(s, n, &j, &cp);
		if (!is_space_cp(cp))
			break;
		en = k;
	}
	return out_str(ev, s + st, en - st, out);
}

/* strings.any_{prefix,suffix}_match: operands string, array or set. */
static int
str_list(struct ev *ev, const char *fn, struct rv *const *args, int i,
    struct rv *const **items, uint32_t *n, struct rv **one)
{
	const struct rv	*v = args[i];
	uint32_t	 k;

	if (v->t == RV_STR) {
		*one = (struct rv *)v;
		*items = one;
		*n = 1;
		return SF_OK;
	}
	if (v->t != RV_ARR && v->t != RV_SET)
		return bi_type_err(ev, fn, i + 1, "one of {string, set, array}",
		    v);
	for (k = 0; k < v->n; k++)
		if (v->u.a[k]->t != RV_STR)
			return bi_type_errf(ev, "%s: operand %d must be %s of "
			    "strings but got %s containing %s", fn, i + 1,
			    v->t == RV_ARR ? "array" : "set",
			    v->t == RV_ARR ? "array" : "set",
			    rv_type_name(v->u.a[k]));
	*items = v->u.a;
	*n = v->n;
	return SF_OK;
}

static int
any_match(struct ev *ev, const char *fn, struct rv *const *args, bool suffix,
    struct rv **out)
{
	struct rv *const *a, *const *b;
	struct rv	*oa, *ob;
	uint32_t	 na, nb, i, j;
	int		 rc;

	if ((rc = str_list(ev, fn, args, 0, &a, &na, &oa)) != SF_OK ||
	    (rc = str_list(ev, fn, args, 1, &b, &nb, &ob)) != SF_OK)
		return rc;
	for (i = 0; i < na; i++)
		for (j = 0; j < nb; j++) {
			const struct rv *s = a[i], *p = b[j];

			if (p->n > s->n)
				continue;
			if (memcmp(suffix ? s->u.s + s->n - p->n : s->u.s,
			    p->u.s, p->n) == 0) {
				*out = RV_TRUE;
				return SF_OK;
			}
		}
	*out = RV_FALSE;
	return SF_OK;
}

static int
bi_any_prefix(struct ev *ev, struct rv *const *args, struct rv **out)
{
	return any_match(ev, "strings.any_prefix_match", args, false, out);
}

static int
bi_any_suffix(struct ev *ev, struct rv *const *args, struct rv **out)
{
	return any_match(ev, "strings.any_suffix_match", args, true, out);
}

static int
bi_strings_count(struct ev *ev, struct rv *const *args, struct rv **out)
{
	const char	*s, *p, *q;
	size_t		 sn, pn, i = 0;
	int64_t		 c = 0;
	int		 rc;

	if ((rc = two_strs(ev, "strings.count", args, &s, &sn, &p, &pn)) !=
	    SF_OK)
		return rc;
	if (pn == 0)
		c = (int64_t)utf8_len(s, sn) + 1;
	else
		while ((q = memmem(s + i, sn - i, p, pn)) != NULL) {
			c++;
			i = (size_t)(q - s) + pn;
		}
	*out = rv_int(A, c);
	return *out == NULL ? SF_ENOMEM : SF_OK;
}

static int
bi_strings_reverse(struct ev *ev, struct rv *const *args, struct rv **out)
{
	const char	*s;
	size_t		 n, i, j = 0;
	char		*r;
	uint32_t	 cp;
	int		 rc;

	if ((rc = bi_arg_str(ev, "strings.reverse", args, 0, &s, &n)) !=
	    SF_OK)
		return rc;
	if ((r = arena_alloc(A, n + 1)) == NULL)
		return SF_ENOMEM;
	i = 0;
	while (i < n) {
		size_t st = i;

		utf8_decode(s, n, &i, &cp);
		j += i - st;
		memcpy(r + n - j, s + st, i - st);
	}
	r[n] = '\0';
	*out = rv_str_ref(A, r, n);
	return *out == NULL ? SF_ENOMEM : SF_OK;
}

const struct builtin bi_strings[] = {
	{ "sprintf", 2, bi_sprintf, 0 },
	{ "contains", 2, bi_contains, 0 },
	{ "startswith", 2, bi_startswith, 0 },
	{ "endswith", 2, bi_endswith, 0 },
	{ "concat", 2, bi_concat, 0 },
	{ "format_int", 2, bi_format_int, 0 },
	{ "indexof", 2, bi_indexof, 0 },
	{ "indexof_n", 2, bi_indexof_n, 0 },
	{ "lower", 1, bi_lower, 0 },
	{ "upper", 1, bi_upper, 0 },
	{ "replace", 3, bi_replace, 0 },
	{ "strings.replace_n", 2, bi_replace_n, 0 },
	{ "split", 2, bi_split, 0 },
	{ "substring", 3, bi_substring, 0 },
	{ "trim", 2, bi_trim, 0 },
	{ "trim_left", 2, bi_trim_left, 0 },
	{ "trim_right", 2, bi_trim_right, 0 },
	{ "trim_prefix", 2, bi_trim_prefix, 0 },
	{ "trim_suffix", 2, bi_trim_suffix, 0 },
	{ "trim_space", 1, bi_trim_space, 0 },
	{ "strings.any_prefix_match", 2, bi_any_prefix, 0 },
	{ "strings.any_suffix_match", 2, bi_any_suffix, 0 },
	{ "strings.count", 2, bi_strings_count, 0 },
	{ "strings.reverse", 1, bi_strings_reverse, 0 },
	{ NULL, 0, NULL, 0 }
};
