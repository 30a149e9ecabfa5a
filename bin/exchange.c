/*
 * exchange.fcgi - RFC 8693 token exchange and agent bootstrap.
 *
 * Routes:
 *   POST /v1/exchange/token   RFC 8693 §2.1 (JSON or form-encoded)
 *   POST /v1/identity/agent   agent bootstrap (API.md)
 *
 * The hot path: everything it reads is in memory (keys, issuers, policy,
 * revocation index), refreshed between requests when a cheap marker
 * moves; the only shared state it writes is the nonce table (shared
 * memory).  Privileges: the private signing key, policies, the store.
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "starfly.h"

#define GRANT_TOKEN_EXCHANGE "urn:ietf:params:oauth:grant-type:token-exchange"
#define TT_JWT		"urn:ietf:params:oauth:token-type:jwt"
#define TT_ACCESS	"urn:ietf:params:oauth:token-type:access_token"
#define MAX_AUDIENCES	16

struct xctx {
	struct prog		 prog;
	struct keyring		*kr;
	struct issuers		*issuers;
	struct clientreg	*clients;
	struct policy_watch	*pw;
	struct store		*st;
	struct revoke_index	*rv;
	struct nonce_table	*nonces;
	struct metrics		*metrics;
	struct audit		*audit;
	uint64_t		 gen;
	uint64_t		 seal_gen;
	uint64_t		 last_policy_check;
	/* The request in hand, for metrics and the audit record. */
	const char		*code;		/* OAuth error code, or NULL */
	const char		*outcome;	/* denied|revoked|replay|sealed */
	const char		*source;	/* bounded subject type label */
	char			 why[512];
};

/* Answer an error and remember it for the audit record and metrics. */
static int
xerr(struct xctx *x, struct http_req *req, int status, const char *code,
    const char *fmt, ...) __attribute__((format(printf, 5, 6)));

static int
xerr(struct xctx *x, struct http_req *req, int status, const char *code,
    const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(x->why, sizeof(x->why), fmt, ap);
	va_end(ap);
	x->code = code;
	return http_error(req, status, code, "%s", x->why);
}

/* The subject_token_type as a bounded metrics label. */
static const char *
source_label(const char *type)
{
	static const char *const types[] = { "jwt", "access_token", "oidc",
	    "spiffe-svid", "agent-mcp", "aws-sts", "gcp-wif", "azure-mi" };
	const char *tail;
	size_t i;

	if (type == NULL)
		return "none";
	if ((tail = strrchr(type, ':')) == NULL)
		return "other";
	for (i = 0; i < sizeof(types) / sizeof(types[0]); i++)
		if (strcmp(tail + 1, types[i]) == 0)
			return types[i];
	return "other";
}

/* Refresh what the hot path reads, only when its marker moved. */
static void
xbefore(void *arg)
{
	struct xctx *x = arg;
	const struct sf_conf *c = x->prog.conf;
	struct keyring *kr = NULL;
	uint64_t gen, now_ns;

	/* An unseal or seal changes what the keyring can load. */
	if (seal_generation() != x->seal_gen) {
		x->seal_gen = seal_generation();
		keyring_free(x->kr);
		x->kr = NULL;
	}
	x->code = NULL;
	x->outcome = NULL;
	x->source = "none";
	x->why[0] = '\0';
	if (x->kr == NULL || keyring_changed(x->kr)) {
		if (keyring_load(c->keys_dir, KEYRING_PRIVATE, &kr) == SF_OK) {
			keyring_free(x->kr);
			x->kr = kr;
		} else
			log_err("keyring %s: cannot load", c->keys_dir);
	}
	/* Revocations and synced issuer keys: incremental, and only when
	 * the store's change marker moved (one memory load otherwise). */
	if (x->st != NULL && (gen = store_generation(x->st)) != x->gen) {
		int rrc = x->rv == NULL ? revoke_load(x->st, sf_now(),
		    &x->rv) : revoke_refresh(x->rv, x->st, sf_now());

		if (rrc == SF_OK)
			x->gen = gen;
		else
			log_err("revocation index: cannot refresh");
		if (x->issuers != NULL && issuers_refresh(x->issuers, x->st,
		    NULL) != SF_OK)
			log_err("issuers: cannot refresh synced keys");
		metrics_revocations(x->metrics, revoke_count(x->rv));
	}
	/* Policy files: a stat walk at most once a second. */
	now_ns = sf_mono_ns();
	if (x->pw != NULL && http_reload_requested) {
		http_reload_requested = 0;
		(void)policy_watch_reload(x->pw);
	} else if (x->pw != NULL &&
	    now_ns - x->last_policy_check > 1000000000ull) {
		x->last_policy_check = now_ns;
		(void)policy_watch_refresh(x->pw);
	}
}

