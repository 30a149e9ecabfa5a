/*
 * test_set.c - Security Event Tokens: transmitters.d loading, signed SETs
 * (RS256 and ES256 keys made here with OpenSSL) accepted, every refusal
 * with its RFC 8935 error code, dev plain JSON, the CAEP/RISC effect
 * table and RFC 9493 subject identifiers.
 */
#include <sys/stat.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "starfly.h"
#include "t.h"

#define ISS	"https://idp.test"
#define AUD	"https://starfly.test"

static char dir[] = "/tmp/sf-set-XXXXXX";
static struct sf_conf conf;
static struct jwk *rsa, *ec, *other;
static struct set_transmitters *tx;

static int
write_str(const char *path, const char *s)
{
	return sf_write_file(path, s, strlen(s), 0644);
}

static int
write_jwks(const char *path, struct jwk *a, struct jwk *b)
{
	json_t *doc, *ja = NULL, *jb = NULL;
	char *s;
	int rc;

	if (jwk_to_json(a, &ja) != SF_OK || (b != NULL &&
	    jwk_to_json(b, &jb) != SF_OK))
		return SF_ECRYPTO;
	doc = json_pack("{s:[o]}", "keys", ja);
	if (jb != NULL)
		json_array_append_new(json_object_get(doc, "keys"), jb);
	s = json_dumps(doc, 0);
	rc = write_str(path, s);
	free(s);
	json_decref(doc);
	return rc;
}

static char *
path_in(const char *name)
{
	char *p = NULL;

	(void)sf_asprintf(&p, "%s/%s", dir, name);
	return p;
}

/* A SET over claims (JSON text) signed by key with header typ. */
static char *
sign(struct jwk *key, const char *typ, const char *claims)
{
	json_t *h = json_pack("{s:s}", "typ", typ);
	char *out = NULL;

	(void)jws_sign(key, h, claims, strlen(claims), &out);
	json_decref(h);
	return out;
}

/* A compact JWS with a hand-made header and signature. */
static char *
forge(const char *header, const char *claims, const char *sig)
{
	char *h = NULL, *p = NULL, *out = NULL;

	if (b64url_encode(header, strlen(header), &h) == SF_OK &&
	    b64url_encode(claims, strlen(claims), &p) == SF_OK)
		(void)sf_asprintf(&out, "%s.%s.%s", h, p, sig);
	free(h);
	free(p);
	return out;
}

static char *
claims_with(const char *extra)
{
	char *s = NULL;

	(void)sf_asprintf(&s, "{\"iss\":\"" ISS "\",\"jti\":\"j-1\",\"iat\":%lld,"
	    "\"aud\":\"" AUD "\",\"sub_id\":{\"format\":\"uri\",\"uri\":"
	    "\"wimse://td/ns/a/sa/b\"},\"events\":{\"" SET_CAEP
	    "session-revoked\":{}}%s}", (long long)sf_now() - 5, extra);
	return s;
}

/* verify and return the error code (SET_ERR_NONE on success). */
static enum set_err
check(const char *compact, const char *auth)
{
	struct set s;
	enum set_err err;
	char *why = NULL;
	int rc;

	rc = set_verify(tx, compact, strlen(compact), auth, sf_now(), 60, &s,
	    &err, &why);
	if (rc == SF_OK && err == SET_ERR_NONE)
		set_clear(&s);
	else if (why == NULL)
		err = SET_ACCESS_DENIED;	/* a refusal must say why */
	free(why);
	return err;
}

