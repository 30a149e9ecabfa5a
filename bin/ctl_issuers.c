/*
 * ctl_issuers.c - `starflyctl issuers`: the issuers of etc_dir/issuers.d.
 *
 *   issuers list [--json]            what is configured, where its keys
 *                                    come from, how many are loaded
 *   issuers sync [NAME]              fetch the keys of issuers with a
 *                                    jwks_url, discovery_url or
 *                                    spiffe_bundle_url into the store
 *   issuers verify [--type URI] [--actor] TOKEN|-
 *                                    validate a token as the exchange
 *                                    would, and print its subject
 *
 * sync is the only place keys are fetched over the network (never while
 * a request is served).  Each fetched document is checked with the
 * issuer's rules and stored as ISSUER_KEYS_NS/NAME; the programs see the
 * store's change marker move and take the new keys (issuers_refresh).
 * Run it from cron or a timer at the issuer's rotation cadence.
 *
 * Fetches: https only (http only to a loopback address, for tests and
 * local issuers), TLS peers and host names verified, redirects only to
 * https, at most 3 of them, 5 s to connect, 15 s in all, 1 MiB per
 * document, status 200 only.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <curl/curl.h>

#include "ctl.h"

#define FETCH_MAX	(1024 * 1024)
#define WELL_KNOWN	"/.well-known/openid-configuration"

static const char issuers_usage[] =
    "usage: starflyctl issuers list [--json]\n"
    "       starflyctl issuers sync [NAME]\n"
    "       starflyctl issuers verify [--type URI] [--actor] TOKEN|-\n";

struct body {
	char	*buf;
	size_t	 len;
	bool	 over;
};

static size_t
body_write(char *p, size_t size, size_t n, void *arg)
{
	struct body *b = arg;
	size_t len = size * n;
	char *nb;

	if (b->len + len > FETCH_MAX) {
		b->over = true;
		return 0;
	}
	if ((nb = realloc(b->buf, b->len + len + 1)) == NULL)
		return 0;
	b->buf = nb;
	memcpy(b->buf + b->len, p, len);
	b->len += len;
	b->buf[b->len] = '\0';
	return len;
}

/* https://, or http:// to 127.0.0.1, [::1] or localhost. */
static bool
url_allowed(const char *url)
{
	static const char *const loop[] = { "127.0.0.1", "[::1]",
	    "localhost" };
	const char *h;
	size_t i, n;

	if (strncmp(url, "https://", 8) == 0)
		return true;
	if (strncmp(url, "http://", 7) != 0)
		return false;
	h = url + 7;
	for (i = 0; i < sizeof(loop) / sizeof(loop[0]); i++) {
		n = strlen(loop[i]);
		if (strncmp(h, loop[i], n) == 0 && (h[n] == ':' ||
		    h[n] == '/' || h[n] == '\0'))
			return true;
	}
	return false;
}

/* GET url; *out (new) is the body.  On failure err says why. */
static int
fetch(const char *url, char **out, size_t *outlen, char *err, size_t errlen)
{
	char cerr[CURL_ERROR_SIZE] = "";
	struct curl_slist *hdrs = NULL;
	struct body b = { NULL, 0, false };
	long status = 0;
	CURLcode cc;
	CURL *h;
	int rc = SF_EIO;

	*out = NULL;
	*outlen = 0;
	if (!url_allowed(url)) {
		snprintf(err, errlen, "%s: only https (or http to a loopback "
		    "address) is fetched", url);
		return SF_EINVAL;
	}
	if ((h = curl_easy_init()) == NULL ||
	    (hdrs = curl_slist_append(NULL, "Accept: application/json, "
	    "application/jwk-set+json")) == NULL) {
		curl_easy_cleanup(h);
		snprintf(err, errlen, "curl: out of memory");
		return SF_ENOMEM;
	}
	if (curl_easy_setopt(h, CURLOPT_URL, url) != CURLE_OK ||
	    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https") !=
	    CURLE_OK ||
	    curl_easy_setopt(h, CURLOPT_REDIR_PROTOCOLS_STR, "https") !=
	    CURLE_OK ||
	    curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 1L) != CURLE_OK ||
	    curl_easy_setopt(h, CURLOPT_MAXREDIRS, 3L) != CURLE_OK ||
	    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, 5L) != CURLE_OK ||
	    curl_easy_setopt(h, CURLOPT_TIMEOUT, 15L) != CURLE_OK ||
	    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L) != CURLE_OK ||
	    curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 1L) != CURLE_OK ||
	    curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 2L) != CURLE_OK ||
	    curl_easy_setopt(h, CURLOPT_MAXFILESIZE_LARGE,
	    (curl_off_t)FETCH_MAX) != CURLE_OK ||
	    curl_easy_setopt(h, CURLOPT_USERAGENT, "starflyctl/" SF_VERSION) !=
	    CURLE_OK ||
	    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs) != CURLE_OK ||
	    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, body_write) !=
	    CURLE_OK ||
	    curl_easy_setopt(h, CURLOPT_WRITEDATA, &b) != CURLE_OK ||
	    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, cerr) != CURLE_OK) {
		snprintf(err, errlen, "curl: cannot set options");
		goto out;
	}
	if ((cc = curl_easy_perform(h)) != CURLE_OK) {
		snprintf(err, errlen, "%s: %s", url, b.over ||
		    cc == CURLE_FILESIZE_EXCEEDED ? "larger than 1 MiB" :
		    cerr[0] != '\0' ? cerr : curl_easy_strerror(cc));
		goto out;
	}
	(void)curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
	if (status != 200) {
		snprintf(err, errlen, "%s: HTTP status %ld", url, status);
		goto out;
	}
	if (b.buf == NULL) {
		snprintf(err, errlen, "%s: empty body", url);
		goto out;
	}
	*out = b.buf;
	*outlen = b.len;
	b.buf = NULL;
	rc = SF_OK;
