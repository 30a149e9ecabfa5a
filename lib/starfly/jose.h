/*
 * starfly/jose.h - base64url, JWK, JWS and the keyring (lib/b64.c,
 * lib/jwk.c, lib/jws.c, lib/keyring.c).  Included by starfly.h only.
 *
 * Every primitive is OpenSSL 3 EVP.  The verification algorithm is pinned
 * by the key (RFC 8725 §3.1): a token's "alg" header must equal the key's
 * algorithm, "none" and HMAC are never accepted, and the header parameters
 * "jwk", "jku", "x5u", "x5c" are never used to find a key.
 */
#ifndef STARFLY_JOSE_H
#define STARFLY_JOSE_H

/*
 * Why the last failing call of this section (in this thread) refused its
 * input, e.g. "jwk: \"x\" is not 32 bytes".  Static; never NULL.
 */
const char	*jose_why(void);

/* RFC 4648 §5 base64url without padding.  *out is new, NUL-terminated. */
int		 b64url_encode(const void *in, size_t len, char **out);

/*
 * Strict decode: alphabet [A-Za-z0-9_-] only, no padding, no whitespace,
 * no non-canonical trailing bits.  *out is new (NUL-terminated for
 * convenience, *outlen excludes the NUL).
 */
int		 b64url_decode(const char *in, size_t len, unsigned char **out,
		    size_t *outlen);

enum jws_alg {
	JWS_ALG_UNKNOWN = 0,
	JWS_ES256, JWS_ES384, JWS_EDDSA,
	JWS_RS256, JWS_RS384, JWS_RS512, JWS_PS256
};

/* "ES256" ... ; NULL for JWS_ALG_UNKNOWN. */
const char	*jws_alg_name(enum jws_alg alg);
/* JWS_ALG_UNKNOWN when not one of ours (including "none", "HS256"). */
enum jws_alg	 jws_alg_from_name(const char *name);

/*
 * A JSON Web Key (RFC 7517) holding a public key, and optionally its
 * private half.  Opaque.
 */
struct jwk;

/*
 * Parse one JWK object.  Supported: kty EC (P-256, P-384), OKP (Ed25519),
 * RSA (>= 2048 bits).  "alg" pins the algorithm; when absent it is derived
 * for EC/OKP (P-256 -> ES256, P-384 -> ES384, Ed25519 -> EdDSA) and
 * required for RSA unless default_alg is given (JWS_ALG_UNKNOWN: none).
 * Private members ("d", ...) are refused unless allow_private.
 * Refuses kty "oct", unknown curves, "use" other than "sig", "key_ops"
 * beyond sign/verify, mismatched alg/kty, malformed members (coordinates
 * not full size, RSA integers with leading zero octets), EC points off
 * their curve, RSA moduli outside 2048..16384 bits, prime or with a
 * factor below 1000 or with the ROCA fingerprint, RSA exponents that are
 * even, 1, or 2^32 and above, and private halves that do not match.
 * SF_EINVAL (malformed), SF_EKEY (unusable key), SF_EALG.  *out is new.
 */
int		 jwk_parse(const json_t *obj, enum jws_alg default_alg,
		    bool allow_private, struct jwk **out);

/* Generate a new key pair for alg (RSA keys are 2048-bit).  *out is new. */
int		 jwk_generate(enum jws_alg alg, struct jwk **out);

/* Load/save a private key as PKCS#8 PEM; the file is written 0600. */
int		 jwk_load_pem(const char *path, enum jws_alg alg,
		    struct jwk **out);
int		 jwk_save_pem(const struct jwk *key, const char *path);

/* PKCS#8 DER of the private key (new, wipe with sf_freezero). */
int		 jwk_private_der(const struct jwk *key, unsigned char **out,
		    size_t *outlen);
int		 jwk_from_private_der(const unsigned char *der, size_t len,
		    enum jws_alg alg, struct jwk **out);

