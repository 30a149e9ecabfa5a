/*
 * set-sign - a Security Event Token transmitter for tests: key
 * generation and SET signing with libcore's own JWS code.
 *
 *   set-sign genkey ALG KEY.pem JWKS.json   new key pair; the public half
 *                                           as a JWKS (kid: thumbprint)
 *   set-sign sign KEY.pem ALG [--typ T] [--kid K] < CLAIMS.json
 *                                           compact SET on stdout
 *   set-sign none [--typ T] < CLAIMS.json   the same, unsigned (alg none)
 *   set-sign batch KEY.pem ALG N < TEMPLATE N SETs, one a line, each from
 *                                           the template with every @N@
 *                                           replaced by 1..N
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "starfly.h"

static char *
read_stdin(size_t *len)
{
	size_t cap = 65536;
	char *buf = malloc(cap);

	if (buf == NULL)
		return NULL;
	*len = fread(buf, 1, cap - 1, stdin);
	buf[*len] = '\0';
	return buf;
}

static int
usage(void)
{
	fprintf(stderr, "usage: set-sign genkey ALG KEY.pem JWKS.json\n"
	    "       set-sign sign KEY.pem ALG [--typ T] [--kid K] < CLAIMS\n"
	    "       set-sign none [--typ T] < CLAIMS\n"
	    "       set-sign batch KEY.pem ALG N < TEMPLATE\n");
	return 2;
}

/* The template with each "@N@" replaced by n (new). */
static char *
instantiate(const char *tpl, long n)
{
	char num[24], *out, *o;
	const char *p;
	size_t len = strlen(tpl) + 1, nl;

	nl = (size_t)snprintf(num, sizeof(num), "%ld", n);
	for (p = tpl; (p = strstr(p, "@N@")) != NULL; p += 3)
		len += nl;
	if ((out = malloc(len)) == NULL)
		return NULL;
	for (o = out, p = tpl; *p != '\0'; ) {
		if (strncmp(p, "@N@", 3) == 0) {
			memcpy(o, num, nl);
			o += nl;
			p += 3;
		} else
			*o++ = *p++;
	}
	*o = '\0';
	return out;
}

static int
batch(const char *pem, const char *alg, long n)
{
	struct jwk *k = NULL;
	json_t *hdr;
	char *tpl, *c, *out;
	size_t len;
	long i;
	int rc = 1;

	if ((tpl = read_stdin(&len)) == NULL ||
	    jwk_load_pem(pem, jws_alg_from_name(alg), &k) != SF_OK) {
		fprintf(stderr, "set-sign: %s\n", jose_why());
		free(tpl);
		return 1;
	}
	hdr = json_pack("{s:s}", "typ", SET_TYP);
	for (i = 1; i <= n; i++) {
		out = NULL;
		if ((c = instantiate(tpl, i)) == NULL ||
		    jws_sign(k, hdr, c, strlen(c), &out) != SF_OK) {
			free(c);
			goto out;
		}
		printf("%s\n", out);
		free(out);
		free(c);
	}
	rc = 0;
out:
	json_decref(hdr);
	jwk_free(k);
	free(tpl);
	return rc;
}

static int
genkey(const char *algname, const char *pem, const char *jwksfile)
{
	struct jwk *k = NULL;
	json_t *pub = NULL, *doc;
	char *s;
	int rc;

	if ((rc = jwk_generate(jws_alg_from_name(algname), &k)) != SF_OK ||
	    (rc = jwk_save_pem(k, pem)) != SF_OK ||
	    (rc = jwk_to_json(k, &pub)) != SF_OK) {
		fprintf(stderr, "set-sign: %s (%s)\n", sf_strerror(rc),
		    jose_why());
		jwk_free(k);
		return 1;
	}
	doc = json_pack("{s:[o]}", "keys", pub);
	s = json_dumps(doc, JSON_INDENT(2));
	rc = s != NULL ? sf_write_file(jwksfile, s, strlen(s), 0644) : SF_ENOMEM;
	free(s);
	json_decref(doc);
	jwk_free(k);
	return rc == SF_OK ? 0 : 1;
}

int
main(int argc, char *argv[])
{
	const char *typ = SET_TYP, *kid = NULL;
	struct jwk *k = NULL;
	json_t *hdr = NULL, *claims = NULL;
	char *in = NULL, *out = NULL, *h64 = NULL, *p64 = NULL, *hs;
	size_t len;
	int i, first, rc = 1;

	log_init("set-sign", 0, SF_LOG_WARN);
	if (argc == 5 && strcmp(argv[1], "genkey") == 0)
		return genkey(argv[2], argv[3], argv[4]);
	if (argc == 5 && strcmp(argv[1], "batch") == 0)
		return batch(argv[2], argv[3], atol(argv[4]));
	if (argc >= 4 && strcmp(argv[1], "sign") == 0)
		first = 4;
	else if (argc >= 2 && strcmp(argv[1], "none") == 0)
		first = 2;
	else
		return usage();
	for (i = first; i < argc; i++) {
		if (strcmp(argv[i], "--typ") == 0 && i + 1 < argc)
			typ = argv[++i];
		else if (strcmp(argv[i], "--kid") == 0 && i + 1 < argc)
			kid = argv[++i];
		else
			return usage();
	}
	if ((in = read_stdin(&len)) == NULL ||
	    json_parse_strict(in, len, &claims, NULL) != SF_OK) {
		fprintf(stderr, "set-sign: the claims on stdin are not JSON\n");
		goto out;
	}
	free(in);
	if ((in = json_dump_compact(claims)) == NULL)
		goto out;
	if (first == 2) {
		/* RFC 7519 §6.1 unsecured JWS. */
		hdr = json_pack("{s:s, s:s}", "alg", "none", "typ", typ);
		hs = json_dump_compact(hdr);
		if (hs == NULL || b64url_encode(hs, strlen(hs), &h64) != SF_OK ||
		    b64url_encode(in, strlen(in), &p64) != SF_OK) {
			free(hs);
			goto out;
		}
		free(hs);
		printf("%s.%s.\n", h64, p64);
		rc = 0;
		goto out;
	}
	if (jwk_load_pem(argv[2], jws_alg_from_name(argv[3]), &k) != SF_OK ||
	    (kid != NULL && jwk_set_kid(k, kid) != SF_OK)) {
		fprintf(stderr, "set-sign: %s: %s\n", argv[2], jose_why());
		goto out;
	}
	hdr = json_pack("{s:s}", "typ", typ);
	if (jws_sign(k, hdr, in, strlen(in), &out) != SF_OK) {
		fprintf(stderr, "set-sign: %s\n", jose_why());
		goto out;
	}
	printf("%s\n", out);
	rc = 0;
out:
	free(h64);
	free(p64);
	free(out);
	free(in);
	json_decref(hdr);
	json_decref(claims);
	jwk_free(k);
	return rc;
}
