/*
 * starfly/obs.h - observability shared by every program: metrics summed
 * across processes (lib/metrics.c) and the hash-chained audit trail
 * (lib/audit.c).  Included by starfly.h only.
 *
 * Both are safe to call with a NULL handle (they then do nothing), so a
 * program whose metrics segment or audit directory is unavailable still
 * serves (and logs why once).
 */
#ifndef STARFLY_OBS_H
#define STARFLY_OBS_H

struct metrics;

/* Map the unit's metrics segment (created on first use).  *out is new. */
int		 metrics_open(const struct sf_conf *c, struct metrics **out);
void		 metrics_close(struct metrics *m);

/* Any program: one finished HTTP request (route is the route path). */
void		 metrics_request(struct metrics *m, const char *prog,
		    const char *route, int status, uint64_t ns);
/*
 * Label values come from fixed sets; anything else counts as "other".
 *  status: "success", "denied", "revoked", "replay", "sealed", or the
 *    OAuth error code answered (invalid_request, invalid_target,
 *    invalid_scope, invalid_client, unsupported_grant_type,
 *    temporarily_unavailable, server_error).
 *  source_type: the subject_token_type URI (or its last part: jwt,
 *    access_token, oidc, spiffe-svid, agent-mcp, aws-sts, gcp-wif,
 *    azure-mi); NULL or "" is "none".
 *  point (policy): "exchange", "mcp_tool_call", "signal".
 *  tool_id: the first 256 distinct ids get their own series.
 *  event_type: a CAEP/RISC event URI (its last path segment counts);
 *    result: "accepted", "duplicate", "rejected", "error".
 */
/* starfly_exchange_requests_total{status,source_type} and duration. */
void		 metrics_exchange(struct metrics *m, const char *status,
		    const char *source_type, uint64_t ns);
/* starfly_policy_evaluation_duration_seconds{point}. */
void		 metrics_policy(struct metrics *m, const char *point,
		    uint64_t ns);
/* starfly_mcp_tool_calls_total{tool_id,decision} and verify duration. */
void		 metrics_mcp_verify(struct metrics *m, const char *tool_id,
		    bool allowed, uint64_t ns);
/* starfly_signals_received_total{event_type,result}. */
void		 metrics_signal(struct metrics *m, const char *event_type,
		    const char *result);
/* Gauges a process owns (revocation index size, ...). */
void		 metrics_revocations(struct metrics *m, uint64_t count);
/* starfly_store_write_duration_seconds, starfly_store_write_failures_total. */
void		 metrics_store_write(struct metrics *m, bool ok, uint64_t ns);
/* starfly_audit_records_total{type}, failures, append duration. */
void		 metrics_audit(struct metrics *m, const char *type, bool ok,
		    uint64_t ns);

/*
 * The handle metrics_open returned first in this process (borrowed, or
 * NULL): what metrics_after and audit_record count into.
 */
struct metrics	*metrics_default(void);
/*
 * A ready-made http_server.after hook: metrics_request on
 * metrics_default() with the program named by the route, the request's
 * status and its duration.  arg is ignored.
 */
void		 metrics_after(struct http_req *req, void *arg);

/*
 * The server-sent-event pool (events.fcgi): claim one of max (<= 256)
 * stream slots unit-wide; slots of dead processes are reclaimed.
 * Returns the slot (>= 0) or SF_EBUSY when all are held.
 */
int		 metrics_sse_claim(struct metrics *m, int max);
void		 metrics_sse_release(struct metrics *m, int slot);

/* What the scraping program adds (sys.fcgi); -1 when unknown. */
struct metrics_info {
	const char	*unit_id;		/* borrowed, may be NULL */
	const char	*mode;			/* "dev" | "production" */
	int		 sealed;		/* 0, 1, or -1 */
	int64_t		 key_age;		/* active key, seconds */
	int64_t		 keys_published;
};
/*
 * Prometheus text exposition format 0.0.4 of the whole segment (every
 * process of the unit).  *out is new (NUL-terminated), *len its length.
 */
int		 metrics_render(struct metrics *m,
		    const struct metrics_info *info, char **out, size_t *len);

struct audit;

/*
 * Open the audit trail for program prog.  *out is new.  Appends never
 * wait on a disk sync (see lib/audit.c for the design).
 */
int		 audit_open(const struct sf_conf *c, const char *prog,
		    struct audit **out);
void		 audit_close(struct audit *a);

/*
 * Append one decision record: request id, type ("exchange", "agent",
 * "tool", "verify", "signal", "revocation", "seal"), action, subject,
 * target, decision ("allow"/"deny"/...), reason, and extra fields
 * (borrowed, may be NULL).  Strings may be NULL.
 */
int		 audit_record(struct audit *a, const char *request_id,
		    const char *type, const char *action, const char *subject,
		    const char *target, const char *decision,
		    const char *reason, const json_t *extra);

/* Start a new file now; the chain goes on from the rotated file. */
int		 audit_rotate(struct audit *a);

/*
 * One line of the audit log, parsed and its own hash checked (not its
 * link to the previous line: that is the caller's walk).  The line is
 * {"seq":N,...,"prev":"<64 hex>","hash":"<64 hex>"} where hash is the
 * SHA-256 of the line's bytes up to and including the prev member.
 * SF_EPARSE with *why (static) when malformed or the hash does not
 * match.  obj is a new reference (the parsed record) when wanted.
 */
struct audit_line {
	uint64_t	 seq;
	char		 prev[65];
	char		 hash[65];
	const char	*type;		/* borrowed from obj or typebuf */
	json_t		*obj;		/* new reference */
	char		 typebuf[32];
};
int		 audit_parse_line(const char *line, size_t len,
		    struct audit_line *out, const char **why);
void		 audit_line_clear(struct audit_line *l);

/*
 * Walk the whole trail (rotated files in order, then audit.log) checking
 * every line's hash, sequence and link.  SF_OK when intact; SF_EPARSE
 * when broken, with the first broken place in r.  r's strings are new;
 * audit_report_clear frees them.
 */
struct audit_report {
	uint64_t	 records;
	uint64_t	 first_seq, last_seq;
	char		 last_hash[65];
	uint64_t	 head_seq;	/* what the unit wrote, 0 unknown */
	char		*file;		/* broken file, or NULL */
	uint64_t	 line;		/* 1-based line in it */
	char		*why;
};
int		 audit_verify(const struct sf_conf *c, struct audit_report *r);
void		 audit_report_clear(struct audit_report *r);

/*
 * Follow the trail (events.fcgi, `starflyctl audit tail`) across
 * rotations, woken by inotify: lines with seq > after; with after 0,
 * every line when from_start, else only lines appended from now on.
 * audit_follow_fd is the descriptor to poll for input; -1 when no
 * inotify instance was left, and the caller polls on a short timer.
 * audit_follow_next fills line's seq and type only (no hash check, no
 * JSON parse: cheap enough for many readers; audit verify checks) and
 * raw and rawlen (the line without its newline, borrowed until the next
 * call), or returns SF_ENOTFOUND when no complete line is there yet.
 * Lines without a leading seq are skipped.
 */
struct audit_follow;
int		 audit_follow_open(const struct sf_conf *c, uint64_t after,
		    bool from_start, struct audit_follow **out);
int		 audit_follow_fd(const struct audit_follow *f);
int		 audit_follow_next(struct audit_follow *f,
		    struct audit_line *line, const char **raw, size_t *rawlen);
void		 audit_follow_close(struct audit_follow *f);

#endif /* STARFLY_OBS_H */