/* Request fields (RFC 8693 §2.1, API.md). */
static const struct field_spec exchange_fields[] = {
	{ "grant_type", FIELD_STRING, FIELD_REQUIRED, 0, 256, NULL },
	{ "subject_token", FIELD_STRING, FIELD_REQUIRED, 0, 16384, NULL },
	{ "subject_token_type", FIELD_STRING, FIELD_REQUIRED, 0, 256, NULL },
	{ "audience", FIELD_STRINGS, 0, 0, 2048, NULL },
	{ "resource", FIELD_STRINGS, 0, 0, 2048, NULL },
	{ "scope", FIELD_STRING, FIELD_EMPTY_OK, 0, 2048, NULL },
	{ "requested_token_type", FIELD_STRING, 0, 0, 256, NULL },
	{ "actor_token", FIELD_STRING, 0, 0, 16384, NULL },
	{ "actor_token_type", FIELD_STRING, 0, 0, 256, NULL },
	{ "execution_scope", FIELD_OBJECT, FIELD_JSON_STRING, 0, 0, NULL },
	{ "client_id", FIELD_STRING, 0, 0, 256, NULL },
	{ "client_secret", FIELD_STRING, 0, 0, 1024, NULL },
	{ NULL, 0, 0, 0, 0, NULL }
};

static const struct field_spec exec_fields[] = {
	{ "htm", FIELD_STRING, FIELD_REQUIRED, 0, 16, "A-Z" },
	{ "htu", FIELD_URI, FIELD_REQUIRED, 0, 2048, NULL },
	{ "nonce", FIELD_STRING, FIELD_REQUIRED, 8, 256, NULL },
	{ "inp_hash", FIELD_STRING, 0, 0, 256, NULL },
	{ "payload_hash", FIELD_STRING, 0, 0, 256, NULL },
	{ "exec_act", FIELD_STRING, 0, 0, 256, NULL },
	{ "target", FIELD_STRING, 0, 0, 2048, NULL },
	{ "wid", FIELD_STRING, 0, 0, 2048, NULL },
	{ "out_hash", FIELD_STRING, 0, 0, 256, NULL },
	{ NULL, 0, 0, 0, 0, NULL }
};

static const char *const repeatable[] = { "audience", "resource", NULL };

/*
 * The request body as an object: JSON (Starfly's shape) or
 * application/x-www-form-urlencoded (RFC 8693 §2.1).  400 on anything
 * else.
 */
static int
read_request(struct xctx *x, struct http_req *req, json_t **out)
{
	const char *mt = http_media_type(req), *body;
	char *why = NULL;
	size_t len;
	int rc;

	*out = NULL;
	body = http_body(req, &len);
	if (strcmp(mt, "application/json") == 0)
		rc = json_parse_strict(body, len, out, &why);
	else if (strcmp(mt, "application/x-www-form-urlencoded") == 0)
		rc = form_parse(body, len, repeatable, out, &why);
	else {
		xerr(x, req, 400, "invalid_request", "unsupported "
		    "Content-Type '%s': use application/json or "
		    "application/x-www-form-urlencoded", *mt ? mt : "(none)");
		return SF_EINVAL;
	}
	if (rc == SF_ENOMEM)
		return rc;
	if (rc != SF_OK || !json_is_object(*out)) {
		xerr(x, req, 400, "invalid_request", "malformed request "
		    "body: %s", why ? why : "not a JSON object");
		free(why);
		json_decref(*out);
		*out = NULL;
		return SF_EINVAL;
	}
	return SF_OK;
}

/* Gather audience and resource (RFC 8707) into one array (new). */
static int
collect_audiences(struct xctx *x, struct http_req *req, json_t *body,
    json_t **out)
{
	const char *names[] = { "audience", "resource" };
	json_t *all, *v, *m;
	size_t i, j, k;

	*out = NULL;
	if ((all = json_array()) == NULL)
		return SF_ENOMEM;
	for (i = 0; i < 2; i++) {
		v = json_object_get(body, names[i]);
		if (v == NULL)
			continue;
		for (j = 0; j < (json_is_array(v) ? json_array_size(v) : 1);
		    j++) {
			m = json_is_array(v) ? json_array_get(v, j) : v;
			/* RFC 8707 §2: resource is an absolute URI. */
			if (i == 1 && strstr(json_string_value(m), "://") ==
			    NULL) {
				json_decref(all);
				xerr(x, req, 400, "invalid_target",
				    "resource must be an absolute URI");
				return SF_EINVAL;
			}
			for (k = 0; k < json_array_size(all); k++)
				if (json_equal(json_array_get(all, k), m))
					break;
			if (k == json_array_size(all))
				json_array_append(all, m);
		}
	}
	if (json_array_size(all) == 0) {
		json_decref(all);
		xerr(x, req, 400, "invalid_request",
		    "audience or resource is required");
		return SF_EINVAL;
	}
	if (json_array_size(all) > MAX_AUDIENCES) {
		json_decref(all);
		xerr(x, req, 400, "invalid_target", "more than %d audiences",
		    MAX_AUDIENCES);
		return SF_EINVAL;
	}
	*out = all;
	return SF_OK;
}

/*
 * o with member k set to v; takes ownership of o and v.  NULL (o freed)
 * when either is NULL or the set fails, so calls chain.  Objects are
 * built member by member: json_pack parses its format on every call.
 */
static json_t *
obj_set(json_t *o, const char *k, json_t *v)
{
	if (o == NULL || v == NULL || json_object_set_new_nocheck(o, k, v) !=
	    0) {
		json_decref(v);
		json_decref(o);
		return NULL;
	}
	return o;
}

/*
 * {"id","trust_domain","type","issuer","claims"} of a validated subject
 * for the policy input (new, NULL: no memory).
 */