static void
setup(void)
{
	char *p, *q;

	T(mkdtemp(dir) != NULL);
	p = path_in("transmitters.d");
	T(mkdir(p, 0755) == 0);
	free(p);
	T_OK(jwk_generate(JWS_RS256, &rsa));
	T_OK(jwk_generate(JWS_ES256, &ec));
	T_OK(jwk_generate(JWS_RS256, &other));
	p = path_in("transmitters.d/idp.jwks");
	T_OK(write_jwks(p, rsa, ec));
	free(p);
	p = path_in("transmitters.d/idp.conf");
	T_OK(write_str(p, "issuer " ISS "\njwks_file idp.jwks\n"
	    "session_ttl 600\n"));
	free(p);
	/* A second transmitter that must send a bearer token ("s3cret"). */
	p = path_in("transmitters.d/bearer.conf");
	q = path_in("transmitters.d/bearer.jwks");
	T_OK(write_jwks(q, ec, NULL));
	T_OK(write_str(p, "issuer https://bearer.test\njwks_file bearer.jwks\n"
	    "audience urn:starfly:test\nbearer_sha256 "
	    "4f0dbf12d2b6a2ed0a8c2f3cf3dfa4b6c4d3a3bcb4f1b7a78c6cc1b5ac8a4bfe\n"));
	free(p);
	free(q);
	conf.etc_dir = dir;
	conf.issuer = (char *)AUD;
	conf.max_token_ttl = 3600;
}

static void
transmitters(void)
{
	const struct set_transmitter *t;
	struct set_transmitters *bad = NULL;
	char *err = NULL, *p, *q;

	T_OK(set_transmitters_load(&conf, &tx, &err));
	T(set_transmitters_count(tx) == 2);
	t = set_transmitter_find(tx, ISS);
	T(t != NULL);
	T_EQ_STR(t->name, "idp");
	T_EQ_STR(t->audience, AUD);
	T(t->session_ttl == 600 && !t->bearer);
	t = set_transmitter_find(tx, "https://bearer.test");
	T(t != NULL && t->bearer && t->session_ttl == 3600);
	T(set_transmitter_find(tx, "https://nobody") == NULL);
	/* A broken file names itself. */
	p = path_in("transmitters.d/zz.conf");
	T_OK(write_str(p, "issuer " ISS "\njwks_file idp.jwks\n"));
	T(set_transmitters_load(&conf, &bad, &err) == SF_ECONF);
	T(err != NULL && strstr(err, "zz.conf") != NULL &&
	    strstr(err, "also configured") != NULL);
	free(err);
	err = NULL;
	T_OK(write_str(p, "issuer https://zz\njwks_file nope.jwks\n"));
	T(set_transmitters_load(&conf, &bad, &err) == SF_ECONF);
	T(err != NULL && strstr(err, "nope.jwks") != NULL);
	free(err);
	err = NULL;
	T_OK(write_str(p, "issuer https://zz\njwks_file idp.jwks\n"
	    "bearer_sha256 xyz\n"));
	T(set_transmitters_load(&conf, &bad, &err) == SF_ECONF);
	T(err != NULL && strstr(err, "bearer_sha256") != NULL);
	free(err);
	err = NULL;
	T_OK(write_str(p, "issuer https://zz\njwks_file idp.jwks\n"
	    "colour blue\n"));
	T(set_transmitters_load(&conf, &bad, &err) != SF_OK);
	T(err != NULL && strstr(err, "zz.conf:3") != NULL);
	free(err);
	T(unlink(p) == 0);
	free(p);
	/* No directory at all: no transmitters. */
	q = conf.etc_dir;
	conf.etc_dir = (char *)"/nonexistent";
	err = NULL;
	T_OK(set_transmitters_load(&conf, &bad, &err));
	T(set_transmitters_count(bad) == 0);
	set_transmitters_free(bad);
	conf.etc_dir = q;
}

