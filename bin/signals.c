/*
 * signals.fcgi - the OpenID Shared Signals receiver (CAEP, RISC) and
 * the federation view of the revocation set.
 *
 * Routes:
 *   POST /v1/signals/events               SET push (RFC 8935)
 *   GET  /v1/signals/status               counts per event type
 *   GET  /v1/federation/revocation-hash   hash of the revocation set
 *   GET  /v1/federation/revocation-export the set, with its hash
 *
 * A push is answered 202 only after its revocations (and the marker of
 * its jti, and the statistics) are synced to the store in one write;
 * every other process sees them at its next request through the
 * revocation journal (lib/revoke.c).  Privileges: store read/write
 * (revocations), the transmitters' public keys, policies.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "starfly.h"

#define STATS_NS	"signal-stats"
#define STATS_KEY	"events"
#define JTI_NS		"set-jti"
#define STORE_WAIT_MS	10000
#define SET_SSF_VERIFICATION \
	"https://schemas.openid.net/secevent/ssf/event-type/verification"

struct sctx {
	struct prog		 prog;
	struct store		*st;
	struct set_transmitters	*tx;
	struct policy_watch	*pw;
	struct revoke_index	*rv;
	struct metrics		*m;
	struct audit		*audit;
	uint64_t		 last_policy_check;
	uint64_t		 rv_count;
	/* The federation hash, kept until the set can have changed. */
	bool			 hash_ok;
	uint64_t		 hash_pos;
	int64_t			 hash_until;	/* an entry expires then */
	int64_t			 hash_at;
	size_t			 hash_count;
	char			 hash[72];
};

static void
load_transmitters(struct sctx *x)
{
	struct set_transmitters *ts = NULL;
	char *err = NULL;

	if (set_transmitters_load(x->prog.conf, &ts, &err) != SF_OK) {
		log_err("transmitters: %s", err ? err : "cannot load");
		free(err);
		return;
	}
	set_transmitters_free(x->tx);
	x->tx = ts;
}

static void
sbefore(void *arg)
{
	struct sctx *x = arg;
	uint64_t now_ns;
	int rc;

	if (x->st != NULL) {
		if (x->rv == NULL)
			rc = revoke_load(x->st, sf_now(), &x->rv);
		else
			rc = revoke_refresh(x->rv, x->st, sf_now());
		if (rc != SF_OK)
			log_err("revocation index: cannot refresh: %s",
			    sf_strerror(rc));
		if (revoke_count(x->rv) != x->rv_count) {
			x->rv_count = revoke_count(x->rv);
			metrics_revocations(x->m, x->rv_count);
		}
	}
	now_ns = sf_mono_ns();
	if (http_reload_requested || now_ns - x->last_policy_check >
	    1000000000ull) {
		x->last_policy_check = now_ns;
		if (x->pw != NULL)
			(void)policy_watch_refresh(x->pw);
		if (http_reload_requested)
			load_transmitters(x);
		http_reload_requested = 0;
	}
}

