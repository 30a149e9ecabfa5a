/*
 * test_http.c - path_canon, form_parse, json_parse_strict and
 * validate_fields: the request-layer parsers; http_fcgi_finish against a
 * FastCGI client written here.
 */
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>

#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <fcgiapp.h>

#include "starfly.h"
#include "t.h"

/* Expect path_canon(in) to give want (NULL: refused). */
static int
canon_is(const char *in, const char *want)
{
	const char *why;
	char *out = NULL;
	int rc, ok;

	rc = path_canon(in, &out, &why);
	if (want == NULL)
		ok = rc == SF_EINVAL && out == NULL && why != NULL;
	else
		ok = rc == SF_OK && out != NULL && strcmp(out, want) == 0;
	free(out);
	return ok;
}

static void
path_accepts_canonical(void)
{
	T(canon_is("/v1/exchange/token", "/v1/exchange/token"));
	T(canon_is("/v1/mcp/tools?tool_id=x", "/v1/mcp/tools"));
	T(canon_is("/v1/t%C3%B6ken", "/v1/t\xc3\xb6ken"));
	T(canon_is("/v1/a%20b", "/v1/a b"));
	T(canon_is("http://127.0.0.1:8083/v1/sys/health?a=1",
	    "/v1/sys/health"));
	T(canon_is("HTTPS://host/x", "/x"));
	T(canon_is("/", "/"));
	T(canon_is("/v1/sys/health/", "/v1/sys/health/"));
	T(canon_is("/a/.b/..c", "/a/.b/..c"));
}

static void
path_rejects_noncanonical(void)
{
	T(canon_is("", NULL));
	T(canon_is("v1/exchange", NULL));
	T(canon_is("/v1//exchange", NULL));
	T(canon_is("//v1", NULL));
	T(canon_is("/v1/exchange/../mcp/tools", NULL));
	T(canon_is("/v1/./sys", NULL));
	T(canon_is("/v1/%2e%2e/mcp", NULL));
	T(canon_is("/v1/%2E/mcp", NULL));
	T(canon_is("/v1/..", NULL));
	T(canon_is("/v1/a%2Fb", NULL));
	T(canon_is("/v1/a%2fb", NULL));
	T(canon_is("/v1/a%5Cb", NULL));
	T(canon_is("/v1/a\\b", NULL));
	T(canon_is("/v1/a%00b", NULL));
	T(canon_is("/v1/a%0ab", NULL));
	T(canon_is("/v1/a\tb", NULL));
	T(canon_is("/v1/a%zzb", NULL));
	T(canon_is("/v1/a%4", NULL));
	T(canon_is("/v1/a%", NULL));
	T(canon_is("/v1/a#frag", NULL));
	T(canon_is("http://host", NULL));
	T(canon_is("*", NULL));
}

static void
path_rejects_long(void)
{
	char buf[3000];

	memset(buf, 'a', sizeof(buf) - 1);
	buf[0] = '/';
	buf[sizeof(buf) - 1] = '\0';
	T(canon_is(buf, NULL));
	buf[2048] = '\0';
	T(canon_is(buf, buf));
}

static const char *const repeatable[] = { "audience", "resource", NULL };

static void
form_basic(void)
{
	const char *in = "grant_type=urn%3Aietf%3Aparams&scope=a+b%20c"
	    "&audience=x&audience=y&&empty=&flag";
	char *why = NULL;
	json_t *o = NULL;

	T_OK(form_parse(in, strlen(in), repeatable, &o, &why));
	T_EQ_STR(json_string_value(json_object_get(o, "grant_type")),
	    "urn:ietf:params");
	T_EQ_STR(json_string_value(json_object_get(o, "scope")), "a b c");
	T(json_array_size(json_object_get(o, "audience")) == 2);
	T_EQ_STR(json_string_value(json_array_get(json_object_get(o,
	    "audience"), 1)), "y");
	T_EQ_STR(json_string_value(json_object_get(o, "empty")), "");
	T_EQ_STR(json_string_value(json_object_get(o, "flag")), "");
	json_decref(o);
}

static int
form_refused(const char *in, const char *needle)
{
	char *why = NULL;
	json_t *o = NULL;
	int rc, ok;

	rc = form_parse(in, strlen(in), repeatable, &o, &why);
	ok = rc == SF_EINVAL && o == NULL && why != NULL &&
	    strstr(why, needle) != NULL;
	free(why);
	json_decref(o);
	return ok;
}

