/* test_jwk.c - JWK/JWKS parsing, emission, thumbprints, key storage. */
#include <sys/stat.h>

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>

#include "starfly.h"
#include "t.h"

static const enum jws_alg all_algs[] = { JWS_ES256, JWS_ES384, JWS_EDDSA,
    JWS_RS256, JWS_RS384, JWS_RS512, JWS_PS256 };
#define NALGS	(sizeof(all_algs) / sizeof(all_algs[0]))

/* RFC 7638 §3.1 example key (RFC 7517 Appendix A.1) and its thumbprint. */
#define RFC7638_N "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbf" \
	"AAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W" \
	"-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMic" \
	"AtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTW" \
	"hAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU" \
	"8awapJzKnqDKgw"
#define RFC7638_THUMB "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"

/* RFC 8037 Appendix A.1-A.3: Ed25519 key and its thumbprint. */
#define RFC8037_D "nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A"
#define RFC8037_X "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"
#define RFC8037_THUMB "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k"

static char tmpdir[64];

static int
rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

/* Parse JSON text (test input, trusted) and then as a JWK. */
static int
parse_text(const char *text, enum jws_alg def, bool priv, struct jwk **out)
{
	json_t *o = json_loads(text, 0, NULL);
	int rc;

	*out = NULL;
	if (o == NULL)
		return -100;
	rc = jwk_parse(o, def, priv, out);
	json_decref(o);
	return rc;
}

/* Public JWK of a fresh key, with member name replaced by value. */
static json_t *
public_json(enum jws_alg alg, const char *name, json_t *value)
{
	struct jwk *k = NULL;
	json_t *o = NULL;

	if (jwk_generate(alg, &k) == SF_OK && jwk_to_json(k, &o) == SF_OK &&
	    name != NULL) {
		if (value == NULL)
			json_object_del(o, name);
		else
			json_object_set_new(o, name, value);
	} else if (name != NULL)
		json_decref(value);
	jwk_free(k);
	return o;
}

static int
parse_json(json_t *o, enum jws_alg def, bool priv)
{
	struct jwk *k = NULL;
	int rc;

	if (o == NULL)
		return -100;
	rc = jwk_parse(o, def, priv, &k);
	jwk_free(k);
	json_decref(o);
	return rc;
}

static void
test_rfc7638_thumbprint(void)
{
	struct jwk *k;
	char *t;

	T_OK(parse_text("{\"kty\":\"RSA\",\"n\":\"" RFC7638_N "\",\"e\":"
	    "\"AQAB\",\"alg\":\"RS256\",\"kid\":\"2011-04-29\"}",
	    JWS_ALG_UNKNOWN, false, &k));
	T_OK(jwk_thumbprint(k, &t));
	T_EQ_STR(t, RFC7638_THUMB);
	T_EQ_STR(jwk_kid(k), "2011-04-29");
	T(jwk_alg(k) == JWS_RS256);
	T(!jwk_has_private(k));
	free(t);
	jwk_free(k);
}

static void
test_rfc8037_ed25519(void)
{
	struct jwk *k;
	char *t;

	T_OK(parse_text("{\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"x\":\""
	    RFC8037_X "\"}", JWS_ALG_UNKNOWN, false, &k));
	T_OK(jwk_thumbprint(k, &t));
	T_EQ_STR(t, RFC8037_THUMB);
	/* Without "kid", the kid is the thumbprint. */
	T_EQ_STR(jwk_kid(k), RFC8037_THUMB);
	T(jwk_alg(k) == JWS_EDDSA);
	free(t);
	jwk_free(k);
	/* The private key whose public key is x. */
	T_OK(parse_text("{\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"d\":\""
	    RFC8037_D "\",\"x\":\"" RFC8037_X "\"}", JWS_ALG_UNKNOWN, true,
	    &k));
	T(jwk_has_private(k));
	T_EQ_STR(jwk_kid(k), RFC8037_THUMB);
	jwk_free(k);
	/* "x" that is not the public key of "d". */
	T(parse_text("{\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"d\":\""
	    RFC8037_D "\",\"x\":\"" RFC8037_D "\"}", JWS_ALG_UNKNOWN, true,
	    &k) == SF_EKEY);
}

