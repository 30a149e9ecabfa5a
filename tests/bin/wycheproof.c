/*
 * wycheproof FILE... - run Wycheproof test vectors through our JOSE code.
 *
 * Formats, told apart by each group's "type" (else the file's "schema"):
 *   EcdsaP1363Verify, EddsaVerify, RsassaPkcs1Verify, RsassaPssVerify:
 *     the group's JWK ("publicKeyJwk" or "keyJwk") is parsed with
 *     jwk_parse and every "sig" over "msg" checked with jws_verify.
 *   JsonWebSignature: the group's "public" (else "private") JWK, one
 *     compact "jws" per test through jws_verify_compact.
 *   JsonWebKey: the group's "public" (else "private") JWK set through
 *     jwks_parse, then the test's "jws" through jws_verify_compact.
 *
 * Outcome per test:
 *   valid       must verify, else a failure;
 *   invalid     must be refused, else a failure;
 *   acceptable  passes either way; we report how many we accepted and
 *               refused (our policy prefers refusing, RFC 8725);
 *   valid but refused because the algorithm is outside our set (HMAC,
 *               PS384, ES512, ...; refused by design) counts as "not
 *               applicable", listed by algorithm, neither passed nor
 *               failed.  Accepting such a token would be a failure.
 * A group whose parameters are not a JOSE algorithm (e.g. ECDSA P-256
 * with SHA-512) is not applicable as a whole.
 *
 * -v prints every test's outcome.
 * Prints one line per failing test, then "N passed, N failed"; exits 0
 * only when nothing failed (2 on a usage or file error).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "starfly.h"

struct tally {
	long	 pass, fail, na, acc_yes, acc_no;
	char	 na_algs[256];
};

static const char *fname;
static bool verbose;

static void
note_na(struct tally *t, const char *alg, long n)
{
	size_t len = strlen(t->na_algs);

	t->na += n;
	if (n > 0 && strstr(t->na_algs, alg) == NULL && len + strlen(alg) +
	    3 < sizeof(t->na_algs))
		snprintf(t->na_algs + len, sizeof(t->na_algs) - len, "%s%s",
		    len == 0 ? "" : ", ", alg);
}

/* Hex to bytes (new); NULL on bad hex. */
static unsigned char *
unhex(const char *s, size_t *len)
{
	size_t n = strlen(s), i;
	unsigned char *b;
	unsigned int v;

	*len = 0;
	if (n % 2 != 0 || (b = malloc(n / 2 + 1)) == NULL)
		return NULL;
	for (i = 0; i < n / 2; i++) {
		if (sscanf(s + 2 * i, "%2x", &v) != 1) {
			free(b);
			return NULL;
		}
		b[i] = (unsigned char)v;
	}
	*len = n / 2;
	return b;
}

/*
 * Base64url of a hex integer: width bytes (left-padded, extra leading
 * zero bytes dropped), or minimal when width is 0.  New, or NULL.
 */
static char *
hex_b64(const char *hex, size_t width)
{
	unsigned char *b, *p, buf[1024];
	size_t len;
	char *out = NULL;

	if (hex == NULL || (b = unhex(hex, &len)) == NULL)
		return NULL;
	for (p = b; len > 1 && *p == 0 && (width == 0 || len > width); p++)
		len--;
	if (width == 0)
		width = len;
	if (len <= width && width <= sizeof(buf)) {
		memset(buf, 0, width - len);
		memcpy(buf + width - len, p, len);
		if (b64url_encode(buf, width, &out) != SF_OK)
			out = NULL;
	}
	free(b);
	return out;
}

/*
 * A JWK written from a group's raw "publicKey" (for groups that carry no
 * JWK, e.g. hand-made ECDSA edge cases).  New, or NULL.
 */
