/*
 * seal.c - private keys encrypted at rest; seal and unseal.
 *
 *   keys_dir/seal.json            {"version":1, "kdf":"scrypt", "n", "r",
 *                                 "p", "salt", "aead":"AES-256-GCM",
 *                                 "check", "wrap"}            0600
 *   keys_dir/private/<kid>.sealed "SFSEAL1\n" || nonce(12) || ciphertext
 *                                 || tag(16); the plaintext is the
 *                                 PKCS#8 DER, the AAD "starfly-key-v1:"
 *                                 || kid                       0600
 *   /dev/shm/starfly-seal-<16 hex of SHA-256(realpath keys_dir)>
 *                                 struct seal_shm               0600
 *
 * KEK = scrypt(unseal key, salt, N=2^15, r=8, p=1) (RFC 7914), 32 bytes.
 * "check" is AES-256-GCM of a constant under the KEK: its tag tells a
 * right key from a wrong one without storing anything derived from the
 * key alone.  The segment holds the sealed flag, a generation bumped by
 * each change, the wrong-key counter and, while unsealed, the KEK.
 * Writers (seal, unseal, setup) take flock on the segment; readers copy
 * the KEK between two reads of the generation (odd while it changes).
 */
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <openssl/sha.h>

#include "starfly.h"
#include "jose_int.h"

#define SEAL_MAGIC	0x534653454132ull	/* "SFSEA2" */
#define SEAL_JSON	"seal.json"
#define SEAL_FILE_MAGIC	"SFSEAL1\n"
#define SEAL_N		32768
#define SEAL_R		8
#define SEAL_P		1
#define KEK_LEN		32
#define NONCE_LEN	12
#define TAG_LEN		16
#define SALT_LEN	16
#define CHECK_TEXT	"starfly unseal check v1"
#define CHECK_AAD	"starfly-seal-check"
#define KEY_AAD		"starfly-key-v1:"
#define KEY_MIN		16
#define KEY_MAX		1024
#define MAX_DELAY	60

struct seal_shm {
	uint64_t	 magic;
	uint32_t	 sealed;
	uint32_t	 wraps;
	uint64_t	 gen;		/* odd while the KEK changes */
	uint32_t	 failures;
	uint64_t	 not_before;	/* next unseal try, CLOCK_MONOTONIC ns */
	int64_t		 changed;
	unsigned char	 kek[KEK_LEN];
};

static struct {
	struct seal_shm	*shm;
	int		 fd;
	char		 dir[PATH_MAX];	/* realpath of keys_dir */
	char		 path[PATH_MAX];	/* the segment's file */
} g = { NULL, -1, "", "" };

/* The segment's name for keys_dir; SF_ENOTFOUND if it does not exist. */
static int
seg_name(const char *keys_dir, char real[PATH_MAX], char name[64])
{
	unsigned char md[SHA256_DIGEST_LENGTH];

	if (realpath(keys_dir, real) == NULL)
		return errno == ENOENT ? SF_ENOTFOUND : SF_ESYS;
	SHA256((const unsigned char *)real, strlen(real), md);
	snprintf(name, 64, "/starfly-seal-%02x%02x%02x%02x%02x%02x%02x%02x",
	    md[0], md[1], md[2], md[3], md[4], md[5], md[6], md[7]);
	return SF_OK;
}

/*
 * Map the segment of keys_dir (once per process).  Production: POSIX
 * shared memory (tmpfs).  Dev (run_dir given): run_dir/seal.shm, which
 * goes with the unit's state; dev keys are not wrapped, so the KEK there
 * protects nothing.
 */