static json_t *
subject_json(const struct subject *s)
{
	json_t *o = json_object();

	o = obj_set(o, "id", json_string(s->id));
	o = obj_set(o, "trust_domain", json_string(s->trust_domain));
	o = obj_set(o, "type", json_string(s->type));
	o = obj_set(o, "issuer", json_string(s->issuer ? s->issuer : ""));
	return obj_set(o, "claims", s->claims ? json_incref(s->claims) :
	    json_object());
}

/* Words of a space-separated scope present in both (new string). */
static char *
scope_intersect(const char *want, const char *grant)
{
	char *out, *copy, *w, *save = NULL;
	size_t n = 0;

	if ((out = calloc(1, strlen(want) + 1)) == NULL)
		return NULL;
	if ((copy = sf_strdup(want)) == NULL) {
		free(out);
		return NULL;
	}
	for (w = strtok_r(copy, " ", &save); w != NULL;
	    w = strtok_r(NULL, " ", &save)) {
		if (!token_scope_has(grant, w) || token_scope_has(out, w))
			continue;
		if (n > 0)
			out[n++] = ' ';
		memcpy(out + n, w, strlen(w));
		n += strlen(w);
	}
	free(copy);
	return out;
}

/* Refuse a revoked subject, actor, or anyone in a nested act chain. */
static int
check_revoked(struct xctx *x, struct http_req *req, const char *who,
    const char *id, const json_t *claims, int64_t now)
{
	const char *reason = NULL;
	const json_t *act;
	int depth = 0;

	x->outcome = "revoked";
	if (revoke_check(x->rv, "sub", id, 0, now, &reason) == SF_EREVOKED) {
		xerr(x, req, 400, "invalid_request", "%s %s is revoked%s%s",
		    who, id, reason ? ": " : "", reason ? reason : "");
		return SF_EREVOKED;
	}
	for (act = json_object_get(claims, "act"); json_is_object(act) &&
	    depth < 16; act = json_object_get(act, "act"), depth++) {
		const char *a = json_string_value(json_object_get(act, "sub"));

		if (a != NULL && revoke_check(x->rv, "sub", a, 0, now,
		    &reason) == SF_EREVOKED) {
			xerr(x, req, 400, "invalid_request", "actor %s in "
			    "the %s's delegation chain is revoked", a, who);
			return SF_EREVOKED;
		}
	}
	x->outcome = NULL;
	return SF_OK;
}

/*
 * RFC 8693 §4.1 act (most recent actor outermost) and Starfly's
 * delegation rules: may_act (§4.4), depth, caps, blast radius.
 * Adds act/obo/delegation_depth to claims; caps and blast_radius of
 * claims are narrowed to the parent's.  400 on refusal.
 */
static int
apply_delegation(struct xctx *x, struct http_req *req,
    const struct subject *sub,
    const struct subject *act, json_t *claims)
{
	const json_t *sc = sub->claims;
	json_t *may, *pdepth, *pcaps, *ccaps, *v, *obo, *nact;
	const char *pb, *cb;
	size_t i;

	if (act == NULL) {
		/* A token carrying act is never re-issued without it. */
		if ((v = json_object_get(sc, "act")) != NULL)
			json_object_set(claims, "act", v);
		if ((v = json_object_get(sc, "obo")) != NULL)
			json_object_set(claims, "obo", v);
		return SF_OK;
	}
	may = json_object_get(sc, "may_act");
	if (may != NULL) {
		const char *ms = json_string_value(json_object_get(may, "sub"));
		const char *as = json_string_value(json_object_get(act->claims,
		    "sub"));

		if (ms == NULL || (strcmp(ms, act->id) != 0 &&
		    (as == NULL || strcmp(ms, as) != 0))) {
			xerr(x, req, 400, "invalid_request", "actor %s is "
			    "not allowed by the subject token's may_act",
			    act->id);
			return SF_EDENIED;
		}
	}
	pdepth = json_object_get(sc, "delegation_depth");
	if (pdepth != NULL) {
		if (!json_is_integer(pdepth) || json_integer_value(pdepth) <= 0) {
			xerr(x, req, 400, "invalid_request", "the subject "
			    "token's delegation_depth is 0: it cannot delegate");
			return SF_EDENIED;
		}
		json_object_set_new(claims, "delegation_depth",
		    json_integer(json_integer_value(pdepth) - 1));
	} else if ((v = json_object_get(claims, "delegation_depth")) != NULL &&
	    json_is_integer(v) && json_integer_value(v) > 0)
		json_object_set_new(claims, "delegation_depth",
		    json_integer(json_integer_value(v) - 1));
	/* caps only shrink: the child's are the parent's it keeps. */
	pcaps = json_object_get(sc, "caps");
	if (json_is_array(pcaps)) {
		ccaps = json_object_get(claims, "caps");
		if (!json_is_array(ccaps))
			json_object_set(claims, "caps", pcaps);
		else {
			json_t *keep = json_array();

			json_array_foreach(ccaps, i, v) {
				size_t j;
				json_t *p;

				json_array_foreach(pcaps, j, p)
					if (json_equal(p, v)) {
						json_array_append(keep, v);
						break;
					}
			}
			json_object_set_new(claims, "caps", keep);
		}
	}
	/* blast_radius only narrows. */
	pb = json_string_value(json_object_get(sc, "blast_radius"));
	cb = json_string_value(json_object_get(claims, "blast_radius"));
	if (pb != NULL && (cb == NULL || verify_blast_rank(cb) < 0 ||
	    verify_blast_rank(cb) > verify_blast_rank(pb)))
		json_object_set_new(claims, "blast_radius", json_string(pb));
	/* act: the new actor outermost, the subject's own chain inside. */
	nact = json_pack("{s:s}", "sub", act->id);
	if (nact == NULL)
		return SF_ENOMEM;
	if ((v = json_object_get(sc, "act")) != NULL)
		json_object_set(nact, "act", v);
	json_object_set_new(claims, "act", nact);
	/* obo: every principal the token acts for, original subject first. */
	obo = json_object_get(sc, "obo");
	obo = json_is_array(obo) ? json_copy(obo) : json_array();
	if (json_array_size(obo) == 0)
		json_array_append_new(obo, json_string(sub->id));
	json_array_append_new(obo, json_string(act->id));
	json_object_set_new(claims, "obo", obo);
	return SF_OK;
}