static void
signed_accepted(void)
{
	struct set s;
	enum set_err err;
	char *c, *rs, *es, *why = NULL;

	c = claims_with("");
	rs = sign(rsa, SET_TYP, c);
	es = sign(ec, "application/secevent+jwt", c);
	T(rs != NULL && es != NULL);
	T_OK(set_verify(tx, rs, strlen(rs), NULL, sf_now(), 60, &s, &err,
	    &why));
	T(err == SET_ERR_NONE && why == NULL);
	T_EQ_STR(s.iss, ISS);
	T_EQ_STR(s.jti, "j-1");
	T(s.tx == set_transmitter_find(tx, ISS));
	T_EQ_STR(json_string_value(json_object_get(s.subject, "uri")),
	    "wimse://td/ns/a/sa/b");
	set_clear(&s);
	T(check(es, NULL) == SET_ERR_NONE);
	free(rs);
	free(es);
	free(c);
	/* aud as an array holding ours. */
	c = claims_with(",\"x\":1");
	free(c);
	(void)sf_asprintf(&c, "{\"iss\":\"" ISS "\",\"jti\":\"j-2\",\"iat\":1,"
	    "\"aud\":[\"other\",\"" AUD "\"],\"events\":{\"" SET_RISC
	    "account-disabled\":{\"subject\":{\"format\":\"email\",\"email\":"
	    "\"a@b.test\"}}}}");
	rs = sign(rsa, SET_TYP, c);
	T_OK(set_verify(tx, rs, strlen(rs), NULL, sf_now(), 60, &s, &err,
	    &why));
	/* The legacy in-event subject is used without sub_id. */
	T_EQ_STR(json_string_value(json_object_get(s.subject, "email")),
	    "a@b.test");
	set_clear(&s);
	free(rs);
	free(c);
}

static void
refusals(void)
{
	char *c, *t, *p, *h;
	const char *kid = jwk_kid(rsa);

	c = claims_with("");
	/* Unsigned. */
	t = forge("{\"alg\":\"none\",\"typ\":\"secevent+jwt\"}", c, "");
	T(check(t, NULL) == SET_AUTHENTICATION_FAILED);
	free(t);
	/* Signed by a key that is not the transmitter's, under its kid. */
	T_OK(jwk_set_kid(other, kid));
	t = sign(other, SET_TYP, c);
	T(check(t, NULL) == SET_AUTHENTICATION_FAILED);
	free(t);
	/* Signature bytes altered. */
	t = sign(rsa, SET_TYP, c);
	p = strrchr(t, '.') + 5;
	*p = *p == 'A' ? 'B' : 'A';
	T(check(t, NULL) == SET_AUTHENTICATION_FAILED);
	free(t);
	/* Unknown kid; HMAC; alg not the key's. */
	T_OK(jwk_set_kid(other, "nobody"));
	t = sign(other, SET_TYP, c);
	T(check(t, NULL) == SET_INVALID_KEY);
	free(t);
	h = NULL;
	(void)sf_asprintf(&h, "{\"alg\":\"HS256\",\"kid\":\"%s\",\"typ\":"
	    "\"secevent+jwt\"}", kid);
	t = forge(h, c, "AAAA");
	T(check(t, NULL) == SET_INVALID_KEY);
	free(t);
	free(h);
	(void)sf_asprintf(&h, "{\"alg\":\"ES256\",\"kid\":\"%s\",\"typ\":"
	    "\"secevent+jwt\"}", kid);
	t = forge(h, c, "AAAA");
	T(check(t, NULL) == SET_INVALID_KEY);
	free(t);
	free(h);
	/* Explicit typing (RFC 8417 §2.3). */
	t = sign(rsa, "JWT", c);
	T(check(t, NULL) == SET_INVALID_REQUEST);
	free(t);
	free(c);
	/* Wrong audience, unknown issuer. */
	c = NULL;
	(void)sf_asprintf(&c, "{\"iss\":\"" ISS "\",\"jti\":\"j\",\"iat\":1,"
	    "\"aud\":\"https://elsewhere\",\"events\":{\"e\":{}}}");
	t = sign(rsa, SET_TYP, c);
	T(check(t, NULL) == SET_INVALID_AUDIENCE);
	free(t);
	free(c);
	(void)sf_asprintf(&c, "{\"iss\":\"https://rogue\",\"jti\":\"j\","
	    "\"iat\":1,\"aud\":\"" AUD "\",\"events\":{\"e\":{}}}");
	t = sign(rsa, SET_TYP, c);
	T(check(t, NULL) == SET_INVALID_ISSUER);
	free(t);
	free(c);
	/* Malformed: not a JWS, payload not JSON, members wrong. */
	T(check("hello", NULL) == SET_INVALID_REQUEST);
	T(check("a.b.c.d", NULL) == SET_INVALID_REQUEST);
	t = forge("{\"alg\":\"RS256\",\"typ\":\"secevent+jwt\"}", "[1,2]",
	    "AAAA");
	T(check(t, NULL) == SET_INVALID_REQUEST);
	free(t);
	{
		static const char *const bad[] = {
			/* no jti */
			"{\"iss\":\"" ISS "\",\"iat\":1,\"aud\":\"" AUD
			    "\",\"events\":{\"e\":{}}}",
			/* no iat */
			"{\"iss\":\"" ISS "\",\"jti\":\"j\",\"aud\":\"" AUD
			    "\",\"events\":{\"e\":{}}}",
			/* events empty */
			"{\"iss\":\"" ISS "\",\"jti\":\"j\",\"iat\":1,\"aud\":\""
			    AUD "\",\"events\":{}}",
			/* event payload not an object */
			"{\"iss\":\"" ISS "\",\"jti\":\"j\",\"iat\":1,\"aud\":\""
			    AUD "\",\"events\":{\"e\":true}}",
			/* expired */
			"{\"iss\":\"" ISS "\",\"jti\":\"j\",\"iat\":1,\"exp\":2,"
			    "\"aud\":\"" AUD "\",\"events\":{\"e\":{}}}",
			/* sub_id not an object */
			"{\"iss\":\"" ISS "\",\"jti\":\"j\",\"iat\":1,\"aud\":\""
			    AUD "\",\"sub_id\":\"x\",\"events\":{\"e\":{}}}",
			/* iat in the future */
			"{\"iss\":\"" ISS "\",\"jti\":\"j\",\"iat\":99999999999,"
			    "\"aud\":\"" AUD "\",\"events\":{\"e\":{}}}",
		};
		size_t i;

		for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
			t = sign(rsa, SET_TYP, bad[i]);
			T(check(t, NULL) == SET_INVALID_REQUEST);
			free(t);
		}
	}
}

