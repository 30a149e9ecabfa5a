/* test_keyring.c - the on-disk keyring: layout, modes, rotation, pruning. */
#include <sys/stat.h>
#include <sys/wait.h>

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "starfly.h"
#include "t.h"

static char base[64];
static int ndirs;

static int
rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

/* A fresh directory path (not created) under base. */
static const char *
fresh_dir(void)
{
	static char dir[128];

	snprintf(dir, sizeof(dir), "%s/kr%d/keys", base, ndirs++);
	return dir;
}

static unsigned int
mode_of(const char *dir, const char *fmt, const char *kid)
{
	char path[256], rel[128];
	struct stat st;

	snprintf(rel, sizeof(rel), fmt, kid);
	snprintf(path, sizeof(path), "%s/%s", dir, rel);
	if (stat(path, &st) == -1)
		return 01000;	/* no such file */
	return (unsigned int)(st.st_mode & 0777);
}

/* The kid of the active key (new), or NULL. */
static char *
active_kid(const char *dir)
{
	char *kid;

	return keyring_active_kid(dir, &kid) == SF_OK ? kid : NULL;
}

static void
test_init_layout_and_modes(void)
{
	const char *dir = fresh_dir();
	struct keyring *kr;
	char *kid, *again, *thumb;

	T_OK(keyring_init(dir, JWS_ES256));
	T((kid = active_kid(dir)) != NULL);
	T(mode_of(dir, "keyring.json%s", "") == 0644);
	T(mode_of(dir, "private%s", "") == 0700);
	T(mode_of(dir, "public%s", "") == 0755);
	T(mode_of(dir, "private/%s.pem", kid) == 0600);
	T(mode_of(dir, "public/%s.jwk", kid) == 0644);
	/* Idempotent: the same active key. */
	T_OK(keyring_init(dir, JWS_ES256));
	T((again = active_kid(dir)) != NULL);
	T_EQ_STR(again, kid);
	/* The kid is the RFC 7638 thumbprint of the key. */
	T_OK(keyring_load(dir, KEYRING_PRIVATE, &kr));
	T_OK(jwk_thumbprint(keyring_signer(kr), &thumb));
	T_EQ_STR(thumb, kid);
	T_EQ_STR(jwk_kid(keyring_signer(kr)), kid);
	T(jwk_has_private(keyring_signer(kr)));
	T(jwk_alg(keyring_signer(kr)) == JWS_ES256);
	keyring_free(kr);
	free(thumb);
	free(again);
	free(kid);
}

static void
test_private_dir_mode_restored(void)
{
	const char *dir = fresh_dir();
	char priv[160];

	T_OK(keyring_init(dir, JWS_EDDSA));
	snprintf(priv, sizeof(priv), "%s/private", dir);
	T(chmod(priv, 0755) == 0);
	T_OK(keyring_init(dir, JWS_EDDSA));
	T(mode_of(dir, "private%s", "") == 0700);
}

static void
test_persistence_and_signing(void)
{
	const char *dir = fresh_dir();
	struct keyring *kr, *pub;
	json_t *c, *doc;
	struct jws *j;
	char *t;

	T_OK(keyring_init(dir, JWS_RS256));
	T_OK(keyring_load(dir, KEYRING_PRIVATE, &kr));
	c = json_pack("{s:s}", "sub", "alice");
	T_OK(jws_sign_jwt(keyring_signer(kr), "at+jwt", c, &t));
	json_decref(c);
	keyring_free(kr);
	/* A public-only load of the same directory verifies it. */
	T_OK(keyring_load(dir, KEYRING_PUBLIC, &pub));
	T(keyring_signer(pub) == NULL);
	T(jwks_count(keyring_public(pub)) == 1);
	T_OK(jws_verify_compact(t, strlen(t), keyring_public(pub), &j));
	T_EQ_STR(json_string_value(json_object_get(j->claims, "sub")), "alice");
	jws_free(j);
	T_OK(keyring_jwks(pub, &doc));
	T(json_array_size(json_object_get(doc, "keys")) == 1);
	T_EQ_STR(json_string_value(json_object_get(json_array_get(
	    json_object_get(doc, "keys"), 0), "alg")), "RS256");
	T(json_object_get(json_array_get(json_object_get(doc, "keys"), 0),
	    "d") == NULL);
	json_decref(doc);
	keyring_free(pub);
	free(t);
}