static void
test_generate_emit_parse_all_algs(void)
{
	struct jwk *k, *p;
	json_t *o;
	char *t1, *t2;
	size_t i;

	for (i = 0; i < NALGS; i++) {
		T_OK(jwk_generate(all_algs[i], &k));
		T(jwk_has_private(k));
		T(jwk_alg(k) == all_algs[i]);
		T_OK(jwk_to_json(k, &o));
		T_EQ_STR(json_string_value(json_object_get(o, "use")), "sig");
		T_EQ_STR(json_string_value(json_object_get(o, "alg")),
		    jws_alg_name(all_algs[i]));
		T(json_object_get(o, "d") == NULL);
		T_OK(jwk_parse(o, JWS_ALG_UNKNOWN, false, &p));
		T(jwk_alg(p) == all_algs[i]);
		T(!jwk_has_private(p));
		T_OK(jwk_thumbprint(k, &t1));
		T_OK(jwk_thumbprint(p, &t2));
		T_EQ_STR(t1, t2);
		T_EQ_STR(jwk_kid(k), t1);
		T(strlen(t1) == 43);
		free(t1);
		free(t2);
		json_decref(o);
		jwk_free(p);
		jwk_free(k);
	}
}

static void
test_alg_names(void)
{
	size_t i;

	for (i = 0; i < NALGS; i++)
		T(jws_alg_from_name(jws_alg_name(all_algs[i])) == all_algs[i]);
	T(jws_alg_from_name("none") == JWS_ALG_UNKNOWN);
	T(jws_alg_from_name("HS256") == JWS_ALG_UNKNOWN);
	T(jws_alg_from_name("es256") == JWS_ALG_UNKNOWN);
	T(jws_alg_from_name("ES512") == JWS_ALG_UNKNOWN);
	T(jws_alg_from_name(NULL) == JWS_ALG_UNKNOWN);
	T(jws_alg_name(JWS_ALG_UNKNOWN) == NULL);
}

static void
test_private_der_round_trip(void)
{
	unsigned char *der;
	struct jwk *k, *k2;
	size_t i, len;
	char *t1, *t2;

	for (i = 0; i < NALGS; i++) {
		T_OK(jwk_generate(all_algs[i], &k));
		T_OK(jwk_private_der(k, &der, &len));
		T_OK(jwk_from_private_der(der, len, all_algs[i], &k2));
		T(jwk_has_private(k2));
		T_OK(jwk_thumbprint(k, &t1));
		T_OK(jwk_thumbprint(k2, &t2));
		T_EQ_STR(t1, t2);
		free(t1);
		free(t2);
		jwk_free(k2);
		/* Truncated DER is refused. */
		T(jwk_from_private_der(der, len - 1, all_algs[i], &k2) ==
		    SF_EKEY && k2 == NULL);
		sf_freezero(der, len);
		jwk_free(k);
	}
}

static void
test_der_alg_mismatch(void)
{
	unsigned char *der;
	struct jwk *k, *k2;
	size_t len;

	T_OK(jwk_generate(JWS_ES256, &k));
	T_OK(jwk_private_der(k, &der, &len));
	T(jwk_from_private_der(der, len, JWS_ES384, &k2) == SF_EALG);
	T(jwk_from_private_der(der, len, JWS_RS256, &k2) == SF_EALG);
	/* Unknown alg: implied by the curve. */
	T_OK(jwk_from_private_der(der, len, JWS_ALG_UNKNOWN, &k2));
	T(jwk_alg(k2) == JWS_ES256);
	jwk_free(k2);
	sf_freezero(der, len);
	jwk_free(k);
	/* An RSA key must be told its algorithm. */
	T_OK(jwk_generate(JWS_RS256, &k));
	T_OK(jwk_private_der(k, &der, &len));
	T(jwk_from_private_der(der, len, JWS_ALG_UNKNOWN, &k2) == SF_EALG);
	T(jwk_from_private_der(der, len, JWS_EDDSA, &k2) == SF_EALG);
	T_OK(jwk_from_private_der(der, len, JWS_PS256, &k2));
	T(jwk_alg(k2) == JWS_PS256);
	jwk_free(k2);
	sf_freezero(der, len);
	jwk_free(k);
	/* No private half: no DER. */
	T(jwk_private_der(NULL, &der, &len) == SF_EKEY && der == NULL);
}

