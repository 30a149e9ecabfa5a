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

/* Every configured issuer (etc_dir/issuers.d/ *.conf).  Opaque. */
struct issuers;

/*
 * Load every issuers.d file of c->etc_dir; keys from their files, or from
 * st (may be NULL) for issuers whose keys are synced.  On error *errmsg
 * (new) is "file:line: ...".  *out is new.
 */
int		 issuers_load(const struct sf_conf *c, struct store *st,
		    struct issuers **out, char **errmsg);
void		 issuers_free(struct issuers *is);
size_t		 issuers_count(const struct issuers *is);

/* A validated subject or actor. */
struct subject {
	char		*id;		/* wimse://... or spiffe://... */
	char		*trust_domain;
	char		*type;		/* subject_token_type URI */
	char		*issuer;	/* iss of the presented token */
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
 * (new) says which check failed and the return is SF_EINVAL (malformed),
 * SF_EBADSIG, SF_EALG, SF_EKEY, SF_EEXPIRED, SF_ENOTYET or SF_ECLAIM.
 * out is filled on SF_OK; clear it with subject_clear.
 */
int		 cred_validate(const struct sf_conf *c,
		    const struct issuers *is, const struct keyring *own,
		    const char *token, const char *token_type, int64_t now,
		    struct subject *out, char **why);
void		 subject_clear(struct subject *s);

/* Whether token_type is one API.md lists. */
bool		 cred_type_known(const char *token_type);

#endif /* STARFLY_CRED_H */
