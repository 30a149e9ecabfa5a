/*
 * test_jws.c - compact JWS parse/verify/sign, and the RFC 8725 attack
 * corpus: alg none, HMAC with the public key, alg swaps, header-embedded
 * keys, unknown kid, malformed parts and base64url, ECDSA r/s edge
 * values, wrong signature lengths, crit, duplicate JSON members.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/obj_mac.h>

#include "starfly.h"
#include "t.h"

static const enum jws_alg all_algs[] = { JWS_ES256, JWS_ES384, JWS_EDDSA,
    JWS_RS256, JWS_RS384, JWS_RS512, JWS_PS256 };
#define NALGS	(sizeof(all_algs) / sizeof(all_algs[0]))

/* One signing key per algorithm, and a set of their public halves. */
static struct jwk *signer[NALGS];
static struct jwks *pubset;

static const struct jwk *
key_for(enum jws_alg alg)
{
	size_t i;

	for (i = 0; i < NALGS; i++)
		if (all_algs[i] == alg)
			return signer[i];
	return NULL;
}

/* Public copy of a key (through its JWK), with kid. */
static struct jwk *
public_of(const struct jwk *k)
{
	struct jwk *p = NULL;
	json_t *o = NULL;

	if (jwk_to_json(k, &o) == SF_OK &&
	    jwk_parse(o, JWS_ALG_UNKNOWN, false, &p) != SF_OK)
		p = NULL;
	json_decref(o);
	return p;
}

static int
setup(void)
{
	size_t i;

	if (jwks_new(&pubset) != SF_OK)
		return -1;
	for (i = 0; i < NALGS; i++) {
		if (jwk_generate(all_algs[i], &signer[i]) != SF_OK ||
		    jwks_add(pubset, public_of(signer[i])) != SF_OK)
			return -1;
	}
	return 0;
}

static int
verify(const char *tok, struct jws **out)
{
	struct jws *j = NULL;
	int rc;

	rc = jws_verify_compact(tok, strlen(tok), pubset, &j);
	if (out != NULL)
		*out = j;
	else
		jws_free(j);
	return rc;
}

/* "b64(header).b64(payload).sig64" from texts. */
static char *
assemble(const char *header, const char *payload, const char *sig64)
{
	char *h = NULL, *p = NULL, *t = NULL;

	if (b64url_encode(header, strlen(header), &h) == SF_OK &&
	    b64url_encode(payload, strlen(payload), &p) == SF_OK)
		(void)sf_asprintf(&t, "%s.%s.%s", h, p, sig64);
	free(h);
	free(p);
	return t;
}

/* A valid token of alg with claims {"sub":"alice"}. */
static char *
good_token(enum jws_alg alg)
{
	json_t *c = json_pack("{s:s, s:i}", "sub", "alice", "exp", 2000000000);
	char *t = NULL;

	if (jws_sign_jwt(key_for(alg), "at+jwt", c, &t) != SF_OK)
		t = NULL;
	json_decref(c);
	return t;
}

/* Replace the signature of tok by the base64url of sig. */
static char *
with_sig(const char *tok, const unsigned char *sig, size_t len)
{
	const char *dot = strrchr(tok, '.');
	char *s64 = NULL, *t = NULL;

	if (dot != NULL && b64url_encode(sig, len, &s64) == SF_OK)
		(void)sf_asprintf(&t, "%.*s.%s", (int)(dot - tok), tok, s64);
	free(s64);
	return t;
}

/* The decoded signature of tok (new). */
static unsigned char *
sig_of(const char *tok, size_t *len)
{
	const char *dot = strrchr(tok, '.');
	unsigned char *s = NULL;

	if (b64url_decode(dot + 1, strlen(dot + 1), &s, len) != SF_OK)
		return NULL;
	return s;
}