/* The policy's error obligation, if it is one we may send. */
static const char *
policy_error_code(const json_t *claims)
{
	const char *e = json_string_value(json_object_get(claims, "error"));

	if (e != NULL && (strcmp(e, "invalid_target") == 0 ||
	    strcmp(e, "invalid_scope") == 0 ||
	    strcmp(e, "invalid_request") == 0))
		return e;
	return "invalid_request";
}

/*
 * The 200 of RFC 8693 §2.2.1, written directly: the token is base64url
 * and dots, the other members are fixed but scope, which is JSON-encoded.
 * A dump of a json_t would escape-check each byte of the token.
 */
static int
token_response(struct http_req *req, const char *jwt, int64_t expires_in,
    const char *scope)
{
	static const char head[] = "{\"access_token\":\"";
	static const char mid[] = "\",\"issued_token_type\":\"" TT_JWT
	    "\",\"token_type\":\"Bearer\",\"expires_in\":";
	char *sc = NULL, *buf = NULL, num[24];
	size_t jl = strlen(jwt), nl, sl = 0, len;
	json_t *j;
	int rc;

	if (scope != NULL) {
		if ((j = json_string(scope)) == NULL ||
		    (sc = json_dump_compact(j)) == NULL) {
			json_decref(j);
			return http_json(req, 500, NULL);
		}
		json_decref(j);
		sl = strlen(sc);
	}
	nl = (size_t)snprintf(num, sizeof(num), "%" PRId64, expires_in);
	len = sizeof(head) - 1 + jl + sizeof(mid) - 1 + nl +
	    (sc != NULL ? sizeof(",\"scope\":") - 1 + sl : 0) + 2;
	if ((buf = malloc(len + 1)) == NULL) {
		free(sc);
		return http_json(req, 500, NULL);
	}
	len = 0;
#define PUT(p, n) do { memcpy(buf + len, (p), (n)); len += (n); } while (0)
	PUT(head, sizeof(head) - 1);
	PUT(jwt, jl);
	PUT(mid, sizeof(mid) - 1);
	PUT(num, nl);
	if (sc != NULL) {
		PUT(",\"scope\":", sizeof(",\"scope\":") - 1);
		PUT(sc, sl);
	}
	PUT("}\n", 2);
#undef PUT
	rc = http_raw(req, 200, "application/json", buf, len);
	sf_freezero(buf, len + 1);
	free(sc);
	return rc;
}