out:
	free(b.buf);
	curl_slist_free_all(hdrs);
	curl_easy_cleanup(h);
	return rc;
}

/*
 * OpenID Connect Discovery 1.0 §4: the configuration document of the
 * issuer; its "issuer" must be the configured one (§4.3), its "jwks_uri"
 * is where the keys are.  *jwks_uri is new.
 */
static int
discover(const struct issuer_info *in, char **jwks_uri, char *err,
    size_t errlen)
{
	const char *loc = in->location, *iss, *ju;
	char *url = NULL, *body = NULL, *jwhy = NULL;
	json_t *doc = NULL;
	size_t len, n = strlen(loc), w = strlen(WELL_KNOWN);
	int rc;

	*jwks_uri = NULL;
	if (n >= w && strcmp(loc + n - w, WELL_KNOWN) == 0)
		rc = sf_asprintf(&url, "%s", loc);
	else
		rc = sf_asprintf(&url, "%s%s", loc, WELL_KNOWN);
	if (rc != SF_OK)
		return rc;
	if ((rc = fetch(url, &body, &len, err, errlen)) != SF_OK)
		goto out;
	if ((rc = json_parse_strict(body, len, &doc, &jwhy)) != SF_OK ||
	    !json_is_object(doc)) {
		snprintf(err, errlen, "%s: not a JSON object%s%s", url,
		    jwhy ? ": " : "", jwhy ? jwhy : "");
		rc = SF_EPARSE;
		goto out;
	}
	iss = json_string_value(json_object_get(doc, "issuer"));
	ju = json_string_value(json_object_get(doc, "jwks_uri"));
	if (iss == NULL || strcmp(iss, in->issuer) != 0) {
		snprintf(err, errlen, "%s: issuer is %.200s, not %s", url,
		    iss ? iss : "absent", in->issuer);
		rc = SF_ECLAIM;
		goto out;
	}
	if (ju == NULL) {
		snprintf(err, errlen, "%s: no jwks_uri", url);
		rc = SF_EPARSE;
		goto out;
	}
	rc = (*jwks_uri = sf_strdup(ju)) == NULL ? SF_ENOMEM : SF_OK;
out:
	json_decref(doc);
	free(jwhy);
	free(body);
	free(url);
	return rc;
}

/* Fetch, check and store the keys of issuer i.  0 or 1. */
static int
sync_one(const struct issuers *is, size_t i, struct store *st)
{
	struct issuer_info in;
	char err[1024] = "", *ju = NULL, *body = NULL, *val = NULL,
	    *why = NULL;
	const char *url;
	size_t len, nkeys = 0;
	int rc;

	(void)issuers_info(is, i, &in);
	url = in.location;
	if (in.discovery) {
		if ((rc = discover(&in, &ju, err, sizeof(err))) != SF_OK)
			goto out;
		url = ju;
	}
	if ((rc = fetch(url, &body, &len, err, sizeof(err))) != SF_OK)
		goto out;
	if ((rc = issuers_keys_doc(is, i, body, len, url, sf_now(), &val,
	    &nkeys, &why)) != SF_OK) {
		snprintf(err, sizeof(err), "%s: %s", url, why ? why :
		    sf_strerror(rc));
		goto out;
	}
	if ((rc = store_put(st, ISSUER_KEYS_NS, in.name, val, strlen(val),
	    STORE_REPLACE)) != SF_OK) {
		snprintf(err, sizeof(err), "store: %s", sf_strerror(rc));
		goto out;
	}
	printf("%s: %zu key%s from %s\n", in.name, nkeys, nkeys == 1 ? "" :
	    "s", url);
out:
	if (rc != SF_OK)
		fprintf(stderr, "starflyctl issuers sync: %s: %s\n", in.name,
		    err[0] != '\0' ? err : sf_strerror(rc));
	free(ju);
	free(body);
	free(val);
	free(why);
	return rc == SF_OK ? 0 : 1;
}

