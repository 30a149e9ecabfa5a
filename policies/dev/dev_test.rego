# Tests for the dev bundle (starflyctl policy test policies/dev).
package starfly.dev_test

import rego.v1

import data.starfly.exchange
import data.starfly.mcp_tool_call as mcp
import data.starfly.signal

test_exchange_allows_everything if {
	exchange.allow with input as {"subject": {"id": "x"}, "target": "anything"}
	exchange.reason == "dev mode: all exchanges allowed"
	not exchange.claims
}

test_mcp_audience_is_the_resource if {
	mcp.allow with input as {"token": {"aud": "https://t/1"}, "tool": {"resource_uri": "https://t/1"}}
	mcp.allow with input as {"token": {"aud": ["a", "https://t/1"]}, "tool": {"resource_uri": "https://t/1"}}
	not mcp.allow with input as {"token": {"aud": "https://t/2"}, "tool": {"resource_uri": "https://t/1"}}
	mcp.reason == "the token was not issued for this tool's resource" with input as {"token": {}, "tool": {"resource_uri": "https://t/1"}}
}

test_signal_revokes_on_session_revoked if {
	t := "https://schemas.openid.net/secevent/caep/event-type/session-revoked"
	signal.allow with input as {"context": {"event_types": [t]}}
	signal.claims.revoke_tokens with input as {"context": {"event_types": [t]}}
	other := "https://schemas.openid.net/secevent/risc/event-type/account-enabled"
	signal.allow with input as {"context": {"event_types": [other]}}
	not signal.claims.revoke_tokens with input as {"context": {"event_types": [other]}}
}
