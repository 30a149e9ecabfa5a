/*
 * mcp-floor - the benchmark floor for POST /v1/mcp/verify: a minimal
 * FastCGI responder (libfcgi directly, no routing, no registry, no
 * revocations, no policy, no audit) that reads the JSON body, verifies its
 * "token" against the unit's JWKS and answers the claims: the unavoidable
 * work of a verify.  It ends each request with http_fcgi_finish, as the
 * programs do, so that both close their connections alike.
 *
 * usage: mcp-floor --jwks FILE   (fd 0 is the listening socket, as under
 *        spawn-fcgi)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <fcgiapp.h>

#include "starfly.h"

int
main(int argc, char *argv[])
{
	struct jwks *set = NULL;
	FCGX_Request r;
	char body[65536], *buf, *out;
	const char *tok;
	json_t *doc;
	size_t fl;
	int n, len;

	if (argc != 3 || strcmp(argv[1], "--jwks") != 0) {
		fprintf(stderr, "usage: mcp-floor --jwks FILE\n");
		return 2;
	}
	if (sf_read_file(argv[2], 1 << 20, &buf, &fl) != SF_OK ||
	    (doc = json_loads(buf, 0, NULL)) == NULL ||
	    jwks_parse(doc, JWS_ALG_UNKNOWN, false, &set) != SF_OK) {
		fprintf(stderr, "mcp-floor: bad JWKS %s\n", argv[2]);
		return 1;
	}
	json_decref(doc);
	free(buf);
	FCGX_Init();
	FCGX_InitRequest(&r, 0, 0);
	while (FCGX_Accept_r(&r) >= 0) {
		struct jws *jws = NULL;

		len = 0;
		while ((n = FCGX_GetStr(body + len, (int)sizeof(body) - 1 - len,
		    r.in)) > 0)
			len += n;
		body[len] = '\0';
		/* The body is read as the programs read theirs. */
		if (json_parse_strict(body, (size_t)len, &doc, NULL) != SF_OK)
			doc = NULL;
		tok = json_string_value(json_object_get(doc, "token"));
		if (tok != NULL && jws_verify_compact(tok, strlen(tok), set,
		    &jws) == SF_OK && (out = json_dumps(jws->claims,
		    JSON_COMPACT)) != NULL) {
			FCGX_FPrintF(r.out, "Status: 200 OK\r\n"
			    "Content-Type: application/json\r\n\r\n"
			    "{\"verified\":true,\"claims\":%s}\n", out);
			free(out);
		} else
			FCGX_FPrintF(r.out, "Status: 403 Forbidden\r\n"
			    "Content-Type: application/json\r\n\r\n"
			    "{\"error\":\"verification_failed\"}\n");
		jws_free(jws);
		json_decref(doc);
		http_fcgi_finish(&r);	/* as the programs close */
	}
	jwks_free(set);
	return 0;
}