static void
test_round_trip_all_algs(void)
{
	struct jws *j;
	size_t i;
	char *t;

	for (i = 0; i < NALGS; i++) {
		T((t = good_token(all_algs[i])) != NULL);
		T_OK(verify(t, &j));
		T(j->alg == all_algs[i]);
		T_EQ_STR(j->kid, jwk_kid(signer[i]));
		T_EQ_STR(j->typ, "at+jwt");
		T_EQ_STR(json_string_value(json_object_get(j->claims, "sub")),
		    "alice");
		T(json_integer_value(json_object_get(j->claims, "exp")) ==
		    2000000000);
		/* The header is exactly alg, kid, typ. */
		T(json_object_size(j->header) == 3);
		jws_free(j);
		/* The signing key verifies its own tokens too. */
		T_OK(jws_parse(t, strlen(t), &j));
		T_OK(jws_verify(j, signer[i]));
		jws_free(j);
		free(t);
	}
}

static void
test_rfc8037_ed25519_example(void)
{
	/* RFC 8037 Appendix A.4: signature over "Example of Ed25519 signing". */
	static const char tok[] = "eyJhbGciOiJFZERTQSJ9."
	    "RXhhbXBsZSBvZiBFZDI1NTE5IHNpZ25pbmc."
	    "hgyY0il_MGCjP0JzlnLWG1PPOt7-09PGcvMg3AIbQR6dWbhijcNR4ki4iylGjg5B"
	    "hVsPt9g7sVvpAr_MuM0KAg";
	struct jwks *set;
	struct jws *j;
	json_t *o;

	o = json_pack("{s:[{s:s, s:s, s:s}]}", "keys", "kty", "OKP", "crv",
	    "Ed25519", "x", "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo");
	T(o != NULL);
	T_OK(jwks_parse(o, JWS_ALG_UNKNOWN, false, &set));
	json_decref(o);
	T_OK(jws_verify_compact(tok, strlen(tok), set, &j));
	T(j->payload_len == 26 &&
	    memcmp(j->payload, "Example of Ed25519 signing", 26) == 0);
	T(j->claims == NULL);
	jws_free(j);
	jwks_free(set);
}

static void
test_sign_header_cannot_override(void)
{
	json_t *h = json_pack("{s:s, s:s, s:s}", "alg", "none", "kid", "evil",
	    "cty", "text");
	struct jws *j;
	char *t;

	T_OK(jws_sign(key_for(JWS_ES256), h, "hello", 5, &t));
	json_decref(h);
	T_OK(verify(t, &j));
	T(j->alg == JWS_ES256);
	T_EQ_STR(j->kid, jwk_kid(key_for(JWS_ES256)));
	T_EQ_STR(json_string_value(json_object_get(j->header, "cty")), "text");
	T(j->payload_len == 5 && j->claims == NULL);
	jws_free(j);
	free(t);
	/* A public key cannot sign. */
	T(jws_sign(jwks_get(pubset, 0), NULL, "x", 1, &t) == SF_EKEY &&
	    t == NULL);
}

static void
test_alg_none(void)
{
	static const char *const names[] = { "none", "None", "NONE", "nOnE" };
	char hdr[128], *t;
	size_t i;

	for (i = 0; i < 4; i++) {
		snprintf(hdr, sizeof(hdr), "{\"alg\":\"%s\",\"kid\":\"%s\"}",
		    names[i], jwk_kid(key_for(JWS_ES256)));
		T((t = assemble(hdr, "{\"sub\":\"alice\"}", "")) != NULL);
		T(verify(t, NULL) == SF_EALG);
		free(t);
		/* With a signature from the real key appended. */
		T((t = assemble(hdr, "{\"sub\":\"alice\"}", "AAAA")) != NULL);
		T(verify(t, NULL) == SF_EALG);
		free(t);
	}
}

