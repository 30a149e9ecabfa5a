/*
 * builtins_regex.c - regex.* and glob.* builtins (PCRE2, UTF-8 mode).
 *
 * Rego uses Go's RE2 syntax; PCRE2 accepts that syntax (it also accepts
 * backreferences and lookarounds, which RE2 rejects).  Compiled patterns
 * are kept in a small process-wide cache.  Globs follow gobwas/glob as
 * OPA uses it: '*' stops at delimiters, '**' does not, '?', [...],
 * [!...], {a,b}; delimiters default to "." for an empty list and are
 * off for null.
 */
#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include <stdlib.h>
#include <string.h>

#include "policy/rego.h"

#define A		EVA(ev)
#define CACHE_N		64
#define MAX_PATTERN	(64 * 1024)

struct rx {
	char		*pat;
	size_t		 len;
	pcre2_code	*code;
	uint32_t	 ngroups;
};

static struct rx	 cache[CACHE_N];
static unsigned		 cache_next;

static int
compile_rx(struct ev *ev, const char *fn, const char *pat, size_t n,
    struct rx **out)
{
	unsigned	 i;
	struct rx	*r;
	pcre2_code	*code;
	int		 err;
	PCRE2_SIZE	 off;
	PCRE2_UCHAR	 msg[160];

	*out = NULL;
	for (i = 0; i < CACHE_N; i++)
		if (cache[i].pat != NULL && cache[i].len == n &&
		    memcmp(cache[i].pat, pat, n) == 0) {
			*out = &cache[i];
			return SF_OK;
		}
	if (n > MAX_PATTERN)
		return bi_err(ev, "%s: pattern too long", fn);
	code = pcre2_compile((PCRE2_SPTR)pat, n, PCRE2_UTF | PCRE2_DUPNAMES,
	    &err, &off, NULL);
	if (code == NULL) {
		pcre2_get_error_message(err, msg, sizeof(msg));
		return bi_err(ev, "%s: error parsing regexp: %s", fn,
		    (const char *)msg);
	}
	r = &cache[cache_next++ % CACHE_N];
	free(r->pat);
	pcre2_code_free(r->code);
	if ((r->pat = malloc(n + 1)) == NULL) {
		pcre2_code_free(code);
		r->code = NULL;
		return SF_ENOMEM;
	}
	memcpy(r->pat, pat, n);
	r->pat[n] = '\0';
	r->len = n;
	r->code = code;
	pcre2_pattern_info(code, PCRE2_INFO_CAPTURECOUNT, &r->ngroups);
	*out = r;
	return SF_OK;
}

int
rx_compile(struct ev *ev, const char *pat, size_t n, struct rx **out)
{
	return compile_rx(ev, "regex", pat, n, out);
}

/*
 * Iterate over successive non-overlapping matches (Go semantics: an
 * empty match right after a previous match is skipped).  cb gets the
 * ovector; returns < 0 to stop with error, 1 to stop.
 */
typedef int (*match_cb)(struct ev *ev, const char *s, PCRE2_SIZE *ov,
    uint32_t ngroups, void *ctx);

static int
each_match(struct ev *ev, struct rx *r, const char *s, size_t n, int64_t max,
    match_cb cb, void *ctx)
{
	pcre2_match_data	*md;
	PCRE2_SIZE		*ov, start = 0, last_end = (PCRE2_SIZE)-1;
	int64_t			 count = 0;
	int			 rc, ret = SF_OK;

	if ((md = pcre2_match_data_create_from_pattern(r->code, NULL)) == NULL)
		return SF_ENOMEM;
	while (start <= n && (max < 0 || count < max)) {
		rc = pcre2_match(r->code, (PCRE2_SPTR)s, n, start, 0, md, NULL);
		if (rc == PCRE2_ERROR_NOMATCH)
			break;
		if (rc < 0) {
			ret = bi_err(ev, "regex: match failed (%d)", rc);
			break;
		}
		ov = pcre2_get_ovector_pointer(md);
		if (ov[0] == ov[1] && ov[0] == last_end) {
			/* empty match adjacent to the previous one */
			if (start >= n)
				break;
			start++;
			while (start < n && ((unsigned char)s[start] & 0xc0) ==
			    0x80)
				start++;
			continue;
		}
		count++;
		if ((rc = cb(ev, s, ov, r->ngroups, ctx)) != 0) {
			ret = rc < 0 ? rc : SF_OK;
			break;
		}
		last_end = ov[1];
		if (ov[1] > ov[0])
			start = ov[1];
		else {
			start = ov[1] + 1;
			while (start < n && ((unsigned char)s[start] & 0xc0) ==
			    0x80)
				start++;
		}
	}
	pcre2_match_data_free(md);
	return ret;
}