static int
post_token(struct http_req *req, void *arg)
{
	struct xctx *x = arg;
	const struct sf_conf *c = x->prog.conf;
	struct subject sub = { 0 }, act = { 0 };
	struct policy_decision dec = { 0 };
	const struct jwk *signer;
	json_t *body = NULL, *auds = NULL, *input = NULL, *claims = NULL;
	json_t *es, *pol, *v;
	const char *gt, *stt, *st, *rtt, *att, *at, *scope, *client;
	char *why = NULL, *granted = NULL, *jwt = NULL, jti[37];
	int64_t now = sf_now(), ttl, exp;
	bool have_actor = false;
	int rc = SF_OK;

	/* A sealed unit signs nothing (API.md: 503, outside RFC 6749). */
	if (seal_is_sealed()) {
		x->outcome = "sealed";
		xerr(x, req, 503, "temporarily_unavailable", "the unit is sealed");
		goto out;
	}
	if ((rc = read_request(x, req, &body)) != SF_OK)
		goto out;
	x->source = source_label(json_string_value(json_object_get(body,
	    "subject_token_type")));
	/* RFC 6749 §5.2: the grant type is checked first. */
	gt = json_string_value(json_object_get(body, "grant_type"));
	if (gt != NULL && strcmp(gt, GRANT_TOKEN_EXCHANGE) != 0) {
		xerr(x, req, 400, "unsupported_grant_type", "grant_type "
		    "must be %s", GRANT_TOKEN_EXCHANGE);
		goto out;
	}
	if ((rc = validate_fields(body, exchange_fields, true, &why)) !=
	    SF_OK) {
		xerr(x, req, 400, "invalid_request", "%s", why);
		goto out;
	}
	stt = json_string_value(json_object_get(body, "subject_token_type"));
	st = json_string_value(json_object_get(body, "subject_token"));
	if (!cred_type_known(stt)) {
		xerr(x, req, 400, "invalid_request", "unsupported "
		    "subject_token_type %s", stt);
		goto out;
	}
	rtt = json_string_value(json_object_get(body, "requested_token_type"));
	if (rtt != NULL && strcmp(rtt, TT_JWT) != 0 &&
	    strcmp(rtt, TT_ACCESS) != 0) {
		xerr(x, req, 400, "invalid_request", "requested_token_type "
		    "must be %s or %s", TT_JWT, TT_ACCESS);
		goto out;
	}
	at = json_string_value(json_object_get(body, "actor_token"));
	att = json_string_value(json_object_get(body, "actor_token_type"));
	if ((at == NULL) != (att == NULL)) {
		xerr(x, req, 400, "invalid_request", "actor_token and "
		    "actor_token_type go together (RFC 8693 §2.1)");
		goto out;
	}
	if (att != NULL && !cred_type_known(att)) {
		xerr(x, req, 400, "invalid_request", "unsupported "
		    "actor_token_type %s", att);
		goto out;
	}
	es = json_object_get(body, "execution_scope");
	if (es != NULL && (rc = validate_fields(es, exec_fields, false, &why))
	    != SF_OK) {
		xerr(x, req, 400, "invalid_request", "execution_scope.%s",
		    why);
		goto out;
	}
	if ((rc = collect_audiences(x, req, body, &auds)) != SF_OK)
		goto out;
	scope = json_string_value(json_object_get(body, "scope"));
	{
		const char *cwhy = NULL;
		bool basic;

		if (clientreg_authenticate(x->clients, c->public_clients,
		    http_header(req, "HTTP_AUTHORIZATION"),
		    json_string_value(json_object_get(body, "client_id")),
		    json_string_value(json_object_get(body, "client_secret")),
		    &client, &cwhy, &basic) != SF_OK) {
			/* RFC 6749 §5.2 */
			(void)http_add_header(req, "WWW-Authenticate",
			    "Basic realm=\"starfly\"");
			xerr(x, req, 401, "invalid_client", "%s", cwhy);
			goto out;
		}
	}
	if (x->kr == NULL || (signer = keyring_signer(x->kr)) == NULL) {
		xerr(x, req, 503, "temporarily_unavailable",
		    "no signing key is available");
		goto out;
	}

	/* Inbound credentials. */
	rc = cred_validate(c, x->issuers, x->kr, st, stt, now, &sub, &why);
	if (rc != SF_OK) {
		if (rc == SF_ENOMEM)
			goto out;
		xerr(x, req, 400, "invalid_request", "subject_token: %s",
		    why ? why : sf_strerror(rc));
		goto out;
	}
	if (at != NULL) {
		free(why);
		why = NULL;
		rc = cred_validate_actor(c, x->issuers, x->kr, at, att, now, &act,
		    &why);
		if (rc != SF_OK) {
			if (rc == SF_ENOMEM)
				goto out;
			xerr(x, req, 400, "invalid_request",
			    "actor_token: %s", why ? why : sf_strerror(rc));
			goto out;
		}
		have_actor = true;
	}
	if ((rc = check_revoked(x, req, "subject", sub.id, sub.claims, now))
	    != SF_OK || (have_actor && (rc = check_revoked(x, req, "actor",
	    act.id, act.claims, now)) != SF_OK))
		goto out;

	/* Policy: data.starfly.exchange. */
	input = obj_set(json_object(), "action", json_string("exchange"));
	input = obj_set(input, "target", json_incref(json_array_get(auds, 0)));
	input = obj_set(input, "audiences", json_incref(auds));
	input = obj_set(input, "subject", subject_json(&sub));
	input = obj_set(input, "context", obj_set(obj_set(json_object(),
	    "scope", json_string(scope ? scope : "")), "client_id",
	    json_string(client ? client : "")));
	if (input == NULL) {
		rc = SF_ENOMEM;
		goto out;
	}
	if (have_actor)
		json_object_set_new(input, "actor", subject_json(&act));
	if (es != NULL)
		json_object_set(json_object_get(input, "context"),
		    "execution_scope", es);
	if (strcmp(stt, "urn:starfly:token-type:agent-mcp") == 0)
		json_object_set_new(json_object_get(input, "context"), "agent",
		    json_pack("{s:s, s:O?, s:O?}", "workload_id", sub.id,
		    "platform", json_object_get(sub.claims, "agent_platform"),
		    "caps", json_object_get(sub.claims, "caps")));
	if (x->pw == NULL || policy_watch_current(x->pw) == NULL) {
		xerr(x, req, 500, "server_error", "no policy is loaded");
		goto out;
	}
	{
		uint64_t t0 = sf_mono_ns();

		rc = policy_decide(policy_watch_current(x->pw), "exchange",
		    input, &dec);
		metrics_policy(x->metrics, "exchange", sf_mono_ns() - t0);
	}
	if (rc != SF_OK) {
		log_err("exchange policy evaluation failed: %s",
		    sf_strerror(rc));
		xerr(x, req, 500, "server_error", "policy evaluation failed");
		goto out;
	}
	pol = dec.claims;
	if (!dec.allow) {
		x->outcome = "denied";
		xerr(x, req, 400, policy_error_code(pol), "denied by policy%s%s",
		    (c->show_reasons && dec.reason) ? ": " : "",
		    (c->show_reasons && dec.reason) ? dec.reason : "");
		/* The audit trail always keeps the policy's reason. */
		if (dec.reason != NULL)
			snprintf(x->why, sizeof(x->why), "denied by policy: %s",
			    dec.reason);
		goto out;
	}
	/* Several audiences need the policy's consent, each of them. */
	if (json_array_size(auds) > 1) {
		json_t *ok = json_object_get(pol, "audiences"), *a;
		size_t i, j;

		if (!json_is_array(ok)) {
			xerr(x, req, 400, "invalid_target", "%zu audiences "
			    "requested; the policy consents to one",
			    json_array_size(auds));
			goto out;
		}
		json_array_foreach(auds, i, a) {
			json_t *b;
			bool found = false;

			json_array_foreach(ok, j, b)
				if (json_equal(a, b))
					found = true;
			if (!found) {
				xerr(x, req, 400, "invalid_target",
				    "audience %s is not permitted",
				    json_string_value(a));
				goto out;
			}
		}
	}
	/* Scope: the requested one intersected with the policy's grant. */
	if (scope != NULL && *scope != '\0') {
		v = json_object_get(pol, "scope");
		if (v != NULL) {
			const char *g = json_is_string(v) ?
			    json_string_value(v) : "";

			if ((granted = scope_intersect(scope, g)) == NULL) {
				rc = SF_ENOMEM;
				goto out;
			}
			if (*granted == '\0') {
				xerr(x, req, 400, "invalid_scope", "scope "
				    "'%s' is not permitted", scope);
				goto out;
			}
		} else if ((granted = sf_strdup(scope)) == NULL) {
			rc = SF_ENOMEM;
			goto out;
		}
	}

	/* Lifetime: default or execution-scoped, lowered by ttl, never
	 * past the subject token's own exp. */
	ttl = es != NULL ? c->exec_token_ttl : c->token_ttl;
	v = json_object_get(pol, "ttl");
	if (json_is_integer(v) && json_integer_value(v) > 0 &&
	    json_integer_value(v) < ttl)
		ttl = json_integer_value(v);
	exp = now + ttl;
	if (sub.exp > 0 && sub.exp < exp)
		exp = sub.exp;
	if (exp <= now) {
		xerr(x, req, 400, "invalid_request", "subject_token "
		    "expires now");
		goto out;
	}
	if (sf_uuid4(jti) != SF_OK) {
		rc = SF_ECRYPTO;
		goto out;
	}
	claims = obj_set(json_object(), "iss", json_string(c->issuer));
	claims = obj_set(claims, "sub", json_string(sub.id));
	claims = obj_set(claims, "aud", json_incref(json_array_size(auds) ==
	    1 ? json_array_get(auds, 0) : auds));
	claims = obj_set(claims, "iat", json_integer(now));
	claims = obj_set(claims, "exp", json_integer(exp));
	claims = obj_set(claims, "jti", json_string(jti));
	claims = obj_set(claims, "td", json_string(sub.trust_domain));
	claims = obj_set(claims, "client_id", json_string(client ? client :
	    sub.id));
	if (claims == NULL) {
		rc = SF_ENOMEM;
		goto out;
	}
	if (granted != NULL)
		json_object_set_new(claims, "scope", json_string(granted));
	if ((v = json_object_get(pol, "caps")) != NULL && json_is_array(v))
		json_object_set(claims, "caps", v);
	if ((v = json_object_get(pol, "blast_radius")) != NULL &&
	    json_is_string(v))
		json_object_set(claims, "blast_radius", v);
	if ((v = json_object_get(pol, "delegation_depth")) != NULL &&
	    json_is_integer(v))
		json_object_set(claims, "delegation_depth", v);
	if ((rc = apply_delegation(x, req, &sub, have_actor ? &act : NULL,
	    claims)) != SF_OK) {
		if (rc == SF_ENOMEM)
			goto out;
		goto out;
	}
	if (es != NULL) {
		const char *fields[] = { "htm", "htu", "nonce", "inp_hash",
		    "exec_act", "target", "wid" };
		size_t i;

		for (i = 0; i < sizeof(fields) / sizeof(fields[0]); i++)
			if ((v = json_object_get(es, fields[i])) != NULL)
				json_object_set(claims, fields[i], v);
		if (json_object_get(es, "inp_hash") == NULL &&
		    (v = json_object_get(es, "payload_hash")) != NULL)
			json_object_set(claims, "inp_hash", v);
		/* Replay check last: a refused request burns no nonce. */
		rc = x->nonces != NULL ? nonce_use(x->nonces,
		    json_string_value(json_object_get(es, "nonce")), now,
		    exp + c->clock_skew) : SF_ESYS;
		if (rc == SF_EREPLAY) {
			x->outcome = "replay";
			xerr(x, req, 400, "invalid_request",
			    "execution_scope nonce was already used");
			goto out;
		}
		if (rc != SF_OK) {
			xerr(x, req, 503, "temporarily_unavailable",
			    "nonce table unavailable: %s", sf_strerror(rc));
			goto out;
		}
	}
	if ((rc = jws_sign_jwt(signer, TOKEN_TYP_ACCESS, claims, &jwt)) !=
	    SF_OK) {
		log_err("signing failed: %s", sf_strerror(rc));
		xerr(x, req, 500, "server_error", "signing failed");
		goto out;
	}
	(void)http_add_header(req, "Cache-Control", "no-store");
	(void)http_add_header(req, "Pragma", "no-cache");
	rc = token_response(req, jwt, exp - now, granted);
out:
	if (http_status(req) != 0)
		(void)audit_record(x->audit, http_request_id(req), "exchange",
		    "exchange", sub.id, auds ? json_string_value(
		    json_array_get(auds, 0)) : NULL,
		    http_status(req) == 200 ? "allow" : "deny",
		    x->why[0] != '\0' ? x->why : NULL, NULL);
	sf_strfree_secret(jwt);
	free(granted);
	free(why);
	json_decref(claims);
	json_decref(input);
	json_decref(auds);
	json_decref(body);
	policy_decision_clear(&dec);
	subject_clear(&sub);
	subject_clear(&act);
	return rc;
}

