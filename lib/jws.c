/*
 * jws.c - JWS compact serialisation (RFC 7515 §7.1): parse, verify, sign.
 *
 * The algorithm is the key's (RFC 8725 §3.1): the header "alg" must name
 * it exactly.  "none", HMAC and anything else we do not implement never
 * verify; "crit" is refused (we understand no extensions, RFC 7515
 * §4.1.11); "jwk", "jku", "x5u" and "x5c" in a header are never used to
 * find a key (RFC 8725 §3.10).
 */
#include <stdlib.h>
#include <string.h>

#include <openssl/bn.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>

#include "starfly.h"
#include "jose_int.h"

#define JWS_MAX_LEN	(64 * 1024)

void
jws_free(struct jws *jws)
{
	if (jws == NULL)
		return;
	json_decref(jws->header);
	json_decref(jws->claims);
	free(jws->payload);
	free(jws->sig);
	free(jws->signing_input);
	free(jws);
}

/* An optional string header parameter; *s NULL when absent. */
static int
header_str(const json_t *hdr, const char *name, const char **s)
{
	json_t *v;

	*s = NULL;
	if ((v = json_object_get(hdr, name)) == NULL)
		return SF_OK;
	if (!json_is_string(v))
		return jose_fail(SF_EINVAL, "jws: header \"%s\" is not a string",
		    name);
	*s = json_string_value(v);
	return SF_OK;
}

static int
parse_header(struct jws *jws, const char *b64, size_t len)
{
	unsigned char *raw = NULL;
	size_t rawlen = 0;
	const char *alg;
	char *why = NULL;
	int rc;

	if (len == 0)
		return jose_fail(SF_EPARSE, "jws: empty header");
	if (b64url_decode(b64, len, &raw, &rawlen) != SF_OK)
		return jose_fail(SF_EPARSE, "jws: header is not base64url");
	/* RFC 7515 §5.2 steps 3-4, RFC 8725 §3.7: UTF-8 JSON object. */
	rc = json_parse_strict((const char *)raw, rawlen, &jws->header, &why);
	free(raw);
	if (rc != SF_OK) {
		rc = jose_fail(SF_EPARSE, "jws: header: %s",
		    why != NULL ? why : "not JSON");
		free(why);
		return rc;
	}
	if (!json_is_object(jws->header))
		return jose_fail(SF_EPARSE, "jws: header is not an object");
	if ((rc = header_str(jws->header, "alg", &alg)) != SF_OK ||
	    (rc = header_str(jws->header, "kid", &jws->kid)) != SF_OK ||
	    (rc = header_str(jws->header, "typ", &jws->typ)) != SF_OK)
		return rc;
	if (alg == NULL)
		return jose_fail(SF_EINVAL, "jws: header without \"alg\"");
	jws->alg = jws_alg_from_name(alg);
	if (json_object_get(jws->header, "crit") != NULL)
		return jose_fail(SF_EINVAL, "jws: \"crit\" header refused "
		    "(no extensions are understood)");
	/* RFC 7797 unencoded payloads are not supported. */
	if (json_object_get(jws->header, "b64") != NULL)
		return jose_fail(SF_EINVAL, "jws: \"b64\" header refused");
	return SF_OK;
}

/* Claims when the payload is (meant to be) a JSON object. */
static int
parse_claims(struct jws *jws)
{
	size_t i = 0;
	char *why = NULL;
	int rc;

	while (i < jws->payload_len && (jws->payload[i] == ' ' ||
	    jws->payload[i] == '\t' || jws->payload[i] == '\n' ||
	    jws->payload[i] == '\r'))
		i++;
	if (i == jws->payload_len || jws->payload[i] != '{')
		return SF_OK;
	rc = json_parse_strict((const char *)jws->payload, jws->payload_len,
	    &jws->claims, &why);
	if (rc != SF_OK) {
		rc = jose_fail(SF_EPARSE, "jws: payload: %s",
		    why != NULL ? why : "not JSON");
		free(why);
		return rc;
	}
	if (!json_is_object(jws->claims)) {
		json_decref(jws->claims);
		jws->claims = NULL;
	}
	return SF_OK;
}

