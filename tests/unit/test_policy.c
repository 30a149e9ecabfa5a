/*
 * test_policy.c - the embedded Rego engine through its public API
 * (starfly/policy.h): bundle loading, compile errors, queries, the
 * decision contract, limits, tests, bundle watching and the shipped
 * policies.
 */
#include <sys/stat.h>

#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "starfly.h"
#include "t.h"

static char base[] = "/tmp/sf-policy.XXXXXX";

static void
put(const char *rel, const char *text)
{
	char	 path[512], *slash;

	snprintf(path, sizeof(path), "%s/%s", base, rel);
	for (slash = strchr(path + strlen(base) + 1, '/'); slash != NULL;
	    slash = strchr(slash + 1, '/')) {
		*slash = '\0';
		(void)mkdir(path, 0700);
		*slash = '/';
	}
	if (sf_write_file(path, text, strlen(text), 0600) != SF_OK)
		abort();
}

static char *
sub(const char *rel)
{
	static char	 path[512];

	snprintf(path, sizeof(path), "%s/%s", base, rel);
	return path;
}

/* Compile one module alone; returns the error text (new) or NULL. */
static char *
compile_err(const char *dir, const char *text)
{
	struct policy	*p = NULL;
	char		 rel[128], *err = NULL;

	snprintf(rel, sizeof(rel), "%s/m.rego", dir);
	put(rel, text);
	if (policy_load(sub(dir), &p, &err) == SF_OK) {
		policy_free(p);
		return NULL;
	}
	return err != NULL ? err : sf_strdup("(no message)");
}

/* One JSON row set as compact text (new). */
static char *
query(struct policy *p, const char *q, const char *input)
{
	json_t		*in = NULL, *rows = NULL;
	json_error_t	 je;
	char		*err = NULL, *s;

	if (input != NULL && (in = json_loads(input, JSON_DECODE_ANY, &je)) ==
	    NULL)
		return sf_strdup("bad input");
	if (policy_query(p, q, in, &rows, &err) != SF_OK) {
		json_decref(in);
		return err;
	}
	json_decref(in);
	s = json_dumps(rows, JSON_COMPACT | JSON_SORT_KEYS);
	json_decref(rows);
	return s;
}

static void
bundle_layout(void)
{
	struct policy	*p = NULL;
	char		*err = NULL, *r;

	put("b1/main.rego", "package app\n\nx := data.teams.ops.lead\n"
	    "y := data.top\n");
	put("b1/data.json", "{\"top\": 1}");
	put("b1/teams/ops/data.json", "{\"lead\": \"ann\"}");
	/* a directory with its own .manifest is a separate bundle */
	put("b1/other/.manifest", "{}");
	put("b1/other/bad.rego", "package broken\n\np if {\n");
	T_OK(policy_load(sub("b1"), &p, &err));
	r = query(p, "a := data.app.x; b := data.app.y", NULL);
	T_EQ_STR(r, "[{\"a\":\"ann\",\"b\":1}]");
	free(r);
	policy_free(p);
}

static void
compile_errors(void)
{
	static const struct {
		const char	*src;
		const char	*want;
	} cases[] = {
		{ "package t\n\np if {\n\tx := 1\n", "rego_parse_error" },
		{ "package t\n\np if {\n\tx > 1\n}\n",
		    "rego_unsafe_var_error: var x is unsafe" },
		{ "package t\n\np if nope(1)\n",
		    "rego_type_error: undefined function nope" },
		{ "package t\n\np if count(1, 2, 3)\n", "arity mismatch" },
		{ "package t\n\np if q\n\nq if p\n", "rego_recursion_error" },
		{ "package t\n\ndefault p := 1\n\ndefault p := 2\n",
		    "multiple default rules" },
		{ "package t\n\np := 1\n\np contains 2\n",
		    "conflicting rules" },
		{ "package t\n\np := http.send({})\n",
		    "network builtins are not available" },
		{ "package t\n\np { true }\n", "`if` keyword is required" },
	};
	size_t	 i;
	char	*err, dir[32];

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		snprintf(dir, sizeof(dir), "ce%zu", i);
		err = compile_err(dir, cases[i].src);
		T(err != NULL);
		/* file:line:col: code: message */
		T(strstr(err, "/m.rego:") != NULL);
		T(strstr(err, cases[i].want) != NULL);
		free(err);
	}
	/* the location is the offending expression */
	err = compile_err("ce-loc", "package t\n\np if {\n\ttrue\n\ty > 2\n}\n");
	T(err != NULL && strstr(err, "m.rego:5:2: ") != NULL);
	free(err);
}

