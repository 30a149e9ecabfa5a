/*
 * jose_int.h - internals shared by lib/jwk.c, lib/jws.c and lib/keyring.c.
 * Not part of the public interface.
 */
#ifndef JOSE_INT_H
#define JOSE_INT_H

#include <pthread.h>

#include <openssl/evp.h>

#define JOSE_EC_MAX_COORD	48	/* P-384 */

enum jwk_kty { JWK_KTY_EC = 1, JWK_KTY_OKP, JWK_KTY_RSA };

/* Static facts about each supported algorithm (RFC 7518 §3.1, RFC 8037). */
struct jose_alg {
	enum jws_alg	 alg;
	const char	*name;		/* "ES256" */
	enum jwk_kty	 kty;
	const char	*md;		/* digest name, NULL for EdDSA */
	const char	*crv;		/* JWK "crv", NULL for RSA */
	const char	*group;		/* OpenSSL group name, EC only */
	size_t		 coord;		/* EC coordinate / Ed25519 key bytes */
	bool		 pss;		/* RSASSA-PSS (RFC 7518 §3.5) */
};

/*
 * A key.  Everything a verification needs is computed once when the key
 * is built, so jws_verify does no parsing or lookups per call.
 */
struct jwk {
	const struct jose_alg *info;
	EVP_PKEY	*pkey;
	EVP_MD		*md;		/* fetched once; NULL for EdDSA */
	bool		 priv;		/* pkey holds the private half */
	char		*kid;		/* explicit kid, or the thumbprint */
	char		*thumb;		/* RFC 7638, base64url */
	char		*pub1, *pub2;	/* base64url: EC x,y; OKP x; RSA n,e */
	size_t		 sig_len;	/* exact signature size in bytes */
	/* EC group order n, big-endian, info->coord bytes (RFC 7518 §3.4). */
	unsigned char	 order[JOSE_EC_MAX_COORD];
	/*
	 * ECDSA and RSA: a verification context set up once (digest,
	 * padding), used under vlock; a caller that finds it busy builds
	 * its own.  NULL for EdDSA, which has no pre-hashed form.
	 */
	EVP_PKEY_CTX	*vctx;
	pthread_mutex_t	 vlock;
};

/* A new EVP_PKEY_verify context for key (not EdDSA), or NULL. */
EVP_PKEY_CTX	*jose_verify_ctx(const struct jwk *key);
/* RSA padding for key on pctx: PKCS#1 v1.5, or PSS (RFC 7518 §3.5). */
int		 jose_set_padding(const struct jwk *key, EVP_PKEY_CTX *pctx);

const struct jose_alg *jose_alg_info(enum jws_alg alg);

/* Record why the last call failed (read with jose_why()); returns rc. */
int	jose_fail(int rc, const char *fmt, ...)
	    __attribute__((format(printf, 2, 3)));

#endif /* JOSE_INT_H */