static int
first_cb(struct ev *ev, const char *s, PCRE2_SIZE *ov, uint32_t ng,
    void *ctx)
{
	(void)ev;
	(void)s;
	(void)ov;
	(void)ng;
	*(bool *)ctx = true;
	return 1;
}

static int
bi_regex_match(struct ev *ev, struct rv *const *args, struct rv **out)
{
	const char	*p, *s;
	size_t		 pn, sn;
	struct rx	*r;
	bool		 found = false;
	int		 rc;

	if ((rc = bi_arg_str(ev, "regex.match", args, 0, &p, &pn)) != SF_OK ||
	    (rc = bi_arg_str(ev, "regex.match", args, 1, &s, &sn)) != SF_OK)
		return rc;
	if ((rc = compile_rx(ev, "regex.match", p, pn, &r)) != SF_OK)
		return rc;
	if ((rc = each_match(ev, r, s, sn, 1, first_cb, &found)) != SF_OK)
		return rc;
	*out = rv_bool(found);
	return SF_OK;
}

static int
bi_regex_is_valid(struct ev *ev, struct rv *const *args, struct rv **out)
{
	struct rx	*r;

	if (args[0]->t != RV_STR) {
		*out = RV_FALSE;
		return SF_OK;
	}
	if (compile_rx(ev, "regex.is_valid", args[0]->u.s, args[0]->n, &r) !=
	    SF_OK) {
		ev_clear_error(ev);
		*out = RV_FALSE;
		return SF_OK;
	}
	*out = RV_TRUE;
	return SF_OK;
}

struct listk {
	struct rv	**items;
	uint32_t	 n, cap;
	bool		 groups;
	PCRE2_SIZE	 prev;		/* split: end of the previous match */
};

static int
list_add(struct ev *ev, struct listk *l, struct rv *v)
{
	if (v == NULL)
		return SF_ENOMEM;
	if (l->n == l->cap) {
		l->cap = l->cap == 0 ? 8 : l->cap * 2;
		if ((l->items = arena_grow(A, l->items, l->n, l->cap,
		    sizeof(*l->items))) == NULL)
			return SF_ENOMEM;
	}
	l->items[l->n++] = v;
	return SF_OK;
}

static int
list_out(struct ev *ev, struct listk *l, struct rv **out)
{
	struct rv	*v;

	if ((v = rv_arr(A, l->n)) == NULL)
		return SF_ENOMEM;
	if (l->n > 0)
		memcpy(v->u.a, l->items, l->n * sizeof(*l->items));
	*out = v;
	return SF_OK;
}

static int
find_cb(struct ev *ev, const char *s, PCRE2_SIZE *ov, uint32_t ng, void *ctx)
{
	struct listk	*l = ctx;
	struct rv	*g;
	uint32_t	 i;

	if (!l->groups)
		return list_add(ev, l, rv_str(A, s + ov[0], ov[1] - ov[0]));
	if ((g = rv_arr(A, ng + 1)) == NULL)
		return SF_ENOMEM;
	for (i = 0; i <= ng; i++) {
		if (ov[2 * i] == PCRE2_UNSET)
			g->u.a[i] = &rv_empty_str_v;
		else if ((g->u.a[i] = rv_str(A, s + ov[2 * i],
		    ov[2 * i + 1] - ov[2 * i])) == NULL)
			return SF_ENOMEM;
	}
	return list_add(ev, l, g);
}

