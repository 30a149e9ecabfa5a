/*
 * test_cred.c - issuers.d loading and inbound token validation with real
 * keys (jwk_generate), real files, a real keyring and a real store.
 */
#include <sys/stat.h>

#include <dirent.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "starfly.h"
#include "cred_int.h"
#include "t.h"

static char tmpdir[64];
static char etc[128], idir[160];
static struct sf_conf prod, dev;
static struct issuers *iss_set;
static struct keyring *own;
static struct jwk *k_k8s, *k_svid, *k_oidc, *k_aws, *k_gcp, *k_azure,
    *k_gen, *k_rogue, *k_es384;
static int64_t now;

#define OWN_ISS		"https://starfly.test"
#define K8S_ISS		"https://k8s.test"
#define OIDC_ISS	"https://idp.test"
#define AWS_ISS		"https://abc123.tokens.sts.global.api.aws"
#define GCP_ISS		"https://accounts.google.com"
#define AZ_TENANT	"72f988bf-86f1-41af-91ab-2d7cd011db47"
#define AZ_ISS		"https://login.microsoftonline.com/" AZ_TENANT "/v2.0"
#define GEN_ISS		"https://fed.test"
#define PASS_ISS	"https://fed2.test"
#define REMOTE_ISS	"https://remote.test"

static int
rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static int
put(const char *dir, const char *name, const char *text)
{
	char path[512];

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	return sf_write_file(path, text, strlen(text), 0644);
}

/* JWKS text of keys (NULL-terminated); "use" set to use, "alg" dropped. */
static char *
jwks_text(const char *use, bool drop_alg, struct jwk *const *keys)
{
	json_t *doc = json_object(), *arr = json_array(), *k;
	char *s;
	size_t i;

	for (i = 0; keys[i] != NULL; i++) {
		if (jwk_to_json(keys[i], &k) != SF_OK)
			abort();
		if (use != NULL)
			json_object_set_new(k, "use", json_string(use));
		if (drop_alg)
			json_object_del(k, "alg");
		json_array_append_new(arr, k);
	}
	json_object_set_new(doc, "keys", arr);
	s = json_dumps(doc, JSON_COMPACT);
	json_decref(doc);
	return s;
}

static int
put_jwks(const char *name, const char *use, bool drop_alg,
    struct jwk *const *keys)
{
	char *s = jwks_text(use, drop_alg, keys);
	int rc = put(idir, name, s);

	free(s);
	return rc;
}

/* Sign claims (a JSON text) with key and typ. */
static char *
mint(const struct jwk *key, const char *typ, const char *claims_text)
{
	json_t *claims = json_loads(claims_text, 0, NULL);
	char *tok = NULL;

	if (claims == NULL || jws_sign_jwt(key, typ, claims, &tok) != SF_OK)
		abort();
	json_decref(claims);
	return tok;
}

/* Claims text with exp = now + 300 and iat = now, plus extra members. */
static char *
claims(const char *iss, const char *sub, const char *extra)
{
	char *s = NULL;

	if (sf_asprintf(&s, "{\"iss\":\"%s\",\"sub\":\"%s\",\"iat\":%lld,"
	    "\"exp\":%lld%s%s}", iss, sub, (long long)now,
	    (long long)now + 300, extra ? "," : "", extra ? extra : "") != SF_OK)
		abort();
	return s;
}

static char *
mint_c(const struct jwk *key, const char *typ, const char *iss,
    const char *sub, const char *extra)
{
	char *c = claims(iss, sub, extra), *t = mint(key, typ, c);

	free(c);
	return t;
}

/* Replace the header of a compact token with header_json. */
static char *
swap_header(const char *tok, const char *header_json)
{
	char *h = NULL, *out = NULL;

	if (b64url_encode(header_json, strlen(header_json), &h) != SF_OK ||
	    sf_asprintf(&out, "%s%s", h, strchr(tok, '.')) != SF_OK)
		abort();
	free(h);
	return out;
}

static int
val(const struct sf_conf *c, const char *tok, const char *type,
    struct subject *s, char **why)
{
	return cred_validate(c, iss_set, own, tok, type, now, s, why);
}

/* Validate, expect rc, and (when given) a substring of the reason. */
static bool
refused(const struct sf_conf *c, const char *tok, const char *type, int want,
    const char *needle)
{
	struct subject s;
	char *why = NULL;
	int rc = val(c, tok, type, &s, &why);
	bool ok = rc == want && why != NULL && strncmp(why, "subject_token",
	    13) != 0 && (needle == NULL || strstr(why, needle) != NULL) && s.id == NULL;

	if (!ok)
		fprintf(stderr, "refused: rc %d (%s) want %d, why: %s\n", rc,
		    sf_strerror(rc), want, why ? why : "(null)");
	free(why);
	subject_clear(&s);
	return ok;
}

/* Validate, expect success and the given subject id. */
static bool
accepted(const struct sf_conf *c, const char *tok, const char *type,
    const char *id, const char *td)
{
	struct subject s;
	char *why = NULL;
	int rc = val(c, tok, type, &s, &why);
	bool ok = rc == SF_OK && why == NULL && s.id != NULL &&
	    strcmp(s.id, id) == 0 && strcmp(s.trust_domain, td) == 0 &&
	    strcmp(s.type, type) == 0 && json_is_object(s.claims);

	if (!ok)
		fprintf(stderr, "accepted: rc %d (%s), why: %s, id %s td %s\n",
		    rc, sf_strerror(rc), why ? why : "(null)",
		    s.id ? s.id : "(null)", s.trust_domain ? s.trust_domain :
		    "(null)");
	free(why);
	subject_clear(&s);
	return ok;
}

static const char k8s_conf[] =
    "# Kubernetes cluster\n"
    "issuer " K8S_ISS "\n"
    "kind kubernetes\n"
    "trust_domain cluster.test\n"
    "jwks_file k8s.jwks\n"
    "algorithms RS256\n";
static const char svid_conf[] =
    "kind spiffe\n"
    "trust_domain example.org\n"
    "spiffe_bundle example.org.bundle\n";
static const char oidc_conf[] =
    "issuer " OIDC_ISS "\n"
    "kind oidc\n"
    "trust_domain corp.test\n"
    "jwks_file oidc.jwks\n"
    "audience starfly-client other-client\n"
    "max_age 3600\n";
static const char aws_conf[] =
    "issuer " AWS_ISS "\n"
    "kind aws\n"
    "trust_domain aws.test\n"
    "jwks_file aws.jwks\n"
    "audience " OWN_ISS "\n"
    "accounts 123456789012\n";
static const char gcp_conf[] =
    "issuer " GCP_ISS "\n"
    "kind gcp\n"
    "trust_domain gcp.test\n"
    "jwks_file gcp.jwks\n"
    "audience " OWN_ISS "\n"
    "accounts my-proj\n";
static const char azure_conf[] =
    "issuer " AZ_ISS "\n"
    "kind azure\n"
    "trust_domain azure.test\n"
    "jwks_file azure.jwks\n"
    "algorithms RS256\n"
    "accounts " AZ_TENANT " 0b1f6471-1bf0-4dda-aec3-111122223333\n";
static const char gen_conf[] =
    "issuer " GEN_ISS "\n"
    "kind generic\n"
    "token_types urn:ietf:params:oauth:token-type:jwt "
    "urn:ietf:params:oauth:token-type:access_token\n"
    "trust_domain fed.test\n"
    "jwks_file generic.jwks\n"
    "typ at+jwt\n";
static const char pass_conf[] =
    "issuer " PASS_ISS "\n"
    "kind generic\n"
    "trust_domain fed2.test\n"
    "jwks_file generic.jwks\n"
    "subject \"{sub}\"\n";
static const char remote_conf[] =
    "issuer " REMOTE_ISS "\n"
    "kind oidc\n"
    "trust_domain remote.test\n"
    "jwks_url https://remote.test/jwks.json\n";

