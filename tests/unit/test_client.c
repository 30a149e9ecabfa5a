/*
 * test_client.c - the RFC 8693 client library against a real HTTP server
 * on 127.0.0.1 run by this program in a thread (it records what it
 * receives and answers as told): configuration files, form encoding and
 * client authentication, the cache (memory and disk), margin, subject
 * file rotation, discovery, execution scope, every error kind, threads.
 */
#include <sys/socket.h>
#include <sys/stat.h>

#include <arpa/inet.h>
#include <dirent.h>
#include <netinet/in.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "starfly.h"
#include "t.h"

enum { ANS_TOKEN, ANS_CANNED, ANS_HANG };

static struct srv {
	int		 lfd, port, stop[2];
	pthread_t	 th;
	pthread_mutex_t	 mu;
	int		 ntoken;	/* token endpoint requests */
	int		 nmeta;		/* metadata requests */
	char		 body[16384];	/* last token request body */
	char		 auth[1024];	/* its Authorization header */
	/* How to answer the token endpoint. */
	int		 mode;
	long long	 expires_in;
	int		 status;
	char		 ctype[64];
	char		 canned[4096];
	/* Metadata: which well-known path answers, with which issuer. */
	char		 meta_path[128];
	char		 meta_issuer[256];
} S;

static char tmpdir[64];

static void
srv_reset(void)
{
	pthread_mutex_lock(&S.mu);
	S.ntoken = S.nmeta = 0;
	S.body[0] = S.auth[0] = '\0';
	S.mode = ANS_TOKEN;
	S.expires_in = 300;
	S.meta_path[0] = S.meta_issuer[0] = '\0';
	pthread_mutex_unlock(&S.mu);
}

static void
srv_answer(int fd, int status, const char *ctype, const char *body)
{
	char h[512];
	int n;

	n = snprintf(h, sizeof(h), "HTTP/1.1 %d X\r\nContent-Type: %s\r\n"
	    "Content-Length: %zu\r\nConnection: close\r\n\r\n", status, ctype,
	    strlen(body));
	if (write(fd, h, (size_t)n) < 0 || write(fd, body, strlen(body)) < 0)
		return;
}

/* Read one request: path, Authorization, body. */
static int
srv_read(int fd, char *path, size_t pathlen, char *auth, size_t authlen,
    char *body, size_t bodylen)
{
	char buf[32768], *he, *p;
	size_t len = 0, clen = 0, hlen;
	ssize_t n;

	for (;;) {
		n = read(fd, buf + len, sizeof(buf) - 1 - len);
		if (n <= 0)
			return -1;
		len += (size_t)n;
		buf[len] = '\0';
		if ((he = strstr(buf, "\r\n\r\n")) != NULL)
			break;
		if (len >= sizeof(buf) - 1)
			return -1;
	}
	hlen = (size_t)(he - buf) + 4;
	if ((p = strcasestr(buf, "\r\nContent-Length:")) != NULL && p < he)
		clen = (size_t)strtoul(p + 17, NULL, 10);
	while (len < hlen + clen && len < sizeof(buf) - 1) {
		n = read(fd, buf + len, sizeof(buf) - 1 - len);
		if (n <= 0)
			return -1;
		len += (size_t)n;
	}
	buf[len] = '\0';
	auth[0] = '\0';
	if ((p = strcasestr(buf, "\r\nAuthorization: ")) != NULL && p < he) {
		p += 17;
		(void)snprintf(auth, authlen, "%.*s", (int)strcspn(p, "\r"), p);
	}
	p = strchr(buf, ' ');
	(void)snprintf(path, pathlen, "%.*s", p ? (int)strcspn(p + 1, " ") : 0,
	    p ? p + 1 : "");
	(void)snprintf(body, bodylen, "%.*s", (int)clen, buf + hlen);
	return 0;
}

static void *
srv_main(void *arg)
{
	struct pollfd pf[2];
	char path[256], auth[1024], body[16384], ans[8192];
	int fd;

	(void)arg;
	for (;;) {
		pf[0].fd = S.lfd;
		pf[0].events = POLLIN;
		pf[1].fd = S.stop[0];
		pf[1].events = POLLIN;
		if (poll(pf, 2, -1) < 0 || (pf[1].revents & POLLIN))
			break;
		if ((fd = accept(S.lfd, NULL, NULL)) < 0)
			continue;
		if (srv_read(fd, path, sizeof(path), auth, sizeof(auth), body,
		    sizeof(body)) != 0) {
			close(fd);
			continue;
		}
		pthread_mutex_lock(&S.mu);
		if (strstr(path, "/.well-known/") != NULL) {
			S.nmeta++;
			if (strcmp(path, S.meta_path) == 0) {
				(void)snprintf(ans, sizeof(ans), "{\"issuer\":"
				    "\"%s\",\"token_endpoint\":\"http://127.0.0"
				    ".1:%d/token\"}", S.meta_issuer, S.port);
				srv_answer(fd, 200, "application/json", ans);
			} else
				srv_answer(fd, 404, "text/html",
				    "<html>not here</html>");
		} else {
			S.ntoken++;
			sf_strlcpy(S.body, body, sizeof(S.body));
			sf_strlcpy(S.auth, auth, sizeof(S.auth));
			if (S.mode == ANS_TOKEN) {
				(void)snprintf(ans, sizeof(ans),
				    "{\"access_token\":\"tok-%d\",\"token_type\""
				    ":\"Bearer\",\"issued_token_type\":\""
				    CLIENT_TT_JWT "\",\"expires_in\":%lld,"
				    "\"scope\":\"read\"}", S.ntoken,
				    S.expires_in);
				srv_answer(fd, 200, "application/json", ans);
			} else if (S.mode == ANS_CANNED)
				srv_answer(fd, S.status, S.ctype, S.canned);
			else {
				pthread_mutex_unlock(&S.mu);
				pf[0].fd = S.stop[0];
				pf[0].events = POLLIN;
				(void)poll(pf, 1, 1500);
				close(fd);
				continue;
			}
		}
		pthread_mutex_unlock(&S.mu);
		close(fd);
	}
	return NULL;
}

