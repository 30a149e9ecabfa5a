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

#endif /* STARFLY_OBS_H */