static void
bearer(void)
{
	const char *c = "{\"iss\":\"https://bearer.test\",\"jti\":\"j\","
	    "\"iat\":1,\"aud\":\"urn:starfly:test\",\"events\":{\"e\":{}}}";
	char *t = sign(ec, SET_TYP, c);

	T(t != NULL);
	/* sha256("s3cret") is not what the file holds: compute it here. */
	T(check(t, NULL) == SET_AUTHENTICATION_FAILED);
	T(check(t, "Bearer wrong") == SET_AUTHENTICATION_FAILED);
	T(check(t, "Basic czNjcmV0") == SET_AUTHENTICATION_FAILED);
	free(t);
}

static void
bearer_right(void)
{
	struct set_transmitters *ts = NULL;
	char *p, *err = NULL, *t;
	const char *c = "{\"iss\":\"https://bearer.test\",\"jti\":\"j\","
	    "\"iat\":1,\"aud\":\"urn:starfly:test\",\"events\":{\"e\":{}}}";
	struct set s;
	enum set_err e;
	char *why = NULL;

	/* SHA-256 of "s3cret". */
	p = path_in("transmitters.d/bearer.conf");
	T_OK(write_str(p, "issuer https://bearer.test\njwks_file bearer.jwks\n"
	    "audience urn:starfly:test\nbearer_sha256 "
	    "f80f7f2e4e1e3b4bb4b2ff0e8c5b2e52c0ff4c1e52e8f3e6fde06a9ac15a1b7d\n"));
	free(p);
	T_OK(set_transmitters_load(&conf, &ts, &err));
	t = sign(ec, SET_TYP, c);
	/* The digest above is not of "s3cret" either: refused. */
	T(set_verify(ts, t, strlen(t), "Bearer s3cret", sf_now(), 60, &s, &e,
	    &why) == SF_EINVAL && e == SET_AUTHENTICATION_FAILED);
	free(why);
	why = NULL;
	set_transmitters_free(ts);
	/* The real digest, computed with OpenSSL. */
	{
		unsigned char md[32];
		char hex[65], *line = NULL;
		unsigned int n = 0;
		int i;

		EVP_Digest("s3cret", 6, md, &n, EVP_sha256(), NULL);
		for (i = 0; i < 32; i++)
			snprintf(hex + 2 * i, 3, "%02x", md[i]);
		p = path_in("transmitters.d/bearer.conf");
		(void)sf_asprintf(&line, "issuer https://bearer.test\n"
		    "jwks_file bearer.jwks\naudience urn:starfly:test\n"
		    "bearer_sha256 %s\n", hex);
		T_OK(write_str(p, line));
		free(line);
		free(p);
	}
	T_OK(set_transmitters_load(&conf, &ts, &err));
	T_OK(set_verify(ts, t, strlen(t), "Bearer s3cret", sf_now(), 60, &s,
	    &e, &why));
	set_clear(&s);
	T(set_verify(ts, t, strlen(t), "Bearer s3cre", sf_now(), 60, &s, &e,
	    &why) == SF_EINVAL && e == SET_AUTHENTICATION_FAILED);
	free(why);
	set_transmitters_free(ts);
	free(t);
}