static void
queries(void)
{
	struct policy	*p = NULL;
	char		*err = NULL, *r;

	put("q/m.rego", "package q\n\nimport rego.v1\n\n"
	    "xs := [1, 2, 3]\n\n"
	    "big contains x if { some x in xs; x > 1 }\n\n"
	    "f(a) := a * 10\n");
	T_OK(policy_load(sub("q"), &p, &err));
	r = query(p, "data.q.xs[0] == 1", NULL);
	T_EQ_STR(r, "[{}]");
	free(r);
	r = query(p, "data.q.xs[0] == 2", NULL);
	T_EQ_STR(r, "[]");
	free(r);
	r = query(p, "data.q.nothing", NULL);
	T_EQ_STR(r, "[]");
	free(r);
	r = query(p, "data.q.big[x]", NULL);
	T_EQ_STR(r, "[{\"x\":2},{\"x\":3}]");
	free(r);
	r = query(p, "y := data.q.f(input.n)", "{\"n\": 4}");
	T_EQ_STR(r, "[{\"y\":40}]");
	free(r);
	r = query(p, "s := data.q.big", NULL);
	T_EQ_STR(r, "[{\"s\":[2,3]}]");
	free(r);
	/* a query that does not compile */
	r = query(p, "x :=", NULL);
	T(r != NULL && strstr(r, "rego_parse_error") != NULL);
	free(r);
	policy_free(p);
}

static void
semantics(void)
{
	struct policy	*p = NULL;
	char		*err = NULL, *r;

	put("s/m.rego", "package s\n\nimport rego.v1\n\n"
	    "missing_is_undefined if input.a != null\n\n"
	    "not_true if not input.flag\n\n"
	    "cross_type if \"5\" > 3\n\n"
	    "default d := \"default\"\n\nd := \"set\" if input.d\n\n"
	    "soft if count(input.n) == 1\n");
	T_OK(policy_load(sub("s"), &p, &err));
	/* a missing key is undefined, not null */
	r = query(p, "data.s.missing_is_undefined", "{}");
	T_EQ_STR(r, "[]");
	free(r);
	/* not: true for undefined and for false */
	r = query(p, "data.s.not_true", "{}");
	T_EQ_STR(r, "[{}]");
	free(r);
	r = query(p, "data.s.not_true", "{\"flag\": false}");
	T_EQ_STR(r, "[{}]");
	free(r);
	r = query(p, "data.s.not_true", "{\"flag\": true}");
	T_EQ_STR(r, "[]");
	free(r);
	/* the total order: strings sort after numbers */
	r = query(p, "data.s.cross_type", NULL);
	T_EQ_STR(r, "[{}]");
	free(r);
	r = query(p, "x := data.s.d", "{}");
	T_EQ_STR(r, "[{\"x\":\"default\"}]");
	free(r);
	r = query(p, "x := data.s.d", "{\"d\": true}");
	T_EQ_STR(r, "[{\"x\":\"set\"}]");
	free(r);
	/* a failing builtin is undefined, not an error */
	r = query(p, "data.s.soft", "{\"n\": 5}");
	T_EQ_STR(r, "[]");
	free(r);
	policy_free(p);
}

