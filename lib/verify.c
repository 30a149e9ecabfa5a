/*
 * verify.c - the per-call check that a token this unit issued was issued
 * for the tool it is presented to (the MCP confused-deputy rule), shared
 * by mcp.fcgi, `starflyctl verify` and tool servers that link libcore.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "starfly.h"

#define VERIFY_TOKEN_MAX	16384
#define VERIFY_ACT_DEPTH	16

int
verify_blast_rank(const char *b)
{
	static const struct { const char *n; int r; } ranks[] = {
		{ "function", 0 }, { "service", 1 }, { "namespace", 2 },
		{ "cluster", 3 }, { "workspace", 3 }, { "trust_domain", 4 },
		{ "fabric", 5 },
	};
	size_t i;

	for (i = 0; b != NULL && i < sizeof(ranks) / sizeof(ranks[0]); i++)
		if (strcmp(ranks[i].n, b) == 0)
			return ranks[i].r;
	return -1;
}

const char *
verify_check_name(enum verify_check c)
{
	switch (c) {
	case VERIFY_OK:			return "ok";
	case VERIFY_SIGNATURE:		return "signature";
	case VERIFY_TOOL:		return "tool";
	case VERIFY_AUDIENCE:		return "audience";
	case VERIFY_REVOKED:		return "revocation";
	case VERIFY_CAPABILITIES:	return "capabilities";
	case VERIFY_BLAST_RADIUS:	return "blast_radius";
	case VERIFY_EXECUTION:		return "execution";
	case VERIFY_POLICY:		return "policy";
	}
	return "unknown";
}

void
verify_result_clear(struct verify_result *r)
{
	if (r == NULL)
		return;
	free(r->why);
	json_decref(r->claims);
	memset(r, 0, sizeof(*r));
}

static int
deny(struct verify_result *r, enum verify_check c, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* r->why = "<check>: <fmt ...>" (NULL when out of memory); SF_EDENIED. */
static int
deny(struct verify_result *r, enum verify_check c, const char *fmt, ...)
{
	char buf[1024], *s = NULL;
	const char *name = verify_check_name(c);
	size_t n = strlen(name) + 2;
	va_list ap;
	int m;

	r->check = c;
	free(r->why);
	r->why = NULL;
	/* Formatted once on the stack; a longer text again on the heap. */
	va_start(ap, fmt);
	m = vsnprintf(buf + n, sizeof(buf) - n, fmt, ap);
	va_end(ap);
	if (m < 0)
		return SF_EDENIED;
	if ((size_t)m < sizeof(buf) - n) {
		memcpy(buf, name, n - 2);
		memcpy(buf + n - 2, ": ", 2);
		r->why = sf_strdup(buf);
		return SF_EDENIED;
	}
	va_start(ap, fmt);
	if (vasprintf(&s, fmt, ap) == -1)
		s = NULL;
	va_end(ap);
	if (s != NULL) {
		(void)sf_asprintf(&r->why, "%s: %s", name, s);
		free(s);
	}
	return SF_EDENIED;
}

