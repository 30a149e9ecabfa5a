/*
 * jwk.c - JSON Web Keys (RFC 7517, RFC 7518 §6, RFC 8037) and key sets,
 * RFC 7638 thumbprints, key generation and PKCS#8 storage, on OpenSSL 3.
 *
 * Every key is pinned to exactly one algorithm (RFC 8725 §3.1) and is
 * validated when it is built (RFC 8725 §3.4): EC points on their curve,
 * RSA moduli of 2048 to 16384 bits with an odd exponent below 2^32 and
 * without the ROCA fingerprint, private halves matching public ones.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/obj_mac.h>
#include <openssl/param_build.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#include "starfly.h"
#include "jose_int.h"

#define JWK_KID_MAX		256
#define JWK_RSA_MIN_BITS	2048	/* RFC 7518 §3.3 */
#define JWK_RSA_MAX_BITS	16384
#define JWK_RSA_MAX_E_BITS	32
#define JWK_PEM_MAX		(64 * 1024)

static const struct jose_alg jose_algs[] = {
	{ JWS_ES256, "ES256", JWK_KTY_EC, "SHA256", "P-256", "prime256v1",
	    32, false },
	{ JWS_ES384, "ES384", JWK_KTY_EC, "SHA384", "P-384", "secp384r1",
	    48, false },
	{ JWS_EDDSA, "EdDSA", JWK_KTY_OKP, NULL, "Ed25519", NULL, 32, false },
	{ JWS_RS256, "RS256", JWK_KTY_RSA, "SHA256", NULL, NULL, 0, false },
	{ JWS_RS384, "RS384", JWK_KTY_RSA, "SHA384", NULL, NULL, 0, false },
	{ JWS_RS512, "RS512", JWK_KTY_RSA, "SHA512", NULL, NULL, 0, false },
	{ JWS_PS256, "PS256", JWK_KTY_RSA, "SHA256", NULL, NULL, 0, true },
};
#define NALGS	(sizeof(jose_algs) / sizeof(jose_algs[0]))

static _Thread_local char jose_why_buf[256];

int
jose_fail(int rc, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	(void)vsnprintf(jose_why_buf, sizeof(jose_why_buf), fmt, ap);
	va_end(ap);
	/* OpenSSL's queue would otherwise grow in long-running programs. */
	ERR_clear_error();
	return rc;
}

const char *
jose_why(void)
{
	return jose_why_buf[0] != '\0' ? jose_why_buf : "no detail";
}

const struct jose_alg *
jose_alg_info(enum jws_alg alg)
{
	size_t i;

	for (i = 0; i < NALGS; i++)
		if (jose_algs[i].alg == alg)
			return &jose_algs[i];
	return NULL;
}

const char *
jws_alg_name(enum jws_alg alg)
{
	const struct jose_alg *ai = jose_alg_info(alg);

	return ai == NULL ? NULL : ai->name;
}

/* RFC 7515 §4.1.1: "alg" values are case-sensitive. */
enum jws_alg
jws_alg_from_name(const char *name)
{
	size_t i;

	if (name == NULL)
		return JWS_ALG_UNKNOWN;
	for (i = 0; i < NALGS; i++)
		if (strcmp(jose_algs[i].name, name) == 0)
			return jose_algs[i].alg;
	return JWS_ALG_UNKNOWN;
}

/*
 * Member helpers.
 */

/* Optional string member: *s NULL when absent. */
static int
member_str(const json_t *obj, const char *name, const char **s)
{
	json_t *v;

	*s = NULL;
	if ((v = json_object_get(obj, name)) == NULL)
		return SF_OK;
	if (!json_is_string(v))
		return jose_fail(SF_EINVAL, "jwk: \"%s\" is not a string",
		    name);
	*s = json_string_value(v);
	return SF_OK;
}

/*
 * Optional base64url member decoded to *buf (new, wiped on free by the
 * caller).  want != 0: exactly want bytes (RFC 7518 §6.2.1.2, §6.2.2.1).
 * minimal: an unsigned integer in the fewest octets (RFC 7518 §6.3.1).
 */
static int
member_b64(const json_t *obj, const char *name, size_t want, bool minimal,
    unsigned char **buf, size_t *len)
{
	const char *s;
	int rc;

	*buf = NULL;
	*len = 0;
	if ((rc = member_str(obj, name, &s)) != SF_OK || s == NULL)
		return rc;
	if (b64url_decode(s, strlen(s), buf, len) != SF_OK)
		return jose_fail(SF_EINVAL, "jwk: \"%s\" is not base64url",
		    name);
	if ((want != 0 && *len != want) || *len == 0 ||
	    (minimal && (*buf)[0] == 0)) {
		sf_freezero(*buf, *len);
		*buf = NULL;
		*len = 0;
		if (want != 0)
			return jose_fail(SF_EKEY,
			    "jwk: \"%s\" is not %zu bytes", name, want);
		return jose_fail(SF_EKEY, "jwk: \"%s\" is empty or has "
		    "leading zero octets", name);
	}
	return SF_OK;
}

static bool
kid_ok(const char *kid)
{
	size_t n = strlen(kid);
	const unsigned char *p;

	if (n == 0 || n > JWK_KID_MAX)
		return false;
	for (p = (const unsigned char *)kid; *p != '\0'; p++)
		if (*p < 0x20 || *p == 0x7f)
			return false;
	return true;
}

/*
 * ROCA (CVE-2017-15361): moduli from the flawed generator satisfy
 * n mod p in <65537> (mod p) for every small prime p of the generator's
 * primorial; every variant includes the primes below 170.  A random
 * modulus passes all these tests with negligible probability.
 */