/* RFC 8935 §2.3 error response. */
static int
set_error(struct http_req *req, int status, const char *code,
    const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static int
set_error(struct http_req *req, int status, const char *code,
    const char *fmt, ...)
{
	va_list ap;
	char *d = NULL;
	int rc;

	va_start(ap, fmt);
	if (vasprintf(&d, fmt, ap) == -1)
		d = NULL;
	va_end(ap);
	rc = http_json(req, status, json_pack("{s:s, s:s}", "err", code,
	    "description", d ? d : code));
	free(d);
	return rc;
}

/* The statistics member of an event type (a bounded set). */
static const char *
event_label(const char *uri)
{
	static const char *const known[] = {
		SET_CAEP "session-revoked", SET_CAEP "credential-change",
		SET_CAEP "device-compliance-change",
		SET_CAEP "token-claims-change",
		SET_CAEP "assurance-level-change",
		SET_RISC "account-disabled", SET_RISC "account-enabled",
		SET_RISC "account-purged", SET_RISC "credential-compromise",
		SET_RISC "sessions-revoked", SET_RISC "identifier-changed",
		SET_SSF_VERIFICATION,
	};
	size_t i;

	for (i = 0; i < sizeof(known) / sizeof(known[0]); i++)
		if (strcmp(known[i], uri) == 0)
			return known[i];
	return "other";
}

static void
count_events(struct sctx *x, const json_t *events, const char *result)
{
	const char *uri;
	json_t *v;

	json_object_foreach((json_t *)(uintptr_t)events, uri, v)
		metrics_signal(x->m, uri, result);
}

/* Seen-jti key: hex SHA-256 of iss, a newline, jti. */
static int
jti_key(const char *iss, const char *jti, char out[65])
{
	static const char hex[] = "0123456789abcdef";
	unsigned char md[32];
	unsigned int n = 0;
	EVP_MD_CTX *ctx;
	int i, ok;

	if ((ctx = EVP_MD_CTX_new()) == NULL)
		return SF_ENOMEM;
	ok = EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) == 1 &&
	    EVP_DigestUpdate(ctx, iss, strlen(iss)) == 1 &&
	    EVP_DigestUpdate(ctx, "\n", 1) == 1 &&
	    EVP_DigestUpdate(ctx, jti, strlen(jti)) == 1 &&
	    EVP_DigestFinal_ex(ctx, md, &n) == 1 && n == 32;
	EVP_MD_CTX_free(ctx);
	if (!ok)
		return SF_ECRYPTO;
	for (i = 0; i < 32; i++) {
		out[2 * i] = hex[md[i] >> 4];
		out[2 * i + 1] = hex[md[i] & 15];
	}
	out[64] = '\0';
	return SF_OK;
}

/* Policy input of API.md for a signal (new). */
static json_t *
signal_input(const struct sctx *x, const struct set *s)
{
	const json_t *aud = json_object_get(s->claims, "aud");
	const char *target, *uri;
	json_t *types, *v, *in;

	target = json_is_string(aud) ? json_string_value(aud) :
	    json_string_value(json_array_get(aud, 0));
	if ((types = json_array()) == NULL)
		return NULL;
	json_object_foreach((json_t *)(uintptr_t)s->events, uri, v)
		json_array_append_new(types, json_string(uri));
	in = json_pack("{s:s, s:s, s:o, s:{s:o, s:s?, s:s, s:O}}",
	    "action", "signal",
	    "target", target ? target : x->prog.conf->issuer,
	    "subject", s->subject ? set_policy_subject(s->subject) :
	    json_pack("{s:s, s:s}", "id", "", "format", ""),
	    "context", "event_types", types, "jti", s->jti, "iss", s->iss,
	    "events", s->events);
	return in;
}

struct push {
	struct set		 set;
	struct set_action	 act;
	json_t			*targets;
	struct revoke_op	*ops;
	size_t			 nops;
	char			*source;
	char			*mark;
	char			 jkey[65];
	int64_t			 expires;
};

static void
push_clear(struct push *p)
{
	set_clear(&p->set);
	json_decref(p->targets);
	free(p->ops);
	free(p->source);
	free(p->mark);
}