static void
test_pem_save_load_mode(void)
{
	char path[128];
	struct jwk *k, *k2;
	struct stat st;
	size_t i;
	char *buf;

	for (i = 0; i < NALGS; i++) {
		snprintf(path, sizeof(path), "%s/k%zu.pem", tmpdir, i);
		T_OK(jwk_generate(all_algs[i], &k));
		T_OK(jwk_save_pem(k, path));
		T(stat(path, &st) == 0 && (st.st_mode & 0777) == 0600);
		T_OK(sf_read_file(path, 65536, &buf, NULL));
		T(strncmp(buf, "-----BEGIN PRIVATE KEY-----\n", 28) == 0);
		free(buf);
		T_OK(jwk_load_pem(path, all_algs[i], &k2));
		T(jwk_has_private(k2));
		T_EQ_STR(jwk_kid(k2), jwk_kid(k));
		jwk_free(k2);
		jwk_free(k);
	}
	T(jwk_load_pem("/nonexistent/x.pem", JWS_ES256, &k2) == SF_ENOTFOUND);
	snprintf(path, sizeof(path), "%s/junk.pem", tmpdir);
	T_OK(sf_write_file(path, "-----BEGIN PUBLIC KEY-----\nAAAA\n"
	    "-----END PUBLIC KEY-----\n", 55, 0600));
	T(jwk_load_pem(path, JWS_ES256, &k2) == SF_EKEY && k2 == NULL);
}

static void
test_refuse_symmetric_and_unknown(void)
{
	struct jwk *k = NULL;

	T(parse_text("{\"kty\":\"oct\",\"k\":\"AAAA\",\"alg\":\"HS256\"}",
	    JWS_ALG_UNKNOWN, true, &k) == SF_EKEY && k == NULL);
	T(parse_text("{\"kty\":\"XYZ\"}", JWS_ALG_UNKNOWN, true, &k) ==
	    SF_EKEY);
	T(parse_text("{\"crv\":\"P-256\"}", JWS_ALG_UNKNOWN, true, &k) ==
	    SF_EINVAL);
	T(parse_text("[]", JWS_ALG_UNKNOWN, true, &k) == SF_EINVAL);
	T(parse_text("{\"kty\":1}", JWS_ALG_UNKNOWN, true, &k) == SF_EINVAL);
	/* P-521 (ES512) and X25519 are not ours. */
	T(parse_json(public_json(JWS_ES256, "crv", json_string("P-521")),
	    JWS_ALG_UNKNOWN, false) == SF_EKEY);
	T(parse_json(public_json(JWS_EDDSA, "crv", json_string("X25519")),
	    JWS_ALG_UNKNOWN, false) == SF_EKEY);
	T(parse_json(public_json(JWS_ES256, "alg", json_string("ES512")),
	    JWS_ALG_UNKNOWN, false) == SF_EALG);
	T(parse_json(public_json(JWS_ES256, "alg", json_string("none")),
	    JWS_ALG_UNKNOWN, false) == SF_EALG);
}

static void
test_refuse_alg_key_mismatch(void)
{
	T(parse_json(public_json(JWS_ES256, "alg", json_string("ES384")),
	    JWS_ALG_UNKNOWN, false) == SF_EALG);
	T(parse_json(public_json(JWS_ES384, "alg", json_string("ES256")),
	    JWS_ALG_UNKNOWN, false) == SF_EALG);
	T(parse_json(public_json(JWS_ES256, "alg", json_string("RS256")),
	    JWS_ALG_UNKNOWN, false) == SF_EALG);
	T(parse_json(public_json(JWS_EDDSA, "alg", json_string("ES256")),
	    JWS_ALG_UNKNOWN, false) == SF_EALG);
	T(parse_json(public_json(JWS_RS256, "alg", json_string("EdDSA")),
	    JWS_ALG_UNKNOWN, false) == SF_EALG);
	T(parse_json(public_json(JWS_ES256, "kty", json_string("RSA")),
	    JWS_ALG_UNKNOWN, false) != SF_OK);
	/* An EC key's "crv" decides even with a default. */
	T(parse_json(public_json(JWS_ES256, "alg", NULL), JWS_RS256, false) ==
	    SF_OK);
}

