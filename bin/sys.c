/*
 * sys.fcgi - health, seal state, metrics, and the JSON 404 for every
 * path under /v1/ and /.well-known/ that no other program owns.
 *
 * Routes:
 *   GET  /v1/sys/health     200 {initialized, locked, version, unit_id,
 *                           mode}; 503 with the same body when sealed
 *   POST /v1/sys/seal       (issue 6)
 *   POST /v1/sys/unseal     (issue 6)
 *   GET  /metrics           (issue 6)
 *   anything else           404 {"error":"not_found",...}
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "starfly.h"

struct sys_ctx {
	struct prog	 prog;
	char		 unit_id[13];
	bool		 initialized;
};

static void
sys_before(void *arg)
{
	struct sys_ctx *ctx = arg;
	json_t *keys = NULL;

	if (ctx->initialized)
		return;
	if (unit_id(ctx->prog.conf, ctx->unit_id) != SF_OK)
		return;
	if (keyring_list(ctx->prog.conf->keys_dir, &keys) == SF_OK &&
	    json_array_size(json_object_get(keys, "keys")) > 0)
		ctx->initialized = true;
	json_decref(keys);
}

static int
get_health(struct http_req *req, void *arg)
{
	struct sys_ctx *ctx = arg;
	bool locked = false;
	json_t *doc;

	doc = json_pack("{s:b, s:b, s:s, s:s, s:s}",
	    "initialized", ctx->initialized,
	    "locked", locked,
	    "version", SF_VERSION,
	    "unit_id", ctx->unit_id,
	    "mode", ctx->prog.conf->mode == SF_MODE_DEV ? "dev" :
	    "production");
	(void)http_add_header(req, "Cache-Control", "no-store");
	return http_json(req, locked || !ctx->initialized ? 503 : 200, doc);
}

static int
not_yet(struct http_req *req, void *arg)
{
	(void)arg;
	return http_error(req, 501, "not_implemented",
	    "%s is not implemented yet", http_path(req));
}

static const struct http_route routes[] = {
	{ "/v1/sys/health", HTTP_GET, 0, get_health },
	{ "/v1/sys/seal", HTTP_POST, 0, not_yet },
	{ "/v1/sys/unseal", HTTP_POST, 0, not_yet },
	{ "/metrics", HTTP_GET, 0, not_yet },
};

int
main(int argc, char *argv[])
{
	struct sys_ctx ctx = { 0 };
	struct http_server srv = { 0 };
	int rc;

	if (prog_init(&ctx.prog, "sys.fcgi", &argc, argv) != SF_OK)
		return 1;
	srv.progname = ctx.prog.name;
	srv.routes = routes;
	srv.nroutes = sizeof(routes) / sizeof(routes[0]);
	srv.arg = &ctx;
	srv.body_limit = (size_t)ctx.prog.conf->body_limit;
	srv.listen = ctx.prog.listen;
	srv.workers = ctx.prog.workers;
	srv.before = sys_before;
	rc = http_serve(&srv);
	prog_fini(&ctx.prog);
	return rc == SF_OK ? 0 : 1;
}
