/*
 * rego-conformance - run OPA compliance cases against the embedded engine.
 *
 *   rego-conformance [-v] [-x EXCEPTIONS] DIR|FILE...
 *
 * Each JSON file holds an array of cases (note, modules, query, data,
 * input | input_term, want_result | want_error | want_error_code,
 * sort_bindings, strict_error).  Directories are searched recursively.
 * Modules are compiled together as test-0.rego, test-1.rego, ...; rows
 * are compared as sets, values as JSON with sets as sorted arrays and
 * numbers compared numerically.  Every failing case is printed with what
 * was expected and what came out; the last line is "N passed, N failed".
 * Notes listed in the exceptions file ("note<TAB>reason" per line) are
 * reported as SKIP and not counted.  Exit 0 only when nothing failed.
 */
#include <sys/stat.h>

#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "policy/rego.h"

static int	 verbose;
static int	 npass, nfail, nskip;
static char	**except_notes;
static size_t	 nexcept;

static void
load_exceptions(const char *path)
{
	FILE	*fp;
	char	 line[4096], *tab;

	if ((fp = fopen(path, "r")) == NULL) {
		fprintf(stderr, "rego-conformance: %s: cannot open\n", path);
		exit(2);
	}
	while (fgets(line, sizeof(line), fp) != NULL) {
		line[strcspn(line, "\n")] = '\0';
		if (line[0] == '#' || line[0] == '\0')
			continue;
		if ((tab = strchr(line, '\t')) != NULL)
			*tab = '\0';
		except_notes = realloc(except_notes,
		    (nexcept + 1) * sizeof(*except_notes));
		if (except_notes == NULL)
			exit(2);
		except_notes[nexcept++] = strdup(line);
	}
	fclose(fp);
}

static bool
is_exception(const char *note)
{
	size_t	 i;

	for (i = 0; i < nexcept; i++)
		if (strcmp(except_notes[i], note) == 0)
			return true;
	return false;
}

/* JSON equality with numbers compared numerically. */
static bool
jeq(const json_t *a, const json_t *b)
{
	size_t		 i;
	const char	*k;
	json_t		*v;

	if (json_is_number(a) && json_is_number(b)) {
		if (json_is_integer(a) && json_is_integer(b))
			return json_integer_value(a) == json_integer_value(b);
		return json_number_value(a) == json_number_value(b);
	}
	if (json_typeof(a) != json_typeof(b))
		return false;
	switch (json_typeof(a)) {
	case JSON_ARRAY:
		if (json_array_size(a) != json_array_size(b))
			return false;
		for (i = 0; i < json_array_size(a); i++)
			if (!jeq(json_array_get(a, i), json_array_get(b, i)))
				return false;
		return true;
	case JSON_OBJECT:
		if (json_object_size(a) != json_object_size(b))
			return false;
		json_object_foreach((json_t *)a, k, v) {
			json_t *w = json_object_get(b, k);

			if (w == NULL || !jeq(v, w))
				return false;
		}
		return true;
	case JSON_STRING:
		return json_string_length(a) == json_string_length(b) &&
		    memcmp(json_string_value(a), json_string_value(b),
		    json_string_length(a)) == 0;
	default:
		return json_equal(a, b);
	}
}

static bool
row_in(const json_t *row, const json_t *rows)
{
	size_t	 i;

	for (i = 0; i < json_array_size(rows); i++)
		if (jeq(row, json_array_get(rows, i)))
			return true;
	return false;
}

static json_t *
dedupe(const json_t *rows)
{
	json_t	*out = json_array();
	size_t	 i;

	for (i = 0; i < json_array_size(rows); i++)
		if (!row_in(json_array_get(rows, i), out))
			json_array_append(out, json_array_get(rows, i));
	return out;
}

struct collect {
	const struct query	*q;
	json_t			*rows;
	bool			 sort;
	struct arena		*a;
};

static int
cmp_ptr(const void *x, const void *y)
{
	return rv_cmp(*(struct rv *const *)x, *(struct rv *const *)y);
}

