/*
 * starfly/token.h - tokens this unit issues and verifies (lib/token.c).
 * Included by starfly.h only.
 */
#ifndef STARFLY_TOKEN_H
#define STARFLY_TOKEN_H

#define TOKEN_TYP_ACCESS	"at+jwt"	/* RFC 9068 §2.1 */
#define TOKEN_TYP_AGENT		"agent+jwt"
#define TOKEN_ADMIN_SCOPE	"starfly:admin"

/*
 * Verify a token this unit issued: signature with a published key of kr
 * (active or retired), "typ" equal to typ (NULL: at+jwt or agent+jwt),
 * "iss" equal to issuer, "exp" in the future and "nbf"/"iat" not in the
 * future beyond skew.  *claims is a new reference on SF_OK; *why (new)
 * names the failed check otherwise.
 */
int		 token_verify_own(const struct keyring *kr, const char *issuer,
		    const char *typ, const char *token, size_t len, int64_t now,
		    int64_t skew, json_t **claims, char **why);

/*
 * The admin check of API.md: "Authorization: Bearer <token>" where the
 * token verifies as above, "aud" is "<issuer>/admin" and "scope" holds
 * starfly:admin.  auth is the HTTP_AUTHORIZATION value (may be NULL).
 * SF_OK, or SF_EDENIED with *why (new).
 */
int		 token_check_admin(const struct keyring *kr, const char *issuer,
		    const char *auth, int64_t now, int64_t skew, char **why);

/* Whether the space-separated scope list s holds word. */
bool		 token_scope_has(const char *s, const char *word);

/* RFC 3339 UTC time ("2026-11-22T10:00:00Z") into out[21]. */
void		 token_rfc3339(int64_t t, char out[21]);

#endif /* STARFLY_TOKEN_H */
