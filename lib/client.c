/*
 * client.c - RFC 8693 token exchange, client side: configuration entries,
 * credential sources, discovery (RFC 8414), the exchange over libcurl,
 * and a token cache in memory and, optionally, in a per-user directory.
 */
#include <sys/stat.h>
#include <sys/types.h>

#include <ctype.h>
#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "starfly.h"

#define CLIENT_NAME_MAX		64
#define CLIENT_SECRET_MAX	(64 * 1024)	/* credential files */
#define CLIENT_RESP_MAX		(256 * 1024)	/* token endpoint answers */
#define CLIENT_CACHE_MAX	1024		/* tokens kept in memory */
#define CLIENT_CACHEFILE_MAX	(64 * 1024)
#define CLIENT_DISCOVERY_TTL	3600		/* seconds */
#define CLIENT_EXPIRES_MAX	(10LL * 366 * 86400)
#define CLIENT_UA		"starfly-token/" SF_VERSION
#define CACHEFILE_MAGIC		"starfly-token-cache 1"

/* A credential read from a file, the environment or stdin. */
struct src {
	char		*value;		/* secret; wiped */
	bool		 have;
	dev_t		 dev;
	ino_t		 ino;
	off_t		 size;
	struct timespec	 mtim, ctim;
};

struct entry_state {
	struct client_entry	 e;
	size_t			 line;		/* of its header; 0: client_add */
	struct src		 subject, actor, secret;
	char			*endpoint;	/* discovered */
	int64_t			 endpoint_exp;
};

struct mem_tok {
	unsigned char		 key[32];
	char			*ref;
	struct client_token	*tok;
};

struct client {
	pthread_mutex_t		  mu;
	struct entry_state	**ents;
	size_t			  nents;
	struct mem_tok		 *cache;
	size_t			  ncache;
	char			 *cache_dir;
	char			 *stdin_value;
	bool			  stdin_read;
};

/* A growable byte buffer whose old copies are wiped (it holds secrets). */
struct buf {
	char		*p;
	size_t		 len, cap;
};

/*
 * Configuration keys of one entry (also the defaults part of a file).
 */
static const char *const auth_names[] = { "none", "client_secret_basic",
    "client_secret_post", NULL };

#define K(n, t, m, lo, hi, c) \
	{ n, t, offsetof(struct client_entry, m), lo, hi, c, false }
static const struct conf_key entry_keys[] = {
	K("issuer", CONF_URL, issuer, 0, 0, NULL),
	K("token_endpoint", CONF_URL, token_endpoint, 0, 0, NULL),
	K("auth", CONF_ENUM, auth, 0, 0, auth_names),
	K("client_id", CONF_STR, client_id, 0, 1024, NULL),
	K("client_secret_file", CONF_PATH, client_secret_file, 0, 0, NULL),
	K("client_secret_env", CONF_STR, client_secret_env, 0, 256, NULL),
	K("scope", CONF_STR, scope, 0, 4096, NULL),
	K("audience", CONF_LIST, audience, 0, 0, NULL),
	K("resource", CONF_LIST, resource, 0, 0, NULL),
	K("requested_token_type", CONF_STR, requested_token_type, 0, 256,
	    NULL),
	K("subject_token_type", CONF_STR, subject_token_type, 0, 256, NULL),
	K("subject_token_file", CONF_PATH, subject_token_file, 0, 0, NULL),
	K("subject_token_env", CONF_STR, subject_token_env, 0, 256, NULL),
	K("subject_token_stdin", CONF_BOOL, subject_token_stdin, 0, 0, NULL),
	K("subject_token", CONF_STR, subject_token, 0, 16384, NULL),
	K("actor_token_file", CONF_PATH, actor_token_file, 0, 0, NULL),
	K("actor_token_env", CONF_STR, actor_token_env, 0, 256, NULL),
	K("actor_token_type", CONF_STR, actor_token_type, 0, 256, NULL),
	K("extra", CONF_LIST, extra, 0, 0, NULL),
	K("ca_file", CONF_PATH, ca_file, 0, 0, NULL),
	K("timeout", CONF_INT, timeout, 1, 600, NULL),
	K("connect_timeout", CONF_INT, connect_timeout, 1, 600, NULL),
	K("margin", CONF_INT, margin, 0, 86400, NULL),
	K("allow_http", CONF_BOOL, allow_http, 0, 0, NULL),
	K("cache", CONF_BOOL, cache, 0, 0, NULL),
	{ NULL, 0, 0, 0, 0, NULL, false }
};
#undef K

/* Parameters the library sets itself; "extra" may not name them. */
static const char *const managed_params[] = { "grant_type", "subject_token",
    "subject_token_type", "actor_token", "actor_token_type", "audience",
    "resource", "scope", "requested_token_type", "client_id",
    "client_secret", "execution_scope", NULL };

/*
 * Errors.
 */
static const char *const kind_names[] = { "none", "config", "credential",
    "oauth", "refused", "network", "timeout", "tls", "not_json", "http",
    "response", "discovery", "internal" };

const char *
client_errkind_name(int kind)
{
	if (kind < 0 || (size_t)kind >= sizeof(kind_names) /
	    sizeof(kind_names[0]))
		return "unknown";
	return kind_names[kind];
}

void
client_error_clear(struct client_error *err)
{
	if (err == NULL)
		return;
	free(err->error);
	free(err->error_description);
	free(err->error_uri);
	free(err->message);
	memset(err, 0, sizeof(*err));
}

static int
kind_rc(int kind)
{
	switch (kind) {
	case CLIENT_ERR_CONFIG:
		return SF_ECONF;
	case CLIENT_ERR_CREDENTIAL:
		return SF_ENOTFOUND;
	case CLIENT_ERR_OAUTH:
		return SF_EDENIED;
	case CLIENT_ERR_NOT_JSON:
	case CLIENT_ERR_RESPONSE:
	case CLIENT_ERR_DISCOVERY:
		return SF_EPARSE;
	default:
		return SF_EIO;
	}
}

static int
seterr(struct client_error *err, int kind, long status, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Record a failure of kind in err (may be NULL); returns its SF_E code. */
static int
seterr(struct client_error *err, int kind, long status, const char *fmt, ...)
{
	va_list ap;
	char *m = NULL;
	int n;

	if (err == NULL)
		return kind_rc(kind);
	va_start(ap, fmt);
	n = vasprintf(&m, fmt, ap);
	va_end(ap);
	free(err->message);
	err->message = n < 0 ? NULL : m;
	err->kind = kind;
	err->status = status;
	return err->message == NULL ? SF_ENOMEM : kind_rc(kind);
}

/*
 * Buffers.
 */
static void
buf_free(struct buf *b)
{
	if (b->p != NULL)
		sf_freezero(b->p, b->cap);
	memset(b, 0, sizeof(*b));
}

/* Make room for n more bytes (and the NUL). */
static int
buf_reserve(struct buf *b, size_t n)
{
	char *np;
	size_t ncap;

	if (n > SIZE_MAX / 4 - b->len - 1)
		return SF_ETOOBIG;
	if (b->len + n + 1 <= b->cap)
		return SF_OK;
	ncap = b->cap == 0 ? 256 : b->cap;
	while (ncap < b->len + n + 1)
		ncap *= 2;
	if ((np = malloc(ncap)) == NULL)
		return SF_ENOMEM;
	if (b->p != NULL) {
		memcpy(np, b->p, b->len + 1);
		sf_freezero(b->p, b->cap);
	}
	b->p = np;
	b->cap = ncap;
	return SF_OK;
}

static int
buf_add(struct buf *b, const void *s, size_t n)
{
	int rc;

	if ((rc = buf_reserve(b, n)) != SF_OK)
		return rc;
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
	return SF_OK;
}

static int
buf_str(struct buf *b, const char *s)
{
	return buf_add(b, s, strlen(s));
}

/* application/x-www-form-urlencoded (WHATWG URL §5.2) of one string. */
static int
form_encode(struct buf *b, const char *s)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t n = strlen(s);
	char *w;
	int rc;

	if ((rc = buf_reserve(b, 3 * n)) != SF_OK)
		return rc;
	w = b->p + b->len;
	for (; *s != '\0'; s++) {
		unsigned char c = (unsigned char)*s;

		if (isalnum(c) || c == '-' || c == '.' || c == '_' ||
		    c == '*')
			*w++ = (char)c;
		else if (c == ' ')
			*w++ = '+';
		else {
			*w++ = '%';
			*w++ = hex[c >> 4];
			*w++ = hex[c & 15];
		}
	}
	*w = '\0';
	b->len = (size_t)(w - b->p);
	return SF_OK;
}

/* Append "&name=value" (no '&' for the first parameter). */
static int
form_param(struct buf *b, const char *name, const char *value)
{
	int rc;

	if (b->len > 0 && (rc = buf_add(b, "&", 1)) != SF_OK)
		return rc;
	if ((rc = form_encode(b, name)) != SF_OK ||
	    (rc = buf_add(b, "=", 1)) != SF_OK)
		return rc;
	return form_encode(b, value);
}

/*
 * Entries.
 */
static bool
name_ok(const char *s)
{
	size_t i;

	if (s == NULL || !isalnum((unsigned char)s[0]))
		return false;
	for (i = 0; s[i] != '\0'; i++)
		if (i >= CLIENT_NAME_MAX || !(isalnum((unsigned char)s[i]) ||
		    s[i] == '.' || s[i] == '_' || s[i] == '-'))
			return false;
	return true;
}

void
client_entry_defaults(struct client_entry *e)
{
	memset(e, 0, sizeof(*e));
	e->auth = CLIENT_AUTH_NONE;
	e->timeout = 10;
	e->connect_timeout = 5;
	e->margin = 30;
	e->cache = true;
}

static void
words_free(char **w)
{
	size_t i;

	if (w == NULL)
		return;
	for (i = 0; w[i] != NULL; i++)
		free(w[i]);
	free(w);
}

static char **
words_dup(char *const *w)
{
	char **out;
	size_t i, n;

	for (n = 0; w[n] != NULL; n++)
		;
	if ((out = calloc(n + 1, sizeof(*out))) == NULL)
		return NULL;
	for (i = 0; i < n; i++)
		if ((out[i] = sf_strdup(w[i])) == NULL) {
			words_free(out);
			return NULL;
		}
	return out;
}

static void
entry_fini(struct client_entry *e)
{
	conf_free_fields(entry_keys, e);
	free(e->name);
	e->name = NULL;
}