/* HS256 token whose HMAC key is the given bytes. */
static char *
hs256_token(const char *kid, const void *secret, size_t slen)
{
	unsigned char mac[32];
	size_t maclen = 0;
	char hdr[256], *t, *full = NULL, *m64 = NULL;

	snprintf(hdr, sizeof(hdr), "{\"alg\":\"HS256\",\"kid\":\"%s\"}", kid);
	if ((t = assemble(hdr, "{\"sub\":\"admin\"}", "")) == NULL)
		return NULL;
	t[strlen(t) - 1] = '\0';	/* drop the trailing '.' */
	if (EVP_Q_mac(NULL, "HMAC", NULL, "SHA256", NULL, secret, slen,
	    (const unsigned char *)t,
	    strlen(t), mac, sizeof(mac), &maclen) != NULL &&
	    b64url_encode(mac, maclen, &m64) == SF_OK)
		(void)sf_asprintf(&full, "%s.%s", t, m64);
	free(m64);
	free(t);
	return full;
}

static void
test_hmac_with_public_key(void)
{
	json_t *o;
	char *pub, *t;
	size_t i;

	/* Key confusion: the verifier's public key as the HMAC secret. */
	for (i = 0; i < NALGS; i++) {
		T_OK(jwk_to_json(signer[i], &o));
		pub = json_dumps(o, JSON_COMPACT);
		json_decref(o);
		T(pub != NULL);
		T((t = hs256_token(jwk_kid(signer[i]), pub, strlen(pub))) !=
		    NULL);
		T(verify(t, NULL) == SF_EALG);
		free(t);
		free(pub);
	}
}

static void
test_alg_swaps(void)
{
	const struct jwk *rs = key_for(JWS_RS256);
	struct jwk *ps_same = NULL, *pub_rs;
	struct jwks *set;
	unsigned char *der;
	size_t len;
	char *t, *t2;
	struct jws *j;
	json_t *c;

	/* The same RSA key material pinned to PS256 signs a PS256 token. */
	T_OK(jwk_private_der(rs, &der, &len));
	T_OK(jwk_from_private_der(der, len, JWS_PS256, &ps_same));
	sf_freezero(der, len);
	T_OK(jwk_set_kid(ps_same, jwk_kid(rs)));
	T((t = good_token(JWS_RS256)) != NULL);
	c = json_pack("{s:s}", "sub", "alice");
	T_OK(jws_sign_jwt(ps_same, NULL, c, &t2));
	json_decref(c);
	/* The RS256-pinned key refuses it although the signature is good. */
	T(verify(t2, NULL) == SF_EALG);
	T_OK(jws_parse(t2, strlen(t2), &j));
	T_OK(jws_verify(j, ps_same));
	T(jws_verify(j, rs) == SF_EALG);
	jws_free(j);
	/* And the reverse: a PS256 key and an RS256 token. */
	T_OK(jwks_new(&set));
	T((pub_rs = public_of(ps_same)) != NULL);
	T_OK(jwks_add(set, pub_rs));
	T(jws_verify_compact(t, strlen(t), set, &j) == SF_EALG && j == NULL);
	T_OK(jws_verify_compact(t2, strlen(t2), set, &j));
	jws_free(j);
	jwks_free(set);
	free(t);
	free(t2);
	jwk_free(ps_same);
}

static void
test_header_alg_mismatch_each_key(void)
{
	char hdr[256], *t;
	size_t i, a;

	/* Every key refuses every other algorithm named in the header. */
	for (i = 0; i < NALGS; i++)
		for (a = 0; a < NALGS; a++) {
			if (a == i)
				continue;
			snprintf(hdr, sizeof(hdr), "{\"alg\":\"%s\",\"kid\":"
			    "\"%s\"}", jws_alg_name(all_algs[a]),
			    jwk_kid(signer[i]));
			T((t = assemble(hdr, "{}", "AAAA")) != NULL);
			T(verify(t, NULL) == SF_EALG);
			free(t);
		}
}