static int
collect_row(void *ctx, struct rv **vals, uint32_t n)
{
	struct collect	*c = ctx;
	json_t		*row = json_object(), *v;
	struct rv	*x;
	uint32_t	 i;

	for (i = 0; i < n; i++) {
		if ((x = vals[i]) == NULL)
			continue;
		if (c->sort && (x->t == RV_ARR || x->t == RV_SET) && x->n > 1) {
			struct rv *y = rv_arr(c->a, x->n);

			if (y == NULL)
				return SF_ENOMEM;
			memcpy(y->u.a, x->u.a, x->n * sizeof(*x->u.a));
			qsort(y->u.a, y->n, sizeof(*y->u.a), cmp_ptr);
			x = y;
		}
		if ((v = rv_to_json(x)) == NULL)
			return SF_ENOMEM;
		json_object_set_new(row, c->q->slotnames[c->q->outs[i]], v);
	}
	json_array_append_new(c->rows, row);
	return 0;
}

static char *
dumps(const json_t *j)
{
	char	*s = json_dumps(j, JSON_ENCODE_ANY | JSON_COMPACT |
	    JSON_SORT_KEYS | JSON_REAL_PRECISION(15));

	if (s != NULL && strlen(s) > 600)
		strcpy(s + 590, "...");
	return s;
}

static void
fail(const char *note, const char *fmt, const char *a, const char *b)
{
	nfail++;
	printf("FAIL %s: ", note);
	printf(fmt, a != NULL ? a : "(null)", b != NULL ? b : "(null)");
	printf("\n");
}

/* Run one case; returns true when it passes. */
static void
run_case(const json_t *c)
{
	struct policy_c	 pc;
	struct arena	 ea;
	struct query	*q;
	struct rv	*input = NULL;
	struct ev_result res;
	struct ev_opts	 opts;
	struct collect	 col;
	const char	*note, *query, *want_err, *want_code;
	json_t		*mods, *m, *want, *got = NULL, *dw = NULL, *dg = NULL;
	char		*err = NULL, name[32], *s1, *s2;
	size_t		 i;
	int		 rc;

	memset(&pc, 0, sizeof(pc));
	memset(&ea, 0, sizeof(ea));
	note = json_string_value(json_object_get(c, "note"));
	query = json_string_value(json_object_get(c, "query"));
	want_err = json_string_value(json_object_get(c, "want_error"));
	want_code = json_string_value(json_object_get(c, "want_error_code"));
	want = json_object_get(c, "want_result");
	if (note == NULL)
		note = "(no note)";
	if (is_exception(note)) {
		nskip++;
		printf("SKIP %s: listed exception\n", note);
		return;
	}
	if (query == NULL || (want == NULL && want_err == NULL &&
	    want_code == NULL)) {
		fail(note, "invalid case%s%s", "", "");
		return;
	}
	mods = json_object_get(c, "modules");
	json_array_foreach(mods, i, m) {
		snprintf(name, sizeof(name), "test-%zu.rego", i);
		if ((rc = bundle_add_module_text(&pc, name,
		    json_string_value(m), json_string_length(m), &err)) !=
		    SF_OK)
			goto compile_error;
	}
	if (json_object_get(c, "data") != NULL) {
		char *d = json_dumps(json_object_get(c, "data"),
		    JSON_ENCODE_ANY | JSON_COMPACT);

		rc = bundle_add_data_text(&pc, "data", d, strlen(d), &err);
		free(d);
		if (rc != SF_OK)
			goto compile_error;
	}
	if (pc.data == NULL)
		pc.data = &rv_empty_obj_v;
	if ((rc = rego_compile(&pc, &err)) != SF_OK)
		goto compile_error;
	if ((rc = rego_compile_query(&pc, &pc.a, query, strlen(query), &q,
	    &err)) != SF_OK)
		goto compile_error;
	if (json_object_get(c, "input_term") != NULL) {
		struct term *t;
		const char *it = json_string_value(json_object_get(c,
		    "input_term"));

		if (it == NULL || rego_parse_term(&pc.a, it, strlen(it), &t,
		    &err) != SF_OK || rego_term_value(&pc.a, t, &input) !=
		    SF_OK) {
			fail(note, "bad input_term: %s%s", err, "");
			goto out;
		}
	} else if (json_object_get(c, "input") != NULL)
		input = rv_from_json(&pc.a, json_object_get(c, "input"));
	memset(&opts, 0, sizeof(opts));
	opts.strict = json_is_true(json_object_get(c, "strict_error"));
	col.q = q;
	col.rows = got = json_array();
	col.sort = json_is_true(json_object_get(c, "sort_bindings"));
	col.a = &ea;
	rc = rego_eval(&pc, &ea, q, input, &opts, collect_row, &col, &res);
	if (want_err != NULL || want_code != NULL) {
		if (rc == SF_OK) {
			s1 = dumps(got);
			fail(note, "expected error %s, got result %s",
			    want_err != NULL ? want_err : want_code, s1);
			free(s1);
			goto out;
		}
		if (want_code != NULL &&
		    strcmp(ev_err_code(res.code), want_code) != 0) {
			fail(note, "expected error code %s, got: %s",
			    want_code, res.msg);
			goto out;
		}
		if (want_err != NULL && strstr(res.msg, want_err) == NULL) {
			fail(note, "expected error containing \"%s\", got: %s",
			    want_err, res.msg);
			goto out;
		}
		goto pass;
	}
	if (rc != SF_OK) {
		s1 = dumps(want);
		fail(note, "expected %s, got error: %s", s1, res.msg);
		free(s1);
		goto out;
	}
	dw = dedupe(want);
	dg = dedupe(got);
	if (json_array_size(dw) != json_array_size(dg))
		goto mismatch;
	for (i = 0; i < json_array_size(dw); i++)
		if (!row_in(json_array_get(dw, i), dg))
			goto mismatch;
pass:
	npass++;
	if (verbose)
		printf("PASS %s\n", note);
	goto out;
mismatch:
	s1 = dumps(want);
	s2 = dumps(got);
	fail(note, "expected %s, got %s", s1, s2);
	free(s1);
	free(s2);
	goto out;
compile_error:
	if ((want_err != NULL && err != NULL && strstr(err, want_err) !=
	    NULL) || (want_code != NULL && err != NULL &&
	    strstr(err, want_code) != NULL)) {
		npass++;
		goto out;
	}
	fail(note, "compile error: %s%s", err != NULL ? err : "?", "");
out:
	free(err);
	json_decref(got);
	json_decref(dw);
	json_decref(dg);
	arena_destroy(&ea);
	arena_destroy(&pc.a);
}

