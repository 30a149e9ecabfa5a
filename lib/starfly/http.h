/*
 * starfly/http.h - the request layer (lib/http.c, lib/path.c,
 * lib/json.c, lib/form.c, lib/validate.c).  Included by starfly.h only.
 *
 * One accept loop over libfcgi serves FastCGI (fd 0 a listening socket,
 * or --listen PATH|HOST:PORT) or, when the program is not on a socket,
 * exactly one plain CGI request (RFC 3875) from the environment and
 * stdin.  Routing uses the request path with one rule for every web
 * server (path_canon below) and an exact match against the program's
 * route table.
 */
#ifndef STARFLY_HTTP_H
#define STARFLY_HTTP_H

enum http_method {
	HTTP_GET = 1 << 0,
	HTTP_HEAD = 1 << 1,
	HTTP_POST = 1 << 2,
	HTTP_PUT = 1 << 3,
	HTTP_DELETE = 1 << 4,
	HTTP_PATCH = 1 << 5,
	HTTP_OPTIONS = 1 << 6
};

/*
 * Canonical-or-reject path rule.  From REQUEST_URI (else SCRIPT_NAME +
 * PATH_INFO): drop an absolute-form "scheme://authority" prefix, cut the
 * query, then refuse (SF_EINVAL with *why, a static string) anything not
 * starting with '/', longer than 2048 bytes, holding "//", "%2F", "%5C",
 * "%00", a raw '\\', a bad %-escape, control bytes or a "." / ".."
 * segment (raw or encoded); then percent-decode once.  *out is new.
 */
int		 path_canon(const char *uri, char **out, const char **why);

struct http_req;

/* A route: exact path, the methods it allows, its body cap, its handler. */
typedef int	(*http_handler)(struct http_req *req, void *arg);
struct http_route {
	const char	*path;
	unsigned int	 methods;	/* enum http_method bits */
	size_t		 body_max;	/* 0: the configured default */
	http_handler	 handler;
};

/* Fallback for a path in no route: NULL means a JSON 404. */
struct http_server {
	const char		*progname;
	const struct http_route	*routes;
	size_t			 nroutes;
	http_handler		 fallback;	/* unrouted paths, or NULL */
	void			*arg;		/* passed to handlers */
	size_t			 body_limit;	/* default cap (64 KiB if 0) */
	const char		*listen;	/* --listen value or NULL */
	int			 workers;	/* --workers N (with --listen) */
	/* Called before each request (refresh caches); may be NULL. */
	void			(*before)(void *arg);
	/* Called after each response (metrics, audit); may be NULL. */
	void			(*after)(struct http_req *req, void *arg);
};

/*
 * Parse the common options of every program: --config FILE,
 * --listen PATH|HOST:PORT and --workers N (removed from argv).  Borrowed
 * results; *workers is 1 unless given.
 */
void		 http_args(int *argc, char **argv, const char **config,
		    const char **listen, int *workers);

/*
 * Serve until SIGTERM/SIGINT (the request in hand is finished first) or,
 * in CGI mode, one request.  With --listen and workers > 1 the process
 * binds the socket, forks that many workers sharing it, restarts any
 * that dies (at most once a second each) and forwards SIGTERM/SIGHUP to
 * them.  Returns SF_OK, or an error when the socket cannot be set up
 * (never exits).
 */
int		 http_serve(const struct http_server *srv);

/*
 * End a FastCGI request (libfcgi's FCGX_Finish_r) and close its
 * connection at once when the request's input has been read to its end,
 * instead of libfcgi's lingering close (shutdown, then wait for the web
 * server to close first), which leaves the worker idle for a round trip
 * through the web server.  Up to 64 KiB of unread input is read first;
 * past that the lingering close drains the rest as before, so the server
 * never sees a reset.  Every program's loop ends its requests with it;
 * the benchmark floors do too.  r is borrowed.
 */
struct FCGX_Request;
void		 http_fcgi_finish(struct FCGX_Request *r);

/* Set by SIGHUP; the program's before() hook reloads and clears it. */
extern volatile int http_reload_requested;

/* Request accessors (all borrowed, valid for the request). */
enum http_method http_method(const struct http_req *req);
const char	*http_method_name(const struct http_req *req);
const char	*http_path(const struct http_req *req);	/* canonical */
const char	*http_query(const struct http_req *req);	/* raw, or "" */
const char	*http_content_type(const struct http_req *req); /* or NULL */
/* The media type only, lowercased, without parameters ("" if none). */
const char	*http_media_type(const struct http_req *req);
const char	*http_env(const struct http_req *req, const char *name);
/* Header by CGI name, e.g. "HTTP_AUTHORIZATION". */
const char	*http_header(const struct http_req *req, const char *cgi_name);
const char	*http_request_id(const struct http_req *req);
const char	*http_body(const struct http_req *req, size_t *len);
int		 http_status(const struct http_req *req);
uint64_t	 http_start_ns(const struct http_req *req);

