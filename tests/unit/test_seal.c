/*
 * test_seal.c - keys encrypted at rest, seal/unseal through the shared
 * segment (seen by another process), wrong keys slowed down, rotation
 * refused while sealed, tampered or swapped sealed files refused, dev
 * units unencrypted and unsealed.
 */
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "starfly.h"
#include "t.h"

static char base[] = "/tmp/sf-seal.XXXXXX";
static char segs[4][96];
static int nsegs;

static void
mkconf(struct sf_conf *c, const char *name, int mode)
{
	static char keys[4][160];
	static int n;
	char cmd[256];

	memset(c, 0, sizeof(*c));
	snprintf(keys[n], sizeof(keys[n]), "%s/%s", base, name);
	snprintf(cmd, sizeof(cmd), "mkdir -p %s", keys[n]);
	if (system(cmd) != 0)
		fprintf(stderr, "%s failed\n", cmd);
	c->keys_dir = keys[n++];
	c->mode = mode;
	c->signing_alg = JWS_ES256;
}

static void
remember_segment(const struct sf_conf *c)
{
	json_t *st = NULL;

	if (seal_status(c, &st) == SF_OK && nsegs < 4)
		sf_strlcpy(segs[nsegs++], json_string_value(json_object_get(st,
		    "segment")), sizeof(segs[0]));
	json_decref(st);
}

static bool
file_has(const char *path, const char *needle)
{
	char *buf = NULL;
	size_t len;
	bool has;

	if (sf_read_file(path, 1 << 20, &buf, &len) != SF_OK)
		return false;
	has = memmem(buf, len, needle, strlen(needle)) != NULL;
	free(buf);
	return has;
}

static char *active_kid(const char *dir)
{
	json_t *doc = NULL;
	char *kid;

	if (keyring_list(dir, &doc) != SF_OK)
		return NULL;
	kid = sf_strdup(json_string_value(json_object_get(json_array_get(
	    json_object_get(doc, "keys"), 0), "kid")));
	json_decref(doc);
	return kid;
}

static void
production_cycle(void)
{
	struct sf_conf c;
	struct keyring *kr = NULL, *kr2 = NULL;
	char *key = NULL, *kid = NULL, path[512], *rot = NULL;
	const char *why;
	int64_t retry;
	int st, p2c[2], c2p[2];
	char ch;
	pid_t pid;

	mkconf(&c, "prod", SF_MODE_PRODUCTION);
	T_OK(seal_open(&c));
	remember_segment(&c);
	T(seal_is_sealed());		/* production starts sealed */
	T_OK(seal_setup(&c, NULL, &key));
	T(key != NULL && strlen(key) == 43);
	T(seal_setup(&c, NULL, NULL) == SF_EEXIST);
	T(!seal_is_sealed());
	T(seal_wraps_keys(c.keys_dir));
	T_OK(keyring_init(c.keys_dir, JWS_ES256));
	T((kid = active_kid(c.keys_dir)) != NULL);
	snprintf(path, sizeof(path), "%s/private/%s.pem", c.keys_dir, kid);
	T(access(path, F_OK) != 0);	/* never written in the clear */
	snprintf(path, sizeof(path), "%s/private/%s.sealed", c.keys_dir, kid);
	T(file_has(path, "SFSEAL1\n") && !file_has(path, "PRIVATE KEY"));
	T_OK(keyring_load(c.keys_dir, KEYRING_PRIVATE, &kr));
	T(keyring_signer(kr) != NULL);

	/* Another process sees seal and unseal through the segment. */
	T(pipe(p2c) == 0 && pipe(c2p) == 0);
	if ((pid = fork()) == 0) {
		int ok = 1;

		if (read(p2c[0], &ch, 1) != 1 || !seal_is_sealed())
			ok = 0;
		if (write(c2p[1], "a", 1) == -1)
			_exit(1);
		if (read(p2c[0], &ch, 1) != 1 || seal_is_sealed())
			ok = 0;
		_exit(ok ? 0 : 1);
	}
	T_OK(seal_seal(&c));
	T(seal_is_sealed());
	T(write(p2c[1], "s", 1) == 1 && read(c2p[0], &ch, 1) == 1);
	/* A loaded keyring notices and reloads without its signer. */
	T(keyring_changed(kr));
	T_OK(keyring_load(c.keys_dir, KEYRING_PRIVATE, &kr2));
	T(keyring_signer(kr2) == NULL);
	keyring_free(kr2);
	kr2 = NULL;
	T(keyring_rotate(c.keys_dir, JWS_ES256, 3600, &rot) == SF_ESEALED);
	T(strstr(jose_why(), "sealed") != NULL);
	/* A wrong key is refused and the unit stays sealed. */
	T(seal_unseal(&c, "this-is-not-the-right-key", &retry, &why) ==
	    SF_EDENIED);
	T(seal_is_sealed() && strstr(why, "wrong") != NULL);
	T(seal_unseal(&c, "short", &retry, &why) == SF_EINVAL);
	/* The right key brings it back, in the other process too. */
	T_OK(seal_unseal(&c, key, &retry, &why));
	T(!seal_is_sealed());
	T(write(p2c[1], "u", 1) == 1);
	T(waitpid(pid, &st, 0) == pid && WIFEXITED(st) &&
	    WEXITSTATUS(st) == 0);
	T_OK(keyring_load(c.keys_dir, KEYRING_PRIVATE, &kr2));
	T(keyring_signer(kr2) != NULL);
	keyring_free(kr2);
	kr2 = NULL;
	/* Rotation works unsealed and the new key is sealed too. */
	T_OK(keyring_rotate(c.keys_dir, JWS_ES256, 3600, &rot));
	snprintf(path, sizeof(path), "%s/private/%s.sealed", c.keys_dir, rot);
	T(access(path, F_OK) == 0);
	T_OK(keyring_load(c.keys_dir, KEYRING_PRIVATE, &kr2));
	T(keyring_signer(kr2) != NULL);
	T_EQ_STR(jwk_kid(keyring_signer(kr2)), rot);
	keyring_free(kr2);
	kr2 = NULL;

	/* Repeated wrong keys are slowed down. */
	T(seal_unseal(&c, "wrong key number one", &retry, &why) == SF_EDENIED);
	T(seal_unseal(&c, "wrong key number two", &retry, &why) == SF_EDENIED);
	T(seal_unseal(&c, "wrong key number three", &retry, &why) ==
	    SF_EDENIED);
	T(seal_unseal(&c, key, &retry, &why) == SF_ELIMIT);
	T(retry >= 1);
	sleep((unsigned int)retry + 1);
	T_OK(seal_unseal(&c, key, &retry, &why));
	close(p2c[0]);
	close(p2c[1]);
	close(c2p[0]);
	close(c2p[1]);
	keyring_free(kr);
	free(rot);
	free(kid);
	sf_strfree_secret(key);
}