static int
find_common(struct ev *ev, const char *fn, struct rv *const *args, bool groups,
    struct rv **out)
{
	const char	*p, *s;
	size_t		 pn, sn;
	int64_t		 max;
	struct rx	*r;
	struct listk	 l;
	int		 rc;

	memset(&l, 0, sizeof(l));
	l.groups = groups;
	if ((rc = bi_arg_str(ev, fn, args, 0, &p, &pn)) != SF_OK ||
	    (rc = bi_arg_str(ev, fn, args, 1, &s, &sn)) != SF_OK ||
	    (rc = bi_arg_int(ev, fn, args, 2, &max)) != SF_OK)
		return rc;
	if ((rc = compile_rx(ev, fn, p, pn, &r)) != SF_OK)
		return rc;
	if (max != 0 && (rc = each_match(ev, r, s, sn, max, find_cb, &l)) !=
	    SF_OK)
		return rc;
	return list_out(ev, &l, out);
}

static int
bi_find_n(struct ev *ev, struct rv *const *args, struct rv **out)
{
	return find_common(ev, "regex.find_n", args, false, out);
}

static int
bi_find_all_submatch(struct ev *ev, struct rv *const *args, struct rv **out)
{
	return find_common(ev, "regex.find_all_string_submatch_n", args, true,
	    out);
}

static int
split_cb(struct ev *ev, const char *s, PCRE2_SIZE *ov, uint32_t ng, void *ctx)
{
	struct listk	*l = ctx;

	(void)ng;
	if (ov[1] == 0 && ov[0] == 0)
		return 0;	/* Go skips an empty match at the start */
	if (list_add(ev, l, rv_str(A, s + l->prev, ov[0] - l->prev)) != SF_OK)
		return SF_ENOMEM;
	l->prev = ov[1];
	return 0;
}

static int
bi_regex_split(struct ev *ev, struct rv *const *args, struct rv **out)
{
	const char	*p, *s;
	size_t		 pn, sn;
	struct rx	*r;
	struct listk	 l;
	int		 rc;

	memset(&l, 0, sizeof(l));
	if ((rc = bi_arg_str(ev, "regex.split", args, 0, &p, &pn)) != SF_OK ||
	    (rc = bi_arg_str(ev, "regex.split", args, 1, &s, &sn)) != SF_OK)
		return rc;
	if ((rc = compile_rx(ev, "regex.split", p, pn, &r)) != SF_OK)
		return rc;
	if ((rc = each_match(ev, r, s, sn, -1, split_cb, &l)) != SF_OK)
		return rc;
	if ((rc = list_add(ev, &l, rv_str(A, s + l.prev, sn - l.prev))) !=
	    SF_OK)
		return rc;
	return list_out(ev, &l, out);
}

struct replk {
	struct sbuf	 b;
	const char	*repl;
	size_t		 rn;
	PCRE2_SIZE	 prev;
	struct rx	*r;
};

