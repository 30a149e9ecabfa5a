/*
 * set.c - Security Event Tokens received by push delivery: transmitter
 * configuration, verification (RFC 8417 §2, RFC 8935 §2, SSF 1.0 §4),
 * the CAEP/RISC event table and RFC 9493 subject identifiers.
 */
#include <glob.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/crypto.h>
#include <openssl/sha.h>

#include "starfly.h"

#define SET_TRANSMITTERS_MAX	256
#define SET_JTI_MAX		256
#define SET_EVENTS_MAX		16
#define SET_SESSION_TTL_MAX	(30LL * 86400)

struct set_transmitters {
	struct set_transmitter	*v;
	size_t			 n;
};

struct tx_conf {
	char		*issuer;
	char		*jwks_file;
	char		*audience;
	char		*bearer_sha256;
	long long	 session_ttl;
};

static const struct conf_key tx_keys[] = {
	{ "issuer", CONF_STR, offsetof(struct tx_conf, issuer), 0, 2048,
	    NULL, true },
	{ "jwks_file", CONF_PATH, offsetof(struct tx_conf, jwks_file), 0, 0,
	    NULL, true },
	{ "audience", CONF_STR, offsetof(struct tx_conf, audience), 0, 2048,
	    NULL, false },
	{ "bearer_sha256", CONF_STR, offsetof(struct tx_conf, bearer_sha256),
	    0, 64, NULL, false },
	{ "session_ttl", CONF_INT, offsetof(struct tx_conf, session_ttl), 1,
	    SET_SESSION_TTL_MAX, NULL, false },
	{ NULL, 0, 0, 0, 0, NULL, false }
};

const char *
set_err_code(enum set_err e)
{
	switch (e) {
	case SET_INVALID_REQUEST:	return "invalid_request";
	case SET_INVALID_KEY:		return "invalid_key";
	case SET_INVALID_ISSUER:	return "invalid_issuer";
	case SET_INVALID_AUDIENCE:	return "invalid_audience";
	case SET_AUTHENTICATION_FAILED:	return "authentication_failed";
	case SET_ACCESS_DENIED:		return "access_denied";
	case SET_ERR_NONE:		break;
	}
	return "invalid_request";
}

/*
 * Transmitters.
 */

static int
unhex32(const char *s, unsigned char out[32])
{
	int i, hi, lo;

	if (strlen(s) != 64)
		return SF_EINVAL;
	for (i = 0; i < 64; i++) {
		char ch = s[i];

		if (!((ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'f') ||
		    (ch >= 'A' && ch <= 'F')))
			return SF_EINVAL;
	}
	for (i = 0; i < 32; i++) {
		hi = s[2 * i] <= '9' ? s[2 * i] - '0' :
		    (s[2 * i] | 0x20) - 'a' + 10;
		lo = s[2 * i + 1] <= '9' ? s[2 * i + 1] - '0' :
		    (s[2 * i + 1] | 0x20) - 'a' + 10;
		out[i] = (unsigned char)(hi << 4 | lo);
	}
	return SF_OK;
}

