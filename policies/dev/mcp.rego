# data.starfly.mcp_tool_call - dev bundle: allow every verified call.
#
# mcp.fcgi asks this after its own checks passed (signature, tool,
# audience, revocation, capabilities, blast radius, execution scope), so
# the dev policy only requires a subject.  Input: API.md "MCP policy input".
package starfly.mcp_tool_call

default allow := false

allow if input.subject.id != ""

reason := "the token has no subject" if not allow