static int
setup(void)
{
	char keys[192], *err = NULL, *b;
	struct jwk *set[4];
	int rc;

	now = sf_now();
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/test_cred.XXXXXX");
	if (mkdtemp(tmpdir) == NULL)
		return SF_ESYS;
	snprintf(etc, sizeof(etc), "%s/etc", tmpdir);
	snprintf(idir, sizeof(idir), "%s/issuers.d", etc);
	snprintf(keys, sizeof(keys), "%s/keys", tmpdir);
	if (mkdir(etc, 0755) != 0 || mkdir(idir, 0755) != 0)
		return SF_ESYS;
	if ((rc = jwk_generate(JWS_RS256, &k_k8s)) != SF_OK ||
	    (rc = jwk_generate(JWS_ES256, &k_svid)) != SF_OK ||
	    (rc = jwk_generate(JWS_ES256, &k_oidc)) != SF_OK ||
	    (rc = jwk_generate(JWS_ES384, &k_aws)) != SF_OK ||
	    (rc = jwk_generate(JWS_RS256, &k_gcp)) != SF_OK ||
	    (rc = jwk_generate(JWS_RS256, &k_azure)) != SF_OK ||
	    (rc = jwk_generate(JWS_ES256, &k_gen)) != SF_OK ||
	    (rc = jwk_generate(JWS_ES256, &k_rogue)) != SF_OK ||
	    (rc = jwk_generate(JWS_ES384, &k_es384)) != SF_OK)
		return rc;
	/* The k8s file also holds an ES384 key its algorithms exclude. */
	set[0] = k_k8s; set[1] = k_es384; set[2] = NULL;
	if ((rc = put_jwks("k8s.jwks", NULL, false, set)) != SF_OK)
		return rc;
	/* The bundle: jwt-svid keys only; an x509-svid entry is ignored. */
	set[0] = k_svid; set[1] = NULL;
	b = jwks_text("jwt-svid", false, set);
	b[strlen(b) - 2] = '\0';	/* drop "]}" */
	{
		char *full = NULL;

		(void)sf_asprintf(&full, "%s,{\"kty\":\"EC\",\"use\":"
		    "\"x509-svid\",\"x5c\":[\"AAAA\"]}],\"spiffe_sequence\":7}",
		    b);
		rc = put(idir, "example.org.bundle", full);
		free(full);
	}
	free(b);
	if (rc != SF_OK)
		return rc;
	set[0] = k_oidc; set[1] = NULL;
	if ((rc = put_jwks("oidc.jwks", "sig", false, set)) != SF_OK)
		return rc;
	set[0] = k_aws;
	if ((rc = put_jwks("aws.jwks", NULL, false, set)) != SF_OK)
		return rc;
	set[0] = k_gcp;
	if ((rc = put_jwks("gcp.jwks", NULL, false, set)) != SF_OK)
		return rc;
	/* Entra publishes RSA keys without "alg": RS256 is the default. */
	set[0] = k_azure;
	if ((rc = put_jwks("azure.jwks", NULL, true, set)) != SF_OK)
		return rc;
	set[0] = k_gen;
	if ((rc = put_jwks("generic.jwks", NULL, false, set)) != SF_OK)
		return rc;
	if ((rc = put(idir, "k8s.conf", k8s_conf)) != SF_OK ||
	    (rc = put(idir, "svid.conf", svid_conf)) != SF_OK ||
	    (rc = put(idir, "oidc.conf", oidc_conf)) != SF_OK ||
	    (rc = put(idir, "aws.conf", aws_conf)) != SF_OK ||
	    (rc = put(idir, "gcp.conf", gcp_conf)) != SF_OK ||
	    (rc = put(idir, "azure.conf", azure_conf)) != SF_OK ||
	    (rc = put(idir, "generic.conf", gen_conf)) != SF_OK ||
	    (rc = put(idir, "passthrough.conf", pass_conf)) != SF_OK ||
	    (rc = put(idir, "remote.conf", remote_conf)) != SF_OK ||
	    (rc = put(idir, "ignored.conf.example", "junk\n")) != SF_OK)
		return rc;
	prod.mode = SF_MODE_PRODUCTION;
	prod.issuer = OWN_ISS;
	prod.trust_domain = "starfly.test";
	prod.etc_dir = etc;
	prod.clock_skew = 60;
	dev = prod;
	dev.mode = SF_MODE_DEV;
	if ((rc = keyring_init(keys, JWS_ES256)) != SF_OK ||
	    (rc = keyring_load(keys, KEYRING_PRIVATE, &own)) != SF_OK)
		return rc;
	if ((rc = issuers_load(&prod, NULL, &iss_set, &err)) != SF_OK) {
		fprintf(stderr, "issuers_load: %s\n", err ? err : "?");
		free(err);
	}
	return rc;
}

static void
test_load(void)
{
	struct issuer_info in;
	size_t i, found = 0;

	T(issuers_count(iss_set) == 9);
	for (i = 0; i < issuers_count(iss_set); i++) {
		T_OK(issuers_info(iss_set, i, &in));
		if (strcmp(in.name, "k8s") == 0) {
			/* ES384 key skipped: only RS256 is allowed. */
			T(in.nkeys == 1);
			T_EQ_STR(in.token_types[0], CRED_TYPE_JWT);
			T(in.token_types[1] == NULL);
			found++;
		} else if (strcmp(in.name, "svid") == 0) {
			T(in.nkeys == 1);
			T(in.issuer == NULL);
			T_EQ_STR(in.trust_domain, "example.org");
			T_EQ_STR(in.token_types[0], CRED_TYPE_SPIFFE);
			found++;
		} else if (strcmp(in.name, "remote") == 0) {
			T(in.remote && in.nkeys == 0 && in.synced_at == 0);
			T_EQ_STR(in.source, "jwks_url");
			found++;
		} else if (strcmp(in.name, "azure") == 0) {
			T(in.nkeys == 1);
			found++;
		}
	}
	T(found == 4);
	T(issuers_info(iss_set, 99, &in) == SF_ENOTFOUND);
}

static void
test_k8s_rs256(void)
{
	char *t = mint_c(k_k8s, "JWT", K8S_ISS,
	    "system:serviceaccount:prod:api", "\"aud\":[\"https://x\"]");
	struct subject s;
	char *why = NULL;

	T_OK(val(&prod, t, CRED_TYPE_JWT, &s, &why));
	T_EQ_STR(s.id, "wimse://cluster.test/ns/prod/sa/api");
	T_EQ_STR(s.trust_domain, "cluster.test");
	T_EQ_STR(s.issuer, K8S_ISS);
	T_EQ_STR(s.type, CRED_TYPE_JWT);
	T(s.exp == now + 300 && !s.own);
	T_EQ_STR(json_string_value(json_object_get(s.claims, "sub")),
	    "system:serviceaccount:prod:api");
	subject_clear(&s);
	T(s.id == NULL);
	free(t);
}

static void
test_k8s_claim_object(void)
{
	char *t1 = mint_c(k_k8s, NULL, K8S_ISS, "whatever",
	    "\"kubernetes.io\":{\"namespace\":\"ops\",\"serviceaccount\":"
	    "{\"name\":\"runner\",\"uid\":\"u\"}}");
	char *t2 = mint_c(k_k8s, NULL, K8S_ISS,
	    "system:serviceaccount:ops:other",
	    "\"kubernetes.io\":{\"namespace\":\"ops\",\"serviceaccount\":"
	    "{\"name\":\"runner\"}}");
	char *t3 = mint_c(k_k8s, NULL, K8S_ISS, "alice", NULL);
	char *t4 = mint_c(k_k8s, NULL, K8S_ISS,
	    "system:serviceaccount:Bad_NS:x", NULL);

	T(accepted(&prod, t1, CRED_TYPE_JWT,
	    "wimse://cluster.test/ns/ops/sa/runner", "cluster.test"));
	T(refused(&prod, t2, CRED_TYPE_JWT, SF_ECLAIM,
	    "different service accounts"));
	T(refused(&prod, t3, CRED_TYPE_JWT, SF_ECLAIM,
	    "not a Kubernetes service account"));
	T(refused(&prod, t4, CRED_TYPE_JWT, SF_ECLAIM, "RFC 1123 label"));
	free(t1);
	free(t2);
	free(t3);
	free(t4);
}

