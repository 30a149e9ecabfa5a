/*
 * test_verify.c - the MCP confused-deputy check (lib/verify.c) with a
 * real keyring (including a retired key), real revocation index and a
 * real compiled policy; the tool registry and its cache on a real store.
 */
#include <sys/stat.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "starfly.h"
#include "t.h"

#define ISS	"https://starfly.test"
#define URI_A	"https://mcp.test/tools/code-search"
#define URI_B	"https://mcp.test/tools/sql-admin"

static char dir[] = "/tmp/sf-verify-XXXXXX";
static struct keyring *kr;
static json_t *tool_a, *tool_b;
static int64_t now;

/* A token signed by the keyring's active key, typ at+jwt unless typ. */
static char *
mint(const char *typ, const char *extra_json)
{
	json_t *c, *x;
	char *out = NULL;

	c = json_pack("{s:s, s:s, s:s, s:I, s:I, s:s, s:s}", "iss", ISS, "sub",
	    "wimse://td.test/ns/a/sa/agent", "aud", URI_A, "iat",
	    (json_int_t)now - 10, "exp", (json_int_t)now + 300, "jti",
	    "jti-1", "td", "td.test");
	if (extra_json != NULL) {
		x = json_loads(extra_json, 0, NULL);
		json_object_update(c, x);
		json_decref(x);
	}
	(void)jws_sign_jwt(keyring_signer(kr), typ ? typ : "at+jwt", c, &out);
	json_decref(c);
	return out;
}

/* Run a verification; returns the failed check (VERIFY_OK if allowed). */
static enum verify_check
run(const struct verify_ctx *vc, const json_t *tool, const char *tok,
    const struct verify_call *call)
{
	struct verify_result r;
	enum verify_check c;
	int rc;

	rc = verify_tool_call(vc, tool, tok, strlen(tok), call, now, &r);
	c = r.check;
	if ((rc == SF_OK) != (c == VERIFY_OK) || (rc != SF_OK && (r.why ==
	    NULL || strncmp(r.why, verify_check_name(c),
	    strlen(verify_check_name(c))) != 0)))
		c = (enum verify_check)99;	/* inconsistent result */
	if (rc == SF_OK && r.claims == NULL)
		c = (enum verify_check)98;
	verify_result_clear(&r);
	return c;
}

static void
setup(void)
{
	char *kd = NULL;

	now = sf_now();
	T(mkdtemp(dir) != NULL);
	T_OK(sf_asprintf(&kd, "%s/keys", dir));
	T_OK(keyring_init(kd, JWS_ES256));
	T_OK(keyring_load(kd, KEYRING_PRIVATE, &kr));
	free(kd);
	tool_a = json_pack("{s:s, s:s, s:[s, s], s:s, s:[s, s]}", "tool_id",
	    "code-search", "resource_uri", URI_A, "capabilities", "read",
	    "search", "max_blast_radius", "namespace", "exec_acts", "query",
	    "index");
	tool_b = json_pack("{s:s, s:s}", "tool_id", "sql-admin",
	    "resource_uri", URI_B);
	T(tool_a != NULL && tool_b != NULL);
}

