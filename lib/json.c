/*
 * json.c - strict JSON input (RFC 8259) over jansson, with a fast path
 * for plain documents, and compact output.
 *
 * Strict means: exactly one value and nothing after it but whitespace,
 * valid UTF-8 (RFC 8259 §8.1), no NUL in strings, no duplicate member
 * names (RFC 8259 §4 leaves them undefined; we refuse them, as RFC 7515
 * §5.2 step 4 asks of JOSE headers), nesting at most JSON_MAX_DEPTH.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "starfly.h"

#define JSON_MAX_DEPTH	64	/* parsed documents */
#define JSON_DUMP_DEPTH	1024	/* built ones, and the guard on cycles */

static int
json_depth_ok(const json_t *v, int depth)
{
	const char *k;
	json_t *m;
	size_t i;

	if (depth > JSON_MAX_DEPTH)
		return 0;
	if (json_is_object(v)) {
		json_object_foreach((json_t *)v, k, m)
			if (!json_depth_ok(m, depth + 1))
				return 0;
	} else if (json_is_array(v)) {
		json_array_foreach(v, i, m)
			if (!json_depth_ok(m, depth + 1))
				return 0;
	}
	return 1;
}

/*
 * The fast path of json_parse_strict, for the documents requests carry:
 * an object of objects, arrays, strings of printable ASCII without
 * escapes, integers of at most 18 digits, true, false and null.  It
 * accepts only what jansson accepts, as the same value (fuzz_json holds
 * it to that); anything else (an escape, a byte outside printable ASCII
 * in a string, a fraction or exponent, a duplicate member, nesting past
 * JSON_MAX_DEPTH, any syntax error) it declines, and jansson parses the
 * document from the start, so errors and their messages stay jansson's.
 * A 402-byte exchange request costs about 8,000 instructions here and
 * 59,000 in jansson (callgrind).
 */
struct fp {
	const char	*p, *end;
	bool		 nomem;
};

static void
fp_ws(struct fp *f)
{
	while (f->p < f->end && (*f->p == ' ' || *f->p == '\n' ||
	    *f->p == '\r' || *f->p == '\t'))
		f->p++;
}

/* After '{' or '[': skip blanks; true (and past it) at once close. */
static bool
fp_empty(struct fp *f, char close)
{
	fp_ws(f);
	if (f->p < f->end && *f->p == close) {
		f->p++;
		return true;
	}
	return false;
}

/* After a member or element: 1 at ',' (blanks skipped), 0 at close, -1. */
static int
fp_more(struct fp *f, char close)
{
	fp_ws(f);
	if (f->p < f->end && *f->p == ',') {
		f->p++;
		fp_ws(f);
		return 1;
	}
	if (f->p < f->end && *f->p++ == close)
		return 0;
	return -1;
}

/* A string's body after its '"': [s, s + *n), *f->p past the closing. */
static const char *
fp_str(struct fp *f, size_t *n)
{
	const char *s = f->p;
	unsigned char c;

	for (; f->p < f->end; f->p++) {
		c = (unsigned char)*f->p;
		if (c == '"') {
			*n = (size_t)(f->p - s);
			f->p++;
			return s;
		}
		if (c < 0x20 || c > 0x7e || c == '\\')
			return NULL;
	}
	return NULL;
}

