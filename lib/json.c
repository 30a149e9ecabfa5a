/*
 * json.c - strict JSON input (RFC 8259) over jansson.
 *
 * Strict means: exactly one value and nothing after it but whitespace,
 * valid UTF-8 (RFC 8259 §8.1), no NUL in strings, no duplicate member
 * names (RFC 8259 §4 leaves them undefined; we refuse them, as RFC 7515
 * §5.2 step 4 asks of JOSE headers), nesting at most JSON_MAX_DEPTH.
 */
#include <stdbool.h>
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

int
json_parse_strict(const char *buf, size_t len, json_t **out, char **why)
{
	json_error_t e;
	json_t *v;

	*out = NULL;
	if (why != NULL)
		*why = NULL;
	if (buf == NULL)
		buf = "";
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
 * insertion order, byte for byte what json_dumps(JSON_COMPACT |
 * JSON_ENCODE_ANY) writes.  jansson's dumper decodes every string code
 * point by code point through a callback; a json_t's strings are valid
 * UTF-8 already (jansson checks them when they are made), so here runs
 * that need no escape (RFC 8259 §7: '"', '\\' and U+0000-U+001F) are
 * copied whole.  Reals, rare in our documents, are written by jansson.
 */
struct jbuf {
	char	*p;
	size_t	 len, cap;
	bool	 failed;
};

static void
jb_add(struct jbuf *b, const void *s, size_t n)
{
	size_t cap;
	char *p;

	if (b->failed)
		return;
	if (b->cap - b->len <= n) {
		cap = b->cap ? b->cap : 256;
		while (cap - b->len <= n)
			cap *= 2;
		if ((p = realloc(b->p, cap)) == NULL) {
			b->failed = true;
			return;
		}
		b->p = p;
		b->cap = cap;
	}
	memcpy(b->p + b->len, s, n);
	b->len += n;
}

static void
jb_str(struct jbuf *b, const char *s, size_t n)
{
	static const char hex[] = "0123456789ABCDEF";	/* as jansson */
	char esc[6] = { '\\', 'u', '0', '0', 0, 0 };
	size_t i, run = 0;
	unsigned char c;

	jb_add(b, "\"", 1);
	for (i = 0; i < n; i++) {
		c = (unsigned char)s[i];
		if (c >= 0x20 && c != '"' && c != '\\')
			continue;
		jb_add(b, s + run, i - run);
		run = i + 1;
		switch (c) {
		case '"':	jb_add(b, "\\\"", 2); break;
		case '\\':	jb_add(b, "\\\\", 2); break;
		case '\b':	jb_add(b, "\\b", 2); break;
		case '\f':	jb_add(b, "\\f", 2); break;
		case '\n':	jb_add(b, "\\n", 2); break;
		case '\r':	jb_add(b, "\\r", 2); break;
		case '\t':	jb_add(b, "\\t", 2); break;
		default:
			esc[4] = hex[c >> 4];
			esc[5] = hex[c & 0x0f];
			jb_add(b, esc, 6);
		}
	}
	jb_add(b, s + run, n - run);
	jb_add(b, "\"", 1);
}

static void
jb_value(struct jbuf *b, const json_t *v, int depth)
{
	const char *k;
	char num[32], *r;
	json_t *m;
	size_t i;
	int n;

	if (depth > JSON_DUMP_DEPTH) {
		b->failed = true;	/* a cycle: json_dumps refuses it too */
		return;
	}
	switch (json_typeof(v)) {
	case JSON_OBJECT:
		jb_add(b, "{", 1);
		i = 0;
		json_object_foreach((json_t *)v, k, m) {
			if (i++ > 0)
				jb_add(b, ",", 1);
			jb_str(b, k, strlen(k));
			jb_add(b, ":", 1);
			jb_value(b, m, depth + 1);
		}
		jb_add(b, "}", 1);
		break;
	case JSON_ARRAY:
		jb_add(b, "[", 1);
		json_array_foreach((json_t *)v, i, m) {
			if (i > 0)
				jb_add(b, ",", 1);
			jb_value(b, m, depth + 1);
		}
		jb_add(b, "]", 1);
		break;
	case JSON_STRING:
		jb_str(b, json_string_value(v), json_string_length(v));
		break;
	case JSON_INTEGER:
		n = snprintf(num, sizeof(num), "%" JSON_INTEGER_FORMAT,
		    json_integer_value(v));
		jb_add(b, num, (size_t)n);
		break;
	case JSON_REAL:
		if ((r = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY)) ==
		    NULL) {
			b->failed = true;
			return;
		}
		jb_add(b, r, strlen(r));
		free(r);
		break;
	case JSON_TRUE:
		jb_add(b, "true", 4);
		break;
	case JSON_FALSE:
		jb_add(b, "false", 5);
		break;
	case JSON_NULL:
		jb_add(b, "null", 4);
		break;
	}
}

char *
json_dump_compact(const json_t *v)
{
	struct jbuf b = { NULL, 0, 0, false };

	if (v == NULL)
		return NULL;
	jb_value(&b, v, 1);
	jb_add(&b, "", 1);
	if (b.failed) {
		free(b.p);
		return NULL;
	}
	return b.p;
}
