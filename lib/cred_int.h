/*
 * cred_int.h - internals shared by lib/issuer.c and lib/cred.c (and the
 * issuers.d fuzz target).  Not part of the public interface.
 */
#ifndef CRED_INT_H
#define CRED_INT_H

/* Token types, as bits of issuer->types. */
enum cred_type {
	CT_JWT, CT_ACCESS, CT_OIDC, CT_SPIFFE, CT_AGENT, CT_AWS, CT_GCP,
	CT_AZURE, CT_COUNT
};
#define CT_BIT(t)	(1u << (t))

enum issuer_kind {
	IK_KUBERNETES, IK_SPIFFE, IK_OIDC, IK_AWS, IK_GCP, IK_AZURE,
	IK_GENERIC
};

enum key_source {
	KS_JWKS_FILE, KS_SPIFFE_BUNDLE, KS_JWKS_URL, KS_DISCOVERY,
	KS_BUNDLE_URL, KS_COUNT
};

/* Longest identifier we build or accept (draft-ietf-wimse-identifier). */
#define CRED_ID_MAX	2048

/* One issuers.d file. */
struct issuer {
	/* Set by conf_parse (see issuer_keys[] in issuer.c). */
	char		 *iss;
	int		  kind;		/* enum issuer_kind */
	char		**token_types;
	char		 *trust_domain;
	char		 *src[KS_COUNT];	/* path or URL, one set */
	char		**algorithms;
	char		**audience;
	char		 *subject;	/* template (oidc, generic) */
	long long	  max_age;
	char		**accounts;
	char		**typ;

	/* Derived. */
	char		 *name;
	char		 *file;
	unsigned int	  types;	/* CT_BIT set */
	const char	 *type_list[CT_COUNT + 1];	/* URIs of types */
	unsigned int	  algs;		/* bit (1 << enum jws_alg) set */
	enum key_source	  source;
	struct jwks	 *keys;		/* never NULL once loaded */
	char		 *keys_doc;	/* remote: the stored value */
	int64_t		  synced_at;
};

struct issuers {
	struct issuer	 *v;
	size_t		  n;
	uint64_t	  gen;		/* store_generation at load/refresh */
};

extern const char *const cred_type_uri[CT_COUNT];
extern const char *const issuer_kind_name[];

/* CT_* of a URI, or -1. */
int		 cred_type_of(const char *uri);

/*
 * Parse one issuers.d file held in buf into *is (zeroed by the caller;
 * free with issuer_clear).  name is the issuer name, file the path for
 * messages.  Checks every key and their combinations; loads no keys.
 */
int		 issuer_parse_buf(const struct sf_conf *c, const char *file,
		    const char *name, const char *buf, size_t len,
		    const char *base, struct issuer *is, char **errmsg);
void		 issuer_clear(struct issuer *is);

/* Trust-domain name: 1..255 bytes of [a-z0-9._-] (SPIFFE-ID §2.1). */
bool		 cred_td_ok(const char *td, size_t len);

#endif /* CRED_INT_H */