static json_t *
fp_value(struct fp *f, int depth)
{
	const char *s, *k;
	json_t *v = NULL, *m;
	json_int_t iv;
	uint64_t u;
	size_t n, kn;
	int digits, more;
	bool neg;

	if (f->p >= f->end || depth > JSON_MAX_DEPTH)
		return NULL;
	switch (*f->p) {
	case '{':
		f->p++;
		if ((v = json_object()) == NULL)
			goto nomem;
		if (fp_empty(f, '}'))
			return v;
		for (;;) {
			if (f->p >= f->end || *f->p++ != '"' ||
			    (k = fp_str(f, &kn)) == NULL)
				goto decline;
			fp_ws(f);
			if (f->p >= f->end || *f->p++ != ':')
				goto decline;
			fp_ws(f);
			if ((m = fp_value(f, depth + 1)) == NULL)
				goto decline;
			if (json_object_getn(v, k, kn) != NULL) {
				json_decref(m);
				goto decline;	/* jansson says which */
			}
			if (json_object_setn_new_nocheck(v, k, kn, m) != 0)
				goto nomem;
			if ((more = fp_more(f, '}')) > 0)
				continue;
			if (more == 0)
				return v;
			goto decline;
		}
	case '[':
		f->p++;
		if ((v = json_array()) == NULL)
			goto nomem;
		if (fp_empty(f, ']'))
			return v;
		for (;;) {
			if ((m = fp_value(f, depth + 1)) == NULL)
				goto decline;
			if (json_array_append_new(v, m) != 0)
				goto nomem;
			if ((more = fp_more(f, ']')) > 0)
				continue;
			if (more == 0)
				return v;
			goto decline;
		}
	case '"':
		f->p++;
		if ((s = fp_str(f, &n)) == NULL)
			return NULL;
		if ((v = json_stringn_nocheck(s, n)) == NULL)
			goto nomem;
		return v;
	case 't':
	case 'f':
	case 'n':
		s = *f->p == 't' ? "true" : *f->p == 'f' ? "false" : "null";
		n = strlen(s);
		if ((size_t)(f->end - f->p) < n || memcmp(f->p, s, n) != 0)
			return NULL;
		f->p += n;
		v = *s == 't' ? json_true() : *s == 'f' ? json_false() :
		    json_null();
		return v;
	default:
		neg = *f->p == '-';
		if (neg)
			f->p++;
		u = 0;	/* 19 digits at most: within uint64_t */
		for (digits = 0; f->p < f->end && *f->p >= '0' &&
		    *f->p <= '9' && digits <= 18; digits++, f->p++)
			u = u * 10 + (uint64_t)(*f->p - '0');
		/* RFC 8259 §6: no leading zero; fractions go to jansson. */
		if (digits == 0 || digits > 18 || (digits > 1 &&
		    f->p[-digits] == '0') || (f->p < f->end &&
		    (*f->p == '.' || *f->p == 'e' || *f->p == 'E')))
			return NULL;
		iv = (json_int_t)u;
		if ((v = json_integer(neg ? -iv : iv)) == NULL)
			goto nomem;
		return v;
	}
nomem:
	f->nomem = true;
decline:
	json_decref(v);
	return NULL;
}

int
json_parse_strict(const char *buf, size_t len, json_t **out, char **why)
{
	struct fp f;
	json_error_t e;
	json_t *v;

	*out = NULL;
	if (why != NULL)
		*why = NULL;
	if (buf == NULL)
		buf = "";
	f.p = buf;
	f.end = buf + len;
	f.nomem = false;
	fp_ws(&f);
	if (f.p < f.end && *f.p == '{' && (v = fp_value(&f, 1)) != NULL) {
		fp_ws(&f);
		if (f.p == f.end) {
			*out = v;
			return SF_OK;
		}
		json_decref(v);
	}
	if (f.nomem)
		return SF_ENOMEM;
	v = json_loadb(buf, len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &e);
	if (v == NULL) {
		if (why != NULL)
			(void)sf_asprintf(why, "line %d, column %d: %s",
			    e.line, e.column, e.text);
		return SF_EPARSE;
	}
	if (!json_depth_ok(v, 1)) {
		json_decref(v);
		if (why != NULL)
			(void)sf_asprintf(why, "nesting deeper than %d",
			    JSON_MAX_DEPTH);
		return SF_EPARSE;
	}
	*out = v;
	return SF_OK;
}

/*
 * Compact output (RFC 8259 §2: no insignificant whitespace), members in
 * insertion order, byte for byte what json_dump_callback writes with
 * JSON_COMPACT (and JSON_ENSURE_ASCII when asked).  jansson's dumper
 * decodes every string code point by code point; here runs that need no
 * escape (RFC 8259 §7: '"', '\\', U+0000-U+001F, and with ENSURE_ASCII
 * all of U+0080 and up) are handed on whole.  Reals, rare in our
 * documents, are written by jansson.
 */
struct jw {
	json_dump_callback_t	 put;
	void			*arg;
	bool			 ascii;
	int			 rc;
};

#define JW_ADD(w, s, n) do {						\
	if ((w)->rc == SF_OK && (w)->put((s), (n), (w)->arg) != 0)	\
		(w)->rc = SF_ENOMEM;					\
} while (0)

size_t
json_utf8_seq(const unsigned char *s, size_t avail, uint32_t *cp)
{
	size_t n, i;
	uint32_t c;

	if (avail == 0)
		return 0;
	if (s[0] < 0x80) {
		*cp = s[0];
		return 1;
	}
	if (s[0] < 0xc2 || s[0] > 0xf4)
		return 0;
	n = s[0] < 0xe0 ? 2 : s[0] < 0xf0 ? 3 : 4;
	if (n > avail)
		return 0;
	c = s[0] & (0x7fu >> n);
	for (i = 1; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		c = c << 6 | (s[i] & 0x3fu);
	}
	if ((n == 3 && c < 0x800) || (n == 4 && (c < 0x10000 ||
	    c > 0x10ffff)) || (c >= 0xd800 && c <= 0xdfff))
		return 0;
	*cp = c;
	return n;
}

static void
jw_u(struct jw *w, uint32_t cp)
{
	static const char hex[] = "0123456789ABCDEF";	/* as jansson */
	char e[6] = { '\\', 'u', hex[cp >> 12 & 15], hex[cp >> 8 & 15],
	    hex[cp >> 4 & 15], hex[cp & 15] };

	JW_ADD(w, e, sizeof(e));
}