static int
srv_start(void)
{
	struct sockaddr_in a;
	socklen_t al = sizeof(a);

	memset(&a, 0, sizeof(a));
	a.sin_family = AF_INET;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	pthread_mutex_init(&S.mu, NULL);
	if ((S.lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0 ||
	    bind(S.lfd, (struct sockaddr *)&a, sizeof(a)) != 0 ||
	    listen(S.lfd, 64) != 0 ||
	    getsockname(S.lfd, (struct sockaddr *)&a, &al) != 0 ||
	    pipe(S.stop) != 0)
		return -1;
	S.port = ntohs(a.sin_port);
	srv_reset();
	return pthread_create(&S.th, NULL, srv_main, NULL) == 0 ? 0 : -1;
}

static void
srv_stop(void)
{
	if (write(S.stop[1], "x", 1) < 0)
		return;
	pthread_join(S.th, NULL);
	close(S.lfd);
	close(S.stop[0]);
	close(S.stop[1]);
}

static void
canned(int status, const char *ctype, const char *body)
{
	pthread_mutex_lock(&S.mu);
	S.mode = ANS_CANNED;
	S.status = status;
	sf_strlcpy(S.ctype, ctype, sizeof(S.ctype));
	sf_strlcpy(S.canned, body, sizeof(S.canned));
	pthread_mutex_unlock(&S.mu);
}

static int
ntoken(void)
{
	int n;

	pthread_mutex_lock(&S.mu);
	n = S.ntoken;
	pthread_mutex_unlock(&S.mu);
	return n;
}

/* A client from a configuration text (with %d for the server port). */
static struct client *
load(const char *fmt)
{
	struct client *cl = NULL;
	char buf[8192], *err = NULL;

	(void)snprintf(buf, sizeof(buf), fmt, S.port, S.port, S.port);
	if (client_new(&cl) != SF_OK)
		return NULL;
	if (client_load_buf(cl, "t.conf", buf, strlen(buf), tmpdir, &err) !=
	    SF_OK) {
		fprintf(stderr, "load: %s\n", err ? err : "?");
		free(err);
		client_free(cl);
		return NULL;
	}
	return cl;
}

/* The error message of loading text, or NULL when it loads (new). */
static char *
load_err(const char *text)
{
	struct client *cl = NULL;
	char *err = NULL;

	if (client_new(&cl) != SF_OK)
		return NULL;
	if (client_load_buf(cl, "t.conf", text, strlen(text), "/etc", &err) ==
	    SF_OK) {
		free(err);
		err = NULL;
	}
	client_free(cl);
	return err;
}

/* The form parameter name of the last token request (new), or NULL. */
static char *
last_param(const char *name, int idx)
{
	json_t *o = NULL, *v;
	char *why = NULL, *s = NULL;
	const char *const rep[] = { "audience", "resource", NULL };

	pthread_mutex_lock(&S.mu);
	if (form_parse(S.body, strlen(S.body), rep, &o, &why) != SF_OK) {
		pthread_mutex_unlock(&S.mu);
		free(why);
		return NULL;
	}
	pthread_mutex_unlock(&S.mu);
	v = json_object_get(o, name);
	if (json_is_array(v))
		v = json_array_get(v, (size_t)idx);
	else if (idx > 0)
		v = NULL;
	if (json_is_string(v))
		s = sf_strdup(json_string_value(v));
	json_decref(o);
	return s;
}

static bool
param_is(const char *name, int idx, const char *want)
{
	char *v = last_param(name, idx);
	bool ok = v != NULL && strcmp(v, want) == 0;

	if (!ok)
		fprintf(stderr, "param %s[%d] = %s, want %s\n", name, idx,
		    v ? v : "(absent)", want);
	free(v);
	return ok;
}

#define BASE \
	"allow_http yes\n" \
	"token_endpoint http://127.0.0.1:%d/token\n" \
	"subject_token stub.subject.token\n" \
	"timeout 2\nconnect_timeout 1\n"

static void
test_config(void)
{
	struct client *cl;
	const struct client_entry *a, *b;
	char *e;

	cl = load("# defaults\n" BASE "audience https://api.example\n"
	    "[crm]  # the CRM\n"
	    "scope \"crm:read crm:write\"\n"
	    "resource https://crm.example/ https://crm2.example/x\n"
	    "subject_token_type urn:ietf:params:oauth:token-type:access_token\n"
	    "extra requested_token_use=on_behalf_of x=a+b%%2Bc\n"
	    "[erp]\n"
	    "audience erp\n"
	    "margin 60\n"
	    "cache no\n");
	T(cl != NULL);
	T(client_count(cl) == 2);
	a = client_entry_find(cl, "crm");
	b = client_entry_at(cl, 1);
	T(a != NULL && b != NULL);
	T_EQ_STR(b->name, "erp");
	T_EQ_STR(a->scope, "crm:read crm:write");
	T_EQ_STR(a->audience[0], "https://api.example");
	T(a->resource[1] != NULL && a->resource[2] == NULL);
	T_EQ_STR(b->audience[0], "erp");
	T(b->audience[1] == NULL);
	T(a->margin == 30 && b->margin == 60);
	T(a->cache && !b->cache);
	T(a->timeout == 2 && b->connect_timeout == 1);
	T(client_entry_find(cl, "nope") == NULL);
	client_free(cl);

	/* A section's own subject source / endpoint replaces the default's. */
	cl = load("subject_token_file /run/tok\nissuer https://as.example\n"
	    "client_secret_env S\nauth client_secret_post\nclient_id c\n"
	    "[a]\nsubject_token_env T\ntoken_endpoint https://as.example/t\n"
	    "client_secret_file s\n[b]\n");
	T(cl != NULL);
	a = client_entry_find(cl, "a");
	b = client_entry_find(cl, "b");
	T(a->subject_token_file == NULL && a->issuer == NULL &&
	    a->client_secret_env == NULL);
	T_EQ_STR(a->subject_token_env, "T");
	T(strncmp(a->client_secret_file, tmpdir, strlen(tmpdir)) == 0 &&
	    strcmp(a->client_secret_file + strlen(tmpdir), "/s") == 0);
	T_EQ_STR(b->subject_token_file, "/run/tok");
	T_EQ_STR(b->issuer, "https://as.example");
	client_free(cl);

	e = load_err("token_endpoint https://x.example/t\n[a]\nbogus 1\n");
	T(e != NULL && strstr(e, "t.conf:3:") != NULL &&
	    strstr(e, "bogus") != NULL);
	free(e);
	e = load_err("[a b]\ntoken_endpoint https://x.example/t\n");
	T(e != NULL && strstr(e, "t.conf:1: bad section") != NULL);
	free(e);
	e = load_err("[a]\ntoken_endpoint https://x.example/t\n[a]\n"
	    "token_endpoint https://x.example/t\n");
	T(e != NULL && strstr(e, "t.conf:3: [a] is defined twice") != NULL);
	free(e);
	e = load_err("[a]\nscope x\n");
	T(e != NULL && strstr(e, "needs token_endpoint or issuer") != NULL);
	free(e);
	e = load_err("[a]\ntoken_endpoint http://x.example/t\n");
	T(e != NULL && strstr(e, "allow_http") != NULL);
	free(e);
	e = load_err("[a]\ntoken_endpoint https://x.example/t\n"
	    "auth client_secret_basic\nclient_id me\n");
	T(e != NULL && strstr(e, "client_secret_file") != NULL);
	free(e);
	e = load_err("[a]\ntoken_endpoint https://x.example/t\n"
	    "extra subject_token=x\n");
	T(e != NULL && strstr(e, "extra 'subject_token=x'") != NULL);
	free(e);
	e = load_err("[a]\ntoken_endpoint https://x.example/t\n"
	    "subject_token_env A\nsubject_token_file /x\n");
	T(e != NULL && strstr(e, "at most one") != NULL);
	free(e);
	e = load_err("[a]\ntoken_endpoint https://x.example/t\n"
	    "resource not-a-uri\n");
	T(e != NULL && strstr(e, "RFC 8707") != NULL);
	free(e);
	e = load_err("[a]\ntoken_endpoint https://x.example/t\n"
	    "actor_token_env A\n");
	T(e != NULL && strstr(e, "actor_token_type") != NULL);
	free(e);
	e = load_err("token_endpoint https://x.example/t\n");
	T(e != NULL && strstr(e, "no [name] section") != NULL);
	free(e);
	e = load_err("[a]\ntoken_endpoint https://x.example/t\n"
	    "auth kerberos\n");
	T(e != NULL && strstr(e, "expected one of none|client_secret_basic|"
	    "client_secret_post") != NULL);
	free(e);
}

static void
test_form_and_auth(void)
{
	struct client *cl;
	struct client_token *t = NULL;
	struct client_error err;
	char path[128], want[128];
	unsigned char dec[128];
	int n;

	srv_reset();
	(void)snprintf(path, sizeof(path), "%s/secret", tmpdir);
	T(sf_write_file(path, "s3cr:et&\n", 9, 0600) == SF_OK);
	cl = load(BASE "[basic]\naudience a1 a2\nresource https://r.example/x\n"
	    "scope \"read write\"\nrequested_token_type "
	    "urn:ietf:params:oauth:token-type:access_token\n"
	    "auth client_secret_basic\nclient_id agent:1\n"
	    "client_secret_file secret\n"
	    "extra requested_token_use=on_behalf_of\n"
	    "[post]\naudience a1\nauth client_secret_post\nclient_id agent-2\n"
	    "client_secret_env T_CLIENT_SECRET\n"
	    "[pub]\naudience a1\nclient_id public-agent\n");
	T(cl != NULL);
	T_OK(client_token(cl, "basic", NULL, &t, &err));
	T_EQ_STR(t->access_token, "tok-1");
	T_EQ_STR(t->token_type, "Bearer");
	T_EQ_STR(t->scope, "read");
	T_EQ_STR(t->issued_token_type, CLIENT_TT_JWT);
	T(t->expires_at >= sf_now() + 298 && !t->from_cache);
	client_token_free(t);
	t = NULL;
	T(param_is("grant_type", 0, CLIENT_GRANT_TOKEN_EXCHANGE));
	T(param_is("subject_token", 0, "stub.subject.token"));
	T(param_is("subject_token_type", 0, CLIENT_TT_JWT));
	T(param_is("audience", 0, "a1") && param_is("audience", 1, "a2"));
	T(param_is("resource", 0, "https://r.example/x"));
	T(param_is("scope", 0, "read write"));
	T(param_is("requested_token_type", 0, CLIENT_TT_ACCESS));
	T(param_is("requested_token_use", 0, "on_behalf_of"));
	T(last_param("client_id", 0) == NULL);
	T(last_param("client_secret", 0) == NULL);
	/* RFC 6749 §2.3.1: form-encode id and secret, then base64. */
	T(strncmp(S.auth, "Basic ", 6) == 0);
	n = EVP_DecodeBlock(dec, (const unsigned char *)S.auth + 6,
	    (int)strlen(S.auth + 6));
	T(n > 0);
	dec[n] = '\0';
	(void)snprintf(want, sizeof(want), "agent%%3A1:s3cr%%3Aet%%26");
	T_EQ_STR((char *)dec, want);

	T(client_token(cl, "post", NULL, &t, &err) == SF_ENOTFOUND);
	T(err.kind == CLIENT_ERR_CREDENTIAL);
	T(strstr(err.message, "T_CLIENT_SECRET") != NULL);
	client_error_clear(&err);
	setenv("T_CLIENT_SECRET", "envsecret", 1);
	T_OK(client_token(cl, "post", NULL, &t, &err));
	client_token_free(t);
	t = NULL;
	T(param_is("client_id", 0, "agent-2"));
	T(param_is("client_secret", 0, "envsecret"));
	T(S.auth[0] == '\0');
	unsetenv("T_CLIENT_SECRET");

	T_OK(client_token(cl, "pub", NULL, &t, &err));
	client_token_free(t);
	T(param_is("client_id", 0, "public-agent"));
	T(last_param("client_secret", 0) == NULL && S.auth[0] == '\0');
	client_free(cl);
}

static void
test_cache(void)
{
	struct client *cl;
	struct client_token *t = NULL;
	struct client_req rq = { 0 };
	struct client_error err;

	srv_reset();
	cl = load(BASE "[a]\naudience x\n[b]\naudience y\n");
	T(cl != NULL);
	T_OK(client_token(cl, "a", NULL, &t, &err));
	T_EQ_STR(t->access_token, "tok-1");
	client_token_free(t);
	T_OK(client_token(cl, "a", NULL, &t, &err));
	T(ntoken() == 1);			/* no request */
	T(t->from_cache);
	T_EQ_STR(t->access_token, "tok-1");
	client_token_free(t);
	T_OK(client_token(cl, "b", NULL, &t, &err));
	T(ntoken() == 2 && !t->from_cache);
	client_token_free(t);
	/* Another subject token is another cache entry. */
	rq.subject_token = "other.subject.token";
	T_OK(client_token(cl, "a", &rq, &t, &err));
	T(ntoken() == 3);
	T_EQ_STR(t->access_token, "tok-3");
	client_token_free(t);
	T_OK(client_token(cl, "a", NULL, &t, &err));
	T(ntoken() == 3);
	T_EQ_STR(t->access_token, "tok-1");
	client_token_free(t);
	/* no_cache neither reads nor writes. */
	rq.subject_token = NULL;
	rq.no_cache = true;
	T_OK(client_token(cl, "a", &rq, &t, &err));
	T(ntoken() == 4);
	T_EQ_STR(t->access_token, "tok-4");
	client_token_free(t);
	T_OK(client_token(cl, "a", NULL, &t, &err));
	T_EQ_STR(t->access_token, "tok-1");
	client_token_free(t);
	/* invalidate(a) leaves b cached. */
	T_OK(client_invalidate(cl, "a"));
	T(client_invalidate(cl, "zz") == SF_ENOTFOUND);
	T_OK(client_token(cl, "a", NULL, &t, &err));
	T(ntoken() == 5);
	client_token_free(t);
	T_OK(client_token(cl, "b", NULL, &t, &err));
	T(ntoken() == 5 && t->from_cache);
	client_token_free(t);
	T_OK(client_flush(cl));
	T_OK(client_token(cl, "b", NULL, &t, &err));
	T(ntoken() == 6);
	client_token_free(t);
	T_OK(client_token(cl, "a", NULL, &t, &err));
	T(ntoken() == 7);
	client_token_free(t);
	client_free(cl);
}

static void
test_margin(void)
{
	struct client *cl;
	struct client_token *t = NULL;
	struct client_error err;
	int64_t t0;

	srv_reset();
	cl = load(BASE "[a]\naudience x\nmargin 5\n[nocache]\naudience x\n"
	    "cache no\n");
	T(cl != NULL);
	/* Lifetime within the margin: never reused. */
	S.expires_in = 5;
	T_OK(client_token(cl, "a", NULL, &t, &err));
	client_token_free(t);
	T_OK(client_token(cl, "a", NULL, &t, &err));
	client_token_free(t);
	T(ntoken() == 2);
	/* No expires_in: unknown lifetime, never reused. */
	canned(200, "application/json", "{\"access_token\":\"x\","
	    "\"token_type\":\"Bearer\"}");
	T_OK(client_token(cl, "a", NULL, &t, &err));
	T(t->expires_at == 0);
	client_token_free(t);
	T_OK(client_token(cl, "a", NULL, &t, &err));
	client_token_free(t);
	T(ntoken() == 4);
	/* One second past the margin: reused, then not. */
	srv_reset();
	S.expires_in = 6;
	t0 = sf_now();
	T_OK(client_token(cl, "a", NULL, &t, &err));
	client_token_free(t);
	if (sf_now() == t0) {
		T_OK(client_token(cl, "a", NULL, &t, &err));
		T(t->from_cache);
		client_token_free(t);
		T(ntoken() == 1);
	}
	while (sf_now() < t0 + 1)
		usleep(50000);
	T_OK(client_token(cl, "a", NULL, &t, &err));
	T(!t->from_cache);
	client_token_free(t);
	/* cache no */
	srv_reset();
	T_OK(client_token(cl, "nocache", NULL, &t, &err));
	client_token_free(t);
	T_OK(client_token(cl, "nocache", NULL, &t, &err));
	client_token_free(t);
	T(ntoken() == 2);
	client_free(cl);
}

static void
test_subject_file(void)
{
	struct client *cl;
	struct client_token *t = NULL;
	struct client_error err;
	char path[128], tmp[128];

	srv_reset();
	(void)snprintf(path, sizeof(path), "%s/subject", tmpdir);
	(void)snprintf(tmp, sizeof(tmp), "%s/subject.new", tmpdir);
	T(sf_write_file(path, "first.token.aaa\n", 16, 0600) == SF_OK);
	cl = load("allow_http yes\ntoken_endpoint http://127.0.0.1:%d/token\n"
	    "[f]\naudience x\nsubject_token_file subject\n"
	    "[missing]\naudience x\nsubject_token_file nonexistent\n");
	T(cl != NULL);
	T_OK(client_token(cl, "f", NULL, &t, &err));
	client_token_free(t);
	T(param_is("subject_token", 0, "first.token.aaa"));
	T_OK(client_token(cl, "f", NULL, &t, &err));
	client_token_free(t);
	T(ntoken() == 1);
	/* Rotated in place (same size): mtime/ctime tell. */
	usleep(20000);
	T(sf_write_file(path, "second.token.bb\n", 16, 0600) == SF_OK);
	T_OK(client_token(cl, "f", NULL, &t, &err));
	client_token_free(t);
	T(ntoken() == 2);
	T(param_is("subject_token", 0, "second.token.bb"));
	/* Swapped by rename, as projected volumes do. */
	T(sf_write_file(tmp, "third.token.ccc", 15, 0600) == SF_OK);
	T(rename(tmp, path) == 0);
	T_OK(client_token(cl, "f", NULL, &t, &err));
	client_token_free(t);
	T(param_is("subject_token", 0, "third.token.ccc"));
	T(ntoken() == 3);
	/* Unchanged again: from the cache. */
	T_OK(client_token(cl, "f", NULL, &t, &err));
	T(t->from_cache);
	client_token_free(t);
	T(client_token(cl, "missing", NULL, &t, &err) == SF_ENOTFOUND);
	T(err.kind == CLIENT_ERR_CREDENTIAL);
	T(strstr(err.message, "nonexistent") != NULL);
	client_error_clear(&err);
	T(sf_write_file(path, " \n", 2, 0600) == SF_OK);
	T(client_token(cl, "f", NULL, &t, &err) == SF_ENOTFOUND);
	T(strstr(err.message, "empty") != NULL);
	client_error_clear(&err);
	client_free(cl);
}

/* Number of token files in dir/ref, or -1 if any is not 0600 / dir 0700. */
static int
modes_ok(const char *dir, const char *ref)
{
	char p[256], f[512];
	struct dirent *de;
	struct stat sb;
	DIR *d;
	int n = 0;

	(void)snprintf(p, sizeof(p), "%s/%s", dir, ref);
	if (stat(p, &sb) != 0 || (sb.st_mode & 0777) != 0700 ||
	    (d = opendir(p)) == NULL)
		return -1;
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		(void)snprintf(f, sizeof(f), "%s/%s", p, de->d_name);
		if (stat(f, &sb) != 0 || (sb.st_mode & 0777) != 0600)
			n = -1000;
		n++;
	}
	closedir(d);
	return n < 0 ? -1 : n;
}