/* RFC 7519 §4.1.3 aud, RFC 8725 §3.1, RFC 9068 §2.1 typ. */
static int
check_signature(const struct verify_ctx *vc, const char *token, size_t len,
    int64_t now, struct verify_result *r)
{
	struct jws *jws = NULL;
	const json_t *c, *v;
	const char *iss;
	int rc;

	if (len > VERIFY_TOKEN_MAX)
		return deny(r, VERIFY_SIGNATURE, "token longer than %d bytes",
		    VERIFY_TOKEN_MAX);
	rc = jws_verify_compact(token, len, vc->keys, &jws);
	if (rc == SF_ENOMEM)
		return rc;
	if (rc != SF_OK)
		return deny(r, VERIFY_SIGNATURE, "token does not verify with "
		    "this unit's keys (%s: %s)", sf_strerror(rc), jose_why());
	rc = SF_EDENIED;
	if (jws->typ == NULL || (strcasecmp(jws->typ, TOKEN_TYP_ACCESS) != 0 &&
	    strcasecmp(jws->typ, "application/at+jwt") != 0)) {
		rc = deny(r, VERIFY_SIGNATURE, "token typ is %s, not %s",
		    jws->typ ? jws->typ : "absent", TOKEN_TYP_ACCESS);
		goto out;
	}
	if ((c = jws->claims) == NULL) {
		rc = deny(r, VERIFY_SIGNATURE, "token payload is not a JSON "
		    "object");
		goto out;
	}
	iss = json_string_value(json_object_get(c, "iss"));
	if (iss == NULL || strcmp(iss, vc->issuer) != 0) {
		rc = deny(r, VERIFY_SIGNATURE, "token issuer is not %s",
		    vc->issuer);
		goto out;
	}
	v = json_object_get(c, "exp");
	if (!json_is_integer(v)) {
		rc = deny(r, VERIFY_SIGNATURE, "token has no exp");
		goto out;
	}
	if (json_integer_value(v) <= now - vc->skew) {
		rc = deny(r, VERIFY_SIGNATURE, "token expired");
		goto out;
	}
	v = json_object_get(c, "nbf");
	if (v != NULL && (!json_is_integer(v) ||
	    json_integer_value(v) > now + vc->skew)) {
		rc = deny(r, VERIFY_SIGNATURE, "token not yet valid (nbf)");
		goto out;
	}
	v = json_object_get(c, "iat");
	if (v != NULL && (!json_is_integer(v) ||
	    json_integer_value(v) > now + vc->skew)) {
		rc = deny(r, VERIFY_SIGNATURE, "token issued in the future "
		    "(iat)");
		goto out;
	}
	if (!json_is_string(json_object_get(c, "sub"))) {
		rc = deny(r, VERIFY_SIGNATURE, "token has no sub");
		goto out;
	}
	r->claims = json_incref(jws->claims);
	rc = SF_OK;
out:
	jws_free(jws);
	return rc;
}

static int
check_audience(const json_t *claims, const json_t *tool,
    struct verify_result *r)
{
	const char *uri = json_string_value(json_object_get(tool,
	    "resource_uri"));
	const json_t *aud = json_object_get(claims, "aud");
	const char *a = NULL;

	if (json_is_string(aud))
		a = json_string_value(aud);
	else if (json_is_array(aud) && json_array_size(aud) == 1)
		a = json_string_value(json_array_get(aud, 0));
	else if (json_is_array(aud) && json_array_size(aud) > 1)
		return deny(r, VERIFY_AUDIENCE, "token is for %zu audiences; "
		    "a tool accepts only a token issued for it alone",
		    json_array_size(aud));
	if (a == NULL)
		return deny(r, VERIFY_AUDIENCE, "token has no aud");
	if (uri == NULL || strcmp(a, uri) != 0)
		return deny(r, VERIFY_AUDIENCE, "token audience %s is not "
		    "the tool's resource_uri %s", a, uri ? uri : "(none)");
	return SF_OK;
}

static int
check_revoked(const struct verify_ctx *vc, const json_t *claims,
    int64_t now, struct verify_result *r)
{
	const char *sub = json_string_value(json_object_get(claims, "sub"));
	const char *jti = json_string_value(json_object_get(claims, "jti"));
	const char *reason = NULL, *a;
	const json_t *iatv = json_object_get(claims, "iat"), *act;
	int64_t iat;
	int depth = 0;

	if (vc->revoked == NULL)
		return SF_OK;
	/* No iat: as old as can be, so every entry refuses it. */
	iat = json_is_integer(iatv) && json_integer_value(iatv) > 0 ?
	    json_integer_value(iatv) : 1;
	if (revoke_check(vc->revoked, "sub", sub, iat, now, &reason) ==
	    SF_EREVOKED)
		return deny(r, VERIFY_REVOKED, "subject %s is revoked%s%s",
		    sub, reason ? ": " : "", reason ? reason : "");
	for (act = json_object_get(claims, "act"); json_is_object(act);
	    act = json_object_get(act, "act")) {
		if (++depth > VERIFY_ACT_DEPTH)
			return deny(r, VERIFY_REVOKED, "delegation chain "
			    "deeper than %d", VERIFY_ACT_DEPTH);
		a = json_string_value(json_object_get(act, "sub"));
		if (a != NULL && revoke_check(vc->revoked, "sub", a, iat, now,
		    &reason) == SF_EREVOKED)
			return deny(r, VERIFY_REVOKED, "actor %s in the "
			    "delegation chain is revoked%s%s", a,
			    reason ? ": " : "", reason ? reason : "");
	}
	if (jti != NULL && revoke_check(vc->revoked, "jti", jti, iat, now,
	    &reason) == SF_EREVOKED)
		return deny(r, VERIFY_REVOKED, "token %s is revoked%s%s", jti,
		    reason ? ": " : "", reason ? reason : "");
	return SF_OK;
}

