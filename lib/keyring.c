/*
 * keyring.c - this unit's signing keys in a directory.
 *
 *   DIR/keyring.json        {"version": 1, "keys": [{"kid", "alg",
 *                           "state": "active"|"retired", "created",
 *                           "retired_at", "publish_until"}]}   0644
 *   DIR/public/<kid>.jwk    public JWK                           0644
 *   DIR/private/<kid>.pem   PKCS#8 private key                   0600
 *   DIR/private/            0700
 *   DIR/.lock               flock(2) held by writers
 *
 * The kid is the key's RFC 7638 thumbprint, checked on every load.
 * keyring.json is the commit point: a new key's files are written
 * before it names them, and a pruned key's files are removed after it
 * stops naming them.  Every file is replaced atomically (sf_write_file).
 */
#include <sys/file.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "starfly.h"
#include "jose_int.h"

#define KEYRING_JSON		"keyring.json"
#define KEYRING_VERSION		1
#define KEYRING_MAX		(1024 * 1024)
#define KEYRING_LOCK_TRIES	200	/* 50 ms apart: 10 s */
#define KID_LEN			43	/* base64url of SHA-256 */

struct keyring {
	char		*dir;
	struct jwks	*pub;		/* active, then retired-unexpired */
	int64_t		*until;		/* publish_until per pub key */
	struct jwk	*signer;	/* active private key, or NULL */
	struct stat	 st;		/* of keyring.json when loaded */
	int64_t		 next_expiry;	/* earliest until, INT64_MAX none */
	uint64_t	 seal_gen;	/* seal_generation() when loaded */
	char		*json;		/* DIR/keyring.json */
	uint64_t	 checked_ns;	/* last stat of json (monotonic) */
};

/* How often keyring_changed looks at the disk: rotations propagate
 * within this, and the request path makes no syscall in between. */
#define KEYRING_CHECK_NS	250000000ull

/* A kid we put in a path: exactly a base64url SHA-256 thumbprint. */
static bool
kid_is_thumbprint(const char *kid)
{
	size_t i;

	if (strlen(kid) != KID_LEN)
		return false;
	for (i = 0; i < KID_LEN; i++) {
		unsigned char c = (unsigned char)kid[i];

		if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
		    (c >= '0' && c <= '9') || c == '-' || c == '_'))
			return false;
	}
	return true;
}

static int
key_path(const char *dir, const char *sub, const char *kid, const char *ext,
    char **out)
{
	return sf_asprintf(out, "%s/%s/%s.%s", dir, sub, kid, ext);
}

/*
 * mkdir -p; the last component gets mode when created, and is forced to
 * it when force (the private directory must stay 0700).
 */
static int
mkdir_mode(const char *path, unsigned int mode, bool force)
{
	char *p, *s;
	int rc = SF_OK;

	if ((p = sf_strdup(path)) == NULL)
		return SF_ENOMEM;
	for (s = p + 1; *s != '\0'; s++) {
		if (*s != '/')
			continue;
		*s = '\0';
		if (mkdir(p, 0755) == -1 && errno != EEXIST) {
			rc = jose_fail(SF_ESYS, "keyring: mkdir %s: %s", p,
			    strerror(errno));
			goto out;
		}
		*s = '/';
	}
	if (mkdir(p, (mode_t)mode) == 0)
		force = true;	/* whatever the umask took away */
	else if (errno != EEXIST) {
		rc = jose_fail(SF_ESYS, "keyring: mkdir %s: %s", p,
		    strerror(errno));
		goto out;
	}
	if (force && chmod(p, (mode_t)mode) == -1)
		rc = jose_fail(SF_ESYS, "keyring: chmod %s: %s", p,
		    strerror(errno));
out:
	free(p);
	return rc;
}