static void
form_rejects(void)
{
	T(form_refused("scope=a&scope=b", "'scope' is repeated"));
	T(form_refused("a=%zz", "percent-escape"));
	T(form_refused("a=%4", "percent-escape"));
	T(form_refused("a=%00", "UTF-8"));
	T(form_refused("a=%ff%fe", "UTF-8"));
	T(form_refused("=x", "without a name"));
	T(form_refused("%c3%28=x", "name is not valid UTF-8"));
}

static int
json_refused(const char *in, const char *needle)
{
	char *why = NULL;
	json_t *v = NULL;
	int rc, ok;

	rc = json_parse_strict(in, strlen(in), &v, &why);
	ok = rc == SF_EPARSE && v == NULL && why != NULL &&
	    (needle == NULL || strstr(why, needle) != NULL);
	free(why);
	return ok;
}

static void
json_strict(void)
{
	char deep[200];
	json_t *v = NULL;
	char *why = NULL;

	T_OK(json_parse_strict("{\"a\":[1,2,{\"b\":null}]}", 22, &v, &why));
	T(json_is_object(v));
	json_decref(v);
	T_OK(json_parse_strict(" \"s\" ", 5, &v, &why));
	T(json_is_string(v));
	json_decref(v);
	T(json_refused("{\"a\":1,\"a\":2}", "duplicate"));
	T(json_refused("{\"a\":1} x", NULL));
	T(json_refused("{\"a\":\"\\u0000\"}", NULL));
	T(json_refused("{\"a\":\"\xff\"}", NULL));
	T(json_refused("", NULL));
	T(json_refused("{", NULL));
	memset(deep, '[', 100);
	memset(deep + 100, ']', 100);
	T(json_parse_strict(deep, 200, &v, &why) == SF_EPARSE);
	T(strstr(why, "nesting") != NULL);
	free(why);
}

static const struct field_spec specs[] = {
	{ "tool_id", FIELD_STRING, FIELD_REQUIRED, 0, 128, "A-Za-z0-9._-" },
	{ "resource_uri", FIELD_URI, FIELD_REQUIRED, 0, 2048, NULL },
	{ "audience", FIELD_STRINGS, 0, 0, 2048, NULL },
	{ "depth", FIELD_INT, 0, 0, 10, NULL },
	{ "caps", FIELD_STRING_ARRAY, 0, 0, 128, NULL },
	{ "es", FIELD_OBJECT, FIELD_JSON_STRING, 0, 0, NULL },
	{ NULL, 0, 0, 0, 0, NULL }
};

static int
validate_refused(const char *in, const char *needle)
{
	char *why = NULL;
	json_t *v = json_loads(in, 0, NULL);
	int rc, ok;

	rc = validate_fields(v, specs, false, &why);
	ok = rc == SF_EINVAL && why != NULL && strstr(why, needle) != NULL;
	free(why);
	json_decref(v);
	return ok;
}

static void
validate_table(void)
{
	json_t *v;
	char *why = NULL;

	v = json_loads("{\"tool_id\":\"code-search\",\"resource_uri\":"
	    "\"https://mcp.example.com/t\",\"audience\":[\"a\",\"b\"],"
	    "\"depth\":3,\"es\":\"{\\\"htm\\\":\\\"GET\\\"}\"}", 0, NULL);
	T(v != NULL);
	T_OK(validate_fields(v, specs, false, &why));
	T(json_is_object(json_object_get(v, "es")));
	json_decref(v);
	T(validate_refused("{\"resource_uri\":\"https://x\"}",
	    "tool_id is required"));
	T(validate_refused("{\"tool_id\":\"a b\",\"resource_uri\":\"x:y\"}",
	    "tool_id may only hold"));
	T(validate_refused("{\"tool_id\":\"a\",\"resource_uri\":\"/rel\"}",
	    "absolute URI"));
	T(validate_refused("{\"tool_id\":\"a\",\"resource_uri\":\"x:y\","
	    "\"depth\":11}", "between 0 and 10"));
	T(validate_refused("{\"tool_id\":\"a\",\"resource_uri\":\"x:y\","
	    "\"audience\":[]}", "empty array"));
	T(validate_refused("{\"tool_id\":\"a\",\"resource_uri\":\"x:y\","
	    "\"audience\":7}", "wrong type"));
	T(validate_refused("{\"tool_id\":\"a\",\"resource_uri\":\"x:y\","
	    "\"bogus\":1}", "unknown field 'bogus'"));
	T(validate_refused("{\"tool_id\":\"a\",\"resource_uri\":\"x:y\","
	    "\"es\":\"[1]\"}", "not a JSON object"));
	T(validate_refused("{\"tool_id\":\"\",\"resource_uri\":\"x:y\"}",
	    "must not be empty"));
	T(validate_refused("[1]", "JSON object"));
}

