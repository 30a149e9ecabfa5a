# data.starfly.signal - production policy for CAEP/RISC security events.
#
# Input: action, target (SET audience), subject {id, format}, context
# {event_types: [URI], jti, iss, events: {URI: event claims}}.  The
# receiver has verified the SET (signature, issuer, audience) first.
#
# Decision: allow when every event type is supported; obligations in
# claims: revoke_tokens (true forces a revocation, false suppresses one;
# absent leaves the receiver's event table to decide), revoke_ttl.
package starfly.signal

import rego.v1

caep := "https://schemas.openid.net/secevent/caep/event-type/"

risc := "https://schemas.openid.net/secevent/risc/event-type/"

supported := {
	concat("", [caep, "session-revoked"]),
	concat("", [caep, "credential-change"]),
	concat("", [caep, "device-compliance-change"]),
	concat("", [caep, "token-claims-change"]),
	concat("", [caep, "assurance-level-change"]),
	concat("", [risc, "account-disabled"]),
	concat("", [risc, "account-enabled"]),
	concat("", [risc, "account-purged"]),
	concat("", [risc, "credential-compromise"]),
	concat("", [risc, "sessions-revoked"]),
	concat("", [risc, "identifier-changed"]),
	"https://schemas.openid.net/secevent/ssf/event-type/verification",
}

default allow := false

allow if {
	count(input.context.event_types) > 0
	every t in input.context.event_types {
		t in supported
	}
}

reason := "the SET carries no event" if {
	count(input.context.event_types) == 0
} else := sprintf("event type %s is not supported", [t]) if {
	t := min({u | some u in input.context.event_types; not u in supported})
}

# Events that end the subject's sessions.
revoking contains concat("", [caep, "session-revoked"])

revoking contains concat("", [risc, "account-disabled"])

revoking contains concat("", [risc, "account-purged"])

revoking contains concat("", [risc, "credential-compromise"])

revoking contains concat("", [risc, "sessions-revoked"])

revoke if {
	some t in input.context.event_types
	t in revoking
}

revoke if {
	ev := input.context.events[concat("", [caep, "credential-change"])]
	ev.change_type in {"revoke", "delete"}
}

revoke if {
	ev := input.context.events[concat("", [caep, "device-compliance-change"])]
	ev.current_status == "not-compliant"
}

claims.revoke_tokens := true if {
	allow
	revoke
}

claims.revoke_ttl := data.signals.revoke_ttl if {
	allow
	revoke
	is_number(data.signals.revoke_ttl)
}