static void
test_disk_cache(void)
{
	struct client *c1, *c2;
	struct client_token *t = NULL;
	struct client_error err;
	struct stat sb;
	char dir[128], bad[128];
	const char *conf = BASE "[a]\naudience x\n[b]\naudience y\n";

	srv_reset();
	(void)snprintf(dir, sizeof(dir), "%s/cache/sub", tmpdir);
	c1 = load(conf);
	c2 = load(conf);
	T(c1 != NULL && c2 != NULL);
	T_OK(client_set_cache_dir(c1, dir));
	T_OK(client_set_cache_dir(c2, dir));
	T(stat(dir, &sb) == 0 && (sb.st_mode & 0777) == 0700);
	T_OK(client_token(c1, "a", NULL, &t, &err));
	client_token_free(t);
	T_OK(client_token(c1, "b", NULL, &t, &err));
	client_token_free(t);
	/* A second client (another process in real life) reuses it. */
	T_OK(client_token(c2, "a", NULL, &t, &err));
	T(t->from_cache && ntoken() == 2);
	T_EQ_STR(t->access_token, "tok-1");
	client_token_free(t);
	T(modes_ok(dir, "a") == 1);
	/* Invalidate through c1 reaches c2's next call (disk). */
	T_OK(client_invalidate(c1, "a"));
	T_OK(client_invalidate(c2, "a"));
	T_OK(client_token(c2, "a", NULL, &t, &err));
	T(!t->from_cache && ntoken() == 3);
	client_token_free(t);
	T_OK(client_flush(c2));
	client_free(c2);
	c2 = load(conf);
	T(c2 != NULL);
	T_OK(client_set_cache_dir(c2, dir));
	T_OK(client_token(c2, "b", NULL, &t, &err));
	T(!t->from_cache && ntoken() == 4);
	client_token_free(t);
	/* A directory others can read is refused. */
	(void)snprintf(bad, sizeof(bad), "%s/open", tmpdir);
	T(mkdir(bad, 0755) == 0);
	T(chmod(bad, 0755) == 0);
	T(client_set_cache_dir(c2, bad) == SF_EDENIED);
	T(client_set_cache_dir(c2, "relative") == SF_EINVAL);
	client_free(c1);
	client_free(c2);
}