static void
decisions(void)
{
	struct policy		*p = NULL;
	struct policy_decision	 d;
	json_t			*in;
	char			*err = NULL;

	put("d/m.rego", "package starfly.exchange\n\nimport rego.v1\n\n"
	    "allow if input.ok == true\n\n"
	    "reason := \"not ok\" if not allow\n\n"
	    "claims := {\"ttl\": 60, \"caps\": {\"b\", \"a\"}} if allow\n");
	put("d/sig.rego", "package starfly.signal\n\nallow := \"yes\"\n");
	put("d/mcp.rego", "package starfly.mcp_tool_call\n\n"
	    "allow := true\n\nallow := false if input.x\n");
	T_OK(policy_load(sub("d"), &p, &err));
	in = json_pack("{s:b}", "ok", 1);
	T_OK(policy_decide(p, "exchange", in, &d));
	T(d.allow);
	T(d.reason == NULL);
	T(json_integer_value(json_object_get(d.claims, "ttl")) == 60);
	/* sets in claims become sorted arrays */
	T(json_is_array(json_object_get(d.claims, "caps")));
	T_EQ_STR(json_string_value(json_array_get(json_object_get(d.claims,
	    "caps"), 0)), "a");
	policy_decision_clear(&d);
	json_decref(in);
	in = json_pack("{s:b}", "ok", 0);
	T_OK(policy_decide(p, "exchange", in, &d));
	T(!d.allow);
	T_EQ_STR(d.reason, "not ok");
	T(d.claims == NULL);
	policy_decision_clear(&d);
	/* not a boolean: denied, no policy found */
	T_OK(policy_decide(p, "signal", in, &d));
	T(!d.allow);
	T_EQ_STR(d.reason, "no policy found");
	policy_decision_clear(&d);
	/* no package at all */
	T_OK(policy_decide(p, "nosuch", in, &d));
	T(!d.allow);
	T_EQ_STR(d.reason, "no policy found");
	policy_decision_clear(&d);
	json_decref(in);
	/* a conflict is an evaluation error: no decision */
	in = json_pack("{s:b}", "x", 1);
	T(policy_decide(p, "mcp_tool_call", in, &d) == SF_EPOLICY);
	T(!d.allow && d.reason == NULL && d.claims == NULL);
	json_decref(in);
	T(policy_decide(p, "bad point", NULL, &d) == SF_EINVAL);
	policy_free(p);
}

static void
limits(void)
{
	struct policy		*p = NULL;
	struct policy_decision	 d;
	json_t			*in;
	char			*err = NULL;

	/* a policy that would run for a very long time is cut off */
	put("l/m.rego", "package starfly.exchange\n\nimport rego.v1\n\n"
	    "allow if {\n\tsome a in numbers.range(1, 100000)\n"
	    "\tsome b in numbers.range(1, 100000)\n\ta + b < 0\n}\n");
	T_OK(policy_load(sub("l"), &p, &err));
	T(policy_decide(p, "exchange", NULL, &d) == SF_ELIMIT);
	T(!d.allow);
	policy_free(p);
	/* a body too deep for the evaluation's stack budget is an error,
	 * not a crash */
	{
		static const char head[] = "package starfly.exchange\n\n"
		    "allow if {\n", line[] = "\tinput.x == 1\n";
		size_t	 n = 30000, len = strlen(head) + n * strlen(line) + 3;
		char	*text, *w;

		T((text = malloc(len)) != NULL);
		w = text + strlen(strcpy(text, head));
		while (n-- > 0)
			w += strlen(strcpy(w, line));
		strcpy(w, "}\n");
		put("l2/m.rego", text);
		free(text);
	}
	T_OK(policy_load(sub("l2"), &p, &err));
	in = json_pack("{s:i}", "x", 1);
	T(policy_decide(p, "exchange", in, &d) == SF_ELIMIT);
	json_decref(in);
	policy_free(p);
}

static void
no_growth(void)
{
	struct policy		*p = NULL;
	struct policy_decision	 d;
	json_t			*in;
	char			*err = NULL;
	size_t			 before, after;
	int			 i;

	put("g/m.rego", "package starfly.exchange\n\nimport rego.v1\n\n"
	    "allow if { some x in input.xs; x > 2 }\n\n"
	    "claims := {\"n\": count(input.xs), \"s\": {x | some x in input.xs}}\n");
	T_OK(policy_load(sub("g"), &p, &err));
	in = json_pack("{s:[i,i,i,i]}", "xs", 1, 2, 3, 4);
	for (i = 0; i < 2000; i++) {
		T_OK(policy_decide(p, "exchange", in, &d));
		policy_decision_clear(&d);
	}
	before = mallinfo2().uordblks;
	for (i = 0; i < 20000; i++) {
		T_OK(policy_decide(p, "exchange", in, &d));
		T(d.allow);
		policy_decision_clear(&d);
	}
	after = mallinfo2().uordblks;
	T(after <= before + 1024);
	json_decref(in);
	policy_free(p);
}

static void
tests_runner(void)
{
	struct policy	*p = NULL;
	FILE		*fp;
	char		*err = NULL, buf[4096];
	size_t		 n;

	put("t/m.rego", "package t\n\nimport rego.v1\n\nx := 2\n\n"
	    "test_ok if x == 2\n\ntest_bad if x == 3\n\n"
	    "test_with if x == 5 with x as 5\n");
	T_OK(policy_load(sub("t"), &p, &err));
	T((fp = tmpfile()) != NULL);
	T(policy_run_tests(p, fp, 0) == SF_EPOLICY);
	rewind(fp);
	n = fread(buf, 1, sizeof(buf) - 1, fp);
	buf[n] = '\0';
	fclose(fp);
	T(strstr(buf, "PASS data.t.test_ok") != NULL);
	T(strstr(buf, "FAIL data.t.test_bad") != NULL);
	T(strstr(buf, "PASS data.t.test_with") != NULL);
	T(strstr(buf, "2 passed, 1 failed\n") != NULL);
	policy_free(p);
}