static void
jw_str(struct jw *w, const char *s, size_t n)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i, run = 0, k;
	uint32_t cp;
	unsigned char c;

	JW_ADD(w, "\"", 1);
	for (i = 0; i < n; i++) {
		c = p[i];
		if (c >= 0x20 && c != '"' && c != '\\' &&
		    (c < 0x80 || !w->ascii))
			continue;
		JW_ADD(w, s + run, i - run);
		run = i + 1;
		switch (c) {
		case '"':	JW_ADD(w, "\\\"", 2); break;
		case '\\':	JW_ADD(w, "\\\\", 2); break;
		case '\b':	JW_ADD(w, "\\b", 2); break;
		case '\f':	JW_ADD(w, "\\f", 2); break;
		case '\n':	JW_ADD(w, "\\n", 2); break;
		case '\r':	JW_ADD(w, "\\r", 2); break;
		case '\t':	JW_ADD(w, "\\t", 2); break;
		default:
			if (c < 0x80) {
				jw_u(w, c);
				break;
			}
			if ((k = json_utf8_seq(p + i, n - i, &cp)) == 0) {
				if (w->rc == SF_OK)
					w->rc = SF_EINVAL;
				return;
			}
			if (cp >= 0x10000) {	/* RFC 8259 §7: a pair */
				cp -= 0x10000;
				jw_u(w, 0xd800 | cp >> 10);
				cp = 0xdc00 | (cp & 0x3ff);
			}
			jw_u(w, cp);
			i += k - 1;
			run = i + 1;
		}
	}
	JW_ADD(w, s + run, n - run);
	JW_ADD(w, "\"", 1);
}

static void
jw_value(struct jw *w, const json_t *v, int depth)
{
	const char *k;
	char num[32], *r;
	json_t *m;
	size_t i;
	int n;

	if (depth > JSON_DUMP_DEPTH) {
		w->rc = SF_EINVAL;	/* a cycle: json_dumps refuses it too */
		return;
	}
	switch (json_typeof(v)) {
	case JSON_OBJECT:
		JW_ADD(w, "{", 1);
		i = 0;
		json_object_foreach((json_t *)v, k, m) {
			if (i++ > 0)
				JW_ADD(w, ",", 1);
			jw_str(w, k, strlen(k));
			JW_ADD(w, ":", 1);
			jw_value(w, m, depth + 1);
		}
		JW_ADD(w, "}", 1);
		break;
	case JSON_ARRAY:
		JW_ADD(w, "[", 1);
		json_array_foreach((json_t *)v, i, m) {
			if (i > 0)
				JW_ADD(w, ",", 1);
			jw_value(w, m, depth + 1);
		}
		JW_ADD(w, "]", 1);
		break;
	case JSON_STRING:
		jw_str(w, json_string_value(v), json_string_length(v));
		break;
	case JSON_INTEGER:
		n = snprintf(num, sizeof(num), "%" JSON_INTEGER_FORMAT,
		    json_integer_value(v));
		JW_ADD(w, num, (size_t)n);
		break;
	case JSON_REAL:
		if ((r = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY)) ==
		    NULL) {
			w->rc = SF_ENOMEM;
			return;
		}
		JW_ADD(w, r, strlen(r));
		free(r);
		break;
	case JSON_TRUE:
		JW_ADD(w, "true", 4);
		break;
	case JSON_FALSE:
		JW_ADD(w, "false", 5);
		break;
	case JSON_NULL:
		JW_ADD(w, "null", 4);
		break;
	}
}

int
json_write_compact(const json_t *v, bool ascii, json_dump_callback_t put,
    void *arg)
{
	struct jw w = { put, arg, ascii, SF_OK };

	if (v == NULL)
		return SF_EINVAL;
	jw_value(&w, v, 1);
	return w.rc;
}

struct jbuf {
	char	*p;
	size_t	 len, cap;
};

static int
jbuf_put(const char *s, size_t n, void *arg)
{
	struct jbuf *b = arg;
	size_t cap;
	char *p;

	if (b->cap - b->len <= n) {
		cap = b->cap ? b->cap : 256;
		while (cap - b->len <= n)
			cap *= 2;
		if ((p = realloc(b->p, cap)) == NULL)
			return -1;
		b->p = p;
		b->cap = cap;
	}
	memcpy(b->p + b->len, s, n);
	b->len += n;
	return 0;
}

char *
json_dump_compact(const json_t *v)
{
	struct jbuf b = { NULL, 0, 0 };

	if (json_write_compact(v, false, jbuf_put, &b) != SF_OK ||
	    jbuf_put("", 1, &b) != 0) {
		free(b.p);
		return NULL;
	}
	return b.p;
}