static int
seg_map(const char *keys_dir, const char *run_dir, bool dev)
{
	char real[PATH_MAX], name[64], *path = NULL;
	struct stat st;
	void *p;
	int fd, rc;

	if ((rc = seg_name(keys_dir, real, name)) != SF_OK)
		return rc;
	if (g.shm != NULL) {
		if (strcmp(g.dir, real) == 0)
			return SF_OK;
		munmap(g.shm, sizeof(*g.shm));
		close(g.fd);
		g.shm = NULL;
	}
	if (dev && run_dir != NULL) {
		if (sf_asprintf(&path, "%s/seal.shm", run_dir) != SF_OK)
			return SF_ENOMEM;
		snprintf(name, 64, "%s", "");
		fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	} else
		fd = shm_open(name, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (fd == -1) {
		log_err("seal: open %s: %s", path ? path : name,
		    strerror(errno));
		free(path);
		return SF_ESYS;
	}
	if (path != NULL)
		sf_strlcpy(g.path, path, sizeof(g.path));
	else
		snprintf(g.path, sizeof(g.path), "/dev/shm%s", name);
	free(path);
	errno = 0;
	if (flock(fd, LOCK_EX) == -1 || fstat(fd, &st) == -1 ||
	    (st.st_mode & 077) != 0 || st.st_uid != geteuid() ||
	    ((size_t)st.st_size < sizeof(struct seal_shm) &&
	    ftruncate(fd, (off_t)sizeof(struct seal_shm)) == -1)) {
		log_err("seal: %s: %s", g.path, errno ? strerror(errno) :
		    "not ours or open to others");
		close(fd);
		return SF_ESYS;
	}
	p = mmap(NULL, sizeof(struct seal_shm), PROT_READ | PROT_WRITE,
	    MAP_SHARED, fd, 0);
	if (p == MAP_FAILED) {
		close(fd);
		return SF_ESYS;
	}
	/* The KEK never goes to swap or a core file if we can help it. */
	(void)mlock(p, sizeof(struct seal_shm));
	(void)madvise(p, sizeof(struct seal_shm), MADV_DONTDUMP);
	g.shm = p;
	if (g.shm->magic != SEAL_MAGIC) {
		memset(g.shm, 0, sizeof(*g.shm));
		g.shm->sealed = dev ? 0 : 1;
		g.shm->wraps = dev ? 0 : 1;
		g.shm->gen = 2;
		g.shm->changed = sf_now();
		g.shm->magic = SEAL_MAGIC;
	}
	(void)flock(fd, LOCK_UN);
	g.fd = fd;
	sf_strlcpy(g.dir, real, sizeof(g.dir));
	return SF_OK;
}

int
seal_open(const struct sf_conf *c)
{
	if (c == NULL || c->keys_dir == NULL)
		return SF_EINVAL;
	return seg_map(c->keys_dir, c->run_dir, c->mode == SF_MODE_DEV);
}

bool
seal_is_sealed(void)
{
	return g.shm != NULL &&
	    __atomic_load_n(&g.shm->sealed, __ATOMIC_ACQUIRE) != 0;
}

uint64_t
seal_generation(void)
{
	return g.shm != NULL ?
	    __atomic_load_n(&g.shm->gen, __ATOMIC_ACQUIRE) : 0;
}

/* Copy the KEK out (seqlock read); SF_ESEALED while sealed. */
static int
kek_get(unsigned char kek[KEK_LEN])
{
	uint64_t g1, g2;
	int tries;

	for (tries = 0; tries < 1000; tries++) {
		if (g.shm == NULL || seal_is_sealed())
			return SF_ESEALED;
		g1 = __atomic_load_n(&g.shm->gen, __ATOMIC_ACQUIRE);
		if (g1 & 1)
			continue;
		memcpy(kek, g.shm->kek, KEK_LEN);
		__atomic_thread_fence(__ATOMIC_ACQUIRE);
		g2 = __atomic_load_n(&g.shm->gen, __ATOMIC_ACQUIRE);
		if (g1 == g2 && !seal_is_sealed())
			return SF_OK;
	}
	OPENSSL_cleanse(kek, KEK_LEN);
	return SF_EBUSY;
}

/* Under flock: set or wipe the KEK and the flag. */
static void
kek_set(const unsigned char *kek)
{
	__atomic_add_fetch(&g.shm->gen, 1, __ATOMIC_ACQ_REL);	/* odd */
	if (kek != NULL) {
		memcpy(g.shm->kek, kek, KEK_LEN);
		__atomic_store_n(&g.shm->sealed, 0, __ATOMIC_RELEASE);
	} else {
		__atomic_store_n(&g.shm->sealed, 1, __ATOMIC_RELEASE);
		OPENSSL_cleanse(g.shm->kek, KEK_LEN);
	}
	g.shm->changed = sf_now();
	__atomic_add_fetch(&g.shm->gen, 1, __ATOMIC_ACQ_REL);	/* even */
}

/* RFC 7914 scrypt through OpenSSL's KDF. */
static int
derive(const char *key, const unsigned char *salt, size_t saltlen,
    uint64_t n, uint32_t r, uint32_t p, unsigned char kek[KEK_LEN])
{
	OSSL_PARAM params[7], *q = params;
	EVP_KDF_CTX *kctx = NULL;
	EVP_KDF *kdf;
	uint64_t maxmem = 256ull * 1024 * 1024;
	int rc = SF_ECRYPTO;

	if ((kdf = EVP_KDF_fetch(NULL, "SCRYPT", NULL)) == NULL)
		return SF_ECRYPTO;
	kctx = EVP_KDF_CTX_new(kdf);
	EVP_KDF_free(kdf);
	if (kctx == NULL)
		return SF_ENOMEM;
	*q++ = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_PASSWORD,
	    (void *)(uintptr_t)key, strlen(key));
	*q++ = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SALT,
	    (void *)(uintptr_t)salt, saltlen);
	*q++ = OSSL_PARAM_construct_uint64(OSSL_KDF_PARAM_SCRYPT_N, &n);
	*q++ = OSSL_PARAM_construct_uint32(OSSL_KDF_PARAM_SCRYPT_R, &r);
	*q++ = OSSL_PARAM_construct_uint32(OSSL_KDF_PARAM_SCRYPT_P, &p);
	*q++ = OSSL_PARAM_construct_uint64(OSSL_KDF_PARAM_SCRYPT_MAXMEM,
	    &maxmem);
	*q = OSSL_PARAM_construct_end();
	if (EVP_KDF_derive(kctx, kek, KEK_LEN, params) == 1)
		rc = SF_OK;
	EVP_KDF_CTX_free(kctx);
	return rc;
}