static void
watch(void)
{
	struct policy_watch	*w = NULL;
	struct policy_decision	 d;
	char			*err = NULL;

	put("w/m.rego", "package starfly.exchange\n\nallow := true\n");
	T_OK(policy_watch_open(sub("w"), &w, &err));
	T_OK(policy_decide(policy_watch_current(w), "exchange", NULL, &d));
	T(d.allow);
	policy_decision_clear(&d);
	/* a broken change never replaces the good bundle */
	sleep(1);
	put("w/m.rego", "package starfly.exchange\n\nallow := \n");
	usleep(100 * 1000);
	T(policy_watch_refresh(w) == SF_EPOLICY);
	T_OK(policy_decide(policy_watch_current(w), "exchange", NULL, &d));
	T(d.allow);
	policy_decision_clear(&d);
	/* a good change is picked up without a restart */
	sleep(1);
	put("w/m.rego", "package starfly.exchange\n\nallow := false\n");
	usleep(100 * 1000);
	T_OK(policy_watch_refresh(w));
	T_OK(policy_decide(policy_watch_current(w), "exchange", NULL, &d));
	T(!d.allow);
	policy_decision_clear(&d);
	policy_watch_free(w);
}

static void
shipped_policies(void)
{
	struct policy	*p = NULL;
	FILE		*fp;
	char		*err = NULL;
	const char	*dirs[] = { "policies", "policies/dev" };
	size_t		 i;

	for (i = 0; i < 2; i++) {
		T_OK(policy_load(dirs[i], &p, &err));
		T((fp = fopen("/dev/null", "w")) != NULL);
		T_OK(policy_run_tests(p, fp, 0));
		fclose(fp);
		policy_free(p);
		p = NULL;
	}
}

static void
shipped_decisions(void)
{
	struct policy		*p = NULL;
	struct policy_decision	 d;
	json_t			*in;
	json_error_t		 je;
	char			*err = NULL;

	T_OK(policy_load("policies", &p, &err));
	in = json_loads("{\"action\":\"exchange\",\"target\":"
	    "\"https://api.example.com\",\"audiences\":"
	    "[\"https://api.example.com\"],\"subject\":{\"id\":"
	    "\"spiffe://prod.example.com/ns/a/sa/b\",\"trust_domain\":"
	    "\"prod.example.com\",\"type\":\"x\",\"issuer\":\"i\",\"claims\":"
	    "{}},\"context\":{\"scope\":\"read\",\"client_id\":\"c\"}}", 0, &je);
	T(in != NULL);
	T_OK(policy_decide(p, "exchange", in, &d));
	T(d.allow);
	T(json_integer_value(json_object_get(d.claims, "ttl")) == 600);
	T_EQ_STR(json_string_value(json_object_get(d.claims, "scope")), "read");
	policy_decision_clear(&d);
	json_object_set_new(json_object_get(in, "context"), "scope",
	    json_string("read delete"));
	T_OK(policy_decide(p, "exchange", in, &d));
	T(!d.allow);
	T_EQ_STR(d.reason, "scope is not permitted");
	T_EQ_STR(json_string_value(json_object_get(d.claims, "error")),
	    "invalid_scope");
	policy_decision_clear(&d);
	json_decref(in);
	policy_free(p);
}

static void
cleanup(void)
{
	char	 cmd[600];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", base);
	if (system(cmd) != 0)
		fprintf(stderr, "cleanup of %s failed\n", base);
}

int
main(void)
{
	t_prog = "policy";
	if (mkdtemp(base) == NULL)
		return 1;
	log_init("test_policy", 0, SF_LOG_ERR);
	RUN(bundle_layout);
	RUN(compile_errors);
	RUN(queries);
	RUN(semantics);
	RUN(decisions);
	RUN(limits);
	RUN(no_growth);
	RUN(tests_runner);
	RUN(watch);
	RUN(shipped_policies);
	RUN(shipped_decisions);
	cleanup();
	return T_DONE();
}
