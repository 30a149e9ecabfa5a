/*
 * http.c - the request layer: one accept loop over libfcgi (FastCGI
 * responder role), or one plain CGI request (RFC 3875) when fd 0 is not a
 * listening socket; exact-path routing; bodies read to EOF under a cap;
 * JSON responses and errors in API.md's shapes.
 *
 * FCGX_Accept_r has no CGI fallback and FCGX_OpenSocket exits on bind
 * failure, so this file tests the mode itself and binds --listen sockets
 * itself (mode 0660, no exit on failure).
 */
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>

#include <netinet/in.h>
#include <arpa/inet.h>

#include <ctype.h>
#include <errno.h>
#include <netdb.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <fcgiapp.h>

#include "starfly.h"

#define HTTP_DEFAULT_BODY	(64 * 1024)
#define HTTP_MAX_HEADERS	4096

extern char **environ;

struct http_req {
	const struct http_server *srv;
	FCGX_Request	*fcgx;		/* NULL in CGI mode */
	char	       **envp;
	enum http_method method;
	const char	*method_name;
	char		*path;
	const char	*query;
	json_t		*query_params;
	char		*body;
	size_t		 body_len;
	char		 media[128];
	char		 request_id[37];
	int		 status;
	bool		 responded;
	bool		 streaming;
	bool		 io_failed;
	char		 hdrs[HTTP_MAX_HEADERS];
	size_t		 hdrs_len;
	uint64_t	 start_ns;
};

volatile int http_reload_requested;
static volatile sig_atomic_t http_in_request;
static volatile sig_atomic_t http_stop;

static void
on_signal(int sig)
{
	if (sig == SIGHUP) {
		http_reload_requested = 1;
		return;
	}
	/* SIGTERM/SIGINT: idle workers leave now, busy ones after the reply. */
	if (!http_in_request)
		_exit(0);
	http_stop = 1;
}

void
http_args(int *argc, char **argv, const char **config, const char **listen,
    int *workers)
{
	long long n;
	int i, j;

	*config = NULL;
	*listen = NULL;
	*workers = 1;
	/* RFC 3875 §4.4: a CGI query without '=' may arrive as argv words,
	 * so a program run by a web server as CGI takes no options. */
	if (getenv("GATEWAY_INTERFACE") != NULL)
		return;
	for (i = 1, j = 1; i < *argc; i++) {
		if ((strcmp(argv[i], "--config") == 0 ||
		    strcmp(argv[i], "-c") == 0) && i + 1 < *argc)
			*config = argv[++i];
		else if (strncmp(argv[i], "--config=", 9) == 0)
			*config = argv[i] + 9;
		else if (strcmp(argv[i], "--listen") == 0 && i + 1 < *argc)
			*listen = argv[++i];
		else if (strncmp(argv[i], "--listen=", 9) == 0)
			*listen = argv[i] + 9;
		else if (strcmp(argv[i], "--workers") == 0 && i + 1 < *argc &&
		    sf_strtonum(argv[i + 1], 1, 256, &n) == SF_OK) {
			*workers = (int)n;
			i++;
		} else
			argv[j++] = argv[i];
	}
	argv[j] = NULL;
	*argc = j;
}

const char *
http_reason(int status)
{
	switch (status) {
	case 200: return "OK";
	case 201: return "Created";
	case 202: return "Accepted";
	case 204: return "No Content";
	case 304: return "Not Modified";
	case 400: return "Bad Request";
	case 401: return "Unauthorized";
	case 403: return "Forbidden";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 409: return "Conflict";
	case 411: return "Length Required";
	case 413: return "Content Too Large";
	case 415: return "Unsupported Media Type";
	case 429: return "Too Many Requests";
	case 500: return "Internal Server Error";
	case 501: return "Not Implemented";
	case 503: return "Service Unavailable";
	default: return "Unknown";
	}
}

static const struct {
	const char		*name;
	enum http_method	 m;
} methods[] = {
	{ "GET", HTTP_GET }, { "HEAD", HTTP_HEAD }, { "POST", HTTP_POST },
	{ "PUT", HTTP_PUT }, { "DELETE", HTTP_DELETE },
	{ "PATCH", HTTP_PATCH }, { "OPTIONS", HTTP_OPTIONS },
};