static void
test_svid_es256(void)
{
	char *t = mint_c(k_svid, "JWT", "https://spire.example.org",
	    "spiffe://example.org/ns/web/sa/front",
	    "\"aud\":[\"" OWN_ISS "\"]");
	char *t_noiss = NULL, *c;
	struct subject s;
	char *why = NULL;

	T_OK(val(&prod, t, CRED_TYPE_SPIFFE, &s, &why));
	T_EQ_STR(s.id, "spiffe://example.org/ns/web/sa/front");
	T_EQ_STR(s.trust_domain, "example.org");
	subject_clear(&s);
	/* iss is optional in a JWT-SVID. */
	if (sf_asprintf(&c, "{\"sub\":\"spiffe://example.org/w\",\"aud\":\""
	    OWN_ISS "\",\"exp\":%lld}", (long long)now + 60) != SF_OK)
		return;
	t_noiss = mint(k_svid, NULL, c);
	free(c);
	T(accepted(&prod, t_noiss, CRED_TYPE_SPIFFE, "spiffe://example.org/w",
	    "example.org"));
	free(t_noiss);
	free(t);
}

static void
test_svid_rules(void)
{
	char *c = NULL, *t;
	json_t *hdr;

	/* aud required: absent, then not ours. */
	t = mint_c(k_svid, NULL, "x", "spiffe://example.org/w", NULL);
	T(refused(&prod, t, CRED_TYPE_SPIFFE, SF_ECLAIM, "no aud claim"));
	free(t);
	t = mint_c(k_svid, NULL, "x", "spiffe://example.org/w",
	    "\"aud\":\"https://other\"");
	T(refused(&prod, t, CRED_TYPE_SPIFFE, SF_ECLAIM, "is not an audience"));
	free(t);
	/* exp required. */
	(void)sf_asprintf(&c, "{\"sub\":\"spiffe://example.org/w\",\"aud\":\""
	    OWN_ISS "\"}");
	t = mint(k_svid, NULL, c);
	free(c);
	T(refused(&prod, t, CRED_TYPE_SPIFFE, SF_ECLAIM, "no exp claim"));
	free(t);
	/* Other trust domain: no bundle. */
	t = mint_c(k_svid, NULL, "x", "spiffe://other.org/w",
	    "\"aud\":\"" OWN_ISS "\"");
	T(refused(&prod, t, CRED_TYPE_SPIFFE, SF_ECLAIM,
	    "trust domain other.org has no configured SPIFFE bundle"));
	free(t);
	/* Malformed SPIFFE IDs. */
	t = mint_c(k_svid, NULL, "x", "spiffe://example.org/a/../b",
	    "\"aud\":\"" OWN_ISS "\"");
	T(refused(&prod, t, CRED_TYPE_SPIFFE, SF_ECLAIM, "not a SPIFFE ID"));
	free(t);
	t = mint_c(k_svid, NULL, "x", "spiffe://Example.org/a",
	    "\"aud\":\"" OWN_ISS "\"");
	T(refused(&prod, t, CRED_TYPE_SPIFFE, SF_ECLAIM, "not a SPIFFE ID"));
	free(t);
	t = mint_c(k_svid, NULL, "x", "spiffe://example.org/a%20b",
	    "\"aud\":\"" OWN_ISS "\"");
	T(refused(&prod, t, CRED_TYPE_SPIFFE, SF_ECLAIM, "not a SPIFFE ID"));
	free(t);
	t = mint_c(k_svid, NULL, "x", "spiffe://example.org",
	    "\"aud\":\"" OWN_ISS "\"");
	T(refused(&prod, t, CRED_TYPE_SPIFFE, SF_ECLAIM, "not a SPIFFE ID"));
	free(t);
	/* typ other than JWT/JOSE. */
	t = mint_c(k_svid, "at+jwt", "x", "spiffe://example.org/w",
	    "\"aud\":\"" OWN_ISS "\"");
	T(refused(&prod, t, CRED_TYPE_SPIFFE, SF_ECLAIM, "not JWT or JOSE"));
	free(t);
	/* Header parameters beyond alg, kid, typ. */
	c = claims("x", "spiffe://example.org/w", "\"aud\":\"" OWN_ISS "\"");
	hdr = json_pack("{s:s}", "jku", "https://evil.test/jwks");
	T(jws_sign(k_svid, hdr, c, strlen(c), &t) == SF_OK);
	json_decref(hdr);
	free(c);
	T(refused(&prod, t, CRED_TYPE_SPIFFE, SF_EINVAL, "\"jku\""));
	free(t);
	/* A SPIFFE token presented as a Kubernetes one. */
	t = mint_c(k_svid, NULL, "x", "spiffe://example.org/w",
	    "\"aud\":\"" OWN_ISS "\"");
	T(refused(&prod, t, CRED_TYPE_JWT, SF_ECLAIM,
	    "issuer x is not configured"));
	free(t);
}

static void
test_times(void)
{
	char *c = NULL, *t;

	(void)sf_asprintf(&c, "{\"iss\":\"" K8S_ISS "\",\"sub\":"
	    "\"system:serviceaccount:a:b\",\"exp\":%lld}", (long long)now - 61);
	t = mint(k_k8s, NULL, c);
	free(c);
	T(refused(&prod, t, CRED_TYPE_JWT, SF_EEXPIRED, "expired at 20"));
	free(t);
	/* Within the 60 s skew. */
	(void)sf_asprintf(&c, "{\"iss\":\"" K8S_ISS "\",\"sub\":"
	    "\"system:serviceaccount:a:b\",\"exp\":%lld}", (long long)now - 30);
	t = mint(k_k8s, NULL, c);
	free(c);
	T(accepted(&prod, t, CRED_TYPE_JWT, "wimse://cluster.test/ns/a/sa/b",
	    "cluster.test"));
	free(t);
	t = mint_c(k_k8s, NULL, K8S_ISS, "system:serviceaccount:a:b",
	    "\"nbf\":99999999999");
	T(refused(&prod, t, CRED_TYPE_JWT, SF_ENOTYET, "not valid before"));
	free(t);
	(void)sf_asprintf(&c, "\"nbf\":%lld", (long long)now + 3600);
	t = mint_c(k_k8s, NULL, K8S_ISS, "system:serviceaccount:a:b", c);
	free(c);
	T(refused(&prod, t, CRED_TYPE_JWT, SF_ENOTYET, "not valid before"));
	free(t);
	(void)sf_asprintf(&c, "{\"iss\":\"" K8S_ISS "\",\"sub\":"
	    "\"system:serviceaccount:a:b\",\"exp\":%lld,\"iat\":%lld}",
	    (long long)now + 7200, (long long)now + 3600);
	t = mint(k_k8s, NULL, c);
	free(c);
	T(refused(&prod, t, CRED_TYPE_JWT, SF_ENOTYET, "issued in the future"));
	free(t);
	/* No exp at all. */
	t = mint(k_k8s, NULL, "{\"iss\":\"" K8S_ISS "\",\"sub\":"
	    "\"system:serviceaccount:a:b\"}");
	T(refused(&prod, t, CRED_TYPE_JWT, SF_ECLAIM, "no exp claim"));
	free(t);
	/* Wrong types. */
	t = mint(k_k8s, NULL, "{\"iss\":\"" K8S_ISS "\",\"sub\":"
	    "\"system:serviceaccount:a:b\",\"exp\":\"tomorrow\"}");
	T(refused(&prod, t, CRED_TYPE_JWT, SF_EINVAL, "NumericDate"));
	free(t);
	t = mint(k_k8s, NULL, "{\"iss\":\"" K8S_ISS "\",\"sub\":"
	    "\"system:serviceaccount:a:b\",\"exp\":1e300}");
	T(accepted(&prod, t, CRED_TYPE_JWT, "wimse://cluster.test/ns/a/sa/b",
	    "cluster.test"));
	free(t);
	t = mint(k_k8s, NULL, "{\"iss\":\"" K8S_ISS "\",\"sub\":7,"
	    "\"exp\":99999999999}");
	T(refused(&prod, t, CRED_TYPE_JWT, SF_EINVAL, "\"sub\" is not a "
	    "string"));
	free(t);
}

