# data.starfly.mcp_tool_call - dev bundle: a call is allowed when the
# token was issued for the tool (its audience is the tool's resource URI).
# Input: API.md "MCP policy input".
package starfly.mcp_tool_call

import rego.v1

default allow := false

allow if input.tool.resource_uri == input.token.aud

allow if input.tool.resource_uri in input.token.aud

reason := "the token was not issued for this tool's resource" if not allow
