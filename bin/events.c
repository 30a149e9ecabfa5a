/*
 * events.fcgi - skeleton: its routes answer 501 until its issue lands.
 *
 * Routes: GET /v1/events
 */
#include "starfly.h"

static int
not_yet(struct http_req *req, void *arg)
{
	(void)arg;
	return http_error(req, 501, "not_implemented",
	    "%s is not implemented yet", http_path(req));
}

static const struct http_route routes[] = {
	{ "/v1/events", HTTP_GET, 0, not_yet },
};

int
main(int argc, char *argv[])
{
	struct prog prog;
	struct http_server srv = { 0 };
	int rc;

	if (prog_init(&prog, "events.fcgi", &argc, argv) != SF_OK)
		return 1;
	srv.progname = prog.name;
	srv.routes = routes;
	srv.nroutes = sizeof(routes) / sizeof(routes[0]);
	srv.body_limit = (size_t)prog.conf->body_limit;
	srv.listen = prog.listen;
	srv.workers = prog.workers;
	rc = http_serve(&srv);
	prog_fini(&prog);
	return rc == SF_OK ? 0 : 1;
}
