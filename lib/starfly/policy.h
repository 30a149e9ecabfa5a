/*
 * starfly/policy.h - the embedded Rego engine (lib/policy/).  Included by
 * starfly.h only.
 *
 * A bundle is a directory loaded like OPA loads one: every .rego file
 * below it compiled together, every data.json placed in data at the path
 * of its directory, except subdirectories holding their own .manifest
 * (separate bundles).  Evaluation is in-process, bounded (depth and step
 * limits), and never touches the network.
 */
#ifndef STARFLY_POLICY_H
#define STARFLY_POLICY_H

/* A compiled bundle.  Immutable after load; one per program. */
struct policy;

/*
 * Compile the bundle at dir.  On error *errmsg (new) holds
 * "file:line:col: message" and SF_EPOLICY is returned.  *out is new.
 */
int		 policy_load(const char *dir, struct policy **out, char **errmsg);

/*
 * Compile a list of paths (files or directories) together, as
 * `starflyctl policy` does.  data_file (optional) is a JSON document
 * merged at data's root.
 */
int		 policy_load_paths(const char *const *paths, size_t npaths,
		    const char *data_file, struct policy **out, char **errmsg);

void		 policy_free(struct policy *p);

/*
 * Evaluate a Rego query (a body, e.g. "data.x.allow = a") against input
 * (borrowed, may be NULL: undefined).  *rows is a new JSON array of
 * objects binding the query's variables: [] undefined, [{}] true without
 * variables.  SF_EPOLICY on an evaluation error (*errmsg new), SF_ELIMIT
 * when a limit was hit.
 */
int		 policy_query(struct policy *p, const char *query,
		    const json_t *input, json_t **rows, char **errmsg);

/*
 * Starfly's decision contract for decision point point ("exchange",
 * "mcp_tool_call", "signal"): data.starfly.<point>.allow / .reason /
 * .claims.  allow is true only when allow is exactly true; an allow that
 * is undefined or not a boolean gives reason "no policy found"; a string
 * reason replaces it (also when allowed); claims is set when it is an
 * object (sets become sorted arrays).  An evaluation error is returned as
 * SF_EPOLICY, a hit limit as SF_ELIMIT (no decision either way: the
 * caller answers 500 and never allows); a point that is not a plain name
 * is SF_EINVAL.  The three queries share one evaluation (one input
 * conversion, one rule cache); memory is reused between decisions.
 */
struct policy_decision {
	bool		 allow;
	char		*reason;	/* new, may be NULL */
	json_t		*claims;	/* new reference, may be NULL */
};
int		 policy_decide(struct policy *p, const char *point,
		    const json_t *input, struct policy_decision *out);
void		 policy_decision_clear(struct policy_decision *d);

/*
 * Run every test_* rule of the compiled modules like `opa test`; prints
 * PASS/FAIL/ERROR lines to fp and a closing "N passed, N failed".
 * Returns SF_OK only when all pass.
 */
int		 policy_run_tests(struct policy *p, void *fp, int verbose);

/*
 * A bundle that follows its directory: policy_watch_refresh() recompiles
 * when any file under dir changed (cheap stat walk, rate-limited), keeps
 * the old compiled bundle when the new one fails (logged), and returns
 * the current bundle (borrowed).
 */
struct policy_watch;
int		 policy_watch_open(const char *dir, struct policy_watch **out,
		    char **errmsg);
struct policy	*policy_watch_current(struct policy_watch *w);
int		 policy_watch_refresh(struct policy_watch *w);
/* The same now, whatever the rate limit (SIGHUP). */
int		 policy_watch_reload(struct policy_watch *w);
void		 policy_watch_free(struct policy_watch *w);

#endif /* STARFLY_POLICY_H */