static void
test_embedded_keys_ignored(void)
{
	struct jwk *evil;
	json_t *h, *ej;
	char *t;

	/* An attacker's key in "jwk", and URLs in "jku"/"x5u". */
	T_OK(jwk_generate(JWS_ES256, &evil));
	T_OK(jwk_set_kid(evil, jwk_kid(key_for(JWS_ES256))));
	T_OK(jwk_to_json(evil, &ej));
	h = json_pack("{s:o, s:s, s:s, s:[s]}", "jwk", ej, "jku",
	    "https://evil.example/jwks", "x5u", "https://evil.example/x5u",
	    "x5c", "MIIB");
	T_OK(jws_sign(evil, h, "{\"sub\":\"admin\"}", 15, &t));
	json_decref(h);
	T(verify(t, NULL) == SF_EBADSIG);
	free(t);
	jwk_free(evil);
}

static void
test_kid_selection(void)
{
	char hdr[256], *t, *g;
	struct jwks *one;
	struct jws *j;

	/* Unknown kid, path-like kid, non-string kid. */
	T((t = assemble("{\"alg\":\"ES256\",\"kid\":\"unknown\"}", "{}",
	    "AAAA")) != NULL);
	T(verify(t, NULL) == SF_EKEY);
	free(t);
	T((t = assemble("{\"alg\":\"ES256\",\"kid\":\"../../dev/null\"}",
	    "{}", "AAAA")) != NULL);
	T(verify(t, NULL) == SF_EKEY);
	free(t);
	T((t = assemble("{\"alg\":\"ES256\",\"kid\":7}", "{}", "AAAA")) !=
	    NULL);
	T(verify(t, NULL) == SF_EINVAL);
	free(t);
	/* No kid: refused with several keys, used with exactly one. */
	T((g = good_token(JWS_ES256)) != NULL);
	snprintf(hdr, sizeof(hdr), "{\"alg\":\"ES256\"}");
	T((t = assemble(hdr, "{}", "AAAA")) != NULL);
	T(verify(t, NULL) == SF_EKEY);
	free(t);
	T_OK(jwks_new(&one));
	T_OK(jwks_add(one, public_of(key_for(JWS_ES256))));
	T_OK(jws_verify_compact(g, strlen(g), one, &j));
	jws_free(j);
	jwks_free(one);
	free(g);
}

static void
test_part_structure(void)
{
	char *g, *t;

	T((g = good_token(JWS_ES256)) != NULL);
	T(verify("", NULL) == SF_EPARSE);
	T(verify(".", NULL) == SF_EPARSE);
	T(verify("..", NULL) == SF_EPARSE);
	T(verify("abc", NULL) == SF_EPARSE);
	/* Two parts (signature and its separator dropped). */
	*strrchr(g, '.') = '\0';
	T(verify(g, NULL) == SF_EPARSE);
	/* Signature dropped, separator kept. */
	T_OK(sf_asprintf(&t, "%s.", g));
	T(verify(t, NULL) == SF_EBADSIG);
	free(t);
	free(g);
	/* Four and five parts. */
	T((g = good_token(JWS_ES256)) != NULL);
	T_OK(sf_asprintf(&t, "%s.AAAA", g));
	T(verify(t, NULL) == SF_EPARSE);
	free(t);
	T_OK(sf_asprintf(&t, "%s..", g));
	T(verify(t, NULL) == SF_EPARSE);
	free(t);
	/* Header dropped. */
	T(verify(strchr(g, '.'), NULL) == SF_EPARSE);
	/* A JSON serialisation is not compact. */
	T(verify("{\"payload\":\"e30\",\"signatures\":[]}", NULL) ==
	    SF_EPARSE);
	free(g);
}