static void
test_rsa_alg_required_or_default(void)
{
	struct jwk *k;
	json_t *o;

	T(parse_json(public_json(JWS_RS256, "alg", NULL), JWS_ALG_UNKNOWN,
	    false) == SF_EALG);
	T(parse_json(public_json(JWS_RS256, "alg", NULL), JWS_ES256, false) ==
	    SF_EALG);
	o = public_json(JWS_RS256, "alg", NULL);
	T_OK(jwk_parse(o, JWS_PS256, false, &k));
	T(jwk_alg(k) == JWS_PS256);
	jwk_free(k);
	json_decref(o);
}

static void
test_refuse_bad_members(void)
{
	/* Coordinates must be full size and base64url. */
	T(parse_json(public_json(JWS_ES256, "x", json_string("AAAA")),
	    JWS_ALG_UNKNOWN, false) == SF_EKEY);
	T(parse_json(public_json(JWS_ES256, "y", json_string("A+A/")),
	    JWS_ALG_UNKNOWN, false) == SF_EINVAL);
	T(parse_json(public_json(JWS_ES256, "y", NULL), JWS_ALG_UNKNOWN,
	    false) == SF_EINVAL);
	T(parse_json(public_json(JWS_ES256, "x", json_integer(5)),
	    JWS_ALG_UNKNOWN, false) == SF_EINVAL);
	T(parse_json(public_json(JWS_EDDSA, "x", json_string("AAAA")),
	    JWS_ALG_UNKNOWN, false) == SF_EKEY);
	T(parse_json(public_json(JWS_RS256, "n", NULL), JWS_ALG_UNKNOWN,
	    false) == SF_EINVAL);
	T(parse_json(public_json(JWS_RS256, "e", json_string("")),
	    JWS_ALG_UNKNOWN, false) == SF_EKEY);
	/* RFC 7518 §6.3.1.1: no leading zero octets. */
	T(parse_json(public_json(JWS_RS256, "e", json_string("AAEAAQ")),
	    JWS_ALG_UNKNOWN, false) == SF_EKEY);
	/* "kid" must be a usable string. */
	T(parse_json(public_json(JWS_ES256, "kid", json_integer(1)),
	    JWS_ALG_UNKNOWN, false) == SF_EINVAL);
	T(parse_json(public_json(JWS_ES256, "kid", json_string("")),
	    JWS_ALG_UNKNOWN, false) == SF_EINVAL);
	T(parse_json(public_json(JWS_ES256, "kid", json_string("a\nb")),
	    JWS_ALG_UNKNOWN, false) == SF_EINVAL);
	T(parse_json(public_json(JWS_ES256, "alg", json_true()),
	    JWS_ALG_UNKNOWN, false) == SF_EINVAL);
}

static void
test_point_not_on_curve(void)
{
	json_t *o = public_json(JWS_ES256, NULL, NULL);
	unsigned char *y;
	size_t len;
	char *s;

	T(o != NULL);
	T_OK(b64url_decode(json_string_value(json_object_get(o, "y")), 43, &y,
	    &len));
	y[len - 1] ^= 1;
	T_OK(b64url_encode(y, len, &s));
	json_object_set_new(o, "y", json_string(s));
	T(parse_json(o, JWS_ALG_UNKNOWN, false) == SF_EKEY);
	free(s);
	free(y);
}

static void
test_use_and_key_ops(void)
{
	T(parse_json(public_json(JWS_ES256, "use", json_string("enc")),
	    JWS_ALG_UNKNOWN, false) == SF_EKEY);
	T(parse_json(public_json(JWS_ES256, "use", json_string("sig")),
	    JWS_ALG_UNKNOWN, false) == SF_OK);
	T(parse_json(public_json(JWS_ES256, "key_ops",
	    json_pack("[s]", "encrypt")), JWS_ALG_UNKNOWN, false) == SF_EKEY);
	T(parse_json(public_json(JWS_ES256, "key_ops",
	    json_pack("[s,s]", "verify", "verify")), JWS_ALG_UNKNOWN, false) ==
	    SF_EINVAL);
	T(parse_json(public_json(JWS_ES256, "key_ops", json_pack("[]")),
	    JWS_ALG_UNKNOWN, false) == SF_EINVAL);
	T(parse_json(public_json(JWS_ES256, "key_ops",
	    json_pack("[s]", "verify")), JWS_ALG_UNKNOWN, false) == SF_OK);
}