/* AES-256-GCM; out = nonce || ct || tag (inlen + 28 bytes). */
static int
gcm_seal(const unsigned char kek[KEK_LEN], const void *aad, size_t aadlen,
    const unsigned char *in, size_t inlen, unsigned char *out)
{
	EVP_CIPHER_CTX *ctx;
	int n, rc = SF_ECRYPTO;

	if (inlen > INT32_MAX || aadlen > INT32_MAX)
		return SF_ETOOBIG;
	if (sf_random(out, NONCE_LEN) != SF_OK)
		return SF_ECRYPTO;
	if ((ctx = EVP_CIPHER_CTX_new()) == NULL)
		return SF_ENOMEM;
	if (EVP_EncryptInit_ex(ctx, EVP_aes_256_gcm(), NULL, kek, out) == 1 &&
	    EVP_EncryptUpdate(ctx, NULL, &n, aad, (int)aadlen) == 1 &&
	    EVP_EncryptUpdate(ctx, out + NONCE_LEN, &n, in, (int)inlen) == 1 &&
	    EVP_EncryptFinal_ex(ctx, out + NONCE_LEN + n, &n) == 1 &&
	    EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, TAG_LEN,
	    out + NONCE_LEN + inlen) == 1)
		rc = SF_OK;
	EVP_CIPHER_CTX_free(ctx);
	return rc;
}