static void
test_bad_base64url(void)
{
	static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
	    "abcdefghijklmnopqrstuvwxyz0123456789-_";
	const char *p;
	char *g, *t;
	size_t n;

	T((g = good_token(JWS_ES256)) != NULL);
	n = strlen(g);
	/* Padding on the signature (64 bytes: 86 chars, "==" to pad). */
	T_OK(sf_asprintf(&t, "%s==", g));
	T(verify(t, NULL) == SF_EPARSE);
	free(t);
	/* Standard-alphabet characters and whitespace. */
	T((t = sf_strdup(g)) != NULL);
	t[n - 5] = '+';
	T(verify(t, NULL) == SF_EPARSE);
	t[n - 5] = ' ';
	T(verify(t, NULL) == SF_EPARSE);
	free(t);
	T_OK(sf_asprintf(&t, " %s", g));
	T(verify(t, NULL) == SF_EPARSE);
	free(t);
	T_OK(sf_asprintf(&t, "%s\n", g));
	T(verify(t, NULL) == SF_EPARSE);
	free(t);
	/*
	 * Non-canonical trailing bits: 64 bytes end in one 8-bit group
	 * spread over two characters, the last of which has 4 unused bits.
	 */
	T((t = sf_strdup(g)) != NULL);
	p = strchr(alphabet, t[n - 1]);
	T(p != NULL && ((p - alphabet) & 15) == 0);
	t[n - 1] = alphabet[(p - alphabet) | 1];
	T(verify(t, NULL) == SF_EPARSE);
	free(t);
	/* Header padding. */
	T_OK(sf_asprintf(&t, "%.*s=%s", (int)(strchr(g, '.') - g), g,
	    strchr(g, '.')));
	T(verify(t, NULL) == SF_EPARSE);
	free(t);
	free(g);
}

/* A signature r || s with each half set from a big-endian value. */
static void
ecdsa_edge(enum jws_alg alg, int nid)
{
	EC_GROUP *grp = EC_GROUP_new_by_curve_name(nid);
	const BIGNUM *n;
	BIGNUM *nm1 = NULL, *np1 = NULL;
	unsigned char vals[5][48], sig[96], *good;
	size_t c, glen, i, j;
	char *g, *t;
	int rc;

	T(grp != NULL);
	n = EC_GROUP_get0_order(grp);
	c = (size_t)BN_num_bytes(n);
	T((nm1 = BN_dup(n)) != NULL && BN_sub_word(nm1, 1) == 1);
	T((np1 = BN_dup(n)) != NULL && BN_add_word(np1, 1) == 1);
	T((g = good_token(alg)) != NULL);
	T((good = sig_of(g, &glen)) != NULL && glen == 2 * c);
	/* 0, 1, n-1, n, n+1 */
	memset(vals, 0, sizeof(vals));
	vals[1][c - 1] = 1;
	T(BN_bn2binpad(nm1, vals[2], (int)c) == (int)c);
	T(BN_bn2binpad(n, vals[3], (int)c) == (int)c);
	T(BN_bn2binpad(np1, vals[4], (int)c) == (int)c);
	for (i = 0; i < 5; i++)
		for (j = 0; j < 5; j++) {
			memcpy(sig, vals[i], c);
			memcpy(sig + c, vals[j], c);
			T((t = with_sig(g, sig, 2 * c)) != NULL);
			rc = verify(t, NULL);
			free(t);
			T(rc == SF_EBADSIG);
		}
	/* The real r with s = 0 or s = n (CVE-2022-21449 shapes). */
	memcpy(sig, good, c);
	memset(sig + c, 0, c);
	T((t = with_sig(g, sig, 2 * c)) != NULL);
	T(verify(t, NULL) == SF_EBADSIG);
	free(t);
	memcpy(sig + c, vals[3], c);
	T((t = with_sig(g, sig, 2 * c)) != NULL);
	T(verify(t, NULL) == SF_EBADSIG);
	free(t);
	/* The good signature still verifies (the edits were the cause). */
	T((t = with_sig(g, good, glen)) != NULL);
	T_OK(verify(t, NULL));
	free(t);
	free(good);
	free(g);
	BN_free(nm1);
	BN_free(np1);
	EC_GROUP_free(grp);
}