/* Public JWK members (n, e) of an RSA key with the given modulus. */
static json_t *
rsa_json(const BIGNUM *n, const BIGNUM *e)
{
	unsigned char buf[1024];
	char *ns = NULL, *es = NULL;
	json_t *o = NULL;
	int len;

	len = BN_bn2bin(n, buf);
	if (b64url_encode(buf, (size_t)len, &ns) != SF_OK)
		goto out;
	len = BN_bn2bin(e, buf);
	if (b64url_encode(buf, (size_t)len, &es) != SF_OK)
		goto out;
	o = json_pack("{s:s, s:s, s:s, s:s}", "kty", "RSA", "alg", "RS256",
	    "n", ns, "e", es);
out:
	free(ns);
	free(es);
	return o;
}

static void
test_rsa_weak_keys(void)
{
	EVP_PKEY *pk;
	BIGNUM *n = NULL, *e = NULL, *e1 = BN_new(), *e2 = BN_new();

	T(e1 != NULL && e2 != NULL);
	/* RFC 7518 §3.3: at least 2048 bits. */
	pk = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)1024);
	T(pk != NULL);
	T(EVP_PKEY_get_bn_param(pk, OSSL_PKEY_PARAM_RSA_N, &n) == 1);
	T(EVP_PKEY_get_bn_param(pk, OSSL_PKEY_PARAM_RSA_E, &e) == 1);
	EVP_PKEY_free(pk);
	T(parse_json(rsa_json(n, e), JWS_ALG_UNKNOWN, false) == SF_EKEY);
	BN_free(n);
	BN_free(e);
	n = e = NULL;
	pk = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
	T(pk != NULL);
	T(EVP_PKEY_get_bn_param(pk, OSSL_PKEY_PARAM_RSA_N, &n) == 1);
	T(EVP_PKEY_get_bn_param(pk, OSSL_PKEY_PARAM_RSA_E, &e) == 1);
	EVP_PKEY_free(pk);
	T(parse_json(rsa_json(n, e), JWS_ALG_UNKNOWN, false) == SF_OK);
	/* e = 1 makes every signature its own message; e even is no key. */
	T(BN_set_word(e1, 1) == 1 && BN_set_word(e2, 65536) == 1);
	T(parse_json(rsa_json(n, e1), JWS_ALG_UNKNOWN, false) == SF_EKEY);
	T(parse_json(rsa_json(n, e2), JWS_ALG_UNKNOWN, false) == SF_EKEY);
	/* An exponent over 32 bits would make verification slow. */
	T(BN_set_word(e2, 1) == 1 && BN_lshift(e2, e2, 40) == 1 &&
	    BN_add_word(e2, 1) == 1);
	T(parse_json(rsa_json(n, e2), JWS_ALG_UNKNOWN, false) == SF_EKEY);
	/* A modulus with a small factor, and a prime modulus. */
	T(BN_mul_word(n, 997) == 1);
	T(parse_json(rsa_json(n, e), JWS_ALG_UNKNOWN, false) == SF_EKEY);
	T(strstr(jose_why(), "small factor") != NULL);
	T(BN_generate_prime_ex(n, 2048, 0, NULL, NULL, NULL) == 1);
	T(parse_json(rsa_json(n, e), JWS_ALG_UNKNOWN, false) == SF_EKEY);
	T(strstr(jose_why(), "prime") != NULL);
	BN_free(n);
	BN_free(e);
	BN_free(e1);
	BN_free(e2);
}

/*
 * A modulus with the ROCA fingerprint: n = k * M + 65537^c mod M, M the
 * product of the primes 3..167; searched until OpenSSL's own public key
 * checks pass so that only the fingerprint can refuse it.
 */
