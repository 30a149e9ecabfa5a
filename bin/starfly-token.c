/*
 * starfly-token - print a token scoped to one downstream service, got by
 * RFC 8693 token exchange from Starfly or any compliant authorization
 * server and reused from a per-user cache while it is fresh.
 *
 *	starfly-token [--config FILE] [options] REF
 *
 * Secrets (subject, actor and client credentials) come from files,
 * environment variables or standard input, never from the command line.
 * Exit status: 0 token printed; 1 the server refused (its error is
 * printed as is); 2 usage or configuration; 3 a credential is missing;
 * 4 network (refused, unreachable, TLS); 5 timeout; 6 the answer is not
 * a usable token response (not JSON, HTML, HTTP error, discovery);
 * 7 internal error.
 */
#include <sys/stat.h>

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "starfly.h"

#define PROG		"starfly-token"
#define BODY_MAX	(64 * 1024 * 1024)

enum {
	EX_TOKEN = 0, EX_REFUSED = 1, EX_USAGE = 2, EX_CRED = 3, EX_NET = 4,
	EX_TIMEOUT = 5, EX_ANSWER = 6, EX_INTERNAL = 7
};

enum {
	OPT_CACHE_DIR = 256, OPT_INVALIDATE, OPT_FLUSH, OPT_LIST,
	OPT_ST_FILE, OPT_ST_ENV, OPT_ST_STDIN, OPT_AT_FILE, OPT_AT_ENV,
	OPT_HTM, OPT_HTU, OPT_BODY_FILE, OPT_EXEC_ACT, OPT_TARGET,
	OPT_VERSION
};

static const struct option longopts[] = {
	{ "config", required_argument, NULL, 'c' },
	{ "cache-dir", required_argument, NULL, OPT_CACHE_DIR },
	{ "no-cache", no_argument, NULL, 'n' },
	{ "invalidate", required_argument, NULL, OPT_INVALIDATE },
	{ "flush", no_argument, NULL, OPT_FLUSH },
	{ "list", no_argument, NULL, OPT_LIST },
	{ "json", no_argument, NULL, 'j' },
	{ "subject-token-file", required_argument, NULL, OPT_ST_FILE },
	{ "subject-token-env", required_argument, NULL, OPT_ST_ENV },
	{ "subject-token-stdin", no_argument, NULL, OPT_ST_STDIN },
	{ "actor-token-file", required_argument, NULL, OPT_AT_FILE },
	{ "actor-token-env", required_argument, NULL, OPT_AT_ENV },
	{ "htm", required_argument, NULL, OPT_HTM },
	{ "method", required_argument, NULL, OPT_HTM },
	{ "htu", required_argument, NULL, OPT_HTU },
	{ "url", required_argument, NULL, OPT_HTU },
	{ "body-file", required_argument, NULL, OPT_BODY_FILE },
	{ "exec-act", required_argument, NULL, OPT_EXEC_ACT },
	{ "target", required_argument, NULL, OPT_TARGET },
	{ "verbose", no_argument, NULL, 'v' },
	{ "help", no_argument, NULL, 'h' },
	{ "version", no_argument, NULL, OPT_VERSION },
	{ NULL, 0, NULL, 0 }
};