static void
test_issuer_checks(void)
{
	char *t;

	t = mint_c(k_k8s, NULL, "https://unknown.test",
	    "system:serviceaccount:a:b", NULL);
	T(refused(&prod, t, CRED_TYPE_JWT, SF_ECLAIM,
	    "issuer https://unknown.test is not configured"));
	free(t);
	/* Configured, but not for this type. */
	t = mint_c(k_k8s, NULL, K8S_ISS, "system:serviceaccount:a:b", NULL);
	T(refused(&prod, t, CRED_TYPE_OIDC, SF_ECLAIM, "issuer " K8S_ISS
	    " is not configured for type " CRED_TYPE_OIDC));
	T(refused(&prod, t, CRED_TYPE_GCP, SF_ECLAIM, "not configured for "
	    "type"));
	free(t);
	/* The right iss, signed by another issuer's key. */
	t = mint_c(k_gcp, NULL, K8S_ISS, "system:serviceaccount:a:b", NULL);
	T(refused(&prod, t, CRED_TYPE_JWT, SF_EKEY, "unknown key"));
	free(t);
	t = mint(k_k8s, NULL, "{\"sub\":\"system:serviceaccount:a:b\","
	    "\"exp\":99999999999}");
	T(refused(&prod, t, CRED_TYPE_JWT, SF_ECLAIM, "no iss claim"));
	free(t);
	T(refused(&prod, "abc", "urn:example:nope", SF_EINVAL,
	    "unsupported token type"));
	T(refused(&prod, "", CRED_TYPE_JWT, SF_EINVAL, "empty token"));
	T(refused(&prod, "a.b", CRED_TYPE_JWT, SF_EINVAL, "malformed JWT"));
	T(cred_type_known(CRED_TYPE_AZURE) && !cred_type_known("x"));
}

static void
test_trust_domain(void)
{
	char *t;

	/* Passthrough subjects must stay in the issuer's trust domain. */
	t = mint_c(k_gen, "at+jwt", PASS_ISS, "wimse://fed2.test/svc/a", NULL);
	T(accepted(&prod, t, CRED_TYPE_JWT, "wimse://fed2.test/svc/a",
	    "fed2.test"));
	free(t);
	t = mint_c(k_gen, "at+jwt", PASS_ISS, "wimse://evil.test/svc/a", NULL);
	T(refused(&prod, t, CRED_TYPE_JWT, SF_ECLAIM,
	    "is not in trust domain fed2.test"));
	free(t);
	t = mint_c(k_gen, "at+jwt", PASS_ISS, "plain", NULL);
	T(refused(&prod, t, CRED_TYPE_JWT, SF_ECLAIM, "not a valid"));
	free(t);
	t = mint_c(k_gen, "at+jwt", PASS_ISS, "wimse://fed2.test/a?b", NULL);
	T(refused(&prod, t, CRED_TYPE_JWT, SF_ECLAIM, "not a valid"));
	free(t);
	t = mint_c(k_gen, "at+jwt", PASS_ISS, "wimse://u@fed2.test/a", NULL);
	T(refused(&prod, t, CRED_TYPE_JWT, SF_ECLAIM, "not a valid"));
	free(t);
}

static void
test_oidc_aud(void)
{
	char *t;

	t = mint_c(k_oidc, NULL, OIDC_ISS, "auth0|12 3/x",
	    "\"aud\":[\"a\",\"other-client\"]");
	T(accepted(&prod, t, CRED_TYPE_OIDC,
	    "wimse://corp.test/oidc/auth0%7C12%203%2Fx", "corp.test"));
	T(accepted(&prod, t, CRED_TYPE_ACCESS,
	    "wimse://corp.test/oidc/auth0%7C12%203%2Fx", "corp.test"));
	free(t);
	t = mint_c(k_oidc, NULL, OIDC_ISS, "u1", NULL);
	T(refused(&prod, t, CRED_TYPE_OIDC, SF_ECLAIM,
	    "no aud claim; issuer " OIDC_ISS " requires starfly-client"));
	free(t);
	t = mint_c(k_oidc, NULL, OIDC_ISS, "u1", "\"aud\":\"someone-else\"");
	T(refused(&prod, t, CRED_TYPE_OIDC, SF_ECLAIM,
	    "aud someone-else is not an audience of issuer " OIDC_ISS));
	free(t);
	/* A SET is never a subject token (RFC 8725 §3.12). */
	t = mint_c(k_oidc, "secevent+jwt", OIDC_ISS, "u1",
	    "\"aud\":\"starfly-client\"");
	T(refused(&prod, t, CRED_TYPE_OIDC, SF_ECLAIM, "secevent+jwt"));
	free(t);
}

static void
test_max_age(void)
{
	char *c = NULL, *t;

	(void)sf_asprintf(&c, "{\"iss\":\"" OIDC_ISS "\",\"sub\":\"u\",\"aud\":"
	    "\"starfly-client\",\"iat\":%lld,\"exp\":%lld}",
	    (long long)now - 7200, (long long)now + 60);
	t = mint(k_oidc, NULL, c);
	free(c);
	T(refused(&prod, t, CRED_TYPE_OIDC, SF_EEXPIRED, "max_age"));
	free(t);
	(void)sf_asprintf(&c, "{\"iss\":\"" OIDC_ISS "\",\"sub\":\"u\",\"aud\":"
	    "\"starfly-client\",\"exp\":%lld}", (long long)now + 60);
	t = mint(k_oidc, NULL, c);
	free(c);
	T(refused(&prod, t, CRED_TYPE_OIDC, SF_ECLAIM, "no iat claim"));
	free(t);
}

static void
test_alg_none(void)
{
	char *t = mint_c(k_k8s, NULL, K8S_ISS, "system:serviceaccount:a:b",
	    NULL), *h, *u, *dot;

	h = swap_header(t, "{\"alg\":\"none\"}");
	/* Unsecured JWS: empty signature. */
	dot = strrchr(h, '.');
	dot[1] = '\0';
	T(refused(&prod, h, CRED_TYPE_JWT, SF_EALG, "\"none\" is refused"));
	u = swap_header(t, "{\"alg\":\"NONE\",\"kid\":\"x\"}");
	T(refused(&prod, u, CRED_TYPE_JWT, SF_EALG, "is refused"));
	free(u);
	free(h);
	free(t);
}

static void
test_hs256_public_key(void)
{
	char *t = mint_c(k_k8s, NULL, K8S_ISS, "system:serviceaccount:a:b",
	    NULL), *h, *sig64 = NULL, *forged = NULL, *hdr = NULL, *pub;
	unsigned char mac[EVP_MAX_MD_SIZE];
	unsigned int maclen = 0;
	json_t *j;

	T_OK(jwk_to_json(k_k8s, &j));
	pub = json_dumps(j, JSON_COMPACT);
	json_decref(j);
	(void)sf_asprintf(&hdr, "{\"alg\":\"HS256\",\"kid\":\"%s\"}",
	    jwk_kid(k_k8s));
	h = swap_header(t, hdr);
	*strrchr(h, '.') = '\0';
	/* HMAC keyed with the public key bytes (key confusion). */
	T(HMAC(EVP_sha256(), pub, (int)strlen(pub), (unsigned char *)h,
	    strlen(h), mac, &maclen) != NULL);
	T_OK(b64url_encode(mac, maclen, &sig64));
	(void)sf_asprintf(&forged, "%s.%s", h, sig64);
	T(refused(&prod, forged, CRED_TYPE_JWT, SF_EALG, "\"HS256\" is "
	    "refused"));
	free(forged);
	free(sig64);
	free(h);
	free(hdr);
	free(pub);
	free(t);
}

