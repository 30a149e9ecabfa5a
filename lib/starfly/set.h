/*
 * starfly/set.h - Security Event Tokens (RFC 8417) received by push
 * delivery (RFC 8935) from OpenID Shared Signals transmitters (CAEP,
 * RISC), and what they do to revocations (lib/set.c).  Included by
 * starfly.h only.
 *
 * Transmitters are configured one per file, etc_dir/transmitters.d/
 * NAME.conf:
 *   issuer         the SETs' "iss" (required)
 *   jwks_file      the transmitter's public keys, a JWKS (required; RSA
 *                  keys without "alg" are taken as RS256)
 *   audience       the "aud" its SETs must carry (default: this unit's
 *                  issuer URL)
 *   bearer_sha256  hex SHA-256 of the bearer token the transmitter sends
 *                  in Authorization (optional; then required)
 *   session_ttl    seconds a session-level revocation refuses new
 *                  exchanges (default: max_token_ttl)
 */
#ifndef STARFLY_SET_H
#define STARFLY_SET_H

#define SET_TYP			"secevent+jwt"
#define SET_MEDIA_TYPE		"application/secevent+jwt"
#define SET_CAEP		"https://schemas.openid.net/secevent/caep/event-type/"
#define SET_RISC		"https://schemas.openid.net/secevent/risc/event-type/"
#define SET_MAX_TARGETS		16

struct set_transmitter {
	char		*name;		/* file name without .conf */
	char		*file;
	char		*issuer;
	char		*audience;
	int64_t		 session_ttl;
	bool		 bearer;	/* a bearer token is required */
	unsigned char	 bearer_sha256[32];
	struct jwks	*keys;
};

struct set_transmitters;

/*
 * Load every transmitters.d/ *.conf of c->etc_dir (an absent directory is
 * an empty set).  On error *errmsg (new) is "file:line: ..." or
 * "file: ...".  *out is new.
 */
int		 set_transmitters_load(const struct sf_conf *c,
		    struct set_transmitters **out, char **errmsg);
void		 set_transmitters_free(struct set_transmitters *ts);
size_t		 set_transmitters_count(const struct set_transmitters *ts);
/* Borrowed, or NULL. */
const struct set_transmitter *set_transmitter_get(
		    const struct set_transmitters *ts, size_t i);
const struct set_transmitter *set_transmitter_find(
		    const struct set_transmitters *ts, const char *iss);

/* RFC 8935 §2.3 error codes (IANA "Security Event Token Error Codes"). */
enum set_err {
	SET_ERR_NONE = 0,
	SET_INVALID_REQUEST,		/* not a SET, or a malformed event */
	SET_INVALID_KEY,		/* unknown kid, refused algorithm */
	SET_INVALID_ISSUER,		/* no transmitter has this iss */
	SET_INVALID_AUDIENCE,		/* aud is not this receiver */
	SET_AUTHENTICATION_FAILED,	/* signature or bearer token wrong,
					 * or not signed at all */
	SET_ACCESS_DENIED		/* the signal policy refused it */
};
const char	*set_err_code(enum set_err e);

/* A received SET: claims checked, not yet acted on. */
struct set {
	json_t		*claims;	/* the claims set (new reference) */
	const char	*iss;		/* borrowed from claims */
	const char	*jti;		/* borrowed; NULL (dev JSON only) */
	int64_t		 iat;		/* 0 when absent (dev JSON only) */
	const json_t	*events;	/* non-empty object of objects */
	const json_t	*subject;	/* sub_id, else a legacy "subject"
					 * member of the event; may be NULL */
	const struct set_transmitter *tx; /* NULL for dev plain JSON */
};
void		 set_clear(struct set *s);

/*
 * A pushed compact SET (RFC 8417 §2, SSF 1.0 profile): a JWS whose
 * header typ is secevent+jwt; iss names a configured transmitter, whose
 * bearer token (when configured) auth must carry; signature by that
 * transmitter's key (algorithm pinned by the key, RFC 8725); aud (string
 * or array) holding the transmitter's audience; jti and iat present; exp,
 * if present, not past; events a non-empty object of objects.  On
 * failure *err names the RFC 8935 code and *why (new) the check.
 */
int		 set_verify(const struct set_transmitters *ts,
		    const char *compact, size_t len, const char *auth,
		    int64_t now, int64_t skew, struct set *out,
		    enum set_err *err, char **why);

/*
 * A plain JSON claims set (dev mode only, Starfly's sandbox shape): the
 * same member rules except that jti, iat and aud may be absent and there
 * is no transmitter.
 */
int		 set_from_json(const char *buf, size_t len, int64_t now,
		    struct set *out, enum set_err *err, char **why);

/*
 * What the events ask of the receiver (API.md): REVOKE for CAEP
 * session-revoked, credential-change (change_type revoke or delete),
 * device-compliance-change to not-compliant, RISC account-disabled,
 * account-purged, credential-compromise, sessions-revoked; LIFT for RISC
 * account-enabled and device-compliance-change to compliant; NONE
 * otherwise.  Several events: REVOKE wins over LIFT.  session says the
 * revocation is session-level (it expires after the transmitter's
 * session_ttl) rather than until lifted.  time is the event's
 * event_timestamp, else the SET's iat, else now; never in the future.
 */
enum set_effect { SET_NONE = 0, SET_REVOKE, SET_LIFT };
struct set_action {
	enum set_effect	 effect;
	bool		 session;
	int64_t		 time;
	const char	*event;		/* the deciding event type (borrowed) */
};
int		 set_action(const struct set *s, int64_t now,
		    struct set_action *out, char **why);

/*
 * The revocation targets a subject identifier names (RFC 9493 formats
 * uri, iss_sub, email, opaque, account, phone_number, did, aliases;
 * SSF jwt_id and complex; Starfly's spiffe_id member): *out is a new
 * array of [kind, id] pairs ("sub" or "jti").  A jwt_id of another
 * issuer than own_issuer names nothing here.  Unsupported formats and
 * malformed members: SF_ENOTSUP / SF_EINVAL with *why (new).
 */
int		 set_targets(const json_t *subject, const char *own_issuer,
		    json_t **out, char **why);

/* The subject as the signal policy sees it: {"id","format"} (new). */
json_t		*set_policy_subject(const json_t *subject);

#endif /* STARFLY_SET_H */