/* Deep copy of src into dst (which is overwritten). */
static int
entry_copy(struct client_entry *dst, const struct client_entry *src)
{
	const struct conf_key *k;

	*dst = *src;
	dst->name = NULL;
	for (k = entry_keys; k->name != NULL; k++)
		if (k->type == CONF_STR || k->type == CONF_URL ||
		    k->type == CONF_PATH)
			*(char **)((char *)dst + k->offset) = NULL;
		else if (k->type == CONF_LIST)
			*(char ***)((char *)dst + k->offset) = NULL;
	if (src->name != NULL && (dst->name = sf_strdup(src->name)) == NULL)
		goto fail;
	for (k = entry_keys; k->name != NULL; k++) {
		const void *from = (const char *)src + k->offset;
		void *to = (char *)dst + k->offset;

		if (k->type == CONF_STR || k->type == CONF_URL ||
		    k->type == CONF_PATH) {
			const char *s = *(char *const *)from;

			if (s != NULL && (*(char **)to = sf_strdup(s)) == NULL)
				goto fail;
		} else if (k->type == CONF_LIST) {
			char *const *w = *(char **const *)from;

			if (w != NULL && (*(char ***)to = words_dup(w)) == NULL)
				goto fail;
		}
	}
	return SF_OK;
fail:
	entry_fini(dst);
	return SF_ENOMEM;
}

static bool
url_allowed(const char *u, bool allow_http)
{
	if (strncmp(u, "https://", 8) == 0)
		return u[8] != '\0' && u[8] != '/';
	if (allow_http && strncmp(u, "http://", 7) == 0)
		return u[7] != '\0' && u[7] != '/';
	return false;
}

/* An absolute URI (RFC 3986 §4.3): scheme ":" ..., no fragment. */
static bool
absolute_uri(const char *u)
{
	const char *p = u;

	if (!isalpha((unsigned char)*p))
		return false;
	while (isalnum((unsigned char)*p) || *p == '+' || *p == '-' ||
	    *p == '.')
		p++;
	return *p == ':' && p[1] != '\0' && strchr(u, '#') == NULL;
}

/* Check one "name=value" extra word; *why is static. */
static bool
extra_ok(const char *w, const char **why)
{
	const char *eq = strchr(w, '=');
	char *name = NULL, *val = NULL;
	bool ok = false;
	size_t i;

	if (eq == NULL || eq == w) {
		*why = "must be name=value";
		return false;
	}
	if (form_decode(w, (size_t)(eq - w), true, &name) != SF_OK ||
	    form_decode(eq + 1, strlen(eq + 1), true, &val) != SF_OK) {
		*why = "bad %-escape";
		goto out;
	}
	for (i = 0; managed_params[i] != NULL; i++)
		if (strcmp(name, managed_params[i]) == 0) {
			*why = "names a parameter set by its own key";
			goto out;
		}
	ok = true;
out:
	free(name);
	free(val);
	return ok;
}

/*
 * Is e usable?  On failure *why is new.  file/line locate it in messages
 * (file NULL for client_add).
 */
static int
entry_check(const struct client_entry *e, const char *file, size_t line,
    char **why)
{
	const char *w = NULL, *ew;
	char msg[512];
	int nsrc;
	size_t i;

	*why = NULL;
	msg[0] = '\0';
	nsrc = (e->subject_token_file != NULL) +
	    (e->subject_token_env != NULL) + (e->subject_token_stdin ? 1 : 0) +
	    (e->subject_token != NULL);
	if (!name_ok(e->name))
		w = "name must be 1-64 of [A-Za-z0-9._-], starting with a "
		    "letter or digit";
	else if (e->token_endpoint == NULL && e->issuer == NULL)
		w = "needs token_endpoint or issuer";
	else if (e->token_endpoint != NULL &&
	    !url_allowed(e->token_endpoint, e->allow_http))
		w = "token_endpoint must be https (http needs allow_http yes)";
	else if (e->token_endpoint == NULL &&
	    !url_allowed(e->issuer, e->allow_http))
		w = "issuer must be https (http needs allow_http yes)";
	else if (e->issuer != NULL && (strchr(e->issuer, '?') != NULL))
		w = "issuer must not carry a query (RFC 8414 §2)";
	else if (e->auth < CLIENT_AUTH_NONE || e->auth > CLIENT_AUTH_POST)
		w = "auth must be none, client_secret_basic or "
		    "client_secret_post";
	else if (e->auth != CLIENT_AUTH_NONE && e->client_id == NULL)
		w = "auth with a secret needs client_id";
	else if (e->auth != CLIENT_AUTH_NONE &&
	    (e->client_secret_file == NULL) == (e->client_secret_env == NULL))
		w = "auth with a secret needs exactly one of "
		    "client_secret_file, client_secret_env";
	else if (e->auth == CLIENT_AUTH_NONE &&
	    (e->client_secret_file != NULL || e->client_secret_env != NULL))
		w = "a client secret is set but auth is none";
	else if (e->client_id != NULL && e->client_id[0] == '\0')
		w = "client_id is empty";
	else if (nsrc > 1)
		w = "give at most one of subject_token_file, "
		    "subject_token_env, subject_token_stdin, subject_token";
	else if (e->subject_token != NULL && e->subject_token[0] == '\0')
		w = "subject_token is empty";
	else if (e->actor_token_file != NULL && e->actor_token_env != NULL)
		w = "give at most one of actor_token_file, actor_token_env";
	else if ((e->actor_token_file != NULL || e->actor_token_env != NULL) !=
	    (e->actor_token_type != NULL))
		w = "actor_token_type goes with actor_token_file or "
		    "actor_token_env (RFC 8693 §2.1)";
	else if (e->ca_file != NULL && access(e->ca_file, R_OK) != 0)
		(void)snprintf(msg, sizeof(msg), "ca_file %s: %s", e->ca_file,
		    strerror(errno));
	if (w == NULL && msg[0] == '\0' && e->resource != NULL)
		for (i = 0; e->resource[i] != NULL; i++)
			if (!absolute_uri(e->resource[i])) {
				(void)snprintf(msg, sizeof(msg), "resource '%s' "
				    "is not an absolute URI without fragment "
				    "(RFC 8707 §2)", e->resource[i]);
				break;
			}
	if (w == NULL && msg[0] == '\0' && e->extra != NULL)
		for (i = 0; e->extra[i] != NULL; i++)
			if (!extra_ok(e->extra[i], &ew)) {
				(void)snprintf(msg, sizeof(msg), "extra '%s': %s",
				    e->extra[i], ew);
				break;
			}
	if (w == NULL && msg[0] == '\0')
		return SF_OK;
	if (w != NULL)
		sf_strlcpy(msg, w, sizeof(msg));
	if (file == NULL)
		(void)sf_asprintf(why, "entry %s: %s", e->name ? e->name :
		    "(unnamed)", msg);
	else
		(void)sf_asprintf(why, "%s:%zu: [%s]: %s", file, line,
		    e->name ? e->name : "", msg);
	return *why == NULL ? SF_ENOMEM : SF_ECONF;
}

static void
src_clear(struct src *s)
{
	sf_strfree_secret(s->value);
	memset(s, 0, sizeof(*s));
}

static void
state_free(struct entry_state *st)
{
	if (st == NULL)
		return;
	entry_fini(&st->e);
	src_clear(&st->subject);
	src_clear(&st->actor);
	src_clear(&st->secret);
	free(st->endpoint);
	free(st);
}

static struct entry_state *
find_state(const struct client *cl, const char *ref)
{
	size_t i;

	if (ref == NULL)
		return NULL;
	for (i = 0; i < cl->nents; i++)
		if (strcmp(cl->ents[i]->e.name, ref) == 0)
			return cl->ents[i];
	return NULL;
}

/*
 * The client.
 */
int
client_new(struct client **out)
{
	struct client *cl;

	*out = NULL;
	if ((cl = calloc(1, sizeof(*cl))) == NULL)
		return SF_ENOMEM;
	if (pthread_mutex_init(&cl->mu, NULL) != 0) {
		free(cl);
		return SF_ESYS;
	}
	*out = cl;
	return SF_OK;
}

static void
mem_drop(struct mem_tok *m)
{
	client_token_free(m->tok);
	free(m->ref);
	memset(m, 0, sizeof(*m));
}

void
client_free(struct client *cl)
{
	size_t i;

	if (cl == NULL)
		return;
	for (i = 0; i < cl->nents; i++)
		state_free(cl->ents[i]);
	free(cl->ents);
	for (i = 0; i < cl->ncache; i++)
		mem_drop(&cl->cache[i]);
	free(cl->cache);
	free(cl->cache_dir);
	sf_strfree_secret(cl->stdin_value);
	pthread_mutex_destroy(&cl->mu);
	free(cl);
}

size_t
client_count(const struct client *cl)
{
	return cl == NULL ? 0 : cl->nents;
}

const struct client_entry *
client_entry_at(const struct client *cl, size_t i)
{
	if (cl == NULL || i >= cl->nents)
		return NULL;
	return &cl->ents[i]->e;
}

const struct client_entry *
client_entry_find(const struct client *cl, const char *ref)
{
	struct entry_state *st;

	if (cl == NULL)
		return NULL;
	st = find_state(cl, ref);
	return st == NULL ? NULL : &st->e;
}

/* Append states (taken) to cl, refusing names already present. */
static int
add_states(struct client *cl, struct entry_state **sts, size_t n,
    const char *file, char **errmsg)
{
	struct entry_state **ne;
	size_t i, j;
	int rc = SF_OK;

	pthread_mutex_lock(&cl->mu);
	for (i = 0; i < n; i++) {
		bool dup = find_state(cl, sts[i]->e.name) != NULL;

		for (j = 0; j < i && !dup; j++)
			dup = strcmp(sts[j]->e.name, sts[i]->e.name) == 0;
		if (dup) {
			if (file != NULL)
				(void)sf_asprintf(errmsg, "%s:%zu: [%s] is "
				    "defined twice", file, sts[i]->line,
				    sts[i]->e.name);
			else
				(void)sf_asprintf(errmsg, "entry %s exists",
				    sts[i]->e.name);
			rc = file != NULL ? SF_ECONF : SF_EEXIST;
			goto out;
		}
	}
	if ((ne = realloc(cl->ents, (cl->nents + n + 1) * sizeof(*ne))) ==
	    NULL) {
		rc = SF_ENOMEM;
		goto out;
	}
	cl->ents = ne;
	for (i = 0; i < n; i++)
		cl->ents[cl->nents++] = sts[i];
out:
	pthread_mutex_unlock(&cl->mu);
	return rc;
}

int
client_add(struct client *cl, const struct client_entry *e, char **errmsg)
{
	struct entry_state *st;
	int rc;

	*errmsg = NULL;
	if ((rc = entry_check(e, NULL, 0, errmsg)) != SF_OK)
		return rc;
	if ((st = calloc(1, sizeof(*st))) == NULL)
		return SF_ENOMEM;
	if ((rc = entry_copy(&st->e, e)) != SF_OK) {
		free(st);
		return rc;
	}
	if ((rc = add_states(cl, &st, 1, NULL, errmsg)) != SF_OK)
		state_free(st);
	return rc;
}