static void
test_alg_swapped(void)
{
	char *t = mint_c(k_oidc, NULL, OIDC_ISS, "u", "\"aud\":\"starfly-client\""),
	    *hdr = NULL, *h;

	/* An allowed algorithm, but not the key's. */
	(void)sf_asprintf(&hdr, "{\"alg\":\"RS256\",\"kid\":\"%s\"}",
	    jwk_kid(k_oidc));
	h = swap_header(t, hdr);
	T(refused(&prod, h, CRED_TYPE_OIDC, SF_EALG, "does not match key"));
	free(h);
	free(hdr);
	/* An algorithm the issuer does not allow. */
	hdr = NULL;
	(void)sf_asprintf(&hdr, "{\"alg\":\"PS256\",\"kid\":\"%s\"}",
	    jwk_kid(k_oidc));
	h = swap_header(t, hdr);
	T(refused(&prod, h, CRED_TYPE_OIDC, SF_EALG, "PS256 is not allowed"));
	free(h);
	free(hdr);
	free(t);
	/* The k8s file's ES384 key was dropped: RS256 only. */
	t = mint_c(k_es384, NULL, K8S_ISS, "system:serviceaccount:a:b", NULL);
	T(refused(&prod, t, CRED_TYPE_JWT, SF_EALG, "ES384 is not allowed"));
	free(t);
}

static void
test_unknown_kid(void)
{
	char *c = claims(OIDC_ISS, "u", "\"aud\":\"starfly-client\""), *t = NULL;
	json_t *hdr;

	/* Signed by a rogue key that the header embeds, with jku too. */
	T_OK(jwk_to_json(k_rogue, &hdr));
	hdr = json_pack("{s:o, s:s, s:s}", "jwk", hdr, "jku",
	    "https://evil.test/jwks", "x5u", "https://evil.test/x5u");
	T_OK(jws_sign(k_rogue, hdr, c, strlen(c), &t));
	json_decref(hdr);
	T(refused(&prod, t, CRED_TYPE_OIDC, SF_EKEY, "unknown key"));
	T(refused(&prod, t, CRED_TYPE_OIDC, SF_EKEY, "never fetched"));
	free(t);
	/* The rogue key under the legitimate kid: the signature fails. */
	T_OK(jwk_set_kid(k_rogue, jwk_kid(k_oidc)));
	t = NULL;
	T_OK(jws_sign(k_rogue, NULL, c, strlen(c), &t));
	T(refused(&prod, t, CRED_TYPE_OIDC, SF_EBADSIG, "signature does not "
	    "verify with key"));
	free(t);
	free(c);
	/* Tampered payload. */
	t = mint_c(k_k8s, NULL, K8S_ISS, "system:serviceaccount:a:b", NULL);
	{
		char *p = strchr(t, '.') + 5;

		*p = *p == 'A' ? 'B' : 'A';
	}
	{
		struct subject s;
		char *why = NULL;
		int rc = val(&prod, t, CRED_TYPE_JWT, &s, &why);

		/* Either the payload no longer parses or the signature fails. */
		T(rc == SF_EBADSIG || rc == SF_EINVAL);
		if (rc == SF_EBADSIG) {
			T(strstr(why, "signature does not verify with key") !=
			    NULL);
			T(strstr(why, "of issuer " K8S_ISS) != NULL);
		}
		free(why);
	}
	free(t);
}

static void
test_cloud_aws(void)
{
	char *t;

	t = mint_c(k_aws, NULL, AWS_ISS,
	    "arn:aws:iam::123456789012:role/service-role/Deployer",
	    "\"aud\":\"" OWN_ISS "\"");
	T(accepted(&prod, t, CRED_TYPE_AWS,
	    "wimse://aws.test/aws/123456789012/role/Deployer", "aws.test"));
	T(refused(&prod, t, CRED_TYPE_JWT, SF_ECLAIM, "not configured for "
	    "type"));
	free(t);
	t = mint_c(k_aws, NULL, AWS_ISS,
	    "arn:aws:sts::123456789012:assumed-role/Deployer/i-0abc",
	    "\"aud\":\"" OWN_ISS "\"");
	T(accepted(&prod, t, CRED_TYPE_AWS,
	    "wimse://aws.test/aws/123456789012/role/Deployer", "aws.test"));
	free(t);
	t = mint_c(k_aws, NULL, AWS_ISS, "arn:aws:iam::123456789012:user/ci",
	    "\"aud\":\"" OWN_ISS "\"");
	T(accepted(&prod, t, CRED_TYPE_AWS,
	    "wimse://aws.test/aws/123456789012/user/ci", "aws.test"));
	free(t);
	t = mint_c(k_aws, NULL, AWS_ISS,
	    "arn:aws:iam::999999999999:role/Deployer", "\"aud\":\"" OWN_ISS
	    "\"");
	T(refused(&prod, t, CRED_TYPE_AWS, SF_ECLAIM, "AWS account "
	    "999999999999 is not among the accounts"));
	free(t);
	t = mint_c(k_aws, NULL, AWS_ISS, "arn:aws:s3:::bucket",
	    "\"aud\":\"" OWN_ISS "\"");
	T(refused(&prod, t, CRED_TYPE_AWS, SF_ECLAIM, "not an IAM role"));
	free(t);
}

static void
test_cloud_gcp(void)
{
	char *t;

	t = mint_c(k_gcp, NULL, GCP_ISS, "104857600012345678901",
	    "\"aud\":\"" OWN_ISS "\",\"email\":"
	    "\"builder@my-proj.iam.gserviceaccount.com\",\"email_verified\":true");
	T(accepted(&prod, t, CRED_TYPE_GCP,
	    "wimse://gcp.test/gcp/sa/builder@my-proj.iam.gserviceaccount.com",
	    "gcp.test"));
	free(t);
	/* No email: the unique id; project from the compute claim. */
	t = mint_c(k_gcp, NULL, GCP_ISS, "104857600012345678901",
	    "\"aud\":\"" OWN_ISS "\",\"google\":{\"compute_engine\":"
	    "{\"project_id\":\"my-proj\",\"zone\":\"z\"}}");
	T(accepted(&prod, t, CRED_TYPE_GCP,
	    "wimse://gcp.test/gcp/uid/104857600012345678901", "gcp.test"));
	free(t);
	t = mint_c(k_gcp, NULL, GCP_ISS, "1", "\"aud\":\"" OWN_ISS "\","
	    "\"email\":\"x@evil-proj.iam.gserviceaccount.com\"");
	T(refused(&prod, t, CRED_TYPE_GCP, SF_ECLAIM,
	    "GCP project evil-proj is not among"));
	free(t);
	t = mint_c(k_gcp, NULL, GCP_ISS, "1", "\"aud\":\"" OWN_ISS "\"");
	T(refused(&prod, t, CRED_TYPE_GCP, SF_ECLAIM, "names no GCP project"));
	free(t);
	t = mint_c(k_gcp, NULL, GCP_ISS, "1", "\"aud\":\"" OWN_ISS "\","
	    "\"email\":\"x@my-proj.iam.gserviceaccount.com\","
	    "\"email_verified\":false");
	T(refused(&prod, t, CRED_TYPE_GCP, SF_ECLAIM, "email_verified"));
	free(t);
}

static void
test_cloud_azure(void)
{
	char *t;

	t = mint_c(k_azure, NULL, AZ_ISS, "sub-x", "\"tid\":\"" AZ_TENANT
	    "\",\"oid\":\"5f3c0f1e-0000-4000-8000-000000000001\","
	    "\"xms_mirid\":\"/subscriptions/aaaa/resourcegroups/rg/providers/"
	    "Microsoft.ManagedIdentity/userAssignedIdentities/id1\"");
	T(accepted(&prod, t, CRED_TYPE_AZURE, "wimse://azure.test/azure/"
	    AZ_TENANT "/5f3c0f1e-0000-4000-8000-000000000001", "azure.test"));
	free(t);
	/* Another tenant, but an allowed subscription. */
	t = mint_c(k_azure, NULL, AZ_ISS, "sub-y", "\"tid\":\"1111\","
	    "\"xms_mirid\":\"/subscriptions/0b1f6471-1bf0-4dda-aec3-"
	    "111122223333/resourcegroups/rg\"");
	T(accepted(&prod, t, CRED_TYPE_AZURE,
	    "wimse://azure.test/azure/1111/sub-y", "azure.test"));
	free(t);
	t = mint_c(k_azure, NULL, AZ_ISS, "sub-y", "\"tid\":\"2222\"");
	T(refused(&prod, t, CRED_TYPE_AZURE, SF_ECLAIM, "neither tenant 2222"));
	free(t);
	t = mint_c(k_azure, NULL, AZ_ISS, "sub-y", NULL);
	T(refused(&prod, t, CRED_TYPE_AZURE, SF_ECLAIM, "no tid claim"));
	free(t);
}

