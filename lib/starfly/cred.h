/*
 * starfly/cred.h - inbound credentials (lib/issuer.c, lib/cred.c):
 * configured issuers and the validation of subject and actor tokens for
 * every subject_token_type of API.md.  Included by starfly.h only.
 *
 * Nothing here touches the network or the store on the request path:
 * issuer keys come from local files, or from the store cache that
 * `starflyctl issuers sync` fills out of band; an unknown kid is an error,
 * never a fetch.
 */
#ifndef STARFLY_CRED_H
#define STARFLY_CRED_H

struct store;
struct keyring;

/* The subject_token_type URIs of API.md. */
#define CRED_TYPE_JWT		"urn:ietf:params:oauth:token-type:jwt"
#define CRED_TYPE_ACCESS	"urn:ietf:params:oauth:token-type:access_token"
#define CRED_TYPE_OIDC		"urn:starfly:token-type:oidc"
#define CRED_TYPE_SPIFFE	"urn:starfly:token-type:spiffe-svid"
#define CRED_TYPE_AGENT		"urn:starfly:token-type:agent-mcp"
#define CRED_TYPE_AWS		"urn:starfly:token-type:aws-sts"
#define CRED_TYPE_GCP		"urn:starfly:token-type:gcp-wif"
#define CRED_TYPE_AZURE		"urn:starfly:token-type:azure-mi"

/* The JOSE "typ" of agent tokens (POST /v1/identity/agent). */
#define CRED_TYP_AGENT		"agent+jwt"

/* Store namespace of synced issuer keys; the key is the issuer's name. */
#define ISSUER_KEYS_NS		"issuer-keys"

/* Every configured issuer (etc_dir/issuers.d/ *.conf).  Opaque. */
struct issuers;

/*
 * Load every issuers.d file of c->etc_dir (NAME.conf; other names are
 * ignored); keys from their files, or from st (may be NULL) for issuers
 * whose keys are synced (an issuer not synced yet has no keys and every
 * token of it is refused until it is).  On error *errmsg (new) is
 * "file:line: ..." or "file: ...".  *out is new.
 */
int		 issuers_load(const struct sf_conf *c, struct store *st,
		    struct issuers **out, char **errmsg);
void		 issuers_free(struct issuers *is);
size_t		 issuers_count(const struct issuers *is);

/*
 * The reload contract for synced keys: call before validating (one memory
 * load when nothing changed).  When store_generation(st) moved since the
 * last load or refresh, re-read ISSUER_KEYS_NS/<name> for every synced
 * issuer and replace its keys when the stored document changed.
 * *changed (optional) says whether any keys were replaced.  A document
 * that no longer parses keeps the previous keys (and is logged).  Not
 * safe to call while another thread validates with is.
 */
int		 issuers_refresh(struct issuers *is, struct store *st,
		    bool *changed);

/* What `starflyctl issuers list|sync` needs of one issuer.  Borrowed. */
struct issuer_info {
	const char	*name;		/* file name without ".conf" */
	const char	*file;		/* the file it came from */
	const char	*kind;		/* "kubernetes", "spiffe", ... */
	const char	*issuer;	/* iss, or NULL (spiffe: by domain) */
	const char	*trust_domain;
	const char	*const *token_types;	/* NULL-terminated URIs */
	const char	*source;	/* key name: "jwks_file", "jwks_url", ... */
	const char	*location;	/* its path or URL */
	bool		 remote;	/* keys come from the store (sync) */
	bool		 discovery;	/* location is an OIDC discovery URL */
	size_t		 nkeys;		/* keys loaded */
	int64_t		 synced_at;	/* remote: fetch time, 0 if never */
};
int		 issuers_info(const struct issuers *is, size_t i,
		    struct issuer_info *out);

/*
 * Check a fetched key document for issuer i (a JWKS; a SPIFFE bundle for
 * spiffe issuers) with the rules issuers_load applies, and wrap it as the
 * store value: *out (new) is {"source": url, "fetched_at": now,
 * "keys": [...]} with any "spiffe_sequence"/"spiffe_refresh_hint" kept.
 * *nkeys is how many keys are usable.  A document without one usable key
 * is refused (SF_EKEY) unless it is a SPIFFE bundle with an empty "keys"
 * array (the trust domain revoked all its keys).  *why (new) on failure.
 */
int		 issuers_keys_doc(const struct issuers *is, size_t i,
		    const char *doc, size_t len, const char *url, int64_t now,
		    char **out, size_t *nkeys, char **why);

/* A validated subject or actor. */
struct subject {
	char		*id;		/* wimse://... or spiffe://... */
	char		*trust_domain;
	char		*type;		/* subject_token_type URI */
	char		*issuer;	/* iss of the presented token ("" if none) */
	json_t		*claims;	/* its claims (new reference) */
	int64_t		 exp;		/* 0 when the token had none */
	bool		 own;		/* a token this unit issued */
};

/*
 * Validate token of type token_type at time now (RFC 8725 checks; the
 * algorithm pinned by the issuer's key; exp/nbf/iat within
 * c->clock_skew; iss configured for that type; aud when the issuer
 * requires one; the subject's trust domain the issuer's).  Tokens this
 * unit issued (agent tokens, and actor tokens) verify against own (may be
 * NULL).  In dev mode the stub rules of API.md apply.  On failure *why
 * (new) says which check failed (e.g. "expired at 2026-11-22T10:00:00Z";
 * the caller names the field: "subject_token: ..."), and the return is
 * SF_EINVAL (malformed or unsupported type), SF_EBADSIG,
 * SF_EALG, SF_EKEY, SF_EEXPIRED, SF_ENOTYET or SF_ECLAIM (SF_ENOMEM
 * aside).  out is filled on SF_OK; clear it with subject_clear.
 *
 * This unit's own tokens (iss == c->issuer) are accepted as subject
 * tokens of type ...:jwt and ...:access_token (typ at+jwt or agent+jwt)
 * and ...agent-mcp (typ agent+jwt, sub wimse://<trust domain>/agent/...).
 */
int		 cred_validate(const struct sf_conf *c,
		    const struct issuers *is, const struct keyring *own,
		    const char *token, const char *token_type, int64_t now,
		    struct subject *out, char **why);

/*
 * The same for an actor_token, except that a token this unit issued is
 * accepted whatever actor_token_type names (delegation chains present
 * our own tokens as actors).
 */
int		 cred_validate_actor(const struct sf_conf *c,
		    const struct issuers *is, const struct keyring *own,
		    const char *token, const char *token_type, int64_t now,
		    struct subject *out, char **why);
void		 subject_clear(struct subject *s);

/* Whether token_type is one API.md lists. */
bool		 cred_type_known(const char *token_type);

#endif /* STARFLY_CRED_H */