static int
tx_load(struct set_transmitters *ts, const struct sf_conf *c,
    const char *path, char **errmsg)
{
	struct tx_conf tc = { 0 };
	struct set_transmitter *t;
	const char *base;
	char *doc = NULL;
	json_t *j = NULL;
	size_t len, i;
	int rc;

	tc.session_ttl = c->max_token_ttl;
	if ((rc = conf_parse(path, tx_keys, NULL, &tc, errmsg)) != SF_OK)
		goto out;
	rc = SF_ECONF;
	for (i = 0; i < ts->n; i++)
		if (strcmp(ts->v[i].issuer, tc.issuer) == 0) {
			(void)sf_asprintf(errmsg, "%s: issuer %s is also "
			    "configured in %s", path, tc.issuer, ts->v[i].file);
			goto out;
		}
	if (ts->n == SET_TRANSMITTERS_MAX) {
		(void)sf_asprintf(errmsg, "%s: more than %d transmitters",
		    path, SET_TRANSMITTERS_MAX);
		goto out;
	}
	t = &ts->v[ts->n];
	memset(t, 0, sizeof(*t));
	if (tc.bearer_sha256 != NULL) {
		if (unhex32(tc.bearer_sha256, t->bearer_sha256) != SF_OK) {
			(void)sf_asprintf(errmsg, "%s: bearer_sha256 must be "
			    "64 hex digits", path);
			goto out;
		}
		t->bearer = true;
	}
	if (sf_read_file(tc.jwks_file, 1024 * 1024, &doc, &len) != SF_OK) {
		(void)sf_asprintf(errmsg, "%s: jwks_file %s cannot be read",
		    path, tc.jwks_file);
		goto out;
	}
	if (json_parse_strict(doc, len, &j, NULL) != SF_OK ||
	    jwks_parse(j, JWS_RS256, false, &t->keys) != SF_OK) {
		(void)sf_asprintf(errmsg, "%s: jwks_file %s: %s", path,
		    tc.jwks_file, j == NULL ? "not JSON" : jose_why());
		goto out;
	}
	if (jwks_count(t->keys) == 0) {
		(void)sf_asprintf(errmsg, "%s: jwks_file %s holds no key",
		    path, tc.jwks_file);
		jwks_free(t->keys);
		t->keys = NULL;
		goto out;
	}
	base = strrchr(path, '/');
	base = base != NULL ? base + 1 : path;
	t->name = sf_strndup(base, strlen(base) - 5);
	t->file = sf_strdup(path);
	t->issuer = tc.issuer;
	tc.issuer = NULL;
	t->audience = tc.audience != NULL ? tc.audience : sf_strdup(c->issuer);
	tc.audience = NULL;
	t->session_ttl = tc.session_ttl;
	ts->n++;
	rc = (t->name && t->file && t->audience) ? SF_OK : SF_ENOMEM;
out:
	json_decref(j);
	free(doc);
	if (tc.bearer_sha256 != NULL)
		OPENSSL_cleanse(tc.bearer_sha256, strlen(tc.bearer_sha256));
	conf_free_fields(tx_keys, &tc);
	return rc;
}

int
set_transmitters_load(const struct sf_conf *c, struct set_transmitters **out,
    char **errmsg)
{
	struct set_transmitters *ts;
	char *pattern = NULL;
	glob_t g;
	size_t i;
	int rc = SF_OK, gr;

	*out = NULL;
	*errmsg = NULL;
	if ((ts = calloc(1, sizeof(*ts))) == NULL ||
	    (ts->v = calloc(SET_TRANSMITTERS_MAX, sizeof(*ts->v))) == NULL) {
		free(ts);
		return SF_ENOMEM;
	}
	if (sf_asprintf(&pattern, "%s/transmitters.d/*.conf", c->etc_dir) !=
	    SF_OK) {
		set_transmitters_free(ts);
		return SF_ENOMEM;
	}
	memset(&g, 0, sizeof(g));
	gr = glob(pattern, 0, NULL, &g);
	if (gr != 0 && gr != GLOB_NOMATCH) {
		(void)sf_asprintf(errmsg, "%s: cannot be listed", pattern);
		rc = SF_ECONF;
	}
	for (i = 0; gr == 0 && i < g.gl_pathc && rc == SF_OK; i++)
		rc = tx_load(ts, c, g.gl_pathv[i], errmsg);
	globfree(&g);
	free(pattern);
	if (rc != SF_OK) {
		set_transmitters_free(ts);
		return rc;
	}
	*out = ts;
	return SF_OK;
}

void
set_transmitters_free(struct set_transmitters *ts)
{
	size_t i;

	if (ts == NULL)
		return;
	for (i = 0; i < ts->n; i++) {
		free(ts->v[i].name);
		free(ts->v[i].file);
		free(ts->v[i].issuer);
		free(ts->v[i].audience);
		jwks_free(ts->v[i].keys);
		OPENSSL_cleanse(ts->v[i].bearer_sha256,
		    sizeof(ts->v[i].bearer_sha256));
	}
	free(ts->v);
	free(ts);
}

