/*
 * builtins_crypto.c - digests, HMAC, base64/hex and io.jwt.* (OpenSSL 3).
 *
 * io.jwt.verify_* and io.jwt.decode_verify take keys as a PEM certificate,
 * a PEM public key, a JWK or a JWK set (JSON), or an HMAC secret.  The
 * token's "alg" must match the builtin (verify_*) or the key type; a
 * signature is checked against every usable key of a set.  Errors use
 * OPA's texts so policies see the same failures.
 */
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/param_build.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#include <ctype.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "policy/rego.h"

#define A	EVA(ev)

static int
out_str(struct ev *ev, const char *s, size_t n, struct rv **out)
{
	*out = rv_str(A, s, n);
	return *out == NULL ? SF_ENOMEM : SF_OK;
}

static int
out_hex(struct ev *ev, const unsigned char *d, size_t n, struct rv **out)
{
	static const char hx[] = "0123456789abcdef";
	char		*s;
	size_t		 i;

	if ((s = arena_alloc(A, n * 2 + 1)) == NULL)
		return SF_ENOMEM;
	for (i = 0; i < n; i++) {
		s[2 * i] = hx[d[i] >> 4];
		s[2 * i + 1] = hx[d[i] & 15];
	}
	s[2 * n] = '\0';
	*out = rv_str_ref(A, s, 2 * n);
	return *out == NULL ? SF_ENOMEM : SF_OK;
}

/*
 * Digests and HMAC.
 */
static int
digest(struct ev *ev, const char *fn, const char *md, struct rv *const *args,
    struct rv **out)
{
	unsigned char	 d[EVP_MAX_MD_SIZE];
	unsigned int	 dl = 0;
	const char	*s;
	size_t		 n;
	int		 rc;

	if ((rc = bi_arg_str(ev, fn, args, 0, &s, &n)) != SF_OK)
		return rc;
	if (EVP_Digest(s, n, d, &dl, EVP_get_digestbyname(md), NULL) != 1)
		return bi_err(ev, "%s: digest failed", fn);
	return out_hex(ev, d, dl, out);
}

static int
bi_md5(struct ev *ev, struct rv *const *args, struct rv **out)
{
	return digest(ev, "crypto.md5", "MD5", args, out);
}

static int
bi_sha1(struct ev *ev, struct rv *const *args, struct rv **out)
{
	return digest(ev, "crypto.sha1", "SHA1", args, out);
}

static int
bi_sha256(struct ev *ev, struct rv *const *args, struct rv **out)
{
	return digest(ev, "crypto.sha256", "SHA256", args, out);
}

static int
bi_sha512(struct ev *ev, struct rv *const *args, struct rv **out)
{
	return digest(ev, "crypto.sha512", "SHA512", args, out);
}

static int
hmac(struct ev *ev, const char *fn, const char *md, struct rv *const *args,
    struct rv **out)
{
	unsigned char	 d[EVP_MAX_MD_SIZE];
	unsigned int	 dl = 0;
	const char	*s, *k;
	size_t		 n, kn;
	int		 rc;

	if ((rc = bi_arg_str(ev, fn, args, 0, &s, &n)) != SF_OK ||
	    (rc = bi_arg_str(ev, fn, args, 1, &k, &kn)) != SF_OK)
		return rc;
	if (HMAC(EVP_get_digestbyname(md), k, (int)kn,
	    (const unsigned char *)s, n, d, &dl) == NULL)
		return bi_err(ev, "%s: hmac failed", fn);
	return out_hex(ev, d, dl, out);
}

static int
bi_hmac_md5(struct ev *ev, struct rv *const *args, struct rv **out)
{
	return hmac(ev, "crypto.hmac.md5", "MD5", args, out);
}

static int
bi_hmac_sha1(struct ev *ev, struct rv *const *args, struct rv **out)
{
	return hmac(ev, "crypto.hmac.sha1", "SHA1", args, out);
}

static int
bi_hmac_sha256(struct ev *ev, struct rv *const *args, struct rv **out)
{
	return hmac(ev, "crypto.hmac.sha256", "SHA256", args, out);
}

static int
bi_hmac_sha512(struct ev *ev, struct rv *const *args, struct rv **out)
{
	return hmac(ev, "crypto.hmac.sha512", "SHA512", args, out);
}

static int
bi_hmac_equal(struct ev *ev, struct rv *const *args, struct rv **out)
{
	const char	*a, *b;
	size_t		 an, bn;
	int		 rc;

	if ((rc = bi_arg_str(ev, "crypto.hmac.equal", args, 0, &a, &an)) !=
	    SF_OK ||
	    (rc = bi_arg_str(ev, "crypto.hmac.equal", args, 1, &b, &bn)) !=
	    SF_OK)
		return rc;
	*out = rv_bool(an == bn && CRYPTO_memcmp(a, b, an) == 0);
	return SF_OK;
}

/*
 * base64 (Go's StdEncoding / URLEncoding semantics).
 */
static int
b64val(int c, bool url)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == (url ? '-' : '+'))
		return 62;
	if (c == (url ? '_' : '/'))
		return 63;
	return -1;
}

/*
 * Decode; padding required when pad, optional when !pad.  On failure
 * *bad is the offset of the offending byte.
 */
