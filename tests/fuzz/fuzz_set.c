/*
 * fuzz_set.c - Security Event Tokens from arbitrary bytes: the first byte
 * picks the path (odd: a pushed compact SET through set_verify against a
 * fixed transmitter; even: dev plain JSON through set_from_json); what
 * parses then goes through set_action, set_targets and
 * set_policy_subject.  Invariants: no crash or leak; a refusal always has
 * an RFC 8935 code and a reason; an accepted SET has a non-empty events
 * object; every target is a valid revocation id.
 */
#include <sys/stat.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "starfly.h"

int	LLVMFuzzerTestOneInput(const unsigned char *data, size_t size);

static const char jwks_json[] =
    "{\"keys\":[{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"DmujVA_mrK11BSxFxG5p"
    "GpjZX6ZRV3_gFiRWc7pCf-g\",\"y\":\"L-cEwEQjzY-EVrA_eRCN1JhZs5s2Xw"
    "ygRTeY66a-rIc\",\"kid\":\"es256\",\"alg\":\"ES256\",\"use\":\"sig\"}]}";

static struct set_transmitters *tx;

static void
load_tx(void)
{
	char dir[] = "/tmp/sf-fuzz-set-XXXXXX", path[256], *err = NULL;
	struct sf_conf c;
	FILE *fp;

	memset(&c, 0, sizeof(c));
	if (mkdtemp(dir) == NULL)
		abort();
	snprintf(path, sizeof(path), "%s/transmitters.d", dir);
	if (mkdir(path, 0700) != 0)
		abort();
	snprintf(path, sizeof(path), "%s/transmitters.d/t.jwks", dir);
	if ((fp = fopen(path, "w")) == NULL)
		abort();
	fputs(jwks_json, fp);
	fclose(fp);
	snprintf(path, sizeof(path), "%s/transmitters.d/t.conf", dir);
	if ((fp = fopen(path, "w")) == NULL)
		abort();
	fputs("issuer https://idp.test\njwks_file t.jwks\n", fp);
	fclose(fp);
	c.etc_dir = dir;
	c.issuer = (char *)"https://starfly.test";
	c.max_token_ttl = 3600;
	if (set_transmitters_load(&c, &tx, &err) != SF_OK)
		abort();
	/* Loaded: the files are no longer needed. */
	unlink(path);
	snprintf(path, sizeof(path), "%s/transmitters.d/t.jwks", dir);
	unlink(path);
	snprintf(path, sizeof(path), "%s/transmitters.d", dir);
	rmdir(path);
	rmdir(dir);
}

static void
act_on(const struct set *s)
{
	struct set_action a;
	json_t *t = NULL, *ps, *m;
	char *why = NULL;
	size_t i;

	if (!json_is_object(s->events) || json_object_size(s->events) == 0)
		abort();
	if (set_action(s, 2000000000, &a, &why) != SF_OK && why == NULL)
		abort();
	free(why);
	why = NULL;
	if (s->subject == NULL)
		return;
	if (set_targets(s->subject, "https://starfly.test", &t, &why) ==
	    SF_OK) {
		json_array_foreach(t, i, m)
			if (!revoke_valid(json_string_value(json_array_get(m,
			    0)), json_string_value(json_array_get(m, 1))))
				abort();
	} else if (why == NULL)
		abort();
	free(why);
	json_decref(t);
	ps = set_policy_subject(s->subject);
	json_decref(ps);
}

int
LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
	struct set s;
	enum set_err err;
	char *why = NULL;
	int rc;

	if (tx == NULL) {
		log_init("fuzz_set", 0, SF_LOG_ERR);
		load_tx();
	}
	if (size < 1)
		return 0;
	if (data[0] & 1)
		rc = set_verify(tx, (const char *)data + 1, size - 1,
		    "Bearer x", 1700000000, 60, &s, &err, &why);
	else
		rc = set_from_json((const char *)data + 1, size - 1,
		    1700000000, &s, &err, &why);
	if (rc != SF_OK) {
		if (err == SET_ERR_NONE || why == NULL ||
		    set_err_code(err) == NULL || s.claims != NULL)
			abort();
		free(why);
		return 0;
	}
	act_on(&s);
	set_clear(&s);
	return 0;
}
