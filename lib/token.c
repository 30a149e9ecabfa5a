/*
 * token.c - verifying the tokens this unit issued, and the admin bearer
 * check shared by every program with admin operations.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "starfly.h"

bool
token_scope_has(const char *s, const char *word)
{
	size_t wl = strlen(word), n;

	if (s == NULL)
		return false;
	while (*s != '\0') {
		s += strspn(s, " ");
		n = strcspn(s, " ");
		if (n == wl && strncmp(s, word, n) == 0)
			return true;
		s += n;
	}
	return false;
}

void
token_rfc3339(int64_t t, char out[21])
{
	time_t tt = (time_t)t;
	struct tm tm;

	gmtime_r(&tt, &tm);
	strftime(out, 21, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

int
token_verify_own(const struct keyring *kr, const char *issuer,
    const char *typ, const char *token, size_t len, int64_t now, int64_t skew,
    json_t **claims, char **why)
{
	struct jws *jws = NULL;
	const char *iss;
	json_t *exp, *nbf;
	int rc;

	*claims = NULL;
	*why = NULL;
	if (kr == NULL) {
		(void)sf_asprintf(why, "no keys to verify with");
		return SF_EKEY;
	}
	rc = jws_verify_compact(token, len, keyring_public(kr), &jws);
	if (rc != SF_OK) {
		(void)sf_asprintf(why, "token does not verify with this "
		    "unit's keys: %s", sf_strerror(rc));
		return rc;
	}
	rc = SF_ECLAIM;
	if (jws->typ == NULL || (typ != NULL ? strcasecmp(jws->typ, typ) != 0 :
	    (strcasecmp(jws->typ, TOKEN_TYP_ACCESS) != 0 &&
	    strcasecmp(jws->typ, TOKEN_TYP_AGENT) != 0))) {
		(void)sf_asprintf(why, "token typ is %s, expected %s",
		    jws->typ ? jws->typ : "absent", typ ? typ : TOKEN_TYP_ACCESS);
		goto out;
	}
	if (jws->claims == NULL) {
		(void)sf_asprintf(why, "token payload is not a JSON object");
		goto out;
	}
	iss = json_string_value(json_object_get(jws->claims, "iss"));
	if (iss == NULL || strcmp(iss, issuer) != 0) {
		(void)sf_asprintf(why, "token issuer is not this unit");
		goto out;
	}
	exp = json_object_get(jws->claims, "exp");
	if (!json_is_integer(exp)) {
		(void)sf_asprintf(why, "token has no exp");
		goto out;
	}
	if (json_integer_value(exp) <= now - skew) {
		(void)sf_asprintf(why, "token expired");
		rc = SF_EEXPIRED;
		goto out;
	}
	nbf = json_object_get(jws->claims, "nbf");
	if (nbf != NULL && (!json_is_integer(nbf) ||
	    json_integer_value(nbf) > now + skew)) {
		(void)sf_asprintf(why, "token not yet valid");
		rc = SF_ENOTYET;
		goto out;
	}
	*claims = json_incref(jws->claims);
	rc = SF_OK;
out:
	jws_free(jws);
	return rc;
}

int
token_check_admin(const struct keyring *kr, const char *issuer,
    const char *auth, int64_t now, int64_t skew, char **why)
{
	json_t *claims = NULL, *aud, *m;
	char *want = NULL, *vwhy = NULL;
	const char *tok;
	bool aud_ok = false;
	size_t i;
	int rc;

	*why = NULL;
	if (auth == NULL || strncasecmp(auth, "Bearer ", 7) != 0) {
		(void)sf_asprintf(why, "an admin bearer token is required");
		return SF_EDENIED;
	}
	tok = auth + 7;
	while (*tok == ' ')
		tok++;
	rc = token_verify_own(kr, issuer, TOKEN_TYP_ACCESS, tok, strlen(tok),
	    now, skew, &claims, &vwhy);
	if (rc != SF_OK) {
		(void)sf_asprintf(why, "admin token refused: %s",
		    vwhy ? vwhy : sf_strerror(rc));
		free(vwhy);
		return SF_EDENIED;
	}
	if (sf_asprintf(&want, "%s/admin", issuer) != SF_OK) {
		json_decref(claims);
		return SF_ENOMEM;
	}
	aud = json_object_get(claims, "aud");
	if (json_is_string(aud))
		aud_ok = strcmp(json_string_value(aud), want) == 0;
	else
		json_array_foreach(aud, i, m)
			if (json_is_string(m) &&
			    strcmp(json_string_value(m), want) == 0)
				aud_ok = true;
	rc = SF_OK;
	if (!aud_ok) {
		(void)sf_asprintf(why, "admin token audience must be %s", want);
		rc = SF_EDENIED;
	} else if (!token_scope_has(json_string_value(json_object_get(claims,
	    "scope")), TOKEN_ADMIN_SCOPE)) {
		(void)sf_asprintf(why, "admin token lacks scope %s",
		    TOKEN_ADMIN_SCOPE);
		rc = SF_EDENIED;
	}
	free(want);
	json_decref(claims);
	return rc;
}