static bool
rsa_roca_fingerprint(const BIGNUM *n)
{
	static const unsigned int primes[] = { 3, 5, 7, 11, 13, 17, 19, 23,
	    29, 31, 37, 41, 43, 47, 53, 59, 61, 67, 71, 73, 79, 83, 89, 97,
	    101, 103, 107, 109, 113, 127, 131, 137, 139, 149, 151, 157, 163,
	    167 };
	size_t i;

	for (i = 0; i < sizeof(primes) / sizeof(primes[0]); i++) {
		unsigned int p = primes[i], g = 65537 % p, x = 1;
		BN_ULONG r = BN_mod_word(n, p);
		bool in = false;

		if (r == (BN_ULONG)-1)
			return false;
		do {
			if (x == r) {
				in = true;
				break;
			}
			x = x * g % p;
		} while (x != 1);
		if (!in)
			return false;
	}
	return true;
}

/*
 * RSA modulus checks that anyone-can-forge keys fail: a prime factor
 * below 1000 (n easy to factor), or n itself prime (phi(n) = n - 1).
 * Deterministic for every real modulus, unlike OpenSSL's SP 800-56B
 * public check, whose factor search depends on random witnesses.
 */
static bool
rsa_modulus_weak(const BIGNUM *n)
{
	BN_CTX *ctx;
	unsigned int p, d;
	bool weak = true;

	for (p = 3; p < 1000; p += 2) {
		for (d = 3; d * d <= p && p % d != 0; d += 2)
			;
		if (d * d <= p)
			continue;	/* p is not prime */
		if (BN_mod_word(n, p) == 0)
			return true;
	}
	if ((ctx = BN_CTX_new()) != NULL)
		weak = BN_check_prime(n, ctx, NULL) != 0;
	BN_CTX_free(ctx);
	return weak;
}

/* Base64url of a BIGNUM, fixed width (pad != 0) or minimal. */
static int
bn_b64(const BIGNUM *bn, size_t pad, char **out)
{
	unsigned char buf[JWK_RSA_MAX_BITS / 8];
	int n;
	size_t len;
	int rc;

	*out = NULL;
	if (pad != 0) {
		if (pad > sizeof(buf) || BN_bn2binpad(bn, buf, (int)pad) < 0)
			return SF_EKEY;
		len = pad;
	} else {
		if ((n = BN_num_bytes(bn)) <= 0 || (size_t)n > sizeof(buf))
			return SF_EKEY;
		len = (size_t)BN_bn2bin(bn, buf);
	}
	rc = b64url_encode(buf, len, out);
	OPENSSL_cleanse(buf, sizeof(buf));
	return rc;
}

static int
thumbprint_compute(struct jwk *k)
{
	unsigned char md[32];
	unsigned int mdlen = 0;
	char *canon = NULL;
	int rc;

	/* RFC 7638 §3.2, RFC 8037 §2: required members, sorted, no spaces. */
	switch (k->info->kty) {
	case JWK_KTY_EC:
		rc = sf_asprintf(&canon,
		    "{\"crv\":\"%s\",\"kty\":\"EC\",\"x\":\"%s\",\"y\":\"%s\"}",
		    k->info->crv, k->pub1, k->pub2);
		break;
	case JWK_KTY_OKP:
		rc = sf_asprintf(&canon,
		    "{\"crv\":\"%s\",\"kty\":\"OKP\",\"x\":\"%s\"}",
		    k->info->crv, k->pub1);
		break;
	default:
		rc = sf_asprintf(&canon,
		    "{\"e\":\"%s\",\"kty\":\"RSA\",\"n\":\"%s\"}",
		    k->pub2, k->pub1);
		break;
	}
	if (rc != SF_OK)
		return rc;
	if (EVP_Digest(canon, strlen(canon), md, &mdlen, EVP_sha256(),
	    NULL) != 1 || mdlen != sizeof(md))
		rc = jose_fail(SF_ECRYPTO, "jwk: SHA-256 failed");
	else
		rc = b64url_encode(md, sizeof(md), &k->thumb);
	free(canon);
	return rc;
}

static int
ec_components(struct jwk *k)
{
	BIGNUM *x = NULL, *y = NULL;
	EC_GROUP *grp = NULL;
	int nid, rc = SF_EKEY;

	nid = k->info->alg == JWS_ES256 ? NID_X9_62_prime256v1 : NID_secp384r1;
	if (EVP_PKEY_get_bn_param(k->pkey, OSSL_PKEY_PARAM_EC_PUB_X, &x) != 1 ||
	    EVP_PKEY_get_bn_param(k->pkey, OSSL_PKEY_PARAM_EC_PUB_Y, &y) != 1)
		goto out;
	if ((rc = bn_b64(x, k->info->coord, &k->pub1)) != SF_OK ||
	    (rc = bn_b64(y, k->info->coord, &k->pub2)) != SF_OK)
		goto out;
	rc = SF_ECRYPTO;
	if ((grp = EC_GROUP_new_by_curve_name(nid)) == NULL ||
	    BN_bn2binpad(EC_GROUP_get0_order(grp), k->order,
	    (int)k->info->coord) < 0)
		goto out;
	k->sig_len = 2 * k->info->coord;
	rc = SF_OK;
out:
	EC_GROUP_free(grp);
	BN_free(x);
	BN_free(y);
	return rc;
}

static int
okp_components(struct jwk *k)
{
	unsigned char pub[32];
	size_t len = sizeof(pub);

	if (EVP_PKEY_get_raw_public_key(k->pkey, pub, &len) != 1 ||
	    len != sizeof(pub))
		return jose_fail(SF_EKEY, "jwk: bad Ed25519 public key");
	k->sig_len = 64;	/* RFC 8032 §5.1.6 */
	return b64url_encode(pub, len, &k->pub1);
}