static const struct field_spec agent_fields[] = {
	{ "agent_name", FIELD_STRING, FIELD_REQUIRED, 0, 128, "A-Za-z0-9._-" },
	{ "platform", FIELD_STRING, FIELD_REQUIRED, 0, 16, NULL },
	{ "capabilities", FIELD_STRING_ARRAY, FIELD_REQUIRED, 0, 128, NULL },
	{ "on_behalf_of", FIELD_STRING, 0, 0, 2048, NULL },
	{ "max_blast_radius", FIELD_STRING, 0, 0, 32, NULL },
	{ "delegation_depth", FIELD_INT, 0, 0, 16, NULL },
	{ "metadata", FIELD_OBJECT, 0, 0, 0, NULL },
	{ NULL, 0, 0, 0, 0, NULL }
};

static int
post_agent(struct http_req *req, void *arg)
{
	struct xctx *x = arg;
	const struct sf_conf *c = x->prog.conf;
	static const char *const platforms[] = { "mcp", "a2a", "watsonx",
	    "custom" };
	const struct jwk *signer;
	json_t *body = NULL, *claims = NULL, *rec = NULL, *v;
	const char *name, *platform, *br;
	char *why = NULL, *wid = NULL, *jwt = NULL, *val = NULL, ts[21];
	int64_t now = sf_now(), exp;
	size_t i;
	int rc;

	if (seal_is_sealed()) {
		rc = xerr(x, req, 503, "temporarily_unavailable",
		    "the unit is sealed");
		goto out;
	}
	if (c->mode != SF_MODE_DEV && token_check_admin(x->kr, c->issuer,
	    http_header(req, "HTTP_AUTHORIZATION"), now, c->clock_skew, &why)
	    != SF_OK) {
		(void)http_add_header(req, "WWW-Authenticate",
		    "Bearer error=\"invalid_token\"");
		rc = xerr(x, req, 401, "invalid_token", "%s", why);
		goto out;
	}
	if ((rc = read_request(x, req, &body)) != SF_OK)
		goto out;
	if ((rc = validate_fields(body, agent_fields, false, &why)) != SF_OK) {
		rc = xerr(x, req, 400, "invalid_request", "%s", why);
		goto out;
	}
	name = json_string_value(json_object_get(body, "agent_name"));
	platform = json_string_value(json_object_get(body, "platform"));
	for (i = 0; i < 4; i++)
		if (strcmp(platform, platforms[i]) == 0)
			break;
	if (i == 4) {
		rc = xerr(x, req, 400, "invalid_request", "platform must "
		    "be one of mcp, a2a, watsonx, custom");
		goto out;
	}
	if (json_array_size(json_object_get(body, "capabilities")) == 0) {
		rc = xerr(x, req, 400, "invalid_request",
		    "capabilities must not be empty");
		goto out;
	}
	br = json_string_value(json_object_get(body, "max_blast_radius"));
	if (br != NULL && verify_blast_rank(br) < 0) {
		rc = xerr(x, req, 400, "invalid_request", "max_blast_radius "
		    "must be function, service, namespace, cluster, workspace, "
		    "trust_domain or fabric");
		goto out;
	}
	if (x->kr == NULL || (signer = keyring_signer(x->kr)) == NULL) {
		rc = xerr(x, req, 503, "temporarily_unavailable",
		    "no signing key is available");
		goto out;
	}
	if (sf_asprintf(&wid, "wimse://%s/agent/%s/%s", c->trust_domain,
	    platform, name) != SF_OK) {
		rc = SF_ENOMEM;
		goto out;
	}
	exp = now + c->max_token_ttl;
	claims = json_pack("{s:s, s:s, s:I, s:I, s:s, s:s, s:O}",
	    "iss", c->issuer, "sub", wid, "iat", (json_int_t)now,
	    "exp", (json_int_t)exp, "td", c->trust_domain,
	    "agent_platform", platform,
	    "caps", json_object_get(body, "capabilities"));
	if (claims == NULL) {
		rc = SF_ENOMEM;
		goto out;
	}
	if (br != NULL)
		json_object_set_new(claims, "blast_radius", json_string(br));
	if ((v = json_object_get(body, "on_behalf_of")) != NULL)
		json_object_set(claims, "obo", v);
	if ((v = json_object_get(body, "delegation_depth")) != NULL)
		json_object_set(claims, "delegation_depth", v);
	/* Record the agent durably before answering. */
	rec = json_deep_copy(body);
	token_rfc3339(now, ts);
	json_object_set_new(rec, "workload_id", json_string(wid));
	json_object_set_new(rec, "registered_at", json_string(ts));
	if ((val = json_dump_compact(rec)) == NULL) {
		rc = SF_ENOMEM;
		goto out;
	}
	if (x->st == NULL || (rc = store_put(x->st, "agent", wid, val,
	    strlen(val), STORE_REPLACE)) != SF_OK) {
		log_err("agent %s: store: %s", wid, sf_strerror(rc));
		rc = xerr(x, req, 500, "server_error",
		    "cannot record the agent");
		goto out;
	}
	if ((rc = jws_sign_jwt(signer, TOKEN_TYP_AGENT, claims, &jwt)) !=
	    SF_OK) {
		rc = xerr(x, req, 500, "server_error", "signing failed");
		goto out;
	}
	token_rfc3339(exp, ts);
	(void)http_add_header(req, "Cache-Control", "no-store");
	rc = http_json(req, 200, json_pack("{s:s, s:s, s:s}", "workload_id",
	    wid, "token", jwt, "expires_at", ts));
out:
	(void)audit_record(x->audit, http_request_id(req), "agent",
	    "bootstrap", wid, NULL, http_status(req) == 200 ? "allow" : "deny",
	    x->why[0] != '\0' ? x->why : NULL, NULL);
	sf_strfree_secret(jwt);
	free(val);
	free(wid);
	free(why);
	json_decref(rec);
	json_decref(claims);
	json_decref(body);
	return rc;
}