/* The unit's store and issuers; st NULL when the store does not exist. */
static int
load_all(struct ctl *c, bool need_store, struct store **st,
    struct issuers **is)
{
	const struct sf_conf *conf;
	char *err = NULL;
	int rc;

	*st = NULL;
	*is = NULL;
	if ((conf = ctl_conf(c)) == NULL)
		return 1;
	rc = store_open(conf->store, false, st);
	if (rc != SF_OK && (need_store || rc != SF_ENOTFOUND)) {
		fprintf(stderr, "starflyctl issuers: store %s: %s%s\n",
		    conf->store, sf_strerror(rc), rc == SF_ENOTFOUND ?
		    " (run `starflyctl init`)" : "");
		return 1;
	}
	if ((rc = issuers_load(conf, *st, is, &err)) != SF_OK) {
		fprintf(stderr, "starflyctl issuers: %s\n", err ? err :
		    sf_strerror(rc));
		free(err);
		store_close(*st);
		*st = NULL;
		return 1;
	}
	return 0;
}

static int
issuers_sync(struct ctl *c, const char *name)
{
	struct issuer_info in;
	struct issuers *is;
	struct store *st;
	size_t i, n = 0;
	int fails = 0;

	if (load_all(c, true, &st, &is) != 0)
		return 1;
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		fprintf(stderr, "starflyctl issuers sync: curl init failed\n");
		fails++;
		goto out;
	}
	for (i = 0; i < issuers_count(is); i++) {
		(void)issuers_info(is, i, &in);
		if (name != NULL && strcmp(in.name, name) != 0)
			continue;
		n++;
		if (!in.remote) {
			if (name != NULL) {
				fprintf(stderr, "starflyctl issuers sync: %s "
				    "takes its keys from %s %s; nothing to "
				    "fetch\n", in.name, in.source, in.location);
				fails++;
			}
			continue;
		}
		fails += sync_one(is, i, st);
	}
	if (name != NULL && n == 0) {
		fprintf(stderr, "starflyctl issuers sync: no issuer named "
		    "%s\n", name);
		fails++;
	}
	curl_global_cleanup();
out:
	issuers_free(is);
	store_close(st);
	return fails == 0 ? 0 : 1;
}

static void
fmt_time(int64_t t, char *buf, size_t len)
{
	struct tm tm;
	time_t tt = (time_t)t;

	if (t == 0 || gmtime_r(&tt, &tm) == NULL ||
	    strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		snprintf(buf, len, "-");
}

static int
issuers_list(struct ctl *c, bool as_json)
{
	struct issuer_info in;
	struct issuers *is;
	struct store *st;
	json_t *arr = NULL, *o, *types;
	char when[32], *s;
	size_t i, j;
	int rc = 1;

	if (load_all(c, false, &st, &is) != 0)
		return 1;
	if (as_json && (arr = json_array()) == NULL)
		goto out;
	if (!as_json)
		printf("%-16s %-10s %-4s %-20s %s\n", "NAME", "KIND", "KEYS",
		    "SYNCED", "ISSUER / TRUST DOMAIN, TYPES, KEY SOURCE");
	for (i = 0; i < issuers_count(is); i++) {
		(void)issuers_info(is, i, &in);
		fmt_time(in.synced_at, when, sizeof(when));
		if (!as_json) {
			printf("%-16s %-10s %-4zu %-20s %s (%s)\n", in.name,
			    in.kind, in.nkeys, in.remote ? when : "file",
			    in.issuer ? in.issuer : "-", in.trust_domain);
			for (j = 0; in.token_types[j] != NULL; j++)
				printf("%54s%s\n", "", in.token_types[j]);
			printf("%54s%s %s\n", "", in.source, in.location);
			continue;
		}
		if ((types = json_array()) == NULL)
			goto out;
		for (j = 0; in.token_types[j] != NULL; j++)
			json_array_append_new(types,
			    json_string(in.token_types[j]));
		o = json_pack("{s:s, s:s, s:s, s:o?, s:s, s:o, s:s, s:s, s:b, "
		    "s:I, s:I}", "name", in.name, "file", in.file, "kind",
		    in.kind, "issuer", in.issuer ? json_string(in.issuer) :
		    NULL, "trust_domain", in.trust_domain, "token_types",
		    types, "source", in.source, "location", in.location,
		    "remote", in.remote, "keys", (json_int_t)in.nkeys,
		    "synced_at", (json_int_t)in.synced_at);
		if (o == NULL || json_array_append_new(arr, o) != 0)
			goto out;
	}
	if (as_json) {
		if ((s = json_dumps(arr, JSON_INDENT(2))) == NULL)
			goto out;
		printf("%s\n", s);
		free(s);
	}
	rc = 0;
out:
	if (rc != 0)
		fprintf(stderr, "starflyctl issuers list: out of memory\n");
	json_decref(arr);
	issuers_free(is);
	store_close(st);
	return rc;
}

/* The token argument, or stdin for "-" (surrounding whitespace dropped). */
static char *
token_arg(const char *arg)
{
	char *buf = NULL;
	size_t n;

	if (strcmp(arg, "-") != 0)
		return sf_strdup(arg);
	if (sf_read_file("/dev/stdin", 64 * 1024, &buf, &n) != SF_OK)
		return NULL;
	while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r' ||
	    buf[n - 1] == ' '))
		buf[--n] = '\0';
	return buf;
}