/* The store ops for p: one per target, the jti marker, statistics. */
static int
build_ops(const struct sctx *x, struct push *p, int64_t now)
{
	const struct sf_conf *c = x->prog.conf;
	const char *uri;
	json_t *t, *v;
	size_t i, n = 0, cap;
	int64_t ttl;

	cap = json_array_size(p->targets) + 1 + json_object_size(p->set.events);
	if ((p->ops = calloc(cap, sizeof(*p->ops))) == NULL)
		return SF_ENOMEM;
	ttl = p->set.tx != NULL ? p->set.tx->session_ttl : c->max_token_ttl;
	if (p->expires == 0 && p->act.session)
		p->expires = p->act.time + ttl;
	if (sf_asprintf(&p->source, "%s%s", p->set.tx ? "ssf:" : "dev-json:",
	    p->set.tx ? p->set.tx->name : p->set.iss) != SF_OK)
		return SF_ENOMEM;
	json_array_foreach(p->targets, i, t) {
		struct revoke_op *op = &p->ops[n];

		if (p->act.effect == SET_NONE)
			break;
		op->kind = json_string_value(json_array_get(t, 0));
		op->id = json_string_value(json_array_get(t, 1));
		op->event = p->set.jti;
		op->source = p->source;
		if (p->act.effect == SET_REVOKE) {
			op->type = REVOKE_PUT;
			op->time = p->act.time;
			op->expires = p->expires;
			op->reason = p->act.event;
		} else {
			op->type = REVOKE_LIFT;
			op->time = now;
			op->token_ttl = c->max_token_ttl;
		}
		n++;
	}
	if (p->set.jti != NULL) {
		if (jti_key(p->set.iss, p->set.jti, p->jkey) != SF_OK)
			return SF_ECRYPTO;
		json_t *m = json_pack("{s:s, s:s, s:I}", "iss", p->set.iss,
		    "jti", p->set.jti, "at", (json_int_t)now);

		p->mark = m != NULL ? json_dump_compact(m) : NULL;
		json_decref(m);
		if (p->mark == NULL)
			return SF_ENOMEM;
		p->ops[n].type = REVOKE_MARK;
		p->ops[n].ns = JTI_NS;
		p->ops[n].key = p->jkey;
		p->ops[n].val = p->mark;
		n++;
	}
	json_object_foreach((json_t *)(uintptr_t)p->set.events, uri, v) {
		p->ops[n].type = REVOKE_COUNT;
		p->ops[n].ns = STATS_NS;
		p->ops[n].key = STATS_KEY;
		p->ops[n].val = event_label(uri);
		p->ops[n].time = now;
		n++;
	}
	p->nops = n;
	return SF_OK;
}

static void
audit_push(struct sctx *x, struct http_req *req, const struct push *p,
    const char *decision, const char *reason)
{
	json_t *extra;
	size_t i;
	const char *eff = p->act.effect == SET_REVOKE ? "revoke" :
	    p->act.effect == SET_LIFT ? "lift" : "none";

	extra = json_pack("{s:s?, s:s?, s:s, s:O?}", "jti", p->set.jti,
	    "event", p->act.event, "effect", eff, "targets", p->targets);
	(void)audit_record(x->audit, http_request_id(req), "signal",
	    p->act.event ? p->act.event : "event", p->set.subject ?
	    json_string_value(json_array_get(json_array_get(p->targets, 0),
	    1)) : NULL, p->set.iss, decision, reason, extra);
	json_decref(extra);
	if (strcmp(decision, "accept") != 0)
		return;
	for (i = 0; i < p->nops; i++) {
		const struct revoke_op *op = &p->ops[i];

		if (op->type != REVOKE_PUT && op->type != REVOKE_LIFT)
			continue;
		extra = json_pack("{s:s, s:s, s:I}", "kind", op->kind,
		    "source", p->source, "expires", (json_int_t)op->expires);
		(void)audit_record(x->audit, http_request_id(req),
		    "revocation", op->type == REVOKE_PUT ? "revoke" : "lift",
		    op->id, p->set.iss, op->result == SF_OK ? "applied" :
		    "nothing to lift", p->act.event, extra);
		json_decref(extra);
	}
}

