# Tests for data.starfly.signal.
package starfly.signal_test

import rego.v1

import data.starfly.signal

caep := "https://schemas.openid.net/secevent/caep/event-type/"

risc := "https://schemas.openid.net/secevent/risc/event-type/"

event(t, claims) := {
	"action": "signal",
	"target": "https://starfly.example.com",
	"subject": {"id": "spiffe://prod.example.com/ns/a/sa/b", "format": "uri"},
	"context": {"event_types": [t], "jti": "j1", "iss": "https://idp.example.com", "events": {t: claims}},
}

test_session_revoked_revokes if {
	req := event(concat("", [caep, "session-revoked"]), {})
	signal.allow with input as req
	signal.claims == {"revoke_tokens": true, "revoke_ttl": 86400} with input as req
}

test_credential_change if {
	t := concat("", [caep, "credential-change"])
	signal.claims.revoke_tokens with input as event(t, {"change_type": "revoke"})
	not signal.claims.revoke_tokens with input as event(t, {"change_type": "create"})
}

test_device_compliance if {
	t := concat("", [caep, "device-compliance-change"])
	signal.claims.revoke_tokens with input as event(t, {"current_status": "not-compliant"})
	req := event(t, {"current_status": "compliant"})
	signal.allow with input as req
	signal.claims == {} with input as req
}

test_account_enabled_does_not_revoke if {
	req := event(concat("", [risc, "account-enabled"]), {})
	signal.allow with input as req
	not signal.claims.revoke_tokens with input as req
}

test_unsupported_event_denied if {
	t := "https://example.com/event/unknown"
	not signal.allow with input as event(t, {})
	signal.reason == sprintf("event type %s is not supported", [t]) with input as event(t, {})
}

test_no_event_denied if {
	req := {"action": "signal", "context": {"event_types": []}}
	not signal.allow with input as req
	signal.reason == "the SET carries no event" with input as req
}
