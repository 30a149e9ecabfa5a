/*
 * prog.c - start-up shared by every FastCGI program.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "starfly.h"

int
prog_init(struct prog *p, const char *name, int *argc, char **argv)
{
	const char *config = NULL, *env;
	char *err = NULL;
	int rc;

	memset(p, 0, sizeof(*p));
	p->name = name;
	http_args(argc, argv, &config, &p->listen, &p->workers);
	if (config == NULL) {
		env = getenv("STARFLY_CONF");
		config = env != NULL && *env != '\0' ? env :
		    "/etc/starfly/starfly.conf";
	}
	p->config_path = config;
	log_init(name, 0, SF_LOG_INFO);
	if ((rc = conf_load(config, &p->conf, &err)) != SF_OK) {
		fprintf(stderr, "%s: %s\n", name, err ? err :
		    sf_strerror(rc));
		log_err("%s", err ? err : sf_strerror(rc));
		free(err);
		return rc;
	}
	log_init(name, p->conf->use_syslog,
	    (enum sf_loglevel)p->conf->log_level);
	/* --user, --sandbox: own user, Landlock, seccomp (lib/sandbox.c). */
	return sandbox_prog(p, argc, argv);
}

void
prog_fini(struct prog *p)
{
	conf_free(p->conf);
	p->conf = NULL;
}

void
prog_server(const struct prog *p, struct http_server *srv,
    const struct http_route *routes, size_t nroutes, void *arg)
{
	srv->progname = p->name;
	srv->routes = routes;
	srv->nroutes = nroutes;
	srv->arg = arg;
	srv->body_limit = (size_t)p->conf->body_limit;
	srv->listen = p->listen;
	srv->workers = p->workers;
}

void
prog_open_shared(const struct prog *p, const char *audit_name,
    struct policy_watch **pw, struct metrics **m, struct audit **a)
{
	char *err = NULL;

	if (pw != NULL && policy_watch_open(p->conf->policy_dir, pw, &err) !=
	    SF_OK) {
		log_err("policy %s: %s", p->conf->policy_dir,
		    err ? err : "cannot load");
		free(err);
	}
	if (metrics_open(p->conf, m) != SF_OK)
		log_warn("metrics segment unavailable");
	if (audit_open(p->conf, audit_name, a) != SF_OK)
		log_warn("audit trail unavailable");
}
