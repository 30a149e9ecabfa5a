/*
 * jose-bench [SECONDS | -n COUNT ALG OP] - time JOSE operations per algorithm: sign
 * (jws_sign_jwt), parse (jws_parse), verify (jws_verify on a parsed
 * token) and parse + verify (jws_verify_compact against a 3-key set).
 * Prints microseconds per operation (best of three rounds); measures,
 * asserts nothing.  With -n, runs operation OP (sign, parse, verify or
 * both) of ALG COUNT times untimed, for instruction counts: valgrind
 * --tool=callgrind --toggle-collect=jws_verify jose-bench -n 100 ES256
 * verify.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "starfly.h"

static const enum jws_alg algs[] = { JWS_ES256, JWS_ES384, JWS_EDDSA,
    JWS_RS256, JWS_RS384, JWS_RS512, JWS_PS256 };

static struct jwk *key;
static struct jwks *set;
static struct jws *parsed;
static json_t *claims;
static char *tok;
static int bad;
static long count;
static const char *only_op;

static void
op_sign(void)
{
	char *t;

	if (jws_sign_jwt(key, "at+jwt", claims, &t) != SF_OK)
		bad++;
	free(t);
}

static void
op_parse(void)
{
	struct jws *j;

	if (jws_parse(tok, strlen(tok), &j) != SF_OK)
		bad++;
	jws_free(j);
}

static void
op_verify(void)
{
	if (jws_verify(parsed, key) != SF_OK)
		bad++;
}

static void
op_both(void)
{
	struct jws *j;

	if (jws_verify_compact(tok, strlen(tok), set, &j) != SF_OK)
		bad++;
	jws_free(j);
}

/*
 * Microseconds per call of op: the best of three rounds of budget/3
 * seconds each (the least disturbed by other load on the machine).
 */
static double
timed(void (*op)(void), double budget)
{
	double best = 0, us;
	uint64_t t0, t;
	long n;
	int round, r;

	if (count > 0) {
		if ((strcmp(only_op, "sign") == 0 && op == op_sign) ||
		    (strcmp(only_op, "parse") == 0 && op == op_parse) ||
		    (strcmp(only_op, "verify") == 0 && op == op_verify) ||
		    (strcmp(only_op, "both") == 0 && op == op_both))
			for (n = 0; n < count; n++)
				op();
		return 0;
	}
	for (round = 0; round < 3; round++) {
		t0 = sf_mono_ns();
		n = 0;
		do {
			for (r = 0; r < 8; r++)
				op();
			n += 8;
			t = sf_mono_ns() - t0;
		} while ((double)t < budget / 3 * 1e9);
		us = (double)t / 1000.0 / (double)n;
		if (round == 0 || us < best)
			best = us;
	}
	return best;
}

int
main(int argc, char *argv[])
{
	struct jwk *pub, *o1, *o2;
	double budget = argc > 1 ? atof(argv[1]) : 0.5;
	enum jws_alg only = JWS_ALG_UNKNOWN;
	json_t *o;
	size_t i;

	if (argc == 5 && strcmp(argv[1], "-n") == 0) {
		count = atol(argv[2]);
		only = jws_alg_from_name(argv[3]);
		only_op = argv[4];
	} else if (argc > 2 || (argc == 2 && budget <= 0)) {
		fprintf(stderr, "usage: jose-bench [SECONDS | -n COUNT ALG "
		    "sign|parse|verify|both]\n");
		return 2;
	}

	claims = json_pack("{s:s, s:s, s:s, s:I, s:I, s:s}", "iss",
	    "https://starfly.example", "sub", "wimse://td/ns/a/sa/b", "aud",
	    "https://api.example", "iat", (json_int_t)1700000000, "exp",
	    (json_int_t)1700000300, "jti", "6b0f1c9e-1d2a-4d4b-9a53-0d8c1f1e2a77");
	printf("%-6s %9s %9s %9s %13s   (microseconds per operation)\n",
	    "alg", "sign", "parse", "verify", "parse+verify");
	for (i = 0; i < sizeof(algs) / sizeof(algs[0]); i++) {
		if (only != JWS_ALG_UNKNOWN && algs[i] != only)
			continue;
		o = NULL;
		if (jwk_generate(algs[i], &key) != SF_OK ||
		    jwk_generate(JWS_ES256, &o1) != SF_OK ||
		    jwk_generate(JWS_EDDSA, &o2) != SF_OK ||
		    jwk_to_json(key, &o) != SF_OK ||
		    jwk_parse(o, JWS_ALG_UNKNOWN, false, &pub) != SF_OK ||
		    jwks_new(&set) != SF_OK || jwks_add(set, o1) != SF_OK ||
		    jwks_add(set, pub) != SF_OK || jwks_add(set, o2) != SF_OK ||
		    jws_sign_jwt(key, "at+jwt", claims, &tok) != SF_OK ||
		    jws_parse(tok, strlen(tok), &parsed) != SF_OK ||
		    jws_verify(parsed, pub) != SF_OK) {
			fprintf(stderr, "jose-bench: setup: %s\n", jose_why());
			return 1;
		}
		json_decref(o);
		printf("%-6s", jws_alg_name(algs[i]));
		printf(" %9.1f", timed(op_sign, budget));
		printf(" %9.1f", timed(op_parse, budget));
		printf(" %9.1f", timed(op_verify, budget));
		printf(" %13.1f\n", timed(op_both, budget));
		fflush(stdout);
		jws_free(parsed);
		jwks_free(set);
		jwk_free(key);
		free(tok);
	}
	json_decref(claims);
	if (bad != 0)
		fprintf(stderr, "jose-bench: %d operations failed\n", bad);
	return bad == 0 ? 0 : 1;
}