static void
usage(FILE *f)
{
	fprintf(f,
"usage: " PROG " [--config FILE] [options] REF\n"
"  Print an access token for the exchange configuration REF.\n"
"  -c, --config FILE          configuration (else $STARFLY_TOKEN_CONF,\n"
"                             ~/.config/starfly/client.conf,\n"
"                             /etc/starfly/client.conf)\n"
"      --cache-dir DIR        token cache (else $STARFLY_TOKEN_CACHE,\n"
"                             $XDG_RUNTIME_DIR/starfly-token, ~/.cache/...)\n"
"  -n, --no-cache             neither read nor write the cache\n"
"      --invalidate REF       drop REF's cached tokens (then fetch if a\n"
"                             REF operand is given)\n"
"      --flush                drop every cached token\n"
"      --list                 print the configured references\n"
"  -j, --json                 print the whole result as JSON\n"
"      --subject-token-file F | --subject-token-env VAR |\n"
"      --subject-token-stdin  override the entry's subject token source\n"
"      --actor-token-file F | --actor-token-env VAR\n"
"  Execution-scoped token for one HTTP call (never cached):\n"
"      --htm METHOD --htu URL [--body-file FILE|-] [--exec-act A]\n"
"      [--target T]\n"
"  -v, --verbose              say on stderr where the token came from\n"
"Exit: 0 ok, 1 server refused, 2 usage/config, 3 credential missing,\n"
"      4 network, 5 timeout, 6 unusable answer, 7 internal.\n");
}

/* Print s to stderr with control and non-ASCII bytes escaped. */
static void
put_escaped(const char *s)
{
	for (; *s != '\0'; s++) {
		unsigned char c = (unsigned char)*s;

		if (c >= 0x20 && c < 0x7f)
			fputc(c, stderr);
		else
			fprintf(stderr, "\\x%02x", c);
	}
}

static void
errx_msg(const char *ref, const char *kind, const char *msg)
{
	fputs(PROG ": ", stderr);
	if (ref != NULL)
		fprintf(stderr, "%s: ", ref);
	if (kind != NULL)
		fprintf(stderr, "%s: ", kind);
	put_escaped(msg);
	fputc('\n', stderr);
}

static int
exit_for(int kind)
{
	switch (kind) {
	case CLIENT_ERR_OAUTH:
		return EX_REFUSED;
	case CLIENT_ERR_CONFIG:
		return EX_USAGE;
	case CLIENT_ERR_CREDENTIAL:
		return EX_CRED;
	case CLIENT_ERR_REFUSED:
	case CLIENT_ERR_NETWORK:
	case CLIENT_ERR_TLS:
		return EX_NET;
	case CLIENT_ERR_TIMEOUT:
		return EX_TIMEOUT;
	case CLIENT_ERR_NOT_JSON:
	case CLIENT_ERR_HTTP:
	case CLIENT_ERR_RESPONSE:
	case CLIENT_ERR_DISCOVERY:
		return EX_ANSWER;
	default:
		return EX_INTERNAL;
	}
}

static const char *
home_dir(void)
{
	const char *h = getenv("HOME");
	struct passwd *pw;

	if (h != NULL && h[0] == '/')
		return h;
	pw = getpwuid(getuid());
	return pw != NULL && pw->pw_dir != NULL ? pw->pw_dir : NULL;
}

/* The configuration file to read (new). */
static char *
config_path(const char *opt)
{
	const char *v, *h;
	char *p = NULL;

	if (opt != NULL)
		return sf_strdup(opt);
	if ((v = getenv("STARFLY_TOKEN_CONF")) != NULL && *v != '\0')
		return sf_strdup(v);
	if ((v = getenv("XDG_CONFIG_HOME")) != NULL && v[0] == '/')
		(void)sf_asprintf(&p, "%s/starfly/client.conf", v);
	else if ((h = home_dir()) != NULL)
		(void)sf_asprintf(&p, "%s/.config/starfly/client.conf", h);
	if (p != NULL && access(p, F_OK) == 0)
		return p;
	free(p);
	return sf_strdup("/etc/starfly/client.conf");
}

/* The per-user cache directory (new), or NULL when none can be named. */
static char *
cache_path(const char *opt)
{
	const char *v, *h;
	char *p = NULL;

	if (opt != NULL)
		return sf_strdup(opt);
	if ((v = getenv("STARFLY_TOKEN_CACHE")) != NULL && *v != '\0')
		return sf_strdup(v);
	if ((v = getenv("XDG_RUNTIME_DIR")) != NULL && v[0] == '/')
		(void)sf_asprintf(&p, "%s/starfly-token", v);
	else if ((v = getenv("XDG_CACHE_HOME")) != NULL && v[0] == '/')
		(void)sf_asprintf(&p, "%s/starfly-token", v);
	else if ((h = home_dir()) != NULL)
		(void)sf_asprintf(&p, "%s/.cache/starfly-token", h);
	return p;
}