/* Inverse of gcm_seal; out has inlen - 28 bytes; SF_EDENIED on a bad tag. */
static int
gcm_open(const unsigned char kek[KEK_LEN], const void *aad, size_t aadlen,
    const unsigned char *in, size_t inlen, unsigned char *out)
{
	EVP_CIPHER_CTX *ctx;
	size_t ctlen;
	int n, rc = SF_ECRYPTO;

	if (inlen < NONCE_LEN + TAG_LEN || inlen > INT32_MAX ||
	    aadlen > INT32_MAX)
		return SF_EPARSE;
	ctlen = inlen - NONCE_LEN - TAG_LEN;
	if ((ctx = EVP_CIPHER_CTX_new()) == NULL)
		return SF_ENOMEM;
	if (EVP_DecryptInit_ex(ctx, EVP_aes_256_gcm(), NULL, kek, in) != 1 ||
	    EVP_DecryptUpdate(ctx, NULL, &n, aad, (int)aadlen) != 1 ||
	    EVP_DecryptUpdate(ctx, out, &n, in + NONCE_LEN, (int)ctlen) != 1 ||
	    EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, TAG_LEN,
	    (void *)(uintptr_t)(in + NONCE_LEN + ctlen)) != 1)
		goto out;
	rc = EVP_DecryptFinal_ex(ctx, out + n, &n) == 1 ? SF_OK : SF_EDENIED;
out:
	EVP_CIPHER_CTX_free(ctx);
	return rc;
}

struct seal_conf {
	uint64_t	 n;
	uint32_t	 r, p;
	unsigned char	*salt, *check;
	size_t		 saltlen, checklen;
	bool		 wrap;
};

static void
sconf_clear(struct seal_conf *s)
{
	free(s->salt);
	free(s->check);
	memset(s, 0, sizeof(*s));
}

static int
json_path(const char *keys_dir, char **out)
{
	return sf_asprintf(out, "%s/%s", keys_dir, SEAL_JSON);
}

/* Read keys_dir/seal.json; SF_ENOTFOUND when absent. */
static int
sconf_read(const char *keys_dir, struct seal_conf *s)
{
	char *path = NULL, *buf = NULL, *why = NULL;
	const char *salt, *check, *kdf, *aead;
	json_t *doc = NULL;
	json_int_t n, r, p;
	size_t len;
	int rc, wrap, version;

	memset(s, 0, sizeof(*s));
	if ((rc = json_path(keys_dir, &path)) != SF_OK)
		return rc;
	if ((rc = sf_read_file(path, 65536, &buf, &len)) != SF_OK)
		goto out;
	if ((rc = json_parse_strict(buf, len, &doc, &why)) != SF_OK ||
	    json_unpack(doc, "{s:i, s:s, s:I, s:I, s:I, s:s, s:s, s:s, s:b}",
	    "version", &version, "kdf", &kdf, "n", &n, "r", &r, "p", &p,
	    "salt", &salt, "aead", &aead, "check", &check, "wrap", &wrap) !=
	    0 || version != 1 || strcmp(kdf, "scrypt") != 0 ||
	    strcmp(aead, "AES-256-GCM") != 0 ||
	    n < 1024 || n > (1 << 22) || (n & (n - 1)) != 0 || r < 1 ||
	    r > 32 || p < 1 || p > 16) {
		log_err("seal: %s is not a seal configuration this version "
		    "reads", path);
		rc = SF_EPARSE;
		goto out;
	}
	s->n = (uint64_t)n;
	s->r = (uint32_t)r;
	s->p = (uint32_t)p;
	s->wrap = wrap != 0;
	if ((rc = b64url_decode(salt, strlen(salt), &s->salt, &s->saltlen)) !=
	    SF_OK || (rc = b64url_decode(check, strlen(check), &s->check,
	    &s->checklen)) != SF_OK || s->saltlen < SALT_LEN ||
	    s->checklen != NONCE_LEN + sizeof(CHECK_TEXT) - 1 + TAG_LEN) {
		log_err("seal: %s: bad salt or check", path);
		rc = SF_EPARSE;
		goto out;
	}
	rc = SF_OK;
out:
	if (rc != SF_OK)
		sconf_clear(s);
	json_decref(doc);
	free(why);
	free(buf);
	free(path);
	return rc;
}