/*
 * Configuration files: lines before the first "[name]" are defaults;
 * each section is parsed with conf_parse_buf over a copy of the file in
 * which every other line is blank, so that line numbers stay true.
 */
struct section {
	char	name[CLIENT_NAME_MAX + 1];
	size_t	line;			/* header line, 1-based */
	size_t	from, to;		/* byte range of its body */
};

/* Whether the line [p, p+n) is a section header; fills name. */
static int
section_header(const char *p, size_t n, char name[CLIENT_NAME_MAX + 1],
    bool *is)
{
	size_t i = 0, j;

	*is = false;
	while (i < n && (p[i] == ' ' || p[i] == '\t'))
		i++;
	if (i == n || p[i] != '[')
		return SF_OK;
	*is = true;
	for (j = ++i; j < n && p[j] != ']'; j++)
		;
	if (j == n || j - i == 0 || j - i > CLIENT_NAME_MAX)
		return SF_EINVAL;
	memcpy(name, p + i, j - i);
	name[j - i] = '\0';
	if (!name_ok(name))
		return SF_EINVAL;
	for (j++; j < n && p[j] != '#'; j++)
		if (p[j] != ' ' && p[j] != '\t' && p[j] != '\r')
			return SF_EINVAL;
	return SF_OK;
}

/* Copy of buf with every byte outside [from, to) that is not '\n' blank. */
static char *
blank_outside(const char *buf, size_t len, size_t from, size_t to)
{
	char *c;
	size_t i;

	if ((c = malloc(len + 1)) == NULL)
		return NULL;
	for (i = 0; i < len; i++)
		c[i] = (i >= from && i < to) || buf[i] == '\n' ? buf[i] : ' ';
	c[len] = '\0';
	return c;
}

/* Whether a line of buf[from, to) sets key. */
static bool
sets_key(const char *buf, size_t from, size_t to, const char *key)
{
	size_t i = from, n = strlen(key);

	while (i < to) {
		while (i < to && (buf[i] == ' ' || buf[i] == '\t'))
			i++;
		if (to - i > n && memcmp(buf + i, key, n) == 0 &&
		    (buf[i + n] == ' ' || buf[i + n] == '\t'))
			return true;
		while (i < to && buf[i] != '\n')
			i++;
		i++;
	}
	return false;
}

/*
 * Keys that choose one of several ways to do a thing: a section setting
 * any key of a group drops what the defaults set for the others.
 */
static void
drop_inherited(struct client_entry *e, const char *buf, size_t from,
    size_t to)
{
	static const char *const groups[][5] = {
		{ "subject_token_file", "subject_token_env",
		    "subject_token_stdin", "subject_token", NULL },
		{ "actor_token_file", "actor_token_env", NULL },
		{ "client_secret_file", "client_secret_env", NULL },
		{ "issuer", "token_endpoint", NULL },
	};
	const struct conf_key *k;
	size_t g, i;

	for (g = 0; g < sizeof(groups) / sizeof(groups[0]); g++) {
		for (i = 0; groups[g][i] != NULL; i++)
			if (sets_key(buf, from, to, groups[g][i]))
				break;
		if (groups[g][i] == NULL)
			continue;
		for (i = 0; groups[g][i] != NULL; i++)
			for (k = entry_keys; k->name != NULL; k++) {
				if (strcmp(k->name, groups[g][i]) != 0)
					continue;
				if (k->type == CONF_BOOL)
					*(bool *)((char *)e + k->offset) = false;
				else {
					free(*(char **)((char *)e + k->offset));
					*(char **)((char *)e + k->offset) = NULL;
				}
			}
	}
}

int
client_load_buf(struct client *cl, const char *name, const char *buf,
    size_t len, const char *base, char **errmsg)
{
	struct client_entry defs;
	struct section *secs = NULL, *ns;
	struct entry_state **sts = NULL;
	size_t nsec = 0, nsts = 0, lineno = 0, i, n, head_end = len;
	const char *p = buf, *end = buf + len, *nl;
	char *copy = NULL;
	bool is;
	int rc;

	*errmsg = NULL;
	client_entry_defaults(&defs);
	if (memchr(buf, '\0', len) != NULL) {
		(void)sf_asprintf(errmsg, "%s: NUL byte in file", name);
		return SF_ECONF;
	}
	while (p < end) {
		lineno++;
		nl = memchr(p, '\n', (size_t)(end - p));
		n = (size_t)((nl ? nl : end) - p);
		{
			char sname[CLIENT_NAME_MAX + 1];

			if (section_header(p, n, sname, &is) != SF_OK) {
				(void)sf_asprintf(errmsg, "%s:%zu: bad section "
				    "header: want [name], name 1-64 of "
				    "[A-Za-z0-9._-]", name, lineno);
				rc = SF_ECONF;
				goto out;
			}
			if (is) {
				if (nsec == 0)
					head_end = (size_t)(p - buf);
				else
					secs[nsec - 1].to = (size_t)(p - buf);
				ns = realloc(secs, (nsec + 1) * sizeof(*ns));
				if (ns == NULL) {
					rc = SF_ENOMEM;
					goto out;
				}
				secs = ns;
				memcpy(secs[nsec].name, sname, sizeof(sname));
				secs[nsec].line = lineno;
				secs[nsec].from = (size_t)((nl ? nl + 1 : end) -
				    buf);
				secs[nsec].to = len;
				nsec++;
			}
		}
		p = nl ? nl + 1 : end;
	}
	if (nsec == 0) {
		(void)sf_asprintf(errmsg, "%s: no [name] section: nothing to "
		    "exchange", name);
		rc = SF_ECONF;
		goto out;
	}
	/* Defaults. */
	if ((copy = blank_outside(buf, len, 0, head_end)) == NULL) {
		rc = SF_ENOMEM;
		goto out;
	}
	if ((rc = conf_parse_buf(name, copy, len, entry_keys, base, &defs,
	    errmsg)) != SF_OK)
		goto out;
	free(copy);
	copy = NULL;
	if ((sts = calloc(nsec, sizeof(*sts))) == NULL) {
		rc = SF_ENOMEM;
		goto out;
	}
	for (i = 0; i < nsec; i++) {
		struct entry_state *st;

		if ((st = calloc(1, sizeof(*st))) == NULL) {
			rc = SF_ENOMEM;
			goto out;
		}
		sts[nsts++] = st;
		if ((rc = entry_copy(&st->e, &defs)) != SF_OK)
			goto out;
		if ((st->e.name = sf_strdup(secs[i].name)) == NULL) {
			rc = SF_ENOMEM;
			goto out;
		}
		st->line = secs[i].line;
		drop_inherited(&st->e, buf, secs[i].from, secs[i].to);
		if ((copy = blank_outside(buf, len, secs[i].from, secs[i].to))
		    == NULL) {
			rc = SF_ENOMEM;
			goto out;
		}
		if ((rc = conf_parse_buf(name, copy, len, entry_keys, base,
		    &st->e, errmsg)) != SF_OK)
			goto out;
		free(copy);
		copy = NULL;
		if ((rc = entry_check(&st->e, name, st->line, errmsg)) != SF_OK)
			goto out;
	}
	if ((rc = add_states(cl, sts, nsts, name, errmsg)) == SF_OK)
		nsts = 0;
out:
	if (rc == SF_ENOMEM && *errmsg == NULL)
		(void)sf_asprintf(errmsg, "%s: out of memory", name);
	for (i = 0; i < nsts; i++)
		state_free(sts[i]);
	free(sts);
	free(copy);
	free(secs);
	entry_fini(&defs);
	return rc;
}

int
client_load(struct client *cl, const char *path, char **errmsg)
{
	char *buf = NULL, *dcopy = NULL;
	size_t len;
	int rc;

	*errmsg = NULL;
	rc = sf_read_file(path, 1024 * 1024, &buf, &len);
	if (rc != SF_OK) {
		(void)sf_asprintf(errmsg, "%s: cannot read: %s", path,
		    rc == SF_ESYS || rc == SF_ENOTFOUND ? strerror(errno) :
		    sf_strerror(rc));
		return SF_ECONF;
	}
	if ((dcopy = sf_strdup(path)) == NULL) {
		free(buf);
		return SF_ENOMEM;
	}
	rc = client_load_buf(cl, path, buf, len, dirname(dcopy), errmsg);
	free(dcopy);
	free(buf);
	return rc;
}

/*
 * Credential sources.
 */

/* Trim surrounding whitespace in place; false if empty or holding NUL. */
static bool
trim_secret(char *s, size_t len, size_t *outlen)
{
	size_t a = 0;

	if (memchr(s, '\0', len) != NULL)
		return false;
	while (len > 0 && isspace((unsigned char)s[len - 1]))
		s[--len] = '\0';
	while (a < len && isspace((unsigned char)s[a]))
		a++;
	if (a > 0) {
		memmove(s, s + a, len - a);
		len -= a;
		memset(s + len, 0, a);
	}
	*outlen = len;
	return len > 0;
}

/* Read all of fd (at most max bytes) into a new buffer, wiping copies. */
static int
read_fd_secret(int fd, size_t max, struct buf *b)
{
	char tmp[4096];
	ssize_t n;
	int rc;

	for (;;) {
		n = read(fd, tmp, sizeof(tmp));
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1) {
			rc = SF_ESYS;
			break;
		}
		if (n == 0) {
			rc = b->p == NULL ? buf_add(b, "", 0) : SF_OK;
			break;
		}
		if (b->len + (size_t)n > max) {
			rc = SF_ETOOBIG;
			break;
		}
		if ((rc = buf_add(b, tmp, (size_t)n)) != SF_OK)
			break;
	}
	OPENSSL_cleanse(tmp, sizeof(tmp));
	return rc;
}

static bool
same_file(const struct src *s, const struct stat *sb)
{
	return s->have && s->dev == sb->st_dev && s->ino == sb->st_ino &&
	    s->size == sb->st_size &&
	    s->mtim.tv_sec == sb->st_mtim.tv_sec &&
	    s->mtim.tv_nsec == sb->st_mtim.tv_nsec &&
	    s->ctim.tv_sec == sb->st_ctim.tv_sec &&
	    s->ctim.tv_nsec == sb->st_ctim.tv_nsec;
}

/*
 * The current content of a credential file: re-read when its identity
 * (device, inode, size, mtime, ctime) changed, which covers in-place
 * rewrites and the symlink swaps of projected volumes.  Called with
 * cl->mu held.  *out is new.
 */
static int
src_file(struct src *s, const char *path, const char *what, char **out,
    struct client_error *err)
{
	struct stat sb;
	struct buf b = { 0 };
	size_t len;
	int fd = -1, rc;