static int
make_dirs(const char *dir)
{
	char *sub = NULL;
	int rc;

	if ((rc = mkdir_mode(dir, 0755, false)) != SF_OK)
		return rc;
	if ((rc = sf_asprintf(&sub, "%s/public", dir)) != SF_OK)
		return rc;
	rc = mkdir_mode(sub, 0755, false);
	free(sub);
	if (rc != SF_OK)
		return rc;
	if ((rc = sf_asprintf(&sub, "%s/private", dir)) != SF_OK)
		return rc;
	rc = mkdir_mode(sub, 0700, true);
	free(sub);
	return rc;
}

/* Exclusive writer lock on DIR/.lock; *fd to close when done. */
static int
lock_dir(const char *dir, int *fd)
{
	char *path = NULL;
	int i, rc;

	*fd = -1;
	if ((rc = sf_asprintf(&path, "%s/.lock", dir)) != SF_OK)
		return rc;
	if ((*fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600)) == -1) {
		rc = jose_fail(SF_ESYS, "keyring: %s: %s", path,
		    strerror(errno));
		goto out;
	}
	for (i = 0; i < KEYRING_LOCK_TRIES; i++) {
		if (flock(*fd, LOCK_EX | LOCK_NB) == 0)
			goto out;
		if (errno != EWOULDBLOCK && errno != EINTR) {
			rc = jose_fail(SF_ESYS, "keyring: flock %s: %s", path,
			    strerror(errno));
			break;
		}
		(void)nanosleep(&(struct timespec){ 0, 50 * 1000 * 1000 },
		    NULL);
	}
	if (rc == SF_OK)
		rc = jose_fail(SF_EBUSY, "keyring: %s is held by another "
		    "writer", path);
	close(*fd);
	*fd = -1;
out:
	free(path);
	return rc;
}

static void
unlock_dir(int fd)
{
	if (fd != -1)
		close(fd);	/* releases the flock */
}

static bool
int_member(const json_t *o, const char *name, int64_t *v)
{
	json_t *m = json_object_get(o, name);

	if (!json_is_integer(m) || json_integer_value(m) < 0)
		return false;
	*v = (int64_t)json_integer_value(m);
	return true;
}

/* Check one keyring.json entry; *active tells its state. */
static int
check_entry(const json_t *e, bool *active)
{
	const char *kid, *alg, *state;
	int64_t t;

	kid = json_string_value(json_object_get(e, "kid"));
	alg = json_string_value(json_object_get(e, "alg"));
	state = json_string_value(json_object_get(e, "state"));
	if (!json_is_object(e) || kid == NULL || !kid_is_thumbprint(kid))
		return jose_fail(SF_EPARSE, "keyring: entry without a "
		    "thumbprint \"kid\"");
	if (alg == NULL || jws_alg_from_name(alg) == JWS_ALG_UNKNOWN)
		return jose_fail(SF_EPARSE, "keyring: key %s: bad \"alg\"",
		    kid);
	if (!int_member(e, "created", &t))
		return jose_fail(SF_EPARSE, "keyring: key %s: bad "
		    "\"created\"", kid);
	if (state != NULL && strcmp(state, "active") == 0)
		*active = true;
	else if (state != NULL && strcmp(state, "retired") == 0) {
		*active = false;
		if (!int_member(e, "retired_at", &t) ||
		    !int_member(e, "publish_until", &t))
			return jose_fail(SF_EPARSE, "keyring: key %s: retired "
			    "without \"retired_at\" and \"publish_until\"", kid);
	} else
		return jose_fail(SF_EPARSE, "keyring: key %s: bad \"state\"",
		    kid);
	return SF_OK;
}

/*
 * Read and check DIR/keyring.json.  *doc is new; SF_ENOTFOUND when the
 * file does not exist.  *st (optional) is its stat before reading.
 */