/* Derive the KEK from key and check it against seal.json. */
static int
kek_from_key(const struct seal_conf *s, const char *key,
    unsigned char kek[KEK_LEN])
{
	unsigned char pt[sizeof(CHECK_TEXT)];
	int rc;

	if ((rc = derive(key, s->salt, s->saltlen, s->n, s->r, s->p, kek)) !=
	    SF_OK)
		return rc;
	rc = gcm_open(kek, CHECK_AAD, sizeof(CHECK_AAD) - 1, s->check,
	    s->checklen, pt);
	if (rc == SF_OK && !sf_memeq_ct(pt, CHECK_TEXT,
	    sizeof(CHECK_TEXT) - 1))
		rc = SF_EDENIED;
	if (rc != SF_OK)
		OPENSSL_cleanse(kek, KEK_LEN);
	OPENSSL_cleanse(pt, sizeof(pt));
	return rc;
}

bool
seal_wraps_keys(const char *keys_dir)
{
	struct seal_conf s;
	bool wrap;

	if (keys_dir == NULL || sconf_read(keys_dir, &s) != SF_OK)
		return false;
	wrap = s.wrap;
	sconf_clear(&s);
	return wrap;
}

static int
key_ok(const char *key)
{
	size_t n;

	if (key == NULL)
		return SF_EINVAL;
	n = strlen(key);
	return n >= KEY_MIN && n <= KEY_MAX ? SF_OK : SF_EINVAL;
}

int
seal_setup(const struct sf_conf *c, const char *key, char **key_out)
{
	unsigned char raw[32], salt[SALT_LEN], kek[KEK_LEN];
	unsigned char check[NONCE_LEN + sizeof(CHECK_TEXT) - 1 + TAG_LEN];
	char *gen = NULL, *salt64 = NULL, *check64 = NULL, *path = NULL;
	char *text = NULL;
	struct seal_conf old;
	bool dev;
	json_t *doc = NULL;
	int rc;

	if (key_out != NULL)
		*key_out = NULL;
	if (c == NULL || c->keys_dir == NULL)
		return SF_EINVAL;
	dev = c->mode == SF_MODE_DEV;
	if ((rc = sconf_read(c->keys_dir, &old)) != SF_ENOTFOUND) {
		sconf_clear(&old);
		return rc == SF_OK ? SF_EEXIST : rc;
	}
	if (key == NULL) {
		if ((rc = sf_random(raw, sizeof(raw))) != SF_OK ||
		    (rc = b64url_encode(raw, sizeof(raw), &gen)) != SF_OK)
			goto out;
		key = gen;
	} else if ((rc = key_ok(key)) != SF_OK)
		goto out;
	if ((rc = sf_random(salt, sizeof(salt))) != SF_OK ||
	    (rc = derive(key, salt, sizeof(salt), SEAL_N, SEAL_R, SEAL_P, kek))
	    != SF_OK ||
	    (rc = gcm_seal(kek, CHECK_AAD, sizeof(CHECK_AAD) - 1,
	    (const unsigned char *)CHECK_TEXT, sizeof(CHECK_TEXT) - 1, check))
	    != SF_OK ||
	    (rc = b64url_encode(salt, sizeof(salt), &salt64)) != SF_OK ||
	    (rc = b64url_encode(check, sizeof(check), &check64)) != SF_OK)
		goto out;
	if ((doc = json_pack("{s:i, s:s, s:i, s:i, s:i, s:s, s:s, s:s, s:b}",
	    "version", 1, "kdf", "scrypt", "n", SEAL_N, "r", SEAL_R,
	    "p", SEAL_P, "salt", salt64, "aead", "AES-256-GCM",
	    "check", check64, "wrap", !dev)) == NULL ||
	    (text = json_dumps(doc, JSON_INDENT(2))) == NULL) {
		rc = SF_ENOMEM;
		goto out;
	}
	if ((rc = seg_map(c->keys_dir, c->run_dir, dev)) != SF_OK)
		goto out;
	(void)flock(g.fd, LOCK_EX);
	g.shm->wraps = dev ? 0 : 1;
	if ((rc = json_path(c->keys_dir, &path)) == SF_OK &&
	    (rc = sf_write_file(path, text, strlen(text), 0600)) == SF_OK)
		kek_set(kek);
	(void)flock(g.fd, LOCK_UN);
	if (rc == SF_OK && gen != NULL && key_out != NULL) {
		*key_out = gen;
		gen = NULL;
	}
out:
	OPENSSL_cleanse(kek, sizeof(kek));
	OPENSSL_cleanse(raw, sizeof(raw));
	sf_strfree_secret(gen);
	json_decref(doc);
	free(text);
	free(path);
	free(salt64);
	free(check64);
	return rc;
}

