/*
 * ctl_keys.c - `starflyctl keys`: the unit's signing keyring.
 *
 *   keys list [--json]       kid, alg, state, created, publish_until
 *   keys init [--alg ALG]    create the keyring if it has no active key
 *   keys rotate [--alg ALG]  retire the active key, make a new one
 *   keys prune               drop retired keys no longer published
 *
 * The directory, default algorithm and retirement period come from the
 * configuration: keys_dir, signing_alg, max_token_ttl.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ctl.h"

static const char keys_usage[] =
    "usage: starflyctl keys list [--json]\n"
    "       starflyctl keys init [--alg ALG]\n"
    "       starflyctl keys rotate [--alg ALG]\n"
    "       starflyctl keys prune\n"
    "ALG: ES256, ES384, EdDSA, RS256, RS384, RS512, PS256\n";

static int
keys_fail(const char *what, int rc)
{
	fprintf(stderr, "starflyctl keys %s: %s (%s)\n", what,
	    sf_strerror(rc), jose_why());
	return 1;
}

/* ISO 8601 UTC of a member holding Unix seconds, or "-". */
static void
fmt_time(const json_t *e, const char *name, char *buf, size_t len)
{
	json_t *v = json_object_get(e, name);
	struct tm tm;
	time_t t;

	if (!json_is_integer(v)) {
		snprintf(buf, len, "-");
		return;
	}
	t = (time_t)json_integer_value(v);
	if (gmtime_r(&t, &tm) == NULL ||
	    strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		snprintf(buf, len, "%lld", (long long)json_integer_value(v));
}

static int
keys_list(const char *dir, bool as_json)
{
	char created[32], until[32];
	const char *state;
	json_t *doc, *e;
	int64_t now = sf_now();
	size_t i;
	char *s;
	int rc;

	if ((rc = keyring_list(dir, &doc)) == SF_ENOTFOUND) {
		fprintf(stderr, "starflyctl keys list: no keyring in %s (run "
		    "`starflyctl keys init`)\n", dir);
		return 1;
	}
	if (rc != SF_OK)
		return keys_fail("list", rc);
	if (as_json) {
		if ((s = json_dumps(doc, JSON_INDENT(2))) == NULL) {
			json_decref(doc);
			return keys_fail("list", SF_ENOMEM);
		}
		printf("%s\n", s);
		free(s);
		json_decref(doc);
		return 0;
	}
	printf("%-43s  %-5s  %-7s  %-20s  %s\n", "KID", "ALG", "STATE",
	    "CREATED", "PUBLISH_UNTIL");
	json_array_foreach(json_object_get(doc, "keys"), i, e) {
		state = json_string_value(json_object_get(e, "state"));
		/* A retired key past publication is what prune removes. */
		if (strcmp(state, "retired") == 0 && json_integer_value(
		    json_object_get(e, "publish_until")) <= now)
			state = "expired";
		fmt_time(e, "created", created, sizeof(created));
		fmt_time(e, "publish_until", until, sizeof(until));
		printf("%-43s  %-5s  %-7s  %-20s  %s\n",
		    json_string_value(json_object_get(e, "kid")),
		    json_string_value(json_object_get(e, "alg")), state, created,
		    until);
	}
	json_decref(doc);
	return 0;
}

/* Parse [--alg ALG] (also --alg=ALG); 2 on a usage error. */
static int
alg_option(int argc, char **argv, enum jws_alg *alg)
{
	const char *name = NULL;

	if (argc == 3 && strcmp(argv[1], "--alg") == 0)
		name = argv[2];
	else if (argc == 2 && strncmp(argv[1], "--alg=", 6) == 0)
		name = argv[1] + 6;
	else if (argc != 1)
		return 2;
	if (name != NULL && (*alg = jws_alg_from_name(name)) ==
	    JWS_ALG_UNKNOWN) {
		fprintf(stderr, "starflyctl keys: unsupported algorithm "
		    "'%s'\n", name);
		return 2;
	}
	return 0;
}

int
ctl_keys(struct ctl *c, int argc, char **argv)
{
	const struct sf_conf *conf;
	enum jws_alg alg;
	char *kid = NULL;
	size_t n;
	int rc;

	if (argc < 2) {
		fputs(keys_usage, stderr);
		return 2;
	}
	argc--;
	argv++;
	if (!(strcmp(argv[0], "list") == 0 && (argc == 1 || (argc == 2 &&
	    strcmp(argv[1], "--json") == 0))) &&
	    strcmp(argv[0], "init") != 0 && strcmp(argv[0], "rotate") != 0 &&
	    !(strcmp(argv[0], "prune") == 0 && argc == 1)) {
		fputs(keys_usage, stderr);
		return 2;
	}
	if ((conf = ctl_conf(c)) == NULL)
		return 1;
	alg = (enum jws_alg)conf->signing_alg;
	if (strcmp(argv[0], "list") == 0)
		return keys_list(conf->keys_dir, argc == 2);
	if (strcmp(argv[0], "prune") == 0) {
		if ((rc = keyring_prune(conf->keys_dir, &n)) != SF_OK)
			return keys_fail("prune", rc);
		printf("pruned %zu retired key%s from %s\n", n,
		    n == 1 ? "" : "s", conf->keys_dir);
		return 0;
	}
	if (alg_option(argc, argv, &alg) != 0) {
		fputs(keys_usage, stderr);
		return 2;
	}
	if (strcmp(argv[0], "init") == 0) {
		if ((rc = keyring_init(conf->keys_dir, alg)) != SF_OK)
			return keys_fail("init", rc);
		(void)keyring_active_kid(conf->keys_dir, &kid);
		printf("keyring %s: active key %s\n", conf->keys_dir,
		    kid != NULL ? kid : "?");
		free(kid);
		return 0;
	}
	if ((rc = keyring_rotate(conf->keys_dir, alg, conf->max_token_ttl,
	    &kid)) != SF_OK)
		return keys_fail("rotate", rc);
	printf("keyring %s: new active key %s (%s); the previous key stays "
	    "published for %lld s\n", conf->keys_dir, kid, jws_alg_name(alg),
	    conf->max_token_ttl);
	free(kid);
	return 0;
}