static void
dev_json(void)
{
	struct set s;
	enum set_err err;
	char *why = NULL;
	const char *ok = "{\"iss\":\"sandbox\",\"sub_id\":{\"format\":"
	    "\"spiffe\",\"spiffe_id\":\"spiffe://td/x\"},\"events\":{\""
	    SET_CAEP "session-revoked\":{}}}";

	T_OK(set_from_json(ok, strlen(ok), sf_now(), &s, &err, &why));
	T(s.jti == NULL && s.iat == 0 && s.tx == NULL);
	T(s.subject != NULL);
	set_clear(&s);
	/* No sub_id and no subject in the event: no subject at all. */
	T_OK(set_from_json("{\"iss\":\"a\",\"events\":{\"e\":{\"state\":"
	    "\"x\"}}}", 40, sf_now(), &s, &err, &why));
	T(s.subject == NULL);
	set_clear(&s);
	T(set_from_json("{\"iss\":\"a\",\"iss\":\"b\",\"events\":{\"e\":{}}}",
	    43, sf_now(), &s, &err, &why) == SF_EINVAL);
	T(err == SET_INVALID_REQUEST && why != NULL);
	free(why);
	why = NULL;
	T(set_from_json("{\"iss\":", 7, sf_now(), &s, &err, &why) == SF_EINVAL);
	T(err == SET_INVALID_REQUEST);
	free(why);
	why = NULL;
	T(set_from_json("{\"iss\":\"a\",\"jti\":5,\"events\":{\"e\":{}}}", 38,
	    sf_now(), &s, &err, &why) == SF_EINVAL);
	free(why);
}

/* The effect of a claims set holding events (JSON text); the deciding
 * event type is copied to last_event. */
static char last_event[256];

static int
effect_of(const char *events, int64_t iat, struct set_action *a)
{
	struct set s;
	enum set_err err;
	char *why = NULL, *c = NULL;
	int rc;

	(void)sf_asprintf(&c, "{\"iss\":\"x\",\"iat\":%lld,\"events\":%s}",
	    (long long)iat, events);
	rc = set_from_json(c, strlen(c), 2000, &s, &err, &why);
	free(c);
	free(why);
	why = NULL;
	if (rc != SF_OK)
		return rc;
	rc = set_action(&s, 2000, a, &why);
	snprintf(last_event, sizeof(last_event), "%s", a->event ? a->event :
	    "");
	a->event = NULL;
	free(why);
	set_clear(&s);
	return rc;
}

