/*
 * exchange-floor - the benchmark floor for exchange.fcgi: a minimal
 * FastCGI responder (libfcgi directly, no routing, no policy, no store)
 * that reads the request body, takes subject_token from it, verifies it
 * with one key (unless --no-verify, the dev-stub mix) and signs one
 * token with the unit's active key: the unavoidable work of an exchange.
 * It ends each request with http_fcgi_finish, as the programs do, so that
 * both close their connections alike.
 *
 * usage: exchange-floor --keys DIR [--jwks FILE | --no-verify]
 *        (fd 0 is the listening socket, as under spawn-fcgi)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <fcgiapp.h>

#include "starfly.h"

int
main(int argc, char *argv[])
{
	struct keyring *kr = NULL;
	struct jwks *set = NULL;
	FCGX_Request r;
	const char *keys = NULL, *jwksf = NULL;
	char body[65536], *tok, *out, *buf;
	json_t *doc, *claims;
	int i, n, len;

	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--keys") == 0 && i + 1 < argc)
			keys = argv[++i];
		else if (strcmp(argv[i], "--jwks") == 0 && i + 1 < argc)
			jwksf = argv[++i];
		else if (strcmp(argv[i], "--no-verify") != 0) {
			fprintf(stderr, "usage: exchange-floor --keys DIR "
			    "[--jwks FILE | --no-verify]\n");
			return 2;
		}
	}
	if (keys == NULL || keyring_load(keys, KEYRING_PRIVATE, &kr) != SF_OK) {
		fprintf(stderr, "exchange-floor: cannot load keys\n");
		return 1;
	}
	if (jwksf != NULL) {
		size_t fl;

		if (sf_read_file(jwksf, 1 << 20, &buf, &fl) != SF_OK ||
		    (doc = json_loads(buf, 0, NULL)) == NULL ||
		    jwks_parse(doc, JWS_ALG_UNKNOWN, false, &set) != SF_OK) {
			fprintf(stderr, "exchange-floor: bad JWKS %s\n", jwksf);
			return 1;
		}
		json_decref(doc);
		free(buf);
	}
	FCGX_Init();
	FCGX_InitRequest(&r, 0, 0);
	while (FCGX_Accept_r(&r) >= 0) {
		struct jws *jws = NULL;
		int ok = 0;

		len = 0;
		while ((n = FCGX_GetStr(body + len, (int)sizeof(body) - 1 - len,
		    r.in)) > 0)
			len += n;
		body[len] = '\0';
		/* The body is read as the programs read theirs. */
		if (json_parse_strict(body, (size_t)len, &doc, NULL) != SF_OK)
			doc = NULL;
		tok = (char *)json_string_value(json_object_get(doc,
		    "subject_token"));
		if (tok != NULL && (set == NULL || jws_verify_compact(tok,
		    strlen(tok), set, &jws) == SF_OK)) {
			claims = json_pack("{s:s, s:s, s:I}", "sub", "floor",
			    "aud", "https://api.example.com", "exp",
			    (json_int_t)(sf_now() + 300));
			if (jws_sign_jwt(keyring_signer(kr), "at+jwt", claims,
			    &out) == SF_OK) {
				FCGX_FPrintF(r.out, "Status: 200 OK\r\n"
				    "Content-Type: application/json\r\n\r\n"
				    "{\"access_token\":\"%s\"}\n", out);
				free(out);
				ok = 1;
			}
			json_decref(claims);
		}
		if (!ok)
			FCGX_FPrintF(r.out, "Status: 400 Bad Request\r\n"
			    "Content-Type: application/json\r\n\r\n"
			    "{\"error\":\"invalid_request\"}\n");
		jws_free(jws);
		json_decref(doc);
		http_fcgi_finish(&r);	/* as the programs close */
	}
	jwks_free(set);
	keyring_free(kr);
	return 0;
}