/* Per request: the generic counters, and the exchange's own. */
static void
xafter(struct http_req *req, void *arg)
{
	struct xctx *x = arg;
	uint64_t ns = sf_mono_ns() - http_start_ns(req);

	metrics_after(req, NULL);
	if (strcmp(http_path(req), "/v1/exchange/token") == 0)
		metrics_exchange(x->metrics, http_status(req) == 200 ?
		    "success" : x->outcome != NULL ? x->outcome :
		    x->code != NULL ? x->code : "other", x->source, ns);
}

static const struct http_route routes[] = {
	{ "/v1/exchange/token", HTTP_POST, 0, post_token },
	{ "/v1/identity/agent", HTTP_POST, 0, post_agent },
};

int
main(int argc, char *argv[])
{
	struct xctx x = { 0 };
	struct http_server srv = { 0 };
	char *err = NULL, *npath = NULL;
	int rc;

	if (prog_init(&x.prog, "exchange.fcgi", &argc, argv) != SF_OK)
		return 1;
	if (seal_open(x.prog.conf) != SF_OK)
		log_warn("seal state unavailable: the unit is treated as sealed");
	x.seal_gen = seal_generation();
	prog_open_shared(&x.prog, "exchange", &x.pw, &x.metrics, &x.audit);
	if ((rc = store_open(x.prog.conf->store, false, &x.st)) != SF_OK)
		log_warn("store %s: %s (run starflyctl init)",
		    x.prog.conf->store, sf_strerror(rc));
	if (sf_asprintf(&npath, "%s/nonces.shm", x.prog.conf->run_dir) ==
	    SF_OK && nonce_open(npath, &x.nonces) != SF_OK)
		log_warn("nonce table %s unavailable", npath);
	free(npath);
	if (clientreg_load(x.prog.conf, &x.clients, &err) != SF_OK) {
		fprintf(stderr, "exchange.fcgi: %s\n", err ? err : "clients");
		log_err("clients: %s", err ? err : "cannot load");
		free(err);
		return 1;
	}
	err = NULL;
	if (issuers_load(x.prog.conf, x.st, &x.issuers, &err) != SF_OK) {
		log_err("issuers: %s", err ? err : "cannot load");
		free(err);
	}
	/* Revocations posted to the shared ring reach us without a store
	 * read (signals.fcgi writes it after each synced commit). */
	if (x.st != NULL)
		(void)revoke_ring_open(x.prog.conf->store);
	x.gen = x.st != NULL ? store_generation(x.st) : 0;
	if (x.st != NULL && revoke_load(x.st, sf_now(), &x.rv) != SF_OK)
		log_err("revocation index: cannot load");
	prog_server(&x.prog, &srv, routes, sizeof(routes) / sizeof(routes[0]),
	    &x);
	srv.before = xbefore;
	srv.after = xafter;
	rc = http_serve(&srv);
	policy_watch_free(x.pw);
	audit_close(x.audit);
	metrics_close(x.metrics);
	nonce_close(x.nonces);
	revoke_free(x.rv);
	issuers_free(x.issuers);
	clientreg_free(x.clients);
	keyring_free(x.kr);
	store_close(x.st);
	prog_fini(&x.prog);
	return rc == SF_OK ? 0 : 1;
}