static int
read_doc(const char *dir, json_t **doc, struct stat *st)
{
	char *path = NULL, *buf = NULL, *why = NULL;
	json_t *keys, *e, *v;
	size_t len, i, j, nactive = 0;
	bool active = false;
	int rc;

	*doc = NULL;
	if ((rc = sf_asprintf(&path, "%s/%s", dir, KEYRING_JSON)) != SF_OK)
		return rc;
	if (st != NULL && stat(path, st) == -1) {
		rc = errno == ENOENT ? SF_ENOTFOUND : SF_ESYS;
		rc = jose_fail(rc, "keyring: %s: %s", path, strerror(errno));
		goto out;
	}
	if ((rc = sf_read_file(path, KEYRING_MAX, &buf, &len)) != SF_OK) {
		rc = jose_fail(rc, "keyring: cannot read %s", path);
		goto out;
	}
	if ((rc = json_parse_strict(buf, len, doc, &why)) != SF_OK) {
		rc = jose_fail(SF_EPARSE, "keyring: %s: %s", path, why);
		goto out;
	}
	v = json_object_get(*doc, "version");
	keys = json_object_get(*doc, "keys");
	if (!json_is_integer(v) || json_integer_value(v) != KEYRING_VERSION ||
	    !json_is_array(keys)) {
		rc = jose_fail(SF_EPARSE, "keyring: %s: not a version %d "
		    "keyring", path, KEYRING_VERSION);
		goto out;
	}
	json_array_foreach(keys, i, e) {
		if ((rc = check_entry(e, &active)) != SF_OK)
			goto out;
		nactive += active;
		for (j = 0; j < i; j++)
			if (strcmp(json_string_value(json_object_get(e, "kid")),
			    json_string_value(json_object_get(
			    json_array_get(keys, j), "kid"))) == 0) {
				rc = jose_fail(SF_EPARSE, "keyring: %s: "
				    "duplicate kid", path);
				goto out;
			}
	}
	if (nactive > 1) {
		rc = jose_fail(SF_EPARSE, "keyring: %s: %zu active keys", path,
		    nactive);
		goto out;
	}
	rc = SF_OK;
out:
	if (rc != SF_OK) {
		json_decref(*doc);
		*doc = NULL;
	}
	free(why);
	free(buf);
	free(path);
	return rc;
}

static int
write_doc(const char *dir, const json_t *doc)
{
	char *path = NULL, *text = NULL;
	int rc;

	if ((rc = sf_asprintf(&path, "%s/%s", dir, KEYRING_JSON)) != SF_OK)
		return rc;
	if ((text = json_dumps(doc, JSON_INDENT(2))) == NULL) {
		rc = SF_ENOMEM;
		goto out;
	}
	if ((rc = sf_write_file(path, text, strlen(text), 0644)) != SF_OK)
		rc = jose_fail(rc, "keyring: cannot write %s", path);
out:
	free(text);
	free(path);
	return rc;
}

static json_t *
new_doc(void)
{
	return json_pack("{s:i, s:[]}", "version", KEYRING_VERSION, "keys");
}

/* The active entry of doc, or NULL. */
static json_t *
active_entry(const json_t *doc)
{
	json_t *e;
	size_t i;

	json_array_foreach(json_object_get(doc, "keys"), i, e)
		if (strcmp(json_string_value(json_object_get(e, "state")),
		    "active") == 0)
			return e;
	return NULL;
}

/*
 * Generate a key, write its files, and append it to doc as active.
 * *kid (optional) is new.
 */