static void
test_errors(void)
{
	struct client *cl;
	struct client_token *t = NULL;
	struct client_error err;
	struct sockaddr_in a;
	socklen_t al = sizeof(a);
	char conf[512];
	int fd, dead;
	uint64_t t0;

	srv_reset();
	cl = load(BASE "[a]\naudience x\n");
	T(cl != NULL);
	canned(400, "application/json", "{\"error\":\"invalid_request\","
	    "\"error_description\":\"subject_token: \\\"exp\\\" is past\","
	    "\"error_uri\":\"https://e.example/x\"}");
	T(client_token(cl, "a", NULL, &t, &err) == SF_EDENIED);
	T(t == NULL);
	T(err.kind == CLIENT_ERR_OAUTH && err.status == 400);
	T_EQ_STR(err.error, "invalid_request");
	T_EQ_STR(err.error_description, "subject_token: \"exp\" is past");
	T_EQ_STR(err.error_uri, "https://e.example/x");
	client_error_clear(&err);
	canned(401, "application/json", "{\"error\":\"invalid_client\"}");
	T(client_token(cl, "a", NULL, &t, &err) == SF_EDENIED);
	T(err.kind == CLIENT_ERR_OAUTH && err.status == 401 &&
	    err.error_description == NULL);
	T_EQ_STR(err.error, "invalid_client");
	client_error_clear(&err);
	canned(502, "text/html", "<html><body>Bad Gateway</body></html>");
	T(client_token(cl, "a", NULL, &t, &err) == SF_EPARSE);
	T(err.kind == CLIENT_ERR_NOT_JSON && err.status == 502);
	T(strstr(err.message, "HTML") != NULL);
	client_error_clear(&err);
	canned(200, "text/html", "<!doctype html><p>login</p>");
	T(client_token(cl, "a", NULL, &t, &err) == SF_EPARSE);
	T(err.kind == CLIENT_ERR_NOT_JSON && err.status == 200);
	client_error_clear(&err);
	canned(500, "application/json", "{\"message\":\"oops\"}");
	T(client_token(cl, "a", NULL, &t, &err) == SF_EIO);
	T(err.kind == CLIENT_ERR_HTTP && err.status == 500);
	client_error_clear(&err);
	canned(200, "application/json", "{\"token_type\":\"Bearer\"}");
	T(client_token(cl, "a", NULL, &t, &err) == SF_EPARSE);
	T(err.kind == CLIENT_ERR_RESPONSE);
	T(strstr(err.message, "access_token") != NULL);
	client_error_clear(&err);

	/* Timeout: the server reads the request and never answers. */
	pthread_mutex_lock(&S.mu);
	S.mode = ANS_HANG;
	pthread_mutex_unlock(&S.mu);
	client_free(cl);
	cl = load("allow_http yes\ntoken_endpoint http://127.0.0.1:%d/token\n"
	    "subject_token s.t.x\ntimeout 1\n[a]\naudience x\n");
	T(cl != NULL);
	t0 = sf_mono_ns();
	T(client_token(cl, "a", NULL, &t, &err) == SF_EIO);
	T(err.kind == CLIENT_ERR_TIMEOUT && err.status == 0);
	T(sf_mono_ns() - t0 < 2900000000ULL);
	client_error_clear(&err);
	client_free(cl);
	srv_reset();

	/* Connection refused: a port that was just closed. */
	memset(&a, 0, sizeof(a));
	a.sin_family = AF_INET;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	fd = socket(AF_INET, SOCK_STREAM, 0);
	T(fd >= 0 && bind(fd, (struct sockaddr *)&a, sizeof(a)) == 0 &&
	    getsockname(fd, (struct sockaddr *)&a, &al) == 0);
	dead = ntohs(a.sin_port);
	close(fd);
	(void)snprintf(conf, sizeof(conf), "allow_http yes\ntoken_endpoint "
	    "http://127.0.0.1:%d/token\nsubject_token s.t.x\n[a]\naudience x\n",
	    dead);
	T(client_new(&cl) == SF_OK);
	{
		char *e = NULL;

		T(client_load_buf(cl, "c", conf, strlen(conf), NULL, &e) ==
		    SF_OK);
	}
	T(client_token(cl, "a", NULL, &t, &err) == SF_EIO);
	T(err.kind == CLIENT_ERR_REFUSED);
	T(strstr(err.message, "refused") != NULL);
	client_error_clear(&err);
	T(client_token(cl, "zz", NULL, &t, &err) == SF_ENOTFOUND);
	T(err.kind == CLIENT_ERR_CONFIG);
	client_error_clear(&err);
	client_free(cl);

}