/* Go's Regexp.Expand: $1, ${1}, $name, ${name}, $$. */
static void
expand(struct replk *k, const char *s, PCRE2_SIZE *ov, uint32_t ng)
{
	size_t		 i = 0, j;
	const char	*name;
	size_t		 nl;
	char		 tmp[128];
	int		 num;

	while (i < k->rn) {
		if (k->repl[i] != '$' || i + 1 >= k->rn) {
			sbuf_putc(&k->b, k->repl[i++]);
			continue;
		}
		i++;
		if (k->repl[i] == '$') {
			sbuf_putc(&k->b, '$');
			i++;
			continue;
		}
		if (k->repl[i] == '{') {
			j = i + 1;
			while (j < k->rn && k->repl[j] != '}')
				j++;
			if (j >= k->rn) {
				sbuf_putc(&k->b, '$');
				continue;
			}
			name = k->repl + i + 1;
			nl = j - i - 1;
			i = j + 1;
		} else {
			j = i;
			while (j < k->rn && (k->repl[j] == '_' ||
			    (k->repl[j] >= '0' && k->repl[j] <= '9') ||
			    (k->repl[j] >= 'a' && k->repl[j] <= 'z') ||
			    (k->repl[j] >= 'A' && k->repl[j] <= 'Z')))
				j++;
			if (j == i) {
				sbuf_putc(&k->b, '$');
				continue;
			}
			name = k->repl + i;
			nl = j - i;
			i = j;
		}
		num = -1;
		if (nl > 0 && nl < 10) {
			size_t m;

			for (m = 0, num = 0; m < nl; m++) {
				if (name[m] < '0' || name[m] > '9') {
					num = -1;
					break;
				}
				num = num * 10 + (name[m] - '0');
			}
		}
		if (num < 0 && nl < sizeof(tmp)) {
			memcpy(tmp, name, nl);
			tmp[nl] = '\0';
			num = pcre2_substring_number_from_name(k->r->code,
			    (PCRE2_SPTR)tmp);
		}
		if (num >= 0 && (uint32_t)num <= ng &&
		    ov[2 * num] != PCRE2_UNSET)
			sbuf_put(&k->b, s + ov[2 * num],
			    ov[2 * num + 1] - ov[2 * num]);
	}
}

static int
repl_cb(struct ev *ev, const char *s, PCRE2_SIZE *ov, uint32_t ng, void *ctx)
{
	struct replk	*k = ctx;

	(void)ev;
	sbuf_put(&k->b, s + k->prev, ov[0] - k->prev);
	expand(k, s, ov, ng);
	k->prev = ov[1];
	return 0;
}

static int
bi_regex_replace(struct ev *ev, struct rv *const *args, struct rv **out)
{
	const char	*s, *p;
	size_t		 sn, pn;
	struct replk	 k;
	int		 rc;

	memset(&k, 0, sizeof(k));
	if ((rc = bi_arg_str(ev, "regex.replace", args, 0, &s, &sn)) != SF_OK ||
	    (rc = bi_arg_str(ev, "regex.replace", args, 1, &p, &pn)) != SF_OK ||
	    (rc = bi_arg_str(ev, "regex.replace", args, 2, &k.repl, &k.rn)) !=
	    SF_OK)
		return rc;
	if ((rc = compile_rx(ev, "regex.replace", p, pn, &k.r)) != SF_OK)
		return rc;
	sbuf_init(&k.b, A);
	if ((rc = each_match(ev, k.r, s, sn, -1, repl_cb, &k)) != SF_OK)
		return rc;
	sbuf_put(&k.b, s + k.prev, sn - k.prev);
	if (k.b.oom)
		return SF_ENOMEM;
	*out = rv_str_ref(A, k.b.s != NULL ? k.b.s : "", k.b.len);
	return *out == NULL ? SF_ENOMEM : SF_OK;
}

/* Quote regex metacharacters (Go's regexp.QuoteMeta). */
static void
quote_meta(struct sbuf *b, const char *s, size_t n)
{
	size_t	 i;

	for (i = 0; i < n; i++) {
		if (strchr("\\.+*?()|[]{}^$", s[i]) != NULL && s[i] != '\0')
			sbuf_putc(b, '\\');
		sbuf_putc(b, s[i]);
	}
}