/* One FastCGI record (FastCGI §3.3) of type t, request id 1. */
static int
fcgi_record(int fd, int t, const void *body, size_t len)
{
	unsigned char h[8] = { 1, (unsigned char)t, 0, 1,
	    (unsigned char)(len >> 8), (unsigned char)len, 0, 0 };

	return write(fd, h, 8) == 8 && (len == 0 ||
	    write(fd, body, len) == (ssize_t)len) ? 0 : -1;
}

/*
 * A responder child serving one request with http_fcgi_finish, then
 * writing a byte to done; the client sends body_len bytes of input and
 * reads the response to its end, keeping its socket open.  Returns
 * whether the child had finished while the client still held the
 * connection (waiting at most wait_ms).
 */
static int
finished_before_close(size_t body_len, int wait_ms, int *ok)
{
	struct sockaddr_un sa;
	struct pollfd pfd;
	unsigned char begin[8] = { 0, 1, 0, 0, 0, 0, 0, 0 };	/* responder */
	char buf[65535], dir[] = "/tmp/test-http.XXXXXX";
	int lfd = -1, cfd = -1, done[2] = { -1, -1 }, r = -1, st;
	size_t sent, n;
	ssize_t got;
	pid_t pid = -1;

	*ok = 0;
	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	if (mkdtemp(dir) == NULL || pipe(done) == -1)
		goto out;
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/s", dir);
	if ((lfd = socket(AF_UNIX, SOCK_STREAM, 0)) == -1 ||
	    bind(lfd, (struct sockaddr *)&sa, sizeof(sa)) == -1 ||
	    listen(lfd, 4) == -1 || (pid = fork()) == -1)
		goto out;
	if (pid == 0) {
		FCGX_Request fr;

		if (FCGX_Init() != 0 || FCGX_InitRequest(&fr, lfd, 0) != 0 ||
		    FCGX_Accept_r(&fr) < 0)
			_exit(1);
		FCGX_FPrintF(fr.out, "Status: 200 OK\r\n\r\nok");
		http_fcgi_finish(&fr);
		_exit(write(done[1], "x", 1) == 1 ? 0 : 1);
	}
	if ((cfd = socket(AF_UNIX, SOCK_STREAM, 0)) == -1 ||
	    connect(cfd, (struct sockaddr *)&sa, sizeof(sa)) == -1 ||
	    fcgi_record(cfd, 1, begin, sizeof(begin)) == -1 ||
	    fcgi_record(cfd, 4, NULL, 0) == -1)
		goto out;
	memset(buf, 'a', sizeof(buf));
	for (sent = 0; sent < body_len; sent += n) {
		n = body_len - sent < 60000 ? body_len - sent : 60000;
		if (fcgi_record(cfd, 5, buf, n) == -1)
			goto out;
	}
	if (fcgi_record(cfd, 5, NULL, 0) == -1)
		goto out;
	while ((got = read(cfd, buf, sizeof(buf))) > 0)
		;
	pfd.fd = done[0];
	pfd.events = POLLIN;
	r = poll(&pfd, 1, wait_ms) == 1;
	*ok = 1;
out:
	if (cfd != -1)
		close(cfd);
	if (pid > 0) {
		kill(pid, SIGKILL);
		waitpid(pid, &st, 0);
	}
	if (lfd != -1)
		close(lfd);
	if (done[0] != -1) {
		close(done[0]);
		close(done[1]);
	}
	if (sa.sun_path[0] != '\0')
		unlink(sa.sun_path);
	rmdir(dir);
	return r;
}

static void
fcgi_finish_closes(void)
{
	int ok;

	/* Input read to its end: closed at once, the client's end open. */
	T(finished_before_close(16, 1500, &ok) == 1);
	T(ok);
	T(finished_before_close(60000, 1500, &ok) == 1);
	T(ok);
	/* More unread input than the drain takes: libfcgi's lingering
	 * close, which waits for the client to close first. */
	T(finished_before_close(200000, 300, &ok) == 0);
	T(ok);
}

int
main(void)
{
	t_prog = "http";
	RUN(path_accepts_canonical);
	RUN(path_rejects_noncanonical);
	RUN(path_rejects_long);
	RUN(form_basic);
	RUN(form_rejects);
	RUN(json_strict);
	RUN(validate_table);
	RUN(fcgi_finish_closes);
	return T_DONE();
}