#define PR(st, ct, b, t, e) client_parse_response(st, ct, b, strlen(b), t, e)
#define PM(i, h, b, ep, e) client_parse_metadata(i, h, b, strlen(b), ep, e)

static void
test_parse_response(void)
{
	struct client_token *t = NULL;
	struct client_error err = { 0 };
	char *ep = NULL;

	T_OK(PR(200, "application/json",
"{\"access_token\":\"a\",\"token_type\":\"N_A\",\"expires_in\":\"60\""
	    "}", &t, &err));
	T(t->expires_at >= sf_now() + 59 && t->issued_token_type == NULL);
	client_token_free(t);
	t = NULL;
	T(PR(200, NULL,
"{\"access_token\":\"a\","
	    "\"token_type\":\"Bearer\",\"expires_in\":-1}", &t, &err) ==
	    SF_EPARSE && err.kind == CLIENT_ERR_RESPONSE);
	client_error_clear(&err);
	T(PR(200, NULL,
"{\"access_token\":\"a\\nb\","
	    "\"token_type\":\"Bearer\"}", &t, &err) == SF_EPARSE);
	client_error_clear(&err);
	T(PR(200, NULL,
"{\"access_token\":\"a\","
	    "\"access_token\":\"b\",\"token_type\":\"Bearer\"}", &t, &err)
	    == SF_EPARSE && err.kind == CLIENT_ERR_NOT_JSON);
	client_error_clear(&err);
	T(PR(400, NULL,
"[1]", &t, &err) == SF_EIO &&
	    err.kind == CLIENT_ERR_HTTP);
	client_error_clear(&err);
	T(t == NULL);

	T_OK(PM("https://as.example/t1", false,
	    "{\"issuer\":\"https://as.example/t1\",\"token_endpoint\":"
	    "\"https://as.example/t1/token\"}", &ep, &err));
	T_EQ_STR(ep, "https://as.example/t1/token");
	free(ep);
	T(PM("https://as.example", false,
	    "{\"issuer\":\"https://evil.example\",\"token_endpoint\":"
	    "\"https://as.example/token\"}", &ep, &err) == SF_EPARSE);
	T(err.kind == CLIENT_ERR_DISCOVERY && ep == NULL);
	client_error_clear(&err);
	T(PM("https://as.example", false,
	    "{\"issuer\":\"https://as.example\",\"token_endpoint\":"
	    "\"http://as.example/token\"}", &ep, &err) == SF_EPARSE);
	client_error_clear(&err);
}

