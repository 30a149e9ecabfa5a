/*
 * json.c - strict JSON input (RFC 8259) over jansson.
 *
 * Strict means: exactly one value and nothing after it but whitespace,
 * valid UTF-8 (RFC 8259 §8.1), no NUL in strings, no duplicate member
 * names (RFC 8259 §4 leaves them undefined; we refuse them, as RFC 7515
 * §5.2 step 4 asks of JOSE headers), nesting at most JSON_MAX_DEPTH.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "starfly.h"

#define JSON_MAX_DEPTH	64

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

char *
json_dump_compact(const json_t *v)
{
	return json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
}