int
jws_parse(const char *compact, size_t len, struct jws **out)
{
	const char *d1, *d2;
	struct jws *jws;
	int rc;

	*out = NULL;
	if (compact == NULL || len == 0)
		return jose_fail(SF_EPARSE, "jws: empty token");
	if (len > JWS_MAX_LEN)
		return jose_fail(SF_ETOOBIG, "jws: token over %d bytes",
		    JWS_MAX_LEN);
	/* RFC 7515 §7.1: exactly three parts. */
	if ((d1 = memchr(compact, '.', len)) == NULL ||
	    (d2 = memchr(d1 + 1, '.', len - (size_t)(d1 + 1 - compact))) ==
	    NULL ||
	    memchr(d2 + 1, '.', len - (size_t)(d2 + 1 - compact)) != NULL)
		return jose_fail(SF_EPARSE, "jws: not three dot-separated "
		    "parts");
	if ((jws = calloc(1, sizeof(*jws))) == NULL)
		return SF_ENOMEM;
	if ((rc = parse_header(jws, compact, (size_t)(d1 - compact))) !=
	    SF_OK)
		goto out;
	if (b64url_decode(d1 + 1, (size_t)(d2 - d1 - 1), &jws->payload,
	    &jws->payload_len) != SF_OK) {
		rc = jose_fail(SF_EPARSE, "jws: payload is not base64url");
		goto out;
	}
	if (b64url_decode(d2 + 1, len - (size_t)(d2 + 1 - compact), &jws->sig,
	    &jws->sig_len) != SF_OK) {
		rc = jose_fail(SF_EPARSE, "jws: signature is not base64url");
		goto out;
	}
	if ((rc = parse_claims(jws)) != SF_OK)
		goto out;
	jws->signing_input_len = (size_t)(d2 - compact);
	if ((jws->signing_input = sf_strndup(compact,
	    jws->signing_input_len)) == NULL) {
		rc = SF_ENOMEM;
		goto out;
	}
	*out = jws;
	jws = NULL;
	rc = SF_OK;
out:
	jws_free(jws);
	return rc;
}

/* Big-endian a in [1, n-1] for equal-length a and n. */
static bool
scalar_in_range(const unsigned char *a, const unsigned char *n, size_t len)
{
	unsigned char any = 0;
	size_t i;

	for (i = 0; i < len; i++)
		any |= a[i];
	return any != 0 && memcmp(a, n, len) < 0;
}

/* RFC 7518 §3.4: raw R || S to a DER ECDSA-Sig-Value.  *der is new. */
static int
ecdsa_raw_to_der(const struct jwk *key, const unsigned char *sig,
    unsigned char **der, int *derlen)
{
	size_t c = key->info->coord;
	ECDSA_SIG *es = NULL;
	BIGNUM *r = NULL, *s = NULL;
	int rc = SF_ECRYPTO;

	*der = NULL;
	*derlen = 0;
	if (!scalar_in_range(sig, key->order, c) ||
	    !scalar_in_range(sig + c, key->order, c))
		return jose_fail(SF_EBADSIG, "jws: ECDSA r or s out of range");
	if ((es = ECDSA_SIG_new()) == NULL ||
	    (r = BN_bin2bn(sig, (int)c, NULL)) == NULL ||
	    (s = BN_bin2bn(sig + c, (int)c, NULL)) == NULL)
		goto out;
	if (ECDSA_SIG_set0(es, r, s) != 1)
		goto out;
	r = s = NULL;
	if ((*derlen = i2d_ECDSA_SIG(es, der)) <= 0) {
		*der = NULL;
		goto out;
	}
	rc = SF_OK;
out:
	BN_free(r);
	BN_free(s);
	ECDSA_SIG_free(es);
	return rc;
}

/*
 * ECDSA and RSA: hash, then verify with the key's prepared context, or
 * with a fresh one when another thread holds it.  1 when valid.
 */