static void
test_discovery(void)
{
	struct client *cl;
	struct client_token *t = NULL;
	struct client_error err;
	char iss[128];

	srv_reset();
	(void)snprintf(iss, sizeof(iss), "http://127.0.0.1:%d", S.port);
	pthread_mutex_lock(&S.mu);
	sf_strlcpy(S.meta_issuer, iss, sizeof(S.meta_issuer));
	sf_strlcpy(S.meta_path, "/.well-known/oauth-authorization-server",
	    sizeof(S.meta_path));
	pthread_mutex_unlock(&S.mu);
	cl = load("allow_http yes\nissuer http://127.0.0.1:%d\n"
	    "subject_token s.t.x\n[a]\naudience x\n[b]\naudience y\n"
	    "[oidc]\naudience z\nissuer http://127.0.0.1:%d/realm\n");
	T(cl != NULL);
	T_OK(client_token(cl, "a", NULL, &t, &err));
	client_token_free(t);
	T(S.nmeta == 1 && ntoken() == 1);
	T_OK(client_invalidate(cl, "a"));
	T_OK(client_token(cl, "a", NULL, &t, &err));
	client_token_free(t);
	T(S.nmeta == 1 && ntoken() == 2);	/* endpoint kept */
	/* Only OpenID Connect discovery answers, appended to the path. */
	srv_reset();
	(void)snprintf(iss, sizeof(iss), "http://127.0.0.1:%d/realm", S.port);
	pthread_mutex_lock(&S.mu);
	sf_strlcpy(S.meta_issuer, iss, sizeof(S.meta_issuer));
	sf_strlcpy(S.meta_path, "/realm/.well-known/openid-configuration",
	    sizeof(S.meta_path));
	pthread_mutex_unlock(&S.mu);
	if (client_token(cl, "oidc", NULL, &t, &err) != SF_OK)
		fprintf(stderr, "oidc: %s\n", err.message);
	T(t != NULL);
	client_token_free(t);
	T(S.nmeta == 3 && ntoken() == 1);
	/* Metadata naming another issuer is refused. */
	srv_reset();
	pthread_mutex_lock(&S.mu);
	sf_strlcpy(S.meta_issuer, "http://evil.example",
	    sizeof(S.meta_issuer));
	sf_strlcpy(S.meta_path, "/.well-known/oauth-authorization-server",
	    sizeof(S.meta_path));
	pthread_mutex_unlock(&S.mu);
	T(client_token(cl, "b", NULL, &t, &err) == SF_EPARSE);
	T(err.kind == CLIENT_ERR_DISCOVERY && ntoken() == 0);
	T(strstr(err.message, "oauth-authorization-server: unusable") != NULL);
	client_error_clear(&err);
	client_free(cl);
}

