# data.starfly.mcp_tool_call - production: the call is allowed when the
# token's subject belongs to a trust domain and, when data.mcp.
# allowed_domains lists trust domains for this tool, to one of them.
#
# mcp.fcgi has already checked signature, tool, audience (the
# confused-deputy rule), revocation, capabilities, blast radius and the
# execution scope; this is the place for deployment rules, e.g. which
# trust domains may call which tools (data.mcp.allowed_domains).
package starfly.mcp_tool_call

default allow := false

allow if {
	input.subject.trust_domain != ""
	domain_allowed
}

domain_allowed if not data.mcp.allowed_domains[input.target]

domain_allowed if input.subject.trust_domain in data.mcp.allowed_domains[input.target]

reason := "the token's subject has no trust domain" if input.subject.trust_domain == ""

reason := sprintf("trust domain %s may not call tool %s", [input.subject.trust_domain, input.target]) if {
	input.subject.trust_domain != ""
	not domain_allowed
}