static void
signature(void)
{
	struct verify_ctx vc = { keyring_public(kr), ISS, 60, NULL, NULL,
	    false };
	struct verify_call call = { "code-search", NULL, NULL, NULL, NULL,
	    NULL };
	struct jwk *stranger = NULL;
	char *t, *p, *bad = NULL;
	json_t *c;

	t = mint(NULL, NULL);
	T(run(&vc, tool_a, t, &call) == VERIFY_OK);
	/* A flipped payload byte. */
	p = strchr(t, '.') + 3;
	*p = *p == 'A' ? 'B' : 'A';
	T(run(&vc, tool_a, t, &call) == VERIFY_SIGNATURE);
	free(t);
	/* Another key under this unit's kid. */
	T_OK(jwk_generate(JWS_ES256, &stranger));
	T_OK(jwk_set_kid(stranger, jwk_kid(keyring_signer(kr))));
	c = json_pack("{s:s, s:s, s:s, s:I}", "iss", ISS, "sub", "x", "aud",
	    URI_A, "exp", (json_int_t)now + 60);
	T_OK(jws_sign_jwt(stranger, "at+jwt", c, &bad));
	T(run(&vc, tool_a, bad, &call) == VERIFY_SIGNATURE);
	free(bad);
	json_decref(c);
	jwk_free(stranger);
	/* typ, iss, exp, nbf, iat, sub. */
	t = mint("agent+jwt", NULL);
	T(run(&vc, tool_a, t, &call) == VERIFY_SIGNATURE);
	free(t);
	t = mint("JWT", NULL);
	T(run(&vc, tool_a, t, &call) == VERIFY_SIGNATURE);
	free(t);
	t = mint("application/at+jwt", NULL);
	T(run(&vc, tool_a, t, &call) == VERIFY_OK);
	free(t);
	t = mint(NULL, "{\"iss\":\"https://evil.test\"}");
	T(run(&vc, tool_a, t, &call) == VERIFY_SIGNATURE);
	free(t);
	t = mint(NULL, "{\"exp\":1}");
	T(run(&vc, tool_a, t, &call) == VERIFY_SIGNATURE);
	free(t);
	p = NULL;
	T_OK(sf_asprintf(&p, "{\"nbf\":%lld}", (long long)now + 3600));
	t = mint(NULL, p);
	T(run(&vc, tool_a, t, &call) == VERIFY_SIGNATURE);
	free(t);
	free(p);
	p = NULL;
	T_OK(sf_asprintf(&p, "{\"iat\":%lld}", (long long)now + 3600));
	t = mint(NULL, p);
	T(run(&vc, tool_a, t, &call) == VERIFY_SIGNATURE);
	free(t);
	free(p);
	t = mint(NULL, "{\"sub\":7}");
	T(run(&vc, tool_a, t, &call) == VERIFY_SIGNATURE);
	free(t);
	/* Not a JWS; alg none. */
	T(run(&vc, tool_a, "a.b", &call) == VERIFY_SIGNATURE);
	T(run(&vc, tool_a, "eyJhbGciOiJub25lIiwidHlwIjoiYXQrand0In0.e30.",
	    &call) == VERIFY_SIGNATURE);
}

static void
retired_key(void)
{
	struct verify_ctx vc = { NULL, ISS, 60, NULL, NULL, false };
	struct verify_call call = { "code-search", NULL, NULL, NULL, NULL,
	    NULL };
	char *kd = NULL, *t;

	t = mint(NULL, NULL);
	T_OK(sf_asprintf(&kd, "%s/keys", dir));
	T_OK(keyring_rotate(kd, JWS_ES256, 3600, NULL));
	keyring_free(kr);
	T_OK(keyring_load(kd, KEYRING_PRIVATE, &kr));
	free(kd);
	vc.keys = keyring_public(kr);
	/* Signed by the key now retired, still published. */
	T(run(&vc, tool_a, t, &call) == VERIFY_OK);
	free(t);
	t = mint(NULL, NULL);
	T(run(&vc, tool_a, t, &call) == VERIFY_OK);
	free(t);
}

static void
confused_deputy(void)
{
	struct verify_ctx vc = { keyring_public(kr), ISS, 60, NULL, NULL,
	    false };
	struct verify_call a = { "code-search", NULL, NULL, NULL, NULL, NULL };
	struct verify_call b = { "sql-admin", NULL, NULL, NULL, NULL, NULL };
	struct verify_result r;
	char *t;

	t = mint(NULL, NULL);
	T(run(&vc, tool_a, t, &a) == VERIFY_OK);
	/* The same token at another tool. */
	T(run(&vc, tool_b, t, &b) == VERIFY_AUDIENCE);
	T(run(&vc, NULL, t, &b) == VERIFY_TOOL);
	T_OK(verify_tool_call(&vc, tool_a, t, strlen(t), &a, now, &r));
	T_EQ_STR(json_string_value(json_object_get(r.claims, "jti")), "jti-1");
	verify_result_clear(&r);
	free(t);
	/* aud arrays: one element is that audience; several are refused. */
	t = mint(NULL, "{\"aud\":[\"" URI_A "\"]}");
	T(run(&vc, tool_a, t, &a) == VERIFY_OK);
	free(t);
	t = mint(NULL, "{\"aud\":[\"" URI_A "\",\"" URI_B "\"]}");
	T(run(&vc, tool_a, t, &a) == VERIFY_AUDIENCE);
	T(run(&vc, tool_b, t, &b) == VERIFY_AUDIENCE);
	free(t);
	t = mint(NULL, "{\"aud\":\"" URI_A "/\"}");
	T(run(&vc, tool_a, t, &a) == VERIFY_AUDIENCE);
	free(t);
	/* Bad arguments. */
	T(verify_tool_call(&vc, tool_a, "x", 1, NULL, now, &r) == SF_EINVAL);
}

