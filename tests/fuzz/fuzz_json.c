/*
 * fuzz_json.c - json_parse_strict (whose fast path must accept only
 * what jansson accepts, as an equal value, and decline nothing jansson
 * accepts within the depth limit), then json_dump_compact (which must
 * write exactly what jansson's json_dumps writes, and what parses back
 * to an equal value) and json_write_compact with ascii (exactly what
 * JSON_ENSURE_ASCII makes jansson write), then validate_fields.
 */
#include <stdlib.h>
#include <string.h>

#include "starfly.h"

int	LLVMFuzzerTestOneInput(const unsigned char *data, size_t size);

static const struct field_spec specs[] = {
	{ "grant_type", FIELD_STRING, FIELD_REQUIRED, 0, 256, NULL },
	{ "audience", FIELD_STRINGS, 0, 0, 2048, NULL },
	{ "tool_id", FIELD_STRING, 0, 1, 128, "A-Za-z0-9._-" },
	{ "resource_uri", FIELD_URI, 0, 0, 2048, NULL },
	{ "n", FIELD_INT, 0, 0, 100, NULL },
	{ "caps", FIELD_STRING_ARRAY, 0, 0, 64, NULL },
	{ "execution_scope", FIELD_OBJECT, FIELD_JSON_STRING, 0, 0, NULL },
	{ NULL, 0, 0, 0, 0, NULL }
};

/* Nesting depth of v, the top value at 1 (json.c's rule). */
static int
json_depth(const json_t *v)
{
	const char *k;
	json_t *m;
	size_t i;
	int d = 0, e;

	if (json_is_object(v)) {
		json_object_foreach((json_t *)v, k, m)
			if ((e = json_depth(m)) > d)
				d = e;
	} else if (json_is_array(v)) {
		json_array_foreach(v, i, m)
			if ((e = json_depth(m)) > d)
				d = e;
	}
	return d + 1;
}

static int
put(const char *s, size_t n, void *arg)
{
	char **p = arg;
	size_t l = strlen(*p);
	char *q;

	if ((q = realloc(*p, l + n + 1)) == NULL)
		return -1;
	memcpy(q + l, s, n);
	q[l + n] = '\0';
	*p = q;
	return 0;
}

/* json_write_compact with ascii into a new string, NULL on failure. */
static char *
ascii_dump(const json_t *v)
{
	char *s = calloc(1, 1);

	if (s != NULL && json_write_compact(v, true, put, &s) != SF_OK) {
		free(s);
		s = NULL;
	}
	return s;
}

int
LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
	char *why = NULL, *dump;
	json_t *v = NULL;

	{
		/* The fast path of json_parse_strict must agree with jansson. */
		json_t *ref = json_loadb((const char *)data, size,
		    JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, NULL);
		int rc = json_parse_strict((const char *)data, size, &v, &why);

		if (rc == SF_OK && (ref == NULL || !json_equal(v, ref)))
			abort();
		if (rc != SF_OK && ref != NULL && json_depth(ref) <= 64)
			abort();
		json_decref(ref);
		if (rc != SF_OK) {
			if (v != NULL || why == NULL)
				abort();
			free(why);
			return 0;
		}
	}
	if ((dump = json_dump_compact(v)) != NULL) {
		char *ref = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
		json_t *back = NULL;

		if (ref != NULL && strcmp(dump, ref) != 0)
			abort();
		if (json_parse_strict(dump, strlen(dump), &back, NULL) !=
		    SF_OK || !json_equal(v, back))
			abort();
		json_decref(back);
		free(ref);
		free(dump);
		dump = ascii_dump(v);
		ref = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY |
		    JSON_ENSURE_ASCII);
		if ((dump == NULL) != (ref == NULL) || (dump != NULL &&
		    strcmp(dump, ref) != 0))
			abort();
		free(ref);
		free(dump);
	}
	if (validate_fields(v, specs, true, &why) != SF_OK && why == NULL)
		abort();
	free(why);
	json_decref(v);
	return 0;
}