static int
bi_template_match(struct ev *ev, struct rv *const *args, struct rv **out)
{
	const char	*t, *s, *ds, *de, *p, *q;
	size_t		 tn, sn, dsn, den;
	struct sbuf	 b;
	struct rx	*r;
	bool		 found = false;
	int		 rc;

	if ((rc = bi_arg_str(ev, "regex.template_match", args, 0, &t, &tn)) !=
	    SF_OK ||
	    (rc = bi_arg_str(ev, "regex.template_match", args, 1, &s, &sn)) !=
	    SF_OK ||
	    (rc = bi_arg_str(ev, "regex.template_match", args, 2, &ds, &dsn)) !=
	    SF_OK ||
	    (rc = bi_arg_str(ev, "regex.template_match", args, 3, &de, &den)) !=
	    SF_OK)
		return rc;
	if (dsn == 0 || den == 0)
		return bi_err(ev, "regex.template_match: empty delimiter");
	sbuf_init(&b, A);
	sbuf_putc(&b, '^');
	p = t;
	while (p < t + tn) {
		q = memmem(p, (size_t)(t + tn - p), ds, dsn);
		if (q == NULL) {
			quote_meta(&b, p, (size_t)(t + tn - p));
			break;
		}
		quote_meta(&b, p, (size_t)(q - p));
		p = q + dsn;
		/* the regex part runs to the balancing end delimiter */
		{
			int	 depth = 1;
			const char *r0 = p;

			while (p < t + tn) {
				if ((size_t)(t + tn - p) >= dsn &&
				    memcmp(p, ds, dsn) == 0 && dsn != den) {
					depth++;
					p += dsn;
					continue;
				}
				if ((size_t)(t + tn - p) >= den &&
				    memcmp(p, de, den) == 0) {
					if (--depth == 0)
						break;
					p += den;
					continue;
				}
				p++;
			}
			if (p >= t + tn)
				return bi_err(ev, "regex.template_match: "
				    "unbalanced delimiters");
			sbuf_putc(&b, '(');
			sbuf_put(&b, r0, (size_t)(p - r0));
			sbuf_putc(&b, ')');
			p += den;
		}
	}
	sbuf_putc(&b, '$');
	if (b.oom)
		return SF_ENOMEM;
	if ((rc = compile_rx(ev, "regex.template_match", b.s, b.len, &r)) !=
	    SF_OK)
		return rc;
	if ((rc = each_match(ev, r, s, sn, 1, first_cb, &found)) != SF_OK)
		return rc;
	*out = rv_bool(found);
	return SF_OK;
}

/*
 * Globs, translated to anchored regular expressions.
 */
static void
put_delims_class(struct sbuf *b, const struct rv *delims, bool negate)
{
	uint32_t	 i;

	sbuf_puts(b, negate ? "[^" : "[");
	for (i = 0; delims != NULL && i < delims->n; i++) {
		const struct rv *d = delims->u.a[i];
		size_t k;

		for (k = 0; k < d->n; k++) {
			if (strchr("\\]^-[", d->u.s[k]) != NULL)
				sbuf_putc(b, '\\');
			sbuf_putc(b, d->u.s[k]);
		}
	}
	sbuf_putc(b, ']');
}

static int
glob_to_regex(struct ev *ev, const char *g, size_t n, const struct rv *delims,
    struct sbuf *b)
{
	size_t	 i = 0;
	int	 braces = 0;
	bool	 have_delims = delims != NULL && delims->n > 0;

	sbuf_puts(b, "^(?s:");
	while (i < n) {
		char c = g[i];

		switch (c) {
		case '*':
			if (i + 1 < n && g[i + 1] == '*') {
				sbuf_puts(b, ".*");
				i += 2;
				continue;
			}
			if (have_delims) {
				put_delims_class(b, delims, true);
				sbuf_putc(b, '*');
			} else
				sbuf_puts(b, ".*");
			break;
		case '?':
			if (have_delims)
				put_delims_class(b, delims, true);
			else
				sbuf_putc(b, '.');
			break;
		case '[': {
			size_t j = i + 1;

			sbuf_putc(b, '[');
			if (j < n && g[j] == '!') {
				sbuf_putc(b, '^');
				j++;
			}
			while (j < n && g[j] != ']') {
				if (g[j] == '\\' && j + 1 < n) {
					sbuf_putc(b, '\\');
					sbuf_putc(b, g[j + 1]);
					j += 2;
					continue;
				}
				if (g[j] == '[' || g[j] == '^')
					sbuf_putc(b, '\\');
				sbuf_putc(b, g[j++]);
			}
			if (j >= n)
				return bi_err(ev, "glob.match: unexpected end of "
				    "input");
			sbuf_putc(b, ']');
			i = j;
			break;
		}
		case '{':
			braces++;
			sbuf_puts(b, "(?:");
			break;
		case '}':
			if (braces == 0)
				goto literal;
			braces--;
			sbuf_putc(b, ')');
			break;
		case ',':
			if (braces == 0)
				goto literal;
			sbuf_putc(b, '|');
			break;
		case '\\':
			if (i + 1 < n) {
				i++;
				c = g[i];
			}
			/* FALLTHROUGH */
		default:
literal:
			quote_meta(b, &c, 1);
			break;
		}
		i++;
	}
	if (braces != 0)
		return bi_err(ev, "glob.match: unbalanced braces");
	sbuf_puts(b, ")$");
	return b->oom ? SF_ENOMEM : SF_OK;
}