/* A secret from a file or the environment (new; wipe it). */
static int
read_secret(const char *file, const char *env, bool use_stdin, char **out,
    const char **why)
{
	char *buf = NULL;
	size_t len = 0;
	const char *v;
	int rc;

	*out = NULL;
	if (env != NULL) {
		if ((v = getenv(env)) == NULL || *v == '\0') {
			*why = "environment variable not set";
			return SF_ENOTFOUND;
		}
		buf = sf_strdup(v);
		if (buf == NULL)
			return SF_ENOMEM;
		len = strlen(buf);
	} else {
		rc = sf_read_file(use_stdin ? "/dev/stdin" : file, 64 * 1024,
		    &buf, &len);
		if (rc != SF_OK) {
			*why = rc == SF_ETOOBIG ? "larger than 64 KiB" :
			    strerror(errno);
			return rc;
		}
	}
	while (len > 0 && isspace((unsigned char)buf[len - 1]))
		buf[--len] = '\0';
	if (len == 0 || strlen(buf) != len) {
		sf_strfree_secret(buf);
		*why = "empty or holds a NUL byte";
		return SF_EINVAL;
	}
	*out = buf;
	return SF_OK;
}

/* Write s to stdout unbuffered (no stdio copy of a secret). */
static bool
write_all(const char *s)
{
	size_t len = strlen(s);
	ssize_t n;

	while (len > 0) {
		n = write(STDOUT_FILENO, s, len);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0)
			return false;
		s += n;
		len -= (size_t)n;
	}
	return true;
}

static int
print_json(const struct client_token *t)
{
	json_t *o;
	char *s;
	int64_t now = sf_now();
	int rc;

	o = json_pack("{s:s, s:s, s:s?, s:s?, s:b, s:s?, s:s?}",
	    "access_token", t->access_token, "token_type", t->token_type,
	    "issued_token_type", t->issued_token_type, "scope", t->scope,
	    "cached", t->from_cache, "nonce", t->nonce,
	    "inp_hash", t->inp_hash);
	if (o == NULL)
		return EX_INTERNAL;
	if (t->expires_at != 0) {
		json_object_set_new(o, "expires_at", json_integer(t->expires_at));
		json_object_set_new(o, "expires_in", json_integer(
		    t->expires_at > now ? t->expires_at - now : 0));
	}
	s = json_dumps(o, JSON_COMPACT);
	OPENSSL_cleanse((char *)(uintptr_t)json_string_value(
	    json_object_get(o, "access_token")), strlen(t->access_token));
	json_decref(o);
	if (s == NULL)
		return EX_INTERNAL;
	rc = write_all(s) && write_all("\n") ? EX_TOKEN : EX_INTERNAL;
	sf_strfree_secret(s);
	return rc;
}

