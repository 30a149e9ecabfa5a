/*
 * test_conf.c - the configuration parser: types, limits, errors with
 * file:line, and starfly.conf defaults.
 */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "starfly.h"
#include "t.h"

struct cfg {
	char		*name, *dir, *url, **words;
	long long	 n;
	bool		 on;
	int		 color;
};
static const char *const colors[] = { "red", "green", NULL };
static const struct conf_key keys[] = {
	{ "name", CONF_STR, offsetof(struct cfg, name), 0, 8, NULL, true },
	{ "dir", CONF_PATH, offsetof(struct cfg, dir), 0, 0, NULL, false },
	{ "url", CONF_URL, offsetof(struct cfg, url), 0, 0, NULL, false },
	{ "words", CONF_LIST, offsetof(struct cfg, words), 0, 0, NULL, false },
	{ "n", CONF_INT, offsetof(struct cfg, n), 1, 10, NULL, false },
	{ "on", CONF_BOOL, offsetof(struct cfg, on), 0, 0, NULL, false },
	{ "color", CONF_ENUM, offsetof(struct cfg, color), 0, 0, colors,
	    false },
	{ NULL, 0, 0, 0, 0, NULL, false }
};

static void
parse_all_types(void)
{
	const char *txt = "# comment\n\nname \"a # b\"   # trailing\n"
	    "dir  sub/x\nurl https://h.example/path/\nwords one  two three\n"
	    "n 7\non yes\ncolor green\n";
	struct cfg c = { 0 };
	char *err = NULL;

	T_OK(conf_parse_buf("t.conf", txt, strlen(txt), keys, "/base", &c,
	    &err));
	T_EQ_STR(c.name, "a # b");
	T_EQ_STR(c.dir, "/base/sub/x");
	T_EQ_STR(c.url, "https://h.example/path");
	T_EQ_STR(c.words[2], "three");
	T(c.words[3] == NULL);
	T(c.n == 7 && c.on && c.color == 1);
	conf_free_fields(keys, &c);
	T(c.name == NULL);
}

static int
refused(const char *txt, const char *want)
{
	struct cfg c = { 0 };
	char *err = NULL;
	int rc, ok;

	rc = conf_parse_buf("t.conf", txt, strlen(txt), keys, NULL, &c, &err);
	ok = rc == SF_ECONF && err != NULL && strstr(err, want) != NULL;
	if (!ok)
		fprintf(stderr, "got: %s\n", err ? err : "(none)");
	free(err);
	conf_free_fields(keys, &c);
	return ok;
}

static void
errors_name_file_and_line(void)
{
	T(refused("name a\nbogus 1\n", "t.conf:2: unknown key 'bogus'"));
	T(refused("name a\nname b\n", "t.conf:2: 'name' given twice"));
	T(refused("name a\nn 11\n", "t.conf:2: n: expected an integer from "
	    "1 to 10"));
	T(refused("name a\nn 3x\n", "t.conf:2: n: expected an integer"));
	T(refused("name a\non maybe\n", "t.conf:2: on: expected yes or no"));
	T(refused("name a\ncolor blue\n", "expected one of red|green"));
	T(refused("name a\nurl ftp://x\n", "t.conf:2: url: not an http(s) "
	    "URL"));
	T(refused("name toolongvalue\n", "t.conf:1: name: longer than 8"));
	T(refused("n 3\n", "t.conf: missing required key 'name'"));
	T(refused("name \"unterminated\n", "t.conf:1: name: malformed "
	    "quoted value"));
	T(refused("name a\nn\n", "t.conf:2: n: missing value"));
}

static void
starfly_conf_defaults(void)
{
	char path[] = "/tmp/sf-conf-XXXXXX";
	struct sf_conf *c = NULL;
	char *err = NULL;
	FILE *fp;
	int fd;

	T((fd = mkstemp(path)) != -1);
	T((fp = fdopen(fd, "w")) != NULL);
	fprintf(fp, "mode dev\nissuer http://localhost:8693/\n"
	    "state_dir /tmp/sf-state\n");
	fclose(fp);
	T_OK(conf_load(path, &c, &err));
	unlink(path);
	T(c->mode == SF_MODE_DEV);
	T_EQ_STR(c->issuer, "http://localhost:8693");
	T_EQ_STR(c->store, "/tmp/sf-state/starfly.db");
	T_EQ_STR(c->keys_dir, "/tmp/sf-state/keys");
	T_EQ_STR(c->trust_domain, "dev.local");
	T(c->signing_alg == JWS_ES256);
	T(c->token_ttl == 300 && c->exec_token_ttl == 30);
	T(c->body_limit == 65536);
	conf_free(c);
	T(conf_load("/nonexistent/starfly.conf", &c, &err) == SF_ECONF);
	T(strstr(err, "/nonexistent/starfly.conf: cannot read") != NULL);
	free(err);
}

static void
config_path_order(void)
{
	char a0[] = "prog", a1[] = "--config", a2[] = "/x.conf", a3[] = "rest";
	char *argv[] = { a0, a1, a2, a3, NULL };
	int argc = 4;

	setenv("STARFLY_CONF", "/env.conf", 1);
	T_EQ_STR(conf_path_from_args(&argc, argv), "/x.conf");
	T(argc == 2);
	T_EQ_STR(argv[1], "rest");
	T_EQ_STR(conf_path_from_args(&argc, argv), "/env.conf");
	unsetenv("STARFLY_CONF");
	T_EQ_STR(conf_path_from_args(&argc, argv),
	    "/etc/starfly/starfly.conf");
}

int
main(void)
{
	t_prog = "conf";
	RUN(parse_all_types);
	RUN(errors_name_file_and_line);
	RUN(starfly_conf_defaults);
	RUN(config_path_order);
	return T_DONE();
}