/* Low-level output: the FastCGI stream or stdout (CGI). */
static int
io_write(struct http_req *req, const void *buf, size_t len)
{
	if (req->io_failed)
		return SF_EIO;
	if (len == 0)
		return SF_OK;
	if (req->fcgx != NULL) {
		if (len > INT32_MAX || FCGX_PutStr(buf, (int)len,
		    req->fcgx->out) != (int)len) {
			req->io_failed = true;
			return SF_EIO;
		}
		return SF_OK;
	}
	if (fwrite(buf, 1, len, stdout) != len) {
		req->io_failed = true;
		return SF_EIO;
	}
	return SF_OK;
}

static int
io_read(struct http_req *req, char *buf, size_t len)
{
	size_t n;

	if (req->fcgx != NULL)
		return FCGX_GetStr(buf, (int)len, req->fcgx->in);
	n = fread(buf, 1, len, stdin);
	if (n == 0 && ferror(stdin))
		return -1;
	return (int)n;
}

#define HTTP_DRAIN_MAX	(64 * 1024)

void
http_fcgi_finish(struct FCGX_Request *r)
{
	char scratch[4096];
	size_t drained = 0;
	int n;

	if (r == NULL)
		return;
	/* FastCGI §5.3: an empty FCGI_STDIN record ends the input. */
	if (r->in != NULL && !r->keepConnection) {
		while (FCGX_HasSeenEOF(r->in) != EOF &&
		    drained < HTTP_DRAIN_MAX &&
		    (n = FCGX_GetStr(scratch, (int)sizeof(scratch), r->in)) > 0)
			drained += (size_t)n;
		if (FCGX_HasSeenEOF(r->in) == EOF)
			(void)FCGX_Detach(r);
	}
	FCGX_Finish_r(r);
}

const char *
http_env(const struct http_req *req, const char *name)
{
	return FCGX_GetParam(name, req->envp);
}

const char *
http_header(const struct http_req *req, const char *cgi_name)
{
	return http_env(req, cgi_name);
}

enum http_method
http_method(const struct http_req *req)
{
	return req->method;
}

const char *
http_method_name(const struct http_req *req)
{
	return req->method_name;
}

const char *
http_path(const struct http_req *req)
{
	return req->path != NULL ? req->path : "";
}

const char *
http_query(const struct http_req *req)
{
	return req->query != NULL ? req->query : "";
}

const char *
http_content_type(const struct http_req *req)
{
	return http_env(req, "CONTENT_TYPE");
}

const char *
http_media_type(const struct http_req *req)
{
	return req->media;
}

const char *
http_request_id(const struct http_req *req)
{
	return req->request_id;
}

const char *
http_body(const struct http_req *req, size_t *len)
{
	if (len != NULL)
		*len = req->body_len;
	return req->body != NULL ? req->body : "";
}

int
http_status(const struct http_req *req)
{
	return req->status;
}

uint64_t
http_start_ns(const struct http_req *req)
{
	return req->start_ns;
}

int
http_query_param(const struct http_req *req, const char *name, char **out)
{
	struct http_req *r = (struct http_req *)req;
	const char *q = http_query(req);
	char *why = NULL;
	json_t *v;
	int rc;

	*out = NULL;
	if (r->query_params == NULL) {
		rc = form_parse(q, strlen(q), NULL, &r->query_params, &why);
		free(why);
		if (rc != SF_OK)
			return rc;
	}
	if ((v = json_object_get(r->query_params, name)) == NULL)
		return SF_ENOTFOUND;
	if ((*out = sf_strdup(json_string_value(v))) == NULL)
		return SF_ENOMEM;
	return SF_OK;
}

/* Append n bytes of s to buf (size cap) at *pos; false when they do not fit. */
static bool
put(char *buf, size_t cap, size_t *pos, const char *s, size_t n)
{
	if (n > cap - *pos)
		return false;
	memcpy(buf + *pos, s, n);
	*pos += n;
	return true;
}