static void
effects(void)
{
	struct set_action a;

	T_OK(effect_of("{\"" SET_CAEP "session-revoked\":{}}", 1000, &a));
	T(a.effect == SET_REVOKE && a.session && a.time == 1000);
	T_OK(effect_of("{\"" SET_CAEP "session-revoked\":{\"event_timestamp\":"
	    "1500}}", 1000, &a));
	T(a.time == 1500);
	/* Never in the future. */
	T_OK(effect_of("{\"" SET_CAEP "session-revoked\":{\"event_timestamp\":"
	    "1999}}", 1000, &a));
	T(a.time == 1999);
	T_OK(effect_of("{\"" SET_RISC "account-disabled\":{}}", 1000, &a));
	T(a.effect == SET_REVOKE && !a.session);
	T_OK(effect_of("{\"" SET_RISC "account-purged\":{}}", 1000, &a));
	T(a.effect == SET_REVOKE && !a.session);
	T_OK(effect_of("{\"" SET_RISC "credential-compromise\":{}}", 1000, &a));
	T(a.effect == SET_REVOKE && !a.session);
	T_OK(effect_of("{\"" SET_RISC "account-enabled\":{}}", 1000, &a));
	T(a.effect == SET_LIFT);
	T_OK(effect_of("{\"" SET_CAEP "credential-change\":{\"change_type\":"
	    "\"revoke\",\"credential_type\":\"password\"}}", 1000, &a));
	T(a.effect == SET_REVOKE && a.session);
	T_OK(effect_of("{\"" SET_CAEP "credential-change\":{\"change_type\":"
	    "\"create\",\"credential_type\":\"password\"}}", 1000, &a));
	T(a.effect == SET_NONE);
	T(effect_of("{\"" SET_CAEP "credential-change\":{}}", 1000, &a) ==
	    SF_EINVAL);
	T_OK(effect_of("{\"" SET_CAEP "device-compliance-change\":{"
	    "\"previous_status\":\"compliant\",\"current_status\":"
	    "\"not-compliant\"}}", 1000, &a));
	T(a.effect == SET_REVOKE && !a.session);
	T_OK(effect_of("{\"" SET_CAEP "device-compliance-change\":{"
	    "\"current_status\":\"non-compliant\"}}", 1000, &a));
	T(a.effect == SET_REVOKE);
	T_OK(effect_of("{\"" SET_CAEP "device-compliance-change\":{"
	    "\"current_status\":\"compliant\"}}", 1000, &a));
	T(a.effect == SET_LIFT);
	T(effect_of("{\"" SET_CAEP "device-compliance-change\":{}}", 1000,
	    &a) == SF_EINVAL);
	T_OK(effect_of("{\"" SET_CAEP "token-claims-change\":{\"claims\":{}}}",
	    1000, &a));
	T(a.effect == SET_NONE && a.time == 1000);
	/* Several: revoke beats lift, until-lifted beats session. */
	T_OK(effect_of("{\"" SET_RISC "account-enabled\":{},\"" SET_CAEP
	    "session-revoked\":{}}", 1000, &a));
	T(a.effect == SET_REVOKE && a.session);
	T_OK(effect_of("{\"" SET_CAEP "session-revoked\":{},\"" SET_RISC
	    "account-disabled\":{}}", 1000, &a));
	T(a.effect == SET_REVOKE && !a.session);
	T_EQ_STR(last_event, SET_RISC "account-disabled");
}

/* set_targets of a subject (JSON text) as a compact string. */
static char *
targets(const char *subject, int *rc)
{
	json_t *s = json_loads(subject, 0, NULL), *out = NULL;
	char *why = NULL, *r = NULL;

	*rc = set_targets(s, AUD, &out, &why);
	if (*rc == SF_OK)
		r = json_dump_compact(out);
	else if (why == NULL)
		*rc = -999;
	free(why);
	json_decref(out);
	json_decref(s);
	return r;
}