size_t
set_transmitters_count(const struct set_transmitters *ts)
{
	return ts != NULL ? ts->n : 0;
}

const struct set_transmitter *
set_transmitter_get(const struct set_transmitters *ts, size_t i)
{
	return ts != NULL && i < ts->n ? &ts->v[i] : NULL;
}

const struct set_transmitter *
set_transmitter_find(const struct set_transmitters *ts, const char *iss)
{
	size_t i;

	for (i = 0; ts != NULL && iss != NULL && i < ts->n; i++)
		if (strcmp(ts->v[i].issuer, iss) == 0)
			return &ts->v[i];
	return NULL;
}

/*
 * Verification.
 */

void
set_clear(struct set *s)
{
	if (s == NULL)
		return;
	json_decref(s->claims);
	memset(s, 0, sizeof(*s));
}

static int
fail(enum set_err *err, enum set_err e, char **why, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int
fail(enum set_err *err, enum set_err e, char **why, const char *fmt, ...)
{
	va_list ap;

	*err = e;
	free(*why);
	*why = NULL;
	va_start(ap, fmt);
	if (vasprintf(why, fmt, ap) == -1)
		*why = NULL;
	va_end(ap);
	return SF_EINVAL;
}

static bool
aud_has(const json_t *aud, const char *want)
{
	const json_t *m;
	size_t i;

	if (json_is_string(aud))
		return strcmp(json_string_value(aud), want) == 0;
	json_array_foreach(aud, i, m)
		if (json_is_string(m) && strcmp(json_string_value(m), want) == 0)
			return true;
	return false;
}

/*
 * The member rules shared by signed SETs and dev JSON.  strict: jti,
 * iat and aud required (aud checked by the caller).
 */
static int
check_claims(struct set *s, bool strict, int64_t now, int64_t skew,
    enum set_err *err, char **why)
{
	const json_t *c = s->claims, *v, *ev;
	const char *name;

	v = json_object_get(c, "iss");
	if (!json_is_string(v) || json_string_length(v) == 0)
		return fail(err, SET_INVALID_REQUEST, why,
		    "iss is required (a string)");
	s->iss = json_string_value(v);
	v = json_object_get(c, "jti");
	if (v != NULL || strict) {
		if (!json_is_string(v) || json_string_length(v) == 0 ||
		    json_string_length(v) > SET_JTI_MAX)
			return fail(err, SET_INVALID_REQUEST, why,
			    "jti is required (a string of 1 to %d bytes, "
			    "RFC 8417 §2.2)", SET_JTI_MAX);
		s->jti = json_string_value(v);
	}
	v = json_object_get(c, "iat");
	if (v != NULL || strict) {
		if (!json_is_integer(v) || json_integer_value(v) < 0)
			return fail(err, SET_INVALID_REQUEST, why,
			    "iat is required (a NumericDate, RFC 8417 §2.2)");
		s->iat = json_integer_value(v);
		if (s->iat > now + skew)
			return fail(err, SET_INVALID_REQUEST, why,
			    "iat is in the future");
	}
	v = json_object_get(c, "exp");
	if (v != NULL && (!json_is_integer(v) ||
	    json_integer_value(v) <= now - skew))
		return fail(err, SET_INVALID_REQUEST, why, "the SET has "
		    "expired (exp)");
	v = json_object_get(c, "aud");
	if (v != NULL && !json_is_string(v) && !json_is_array(v))
		return fail(err, SET_INVALID_REQUEST, why,
		    "aud must be a string or an array of strings");
	ev = json_object_get(c, "events");
	if (!json_is_object(ev) || json_object_size(ev) == 0)
		return fail(err, SET_INVALID_REQUEST, why, "events is "
		    "required (an object with at least one event)");
	if (json_object_size(ev) > SET_EVENTS_MAX)
		return fail(err, SET_INVALID_REQUEST, why, "more than %d "
		    "events in one SET", SET_EVENTS_MAX);
	json_object_foreach((json_t *)(uintptr_t)ev, name, v)
		if (!json_is_object(v))
			return fail(err, SET_INVALID_REQUEST, why, "event %s: "
			    "its payload must be an object", name);
	s->events = ev;
	v = json_object_get(c, "sub_id");
	if (v != NULL && !json_is_object(v))
		return fail(err, SET_INVALID_REQUEST, why,
		    "sub_id must be an object (RFC 9493)");
	if (v == NULL) {
		const json_t *e;

		/* Older CAEP/RISC events carry it in the event. */
		json_object_foreach((json_t *)(uintptr_t)ev, name, e)
			if (json_is_object(json_object_get(e, "subject"))) {
				v = json_object_get(e, "subject");
				break;
			}
	}
	s->subject = v;
	*err = SET_ERR_NONE;
	return SF_OK;
}

static bool
bearer_ok(const struct set_transmitter *t, const char *auth)
{
	unsigned char md[SHA256_DIGEST_LENGTH];
	const char *tok;
	bool ok;

	if (auth == NULL || strncasecmp(auth, "Bearer ", 7) != 0)
		return false;
	for (tok = auth + 7; *tok == ' '; tok++)
		;
	SHA256((const unsigned char *)tok, strlen(tok), md);
	ok = CRYPTO_memcmp(md, t->bearer_sha256, sizeof(md)) == 0;
	OPENSSL_cleanse(md, sizeof(md));
	return ok;
}

int
set_verify(const struct set_transmitters *ts, const char *compact,
    size_t len, const char *auth, int64_t now, int64_t skew, struct set *out,
    enum set_err *err, char **why)
{
	const struct set_transmitter *t;
	const struct jwk *key = NULL;
	struct jws *jws = NULL;
	const char *alg, *iss;
	int rc;

	memset(out, 0, sizeof(*out));
	*err = SET_ERR_NONE;
	*why = NULL;
	while (len > 0 && (compact[len - 1] == '\n' ||
	    compact[len - 1] == '\r' || compact[len - 1] == ' '))
		len--;
	if (jws_parse(compact, len, &jws) != SF_OK) {
		rc = fail(err, SET_INVALID_REQUEST, why, "not a compact JWS "
		    "(RFC 7515 §7.1): %s", jose_why());
		goto out;
	}
	/* RFC 8417 §2.3, SSF 1.0: explicit typing. */
	if (jws->typ == NULL || (strcasecmp(jws->typ, SET_TYP) != 0 &&
	    strcasecmp(jws->typ, SET_MEDIA_TYPE) != 0)) {
		rc = fail(err, SET_INVALID_REQUEST, why, "header typ must be "
		    "%s, not %s", SET_TYP, jws->typ ? jws->typ : "absent");
		goto out;
	}
	if (jws->claims == NULL) {
		rc = fail(err, SET_INVALID_REQUEST, why,
		    "the payload is not a JSON object");
		goto out;
	}
	iss = json_string_value(json_object_get(jws->claims, "iss"));
	if (iss == NULL) {
		rc = fail(err, SET_INVALID_REQUEST, why,
		    "iss is required (a string)");
		goto out;
	}
	if ((t = set_transmitter_find(ts, iss)) == NULL) {
		rc = fail(err, SET_INVALID_ISSUER, why, "no transmitter is "
		    "configured for issuer %s", iss);
		goto out;
	}
	if (t->bearer && !bearer_ok(t, auth)) {
		rc = fail(err, SET_AUTHENTICATION_FAILED, why, "transmitter %s "
		    "must send its bearer token", t->name);
		goto out;
	}
	alg = json_string_value(json_object_get(jws->header, "alg"));
	if (jws->alg == JWS_ALG_UNKNOWN) {
		if (alg != NULL && strcmp(alg, "none") == 0)
			rc = fail(err, SET_AUTHENTICATION_FAILED, why,
			    "the SET is not signed (alg none)");
		else
			rc = fail(err, SET_INVALID_KEY, why, "algorithm %s is "
			    "not accepted", alg ? alg : "(none)");
		goto out;
	}
	if (jws->kid != NULL)
		key = jwks_find(t->keys, jws->kid);
	else if (jwks_count(t->keys) == 1)
		key = jwks_get(t->keys, 0);
	if (key == NULL) {
		rc = fail(err, SET_INVALID_KEY, why, "transmitter %s has no "
		    "key %s", t->name, jws->kid ? jws->kid : "(no kid given, "
		    "and it has several)");
		goto out;
	}
	switch (jws_verify(jws, key)) {
	case SF_OK:
		break;
	case SF_EALG:
		rc = fail(err, SET_INVALID_KEY, why, "key %s is for %s, the "
		    "SET says %s", jwk_kid(key), jws_alg_name(jwk_alg(key)),
		    alg);
		goto out;
	case SF_EBADSIG:
		rc = fail(err, SET_AUTHENTICATION_FAILED, why, "the signature "
		    "does not verify with key %s of transmitter %s",
		    jwk_kid(key), t->name);
		goto out;
	default:
		rc = fail(err, SET_INVALID_KEY, why, "key %s cannot verify: %s",
		    jwk_kid(key), jose_why());
		goto out;
	}
	out->claims = json_incref(jws->claims);
	out->tx = t;
	if ((rc = check_claims(out, true, now, skew, err, why)) != SF_OK)
		goto out;
	if (!aud_has(json_object_get(out->claims, "aud"), t->audience)) {
		rc = fail(err, SET_INVALID_AUDIENCE, why, "aud must name this "
		    "receiver, %s", t->audience);
		goto out;
	}
	rc = SF_OK;
out:
	jws_free(jws);
	if (rc != SF_OK)
		set_clear(out);
	return rc;
}

int
set_from_json(const char *buf, size_t len, int64_t now, struct set *out,
    enum set_err *err, char **why)
{
	char *jwhy = NULL;
	int rc;

	memset(out, 0, sizeof(*out));
	*err = SET_ERR_NONE;
	*why = NULL;
	if (json_parse_strict(buf, len, &out->claims, &jwhy) != SF_OK ||
	    !json_is_object(out->claims)) {
		rc = fail(err, SET_INVALID_REQUEST, why, "malformed JSON "
		    "claims set: %s", jwhy ? jwhy : "not an object");
		free(jwhy);
		set_clear(out);
		return rc;
	}
	if ((rc = check_claims(out, false, now, 60, err, why)) != SF_OK)
		set_clear(out);
	return rc;
}

/*
 * Events.
 */

static int64_t
event_time(const struct set *s, const json_t *ev, int64_t now)
{
	const json_t *ts = json_object_get(ev, "event_timestamp");
	int64_t t;

	if (json_is_integer(ts))
		t = json_integer_value(ts);
	else if (json_is_real(ts))
		t = (int64_t)json_real_value(ts);
	else
		t = s->iat;
	if (t <= 0 || t > now)
		t = now;
	return t;
}

static bool
is_event(const char *uri, const char *base, const char *name)
{
	size_t bl = strlen(base);

	return strncmp(uri, base, bl) == 0 && strcmp(uri + bl, name) == 0;
}

int
set_action(const struct set *s, int64_t now, struct set_action *out,
    char **why)
{
	const char *uri, *st;
	const json_t *ev;
	enum set_effect eff;
	bool session;

	memset(out, 0, sizeof(*out));
	*why = NULL;
	json_object_foreach((json_t *)(uintptr_t)s->events, uri, ev) {
		eff = SET_NONE;
		session = false;
		if (is_event(uri, SET_CAEP, "session-revoked") ||
		    is_event(uri, SET_RISC, "sessions-revoked")) {
			eff = SET_REVOKE;
			session = true;
		} else if (is_event(uri, SET_CAEP, "credential-change")) {
			st = json_string_value(json_object_get(ev,
			    "change_type"));
			if (st == NULL) {
				(void)sf_asprintf(why, "%s: change_type is "
				    "required", uri);
				return SF_EINVAL;
			}
			if (strcmp(st, "revoke") == 0 ||
			    strcmp(st, "delete") == 0) {
				eff = SET_REVOKE;
				session = true;
			}
		} else if (is_event(uri, SET_CAEP, "device-compliance-change")) {
			st = json_string_value(json_object_get(ev,
			    "current_status"));
			/* "non-compliant" is what older transmitters send. */
			if (st != NULL && (strcmp(st, "not-compliant") == 0 ||
			    strcmp(st, "non-compliant") == 0))
				eff = SET_REVOKE;
			else if (st != NULL && strcmp(st, "compliant") == 0)
				eff = SET_LIFT;
			else {
				(void)sf_asprintf(why, "%s: current_status "
				    "must be compliant or not-compliant", uri);
				return SF_EINVAL;
			}
		} else if (is_event(uri, SET_RISC, "account-disabled") ||
		    is_event(uri, SET_RISC, "account-purged") ||
		    is_event(uri, SET_RISC, "credential-compromise"))
			eff = SET_REVOKE;
		else if (is_event(uri, SET_RISC, "account-enabled"))
			eff = SET_LIFT;
		if (eff == SET_NONE)
			continue;
		/* REVOKE beats LIFT; until-lifted beats session-level. */
		if (out->effect == SET_NONE || (eff == SET_REVOKE &&
		    (out->effect == SET_LIFT || (out->session && !session)))) {
			out->effect = eff;
			out->session = session;
			out->time = event_time(s, ev, now);
			out->event = uri;
		} else if (eff == out->effect && session == out->session &&
		    event_time(s, ev, now) > out->time)
			out->time = event_time(s, ev, now);
	}
	if (out->effect == SET_NONE)
		out->time = s->iat > 0 && s->iat <= now ? s->iat : now;
	return SF_OK;
}

/*
 * Subjects.
 */

static int
add_target(json_t *arr, const char *kind, const json_t *idv, const char *fmt,
    const char *member, char **why)
{
	const char *id = json_string_value(idv);
	size_t i;
	json_t *m;

	if (id == NULL || !revoke_valid(kind, id)) {
		(void)sf_asprintf(why, "subject format %s: %s must be a "
		    "string of 1 to 500 bytes without control characters",
		    fmt, member);
		return SF_EINVAL;
	}
	json_array_foreach(arr, i, m)
		if (strcmp(json_string_value(json_array_get(m, 0)), kind) == 0 &&
		    strcmp(json_string_value(json_array_get(m, 1)), id) == 0)
			return SF_OK;
	if (json_array_size(arr) >= SET_MAX_TARGETS) {
		(void)sf_asprintf(why, "the subject names more than %d "
		    "identifiers", SET_MAX_TARGETS);
		return SF_EINVAL;
	}
	return json_array_append_new(arr, json_pack("[s, s]", kind, id)) == 0 ?
	    SF_OK : SF_ENOMEM;
}

static int
simple_targets(const json_t *s, const char *own, json_t *arr, int depth,
    char **why)
{
	static const struct { const char *fmt, *member; } simple[] = {
		{ "uri", "uri" }, { "email", "email" }, { "opaque", "id" },
		{ "account", "uri" }, { "phone_number", "phone_number" },
		{ "did", "url" }, { "iss_sub", "sub" },
	};
	static const char *const complex_members[] = { "user", "device",
	    "session", "application", "tenant", "org_unit", "group" };
	const char *fmt;
	const json_t *v, *m;
	size_t i;
	int rc;

	if (!json_is_object(s)) {
		(void)sf_asprintf(why, "a subject identifier must be an object");
		return SF_EINVAL;
	}
	/* Starfly's own member, in any format. */
	if ((v = json_object_get(s, "spiffe_id")) != NULL)
		return add_target(arr, "sub", v, "spiffe", "spiffe_id", why);
	fmt = json_string_value(json_object_get(s, "format"));
	if (fmt == NULL) {
		(void)sf_asprintf(why, "the subject identifier has no format "
		    "(RFC 9493 §3)");
		return SF_EINVAL;
	}
	for (i = 0; i < sizeof(simple) / sizeof(simple[0]); i++) {
		if (strcmp(fmt, simple[i].fmt) != 0)
			continue;
		if (strcmp(fmt, "iss_sub") == 0 &&
		    !json_is_string(json_object_get(s, "iss"))) {
			(void)sf_asprintf(why, "subject format iss_sub: iss "
			    "is required");
			return SF_EINVAL;
		}
		return add_target(arr, "sub", json_object_get(s,
		    simple[i].member), fmt, simple[i].member, why);
	}
	if (strcmp(fmt, "spiffe") == 0)
		return add_target(arr, "sub", json_object_get(s, "uri"), fmt,
		    "uri", why);
	if (strcmp(fmt, "jwt_id") == 0) {
		v = json_object_get(s, "iss");
		if (!json_is_string(v) || !json_is_string(json_object_get(s,
		    "jti"))) {
			(void)sf_asprintf(why, "subject format jwt_id: iss and "
			    "jti are required");
			return SF_EINVAL;
		}
		/* Only this unit's tokens are ours to refuse. */
		if (own == NULL || strcmp(json_string_value(v), own) != 0)
			return SF_OK;
		return add_target(arr, "jti", json_object_get(s, "jti"), fmt,
		    "jti", why);
	}
	if (strcmp(fmt, "aliases") == 0 && depth == 0) {
		v = json_object_get(s, "identifiers");
		if (!json_is_array(v) || json_array_size(v) == 0) {
			(void)sf_asprintf(why, "subject format aliases: "
			    "identifiers must be a non-empty array");
			return SF_EINVAL;
		}
		json_array_foreach(v, i, m)
			if ((rc = simple_targets(m, own, arr, depth + 1, why)) !=
			    SF_OK)
				return rc;
		return SF_OK;
	}
	if (strcmp(fmt, "complex") == 0 && depth == 0) {
		size_t found = 0;

		for (i = 0; i < sizeof(complex_members) /
		    sizeof(complex_members[0]); i++) {
			if ((m = json_object_get(s, complex_members[i])) ==
			    NULL)
				continue;
			found++;
			if ((rc = simple_targets(m, own, arr, depth + 1, why)) !=
			    SF_OK)
				return rc;
		}
		if (found == 0) {
			(void)sf_asprintf(why, "subject format complex: no "
			    "member");
			return SF_EINVAL;
		}
		return SF_OK;
	}
	(void)sf_asprintf(why, "subject format %s is not supported%s", fmt,
	    depth > 0 && (strcmp(fmt, "aliases") == 0 ||
	    strcmp(fmt, "complex") == 0) ? " inside another" : "");
	return SF_ENOTSUP;
}

int
set_targets(const json_t *subject, const char *own_issuer, json_t **out,
    char **why)
{
	json_t *arr;
	int rc;

	*out = NULL;
	*why = NULL;
	if ((arr = json_array()) == NULL)
		return SF_ENOMEM;
	if ((rc = simple_targets(subject, own_issuer, arr, 0, why)) != SF_OK) {
		json_decref(arr);
		return rc;
	}
	*out = arr;
	return SF_OK;
}

json_t *
set_policy_subject(const json_t *subject)
{
	json_t *t = NULL, *o;
	const char *fmt = json_string_value(json_object_get(subject, "format"));
	char *why = NULL;

	if (fmt == NULL && json_object_get(subject, "spiffe_id") != NULL)
		fmt = "spiffe";
	(void)set_targets(subject, NULL, &t, &why);
	free(why);
	o = json_pack("{s:s, s:s}", "id", json_array_size(t) > 0 ?
	    json_string_value(json_array_get(json_array_get(t, 0), 1)) : "",
	    "format", fmt ? fmt : "");
	json_decref(t);
	return o;
}
