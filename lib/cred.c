/*
 * cred.c - validation of inbound subject and actor tokens (API.md,
 * "Inbound credential types").
 *
 * Every token is a compact JWS (RFC 7515 §7.1).  The checks follow
 * RFC 8725: the key is chosen by "kid" among the keys configured for the
 * token's issuer only ("jwk", "jku", "x5u", "x5c" headers never name a
 * key, §3.10), the algorithm is the key's and must be allowed for the
 * issuer (§3.1; "none" and HMAC never verify, §3.2), "iss" must be an
 * issuer configured for the presented token type (§3.8, §3.12), "aud"
 * must hold the issuer's audience when it names one (§3.9), "typ" is
 * checked where the token kind defines one (§3.11), and exp/nbf/iat hold
 * within the unit's clock skew (RFC 7519 §4.1.4-4.1.6).  JWT-SVIDs follow
 * SPIFFE JWT-SVID §3 and Appendix A.  Subjects are WIMSE identifiers
 * (draft-ietf-wimse-identifier) or SPIFFE IDs (SPIFFE-ID §2).
 *
 * No file, store or network access happens here: issuers_load built
 * everything in memory.
 */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "starfly.h"
#include "cred_int.h"

#define TYP_ACCESS	"at+jwt"	/* RFC 9068 §2.1 */
#define DEV_TD		"dev.local"
#define TOKEN_MAX	(64 * 1024)
#define SAFE_MAX	96		/* token text quoted in messages */
#define NUMDATE_MAX	((int64_t)1 << 52)

/* One validation: what is being validated, and where the reason goes. */
struct vctx {
	const struct sf_conf	*c;
	bool			 actor;		/* an actor_token */
	int			 type;		/* enum cred_type */
	int64_t			 now, skew;
	char			**why;
};

/* Identifier being built (at most CRED_ID_MAX bytes). */
struct idbuf {
	char	 s[CRED_ID_MAX + 1];
	size_t	 n;
	bool	 over;
};