static bool
b64dec(struct arena *a, const char *s, size_t n, bool url, int pad,
    unsigned char **out, size_t *outlen, size_t *bad)
{
	unsigned char	*o;
	size_t		 i, k = 0, npad = 0, data;
	uint32_t	 acc = 0;
	int		 bits = 0, v;

	*out = NULL;
	*bad = 0;
	if ((o = arena_alloc(a, n / 4 * 3 + 4)) == NULL)
		return false;
	data = n;
	while (data > 0 && s[data - 1] == '=')
		data--;
	npad = n - data;
	for (i = 0; i < data; i++) {
		if ((v = b64val((unsigned char)s[i], url)) < 0) {
			*bad = i;
			return false;
		}
		acc = acc << 6 | (uint32_t)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			o[k++] = (unsigned char)(acc >> bits);
		}
	}
	if (data % 4 == 1) {
		*bad = data;
		return false;
	}
	if (pad == 1 && (data + npad) % 4 != 0) {
		*bad = n;
		return false;
	}
	if (npad > 0 && ((data + npad) % 4 != 0 || npad > 2)) {
		*bad = data;
		return false;
	}
	if (pad == 0 && npad > 0) {
		*bad = data;
		return false;
	}
	o[k] = '\0';
	*out = o;
	*outlen = k;
	return true;
}

static int
b64enc(struct ev *ev, const unsigned char *d, size_t n, bool url, bool pad,
    struct rv **out)
{
	const char	*al = url ?
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_" :
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	char		*s;
	size_t		 i, k = 0;
	uint32_t	 v;

	if ((s = arena_alloc(A, (n + 2) / 3 * 4 + 1)) == NULL)
		return SF_ENOMEM;
	for (i = 0; i + 2 < n; i += 3) {
		v = (uint32_t)d[i] << 16 | (uint32_t)d[i + 1] << 8 | d[i + 2];
		s[k++] = al[v >> 18];
		s[k++] = al[(v >> 12) & 63];
		s[k++] = al[(v >> 6) & 63];
		s[k++] = al[v & 63];
	}
	if (n - i == 1) {
		v = (uint32_t)d[i] << 16;
		s[k++] = al[v >> 18];
		s[k++] = al[(v >> 12) & 63];
		if (pad) {
			s[k++] = '=';
			s[k++] = '=';
		}
	} else if (n - i == 2) {
		v = (uint32_t)d[i] << 16 | (uint32_t)d[i + 1] << 8;
		s[k++] = al[v >> 18];
		s[k++] = al[(v >> 12) & 63];
		s[k++] = al[(v >> 6) & 63];
		if (pad)
			s[k++] = '=';
	}
	s[k] = '\0';
	*out = rv_str_ref(A, s, k);
	return *out == NULL ? SF_ENOMEM : SF_OK;
}

static int
bi_b64_encode(struct ev *ev, struct rv *const *args, struct rv **out)
{
	const char	*s;
	size_t		 n;
	int		 rc;

	if ((rc = bi_arg_str(ev, "base64.encode", args, 0, &s, &n)) != SF_OK)
		return rc;
	return b64enc(ev, (const unsigned char *)s, n, false, true, out);
}

static int
bi_b64url_encode(struct ev *ev, struct rv *const *args, struct rv **out)
{
	const char	*s;
	size_t		 n;
	int		 rc;

	if ((rc = bi_arg_str(ev, "base64url.encode", args, 0, &s, &n)) !=
	    SF_OK)
		return rc;
	return b64enc(ev, (const unsigned char *)s, n, true, true, out);
}

static int
bi_b64url_encode_np(struct ev *ev, struct rv *const *args, struct rv **out)
{
	const char	*s;
	size_t		 n;
	int		 rc;

	if ((rc = bi_arg_str(ev, "base64url.encode_no_pad", args, 0, &s, &n))
	    != SF_OK)
		return rc;
	return b64enc(ev, (const unsigned char *)s, n, true, false, out);
}

static int
b64_decode(struct ev *ev, const char *fn, struct rv *const *args, bool url,
    struct rv **out)
{
	const char	*s;
	size_t		 n, ol, bad;
	unsigned char	*o;
	int		 rc;

	if ((rc = bi_arg_str(ev, fn, args, 0, &s, &n)) != SF_OK)
		return rc;
	if (!b64dec(A, s, n, url, url ? 2 : 1, &o, &ol, &bad)) {
		if (o == NULL && bad == 0 && n > 0 && A->over)
			return SF_ENOMEM;
		return bi_err(ev, "%s: illegal base64 data at input byte %zu",
		    fn, bad);
	}
	return out_str(ev, (const char *)o, ol, out);
}

static int
bi_b64_decode(struct ev *ev, struct rv *const *args, struct rv **out)
{
	return b64_decode(ev, "base64.decode", args, false, out);
}

static int
bi_b64url_decode(struct ev *ev, struct rv *const *args, struct rv **out)
{
	return b64_decode(ev, "base64url.decode", args, true, out);
}

static int
bi_b64_is_valid(struct ev *ev, struct rv *const *args, struct rv **out)
{
	unsigned char	*o;
	size_t		 ol, bad;

	if (args[0]->t != RV_STR) {
		*out = RV_FALSE;
		return SF_OK;
	}
	*out = rv_bool(b64dec(A, args[0]->u.s, args[0]->n, false, 1, &o, &ol,
	    &bad));
	return SF_OK;
}

static int
bi_hex_encode(struct ev *ev, struct rv *const *args, struct rv **out)
{
	const char	*s;
	size_t		 n;
	int		 rc;

	if ((rc = bi_arg_str(ev, "hex.encode", args, 0, &s, &n)) != SF_OK)
		return rc;
	return out_hex(ev, (const unsigned char *)s, n, out);
}