static void
test_rotation_publishes_both(void)
{
	const char *dir = fresh_dir();
	struct keyring *kr, *kr2;
	json_t *c, *doc, *e;
	char *old, *nkid, *t_old, *t_new;
	struct jws *j;
	int64_t now;
	size_t i;

	T_OK(keyring_init(dir, JWS_ES256));
	T((old = active_kid(dir)) != NULL);
	T_OK(keyring_load(dir, KEYRING_PRIVATE, &kr));
	c = json_pack("{s:s}", "sub", "alice");
	T_OK(jws_sign_jwt(keyring_signer(kr), NULL, c, &t_old));
	T(!keyring_changed(kr));
	now = sf_now();
	T_OK(keyring_rotate(dir, JWS_EDDSA, 600, &nkid));
	T(strcmp(nkid, old) != 0);
	/* Not looked for yet within the 250 ms check interval... */
	T(!keyring_changed(kr));
	usleep(300000);
	/* ...and seen after it. */
	T(keyring_changed(kr));
	keyring_free(kr);
	T_OK(keyring_load(dir, KEYRING_PRIVATE, &kr2));
	T_EQ_STR(jwk_kid(keyring_signer(kr2)), nkid);
	T(jwk_alg(keyring_signer(kr2)) == JWS_EDDSA);
	T_OK(jws_sign_jwt(keyring_signer(kr2), NULL, c, &t_new));
	json_decref(c);
	/* Both the old and the new key's tokens verify. */
	T(jwks_count(keyring_public(kr2)) == 2);
	T_OK(jws_verify_compact(t_old, strlen(t_old), keyring_public(kr2), &j));
	jws_free(j);
	T_OK(jws_verify_compact(t_new, strlen(t_new), keyring_public(kr2), &j));
	jws_free(j);
	T_OK(keyring_jwks(kr2, &doc));
	T(json_array_size(json_object_get(doc, "keys")) == 2);
	json_decref(doc);
	/* keyring.json: the old key retired until now + ttl. */
	T_OK(keyring_list(dir, &doc));
	T(json_array_size(json_object_get(doc, "keys")) == 2);
	json_array_foreach(json_object_get(doc, "keys"), i, e) {
		const char *kid = json_string_value(json_object_get(e, "kid"));
		const char *st = json_string_value(json_object_get(e,
		    "state"));

		if (strcmp(kid, old) == 0) {
			T_EQ_STR(st, "retired");
			T(json_integer_value(json_object_get(e,
			    "publish_until")) >= now + 600);
			T(json_integer_value(json_object_get(e,
			    "publish_until")) <= sf_now() + 600);
		} else {
			T_EQ_STR(kid, nkid);
			T_EQ_STR(st, "active");
			T(json_object_get(e, "publish_until") == NULL);
		}
	}
	json_decref(doc);
	/* Pruning keeps a retired key that is still published. */
	T_OK(keyring_prune(dir, &i));
	T(i == 0);
	T(mode_of(dir, "public/%s.jwk", old) == 0644);
	keyring_free(kr2);
	free(t_old);
	free(t_new);
	free(old);
	free(nkid);
}

static void
test_prune_drops_expired(void)
{
	const char *dir = fresh_dir();
	struct keyring *kr;
	json_t *doc;
	char *k1, *k2, *k3;
	size_t n;

	T_OK(keyring_init(dir, JWS_ES256));
	T((k1 = active_kid(dir)) != NULL);
	/* ttl 0: retired and unpublished at once. */
	T_OK(keyring_rotate(dir, JWS_ALG_UNKNOWN, 0, &k2));
	T_OK(keyring_rotate(dir, JWS_ALG_UNKNOWN, 3600, &k3));
	T_OK(keyring_load(dir, KEYRING_PUBLIC, &kr));
	T(jwks_count(keyring_public(kr)) == 2);
	T(jwks_find(keyring_public(kr), k1) == NULL);
	T(jwks_find(keyring_public(kr), k2) != NULL);
	T(jwk_alg(jwks_find(keyring_public(kr), k3)) == JWS_ES256);
	keyring_free(kr);
	T(mode_of(dir, "private/%s.pem", k1) == 0600);
	T_OK(keyring_prune(dir, &n));
	T(n == 1);
	T(mode_of(dir, "private/%s.pem", k1) == 01000);
	T(mode_of(dir, "public/%s.jwk", k1) == 01000);
	T(mode_of(dir, "private/%s.pem", k2) == 0600);
	T_OK(keyring_list(dir, &doc));
	T(json_array_size(json_object_get(doc, "keys")) == 2);
	json_decref(doc);
	T_OK(keyring_prune(dir, &n));
	T(n == 0);
	free(k1);
	free(k2);
	free(k3);
}