static void
revocation(void)
{
	struct revoke_index *ix = NULL;
	struct verify_ctx vc = { keyring_public(kr), ISS, 60, NULL, NULL,
	    false };
	struct verify_call a = { "code-search", NULL, NULL, NULL, NULL, NULL };
	char *t, *store_path = NULL;
	struct store *st = NULL;

	T_OK(revoke_new(&ix));
	vc.revoked = ix;
	t = mint(NULL, "{\"act\":{\"sub\":\"wimse://td.test/agent/mcp/a1\","
	    "\"act\":{\"sub\":\"wimse://td.test/agent/mcp/a0\"}}}");
	T(run(&vc, tool_a, t, &a) == VERIFY_OK);
	T_OK(revoke_add(ix, "sub", "wimse://td.test/agent/mcp/a0", now, 0,
	    "x"));
	T(run(&vc, tool_a, t, &a) == VERIFY_REVOKED);
	revoke_free(ix);
	T_OK(revoke_new(&ix));
	vc.revoked = ix;
	T_OK(revoke_add(ix, "jti", "jti-1", now, 0, NULL));
	T(run(&vc, tool_a, t, &a) == VERIFY_REVOKED);
	revoke_free(ix);
	free(t);
	/* A session revocation, then its lift, through the store. */
	T_OK(sf_asprintf(&store_path, "%s/starfly.db", dir));
	T_OK(store_open(store_path, true, &st));
	T_OK(revoke_load(st, now, &ix));
	vc.revoked = ix;
	t = mint(NULL, NULL);	/* iat now - 10 */
	T_OK(revoke_put(st, "sub", "wimse://td.test/ns/a/sa/agent", now - 5,
	    now + 600, "session-revoked", NULL, "test"));
	T_OK(revoke_refresh(ix, st, now));
	T(run(&vc, tool_a, t, &a) == VERIFY_REVOKED);
	T(revoke_lift(st, "sub", "wimse://td.test/ns/a/sa/agent", now, 3600,
	    "test") == SF_OK);
	T_OK(revoke_refresh(ix, st, now));
	/* Issued before the revocation: still refused. */
	T(run(&vc, tool_a, t, &a) == VERIFY_REVOKED);
	free(t);
	/* Issued after the lift: accepted. */
	t = mint(NULL, "{\"iat\":0}");
	free(t);
	{
		char x[64];

		snprintf(x, sizeof(x), "{\"iat\":%lld}", (long long)now);
		t = mint(NULL, x);
	}
	T(run(&vc, tool_a, t, &a) == VERIFY_OK);
	free(t);
	revoke_free(ix);
	store_close(st);
	free(store_path);
}