static int
bi_hex_decode(struct ev *ev, struct rv *const *args, struct rv **out)
{
	const char	*s;
	char		*o;
	size_t		 n, i;
	int		 rc, h, l;

	if ((rc = bi_arg_str(ev, "hex.decode", args, 0, &s, &n)) != SF_OK)
		return rc;
	if ((o = arena_alloc(A, n / 2 + 1)) == NULL)
		return SF_ENOMEM;
	for (i = 0; i + 1 < n; i += 2) {
		if ((h = hexdigit((unsigned char)s[i])) < 0 ||
		    (l = hexdigit((unsigned char)s[i + 1])) < 0) {
			size_t j = hexdigit((unsigned char)s[i]) < 0 ? i : i + 1;
			unsigned char c = (unsigned char)s[j];

			return bi_err(ev, "hex.decode: encoding/hex: invalid "
			    "byte: U+%04X '%c'", c, isprint(c) ? c : '?');
		}
		o[i / 2] = (char)(h << 4 | l);
	}
	if (n % 2 != 0) {
		if (hexdigit((unsigned char)s[n - 1]) < 0)
			return bi_err(ev, "hex.decode: encoding/hex: invalid "
			    "byte: U+%04X '%c'", (unsigned char)s[n - 1],
			    isprint((unsigned char)s[n - 1]) ? s[n - 1] : '?');
		return bi_err(ev, "hex.decode: encoding/hex: odd length hex "
		    "string");
	}
	return out_str(ev, o, n / 2, out);
}

/*
 * JWT.
 */
struct jwt {
	struct rv	*header, *payload;
	const char	*signing;	/* header.payload */
	size_t		 signing_len;
	unsigned char	*sig;
	size_t		 siglen;
	const char	*alg;
};

static int
jwt_json(struct ev *ev, const unsigned char *d, size_t n, struct rv **out)
{
	json_t		*j;
	json_error_t	 je;

	j = json_loadb((const char *)d, n, JSON_DECODE_ANY, &je);
	if (j == NULL)
		j = json_loadb((const char *)d, n, JSON_DECODE_ANY |
		    JSON_DECODE_INT_AS_REAL, &je);
	if (j == NULL)
		return BI_ERR;
	*out = rv_from_json(A, j);
	json_decref(j);
	return *out == NULL ? SF_ENOMEM : SF_OK;
}

/* Split and decode a compact JWS; nested JWTs (cty JWT) are followed. */
static int
jwt_parse(struct ev *ev, const char *fn, const char *tok, size_t n,
    struct jwt *j, int depth)
{
	const char	*d1, *d2;
	unsigned char	*h, *p;
	size_t		 hl, pl, bad, dots = 0, i;
	struct rv	*cty, *enc;
	int		 rc;

	memset(j, 0, sizeof(*j));
	for (i = 0; i < n; i++)
		if (tok[i] == '.')
			dots++;
	if (dots == 0)
		return bi_err(ev, "%s: encoded JWT had no period separators",
		    fn);
	if (dots != 2)
		return bi_err(ev, "%s: encoded JWT must have 3 sections, found "
		    "%zu", fn, dots + 1);
	d1 = memchr(tok, '.', n);
	d2 = memchr(d1 + 1, '.', n - (size_t)(d1 + 1 - tok));
	if (!b64dec(A, tok, (size_t)(d1 - tok), true, 2, &h, &hl, &bad))
		return bi_err(ev, "%s: JWT header had invalid encoding: illegal "
		    "base64 data at input byte %zu", fn, bad);
	if ((rc = jwt_json(ev, h, hl, &j->header)) != SF_OK ||
	    j->header->t != RV_OBJ)
		return rc == SF_ENOMEM ? rc : bi_err(ev, "%s: JWT header is "
		    "not a JSON object", fn);
	if ((enc = rv_obj_gets(j->header, "enc")) != NULL)
		return bi_err(ev, "%s: JWT is a JWE object, which is not "
		    "supported", fn);
	if (!b64dec(A, d1 + 1, (size_t)(d2 - d1 - 1), true, 2, &p, &pl, &bad))
		return bi_err(ev, "%s: JWT payload had invalid encoding: "
		    "illegal base64 data at input byte %zu", fn, bad);
	if (!b64dec(A, d2 + 1, n - (size_t)(d2 + 1 - tok), true, 2, &j->sig,
	    &j->siglen, &bad))
		return bi_err(ev, "%s: JWT signature had invalid encoding: "
		    "illegal base64 data at input byte %zu", fn, bad);
	j->signing = tok;
	j->signing_len = (size_t)(d2 - tok);
	{
		struct rv *alg = rv_obj_gets(j->header, "alg");

		j->alg = alg != NULL && alg->t == RV_STR ? alg->u.s : NULL;
	}
	cty = rv_obj_gets(j->header, "cty");
	if (cty != NULL && cty->t == RV_STR && cty->n == 3 &&
	    strncasecmp(cty->u.s, "JWT", 3) == 0 && depth < 8) {
		struct rv *inner;

		/* the payload is the (JSON string of the) nested token */
		if (jwt_json(ev, p, pl, &inner) == SF_OK &&
		    inner->t == RV_STR)
			return jwt_parse(ev, fn, inner->u.s, inner->n, j,
			    depth + 1);
		return jwt_parse(ev, fn, (const char *)p, pl, j, depth + 1);
	}
	if ((rc = jwt_json(ev, p, pl, &j->payload)) != SF_OK ||
	    j->payload->t != RV_OBJ)
		return rc == SF_ENOMEM ? rc : bi_err(ev, "%s: JWT payload is "
		    "not a JSON object", fn);
	return SF_OK;
}