	if (stat(path, &sb) == 0 && same_file(s, &sb))
		goto copy;
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return seterr(err, CLIENT_ERR_CREDENTIAL, 0, "%s file %s: %s",
		    what, path, strerror(errno));
	if (fstat(fd, &sb) == -1 || !S_ISREG(sb.st_mode)) {
		rc = seterr(err, CLIENT_ERR_CREDENTIAL, 0, "%s file %s: not a "
		    "regular file", what, path);
		goto out;
	}
	rc = read_fd_secret(fd, CLIENT_SECRET_MAX, &b);
	if (rc == SF_ETOOBIG || rc == SF_ESYS) {
		rc = seterr(err, CLIENT_ERR_CREDENTIAL, 0, "%s file %s: %s",
		    what, path, rc == SF_ETOOBIG ? "larger than 64 KiB" :
		    strerror(errno));
		goto out;
	}
	if (rc != SF_OK)
		goto out;
	if (!trim_secret(b.p, b.len, &len)) {
		rc = seterr(err, CLIENT_ERR_CREDENTIAL, 0, "%s file %s is "
		    "empty or holds a NUL byte", what, path);
		goto out;
	}
	sf_strfree_secret(s->value);
	if ((s->value = sf_strndup(b.p, len)) == NULL) {
		s->have = false;
		rc = SF_ENOMEM;
		goto out;
	}
	s->have = true;
	s->dev = sb.st_dev;
	s->ino = sb.st_ino;
	s->size = sb.st_size;
	s->mtim = sb.st_mtim;
	s->ctim = sb.st_ctim;
copy:
	rc = (*out = sf_strdup(s->value)) == NULL ? SF_ENOMEM : SF_OK;
out:
	if (fd != -1)
		close(fd);
	buf_free(&b);
	return rc;
}

static int
src_env(const char *var, const char *what, char **out,
    struct client_error *err)
{
	const char *v = getenv(var);
	char *c;
	size_t len;

	if (v == NULL || *v == '\0')
		return seterr(err, CLIENT_ERR_CREDENTIAL, 0, "%s: environment "
		    "variable %s is not set", what, var);
	if ((c = sf_strdup(v)) == NULL)
		return SF_ENOMEM;
	if (!trim_secret(c, strlen(c), &len)) {
		sf_strfree_secret(c);
		return seterr(err, CLIENT_ERR_CREDENTIAL, 0, "%s: environment "
		    "variable %s is blank", what, var);
	}
	*out = c;
	return SF_OK;
}

/* Standard input, read once per client (cl->mu held). */
static int
src_stdin(struct client *cl, const char *what, char **out,
    struct client_error *err)
{
	struct buf b = { 0 };
	size_t len;
	int rc;

	if (!cl->stdin_read) {
		cl->stdin_read = true;
		rc = read_fd_secret(STDIN_FILENO, CLIENT_SECRET_MAX, &b);
		if (rc == SF_OK && trim_secret(b.p, b.len, &len) &&
		    (cl->stdin_value = sf_strndup(b.p, len)) == NULL)
			rc = SF_ENOMEM;
		buf_free(&b);
		if (rc == SF_ENOMEM)
			return rc;
	}
	if (cl->stdin_value == NULL)
		return seterr(err, CLIENT_ERR_CREDENTIAL, 0, "%s: nothing on "
		    "standard input", what);
	return (*out = sf_strdup(cl->stdin_value)) == NULL ? SF_ENOMEM : SF_OK;
}

/*
 * Cache.
 */
static void
hex(const unsigned char *in, size_t n, char *out)
{
	static const char h[] = "0123456789abcdef";
	size_t i;

	for (i = 0; i < n; i++) {
		out[2 * i] = h[in[i] >> 4];
		out[2 * i + 1] = h[in[i] & 15];
	}
	out[2 * n] = '\0';
}

static int
sha256(const void *a, size_t alen, unsigned char out[32])
{
	unsigned int n = 0;

	if (EVP_Digest(a, alen, out, &n, EVP_sha256(), NULL) != 1 || n != 32)
		return SF_ECRYPTO;
	return SF_OK;
}

int
client_inp_hash(const void *buf, size_t len, char **out)
{
	unsigned char d[32];
	int rc;

	*out = NULL;
	if ((rc = sha256(buf == NULL ? "" : buf, len, d)) != SF_OK)
		return rc;
	return b64url_encode(d, sizeof(d), out);
}

static struct client_token *
token_dup(const struct client_token *t)
{
	struct client_token *c;

	if ((c = calloc(1, sizeof(*c))) == NULL)
		return NULL;
	c->expires_at = t->expires_at;
	c->from_cache = t->from_cache;
	if ((c->access_token = sf_strdup(t->access_token)) == NULL ||
	    (c->token_type = sf_strdup(t->token_type)) == NULL ||
	    (t->issued_token_type != NULL && (c->issued_token_type =
	    sf_strdup(t->issued_token_type)) == NULL) ||
	    (t->scope != NULL && (c->scope = sf_strdup(t->scope)) == NULL) ||
	    (t->nonce != NULL && (c->nonce = sf_strdup(t->nonce)) == NULL) ||
	    (t->inp_hash != NULL && (c->inp_hash = sf_strdup(t->inp_hash)) ==
	    NULL)) {
		client_token_free(c);
		return NULL;
	}
	return c;
}

void
client_token_free(struct client_token *t)
{
	if (t == NULL)
		return;
	sf_strfree_secret(t->access_token);
	free(t->token_type);
	free(t->issued_token_type);
	free(t->scope);
	free(t->nonce);
	free(t->inp_hash);
	free(t);
}

static bool
fresh(const struct client_token *t, long long margin, int64_t now)
{
	return t->expires_at != 0 && t->expires_at - margin > now;
}

/* cl->mu held.  A copy of a fresh cached token, or NULL. */
static struct client_token *
mem_get(struct client *cl, const unsigned char key[32], long long margin,
    int64_t now, bool *nomem)
{
	struct client_token *t;
	size_t i;

	*nomem = false;
	for (i = 0; i < cl->ncache; i++) {
		if (memcmp(cl->cache[i].key, key, 32) != 0)
			continue;
		if (!fresh(cl->cache[i].tok, margin, now))
			return NULL;
		if ((t = token_dup(cl->cache[i].tok)) == NULL)
			*nomem = true;
		else
			t->from_cache = true;
		return t;
	}
	return NULL;
}

/* cl->mu held.  Keep a copy of t under key (best effort). */
static void
mem_put(struct client *cl, const unsigned char key[32], const char *ref,
    const struct client_token *t, int64_t now)
{
	struct mem_tok *m = NULL, *nc;
	size_t i, victim = 0;

	for (i = 0; i < cl->ncache; i++)
		if (memcmp(cl->cache[i].key, key, 32) == 0) {
			m = &cl->cache[i];
			mem_drop(m);
			break;
		}
	if (m == NULL) {
		/* Drop expired entries first. */
		for (i = 0; i < cl->ncache; ) {
			if (cl->cache[i].tok->expires_at <= now) {
				mem_drop(&cl->cache[i]);
				cl->cache[i] = cl->cache[--cl->ncache];
			} else
				i++;
		}
		if (cl->ncache >= CLIENT_CACHE_MAX) {
			for (i = 1; i < cl->ncache; i++)
				if (cl->cache[i].tok->expires_at <
				    cl->cache[victim].tok->expires_at)
					victim = i;
			m = &cl->cache[victim];
			mem_drop(m);
		} else {
			nc = realloc(cl->cache, (cl->ncache + 1) *
			    sizeof(*nc));
			if (nc == NULL)
				return;
			cl->cache = nc;
			m = &cl->cache[cl->ncache++];
			memset(m, 0, sizeof(*m));
		}
	}
	memcpy(m->key, key, 32);
	if ((m->ref = sf_strdup(ref)) == NULL ||
	    (m->tok = token_dup(t)) == NULL) {
		free(m->ref);
		m->ref = NULL;
		/* Unusable slot: make it expired so it is reclaimed. */
		m->tok = calloc(1, sizeof(*m->tok));
		if (m->tok == NULL) {
			*m = cl->cache[--cl->ncache];
			return;
		}
		memset(m->key, 0, sizeof(m->key));
		return;
	}
	m->tok->from_cache = false;
}

static void
mem_invalidate(struct client *cl, const char *ref)
{
	size_t i;

	for (i = 0; i < cl->ncache; ) {
		if (ref == NULL || (cl->cache[i].ref != NULL &&
		    strcmp(cl->cache[i].ref, ref) == 0)) {
			mem_drop(&cl->cache[i]);
			cl->cache[i] = cl->cache[--cl->ncache];
		} else
			i++;
	}
}

/* A directory of ours that nobody else may read: create it if missing. */
static int
private_dir(const char *path, bool create)
{
	struct stat sb;

	if (create && mkdir(path, 0700) == -1 && errno != EEXIST)
		return SF_ESYS;
	if (lstat(path, &sb) == -1)
		return SF_ESYS;
	if (!S_ISDIR(sb.st_mode) || sb.st_uid != geteuid() ||
	    (sb.st_mode & 077) != 0) {
		errno = EPERM;
		return SF_EDENIED;
	}
	return SF_OK;
}

/* mkdir -p with 0700 for the components it creates. */
static int
mkdirs(const char *path)
{
	char *c, *p;
	int rc = SF_OK;

	if ((c = sf_strdup(path)) == NULL)
		return SF_ENOMEM;
	for (p = c + 1; *p != '\0'; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(c, 0700) == -1 && errno != EEXIST) {
			rc = SF_ESYS;
			break;
		}
		*p = '/';
	}
	free(c);
	return rc;
}

int
client_set_cache_dir(struct client *cl, const char *dir)
{
	char *d = NULL;
	int rc;

	if (dir != NULL) {
		if (dir[0] != '/') {
			errno = EINVAL;
			return SF_EINVAL;
		}
		if ((d = sf_strdup(dir)) == NULL)
			return SF_ENOMEM;
		while (strlen(d) > 1 && d[strlen(d) - 1] == '/')
			d[strlen(d) - 1] = '\0';
		if ((rc = mkdirs(d)) != SF_OK ||
		    (rc = private_dir(d, true)) != SF_OK) {
			free(d);
			return rc;
		}
	}
	pthread_mutex_lock(&cl->mu);
	free(cl->cache_dir);
	cl->cache_dir = d;
	pthread_mutex_unlock(&cl->mu);
	return SF_OK;
}

/*
 * Disk cache: DIR/<ref>/<hex key>, mode 0600, mtime = expiry (so that
 * expired files are found by stat alone).  Lines:
 *   starfly-token-cache 1 / ref / expires_at / token_type /
 *   issued_token_type / scope / access_token ("-" for absent values).
 */
static int
disk_path(const char *dir, const char *ref, const unsigned char key[32],
    char **out)
{
	char h[65];

	hex(key, 32, h);
	return sf_asprintf(out, "%s/%s/%s", dir, ref, h);
}

static char *
next_line(char **p)
{
	char *s = *p, *nl;

	if (s == NULL)
		return NULL;
	if ((nl = strchr(s, '\n')) == NULL) {
		*p = NULL;
		return s;
	}
	*nl = '\0';
	*p = nl + 1;
	return s;
}