static int
add_active(const char *dir, json_t *doc, enum jws_alg alg, int64_t now,
    char **kid)
{
	struct jwk *key = NULL;
	json_t *pub = NULL, *e = NULL;
	char *path = NULL, *text = NULL;
	size_t i;
	int rc;

	if (kid != NULL)
		*kid = NULL;
	if ((rc = jwk_generate(alg, &key)) != SF_OK)
		return rc;
	json_array_foreach(json_object_get(doc, "keys"), i, e)
		if (strcmp(json_string_value(json_object_get(e, "kid")),
		    jwk_kid(key)) == 0) {
			rc = jose_fail(SF_EEXIST, "keyring: key %s exists",
			    jwk_kid(key));
			e = NULL;
			goto out;
		}
	e = NULL;
	/* A sealing unit keeps private keys encrypted (lib/seal.c). */
	if (seal_wraps_keys(dir))
		rc = seal_key_save(dir, key);
	else if ((rc = key_path(dir, "private", jwk_kid(key), "pem", &path))
	    == SF_OK)
		rc = jwk_save_pem(key, path);
	if (rc != SF_OK)
		goto out;
	free(path);
	path = NULL;
	if ((rc = jwk_to_json(key, &pub)) != SF_OK ||
	    (rc = key_path(dir, "public", jwk_kid(key), "jwk", &path)) != SF_OK)
		goto out;
	if ((text = json_dumps(pub, JSON_INDENT(2))) == NULL) {
		rc = SF_ENOMEM;
		goto out;
	}
	if ((rc = sf_write_file(path, text, strlen(text), 0644)) != SF_OK) {
		rc = jose_fail(rc, "keyring: cannot write %s", path);
		goto out;
	}
	if ((e = json_pack("{s:s, s:s, s:s, s:I}", "kid", jwk_kid(key), "alg",
	    jws_alg_name(alg), "state", "active", "created",
	    (json_int_t)now)) == NULL ||
	    json_array_append_new(json_object_get(doc, "keys"), e) != 0) {
		rc = SF_ENOMEM;
		goto out;
	}
	if (kid != NULL && (*kid = sf_strdup(jwk_kid(key))) == NULL) {
		rc = SF_ENOMEM;
		goto out;
	}
	rc = SF_OK;
out:
	json_decref(pub);
	free(text);
	free(path);
	jwk_free(key);
	return rc;
}

/* Read the document for a writer; a missing file is an empty keyring. */
static int
read_doc_or_new(const char *dir, json_t **doc)
{
	int rc;

	if ((rc = read_doc(dir, doc, NULL)) != SF_ENOTFOUND)
		return rc;
	if ((*doc = new_doc()) == NULL)
		return SF_ENOMEM;
	return SF_OK;
}

int
keyring_init(const char *dir, enum jws_alg alg)
{
	json_t *doc = NULL;
	int fd = -1, rc;

	if (dir == NULL || jose_alg_info(alg) == NULL)
		return jose_fail(SF_EINVAL, "keyring: no directory or "
		    "unsupported algorithm");
	if ((rc = make_dirs(dir)) != SF_OK || (rc = lock_dir(dir, &fd)) !=
	    SF_OK)
		return rc;
	if ((rc = read_doc_or_new(dir, &doc)) != SF_OK)
		goto out;
	if (active_entry(doc) != NULL)
		goto out;
	if ((rc = add_active(dir, doc, alg, sf_now(), NULL)) != SF_OK ||
	    (rc = write_doc(dir, doc)) != SF_OK)
		goto out;
out:
	json_decref(doc);
	unlock_dir(fd);
	return rc;
}

int
keyring_rotate(const char *dir, enum jws_alg alg, int64_t max_token_ttl,
    char **new_kid)
{
	json_t *doc = NULL, *act;
	int64_t now = sf_now();
	int fd = -1, rc;

	if (new_kid != NULL)
		*new_kid = NULL;
	if (dir == NULL || max_token_ttl < 0 ||
	    max_token_ttl > INT64_MAX / 2 - now)
		return jose_fail(SF_EINVAL, "keyring: bad directory or ttl");
	if ((rc = make_dirs(dir)) != SF_OK || (rc = lock_dir(dir, &fd)) !=
	    SF_OK)
		return rc;
	if ((rc = read_doc_or_new(dir, &doc)) != SF_OK)
		goto out;
	act = active_entry(doc);
	if (alg == JWS_ALG_UNKNOWN && act != NULL)
		alg = jws_alg_from_name(json_string_value(json_object_get(act,
		    "alg")));
	if (jose_alg_info(alg) == NULL) {
		rc = jose_fail(SF_EALG, "keyring: no algorithm for the new "
		    "key");
		goto out;
	}
	/* The retired key stays published while its tokens may live. */
	if (act != NULL && (json_object_set_new(act, "state",
	    json_string("retired")) != 0 ||
	    json_object_set_new(act, "retired_at", json_integer(now)) != 0 ||
	    json_object_set_new(act, "publish_until",
	    json_integer(now + max_token_ttl)) != 0)) {
		rc = SF_ENOMEM;
		goto out;
	}
	if ((rc = add_active(dir, doc, alg, now, new_kid)) != SF_OK)
		goto out;
	if ((rc = write_doc(dir, doc)) != SF_OK && new_kid != NULL) {
		free(*new_kid);
		*new_kid = NULL;
	}
out:
	json_decref(doc);
	unlock_dir(fd);
	return rc;
}