static int
bi_jwt_decode(struct ev *ev, struct rv *const *args, struct rv **out)
{
	struct jwt	 j;
	struct rv	*v, *sig;
	const char	*s;
	size_t		 n;
	int		 rc;

	if ((rc = bi_arg_str(ev, "io.jwt.decode", args, 0, &s, &n)) != SF_OK)
		return rc;
	if ((rc = jwt_parse(ev, "io.jwt.decode", s, n, &j, 0)) != SF_OK)
		return rc;
	if ((rc = out_hex(ev, j.sig, j.siglen, &sig)) != SF_OK)
		return rc;
	if ((v = rv_arr(A, 3)) == NULL)
		return SF_ENOMEM;
	v->u.a[0] = j.header;
	v->u.a[1] = j.payload;
	v->u.a[2] = sig;
	*out = v;
	return SF_OK;
}

/* Keys. */
enum kty { KT_RSA = 1, KT_EC, KT_OKP };

struct keys {
	EVP_PKEY	*k[32];
	const char	*kid[32];
	size_t		 n;
};

static void
keys_free(struct keys *ks)
{
	size_t	 i;

	for (i = 0; i < ks->n; i++)
		EVP_PKEY_free(ks->k[i]);
	ks->n = 0;
}

static BIGNUM *
b64_bn(struct arena *a, const struct rv *v)
{
	unsigned char	*d;
	size_t		 n, bad;

	if (v == NULL || v->t != RV_STR ||
	    !b64dec(a, v->u.s, v->n, true, 2, &d, &n, &bad) || n == 0)
		return NULL;
	return BN_bin2bn(d, (int)n, NULL);
}

static EVP_PKEY *
jwk_key(struct ev *ev, const struct rv *jwk)
{
	const struct rv	*kty = rv_obj_gets(jwk, "kty");
	OSSL_PARAM_BLD	*bld = NULL;
	OSSL_PARAM	*params = NULL;
	EVP_PKEY_CTX	*ctx = NULL;
	EVP_PKEY	*pk = NULL;
	BIGNUM		*n = NULL, *e = NULL, *x = NULL, *y = NULL;
	const char	*type = NULL;
	unsigned char	 pt[1 + 2 * 66];	/* referenced until to_param */

	if (kty == NULL || kty->t != RV_STR || (bld = OSSL_PARAM_BLD_new()) ==
	    NULL)
		goto out;
	if (strcmp(kty->u.s, "RSA") == 0) {
		if ((n = b64_bn(A, rv_obj_gets(jwk, "n"))) == NULL ||
		    (e = b64_bn(A, rv_obj_gets(jwk, "e"))) == NULL ||
		    !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, n) ||
		    !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, e))
			goto out;
		type = "RSA";
	} else if (strcmp(kty->u.s, "EC") == 0) {
		const struct rv	*crv = rv_obj_gets(jwk, "crv");
		const char	*group;
		int		 flen;

		if (crv == NULL || crv->t != RV_STR)
			goto out;
		if (strcmp(crv->u.s, "P-256") == 0) {
			group = "prime256v1";
			flen = 32;
		} else if (strcmp(crv->u.s, "P-384") == 0) {
			group = "secp384r1";
			flen = 48;
		} else if (strcmp(crv->u.s, "P-521") == 0) {
			group = "secp521r1";
			flen = 66;
		} else
			goto out;
		if ((x = b64_bn(A, rv_obj_gets(jwk, "x"))) == NULL ||
		    (y = b64_bn(A, rv_obj_gets(jwk, "y"))) == NULL)
			goto out;
		pt[0] = 4;
		if (BN_bn2binpad(x, pt + 1, flen) < 0 ||
		    BN_bn2binpad(y, pt + 1 + flen, flen) < 0)
			goto out;
		if (!OSSL_PARAM_BLD_push_utf8_string(bld,
		    OSSL_PKEY_PARAM_GROUP_NAME, group, 0) ||
		    !OSSL_PARAM_BLD_push_octet_string(bld,
		    OSSL_PKEY_PARAM_PUB_KEY, pt, (size_t)(1 + 2 * flen)))
			goto out;
		type = "EC";
	} else if (strcmp(kty->u.s, "OKP") == 0) {
		const struct rv	*crv = rv_obj_gets(jwk, "crv"), *xv;
		unsigned char	*d;
		size_t		 dl, bad;

		xv = rv_obj_gets(jwk, "x");
		if (crv == NULL || crv->t != RV_STR ||
		    strcmp(crv->u.s, "Ed25519") != 0 || xv == NULL ||
		    xv->t != RV_STR ||
		    !b64dec(A, xv->u.s, xv->n, true, 2, &d, &dl, &bad) ||
		    dl != 32)
			goto out;
		pk = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, NULL, d, dl);
		goto out;
	} else
		goto out;
	if ((params = OSSL_PARAM_BLD_to_param(bld)) == NULL ||
	    (ctx = EVP_PKEY_CTX_new_from_name(NULL, type, NULL)) == NULL ||
	    EVP_PKEY_fromdata_init(ctx) != 1 ||
	    EVP_PKEY_fromdata(ctx, &pk, EVP_PKEY_PUBLIC_KEY, params) != 1)
		pk = NULL;
out:
	OSSL_PARAM_free(params);
	OSSL_PARAM_BLD_free(bld);
	EVP_PKEY_CTX_free(ctx);
	BN_free(n);
	BN_free(e);
	BN_free(x);
	BN_free(y);
	return pk;
}

