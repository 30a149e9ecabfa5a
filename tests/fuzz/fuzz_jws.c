/*
 * fuzz_jws.c - jws_verify_compact and jws_parse + jws_verify of arbitrary
 * input against a fixed key set (ES256, EdDSA, RS256, ES384, PS256; the
 * seed corpus holds tokens these keys signed).  Invariants: no crash or
 * leak; on success the signature's base64url re-encodes to exactly the
 * input's third part (strict decoding admits one encoding only).
 */
#include <stdlib.h>
#include <string.h>

#include "starfly.h"

int	LLVMFuzzerTestOneInput(const unsigned char *data, size_t size);

static const char keyset_json[] =
    "{\"keys\":[{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"DmujVA_mrK11BSxFxG5p"
    "GpjZX6ZRV3_gFiRWc7pCf-g\",\"y\":\"L-cEwEQjzY-EVrA_eRCN1JhZs5s2Xw"
    "ygRTeY66a-rIc\",\"kid\":\"es256\",\"alg\":\"ES256\",\"use\":\"sig\"},{\"kt"
    "y\":\"OKP\",\"crv\":\"Ed25519\",\"x\":\"Td5coatdutJgsMI_bdFogxTeFn1BLo"
    "9EfrStJR7Ds_g\",\"kid\":\"ed25519\",\"alg\":\"EdDSA\",\"use\":\"sig\"},{\""
    "kty\":\"RSA\",\"n\":\"uc3eg-iNHJb3pq3r06q6HLxIW2nXiYa0mYotrvScLQr3"
    "9jeEZGr-8qNBKc3JgeyRva-_oUDpCyigFt966ujVHIsYxQeC-Q9dgWxYXJZz"
    "K4n4CokaG4-_F22stThU5b6NvAtBRlSkOaQohoIyZbRzp3reVgFyJjJHtuO3"
    "wsRSgtWlbWBG84dLCk56UxzWGUUwxFtUPXyQ2oRYJ4eAcMxhkZL6XxuVPzN0"
    "4iFKFJVOAaGCq_7eAxrJPBx3_fSMp2O3nwWWy5Z_gtLy0CUu_MvkWfM0YE4Z"
    "OwZWR4iekO_gHTNaEsaYOo4nd3D9rvAI4dCEM0FK100Yd6IZHOn0ULpLVw\","
    "\"e\":\"AQAB\",\"kid\":\"rs256\",\"alg\":\"RS256\",\"use\":\"sig\"},{\"kty\":\""
    "EC\",\"crv\":\"P-384\",\"x\":\"1qBUdLunlPR_spQcVxmfuyNUY7gvD7tXG33ki"
    "tEwzTjyDd2e_xOKFptqOlgEOrF8\",\"y\":\"j4IF3cxMR0A6luuXW60_vh_B47"
    "H6q778DtEX7xmKSeSLo2pWzOeB9F3RPtvxLwT_\",\"kid\":\"es384\",\"alg\":"
    "\"ES384\",\"use\":\"sig\"},{\"kty\":\"RSA\",\"n\":\"hizuondhwNmtfKHvzn_7d"
    "pjwBqsgKKLWYfM9VGHJ3928vrgaEeLlvdmombRfKFpyUBrqYP4xQZntzCXAx"
    "rReFcv-rqXH-UuzLTWpX0ClPVFcjlW0jYx7QiVktijpqbsc2BI_qsIfWAPwD"
    "a50SwODfymK1RndFCPmYFAj3xK8pmB-DtsduSwfYhAvvepb2HhHTP1UnOPKC"
    "QzZW-UHNbDiyqNnaWX1XQ-AO6NH9ULmib3VcBqarHqpeglmo0zgN9DCKl0SA"
    "a6UPeiOX3w5h86rBlsyWyUZRFxl4f5eqOE9VCgXDVPktGr4A_QL6cHYqvszZ"
    "KflxKcy1fbTV1vA9VKmnQ\",\"e\":\"AQAB\",\"kid\":\"ps256\",\"alg\":\"PS256"
    "\",\"use\":\"sig\"}]}";

static struct jwks *keys;

static void
load_keys(void)
{
	json_t *o;

	o = json_loads(keyset_json, 0, NULL);
	if (o == NULL || jwks_parse(o, JWS_ALG_UNKNOWN, false, &keys) != SF_OK ||
	    jwks_count(keys) != 5)
		abort();
	json_decref(o);
}

int
LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
	const char *tok = (const char *)data, *dot;
	struct jws *j = NULL;
	char *s64 = NULL;
	size_t i;

	if (keys == NULL)
		load_keys();
	if (jws_verify_compact(tok, size, keys, &j) == SF_OK) {
		dot = memchr(tok, '.', size);
		dot = memchr(dot + 1, '.', size - (size_t)(dot + 1 - tok));
		if (b64url_encode(j->sig, j->sig_len, &s64) != SF_OK ||
		    strlen(s64) != size - (size_t)(dot + 1 - tok) ||
		    memcmp(s64, dot + 1, strlen(s64)) != 0)
			abort();
		free(s64);
	} else if (j != NULL)
		abort();
	jws_free(j);
	if (jws_parse(tok, size, &j) != SF_OK) {
		if (j != NULL)
			abort();
		return 0;
	}
	if (j->header == NULL || j->signing_input == NULL ||
	    (j->sig == NULL && j->sig_len != 0))
		abort();
	/* Every key, whatever the header says: the alg pin decides. */
	for (i = 0; i < jwks_count(keys); i++)
		if (jws_verify(j, jwks_get(keys, i)) == SF_OK &&
		    jwk_alg(jwks_get(keys, i)) != j->alg)
			abort();
	jws_free(j);
	return 0;
}
