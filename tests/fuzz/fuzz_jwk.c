/*
 * fuzz_jwk.c - jwk_parse / jwks_parse of arbitrary JSON.  Invariants: no
 * crash or leak; a key that parses emits a public JWK that parses back to
 * the same thumbprint and algorithm, without private members; a private
 * key survives the PKCS#8 DER round trip with the same thumbprint.
 */
#include <stdlib.h>
#include <string.h>

#include "starfly.h"

int	LLVMFuzzerTestOneInput(const unsigned char *data, size_t size);

static void
check_key(const struct jwk *k)
{
	struct jwk *k2 = NULL;
	unsigned char *der = NULL;
	size_t len = 0;
	json_t *o = NULL;
	char *t1 = NULL, *t2 = NULL;

	if (jwk_to_json(k, &o) != SF_OK || json_object_get(o, "d") != NULL ||
	    jwk_parse(o, JWS_ALG_UNKNOWN, false, &k2) != SF_OK ||
	    jwk_alg(k2) != jwk_alg(k) || jwk_has_private(k2) ||
	    strcmp(jwk_kid(k2), jwk_kid(k)) != 0 ||
	    jwk_thumbprint(k, &t1) != SF_OK || jwk_thumbprint(k2, &t2) != SF_OK ||
	    strcmp(t1, t2) != 0)
		abort();
	jwk_free(k2);
	k2 = NULL;
	free(t2);
	t2 = NULL;
	if (jwk_has_private(k)) {
		if (jwk_private_der(k, &der, &len) != SF_OK ||
		    jwk_from_private_der(der, len, jwk_alg(k), &k2) != SF_OK ||
		    jwk_thumbprint(k2, &t2) != SF_OK || strcmp(t1, t2) != 0)
			abort();
		sf_freezero(der, len);
	}
	jwk_free(k2);
	free(t1);
	free(t2);
	json_decref(o);
}

int
LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
	struct jwks *set = NULL;
	struct jwk *k = NULL;
	json_t *v = NULL;
	size_t i;

	if (json_parse_strict((const char *)data, size, &v, NULL) != SF_OK)
		return 0;
	if (json_object_get(v, "keys") != NULL) {
		if (jwks_parse(v, JWS_ALG_UNKNOWN, false, &set) == SF_OK)
			jwks_free(set);
		else if (set != NULL)
			abort();
		set = NULL;
		if (jwks_parse(v, JWS_RS256, true, &set) == SF_OK) {
			for (i = 0; i < jwks_count(set); i++)
				check_key(jwks_get(set, i));
			jwks_free(set);
		}
	} else {
		if (jwk_parse(v, JWS_PS256, true, &k) == SF_OK) {
			check_key(k);
			jwk_free(k);
		} else if (k != NULL)
			abort();
		k = NULL;
		/* A public-key context accepts no private members. */
		if (jwk_parse(v, JWS_ALG_UNKNOWN, false, &k) == SF_OK) {
			if (jwk_has_private(k))
				abort();
			jwk_free(k);
		}
	}
	json_decref(v);
	return 0;
}