static json_t *
jwk_from_raw(const json_t *g)
{
	const json_t *pk = json_object_get(g, "publicKey");
	const char *curve = json_string_value(json_object_get(pk, "curve"));
	char *a = NULL, *b = NULL;
	json_t *jwk = NULL;

	if (json_object_get(pk, "modulus") != NULL) {
		a = hex_b64(json_string_value(json_object_get(pk, "modulus")),
		    0);
		b = hex_b64(json_string_value(json_object_get(pk,
		    "publicExponent")), 0);
		if (a != NULL && b != NULL)
			jwk = json_pack("{s:s, s:s, s:s}", "kty", "RSA", "n", a,
			    "e", b);
	} else if (curve != NULL && strcmp(curve, "edwards25519") == 0) {
		if ((a = hex_b64(json_string_value(json_object_get(pk, "pk")),
		    32)) != NULL)
			jwk = json_pack("{s:s, s:s, s:s}", "kty", "OKP", "crv",
			    "Ed25519", "x", a);
	} else if (curve != NULL) {
		size_t w = strcmp(curve, "secp384r1") == 0 ? 48 : 32;

		a = hex_b64(json_string_value(json_object_get(pk, "wx")), w);
		b = hex_b64(json_string_value(json_object_get(pk, "wy")), w);
		if (a != NULL && b != NULL)
			jwk = json_pack("{s:s, s:s, s:s, s:s}", "kty", "EC",
			    "crv", strcmp(curve, "secp256r1") == 0 ? "P-256" :
			    strcmp(curve, "secp384r1") == 0 ? "P-384" : curve,
			    "x", a, "y", b);
	}
	free(a);
	free(b);
	return jwk;
}

/* The "alg" a compact token's header names (new), or NULL. */
static char *
header_alg(const char *compact)
{
	const char *dot = strchr(compact, '.');
	unsigned char *raw;
	size_t len;
	json_t *h;
	char *alg = NULL;

	if (dot == NULL || b64url_decode(compact, (size_t)(dot - compact),
	    &raw, &len) != SF_OK)
		return NULL;
	if ((h = json_loadb((const char *)raw, len, 0, NULL)) != NULL &&
	    json_is_string(json_object_get(h, "alg")))
		alg = sf_strdup(json_string_value(json_object_get(h, "alg")));
	json_decref(h);
	free(raw);
	return alg;
}

/*
 * When a token is outside our algorithms: the name of its algorithm
 * (new), from its header, else (header unreadable) from its key or the
 * first key of its set.  NULL when it is one of ours.
 */
static char *
foreign_alg(const char *compact, const json_t *key)
{
	const char *kalg, *kty;
	char *alg;

	if (compact != NULL && (alg = header_alg(compact)) != NULL) {
		if (jws_alg_from_name(alg) != JWS_ALG_UNKNOWN) {
			free(alg);
			return NULL;
		}
		return alg;
	}
	if (json_is_array(json_object_get(key, "keys")))
		key = json_array_get(json_object_get(key, "keys"), 0);
	kalg = json_string_value(json_object_get(key, "alg"));
	kty = json_string_value(json_object_get(key, "kty"));
	if (kalg != NULL && jws_alg_from_name(kalg) == JWS_ALG_UNKNOWN)
		return sf_strdup(kalg);
	if (kty != NULL && strcmp(kty, "oct") == 0)
		return sf_strdup("HMAC");
	return NULL;
}

/* Account for one test: rc is what our code said (SF_OK accepted). */
static void
judge(struct tally *t, const json_t *test, int rc, const char *na_alg)
{
	const char *result = json_string_value(json_object_get(test, "result"));
	const char *comment = json_string_value(json_object_get(test,
	    "comment"));
	long id = (long)json_integer_value(json_object_get(test, "tcId"));
	char why[300];
	char *flags;

	snprintf(why, sizeof(why), " - %s", jose_why());

	if (result == NULL)
		result = "?";
	if (verbose)
		printf("%s tcId %ld (%s): %s, %s%s%s\n", fname, id,
		    comment != NULL ? comment : "", result, rc == SF_OK ?
		    "accepted" : "refused: ", rc == SF_OK ? "" : sf_strerror(rc),
		    rc == SF_OK ? "" : why);
	if (strcmp(result, "acceptable") == 0) {
		t->pass++;
		if (rc == SF_OK)
			t->acc_yes++;
		else
			t->acc_no++;
		return;
	}
	if (strcmp(result, "valid") == 0 && rc == SF_OK) {
		t->pass++;
		return;
	}
	if (strcmp(result, "invalid") == 0 && rc != SF_OK) {
		t->pass++;
		return;
	}
	/* A valid token of an algorithm we refuse by design. */
	if (strcmp(result, "valid") == 0 && na_alg != NULL &&
	    (rc == SF_EALG || rc == SF_EKEY)) {
		note_na(t, na_alg, 1);
		return;
	}
	t->fail++;
	flags = json_dumps(json_object_get(test, "flags"), JSON_COMPACT |
	    JSON_ENCODE_ANY);
	printf("%s tcId %ld (%s) %s: expected %s, got %s%s%s\n", fname, id,
	    comment != NULL ? comment : "", flags != NULL ? flags : "", result,
	    rc == SF_OK ? "accepted" : "refused: ", rc == SF_OK ? "" :
	    sf_strerror(rc), rc == SF_OK ? "" : why);
	free(flags);
}