static void
test_ecdsa_r_s_edges_p256(void)
{
	ecdsa_edge(JWS_ES256, NID_X9_62_prime256v1);
}

static void
test_ecdsa_r_s_edges_p384(void)
{
	ecdsa_edge(JWS_ES384, NID_secp384r1);
}

static void
test_signature_lengths(void)
{
	unsigned char *s, big[1024];
	size_t len, i;
	char *g, *t;

	for (i = 0; i < NALGS; i++) {
		T((g = good_token(all_algs[i])) != NULL);
		T((s = sig_of(g, &len)) != NULL);
		/* One byte short, one zero byte more (trailing or leading). */
		T((t = with_sig(g, s, len - 1)) != NULL);
		T(verify(t, NULL) == SF_EBADSIG);
		free(t);
		memcpy(big, s, len);
		big[len] = 0;
		T((t = with_sig(g, big, len + 1)) != NULL);
		T(verify(t, NULL) == SF_EBADSIG);
		free(t);
		big[0] = 0;
		memcpy(big + 1, s, len);
		T((t = with_sig(g, big, len + 1)) != NULL);
		T(verify(t, NULL) == SF_EBADSIG);
		free(t);
		/* A flipped bit. */
		s[len / 2] ^= 0x10;
		T((t = with_sig(g, s, len)) != NULL);
		T(verify(t, NULL) == SF_EBADSIG);
		free(t);
		free(s);
		free(g);
	}
}

static void
test_ecdsa_der_instead_of_raw(void)
{
	unsigned char *s, der[80];
	size_t len;
	char *g, *t;

	/* SEQUENCE { INTEGER r, INTEGER s } built from the raw halves. */
	T((g = good_token(JWS_ES256)) != NULL);
	T((s = sig_of(g, &len)) != NULL && len == 64);
	der[0] = 0x30;
	der[1] = 2 * 35;
	der[2] = 0x02;
	der[3] = 33;
	der[4] = 0;
	memcpy(der + 5, s, 32);
	der[37] = 0x02;
	der[38] = 33;
	der[39] = 0;
	memcpy(der + 40, s + 32, 32);
	T((t = with_sig(g, der, 72)) != NULL);
	T(verify(t, NULL) == SF_EBADSIG);
	free(t);
	free(s);
	free(g);
}

static void
test_modified_parts(void)
{
	struct jws *j;
	char *g, *t, *p;
	size_t i;

	for (i = 0; i < NALGS; i++) {
		T((g = good_token(all_algs[i])) != NULL);
		/* Payload swapped for another. */
		T((p = assemble("{}", "{\"sub\":\"mallory\"}", "")) != NULL);
		T_OK(sf_asprintf(&t, "%.*s.%.*s%s", (int)(strchr(g, '.') - g),
		    g, (int)(strrchr(p, '.') - strchr(p, '.') - 1),
		    strchr(p, '.') + 1, strrchr(g, '.')));
		T_OK(jws_parse(t, strlen(t), &j));
		T_EQ_STR(json_string_value(json_object_get(j->claims, "sub")),
		    "mallory");
		jws_free(j);
		T(verify(t, NULL) == SF_EBADSIG);
		free(t);
		free(p);
		free(g);
	}
	/* Header with a changed member: same alg and kid, bad signature. */
	T((g = good_token(JWS_EDDSA)) != NULL);
	T_OK(jws_parse(g, strlen(g), &j));
	json_object_set_new(j->header, "typ", json_string("JWT"));
	p = json_dumps(j->header, JSON_COMPACT);
	jws_free(j);
	T((t = assemble(p, "{\"sub\":\"alice\",\"exp\":2000000000}",
	    strrchr(g, '.') + 1)) != NULL);
	T(verify(t, NULL) == SF_EBADSIG);
	free(t);
	free(p);
	free(g);
}

