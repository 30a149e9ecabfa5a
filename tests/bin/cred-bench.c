/*
 * cred-bench [SECONDS] - time cred_validate per inbound credential kind
 * (a temporary issuers.d with real keys, a real keyring): microseconds
 * per call (thread CPU time, best of three rounds), with jws_verify
 * alone on the same token for comparison (the rest is parsing, claim
 * checks and mapping).  Measures, asserts nothing.
 */
#include <sys/stat.h>

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "starfly.h"

static struct sf_conf conf;
static struct issuers *is;
static struct keyring *own;
static int64_t now;
static const char *cur_tok, *cur_type;
static struct jws *cur_jws;
static const struct jwk *cur_key;
static int bad;

static int
rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static void
put(const char *dir, const char *name, const char *text)
{
	char path[256];

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	if (sf_write_file(path, text, strlen(text), 0644) != SF_OK)
		exit(1);
}

static void
put_jwks(const char *dir, const char *name, const struct jwk *k,
    const char *use)
{
	json_t *j, *doc;
	char *s;

	if (jwk_to_json(k, &j) != SF_OK)
		exit(1);
	if (use != NULL)
		json_object_set_new(j, "use", json_string(use));
	doc = json_pack("{s:[o]}", "keys", j);
	s = json_dumps(doc, JSON_COMPACT);
	put(dir, name, s);
	free(s);
	json_decref(doc);
}

