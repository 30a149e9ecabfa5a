# Tests for data.starfly.mcp_tool_call.
package starfly.mcp_tool_call_test

import rego.v1

import data.starfly.mcp_tool_call as mcp

call := {
	"action": "mcp_tool_call",
	"target": "search",
	"subject": {"id": "spiffe://prod.example.com/ns/ai/sa/agent", "trust_domain": "prod.example.com"},
	"token": {"aud": "https://tools.example.com/search", "sub": "spiffe://prod.example.com/ns/ai/sa/agent"},
	"tool": {"tool_id": "search", "resource_uri": "https://tools.example.com/search"},
	"context": {},
}

test_allow if {
	mcp.allow with input as call
	not mcp.reason with input as call
}

test_audience_array if {
	req := object.union(call, {"token": {"aud": ["x", "https://tools.example.com/search"]}})
	mcp.allow with input as req
}

test_deny_wrong_audience if {
	req := object.union(call, {"token": {"aud": "https://tools.example.com/other"}})
	not mcp.allow with input as req
	mcp.reason == "the token was not issued for this tool's resource" with input as req
}

test_deny_untrusted_domain if {
	req := object.union(call, {"subject": {"trust_domain": "evil.example.org"}})
	not mcp.allow with input as req
	mcp.reason == "the subject's trust domain is not trusted" with input as req
}

test_allowed_domains_per_tool if {
	refund := object.union(call, {"target": "payments-refund"})
	mcp.allow with input as refund
	partner := object.union(refund, {"subject": {"trust_domain": "partner.example.net"}})
	not mcp.allow with input as partner
	mcp.reason == "trust domain partner.example.net may not call tool payments-refund" with input as partner
}

test_exec_act if {
	tool := object.union(call, {"tool": {"exec_acts": ["read"]}})
	mcp.allow with input as object.union(tool, {"context": {"exec_act": "read"}})
	not mcp.allow with input as object.union(tool, {"context": {"exec_act": "delete"}})
}