static void
test_other_key_same_alg(void)
{
	struct jwk *other;
	json_t *c = json_pack("{s:s}", "sub", "alice");
	char *t;

	T_OK(jwk_generate(JWS_ES256, &other));
	T_OK(jwk_set_kid(other, jwk_kid(key_for(JWS_ES256))));
	T_OK(jws_sign_jwt(other, NULL, c, &t));
	T(verify(t, NULL) == SF_EBADSIG);
	free(t);
	json_decref(c);
	jwk_free(other);
}

static void
test_crit_and_b64_refused(void)
{
	json_t *h;
	char *t;

	h = json_pack("{s:[s], s:i}", "crit", "exp", "exp", 1);
	T_OK(jws_sign(key_for(JWS_ES256), h, "{}", 2, &t));
	json_decref(h);
	T(verify(t, NULL) == SF_EINVAL);
	free(t);
	h = json_pack("{s:b, s:[s]}", "b64", 0, "crit", "b64");
	T_OK(jws_sign(key_for(JWS_ES256), h, "{}", 2, &t));
	json_decref(h);
	T(verify(t, NULL) == SF_EINVAL);
	free(t);
	/* Even an empty crit list. */
	h = json_pack("{s:[]}", "crit");
	T_OK(jws_sign(key_for(JWS_ES256), h, "{}", 2, &t));
	json_decref(h);
	T(verify(t, NULL) == SF_EINVAL);
	free(t);
}

static void
test_duplicate_members_and_bad_json(void)
{
	char hdr[256], *t;
	struct jws *j;

	snprintf(hdr, sizeof(hdr), "{\"alg\":\"ES256\",\"kid\":\"%s\","
	    "\"alg\":\"none\"}", jwk_kid(key_for(JWS_ES256)));
	T((t = assemble(hdr, "{}", "AAAA")) != NULL);
	T(verify(t, NULL) == SF_EPARSE);
	free(t);
	/* In the payload: the signature would be good, the claims are not. */
	snprintf(hdr, sizeof(hdr), "{\"alg\":\"ES256\",\"kid\":\"%s\"}",
	    jwk_kid(key_for(JWS_ES256)));
	T((t = assemble(hdr, "{\"sub\":\"a\",\"sub\":\"b\"}", "AAAA")) !=
	    NULL);
	T(jws_parse(t, strlen(t), &j) == SF_EPARSE && j == NULL);
	free(t);
	/* Header not an object, not JSON, bad UTF-8, NUL, no alg. */
	T((t = assemble("[\"ES256\"]", "{}", "AAAA")) != NULL);
	T(verify(t, NULL) == SF_EPARSE);
	free(t);
	T((t = assemble("{\"alg\":\"ES256\"", "{}", "AAAA")) != NULL);
	T(verify(t, NULL) == SF_EPARSE);
	free(t);
	T((t = assemble("{\"alg\":\"ES256\",\"x\":\"\xc3\x28\"}", "{}",
	    "AAAA")) != NULL);
	T(verify(t, NULL) == SF_EPARSE);
	free(t);
	T((t = assemble("{\"alg\":\"ES256\",\"x\":\"a\\u0000b\"}", "{}",
	    "AAAA")) != NULL);
	T(verify(t, NULL) == SF_EPARSE);
	free(t);
	T((t = assemble("{\"kid\":\"x\"}", "{}", "AAAA")) != NULL);
	T(verify(t, NULL) == SF_EINVAL);
	free(t);
	T((t = assemble("{\"alg\":256}", "{}", "AAAA")) != NULL);
	T(verify(t, NULL) == SF_EINVAL);
	free(t);
	/* A payload that is not an object leaves claims NULL. */
	T((t = assemble(hdr, "[1,2]", "AAAA")) != NULL);
	T_OK(jws_parse(t, strlen(t), &j));
	T(j->claims == NULL && j->payload_len == 5);
	jws_free(j);
	free(t);
	T((t = assemble(hdr, " {\"a\":", "AAAA")) != NULL);
	T(jws_parse(t, strlen(t), &j) == SF_EPARSE);
	free(t);
}

