/*
 * mcp.fcgi - the MCP tool registry and the per-call verify that stops a
 * token issued for tool A from being used at tool B.
 *
 * Routes:
 *   GET    /v1/mcp/tools[?tool_id=X]   list, or one entry
 *   POST   /v1/mcp/tools               register (admin in production)
 *   DELETE /v1/mcp/tools?tool_id=X     deregister (admin in production)
 *   POST   /v1/mcp/verify              verify a token for a tool call
 *
 * The verify path reads only memory (public keys, tool registry, the
 * revocation index, the compiled policy), each refreshed before the
 * request when its marker moved.  Privileges: public keys, policies,
 * store read/write (tools).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "starfly.h"

struct mctx {
	struct prog		 prog;
	struct keyring		*kr;
	struct store		*st;
	struct revoke_index	*rv;
	struct toolreg_cache	*tools;
	struct policy_watch	*pw;
	struct metrics		*m;
	struct audit		*audit;
	json_t			*check_extra[VERIFY_POLICY + 1];
	uint64_t		 last_policy_check;
	uint64_t		 rv_count;
};

static void
mbefore(void *arg)
{
	struct mctx *x = arg;
	struct keyring *kr = NULL;
	uint64_t now_ns;
	int rc;

	if (x->kr == NULL || keyring_changed(x->kr)) {
		if (keyring_load(x->prog.conf->keys_dir, KEYRING_PUBLIC, &kr) ==
		    SF_OK) {
			keyring_free(x->kr);
			x->kr = kr;
		} else
			log_err("keyring %s: cannot load",
			    x->prog.conf->keys_dir);
	}
	if (x->st != NULL) {
		if (x->rv == NULL)
			rc = revoke_load(x->st, sf_now(), &x->rv);
		else
			rc = revoke_refresh(x->rv, x->st, sf_now());
		if (rc != SF_OK)
			log_err("revocation index: cannot refresh: %s",
			    sf_strerror(rc));
		if ((rc = toolreg_cache_refresh(x->tools, x->st)) != SF_OK)
			log_err("tool registry: cannot refresh: %s",
			    sf_strerror(rc));
		if (revoke_count(x->rv) != x->rv_count) {
			x->rv_count = revoke_count(x->rv);
			metrics_revocations(x->m, x->rv_count);
		}
	}
	now_ns = sf_mono_ns();
	if (x->pw != NULL && (http_reload_requested ||
	    now_ns - x->last_policy_check > 1000000000ull)) {
		x->last_policy_check = now_ns;
		(void)policy_watch_refresh(x->pw);
		http_reload_requested = 0;
	}
}

/* The body as a JSON object, else a 400 already sent. */
static int
read_json(struct http_req *req, json_t **out)
{
	const char *body;
	char *why = NULL;
	size_t len;
	int rc;

	*out = NULL;
	if (strcmp(http_media_type(req), "application/json") != 0) {
		http_error(req, 400, "invalid_request", "Content-Type must be "
		    "application/json");
		return SF_EINVAL;
	}
	body = http_body(req, &len);
	rc = json_parse_strict(body, len, out, &why);
	if (rc == SF_ENOMEM)
		return rc;
	if (rc != SF_OK || !json_is_object(*out)) {
		http_error(req, 400, "invalid_request", "malformed request "
		    "body: %s", why ? why : "not a JSON object");
		free(why);
		json_decref(*out);
		*out = NULL;
		return SF_EINVAL;
	}
	return SF_OK;
}

/* Production: API.md's admin token.  Dev: anyone. */
static int
require_admin(struct mctx *x, struct http_req *req)
{
	const struct sf_conf *c = x->prog.conf;
	char *why = NULL;
	int rc;

	if (c->mode == SF_MODE_DEV)
		return SF_OK;
	rc = token_check_admin(x->kr, c->issuer, http_header(req,
	    "HTTP_AUTHORIZATION"), sf_now(), c->clock_skew, &why);
	if (rc == SF_OK)
		return SF_OK;
	(void)http_add_header(req, "WWW-Authenticate",
	    "Bearer error=\"invalid_token\"");
	http_error(req, 401, "invalid_token", "%s", why ? why :
	    "an admin bearer token is required");
	free(why);
	return SF_EDENIED;
}

static int
tools_get(struct mctx *x, struct http_req *req)
{
	const json_t *list = toolreg_cache_list(x->tools), *e;
	char *id = NULL;
	int rc;

	rc = http_query_param(req, "tool_id", &id);
	if (rc == SF_EINVAL)
		return http_error(req, 400, "invalid_request",
		    "tool_id query parameter is malformed or repeated");
	if (rc == SF_OK) {
		e = toolreg_cache_get(x->tools, id);
		if (e == NULL)
			rc = http_error(req, 404, "tool_not_found",
			    "tool %s is not registered", id);
		else
			rc = http_json(req, 200, json_incref((json_t *)
			    (uintptr_t)e));
		free(id);
		return rc;
	}
	if (rc != SF_ENOTFOUND)
		return rc;
	return http_json(req, 200, json_pack("{s:I, s:O}", "count",
	    (json_int_t)json_array_size(list), "tools", list));
}