/*
 * Public JWK as JSON: kty, crv/x/y or n/e, kid, alg, use "sig".  *out is a
 * new reference.
 */
int		 jwk_to_json(const struct jwk *key, json_t **out);

/* RFC 7638 SHA-256 thumbprint, base64url.  *out is new. */
int		 jwk_thumbprint(const struct jwk *key, char **out);

/* Borrowed; kid defaults to the thumbprint when the JWK had none. */
const char	*jwk_kid(const struct jwk *key);
enum jws_alg	 jwk_alg(const struct jwk *key);
bool		 jwk_has_private(const struct jwk *key);
/* Set the kid (copied). */
int		 jwk_set_kid(struct jwk *key, const char *kid);
/* Wipes private material. */
void		 jwk_free(struct jwk *key);

/* A JWK set: keys looked up by kid. */
struct jwks;

/*
 * Parse {"keys": [...]}.  Keys that fail to parse are skipped when
 * skip_bad (a remote set may carry keys for other uses), else an error.
 * Duplicate kids are an error.  *out is new.
 */
int		 jwks_parse(const json_t *obj, enum jws_alg default_alg,
		    bool skip_bad, struct jwks **out);
int		 jwks_new(struct jwks **out);
/* Takes ownership of key (also on failure). */
int		 jwks_add(struct jwks *set, struct jwk *key);
/* Borrowed, or NULL. */
const struct jwk *jwks_find(const struct jwks *set, const char *kid);
size_t		 jwks_count(const struct jwks *set);
const struct jwk *jwks_get(const struct jwks *set, size_t i);
/* {"keys": [public JWKs]}; new reference. */
int		 jwks_to_json(const struct jwks *set, json_t **out);
void		 jwks_free(struct jwks *set);

/*
 * A parsed JWS compact serialisation (RFC 7515 §7.1).
 */
struct jws {
	json_t		*header;	/* JOSE header object */
	json_t		*claims;	/* payload parsed as a JSON object, or NULL */
	unsigned char	*payload;	/* decoded payload bytes */
	size_t		 payload_len;
	unsigned char	*sig;		/* decoded signature */
	size_t		 sig_len;
	char		*signing_input;	/* "b64(header).b64(payload)" */
	size_t		 signing_input_len;
	enum jws_alg	 alg;		/* from header; UNKNOWN if not ours */
	const char	*kid;		/* borrowed from header, or NULL */
	const char	*typ;		/* borrowed from header, or NULL */
};

/*
 * Parse compact JWS (at most 64 KiB, else SF_ETOOBIG): exactly three
 * strict base64url parts, header a strict JSON object (json_parse_strict),
 * "alg" a string, "kid"/"typ" strings when present, "crit" and "b64"
 * refused.  A payload whose first non-blank byte is '{' must be a strict
 * JSON object and becomes claims; any other payload leaves claims NULL.
 * Does not verify.  SF_EPARSE (malformed), SF_EINVAL (refused header).
 * *out is new.
 */
int		 jws_parse(const char *compact, size_t len, struct jws **out);
void		 jws_free(struct jws *jws);

/*
 * Verify jws with key.  The header alg must equal jwk_alg(key)
 * (SF_EALG otherwise).  ECDSA signatures are the raw r||s of RFC 7518
 * §3.4 (wrong length, r or s zero or >= n: SF_EBADSIG); every signature
 * must have its algorithm's exact length; PS256 uses MGF1-SHA-256 and a
 * 32-byte salt (RFC 7518 §3.5).  Only alg, signing_input and sig of jws
 * are read.  SF_OK, SF_EBADSIG, SF_EALG, or SF_EINVAL (NULL argument).
 * Safe to call from several threads with the same key.
 */
int		 jws_verify(const struct jws *jws, const struct jwk *key);

/*
 * Parse then verify against a key set: the header kid selects the key
 * (absent kid: allowed only when the set has exactly one key).  Unknown
 * kid: SF_EKEY.  *out is new on SF_OK only.
 */
