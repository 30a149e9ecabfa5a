/*
 * admin-token - print an admin token of the unit (tests only): signed
 * by the unit's active key, aud "<issuer>/admin", scope starfly:admin,
 * five minutes.  What an operator would get from the exchange policy;
 * tests of admin routes use it so they do not depend on a policy.
 *
 *	admin-token --config FILE
 */
#include <stdio.h>
#include <stdlib.h>

#include "starfly.h"

int
main(int argc, char *argv[])
{
	struct prog p;
	struct keyring *kr = NULL;
	json_t *claims = NULL;
	char *aud = NULL, *tok = NULL, jti[37];
	int64_t now = sf_now();
	int rc = 1;

	if (prog_init(&p, "admin-token", &argc, argv) != SF_OK)
		return 2;
	(void)seal_open(p.conf);
	if (keyring_load(p.conf->keys_dir, KEYRING_PRIVATE, &kr) != SF_OK ||
	    keyring_signer(kr) == NULL) {
		fprintf(stderr, "admin-token: no signing key (sealed?): %s\n",
		    jose_why());
		goto out;
	}
	if (sf_asprintf(&aud, "%s/admin", p.conf->issuer) != SF_OK ||
	    sf_uuid4(jti) != SF_OK ||
	    (claims = json_pack("{s:s, s:s, s:s, s:s, s:I, s:I, s:s}",
	    "iss", p.conf->issuer, "sub", "wimse://test.local/admin",
	    "aud", aud, "scope", TOKEN_ADMIN_SCOPE, "iat", (json_int_t)now,
	    "exp", (json_int_t)(now + 300), "jti", jti)) == NULL ||
	    jws_sign_jwt(keyring_signer(kr), TOKEN_TYP_ACCESS, claims, &tok) !=
	    SF_OK)
		goto out;
	printf("%s\n", tok);
	rc = 0;
out:
	free(tok);
	free(aud);
	json_decref(claims);
	keyring_free(kr);
	prog_fini(&p);
	return rc;
}