static void
test_generic(void)
{
	char *t;

	t = mint_c(k_gen, "at+jwt", GEN_ISS, "svc:42", NULL);
	T(accepted(&prod, t, CRED_TYPE_ACCESS, "wimse://fed.test/jwt/svc:42",
	    "fed.test"));
	free(t);
	t = mint_c(k_gen, "at+jwt", GEN_ISS, "wimse://fed.test/x", NULL);
	T(accepted(&prod, t, CRED_TYPE_JWT, "wimse://fed.test/x", "fed.test"));
	free(t);
	/* typ pinned to at+jwt. */
	t = mint_c(k_gen, "JWT", GEN_ISS, "svc", NULL);
	T(refused(&prod, t, CRED_TYPE_JWT, SF_ECLAIM, "typ JWT is not "
	    "accepted"));
	free(t);
	t = mint_c(k_gen, "application/AT+JWT", GEN_ISS, "svc", NULL);
	T(accepted(&prod, t, CRED_TYPE_JWT, "wimse://fed.test/jwt/svc",
	    "fed.test"));
	free(t);
}

static char *
own_token(const char *typ, const char *sub, long long exp_delta)
{
	char *c = NULL, *t;

	(void)sf_asprintf(&c, "{\"iss\":\"" OWN_ISS "\",\"sub\":\"%s\","
	    "\"aud\":\"https://tool\",\"iat\":%lld,\"exp\":%lld,\"td\":"
	    "\"starfly.test\"}", sub, (long long)now, (long long)now + exp_delta);
	t = mint(keyring_signer(own), typ, c);
	free(c);
	return t;
}

static void
test_own_tokens(void)
{
	char *at = own_token("at+jwt", "wimse://starfly.test/ns/a/sa/b", 300);
	char *ag = own_token(CRED_TYP_AGENT,
	    "wimse://starfly.test/agent/mcp/bot", 300);
	char *old = own_token("at+jwt", "wimse://starfly.test/ns/a/sa/b", -120);
	char *notagent = own_token(CRED_TYP_AGENT,
	    "wimse://starfly.test/ns/a/sa/b", 300);
	struct subject s;
	char *why = NULL;

	T_OK(val(&prod, at, CRED_TYPE_JWT, &s, &why));
	T(s.own);
	T_EQ_STR(s.id, "wimse://starfly.test/ns/a/sa/b");
	T_EQ_STR(s.issuer, OWN_ISS);
	subject_clear(&s);
	T(accepted(&prod, at, CRED_TYPE_ACCESS, "wimse://starfly.test/ns/a/sa/b",
	    "starfly.test"));
	/* Not as an OIDC subject token, but as any actor token. */
	T(refused(&prod, at, CRED_TYPE_OIDC, SF_ECLAIM, "a token of this "
	    "unit"));
	T_OK(cred_validate_actor(&prod, iss_set, own, at, CRED_TYPE_SPIFFE,
	    now, &s, &why));
	T(s.own);
	subject_clear(&s);
	/* Agent tokens. */
	T(accepted(&prod, ag, CRED_TYPE_AGENT,
	    "wimse://starfly.test/agent/mcp/bot", "starfly.test"));
	T(accepted(&prod, ag, CRED_TYPE_JWT,
	    "wimse://starfly.test/agent/mcp/bot", "starfly.test"));
	T(refused(&prod, at, CRED_TYPE_AGENT, SF_ECLAIM, "typ at+jwt is not "
	    "agent+jwt"));
	T(refused(&prod, notagent, CRED_TYPE_AGENT, SF_ECLAIM, "not an agent "
	    "of this unit"));
	T(refused(&prod, old, CRED_TYPE_JWT, SF_EEXPIRED, "expired"));
	/* Without the keyring nothing of ours verifies. */
	T(cred_validate(&prod, iss_set, NULL, at, CRED_TYPE_JWT, now, &s,
	    &why) == SF_EKEY);
	T(strstr(why, "keys are not loaded") != NULL);
	free(why);
	why = NULL;
	/* An agent token from elsewhere. */
	{
		char *t = mint_c(k_gen, CRED_TYP_AGENT, GEN_ISS,
		    "wimse://fed.test/agent/mcp/x", NULL);

		T(refused(&prod, t, CRED_TYPE_AGENT, SF_ECLAIM, "agent tokens "
		    "are issued by this unit"));
		free(t);
	}
	/* Actor prefix. */
	T(cred_validate_actor(&prod, iss_set, own, old, CRED_TYPE_JWT, now,
	    &s, &why) == SF_EEXPIRED);
	T(strncmp(why, "expired at", 10) == 0);
	free(why);
	free(at);
	free(ag);
	free(old);
	free(notagent);
}

/* base64 (standard alphabet, padded) wrapped at 76 columns, as base64(1). */
static char *
shell_b64(const char *s)
{
	size_t n = strlen(s), outn = 4 * ((n + 2) / 3), i, j;
	unsigned char *buf = malloc(outn + 1);
	char *out = malloc(outn + outn / 76 + 2);

	if (buf == NULL || out == NULL ||
	    EVP_EncodeBlock(buf, (const unsigned char *)s, (int)n) < 0)
		abort();
	for (i = j = 0; i < outn; i++) {
		if (i > 0 && i % 76 == 0)
			out[j++] = '\n';
		out[j++] = (char)buf[i];
	}
	out[j] = '\0';
	free(buf);
	return out;
}

static char *
stub(const char *payload)
{
	char *h = NULL, *p = NULL, *t = NULL;
	const char *hdr = "{\"alg\":\"RS256\",\"typ\":\"JWT\"}";

	if (b64url_encode(hdr, strlen(hdr), &h) != SF_OK ||
	    b64url_encode(payload, strlen(payload), &p) != SF_OK ||
	    sf_asprintf(&t, "%s.%s.stub", h, p) != SF_OK)
		abort();
	free(h);
	free(p);
	return t;
}