/* Keys from a PEM certificate/public key or a JWK (set).  BI_ERR on junk. */
static int
load_keys(struct ev *ev, const char *fn, const char *s, size_t n,
    struct keys *ks)
{
	BIO		*bio;
	X509		*x;
	EVP_PKEY	*pk;
	struct rv	*j, *arr;
	uint32_t	 i;
	size_t		 k = 0;

	memset(ks, 0, sizeof(*ks));
	while (k < n && isspace((unsigned char)s[k]))
		k++;
	if (k < n && s[k] == '{') {
		if (jwt_json(ev, (const unsigned char *)s, n, &j) != SF_OK ||
		    j->t != RV_OBJ)
			return bi_err(ev, "%s: failed to parse a JWK key (set)",
			    fn);
		arr = rv_obj_gets(j, "keys");
		if (arr == NULL) {
			if ((ks->k[0] = jwk_key(ev, j)) == NULL)
				return bi_err(ev, "%s: failed to parse a JWK "
				    "key (set)", fn);
			ks->n = 1;
			return SF_OK;
		}
		if (arr->t != RV_ARR)
			return bi_err(ev, "%s: failed to parse a JWK key (set)",
			    fn);
		for (i = 0; i < arr->n && ks->n < 32; i++) {
			struct rv *kid;

			if (arr->u.a[i]->t != RV_OBJ ||
			    (pk = jwk_key(ev, arr->u.a[i])) == NULL)
				continue;
			kid = rv_obj_gets(arr->u.a[i], "kid");
			ks->kid[ks->n] = kid != NULL && kid->t == RV_STR ?
			    kid->u.s : NULL;
			ks->k[ks->n++] = pk;
		}
		if (ks->n == 0)
			return bi_err(ev, "%s: failed to parse a JWK key (set)",
			    fn);
		return SF_OK;
	}
	if ((bio = BIO_new_mem_buf(s, (int)n)) == NULL)
		return SF_ENOMEM;
	if (memmem(s, n, "CERTIFICATE", 11) != NULL) {
		x = PEM_read_bio_X509(bio, NULL, NULL, NULL);
		pk = x != NULL ? X509_get_pubkey(x) : NULL;
		X509_free(x);
	} else
		pk = PEM_read_bio_PUBKEY(bio, NULL, NULL, NULL);
	BIO_free(bio);
	if (pk == NULL)
		return bi_err(ev, "%s: failed to extract a Key from the PEM "
		    "certificate", fn);
	ks->k[0] = pk;
	ks->n = 1;
	return SF_OK;
}

/* Verify sig over data with key for JWS alg; false on any mismatch. */
static bool
verify_pk(EVP_PKEY *pk, const char *alg, const char *data, size_t n,
    const unsigned char *sig, size_t siglen)
{
	EVP_MD_CTX	*mc = NULL;
	EVP_PKEY_CTX	*pc = NULL;
	const EVP_MD	*md = NULL;
	unsigned char	*der = NULL;
	ECDSA_SIG	*es = NULL;
	int		 type = EVP_PKEY_get_base_id(pk), dl;
	bool		 ok = false, pss = false;

	if (alg == NULL || strcmp(alg, "EdDSA") == 0 || strlen(alg) != 5)
		goto check_eddsa;
	if (strcmp(alg + 2, "256") == 0)
		md = EVP_sha256();
	else if (strcmp(alg + 2, "384") == 0)
		md = EVP_sha384();
	else if (strcmp(alg + 2, "512") == 0)
		md = EVP_sha512();
	else
		return false;
	if (alg[0] == 'R' && alg[1] == 'S') {
		if (type != EVP_PKEY_RSA)
			return false;
	} else if (alg[0] == 'P' && alg[1] == 'S') {
		if (type != EVP_PKEY_RSA)
			return false;
		pss = true;
	} else if (alg[0] == 'E' && alg[1] == 'S') {
		BIGNUM	*r, *s;
		size_t	 half = siglen / 2;

		if (type != EVP_PKEY_EC || siglen == 0 || siglen % 2 != 0)
			return false;
		if ((es = ECDSA_SIG_new()) == NULL)
			return false;
		r = BN_bin2bn(sig, (int)half, NULL);
		s = BN_bin2bn(sig + half, (int)half, NULL);
		if (r == NULL || s == NULL || ECDSA_SIG_set0(es, r, s) != 1) {
			BN_free(r);
			BN_free(s);
			goto out;
		}
		if ((dl = i2d_ECDSA_SIG(es, &der)) <= 0)
			goto out;
		sig = der;
		siglen = (size_t)dl;
	} else
		return false;
	if ((mc = EVP_MD_CTX_new()) == NULL ||
	    EVP_DigestVerifyInit(mc, &pc, md, NULL, pk) != 1)
		goto out;
	if (pss && (EVP_PKEY_CTX_set_rsa_padding(pc,
	    RSA_PKCS1_PSS_PADDING) != 1 ||
	    EVP_PKEY_CTX_set_rsa_pss_saltlen(pc, RSA_PSS_SALTLEN_AUTO) != 1))
		goto out;
	ok = EVP_DigestVerify(mc, sig, siglen, (const unsigned char *)data,
	    n) == 1;
	goto out;
check_eddsa:
	if (alg == NULL || strcmp(alg, "EdDSA") != 0 ||
	    type != EVP_PKEY_ED25519)
		return false;
	if ((mc = EVP_MD_CTX_new()) == NULL ||
	    EVP_DigestVerifyInit(mc, NULL, NULL, NULL, pk) != 1)
		goto out;
	ok = EVP_DigestVerify(mc, sig, siglen, (const unsigned char *)data,
	    n) == 1;
out:
	EVP_MD_CTX_free(mc);
	ECDSA_SIG_free(es);
	OPENSSL_free(der);
	return ok;
}