static void
test_changed_on_expiry(void)
{
	const char *dir = fresh_dir();
	struct keyring *kr;
	json_t *doc;

	T_OK(keyring_init(dir, JWS_ES256));
	T_OK(keyring_rotate(dir, JWS_ES256, 1, NULL));
	T_OK(keyring_load(dir, KEYRING_PUBLIC, &kr));
	T(!keyring_changed(kr));
	T_OK(keyring_jwks(kr, &doc));
	T(json_array_size(json_object_get(doc, "keys")) == 2);
	json_decref(doc);
	sleep(2);
	/* The retired key's publication ended: reload, and gone already. */
	T(keyring_changed(kr));
	T_OK(keyring_jwks(kr, &doc));
	T(json_array_size(json_object_get(doc, "keys")) == 1);
	json_decref(doc);
	keyring_free(kr);
}

static void
test_private_file_mode_enforced(void)
{
	const char *dir = fresh_dir();
	struct keyring *kr;
	char path[256], *kid;

	T_OK(keyring_init(dir, JWS_ES384));
	T((kid = active_kid(dir)) != NULL);
	snprintf(path, sizeof(path), "%s/private/%s.pem", dir, kid);
	T(chmod(path, 0640) == 0);
	T(keyring_load(dir, KEYRING_PRIVATE, &kr) == SF_EKEY && kr == NULL);
	T_OK(keyring_load(dir, KEYRING_PUBLIC, &kr));
	keyring_free(kr);
	T(chmod(path, 0600) == 0);
	T_OK(keyring_load(dir, KEYRING_PRIVATE, &kr));
	keyring_free(kr);
	free(kid);
}

static void
test_tampering_detected(void)
{
	const char *dir = fresh_dir();
	struct keyring *kr;
	struct jwk *other;
	json_t *o;
	char path[256], *kid, *text;

	T_OK(keyring_init(dir, JWS_ES256));
	T((kid = active_kid(dir)) != NULL);
	/* The public file replaced by another key, even under our kid. */
	T_OK(jwk_generate(JWS_ES256, &other));
	T_OK(jwk_set_kid(other, kid));
	T_OK(jwk_to_json(other, &o));
	text = json_dumps(o, 0);
	snprintf(path, sizeof(path), "%s/public/%s.jwk", dir, kid);
	T_OK(sf_write_file(path, text, strlen(text), 0644));
	T(keyring_load(dir, KEYRING_PUBLIC, &kr) == SF_EKEY);
	json_decref(o);
	free(text);
	/* And the private file by another key (in a clean keyring). */
	dir = fresh_dir();
	T_OK(keyring_init(dir, JWS_ES256));
	free(kid);
	T((kid = active_kid(dir)) != NULL);
	T_OK(keyring_load(dir, KEYRING_PRIVATE, &kr));
	keyring_free(kr);
	snprintf(path, sizeof(path), "%s/private/%s.pem", dir, kid);
	T_OK(jwk_save_pem(other, path));
	jwk_free(other);
	T(keyring_load(dir, KEYRING_PRIVATE, &kr) == SF_EKEY);
	T(strstr(jose_why(), "does not hold") != NULL);
	T_OK(keyring_load(dir, KEYRING_PUBLIC, &kr));
	keyring_free(kr);
	free(kid);
}