static int
verify_prehashed(const struct jwk *key, const void *msg, size_t msglen,
    const unsigned char *sig, size_t siglen)
{
	struct jwk *mkey = (struct jwk *)key;	/* only vlock/vctx change */
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	EVP_PKEY_CTX *ctx;
	int v;

	if (EVP_Digest(msg, msglen, md, &mdlen, key->md, NULL) != 1)
		return -1;
	if (pthread_mutex_trylock(&mkey->vlock) == 0) {
		v = EVP_PKEY_verify(key->vctx, sig, siglen, md, mdlen);
		pthread_mutex_unlock(&mkey->vlock);
		return v;
	}
	if ((ctx = jose_verify_ctx(key)) == NULL)
		return -1;
	v = EVP_PKEY_verify(ctx, sig, siglen, md, mdlen);
	EVP_PKEY_CTX_free(ctx);
	return v;
}

/* Verify sig over msg with key; the caller has checked the alg. */
static int
verify_raw(const struct jwk *key, const void *msg, size_t msglen,
    const unsigned char *sig, size_t siglen)
{
	unsigned char *der = NULL;
	const unsigned char *vsig = sig;
	size_t vlen = siglen;
	EVP_MD_CTX *mctx = NULL;
	int derlen = 0, rc, v;

	if (siglen != key->sig_len)
		return jose_fail(SF_EBADSIG, "jws: %s signature of %zu bytes, "
		    "not %zu", key->info->name, siglen, key->sig_len);
	if (key->info->kty == JWK_KTY_EC) {
		if ((rc = ecdsa_raw_to_der(key, sig, &der, &derlen)) != SF_OK)
			return rc;
		vsig = der;
		vlen = (size_t)derlen;
	}
	rc = SF_ECRYPTO;
	if (key->vctx != NULL)
		v = verify_prehashed(key, msg, msglen, vsig, vlen);
	else if ((mctx = EVP_MD_CTX_new()) == NULL ||
	    EVP_DigestVerifyInit(mctx, NULL, NULL, NULL, key->pkey) != 1)
		goto out;
	else	/* EdDSA: one pass over the message (RFC 8032 §5.1.7). */
		v = EVP_DigestVerify(mctx, vsig, vlen, msg, msglen);
	rc = v == 1 ? SF_OK : jose_fail(SF_EBADSIG, "jws: %s signature does "
	    "not verify", key->info->name);
out:
	if (rc == SF_ECRYPTO)
		(void)jose_fail(rc, "jws: OpenSSL verify setup failed");
	EVP_MD_CTX_free(mctx);
	OPENSSL_free(der);
	return rc;
}

int
jws_verify(const struct jws *jws, const struct jwk *key)
{
	if (jws == NULL || key == NULL)
		return jose_fail(SF_EINVAL, "jws: no token or no key");
	/* RFC 8725 §3.1: the key decides the algorithm. */
	if (jws->alg == JWS_ALG_UNKNOWN || jws->alg != key->info->alg)
		return jose_fail(SF_EALG, "jws: header alg is not %s, the "
		    "algorithm of key \"%.64s\"", key->info->name, key->kid);
	return verify_raw(key, jws->signing_input, jws->signing_input_len,
	    jws->sig, jws->sig_len);
}

int
jws_verify_compact(const char *compact, size_t len, const struct jwks *keys,
    struct jws **out)
{
	const struct jwk *key;
	struct jws *jws = NULL;
	int rc;

	*out = NULL;
	if ((rc = jws_parse(compact, len, &jws)) != SF_OK)
		return rc;
	if (jws->kid != NULL)
		key = jwks_find(keys, jws->kid);
	else
		key = jwks_count(keys) == 1 ? jwks_get(keys, 0) : NULL;
	if (key == NULL) {
		rc = jose_fail(SF_EKEY, jws->kid != NULL ? "jws: unknown kid" :
		    "jws: no kid and not exactly one key");
		goto out;
	}
	if ((rc = jws_verify(jws, key)) != SF_OK)
		goto out;
	*out = jws;
	jws = NULL;
out:
	jws_free(jws);
	return rc;
}