int		 jws_verify_compact(const char *compact, size_t len,
		    const struct jwks *keys, struct jws **out);

/*
 * Sign claims as a compact JWT with header {"alg","kid","typ"}; typ may be
 * NULL (omitted).  *out is new.
 */
int		 jws_sign_jwt(const struct jwk *key, const char *typ,
		    const json_t *claims, char **out);

/*
 * Sign arbitrary payload bytes.  The header is {"alg", "kid"} from the
 * key followed by the members of header (borrowed, may be NULL); header
 * cannot override "alg" or "kid".  *out is new.
 */
int		 jws_sign(const struct jwk *key, const json_t *header,
		    const void *payload, size_t payload_len, char **out);

/*
 * The keyring: this unit's signing keys, persisted in a directory.
 *
 * Layout (documented in README.md): DIR/keyring.json lists every key
 * {kid, alg, created, state: active|retired, retired_at, publish_until};
 * DIR/public/<kid>.jwk holds each public JWK (world-readable);
 * DIR/private/<kid>.pem holds the PKCS#8 private key (0600, directory
 * 0700), readable only by the signing program's user.
 * The kid is the RFC 7638 thumbprint.
 */
struct keyring;

enum keyring_flags {
	KEYRING_PUBLIC = 0,	/* load public keys only */
	KEYRING_PRIVATE = 1	/* also load the active private key */
};

/*
 * Create DIR (and parents), public/ and private/ (forced to 0700), and a
 * first active key of alg when keyring.json names none.  Idempotent.
 * Writers (init, rotate, prune) serialise on DIR/.lock.
 */
int		 keyring_init(const char *dir, enum jws_alg alg);

/*
 * Load: the active key and the retired keys still published, each file
 * checked against its kid (the thumbprint).  KEYRING_PRIVATE also loads
 * the active private key, refusing it (SF_EKEY) when private/ or the file
 * is open to group or others.  SF_ENOTFOUND without keyring.json or an
 * active key; SF_EPARSE for a damaged keyring.json.  *out is new.
 */
int		 keyring_load(const char *dir, enum keyring_flags flags,
		    struct keyring **out);
/*
 * Retire the active key (published until now + max_token_ttl seconds) and
 * make a new active key of alg (JWS_ALG_UNKNOWN: the retired key's).  A
 * missing keyring is created.  *new_kid (optional) is new.
 */
int		 keyring_rotate(const char *dir, enum jws_alg alg,
		    int64_t max_token_ttl, char **new_kid);
/*
 * Drop retired keys whose publish_until has passed, with their files.
 * *pruned (optional) is how many were dropped.
 */
int		 keyring_prune(const char *dir, size_t *pruned);

/* Borrowed; NULL when loaded without KEYRING_PRIVATE. */
const struct jwk *keyring_signer(const struct keyring *kr);
/* Borrowed: every published public key (active and retired-unexpired). */
const struct jwks *keyring_public(const struct keyring *kr);
/*
 * The JWKS document {"keys": [...]}: the active key and retired keys
 * whose publish_until is still ahead now; new reference.
 */
int		 keyring_jwks(const struct keyring *kr, json_t **out);
/* keyring.json listing for `starflyctl keys list`; new reference. */
int		 keyring_list(const char *dir, json_t **out);
/* The kid of the active key (new); SF_ENOTFOUND when there is none. */
int		 keyring_active_kid(const char *dir, char **kid);
/*
 * Whether to reload: the seal state moved, keyring.json was replaced or
 * changed (inode, size, mtime), or a retired key's publication has
 * ended since the load.  The disk is looked at (one stat(2)) at most
 * every 250 ms; in between it is a clock read, so a rotation reaches
 * running programs within 250 ms.
 */
bool		 keyring_changed(const struct keyring *kr);
void		 keyring_free(struct keyring *kr);

#endif /* STARFLY_JOSE_H */