static void
test_exec_scope(void)
{
	struct client *cl;
	struct client_token *t = NULL;
	struct client_req rq = { 0 };
	struct client_exec x = { 0 };
	struct client_error err;
	json_t *es = NULL;
	char *h = NULL, *v = NULL, *nonce1 = NULL, *why = NULL;
	const char *body = "{\"amount\":10}";

	/* RFC 6234 / FIPS 180-4 SHA-256 of the empty string. */
	T_OK(client_inp_hash("", 0, &h));
	T_EQ_STR(h, "47DEQpj8HBSa-_TImW-5JCeuQeRkm5NMpJWZG3hSuFU");
	free(h);
	h = NULL;
	T_OK(client_inp_hash("abc", 3, &h));
	T_EQ_STR(h, "ungWv48Bz-pBQUDeXa4iI7ADYaOWF3qctBD_YfIAFa0");
	free(h);

	srv_reset();
	cl = load(BASE "[a]\naudience x\n");
	T(cl != NULL);
	x.htm = "POST";
	x.htu = "https://pay.example/v1/charge";
	x.body = body;
	x.body_len = strlen(body);
	x.exec_act = "charge";
	rq.exec = &x;
	T_OK(client_token(cl, "a", &rq, &t, &err));
	T(t->nonce != NULL && strlen(t->nonce) == 22);
	T(t->inp_hash != NULL);
	nonce1 = sf_strdup(t->nonce);
	v = last_param("execution_scope", 0);
	T(v != NULL);
	T_OK(json_parse_strict(v, strlen(v), &es, &why));
	T_EQ_STR(json_string_value(json_object_get(es, "htm")), "POST");
	T_EQ_STR(json_string_value(json_object_get(es, "htu")), x.htu);
	T_EQ_STR(json_string_value(json_object_get(es, "nonce")), t->nonce);
	T_EQ_STR(json_string_value(json_object_get(es, "inp_hash")),
	    t->inp_hash);
	T_EQ_STR(json_string_value(json_object_get(es, "exec_act")), "charge");
	T_OK(client_inp_hash(body, strlen(body), &h));
	T_EQ_STR(t->inp_hash, h);
	free(h);
	json_decref(es);
	free(v);
	client_token_free(t);
	/* Same call again: a fresh nonce and a new request (never cached). */
	T_OK(client_token(cl, "a", &rq, &t, &err));
	T(ntoken() == 2);
	T(strcmp(t->nonce, nonce1) != 0 && !t->from_cache);
	client_token_free(t);
	/* No body: no inp_hash. */
	x.body = NULL;
	T_OK(client_token(cl, "a", &rq, &t, &err));
	T(t->inp_hash == NULL);
	client_token_free(t);
	x.htm = "post";
	T(client_token(cl, "a", &rq, &t, &err) == SF_ECONF);
	client_error_clear(&err);
	free(nonce1);
	client_free(cl);
}