static int
tools_post(struct mctx *x, struct http_req *req)
{
	json_t *body = NULL, *stored = NULL;
	const char *id;
	char *why = NULL;
	bool created;
	int rc;

	if ((rc = require_admin(x, req)) != SF_OK)
		return rc == SF_EDENIED ? SF_OK : rc;
	if ((rc = read_json(req, &body)) != SF_OK)
		return rc == SF_EINVAL ? SF_OK : rc;
	if (toolreg_validate(body, &why) != SF_OK) {
		rc = http_error(req, 400, "invalid_request", "%s", why);
		goto out;
	}
	id = json_string_value(json_object_get(body, "tool_id"));
	if (x->st == NULL) {
		rc = http_error(req, 503, "temporarily_unavailable",
		    "the store is not available");
		goto out;
	}
	rc = toolreg_add(x->st, body, sf_now(), &stored, &created);
	switch (rc) {
	case SF_OK:
		if (created)
			(void)audit_record(x->audit, http_request_id(req),
			    "tool", "register", NULL, id, "allow", NULL,
			    stored);
		rc = http_json(req, created ? 201 : 200, stored);
		stored = NULL;
		break;
	case SF_EEXIST:
		rc = http_error(req, 409, "tool_exists", "tool %s is already "
		    "registered with different content; deregister it first",
		    id);
		break;
	case SF_ELIMIT:
		rc = http_error(req, 400, "invalid_request", "the registry "
		    "holds its maximum of %d tools", TOOLREG_MAX);
		break;
	default:
		log_err("tool %s: store: %s", id, sf_strerror(rc));
		rc = http_error(req, 500, "server_error",
		    "cannot record the tool");
		break;
	}
out:
	free(why);
	json_decref(stored);
	json_decref(body);
	return rc;
}

static int
tools_delete(struct mctx *x, struct http_req *req)
{
	char *id = NULL;
	int rc;

	if ((rc = require_admin(x, req)) != SF_OK)
		return rc == SF_EDENIED ? SF_OK : rc;
	rc = http_query_param(req, "tool_id", &id);
	if (rc != SF_OK)
		return http_error(req, 400, "invalid_request", "tool_id query "
		    "parameter is required (once)");
	if (x->st == NULL)
		rc = http_error(req, 503, "temporarily_unavailable",
		    "the store is not available");
	else if ((rc = toolreg_del(x->st, id)) == SF_OK) {
		(void)audit_record(x->audit, http_request_id(req), "tool",
		    "deregister", NULL, id, "allow", NULL, NULL);
		rc = http_json(req, 200, json_pack("{s:s, s:s}", "status",
		    "deregistered", "tool_id", id));
	} else if (rc == SF_ENOTFOUND)
		rc = http_error(req, 404, "tool_not_found",
		    "tool %s is not registered", id);
	else {
		log_err("tool %s: store: %s", id, sf_strerror(rc));
		rc = http_error(req, 500, "server_error",
		    "cannot deregister the tool");
	}
	free(id);
	return rc;
}

static int
tools(struct http_req *req, void *arg)
{
	struct mctx *x = arg;

	switch (http_method(req)) {
	case HTTP_POST:
		return tools_post(x, req);
	case HTTP_DELETE:
		return tools_delete(x, req);
	default:
		return tools_get(x, req);
	}
}

static const struct field_spec verify_fields[] = {
	{ "token", FIELD_STRING, FIELD_REQUIRED, 0, 16384, NULL },
	{ "tool_id", FIELD_STRING, FIELD_REQUIRED, 1, 128, "A-Za-z0-9._-" },
	{ "htm", FIELD_STRING, 0, 0, 16, NULL },
	{ "htu", FIELD_STRING, 0, 0, 2048, NULL },
	{ "inp_hash", FIELD_STRING, 0, 0, 256, NULL },
	{ "exec_act", FIELD_STRING, 0, 0, 256, NULL },
	{ "target", FIELD_STRING, 0, 0, 2048, NULL },
	{ NULL, 0, 0, 0, 0, NULL }
};

static const char *
str(const json_t *o, const char *name)
{
	return json_string_value(json_object_get(o, name));
}

/*
 * The audit extra {"check": name} of c (new reference), made once per
 * check and shared: audit_record only reads it.
 */
static json_t *
check_extra(struct mctx *x, enum verify_check c)
{
	json_t **e;

	if ((size_t)c >= sizeof(x->check_extra) / sizeof(x->check_extra[0]))
		return json_pack("{s:s}", "check", verify_check_name(c));
	e = &x->check_extra[c];
	if (*e == NULL)
		*e = json_pack("{s:s}", "check", verify_check_name(c));
	return json_incref(*e);
}