static int
opt_dup(const char *s, char **out)
{
	*out = NULL;
	if (strcmp(s, "-") == 0)
		return SF_OK;
	return (*out = sf_strdup(s)) == NULL ? SF_ENOMEM : SF_OK;
}

static struct client_token *
disk_get(const char *dir, const char *ref, const unsigned char key[32],
    long long margin, int64_t now)
{
	struct client_token *t = NULL;
	struct buf b = { 0 };
	struct stat sb;
	char *path = NULL, *p, *l[7];
	long long exp;
	size_t i;
	int fd = -1;

	if (disk_path(dir, ref, key, &path) != SF_OK)
		return NULL;
	if ((fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)) == -1)
		goto out;
	if (fstat(fd, &sb) == -1 || !S_ISREG(sb.st_mode) ||
	    sb.st_uid != geteuid() || (sb.st_mode & 077) != 0 ||
	    sb.st_mtim.tv_sec - margin <= now)
		goto out;
	if (read_fd_secret(fd, CLIENT_CACHEFILE_MAX, &b) != SF_OK)
		goto out;
	p = b.p;
	for (i = 0; i < 7; i++)
		if ((l[i] = next_line(&p)) == NULL)
			goto out;
	if (strcmp(l[0], CACHEFILE_MAGIC) != 0 || strcmp(l[1], ref) != 0 ||
	    sf_strtonum(l[2], 1, INT64_MAX, &exp) != SF_OK ||
	    exp - margin <= now || *l[3] == '\0' || *l[6] == '\0')
		goto out;
	if ((t = calloc(1, sizeof(*t))) == NULL)
		goto out;
	t->expires_at = exp;
	t->from_cache = true;
	if ((t->token_type = sf_strdup(l[3])) == NULL ||
	    opt_dup(l[4], &t->issued_token_type) != SF_OK ||
	    opt_dup(l[5], &t->scope) != SF_OK ||
	    (t->access_token = sf_strdup(l[6])) == NULL) {
		client_token_free(t);
		t = NULL;
	}
out:
	if (fd != -1)
		close(fd);
	buf_free(&b);
	free(path);
	return t;
}

/* Remove expired token files (mtime = expiry) from one ref directory. */
static void
disk_prune(const char *rdir, int64_t now, bool all)
{
	struct dirent *de;
	struct stat sb;
	DIR *d;
	int dfd;

	if ((d = opendir(rdir)) == NULL)
		return;
	dfd = dirfd(d);
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.' && (de->d_name[1] == '\0' ||
		    (de->d_name[1] == '.' && de->d_name[2] == '\0')))
			continue;
		if (fstatat(dfd, de->d_name, &sb, AT_SYMLINK_NOFOLLOW) == -1)
			continue;
		if (all || (S_ISREG(sb.st_mode) && sb.st_mtim.tv_sec <= now) ||
		    (de->d_name[0] == '.' && sb.st_ctim.tv_sec + 60 < now))
			(void)unlinkat(dfd, de->d_name, 0);
	}
	closedir(d);
}

static void
disk_put(const char *dir, const char *ref, const unsigned char key[32],
    const struct client_token *t, int64_t now)
{
	struct timespec ts[2];
	struct buf b = { 0 };
	char *rdir = NULL, *path = NULL, *tmp = NULL, rnd[17];
	unsigned char r[8];
	int fd = -1;
	size_t off;
	ssize_t n;

	if (sf_asprintf(&rdir, "%s/%s", dir, ref) != SF_OK ||
	    private_dir(rdir, true) != SF_OK)
		goto out;
	disk_prune(rdir, now, false);
	if (disk_path(dir, ref, key, &path) != SF_OK || sf_random(r, 8) !=
	    SF_OK)
		goto out;
	hex(r, 8, rnd);
	if (sf_asprintf(&tmp, "%s/.tmp.%s", rdir, rnd) != SF_OK)
		goto out;
	{
		char exps[32];

		(void)snprintf(exps, sizeof(exps), "%lld",
		    (long long)t->expires_at);
		if (buf_str(&b, CACHEFILE_MAGIC "\n") != SF_OK ||
		    buf_str(&b, ref) != SF_OK || buf_str(&b, "\n") != SF_OK ||
		    buf_str(&b, exps) != SF_OK || buf_str(&b, "\n") != SF_OK ||
		    buf_str(&b, t->token_type) != SF_OK ||
		    buf_str(&b, "\n") != SF_OK ||
		    buf_str(&b, t->issued_token_type ? t->issued_token_type :
		    "-") != SF_OK || buf_str(&b, "\n") != SF_OK ||
		    buf_str(&b, t->scope ? t->scope : "-") != SF_OK ||
		    buf_str(&b, "\n") != SF_OK ||
		    buf_str(&b, t->access_token) != SF_OK ||
		    buf_str(&b, "\n") != SF_OK)
			goto out;
	}
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
	    0600);
	if (fd == -1)
		goto out;
	for (off = 0; off < b.len; off += (size_t)n) {
		n = write(fd, b.p + off, b.len - off);
		if (n == -1 && errno == EINTR) {
			n = 0;
			continue;
		}
		if (n <= 0)
			goto out;
	}
	ts[0].tv_sec = now;
	ts[0].tv_nsec = 0;
	ts[1].tv_sec = (time_t)t->expires_at;
	ts[1].tv_nsec = 0;
	if (futimens(fd, ts) == -1 || close(fd) == -1) {
		fd = -1;
		goto out;
	}
	fd = -1;
	if (rename(tmp, path) == 0) {
		free(tmp);
		tmp = NULL;
	}
out:
	if (fd != -1)
		close(fd);
	if (tmp != NULL)
		(void)unlink(tmp);
	buf_free(&b);
	free(tmp);
	free(path);
	free(rdir);
}

/* Remove the token files of ref (NULL: of every ref) under dir. */
static int
disk_drop(const char *dir, const char *ref)
{
	struct dirent *de;
	char *rdir = NULL;
	DIR *d;
	int rc = SF_OK;

	if (ref != NULL) {
		if (sf_asprintf(&rdir, "%s/%s", dir, ref) != SF_OK)
			return SF_ENOMEM;
		if (private_dir(rdir, false) == SF_OK) {
			disk_prune(rdir, 0, true);
			if (rmdir(rdir) == -1 && errno != ENOENT)
				rc = SF_ESYS;
		}
		free(rdir);
		return rc;
	}
	if ((d = opendir(dir)) == NULL)
		return errno == ENOENT ? SF_OK : SF_ESYS;
	while ((de = readdir(d)) != NULL)
		if (name_ok(de->d_name) && (rc = disk_drop(dir, de->d_name)) !=
		    SF_OK)
			break;
	closedir(d);
	return rc;
}

int
client_invalidate(struct client *cl, const char *ref)
{
	char *dir = NULL;
	int rc = SF_OK;

	pthread_mutex_lock(&cl->mu);
	if (find_state(cl, ref) == NULL)
		rc = SF_ENOTFOUND;
	else {
		mem_invalidate(cl, ref);
		if (cl->cache_dir != NULL &&
		    (dir = sf_strdup(cl->cache_dir)) == NULL)
			rc = SF_ENOMEM;
	}
	pthread_mutex_unlock(&cl->mu);
	if (rc == SF_OK && dir != NULL)
		rc = disk_drop(dir, ref);
	free(dir);
	return rc;
}

int
client_flush(struct client *cl)
{
	char *dir = NULL;
	int rc = SF_OK;

	pthread_mutex_lock(&cl->mu);
	mem_invalidate(cl, NULL);
	if (cl->cache_dir != NULL && (dir = sf_strdup(cl->cache_dir)) == NULL)
		rc = SF_ENOMEM;
	pthread_mutex_unlock(&cl->mu);
	if (rc == SF_OK && dir != NULL)
		rc = disk_drop(dir, NULL);
	free(dir);
	return rc;
}

/*
 * HTTP over libcurl.
 */
struct resp {
	long		 status;
	char		*ctype;
	struct buf	 body;
	bool		 toobig;
};

/*
 * libcurl is loaded on first use (dlopen), not at program start: its
 * dependency tree costs tens of milliseconds to map, which a cache hit of
 * the CLI never needs.
 */
static struct {
	CURLcode	 (*global_init)(long);
	CURL		*(*easy_init)(void);
	CURLcode	 (*easy_setopt)(CURL *, CURLoption, ...);
	CURLcode	 (*easy_perform)(CURL *);
	CURLcode	 (*easy_getinfo)(CURL *, CURLINFO, ...);
	void		 (*easy_cleanup)(CURL *);
	const char	*(*easy_strerror)(CURLcode);
	struct curl_slist *(*slist_append)(struct curl_slist *, const char *);
	void		 (*slist_free_all)(struct curl_slist *);
} cu;
static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static char curl_why[256] = "not loaded";

static void
curl_init_once(void)
{
	static const char *const names[] = { "curl_global_init",
	    "curl_easy_init", "curl_easy_setopt", "curl_easy_perform",
	    "curl_easy_getinfo", "curl_easy_cleanup", "curl_easy_strerror",
	    "curl_slist_append", "curl_slist_free_all" };
	void **slots[] = { (void **)&cu.global_init, (void **)&cu.easy_init,
	    (void **)&cu.easy_setopt, (void **)&cu.easy_perform,
	    (void **)&cu.easy_getinfo, (void **)&cu.easy_cleanup,
	    (void **)&cu.easy_strerror, (void **)&cu.slist_append,
	    (void **)&cu.slist_free_all };
	void *h;
	size_t i;

	if ((h = dlopen("libcurl.so.4", RTLD_NOW | RTLD_LOCAL)) == NULL) {
		(void)snprintf(curl_why, sizeof(curl_why), "%s", dlerror());
		return;
	}
	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if ((*slots[i] = dlsym(h, names[i])) == NULL) {
			(void)snprintf(curl_why, sizeof(curl_why), "libcurl "
			    "lacks %s", names[i]);
			cu.global_init = NULL;
			return;
		}
	if (cu.global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		(void)snprintf(curl_why, sizeof(curl_why), "curl_global_init "
		    "failed");
		cu.global_init = NULL;
		return;
	}
	curl_why[0] = '\0';
}

static size_t
resp_write(char *p, size_t size, size_t nmemb, void *arg)
{
	struct resp *r = arg;
	size_t n = size * nmemb;

	if (r->body.len + n > CLIENT_RESP_MAX) {
		r->toobig = true;
		return 0;
	}
	return buf_add(&r->body, p, n) == SF_OK ? n : 0;
}

static void
resp_free(struct resp *r)
{
	free(r->ctype);
	buf_free(&r->body);
	memset(r, 0, sizeof(*r));
}

