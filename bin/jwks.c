/*
 * jwks.fcgi - this unit's public keys and its RFC 8414 metadata.
 *
 * Routes:
 *   GET /v1/identity/jwks                       RFC 7517 §5 key set
 *   GET /.well-known/oauth-authorization-server RFC 8414 §3 metadata
 *
 * Privileges: reads the public half of the keyring only.
 */
#include <stdio.h>
#include <stdlib.h>

#include "starfly.h"

struct jwks_ctx {
	struct prog	 prog;
	struct keyring	*kr;
};

/* Reload the keyring when keyring.json moved (rotation, prune). */
static void
jwks_before(void *arg)
{
	struct jwks_ctx *ctx = arg;
	struct keyring *kr = NULL;
	int rc;

	if (ctx->kr != NULL && !keyring_changed(ctx->kr))
		return;
	if ((rc = keyring_load(ctx->prog.conf->keys_dir, KEYRING_PUBLIC, &kr))
	    != SF_OK) {
		log_err("keyring %s: %s", ctx->prog.conf->keys_dir,
		    sf_strerror(rc));
		return;		/* keep serving the last good set */
	}
	keyring_free(ctx->kr);
	ctx->kr = kr;
}

static int
get_jwks(struct http_req *req, void *arg)
{
	struct jwks_ctx *ctx = arg;
	json_t *doc = NULL;
	int rc;

	if (ctx->kr == NULL)
		return http_error(req, 503, "temporarily_unavailable",
		    "no signing keys: run `starflyctl init`");
	if ((rc = keyring_jwks(ctx->kr, &doc)) != SF_OK)
		return http_error(req, 500, "server_error",
		    "cannot list keys: %s", sf_strerror(rc));
	/* Short: a rotation must reach verifiers soon (RFC 7517 §5). */
	(void)http_add_header(req, "Cache-Control", "public, max-age=60");
	return http_json(req, 200, doc);
}

static int
get_metadata(struct http_req *req, void *arg)
{
	struct jwks_ctx *ctx = arg;
	const char *iss = ctx->prog.conf->issuer;
	char *tok = NULL, *jwks = NULL, *verify = NULL, *signals = NULL;
	char *agent = NULL, *tools = NULL;
	json_t *doc = NULL;

	if (sf_asprintf(&tok, "%s/v1/exchange/token", iss) != SF_OK ||
	    sf_asprintf(&jwks, "%s/v1/identity/jwks", iss) != SF_OK ||
	    sf_asprintf(&verify, "%s/v1/mcp/verify", iss) != SF_OK ||
	    sf_asprintf(&tools, "%s/v1/mcp/tools", iss) != SF_OK ||
	    sf_asprintf(&signals, "%s/v1/signals/events", iss) != SF_OK ||
	    sf_asprintf(&agent, "%s/v1/identity/agent", iss) != SF_OK)
		goto out;
	/* RFC 8414 §2; no authorization endpoint, so no response types. */
	doc = json_pack("{s:s, s:s, s:s, s:[], s:[s], s:[s,s,s],"
	    " s:[s,s,s,s,s,s,s], s:[s,s], s:s, s:s, s:s, s:s}",
	    "issuer", iss,
	    "token_endpoint", tok,
	    "jwks_uri", jwks,
	    "response_types_supported",
	    "grant_types_supported",
	    "urn:ietf:params:oauth:grant-type:token-exchange",
	    "token_endpoint_auth_methods_supported",
	    "none", "client_secret_basic", "client_secret_post",
	    "subject_token_types_supported",
	    "urn:ietf:params:oauth:token-type:jwt",
	    "urn:ietf:params:oauth:token-type:access_token",
	    "urn:starfly:token-type:oidc",
	    "urn:starfly:token-type:spiffe-svid",
	    "urn:starfly:token-type:agent-mcp",
	    "urn:starfly:token-type:aws-sts",
	    "urn:starfly:token-type:gcp-wif",
	    "issued_token_types_supported",
	    "urn:ietf:params:oauth:token-type:jwt",
	    "urn:ietf:params:oauth:token-type:access_token",
	    "starfly_agent_endpoint", agent,
	    "starfly_mcp_tools_endpoint", tools,
	    "starfly_mcp_verify_endpoint", verify,
	    "starfly_signals_endpoint", signals);
	if (doc != NULL) {
		json_t *types = json_object_get(doc,
		    "subject_token_types_supported");

		json_array_append_new(types,
		    json_string("urn:starfly:token-type:azure-mi"));
		if (ctx->kr != NULL) {
			const struct jwk *k = jwks_get(keyring_public(ctx->kr),
			    0);
			json_t *algs = json_array();

			if (k != NULL && algs != NULL)
				json_array_append_new(algs, json_string(
				    jws_alg_name(jwk_alg(k))));
			json_object_set_new(doc,
			    "token_signing_alg_values_supported", algs);
		}
	}
out:
	free(tok);
	free(jwks);
	free(verify);
	free(tools);
	free(signals);
	free(agent);
	(void)http_add_header(req, "Cache-Control", "public, max-age=300");
	return http_json(req, 200, doc);
}

static const struct http_route routes[] = {
	{ "/v1/identity/jwks", HTTP_GET, 0, get_jwks },
	{ "/.well-known/oauth-authorization-server", HTTP_GET, 0,
	    get_metadata },
};

int
main(int argc, char *argv[])
{
	struct jwks_ctx ctx = { 0 };
	struct http_server srv = { 0 };
	int rc;

	if (prog_init(&ctx.prog, "jwks.fcgi", &argc, argv) != SF_OK)
		return 1;
	prog_server(&ctx.prog, &srv, routes, sizeof(routes) / sizeof(routes[0]),
	    &ctx);
	srv.before = jwks_before;
	rc = http_serve(&srv);
	keyring_free(ctx.kr);
	prog_fini(&ctx.prog);
	return rc == SF_OK ? 0 : 1;
}