static int
rsa_components(struct jwk *k)
{
	BIGNUM *n = NULL, *e = NULL;
	int bits, rc = SF_EKEY;

	if (EVP_PKEY_get_bn_param(k->pkey, OSSL_PKEY_PARAM_RSA_N, &n) != 1 ||
	    EVP_PKEY_get_bn_param(k->pkey, OSSL_PKEY_PARAM_RSA_E, &e) != 1) {
		rc = jose_fail(SF_EKEY, "jwk: RSA key without n or e");
		goto out;
	}
	bits = BN_num_bits(n);
	if (bits < JWK_RSA_MIN_BITS || bits > JWK_RSA_MAX_BITS) {
		rc = jose_fail(SF_EKEY, "jwk: RSA modulus of %d bits (allowed "
		    "%d to %d)", bits, JWK_RSA_MIN_BITS, JWK_RSA_MAX_BITS);
		goto out;
	}
	if (!BN_is_odd(n)) {
		rc = jose_fail(SF_EKEY, "jwk: RSA modulus is even");
		goto out;
	}
	if (!BN_is_odd(e) || BN_is_one(e) ||
	    BN_num_bits(e) > JWK_RSA_MAX_E_BITS) {
		rc = jose_fail(SF_EKEY, "jwk: RSA exponent must be odd, at "
		    "least 3 and below 2^%d", JWK_RSA_MAX_E_BITS);
		goto out;
	}
	if (rsa_modulus_weak(n)) {
		rc = jose_fail(SF_EKEY, "jwk: RSA modulus is prime or has a "
		    "small factor");
		goto out;
	}
	if (rsa_roca_fingerprint(n)) {
		rc = jose_fail(SF_EKEY, "jwk: RSA modulus has the ROCA "
		    "fingerprint (CVE-2017-15361)");
		goto out;
	}
	if ((rc = bn_b64(n, 0, &k->pub1)) != SF_OK ||
	    (rc = bn_b64(e, 0, &k->pub2)) != SF_OK)
		goto out;
	k->sig_len = (size_t)BN_num_bytes(n);
	rc = SF_OK;
out:
	BN_free(n);
	BN_free(e);
	return rc;
}

int
jose_set_padding(const struct jwk *key, EVP_PKEY_CTX *pctx)
{
	if (!key->info->pss)
		return 1;
	/* MGF1 with the same hash, salt as long as the hash. */
	return EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) ==
	    1 && EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx,
	    RSA_PSS_SALTLEN_DIGEST) == 1 &&
	    EVP_PKEY_CTX_set_rsa_mgf1_md(pctx, key->md) == 1;
}

EVP_PKEY_CTX *
jose_verify_ctx(const struct jwk *key)
{
	EVP_PKEY_CTX *ctx;

	if (key->md == NULL ||
	    (ctx = EVP_PKEY_CTX_new_from_pkey(NULL, key->pkey, NULL)) == NULL)
		return NULL;
	if (EVP_PKEY_verify_init(ctx) != 1 ||
	    EVP_PKEY_CTX_set_signature_md(ctx, key->md) != 1 ||
	    jose_set_padding(key, ctx) != 1) {
		EVP_PKEY_CTX_free(ctx);
		return NULL;
	}
	return ctx;
}

/* The algorithm a key type implies when none is given (NULL for RSA). */
static const struct jose_alg *
alg_for_pkey(EVP_PKEY *pkey)
{
	char grp[64];

	if (EVP_PKEY_is_a(pkey, "ED25519"))
		return jose_alg_info(JWS_EDDSA);
	if (EVP_PKEY_is_a(pkey, "EC") &&
	    EVP_PKEY_get_utf8_string_param(pkey, OSSL_PKEY_PARAM_GROUP_NAME,
	    grp, sizeof(grp), NULL) == 1) {
		if (strcmp(grp, "prime256v1") == 0)
			return jose_alg_info(JWS_ES256);
		if (strcmp(grp, "secp384r1") == 0)
			return jose_alg_info(JWS_ES384);
	}
	return NULL;
}

/*
 * Build a key from pkey (taken, also on failure) for algorithm ai (NULL:
 * implied by the key).  check: run OpenSSL's public or key-pair checks.
 */
static int
jwk_from_pkey(EVP_PKEY *pkey, const struct jose_alg *ai, bool priv,
    bool check, struct jwk **out)
{
	const struct jose_alg *implied;
	EVP_PKEY_CTX *cctx = NULL;
	struct jwk *k = NULL;
	int rc;

	*out = NULL;
	implied = alg_for_pkey(pkey);
	if (EVP_PKEY_is_a(pkey, "RSA")) {
		if (ai == NULL) {
			rc = jose_fail(SF_EALG, "jwk: an RSA key needs \"alg\"");
			goto out;
		}
		if (ai->kty != JWK_KTY_RSA) {
			rc = jose_fail(SF_EALG, "jwk: alg %s does not fit an "
			    "RSA key", ai->name);
			goto out;
		}
	} else if (implied == NULL) {
		rc = jose_fail(SF_EKEY, "jwk: unsupported key type or curve");
		goto out;
	} else if (ai == NULL) {
		ai = implied;
	} else if (ai != implied) {
		rc = jose_fail(SF_EALG, "jwk: alg %s does not fit a %s key",
		    ai->name, implied->crv);
		goto out;
	}
	/* RSA public keys: rsa_components() checks them, deterministically. */
	if (check && (priv || ai->kty != JWK_KTY_RSA)) {
		if ((cctx = EVP_PKEY_CTX_new_from_pkey(NULL, pkey, NULL)) ==
		    NULL) {
			rc = SF_ENOMEM;
			goto out;
		}
		if ((priv ? EVP_PKEY_check(cctx) :
		    EVP_PKEY_public_check(cctx)) != 1) {
			rc = jose_fail(SF_EKEY, "jwk: %s key fails validation",
			    priv ? "private" : "public");
			goto out;
		}
	}
	if ((k = calloc(1, sizeof(*k))) == NULL) {
		rc = SF_ENOMEM;
		goto out;
	}
	if (pthread_mutex_init(&k->vlock, NULL) != 0) {
		free(k);
		k = NULL;
		rc = SF_ENOMEM;
		goto out;
	}
	k->info = ai;
	k->pkey = pkey;
	pkey = NULL;
	k->priv = priv;
	switch (ai->kty) {
	case JWK_KTY_EC:
		rc = ec_components(k);
		break;
	case JWK_KTY_OKP:
		rc = okp_components(k);
		break;
	default:
		rc = rsa_components(k);
		break;
	}
	if (rc != SF_OK)
		goto out;
	if (ai->md != NULL && (k->md = EVP_MD_fetch(NULL, ai->md, NULL)) ==
	    NULL) {
		rc = jose_fail(SF_ECRYPTO, "jwk: digest %s unavailable", ai->md);
		goto out;
	}
	if (k->md != NULL && (k->vctx = jose_verify_ctx(k)) == NULL) {
		rc = jose_fail(SF_ECRYPTO, "jwk: cannot set up verification");
		goto out;
	}
	if ((rc = thumbprint_compute(k)) != SF_OK)
		goto out;
	if ((k->kid = sf_strdup(k->thumb)) == NULL) {
		rc = SF_ENOMEM;
		goto out;
	}
	*out = k;
	k = NULL;
	rc = SF_OK;
out:
	EVP_PKEY_CTX_free(cctx);
	EVP_PKEY_free(pkey);
	jwk_free(k);
	if (rc != SF_OK)
		ERR_clear_error();
	return rc;
}