int
seal_unseal(const struct sf_conf *c, const char *key, int64_t *retry_after,
    const char **why)
{
	unsigned char kek[KEK_LEN];
	struct seal_conf s;
	uint64_t now = sf_mono_ns(), delay;
	int rc;

	*retry_after = 0;
	*why = NULL;
	if (c == NULL || key_ok(key) != SF_OK) {
		*why = "the unseal key must be 16 to 1024 bytes";
		return SF_EINVAL;
	}
	if ((rc = sconf_read(c->keys_dir, &s)) != SF_OK) {
		*why = rc == SF_ENOTFOUND ? "this unit has no unseal key "
		    "(starflyctl init sets one)" : "cannot read seal.json";
		return rc;
	}
	if ((rc = seg_map(c->keys_dir, c->run_dir,
	    c->mode == SF_MODE_DEV)) != SF_OK) {
		*why = "cannot map the seal state";
		goto out;
	}
	(void)flock(g.fd, LOCK_EX);
	if (g.shm->not_before > now) {
		*retry_after = (int64_t)((g.shm->not_before - now +
		    999999999u) / 1000000000u);
		*why = "too many wrong unseal keys; wait before trying again";
		rc = SF_ELIMIT;
		goto unlock;
	}
	rc = kek_from_key(&s, key, kek);
	if (rc == SF_EDENIED) {
		g.shm->failures++;
		if (g.shm->failures >= 3) {
			delay = 1ull << (g.shm->failures - 3 > 6 ? 6 :
			    g.shm->failures - 3);
			g.shm->not_before = now + (delay > MAX_DELAY ?
			    MAX_DELAY : delay) * 1000000000u;
		}
		*why = "wrong unseal key";
		goto unlock;
	}
	if (rc != SF_OK) {
		*why = "key derivation failed";
		goto unlock;
	}
	g.shm->failures = 0;
	g.shm->not_before = 0;
	if (seal_is_sealed())
		kek_set(kek);
unlock:
	(void)flock(g.fd, LOCK_UN);
out:
	OPENSSL_cleanse(kek, sizeof(kek));
	sconf_clear(&s);
	return rc;
}

int
seal_seal(const struct sf_conf *c)
{
	int rc;

	if (c == NULL)
		return SF_EINVAL;
	if ((rc = seg_map(c->keys_dir, c->run_dir,
	    c->mode == SF_MODE_DEV)) != SF_OK)
		return rc;
	(void)flock(g.fd, LOCK_EX);
	kek_set(NULL);
	(void)flock(g.fd, LOCK_UN);
	return SF_OK;
}