static int
verify(struct http_req *req, void *arg)
{
	struct mctx *x = arg;
	const struct sf_conf *c = x->prog.conf;
	struct verify_result res = { 0 };
	struct verify_ctx vc = { 0 };
	struct verify_call call = { 0 };
	const json_t *tool;
	json_t *body = NULL, *extra = NULL;
	const char *token, *sub = NULL;
	char *why = NULL;
	uint64_t t0 = sf_mono_ns();
	int rc;

	if ((rc = read_json(req, &body)) != SF_OK)
		return rc == SF_EINVAL ? SF_OK : rc;
	if (validate_fields(body, verify_fields, false, &why) != SF_OK) {
		rc = http_error(req, 400, "invalid_request", "%s", why);
		goto out;
	}
	if (x->kr == NULL) {
		rc = http_error(req, 503, "temporarily_unavailable",
		    "this unit's keys are not available");
		goto out;
	}
	if (x->pw == NULL || policy_watch_current(x->pw) == NULL) {
		rc = http_error(req, 500, "server_error", "no policy is loaded");
		goto out;
	}
	token = str(body, "token");
	call.tool_id = str(body, "tool_id");
	call.htm = str(body, "htm");
	call.htu = str(body, "htu");
	call.inp_hash = str(body, "inp_hash");
	call.exec_act = str(body, "exec_act");
	call.target = str(body, "target");
	tool = toolreg_cache_get(x->tools, call.tool_id);
	vc.keys = keyring_public(x->kr);
	vc.issuer = c->issuer;
	vc.skew = c->clock_skew;
	vc.revoked = x->rv;
	vc.policy = policy_watch_current(x->pw);
	vc.require_policy = true;
	rc = verify_tool_call(&vc, tool, token, strlen(token), &call, sf_now(),
	    &res);
	if (res.policy_ns > 0)
		metrics_policy(x->m, "mcp_tool_call", res.policy_ns);
	if (res.claims != NULL)
		sub = str(res.claims, "sub");
	metrics_mcp_verify(x->m, tool != NULL ? call.tool_id : "unregistered",
	    rc == SF_OK, sf_mono_ns() - t0);
	extra = check_extra(x, res.check);
	(void)audit_record(x->audit, http_request_id(req), "verify",
	    "mcp_tool_call", sub, call.tool_id, rc == SF_OK ? "allow" :
	    (rc == SF_EDENIED ? "deny" : "error"), res.why, extra);
	switch (rc) {
	case SF_OK:
		rc = http_json(req, 200, json_pack("{s:b, s:O}", "verified", 1,
		    "claims", res.claims));
		break;
	case SF_EDENIED:
		rc = http_error(req, 403, "verification_failed", "%s",
		    res.why ? res.why : verify_check_name(res.check));
		break;
	case SF_EPOLICY:
		log_err("mcp_tool_call policy: %s", res.why ? res.why : "");
		rc = http_error(req, 500, "server_error",
		    "policy evaluation failed");
		break;
	default:
		break;
	}
out:
	json_decref(extra);
	verify_result_clear(&res);
	free(why);
	json_decref(body);
	return rc;
}

static const struct http_route routes[] = {
	{ "/v1/mcp/tools", HTTP_GET | HTTP_POST | HTTP_DELETE, 0, tools },
	{ "/v1/mcp/verify", HTTP_POST, 0, verify },
};

int
main(int argc, char *argv[])
{
	struct mctx x = { 0 };
	struct http_server srv = { 0 };
	size_t i;
	int rc;

	if (prog_init(&x.prog, "mcp.fcgi", &argc, argv) != SF_OK)
		return 1;
	if ((rc = store_open(x.prog.conf->store, false, &x.st)) != SF_OK)
		log_warn("store %s: %s (run starflyctl init)",
		    x.prog.conf->store, sf_strerror(rc));
	else
		(void)revoke_ring_open(x.prog.conf->store);
	if (toolreg_cache_new(&x.tools) != SF_OK) {
		prog_fini(&x.prog);
		return 1;
	}
	prog_open_shared(&x.prog, "mcp", &x.pw, &x.m, &x.audit);
	/* Loaded before the workers fork: they share it copy-on-write. */
	mbefore(&x);
	prog_server(&x.prog, &srv, routes, sizeof(routes) / sizeof(routes[0]),
	    &x);
	srv.before = mbefore;
	srv.after = metrics_after;
	rc = http_serve(&srv);
	audit_close(x.audit);
	for (i = 0; i < sizeof(x.check_extra) / sizeof(x.check_extra[0]); i++)
		json_decref(x.check_extra[i]);
	metrics_close(x.m);
	policy_watch_free(x.pw);
	toolreg_cache_free(x.tools);
	revoke_free(x.rv);
	keyring_free(x.kr);
	store_close(x.st);
	prog_fini(&x.prog);
	return rc == SF_OK ? 0 : 1;
}