static bool
array_has(const json_t *arr, const json_t *v)
{
	const json_t *m;
	size_t i;

	json_array_foreach(arr, i, m)
		if (json_equal(m, v))
			return true;
	return false;
}

static int
check_scope(const json_t *claims, const json_t *tool, struct verify_result *r)
{
	const json_t *caps = json_object_get(claims, "caps");
	const json_t *allowed = json_object_get(tool, "capabilities"), *m;
	const char *tb, *mb;
	size_t i;

	if (caps != NULL && allowed != NULL) {
		if (!json_is_array(caps))
			return deny(r, VERIFY_CAPABILITIES, "token caps is not "
			    "an array");
		json_array_foreach(caps, i, m)
			if (!array_has(allowed, m))
				return deny(r, VERIFY_CAPABILITIES, "token "
				    "capability %s is not one the tool offers",
				    json_is_string(m) ? json_string_value(m) :
				    "(not a string)");
	}
	tb = json_string_value(json_object_get(claims, "blast_radius"));
	mb = json_string_value(json_object_get(tool, "max_blast_radius"));
	if (tb != NULL && mb != NULL && (verify_blast_rank(tb) < 0 ||
	    verify_blast_rank(tb) > verify_blast_rank(mb)))
		return deny(r, VERIFY_BLAST_RADIUS, "token blast radius %s "
		    "exceeds the tool's maximum %s", tb, mb);
	return SF_OK;
}

static int
check_execution(const json_t *claims, const json_t *tool,
    const struct verify_call *call, struct verify_result *r)
{
	const struct { const char *name; const char *val; } f[] = {
		{ "htm", call->htm }, { "htu", call->htu },
		{ "inp_hash", call->inp_hash }, { "exec_act", call->exec_act },
		{ "target", call->target },
	};
	const json_t *v, *acts;
	size_t i;

	for (i = 0; i < sizeof(f) / sizeof(f[0]); i++) {
		if ((v = json_object_get(claims, f[i].name)) == NULL)
			continue;
		if (!json_is_string(v))
			return deny(r, VERIFY_EXECUTION, "token %s is not a "
			    "string", f[i].name);
		if (f[i].val == NULL)
			return deny(r, VERIFY_EXECUTION, "token is bound to "
			    "%s %s; the call does not give %s", f[i].name,
			    json_string_value(v), f[i].name);
		if (strcmp(f[i].val, json_string_value(v)) != 0)
			return deny(r, VERIFY_EXECUTION, "the call's %s %s is "
			    "not the token's %s", f[i].name, f[i].val,
			    json_string_value(v));
	}
	acts = json_object_get(tool, "exec_acts");
	v = json_object_get(claims, "exec_act");
	if (v != NULL && json_array_size(acts) > 0 && !array_has(acts, v))
		return deny(r, VERIFY_EXECUTION, "exec_act %s is not one the "
		    "tool allows", json_string_value(v));
	return SF_OK;
}

/*
 * The length of the host of a wimse:// or spiffe:// URI at *s (moved to
 * the host), or 0 when s is neither.
 */
static size_t
uri_domain(const char **s)
{
	const char *p = *s;
	size_t n;

	if (p == NULL)
		return 0;
	if (strncmp(p, "wimse://", 8) == 0)
		p += 8;
	else if (strncmp(p, "spiffe://", 9) == 0)
		p += 9;
	else
		return 0;
	n = strcspn(p, "/");
	*s = p;
	return n;
}

/*
 * Set o[k] to a copy of the string v (NUL-free UTF-8, as checked by the
 * parser it came from) of n bytes.  -1 when out of memory.
 */
static int
set_str(json_t *o, const char *k, const char *v, size_t n)
{
	return json_object_set_new_nocheck(o, k, json_stringn_nocheck(v, n));
}

/*
 * Set o[k] to the call's string v when given; a string that is not UTF-8
 * is left out (json_string refuses it).  -1 when out of memory.
 */
static int
set_call(json_t *o, const char *k, const char *v)
{
	json_t *j;

	if (v == NULL || (j = json_string(v)) == NULL)
		return 0;
	return json_object_set_new_nocheck(o, k, j);
}