/* EVP_PKEY from OSSL_PARAMs of keytype ("EC", "RSA"). */
static int
pkey_fromdata(const char *keytype, OSSL_PARAM_BLD *bld, bool priv,
    EVP_PKEY **out)
{
	OSSL_PARAM *params = NULL;
	EVP_PKEY_CTX *ctx = NULL;
	int rc = SF_ECRYPTO;

	*out = NULL;
	if ((params = OSSL_PARAM_BLD_to_param(bld)) == NULL ||
	    (ctx = EVP_PKEY_CTX_new_from_name(NULL, keytype, NULL)) == NULL ||
	    EVP_PKEY_fromdata_init(ctx) != 1)
		goto out;
	if (EVP_PKEY_fromdata(ctx, out, priv ? EVP_PKEY_KEYPAIR :
	    EVP_PKEY_PUBLIC_KEY, params) != 1) {
		*out = NULL;
		rc = jose_fail(SF_EKEY, "jwk: %s key material rejected",
		    keytype);
		goto out;
	}
	rc = SF_OK;
out:
	EVP_PKEY_CTX_free(ctx);
	OSSL_PARAM_free(params);
	return rc;
}

static int
push_bn(OSSL_PARAM_BLD *bld, const char *key, const unsigned char *buf,
    size_t len, bool secret, BIGNUM **keep)
{
	BIGNUM *bn;

	*keep = NULL;
	if (len > INT32_MAX)
		return SF_EINVAL;
	if ((bn = secret ? BN_secure_new() : BN_new()) == NULL)
		return SF_ENOMEM;
	if (BN_bin2bn(buf, (int)len, bn) == NULL ||
	    OSSL_PARAM_BLD_push_BN(bld, key, bn) != 1) {
		BN_clear_free(bn);
		return SF_ECRYPTO;
	}
	*keep = bn;	/* the builder refers to it until to_param */
	return SF_OK;
}

static bool
has_any(const json_t *obj, const char *const *names)
{
	for (; *names != NULL; names++)
		if (json_object_get(obj, *names) != NULL)
			return true;
	return false;
}

static int
parse_ec(const json_t *obj, const struct jose_alg *ai, bool allow_private,
    EVP_PKEY **out, bool *priv)
{
	static const char *const secret[] = { "d", NULL };
	unsigned char *x = NULL, *y = NULL, *d = NULL;
	unsigned char pt[1 + 2 * JOSE_EC_MAX_COORD];
	size_t xl, yl, dl = 0;
	const struct jose_alg *curve = NULL;
	OSSL_PARAM_BLD *bld = NULL;
	BIGNUM *dbn = NULL;
	const char *crv;
	int rc;

	*out = NULL;
	if ((rc = member_str(obj, "crv", &crv)) != SF_OK)
		return rc;
	if (crv == NULL)
		return jose_fail(SF_EINVAL, "jwk: EC key without \"crv\"");
	if (strcmp(crv, "P-256") == 0)
		curve = jose_alg_info(JWS_ES256);
	else if (strcmp(crv, "P-384") == 0)
		curve = jose_alg_info(JWS_ES384);
	else
		return jose_fail(SF_EKEY, "jwk: unsupported curve \"%.32s\"",
		    crv);
	if (ai != NULL && ai != curve)
		return jose_fail(SF_EALG, "jwk: alg %s does not fit curve %s",
		    ai->name, crv);
	*priv = has_any(obj, secret);
	if (*priv && !allow_private)
		return jose_fail(SF_EKEY, "jwk: private member \"d\" in a "
		    "public key");
	if ((rc = member_b64(obj, "x", curve->coord, false, &x, &xl)) != SF_OK ||
	    (rc = member_b64(obj, "y", curve->coord, false, &y, &yl)) != SF_OK ||
	    (rc = member_b64(obj, "d", curve->coord, false, &d, &dl)) != SF_OK)
		goto out;
	if (x == NULL || y == NULL) {
		rc = jose_fail(SF_EINVAL, "jwk: EC key without \"x\" or \"y\"");
		goto out;
	}
	/* SEC 1 §2.3.3 uncompressed point. */
	pt[0] = 0x04;
	memcpy(pt + 1, x, xl);
	memcpy(pt + 1 + xl, y, yl);
	rc = SF_ENOMEM;
	if ((bld = OSSL_PARAM_BLD_new()) == NULL)
		goto out;
	rc = SF_ECRYPTO;
	if (OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME,
	    curve->group, 0) != 1 ||
	    OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, pt,
	    1 + xl + yl) != 1)
		goto out;
	if (d != NULL && (rc = push_bn(bld, OSSL_PKEY_PARAM_PRIV_KEY, d, dl,
	    true, &dbn)) != SF_OK)
		goto out;
	rc = pkey_fromdata("EC", bld, d != NULL, out);
