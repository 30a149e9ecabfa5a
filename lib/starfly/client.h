/*
 * starfly/client.h - the agent side of RFC 8693 token exchange
 * (lib/client.c): present the credential an agent holds to Starfly or any
 * compliant authorization server and get back a token scoped to one
 * downstream service, reused while it is fresh.
 *
 * Included by starfly.h; a C agent may also include it alone (it needs
 * only the C library).  Link with lib/libcore.a and
 * `pkg-config --libs libcrypto jansson`; libcurl (libcurl.so.4) is
 * loaded with dlopen on the first request, so that a cache hit never
 * pays for mapping it.
 *
 * Configuration (etc/client.conf.example documents every key): "key
 * value" lines as in conf.h.  Lines before the first "[name]" header
 * are defaults for every entry; each "[name]" section is one exchange
 * configuration, looked up by that reference name.
 *
 * Threads: every function taking a struct client may be called from
 * several threads at once.  One mutex guards the cache, the discovered
 * endpoints and the credential sources; it is never held across network
 * I/O, so concurrent misses for the same entry may each exchange.
 *
 * Ownership: every string and struct handed out is new (the caller frees
 * it with the named function) unless marked borrowed.  Secrets (access
 * tokens, client secrets, subject tokens) are wiped before their memory
 * is freed; none is ever logged or put on a command line.
 */
#ifndef STARFLY_CLIENT_H
#define STARFLY_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CLIENT_GRANT_TOKEN_EXCHANGE \
	"urn:ietf:params:oauth:grant-type:token-exchange"
#define CLIENT_TT_JWT		"urn:ietf:params:oauth:token-type:jwt"
#define CLIENT_TT_ACCESS	"urn:ietf:params:oauth:token-type:access_token"

/* Client authentication at the token endpoint (RFC 6749 §2.3.1). */
enum client_auth {
	CLIENT_AUTH_NONE = 0,		/* public client: client_id only, if set */
	CLIENT_AUTH_BASIC = 1,		/* client_secret_basic */
	CLIENT_AUTH_POST = 2		/* client_secret_post */
};

/*
 * One exchange configuration.  Filled by client_load(), or by the caller
 * for client_add() (which copies it).  Strings are NUL-terminated;
 * lists are NULL-terminated arrays; NULL means "not set".
 */
struct client_entry {
	char		 *name;		/* reference, [A-Za-z0-9][A-Za-z0-9._-]* */
	char		 *issuer;	/* discovered (RFC 8414) when no endpoint */
	char		 *token_endpoint;
	int		  auth;		/* enum client_auth */
	char		 *client_id;
	char		 *client_secret_file;
	char		 *client_secret_env;
	char		 *scope;	/* space-separated */
	char		**audience;
	char		**resource;	/* RFC 8707 absolute URIs */
	char		 *requested_token_type;
	char		 *subject_token_type;	/* default: ...:jwt */
	/* Where the subject token comes from: at most one of these. */
	char		 *subject_token_file;	/* re-read when it changes */
	char		 *subject_token_env;
	bool		  subject_token_stdin;
	char		 *subject_token;	/* explicit value */
	/* Delegation (RFC 8693 §1.1): the acting party's token. */
	char		 *actor_token_file;
	char		 *actor_token_env;
	char		 *actor_token_type;
	char		**extra;	/* "name=value" words, form-encoded */
	char		 *ca_file;	/* PEM bundle; default: system store */
	long long	  timeout;	/* whole request, seconds (default 10) */
	long long	  connect_timeout;	/* seconds (default 5) */
	long long	  margin;	/* reuse until expiry - margin (30) */
	bool		  allow_http;	/* permit http:// URLs (dev units) */
	bool		  cache;	/* reuse tokens (default yes) */
};

/* What went wrong, told apart for the caller. */
enum client_errkind {
	CLIENT_ERR_NONE = 0,
	CLIENT_ERR_CONFIG,	/* bad or missing configuration, unknown ref */
	CLIENT_ERR_CREDENTIAL,	/* subject/actor token or secret unavailable */
	CLIENT_ERR_OAUTH,	/* the server's RFC 6749 §5.2 error response */
	CLIENT_ERR_REFUSED,	/* connection refused */
	CLIENT_ERR_NETWORK,	/* other connection failure (DNS, reset...) */
	CLIENT_ERR_TIMEOUT,	/* connect or request timed out */
	CLIENT_ERR_TLS,		/* TLS handshake or certificate check failed */
	CLIENT_ERR_NOT_JSON,	/* the answer is not JSON (an HTML page...) */
	CLIENT_ERR_HTTP,	/* JSON, but an HTTP error without "error" */
	CLIENT_ERR_RESPONSE,	/* 2xx JSON that is not a token response */
	CLIENT_ERR_DISCOVERY,	/* no usable RFC 8414 / OIDC metadata */
	CLIENT_ERR_INTERNAL	/* out of memory, OpenSSL failure */
};

/*
 * Details of a failure.  All strings are new (client_error_clear frees
 * them); error and error_description are exactly what the server sent
 * (they may hold any bytes: escape them before printing to a terminal).
 */