static bool
verify_hmac(const char *alg, const char *secret, size_t sn, const char *data,
    size_t n, const unsigned char *sig, size_t siglen)
{
	const EVP_MD	*md;
	unsigned char	 d[EVP_MAX_MD_SIZE];
	unsigned int	 dl = 0;

	if (alg == NULL)
		return false;
	if (strcmp(alg, "HS256") == 0)
		md = EVP_sha256();
	else if (strcmp(alg, "HS384") == 0)
		md = EVP_sha384();
	else if (strcmp(alg, "HS512") == 0)
		md = EVP_sha512();
	else
		return false;
	if (HMAC(md, secret, (int)sn, (const unsigned char *)data, n, d, &dl)
	    == NULL)
		return false;
	return dl == siglen && CRYPTO_memcmp(d, sig, dl) == 0;
}

static bool
verify_keys(const struct keys *ks, const struct jwt *j, const char *alg)
{
	const struct rv	*kid = rv_obj_gets(j->header, "kid");
	size_t		 i;

	for (i = 0; i < ks->n; i++) {
		if (kid != NULL && kid->t == RV_STR && ks->kid[i] != NULL &&
		    strcmp(kid->u.s, ks->kid[i]) != 0)
			continue;
		if (verify_pk(ks->k[i], alg, j->signing, j->signing_len,
		    j->sig, j->siglen))
			return true;
	}
	return false;
}

static int
jwt_verify(struct ev *ev, const char *fn, const char *alg,
    struct rv *const *args, struct rv **out)
{
	struct jwt	 j;
	struct keys	 ks;
	const char	*tok, *key;
	size_t		 tn, kn;
	int		 rc;

	if ((rc = bi_arg_str(ev, fn, args, 0, &tok, &tn)) != SF_OK ||
	    (rc = bi_arg_str(ev, fn, args, 1, &key, &kn)) != SF_OK)
		return rc;
	if ((rc = jwt_parse(ev, fn, tok, tn, &j, 0)) != SF_OK)
		return rc;
	if (alg[0] == 'H') {
		*out = rv_bool(j.alg != NULL && strcmp(j.alg, alg) == 0 &&
		    verify_hmac(alg, key, kn, j.signing, j.signing_len, j.sig,
		    j.siglen));
		return SF_OK;
	}
	if ((rc = load_keys(ev, fn, key, kn, &ks)) != SF_OK)
		return rc;
	*out = rv_bool(j.alg != NULL && strcmp(j.alg, alg) == 0 &&
	    verify_keys(&ks, &j, alg));
	keys_free(&ks);
	return SF_OK;
}