static void
scope(void)
{
	struct verify_ctx vc = { keyring_public(kr), ISS, 60, NULL, NULL,
	    false };
	struct verify_call a = { "code-search", NULL, NULL, NULL, NULL, NULL };
	struct verify_call ex = { "code-search", "POST",
	    "https://mcp.test/tools/code-search/run", "sha256:abc", "query",
	    "repo:x" };
	char *t;

	t = mint(NULL, "{\"caps\":[\"read\"]}");
	T(run(&vc, tool_a, t, &a) == VERIFY_OK);
	free(t);
	t = mint(NULL, "{\"caps\":[\"read\",\"admin\"]}");
	T(run(&vc, tool_a, t, &a) == VERIFY_CAPABILITIES);
	free(t);
	t = mint(NULL, "{\"caps\":\"read\"}");
	T(run(&vc, tool_a, t, &a) == VERIFY_CAPABILITIES);
	free(t);
	t = mint(NULL, "{\"blast_radius\":\"service\"}");
	T(run(&vc, tool_a, t, &a) == VERIFY_OK);
	free(t);
	t = mint(NULL, "{\"blast_radius\":\"cluster\"}");
	T(run(&vc, tool_a, t, &a) == VERIFY_BLAST_RADIUS);
	free(t);
	t = mint(NULL, "{\"blast_radius\":\"galaxy\"}");
	T(run(&vc, tool_a, t, &a) == VERIFY_BLAST_RADIUS);
	free(t);
	/* Execution scope: bound claims must match the call. */
	t = mint(NULL, "{\"htm\":\"POST\",\"htu\":\"https://mcp.test/tools/"
	    "code-search/run\",\"inp_hash\":\"sha256:abc\",\"exec_act\":"
	    "\"query\",\"target\":\"repo:x\"}");
	T(run(&vc, tool_a, t, &ex) == VERIFY_OK);
	T(run(&vc, tool_a, t, &a) == VERIFY_EXECUTION);
	ex.htm = "GET";
	T(run(&vc, tool_a, t, &ex) == VERIFY_EXECUTION);
	ex.htm = "POST";
	ex.inp_hash = "sha256:abd";
	T(run(&vc, tool_a, t, &ex) == VERIFY_EXECUTION);
	ex.inp_hash = "sha256:abc";
	ex.target = "repo:y";
	T(run(&vc, tool_a, t, &ex) == VERIFY_EXECUTION);
	ex.target = "repo:x";
	free(t);
	/* exec_act must be one the tool lists. */
	t = mint(NULL, "{\"exec_act\":\"drop\"}");
	ex.exec_act = "drop";
	T(run(&vc, tool_a, t, &ex) == VERIFY_EXECUTION);
	free(t);
}

/*
 * Compile into *out a bundle dir/name of mcp.rego = rego and, unless NULL,
 * data.json = data; *out NULL (the test failed) when it does not compile.
 */
static void
load_policy(const char *name, const char *rego, const char *data,
    struct policy **out)
{
	char *pd = NULL, *f = NULL, *err = NULL;

	*out = NULL;
	T_OK(sf_asprintf(&pd, "%s/%s", dir, name));
	T(mkdir(pd, 0755) == 0);
	T_OK(sf_asprintf(&f, "%s/mcp.rego", pd));
	T_OK(sf_write_file(f, rego, strlen(rego), 0644));
	if (data != NULL) {
		free(f);
		T_OK(sf_asprintf(&f, "%s/data.json", pd));
		T_OK(sf_write_file(f, data, strlen(data), 0644));
	}
	if (policy_load(pd, out, &err) != SF_OK) {
		snprintf(t_where, sizeof(t_where), "policy_load: %s",
		    err ? err : "?");
		t_failed_now = 1;
		free(err);
	}
	free(f);
	free(pd);
}

static void
policy(void)
{
	struct verify_ctx vc = { keyring_public(kr), ISS, 60, NULL, NULL,
	    true };
	struct verify_call a = { "code-search", NULL, NULL, NULL, NULL, NULL };
	static const char rego[] = "package starfly.mcp_tool_call\n\n"
	    "default allow := false\n\n"
	    "allow if {\n\tinput.subject.trust_domain == \"td.test\"\n"
	    "\tinput.tool.tool_id == input.target\n"
	    "\tinput.token.jti == \"jti-1\"\n}\n\n"
	    "reason := \"not td.test\" if not allow\n";
	struct policy *p = NULL;
	char *t;

	t = mint(NULL, NULL);
	/* Required and absent: refused. */
	T(run(&vc, tool_a, t, &a) == VERIFY_POLICY);
	load_policy("policy", rego, NULL, &p);
	if (p == NULL)
		goto out;
	vc.policy = p;
	T(run(&vc, tool_a, t, &a) == VERIFY_OK);
	free(t);
	t = mint(NULL, "{\"sub\":\"wimse://other.test/x\",\"td\":\"other.test\"}");
	T(run(&vc, tool_a, t, &a) == VERIFY_POLICY);
out:
	policy_free(p);
	free(t);
}