int
seal_dev_start(const struct sf_conf *c)
{
	int rc;

	if (c == NULL || c->mode != SF_MODE_DEV)
		return SF_EINVAL;
	if ((rc = seg_map(c->keys_dir, c->run_dir, true)) != SF_OK)
		return rc;
	(void)flock(g.fd, LOCK_EX);
	if (seal_is_sealed()) {
		/* Dev keys are not wrapped: no KEK is needed to sign. */
		__atomic_add_fetch(&g.shm->gen, 2, __ATOMIC_ACQ_REL);
		__atomic_store_n(&g.shm->sealed, 0, __ATOMIC_RELEASE);
		g.shm->changed = sf_now();
	}
	g.shm->failures = 0;
	g.shm->not_before = 0;
	(void)flock(g.fd, LOCK_UN);
	return SF_OK;
}

int
seal_status(const struct sf_conf *c, json_t **out)
{
	uint64_t now = sf_mono_ns();
	int rc;

	*out = NULL;
	if (c == NULL)
		return SF_EINVAL;
	if ((rc = seg_map(c->keys_dir, c->run_dir,
	    c->mode == SF_MODE_DEV)) != SF_OK)
		return rc;
	*out = json_pack("{s:b, s:b, s:I, s:i, s:I, s:I, s:s}",
	    "sealed", seal_is_sealed(), "wraps_keys",
	    seal_wraps_keys(c->keys_dir), "generation",
	    (json_int_t)seal_generation(), "failures", (int)g.shm->failures,
	    "retry_after", (json_int_t)(g.shm->not_before > now ?
	    (g.shm->not_before - now + 999999999u) / 1000000000u : 0),
	    "changed",
	    (json_int_t)g.shm->changed, "segment", g.path);
	return *out != NULL ? SF_OK : SF_ENOMEM;
}

int
seal_key_path(const char *keys_dir, const char *kid, char **out)
{
	return sf_asprintf(out, "%s/private/%s.sealed", keys_dir, kid);
}

static void
key_aad(const char *kid, char **aad, size_t *len)
{
	*aad = NULL;
	*len = 0;
	if (sf_asprintf(aad, "%s%s", KEY_AAD, kid) == SF_OK)
		*len = strlen(*aad);
}

int
seal_key_save(const char *keys_dir, const struct jwk *key)
{
	unsigned char kek[KEK_LEN], *der = NULL, *out = NULL;
	char *path = NULL, *aad = NULL;
	size_t derlen = 0, aadlen, outlen;
	int rc;

	if (keys_dir == NULL || key == NULL)
		return SF_EINVAL;
	if ((rc = seg_map(keys_dir, NULL, false)) != SF_OK)
		return jose_fail(rc, "seal: cannot map the seal state of %s",
		    keys_dir);
	if ((rc = kek_get(kek)) != SF_OK)
		return jose_fail(SF_ESEALED, "keyring: the unit is sealed: "
		    "unseal it (starflyctl unseal) before making or rotating "
		    "keys");
	key_aad(jwk_kid(key), &aad, &aadlen);
	if (aad == NULL || (rc = jwk_private_der(key, &der, &derlen)) != SF_OK)
		goto out;
	outlen = sizeof(SEAL_FILE_MAGIC) - 1 + NONCE_LEN + derlen + TAG_LEN;
	if ((out = malloc(outlen)) == NULL) {
		rc = SF_ENOMEM;
		goto out;
	}
	memcpy(out, SEAL_FILE_MAGIC, sizeof(SEAL_FILE_MAGIC) - 1);
	if ((rc = gcm_seal(kek, aad, aadlen, der, derlen,
	    out + sizeof(SEAL_FILE_MAGIC) - 1)) != SF_OK ||
	    (rc = seal_key_path(keys_dir, jwk_kid(key), &path)) != SF_OK)
		goto out;
	if ((rc = sf_write_file(path, out, outlen, 0600)) != SF_OK)
		rc = jose_fail(rc, "keyring: cannot write %s", path);
out:
	OPENSSL_cleanse(kek, sizeof(kek));
	sf_freezero(der, derlen);
	free(out);
	free(aad);
	free(path);
	return rc;
}