struct thr {
	struct client	*cl;
	int		 ok;
};

static void *
thr_main(void *arg)
{
	struct thr *a = arg;
	struct client_token *t;
	struct client_error err;
	const char *refs[] = { "a", "b", "c" };
	int i;

	for (i = 0; i < 60; i++) {
		t = NULL;
		if (client_token(a->cl, refs[i % 3], NULL, &t, &err) == SF_OK &&
		    strncmp(t->access_token, "tok-", 4) == 0)
			a->ok++;
		client_error_clear(&err);
		client_token_free(t);
		if (i % 20 == 19)
			(void)client_invalidate(a->cl, refs[i % 3]);
	}
	return NULL;
}

static void
test_threads(void)
{
	struct client *cl;
	struct thr a[8];
	pthread_t th[8];
	int i, total = 0;

	srv_reset();
	cl = load(BASE "[a]\naudience x\n[b]\naudience y\n[c]\naudience z\n");
	T(cl != NULL);
	for (i = 0; i < 8; i++) {
		a[i].cl = cl;
		a[i].ok = 0;
		T(pthread_create(&th[i], NULL, thr_main, &a[i]) == 0);
	}
	for (i = 0; i < 8; i++) {
		pthread_join(th[i], NULL);
		total += a[i].ok;
	}
	T(total == 8 * 60);
	T(ntoken() >= 3 && ntoken() < 8 * 60);
	client_free(cl);
}

static void
test_client_add(void)
{
	struct client *cl = NULL;
	struct client_entry e;
	struct client_token *t = NULL;
	struct client_error err;
	char ep[128], *msg = NULL, *aud[] = { "svc", NULL };

	srv_reset();
	T_OK(client_new(&cl));
	client_entry_defaults(&e);
	(void)snprintf(ep, sizeof(ep), "http://127.0.0.1:%d/token", S.port);
	e.name = "svc";
	e.token_endpoint = ep;
	e.audience = aud;
	e.subject_token_env = "T_SUBJECT";
	T(client_add(cl, &e, &msg) == SF_ECONF);	/* http needs allow */
	T(msg != NULL && strstr(msg, "allow_http") != NULL);
	free(msg);
	e.allow_http = true;
	T_OK(client_add(cl, &e, &msg));
	T(client_add(cl, &e, &msg) == SF_EEXIST);
	free(msg);
	setenv("T_SUBJECT", "env.subject.tok\n", 1);
	T_OK(client_token(cl, "svc", NULL, &t, &err));
	client_token_free(t);
	T(param_is("subject_token", 0, "env.subject.tok"));
	T(param_is("audience", 0, "svc"));
	unsetenv("T_SUBJECT");
	client_free(cl);
}

static void
test_example(void)
{
	struct client *cl = NULL;
	char *msg = NULL;
	int rc;

	T_OK(client_new(&cl));
	rc = client_load(cl, "etc/client.conf.example", &msg);
	if (rc != SF_OK)
		fprintf(stderr, "%s\n", msg ? msg : "?");
	free(msg);
	T(rc == SF_OK);
	T(client_count(cl) >= 5);
	T(client_entry_find(cl, "graph") != NULL &&
	    client_entry_find(cl, "graph")->subject_token_stdin &&
	    client_entry_find(cl, "graph")->subject_token_file == NULL);
	client_free(cl);
}

int
main(void)
{
	char cmd[128];

	t_prog = "client";
	(void)snprintf(tmpdir, sizeof(tmpdir), "/tmp/test_client.XXXXXX");
	if (mkdtemp(tmpdir) == NULL || srv_start() != 0) {
		printf("FAIL client: setup: %s\n", strerror(errno));
		return 1;
	}
	RUN(test_config);
	if (access("etc/client.conf.example", R_OK) == 0)
		RUN(test_example);
	else
		printf("SKIP client: test_example: run from the repository "
		    "root\n");
	RUN(test_form_and_auth);
	RUN(test_cache);
	RUN(test_margin);
	RUN(test_subject_file);
	RUN(test_disk_cache);
	RUN(test_errors);
	RUN(test_parse_response);
	RUN(test_discovery);
	RUN(test_exec_scope);
	RUN(test_threads);
	RUN(test_client_add);
	srv_stop();
	(void)snprintf(cmd, sizeof(cmd), "rm -rf %s", tmpdir);
	if (system(cmd) != 0)
		printf("SKIP client: cleanup of %s failed\n", tmpdir);
	return T_DONE();
}