static void
test_rsa_roca_fingerprint(void)
{
	static const unsigned int primes[] = { 3, 5, 7, 11, 13, 17, 19, 23,
	    29, 31, 37, 41, 43, 47, 53, 59, 61, 67, 71, 73, 79, 83, 89, 97,
	    101, 103, 107, 109, 113, 127, 131, 137, 139, 149, 151, 157, 163,
	    167 };
	BN_CTX *ctx = BN_CTX_new();
	BIGNUM *m = BN_new(), *g = BN_new(), *c = BN_new(), *r = BN_new(),
	    *k = BN_new(), *n = BN_new(), *e = BN_new();
	int tries, rc = -1;
	size_t i;

	T(ctx && m && g && c && r && k && n && e);
	T(BN_set_word(m, 1) == 1 && BN_set_word(g, 65537) == 1 &&
	    BN_set_word(e, 65537) == 1);
	for (i = 0; i < sizeof(primes) / sizeof(primes[0]); i++)
		T(BN_mul_word(m, primes[i]) == 1);
	for (tries = 0; tries < 200 && rc != SF_EKEY; tries++) {
		T(BN_rand(c, 64, BN_RAND_TOP_ANY, BN_RAND_BOTTOM_ANY) == 1);
		T(BN_mod_exp(r, g, c, m, ctx) == 1);
		T(BN_rand(k, 2048 - BN_num_bits(m), BN_RAND_TOP_ONE,
		    BN_RAND_BOTTOM_ANY) == 1);
		T(BN_mul(n, k, m, ctx) == 1 && BN_add(n, n, r) == 1);
		if (!BN_is_odd(n) || BN_num_bits(n) < 2048)
			continue;
		rc = parse_json(rsa_json(n, e), JWS_ALG_UNKNOWN, false);
		if (rc == SF_EKEY && strstr(jose_why(), "ROCA") == NULL)
			rc = -1;	/* refused for another reason */
	}
	T(rc == SF_EKEY);
	BN_free(m);
	BN_free(g);
	BN_free(c);
	BN_free(r);
	BN_free(k);
	BN_free(n);
	BN_free(e);
	BN_CTX_free(ctx);
}

static void
test_private_members_policy(void)
{
	struct jwk *k;
	char *s;
	json_t *o;

	/* A public-key context refuses a JWK carrying "d". */
	T_OK(parse_text("{\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"d\":\""
	    RFC8037_D "\",\"x\":\"" RFC8037_X "\"}", JWS_ALG_UNKNOWN, true,
	    &k));
	jwk_free(k);
	T(parse_text("{\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"d\":\""
	    RFC8037_D "\",\"x\":\"" RFC8037_X "\"}", JWS_ALG_UNKNOWN, false,
	    &k) == SF_EKEY);
	/* An RSA "p" alone is private material too. */
	o = public_json(JWS_RS256, "p", json_string("AQAB"));
	s = json_dumps(o, 0);
	json_decref(o);
	T(parse_text(s, JWS_ALG_UNKNOWN, false, &k) == SF_EKEY);
	/* And allowed, it must come with every CRT member. */
	T(parse_text(s, JWS_ALG_UNKNOWN, true, &k) == SF_EKEY);
	free(s);
}

static void
test_ec_private_jwk(void)
{
	unsigned char *der;
	struct jwk *k, *k2;
	json_t *o;
	size_t len;
	char *d;
	EVP_PKEY *pk;
	BIGNUM *dbn = NULL;
	unsigned char buf[32];
	const unsigned char *p;

	/* Build a private EC JWK from a generated key's scalar. */
	T_OK(jwk_generate(JWS_ES256, &k));
	T_OK(jwk_private_der(k, &der, &len));
	p = der;
	pk = d2i_AutoPrivateKey(NULL, &p, (long)len);
	T(pk != NULL);
	T(EVP_PKEY_get_bn_param(pk, OSSL_PKEY_PARAM_PRIV_KEY, &dbn) == 1);
	T(BN_bn2binpad(dbn, buf, 32) == 32);
	T_OK(b64url_encode(buf, 32, &d));
	T_OK(jwk_to_json(k, &o));
	json_object_set_new(o, "d", json_string(d));
	T_OK(jwk_parse(o, JWS_ALG_UNKNOWN, true, &k2));
	T(jwk_has_private(k2));
	T_EQ_STR(jwk_kid(k2), jwk_kid(k));
	jwk_free(k2);
	/* A "d" of another key does not match x, y. */
	buf[5] ^= 0x40;
	free(d);
	T_OK(b64url_encode(buf, 32, &d));
	json_object_set_new(o, "d", json_string(d));
	T(jwk_parse(o, JWS_ALG_UNKNOWN, true, &k2) == SF_EKEY);
	json_decref(o);
	free(d);
	BN_clear_free(dbn);
	EVP_PKEY_free(pk);
	sf_freezero(der, len);
	jwk_free(k);
}

