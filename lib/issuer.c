/*
 * issuer.c - the issuers a unit trusts for inbound credentials, one file
 * per issuer in etc_dir/issuers.d/NAME.conf (the keys are documented in
 * etc/issuers.d/ *.conf.example).
 *
 * Everything a validation needs is built here once: the parsed key set
 * of each issuer, its pinned algorithms, audiences and token types, so
 * that cred_validate is pure CPU.  Keys come from a local file (a JWKS,
 * or a SPIFFE trust bundle), or, for issuers whose keys live at a URL,
 * from the store value ISSUER_KEYS_NS/NAME that `starflyctl issuers sync`
 * writes; issuers_refresh picks a new value up when the store's change
 * marker moves.
 */
#include <sys/types.h>

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "starfly.h"
#include "cred_int.h"

#define ISSUER_FILE_MAX		(64 * 1024)
#define ISSUER_KEYS_MAX		(1024 * 1024)
#define ISSUER_NAME_MAX		64
#define ISSUER_MAX		256
#define ISSUER_MAX_AGE		(366LL * 86400)

const char *const cred_type_uri[CT_COUNT] = {
	CRED_TYPE_JWT, CRED_TYPE_ACCESS, CRED_TYPE_OIDC, CRED_TYPE_SPIFFE,
	CRED_TYPE_AGENT, CRED_TYPE_AWS, CRED_TYPE_GCP, CRED_TYPE_AZURE
};

const char *const issuer_kind_name[] = {
	"kubernetes", "spiffe", "oidc", "aws", "gcp", "azure", "generic",
	NULL
};

static const char *const source_name[KS_COUNT] = {
	"jwks_file", "spiffe_bundle", "jwks_url", "discovery_url",
	"spiffe_bundle_url"
};

/* Token types each kind serves when "token_types" is not given. */
static const unsigned int kind_default_types[] = {
	[IK_KUBERNETES] = CT_BIT(CT_JWT),
	[IK_SPIFFE] = CT_BIT(CT_SPIFFE),
	[IK_OIDC] = CT_BIT(CT_OIDC) | CT_BIT(CT_ACCESS),
	[IK_AWS] = CT_BIT(CT_AWS),
	[IK_GCP] = CT_BIT(CT_GCP),
	[IK_AZURE] = CT_BIT(CT_AZURE),
	[IK_GENERIC] = CT_BIT(CT_JWT),
};

/* Algorithms a JWT-SVID may use (JWT-SVID §3) that we implement. */
#define SVID_ALGS	((1u << JWS_ES256) | (1u << JWS_ES384) | \
			 (1u << JWS_RS256) | (1u << JWS_RS384) | \
			 (1u << JWS_RS512) | (1u << JWS_PS256))

#define K(n, t, m, lo, hi, ch) \
	{ n, t, offsetof(struct issuer, m), lo, hi, ch, false }
static const struct conf_key issuer_keys[] = {
	K("issuer", CONF_STR, iss, 0, 1024, NULL),
	{ "kind", CONF_ENUM, offsetof(struct issuer, kind), 0, 0,
	    issuer_kind_name, true },
	K("token_types", CONF_LIST, token_types, 0, 0, NULL),
	K("trust_domain", CONF_STR, trust_domain, 0, 255, NULL),
	K("jwks_file", CONF_PATH, src[KS_JWKS_FILE], 0, 0, NULL),
	K("spiffe_bundle", CONF_PATH, src[KS_SPIFFE_BUNDLE], 0, 0, NULL),
	K("jwks_url", CONF_URL, src[KS_JWKS_URL], 0, 0, NULL),
	K("discovery_url", CONF_URL, src[KS_DISCOVERY], 0, 0, NULL),
	K("spiffe_bundle_url", CONF_URL, src[KS_BUNDLE_URL], 0, 0, NULL),
	K("algorithms", CONF_LIST, algorithms, 0, 0, NULL),
	K("audience", CONF_LIST, audience, 0, 0, NULL),
	K("subject", CONF_STR, subject, 0, 1024, NULL),
	K("max_age", CONF_INT, max_age, 0, ISSUER_MAX_AGE, NULL),
	K("accounts", CONF_LIST, accounts, 0, 0, NULL),
	K("typ", CONF_LIST, typ, 0, 0, NULL),
	{ NULL, 0, 0, 0, 0, NULL, false }
};
#undef K