/*
 * One query-string parameter, decoded (new in *out).  SF_ENOTFOUND when
 * absent, SF_EINVAL when repeated or malformed.
 */
int		 http_query_param(const struct http_req *req, const char *name,
		    char **out);

/*
 * Responses.  Exactly one of these per request; a second call is ignored
 * and logged.  Every response carries X-Request-ID.
 */
/* Add a response header (copied).  Before the response call. */
int		 http_add_header(struct http_req *req, const char *name,
		    const char *value);
/* JSON body; takes the reference to body. */
int		 http_json(struct http_req *req, int status, json_t *body);
/* {"error": code, "error_description": printf(fmt...)}. */
int		 http_error(struct http_req *req, int status, const char *code,
		    const char *fmt, ...) __attribute__((format(printf, 4, 5)));
/* Raw body with its content type (NULL type and body for no body). */
int		 http_raw(struct http_req *req, int status, const char *ctype,
		    const void *body, size_t len);
/*
 * Streaming (server-sent events): send the status and headers now; then
 * http_write/http_flush.  http_write returns SF_EIO once the client is
 * gone.
 */
int		 http_stream_begin(struct http_req *req, int status,
		    const char *ctype);
int		 http_write(struct http_req *req, const void *buf, size_t len);
int		 http_flush(struct http_req *req);
/*
 * The connection to the web server (FastCGI socket, or stdout in CGI
 * mode), for poll(2): a long response sees the server hang up (or send
 * FCGI_ABORT_REQUEST, which makes it readable) when its client left.
 */
int		 http_conn_fd(const struct http_req *req);

/* Reason phrase for a status code ("Unknown" otherwise). */
const char	*http_reason(int status);

/*
 * Strict JSON (lib/json.c): the whole buffer is one JSON value, UTF-8
 * checked, NUL refused, duplicate keys refused, depth at most 64.  On
 * failure *why is new ("line 1, column 5: ...").  *out is new.
 */
int		 json_parse_strict(const char *buf, size_t len, json_t **out,
		    char **why);
/*
 * Compact serialisation, members in insertion order, "/" not escaped:
 * byte for byte json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY).  New, or
 * NULL on a cycle or no memory.
 */
char		*json_dump_compact(const json_t *v);
/*
 * The same text (with ascii, that of JSON_ENSURE_ASCII too) handed to
 * put in pieces, as json_dump_callback does.  SF_EINVAL on a cycle or,
 * with ascii, a string that is not UTF-8; SF_ENOMEM when put fails.
 */
int		 json_write_compact(const json_t *v, bool ascii,
		    json_dump_callback_t put, void *arg);
/*
 * The length (1..4) of the well-formed UTF-8 sequence at s (RFC 3629 §4:
 * shortest form, no surrogates, at most U+10FFFF) and its code point in
 * *cp; 0 when there is none within avail bytes.
 */
size_t		 json_utf8_seq(const unsigned char *s, size_t avail,
		    uint32_t *cp);

/*
 * application/x-www-form-urlencoded (lib/form.c, WHATWG URL §5.1 with
 * strict escapes): the result is an object of name -> string, or name ->
 * array of strings for names listed in repeatable (NULL-terminated);
 * any other repeated name is SF_EINVAL with *why naming it (new).
 * Invalid UTF-8 after decoding is SF_EINVAL.
 */
int		 form_parse(const char *buf, size_t len,
		    const char *const *repeatable, json_t **out, char **why);
/* Percent-decode one component ('+' is a space when plus).  New. */
int		 form_decode(const char *s, size_t len, bool plus, char **out);

/*
 * Declarative validation of a request object (lib/validate.c).
 */
enum field_type {
	FIELD_STRING,		/* non-empty string unless FIELD_EMPTY_OK */
	FIELD_STRINGS,		/* string or array of strings (>= 1) */
	FIELD_STRING_ARRAY,	/* array of strings */
	FIELD_INT,		/* integer in [min, max] */
	FIELD_BOOL,
	FIELD_OBJECT,
	FIELD_URI,		/* absolute URI (RFC 3986 §4.3) */
	FIELD_ANY
};
enum field_flags {
	FIELD_REQUIRED = 1 << 0,
	FIELD_EMPTY_OK = 1 << 1,
	FIELD_JSON_STRING = 1 << 2	/* object may arrive as a JSON string */
};
struct field_spec {
	const char	*name;
	enum field_type	 type;
	unsigned int	 flags;
	long long	 min, max;	/* INT range; STRING length (max) */
	const char	*pattern;	/* allowed chars, e.g. "A-Za-z0-9._-" */
};
/*
 * Check obj against specs (terminated by a NULL name).  Unknown members
 * are refused unless allow_unknown.  On failure returns SF_EINVAL and
 * *why (new) names the field and the problem.  Members declared
 * FIELD_JSON_STRING that arrive as strings are replaced by their parsed
 * object in obj.
 */
int		 validate_fields(json_t *obj, const struct field_spec *specs,
		    bool allow_unknown, char **why);

#endif /* STARFLY_HTTP_H */
