/*
 * fuzz_cred.c - cred_validate and cred_validate_actor on arbitrary token
 * bytes, in production and in dev mode, against issuers of every kind
 * that share one fixed ES256 key (the seed corpus holds tokens it
 * signed, so the paths after the signature are reached too).
 *
 * Input: byte 0 picks the token type (one value past the known ones is
 * an unknown type), the rest is the token.  Invariants: no crash, leak
 * or hang; success fills a subject whose id is a wimse:// or spiffe://
 * URI with the trust domain it names; failure leaves the subject empty
 * and says why.
 */
#include <sys/stat.h>

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "starfly.h"

int	LLVMFuzzerTestOneInput(const unsigned char *data, size_t size);

static const char jwk_json[] =
    "{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"YF7Ptkl0ApJr5sk7CJJ-TSq-qdrgN3"
    "pqnLY6XrAT1LU\",\"y\":\"WSk3Nh2xBCok5F0V0FP_uwow4HhFlxguM1oQhELTFq8\","
    "\"kid\":\"fuzz-es256\",\"alg\":\"ES256\"";

static const char *const files[][2] = {
	{ "k8s.conf", "issuer https://k8s.fuzz\nkind kubernetes\n"
	    "trust_domain k8s.fuzz\njwks_file keys.jwks\n" },
	{ "svid.conf", "kind spiffe\ntrust_domain example.org\n"
	    "spiffe_bundle bundle.json\n" },
	{ "oidc.conf", "issuer https://idp.fuzz\nkind oidc\njwks_file "
	    "keys.jwks\naudience client\ntyp at+jwt JWT\n" },
	{ "aws.conf", "issuer https://aws.fuzz\nkind aws\njwks_file keys.jwks\n"
	    "accounts 123456789012\n" },
	{ "gcp.conf", "issuer https://gcp.fuzz\nkind gcp\njwks_file keys.jwks\n"
	    "accounts proj\n" },
	{ "azure.conf", "issuer https://azure.fuzz\nkind azure\njwks_file "
	    "keys.jwks\n" },
	{ "gen.conf", "issuer https://gen.fuzz\nkind generic\ntrust_domain "
	    "gen.fuzz\njwks_file keys.jwks\n" },
	{ "tmpl.conf", "issuer https://tmpl.fuzz\nkind oidc\njwks_file "
	    "keys.jwks\nsubject \"wimse://{td}/u/{email}/{sub}\"\n" },
};

static const char *const types[] = {
	CRED_TYPE_JWT, CRED_TYPE_ACCESS, CRED_TYPE_OIDC, CRED_TYPE_SPIFFE,
	CRED_TYPE_AGENT, CRED_TYPE_AWS, CRED_TYPE_GCP, CRED_TYPE_AZURE,
	"urn:example:unknown"
};
#define NTYPES	(sizeof(types) / sizeof(types[0]))

static struct sf_conf prod, dev;
static struct issuers *is;
static struct keyring *own;
static char dir[64];

static int
rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static void
cleanup(void)
{
	issuers_free(is);
	keyring_free(own);
	nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

static void
put(const char *sub, const char *name, const char *text)
{
	char path[256];

	snprintf(path, sizeof(path), "%s/%s/%s", dir, sub, name);
	if (sf_write_file(path, text, strlen(text), 0644) != SF_OK)
		abort();
}

static void
setup(void)
{
	char idir[128], kdir[128], *err = NULL, *doc = NULL;
	size_t i;

	log_init("fuzz_cred", 0, SF_LOG_ERR);
	snprintf(dir, sizeof(dir), "/tmp/fuzz_cred.XXXXXX");
	snprintf(idir, sizeof(idir), "%s/issuers.d", mkdtemp(dir));
	snprintf(kdir, sizeof(kdir), "%s/keys", dir);
	if (mkdir(idir, 0700) != 0)
		abort();
	(void)sf_asprintf(&doc, "{\"keys\":[%s}]}", jwk_json);
	put("issuers.d", "keys.jwks", doc);
	free(doc);
	doc = NULL;
	(void)sf_asprintf(&doc, "{\"keys\":[%s,\"use\":\"jwt-svid\"}]}",
	    jwk_json);
	put("issuers.d", "bundle.json", doc);
	free(doc);
	for (i = 0; i < sizeof(files) / sizeof(files[0]); i++)
		put("issuers.d", files[i][0], files[i][1]);
	prod.mode = SF_MODE_PRODUCTION;
	prod.issuer = "https://starfly.fuzz";
	prod.trust_domain = "starfly.fuzz";
	prod.etc_dir = dir;
	prod.clock_skew = 60;
	dev = prod;
	dev.mode = SF_MODE_DEV;
	if (keyring_init(kdir, JWS_ES256) != SF_OK ||
	    keyring_load(kdir, KEYRING_PUBLIC, &own) != SF_OK ||
	    issuers_load(&prod, NULL, &is, &err) != SF_OK) {
		fprintf(stderr, "fuzz_cred setup: %s\n", err ? err : "keyring");
		abort();
	}
	atexit(cleanup);
}

/* The invariants of one call. */
static void
check(int rc, const struct subject *s, const char *why)
{
	const char *p;

	if (rc != SF_OK) {
		if (s->id != NULL || s->claims != NULL || why == NULL ||
		    *why == '\0')
			abort();
		return;
	}
	if (why != NULL || s->id == NULL || s->trust_domain == NULL ||
	    s->type == NULL || s->issuer == NULL || !json_is_object(s->claims))
		abort();
	if (strncmp(s->id, "wimse://", 8) == 0)
		p = s->id + 8;
	else if (strncmp(s->id, "spiffe://", 9) == 0)
		p = s->id + 9;
	else
		abort();
	if (strchr(p, '/') == NULL || strlen(s->id) > 2048)
		abort();
}

int
LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
	static const struct sf_conf *const confs[] = { &prod, &dev };
	const char *type;
	struct subject s;
	char *tok, *why;
	size_t i;
	int rc;

	if (is == NULL)
		setup();
	if (size < 1)
		return 0;
	type = types[data[0] % NTYPES];
	if ((tok = malloc(size)) == NULL)
		return 0;
	memcpy(tok, data + 1, size - 1);
	tok[size - 1] = '\0';
	for (i = 0; i < 2; i++) {
		why = NULL;
		rc = cred_validate(confs[i], is, own, tok, type, 1800000000, &s,
		    &why);
		check(rc, &s, why);
		subject_clear(&s);
		free(why);
	}
	why = NULL;
	rc = cred_validate_actor(&prod, is, own, tok, type, 1800000000, &s,
	    &why);
	check(rc, &s, why);
	subject_clear(&s);
	free(why);
	free(tok);
	return 0;
}
