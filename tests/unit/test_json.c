/* test_json.c - json_dump_compact against jansson's own json_dumps. */
#include <string.h>

#include "starfly.h"
#include "t.h"

/* Ours must equal json_dumps(JSON_COMPACT | JSON_ENCODE_ANY). */
static int
same_as_jansson(const json_t *v)
{
	char *a = json_dump_compact(v);
	char *b = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
	int ok = a != NULL && b != NULL && strcmp(a, b) == 0;

	if (!ok)
		fprintf(stderr, "ours %s\njansson %s\n", a ? a : "(null)",
		    b ? b : "(null)");
	free(a);
	free(b);
	return ok;
}

static void
test_scalars_and_escapes(void)
{
	static const char ctl[] = "a\0b\x01\x1f\x7f\"\\/\b\f\n\r\t\xc3\xa9"
	    "\xf0\x9f\x98\x80z";
	json_t *v;

	T((v = json_stringn(ctl, sizeof(ctl) - 1)) != NULL);
	T(same_as_jansson(v));
	json_decref(v);
	T((v = json_pack("[s, I, I, I, f, f, f, b, b, n, {}, []]", "",
	    (json_int_t)0, (json_int_t)INT64_MIN, (json_int_t)INT64_MAX,
	    0.1, -2.5e-300, 1e300, 1, 0)) != NULL);
	T(same_as_jansson(v));
	json_decref(v);
}

static void
test_nested_in_order(void)
{
	json_t *v;
	char *s;

	T((v = json_pack("{s:s, s:{s:[i, {s:s}]}, s:s}", "z", "1", "a",
	    "b", 2, "c", "d\"", "m", "")) != NULL);
	T(same_as_jansson(v));
	T((s = json_dump_compact(v)) != NULL);
	T_EQ_STR(s, "{\"z\":\"1\",\"a\":{\"b\":[2,{\"c\":\"d\\\"\"}]},"
	    "\"m\":\"\"}");
	free(s);
	json_decref(v);
}

/* A cycle or NULL gives NULL, never a crash. */
static void
test_cycle_and_null(void)
{
	json_t *a = json_array(), *o = json_object();
	char *s;

	T(a != NULL && o != NULL);
	T(json_array_append(a, o) == 0 && json_object_set(o, "a", a) == 0);
	T((s = json_dump_compact(a)) == NULL);
	json_object_clear(o);
	json_decref(o);
	json_decref(a);
	T(json_dump_compact(NULL) == NULL);
}

/* Long strings grow the buffer many times over. */
static void
test_long_string(void)
{
	static char big[100000];
	json_t *v;

	memset(big, 'x', sizeof(big) - 1);
	big[5000] = '\n';
	T((v = json_pack("{s:s}", "k", big)) != NULL);
	T(same_as_jansson(v));
	json_decref(v);
}

/* json_parse_strict agrees with jansson on documents of every path. */
static void
test_parse_like_jansson(void)
{
	static const char *const ok[] = {
		"{}", " {\"a\" : [ ] } ", "{\"a\":\"\"}",
		"{\"grant_type\":\"x\",\"audience\":[\"a\",\"b\"],"
		    "\"n\":-12,\"z\":0,\"m\":-0,\"t\":true,\"f\":false,"
		    "\"x\":null,\"o\":{\"p\":[1,{\"q\":{}}]}}",
		"{\"big\":123456789012345678,\"bigger\":1234567890123456789}",
		"{\"esc\":\"a\\\"b\\u00e9\",\"u\":\"\xc3\xa9\",\"del\":\"\x7f\"}",
		"{\"r\":1.5,\"e\":2E3}", "[1,2]", "\"s\"", "7",
	};
	static const char *const bad[] = {
		"{\"a\":1,\"a\":2}", "{\"a\":01}", "{\"a\":1,}",
		"{\"a\" 1}", "{\"a\":1} x", "{\"a\":tru}", "{\"a\":-}",
		"{\"a\":\"\x01\"}", "{\"a\":\"\xff\"}", "{", "",
		"{\"a\":[1 2]}", "{\"a\":99999999999999999999}",
	};
	json_t *v, *ref;
	char *why;
	size_t i;

	for (i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		T((ref = json_loads(ok[i], JSON_DECODE_ANY |
		    JSON_REJECT_DUPLICATES, NULL)) != NULL);
		T_OK(json_parse_strict(ok[i], strlen(ok[i]), &v, &why));
		T(json_equal(v, ref) && why == NULL);
		T(same_as_jansson(v));
		json_decref(v);
		json_decref(ref);
	}
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		T(json_parse_strict(bad[i], strlen(bad[i]), &v, &why) ==
		    SF_EPARSE);
		T(v == NULL && why != NULL && strncmp(why, "line ", 5) == 0);
		free(why);
	}
	T(json_parse_strict("{\"a\":1,\"a\":2}", 13, &v, &why) ==
	    SF_EPARSE);
	T(strstr(why, "duplicate") != NULL);	/* jansson's own words */
	free(why);
}

int
main(void)
{
	t_prog = "json";
	RUN(test_parse_like_jansson);
	RUN(test_scalars_and_escapes);
	RUN(test_nested_in_order);
	RUN(test_cycle_and_null);
	RUN(test_long_string);
	return T_DONE();
}