out:
	OSSL_PARAM_BLD_free(bld);
	BN_clear_free(dbn);
	free(x);
	free(y);
	sf_freezero(d, dl);
	return rc;
}

static int
parse_okp(const json_t *obj, const struct jose_alg *ai, bool allow_private,
    EVP_PKEY **out, bool *priv)
{
	static const char *const secret[] = { "d", NULL };
	unsigned char *x = NULL, *d = NULL, pub[32];
	size_t xl, dl = 0, pl = sizeof(pub);
	const char *crv;
	int rc;

	*out = NULL;
	if ((rc = member_str(obj, "crv", &crv)) != SF_OK)
		return rc;
	if (crv == NULL || strcmp(crv, "Ed25519") != 0)
		return jose_fail(SF_EKEY, "jwk: unsupported OKP curve \"%.32s\"",
		    crv == NULL ? "" : crv);
	if (ai != NULL && ai->alg != JWS_EDDSA)
		return jose_fail(SF_EALG, "jwk: alg %s does not fit Ed25519",
		    ai->name);
	*priv = has_any(obj, secret);
	if (*priv && !allow_private)
		return jose_fail(SF_EKEY, "jwk: private member \"d\" in a "
		    "public key");
	if ((rc = member_b64(obj, "x", 32, false, &x, &xl)) != SF_OK ||
	    (rc = member_b64(obj, "d", 32, false, &d, &dl)) != SF_OK)
		goto out;
	if (x == NULL) {
		rc = jose_fail(SF_EINVAL, "jwk: OKP key without \"x\"");
		goto out;
	}
	rc = SF_EKEY;
	if (d != NULL) {
		*out = EVP_PKEY_new_raw_private_key_ex(NULL, "ED25519", NULL, d,
		    dl);
		/* RFC 8037 §2: "x" must be the public key of "d". */
		if (*out == NULL ||
		    EVP_PKEY_get_raw_public_key(*out, pub, &pl) != 1 ||
		    pl != xl || CRYPTO_memcmp(pub, x, xl) != 0) {
			EVP_PKEY_free(*out);
			*out = NULL;
			rc = jose_fail(SF_EKEY, "jwk: \"x\" is not the public "
			    "key of \"d\"");
			goto out;
		}
	} else if ((*out = EVP_PKEY_new_raw_public_key_ex(NULL, "ED25519",
	    NULL, x, xl)) == NULL) {
		rc = jose_fail(SF_EKEY, "jwk: Ed25519 key rejected");
		goto out;
	}
	rc = SF_OK;
out:
	free(x);
	sf_freezero(d, dl);
	return rc;
}

static int
parse_rsa(const json_t *obj, bool allow_private, EVP_PKEY **out, bool *priv)
{
	static const char *const secret[] = { "d", "p", "q", "dp", "dq", "qi",
	    "oth", NULL };
	static const char *const pname[6] = { "d", "p", "q", "dp", "dq",
	    "qi" };
	static const char *const pkey_name[6] = { OSSL_PKEY_PARAM_RSA_D,
	    OSSL_PKEY_PARAM_RSA_FACTOR1, OSSL_PKEY_PARAM_RSA_FACTOR2,
	    OSSL_PKEY_PARAM_RSA_EXPONENT1, OSSL_PKEY_PARAM_RSA_EXPONENT2,
	    OSSL_PKEY_PARAM_RSA_COEFFICIENT1 };
	unsigned char *n = NULL, *e = NULL, *s[6] = { NULL };
	size_t nl, el, sl[6] = { 0 };
	BIGNUM *nbn = NULL, *ebn = NULL, *sbn[6] = { NULL };
	OSSL_PARAM_BLD *bld = NULL;
	size_t i;
	int rc;

	*out = NULL;
	*priv = has_any(obj, secret);
	if (*priv && !allow_private)
		return jose_fail(SF_EKEY, "jwk: private members in a public "
		    "RSA key");
	if (json_object_get(obj, "oth") != NULL)
		return jose_fail(SF_EKEY, "jwk: multi-prime RSA (\"oth\") is "
		    "not supported");
	if ((rc = member_b64(obj, "n", 0, true, &n, &nl)) != SF_OK ||
	    (rc = member_b64(obj, "e", 0, true, &e, &el)) != SF_OK)
		goto out;
	if (n == NULL || e == NULL) {
		rc = jose_fail(SF_EINVAL, "jwk: RSA key without \"n\" or \"e\"");
		goto out;
	}
	if (nl > JWK_RSA_MAX_BITS / 8 || el > JWK_RSA_MAX_E_BITS / 8) {
		rc = jose_fail(SF_EKEY, "jwk: RSA \"n\" or \"e\" too large");
		goto out;
	}
	for (i = 0; *priv && i < 6; i++) {
		if ((rc = member_b64(obj, pname[i], 0, false, &s[i], &sl[i])) !=
		    SF_OK)
			goto out;
		if (s[i] == NULL || sl[i] > JWK_RSA_MAX_BITS / 8) {
			rc = jose_fail(SF_EKEY, "jwk: private RSA key needs "
			    "d, p, q, dp, dq and qi");
			goto out;
		}
	}
	rc = SF_ENOMEM;
	if ((bld = OSSL_PARAM_BLD_new()) == NULL)
		goto out;
	if ((rc = push_bn(bld, OSSL_PKEY_PARAM_RSA_N, n, nl, false, &nbn)) !=
	    SF_OK ||
	    (rc = push_bn(bld, OSSL_PKEY_PARAM_RSA_E, e, el, false, &ebn)) !=
	    SF_OK)
		goto out;
	for (i = 0; *priv && i < 6; i++)
		if ((rc = push_bn(bld, pkey_name[i], s[i], sl[i], true,
		    &sbn[i])) != SF_OK)
			goto out;
	rc = pkey_fromdata("RSA", bld, *priv, out);
out:
	OSSL_PARAM_BLD_free(bld);
	BN_free(nbn);
	BN_free(ebn);
	for (i = 0; i < 6; i++) {
		BN_clear_free(sbn[i]);
		sf_freezero(s[i], sl[i]);
	}
	free(n);
	free(e);
	return rc;
}