static void
test_bad_keyring_json(void)
{
	static const char *const docs[] = {
		"{\"version\":2,\"keys\":[]}",
		"{\"version\":1}",
		"{\"version\":1,\"keys\":[{\"kid\":\"../../etc/passwd\","
		    "\"alg\":\"ES256\",\"state\":\"active\",\"created\":1}]}",
		"{\"version\":1,\"keys\":[{\"kid\":\"AAAAAAAAAAAAAAAAAAAAAAAAA"
		    "AAAAAAAAAAAAAAAAAA\",\"alg\":\"HS256\",\"state\":\"active\","
		    "\"created\":1}]}",
		"{\"version\":1,\"keys\":[{\"kid\":\"AAAAAAAAAAAAAAAAAAAAAAAAA"
		    "AAAAAAAAAAAAAAAAAA\",\"alg\":\"ES256\",\"state\":\"retired\","
		    "\"created\":1}]}",
		"{\"version\":1,\"keys\":[{\"kid\":\"AAAAAAAAAAAAAAAAAAAAAAAAA"
		    "AAAAAAAAAAAAAAAAAA\",\"alg\":\"ES256\",\"state\":\"active\","
		    "\"created\":1},{\"kid\":\"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
		    "AAAAAAAAAA\",\"alg\":\"ES256\",\"state\":\"retired\","
		    "\"created\":1,\"retired_at\":1,\"publish_until\":9}]}",
		"{\"version\":1,\"keys\":[],\"keys\":[]}",
		"not json",
	};
	const char *dir;
	struct keyring *kr;
	json_t *doc;
	char path[256];
	size_t i;

	for (i = 0; i < sizeof(docs) / sizeof(docs[0]); i++) {
		dir = fresh_dir();
		T_OK(keyring_init(dir, JWS_ES256));
		snprintf(path, sizeof(path), "%s/keyring.json", dir);
		T_OK(sf_write_file(path, docs[i], strlen(docs[i]), 0644));
		T(keyring_load(dir, KEYRING_PUBLIC, &kr) == SF_EPARSE);
		T(keyring_list(dir, &doc) == SF_EPARSE);
		/* A writer refuses to build on a damaged keyring. */
		T(keyring_rotate(dir, JWS_ES256, 60, NULL) == SF_EPARSE);
		T(keyring_init(dir, JWS_ES256) == SF_EPARSE);
	}
	T(keyring_load("/nonexistent/keys", KEYRING_PUBLIC, &kr) ==
	    SF_ENOTFOUND);
}

static void
test_concurrent_rotations(void)
{
	const char *dir = fresh_dir();
	json_t *doc, *e;
	pid_t pid[4];
	int status, i, nactive = 0;
	size_t k;

	T_OK(keyring_init(dir, JWS_ES256));
	/* Four processes rotate at once; the lock serialises them. */
	for (i = 0; i < 4; i++) {
		T((pid[i] = fork()) != -1);
		if (pid[i] == 0)
			_exit(keyring_rotate(dir, JWS_ES256, 600, NULL) ==
			    SF_OK ? 0 : 1);
	}
	for (i = 0; i < 4; i++) {
		T(waitpid(pid[i], &status, 0) == pid[i]);
		T(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	}
	T_OK(keyring_list(dir, &doc));
	T(json_array_size(json_object_get(doc, "keys")) == 5);
	json_array_foreach(json_object_get(doc, "keys"), k, e)
		nactive += strcmp(json_string_value(json_object_get(e,
		    "state")), "active") == 0;
	json_decref(doc);
	T(nactive == 1);
}

static void
test_bad_arguments(void)
{
	const char *dir = fresh_dir();

	T(keyring_init(dir, JWS_ALG_UNKNOWN) == SF_EINVAL);
	T(keyring_init(NULL, JWS_ES256) == SF_EINVAL);
	T(keyring_rotate(dir, JWS_ES256, -1, NULL) == SF_EINVAL);
	/* Rotating an empty directory with no algorithm to inherit. */
	T(keyring_rotate(dir, JWS_ALG_UNKNOWN, 60, NULL) == SF_EALG);
	keyring_free(NULL);
	T(keyring_signer(NULL) == NULL);
}

int
main(void)
{
	t_prog = "keyring";
	snprintf(base, sizeof(base), "/tmp/test_keyring.XXXXXX");
	if (mkdtemp(base) == NULL)
		return 1;
	RUN(test_init_layout_and_modes);
	RUN(test_private_dir_mode_restored);
	RUN(test_persistence_and_signing);
	RUN(test_rotation_publishes_both);
	RUN(test_prune_drops_expired);
	RUN(test_changed_on_expiry);
	RUN(test_private_file_mode_enforced);
	RUN(test_tampering_detected);
	RUN(test_bad_keyring_json);
	RUN(test_concurrent_rotations);
	RUN(test_bad_arguments);
	(void)nftw(base, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	return T_DONE();
}