static void
test_oversized(void)
{
	char *big, *t;
	size_t n = 70000;

	T((big = malloc(n + 1)) != NULL);
	memset(big, 'A', n);
	big[n] = '\0';
	T_OK(sf_asprintf(&t, "eyJhbGciOiJFUzI1NiJ9.%s.AAAA", big));
	T(verify(t, NULL) == SF_ETOOBIG);
	free(t);
	free(big);
}

static void
test_why_names_the_problem(void)
{
	char *t;

	T(verify("a.b", NULL) == SF_EPARSE);
	T(strstr(jose_why(), "three") != NULL);
	T((t = assemble("{\"alg\":\"ES256\",\"crit\":[]}", "{}", "AAAA")) !=
	    NULL);
	T(verify(t, NULL) == SF_EINVAL);
	T(strstr(jose_why(), "crit") != NULL);
	free(t);
}

struct verifier {
	const char	*good, *bad;
	int		 wrong;
};

static void *
verify_many(void *arg)
{
	struct verifier *v = arg;
	int i;

	for (i = 0; i < 200; i++) {
		if (verify(v->good, NULL) != SF_OK)
			v->wrong++;
		if (verify(v->bad, NULL) != SF_EBADSIG)
			v->wrong++;
	}
	return NULL;
}

static void
test_concurrent_verify_shared_keys(void)
{
	static const enum jws_alg algs[] = { JWS_ES256, JWS_RS256, JWS_PS256,
	    JWS_EDDSA };
	struct verifier v[8];
	pthread_t th[8];
	unsigned char *s;
	size_t len;
	int i;

	/* Threads share each key's prepared context, or build their own. */
	for (i = 0; i < 8; i++) {
		v[i].wrong = 0;
		T((v[i].good = good_token(algs[i % 4])) != NULL);
		T((s = sig_of(v[i].good, &len)) != NULL);
		s[0] ^= 1;
		T((v[i].bad = with_sig(v[i].good, s, len)) != NULL);
		free(s);
	}
	for (i = 0; i < 8; i++)
		T(pthread_create(&th[i], NULL, verify_many, &v[i]) == 0);
	for (i = 0; i < 8; i++)
		T(pthread_join(th[i], NULL) == 0);
	for (i = 0; i < 8; i++) {
		T(v[i].wrong == 0);
		free((char *)v[i].good);
		free((char *)v[i].bad);
	}
}

int
main(void)
{
	size_t i;

	t_prog = "jws";
	if (setup() != 0) {
		printf("FAIL jws: setup: %s\n", jose_why());
		return 1;
	}
	RUN(test_round_trip_all_algs);
	RUN(test_rfc8037_ed25519_example);
	RUN(test_sign_header_cannot_override);
	RUN(test_alg_none);
	RUN(test_hmac_with_public_key);
	RUN(test_alg_swaps);
	RUN(test_header_alg_mismatch_each_key);
	RUN(test_embedded_keys_ignored);
	RUN(test_kid_selection);
	RUN(test_part_structure);
	RUN(test_bad_base64url);
	RUN(test_ecdsa_r_s_edges_p256);
	RUN(test_ecdsa_r_s_edges_p384);
	RUN(test_signature_lengths);
	RUN(test_ecdsa_der_instead_of_raw);
	RUN(test_modified_parts);
	RUN(test_other_key_same_alg);
	RUN(test_crit_and_b64_refused);
	RUN(test_duplicate_members_and_bad_json);
	RUN(test_oversized);
	RUN(test_why_names_the_problem);
	RUN(test_concurrent_verify_shared_keys);
	for (i = 0; i < NALGS; i++)
		jwk_free(signer[i]);
	jwks_free(pubset);
	return T_DONE();
}