int
main(int argc, char **argv)
{
	struct client *cl = NULL;
	struct client_token *t = NULL;
	struct client_error err = { 0 };
	struct client_req req = { 0 };
	struct client_exec ex = { 0 };
	const char *opt_config = NULL, *opt_cache = NULL, *inval = NULL;
	const char *st_file = NULL, *st_env = NULL, *at_file = NULL;
	const char *at_env = NULL, *body_file = NULL, *why = NULL, *ref;
	char *conf = NULL, *cdir = NULL, *errmsg = NULL, *subject = NULL;
	char *actor = NULL, *body = NULL;
	bool no_cache = false, flush = false, list = false, json = false;
	bool verbose = false, st_stdin = false;
	size_t body_len = 0, i;
	int c, rc, ex_rc = EX_INTERNAL;

	while ((c = getopt_long(argc, argv, "c:njvh", longopts, NULL)) != -1) {
		switch (c) {
		case 'c': opt_config = optarg; break;
		case OPT_CACHE_DIR: opt_cache = optarg; break;
		case 'n': no_cache = true; break;
		case OPT_INVALIDATE: inval = optarg; break;
		case OPT_FLUSH: flush = true; break;
		case OPT_LIST: list = true; break;
		case 'j': json = true; break;
		case OPT_ST_FILE: st_file = optarg; break;
		case OPT_ST_ENV: st_env = optarg; break;
		case OPT_ST_STDIN: st_stdin = true; break;
		case OPT_AT_FILE: at_file = optarg; break;
		case OPT_AT_ENV: at_env = optarg; break;
		case OPT_HTM: ex.htm = optarg; break;
		case OPT_HTU: ex.htu = optarg; break;
		case OPT_BODY_FILE: body_file = optarg; break;
		case OPT_EXEC_ACT: ex.exec_act = optarg; break;
		case OPT_TARGET: ex.target = optarg; break;
		case 'v': verbose = true; break;
		case 'h': usage(stdout); return EX_TOKEN;
		case OPT_VERSION: puts(PROG " " SF_VERSION); return EX_TOKEN;
		default: usage(stderr); return EX_USAGE;
		}
	}
	ref = optind < argc ? argv[optind] : NULL;
	if (optind + 1 < argc || (ref == NULL && !flush && inval == NULL &&
	    !list)) {
		usage(stderr);
		return EX_USAGE;
	}
	if ((st_file != NULL) + (st_env != NULL) + (st_stdin ? 1 : 0) > 1 ||
	    (at_file != NULL && at_env != NULL)) {
		errx_msg(NULL, NULL, "give one subject (and one actor) token "
		    "source");
		return EX_USAGE;
	}
	if ((ex.htm != NULL) != (ex.htu != NULL) || ((body_file != NULL ||
	    ex.exec_act != NULL || ex.target != NULL) && ex.htm == NULL)) {
		errx_msg(NULL, NULL, "an execution-scoped token needs --htm and "
		    "--htu (--body-file, --exec-act, --target go with them)");
		return EX_USAGE;
	}
	if (st_stdin && body_file != NULL && strcmp(body_file, "-") == 0) {
		errx_msg(NULL, NULL, "standard input cannot hold both the "
		    "subject token and the body");
		return EX_USAGE;
	}

	if ((conf = config_path(opt_config)) == NULL ||
	    client_new(&cl) != SF_OK)
		goto out;
	if ((rc = client_load(cl, conf, &errmsg)) != SF_OK) {
		errx_msg(NULL, NULL, errmsg ? errmsg : sf_strerror(rc));
		ex_rc = EX_USAGE;
		goto out;
	}
	if (list) {
		for (i = 0; i < client_count(cl); i++)
			puts(client_entry_at(cl, i)->name);
		(void)fflush(stdout);
		if (ref == NULL && !flush && inval == NULL) {
			ex_rc = EX_TOKEN;
			goto out;
		}
	}
	if (!no_cache || flush || inval != NULL) {
		cdir = cache_path(opt_cache);
		rc = cdir == NULL ? SF_ENOTFOUND : client_set_cache_dir(cl, cdir);
		if (rc != SF_OK) {
			char m[512];

			(void)snprintf(m, sizeof(m), "cache directory %s: %s%s",
			    cdir ? cdir : "(no home)", rc == SF_EDENIED ?
			    "must be a directory of this user with mode 0700" :
			    strerror(errno), flush || inval ? "" :
			    "; going on without it");
			errx_msg(NULL, NULL, m);
			if (flush || inval != NULL) {
				ex_rc = EX_USAGE;
				goto out;
			}
		}
	}
	if (flush && client_flush(cl) != SF_OK) {
		errx_msg(NULL, NULL, "flush failed");
		ex_rc = EX_INTERNAL;
		goto out;
	}
	if (inval != NULL && (rc = client_invalidate(cl, inval)) != SF_OK) {
		errx_msg(inval, NULL, rc == SF_ENOTFOUND ? "no such entry" :
		    "invalidate failed");
		ex_rc = rc == SF_ENOTFOUND ? EX_USAGE : EX_INTERNAL;
		goto out;
	}
	if (ref == NULL) {
		ex_rc = EX_TOKEN;
		goto out;
	}

	/* Overrides of the entry's credential sources. */
	if (st_file != NULL || st_env != NULL || st_stdin) {
		if (read_secret(st_file, st_env, st_stdin, &subject, &why) !=
		    SF_OK) {
			char m[512];

			(void)snprintf(m, sizeof(m), "subject token %s: %s",
			    st_env ? st_env : st_file ? st_file : "stdin", why);
			errx_msg(ref, "credential", m);
			ex_rc = EX_CRED;
			goto out;
		}
		req.subject_token = subject;
	}
	if (at_file != NULL || at_env != NULL) {
		if (client_entry_find(cl, ref) != NULL &&
		    client_entry_find(cl, ref)->actor_token_type == NULL) {
			errx_msg(ref, "config", "an actor token needs "
			    "actor_token_type in the entry");
			ex_rc = EX_USAGE;
			goto out;
		}
		if (read_secret(at_file, at_env, false, &actor, &why) != SF_OK) {
			char m[512];

			(void)snprintf(m, sizeof(m), "actor token %s: %s",
			    at_env ? at_env : at_file, why);
			errx_msg(ref, "credential", m);
			ex_rc = EX_CRED;
			goto out;
		}
		req.actor_token = actor;
	}
	if (ex.htm != NULL) {
		if (body_file != NULL) {
			rc = sf_read_file(strcmp(body_file, "-") == 0 ?
			    "/dev/stdin" : body_file, BODY_MAX, &body,
			    &body_len);
			if (rc != SF_OK) {
				char m[512];

				(void)snprintf(m, sizeof(m), "body %s: %s",
				    body_file, rc == SF_ETOOBIG ?
				    "larger than 64 MiB" : strerror(errno));
				errx_msg(ref, NULL, m);
				ex_rc = EX_USAGE;
				goto out;
			}
			ex.body = body;
			ex.body_len = body_len;
		}
		req.exec = &ex;
	}
	req.no_cache = no_cache;

	if ((rc = client_token(cl, ref, &req, &t, &err)) != SF_OK) {
		errx_msg(ref, client_errkind_name(err.kind),
		    err.message ? err.message : sf_strerror(rc));
		ex_rc = exit_for(err.kind);
		goto out;
	}
	if (verbose) {
		char m[160];

		(void)snprintf(m, sizeof(m), "%s, %s", t->from_cache ?
		    "cached token" : "new token from the server",
		    t->expires_at != 0 ? "expiry known" : "no expires_in "
		    "(not cached)");
		errx_msg(ref, NULL, m);
		if (t->expires_at != 0)
			fprintf(stderr, PROG ": %s: expires in %llds\n", ref,
			    (long long)(t->expires_at - sf_now()));
	}
	if (json)
		ex_rc = print_json(t);
	else
		ex_rc = write_all(t->access_token) && write_all("\n") ?
		    EX_TOKEN : EX_INTERNAL;
	if (ex_rc != EX_TOKEN)
		errx_msg(ref, NULL, "cannot write the token to stdout");
out:
	client_token_free(t);
	client_error_clear(&err);
	client_free(cl);
	sf_strfree_secret(subject);
	sf_strfree_secret(actor);
	free(body);
	free(errmsg);
	free(conf);
	free(cdir);
	return ex_rc;
}