static int
post_events(struct http_req *req, void *arg)
{
	struct sctx *x = arg;
	const struct sf_conf *c = x->prog.conf;
	struct policy_decision dec = { 0 };
	struct push p;
	enum set_err err = SET_ERR_NONE;
	const char *mt = http_media_type(req), *body;
	json_t *input = NULL, *v;
	char *why = NULL, *val = NULL;
	int64_t now = sf_now();
	size_t len;
	int rc;

	memset(&p, 0, sizeof(p));
	body = http_body(req, &len);
	if (strcmp(mt, SET_MEDIA_TYPE) == 0)
		rc = set_verify(x->tx, body, len, http_header(req,
		    "HTTP_AUTHORIZATION"), now, c->clock_skew, &p.set, &err,
		    &why);
	else if (strcmp(mt, "application/json") == 0 &&
	    c->mode == SF_MODE_DEV)
		rc = set_from_json(body, len, now, &p.set, &err, &why);
	else {
		metrics_signal(x->m, "unknown", "rejected");
		return set_error(req, 400, "invalid_request", "Content-Type "
		    "must be %s (RFC 8935 §2)%s", SET_MEDIA_TYPE,
		    c->mode == SF_MODE_DEV ? " or, in dev mode, "
		    "application/json" : "");
	}
	if (rc == SF_ENOMEM)
		goto out;
	if (rc != SF_OK) {
		metrics_signal(x->m, "unknown", "rejected");
		(void)audit_record(x->audit, http_request_id(req), "signal",
		    "event", NULL, NULL, "reject", why, NULL);
		rc = set_error(req, 400, set_err_code(err), "%s", why ? why :
		    "the SET is not acceptable");
		goto out;
	}
	/* A re-delivered jti: acknowledged again, applied once. */
	if (p.set.jti != NULL && x->st != NULL &&
	    jti_key(p.set.iss, p.set.jti, p.jkey) == SF_OK &&
	    store_get(x->st, JTI_NS, p.jkey, &val, &len) == SF_OK) {
		count_events(x, p.set.events, "duplicate");
		rc = http_raw(req, 202, NULL, NULL, 0);
		goto out;
	}
	free(why);
	why = NULL;
	if (set_action(&p.set, now, &p.act, &why) != SF_OK) {
		count_events(x, p.set.events, "rejected");
		rc = set_error(req, 400, "invalid_request", "%s", why);
		goto out;
	}
	if (p.set.subject != NULL) {
		rc = set_targets(p.set.subject, c->issuer, &p.targets, &why);
		if (rc == SF_ENOMEM)
			goto out;
		if (rc != SF_OK) {
			count_events(x, p.set.events, "rejected");
			rc = set_error(req, 400, "invalid_request", "%s", why);
			goto out;
		}
	} else if (p.act.effect != SET_NONE) {
		count_events(x, p.set.events, "rejected");
		rc = set_error(req, 400, "invalid_request", "event %s names no "
		    "subject (sub_id, RFC 9493)", p.act.event);
		goto out;
	} else if ((p.targets = json_array()) == NULL) {
		rc = SF_ENOMEM;
		goto out;
	}

	/* The signal policy: allow, and the revoke_tokens obligation. */
	if (x->pw == NULL || policy_watch_current(x->pw) == NULL) {
		count_events(x, p.set.events, "error");
		rc = set_error(req, 500, "server_error", "no policy is loaded");
		goto out;
	}
	if ((input = signal_input(x, &p.set)) == NULL) {
		rc = SF_ENOMEM;
		goto out;
	}
	{
		uint64_t t0 = sf_mono_ns();

		rc = policy_decide(policy_watch_current(x->pw), "signal", input,
		    &dec);
		metrics_policy(x->m, "signal", sf_mono_ns() - t0);
	}
	if (rc != SF_OK) {
		log_err("signal policy evaluation failed: %s", sf_strerror(rc));
		count_events(x, p.set.events, "error");
		rc = set_error(req, 500, "server_error",
		    "policy evaluation failed");
		goto out;
	}
	if (!dec.allow) {
		count_events(x, p.set.events, "rejected");
		audit_push(x, req, &p, "deny", dec.reason);
		rc = set_error(req, 400, "access_denied", "refused by the "
		    "signal policy%s%s", dec.reason ? ": " : "",
		    dec.reason ? dec.reason : "");
		goto out;
	}
	v = json_object_get(dec.claims, "revoke_tokens");
	if (json_is_true(v) && p.act.effect != SET_REVOKE) {
		p.act.effect = SET_REVOKE;
		p.act.session = true;
		if (p.act.event == NULL)
			p.act.event = json_string_value(json_array_get(
			    json_object_get(json_object_get(input, "context"),
			    "event_types"), 0));
	} else if (json_is_false(v) && p.act.effect == SET_REVOKE)
		p.act.effect = SET_NONE;
	v = json_object_get(dec.claims, "revoke_ttl");
	if (json_is_integer(v) && json_integer_value(v) > 0)
		p.expires = p.act.time + json_integer_value(v);

	if (x->st == NULL) {
		count_events(x, p.set.events, "error");
		rc = set_error(req, 500, "server_error",
		    "the store is not available");
		goto out;
	}
	if ((rc = build_ops(x, &p, now)) != SF_OK)
		goto out;
	rc = revoke_commit(x->st, p.ops, p.nops, now);
	if (rc == SF_EEXIST) {
		/* Another worker applied the same jti meanwhile. */
		count_events(x, p.set.events, "duplicate");
		rc = http_raw(req, 202, NULL, NULL, 0);
		goto out;
	}
	if (rc != SF_OK) {
		log_err("signal %s: store: %s", p.set.jti ? p.set.jti : "",
		    sf_strerror(rc));
		count_events(x, p.set.events, "error");
		rc = set_error(req, 500, "server_error", "the revocation could "
		    "not be made durable: %s", sf_strerror(rc));
		goto out;
	}
	count_events(x, p.set.events, "accepted");
	audit_push(x, req, &p, "accept", NULL);
	rc = http_raw(req, 202, NULL, NULL, 0);
out:
	free(val);
	free(why);
	json_decref(input);
	policy_decision_clear(&dec);
	push_clear(&p);
	return rc;
}

