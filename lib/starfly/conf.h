/*
 * starfly/conf.h - configuration files (lib/conf.c).  Included by
 * starfly.h only.
 *
 * Format: one "key value" per line; '#' starts a comment; blank lines are
 * skipped; a value may be double-quoted.  Unknown keys, repeated keys and
 * bad values are errors reported as "file:line: message".  The same
 * parser, driven by a per-file table of keys (conf_key), reads
 * starfly.conf and the drop-in files of etc/issuers.d/, etc/clients.d/
 * and etc/transmitters.d/.
 */
#ifndef STARFLY_CONF_H
#define STARFLY_CONF_H

enum conf_type {
	CONF_STR,	/* char *, new */
	CONF_INT,	/* long long within [min, max] */
	CONF_BOOL,	/* bool: yes|no|true|false|on|off */
	CONF_ENUM,	/* int index into choices (NULL-terminated) */
	CONF_URL,	/* char *: absolute http(s) URL */
	CONF_PATH,	/* char *: relative paths resolved against base dir */
	CONF_LIST	/* char **: NULL-terminated, space-separated words */
};

/* One accepted key: where it goes in the destination struct. */
struct conf_key {
	const char	 *name;
	enum conf_type	  type;
	size_t		  offset;	/* offsetof(dst struct, member) */
	long long	  min, max;	/* CONF_INT range; CONF_STR max length */
	const char *const *choices;	/* CONF_ENUM */
	bool		  required;
};

/*
 * Parse path with table into dst.  Relative CONF_PATH values are resolved
 * against base (NULL: the file's directory).  On error *errmsg is new
 * ("file:line: ...").  Members set are new allocations; free them with
 * conf_free_fields(table, dst).
 */
int		 conf_parse(const char *path, const struct conf_key *table,
		    const char *base, void *dst, char **errmsg);
int		 conf_parse_buf(const char *name, const char *buf, size_t len,
		    const struct conf_key *table, const char *base, void *dst,
		    char **errmsg);
void		 conf_free_fields(const struct conf_key *table, void *dst);

enum sf_mode { SF_MODE_PRODUCTION = 0, SF_MODE_DEV = 1 };

/* The unit's configuration (starfly.conf). */
struct sf_conf {
	char		*file;		/* the file it came from */
	int		 mode;		/* enum sf_mode */
	char		*issuer;	/* issuer URL, no trailing slash */
	char		*state_dir;	/* var/ in dev */
	char		*store;		/* GDBM file */
	char		*keys_dir;
	char		*policy_dir;
	char		*audit_dir;
	char		*run_dir;	/* sockets, shared memory names */
	char		*etc_dir;	/* issuers.d, clients.d, transmitters.d */
	char		*www_dir;
	char		*listen;	/* what `make run` binds (host:port) */
	int		 signing_alg;	/* enum jws_alg */
	long long	 body_limit;	/* default per-route cap, bytes */
	long long	 token_ttl;	/* seconds */
	long long	 exec_token_ttl;
	long long	 max_token_ttl;
	long long	 clock_skew;
	long long	 sse_workers;
	bool		 show_reasons;	/* policy reasons in production errors */
	bool		 public_clients; /* unknown client_ids allowed */
	bool		 use_syslog;
	int		 log_level;	/* enum sf_loglevel */
	char		*trust_domain;	/* this unit's own trust domain */
};

/*
 * Which file to read: --config FILE (removed from argv), else
 * $STARFLY_CONF, else /etc/starfly/starfly.conf.  Borrowed result.
 */
const char	*conf_path_from_args(int *argc, char **argv);

/* Load and validate; *out is new.  Defaults fill what the file omits. */
int		 conf_load(const char *path, struct sf_conf **out,
		    char **errmsg);
void		 conf_free(struct sf_conf *c);

/*
 * The unit on disk (lib/unit.c).  unit_init creates what a unit needs and
 * is idempotent: state, run and audit directories, the unit id (12 hex
 * digits, stable per installation, in state_dir/unit_id), the keyring
 * and the store.
 */
int		 unit_init(const struct sf_conf *c);
/* Read the unit id into out (NUL-terminated); SF_ENOTFOUND before init. */
int		 unit_id(const struct sf_conf *c, char out[13]);

/*
 * Program start-up shared by every FastCGI program (lib/prog.c): parse
 * --config and --listen, load the configuration, start logging.  On
 * failure the reason is printed to stderr and an error returned; the
 * caller's main returns non-zero (start-up, not the request loop).
 */
struct prog {
	const char	*name;
	const char	*config_path;	/* borrowed from argv or environment */
	const char	*listen;	/* borrowed from argv, or NULL */
	int		 workers;	/* --workers N, default 1 */
	struct sf_conf	*conf;		/* new; prog_fini frees it */
};
int		 prog_init(struct prog *p, const char *name, int *argc,
		    char **argv);
void		 prog_fini(struct prog *p);
/*
 * Fill what every program's server shares: name, route table, handler
 * argument, body cap, --listen and --workers.  Hooks are the caller's.
 */
/*
 * Open what a deciding program shares with the unit: the policy bundle
 * watch (pw may be NULL when not wanted), the metrics segment and the
 * audit trail under audit_name.  Each that fails is logged and left
 * NULL; the program still serves (a NULL policy answers 500).
 */
struct policy_watch;
struct metrics;
struct audit;
void		 prog_open_shared(const struct prog *p, const char *audit_name,
		    struct policy_watch **pw, struct metrics **m,
		    struct audit **a);
struct http_server;
struct http_route;
void		 prog_server(const struct prog *p, struct http_server *srv,
		    const struct http_route *routes, size_t nroutes, void *arg);

#endif /* STARFLY_CONF_H */