static bool
put_str(char *buf, size_t cap, size_t *pos, const char *s)
{
	return put(buf, cap, pos, s, strlen(s));
}

/* v in decimal. */
static bool
put_num(char *buf, size_t cap, size_t *pos, uint64_t v)
{
	char d[SF_U64_DEC_MAX], *p = sf_u64_dec(d + sizeof(d), v);

	return put(buf, cap, pos, p, (size_t)(d + sizeof(d) - p));
}

int
http_add_header(struct http_req *req, const char *name, const char *value)
{
	size_t n = req->hdrs_len;

	if (strpbrk(name, "\r\n:") != NULL || strpbrk(value, "\r\n") != NULL)
		return SF_EINVAL;
	/* Room kept for the NUL that snprintf used to write. */
	if (!put_str(req->hdrs, sizeof(req->hdrs) - 1, &n, name) ||
	    !put(req->hdrs, sizeof(req->hdrs) - 1, &n, ": ", 2) ||
	    !put_str(req->hdrs, sizeof(req->hdrs) - 1, &n, value) ||
	    !put(req->hdrs, sizeof(req->hdrs) - 1, &n, "\r\n", 2))
		return SF_ETOOBIG;
	req->hdrs_len = n;
	return SF_OK;
}

/* Status line (CGI "Status:"), our headers, the caller's, blank line. */
static int
send_head(struct http_req *req, int status, const char *ctype, size_t len,
    bool with_length)
{
	char head[HTTP_MAX_HEADERS + 512];
	size_t n = 0, cap = sizeof(head);
	bool ok;

	req->status = status;
	ok = put(head, cap, &n, "Status: ", 8) &&
	    put_num(head, cap, &n, (uint64_t)(status > 0 ? status : 0)) &&
	    put(head, cap, &n, " ", 1) &&
	    put_str(head, cap, &n, http_reason(status)) &&
	    put(head, cap, &n, "\r\nX-Request-ID: ", 16) &&
	    put_str(head, cap, &n, req->request_id) &&
	    put(head, cap, &n, "\r\n", 2);
	if (ok && ctype != NULL)
		ok = put(head, cap, &n, "Content-Type: ", 14) &&
		    put_str(head, cap, &n, ctype) &&
		    put(head, cap, &n, "\r\n", 2);
	ok = ok && put(head, cap, &n, req->hdrs, req->hdrs_len);
	if (ok && with_length)
		ok = put(head, cap, &n, "Content-Length: ", 16) &&
		    put_num(head, cap, &n, len) &&
		    put(head, cap, &n, "\r\n", 2);
	if (!ok || !put(head, cap, &n, "\r\n", 2))
		return SF_ETOOBIG;
	return io_write(req, head, n);
}

int
http_raw(struct http_req *req, int status, const char *ctype,
    const void *body, size_t len)
{
	int rc;

	if (req->responded) {
		log_err("%s: second response for request %s ignored",
		    req->srv->progname, req->request_id);
		return SF_EINVAL;
	}
	req->responded = true;
	if (body == NULL)
		len = 0;
	if ((rc = send_head(req, status, len ? ctype : ctype, len, true))
	    != SF_OK)
		return rc;
	if (req->method == HTTP_HEAD)
		return SF_OK;
	return io_write(req, body, len);
}

int
http_json(struct http_req *req, int status, json_t *body)
{
	char *s;
	int rc;

	if (body == NULL) {
		rc = http_raw(req, 500, "application/json",
		    "{\"error\":\"server_error\",\"error_description\":"
		    "\"out of memory\"}\n", 63);
		return rc == SF_OK ? SF_ENOMEM : rc;
	}
	s = json_dump_compact(body);
	json_decref(body);
	if (s == NULL) {
		rc = http_raw(req, 500, "application/json",
		    "{\"error\":\"server_error\",\"error_description\":"
		    "\"out of memory\"}\n", 63);
		return rc == SF_OK ? SF_ENOMEM : rc;
	}
	/* A trailing newline, as curl users expect. */
	{
		size_t n = strlen(s);
		char *t = realloc(s, n + 2);

		if (t != NULL) {
			s = t;
			s[n] = '\n';
			s[n + 1] = '\0';
		}
	}
	rc = http_raw(req, status, "application/json", s, strlen(s));
	free(s);
	return rc;
}