/* RFC 7517 §4.2 "use" and §4.3 "key_ops": signature use only. */
static int
check_use(const json_t *obj)
{
	const char *use, *op, *op2;
	json_t *ops, *v, *w;
	size_t i, j;
	int rc;

	if ((rc = member_str(obj, "use", &use)) != SF_OK)
		return rc;
	if (use != NULL && strcmp(use, "sig") != 0)
		return jose_fail(SF_EKEY, "jwk: \"use\" is \"%.32s\", not "
		    "\"sig\"", use);
	if ((ops = json_object_get(obj, "key_ops")) == NULL)
		return SF_OK;
	if (!json_is_array(ops) || json_array_size(ops) == 0)
		return jose_fail(SF_EINVAL, "jwk: \"key_ops\" is not a "
		    "non-empty array");
	json_array_foreach(ops, i, v) {
		if ((op = json_string_value(v)) == NULL ||
		    (strcmp(op, "sign") != 0 && strcmp(op, "verify") != 0))
			return jose_fail(SF_EKEY, "jwk: \"key_ops\" allows more "
			    "than sign and verify");
		for (j = 0; j < i; j++) {
			w = json_array_get(ops, j);
			op2 = json_string_value(w);
			if (op2 != NULL && strcmp(op, op2) == 0)
				return jose_fail(SF_EINVAL, "jwk: duplicate "
				    "\"key_ops\" value");
		}
	}
	return SF_OK;
}

int
jwk_parse(const json_t *obj, enum jws_alg default_alg, bool allow_private,
    struct jwk **out)
{
	const struct jose_alg *ai = NULL;
	const char *kty, *alg, *kid;
	EVP_PKEY *pkey = NULL;
	bool priv = false;
	int rc;

	*out = NULL;
	if (!json_is_object(obj))
		return jose_fail(SF_EINVAL, "jwk: not a JSON object");
	if ((rc = member_str(obj, "kty", &kty)) != SF_OK ||
	    (rc = member_str(obj, "alg", &alg)) != SF_OK ||
	    (rc = member_str(obj, "kid", &kid)) != SF_OK ||
	    (rc = check_use(obj)) != SF_OK)
		return rc;
	if (kty == NULL)
		return jose_fail(SF_EINVAL, "jwk: no \"kty\"");
	if (strcmp(kty, "oct") == 0)
		return jose_fail(SF_EKEY, "jwk: symmetric keys (kty \"oct\") "
		    "are refused");
	if (kid != NULL && !kid_ok(kid))
		return jose_fail(SF_EINVAL, "jwk: \"kid\" is empty, too long "
		    "or holds control characters");
	if (alg != NULL && (ai = jose_alg_info(jws_alg_from_name(alg))) ==
	    NULL)
		return jose_fail(SF_EALG, "jwk: algorithm \"%.32s\" is not "
		    "supported", alg);
	if (strcmp(kty, "EC") == 0)
		rc = parse_ec(obj, ai, allow_private, &pkey, &priv);
	else if (strcmp(kty, "OKP") == 0)
		rc = parse_okp(obj, ai, allow_private, &pkey, &priv);
	else if (strcmp(kty, "RSA") == 0) {
		if (ai != NULL && ai->kty != JWK_KTY_RSA)
			return jose_fail(SF_EALG, "jwk: alg %s does not fit an "
			    "RSA key", ai->name);
		if (ai == NULL)
			ai = jose_alg_info(default_alg);
		if (ai == NULL || ai->kty != JWK_KTY_RSA)
			return jose_fail(SF_EALG, "jwk: RSA key without an "
			    "RSA \"alg\"");
		rc = parse_rsa(obj, allow_private, &pkey, &priv);
	} else
		return jose_fail(SF_EKEY, "jwk: unsupported kty \"%.32s\"",
		    kty);
	if (rc != SF_OK)
		return rc;
	if ((rc = jwk_from_pkey(pkey, ai, priv, true, out)) != SF_OK)
		return rc;
	if (kid != NULL && (rc = jwk_set_kid(*out, kid)) != SF_OK) {
		jwk_free(*out);
		*out = NULL;
	}
	return rc;
}

int
jwk_generate(enum jws_alg alg, struct jwk **out)
{
	const struct jose_alg *ai = jose_alg_info(alg);
	EVP_PKEY *pkey;

	*out = NULL;
	if (ai == NULL)
		return jose_fail(SF_EALG, "jwk: cannot generate a key for "
		    "this algorithm");
	switch (ai->kty) {
	case JWK_KTY_EC:
		pkey = EVP_PKEY_Q_keygen(NULL, NULL, "EC", ai->crv);
		break;
	case JWK_KTY_OKP:
		pkey = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
		break;
	default:
		pkey = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
		break;
	}
	if (pkey == NULL)
		return jose_fail(SF_ECRYPTO, "jwk: key generation failed");
	return jwk_from_pkey(pkey, ai, true, false, out);
}

/*
 * Private keys: PKCS#8 DER is the one form every private key passes
 * through when loaded or stored (sealing at rest hooks in here).
 */