/* The policy input is exactly API.md's, whichever members the call has. */
static void
policy_input(void)
{
	struct verify_ctx vc = { keyring_public(kr), ISS, 60, NULL, NULL,
	    true };
	struct verify_call a = { "code-search", NULL, NULL, NULL, NULL, NULL };
	struct verify_call ex = { "code-search", "POST",
	    "https://mcp.test/x", "sha256:abc", "query", "repo:x" };
	static const char rego[] = "package starfly.mcp_tool_call\n\n"
	    "default allow := false\n\n"
	    "base if {\n\tinput.action == \"mcp_tool_call\"\n"
	    "\tinput.target == \"code-search\"\n"
	    "\tinput.tool == data.tool\n"
	    "\tinput.token.jti == \"jti-1\"\n"
	    "\tcount(input) == 6\n}\n\n"
	    "allow if {\n\tbase\n\tinput.context == {}\n"
	    "\tinput.subject == {\"id\": \"wimse://td.test/ns/a/sa/agent\", "
	    "\"trust_domain\": \"td.test\"}\n}\n\n"
	    "allow if {\n\tbase\n\tinput.context == {\"htm\": \"POST\", "
	    "\"htu\": \"https://mcp.test/x\", \"inp_hash\": \"sha256:abc\", "
	    "\"exec_act\": \"query\", \"target\": \"repo:x\"}\n"
	    "\tinput.subject == {\"id\": \"wimse://dom.test/ns/a/sa/b\", "
	    "\"trust_domain\": \"dom.test\"}\n}\n\n"
	    "allow if {\n\tbase\n\tinput.context == {}\n"
	    "\tinput.subject == {\"id\": \"agent-7\", "
	    "\"trust_domain\": \"\"}\n}\n";
	struct policy *p = NULL;
	char *t = NULL, *s;
	json_t *c;

	c = json_pack("{s:O}", "tool", tool_a);
	s = json_dumps(c, 0);
	json_decref(c);
	T(s != NULL);
	load_policy("policy-input", rego, s, &p);
	free(s);
	if (p == NULL)
		goto out;
	vc.policy = p;
	/* td given: it is the trust domain; no call members: context {}. */
	t = mint(NULL, NULL);
	T(run(&vc, tool_a, t, &a) == VERIFY_OK);
	T(run(&vc, tool_a, t, &ex) == VERIFY_POLICY);
	free(t);
	/* No td: the domain of a wimse:// sub; every call member. */
	t = mint(NULL, "{\"sub\":\"wimse://dom.test/ns/a/sa/b\","
	    "\"td\":null}");
	T(run(&vc, tool_a, t, &ex) == VERIFY_OK);
	T(run(&vc, tool_a, t, &a) == VERIFY_POLICY);
	free(t);
	/* Neither: an empty trust domain. */
	t = mint(NULL, "{\"sub\":\"agent-7\",\"td\":null}");
	T(run(&vc, tool_a, t, &a) == VERIFY_OK);
out:
	policy_free(p);
	free(t);
}

/* The reason is "<check>: <text>", whole also past the stack buffer. */
static void
deny_text(void)
{
	struct verify_ctx vc = { keyring_public(kr), ISS, 60, NULL, NULL,
	    false };
	struct verify_call call = { NULL, NULL, NULL, NULL, NULL, NULL };
	struct verify_result r;
	char id[3001], *t = mint(NULL, NULL), *want = NULL;
	size_t n;

	for (n = 1; n <= sizeof(id); n += sizeof(id) / 3) {
		memset(id, 'x', n - 1);
		id[n - 1] = '\0';
		call.tool_id = id;
		T(verify_tool_call(&vc, NULL, t, strlen(t), &call, now, &r) ==
		    SF_EDENIED);
		T_OK(sf_asprintf(&want, "tool: tool %s is not registered", id));
		T(r.check == VERIFY_TOOL && r.why != NULL);
		T_EQ_STR(r.why, want);
		free(want);
		verify_result_clear(&r);
	}
	free(t);
}

