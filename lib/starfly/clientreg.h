/*
 * starfly/clientreg.h - OAuth clients of the token endpoint
 * (lib/clientreg.c): etc_dir/clients.d/NAME.conf, one client per file.
 * Included by starfly.h only.
 *
 *   client_id      the client identifier (required)
 *   secret_sha256  hex SHA-256 of the client secret, or
 *   secret_file    a file holding the secret (read at load, then wiped)
 *   auth_methods   client_secret_basic and/or client_secret_post
 *                  (default both)
 */
#ifndef STARFLY_CLIENTREG_H
#define STARFLY_CLIENTREG_H

struct clientreg;

/* Load every clients.d/ *.conf of c->etc_dir.  *out is new. */
int		 clientreg_load(const struct sf_conf *c, struct clientreg **out,
		    char **errmsg);
void		 clientreg_free(struct clientreg *r);

/*
 * Authenticate the client of a token request (RFC 6749 §2.3.1): from the
 * HTTP Basic header auth (may be NULL) or from body_id/body_secret
 * (client_secret_post).  On SF_OK *client_id is the authenticated or
 * public client (borrowed from auth/body/registry; NULL when none was
 * given).  SF_EDENIED with *why (static text) for a failed
 * authentication, an unknown client when public clients are refused, or
 * a registered client that sent no secret; *basic tells whether the
 * client tried HTTP Basic (for WWW-Authenticate).
 */
int		 clientreg_authenticate(const struct clientreg *r,
		    bool allow_public, const char *auth, const char *body_id,
		    const char *body_secret, const char **client_id,
		    const char **why, bool *basic);

#endif /* STARFLY_CLIENTREG_H */