static void
remove_key_files(const char *dir, const char *kid)
{
	char *path = NULL;

	if (key_path(dir, "private", kid, "pem", &path) == SF_OK)
		(void)unlink(path);
	free(path);
	path = NULL;
	if (key_path(dir, "public", kid, "jwk", &path) == SF_OK)
		(void)unlink(path);
	free(path);
	path = NULL;
	if (seal_key_path(dir, kid, &path) == SF_OK)
		(void)unlink(path);
	free(path);
}

int
keyring_prune(const char *dir, size_t *pruned)
{
	json_t *doc = NULL, *keys, *e, *gone = NULL;
	int64_t until, now = sf_now();
	size_t i;
	int fd = -1, rc;

	if (pruned != NULL)
		*pruned = 0;
	if (dir == NULL)
		return jose_fail(SF_EINVAL, "keyring: no directory");
	if ((rc = lock_dir(dir, &fd)) != SF_OK)
		return rc;
	if ((rc = read_doc(dir, &doc, NULL)) != SF_OK)
		goto out;
	if ((gone = json_array()) == NULL) {
		rc = SF_ENOMEM;
		goto out;
	}
	keys = json_object_get(doc, "keys");
	for (i = 0; i < json_array_size(keys); ) {
		e = json_array_get(keys, i);
		if (int_member(e, "publish_until", &until) && until <= now &&
		    strcmp(json_string_value(json_object_get(e, "state")),
		    "retired") == 0) {
			if (json_array_append(gone, json_object_get(e, "kid")) !=
			    0 || json_array_remove(keys, i) != 0) {
				rc = SF_ENOMEM;
				goto out;
			}
			continue;
		}
		i++;
	}
	if (json_array_size(gone) == 0)
		goto out;
	if ((rc = write_doc(dir, doc)) != SF_OK)
		goto out;
	json_array_foreach(gone, i, e)
		remove_key_files(dir, json_string_value(e));
	if (pruned != NULL)
		*pruned = json_array_size(gone);
out:
	json_decref(gone);
	json_decref(doc);
	unlock_dir(fd);
	return rc;
}

int
keyring_list(const char *dir, json_t **out)
{
	*out = NULL;
	if (dir == NULL)
		return jose_fail(SF_EINVAL, "keyring: no directory");
	return read_doc(dir, out, NULL);
}

int
keyring_active_kid(const char *dir, char **kid)
{
	json_t *doc, *act;
	int rc;

	*kid = NULL;
	if ((rc = keyring_list(dir, &doc)) != SF_OK)
		return rc;
	if ((act = active_entry(doc)) == NULL)
		rc = jose_fail(SF_ENOTFOUND, "keyring: %s has no active key",
		    dir);
	else if ((*kid = sf_strdup(json_string_value(json_object_get(act,
	    "kid")))) == NULL)
		rc = SF_ENOMEM;
	json_decref(doc);
	return rc;
}

/* Load the public JWK of entry e; its thumbprint must be its kid. */
static int
load_public(const char *dir, const char *kid, enum jws_alg alg,
    struct jwk **out)
{
	char *path = NULL, *buf = NULL, *why = NULL;
	json_t *obj = NULL;
	size_t len;
	int rc;