int
http_error(struct http_req *req, int status, const char *code,
    const char *fmt, ...)
{
	char desc[512];
	va_list ap;
	json_t *o;

	va_start(ap, fmt);
	vsnprintf(desc, sizeof(desc), fmt, ap);
	va_end(ap);
	o = json_pack("{s:s, s:s}", "error", code, "error_description", desc);
	return http_json(req, status, o);
}

int
http_stream_begin(struct http_req *req, int status, const char *ctype)
{
	if (req->responded)
		return SF_EINVAL;
	req->responded = true;
	req->streaming = true;
	return send_head(req, status, ctype, 0, false);
}

int
http_write(struct http_req *req, const void *buf, size_t len)
{
	return io_write(req, buf, len);
}

int
http_flush(struct http_req *req)
{
	if (req->io_failed)
		return SF_EIO;
	if (req->fcgx != NULL) {
		if (FCGX_FFlush(req->fcgx->out) != 0 ||
		    FCGX_GetError(req->fcgx->out) != 0) {
			req->io_failed = true;
			return SF_EIO;
		}
		return SF_OK;
	}
	if (fflush(stdout) != 0) {
		req->io_failed = true;
		return SF_EIO;
	}
	return SF_OK;
}

int
http_conn_fd(const struct http_req *req)
{
	return req->fcgx != NULL ? req->fcgx->ipcFd : STDOUT_FILENO;
}

/* The media type of CONTENT_TYPE, lowercased, parameters dropped. */
static void
parse_media(struct http_req *req)
{
	const char *ct = http_content_type(req);
	size_t i, n;

	req->media[0] = '\0';
	if (ct == NULL)
		return;
	while (*ct == ' ' || *ct == '\t')
		ct++;
	n = strcspn(ct, "; \t");
	if (n >= sizeof(req->media))
		n = sizeof(req->media) - 1;
	for (i = 0; i < n; i++)
		req->media[i] = (char)tolower((unsigned char)ct[i]);
	req->media[n] = '\0';
}

/*
 * Read the body to EOF under cap (413 past it).  CONTENT_LENGTH is a
 * hint: all digits or it is ignored (nginx sends "", Caddy "-1"); in CGI
 * mode it bounds the read (RFC 3875 §4.2 promises no EOF).
 */