static void
test_dev_stubs(void)
{
	char *t, *h, *p, *wrapped = NULL, *c = NULL;

	t = stub("{\"sub\":\"S\"}");
	T(accepted(&dev, t, CRED_TYPE_JWT, "wimse://dev.local/ns/default/sa/S",
	    "dev.local"));
	/* Never in production. */
	T(refused(&prod, t, CRED_TYPE_JWT, SF_ECLAIM, "no iss claim"));
	free(t);
	t = stub("{\"sub\":\"x\",\"namespace\":\"team\",\"serviceaccount\":"
	    "\"bot\",\"iss\":\"anything\"}");
	T(accepted(&dev, t, CRED_TYPE_JWT, "wimse://dev.local/ns/team/sa/bot",
	    "dev.local"));
	T(accepted(&dev, t, CRED_TYPE_SPIFFE, "wimse://dev.local/ns/team/sa/bot",
	    "dev.local"));
	free(t);
	t = stub("{\"kubernetes.io\":{\"namespace\":\"k\",\"serviceaccount\":"
	    "{\"name\":\"n\"}}}");
	T(accepted(&dev, t, CRED_TYPE_JWT, "wimse://dev.local/ns/k/sa/n",
	    "dev.local"));
	free(t);
	t = stub("{\"sub\":\"wimse://prod.example/agent/mcp/a\"}");
	T(accepted(&dev, t, CRED_TYPE_JWT, "wimse://prod.example/agent/mcp/a",
	    "dev.local"));
	free(t);
	/* Expired stub. */
	(void)sf_asprintf(&c, "{\"sub\":\"S\",\"exp\":%lld}",
	    (long long)now - 3600);
	t = stub(c);
	free(c);
	T(refused(&dev, t, CRED_TYPE_JWT, SF_EEXPIRED, "expired at"));
	free(t);
	/* Shell-made: standard base64 with padding, wrapped lines. */
	h = shell_b64("{\"alg\":\"RS256\",\"typ\":\"JWT\"}");
	p = shell_b64("{\"sub\":\"a-very-long-service-account-name-that-wraps"
	    "\",\"namespace\":\"some-namespace\",\"iss\":\"https://k8s."
	    "example\"}");
	T(strchr(p, '\n') != NULL);
	(void)sf_asprintf(&wrapped, "%s.%s.stub\r\n", h, p);
	T(accepted(&dev, wrapped, CRED_TYPE_JWT, "wimse://dev.local/ns/"
	    "some-namespace/sa/a-very-long-service-account-name-that-wraps",
	    "dev.local"));
	T(refused(&prod, wrapped, CRED_TYPE_JWT, SF_EINVAL, NULL));
	free(wrapped);
	free(h);
	free(p);
	/* Two and four parts, and non-JSON parts. */
	T(refused(&dev, "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJTIn0", CRED_TYPE_JWT,
	    SF_EINVAL, "three dot-separated parts"));
	T(refused(&dev, "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJTIn0.stub.x",
	    CRED_TYPE_JWT, SF_EINVAL, "three dot-separated parts"));
	T(refused(&dev, "bm90IGpzb24.eyJzdWIiOiJTIn0.stub", CRED_TYPE_JWT,
	    SF_EINVAL, "header is not a JSON object"));
	T(refused(&dev, "e30.eyJzdWIiOiJTIn0.stub", CRED_TYPE_JWT, SF_EINVAL,
	    "without \"alg\""));
	T(refused(&dev, "eyJhbGciOiJSUzI1NiJ9.W10.stub", CRED_TYPE_JWT,
	    SF_EINVAL, "payload is not a JSON object"));
	T(refused(&dev, "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJTIn0.st*b",
	    CRED_TYPE_JWT, SF_EINVAL, "signature is not base64"));
	T(refused(&dev, "junk", "urn:x", SF_EINVAL, "unsupported"));
}

static void
test_dev_real_issuers(void)
{
	char *t = mint_c(k_k8s, NULL, K8S_ISS, "system:serviceaccount:a:b",
	    NULL), *h;

	/* A configured issuer's token is validated normally in dev too. */
	T(accepted(&dev, t, CRED_TYPE_JWT, "wimse://cluster.test/ns/a/sa/b",
	    "cluster.test"));
	/* ... and a failure there is final. */
	h = swap_header(t, "{\"alg\":\"RS256\",\"kid\":\"nope\"}");
	T(refused(&dev, h, CRED_TYPE_JWT, SF_EKEY, "unknown key nope"));
	free(h);
	free(t);
	t = own_token("at+jwt", "wimse://starfly.test/ns/a/sa/b", 300);
	{
		struct subject s;
		char *why = NULL;

		T_OK(val(&dev, t, CRED_TYPE_JWT, &s, &why));
		T(s.own);
		subject_clear(&s);
	}
	free(t);
}

static bool
contains(const char *s, const char *needle)
{
	return s != NULL && strstr(s, needle) != NULL;
}

/* Load a one-file issuers.d; expect failure naming the problem. */
static bool
load_fails(const char *text, const char *needle)
{
	char d[256], sub[300], *err = NULL;
	struct sf_conf c = prod;
	struct issuers *is = NULL;
	int rc;
	bool ok;

	snprintf(d, sizeof(d), "%s/bad", tmpdir);
	snprintf(sub, sizeof(sub), "%s/issuers.d", d);
	(void)mkdir(d, 0755);
	(void)mkdir(sub, 0755);
	if (put(sub, "x.conf", text) != SF_OK)
		return false;
	c.etc_dir = d;
	rc = issuers_load(&c, NULL, &is, &err);
	ok = rc == SF_ECONF && is == NULL && contains(err, "x.conf") &&
	    contains(err, needle);
	if (!ok)
		fprintf(stderr, "load_fails: rc %d err %s\n", rc, err ? err :
		    "(null)");
	free(err);
	issuers_free(is);
	return ok;
}

static void
test_conf_errors(void)
{
	char jw[300];

	snprintf(jw, sizeof(jw), "jwks_file %s/k8s.jwks\n", idir);
	T(load_fails("kind kubernetes\nissuer https://a\nbogus 1\n",
	    "x.conf:3: unknown key 'bogus'"));
	T(load_fails("issuer https://a\njwks_url https://a/j\n",
	    "missing required key 'kind'"));
	T(load_fails("kind kubernetes\nissuer https://a\n",
	    "exactly one of jwks_file"));
	T(load_fails("kind kubernetes\nissuer https://a\njwks_url https://a/j\n"
	    "discovery_url https://a\n", "(2 given)"));
	T(load_fails("kind spiffe\nspiffe_bundle_url https://a/b\n",
	    "requires trust_domain"));
	T(load_fails("kind oidc\njwks_url https://a/j\n",
	    "missing required key 'issuer'"));
	T(load_fails("kind oidc\nissuer https://a\njwks_url https://a/j\n"
	    "token_types urn:starfly:token-type:spiffe-svid\n",
	    "kind oidc cannot serve"));
	T(load_fails("kind oidc\nissuer https://a\njwks_url https://a/j\n"
	    "token_types jwt\n", "'jwt' is not a subject_token_type URI"));
	T(load_fails("kind oidc\nissuer https://a\njwks_url https://a/j\n"
	    "algorithms ES256 HS256\n", "'HS256' is not one of"));
	T(load_fails("kind spiffe\ntrust_domain a.org\nspiffe_bundle_url "
	    "https://a/b\nalgorithms EdDSA\n", "not allowed for JWT-SVIDs"));
	T(load_fails("kind oidc\nissuer " OWN_ISS "\njwks_url https://a/j\n",
	    "is this unit"));
	T(load_fails("kind kubernetes\nissuer https://a\njwks_url https://a/j"
	    "\nsubject wimse://{td}/x/{sub}\n", "only kinds oidc and generic"));
	T(load_fails("kind oidc\nissuer https://a\njwks_url https://a/j\n"
	    "subject https://{sub}\n", "subject: expected"));
	T(load_fails("kind oidc\nissuer https://a\njwks_url https://a/j\n"
	    "trust_domain Bad.Domain\n", "trust_domain 'Bad.Domain'"));
	T(load_fails("kind aws\nissuer https://a\njwks_url https://a/j\n"
	    "accounts 12345\n", "'12345' is not an account id"));
	T(load_fails("kind oidc\nissuer https://a\njwks_file nowhere.jwks\n",
	    "nowhere.jwks"));
	T(load_fails("kind oidc\nissuer https://a\njwks_url https://a/j\n"
	    "spiffe_bundle_url https://a/b\n", "(2 given)"));
	T(load_fails("kind oidc\nissuer https://a\nspiffe_bundle_url "
	    "https://a/b\n", "for kind spiffe only"));
	/* A key file with a broken key is an error, not a silent skip. */
	{
		static const char broken[] = "{\"keys\":[{\"kty\":\"EC\","
		    "\"crv\":\"P-256\",\"x\":\"AA\",\"y\":\"AA\"}]}";
		char path[300];

		snprintf(path, sizeof(path), "%s/bad/broken.jwks", tmpdir);
		T(sf_write_file(path, broken, strlen(broken), 0644) == SF_OK);
		T(load_fails("kind oidc\nissuer https://a\njwks_file "
		    "../broken.jwks\n", "key 0"));
	}
	(void)jw;
}

