/*
 * ctl_verify.c - `starflyctl verify`: the checks of POST /v1/mcp/verify,
 * made locally (lib/verify.c) against the unit's keys, tool registry,
 * revocations and policy, or against files a tool server keeps.
 *
 *   verify --tool ID [--htm M] [--htu U] [--inp-hash H] [--exec-act A]
 *       [--target T] [--jwks FILE] [--tool-json FILE] [--no-revocation]
 *       [--no-policy] TOKEN|-
 *
 * Exit 0 and the claims when the call is allowed; 1 and the failed check
 * otherwise.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl.h"

static const char verify_usage[] =
    "usage: starflyctl verify --tool ID [--htm M] [--htu U] [--inp-hash H]\n"
    "           [--exec-act A] [--target T] [--jwks FILE] [--tool-json FILE]\n"
    "           [--no-revocation] [--no-policy] TOKEN|-\n";

static json_t *
load_json(const char *path)
{
	char *buf = NULL, *why = NULL;
	json_t *v = NULL;
	size_t len;
	int rc;

	if ((rc = sf_read_file(path, 1024 * 1024, &buf, &len)) != SF_OK) {
		fprintf(stderr, "starflyctl verify: %s: %s\n", path,
		    sf_strerror(rc));
		return NULL;
	}
	if (json_parse_strict(buf, len, &v, &why) != SF_OK) {
		fprintf(stderr, "starflyctl verify: %s: %s\n", path, why);
		free(why);
		v = NULL;
	}
	free(buf);
	return v;
}

static char *
read_token(const char *arg)
{
	char buf[16385];
	size_t n;

	if (strcmp(arg, "-") != 0)
		return sf_strdup(arg);
	n = fread(buf, 1, sizeof(buf) - 1, stdin);
	while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r' ||
	    buf[n - 1] == ' '))
		n--;
	return sf_strndup(buf, n);
}

int
ctl_verify(struct ctl *c, int argc, char **argv)
{
	const struct sf_conf *conf;
	struct verify_ctx vc = { 0 };
	struct verify_call call = { 0 };
	struct verify_result res = { 0 };
	struct keyring *kr = NULL;
	struct jwks *keys = NULL;
	struct store *st = NULL;
	struct revoke_index *rv = NULL;
	struct policy *pol = NULL;
	const char *jwks_file = NULL, *tool_file = NULL, *tokarg = NULL;
	json_t *tool = NULL, *doc = NULL;
	char *token = NULL, *err = NULL, *s;
	bool no_rev = false, no_pol = false;
	int i, rc, ret = 1;

	for (i = 1; i < argc; i++) {
		const char *o = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;

		if (strcmp(o, "--no-revocation") == 0)
			no_rev = true;
		else if (strcmp(o, "--no-policy") == 0)
			no_pol = true;
		else if (v != NULL && strcmp(o, "--tool") == 0)
			call.tool_id = argv[++i];
		else if (v != NULL && strcmp(o, "--htm") == 0)
			call.htm = argv[++i];
		else if (v != NULL && strcmp(o, "--htu") == 0)
			call.htu = argv[++i];
		else if (v != NULL && strcmp(o, "--inp-hash") == 0)
			call.inp_hash = argv[++i];
		else if (v != NULL && strcmp(o, "--exec-act") == 0)
			call.exec_act = argv[++i];
		else if (v != NULL && strcmp(o, "--target") == 0)
			call.target = argv[++i];
		else if (v != NULL && strcmp(o, "--jwks") == 0)
			jwks_file = argv[++i];
		else if (v != NULL && strcmp(o, "--tool-json") == 0)
			tool_file = argv[++i];
		else if ((o[0] != '-' || strcmp(o, "-") == 0) &&
		    tokarg == NULL)
			tokarg = o;
		else {
			fputs(verify_usage, stderr);
			return 2;
		}
	}
	if (call.tool_id == NULL || tokarg == NULL) {
		fputs(verify_usage, stderr);
		return 2;
	}
	if ((conf = ctl_conf(c)) == NULL || (token = read_token(tokarg)) ==
	    NULL)
		goto out;
	/* Keys: a saved JWKS, else the unit's keyring. */
	if (jwks_file != NULL) {
		if ((doc = load_json(jwks_file)) == NULL)
			goto out;
		if (jwks_parse(doc, JWS_ALG_UNKNOWN, true, &keys) != SF_OK) {
			fprintf(stderr, "starflyctl verify: %s: %s\n",
			    jwks_file, jose_why());
			goto out;
		}
		vc.keys = keys;
	} else {
		if ((rc = keyring_load(conf->keys_dir, KEYRING_PUBLIC, &kr)) !=
		    SF_OK) {
			fprintf(stderr, "starflyctl verify: keyring %s: %s\n",
			    conf->keys_dir, sf_strerror(rc));
			goto out;
		}
		vc.keys = keyring_public(kr);
	}
	if ((tool_file == NULL || !no_rev) &&
	    (rc = store_open(conf->store, false, &st)) != SF_OK) {
		fprintf(stderr, "starflyctl verify: store %s: %s\n",
		    conf->store, sf_strerror(rc));
		goto out;
	}
	if (tool_file != NULL) {
		if ((tool = load_json(tool_file)) == NULL)
			goto out;
	} else if ((rc = toolreg_get(st, call.tool_id, &tool)) != SF_OK &&
	    rc != SF_ENOTFOUND) {
		fprintf(stderr, "starflyctl verify: tool registry: %s\n",
		    sf_strerror(rc));
		goto out;
	}
	if (!no_rev && (rc = revoke_load(st, sf_now(), &rv)) != SF_OK) {
		fprintf(stderr, "starflyctl verify: revocations: %s\n",
		    sf_strerror(rc));
		goto out;
	}
	if (!no_pol && policy_load(conf->policy_dir, &pol, &err) != SF_OK) {
		fprintf(stderr, "starflyctl verify: policy %s: %s\n",
		    conf->policy_dir, err ? err : "cannot load");
		goto out;
	}
	vc.issuer = conf->issuer;
	vc.skew = conf->clock_skew;
	vc.revoked = rv;
	vc.policy = pol;
	vc.require_policy = !no_pol;
	rc = verify_tool_call(&vc, tool, token, strlen(token), &call,
	    sf_now(), &res);
	if (rc == SF_OK) {
		printf("allowed\n");
		if ((s = json_dumps(res.claims, JSON_INDENT(2))) != NULL)
			printf("%s\n", s);
		free(s);
		ret = 0;
	} else if (rc == SF_EDENIED)
		printf("denied: %s\n", res.why ? res.why : "");
	else
		fprintf(stderr, "starflyctl verify: %s\n", res.why ? res.why :
		    sf_strerror(rc));
	if (no_rev || no_pol)
		fprintf(stderr, "starflyctl verify: %s%s%s not checked\n",
		    no_rev ? "revocation" : "", no_rev && no_pol ? " and " : "",
		    no_pol ? "policy" : "");
out:
	verify_result_clear(&res);
	policy_free(pol);
	revoke_free(rv);
	store_close(st);
	json_decref(tool);
	json_decref(doc);
	jwks_free(keys);
	keyring_free(kr);
	free(err);
	sf_strfree_secret(token);
	return ret;
}