	*out = NULL;
	if ((rc = key_path(dir, "public", kid, "jwk", &path)) != SF_OK)
		return rc;
	if ((rc = sf_read_file(path, KEYRING_MAX, &buf, &len)) != SF_OK) {
		rc = jose_fail(rc, "keyring: cannot read %s", path);
		goto out;
	}
	if ((rc = json_parse_strict(buf, len, &obj, &why)) != SF_OK) {
		rc = jose_fail(rc, "keyring: %s: %s", path, why);
		goto out;
	}
	if ((rc = jwk_parse(obj, alg, false, out)) != SF_OK)
		goto out;
	if (jwk_alg(*out) != alg || strcmp((*out)->thumb, kid) != 0) {
		rc = jose_fail(SF_EKEY, "keyring: %s does not hold key %s (%s)",
		    path, kid, jws_alg_name(alg));
		goto out;
	}
	rc = jwk_set_kid(*out, kid);
out:
	if (rc != SF_OK) {
		jwk_free(*out);
		*out = NULL;
	}
	json_decref(obj);
	free(why);
	free(buf);
	free(path);
	return rc;
}

/* The active private key; refuses files others could read. */
static int
load_private(const char *dir, const char *kid, enum jws_alg alg,
    struct jwk **out)
{
	char *path = NULL;
	struct stat st;
	int rc;

	*out = NULL;
	if ((rc = sf_asprintf(&path, "%s/private", dir)) != SF_OK)
		return rc;
	if (stat(path, &st) == -1 || (st.st_mode & 077) != 0) {
		rc = jose_fail(SF_EKEY, "keyring: %s is missing or open to "
		    "group or others", path);
		goto out;
	}
	free(path);
	if ((rc = key_path(dir, "private", kid, "pem", &path)) != SF_OK)
		return rc;
	if (stat(path, &st) == -1 || (st.st_mode & 077) != 0) {
		rc = jose_fail(SF_EKEY, "keyring: %s is missing or open to "
		    "group or others", path);
		goto out;
	}
	if ((rc = jwk_load_pem(path, alg, out)) != SF_OK)
		goto out;
	if (strcmp((*out)->thumb, kid) != 0) {
		rc = jose_fail(SF_EKEY, "keyring: %s does not hold key %s",
		    path, kid);
		goto out;
	}
	rc = jwk_set_kid(*out, kid);
out:
	if (rc != SF_OK) {
		jwk_free(*out);
		*out = NULL;
	}
	free(path);
	return rc;
}

/*
 * The signer: sealed (lib/seal.c) or PEM.  While the unit is sealed the
 * keyring loads without a signer (keyring_signer is NULL).
 */
static int
load_signer(const char *dir, const char *kid, enum jws_alg alg,
    struct jwk **out)
{
	int rc;

	if (!seal_wraps_keys(dir))
		return load_private(dir, kid, alg, out);
	rc = seal_key_load(dir, kid, alg, out);
	return rc == SF_ESEALED ? SF_OK : rc;
}