static int
read_body(struct http_req *req, size_t cap, const char **why)
{
	const char *cl = http_env(req, "CONTENT_LENGTH");
	long long declared = -1;
	size_t want, len = 0, alloc;
	char *buf;
	int n;

	*why = NULL;
	if (cl != NULL && *cl != '\0' &&
	    sf_strtonum(cl, 0, INT64_MAX, &declared) != SF_OK)
		declared = -1;
	if (declared > (long long)cap) {
		*why = "request body too large";
		return SF_ETOOBIG;
	}
	if (req->fcgx == NULL && declared <= 0)
		return SF_OK;	/* CGI without a length: no body */
	want = declared >= 0 && req->fcgx == NULL ? (size_t)declared : cap + 1;
	alloc = declared > 0 && (size_t)declared < cap ? (size_t)declared + 1 :
	    (cap + 1 < 16384 ? cap + 1 : 16384);
	if ((buf = malloc(alloc + 1)) == NULL)
		return SF_ENOMEM;
	while (len < want) {
		size_t room;

		if (len == alloc) {
			size_t na = alloc * 2 > cap + 1 ? cap + 1 : alloc * 2;
			char *nb;

			if ((nb = realloc(buf, na + 1)) == NULL) {
				free(buf);
				return SF_ENOMEM;
			}
			buf = nb;
			alloc = na;
		}
		room = alloc - len;
		if (room > want - len)
			room = want - len;
		n = io_read(req, buf + len, room);
		if (n < 0) {
			free(buf);
			*why = "error reading the request body";
			return SF_EIO;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	if (len > cap) {
		free(buf);
		*why = "request body too large";
		return SF_ETOOBIG;
	}
	buf[len] = '\0';
	req->body = buf;
	req->body_len = len;
	return SF_OK;
}

static void
allow_header(struct http_req *req, unsigned int mask)
{
	char allow[128] = "";
	size_t i;

	if (mask & HTTP_GET)
		mask |= HTTP_HEAD;
	for (i = 0; i < sizeof(methods) / sizeof(methods[0]); i++)
		if (mask & methods[i].m) {
			if (allow[0] != '\0')
				sf_strlcat(allow, ", ", sizeof(allow));
			sf_strlcat(allow, methods[i].name, sizeof(allow));
		}
	(void)http_add_header(req, "Allow", allow);
}

/* One request, from parsed environment to the response. */
static void
handle(const struct http_server *srv, struct http_req *req)
{
	const struct http_route *rt = NULL;
	const char *uri, *why = NULL, *m;
	char *built = NULL;
	size_t i, cap;
	int rc;

	req->start_ns = sf_mono_ns();
	if (sf_uuid4(req->request_id) != SF_OK)
		sf_strlcpy(req->request_id, "00000000-0000-4000-8000-000000000000",
		    sizeof(req->request_id));
	if (srv->before != NULL)
		srv->before(srv->arg);

	m = http_env(req, "REQUEST_METHOD");
	req->method_name = m != NULL ? m : "";
	req->method = 0;
	for (i = 0; m != NULL && i < sizeof(methods) / sizeof(methods[0]); i++)
		if (strcmp(m, methods[i].name) == 0)
			req->method = methods[i].m;

	/* REQUEST_URI, else SCRIPT_NAME + PATH_INFO (hand-made CGI). */
	uri = http_env(req, "REQUEST_URI");
	if (uri == NULL || *uri == '\0') {
		const char *sn = http_env(req, "SCRIPT_NAME");
		const char *pi = http_env(req, "PATH_INFO");

		if (sf_asprintf(&built, "%s%s", sn ? sn : "", pi ? pi : "")
		    != SF_OK) {
			(void)http_error(req, 500, "server_error",
			    "out of memory");
			goto out;
		}
		uri = built;
	}
	req->query = http_env(req, "QUERY_STRING");
	if ((rc = path_canon(uri, &req->path, &why)) != SF_OK) {
		if (rc == SF_ENOMEM)
			(void)http_error(req, 500, "server_error",
			    "out of memory");
		else
			(void)http_error(req, 400, "invalid_request", "%s",
			    why);
		goto out;
	}
	for (i = 0; i < srv->nroutes; i++)
		if (strcmp(srv->routes[i].path, req->path) == 0) {
			rt = &srv->routes[i];
			break;
		}
	if (rt == NULL) {
		if (srv->fallback != NULL) {
			(void)srv->fallback(req, srv->arg);
			if (!req->responded)
				(void)http_error(req, 404, "not_found",
				    "no route for %s", req->path);
		} else
			(void)http_error(req, 404, "not_found",
			    "no route for %s", req->path);
		goto out;
	}
	if (req->method == 0 || !((rt->methods | ((rt->methods & HTTP_GET) ?
	    HTTP_HEAD : 0)) & req->method)) {
		allow_header(req, rt->methods);
		(void)http_error(req, 405, "method_not_allowed",
		    "%s does not allow %s", rt->path, req->method_name);
		goto out;
	}
	parse_media(req);
	cap = rt->body_max ? rt->body_max :
	    (srv->body_limit ? srv->body_limit : HTTP_DEFAULT_BODY);
	if ((rc = read_body(req, cap, &why)) != SF_OK) {
		if (rc == SF_ETOOBIG)
			(void)http_error(req, 413, "invalid_request",
			    "request body larger than %zu bytes", cap);
		else if (rc == SF_ENOMEM)
			(void)http_error(req, 500, "server_error",
			    "out of memory");
		else
			(void)http_error(req, 400, "invalid_request", "%s",
			    why);
		goto out;
	}
	rc = rt->handler(req, srv->arg);
	if (!req->responded) {
		log_err("%s %s: handler gave no response (%s)",
		    req->method_name, req->path, sf_strerror(rc));
		(void)http_error(req, 500, "server_error", "%s",
		    rc == SF_ENOMEM ? "out of memory" : "internal error");
	}
out:
	if (!req->responded)
		(void)http_error(req, 500, "server_error", "internal error");
	if (srv->after != NULL)
		srv->after(req, srv->arg);
	free(built);
}

static void
req_reset(struct http_req *req)
{
	free(req->path);
	if (req->body != NULL)
		sf_freezero(req->body, req->body_len);
	json_decref(req->query_params);
	memset(req, 0, sizeof(*req));
}

/*
 * Bind --listen: a unix socket path (mode 0660, stale file replaced) or
 * HOST:PORT (TCP).  Returns the listening fd or -1 (logged).
 */
static int
listen_on(const char *spec)
{
	struct sockaddr_un sun;
	struct addrinfo hints, *res = NULL, *ai;
	char host[256], *colon;
	mode_t old;
	int fd = -1, one = 1;

	if (strchr(spec, '/') != NULL) {
		memset(&sun, 0, sizeof(sun));
		sun.sun_family = AF_UNIX;
		if (sf_strlcpy(sun.sun_path, spec, sizeof(sun.sun_path)) >=
		    sizeof(sun.sun_path)) {
			log_err("listen: socket path too long: %s", spec);
			return -1;
		}
		if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1)
			goto syserr;
		(void)unlink(spec);
		old = umask(0117);
		if (bind(fd, (struct sockaddr *)&sun, sizeof(sun)) == -1) {
			umask(old);
			goto syserr;
		}
		umask(old);
		if (chmod(spec, 0660) == -1)
			goto syserr;
	} else {
		if (sf_strlcpy(host, spec, sizeof(host)) >= sizeof(host) ||
		    (colon = strrchr(host, ':')) == NULL) {
			log_err("listen: expected PATH or HOST:PORT: %s", spec);
			return -1;
		}
		*colon = '\0';
		memset(&hints, 0, sizeof(hints));
		hints.ai_family = AF_UNSPEC;
		hints.ai_socktype = SOCK_STREAM;
		hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
		if (getaddrinfo(host[0] ? host : NULL, colon + 1, &hints,
		    &res) != 0 || res == NULL) {
			log_err("listen: cannot resolve %s", spec);
			return -1;
		}
		for (ai = res; ai != NULL; ai = ai->ai_next) {
			fd = socket(ai->ai_family, ai->ai_socktype |
			    SOCK_CLOEXEC, ai->ai_protocol);
			if (fd == -1)
				continue;
			(void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one,
			    sizeof(one));
			if (bind(fd, ai->ai_addr, ai->ai_addrlen) == 0)
				break;
			close(fd);
			fd = -1;
		}
		freeaddrinfo(res);
		if (fd == -1)
			goto syserr;
	}
	if (listen(fd, 1024) == -1)
		goto syserr;
	return fd;
syserr:
	log_err("listen on %s: %s", spec, strerror(errno));
	if (fd != -1)
		close(fd);
	return -1;
}

static volatile sig_atomic_t sup_signal;

static void
on_sup_signal(int sig)
{
	sup_signal = sig;
}

/*
 * The supervisor of --workers N: fork the workers on the bound socket,
 * restart the dead, forward TERM/INT/HUP.  Returns 1 in a worker (which
 * then serves), 0 in the supervisor when it is time to exit.
 */
static int
supervise(int n)
{
	struct sigaction sa;
	pid_t *kids;
	time_t *born;
	int i, status;
	pid_t pid;

	if ((kids = calloc((size_t)n, sizeof(*kids))) == NULL ||
	    (born = calloc((size_t)n, sizeof(*born))) == NULL) {
		free(kids);
		return 1;	/* serve alone rather than not at all */
	}
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_sup_signal;
	sigemptyset(&sa.sa_mask);
	(void)sigaction(SIGTERM, &sa, NULL);
	(void)sigaction(SIGINT, &sa, NULL);
	(void)sigaction(SIGHUP, &sa, NULL);
	for (;;) {
		for (i = 0; i < n && sup_signal == 0; i++) {
			if (kids[i] != 0)
				continue;
			/* At most one restart a second per slot. */
			if (born[i] != 0 && time(NULL) - born[i] < 1) {
				sleep(1);
				if (sup_signal != 0)
					break;
			}
			born[i] = time(NULL);
			if ((pid = fork()) == 0) {
				free(kids);
				free(born);
				return 1;
			}
			if (pid == -1)
				log_err("fork: %s", strerror(errno));
			else
				kids[i] = pid;
		}
		if (sup_signal == SIGHUP) {
			for (i = 0; i < n; i++)
				if (kids[i] > 0)
					(void)kill(kids[i], SIGHUP);
			sup_signal = 0;
		}
		if (sup_signal != 0)
			break;
		pid = waitpid(-1, &status, 0);
		if (pid <= 0)
			continue;
		for (i = 0; i < n; i++)
			if (kids[i] == pid) {
				kids[i] = 0;
				log_warn("worker %ld ended (%s %d); restarting",
				    (long)pid, WIFSIGNALED(status) ? "signal" :
				    "status", WIFSIGNALED(status) ?
				    WTERMSIG(status) : WEXITSTATUS(status));
			}
	}
	for (i = 0; i < n; i++)
		if (kids[i] > 0)
			(void)kill(kids[i], SIGTERM);
	while (waitpid(-1, &status, 0) > 0)
		;
	free(kids);
	free(born);
	return 0;
}

int
http_serve(const struct http_server *srv)
{
	struct sigaction sa;
	struct http_req req;
	FCGX_Request fr;
	int fd = 0, rc;

	memset(&req, 0, sizeof(req));
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = SIG_IGN;
	(void)sigaction(SIGPIPE, &sa, NULL);
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	/* A worker's reads and writes must not break off on SIGTERM: it
	 * finishes the request in hand (the supervisor sets its own). */
	sa.sa_flags = SA_RESTART;
	(void)sigaction(SIGTERM, &sa, NULL);
	(void)sigaction(SIGINT, &sa, NULL);
	(void)sigaction(SIGHUP, &sa, NULL);

	if (FCGX_Init() != 0) {
		log_err("FCGX_Init failed");
		return SF_ESYS;
	}
	if (srv->listen != NULL) {
		if ((fd = listen_on(srv->listen)) == -1)
			return SF_ESYS;
		if (srv->workers > 1) {
			if (supervise(srv->workers) == 0) {
				close(fd);
				return SF_OK;
			}
			sa.sa_handler = on_signal;
			(void)sigaction(SIGTERM, &sa, NULL);
			(void)sigaction(SIGINT, &sa, NULL);
			(void)sigaction(SIGHUP, &sa, NULL);
		}
	} else if (FCGX_IsCGI()) {
		/* RFC 3875: one request from environ and stdin. */
		req.srv = srv;
		req.envp = environ;
		http_in_request = 1;
		handle(srv, &req);
		fflush(stdout);
		req_reset(&req);
		return SF_OK;
	}
	if (FCGX_InitRequest(&fr, fd, 0) != 0) {
		log_err("FCGX_InitRequest failed");
		return SF_ESYS;
	}
	log_info("%s: serving FastCGI%s%s", srv->progname,
	    srv->listen ? " on " : "", srv->listen ? srv->listen : "");
	while (!http_stop) {
		http_in_request = 0;
		if (http_stop)
			break;
		rc = FCGX_Accept_r(&fr);
		if (rc < 0) {
			if (http_stop)
				break;
			log_err("FCGX_Accept_r: %d", rc);
			break;
		}
		http_in_request = 1;
		req.srv = srv;
		req.fcgx = &fr;
		req.envp = fr.envp;
		handle(srv, &req);
		req_reset(&req);
		http_fcgi_finish(&fr);
	}
	FCGX_Free(&fr, 1);
	return SF_OK;
}