static int
issuers_verify(struct ctl *c, int argc, char **argv)
{
	const struct sf_conf *conf;
	const char *type = CRED_TYPE_JWT;
	struct keyring *kr = NULL;
	struct issuers *is;
	struct store *st;
	struct subject s;
	json_t *o;
	char *tok = NULL, *why = NULL, *out;
	bool actor = false;
	int i, rc;

	for (i = 1; i < argc && argv[i][0] == '-' && argv[i][1] != '\0';
	    i++) {
		if (strcmp(argv[i], "--type") == 0 && i + 1 < argc)
			type = argv[++i];
		else if (strcmp(argv[i], "--actor") == 0)
			actor = true;
		else {
			fputs(issuers_usage, stderr);
			return 2;
		}
	}
	if (i != argc - 1) {
		fputs(issuers_usage, stderr);
		return 2;
	}
	if ((tok = token_arg(argv[i])) == NULL) {
		fprintf(stderr, "starflyctl issuers verify: cannot read the "
		    "token\n");
		return 1;
	}
	if (load_all(c, false, &st, &is) != 0) {
		free(tok);
		return 1;
	}
	conf = ctl_conf(c);
	if (keyring_load(conf->keys_dir, KEYRING_PUBLIC, &kr) != SF_OK)
		kr = NULL;
	rc = (actor ? cred_validate_actor : cred_validate)(conf, is, kr, tok,
	    type, sf_now(), &s, &why);
	if (rc != SF_OK)
		fprintf(stderr, "starflyctl issuers verify: %s (%s)\n",
		    why ? why : "refused", sf_strerror(rc));
	else {
		o = json_pack("{s:s, s:s, s:s, s:s, s:I, s:b, s:O}", "id",
		    s.id, "trust_domain", s.trust_domain, "type", s.type,
		    "issuer", s.issuer, "exp", (json_int_t)s.exp, "own", s.own,
		    "claims", s.claims);
		if (o != NULL && (out = json_dumps(o, JSON_INDENT(2))) !=
		    NULL) {
			printf("%s\n", out);
			free(out);
		}
		json_decref(o);
		subject_clear(&s);
	}
	free(why);
	sf_strfree_secret(tok);
	keyring_free(kr);
	issuers_free(is);
	store_close(st);
	return rc == SF_OK ? 0 : 1;
}

int
ctl_issuers(struct ctl *c, int argc, char **argv)
{
	if (argc >= 2 && strcmp(argv[1], "list") == 0 && (argc == 2 ||
	    (argc == 3 && strcmp(argv[2], "--json") == 0)))
		return issuers_list(c, argc == 3);
	if (argc >= 2 && strcmp(argv[1], "sync") == 0 && argc <= 3)
		return issuers_sync(c, argc == 3 ? argv[2] : NULL);
	if (argc >= 3 && strcmp(argv[1], "verify") == 0)
		return issuers_verify(c, argc - 1, argv + 1);
	fputs(issuers_usage, stderr);
	return 2;
}
