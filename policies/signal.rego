# data.starfly.signal - production: accept CAEP/RISC events that name a
# subject, from any configured transmitter (the receiver has verified the
# SET's signature, issuer and audience before asking).
#
# Obligations read from claims: revoke_tokens (true forces a revocation,
# false suppresses one), revoke_ttl (seconds a revocation lasts).
package starfly.signal

supported := {
	"https://schemas.openid.net/secevent/caep/event-type/session-revoked",
	"https://schemas.openid.net/secevent/caep/event-type/credential-change",
	"https://schemas.openid.net/secevent/caep/event-type/device-compliance-change",
	"https://schemas.openid.net/secevent/caep/event-type/token-claims-change",
	"https://schemas.openid.net/secevent/caep/event-type/assurance-level-change",
	"https://schemas.openid.net/secevent/risc/event-type/account-disabled",
	"https://schemas.openid.net/secevent/risc/event-type/account-enabled",
	"https://schemas.openid.net/secevent/risc/event-type/account-purged",
	"https://schemas.openid.net/secevent/risc/event-type/credential-compromise",
	"https://schemas.openid.net/secevent/risc/event-type/sessions-revoked",
	"https://schemas.openid.net/secevent/risc/event-type/identifier-changed",
	"https://schemas.openid.net/secevent/ssf/event-type/verification",
}

default allow := false

allow if {
	every t in input.context.event_types {
		t in supported
	}
}

reason := "an event type is not supported" if not allow