int
cred_type_of(const char *uri)
{
	int t;

	if (uri == NULL)
		return -1;
	for (t = 0; t < CT_COUNT; t++)
		if (strcmp(uri, cred_type_uri[t]) == 0)
			return t;
	return -1;
}

bool
cred_type_known(const char *token_type)
{
	return cred_type_of(token_type) >= 0;
}

bool
cred_td_ok(const char *td, size_t len)
{
	size_t i;

	if (len == 0 || len > 255)
		return false;
	for (i = 0; i < len; i++)
		if (!((td[i] >= 'a' && td[i] <= 'z') ||
		    (td[i] >= '0' && td[i] <= '9') || td[i] == '.' ||
		    td[i] == '-' || td[i] == '_'))
			return false;
	return true;
}

static int
ierr(char **errmsg, const char *file, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int
ierr(char **errmsg, const char *file, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	free(*errmsg);
	*errmsg = NULL;
	(void)sf_asprintf(errmsg, "%s: %s", file, msg);
	return SF_ECONF;
}

void
issuer_clear(struct issuer *is)
{
	if (is == NULL)
		return;
	conf_free_fields(issuer_keys, is);
	free(is->name);
	free(is->file);
	jwks_free(is->keys);
	free(is->keys_doc);
	memset(is, 0, sizeof(*is));
}

/* A new one-element list {s, NULL}. */
static char **
list1(const char *s)
{
	char **l;

	if ((l = calloc(2, sizeof(*l))) == NULL)
		return NULL;
	if ((l[0] = sf_strdup(s)) == NULL) {
		free(l);
		return NULL;
	}
	return l;
}

static bool
printable(const char *s)
{
	for (; *s != '\0'; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return false;
	return true;
}

/*
 * A subject template: "wimse://..." or "spiffe://..." text with {claim}
 * placeholders, or exactly one "{claim}" (the claim taken verbatim).
 */
static bool
template_ok(const char *t)
{
	const char *p, *e;
	size_t n = 0;

	for (p = t; *p != '\0'; p++) {
		if (*p == '}')
			return false;
		if (*p != '{')
			continue;
		if ((e = strchr(p + 1, '}')) == NULL || e == p + 1 ||
		    memchr(p + 1, '{', (size_t)(e - p - 1)) != NULL)
			return false;
		n++;
		p = e;
	}
	if (t[0] == '{' && n == 1 && t[strlen(t) - 1] == '}')
		return true;
	return strncmp(t, "wimse://", 8) == 0 || strncmp(t, "spiffe://", 9) == 0;
}

static bool
aws_account_ok(const char *s)
{
	size_t i;

	for (i = 0; s[i] != '\0'; i++)
		if (s[i] < '0' || s[i] > '9')
			return false;
	return i == 12;
}

/* Check the keys of one file and derive the rest. */
static int
issuer_check(const struct sf_conf *c, struct issuer *is, char **errmsg)
{
	const char *f = is->file;
	enum jws_alg a;
	size_t i;
	int t, nsrc = 0;

	/* Exactly one key source, fitting the kind. */
	for (i = 0; i < KS_COUNT; i++)
		if (is->src[i] != NULL) {
			nsrc++;
			is->source = (enum key_source)i;
		}
	if (nsrc != 1)
		return ierr(errmsg, f, "exactly one of jwks_file, "
		    "spiffe_bundle, jwks_url, discovery_url, "
		    "spiffe_bundle_url is required (%d given)", nsrc);
	if (is->kind == IK_SPIFFE) {
		if (is->source != KS_SPIFFE_BUNDLE &&
		    is->source != KS_BUNDLE_URL)
			return ierr(errmsg, f, "kind spiffe takes its keys "
			    "from spiffe_bundle or spiffe_bundle_url");
	} else if (is->source == KS_SPIFFE_BUNDLE ||
	    is->source == KS_BUNDLE_URL)
		return ierr(errmsg, f, "%s is for kind spiffe only",
		    source_name[is->source]);

	/* iss: exact string, required but for SPIFFE (found by domain). */
	if (is->iss != NULL && (is->iss[0] == '\0' || !printable(is->iss)))
		return ierr(errmsg, f, "issuer: empty or holds control "
		    "characters");
	if (is->iss == NULL && is->kind != IK_SPIFFE)
		return ierr(errmsg, f, "missing required key 'issuer'");
	if (is->iss != NULL && c->issuer != NULL &&
	    strcmp(is->iss, c->issuer) == 0)
		return ierr(errmsg, f, "issuer %s is this unit: its own "
		    "tokens are verified with its keyring", is->iss);
	if (is->source == KS_DISCOVERY && is->iss == NULL)
		return ierr(errmsg, f, "discovery_url needs issuer");

	/* Trust domain: SPIFFE's must be named; others default to ours. */
	if (is->trust_domain == NULL) {
		if (is->kind == IK_SPIFFE)
			return ierr(errmsg, f, "kind spiffe requires "
			    "trust_domain (the bundle's trust domain)");
		if (c->trust_domain == NULL ||
		    (is->trust_domain = sf_strdup(c->trust_domain)) == NULL)
			return c->trust_domain == NULL ? ierr(errmsg, f,
			    "trust_domain is required (the unit has none)") :
			    SF_ENOMEM;
	}
	if (!cred_td_ok(is->trust_domain, strlen(is->trust_domain)))
		return ierr(errmsg, f, "trust_domain '%s': expected 1 to 255 "
		    "characters of a-z 0-9 . - _", is->trust_domain);

	/* Token types. */
	if (is->token_types == NULL)
		is->types = kind_default_types[is->kind];
	for (i = 0; is->token_types != NULL && is->token_types[i] != NULL;
	    i++) {
		if ((t = cred_type_of(is->token_types[i])) < 0)
			return ierr(errmsg, f, "token_types: '%s' is not a "
			    "subject_token_type URI of this unit",
			    is->token_types[i]);
		if (t == CT_AGENT)
			return ierr(errmsg, f, "token_types: agent tokens "
			    "are this unit's own; no issuer serves them");
		if ((t == CT_SPIFFE) != (is->kind == IK_SPIFFE) ||
		    (t == CT_AWS && is->kind != IK_AWS) ||
		    (t == CT_GCP && is->kind != IK_GCP) ||
		    (t == CT_AZURE && is->kind != IK_AZURE))
			return ierr(errmsg, f, "token_types: kind %s cannot "
			    "serve %s", issuer_kind_name[is->kind],
			    is->token_types[i]);
		is->types |= CT_BIT(t);
	}
	for (t = 0, i = 0; t < CT_COUNT; t++)
		if (is->types & CT_BIT(t))
			is->type_list[i++] = cred_type_uri[t];

	/* Algorithms, pinned (RFC 8725 §3.1). */
	if (is->algorithms == NULL) {
		is->algs = (1u << JWS_ES256) | (1u << JWS_RS256);
		if (is->kind == IK_AWS)
			is->algs |= 1u << JWS_ES384;
	}
	for (i = 0; is->algorithms != NULL && is->algorithms[i] != NULL;
	    i++) {
		if ((a = jws_alg_from_name(is->algorithms[i])) ==
		    JWS_ALG_UNKNOWN)
			return ierr(errmsg, f, "algorithms: '%s' is not one "
			    "of ES256 ES384 EdDSA RS256 RS384 RS512 PS256",
			    is->algorithms[i]);
		if (is->kind == IK_SPIFFE && !(SVID_ALGS & (1u << a)))
			return ierr(errmsg, f, "algorithms: %s is not allowed "
			    "for JWT-SVIDs", is->algorithms[i]);
		is->algs |= 1u << a;
	}

	/* Audience: a JWT-SVID validator always requires its own. */
	if (is->kind == IK_SPIFFE && is->audience == NULL) {
		if (c->issuer == NULL)
			return ierr(errmsg, f, "kind spiffe requires audience");
		if ((is->audience = list1(c->issuer)) == NULL)
			return SF_ENOMEM;
	}
	for (i = 0; is->audience != NULL && is->audience[i] != NULL; i++)
		if (!printable(is->audience[i]))
			return ierr(errmsg, f, "audience: control character");

	if (is->subject != NULL) {
		if (is->kind != IK_OIDC && is->kind != IK_GENERIC)
			return ierr(errmsg, f, "subject: only kinds oidc and "
			    "generic take a template; kind %s maps subjects "
			    "itself", issuer_kind_name[is->kind]);
		if (!template_ok(is->subject))
			return ierr(errmsg, f, "subject: expected "
			    "\"wimse://{td}/...{claim}...\" or \"{claim}\", "
			    "got '%s'", is->subject);
	}
	if (is->accounts != NULL) {
		if (is->kind != IK_AWS && is->kind != IK_GCP &&
		    is->kind != IK_AZURE)
			return ierr(errmsg, f, "accounts: only for kinds aws, "
			    "gcp and azure");
		for (i = 0; is->accounts[i] != NULL; i++)
			if ((is->kind == IK_AWS &&
			    !aws_account_ok(is->accounts[i])) ||
			    !printable(is->accounts[i]))
				return ierr(errmsg, f, "accounts: '%s' is not "
				    "an account id", is->accounts[i]);
	}
	for (i = 0; is->typ != NULL && is->typ[i] != NULL; i++)
		if (!printable(is->typ[i]))
			return ierr(errmsg, f, "typ: control character");
	return SF_OK;
}

int
issuer_parse_buf(const struct sf_conf *c, const char *file, const char *name,
    const char *buf, size_t len, const char *base, struct issuer *is,
    char **errmsg)
{
	int rc;

	*errmsg = NULL;
	if ((is->name = sf_strdup(name)) == NULL ||
	    (is->file = sf_strdup(file)) == NULL)
		return SF_ENOMEM;
	if ((rc = conf_parse_buf(file, buf, len, issuer_keys, base, is,
	    errmsg)) != SF_OK)
		return rc;
	return issuer_check(c, is, errmsg);
}

/* The first RSA algorithm allowed: the one of RSA JWKs without "alg". */
static enum jws_alg
rsa_default(const struct issuer *is)
{
	static const enum jws_alg rsa[] = { JWS_RS256, JWS_RS384, JWS_RS512,
	    JWS_PS256 };
	enum jws_alg a;
	size_t i;

	for (i = 0; is->algorithms != NULL && is->algorithms[i] != NULL; i++)
		if ((a = jws_alg_from_name(is->algorithms[i])) >= JWS_RS256)
			return a;
	for (i = 0; i < sizeof(rsa) / sizeof(rsa[0]); i++)
		if (is->algs & (1u << rsa[i]))
			return rsa[i];
	return JWS_ALG_UNKNOWN;
}

/*
 * Build the key set of is from a JWKS or SPIFFE bundle object.  strict
 * (local files): a key that does not parse is an error; otherwise it is
 * skipped.  Keys for other uses, and keys whose algorithm is not allowed,
 * are skipped in both cases.
 */
static int
keys_from_json(const struct issuer *is, const json_t *doc, bool strict,
    struct jwks **out, char **why)
{
	struct jwks *set = NULL;
	struct jwk *k = NULL;
	json_t *keys, *v, *cp = NULL;
	const char *use;
	size_t i;
	int rc;

	*out = NULL;
	*why = NULL;
	if (!json_is_object(doc) ||
	    !json_is_array(keys = json_object_get(doc, "keys"))) {
		(void)sf_asprintf(why, "not an object with a \"keys\" array");
		return SF_EINVAL;
	}
	if ((rc = jwks_new(&set)) != SF_OK)
		return rc;
	json_array_foreach(keys, i, v) {
		use = json_string_value(json_object_get(v, "use"));
		if (is->kind == IK_SPIFFE) {
			/* SPIFFE bundle §4.2: only jwt-svid keys, kid required. */
			if (use == NULL || strcmp(use, "jwt-svid") != 0)
				continue;
			if (json_object_get(v, "kid") == NULL) {
				if (!strict)
					continue;
				(void)sf_asprintf(why, "key %zu: a jwt-svid key "
				    "needs a kid", i);
				rc = SF_EKEY;
				goto out;
			}
			if ((cp = json_copy(v)) == NULL ||
			    json_object_del(cp, "use") != 0) {
				rc = SF_ENOMEM;
				goto out;
			}
		} else if (use != NULL && strcmp(use, "sig") != 0)
			continue;
		rc = jwk_parse(cp != NULL ? cp : v, rsa_default(is), false, &k);
		json_decref(cp);
		cp = NULL;
		if (rc == SF_ENOMEM)
			goto out;
		if (rc != SF_OK) {
			if (!strict)
				continue;
			(void)sf_asprintf(why, "key %zu: %s", i, jose_why());
			goto out;
		}
		if (!(is->algs & (1u << jwk_alg(k)))) {
			log_debug("issuer %s: key %s skipped: %s not allowed",
			    is->name, jwk_kid(k), jws_alg_name(jwk_alg(k)));
			jwk_free(k);
			continue;
		}
		if ((rc = jwks_add(set, k)) != SF_OK) {
			if (rc == SF_ENOMEM)
				goto out;
			if (!strict)
				continue;
			(void)sf_asprintf(why, "key %zu: %s", i, jose_why());
			goto out;
		}
	}
	*out = set;
	set = NULL;
	rc = SF_OK;
out:
	json_decref(cp);
	jwks_free(set);
	return rc;
}

/* Parse a key document (text) for is; *keys new. */
static int
keys_from_text(const struct issuer *is, const char *text, size_t len,
    bool strict, json_t **docp, struct jwks **keys, char **why)
{
	json_t *doc = NULL;
	char *jwhy = NULL;
	int rc;

	*keys = NULL;
	*why = NULL;
	if ((rc = json_parse_strict(text, len, &doc, &jwhy)) != SF_OK) {
		(void)sf_asprintf(why, "not JSON: %s", jwhy ? jwhy : "");
		free(jwhy);
		return SF_EPARSE;
	}
	rc = keys_from_json(is, doc, strict, keys, why);
	if (rc == SF_OK && docp != NULL)
		*docp = json_incref(doc);
	json_decref(doc);
	return rc;
}

static int
load_file_keys(struct issuer *is, char **errmsg)
{
	const char *path = is->src[is->source];
	char *buf = NULL, *why = NULL;
	size_t len;
	int rc;

	rc = sf_read_file(path, ISSUER_KEYS_MAX, &buf, &len);
	if (rc != SF_OK)
		return ierr(errmsg, is->file, "%s %s: %s",
		    source_name[is->source], path, rc == SF_ENOTFOUND ||
		    rc == SF_ESYS ? strerror(errno) : sf_strerror(rc));
	rc = keys_from_text(is, buf, len, true, NULL, &is->keys, &why);
	free(buf);
	if (rc == SF_ENOMEM) {
		free(why);
		return rc;
	}
	if (rc != SF_OK) {
		rc = ierr(errmsg, is->file, "%s %s: %s",
		    source_name[is->source], path, why ? why : sf_strerror(rc));
		free(why);
		return rc;
	}
	if (jwks_count(is->keys) == 0)
		log_warn("%s: %s %s holds no usable key", is->file,
		    source_name[is->source], path);
	return SF_OK;
}

/*
 * Take a stored key document (text, new: taken) as is's keys.  On
 * failure the previous keys stay.
 */
static int
take_stored_keys(struct issuer *is, char *text, size_t len)
{
	struct jwks *keys = NULL;
	json_t *doc = NULL, *t;
	char *why = NULL;
	int rc;

	rc = keys_from_text(is, text, len, false, &doc, &keys, &why);
	if (rc != SF_OK) {
		log_err("issuer %s: stored keys (%s/%s) refused: %s", is->name,
		    ISSUER_KEYS_NS, is->name, why ? why : sf_strerror(rc));
		free(why);
		free(text);
		return rc;
	}
	t = json_object_get(doc, "fetched_at");
	is->synced_at = json_is_integer(t) ? json_integer_value(t) : 0;
	json_decref(doc);
	jwks_free(is->keys);
	is->keys = keys;
	free(is->keys_doc);
	is->keys_doc = text;
	return SF_OK;
}

static bool
is_remote(const struct issuer *is)
{
	return is->source == KS_JWKS_URL || is->source == KS_DISCOVERY ||
	    is->source == KS_BUNDLE_URL;
}

static int
load_stored_keys(struct issuer *is, struct store *st)
{
	char *val = NULL;
	size_t len = 0;
	int rc;

	rc = st == NULL ? SF_ENOTFOUND :
	    store_get(st, ISSUER_KEYS_NS, is->name, &val, &len);
	if (rc == SF_ENOTFOUND) {
		log_warn("issuer %s: keys not synced yet (run `starflyctl "
		    "issuers sync %s`); its tokens are refused until then",
		    is->name, is->name);
		return SF_OK;
	}
	if (rc != SF_OK)
		return rc;
	(void)take_stored_keys(is, val, len);
	return SF_OK;
}

static bool
name_ok(const char *n, size_t len)
{
	size_t i;

	if (len == 0 || len > ISSUER_NAME_MAX || n[0] == '.')
		return false;
	for (i = 0; i < len; i++)
		if (!((n[i] >= 'a' && n[i] <= 'z') ||
		    (n[i] >= 'A' && n[i] <= 'Z') ||
		    (n[i] >= '0' && n[i] <= '9') || n[i] == '.' ||
		    n[i] == '-' || n[i] == '_'))
			return false;
	return true;
}

static int
conf_filter(const struct dirent *d)
{
	size_t n = strlen(d->d_name);

	return n > 5 && strcmp(d->d_name + n - 5, ".conf") == 0 &&
	    d->d_name[0] != '.';
}

/* No two issuers with the same iss, nor two bundles for one domain. */
static int
check_unique(const struct issuers *is, char **errmsg)
{
	const struct issuer *a, *b;
	size_t i, j;

	for (i = 0; i < is->n; i++)
		for (j = 0; j < i; j++) {
			a = &is->v[i];
			b = &is->v[j];
			if (a->iss != NULL && b->iss != NULL &&
			    strcmp(a->iss, b->iss) == 0)
				return ierr(errmsg, a->file, "issuer %s is "
				    "already configured in %s", a->iss,
				    b->file);
			if (a->kind == IK_SPIFFE && b->kind == IK_SPIFFE &&
			    strcmp(a->trust_domain, b->trust_domain) == 0)
				return ierr(errmsg, a->file, "trust domain %s "
				    "already has a bundle in %s",
				    a->trust_domain, b->file);
		}
	return SF_OK;
}

static int
load_one(const struct sf_conf *c, struct store *st, const char *dir,
    const char *fname, struct issuer *is, char **errmsg)
{
	char *path = NULL, *buf = NULL, *name = NULL;
	size_t len;
	int rc;

	if ((rc = sf_asprintf(&path, "%s/%s", dir, fname)) != SF_OK)
		return rc;
	if ((name = sf_strndup(fname, strlen(fname) - 5)) == NULL) {
		rc = SF_ENOMEM;
		goto out;
	}
	if (!name_ok(name, strlen(name))) {
		rc = ierr(errmsg, path, "issuer name '%s': expected 1 to %d "
		    "characters of A-Z a-z 0-9 . - _", name, ISSUER_NAME_MAX);
		goto out;
	}
	if ((rc = sf_read_file(path, ISSUER_FILE_MAX, &buf, &len)) != SF_OK) {
		rc = ierr(errmsg, path, "cannot read: %s", rc == SF_ESYS ||
		    rc == SF_ENOTFOUND ? strerror(errno) : sf_strerror(rc));
		goto out;
	}
	if ((rc = issuer_parse_buf(c, path, name, buf, len, dir, is,
	    errmsg)) != SF_OK)
		goto out;
	if (is_remote(is)) {
		if ((rc = jwks_new(&is->keys)) != SF_OK ||
		    (rc = load_stored_keys(is, st)) != SF_OK)
			goto out;
	} else
		rc = load_file_keys(is, errmsg);
out:
	free(name);
	free(buf);
	free(path);
	return rc;
}

int
issuers_load(const struct sf_conf *c, struct store *st, struct issuers **out,
    char **errmsg)
{
	struct issuers *is = NULL;
	struct dirent **ents = NULL;
	char *dir = NULL;
	int n = 0, i, rc;

	*out = NULL;
	*errmsg = NULL;
	if (c == NULL || c->etc_dir == NULL)
		return SF_EINVAL;
	if ((is = calloc(1, sizeof(*is))) == NULL)
		return SF_ENOMEM;
	/* Read the marker first: a sync during the load is seen later. */
	is->gen = st != NULL ? store_generation(st) : 0;
	if ((rc = sf_asprintf(&dir, "%s/issuers.d", c->etc_dir)) != SF_OK)
		goto out;
	if ((n = scandir(dir, &ents, conf_filter, alphasort)) == -1) {
		n = 0;
		if (errno != ENOENT) {
			rc = ierr(errmsg, dir, "%s", strerror(errno));
			goto out;
		}
	}
	if (n > ISSUER_MAX) {
		rc = ierr(errmsg, dir, "more than %d issuers", ISSUER_MAX);
		goto out;
	}
	if (n > 0 && (is->v = calloc((size_t)n, sizeof(*is->v))) == NULL) {
		rc = SF_ENOMEM;
		goto out;
	}
	for (i = 0; i < n; i++) {
		rc = load_one(c, st, dir, ents[i]->d_name, &is->v[is->n++],
		    errmsg);
		if (rc != SF_OK)
			goto out;
	}
	if ((rc = check_unique(is, errmsg)) != SF_OK)
		goto out;
	*out = is;
	is = NULL;
	rc = SF_OK;
out:
	if (rc == SF_ENOMEM && *errmsg == NULL)
		(void)sf_asprintf(errmsg, "%s: out of memory", dir ? dir :
		    "issuers.d");
	for (i = 0; i < n; i++)
		free(ents[i]);
	free(ents);
	free(dir);
	issuers_free(is);
	return rc;
}

void
issuers_free(struct issuers *is)
{
	size_t i;

	if (is == NULL)
		return;
	for (i = 0; i < is->n; i++)
		issuer_clear(&is->v[i]);
	free(is->v);
	free(is);
}

size_t
issuers_count(const struct issuers *is)
{
	return is == NULL ? 0 : is->n;
}

int
issuers_refresh(struct issuers *is, struct store *st, bool *changed)
{
	struct issuer *e;
	uint64_t gen;
	char *val;
	size_t i, len;
	int rc;

	if (changed != NULL)
		*changed = false;
	if (is == NULL || st == NULL || (gen = store_generation(st)) ==
	    is->gen)
		return SF_OK;
	for (i = 0; i < is->n; i++) {
		e = &is->v[i];
		if (!is_remote(e))
			continue;
		val = NULL;
		rc = store_get(st, ISSUER_KEYS_NS, e->name, &val, &len);
		if (rc == SF_ENOTFOUND) {
			if (e->keys_doc == NULL)
				continue;
			log_warn("issuer %s: synced keys were removed from "
			    "the store; its tokens are refused", e->name);
			free(e->keys_doc);
			e->keys_doc = NULL;
			e->synced_at = 0;
			jwks_free(e->keys);
			e->keys = NULL;
			if ((rc = jwks_new(&e->keys)) != SF_OK)
				return rc;
			if (changed != NULL)
				*changed = true;
			continue;
		}
		/* Keep the old generation: the next call retries. */
		if (rc != SF_OK)
			return rc;
		if (e->keys_doc != NULL && strcmp(e->keys_doc, val) == 0) {
			free(val);
			continue;
		}
		if (take_stored_keys(e, val, len) == SF_OK) {
			log_info("issuer %s: %zu keys from the store", e->name,
			    jwks_count(e->keys));
			if (changed != NULL)
				*changed = true;
		}
	}
	is->gen = gen;
	return SF_OK;
}

int
issuers_info(const struct issuers *is, size_t i, struct issuer_info *out)
{
	const struct issuer *e;

	memset(out, 0, sizeof(*out));
	if (is == NULL || i >= is->n)
		return SF_ENOTFOUND;
	e = &is->v[i];
	out->name = e->name;
	out->file = e->file;
	out->kind = issuer_kind_name[e->kind];
	out->issuer = e->iss;
	out->trust_domain = e->trust_domain;
	out->token_types = e->type_list;
	out->source = source_name[e->source];
	out->location = e->src[e->source];
	out->remote = is_remote(e);
	out->discovery = e->source == KS_DISCOVERY;
	out->nkeys = jwks_count(e->keys);
	out->synced_at = e->synced_at;
	return SF_OK;
}

int
issuers_keys_doc(const struct issuers *is, size_t i, const char *doc,
    size_t len, const char *url, int64_t now, char **out, size_t *nkeys,
    char **why)
{
	const struct issuer *e;
	struct jwks *keys = NULL;
	json_t *d = NULL, *w = NULL, *v;
	int rc;

	*out = NULL;
	*nkeys = 0;
	*why = NULL;
	if (is == NULL || i >= is->n)
		return SF_ENOTFOUND;
	e = &is->v[i];
	if ((rc = keys_from_text(e, doc, len, false, &d, &keys, why)) !=
	    SF_OK)
		return rc;
	*nkeys = jwks_count(keys);
	jwks_free(keys);
	if (*nkeys == 0 && !(e->kind == IK_SPIFFE &&
	    json_array_size(json_object_get(d, "keys")) == 0)) {
		(void)sf_asprintf(why, "no usable key (allowed algorithms, "
		    "use \"%s\")", e->kind == IK_SPIFFE ? "jwt-svid" : "sig");
		rc = SF_EKEY;
		goto out;
	}
	if ((w = json_pack("{s:s, s:I, s:O}", "source", url, "fetched_at",
	    (json_int_t)now, "keys", json_object_get(d, "keys"))) == NULL) {
		rc = SF_ENOMEM;
		goto out;
	}
	if ((v = json_object_get(d, "spiffe_sequence")) != NULL &&
	    json_object_set(w, "spiffe_sequence", v) != 0)
		rc = SF_ENOMEM;
	else if ((v = json_object_get(d, "spiffe_refresh_hint")) != NULL &&
	    json_object_set(w, "spiffe_refresh_hint", v) != 0)
		rc = SF_ENOMEM;
	else if ((*out = json_dump_compact(w)) == NULL)
		rc = SF_ENOMEM;
out:
	json_decref(w);
	json_decref(d);
	return rc;
}
