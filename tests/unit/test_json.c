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

int
main(void)
{
	t_prog = "json";
	RUN(test_scalars_and_escapes);
	RUN(test_nested_in_order);
	RUN(test_cycle_and_null);
	RUN(test_long_string);
	return T_DONE();
}