static char *
mint(const struct jwk *k, const char *typ, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static char *
mint(const struct jwk *k, const char *typ, const char *fmt, ...)
{
	char buf[1024], *tok;
	va_list ap;
	json_t *c;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if ((c = json_loads(buf, 0, NULL)) == NULL ||
	    jws_sign_jwt(k, typ, c, &tok) != SF_OK)
		exit(1);
	json_decref(c);
	return tok;
}

static void
op_validate(void)
{
	struct subject s;
	char *why = NULL;

	if (cred_validate(&conf, is, own, cur_tok, cur_type, now, &s, &why) !=
	    SF_OK)
		bad++;
	subject_clear(&s);
	free(why);
}

static void
op_refuse(void)
{
	struct subject s;
	char *why = NULL;

	if (cred_validate(&conf, is, own, cur_tok, cur_type, now, &s, &why) ==
	    SF_OK)
		bad++;
	free(why);
}

static void
op_verify(void)
{
	if (jws_verify(cur_jws, cur_key) != SF_OK)
		bad++;
}

/* CPU time of this thread (steadier than wall time on a busy host). */
static uint64_t
cpu_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Best of three rounds of secs/3 CPU seconds each, us per call. */
static double
timeit(void (*fn)(void), double secs)
{
	double best = 1e30, us;
	uint64_t t0, n, r;

	for (r = 0; r < 3; r++) {
		t0 = cpu_ns();
		for (n = 0; cpu_ns() - t0 < (uint64_t)(secs / 3 * 1e9); n++)
			fn();
		us = (double)(cpu_ns() - t0) / 1e3 / (double)n;
		if (us < best)
			best = us;
	}
	return best;
}

static void
row(const char *name, const char *tok, const char *type,
    const struct jwk *key, bool ok, double secs)
{
	double v, j = 0;

	cur_tok = tok;
	cur_type = type;
	v = timeit(ok ? op_validate : op_refuse, secs);
	if (key != NULL) {
		if (jws_parse(tok, strlen(tok), &cur_jws) != SF_OK)
			exit(1);
		cur_key = key;
		j = timeit(op_verify, secs);
		jws_free(cur_jws);
		printf("%-34s %8.1f us   (jws_verify alone %6.1f us)\n", name,
		    v, j);
	} else
		printf("%-34s %8.1f us\n", name, v);
}

int
main(int argc, char *argv[])
{
	char dir[] = "/tmp/cred-bench.XXXXXX", idir[64], kdir[64], *err = NULL;
	struct jwk *k8s, *svid, *oidc;
	double secs = argc > 1 ? atof(argv[1]) : 1.5;
	char *t_k8s, *t_svid, *t_oidc, *t_own, *t_stub, *t_kid, *load;
	struct sf_conf devc;

	log_init("cred-bench", 0, SF_LOG_ERR);
	now = sf_now();
	if (mkdtemp(dir) == NULL)
		return 1;
	snprintf(idir, sizeof(idir), "%s/issuers.d", dir);
	snprintf(kdir, sizeof(kdir), "%s/keys", dir);
	if (mkdir(idir, 0700) != 0 || jwk_generate(JWS_RS256, &k8s) != SF_OK ||
	    jwk_generate(JWS_ES256, &svid) != SF_OK ||
	    jwk_generate(JWS_ES256, &oidc) != SF_OK)
		return 1;
	put_jwks(idir, "k8s.jwks", k8s, NULL);
	put_jwks(idir, "bundle.json", svid, "jwt-svid");
	put_jwks(idir, "oidc.jwks", oidc, NULL);
	put(idir, "k8s.conf", "issuer https://k8s.bench\nkind kubernetes\n"
	    "jwks_file k8s.jwks\nalgorithms RS256\n");
	put(idir, "svid.conf", "kind spiffe\ntrust_domain example.org\n"
	    "spiffe_bundle bundle.json\n");
	put(idir, "oidc.conf", "issuer https://idp.bench\nkind oidc\n"
	    "jwks_file oidc.jwks\naudience client\n");
	conf.mode = SF_MODE_PRODUCTION;
	conf.issuer = "https://starfly.bench";
	conf.trust_domain = "starfly.bench";
	conf.etc_dir = dir;
	conf.clock_skew = 60;
	if (keyring_init(kdir, JWS_ES256) != SF_OK ||
	    keyring_load(kdir, KEYRING_PRIVATE, &own) != SF_OK ||
	    issuers_load(&conf, NULL, &is, &err) != SF_OK) {
		fprintf(stderr, "cred-bench: %s\n", err ? err : "setup");
		return 1;
	}
	t_k8s = mint(k8s, "JWT", "{\"iss\":\"https://k8s.bench\",\"sub\":"
	    "\"system:serviceaccount:prod:api\",\"aud\":[\"https://kubernetes."
	    "default.svc\"],\"iat\":%lld,\"nbf\":%lld,\"exp\":%lld,"
	    "\"kubernetes.io\":{\"namespace\":\"prod\",\"serviceaccount\":"
	    "{\"name\":\"api\",\"uid\":\"0c4d5a5e-1\"},\"pod\":{\"name\":\"api-1\","
	    "\"uid\":\"9f\"}}}", (long long)now, (long long)now,
	    (long long)now + 3600);
	t_svid = mint(svid, "JWT", "{\"sub\":\"spiffe://example.org/ns/web/sa/"
	    "front\",\"aud\":[\"https://starfly.bench\"],\"exp\":%lld,"
	    "\"iat\":%lld}", (long long)now + 300, (long long)now);
	t_oidc = mint(oidc, NULL, "{\"iss\":\"https://idp.bench\",\"sub\":"
	    "\"user-1\",\"aud\":\"client\",\"exp\":%lld,\"iat\":%lld}",
	    (long long)now + 300, (long long)now);
	t_own = mint(keyring_signer(own), "at+jwt", "{\"iss\":\"https://"
	    "starfly.bench\",\"sub\":\"wimse://starfly.bench/ns/a/sa/b\","
	    "\"aud\":\"https://tool\",\"exp\":%lld,\"iat\":%lld,\"jti\":\"x\"}",
	    (long long)now + 300, (long long)now);
	t_kid = mint(svid, NULL, "{\"iss\":\"https://k8s.bench\",\"sub\":"
	    "\"system:serviceaccount:a:b\",\"exp\":%lld}", (long long)now + 60);
	t_stub = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJTIiwibmFtZXNwYWNlIjoibnMiLCJ"
	    "zZXJ2aWNlYWNjb3VudCI6ImJvdCJ9.stub";
	if (sf_read_file("/proc/loadavg", 256, &load, NULL) != SF_OK)
		load = NULL;
	printf("== cred_validate per call, thread CPU time (best of 3 x "
	    "%.2f s; loadavg %.14s)\n", secs / 3, load != NULL ? load : "?");
	free(load);
	row("kubernetes RS256 (jwt)", t_k8s, CRED_TYPE_JWT, k8s, true, secs);
	row("JWT-SVID ES256 (spiffe-svid)", t_svid, CRED_TYPE_SPIFFE, svid, true,
	    secs);
	row("OIDC ES256 + aud (oidc)", t_oidc, CRED_TYPE_OIDC, oidc, true, secs);
	row("own at+jwt ES256 (jwt)", t_own, CRED_TYPE_JWT,
	    keyring_signer(own), true, secs);
	devc = conf;
	devc.mode = SF_MODE_DEV;
	conf = devc;
	row("dev stub (jwt)", t_stub, CRED_TYPE_JWT, NULL, true, secs);
	conf.mode = SF_MODE_PRODUCTION;
	row("refused: unknown kid", t_kid, CRED_TYPE_JWT, NULL, false, secs);
	row("refused: malformed", "a.b", CRED_TYPE_JWT, NULL, false, secs);
	if (bad != 0)
		fprintf(stderr, "cred-bench: %d unexpected results\n", bad);
	free(t_k8s);
	free(t_svid);
	free(t_oidc);
	free(t_own);
	free(t_kid);
	issuers_free(is);
	keyring_free(own);
	jwk_free(k8s);
	jwk_free(svid);
	jwk_free(oidc);
	nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	return bad != 0;
}