struct client_error {
	int		 kind;		/* enum client_errkind */
	long		 status;	/* HTTP status, 0 without a response */
	char		*error;		/* OAuth "error", or NULL */
	char		*error_description;	/* server's, or NULL */
	char		*error_uri;	/* server's, or NULL */
	char		*message;	/* our one-line explanation; never NULL
					   after a failure */
};

/* An issued token.  New; client_token_free() wipes and frees it. */
struct client_token {
	char		*access_token;	/* the secret */
	char		*token_type;	/* "Bearer", "DPoP", "N_A" ... */
	char		*issued_token_type;	/* NULL when the server omitted it */
	char		*scope;		/* granted scope, or NULL */
	int64_t		 expires_at;	/* Unix time; 0: server gave no expires_in */
	bool		 from_cache;
	char		*nonce;		/* execution-scoped requests only */
	char		*inp_hash;	/* execution-scoped with a body only */
};

/*
 * An execution-scoped request (Starfly's execution_scope): the token is
 * bound to one HTTP call.  inp_hash is the base64url SHA-256 of body
 * (omitted when body is NULL); the nonce is 16 fresh random bytes.  Such
 * tokens are single-use and never cached.  All members borrowed.
 */
struct client_exec {
	const char	*htm;		/* HTTP method, e.g. "POST" */
	const char	*htu;		/* absolute target URL */
	const void	*body;		/* request body, or NULL */
	size_t		 body_len;
	const char	*exec_act;	/* optional action name */
	const char	*target;	/* optional */
};

/* Per-call options; NULL means all defaults.  Members borrowed. */
struct client_req {
	const char	*subject_token;	/* overrides the entry's source */
	const char	*actor_token;	/* overrides the entry's source */
	const struct client_exec *exec;
	bool		 no_cache;	/* neither read nor write the cache */
};

struct client;

/*
 * A new client with no entries and an in-memory cache.  *out is new;
 * client_free() releases it.
 */
int		 client_new(struct client **out);
void		 client_free(struct client *cl);

/*
 * Add the entries of a configuration file (or buffer; name is used in
 * messages).  Relative paths are taken from the file's directory (buffer:
 * from base, may be NULL).  On SF_ECONF *errmsg is new ("file:line:
 * ..."); nothing is added then.
 */
int		 client_load(struct client *cl, const char *path, char **errmsg);
int		 client_load_buf(struct client *cl, const char *name,
		    const char *buf, size_t len, const char *base,
		    char **errmsg);

/*
 * Set the defaults of an entry (subject_token_type jwt, timeouts, margin,
 * cache on); the caller fills the rest.  client_add() checks and copies
 * e (SF_ECONF with *errmsg new when it is unusable, SF_EEXIST for a name
 * already present).
 */
void		 client_entry_defaults(struct client_entry *e);
int		 client_add(struct client *cl, const struct client_entry *e,
		    char **errmsg);

/* Entries, in file order.  Borrowed (valid while cl lives). */
size_t		 client_count(const struct client *cl);
const struct client_entry *client_entry_at(const struct client *cl,
		    size_t i);
const struct client_entry *client_entry_find(const struct client *cl,
		    const char *ref);

/*
 * Also keep tokens in dir (created 0700; refused when another user owns
 * it or others may read it), one 0600 file each, so that other processes
 * of the same user reuse them.  NULL turns the disk cache off.
 */
int		 client_set_cache_dir(struct client *cl, const char *dir);

/*
 * Get a token for ref: from the cache when one for the same entry and the
 * same subject (and actor) token has more than the entry's margin left,
 * else by exchange (RFC 8693 §2.1) at the entry's token endpoint.
 * *out is new on SF_OK.  On failure err (if not NULL) says why and the
 * return is SF_ECONF, SF_ENOTFOUND (unknown ref or no credential),
 * SF_EDENIED (OAuth error), SF_EIO (network, timeout, TLS), SF_EPARSE
 * (not JSON / not a token response) or SF_ENOMEM.  err must be cleared
 * with client_error_clear() either way.
 */
int		 client_token(struct client *cl, const char *ref,
		    const struct client_req *req, struct client_token **out,
		    struct client_error *err);
void		 client_token_free(struct client_token *t);

/* Drop the cached tokens of ref (SF_ENOTFOUND: unknown ref) / of all. */
int		 client_invalidate(struct client *cl, const char *ref);
int		 client_flush(struct client *cl);

void		 client_error_clear(struct client_error *err);
/* Static name of a kind ("oauth", "refused", "timeout", ...). */
const char	*client_errkind_name(int kind);

/*
 * The parsers, exposed for tests and fuzzing.  client_parse_response
 * reads a token endpoint answer (RFC 6749 §5.1 / §5.2, RFC 8693 §2.2):
 * status and ctype (may be NULL) as received.  client_parse_metadata
 * reads RFC 8414 metadata that must name issuer exactly and yields the
 * token endpoint (*endpoint new).
 */
int		 client_parse_response(long status, const char *ctype,
		    const char *body, size_t len, struct client_token **out,
		    struct client_error *err);
int		 client_parse_metadata(const char *issuer, bool allow_http,
		    const char *body, size_t len, char **endpoint,
		    struct client_error *err);

/* base64url(SHA-256(buf)) (RFC 4648 §5), the execution-scope inp_hash. */
int		 client_inp_hash(const void *buf, size_t len, char **out);

#endif /* STARFLY_CLIENT_H */