/* Sign msg with key into a raw JWS signature (*sig new). */
static int
sign_raw(const struct jwk *key, const void *msg, size_t msglen,
    unsigned char **sig, size_t *siglen)
{
	unsigned char *buf = NULL, *raw = NULL;
	const unsigned char *p;
	const BIGNUM *r, *s;
	EVP_MD_CTX *mctx = NULL;
	EVP_PKEY_CTX *pctx = NULL;
	ECDSA_SIG *es = NULL;
	size_t len = 0, c;
	int rc = SF_ECRYPTO;

	*sig = NULL;
	*siglen = 0;
	if (!key->priv)
		return jose_fail(SF_EKEY, "jws: key \"%.64s\" has no private "
		    "half", key->kid);
	if ((mctx = EVP_MD_CTX_new()) == NULL ||
	    EVP_DigestSignInit(mctx, &pctx, key->md, NULL, key->pkey) != 1 ||
	    !jose_set_padding(key, pctx) ||
	    EVP_DigestSign(mctx, NULL, &len, msg, msglen) != 1)
		goto out;
	if ((buf = malloc(len)) == NULL) {
		rc = SF_ENOMEM;
		goto out;
	}
	if (EVP_DigestSign(mctx, buf, &len, msg, msglen) != 1)
		goto out;
	if (key->info->kty == JWK_KTY_EC) {
		/* RFC 7518 §3.4: fixed-width R || S. */
		c = key->info->coord;
		p = buf;
		if ((es = d2i_ECDSA_SIG(NULL, &p, (long)len)) == NULL)
			goto out;
		ECDSA_SIG_get0(es, &r, &s);
		if ((raw = malloc(2 * c)) == NULL) {
			rc = SF_ENOMEM;
			goto out;
		}
		if (BN_bn2binpad(r, raw, (int)c) < 0 ||
		    BN_bn2binpad(s, raw + c, (int)c) < 0)
			goto out;
		free(buf);
		buf = raw;
		raw = NULL;
		len = 2 * c;
	}
	*sig = buf;
	*siglen = len;
	buf = NULL;
	rc = SF_OK;
out:
	if (rc == SF_ECRYPTO)
		(void)jose_fail(rc, "jws: %s signing failed", key->info->name);
	ECDSA_SIG_free(es);
	EVP_MD_CTX_free(mctx);
	free(raw);
	free(buf);
	return rc;
}

int
jws_sign(const struct jwk *key, const json_t *header, const void *payload,
    size_t payload_len, char **out)
{
	json_t *hdr = NULL;
	char *hjson = NULL, *h64 = NULL, *p64 = NULL, *s64 = NULL, *input = NULL;
	unsigned char *sig = NULL;
	size_t siglen = 0;
	int rc;

	*out = NULL;
	if (key == NULL || (header != NULL && !json_is_object(header)))
		return jose_fail(SF_EINVAL, "jws: no key or header not an "
		    "object");
	/* "alg" and "kid" come from the key, first in the header. */
	if ((hdr = json_pack("{s:s, s:s}", "alg", key->info->name, "kid",
	    key->kid)) == NULL ||
	    (header != NULL && json_object_update_missing(hdr,
	    (json_t *)header) != 0) ||
	    (hjson = json_dump_compact(hdr)) == NULL) {
		rc = SF_ENOMEM;
		goto out;
	}
	if ((rc = b64url_encode(hjson, strlen(hjson), &h64)) != SF_OK ||
	    (rc = b64url_encode(payload, payload_len, &p64)) != SF_OK ||
	    (rc = sf_asprintf(&input, "%s.%s", h64, p64)) != SF_OK ||
	    (rc = sign_raw(key, input, strlen(input), &sig, &siglen)) != SF_OK ||
	    (rc = b64url_encode(sig, siglen, &s64)) != SF_OK ||
	    (rc = sf_asprintf(out, "%s.%s", input, s64)) != SF_OK)
		goto out;
out:
	json_decref(hdr);
	free(hjson);
	free(h64);
	free(p64);
	free(s64);
	free(input);
	free(sig);
	return rc;
}

int
jws_sign_jwt(const struct jwk *key, const char *typ, const json_t *claims,
    char **out)
{
	json_t *hdr = NULL;
	char *body = NULL;
	int rc;

	*out = NULL;
	if (!json_is_object(claims))
		return jose_fail(SF_EINVAL, "jws: claims are not an object");
	if (typ != NULL && (hdr = json_pack("{s:s}", "typ", typ)) == NULL)
		return SF_ENOMEM;
	if ((body = json_dump_compact(claims)) == NULL) {
		rc = SF_ENOMEM;
		goto out;
	}
	rc = jws_sign(key, hdr, body, strlen(body), out);
out:
	json_decref(hdr);
	free(body);
	return rc;
}
