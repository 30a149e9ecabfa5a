# data.starfly.mcp_tool_call - production MCP tool-call policy.
#
# Input (API.md "MCP policy input"): action, target (tool id), subject
# {id, trust_domain}, token (the verified token's claims), tool (registry
# entry: resource_uri, capabilities?, max_blast_radius?, exec_acts?),
# context {htm?, htu?, exec_act?, target?, inp_hash?}.
#
# mcp.fcgi has checked signature, expiry, revocation, capabilities and the
# execution scope before asking; the policy adds the deployment rules:
# the token was issued for this tool (audience = resource URI), its
# subject's trust domain is trusted, the tool admits the domain
# (data.mcp.allowed_domains[tool_id], optional) and the action
# (tool.exec_acts, optional).
package starfly.mcp_tool_call

import rego.v1

default allow := false

token_audiences contains a if {
	is_string(input.token.aud)
	a := input.token.aud
}

token_audiences contains a if {
	some a in input.token.aud
}

audience_ok if input.tool.resource_uri in token_audiences

domain_trusted if data.trust_domains[input.subject.trust_domain].enabled == true

domain_allowed if not data.mcp.allowed_domains[input.target]

domain_allowed if input.subject.trust_domain in data.mcp.allowed_domains[input.target]

exec_act_ok if not input.context.exec_act

exec_act_ok if not input.tool.exec_acts

exec_act_ok if input.context.exec_act in input.tool.exec_acts

allow if {
	audience_ok
	domain_trusted
	domain_allowed
	exec_act_ok
}

reason := "the token was not issued for this tool's resource" if {
	not audience_ok
} else := "the subject's trust domain is not trusted" if {
	not domain_trusted
} else := sprintf("trust domain %s may not call tool %s", [input.subject.trust_domain, input.target]) if {
	not domain_allowed
} else := sprintf("action %s is not permitted by tool %s", [input.context.exec_act, input.target]) if {
	not exec_act_ok
}