int
keyring_load(const char *dir, enum keyring_flags flags, struct keyring **out)
{
	struct keyring *kr = NULL;
	json_t *doc = NULL, *e, *act;
	struct jwk *key;
	int64_t until, now = sf_now();
	enum jws_alg alg;
	const char *kid;
	size_t i, n = 0;
	int rc;

	*out = NULL;
	if (dir == NULL)
		return jose_fail(SF_EINVAL, "keyring: no directory");
	if ((kr = calloc(1, sizeof(*kr))) == NULL)
		return SF_ENOMEM;
	kr->next_expiry = INT64_MAX;
	kr->seal_gen = seal_generation();
	kr->checked_ns = sf_mono_ns();
	if ((kr->dir = sf_strdup(dir)) == NULL || jwks_new(&kr->pub) != SF_OK ||
	    sf_asprintf(&kr->json, "%s/%s", dir, KEYRING_JSON) != SF_OK) {
		rc = SF_ENOMEM;
		goto out;
	}
	if ((rc = read_doc(dir, &doc, &kr->st)) != SF_OK)
		goto out;
	if ((act = active_entry(doc)) == NULL) {
		rc = jose_fail(SF_ENOTFOUND, "keyring: %s has no active key",
		    dir);
		goto out;
	}
	if ((kr->until = calloc(json_array_size(json_object_get(doc, "keys")),
	    sizeof(*kr->until))) == NULL) {
		rc = SF_ENOMEM;
		goto out;
	}
	/* The active key first, then retired keys still published. */
	for (i = 0; i <= json_array_size(json_object_get(doc, "keys")); i++) {
		e = i == 0 ? act : json_array_get(json_object_get(doc, "keys"),
		    i - 1);
		if (i > 0 && e == act)
			continue;
		until = INT64_MAX;
		if (e != act) {
			(void)int_member(e, "publish_until", &until);
			if (until <= now)
				continue;
		}
		kid = json_string_value(json_object_get(e, "kid"));
		alg = jws_alg_from_name(json_string_value(json_object_get(e,
		    "alg")));
		if ((rc = load_public(dir, kid, alg, &key)) != SF_OK) {
			/* A retired key may be pruned under our feet. */
			if (e != act && rc == SF_ENOTFOUND)
				continue;
			goto out;
		}
		if ((rc = jwks_add(kr->pub, key)) != SF_OK)
			goto out;
		kr->until[n++] = until;
		if (until < kr->next_expiry)
			kr->next_expiry = until;
		if (e == act && (flags & KEYRING_PRIVATE) != 0 &&
		    (rc = load_signer(dir, kid, alg, &kr->signer)) != SF_OK)
			goto out;
	}
	*out = kr;
	kr = NULL;
	rc = SF_OK;
out:
	json_decref(doc);
	keyring_free(kr);
	return rc;
}

const struct jwk *
keyring_signer(const struct keyring *kr)
{
	return kr == NULL ? NULL : kr->signer;
}

const struct jwks *
keyring_public(const struct keyring *kr)
{
	return kr == NULL ? NULL : kr->pub;
}

int
keyring_jwks(const struct keyring *kr, json_t **out)
{
	json_t *doc = NULL, *keys, *k;
	int64_t now = sf_now();
	size_t i;
	int rc;

	*out = NULL;
	if (kr == NULL)
		return SF_EINVAL;
	if ((rc = jwks_to_json(kr->pub, &doc)) != SF_OK)
		return rc;
	/* Drop what expired since the load (the index follows kr->pub). */
	keys = json_object_get(doc, "keys");
	for (i = jwks_count(kr->pub); i-- > 0; ) {
		k = json_array_get(keys, i);
		if (k != NULL && kr->until[i] <= now &&
		    json_array_remove(keys, i) != 0) {
			json_decref(doc);
			return SF_ENOMEM;
		}
	}
	*out = doc;
	return SF_OK;
}

bool
keyring_changed(const struct keyring *kr)
{
	struct keyring *w = (struct keyring *)kr;
	struct stat st;
	uint64_t now;

	if (kr == NULL)
		return true;
	if (seal_generation() != kr->seal_gen)
		return true;
	/* One clock read per request; the disk at most every 250 ms. */
	now = sf_mono_ns();
	if (now - kr->checked_ns < KEYRING_CHECK_NS)
		return false;
	w->checked_ns = now;
	if (sf_now() >= kr->next_expiry)
		return true;
	return stat(kr->json, &st) == -1 || st.st_ino != kr->st.st_ino ||
	    st.st_dev != kr->st.st_dev || st.st_size != kr->st.st_size ||
	    st.st_mtim.tv_sec != kr->st.st_mtim.tv_sec ||
	    st.st_mtim.tv_nsec != kr->st.st_mtim.tv_nsec;
}

void
keyring_free(struct keyring *kr)
{
	if (kr == NULL)
		return;
	jwks_free(kr->pub);
	jwk_free(kr->signer);
	free(kr->json);
	free(kr->until);
	free(kr->dir);
	free(kr);
}