/* Wipe the strings of a curl header list, then free it. */
static void
slist_free_secret(struct curl_slist *l)
{
	struct curl_slist *i;

	for (i = l; i != NULL; i = i->next)
		if (i->data != NULL)
			OPENSSL_cleanse(i->data, strlen(i->data));
	cu.slist_free_all(l);
}

/*
 * One request: POST form when form is not NULL, else GET.  authz is an
 * Authorization header value or NULL.  Transport failures are told apart
 * in err; any HTTP status is a success here.
 */
static int
http_do(const struct client_entry *e, const char *url, const struct buf *form,
    const char *authz, struct resp *r, struct client_error *err)
{
	struct curl_slist *h = NULL, *nh;
	struct buf ah = { 0 };
	char ebuf[CURL_ERROR_SIZE];
	const char *ct = NULL;
	CURLcode cc;
	CURL *c = NULL;
	long oserr = 0;
	int rc;

	memset(r, 0, sizeof(*r));
	pthread_once(&curl_once, curl_init_once);
	if (curl_why[0] != '\0')
		return seterr(err, CLIENT_ERR_INTERNAL, 0, "libcurl: %s",
		    curl_why);
	if ((c = cu.easy_init()) == NULL)
		return SF_ENOMEM;
	ebuf[0] = '\0';
	h = cu.slist_append(NULL, "Accept: application/json");
	if (h != NULL && form != NULL) {
		nh = cu.slist_append(h, "Content-Type: "
		    "application/x-www-form-urlencoded");
		h = nh != NULL ? nh : (slist_free_secret(h), NULL);
	}
	if (h != NULL && authz != NULL) {
		if (buf_str(&ah, "Authorization: ") != SF_OK ||
		    buf_str(&ah, authz) != SF_OK) {
			rc = SF_ENOMEM;
			goto out;
		}
		nh = cu.slist_append(h, ah.p);
		h = nh != NULL ? nh : (slist_free_secret(h), NULL);
	}
	if (h == NULL) {
		rc = SF_ENOMEM;
		goto out;
	}
	if (cu.easy_setopt(c, CURLOPT_URL, url) != CURLE_OK ||
	    cu.easy_setopt(c, CURLOPT_PROTOCOLS_STR, e->allow_http ?
	    "http,https" : "https") != CURLE_OK ||
	    cu.easy_setopt(c, CURLOPT_NOSIGNAL, 1L) != CURLE_OK ||
	    cu.easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L) != CURLE_OK ||
	    cu.easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 1L) != CURLE_OK ||
	    cu.easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 2L) != CURLE_OK ||
	    cu.easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)(e->timeout * 1000))
	    != CURLE_OK ||
	    cu.easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS,
	    (long)(e->connect_timeout * 1000)) != CURLE_OK ||
	    cu.easy_setopt(c, CURLOPT_USERAGENT, CLIENT_UA) != CURLE_OK ||
	    cu.easy_setopt(c, CURLOPT_HTTPHEADER, h) != CURLE_OK ||
	    cu.easy_setopt(c, CURLOPT_ERRORBUFFER, ebuf) != CURLE_OK ||
	    cu.easy_setopt(c, CURLOPT_WRITEFUNCTION, resp_write) !=
	    CURLE_OK ||
	    cu.easy_setopt(c, CURLOPT_WRITEDATA, r) != CURLE_OK ||
	    (e->ca_file != NULL && cu.easy_setopt(c, CURLOPT_CAINFO,
	    e->ca_file) != CURLE_OK)) {
		rc = seterr(err, CLIENT_ERR_NETWORK, 0, "libcurl refused an "
		    "option");
		goto out;
	}
	if (form != NULL && (cu.easy_setopt(c, CURLOPT_POSTFIELDS,
	    form->p) != CURLE_OK || cu.easy_setopt(c,
	    CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)form->len) != CURLE_OK)) {
		rc = seterr(err, CLIENT_ERR_NETWORK, 0, "libcurl refused the "
		    "request body");
		goto out;
	}
	cc = cu.easy_perform(c);
	(void)cu.easy_getinfo(c, CURLINFO_OS_ERRNO, &oserr);
	if (cc != CURLE_OK) {
		const char *why = ebuf[0] != '\0' ? ebuf :
		    cu.easy_strerror(cc);

		switch (cc) {
		case CURLE_COULDNT_CONNECT:
			if (oserr == ECONNREFUSED)
				rc = seterr(err, CLIENT_ERR_REFUSED, 0,
				    "connection refused: %s", url);
			else
				rc = seterr(err, CLIENT_ERR_NETWORK, 0,
				    "cannot connect: %s: %s", url, why);
			break;
		case CURLE_OPERATION_TIMEDOUT:
			rc = seterr(err, CLIENT_ERR_TIMEOUT, 0, "timed out "
			    "(connect_timeout %llds, timeout %llds): %s",
			    e->connect_timeout, e->timeout, url);
			break;
		case CURLE_SSL_CONNECT_ERROR:
		case CURLE_PEER_FAILED_VERIFICATION:
		case CURLE_SSL_CACERT_BADFILE:
		case CURLE_SSL_CERTPROBLEM:
		case CURLE_SSL_CIPHER:
		case CURLE_SSL_ISSUER_ERROR:
		case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
		case CURLE_SSL_INVALIDCERTSTATUS:
		case CURLE_SSL_CRL_BADFILE:
			rc = seterr(err, CLIENT_ERR_TLS, 0, "TLS: %s: %s", url,
			    why);
			break;
		case CURLE_UNSUPPORTED_PROTOCOL:
			rc = seterr(err, CLIENT_ERR_CONFIG, 0, "%s: scheme "
			    "not allowed (http needs allow_http yes)", url);
			break;
		case CURLE_WRITE_ERROR:
			if (r->toobig) {
				rc = seterr(err, CLIENT_ERR_RESPONSE, 0,
				    "%s: answer larger than %d bytes", url,
				    CLIENT_RESP_MAX);
				break;
			}
			rc = SF_ENOMEM;
			break;
		default:
			rc = seterr(err, CLIENT_ERR_NETWORK, 0, "%s: %s", url,
			    why);
			break;
		}
		goto out;
	}
	(void)cu.easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r->status);
	(void)cu.easy_getinfo(c, CURLINFO_CONTENT_TYPE, &ct);
	if (ct != NULL && (r->ctype = sf_strdup(ct)) == NULL) {
		rc = SF_ENOMEM;
		goto out;
	}
	if (r->body.p == NULL && buf_add(&r->body, "", 0) != SF_OK) {
		rc = SF_ENOMEM;
		goto out;
	}
	rc = SF_OK;
out:
	if (c != NULL)
		cu.easy_cleanup(c);
	slist_free_secret(h);
	buf_free(&ah);
	if (rc != SF_OK)
		resp_free(r);
	return rc;
}

/*
 * Parsing answers.
 */

/* Overwrite a jansson string value before it is freed (it is a secret). */
static void
json_wipe_string(json_t *v)
{
	if (json_is_string(v))
		OPENSSL_cleanse((char *)(uintptr_t)json_string_value(v),
		    json_string_length(v));
}

static bool
media_is(const char *ctype, const char *want)
{
	size_t n = strlen(want);

	if (ctype == NULL)
		return false;
	ctype += strspn(ctype, " \t");
	return strncasecmp(ctype, want, n) == 0 &&
	    (ctype[n] == '\0' || ctype[n] == ';' || ctype[n] == ' ');
}

/* A printable ASCII token without spaces (RFC 6750 §2.1 b64token+). */
static bool
token_chars_ok(const char *s)
{
	if (*s == '\0')
		return false;
	for (; *s != '\0'; s++)
		if ((unsigned char)*s <= 0x20 || (unsigned char)*s >= 0x7f)
			return false;
	return true;
}

static int
json_opt_str(json_t *o, const char *name, char **out, bool *bad)
{
	json_t *v = json_object_get(o, name);

	*out = NULL;
	if (v == NULL || json_is_null(v))
		return SF_OK;
	if (!json_is_string(v)) {
		*bad = true;
		return SF_OK;
	}
	return (*out = sf_strndup(json_string_value(v),
	    json_string_length(v))) == NULL ? SF_ENOMEM : SF_OK;
}

int
client_parse_response(long status, const char *ctype, const char *body,
    size_t len, struct client_token **out, struct client_error *err)
{
	struct client_token *t = NULL;
	json_t *o = NULL, *v;
	char *why = NULL;
	long long ei = -1;
	bool bad = false;
	int rc;

	*out = NULL;
	if (json_parse_strict(body, len, &o, &why) != SF_OK) {
		rc = seterr(err, CLIENT_ERR_NOT_JSON, status, "HTTP %ld answer "
		    "is %s (Content-Type %s): %s", status,
		    media_is(ctype, "text/html") ? "an HTML page" : "not JSON",
		    ctype ? ctype : "none", why ? why : "parse error");
		goto out;
	}
	if (status < 200 || status > 299) {
		v = json_is_object(o) ? json_object_get(o, "error") : NULL;
		if (!json_is_string(v)) {
			rc = seterr(err, CLIENT_ERR_HTTP, status, "HTTP %ld "
			    "without an OAuth error member", status);
			goto out;
		}
		rc = SF_OK;
		if (err != NULL) {
			if ((rc = json_opt_str(o, "error", &err->error, &bad))
			    != SF_OK || (rc = json_opt_str(o,
			    "error_description", &err->error_description,
			    &bad)) != SF_OK || (rc = json_opt_str(o,
			    "error_uri", &err->error_uri, &bad)) != SF_OK)
				goto out;
		}
		if (err != NULL && err->error_description != NULL)
			rc = seterr(err, CLIENT_ERR_OAUTH, status, "HTTP %ld "
			    "%s: %s", status, err->error,
			    err->error_description);
		else
			rc = seterr(err, CLIENT_ERR_OAUTH, status, "HTTP %ld "
			    "%s", status, json_string_value(v));
		goto out;
	}
	if (!json_is_object(o)) {
		rc = seterr(err, CLIENT_ERR_RESPONSE, status, "token response "
		    "is not a JSON object");
		goto out;
	}
	v = json_object_get(o, "access_token");
	if (!json_is_string(v) || !token_chars_ok(json_string_value(v)) ||
	    strlen(json_string_value(v)) != json_string_length(v)) {
		rc = seterr(err, CLIENT_ERR_RESPONSE, status, "token response: "
		    "access_token missing or not a printable string "
		    "(RFC 6749 §5.1)");
		goto out;
	}
	v = json_object_get(o, "token_type");
	if (!json_is_string(v) || !token_chars_ok(json_string_value(v))) {
		rc = seterr(err, CLIENT_ERR_RESPONSE, status, "token response: "
		    "token_type missing (RFC 6749 §5.1)");
		goto out;
	}
	/* RFC 6749 §5.1: a number; some servers send it as a string. */
	v = json_object_get(o, "expires_in");
	if (json_is_integer(v))
		ei = json_integer_value(v);
	else if (json_is_string(v) &&
	    sf_strtonum(json_string_value(v), 0, CLIENT_EXPIRES_MAX, &ei) !=
	    SF_OK)
		ei = -2;
	else if (v != NULL && !json_is_string(v) && !json_is_null(v))
		ei = -2;
	if (v != NULL && !json_is_null(v) && (ei < 0 ||
	    ei > CLIENT_EXPIRES_MAX)) {
		rc = seterr(err, CLIENT_ERR_RESPONSE, status, "token response: "
		    "expires_in is not a number of seconds");
		goto out;
	}
	if ((t = calloc(1, sizeof(*t))) == NULL) {
		rc = SF_ENOMEM;
		goto out;
	}
	if ((rc = json_opt_str(o, "access_token", &t->access_token, &bad)) !=
	    SF_OK || (rc = json_opt_str(o, "token_type", &t->token_type, &bad))
	    != SF_OK || (rc = json_opt_str(o, "issued_token_type",
	    &t->issued_token_type, &bad)) != SF_OK || (rc = json_opt_str(o,
	    "scope", &t->scope, &bad)) != SF_OK)
		goto out;
	if (bad) {
		rc = seterr(err, CLIENT_ERR_RESPONSE, status, "token response: "
		    "issued_token_type and scope must be strings");
		goto out;
	}
	t->expires_at = ei >= 0 ? sf_now() + ei : 0;
	*out = t;
	t = NULL;
	rc = SF_OK;
out:
	if (o != NULL) {
		json_wipe_string(json_object_get(o, "access_token"));
		json_wipe_string(json_object_get(o, "refresh_token"));
	}
	json_decref(o);
	client_token_free(t);
	free(why);
	return rc;
}