static int
get_status(struct http_req *req, void *arg)
{
	struct sctx *x = arg;
	const char *name;
	json_t *stats = NULL, *events, *v, *resp, *tx;
	char *val = NULL, ts[21];
	int64_t last = 0;
	size_t len, i;
	int rc;

	if (x->st != NULL && (rc = store_get(x->st, STATS_NS, STATS_KEY, &val,
	    &len)) == SF_OK)
		stats = json_loadb(val, len, 0, NULL);
	free(val);
	if ((events = json_object()) == NULL || (tx = json_array()) == NULL) {
		json_decref(events);
		json_decref(stats);
		return SF_ENOMEM;
	}
	json_object_foreach(stats, name, v) {
		int64_t t = json_integer_value(json_object_get(v, "last"));

		token_rfc3339(t, ts);
		json_object_set_new(events, name, json_pack("{s:I, s:s}",
		    "count", json_integer_value(json_object_get(v, "count")),
		    "last", ts));
		if (t > last)
			last = t;
	}
	json_decref(stats);
	for (i = 0; i < set_transmitters_count(x->tx); i++)
		json_array_append_new(tx, json_string(set_transmitter_get(
		    x->tx, i)->name));
	token_rfc3339(last, ts);
	resp = json_pack("{s:o, s:s?, s:I, s:I, s:o}", "events", events,
	    "last_event_at", last > 0 ? ts : NULL,
	    "revocations", (json_int_t)revoke_live(x->rv, sf_now()),
	    "journal_position", (json_int_t)revoke_position(x->rv),
	    "transmitters", tx);
	if (resp != NULL && last == 0)
		json_object_set_new(resp, "last_event_at", json_null());
	return http_json(req, 200, resp);
}

/* Recompute the hash when the set or the clock moved past it. */
static int
hash_current(struct sctx *x, int64_t now)
{
	struct revoke_list *l = NULL;
	const struct revoke_entry *e;
	size_t n, i;
	int64_t until = INT64_MAX;
	int rc;

	if (x->hash_ok && x->rv != NULL && revoke_position(x->rv) ==
	    x->hash_pos && now < x->hash_until)
		return SF_OK;
	if (x->st == NULL)
		return SF_ESTORE;
	if ((rc = revoke_entries(x->st, now, &l, &n)) != SF_OK)
		return rc;
	if ((rc = revoke_hash(l, x->hash)) == SF_OK) {
		for (i = 0; i < n; i++) {
			e = revoke_list_get(l, i);
			if (e->expires != 0 && e->expires < until)
				until = e->expires;
		}
		x->hash_ok = true;
		x->hash_pos = revoke_position(x->rv);
		x->hash_until = until;
		x->hash_at = now;
		x->hash_count = n;
	}
	revoke_list_free(l);
	return rc;
}