static void
registry(void)
{
	struct store *st = NULL;
	struct toolreg_cache *cache = NULL;
	json_t *req, *stored = NULL, *list = NULL, *e = NULL;
	char *path = NULL, *why = NULL;
	bool created;

	T_OK(sf_asprintf(&path, "%s/reg.db", dir));
	T_OK(store_open(path, true, &st));
	T_OK(toolreg_cache_new(&cache));
	T_OK(toolreg_cache_refresh(cache, st));
	T(json_array_size(toolreg_cache_list(cache)) == 0);
	/* Validation. */
	req = json_pack("{s:s, s:s}", "tool_id", "bad id", "resource_uri",
	    URI_A);
	T(toolreg_validate(req, &why) == SF_EINVAL && strstr(why, "tool_id"));
	free(why);
	json_decref(req);
	req = json_pack("{s:s, s:s}", "tool_id", "x", "resource_uri",
	    "not-absolute");
	T(toolreg_validate(req, &why) == SF_EINVAL &&
	    strstr(why, "resource_uri"));
	free(why);
	json_decref(req);
	req = json_pack("{s:s, s:s, s:s}", "tool_id", "x", "resource_uri",
	    URI_A, "max_blast_radius", "planet");
	T(toolreg_validate(req, &why) == SF_EINVAL);
	free(why);
	json_decref(req);
	req = json_pack("{s:s, s:s, s:b}", "tool_id", "x", "resource_uri",
	    URI_A, "extra", 1);
	T(toolreg_validate(req, &why) == SF_EINVAL && strstr(why, "extra"));
	free(why);
	json_decref(req);
	/* Register, re-register, conflict, list, delete. */
	req = json_deep_copy(tool_a);
	T_OK(toolreg_validate(req, &why));
	T_OK(toolreg_add(st, req, 1000, &stored, &created));
	T(created);
	T_EQ_STR(json_string_value(json_object_get(stored, "registered_at")),
	    "1970-01-01T00:16:40Z");
	json_decref(stored);
	T_OK(toolreg_add(st, req, 2000, &stored, &created));
	T(!created);
	T_EQ_STR(json_string_value(json_object_get(stored, "registered_at")),
	    "1970-01-01T00:16:40Z");
	json_decref(stored);
	json_object_set_new(req, "name", json_string("changed"));
	T(toolreg_add(st, req, 3000, &stored, &created) == SF_EEXIST);
	T(stored == NULL);
	json_decref(req);
	T_OK(toolreg_add(st, tool_b, 1000, &stored, &created));
	json_decref(stored);
	T_OK(toolreg_list(st, &list));
	T(json_array_size(list) == 2);
	T_EQ_STR(json_string_value(json_object_get(json_array_get(list, 0),
	    "tool_id")), "code-search");
	json_decref(list);
	T_OK(toolreg_cache_refresh(cache, st));
	T(toolreg_cache_get(cache, "sql-admin") != NULL);
	T(toolreg_cache_get(cache, "code-search") != NULL);
	T(toolreg_cache_get(cache, "nope") == NULL);
	T_OK(toolreg_get(st, "sql-admin", &e));
	json_decref(e);
	T_OK(toolreg_del(st, "sql-admin"));
	T(toolreg_del(st, "sql-admin") == SF_ENOTFOUND);
	T(toolreg_get(st, "sql-admin", &e) == SF_ENOTFOUND);
	T_OK(toolreg_cache_refresh(cache, st));
	T(toolreg_cache_get(cache, "sql-admin") == NULL);
	T(json_array_size(toolreg_cache_list(cache)) == 1);
	toolreg_cache_free(cache);
	store_close(st);
	free(path);
}

static void
teardown(void)
{
	char *cmd = NULL;

	keyring_free(kr);
	json_decref(tool_a);
	json_decref(tool_b);
	T_OK(sf_asprintf(&cmd, "rm -rf '%s'", dir));
	T(system(cmd) == 0);
	free(cmd);
}

int
main(void)
{
	t_prog = "verify";
	log_init("test_verify", 0, SF_LOG_ERR);
	RUN(setup);
	RUN(signature);
	RUN(retired_key);
	RUN(confused_deputy);
	RUN(revocation);
	RUN(scope);
	RUN(policy);
	RUN(policy_input);
	RUN(deny_text);
	RUN(registry);
	RUN(teardown);
	return T_DONE();
}