/*
 * Signature groups: the JOSE algorithm their parameters amount to, or
 * JWS_ALG_UNKNOWN (*why says why) when they are not one of ours.
 */
static enum jws_alg
group_alg(const json_t *g, const char *type, const json_t *jwk,
    const char **why)
{
	const char *sha = json_string_value(json_object_get(g, "sha"));
	const char *crv = json_string_value(json_object_get(jwk, "crv"));
	const char *mgf = json_string_value(json_object_get(g, "mgfSha"));
	const char *slen = NULL;
	json_t *sl = json_object_get(g, "sLen");
	char buf[32];

	*why = "not a JOSE algorithm";
	if (sha == NULL)
		sha = "";
	if (strcmp(type, "EcdsaP1363Verify") == 0) {
		if (crv != NULL && strcmp(crv, "P-256") == 0 &&
		    strcmp(sha, "SHA-256") == 0)
			return JWS_ES256;
		if (crv != NULL && strcmp(crv, "P-384") == 0 &&
		    strcmp(sha, "SHA-384") == 0)
			return JWS_ES384;
		*why = "ECDSA curve/hash pair outside ES256, ES384";
		return JWS_ALG_UNKNOWN;
	}
	if (strcmp(type, "EddsaVerify") == 0) {
		if (crv != NULL && strcmp(crv, "Ed25519") == 0)
			return JWS_EDDSA;
		*why = "EdDSA curve other than Ed25519";
		return JWS_ALG_UNKNOWN;
	}
	if (strcmp(type, "RsassaPkcs1Verify") == 0) {
		if (strcmp(sha, "SHA-256") == 0)
			return JWS_RS256;
		if (strcmp(sha, "SHA-384") == 0)
			return JWS_RS384;
		if (strcmp(sha, "SHA-512") == 0)
			return JWS_RS512;
		*why = "PKCS#1 v1.5 hash outside RS256/384/512";
		return JWS_ALG_UNKNOWN;
	}
	/* RsassaPssVerify: RFC 7518 §3.5 fixes MGF1 hash and salt length. */
	if (json_is_integer(sl)) {
		snprintf(buf, sizeof(buf), "%lld",
		    (long long)json_integer_value(sl));
		slen = buf;
	} else
		slen = json_string_value(sl);
	if (strcmp(sha, "SHA-256") == 0 && mgf != NULL &&
	    strcmp(mgf, "SHA-256") == 0 && slen != NULL &&
	    strcmp(slen, "32") == 0)
		return JWS_PS256;
	*why = "PSS parameters other than PS256 (SHA-256, MGF1-SHA-256, "
	    "salt 32)";
	return JWS_ALG_UNKNOWN;
}

static void
run_sig_group(struct tally *t, const json_t *g, const char *type)
{
	const json_t *tests = json_object_get(g, "tests"), *test;
	json_t *jwk = json_incref(json_object_get(g, "publicKeyJwk"));
	struct jwk *key = NULL;
	struct jws fake;
	enum jws_alg alg;
	const char *why;
	unsigned char *msg, *sig;
	size_t mlen, slen, i;
	int krc, rc;

	if (jwk == NULL)
		jwk = json_incref(json_object_get(g, "keyJwk"));
	if (jwk == NULL && (jwk = jwk_from_raw(g)) == NULL) {
		note_na(t, "groups without a usable key",
		    (long)json_array_size(tests));
		return;
	}
	if ((alg = group_alg(g, type, jwk, &why)) == JWS_ALG_UNKNOWN) {
		note_na(t, why, (long)json_array_size(tests));
		json_decref(jwk);
		return;
	}
	/* A group "alg" that disagrees with the parameters is a key error. */
	krc = jwk_parse(jwk, alg, false, &key);
	if (krc == SF_OK && jwk_alg(key) != alg)
		krc = SF_EALG;
	json_array_foreach(tests, i, test) {
		msg = unhex(json_string_value(json_object_get(test, "msg")),
		    &mlen);
		sig = unhex(json_string_value(json_object_get(test, "sig")),
		    &slen);
		if (msg == NULL || sig == NULL)
			rc = SF_EINVAL;
		else if (krc != SF_OK)
			rc = krc;
		else {
			/* The message is the JWS signing input. */
			memset(&fake, 0, sizeof(fake));
			fake.alg = alg;
			fake.signing_input = (char *)msg;
			fake.signing_input_len = mlen;
			fake.sig = sig;
			fake.sig_len = slen;
			rc = jws_verify(&fake, key);
		}
		judge(t, test, rc, NULL);
		free(msg);
		free(sig);
	}
	json_decref(jwk);
	jwk_free(key);
}