static void
test_duplicates(void)
{
	char d[256], sub[300], *err = NULL;
	struct sf_conf c = prod;
	struct issuers *is = NULL;

	snprintf(d, sizeof(d), "%s/dup", tmpdir);
	snprintf(sub, sizeof(sub), "%s/issuers.d", d);
	T(mkdir(d, 0755) == 0 && mkdir(sub, 0755) == 0);
	T_OK(put(sub, "a.conf", "kind oidc\nissuer https://a\n"
	    "jwks_url https://a/j\n"));
	T_OK(put(sub, "b.conf", "kind generic\nissuer https://a\n"
	    "jwks_url https://a/k\n"));
	c.etc_dir = d;
	T(issuers_load(&c, NULL, &is, &err) == SF_ECONF);
	T(contains(err, "b.conf") && contains(err, "already configured in"));
	free(err);
	/* No issuers.d at all: no issuers. */
	c.etc_dir = tmpdir;
	err = NULL;
	T_OK(issuers_load(&c, NULL, &is, &err));
	T(issuers_count(is) == 0);
	issuers_free(is);
}

static void
test_synced_keys(void)
{
	struct issuer_info in;
	struct issuers *is = NULL;
	struct store *st = NULL;
	struct jwk *k = NULL, *set[2];
	char path[256], *err = NULL, *doc, *val = NULL, *why = NULL, *t;
	size_t i, ri = 0, n = 0;
	bool changed = false;

	snprintf(path, sizeof(path), "%s/store.db", tmpdir);
	T_OK(store_open(path, true, &st));
	T_OK(issuers_load(&prod, st, &is, &err));
	for (i = 0; i < issuers_count(is); i++) {
		T_OK(issuers_info(is, i, &in));
		if (strcmp(in.name, "remote") == 0)
			ri = i;
	}
	T_OK(jwk_generate(JWS_ES256, &k));
	t = mint_c(k, NULL, REMOTE_ISS, "alice", NULL);
	/* Not synced yet: refused, no fetch. */
	{
		struct subject s;

		T(cred_validate(&prod, is, own, t, CRED_TYPE_OIDC, now, &s,
		    &why) == SF_EKEY);
		T(contains(why, "issuer " REMOTE_ISS " has no keys"));
		free(why);
		why = NULL;
	}
	/* A document with no usable key is refused by the sync check. */
	T(issuers_keys_doc(is, ri, "{\"keys\":[]}", 11, "https://r/j", now,
	    &val, &n, &why) == SF_EKEY);
	free(why);
	why = NULL;
	T(issuers_keys_doc(is, ri, "[]", 2, "https://r/j", now, &val, &n,
	    &why) == SF_EINVAL);
	free(why);
	why = NULL;
	set[0] = k;
	set[1] = NULL;
	doc = jwks_text(NULL, false, set);
	T_OK(issuers_keys_doc(is, ri, doc, strlen(doc),
	    "https://remote.test/jwks.json", now, &val, &n, &why));
	T(n == 1 && contains(val, "\"fetched_at\":"));
	T_OK(store_put(st, ISSUER_KEYS_NS, "remote", val, strlen(val),
	    STORE_REPLACE));
	/* The refresh picks the new keys up. */
	T_OK(issuers_refresh(is, st, &changed));
	T(changed);
	T_OK(issuers_refresh(is, st, &changed));
	T(!changed);
	T_OK(issuers_info(is, ri, &in));
	T(in.nkeys == 1 && in.synced_at == now);
	{
		struct subject s;

		T_OK(cred_validate(&prod, is, own, t, CRED_TYPE_OIDC, now, &s,
		    &why));
		subject_clear(&s);
	}
	/* A fresh load reads them from the store. */
	issuers_free(is);
	is = NULL;
	T_OK(issuers_load(&prod, st, &is, &err));
	T_OK(issuers_info(is, ri, &in));
	T(in.nkeys == 1);
	/* Removed from the store: refused again. */
	T_OK(store_del(st, ISSUER_KEYS_NS, "remote"));
	T_OK(issuers_refresh(is, st, &changed));
	T(changed);
	T_OK(issuers_info(is, ri, &in));
	T(in.nkeys == 0);
	issuers_free(is);
	store_close(st);
	jwk_free(k);
	free(doc);
	free(val);
	free(t);
}

static void
test_empty_bundle(void)
{
	char d[256], sub[300], *err = NULL, *t;
	struct sf_conf c = prod;
	struct issuers *is = NULL;
	struct subject s;

	snprintf(d, sizeof(d), "%s/revoked", tmpdir);
	snprintf(sub, sizeof(sub), "%s/issuers.d", d);
	T(mkdir(d, 0755) == 0 && mkdir(sub, 0755) == 0);
	T_OK(put(sub, "td.conf", "kind spiffe\ntrust_domain example.org\n"
	    "spiffe_bundle b.json\n"));
	T_OK(put(sub, "b.json", "{\"keys\":[],\"spiffe_sequence\":9}"));
	c.etc_dir = d;
	T_OK(issuers_load(&c, NULL, &is, &err));
	t = mint_c(k_svid, NULL, "x", "spiffe://example.org/w",
	    "\"aud\":\"" OWN_ISS "\"");
	T(cred_validate(&c, is, own, t, CRED_TYPE_SPIFFE, now, &s, &err) ==
	    SF_EKEY);
	T(contains(err, "has no keys"));
	free(err);
	free(t);
	issuers_free(is);
}

/* Every shipped example parses and passes the checks as NAME.conf. */
static void
test_examples(void)
{
	static const char dir[] = "etc/issuers.d";
	struct issuer e;
	struct dirent *d;
	char path[512], *buf, *err;
	size_t len, n = 0;
	DIR *dp;

	T((dp = opendir(dir)) != NULL);
	while ((d = readdir(dp)) != NULL) {
		if (strstr(d->d_name, ".conf.example") == NULL)
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, d->d_name);
		T(sf_read_file(path, 65536, &buf, &len) == SF_OK);
		memset(&e, 0, sizeof(e));
		err = NULL;
		if (issuer_parse_buf(&prod, path, "example", buf, len, dir, &e,
		    &err) != SF_OK)
			fprintf(stderr, "%s\n", err ? err : path);
		T(err == NULL);
		T(e.types != 0 && e.trust_domain != NULL);
		issuer_clear(&e);
		free(buf);
		n++;
	}
	closedir(dp);
	T(n >= 3);
}

int
main(void)
{
	t_prog = "cred";
	log_init("test_cred", 0, SF_LOG_ERR);
	if (setup() != SF_OK) {
		printf("FAIL cred: setup\n");
		return 1;
	}
	RUN(test_load);
	RUN(test_k8s_rs256);
	RUN(test_k8s_claim_object);
	RUN(test_svid_es256);
	RUN(test_svid_rules);
	RUN(test_times);
	RUN(test_issuer_checks);
	RUN(test_trust_domain);
	RUN(test_oidc_aud);
	RUN(test_max_age);
	RUN(test_alg_none);
	RUN(test_hs256_public_key);
	RUN(test_alg_swapped);
	RUN(test_unknown_kid);
	RUN(test_cloud_aws);
	RUN(test_cloud_gcp);
	RUN(test_cloud_azure);
	RUN(test_generic);
	RUN(test_own_tokens);
	RUN(test_dev_stubs);
	RUN(test_dev_real_issuers);
	RUN(test_conf_errors);
	RUN(test_duplicates);
	RUN(test_synced_keys);
	RUN(test_empty_bundle);
	if (access("etc/issuers.d", F_OK) == 0)
		RUN(test_examples);
	else
		printf("SKIP cred: test_examples: run from the repository "
		    "root\n");
	issuers_free(iss_set);
	keyring_free(own);
	jwk_free(k_k8s);
	jwk_free(k_svid);
	jwk_free(k_oidc);
	jwk_free(k_aws);
	jwk_free(k_gcp);
	jwk_free(k_azure);
	jwk_free(k_gen);
	jwk_free(k_rogue);
	jwk_free(k_es384);
	nftw(tmpdir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	return T_DONE();
}