static int
bi_glob_match(struct ev *ev, struct rv *const *args, struct rv **out)
{
	const char	*g, *s;
	size_t		 gn, sn;
	const struct rv	*delims = args[1];
	struct rv	 dot, *dotp = &dot, dots;
	struct sbuf	 b;
	struct rx	*r;
	uint32_t	 i;
	bool		 found = false;
	int		 rc;

	if ((rc = bi_arg_str(ev, "glob.match", args, 0, &g, &gn)) != SF_OK ||
	    (rc = bi_arg_str(ev, "glob.match", args, 2, &s, &sn)) != SF_OK)
		return rc;
	if (delims->t == RV_NULL)
		delims = NULL;
	else if (delims->t != RV_ARR)
		return bi_type_err(ev, "glob.match", 2, "one of {array, null}",
		    delims);
	else {
		for (i = 0; i < delims->n; i++)
			if (delims->u.a[i]->t != RV_STR)
				return bi_type_errf(ev, "glob.match: operand 2 "
				    "must be array of strings but got %s "
				    "element", rv_type_name(delims->u.a[i]));
		if (delims->n == 0) {
			dot.t = RV_STR;
			dot.n = 1;
			dot.u.s = ".";
			dots.t = RV_ARR;
			dots.n = 1;
			dots.u.a = &dotp;
			delims = &dots;
		}
	}
	sbuf_init(&b, A);
	if ((rc = glob_to_regex(ev, g, gn, delims, &b)) != SF_OK)
		return rc;
	if ((rc = compile_rx(ev, "glob.match", b.s, b.len, &r)) != SF_OK)
		return rc;
	if ((rc = each_match(ev, r, s, sn, 1, first_cb, &found)) != SF_OK)
		return rc;
	*out = rv_bool(found);
	return SF_OK;
}

static int
bi_glob_quote_meta(struct ev *ev, struct rv *const *args, struct rv **out)
{
	const char	*s;
	size_t		 n, i;
	struct sbuf	 b;
	int		 rc;

	if ((rc = bi_arg_str(ev, "glob.quote_meta", args, 0, &s, &n)) != SF_OK)
		return rc;
	sbuf_init(&b, A);
	for (i = 0; i < n; i++) {
		if (strchr("*?\\[]{}", s[i]) != NULL && s[i] != '\0')
			sbuf_putc(&b, '\\');
		sbuf_putc(&b, s[i]);
	}
	if (b.oom)
		return SF_ENOMEM;
	*out = rv_str_ref(A, b.s != NULL ? b.s : "", b.len);
	return *out == NULL ? SF_ENOMEM : SF_OK;
}

const struct builtin bi_regex[] = {
	{ "regex.match", 2, bi_regex_match, 0 },
	{ "regex.is_valid", 1, bi_regex_is_valid, 0 },
	{ "regex.find_n", 3, bi_find_n, 0 },
	{ "regex.find_all_string_submatch_n", 3, bi_find_all_submatch, 0 },
	{ "regex.split", 2, bi_regex_split, 0 },
	{ "regex.replace", 3, bi_regex_replace, 0 },
	{ "regex.template_match", 4, bi_template_match, 0 },
	{ "glob.match", 3, bi_glob_match, 0 },
	{ "glob.quote_meta", 1, bi_glob_quote_meta, 0 },
	{ NULL, 0, NULL, 0 }
};