int
jwk_private_der(const struct jwk *key, unsigned char **out, size_t *outlen)
{
	PKCS8_PRIV_KEY_INFO *p8 = NULL;
	unsigned char *der = NULL;
	int len, rc = SF_ECRYPTO;

	*out = NULL;
	*outlen = 0;
	if (key == NULL || !key->priv)
		return jose_fail(SF_EKEY, "jwk: no private key");
	if ((p8 = EVP_PKEY2PKCS8(key->pkey)) == NULL ||
	    (len = i2d_PKCS8_PRIV_KEY_INFO(p8, &der)) <= 0)
		goto out;
	if ((*out = malloc((size_t)len)) == NULL) {
		rc = SF_ENOMEM;
		goto out;
	}
	memcpy(*out, der, (size_t)len);
	*outlen = (size_t)len;
	rc = SF_OK;
out:
	if (der != NULL)
		OPENSSL_clear_free(der, (size_t)len);
	PKCS8_PRIV_KEY_INFO_free(p8);
	if (rc != SF_OK)
		ERR_clear_error();
	return rc;
}

int
jwk_from_private_der(const unsigned char *der, size_t len, enum jws_alg alg,
    struct jwk **out)
{
	const unsigned char *p = der;
	PKCS8_PRIV_KEY_INFO *p8;
	const struct jose_alg *ai = NULL;
	EVP_PKEY *pkey;

	*out = NULL;
	if (alg != JWS_ALG_UNKNOWN && (ai = jose_alg_info(alg)) == NULL)
		return jose_fail(SF_EALG, "jwk: unsupported algorithm");
	if (der == NULL || len == 0 || len > JWK_PEM_MAX)
		return jose_fail(SF_EINVAL, "jwk: empty or oversized DER");
	p8 = d2i_PKCS8_PRIV_KEY_INFO(NULL, &p, (long)len);
	if (p8 == NULL || p != der + len) {
		PKCS8_PRIV_KEY_INFO_free(p8);
		return jose_fail(SF_EKEY, "jwk: not a PKCS#8 private key");
	}
	pkey = EVP_PKCS82PKEY(p8);
	PKCS8_PRIV_KEY_INFO_free(p8);
	if (pkey == NULL)
		return jose_fail(SF_EKEY, "jwk: unusable PKCS#8 private key");
	return jwk_from_pkey(pkey, ai, true, true, out);
}

int
jwk_load_pem(const char *path, enum jws_alg alg, struct jwk **out)
{
	char *buf = NULL, *name = NULL, *header = NULL;
	unsigned char *data = NULL;
	size_t buflen = 0;
	long dlen = 0;
	BIO *bio = NULL;
	int rc;

	*out = NULL;
	if ((rc = sf_read_file(path, JWK_PEM_MAX, &buf, &buflen)) != SF_OK)
		return jose_fail(rc, "jwk: cannot read %s", path);
	if (buflen > INT32_MAX ||
	    (bio = BIO_new_mem_buf(buf, (int)buflen)) == NULL) {
		rc = SF_ENOMEM;
		goto out;
	}
	if (PEM_read_bio_ex(bio, &name, &header, &data, &dlen,
	    PEM_FLAG_SECURE | PEM_FLAG_ONLY_B64) != 1 ||
	    strcmp(name, "PRIVATE KEY") != 0 || header[0] != '\0' ||
	    dlen <= 0) {
		rc = jose_fail(SF_EKEY, "jwk: %s is not a PEM \"PRIVATE KEY\"",
		    path);
		goto out;
	}
	rc = jwk_from_private_der(data, (size_t)dlen, alg, out);
out:
	OPENSSL_secure_free(name);
	OPENSSL_secure_free(header);
	if (data != NULL)
		OPENSSL_secure_clear_free(data, (size_t)dlen);
	BIO_free(bio);
	sf_freezero(buf, buflen);
	ERR_clear_error();
	return rc;
}

/* RFC 7468 §10: PKCS#8 as "PRIVATE KEY", base64 lines of 64 characters. */
int
jwk_save_pem(const struct jwk *key, const char *path)
{
	static const char begin[] = "-----BEGIN PRIVATE KEY-----\n";
	static const char end[] = "-----END PRIVATE KEY-----\n";
	unsigned char *der = NULL;
	size_t derlen = 0, cap = 0, o, i, chunk;
	char *pem = NULL;
	int rc;

	if ((rc = jwk_private_der(key, &der, &derlen)) != SF_OK)
		return rc;
	cap = sizeof(begin) + sizeof(end) + (derlen + 47) / 48 * 66 + 1;
	if ((pem = malloc(cap)) == NULL) {
		rc = SF_ENOMEM;
		goto out;
	}
	memcpy(pem, begin, sizeof(begin) - 1);
	o = sizeof(begin) - 1;
	for (i = 0; i < derlen; i += chunk) {
		chunk = derlen - i < 48 ? derlen - i : 48;
		o += (size_t)EVP_EncodeBlock((unsigned char *)pem + o, der + i,
		    (int)chunk);
		pem[o++] = '\n';
	}
	memcpy(pem + o, end, sizeof(end) - 1);
	o += sizeof(end) - 1;
	if ((rc = sf_write_file(path, pem, o, 0600)) != SF_OK)
		rc = jose_fail(rc, "jwk: cannot write %s", path);
out:
	sf_freezero(pem, cap);
	sf_freezero(der, derlen);
	return rc;
}

int
jwk_to_json(const struct jwk *key, json_t **out)
{
	json_t *o;
	int bad = 0;

	*out = NULL;
	if (key == NULL)
		return SF_EINVAL;
	if ((o = json_object()) == NULL)
		return SF_ENOMEM;
	switch (key->info->kty) {
	case JWK_KTY_EC:
		bad |= json_object_set_new(o, "kty", json_string("EC"));
		bad |= json_object_set_new(o, "crv", json_string(key->info->crv));
		bad |= json_object_set_new(o, "x", json_string(key->pub1));
		bad |= json_object_set_new(o, "y", json_string(key->pub2));
		break;
	case JWK_KTY_OKP:
		bad |= json_object_set_new(o, "kty", json_string("OKP"));
		bad |= json_object_set_new(o, "crv", json_string(key->info->crv));
		bad |= json_object_set_new(o, "x", json_string(key->pub1));
		break;
	default:
		bad |= json_object_set_new(o, "kty", json_string("RSA"));
		bad |= json_object_set_new(o, "n", json_string(key->pub1));
		bad |= json_object_set_new(o, "e", json_string(key->pub2));
		break;
	}
	bad |= json_object_set_new(o, "kid", json_string(key->kid));
	bad |= json_object_set_new(o, "alg", json_string(key->info->name));
	bad |= json_object_set_new(o, "use", json_string("sig"));
	if (bad) {
		json_decref(o);
		return SF_ENOMEM;
	}
	*out = o;
	return SF_OK;
}

