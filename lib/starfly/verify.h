/*
 * starfly/verify.h - the confused-deputy check of an MCP tool call
 * (lib/verify.c) and the tool registry (lib/toolreg.c).  Included by
 * starfly.h only.
 *
 * A tool server can verify this unit's tokens without a round trip to
 * POST /v1/mcp/verify: link libcore.a, load the unit's JWKS (GET
 * /v1/identity/jwks, saved to a file) with jwks_parse, describe its own
 * registry entry as JSON and call verify_tool_call on each request.  The
 * revocation index and the policy are optional there (NULL: that check is
 * not made); mcp.fcgi and `starflyctl verify` pass both.
 */
#ifndef STARFLY_VERIFY_H
#define STARFLY_VERIFY_H

/*
 * Blast-radius ranks: function < service < namespace < cluster =
 * workspace < trust_domain < fabric; -1 for any other value.
 */
int		 verify_blast_rank(const char *b);

struct verify_ctx {
	const struct jwks	*keys;	  /* the unit's published keys */
	const char		*issuer;  /* the unit's issuer URL */
	int64_t			 skew;	  /* seconds allowed on exp/nbf/iat */
	const struct revoke_index *revoked; /* NULL: not checked */
	struct policy		*policy;  /* NULL: see require_policy */
	bool			 require_policy; /* no policy: refuse */
};

/* What the tool is being asked to do (all but tool_id may be NULL). */
struct verify_call {
	const char	*tool_id;
	const char	*htm, *htu, *inp_hash, *exec_act, *target;
};

enum verify_check {
	VERIFY_OK = 0,
	VERIFY_SIGNATURE,	/* signature, typ, iss, exp, nbf, iat */
	VERIFY_TOOL,		/* the tool is not registered */
	VERIFY_AUDIENCE,	/* aud is not the tool's resource_uri */
	VERIFY_REVOKED,		/* subject, an actor or the jti */
	VERIFY_CAPABILITIES,	/* caps not within the tool's */
	VERIFY_BLAST_RADIUS,	/* blast_radius past the tool's maximum */
	VERIFY_EXECUTION,	/* htm/htu/inp_hash/exec_act/target */
	VERIFY_POLICY		/* data.starfly.mcp_tool_call */
};
/* "signature", "tool", ...; static. */
const char	*verify_check_name(enum verify_check c);

struct verify_result {
	enum verify_check check;	/* VERIFY_OK when allowed */
	char		*why;		/* new: the failed check, in words */
	json_t		*claims;	/* new reference once the signature
					 * verified, else NULL */
	uint64_t	 policy_ns;	/* time spent in the policy */
};
void		 verify_result_clear(struct verify_result *r);

/*
 * Verify token for a call to tool (its registry entry, borrowed; NULL:
 * not registered) at now, in this order: signature with a key of
 * vc->keys (algorithm pinned by the key, RFC 8725), header typ at+jwt,
 * iss equal to vc->issuer, exp in the future, nbf and iat not in the
 * future (each within skew); the tool exists; aud is exactly the tool's
 * resource_uri (a string, or an array of that one string: a token for
 * several audiences is refused, RFC 8707 §2 / MCP authorization); sub,
 * every act.sub of the delegation chain and the jti are not revoked
 * (issued at iat); caps within the tool's capabilities and blast_radius
 * within its max_blast_radius when both sides have them; every
 * execution-scope claim the token carries (htm, htu, inp_hash, exec_act,
 * target) equal to the call's, and exec_act among the tool's exec_acts
 * when it lists them; the policy's data.starfly.mcp_tool_call allows
 * (input of API.md).
 * SF_OK when allowed; SF_EDENIED with res->check and res->why otherwise;
 * SF_EPOLICY when the policy could not be evaluated (no decision: the
 * caller answers 500); SF_ENOMEM.
 */
int		 verify_tool_call(const struct verify_ctx *vc,
		    const json_t *tool, const char *token, size_t len,
		    const struct verify_call *call, int64_t now,
		    struct verify_result *res);

/*
 * The tool registry (lib/toolreg.c).  Entries in namespace "tool", key
 * tool_id, value the entry JSON {tool_id, name?, resource_uri,
 * server_id?, description?, capabilities?, max_blast_radius?,
 * exec_acts?, registered_at}; the list of ids with a revision number in
 * "tool-index/ids" ({"rev": N, "ids": [...]}), written in the same
 * synced batch, so readers find every tool without walking the store.
 */
#define TOOLREG_NS	"tool"
#define TOOLREG_MAX	10000

/*
 * Check a registration request (API.md field rules; unknown members
 * refused).  SF_EINVAL with *why (new).
 */
int		 toolreg_validate(json_t *req, char **why);

/*
 * Register: SF_OK with *created true and *stored (new reference) the
 * entry with registered_at = now; SF_OK with *created false when the
 * same content is already registered (*stored is the existing entry);
 * SF_EEXIST when tool_id exists with different content; SF_ELIMIT past
 * TOOLREG_MAX tools.  Synced before SF_OK.
 */
int		 toolreg_add(struct store *st, const json_t *req, int64_t now,
		    json_t **stored, bool *created);
/* Deregister; SF_ENOTFOUND when absent.  Synced before SF_OK. */
int		 toolreg_del(struct store *st, const char *tool_id);
/* One entry (new reference); SF_ENOTFOUND when absent. */
int		 toolreg_get(struct store *st, const char *tool_id,
		    json_t **out);
/* Every entry, sorted by tool_id (new array). */
int		 toolreg_list(struct store *st, json_t **out);

/*
 * An in-memory copy for a long-running process: toolreg_cache_refresh is
 * one memory load when the store's change marker has not moved (nor the
 * ring's tool revision, when the process opened the revocation ring:
 * revoke.h), nothing more when the ring shows that only revocations
 * moved it, one read of the index otherwise, and reads of the entries
 * only when the index revision changed.  Tool writes made by a process
 * without the ring are seen at the next marker move the ring does not
 * explain.
 */
struct toolreg_cache;
int		 toolreg_cache_new(struct toolreg_cache **out);
int		 toolreg_cache_refresh(struct toolreg_cache *c, struct store *st);
/* Borrowed (valid until the next refresh), or NULL. */
const json_t	*toolreg_cache_get(const struct toolreg_cache *c,
		    const char *tool_id);
/* The entries as an array sorted by tool_id (borrowed). */
const json_t	*toolreg_cache_list(const struct toolreg_cache *c);
void		 toolreg_cache_free(struct toolreg_cache *c);

#endif /* STARFLY_VERIFY_H */
