/*
 * sys.fcgi - health, seal state, metrics, and the JSON 404 for every
 * path under /v1/ and /.well-known/ that no other program owns.
 *
 * Routes:
 *   GET  /v1/sys/health     200 {initialized, locked, version, unit_id,
 *                           mode}; 503 with the same body when sealed
 *   POST /v1/sys/seal       admin: seal the unit now (every process
 *                           stops signing); 200 {"locked": true}
 *   POST /v1/sys/unseal     {"key": ...}: 200 {"locked": false}; wrong
 *                           key 400; repeated wrong keys 429 with
 *                           Retry-After
 *   GET  /metrics           Prometheus text format, summed over every
 *                           process of the unit (lib/metrics.c)
 *   anything else           404 {"error":"not_found",...}
 *
 * Privileges: the seal segment (same user as exchange.fcgi), the public
 * keys (admin tokens), the metrics segment, the audit trail.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "starfly.h"

struct sys_ctx {
	struct prog	 prog;
	char		 unit_id[13];
	bool		 initialized;
	struct keyring	*kr;		/* public keys, for admin tokens */
	struct metrics	*metrics;
	struct audit	*audit;
	bool		 seal_ok;	/* the seal segment is mapped */
};

/* Sealed, or (production) the seal state cannot be read: fail closed. */
static bool
locked(const struct sys_ctx *ctx)
{
	if (!ctx->seal_ok)
		return ctx->prog.conf->mode != SF_MODE_DEV;
	return seal_is_sealed();
}

static void
sys_before(void *arg)
{
	struct sys_ctx *ctx = arg;
	struct keyring *kr = NULL;
	json_t *keys = NULL;

	if (ctx->kr == NULL || keyring_changed(ctx->kr)) {
		if (keyring_load(ctx->prog.conf->keys_dir, KEYRING_PUBLIC, &kr)
		    == SF_OK) {
			keyring_free(ctx->kr);
			ctx->kr = kr;
		}
	}
	if (ctx->initialized)
		return;
	if (unit_id(ctx->prog.conf, ctx->unit_id) != SF_OK)
		return;
	if (keyring_list(ctx->prog.conf->keys_dir, &keys) == SF_OK &&
	    json_array_size(json_object_get(keys, "keys")) > 0)
		ctx->initialized = true;
	json_decref(keys);
}

static json_t *
health_doc(const struct sys_ctx *ctx)
{
	return json_pack("{s:b, s:b, s:s, s:s, s:s}",
	    "initialized", ctx->initialized,
	    "locked", locked(ctx),
	    "version", SF_VERSION,
	    "unit_id", ctx->unit_id,
	    "mode", ctx->prog.conf->mode == SF_MODE_DEV ? "dev" :
	    "production");
}

static int
get_health(struct http_req *req, void *arg)
{
	struct sys_ctx *ctx = arg;

	(void)http_add_header(req, "Cache-Control", "no-store");
	return http_json(req, locked(ctx) || !ctx->initialized ? 503 :
	    200, health_doc(ctx));
}

static int
post_seal(struct http_req *req, void *arg)
{
	struct sys_ctx *ctx = arg;
	const struct sf_conf *c = ctx->prog.conf;
	char *why = NULL;
	int rc;

	if (token_check_admin(ctx->kr, c->issuer, http_header(req,
	    "HTTP_AUTHORIZATION"), sf_now(), c->clock_skew, &why) != SF_OK) {
		(void)audit_record(ctx->audit, http_request_id(req), "seal",
		    "seal", NULL, NULL, "deny", why, NULL);
		(void)http_add_header(req, "WWW-Authenticate",
		    "Bearer error=\"invalid_token\"");
		rc = http_error(req, 401, "invalid_token", "%s",
		    why ? why : "an admin token is required");
		free(why);
		return rc;
	}
	if ((rc = seal_seal(c)) != SF_OK) {
		(void)audit_record(ctx->audit, http_request_id(req), "seal",
		    "seal", NULL, NULL, "error", sf_strerror(rc), NULL);
		return http_error(req, 500, "server_error", "cannot seal: %s",
		    sf_strerror(rc));
	}
	(void)audit_record(ctx->audit, http_request_id(req), "seal", "seal",
	    NULL, NULL, "allow", "sealed over HTTP by an admin", NULL);
	log_warn("unit sealed by an admin request %s", http_request_id(req));
	(void)http_add_header(req, "Cache-Control", "no-store");
	return http_json(req, 200, health_doc(ctx));
}

static const struct field_spec unseal_fields[] = {
	{ "key", FIELD_STRING, FIELD_REQUIRED, 0, 1024, NULL },
	{ NULL, 0, 0, 0, 0, NULL }
};

