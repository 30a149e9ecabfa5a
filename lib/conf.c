/*
 * conf.c - "key value" configuration files driven by declarative tables,
 * and the unit configuration (starfly.conf).
 */
#include <sys/stat.h>

#include <ctype.h>
#include <errno.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "starfly.h"

#define CONF_MAX_FILE	(256 * 1024)
#define CONF_MAX_KEYS	64
#define CONF_DEFAULT	"/etc/starfly/starfly.conf"

static int
conf_err(char **errmsg, const char *name, size_t line, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int
conf_err(char **errmsg, const char *name, size_t line, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (line > 0)
		(void)sf_asprintf(errmsg, "%s:%zu: %s", name, line, msg);
	else
		(void)sf_asprintf(errmsg, "%s: %s", name, msg);
	return SF_ECONF;
}

static void *
field(void *dst, const struct conf_key *k)
{
	return (char *)dst + k->offset;
}

/* Resolve a relative path against base; new string. */
static char *
resolve(const char *base, const char *v)
{
	char *out = NULL;

	if (v[0] == '/' || base == NULL)
		return sf_strdup(v);
	(void)sf_asprintf(&out, "%s/%s", base, v);
	return out;
}

static bool
is_url(const char *v)
{
	const char *p;

	if (strncmp(v, "https://", 8) == 0)
		p = v + 8;
	else if (strncmp(v, "http://", 7) == 0)
		p = v + 7;
	else
		return false;
	if (*p == '\0' || *p == '/')
		return false;
	for (; *p != '\0'; p++)
		if ((unsigned char)*p <= 0x20 || *p == 0x7f || *p == '#' ||
		    *p == '"' || *p == '\\')
			return false;
	return true;
}

/* Split a space-separated list into a NULL-terminated array (new). */
static char **
split_words(const char *v)
{
	char **list, *copy, *w, *save = NULL;
	size_t n = 0, cap = 4;

	if ((copy = sf_strdup(v)) == NULL)
		return NULL;
	if ((list = calloc(cap + 1, sizeof(*list))) == NULL)
		goto fail;
	for (w = strtok_r(copy, " \t", &save); w != NULL;
	    w = strtok_r(NULL, " \t", &save)) {
		if (n == cap) {
			char **nl = realloc(list, (cap * 2 + 1) * sizeof(*nl));

			if (nl == NULL)
				goto fail;
			list = nl;
			cap *= 2;
		}
		if ((list[n++] = sf_strdup(w)) == NULL)
			goto fail;
		list[n] = NULL;
	}
	free(copy);
	return list;
fail:
	if (list != NULL)
		for (n = 0; list[n] != NULL; n++)
			free(list[n]);
	free(list);
	free(copy);
	return NULL;
}

static void
free_words(char **list)
{
	size_t i;

	if (list == NULL)
		return;
	for (i = 0; list[i] != NULL; i++)
		free(list[i]);
	free(list);
}

static int
set_value(const struct conf_key *k, void *dst, const char *v,
    const char *base, const char *name, size_t line, char **errmsg)
{
	long long n;
	size_t i;
	char *s;

	switch (k->type) {
	case CONF_STR:
		if (k->max > 0 && (long long)strlen(v) > k->max)
			return conf_err(errmsg, name, line, "%s: longer than "
			    "%lld characters", k->name, k->max);
		if ((s = sf_strdup(v)) == NULL)
			return SF_ENOMEM;
		*(char **)field(dst, k) = s;
		return SF_OK;
	case CONF_URL:
		if (!is_url(v))
			return conf_err(errmsg, name, line, "%s: not an "
			    "http(s) URL: '%s'", k->name, v);
		if ((s = sf_strdup(v)) == NULL)
			return SF_ENOMEM;
		/* No trailing slash: issuer comparisons are exact. */
		while (strlen(s) > 8 && s[strlen(s) - 1] == '/')
			s[strlen(s) - 1] = '\0';
		*(char **)field(dst, k) = s;
		return SF_OK;
	case CONF_PATH:
		if (*v == '\0')
			return conf_err(errmsg, name, line, "%s: empty path",
			    k->name);
		if ((s = resolve(base, v)) == NULL)
			return SF_ENOMEM;
		*(char **)field(dst, k) = s;
		return SF_OK;
	case CONF_INT:
		if (sf_strtonum(v, k->min, k->max, &n) != SF_OK)
			return conf_err(errmsg, name, line, "%s: expected an "
			    "integer from %lld to %lld, got '%s'", k->name,
			    k->min, k->max, v);
		*(long long *)field(dst, k) = n;
		return SF_OK;
	case CONF_BOOL:
		if (strcmp(v, "yes") == 0 || strcmp(v, "true") == 0 ||
		    strcmp(v, "on") == 0)
			*(bool *)field(dst, k) = true;
		else if (strcmp(v, "no") == 0 || strcmp(v, "false") == 0 ||
		    strcmp(v, "off") == 0)
			*(bool *)field(dst, k) = false;
		else
			return conf_err(errmsg, name, line, "%s: expected "
			    "yes or no, got '%s'", k->name, v);
		return SF_OK;
	case CONF_ENUM:
		for (i = 0; k->choices[i] != NULL; i++)
			if (k->choices[i][0] != '\0' &&
			    strcmp(k->choices[i], v) == 0) {
				*(int *)field(dst, k) = (int)i;
				return SF_OK;
			}
		{
			char allowed[256] = "";

			for (i = 0; k->choices[i] != NULL; i++) {
				if (k->choices[i][0] == '\0')
					continue;
				if (allowed[0] != '\0')
					sf_strlcat(allowed, "|",
					    sizeof(allowed));
				sf_strlcat(allowed, k->choices[i],
				    sizeof(allowed));
			}
			return conf_err(errmsg, name, line, "%s: expected "
			    "one of %s, got '%s'", k->name, allowed, v);
		}
	case CONF_LIST:
		if (*v == '\0')
			return conf_err(errmsg, name, line, "%s: empty list",
			    k->name);
		free_words(*(char ***)field(dst, k));
		if ((*(char ***)field(dst, k) = split_words(v)) == NULL)
			return SF_ENOMEM;
		return SF_OK;
	}
	return SF_EINVAL;
}

/*
 * Unquote a value in place: "..." with \" and \\ escapes.  Returns
 * false for a malformed quote.
 */
static bool
unquote(char *v)
{
	char *r, *w;

	if (*v != '"')
		return strchr(v, '"') == NULL;
	for (r = v + 1, w = v; *r != '"'; r++) {
		if (*r == '\0')
			return false;
		if (*r == '\\' && (r[1] == '"' || r[1] == '\\'))
			r++;
		*w++ = *r;
	}
	if (r[1] != '\0')
		return false;
	*w = '\0';
	return true;
}

int
conf_parse_buf(const char *name, const char *buf, size_t len,
    const struct conf_key *table, const char *base, void *dst, char **errmsg)
{
	bool seen[CONF_MAX_KEYS] = { false };
	const struct conf_key *k;
	const char *p = buf, *end = buf + len, *nl;
	char line[4096], *key, *val, *c;
	size_t lineno = 0, i, n;
	int rc;

	*errmsg = NULL;
	for (i = 0; table[i].name != NULL; i++)
		if (i >= CONF_MAX_KEYS)
			return SF_EINVAL;
	if (memchr(buf, '\0', len) != NULL)
		return conf_err(errmsg, name, 0, "NUL byte in file");
	while (p < end) {
		lineno++;
		nl = memchr(p, '\n', (size_t)(end - p));
		n = (size_t)((nl ? nl : end) - p);
		if (n >= sizeof(line))
			return conf_err(errmsg, name, lineno, "line too long");
		memcpy(line, p, n);
		line[n] = '\0';
		p = nl ? nl + 1 : end;
		/* Comments: '#' outside quotes. */
		{
			bool q = false;

			for (c = line; *c != '\0'; c++) {
				if (*c == '"' && (c == line || c[-1] != '\\'))
					q = !q;
				else if (*c == '#' && !q) {
					*c = '\0';
					break;
				}
			}
		}
		for (c = line; *c != '\0'; c++)
			if ((unsigned char)*c < 0x20 && *c != '\t' &&
			    *c != '\r')
				return conf_err(errmsg, name, lineno,
				    "control character");
		key = line + strspn(line, " \t\r");
		n = strlen(key);
		while (n > 0 && (key[n - 1] == ' ' || key[n - 1] == '\t' ||
		    key[n - 1] == '\r'))
			key[--n] = '\0';
		if (*key == '\0')
			continue;
		val = key + strcspn(key, " \t");
		if (*val != '\0') {
			*val++ = '\0';
			val += strspn(val, " \t");
		}
		if (!unquote(val))
			return conf_err(errmsg, name, lineno, "%s: malformed "
			    "quoted value", key);
		for (k = table, i = 0; k->name != NULL; k++, i++)
			if (strcmp(k->name, key) == 0)
				break;
		if (k->name == NULL)
			return conf_err(errmsg, name, lineno, "unknown key "
			    "'%s'", key);
		if (seen[i])
			return conf_err(errmsg, name, lineno, "'%s' given "
			    "twice", key);
		seen[i] = true;
		if (*val == '\0' && k->type != CONF_STR)
			return conf_err(errmsg, name, lineno, "%s: missing "
			    "value", key);
		/* A default may already sit in the field. */
		if (k->type == CONF_STR || k->type == CONF_URL ||
		    k->type == CONF_PATH) {
			free(*(char **)field(dst, k));
			*(char **)field(dst, k) = NULL;
		}
		if ((rc = set_value(k, dst, val, base, name, lineno, errmsg))
		    != SF_OK)
			return rc;
	}
	for (k = table, i = 0; k->name != NULL; k++, i++)
		if (k->required && !seen[i])
			return conf_err(errmsg, name, 0, "missing required "
			    "key '%s'", k->name);
	return SF_OK;
}

int
conf_parse(const char *path, const struct conf_key *table, const char *base,
    void *dst, char **errmsg)
{
	char *buf = NULL, *dir = NULL, *copy = NULL;
	size_t len;
	int rc;

	*errmsg = NULL;
	rc = sf_read_file(path, CONF_MAX_FILE, &buf, &len);
	if (rc != SF_OK)
		return conf_err(errmsg, path, 0, "cannot read: %s",
		    rc == SF_ESYS || rc == SF_ENOTFOUND ? strerror(errno) :
		    sf_strerror(rc));
	if (base == NULL) {
		if ((copy = sf_strdup(path)) == NULL) {
			free(buf);
			return SF_ENOMEM;
		}
		dir = dirname(copy);
	}
	rc = conf_parse_buf(path, buf, len, table, base ? base : dir, dst,
	    errmsg);
	free(copy);
	free(buf);
	return rc;
}

void
conf_free_fields(const struct conf_key *table, void *dst)
{
	const struct conf_key *k;

	if (dst == NULL)
		return;
	for (k = table; k->name != NULL; k++) {
		switch (k->type) {
		case CONF_STR:
		case CONF_URL:
		case CONF_PATH:
			free(*(char **)field(dst, k));
			*(char **)field(dst, k) = NULL;
			break;
		case CONF_LIST:
			free_words(*(char ***)field(dst, k));
			*(char ***)field(dst, k) = NULL;
			break;
		default:
			break;
		}
	}
}

const char *
conf_path_from_args(int *argc, char **argv)
{
	const char *env;
	int i, j;
	const char *path = NULL;

	for (i = 1, j = 1; i < *argc; i++) {
		if ((strcmp(argv[i], "--config") == 0 ||
		    strcmp(argv[i], "-c") == 0) && i + 1 < *argc)
			path = argv[++i];
		else if (strncmp(argv[i], "--config=", 9) == 0)
			path = argv[i] + 9;
		else
			argv[j++] = argv[i];
	}
	argv[j] = NULL;
	*argc = j;
	if (path != NULL)
		return path;
	if ((env = getenv("STARFLY_CONF")) != NULL && *env != '\0')
		return env;
	return CONF_DEFAULT;
}

/*
 * starfly.conf: the keys, their types and limits.  Documented in
 * etc/starfly.conf.
 */
static const char *const mode_choices[] = { "production", "dev", NULL };
static const char *const alg_choices[] = { "", "ES256", "ES384", "EdDSA",
    "RS256", "RS384", "RS512", "PS256", NULL };
static const char *const level_choices[] = { "", "", "", "error",
    "warning", "", "info", "debug", NULL };

#define K(n, t, m, lo, hi, ch, req) \
	{ n, t, offsetof(struct sf_conf, m), lo, hi, ch, req }
static const struct conf_key sf_conf_keys[] = {
	K("mode", CONF_ENUM, mode, 0, 0, mode_choices, true),
	K("issuer", CONF_URL, issuer, 0, 0, NULL, true),
	K("trust_domain", CONF_STR, trust_domain, 0, 255, NULL, false),
	K("state_dir", CONF_PATH, state_dir, 0, 0, NULL, false),
	K("store", CONF_PATH, store, 0, 0, NULL, false),
	K("keys_dir", CONF_PATH, keys_dir, 0, 0, NULL, false),
	K("policy_dir", CONF_PATH, policy_dir, 0, 0, NULL, false),
	K("audit_dir", CONF_PATH, audit_dir, 0, 0, NULL, false),
	K("run_dir", CONF_PATH, run_dir, 0, 0, NULL, false),
	K("etc_dir", CONF_PATH, etc_dir, 0, 0, NULL, false),
	K("www_dir", CONF_PATH, www_dir, 0, 0, NULL, false),
	K("listen", CONF_STR, listen, 0, 255, NULL, false),
	K("signing_alg", CONF_ENUM, signing_alg, 0, 0, alg_choices, false),
	K("body_limit", CONF_INT, body_limit, 1024, 16 * 1024 * 1024, NULL,
	    false),
	K("token_ttl", CONF_INT, token_ttl, 1, 86400, NULL, false),
	K("exec_token_ttl", CONF_INT, exec_token_ttl, 1, 3600, NULL, false),
	K("max_token_ttl", CONF_INT, max_token_ttl, 1, 7 * 86400, NULL,
	    false),
	K("clock_skew", CONF_INT, clock_skew, 0, 600, NULL, false),
	K("sse_workers", CONF_INT, sse_workers, 1, 1024, NULL, false),
	K("show_reasons", CONF_BOOL, show_reasons, 0, 0, NULL, false),
	K("public_clients", CONF_BOOL, public_clients, 0, 0, NULL, false),
	K("syslog", CONF_BOOL, use_syslog, 0, 0, NULL, false),
	K("log_level", CONF_ENUM, log_level, 0, 0, level_choices, false),
	{ NULL, 0, 0, 0, 0, NULL, false }
};
#undef K

/* Fill a path the file left unset: dir/leaf (new). */
static int
default_path(char **slot, const char *dir, const char *leaf)
{
	if (*slot != NULL)
		return SF_OK;
	return sf_asprintf(slot, "%s/%s", dir, leaf);
}

int
conf_load(const char *path, struct sf_conf **out, char **errmsg)
{
	struct sf_conf *c;
	char *copy = NULL, *dir;
	int rc;

	*out = NULL;
	*errmsg = NULL;
	if ((c = calloc(1, sizeof(*c))) == NULL)
		return SF_ENOMEM;
	c->signing_alg = JWS_ES256;
	c->body_limit = 64 * 1024;
	c->token_ttl = 300;
	c->exec_token_ttl = 30;
	c->max_token_ttl = 3600;
	c->clock_skew = 60;
	c->sse_workers = 8;
	c->log_level = SF_LOG_INFO;
	c->public_clients = true;
	if ((c->file = sf_strdup(path)) == NULL) {
		rc = SF_ENOMEM;
		goto out;
	}
	if ((rc = conf_parse(path, sf_conf_keys, NULL, c, errmsg)) != SF_OK)
		goto out;
	if ((copy = sf_strdup(path)) == NULL) {
		rc = SF_ENOMEM;
		goto out;
	}
	dir = dirname(copy);
	if (c->state_dir == NULL &&
	    (c->state_dir = sf_strdup("/var/lib/starfly")) == NULL) {
		rc = SF_ENOMEM;
		goto out;
	}
	if ((rc = default_path(&c->store, c->state_dir, "starfly.db")) ||
	    (rc = default_path(&c->keys_dir, c->state_dir, "keys")) ||
	    (rc = default_path(&c->audit_dir, c->state_dir, "audit")) ||
	    (rc = default_path(&c->run_dir, c->state_dir, "run")) ||
	    (rc = default_path(&c->policy_dir, dir, c->mode == SF_MODE_DEV ?
	    "policies/dev" : "policies")) ||
	    (rc = default_path(&c->etc_dir, dir, ".")))
		goto out;
	if (c->trust_domain == NULL) {
		const char *h = strstr(c->issuer, "://") + 3;
		size_t n = strcspn(h, ":/");

		c->trust_domain = c->mode == SF_MODE_DEV ?
		    sf_strdup("dev.local") : sf_strndup(h, n);
		if (c->trust_domain == NULL) {
			rc = SF_ENOMEM;
			goto out;
		}
	}
	if (c->exec_token_ttl > c->token_ttl)
		c->exec_token_ttl = c->token_ttl;
	if (c->token_ttl > c->max_token_ttl) {
		rc = conf_err(errmsg, path, 0, "token_ttl (%lld) exceeds "
		    "max_token_ttl (%lld)", c->token_ttl, c->max_token_ttl);
		goto out;
	}
	if (c->mode == SF_MODE_PRODUCTION &&
	    strncmp(c->issuer, "https://", 8) != 0)
		log_warn("%s: production issuer %s is not https", path,
		    c->issuer);
	*out = c;
	c = NULL;
	rc = SF_OK;
out:
	free(copy);
	conf_free(c);
	return rc;
}

void
conf_free(struct sf_conf *c)
{
	if (c == NULL)
		return;
	conf_free_fields(sf_conf_keys, c);
	free(c->file);
	free(c);
}