static int
fail(struct vctx *v, int rc, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int
fail(struct vctx *v, int rc, const char *fmt, ...)
{
	char msg[768];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	free(*v->why);
	*v->why = sf_strdup(msg);
	return rc;
}

/*
 * Token text for a message: printable ASCII only, at most SAFE_MAX
 * characters (kid, iss and sub are attacker-chosen, RFC 8725 §3.10).
 */
static const char *
safe(const char *s, char out[SAFE_MAX + 4])
{
	size_t i, n = 0;

	if (s == NULL)
		return "(none)";
	for (i = 0; s[i] != '\0' && n < SAFE_MAX; i++)
		out[n++] = (s[i] >= 0x20 && s[i] < 0x7f) ? s[i] : '?';
	if (s[i] != '\0') {
		out[n++] = '.';
		out[n++] = '.';
		out[n++] = '.';
	}
	out[n] = '\0';
	return out;
}

/* RFC 3339 for messages; the number itself outside years 0-9999. */
static const char *
when(int64_t t, char out[32])
{
	struct tm tm;
	time_t tt = (time_t)t;

	if (t < 0 || t > 253402300799LL || gmtime_r(&tt, &tm) == NULL ||
	    strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		snprintf(out, 32, "%lld", (long long)t);
	return out;
}

/* RFC 7515 §4.1.9: "typ" is case-insensitive, "application/" optional. */
static bool
typ_is(const char *typ, const char *want)
{
	if (typ == NULL)
		return false;
	if (strncasecmp(typ, "application/", 12) == 0)
		typ += 12;
	return strcasecmp(typ, want) == 0;
}

/*
 * Registered claims must be well typed (RFC 7519 §4.1): iss, sub, jti
 * strings; exp, nbf, iat NumericDates; aud a string or a non-empty array
 * of strings.
 */
static int
check_claim_types(struct vctx *v, const json_t *claims)
{
	static const char *const strs[] = { "iss", "sub", "jti" };
	static const char *const nums[] = { "exp", "nbf", "iat" };
	json_t *m, *aud;
	size_t i;

	for (i = 0; i < 3; i++)
		if ((m = json_object_get(claims, strs[i])) != NULL &&
		    !json_is_string(m))
			return fail(v, SF_EINVAL, "claim \"%s\" is not a string",
			    strs[i]);
	for (i = 0; i < 3; i++)
		if ((m = json_object_get(claims, nums[i])) != NULL &&
		    !json_is_number(m))
			return fail(v, SF_EINVAL, "claim \"%s\" is not a "
			    "NumericDate", nums[i]);
	if ((aud = json_object_get(claims, "aud")) == NULL ||
	    json_is_string(aud))
		return SF_OK;
	if (!json_is_array(aud) || json_array_size(aud) == 0)
		return fail(v, SF_EINVAL, "claim \"aud\" is not a string or a "
		    "non-empty array of strings");
	json_array_foreach(aud, i, m)
		if (!json_is_string(m))
			return fail(v, SF_EINVAL, "claim \"aud\" holds a "
			    "non-string");
	return SF_OK;
}

/* A NumericDate claim (type already checked) as seconds; false if absent. */
static bool
num_claim(const json_t *claims, const char *name, int64_t *out)
{
	json_t *m = json_object_get(claims, name);
	double d;

	*out = 0;
	if (m == NULL)
		return false;
	if (json_is_integer(m))
		*out = (int64_t)json_integer_value(m);
	else {
		d = floor(json_real_value(m));
		*out = d > (double)NUMDATE_MAX ? NUMDATE_MAX :
		    d < -(double)NUMDATE_MAX ? -NUMDATE_MAX : (int64_t)d;
	}
	if (*out > NUMDATE_MAX)
		*out = NUMDATE_MAX;
	else if (*out < -NUMDATE_MAX)
		*out = -NUMDATE_MAX;
	return true;
}

/*
 * exp (required when need_exp), nbf, iat within the skew; and the age
 * limit max_age (0: none), which needs iat.
 */
static int
check_times(struct vctx *v, const json_t *claims, bool need_exp,
    long long max_age, const char *who, int64_t *exp_out)
{
	int64_t exp, nbf, iat;
	char tb[32];
	bool has_iat;

	*exp_out = 0;
	if (!num_claim(claims, "exp", &exp)) {
		if (need_exp)
			return fail(v, SF_ECLAIM, "no exp claim (tokens without "
			    "an expiry are refused)");
	} else {
		/* RFC 7519 §4.1.4: now must be before exp. */
		if (v->now - v->skew >= exp)
			return fail(v, SF_EEXPIRED, "expired at %s",
			    when(exp, tb));
		*exp_out = exp;
	}
	if (num_claim(claims, "nbf", &nbf) && nbf > v->now + v->skew)
		return fail(v, SF_ENOTYET, "not valid before %s",
		    when(nbf, tb));
	has_iat = num_claim(claims, "iat", &iat);
	if (has_iat && iat > v->now + v->skew)
		return fail(v, SF_ENOTYET, "issued in the future (iat %s)",
		    when(iat, tb));
	if (max_age > 0) {
		if (!has_iat)
			return fail(v, SF_ECLAIM, "no iat claim (%s limits "
			    "token age to %lld s)", who, max_age);
		if (v->now - iat > max_age + v->skew)
			return fail(v, SF_EEXPIRED, "issued at %s, older than "
			    "the %lld s max_age of %s", when(iat, tb), max_age,
			    who);
	}
	return SF_OK;
}

static bool
aud_has(const json_t *aud, const char *want)
{
	json_t *m;
	size_t i;

	if (json_is_string(aud))
		return strcmp(json_string_value(aud), want) == 0;
	json_array_foreach(aud, i, m)
		if (strcmp(json_string_value(m), want) == 0)
			return true;
	return false;
}

/* RFC 8725 §3.9: aud must name one of the issuer's audiences. */
static int
check_aud(struct vctx *v, const json_t *claims, char *const *allowed,
    const char *who)
{
	json_t *aud = json_object_get(claims, "aud");
	const char *first;
	char sb[SAFE_MAX + 4], ab[SAFE_MAX + 4];
	size_t i;

	if (allowed == NULL)
		return SF_OK;
	if (aud == NULL)
		return fail(v, SF_ECLAIM, "no aud claim; %s requires %s%s",
		    who, safe(allowed[0], ab), allowed[1] != NULL ?
		    " (or another configured audience)" : "");
	for (i = 0; allowed[i] != NULL; i++)
		if (aud_has(aud, allowed[i]))
			return SF_OK;
	first = json_is_string(aud) ? json_string_value(aud) :
	    json_string_value(json_array_get(aud, 0));
	return fail(v, SF_ECLAIM, "aud %s%s is not an audience of %s "
	    "(expected %s)", safe(first, sb), json_is_array(aud) &&
	    json_array_size(aud) > 1 ? " (and others)" : "", who,
	    safe(allowed[0], ab));
}

/*
 * Key by kid among keys only, then jws_verify (which pins the algorithm
 * to the key).  algs: the algorithms allowed (bit set), 0 for any.
 */
static int
verify_sig(struct vctx *v, const struct jws *jws, const struct jwks *keys,
    unsigned int algs, const char *who)
{
	const struct jwk *key;
	const char *alg;
	char kb[SAFE_MAX + 4], ab[SAFE_MAX + 4];
	int rc;

	alg = json_string_value(json_object_get(jws->header, "alg"));
	if (jws->alg == JWS_ALG_UNKNOWN)
		return fail(v, SF_EALG, "algorithm \"%s\" is refused",
		    safe(alg, ab));
	if (algs != 0 && !(algs & (1u << jws->alg)))
		return fail(v, SF_EALG, "algorithm %s is not allowed for %s",
		    jws_alg_name(jws->alg), who);
	if (jwks_count(keys) == 0)
		return fail(v, SF_EKEY, "%s has no keys", who);
	if (jws->kid != NULL) {
		if ((key = jwks_find(keys, jws->kid)) == NULL)
			return fail(v, SF_EKEY, "unknown key %s for %s (keys "
			    "are never fetched on demand)", safe(jws->kid, kb),
			    who);
	} else if (jwks_count(keys) == 1)
		key = jwks_get(keys, 0);
	else
		return fail(v, SF_EKEY, "no kid, and %s has %zu keys", who,
		    jwks_count(keys));
	rc = jws_verify(jws, key);
	if (rc == SF_EALG)
		return fail(v, SF_EALG, "header alg %s does not match key %s "
		    "(%s) of %s", jws_alg_name(jws->alg), safe(jwk_kid(key), kb),
		    jws_alg_name(jwk_alg(key)), who);
	if (rc == SF_EBADSIG)
		return fail(v, SF_EBADSIG, "signature does not verify with key "
		    "%s of %s", safe(jwk_kid(key), kb), who);
	if (rc != SF_OK)
		return fail(v, rc == SF_ENOMEM ? rc : SF_EBADSIG, "%s",
		    jose_why());
	return SF_OK;
}

/*
 * Identifiers.
 */

static void
id_raw(struct idbuf *b, const char *s, size_t len)
{
	if (b->over || b->n + len > CRED_ID_MAX) {
		b->over = true;
		return;
	}
	memcpy(b->s + b->n, s, len);
	b->n += len;
	b->s[b->n] = '\0';
}

/* RFC 3986 §3.3 pchar, without pct-encoded. */
static bool
is_pchar(unsigned char ch)
{
	return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
	    (ch >= '0' && ch <= '9') || strchr("-._~!$&'()*+,;=:@", ch) !=
	    NULL;
}

/* One path segment, percent-encoding what is not a pchar. */
static void
id_seg(struct idbuf *b, const char *s)
{
	static const char hex[] = "0123456789ABCDEF";
	char e[3];

	for (; *s != '\0' && !b->over; s++) {
		if (is_pchar((unsigned char)*s)) {
			id_raw(b, s, 1);
			continue;
		}
		e[0] = '%';
		e[1] = hex[(unsigned char)*s >> 4];
		e[2] = hex[(unsigned char)*s & 0xf];
		id_raw(b, e, 3);
	}
}

static bool
is_hex(char ch)
{
	return (ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'f') ||
	    (ch >= 'A' && ch <= 'F');
}

/*
 * A workload identifier: "spiffe://TD/path" (SPIFFE-ID §2: segments of
 * [A-Za-z0-9._-]) or "wimse://TD/path" (RFC 3986 path of pchar and
 * pct-encoded); a trust domain of [a-z0-9._-] (no userinfo, no port),
 * a non-empty path without empty, "." or ".." segments or a trailing
 * "/", no query or fragment, at most CRED_ID_MAX bytes.  *td, *tdlen
 * point into id.
 */
static bool
id_ok(const char *id, const char **td, size_t *tdlen)
{
	const char *p, *seg;
	bool spiffe;
	size_t n;

	*td = NULL;
	*tdlen = 0;
	if (strlen(id) > CRED_ID_MAX)
		return false;
	if (strncmp(id, "spiffe://", 9) == 0) {
		spiffe = true;
		p = id + 9;
	} else if (strncmp(id, "wimse://", 8) == 0) {
		spiffe = false;
		p = id + 8;
	} else
		return false;
	n = strcspn(p, "/");
	if (!cred_td_ok(p, n) || p[n] != '/')
		return false;
	*td = p;
	*tdlen = n;
	for (p += n; *p == '/'; ) {
		seg = ++p;
		for (; *p != '\0' && *p != '/'; p++) {
			if (spiffe ? ((*p >= 'a' && *p <= 'z') ||
			    (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
			    *p == '.' || *p == '-' || *p == '_') :
			    is_pchar((unsigned char)*p))
				continue;
			if (!spiffe && *p == '%' && is_hex(p[1]) &&
			    is_hex(p[2])) {
				p += 2;
				continue;
			}
			return false;
		}
		n = (size_t)(p - seg);
		if (n == 0 || (n == 1 && seg[0] == '.') ||
		    (n == 2 && seg[0] == '.' && seg[1] == '.'))
			return false;
	}
	return *p == '\0';
}

/* A claim as a non-empty string, or NULL. */
static const char *
str_claim(const json_t *obj, const char *name)
{
	const char *s = json_string_value(json_object_get(obj, name));

	return s != NULL && *s != '\0' ? s : NULL;
}

/* RFC 1123 label (Kubernetes namespace): [a-z0-9-]{1,63}, alnum ends. */
static bool
dns_label_ok(const char *s, size_t max, bool dots)
{
	size_t i, n = strlen(s);

	if (n == 0 || n > max || s[0] == '-' || s[0] == '.' ||
	    s[n - 1] == '-' || s[n - 1] == '.')
		return false;
	for (i = 0; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') ||
		    (s[i] >= '0' && s[i] <= '9') || s[i] == '-' ||
		    (dots && s[i] == '.')))
			return false;
	return true;
}

/*
 * Kubernetes: sub "system:serviceaccount:NS:SA" and/or the
 * "kubernetes.io" claim {namespace, serviceaccount: {name}}; when both
 * are present they must agree.  -> wimse://TD/ns/NS/sa/SA.
 */
static int
map_kubernetes(struct vctx *v, const struct issuer *is, const json_t *claims,
    struct idbuf *b)
{
	static const char pfx[] = "system:serviceaccount:";
	const char *sub = str_claim(claims, "sub"), *ns2 = NULL, *sa2 = NULL;
	char ns[64], sa[254], sb[SAFE_MAX + 4];
	json_t *k8s = json_object_get(claims, "kubernetes.io");
	const char *colon;
	size_t n;

	ns[0] = sa[0] = '\0';
	if (k8s != NULL) {
		ns2 = str_claim(k8s, "namespace");
		sa2 = str_claim(json_object_get(k8s, "serviceaccount"),
		    "name");
		if (ns2 == NULL || sa2 == NULL)
			return fail(v, SF_ECLAIM, "claim \"kubernetes.io\" "
			    "lacks namespace or serviceaccount.name");
	}
	if (sub != NULL && strncmp(sub, pfx, sizeof(pfx) - 1) == 0) {
		sub += sizeof(pfx) - 1;
		if ((colon = strchr(sub, ':')) == NULL ||
		    (n = (size_t)(colon - sub)) >= sizeof(ns) ||
		    strlen(colon + 1) >= sizeof(sa))
			return fail(v, SF_ECLAIM, "sub %s is not "
			    "system:serviceaccount:NAMESPACE:NAME",
			    safe(str_claim(claims, "sub"), sb));
		memcpy(ns, sub, n);
		ns[n] = '\0';
		sf_strlcpy(sa, colon + 1, sizeof(sa));
		if (ns2 != NULL && (strcmp(ns, ns2) != 0 ||
		    strcmp(sa, sa2) != 0))
			return fail(v, SF_ECLAIM, "sub and claim "
			    "\"kubernetes.io\" name different service "
			    "accounts");
	} else if (ns2 != NULL) {
		if (strlen(ns2) >= sizeof(ns) || strlen(sa2) >= sizeof(sa))
			return fail(v, SF_ECLAIM, "service account name too "
			    "long");
		sf_strlcpy(ns, ns2, sizeof(ns));
		sf_strlcpy(sa, sa2, sizeof(sa));
	} else
		return fail(v, SF_ECLAIM, "sub %s is not a Kubernetes service "
		    "account (system:serviceaccount:NAMESPACE:NAME)",
		    safe(str_claim(claims, "sub"), sb));
	if (!dns_label_ok(ns, 63, false))
		return fail(v, SF_ECLAIM, "namespace %s is not an RFC 1123 "
		    "label", safe(ns, sb));
	if (!dns_label_ok(sa, 253, true))
		return fail(v, SF_ECLAIM, "service account %s is not an RFC "
		    "1123 subdomain", safe(sa, sb));
	id_raw(b, "wimse://", 8);
	id_raw(b, is->trust_domain, strlen(is->trust_domain));
	id_raw(b, "/ns/", 4);
	id_raw(b, ns, strlen(ns));
	id_raw(b, "/sa/", 4);
	id_raw(b, sa, strlen(sa));
	return SF_OK;
}

static bool
list_has(char *const *list, const char *s, size_t len)
{
	size_t i;

	for (i = 0; list != NULL && list[i] != NULL; i++)
		if (strlen(list[i]) == len && strncmp(list[i], s, len) == 0)
			return true;
	return false;
}

/* The "accounts" allow-list, when configured. */
static int
check_account(struct vctx *v, const struct issuer *is, const char *what,
    const char *acct, size_t len)
{
	char sb[SAFE_MAX + 4], ab[SAFE_MAX + 4];

	if (is->accounts == NULL)
		return SF_OK;
	if (acct == NULL)
		return fail(v, SF_ECLAIM, "the token names no %s, and issuer "
		    "%s allows listed accounts only", what, is->name);
	if (len > SAFE_MAX)
		len = SAFE_MAX;
	memcpy(ab, acct, len);
	ab[len] = '\0';
	if (!list_has(is->accounts, acct, len))
		return fail(v, SF_ECLAIM, "%s %s is not among the accounts of "
		    "issuer %s", what, safe(ab, sb), is->name);
	return SF_OK;
}

/*
 * AWS (STS GetWebIdentityToken, IAM outbound identity federation): sub
 * is the caller's ARN.  arn:PART:iam::ACCT:role/[PATH/]NAME and
 * arn:PART:sts::ACCT:assumed-role/NAME/SESSION -> .../aws/ACCT/role/NAME;
 * arn:PART:iam::ACCT:user/[PATH/]NAME -> .../aws/ACCT/user/NAME.
 */
static int
map_aws(struct vctx *v, const struct issuer *is, const json_t *claims,
    struct idbuf *b)
{
	const char *sub = str_claim(claims, "sub"), *f[6], *p, *res, *name;
	char sb[SAFE_MAX + 4], nm[129];
	const char *kind;
	size_t i, n;
	int rc;

	if (sub == NULL || strncmp(sub, "arn:", 4) != 0)
		goto bad;
	/* arn:partition:service:region:account:resource */
	for (i = 0, p = sub;; i++) {
		f[i] = p;
		if (i == 5)
			break;
		if ((p = strchr(p, ':')) == NULL)
			goto bad;
		p++;
	}
	res = f[5];
	n = (size_t)(f[5] - f[4] - 1);
	if (n != 12 || strspn(f[4], "0123456789") < 12)
		goto bad;
	if (strncmp(f[2], "iam:", 4) == 0 && strncmp(res, "role/", 5) == 0) {
		kind = "role";
		name = strrchr(res, '/') + 1;
		n = strlen(name);
	} else if (strncmp(f[2], "iam:", 4) == 0 &&
	    strncmp(res, "user/", 5) == 0) {
		kind = "user";
		name = strrchr(res, '/') + 1;
		n = strlen(name);
	} else if (strncmp(f[2], "sts:", 4) == 0 &&
	    strncmp(res, "assumed-role/", 13) == 0) {
		kind = "role";
		name = res + 13;
		n = strcspn(name, "/");
		if (name[n] != '/')
			goto bad;
	} else
		goto bad;
	if (n == 0 || n >= sizeof(nm))
		goto bad;
	memcpy(nm, name, n);
	nm[n] = '\0';
	if ((rc = check_account(v, is, "AWS account", f[4], 12)) != SF_OK)
		return rc;
	id_raw(b, "wimse://", 8);
	id_raw(b, is->trust_domain, strlen(is->trust_domain));
	id_raw(b, "/aws/", 5);
	id_raw(b, f[4], 12);
	id_raw(b, "/", 1);
	id_raw(b, kind, strlen(kind));
	id_raw(b, "/", 1);
	id_seg(b, nm);
	return SF_OK;
bad:
	return fail(v, SF_ECLAIM, "sub %s is not an IAM role, assumed-role "
	    "or user ARN", safe(sub, sb));
}

/*
 * GCP (Google-signed ID token of a service account): email when present
 * and verified -> .../gcp/sa/EMAIL, else sub (the account's unique id)
 * -> .../gcp/uid/SUB.  The project, for "accounts", is
 * google.compute_engine.project_id, else the PROJECT of
 * NAME@PROJECT.iam.gserviceaccount.com.
 */
static int
map_gcp(struct vctx *v, const struct issuer *is, const json_t *claims,
    struct idbuf *b)
{
	static const char sfx[] = ".iam.gserviceaccount.com";
	const char *email = str_claim(claims, "email"), *sub, *proj, *at;
	json_t *ev = json_object_get(claims, "email_verified");
	size_t plen = 0, n;
	int rc;

	if (email != NULL && ev != NULL && !json_is_true(ev))
		return fail(v, SF_ECLAIM, "email_verified is not true");
	proj = str_claim(json_object_get(json_object_get(claims, "google"),
	    "compute_engine"), "project_id");
	if (proj != NULL)
		plen = strlen(proj);
	else if (email != NULL && (at = strrchr(email, '@')) != NULL &&
	    (n = strlen(at + 1)) > sizeof(sfx) - 1 &&
	    strcmp(at + 1 + n - (sizeof(sfx) - 1), sfx) == 0) {
		proj = at + 1;
		plen = n - (sizeof(sfx) - 1);
	}
	if ((rc = check_account(v, is, "GCP project", proj, plen)) != SF_OK)
		return rc;
	id_raw(b, "wimse://", 8);
	id_raw(b, is->trust_domain, strlen(is->trust_domain));
	if (email != NULL) {
		id_raw(b, "/gcp/sa/", 8);
		id_seg(b, email);
	} else {
		sub = str_claim(claims, "sub");
		id_raw(b, "/gcp/uid/", 9);
		id_seg(b, sub);
	}
	return SF_OK;
}

/*
 * Azure (Entra ID token of a managed identity or service principal):
 * tid and oid -> .../azure/TID/OID (oid falls back to sub).  "accounts"
 * holds tenant ids, or subscription ids matched against xms_mirid
 * ("/subscriptions/SUB/resourcegroups/...").
 */
static int
map_azure(struct vctx *v, const struct issuer *is, const json_t *claims,
    struct idbuf *b)
{
	const char *tid = str_claim(claims, "tid"), *oid, *mirid, *sub = NULL;
	char sb[SAFE_MAX + 4];
	size_t n = 0;

	if ((oid = str_claim(claims, "oid")) == NULL)
		oid = str_claim(claims, "sub");
	if (tid == NULL)
		return fail(v, SF_ECLAIM, "no tid claim (Entra tenant)");
	if (strlen(tid) > 64 || strspn(tid, "0123456789abcdef-") !=
	    strlen(tid))
		return fail(v, SF_ECLAIM, "tid %s is not a tenant id",
		    safe(tid, sb));
	mirid = str_claim(claims, "xms_mirid");
	if (mirid != NULL && strncasecmp(mirid, "/subscriptions/", 15) == 0) {
		sub = mirid + 15;
		n = strcspn(sub, "/");
	}
	if (is->accounts != NULL && !list_has(is->accounts, tid,
	    strlen(tid)) && (sub == NULL || !list_has(is->accounts, sub, n)))
		return fail(v, SF_ECLAIM, "neither tenant %s nor the "
		    "subscription of xms_mirid is among the accounts of "
		    "issuer %s", safe(tid, sb), is->name);
	id_raw(b, "wimse://", 8);
	id_raw(b, is->trust_domain, strlen(is->trust_domain));
	id_raw(b, "/azure/", 7);
	id_raw(b, tid, strlen(tid));
	id_raw(b, "/", 1);
	id_seg(b, oid);
	return SF_OK;
}

/*
 * A subject template (oidc, generic): {td} is the issuer's trust domain,
 * {NAME} the string (or integer) claim NAME as one percent-encoded path
 * segment.  A template that is a single "{NAME}" takes the claim
 * verbatim (it must then be an identifier of the issuer's domain).
 */
static int
map_template(struct vctx *v, const struct issuer *is, const json_t *claims,
    const char *tmpl, struct idbuf *b)
{
	const char *p, *e, *val;
	char name[128], num[32];
	json_t *m;
	size_t n;
	bool whole = tmpl[0] == '{' && strchr(tmpl, '}')[1] == '\0';

	for (p = tmpl; *p != '\0'; p = e + 1) {
		if (*p != '{') {
			e = p + strcspn(p, "{") - 1;
			id_raw(b, p, (size_t)(e - p + 1));
			continue;
		}
		e = strchr(p, '}');
		n = (size_t)(e - p - 1);
		if (n >= sizeof(name))
			n = sizeof(name) - 1;
		memcpy(name, p + 1, n);
		name[n] = '\0';
		if (strcmp(name, "td") == 0) {
			id_raw(b, is->trust_domain, strlen(is->trust_domain));
			continue;
		}
		m = json_object_get(claims, name);
		if (json_is_integer(m)) {
			snprintf(num, sizeof(num), "%lld",
			    (long long)json_integer_value(m));
			val = num;
		} else
			val = json_string_value(m);
		if (val == NULL || *val == '\0')
			return fail(v, SF_ECLAIM, "claim \"%s\" (used by the "
			    "subject template of issuer %s) is missing or "
			    "empty", name, is->name);
		if (whole)
			id_raw(b, val, strlen(val));
		else
			id_seg(b, val);
	}
	return SF_OK;
}

/* Subject of a verified external token into b, by the issuer's kind. */
static int
map_subject(struct vctx *v, const struct issuer *is, const json_t *claims,
    struct idbuf *b)
{
	const char *sub = str_claim(claims, "sub");

	if (sub == NULL)
		return fail(v, SF_ECLAIM, "no sub claim");
	switch (is->kind) {
	case IK_KUBERNETES:
		return map_kubernetes(v, is, claims, b);
	case IK_SPIFFE:
		id_raw(b, sub, strlen(sub));
		return SF_OK;
	case IK_AWS:
		return map_aws(v, is, claims, b);
	case IK_GCP:
		return map_gcp(v, is, claims, b);
	case IK_AZURE:
		return map_azure(v, is, claims, b);
	case IK_OIDC:
		return map_template(v, is, claims, is->subject != NULL ?
		    is->subject : "wimse://{td}/oidc/{sub}", b);
	default:
		if (is->subject != NULL)
			return map_template(v, is, claims, is->subject, b);
		/* generic: a workload identifier is kept as it is. */
		if (strncmp(sub, "wimse://", 8) == 0 ||
		    strncmp(sub, "spiffe://", 9) == 0)
			return map_template(v, is, claims, "{sub}", b);
		return map_template(v, is, claims, "wimse://{td}/jwt/{sub}",
		    b);
	}
}

static int
fill(struct subject *out, const char *id, const char *td, size_t tdlen,
    const char *type, const char *iss, json_t *claims, int64_t exp, bool own)
{
	if ((out->id = sf_strdup(id)) == NULL ||
	    (out->trust_domain = sf_strndup(td, tdlen)) == NULL ||
	    (out->type = sf_strdup(type)) == NULL ||
	    (out->issuer = sf_strdup(iss != NULL ? iss : "")) == NULL) {
		subject_clear(out);
		return SF_ENOMEM;
	}
	out->claims = json_incref(claims);
	out->exp = exp;
	out->own = own;
	return SF_OK;
}

/* typ values that mark tokens of other kinds (RFC 8725 §3.11-3.12). */
static const char *const foreign_typs[] = {
	"secevent+jwt",		/* RFC 8417 SET */
	"dpop+jwt",		/* RFC 9449 proof */
	"logout+jwt",		/* OIDC back-channel logout */
	"wpt+jwt",		/* WIMSE proof token */
	"wit+jwt",		/* WIMSE identity token: never a bearer */
	NULL
};

/* A token of a configured issuer. */
static int
validate_external(struct vctx *v, const struct issuer *is,
    const struct jws *jws, struct subject *out)
{
	const json_t *claims = jws->claims;
	const char *iss = str_claim(claims, "iss"), *td, *k;
	struct idbuf b = { .n = 0 };
	char who[256], sb[SAFE_MAX + 4], tb[SAFE_MAX + 4];
	int64_t exp;
	size_t i, tdlen;
	json_t *m;
	int rc;

	snprintf(who, sizeof(who), "issuer %s", is->iss != NULL ? is->iss :
	    is->name);
	for (i = 0; foreign_typs[i] != NULL; i++)
		if (typ_is(jws->typ, foreign_typs[i]))
			return fail(v, SF_ECLAIM, "typ %s marks a token that "
			    "is not a workload credential", foreign_typs[i]);
	if (is->kind == IK_SPIFFE) {
		/* JWT-SVID §2: no header parameters but alg, kid, typ. */
		json_object_foreach(jws->header, k, m)
			if (strcmp(k, "alg") != 0 && strcmp(k, "kid") != 0 &&
			    strcmp(k, "typ") != 0)
				return fail(v, SF_EINVAL, "JWT-SVID header "
				    "holds \"%s\" (only alg, kid, typ)",
				    safe(k, sb));
		if (jws->typ != NULL && !typ_is(jws->typ, "JWT") &&
		    !typ_is(jws->typ, "JOSE"))
			return fail(v, SF_ECLAIM, "JWT-SVID typ %s is not JWT "
			    "or JOSE", safe(jws->typ, sb));
	}
	if (is->typ != NULL) {
		for (i = 0; is->typ[i] != NULL; i++)
			if (typ_is(jws->typ, is->typ[i]))
				break;
		if (is->typ[i] == NULL)
			return fail(v, SF_ECLAIM, "typ %s is not accepted by "
			    "%s (expected %s)", safe(jws->typ, sb), who,
			    safe(is->typ[0], tb));
	}
	if ((rc = verify_sig(v, jws, is->keys, is->algs, who)) != SF_OK)
		return rc;
	if ((rc = check_times(v, claims, true, is->max_age, who, &exp)) !=
	    SF_OK)
		return rc;
	if ((rc = check_aud(v, claims, is->audience, who)) != SF_OK)
		return rc;
	if ((rc = map_subject(v, is, claims, &b)) != SF_OK)
		return rc;
	if (b.over)
		return fail(v, SF_ECLAIM, "subject identifier longer than %d "
		    "bytes", CRED_ID_MAX);
	if (!id_ok(b.s, &td, &tdlen))
		return fail(v, SF_ECLAIM, "subject %s is not a valid %s",
		    safe(b.s, sb), is->kind == IK_SPIFFE ? "SPIFFE ID" :
		    "workload identifier");
	/* The subject's trust domain is the issuer's. */
	if (tdlen != strlen(is->trust_domain) ||
	    memcmp(td, is->trust_domain, tdlen) != 0)
		return fail(v, SF_ECLAIM, "subject %s is not in trust domain "
		    "%s of %s", safe(b.s, sb), is->trust_domain, who);
	return fill(out, b.s, td, tdlen, cred_type_uri[v->type], iss,
	    jws->claims, exp, false);
}

/*
 * A token this unit issued: access tokens (at+jwt) and agent tokens
 * (agent+jwt), verified with the unit's published keys.
 */
static int
validate_own(struct vctx *v, const struct keyring *own,
    const struct jws *jws, struct subject *out)
{
	const json_t *claims = jws->claims;
	const char *sub = str_claim(claims, "sub"), *td, *tdc;
	const struct sf_conf *c = v->c;
	char sb[SAFE_MAX + 4];
	size_t tdlen, n;
	int64_t exp;
	int rc;

	if (!v->actor && v->type != CT_JWT && v->type != CT_ACCESS &&
	    v->type != CT_AGENT)
		return fail(v, SF_ECLAIM, "a token of this unit (iss %s) is "
		    "presented as %s; present it as %s, %s or %s", c->issuer,
		    cred_type_uri[v->type], CRED_TYPE_JWT, CRED_TYPE_ACCESS,
		    CRED_TYPE_AGENT);
	if (own == NULL)
		return fail(v, SF_EKEY, "this unit's keys are not loaded");
	if (v->type == CT_AGENT && !v->actor) {
		if (!typ_is(jws->typ, CRED_TYP_AGENT))
			return fail(v, SF_ECLAIM, "typ %s is not %s (agent "
			    "tokens)", safe(jws->typ, sb), CRED_TYP_AGENT);
	} else if (!typ_is(jws->typ, TYP_ACCESS) &&
	    !typ_is(jws->typ, CRED_TYP_AGENT))
		return fail(v, SF_ECLAIM, "typ %s is not %s or %s",
		    safe(jws->typ, sb), TYP_ACCESS, CRED_TYP_AGENT);
	if ((rc = verify_sig(v, jws, keyring_public(own), 0, "this unit")) !=
	    SF_OK)
		return rc;
	if ((rc = check_times(v, claims, true, 0, "this unit", &exp)) !=
	    SF_OK)
		return rc;
	if (sub == NULL)
		return fail(v, SF_ECLAIM, "no sub claim");
	if (!id_ok(sub, &td, &tdlen))
		return fail(v, SF_ECLAIM, "sub %s is not a workload "
		    "identifier", safe(sub, sb));
	if (v->type == CT_AGENT && !v->actor) {
		/* wimse://<our trust domain>/agent/<platform>/<name> */
		n = c->trust_domain != NULL ? strlen(c->trust_domain) : 0;
		if (strncmp(sub, "wimse://", 8) != 0 || (n > 0 &&
		    (tdlen != n || memcmp(td, c->trust_domain, n) != 0)) ||
		    strncmp(td + tdlen, "/agent/", 7) != 0)
			return fail(v, SF_ECLAIM, "sub %s is not an agent of "
			    "this unit (wimse://%s/agent/...)", safe(sub, sb),
			    c->trust_domain != NULL ? c->trust_domain : "TD");
	}
	/* The td claim names the subject's trust domain when present. */
	if ((tdc = str_claim(claims, "td")) != NULL) {
		if (!cred_td_ok(tdc, strlen(tdc)))
			return fail(v, SF_ECLAIM, "td %s is not a trust domain",
			    safe(tdc, sb));
		td = tdc;
		tdlen = strlen(tdc);
	}
	return fill(out, sub, td, tdlen, cred_type_uri[v->type], c->issuer,
	    jws->claims, exp, true);
}

static const struct issuer *
find_iss(const struct issuers *is, const char *iss)
{
	size_t i;

	for (i = 0; is != NULL && i < is->n; i++)
		if (is->v[i].iss != NULL && strcmp(is->v[i].iss, iss) == 0)
			return &is->v[i];
	return NULL;
}

static const struct issuer *
find_bundle(const struct issuers *is, const char *td, size_t len)
{
	size_t i;

	for (i = 0; is != NULL && i < is->n; i++)
		if (is->v[i].kind == IK_SPIFFE &&
		    strlen(is->v[i].trust_domain) == len &&
		    memcmp(is->v[i].trust_domain, td, len) == 0)
			return &is->v[i];
	return NULL;
}

/*
 * The issuer configured for this token and type: a JWT-SVID by the trust
 * domain of its SPIFFE ID (and by iss when the bundle names one), any
 * other token by its iss.
 */
static int
resolve(struct vctx *v, const struct issuers *is, const json_t *claims,
    const struct issuer **out)
{
	const char *iss = str_claim(claims, "iss"), *sub, *td;
	const struct issuer *e;
	char sb[SAFE_MAX + 4], ib[SAFE_MAX + 4];
	size_t tdlen;

	*out = NULL;
	if (v->type == CT_SPIFFE) {
		sub = str_claim(claims, "sub");
		if (sub == NULL)
			return fail(v, SF_ECLAIM, "no sub claim");
		if (!id_ok(sub, &td, &tdlen) || strncmp(sub, "spiffe://", 9) != 0)
			return fail(v, SF_ECLAIM, "sub %s is not a SPIFFE ID",
			    safe(sub, sb));
		if ((e = find_bundle(is, td, tdlen)) == NULL)
			return fail(v, SF_ECLAIM, "trust domain %.*s has no "
			    "configured SPIFFE bundle", (int)tdlen, td);
		if (e->iss != NULL && (iss == NULL || strcmp(iss, e->iss)))
			return fail(v, SF_ECLAIM, "iss %s is not %s, the issuer "
			    "of trust domain %s", safe(iss, ib), e->iss,
			    e->trust_domain);
		*out = e;
		return SF_OK;
	}
	if (iss == NULL)
		return fail(v, SF_ECLAIM, "no iss claim");
	if ((e = find_iss(is, iss)) == NULL)
		return fail(v, SF_ECLAIM, "issuer %s is not configured",
		    safe(iss, ib));
	if (!(e->types & CT_BIT(v->type)))
		return fail(v, SF_ECLAIM, "issuer %s is not configured for "
		    "type %s", safe(iss, ib), cred_type_uri[v->type]);
	*out = e;
	return SF_OK;
}

static bool
is_own(const struct vctx *v, const json_t *claims)
{
	const char *iss = str_claim(claims, "iss");

	return iss != NULL && v->c->issuer != NULL &&
	    strcmp(iss, v->c->issuer) == 0;
}

/* A parsed, well-formed token: our own, or a configured issuer's. */
static int
validate_parsed(struct vctx *v, const struct issuers *is,
    const struct keyring *own, const struct jws *jws, struct subject *out)
{
	const struct issuer *e;
	char ib[SAFE_MAX + 4];
	int rc;

	if (is_own(v, jws->claims))
		return validate_own(v, own, jws, out);
	if (v->type == CT_AGENT)
		return fail(v, SF_ECLAIM, "agent tokens are issued by this "
		    "unit (iss %s), not by %s", v->c->issuer,
		    safe(str_claim(jws->claims, "iss"), ib));
	if ((rc = resolve(v, is, jws->claims, &e)) != SF_OK)
		return rc;
	return validate_external(v, e, jws, out);
}

/*
 * Dev stub tokens (API.md, dev): three dot-separated parts, header and
 * payload JSON objects in base64url or standard base64 (padding
 * allowed), the signature never checked.
 */
static int
dev_b64(const char *s, size_t n, unsigned char **out, size_t *outlen)
{
	char *t;
	size_t i, m = 0;
	int rc;

	*out = NULL;
	if ((t = malloc(n + 1)) == NULL)
		return SF_ENOMEM;
	for (i = 0; i < n; i++) {
		if (s[i] == '=') {
			/* Padding only at the end, at most two. */
			if (n - i > 2 || strspn(s + i, "=") < n - i) {
				free(t);
				return SF_EPARSE;
			}
			break;
		}
		t[m++] = s[i] == '+' ? '-' : s[i] == '/' ? '_' : s[i];
	}
	t[m] = '\0';
	rc = b64url_decode(t, m, out, outlen);
	free(t);
	return rc;
}

static int
dev_json(struct vctx *v, const char *part, const char *s, size_t n,
    json_t **out)
{
	unsigned char *raw = NULL;
	char *jwhy = NULL;
	size_t len = 0;
	int rc;

	*out = NULL;
	if (dev_b64(s, n, &raw, &len) != SF_OK)
		return fail(v, SF_EINVAL, "not a JWT: the %s is not base64",
		    part);
	rc = json_parse_strict((const char *)raw, len, out, &jwhy);
	free(raw);
	if (rc != SF_OK || !json_is_object(*out)) {
		rc = fail(v, SF_EINVAL, "not a JWT: the %s is not a JSON "
		    "object%s%s", part, jwhy != NULL ? ": " : "",
		    jwhy != NULL ? jwhy : "");
		free(jwhy);
		json_decref(*out);
		*out = NULL;
		return rc;
	}
	return SF_OK;
}

/*
 * -> wimse://dev.local/ns/<namespace>/sa/<serviceaccount>, namespace and
 * serviceaccount from the "kubernetes.io" claim, else the flat claims,
 * else "default" and sub ("dev-workload" without one); a serviceaccount
 * that starts with wimse:// is the identifier itself.  jws is the token
 * as jws_parse read it, or NULL when it did not parse: its header and
 * claims are used as they are rather than decoded again.
 */
static int
validate_stub(struct vctx *v, const char *tok, size_t len,
    const struct jws *jws, struct subject *out)
{
	const char *d1, *d2, *ns, *sa, *td;
	json_t *hdr = NULL, *claims = NULL, *k8s;
	struct idbuf b = { .n = 0 };
	char sb[SAFE_MAX + 4];
	int64_t exp = 0;
	size_t tdlen;
	int rc;

	if ((d1 = memchr(tok, '.', len)) == NULL ||
	    (d2 = memchr(d1 + 1, '.', len - (size_t)(d1 + 1 - tok))) ==
	    NULL || memchr(d2 + 1, '.', len - (size_t)(d2 + 1 - tok)) != NULL)
		return fail(v, SF_EINVAL, "not a JWT: expected three "
		    "dot-separated parts");
	if (strspn(d2 + 1, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	    "0123456789-_+/=") != len - (size_t)(d2 + 1 - tok))
		return fail(v, SF_EINVAL, "not a JWT: the signature is not "
		    "base64");
	if (jws != NULL && json_is_object(jws->header) &&
	    json_is_object(jws->claims)) {
		hdr = json_incref(jws->header);
		claims = json_incref(jws->claims);
	} else if ((rc = dev_json(v, "header", tok, (size_t)(d1 - tok),
	    &hdr)) != SF_OK ||
	    (rc = dev_json(v, "payload", d1 + 1, (size_t)(d2 - d1 - 1),
	    &claims)) != SF_OK)
		goto out;
	if (!json_is_string(json_object_get(hdr, "alg"))) {
		rc = fail(v, SF_EINVAL, "not a JWT: header without \"alg\"");
		goto out;
	}
	if ((rc = check_claim_types(v, claims)) != SF_OK)
		goto out;
	if (num_claim(claims, "exp", &exp) && v->now - v->skew >= exp) {
		rc = fail(v, SF_EEXPIRED, "expired at %s", when(exp,
		    (char[32]){ 0 }));
		goto out;
	}
	k8s = json_object_get(claims, "kubernetes.io");
	if ((ns = str_claim(k8s, "namespace")) == NULL &&
	    (ns = str_claim(claims, "namespace")) == NULL)
		ns = "default";
	if ((sa = str_claim(json_object_get(k8s, "serviceaccount"), "name")) ==
	    NULL && (sa = str_claim(claims, "serviceaccount")) == NULL &&
	    (sa = str_claim(claims, "sub")) == NULL)
		sa = "dev-workload";
	if (strncmp(sa, "wimse://", 8) == 0) {
		if (!id_ok(sa, &td, &tdlen)) {
			rc = fail(v, SF_ECLAIM, "sub %s is not a workload "
			    "identifier", safe(sa, sb));
			goto out;
		}
		id_raw(&b, sa, strlen(sa));
	} else {
		id_raw(&b, "wimse://" DEV_TD "/ns/", 8 + strlen(DEV_TD) + 4);
		id_seg(&b, ns);
		id_raw(&b, "/sa/", 4);
		id_seg(&b, sa);
	}
	if (b.over) {
		rc = fail(v, SF_ECLAIM, "subject identifier longer than %d "
		    "bytes", CRED_ID_MAX);
		goto out;
	}
	rc = fill(out, b.s, DEV_TD, strlen(DEV_TD), cred_type_uri[v->type],
	    str_claim(claims, "iss"), claims, exp, false);
out:
	json_decref(hdr);
	json_decref(claims);
	return rc;
}

/* Whether a parsed token belongs to the normal path in dev mode. */
static bool
dev_is_real(struct vctx *v, const struct issuers *is, const struct jws *jws)
{
	const struct issuer *e;
	char *saved = *v->why;
	bool real;

	if (jws->claims == NULL)
		return false;
	if (is_own(v, jws->claims))
		return true;
	*v->why = NULL;
	real = v->type != CT_AGENT && resolve(v, is, jws->claims, &e) ==
	    SF_OK;
	free(*v->why);
	*v->why = saved;
	return real;
}

static int
validate(struct vctx *v, const struct issuers *is, const struct keyring *own,
    const char *token, const char *token_type, struct subject *out)
{
	struct jws *jws = NULL;
	char *clean = NULL, tb[SAFE_MAX + 4];
	const char *tok = token;
	size_t len, i, n;
	int rc;

	memset(out, 0, sizeof(*out));
	*v->why = NULL;
	if ((v->type = cred_type_of(token_type)) < 0)
		return fail(v, SF_EINVAL, "unsupported token type %s",
		    safe(token_type, tb));
	if (token == NULL || *token == '\0')
		return fail(v, SF_EINVAL, "empty token");
	if ((len = strlen(token)) > TOKEN_MAX)
		return fail(v, SF_EINVAL, "token longer than %d bytes",
		    TOKEN_MAX);
	if (v->c->mode == SF_MODE_DEV && strpbrk(token, "\r\n") != NULL) {
		/* Shell base64 wraps at 76 columns: drop the line breaks. */
		if ((clean = malloc(len + 1)) == NULL)
			return SF_ENOMEM;
		for (i = n = 0; i < len; i++)
			if (token[i] != '\r' && token[i] != '\n')
				clean[n++] = token[i];
		clean[n] = '\0';
		tok = clean;
		len = n;
	}
	rc = jws_parse(tok, len, &jws);
	if (rc == SF_ENOMEM)
		goto out;
	if (v->c->mode == SF_MODE_DEV && (rc != SF_OK ||
	    !dev_is_real(v, is, jws))) {
		rc = validate_stub(v, tok, len, rc == SF_OK ? jws : NULL, out);
		goto out;
	}
	if (rc != SF_OK) {
		rc = fail(v, SF_EINVAL, "malformed JWT (%s)", jose_why());
		goto out;
	}
	if (jws->claims == NULL) {
		rc = fail(v, SF_EINVAL, "the payload is not a JSON object");
		goto out;
	}
	if ((rc = check_claim_types(v, jws->claims)) != SF_OK)
		goto out;
	rc = validate_parsed(v, is, own, jws, out);
out:
	if (rc != SF_OK)
		subject_clear(out);
	if (rc == SF_ENOMEM && *v->why == NULL)
		(void)fail(v, rc, "out of memory");
	jws_free(jws);
	free(clean);
	return rc;
}

int
cred_validate(const struct sf_conf *c, const struct issuers *is,
    const struct keyring *own, const char *token, const char *token_type,
    int64_t now, struct subject *out, char **why)
{
	struct vctx v = { .c = c, .actor = false, .now = now,
	    .skew = c->clock_skew, .why = why };

	return validate(&v, is, own, token, token_type, out);
}

int
cred_validate_actor(const struct sf_conf *c, const struct issuers *is,
    const struct keyring *own, const char *token, const char *token_type,
    int64_t now, struct subject *out, char **why)
{
	struct vctx v = { .c = c, .actor = true, .now = now,
	    .skew = c->clock_skew, .why = why };

	return validate(&v, is, own, token, token_type, out);
}

void
subject_clear(struct subject *s)
{
	if (s == NULL)
		return;
	free(s->id);
	free(s->trust_domain);
	free(s->type);
	free(s->issuer);
	json_decref(s->claims);
	memset(s, 0, sizeof(*s));
}