/* JsonWebSignature and JsonWebKey groups. */
static void
run_jose_group(struct tally *t, const json_t *g, bool keyset)
{
	const json_t *k = json_object_get(g, "public"), *test;
	struct jwks *set = NULL;
	struct jwk *key;
	struct jws *jws;
	const char *compact;
	char *alg;
	size_t i;
	int krc, rc;

	if (k == NULL)
		k = json_object_get(g, "private");
	if (keyset)
		krc = jwks_parse(k, JWS_ALG_UNKNOWN, false, &set);
	else if ((krc = jwk_parse(k, JWS_ALG_UNKNOWN, false, &key)) ==
	    SF_OK && (krc = jwks_new(&set)) == SF_OK)
		krc = jwks_add(set, key);
	else if (krc != SF_OK)
		key = NULL;
	json_array_foreach(json_object_get(g, "tests"), i, test) {
		compact = json_string_value(json_object_get(test, "jws"));
		if (compact == NULL)
			rc = SF_EINVAL;
		else if (krc != SF_OK)
			rc = krc;
		else {
			rc = jws_verify_compact(compact, strlen(compact), set,
			    &jws);
			jws_free(jws);
		}
		alg = foreign_alg(compact, k);
		judge(t, test, rc, alg);
		free(alg);
	}
	jwks_free(set);
}

static int
run_file(const char *path, struct tally *total)
{
	struct tally t;
	json_error_t e;
	json_t *doc, *g;
	const char *type, *schema;
	size_t i;

	memset(&t, 0, sizeof(t));
	fname = strrchr(path, '/') != NULL ? strrchr(path, '/') + 1 : path;
	if ((doc = json_load_file(path, JSON_REJECT_DUPLICATES, &e)) == NULL) {
		printf("%s: cannot load: %s\n", fname, e.text);
		return -1;
	}
	schema = json_string_value(json_object_get(doc, "schema"));
	if (schema == NULL)
		schema = "";
	json_array_foreach(json_object_get(doc, "testGroups"), i, g) {
		type = json_string_value(json_object_get(g, "type"));
		if (type == NULL)
			type = strstr(schema, "ecdsa_p1363") ? "EcdsaP1363Verify" :
			    strstr(schema, "eddsa") ? "EddsaVerify" :
			    strstr(schema, "rsassa_pkcs1") ? "RsassaPkcs1Verify" :
			    strstr(schema, "rsassa_pss") ? "RsassaPssVerify" :
			    strstr(schema, "json_web_signature") ?
			    "JsonWebSignature" : strstr(schema, "json_web_key") ?
			    "JsonWebKey" : "";
		if (strcmp(type, "EcdsaP1363Verify") == 0 ||
		    strcmp(type, "EddsaVerify") == 0 ||
		    strcmp(type, "RsassaPkcs1Verify") == 0 ||
		    strcmp(type, "RsassaPssVerify") == 0)
			run_sig_group(&t, g, type);
		else if (strcmp(type, "JsonWebSignature") == 0)
			run_jose_group(&t, g, false);
		else if (strcmp(type, "JsonWebKey") == 0)
			run_jose_group(&t, g, true);
		else {
			printf("%s: group %zu: unknown test type '%s'\n", fname,
			    i, type);
			t.fail++;
		}
	}
	json_decref(doc);
	printf("%s: %ld passed, %ld failed, %ld not applicable%s%s%s; "
	    "acceptable: %ld accepted, %ld refused\n", fname, t.pass, t.fail,
	    t.na, t.na > 0 ? " (" : "", t.na_algs, t.na > 0 ? ")" : "",
	    t.acc_yes, t.acc_no);
	total->pass += t.pass;
	total->fail += t.fail;
	total->na += t.na;
	return 0;
}

int
main(int argc, char *argv[])
{
	struct tally total;
	int i, bad = 0;

	if (argc > 1 && strcmp(argv[1], "-v") == 0) {
		verbose = true;
		argc--;
		argv++;
	}
	if (argc < 2) {
		fprintf(stderr, "usage: wycheproof [-v] FILE...\n");
		return 2;
	}
	memset(&total, 0, sizeof(total));
	for (i = 1; i < argc; i++)
		if (run_file(argv[i], &total) != 0)
			bad = 1;
	printf("%ld passed, %ld failed\n", total.pass, total.fail);
	if (bad)
		return 2;
	return total.fail == 0 ? 0 : 1;
}