static void
tampered_files_refused(void)
{
	struct sf_conf c;
	struct keyring *kr = NULL;
	char *key = NULL, *k1 = NULL, *k2 = NULL, p1[512], p2[512], *buf = NULL;
	size_t len;

	mkconf(&c, "tamper", SF_MODE_PRODUCTION);
	T_OK(seal_setup(&c, "an operator chosen unseal passphrase", &key));
	T(key == NULL);			/* given, not generated */
	remember_segment(&c);
	T_OK(keyring_init(c.keys_dir, JWS_ES256));
	k1 = active_kid(c.keys_dir);
	T_OK(keyring_rotate(c.keys_dir, JWS_ES256, 3600, &k2));
	snprintf(p1, sizeof(p1), "%s/private/%s.sealed", c.keys_dir, k1);
	snprintf(p2, sizeof(p2), "%s/private/%s.sealed", c.keys_dir, k2);
	/* The retired key's file under the active kid: the AAD says no. */
	T_OK(sf_read_file(p1, 1 << 20, &buf, &len));
	T_OK(sf_write_file(p2, buf, len, 0600));
	T(keyring_load(c.keys_dir, KEYRING_PRIVATE, &kr) == SF_EKEY);
	/* One flipped bit. */
	buf[len - 5] ^= 1;
	T_OK(sf_write_file(p2, buf, len, 0600));
	T(keyring_load(c.keys_dir, KEYRING_PRIVATE, &kr) == SF_EKEY);
	T(kr == NULL);
	free(buf);
	free(k1);
	free(k2);
}

static void
dev_unit(void)
{
	struct sf_conf c;
	struct keyring *kr = NULL;
	char *key = NULL, *kid, path[512];
	const char *why;
	int64_t retry;

	mkconf(&c, "dev", SF_MODE_DEV);
	T_OK(seal_open(&c));
	remember_segment(&c);
	T(!seal_is_sealed());		/* dev starts unsealed */
	T_OK(seal_setup(&c, NULL, &key));
	T(!seal_wraps_keys(c.keys_dir));
	T_OK(keyring_init(c.keys_dir, JWS_ES256));
	kid = active_kid(c.keys_dir);
	snprintf(path, sizeof(path), "%s/private/%s.pem", c.keys_dir, kid);
	T(access(path, F_OK) == 0);	/* dev keys are not encrypted */
	T_OK(seal_seal(&c));
	T(seal_is_sealed());
	T(seal_unseal(&c, "not the dev unseal key", &retry, &why) ==
	    SF_EDENIED);
	T_OK(seal_unseal(&c, key, &retry, &why));
	T(!seal_is_sealed());
	T_OK(seal_seal(&c));
	T_OK(seal_dev_start(&c));
	T(!seal_is_sealed());
	T_OK(keyring_load(c.keys_dir, KEYRING_PRIVATE, &kr));
	T(keyring_signer(kr) != NULL);
	keyring_free(kr);
	free(kid);
	sf_strfree_secret(key);
}

int
main(void)
{
	char cmd[160];
	int i, rc;

	t_prog = "seal";
	if (mkdtemp(base) == NULL)
		return 1;
	RUN(production_cycle);
	RUN(tampered_files_refused);
	RUN(dev_unit);
	rc = T_DONE();
	for (i = 0; i < nsegs; i++)
		(void)shm_unlink(segs[i] + strlen("/dev/shm"));
	snprintf(cmd, sizeof(cmd), "rm -rf %s", base);
	if (system(cmd) != 0)
		fprintf(stderr, "%s failed\n", cmd);
	return rc;
}