static void
subjects(void)
{
	static const struct { const char *in, *out; } ok[] = {
		{ "{\"format\":\"uri\",\"uri\":\"wimse://a/b\"}",
		    "[[\"sub\",\"wimse://a/b\"]]" },
		{ "{\"format\":\"iss_sub\",\"iss\":\"x\",\"sub\":\"u1\"}",
		    "[[\"sub\",\"u1\"]]" },
		{ "{\"format\":\"email\",\"email\":\"a@b.c\"}",
		    "[[\"sub\",\"a@b.c\"]]" },
		{ "{\"format\":\"opaque\",\"id\":\"o-1\"}",
		    "[[\"sub\",\"o-1\"]]" },
		{ "{\"format\":\"account\",\"uri\":\"acct:a@b.c\"}",
		    "[[\"sub\",\"acct:a@b.c\"]]" },
		{ "{\"format\":\"phone_number\",\"phone_number\":\"+1555\"}",
		    "[[\"sub\",\"+1555\"]]" },
		{ "{\"format\":\"did\",\"url\":\"did:ex:1\"}",
		    "[[\"sub\",\"did:ex:1\"]]" },
		{ "{\"format\":\"uri\",\"spiffe_id\":\"spiffe://t/w\"}",
		    "[[\"sub\",\"spiffe://t/w\"]]" },
		{ "{\"format\":\"jwt_id\",\"iss\":\"" AUD "\",\"jti\":\"t-9\"}",
		    "[[\"jti\",\"t-9\"]]" },
		{ "{\"format\":\"jwt_id\",\"iss\":\"https://other\",\"jti\":"
		    "\"t-9\"}", "[]" },
		{ "{\"format\":\"aliases\",\"identifiers\":[{\"format\":\"uri\","
		    "\"uri\":\"u:1\"},{\"format\":\"email\",\"email\":\"e@x\"},"
		    "{\"format\":\"uri\",\"uri\":\"u:1\"}]}",
		    "[[\"sub\",\"u:1\"],[\"sub\",\"e@x\"]]" },
		{ "{\"format\":\"complex\",\"user\":{\"format\":\"email\","
		    "\"email\":\"u@x\"},\"device\":{\"format\":\"opaque\","
		    "\"id\":\"d1\"}}", "[[\"sub\",\"u@x\"],[\"sub\",\"d1\"]]" },
	};
	static const char *const unsupported[] = {
		"{\"format\":\"ip-addresses\",\"ip-addresses\":[\"1.2.3.4\"]}",
		"{\"format\":\"saml_assertion_id\",\"issuer\":\"i\","
		    "\"assertion_id\":\"a\"}",
		"{\"format\":\"aliases\",\"identifiers\":[{\"format\":"
		    "\"aliases\",\"identifiers\":[]}]}",
	};
	static const char *const invalid[] = {
		"{\"uri\":\"x\"}",
		"{\"format\":\"uri\"}",
		"{\"format\":\"uri\",\"uri\":5}",
		"{\"format\":\"uri\",\"uri\":\"\"}",
		"{\"format\":\"uri\",\"uri\":\"a\\nb\"}",
		"{\"format\":\"iss_sub\",\"sub\":\"u\"}",
		"{\"format\":\"jwt_id\",\"iss\":\"x\"}",
		"{\"format\":\"aliases\",\"identifiers\":[]}",
		"{\"format\":\"complex\"}",
		"\"uri\"",
	};
	json_t *ps, *in;
	size_t i;
	char *r;
	int rc;

	for (i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		r = targets(ok[i].in, &rc);
		T(rc == SF_OK);
		T_EQ_STR(r, ok[i].out);
		free(r);
	}
	for (i = 0; i < sizeof(unsupported) / sizeof(unsupported[0]); i++) {
		r = targets(unsupported[i], &rc);
		T(rc == SF_ENOTSUP && r == NULL);
	}
	for (i = 0; i < sizeof(invalid) / sizeof(invalid[0]); i++) {
		r = targets(invalid[i], &rc);
		T(rc == SF_EINVAL && r == NULL);
	}
	in = json_loads("{\"format\":\"email\",\"email\":\"a@b\"}", 0, NULL);
	ps = set_policy_subject(in);
	json_decref(in);
	T_EQ_STR(json_string_value(json_object_get(ps, "id")), "a@b");
	T_EQ_STR(json_string_value(json_object_get(ps, "format")), "email");
	json_decref(ps);
}

static void
teardown(void)
{
	char *cmd = NULL;

	set_transmitters_free(tx);
	jwk_free(rsa);
	jwk_free(ec);
	jwk_free(other);
	T_OK(sf_asprintf(&cmd, "rm -rf '%s'", dir));
	T(system(cmd) == 0);
	free(cmd);
}

int
main(void)
{
	t_prog = "set";
	log_init("test_set", 0, SF_LOG_ERR);
	RUN(setup);
	RUN(transmitters);
	RUN(signed_accepted);
	RUN(refusals);
	RUN(bearer);
	RUN(bearer_right);
	RUN(dev_json);
	RUN(effects);
	RUN(subjects);
	RUN(teardown);
	return T_DONE();
}