/* Issuer comparison of RFC 8414 §3.3, tolerating one trailing '/'. */
static bool
issuer_eq(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);

	if (la > 0 && a[la - 1] == '/')
		la--;
	if (lb > 0 && b[lb - 1] == '/')
		lb--;
	return la == lb && memcmp(a, b, la) == 0;
}

int
client_parse_metadata(const char *issuer, bool allow_http, const char *body,
    size_t len, char **endpoint, struct client_error *err)
{
	json_t *o = NULL, *iss, *te;
	char *why = NULL;
	int rc;

	*endpoint = NULL;
	if (json_parse_strict(body, len, &o, &why) != SF_OK ||
	    !json_is_object(o)) {
		rc = seterr(err, CLIENT_ERR_DISCOVERY, 0, "metadata is not a "
		    "JSON object%s%s", why ? ": " : "", why ? why : "");
		goto out;
	}
	iss = json_object_get(o, "issuer");
	te = json_object_get(o, "token_endpoint");
	if (!json_is_string(iss) || !issuer_eq(json_string_value(iss),
	    issuer)) {
		rc = seterr(err, CLIENT_ERR_DISCOVERY, 0, "metadata issuer is "
		    "not %s (RFC 8414 §3.3)", issuer);
		goto out;
	}
	if (!json_is_string(te) || strlen(json_string_value(te)) !=
	    json_string_length(te) || !url_allowed(json_string_value(te),
	    allow_http) || strpbrk(json_string_value(te), "# \t\r\n") !=
	    NULL) {
		rc = seterr(err, CLIENT_ERR_DISCOVERY, 0, "metadata has no "
		    "usable token_endpoint (https%s)", allow_http ?
		    " or http" : "");
		goto out;
	}
	rc = (*endpoint = sf_strdup(json_string_value(te))) == NULL ?
	    SF_ENOMEM : SF_OK;
out:
	json_decref(o);
	free(why);
	return rc;
}

/*
 * Discovery: RFC 8414 §3.1 (well-known suffix inserted between host and
 * path), then OpenID Connect Discovery in the same form and appended to
 * the issuer.  *endpoint is new.
 */
static int
discover(const struct client_entry *e, char **endpoint,
    struct client_error *err)
{
	static const char *const wk[] = { "oauth-authorization-server",
	    "openid-configuration" };
	const char *path, *iss = e->issuer;
	struct buf tried = { 0 };
	struct resp r;
	char *urls[3] = { NULL, NULL, NULL };
	size_t hostlen, i, n = 0;
	int rc;

	*endpoint = NULL;
	path = strchr(strstr(iss, "://") + 3, '/');
	hostlen = path != NULL ? (size_t)(path - iss) : strlen(iss);
	if (path == NULL || strcmp(path, "/") == 0)
		path = "";
	for (i = 0; i < 2; i++)
		if (sf_asprintf(&urls[n++], "%.*s/.well-known/%s%s",
		    (int)hostlen, iss, wk[i], path) != SF_OK) {
			rc = SF_ENOMEM;
			goto out;
		}
	if (*path != '\0' && sf_asprintf(&urls[n++],
	    "%s/.well-known/openid-configuration", iss) != SF_OK) {
		rc = SF_ENOMEM;
		goto out;
	}
	for (i = 0; i < n; i++) {
		char note[96];

		if ((rc = http_do(e, urls[i], NULL, NULL, &r, err)) != SF_OK)
			goto out;
		if (r.status == 200) {
			client_error_clear(err);
			rc = client_parse_metadata(iss, e->allow_http, r.body.p,
			    r.body.len, endpoint, err);
			if (rc == SF_OK || rc == SF_ENOMEM) {
				resp_free(&r);
				goto out;
			}
			(void)snprintf(note, sizeof(note), "unusable");
		} else
			(void)snprintf(note, sizeof(note), "HTTP %ld",
			    r.status);
		resp_free(&r);
		if ((tried.len > 0 && buf_str(&tried, "; ") != SF_OK) ||
		    buf_str(&tried, urls[i]) != SF_OK ||
		    buf_str(&tried, ": ") != SF_OK ||
		    buf_str(&tried, note) != SF_OK) {
			rc = SF_ENOMEM;
			goto out;
		}
	}
	client_error_clear(err);
	rc = seterr(err, CLIENT_ERR_DISCOVERY, 0, "no metadata for issuer %s "
	    "(%s)", iss, tried.p ? tried.p : "");
out:
	for (i = 0; i < n; i++)
		free(urls[i]);
	buf_free(&tried);
	return rc;
}

/*
 * The exchange.
 */

/* "Basic base64(urlenc(id):urlenc(secret))" (RFC 6749 §2.3.1). */
static int
basic_auth(const char *id, const char *secret, char **out)
{
	struct buf raw = { 0 }, hdr = { 0 };
	unsigned char *b64 = NULL;
	size_t cap;
	int rc, n;

	*out = NULL;
	if ((rc = form_encode(&raw, id)) != SF_OK ||
	    (rc = buf_add(&raw, ":", 1)) != SF_OK ||
	    (rc = form_encode(&raw, secret)) != SF_OK)
		goto out;
	if (raw.len > INT_MAX / 2) {
		rc = SF_ETOOBIG;
		goto out;
	}
	cap = 4 * ((raw.len + 2) / 3) + 1;
	if ((b64 = malloc(cap)) == NULL) {
		rc = SF_ENOMEM;
		goto out;
	}
	n = EVP_EncodeBlock(b64, (const unsigned char *)raw.p, (int)raw.len);
	if (n < 0) {
		rc = SF_ECRYPTO;
		goto out;
	}
	if ((rc = buf_str(&hdr, "Basic ")) != SF_OK ||
	    (rc = buf_add(&hdr, b64, (size_t)n)) != SF_OK)
		goto out;
	if ((*out = sf_strdup(hdr.p)) == NULL)
		rc = SF_ENOMEM;
out:
	if (b64 != NULL)
		sf_freezero(b64, cap);
	buf_free(&raw);
	buf_free(&hdr);
	return rc;
}

/* The execution_scope member (a JSON string in form bodies). */
static int
exec_scope(const struct client_exec *x, char **json, char **nonce,
    char **inp_hash, struct client_error *err)
{
	unsigned char r[16];
	json_t *o = NULL;
	const char *p;
	int rc;

	*json = *nonce = *inp_hash = NULL;
	if (x->htm == NULL || *x->htm == '\0' || x->htu == NULL)
		return seterr(err, CLIENT_ERR_CONFIG, 0, "execution scope "
		    "needs a method and a URL");
	for (p = x->htm; *p != '\0'; p++)
		if (*p < 'A' || *p > 'Z' || p - x->htm >= 16)
			return seterr(err, CLIENT_ERR_CONFIG, 0, "execution "
			    "scope method must be 1-16 upper-case letters");
	if (!absolute_uri(x->htu) || strpbrk(x->htu, " \t\r\n") != NULL)
		return seterr(err, CLIENT_ERR_CONFIG, 0, "execution scope URL "
		    "must be an absolute URI without fragment");
	if ((rc = sf_random(r, sizeof(r))) != SF_OK ||
	    (rc = b64url_encode(r, sizeof(r), nonce)) != SF_OK)
		goto out;
	if (x->body != NULL &&
	    (rc = client_inp_hash(x->body, x->body_len, inp_hash)) != SF_OK)
		goto out;
	o = json_pack("{s:s, s:s, s:s}", "htm", x->htm, "htu", x->htu,
	    "nonce", *nonce);
	if (o == NULL || (*inp_hash != NULL && json_object_set_new(o,
	    "inp_hash", json_string(*inp_hash)) != 0) ||
	    (x->exec_act != NULL && json_object_set_new(o, "exec_act",
	    json_string(x->exec_act)) != 0) ||
	    (x->target != NULL && json_object_set_new(o, "target",
	    json_string(x->target)) != 0)) {
		rc = (x->exec_act != NULL || x->target != NULL) && o != NULL ?
		    seterr(err, CLIENT_ERR_CONFIG, 0, "execution scope "
		    "exec_act/target must be UTF-8") : SF_ENOMEM;
		goto out;
	}
	rc = (*json = json_dump_compact(o)) == NULL ? SF_ENOMEM : SF_OK;
out:
	json_decref(o);
	if (rc != SF_OK) {
		free(*nonce);
		free(*inp_hash);
		*nonce = *inp_hash = NULL;
	}
	return rc;
}

/*
 * The form body of RFC 8693 §2.1 without client credentials: the cache
 * key is derived from it.
 */