/*
 * The policy input of API.md, new: {action, target, subject {id,
 * trust_domain}, token, tool, context {htm?, htu?, exec_act?, target?,
 * inp_hash?}}, token and tool borrowed.  sub and td come from the parsed
 * (UTF-8-checked) claims; the call's strings are checked.  NULL when out
 * of memory or the call's tool_id is not UTF-8.
 */
static json_t *
policy_input(const json_t *claims, const json_t *tool, const char *sub,
    const struct verify_call *call)
{
	const char *td = json_string_value(json_object_get(claims, "td"));
	json_t *in, *subj, *ctx, *target;
	size_t tdlen;
	int bad;

	if (td != NULL)
		tdlen = strlen(td);
	else {
		td = sub;
		if ((tdlen = uri_domain(&td)) == 0)
			td = "";
	}
	if ((target = json_string(call->tool_id)) == NULL)
		return NULL;
	in = json_object();
	subj = json_object();
	ctx = json_object();
	bad = in == NULL || subj == NULL || ctx == NULL;
	bad |= set_str(in, "action", "mcp_tool_call", 13);
	bad |= json_object_set_new_nocheck(in, "target", target);
	bad |= set_str(subj, "id", sub, strlen(sub));
	bad |= set_str(subj, "trust_domain", td, tdlen);
	bad |= json_object_set_new_nocheck(in, "subject", subj);
	bad |= json_object_set_nocheck(in, "token",
	    (json_t *)(uintptr_t)claims);
	bad |= json_object_set_nocheck(in, "tool", (json_t *)(uintptr_t)tool);
	bad |= set_call(ctx, "htm", call->htm);
	bad |= set_call(ctx, "htu", call->htu);
	bad |= set_call(ctx, "exec_act", call->exec_act);
	bad |= set_call(ctx, "target", call->target);
	bad |= set_call(ctx, "inp_hash", call->inp_hash);
	bad |= json_object_set_new_nocheck(in, "context", ctx);
	if (bad) {
		json_decref(in);
		return NULL;
	}
	return in;
}

static int
check_policy(const struct verify_ctx *vc, const json_t *claims,
    const json_t *tool, const struct verify_call *call,
    struct verify_result *r)
{
	struct policy_decision dec = { 0 };
	const char *sub = json_string_value(json_object_get(claims, "sub"));
	json_t *input;
	uint64_t t0;
	int rc;

	if (vc->policy == NULL)
		return vc->require_policy ? deny(r, VERIFY_POLICY,
		    "no policy is loaded") : SF_OK;
	if ((input = policy_input(claims, tool, sub, call)) == NULL)
		return SF_ENOMEM;
	t0 = sf_mono_ns();
	rc = policy_decide(vc->policy, "mcp_tool_call", input, &dec);
	r->policy_ns = sf_mono_ns() - t0;
	json_decref(input);
	if (rc != SF_OK) {
		r->check = VERIFY_POLICY;
		free(r->why);
		r->why = NULL;
		(void)sf_asprintf(&r->why, "policy: evaluation failed: %s",
		    sf_strerror(rc));
		policy_decision_clear(&dec);
		return rc == SF_ENOMEM ? rc : SF_EPOLICY;
	}
	if (!dec.allow)
		rc = deny(r, VERIFY_POLICY, "denied%s%s", dec.reason ? ": " :
		    "", dec.reason ? dec.reason : "");
	policy_decision_clear(&dec);
	return rc;
}

int
verify_tool_call(const struct verify_ctx *vc, const json_t *tool,
    const char *token, size_t len, const struct verify_call *call,
    int64_t now, struct verify_result *res)
{
	int rc;

	memset(res, 0, sizeof(*res));
	if (token == NULL || call == NULL || call->tool_id == NULL ||
	    vc == NULL || vc->keys == NULL || vc->issuer == NULL)
		return SF_EINVAL;
	if ((rc = check_signature(vc, token, len, now, res)) != SF_OK)
		return rc;
	if (tool == NULL)
		return deny(res, VERIFY_TOOL, "tool %s is not registered",
		    call->tool_id);
	if ((rc = check_audience(res->claims, tool, res)) != SF_OK ||
	    (rc = check_revoked(vc, res->claims, now, res)) != SF_OK ||
	    (rc = check_scope(res->claims, tool, res)) != SF_OK ||
	    (rc = check_execution(res->claims, tool, call, res)) != SF_OK ||
	    (rc = check_policy(vc, res->claims, tool, call, res)) != SF_OK)
		return rc;
	res->check = VERIFY_OK;
	return SF_OK;
}