int
jwk_thumbprint(const struct jwk *key, char **out)
{
	*out = NULL;
	if (key == NULL)
		return SF_EINVAL;
	if ((*out = sf_strdup(key->thumb)) == NULL)
		return SF_ENOMEM;
	return SF_OK;
}

const char *
jwk_kid(const struct jwk *key)
{
	return key == NULL ? NULL : key->kid;
}

enum jws_alg
jwk_alg(const struct jwk *key)
{
	return key == NULL ? JWS_ALG_UNKNOWN : key->info->alg;
}

bool
jwk_has_private(const struct jwk *key)
{
	return key != NULL && key->priv;
}

int
jwk_set_kid(struct jwk *key, const char *kid)
{
	char *copy;

	if (key == NULL || kid == NULL || !kid_ok(kid))
		return jose_fail(SF_EINVAL, "jwk: \"kid\" is empty, too long "
		    "or holds control characters");
	if ((copy = sf_strdup(kid)) == NULL)
		return SF_ENOMEM;
	free(key->kid);
	key->kid = copy;
	return SF_OK;
}

void
jwk_free(struct jwk *key)
{
	if (key == NULL)
		return;
	EVP_PKEY_CTX_free(key->vctx);
	pthread_mutex_destroy(&key->vlock);
	EVP_PKEY_free(key->pkey);	/* clears private BIGNUMs */
	EVP_MD_free(key->md);
	free(key->kid);
	free(key->thumb);
	free(key->pub1);
	free(key->pub2);
	free(key);
}

/*
 * Key sets.
 */
struct jwks {
	struct jwk	**keys;
	size_t		  n, cap;
};

int
jwks_new(struct jwks **out)
{
	if ((*out = calloc(1, sizeof(**out))) == NULL)
		return SF_ENOMEM;
	return SF_OK;
}

int
jwks_add(struct jwks *set, struct jwk *key)
{
	struct jwk **nk;
	size_t ncap;

	if (set == NULL || key == NULL) {
		jwk_free(key);
		return SF_EINVAL;
	}
	if (jwks_find(set, key->kid) != NULL) {
		(void)jose_fail(SF_EEXIST, "jwks: duplicate kid \"%.64s\"",
		    key->kid);
		jwk_free(key);
		return SF_EEXIST;
	}
	if (set->n == set->cap) {
		ncap = set->cap == 0 ? 4 : set->cap * 2;
		if ((nk = reallocarray(set->keys, ncap, sizeof(*nk))) == NULL) {
			jwk_free(key);
			return SF_ENOMEM;
		}
		set->keys = nk;
		set->cap = ncap;
	}
	set->keys[set->n++] = key;
	return SF_OK;
}

int
jwks_parse(const json_t *obj, enum jws_alg default_alg, bool skip_bad,
    struct jwks **out)
{
	struct jwks *set = NULL;
	struct jwk *k;
	json_t *keys, *v;
	size_t i;
	int rc;

	*out = NULL;
	if (!json_is_object(obj) ||
	    !json_is_array(keys = json_object_get(obj, "keys")))
		return jose_fail(SF_EINVAL, "jwks: not an object with a "
		    "\"keys\" array");
	if ((rc = jwks_new(&set)) != SF_OK)
		return rc;
	json_array_foreach(keys, i, v) {
		if ((rc = jwk_parse(v, default_alg, false, &k)) != SF_OK) {
			if (skip_bad && rc != SF_ENOMEM)
				continue;
			goto out;
		}
		if ((rc = jwks_add(set, k)) != SF_OK)
			goto out;
	}
	*out = set;
	set = NULL;
	rc = SF_OK;
out:
	jwks_free(set);
	return rc;
}

const struct jwk *
jwks_find(const struct jwks *set, const char *kid)
{
	size_t i;

	if (set == NULL || kid == NULL)
		return NULL;
	for (i = 0; i < set->n; i++)
		if (strcmp(set->keys[i]->kid, kid) == 0)
			return set->keys[i];
	return NULL;
}

size_t
jwks_count(const struct jwks *set)
{
	return set == NULL ? 0 : set->n;
}

const struct jwk *
jwks_get(const struct jwks *set, size_t i)
{
	return set == NULL || i >= set->n ? NULL : set->keys[i];
}

int
jwks_to_json(const struct jwks *set, json_t **out)
{
	json_t *o = NULL, *arr, *k;
	size_t i;
	int rc;

	*out = NULL;
	if ((o = json_object()) == NULL || (arr = json_array()) == NULL ||
	    json_object_set_new(o, "keys", arr) != 0) {
		json_decref(o);
		return SF_ENOMEM;
	}
	for (i = 0; i < jwks_count(set); i++) {
		if ((rc = jwk_to_json(set->keys[i], &k)) != SF_OK) {
			json_decref(o);
			return rc;
		}
		if (json_array_append_new(arr, k) != 0) {
			json_decref(o);
			return SF_ENOMEM;
		}
	}
	*out = o;
	return SF_OK;
}

void
jwks_free(struct jwks *set)
{
	size_t i;

	if (set == NULL)
		return;
	for (i = 0; i < set->n; i++)
		jwk_free(set->keys[i]);
	free(set->keys);
	free(set);
}