static int
post_unseal(struct http_req *req, void *arg)
{
	struct sys_ctx *ctx = arg;
	const char *body, *key, *reason = NULL;
	char *why = NULL, ra[24];
	json_t *obj = NULL;
	int64_t retry = 0;
	size_t len;
	int rc;

	if (strcmp(http_media_type(req), "application/json") != 0) {
		rc = http_error(req, 400, "invalid_request", "Content-Type "
		    "must be application/json");
		goto out;
	}
	body = http_body(req, &len);
	if (json_parse_strict(body, len, &obj, &why) != SF_OK ||
	    validate_fields(obj, unseal_fields, false, &why) != SF_OK) {
		rc = http_error(req, 400, "invalid_request", "%s", why);
		goto out;
	}
	key = json_string_value(json_object_get(obj, "key"));
	rc = seal_unseal(ctx->prog.conf, key, &retry, &reason);
	(void)audit_record(ctx->audit, http_request_id(req), "seal",
	    "unseal", NULL, NULL, rc == SF_OK ? "allow" : "deny",
	    rc == SF_OK ? "unsealed over HTTP" : reason, NULL);
	switch (rc) {
	case SF_OK:
		log_warn("unit unsealed by request %s", http_request_id(req));
		(void)http_add_header(req, "Cache-Control", "no-store");
		rc = http_json(req, 200, health_doc(ctx));
		break;
	case SF_ELIMIT:
		snprintf(ra, sizeof(ra), "%lld", (long long)retry);
		(void)http_add_header(req, "Retry-After", ra);
		rc = http_error(req, 429, "slow_down", "%s", reason);
		break;
	case SF_EDENIED:
	case SF_EINVAL:
		rc = http_error(req, 400, "invalid_request", "%s", reason);
		break;
	case SF_ENOTFOUND:
		rc = http_error(req, 400, "invalid_request", "%s", reason);
		break;
	default:
		rc = http_error(req, 500, "server_error", "%s",
		    reason ? reason : sf_strerror(rc));
		break;
	}
out:
	json_decref(obj);
	free(why);
	return rc;
}

/* Age of the active key, from keyring.json; -1 unknown. */
static int64_t
key_age(const struct sf_conf *c)
{
	json_t *doc = NULL, *e;
	int64_t age = -1;
	size_t i;

	if (keyring_list(c->keys_dir, &doc) != SF_OK)
		return -1;
	json_array_foreach(json_object_get(doc, "keys"), i, e) {
		const char *st = json_string_value(json_object_get(e,
		    "state"));
		json_t *cr = json_object_get(e, "created");

		if (st != NULL && strcmp(st, "active") == 0 &&
		    json_is_integer(cr))
			age = sf_now() - (int64_t)json_integer_value(cr);
	}
	json_decref(doc);
	return age;
}

static int
get_metrics(struct http_req *req, void *arg)
{
	struct sys_ctx *ctx = arg;
	struct metrics_info info;
	char *text = NULL;
	size_t len;
	int rc;

	if (ctx->metrics == NULL)
		return http_error(req, 503, "temporarily_unavailable",
		    "the metrics segment is not available (see the log)");
	info.unit_id = ctx->unit_id;
	info.mode = ctx->prog.conf->mode == SF_MODE_DEV ? "dev" :
	    "production";
	info.sealed = locked(ctx) ? 1 : 0;
	info.key_age = key_age(ctx->prog.conf);
	info.keys_published = ctx->kr != NULL ?
	    (int64_t)jwks_count(keyring_public(ctx->kr)) : -1;
	if ((rc = metrics_render(ctx->metrics, &info, &text, &len)) != SF_OK)
		return http_error(req, 500, "server_error", "%s",
		    sf_strerror(rc));
	(void)http_add_header(req, "Cache-Control", "no-store");
	rc = http_raw(req, 200, "text/plain; version=0.0.4; charset=utf-8",
	    text, len);
	free(text);
	return rc;
}

static const struct http_route routes[] = {
	{ "/v1/sys/health", HTTP_GET, 0, get_health },
	{ "/v1/sys/seal", HTTP_POST, 0, post_seal },
	{ "/v1/sys/unseal", HTTP_POST, 4096, post_unseal },
	{ "/metrics", HTTP_GET, 0, get_metrics },
};

int
main(int argc, char *argv[])
{
	struct sys_ctx ctx = { 0 };
	struct http_server srv = { 0 };
	int rc;

	if (prog_init(&ctx.prog, "sys.fcgi", &argc, argv) != SF_OK)
		return 1;
	if (seal_open(ctx.prog.conf) == SF_OK)
		ctx.seal_ok = true;
	else
		log_err("seal state unavailable: %s",
		    ctx.prog.conf->mode == SF_MODE_DEV ? "reporting unsealed" :
		    "reporting locked");
	(void)metrics_open(ctx.prog.conf, &ctx.metrics);
	(void)audit_open(ctx.prog.conf, ctx.prog.name, &ctx.audit);
	prog_server(&ctx.prog, &srv, routes, sizeof(routes) / sizeof(routes[0]),
	    &ctx);
	srv.before = sys_before;
	srv.after = metrics_after;
	rc = http_serve(&srv);
	audit_close(ctx.audit);
	metrics_close(ctx.metrics);
	keyring_free(ctx.kr);
	prog_fini(&ctx.prog);
	return rc == SF_OK ? 0 : 1;
}
