/*
 * ctl_policy.c - `starflyctl policy`: evaluate, test and check Rego
 * policies with the embedded engine (no OPA process).
 *
 *   policy eval [--data F] [--input F] QUERY [PATH...]
 *	Print the query's result rows as a JSON array of objects binding
 *	its variables: [{}] when a query without variables holds, [] when
 *	it is undefined.
 *   policy test [-v] [PATH...]
 *	Run every test_* rule like `opa test`: one PASS/FAIL/ERROR line per
 *	test, then "N passed, N failed"; exit 0 only when all pass.
 *   policy check [PATH...]
 *	Compile only; errors are "file:line:col: message".
 *
 * PATHs are .rego files, JSON data files (merged at data's root) or
 * bundle directories; without PATH the unit's policy_dir is used.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl.h"

static const char policy_usage[] =
    "usage: starflyctl policy eval [--data FILE] [--input FILE|-] QUERY "
    "[PATH...]\n"
    "       starflyctl policy test [-v] [PATH...]\n"
    "       starflyctl policy check [PATH...]\n";

/* Load PATHs (or the configured policy_dir). */
static int
load(struct ctl *c, char **paths, int npaths, const char *data_file,
    struct policy **out)
{
	const struct sf_conf	*conf;
	const char		*dir;
	char			*err = NULL;
	int			 rc;

	*out = NULL;
	if (npaths == 0) {
		if ((conf = ctl_conf(c)) == NULL)
			return 1;
		dir = conf->policy_dir;
		rc = policy_load_paths(&dir, 1, data_file, out, &err);
	} else
		rc = policy_load_paths((const char *const *)paths,
		    (size_t)npaths, data_file, out, &err);
	if (rc != SF_OK) {
		fprintf(stderr, "%s\n", err != NULL ? err : sf_strerror(rc));
		free(err);
		return 1;
	}
	return 0;
}

static json_t *
read_input(const char *path)
{
	json_t		*j;
	json_error_t	 je;

	if (strcmp(path, "-") == 0)
		j = json_loadf(stdin, JSON_DECODE_ANY, &je);
	else
		j = json_load_file(path, JSON_DECODE_ANY, &je);
	if (j == NULL)
		fprintf(stderr, "starflyctl policy: %s:%d:%d: %s\n",
		    strcmp(path, "-") == 0 ? "stdin" : path, je.line,
		    je.column, je.text);
	return j;
}

static int
policy_eval(struct ctl *c, int argc, char **argv)
{
	const char	*data_file = NULL, *input_file = NULL, *query;
	struct policy	*p = NULL;
	json_t		*input = NULL, *rows = NULL;
	char		*err = NULL, *s;
	int		 i = 0, rc, ret = 1;

	while (i < argc && strncmp(argv[i], "--", 2) == 0) {
		if (strcmp(argv[i], "--data") == 0 && i + 1 < argc)
			data_file = argv[i + 1];
		else if (strcmp(argv[i], "--input") == 0 && i + 1 < argc)
			input_file = argv[i + 1];
		else {
			fputs(policy_usage, stderr);
			return 2;
		}
		i += 2;
	}
	if (i >= argc) {
		fputs(policy_usage, stderr);
		return 2;
	}
	query = argv[i++];
	if (input_file != NULL && (input = read_input(input_file)) == NULL)
		return 1;
	if (load(c, argv + i, argc - i, data_file, &p) != 0)
		goto out;
	if ((rc = policy_query(p, query, input, &rows, &err)) != SF_OK) {
		fprintf(stderr, "%s\n", err != NULL ? err : sf_strerror(rc));
		goto out;
	}
	if ((s = json_dumps(rows, JSON_INDENT(2) | JSON_SORT_KEYS |
	    JSON_REAL_PRECISION(15))) == NULL)
		goto out;
	printf("%s\n", s);
	free(s);
	ret = 0;
out:
	free(err);
	json_decref(rows);
	json_decref(input);
	policy_free(p);
	return ret;
}

int
ctl_policy(struct ctl *c, int argc, char **argv)
{
	struct policy	*p = NULL;
	int		 verbose = 0, rc;

	if (argc < 2) {
		fputs(policy_usage, stderr);
		return 2;
	}
	if (strcmp(argv[1], "eval") == 0)
		return policy_eval(c, argc - 2, argv + 2);
	if (strcmp(argv[1], "test") == 0) {
		argc -= 2;
		argv += 2;
		if (argc > 0 && strcmp(argv[0], "-v") == 0) {
			verbose = 1;
			argc--;
			argv++;
		}
		if (load(c, argv, argc, NULL, &p) != 0)
			return 1;
		rc = policy_run_tests(p, stdout, verbose);
		policy_free(p);
		return rc == SF_OK ? 0 : 1;
	}
	if (strcmp(argv[1], "check") == 0) {
		if (load(c, argv + 2, argc - 2, NULL, &p) != 0)
			return 1;
		policy_free(p);
		printf("ok\n");
		return 0;
	}
	fputs(policy_usage, stderr);
	return 2;
}