#define VERIFY_FN(name, alg)						\
static int								\
bi_verify_##name(struct ev *ev, struct rv *const *args, struct rv **out) \
{									\
	return jwt_verify(ev, "io.jwt.verify_" #name, alg, args, out);	\
}
VERIFY_FN(rs256, "RS256")
VERIFY_FN(rs384, "RS384")
VERIFY_FN(rs512, "RS512")
VERIFY_FN(ps256, "PS256")
VERIFY_FN(ps384, "PS384")
VERIFY_FN(ps512, "PS512")
VERIFY_FN(es256, "ES256")
VERIFY_FN(es384, "ES384")
VERIFY_FN(es512, "ES512")
VERIFY_FN(hs256, "HS256")
VERIFY_FN(hs384, "HS384")
VERIFY_FN(hs512, "HS512")
VERIFY_FN(eddsa, "EdDSA")

static int
dv_false(struct ev *ev, struct rv **out)
{
	struct rv	*v;

	if ((v = rv_arr(A, 3)) == NULL)
		return SF_ENOMEM;
	v->u.a[0] = RV_FALSE;
	v->u.a[1] = &rv_empty_obj_v;
	v->u.a[2] = &rv_empty_obj_v;
	*out = v;
	return SF_OK;
}

/* A numeric time claim in seconds; BI_ERR when not a number. */
static int
claim_time(struct ev *ev, const struct rv *payload, const char *name,
    bool *have, double *v)
{
	const struct rv	*c = rv_obj_gets(payload, name);

	*have = false;
	if (c == NULL)
		return SF_OK;
	if (c->t != RV_NUM)
		return bi_err(ev, "io.jwt.decode_verify: %s value must be a "
		    "number", name);
	*have = true;
	*v = rv_get_dbl(c);
	return SF_OK;
}

static int
bi_decode_verify(struct ev *ev, struct rv *const *args, struct rv **out)
{
	const char	*fn = "io.jwt.decode_verify", *tok;
	const struct rv	*c = args[1], *cert = NULL, *secret = NULL;
	const struct rv	*iss = NULL, *aud = NULL, *alg = NULL, *tm = NULL;
	struct jwt	 j;
	struct keys	 ks;
	struct rv	*v, *crit;
	size_t		 tn;
	uint32_t	 i;
	double		 now, exp, nbf;
	bool		 have, ok;
	int		 rc;

	if ((rc = bi_arg_str(ev, fn, args, 0, &tok, &tn)) != SF_OK)
		return rc;
	if (c->t != RV_OBJ)
		return bi_type_err(ev, fn, 2, "object", c);
	for (i = 0; i < c->n; i++) {
		const struct rv *k = c->u.o[i].k, *val = c->u.o[i].v;

		if (k->t != RV_STR)
			return bi_err(ev, "%s: invalid constraint", fn);
		if (strcmp(k->u.s, "cert") == 0)
			cert = val;
		else if (strcmp(k->u.s, "secret") == 0)
			secret = val;
		else if (strcmp(k->u.s, "iss") == 0)
			iss = val;
		else if (strcmp(k->u.s, "aud") == 0)
			aud = val;
		else if (strcmp(k->u.s, "alg") == 0)
			alg = val;
		else if (strcmp(k->u.s, "time") == 0)
			tm = val;
		else
			return bi_err(ev, "%s: unknown JWT constraint \"%s\"",
			    fn, k->u.s);
	}
	if ((cert == NULL) == (secret == NULL) ||
	    (cert != NULL && cert->t != RV_STR) ||
	    (secret != NULL && secret->t != RV_STR))
		return bi_err(ev, "%s: exactly one of cert and secret must be "
		    "given as a string", fn);
	if (jwt_parse(ev, fn, tok, tn, &j, 0) != SF_OK) {
		/* a token that does not parse does not verify */
		ev_clear_error(ev);
		return dv_false(ev, out);
	}
	if (j.alg == NULL)
		return dv_false(ev, out);
	if (alg != NULL && (alg->t != RV_STR || strcmp(alg->u.s, j.alg) != 0))
		return dv_false(ev, out);
	if ((crit = rv_obj_gets(j.header, "crit")) != NULL)
		return dv_false(ev, out);
	if (secret != NULL)
		ok = verify_hmac(j.alg, secret->u.s, secret->n, j.signing,
		    j.signing_len, j.sig, j.siglen);
	else {
		if ((rc = load_keys(ev, fn, cert->u.s, cert->n, &ks)) != SF_OK)
			return rc;
		ok = verify_keys(&ks, &j, j.alg);
		keys_free(&ks);
	}
	if (!ok)
		return dv_false(ev, out);
	now = tm != NULL && tm->t == RV_NUM ? rv_get_dbl(tm) :
	    (double)ev_now_ns(ev);
	now /= 1e9;
	if ((rc = claim_time(ev, j.payload, "exp", &have, &exp)) != SF_OK)
		return rc;
	if (have && now >= exp)
		return dv_false(ev, out);
	if ((rc = claim_time(ev, j.payload, "nbf", &have, &nbf)) != SF_OK)
		return rc;
	if (have && now < nbf)
		return dv_false(ev, out);
	if (iss != NULL) {
		const struct rv *pi = rv_obj_gets(j.payload, "iss");

		if (pi == NULL || !rv_eq(pi, iss))
			return dv_false(ev, out);
	}
	{
		const struct rv *pa = rv_obj_gets(j.payload, "aud");

		if (pa != NULL && aud == NULL)
			return dv_false(ev, out);
		if (aud != NULL) {
			bool found = false;

			if (pa == NULL)
				return dv_false(ev, out);
			if (pa->t == RV_STR)
				found = rv_eq(pa, aud);
			else if (pa->t == RV_ARR)
				for (i = 0; i < pa->n && !found; i++)
					found = rv_eq(pa->u.a[i], aud);
			if (!found)
				return dv_false(ev, out);
		}
	}
	if ((v = rv_arr(A, 3)) == NULL)
		return SF_ENOMEM;
	v->u.a[0] = RV_TRUE;
	v->u.a[1] = j.header;
	v->u.a[2] = j.payload;
	*out = v;
	return SF_OK;
}

/* io.jwt.encode_sign for HMAC keys (kty "oct"). */
static int
encode_sign_common(struct ev *ev, const char *fn, const char *h, size_t hn,
    const char *p, size_t pn, const struct rv *jwk, struct rv **out)
{
	const struct rv	*kty, *k, *alg;
	struct rv	*hv, *pv, *sv;
	unsigned char	*key, d[EVP_MAX_MD_SIZE];
	unsigned int	 dl = 0;
	size_t		 kl, bad;
	struct sbuf	 b;
	const EVP_MD	*md;
	int		 rc;

	if (jwk->t != RV_OBJ)
		return bi_type_err(ev, fn, 3, "object", jwk);
	kty = rv_obj_gets(jwk, "kty");
	k = rv_obj_gets(jwk, "k");
	if (kty == NULL || kty->t != RV_STR || strcmp(kty->u.s, "oct") != 0 ||
	    k == NULL || k->t != RV_STR ||
	    !b64dec(A, k->u.s, k->n, true, 2, &key, &kl, &bad))
		return bi_err(ev, "%s: only HMAC (kty oct) keys are supported",
		    fn);
	if (jwt_json(ev, (const unsigned char *)h, hn, &hv) != SF_OK ||
	    hv->t != RV_OBJ || (alg = rv_obj_gets(hv, "alg")) == NULL ||
	    alg->t != RV_STR)
		return bi_err(ev, "%s: invalid JWS header", fn);
	if (strcmp(alg->u.s, "HS256") == 0)
		md = EVP_sha256();
	else if (strcmp(alg->u.s, "HS384") == 0)
		md = EVP_sha384();
	else if (strcmp(alg->u.s, "HS512") == 0)
		md = EVP_sha512();
	else
		return bi_err(ev, "%s: unsupported alg %s", fn, alg->u.s);
	sbuf_init(&b, A);
	if ((rc = b64enc(ev, (const unsigned char *)h, hn, true, false, &hv)) !=
	    SF_OK ||
	    (rc = b64enc(ev, (const unsigned char *)p, pn, true, false, &pv)) !=
	    SF_OK)
		return rc;
	sbuf_put(&b, hv->u.s, hv->n);
	sbuf_putc(&b, '.');
	sbuf_put(&b, pv->u.s, pv->n);
	if (b.oom || HMAC(md, key, (int)kl, (const unsigned char *)b.s, b.len,
	    d, &dl) == NULL)
		return SF_ENOMEM;
	if ((rc = b64enc(ev, d, dl, true, false, &sv)) != SF_OK)
		return rc;
	sbuf_putc(&b, '.');
	sbuf_put(&b, sv->u.s, sv->n);
	if (b.oom)
		return SF_ENOMEM;
	*out = rv_str_ref(A, b.s, b.len);
	return *out == NULL ? SF_ENOMEM : SF_OK;
}

static int
bi_encode_sign(struct ev *ev, struct rv *const *args, struct rv **out)
{
	struct sbuf	 h, p;

	if (args[0]->t != RV_OBJ)
		return bi_type_err(ev, "io.jwt.encode_sign", 1, "object",
		    args[0]);
	if (args[1]->t != RV_OBJ)
		return bi_type_err(ev, "io.jwt.encode_sign", 2, "object",
		    args[1]);
	sbuf_init(&h, A);
	sbuf_init(&p, A);
	rv_write_json(&h, args[0]);
	rv_write_json(&p, args[1]);
	if (h.oom || p.oom)
		return SF_ENOMEM;
	return encode_sign_common(ev, "io.jwt.encode_sign", h.s, h.len, p.s,
	    p.len, args[2], out);
}

static int
bi_encode_sign_raw(struct ev *ev, struct rv *const *args, struct rv **out)
{
	const char	*h, *p;
	size_t		 hn, pn;
	struct rv	*jwk;
	int		 rc;

	if ((rc = bi_arg_str(ev, "io.jwt.encode_sign_raw", args, 0, &h, &hn)) !=
	    SF_OK ||
	    (rc = bi_arg_str(ev, "io.jwt.encode_sign_raw", args, 1, &p, &pn)) !=
	    SF_OK)
		return rc;
	if (args[2]->t != RV_STR || jwt_json(ev,
	    (const unsigned char *)args[2]->u.s, args[2]->n, &jwk) != SF_OK)
		return bi_err(ev, "io.jwt.encode_sign_raw: invalid key");
	return encode_sign_common(ev, "io.jwt.encode_sign_raw", h, hn, p, pn,
	    jwk, out);
}

const struct builtin bi_crypto[] = {
	{ "crypto.md5", 1, bi_md5, 0 },
	{ "crypto.sha1", 1, bi_sha1, 0 },
	{ "crypto.sha256", 1, bi_sha256, 0 },
	{ "crypto.sha512", 1, bi_sha512, 0 },
	{ "crypto.hmac.md5", 2, bi_hmac_md5, 0 },
	{ "crypto.hmac.sha1", 2, bi_hmac_sha1, 0 },
	{ "crypto.hmac.sha256", 2, bi_hmac_sha256, 0 },
	{ "crypto.hmac.sha512", 2, bi_hmac_sha512, 0 },
	{ "crypto.hmac.equal", 2, bi_hmac_equal, 0 },
	{ "base64.encode", 1, bi_b64_encode, 0 },
	{ "base64.decode", 1, bi_b64_decode, 0 },
	{ "base64.is_valid", 1, bi_b64_is_valid, 0 },
	{ "base64url.encode", 1, bi_b64url_encode, 0 },
	{ "base64url.encode_no_pad", 1, bi_b64url_encode_np, 0 },
	{ "base64url.decode", 1, bi_b64url_decode, 0 },
	{ "hex.encode", 1, bi_hex_encode, 0 },
	{ "hex.decode", 1, bi_hex_decode, 0 },
	{ "io.jwt.decode", 1, bi_jwt_decode, 0 },
	{ "io.jwt.decode_verify", 2, bi_decode_verify, BI_NONDET },
	{ "io.jwt.verify_rs256", 2, bi_verify_rs256, 0 },
	{ "io.jwt.verify_rs384", 2, bi_verify_rs384, 0 },
	{ "io.jwt.verify_rs512", 2, bi_verify_rs512, 0 },
	{ "io.jwt.verify_ps256", 2, bi_verify_ps256, 0 },
	{ "io.jwt.verify_ps384", 2, bi_verify_ps384, 0 },
	{ "io.jwt.verify_ps512", 2, bi_verify_ps512, 0 },
	{ "io.jwt.verify_es256", 2, bi_verify_es256, 0 },
	{ "io.jwt.verify_es384", 2, bi_verify_es384, 0 },
	{ "io.jwt.verify_es512", 2, bi_verify_es512, 0 },
	{ "io.jwt.verify_hs256", 2, bi_verify_hs256, 0 },
	{ "io.jwt.verify_hs384", 2, bi_verify_hs384, 0 },
	{ "io.jwt.verify_hs512", 2, bi_verify_hs512, 0 },
	{ "io.jwt.verify_eddsa", 2, bi_verify_eddsa, 0 },
	{ "io.jwt.encode_sign", 3, bi_encode_sign, 0 },
	{ "io.jwt.encode_sign_raw", 3, bi_encode_sign_raw, 0 },
	{ NULL, 0, NULL, 0 }
};