static int
build_form(const struct client_entry *e, const char *subject,
    const char *actor, struct buf *b)
{
	size_t i;
	int rc;

	if ((rc = form_param(b, "grant_type", CLIENT_GRANT_TOKEN_EXCHANGE)) !=
	    SF_OK || (rc = form_param(b, "subject_token", subject)) != SF_OK ||
	    (rc = form_param(b, "subject_token_type", e->subject_token_type ?
	    e->subject_token_type : CLIENT_TT_JWT)) != SF_OK)
		return rc;
	if (actor != NULL && ((rc = form_param(b, "actor_token", actor)) !=
	    SF_OK || (rc = form_param(b, "actor_token_type",
	    e->actor_token_type ? e->actor_token_type : CLIENT_TT_JWT)) !=
	    SF_OK))
		return rc;
	for (i = 0; e->audience != NULL && e->audience[i] != NULL; i++)
		if ((rc = form_param(b, "audience", e->audience[i])) != SF_OK)
			return rc;
	for (i = 0; e->resource != NULL && e->resource[i] != NULL; i++)
		if ((rc = form_param(b, "resource", e->resource[i])) != SF_OK)
			return rc;
	if (e->scope != NULL && *e->scope != '\0' &&
	    (rc = form_param(b, "scope", e->scope)) != SF_OK)
		return rc;
	if (e->requested_token_type != NULL && (rc = form_param(b,
	    "requested_token_type", e->requested_token_type)) != SF_OK)
		return rc;
	if (e->client_id != NULL && e->auth != CLIENT_AUTH_BASIC &&
	    (rc = form_param(b, "client_id", e->client_id)) != SF_OK)
		return rc;
	for (i = 0; e->extra != NULL && e->extra[i] != NULL; i++) {
		char *name = NULL, *val = NULL;
		const char *eq = strchr(e->extra[i], '=');

		if (eq == NULL)
			return SF_EINVAL;
		if ((rc = form_decode(e->extra[i], (size_t)(eq - e->extra[i]),
		    true, &name)) == SF_OK &&
		    (rc = form_decode(eq + 1, strlen(eq + 1), true, &val)) ==
		    SF_OK)
			rc = form_param(b, name, val);
		free(name);
		free(val);
		if (rc != SF_OK)
			return rc;
	}
	return SF_OK;
}

static int
cache_key(const struct client_entry *e, const struct buf *form,
    unsigned char key[32])
{
	struct buf k = { 0 };
	char a[2] = { (char)('0' + e->auth), '\0' };
	int rc;

	if ((rc = buf_str(&k, "starfly-token/1")) == SF_OK &&
	    (rc = buf_add(&k, "", 1)) == SF_OK &&
	    (rc = buf_str(&k, e->name)) == SF_OK &&
	    (rc = buf_add(&k, "", 1)) == SF_OK &&
	    (rc = buf_str(&k, e->token_endpoint ? e->token_endpoint :
	    e->issuer)) == SF_OK &&
	    (rc = buf_add(&k, "", 1)) == SF_OK &&
	    (rc = buf_str(&k, a)) == SF_OK &&
	    (rc = buf_add(&k, "", 1)) == SF_OK &&
	    (rc = buf_add(&k, form->p, form->len)) == SF_OK)
		rc = sha256(k.p, k.len, key);
	buf_free(&k);
	return rc;
}

/* The subject and actor tokens of st, under cl->mu; outputs new. */
static int
credentials(struct client *cl, struct entry_state *st,
    const struct client_req *req, char **subject, char **actor,
    struct client_error *err)
{
	const struct client_entry *e = &st->e;
	int rc;

	*subject = *actor = NULL;
	if (req->subject_token != NULL) {
		if (*req->subject_token == '\0')
			return seterr(err, CLIENT_ERR_CREDENTIAL, 0,
			    "the subject token given is empty");
		rc = (*subject = sf_strdup(req->subject_token)) == NULL ?
		    SF_ENOMEM : SF_OK;
	} else if (e->subject_token_file != NULL)
		rc = src_file(&st->subject, e->subject_token_file,
		    "subject token", subject, err);
	else if (e->subject_token_env != NULL)
		rc = src_env(e->subject_token_env, "subject token", subject,
		    err);
	else if (e->subject_token_stdin)
		rc = src_stdin(cl, "subject token", subject, err);
	else if (e->subject_token != NULL)
		rc = (*subject = sf_strdup(e->subject_token)) == NULL ?
		    SF_ENOMEM : SF_OK;
	else
		rc = seterr(err, CLIENT_ERR_CREDENTIAL, 0, "[%s] names no "
		    "subject token (subject_token_file, subject_token_env, "
		    "subject_token_stdin or subject_token)", e->name);
	if (rc != SF_OK)
		goto fail;
	if (req->actor_token != NULL)
		rc = (*actor = sf_strdup(req->actor_token)) == NULL ?
		    SF_ENOMEM : SF_OK;
	else if (e->actor_token_file != NULL)
		rc = src_file(&st->actor, e->actor_token_file, "actor token",
		    actor, err);
	else if (e->actor_token_env != NULL)
		rc = src_env(e->actor_token_env, "actor token", actor, err);
	if (rc == SF_OK)
		return SF_OK;
fail:
	sf_strfree_secret(*subject);
	sf_strfree_secret(*actor);
	*subject = *actor = NULL;
	return rc;
}

/* The client secret of st (new), only needed when a request is made. */
static int
client_secret(struct client *cl, struct entry_state *st, char **secret,
    struct client_error *err)
{
	const struct client_entry *e = &st->e;
	int rc = SF_OK;

	*secret = NULL;
	if (e->auth == CLIENT_AUTH_NONE)
		return SF_OK;
	pthread_mutex_lock(&cl->mu);
	if (e->client_secret_file != NULL)
		rc = src_file(&st->secret, e->client_secret_file,
		    "client secret", secret, err);
	else
		rc = src_env(e->client_secret_env, "client secret", secret,
		    err);
	pthread_mutex_unlock(&cl->mu);
	return rc;
}

int
client_token(struct client *cl, const char *ref, const struct client_req *req,
    struct client_token **out, struct client_error *err)
{
	static const struct client_req none = { NULL, NULL, NULL, false };
	struct client_entry e;
	struct entry_state *st;
	struct client_token *t = NULL;
	struct buf form = { 0 };
	struct resp r = { 0 };
	unsigned char key[32];
	char *subject = NULL, *actor = NULL, *secret = NULL, *endpoint = NULL;
	char *cdir = NULL, *authz = NULL, *xjson = NULL, *nonce = NULL;
	char *ihash = NULL;
	bool cacheable, nomem = false, have_entry = false;
	int64_t now = sf_now();
	int rc;

	*out = NULL;
	if (err != NULL)
		memset(err, 0, sizeof(*err));
	if (req == NULL)
		req = &none;

	/* Snapshot the entry and its credentials under the lock. */
	pthread_mutex_lock(&cl->mu);
	if ((st = find_state(cl, ref)) == NULL) {
		pthread_mutex_unlock(&cl->mu);
		rc = seterr(err, CLIENT_ERR_CONFIG, 0, "no entry [%s] in the "
		    "configuration", ref ? ref : "(null)");
		return rc == SF_ENOMEM ? rc : SF_ENOTFOUND;
	}
	rc = entry_copy(&e, &st->e);
	if (rc == SF_OK) {
		have_entry = true;
		rc = credentials(cl, st, req, &subject, &actor, err);
	}
	if (rc == SF_OK && e.token_endpoint == NULL && st->endpoint != NULL &&
	    st->endpoint_exp > now &&
	    (endpoint = sf_strdup(st->endpoint)) == NULL)
		rc = SF_ENOMEM;
	if (rc == SF_OK && cl->cache_dir != NULL &&
	    (cdir = sf_strdup(cl->cache_dir)) == NULL)
		rc = SF_ENOMEM;
	pthread_mutex_unlock(&cl->mu);
	if (rc != SF_OK)
		goto out;

	cacheable = e.cache && !req->no_cache && req->exec == NULL;
	if ((rc = build_form(&e, subject, actor, &form)) != SF_OK ||
	    (rc = cache_key(&e, &form, key)) != SF_OK)
		goto out;
	if (cacheable) {
		pthread_mutex_lock(&cl->mu);
		t = mem_get(cl, key, e.margin, now, &nomem);
		pthread_mutex_unlock(&cl->mu);
		if (nomem) {
			rc = SF_ENOMEM;
			goto out;
		}
		if (t == NULL && cdir != NULL &&
		    (t = disk_get(cdir, e.name, key, e.margin, now)) != NULL) {
			pthread_mutex_lock(&cl->mu);
			mem_put(cl, key, e.name, t, now);
			pthread_mutex_unlock(&cl->mu);
		}
		if (t != NULL) {
			*out = t;
			t = NULL;
			rc = SF_OK;
			goto out;
		}
	}

	/* Where to send it. */
	if (e.token_endpoint != NULL)
		endpoint = sf_strdup(e.token_endpoint);
	else if (endpoint == NULL) {
		if ((rc = discover(&e, &endpoint, err)) != SF_OK)
			goto out;
		pthread_mutex_lock(&cl->mu);
		if ((st = find_state(cl, ref)) != NULL) {
			free(st->endpoint);
			st->endpoint = sf_strdup(endpoint);
			st->endpoint_exp = now + CLIENT_DISCOVERY_TTL;
		}
		pthread_mutex_unlock(&cl->mu);
	}
	if (endpoint == NULL) {
		rc = SF_ENOMEM;
		goto out;
	}
	if ((rc = client_secret(cl, st, &secret, err)) != SF_OK)
		goto out;
	if (req->exec != NULL) {
		if ((rc = exec_scope(req->exec, &xjson, &nonce, &ihash, err)) !=
		    SF_OK || (rc = form_param(&form, "execution_scope", xjson))
		    != SF_OK)
			goto out;
	}
	if (e.auth == CLIENT_AUTH_POST && (rc = form_param(&form,
	    "client_secret", secret)) != SF_OK)
		goto out;
	if (e.auth == CLIENT_AUTH_BASIC &&
	    (rc = basic_auth(e.client_id, secret, &authz)) != SF_OK)
		goto out;
	if ((rc = http_do(&e, endpoint, &form, authz, &r, err)) != SF_OK)
		goto out;
	if ((rc = client_parse_response(r.status, r.ctype, r.body.p,
	    r.body.len, &t, err)) != SF_OK)
		goto out;
	t->nonce = nonce;
	t->inp_hash = ihash;
	nonce = ihash = NULL;
	if (cacheable && fresh(t, e.margin, now)) {
		pthread_mutex_lock(&cl->mu);
		mem_put(cl, key, e.name, t, now);
		pthread_mutex_unlock(&cl->mu);
		if (cdir != NULL)
			disk_put(cdir, e.name, key, t, now);
	}
	*out = t;
	t = NULL;
	rc = SF_OK;
out:
	if (rc != SF_OK && err != NULL && err->message == NULL)
		(void)seterr(err, CLIENT_ERR_INTERNAL, 0, "%s", sf_strerror(rc));
	client_token_free(t);
	resp_free(&r);
	buf_free(&form);
	sf_strfree_secret(subject);
	sf_strfree_secret(actor);
	sf_strfree_secret(secret);
	sf_strfree_secret(authz);
	free(endpoint);
	free(cdir);
	free(xjson);
	free(nonce);
	free(ihash);
	if (have_entry)
		entry_fini(&e);
	return rc;
}