static int
get_hash(struct http_req *req, void *arg)
{
	struct sctx *x = arg;
	char ts[21];
	int rc;

	if ((rc = hash_current(x, sf_now())) != SF_OK) {
		log_err("revocation hash: %s", sf_strerror(rc));
		return http_error(req, 500, "server_error",
		    "cannot read the revocation set");
	}
	token_rfc3339(x->hash_at, ts);
	return http_json(req, 200, json_pack("{s:s, s:I, s:s}", "hash",
	    x->hash, "count", (json_int_t)x->hash_count, "timestamp", ts));
}

static int
get_export(struct http_req *req, void *arg)
{
	struct sctx *x = arg;
	struct revoke_list *l = NULL;
	char hash[72], tail[160], *s;
	json_t *o;
	size_t n, i;
	int rc;

	if (x->st == NULL || (rc = revoke_entries(x->st, sf_now(), &l, &n)) !=
	    SF_OK || (rc = revoke_hash(l, hash)) != SF_OK) {
		revoke_list_free(l);
		return http_error(req, 500, "server_error",
		    "cannot read the revocation set");
	}
	/* Streamed: a million entries are ~150 MB of JSON. */
	(void)http_add_header(req, "Cache-Control", "no-store");
	if ((rc = http_stream_begin(req, 200, "application/json")) != SF_OK ||
	    (rc = http_write(req, "{\"entries\":[", 12)) != SF_OK)
		goto out;
	for (i = 0; i < n; i++) {
		if ((o = revoke_entry_json(revoke_list_get(l, i))) == NULL) {
			rc = SF_ENOMEM;
			goto out;
		}
		s = json_dump_compact(o);
		json_decref(o);
		if (s == NULL) {
			rc = SF_ENOMEM;
			goto out;
		}
		if ((i > 0 && (rc = http_write(req, ",", 1)) != SF_OK) ||
		    (rc = http_write(req, s, strlen(s))) != SF_OK) {
			free(s);
			goto out;
		}
		free(s);
	}
	snprintf(tail, sizeof(tail), "],\"count\":%zu,\"hash\":\"%s\"}\n", n,
	    hash);
	rc = http_write(req, tail, strlen(tail));
out:
	revoke_list_free(l);
	return rc;
}

static const struct http_route routes[] = {
	{ "/v1/signals/events", HTTP_POST, 0, post_events },
	{ "/v1/signals/status", HTTP_GET, 0, get_status },
	{ "/v1/federation/revocation-hash", HTTP_GET, 0, get_hash },
	{ "/v1/federation/revocation-export", HTTP_GET, 0, get_export },
};

int
main(int argc, char *argv[])
{
	struct sctx x = { 0 };
	struct http_server srv = { 0 };
	int rc;

	if (prog_init(&x.prog, "signals.fcgi", &argc, argv) != SF_OK)
		return 1;
	if ((rc = store_open(x.prog.conf->store, false, &x.st)) != SF_OK)
		log_warn("store %s: %s (run starflyctl init)",
		    x.prog.conf->store, sf_strerror(rc));
	if (x.st != NULL) {
		(void)revoke_ring_open(x.prog.conf->store);
		/* Pushes wait out a full reload elsewhere (~1 s per 10^6
		 * entries) rather than fail. */
		store_set_timeout(x.st, STORE_WAIT_MS);
		if ((rc = revoke_recover(x.st)) != SF_OK)
			log_err("revocation journal: recovery: %s",
			    sf_strerror(rc));
	}
	load_transmitters(&x);
	prog_open_shared(&x.prog, "signals", &x.pw, &x.m, &x.audit);
	sbefore(&x);
	prog_server(&x.prog, &srv, routes, sizeof(routes) / sizeof(routes[0]),
	    &x);
	srv.before = sbefore;
	srv.after = metrics_after;
	rc = http_serve(&srv);
	audit_close(x.audit);
	metrics_close(x.m);
	policy_watch_free(x.pw);
	revoke_free(x.rv);
	set_transmitters_free(x.tx);
	store_close(x.st);
	prog_fini(&x.prog);
	return rc == SF_OK ? 0 : 1;
}