static void
test_set_kid(void)
{
	struct jwk *k;

	T_OK(jwk_generate(JWS_ES256, &k));
	T_OK(jwk_set_kid(k, "my-key"));
	T_EQ_STR(jwk_kid(k), "my-key");
	T(jwk_set_kid(k, "") == SF_EINVAL);
	T(jwk_set_kid(k, "x\x01") == SF_EINVAL);
	T_EQ_STR(jwk_kid(k), "my-key");
	jwk_free(k);
	jwk_free(NULL);
}

static void
test_jwks(void)
{
	struct jwks *set, *set2;
	struct jwk *a, *b, *dup;
	json_t *o, *oct;
	char *s;

	T_OK(jwks_new(&set));
	T_OK(jwk_generate(JWS_ES256, &a));
	T_OK(jwk_generate(JWS_EDDSA, &b));
	T_OK(jwk_set_kid(b, "second"));
	T_OK(jwks_add(set, a));
	T_OK(jwks_add(set, b));
	T(jwks_count(set) == 2);
	T(jwks_find(set, "second") == b);
	T(jwks_find(set, jwk_kid(a)) == a);
	T(jwks_find(set, "nope") == NULL);
	T(jwks_get(set, 2) == NULL);
	/* A second key with an existing kid is refused (and freed). */
	T_OK(jwk_generate(JWS_ES384, &dup));
	T_OK(jwk_set_kid(dup, "second"));
	T(jwks_add(set, dup) == SF_EEXIST);
	T_OK(jwks_to_json(set, &o));
	T(json_array_size(json_object_get(o, "keys")) == 2);
	T_OK(jwks_parse(o, JWS_ALG_UNKNOWN, false, &set2));
	T(jwks_count(set2) == 2);
	T(jwk_alg(jwks_find(set2, "second")) == JWS_EDDSA);
	jwks_free(set2);
	/* Duplicate kids in a document are an error even when skipping. */
	json_array_append(json_object_get(o, "keys"),
	    json_array_get(json_object_get(o, "keys"), 1));
	T(jwks_parse(o, JWS_ALG_UNKNOWN, true, &set2) == SF_EEXIST);
	json_array_remove(json_object_get(o, "keys"), 2);
	/* A bad key: skipped on request, an error otherwise. */
	oct = json_pack("{s:s, s:s}", "kty", "oct", "k", "AAAA");
	json_array_append_new(json_object_get(o, "keys"), oct);
	T(jwks_parse(o, JWS_ALG_UNKNOWN, false, &set2) == SF_EKEY &&
	    set2 == NULL);
	T_OK(jwks_parse(o, JWS_ALG_UNKNOWN, true, &set2));
	T(jwks_count(set2) == 2);
	jwks_free(set2);
	s = json_dumps(o, 0);
	T(s != NULL && strstr(s, "\"d\"") == NULL);
	free(s);
	json_decref(o);
	o = json_pack("{s:{}}", "keys");
	T(jwks_parse(o, JWS_ALG_UNKNOWN, true, &set2) == SF_EINVAL);
	json_decref(o);
	jwks_free(set);
	jwks_free(NULL);
}

int
main(void)
{
	t_prog = "jwk";
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/test_jwk.XXXXXX");
	if (mkdtemp(tmpdir) == NULL)
		return 1;
	RUN(test_rfc7638_thumbprint);
	RUN(test_rfc8037_ed25519);
	RUN(test_generate_emit_parse_all_algs);
	RUN(test_alg_names);
	RUN(test_private_der_round_trip);
	RUN(test_der_alg_mismatch);
	RUN(test_pem_save_load_mode);
	RUN(test_refuse_symmetric_and_unknown);
	RUN(test_refuse_alg_key_mismatch);
	RUN(test_rsa_alg_required_or_default);
	RUN(test_refuse_bad_members);
	RUN(test_point_not_on_curve);
	RUN(test_use_and_key_ops);
	RUN(test_rsa_weak_keys);
	RUN(test_rsa_roca_fingerprint);
	RUN(test_private_members_policy);
	RUN(test_ec_private_jwk);
	RUN(test_set_kid);
	RUN(test_jwks);
	(void)nftw(tmpdir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	return T_DONE();
}