int
seal_key_load(const char *keys_dir, const char *kid, enum jws_alg alg,
    struct jwk **out)
{
	unsigned char kek[KEK_LEN], *der = NULL;
	char *path = NULL, *buf = NULL, *aad = NULL;
	size_t len = 0, aadlen, hl = sizeof(SEAL_FILE_MAGIC) - 1, derlen = 0;
	struct stat st;
	int rc;

	*out = NULL;
	if (keys_dir == NULL || kid == NULL)
		return SF_EINVAL;
	if ((rc = seg_map(keys_dir, NULL, false)) != SF_OK)
		return jose_fail(rc, "seal: cannot map the seal state of %s",
		    keys_dir);
	if ((rc = kek_get(kek)) != SF_OK)
		return jose_fail(SF_ESEALED, "keyring: the unit is sealed");
	if ((rc = seal_key_path(keys_dir, kid, &path)) != SF_OK)
		goto out;
	if (stat(path, &st) == -1 || (st.st_mode & 077) != 0) {
		rc = jose_fail(SF_EKEY, "keyring: %s is missing or open to "
		    "group or others", path);
		goto out;
	}
	if ((rc = sf_read_file(path, 65536, &buf, &len)) != SF_OK)
		goto out;
	if (len < hl + NONCE_LEN + TAG_LEN + 1 ||
	    memcmp(buf, SEAL_FILE_MAGIC, hl) != 0) {
		rc = jose_fail(SF_EPARSE, "keyring: %s is not a sealed key",
		    path);
		goto out;
	}
	derlen = len - hl - NONCE_LEN - TAG_LEN;
	key_aad(kid, &aad, &aadlen);
	if (aad == NULL || (der = malloc(derlen)) == NULL) {
		rc = SF_ENOMEM;
		goto out;
	}
	if ((rc = gcm_open(kek, aad, aadlen, (unsigned char *)buf + hl,
	    len - hl, der)) != SF_OK) {
		rc = jose_fail(SF_EKEY, "keyring: %s does not open under this "
		    "unit's unseal key", path);
		goto out;
	}
	if ((rc = jwk_from_private_der(der, derlen, alg, out)) != SF_OK)
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
	OPENSSL_cleanse(kek, sizeof(kek));
	sf_freezero(der, derlen);
	free(buf);
	free(aad);
	free(path);
	return rc;
}

int
seal_migrate(const struct sf_conf *c, size_t *n)
{
	json_t *doc = NULL, *e;
	struct jwk *key = NULL;
	char *pem = NULL;
	const char *kid;
	size_t i;
	int rc;

	*n = 0;
	if (c == NULL || !seal_wraps_keys(c->keys_dir))
		return SF_OK;
	if ((rc = keyring_list(c->keys_dir, &doc)) != SF_OK)
		return rc == SF_ENOTFOUND ? SF_OK : rc;
	json_array_foreach(json_object_get(doc, "keys"), i, e) {
		kid = json_string_value(json_object_get(e, "kid"));
		free(pem);
		pem = NULL;
		if (kid == NULL || sf_asprintf(&pem, "%s/private/%s.pem",
		    c->keys_dir, kid) != SF_OK)
			continue;
		if (access(pem, F_OK) != 0)
			continue;
		if ((rc = jwk_load_pem(pem, jws_alg_from_name(
		    json_string_value(json_object_get(e, "alg"))), &key)) !=
		    SF_OK || (rc = jwk_set_kid(key, kid)) != SF_OK ||
		    (rc = seal_key_save(c->keys_dir, key)) != SF_OK)
			goto out;
		jwk_free(key);
		key = NULL;
		if (unlink(pem) == -1) {
			rc = SF_ESYS;
			goto out;
		}
		(*n)++;
	}
	rc = SF_OK;
out:
	jwk_free(key);
	free(pem);
	json_decref(doc);
	return rc;
}