static void
run_file(const char *path)
{
	json_t		*cases, *c;
	json_error_t	 je;
	size_t		 i;

	cases = json_load_file(path, JSON_DECODE_ANY, &je);
	if (cases == NULL)
		cases = json_load_file(path, JSON_DECODE_ANY |
		    JSON_DECODE_INT_AS_REAL, &je);
	if (cases == NULL || !json_is_array(cases)) {
		nfail++;
		printf("FAIL %s: cannot load: %s\n", path, je.text);
		json_decref(cases);
		return;
	}
	json_array_foreach(cases, i, c)
		run_case(c);
	json_decref(cases);
}

static int
cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void
run_path(const char *path)
{
	struct stat	 st;
	DIR		*d;
	struct dirent	*de;
	char		**names = NULL, *p;
	size_t		 n = 0, i;

	if (stat(path, &st) != 0) {
		nfail++;
		printf("FAIL %s: no such file\n", path);
		return;
	}
	if (!S_ISDIR(st.st_mode)) {
		run_file(path);
		return;
	}
	if ((d = opendir(path)) == NULL)
		return;
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		names = realloc(names, (n + 1) * sizeof(*names));
		if (names == NULL)
			exit(2);
		names[n++] = strdup(de->d_name);
	}
	closedir(d);
	qsort(names, n, sizeof(*names), cmp_str);
	for (i = 0; i < n; i++) {
		if (asprintf(&p, "%s/%s", path, names[i]) < 0)
			exit(2);
		if (stat(p, &st) == 0 && (S_ISDIR(st.st_mode) ||
		    (strlen(names[i]) > 5 &&
		    strcmp(names[i] + strlen(names[i]) - 5, ".json") == 0)))
			run_path(p);
		free(p);
		free(names[i]);
	}
	free(names);
}

int
main(int argc, char **argv)
{
	int	 ch, i;

	while ((ch = getopt(argc, argv, "vx:")) != -1) {
		switch (ch) {
		case 'v':
			verbose = 1;
			break;
		case 'x':
			load_exceptions(optarg);
			break;
		default:
			goto usage;
		}
	}
	argc -= optind;
	argv += optind;
	if (argc < 1)
		goto usage;
	for (i = 0; i < argc; i++)
		run_path(argv[i]);
	if (nskip > 0)
		printf("%d skipped (listed exceptions)\n", nskip);
	printf("%d passed, %d failed\n", npass, nfail);
	return nfail == 0 ? 0 : 1;
usage:
	fprintf(stderr, "usage: rego-conformance [-v] [-x exceptions] "
	    "DIR|FILE...\n");
	return 2;
}
