# data.starfly.exchange - production token-exchange policy (RFC 8693).
#
# Input (API.md "Policy input"): action, target (first audience),
# audiences, subject {id, trust_domain, type, issuer, claims}, actor
# (same shape, delegation only), context {scope, client_id,
# execution_scope?, agent?}.
#
# Data (data.json beside this file):
#   trust_domains   [{name, enabled}]          domains whose subjects may exchange
#   audience_rules  [{source_domain, audiences, ttl?}]
#                   which audiences a domain's subjects may obtain ("*"
#                   suffix: prefix match)
#   scope_mappings  [{source_domain, target, allowed_scopes}]
#   admins          [subject id]                may obtain <issuer>/admin tokens
#   ttl             default lifetime obligation (seconds)
#
# Decision: allow, reason, and claims (obligations): ttl, scope (the grant
# the requested scope is intersected with), audiences (consent to several
# audiences), error (which OAuth error a denial gets), delegation_depth.
package starfly.exchange

import rego.v1

default allow := false

requested_scopes contains s if {
	some s in split(input.context.scope, " ")
	s != ""
}

domain_trusted(td) if {
	some d in data.trust_domains
	d.name == td
	d.enabled == true
}

subject_trusted if domain_trusted(input.subject.trust_domain)

actor_ok if not input.actor

actor_ok if domain_trusted(input.actor.trust_domain)

# Admin tokens: audience <issuer>/admin with scope starfly:admin.
admin_request if endswith(input.target, "/admin")

admin_request if "starfly:admin" in requested_scopes

is_admin if input.subject.id in data.admins

audience_allowed(aud) if {
	some r in data.audience_rules
	r.source_domain == input.subject.trust_domain
	some a in r.audiences
	audience_matches(a, aud)
}

audience_matches(pattern, aud) if pattern == aud

audience_matches(pattern, aud) if {
	endswith(pattern, "*")
	startswith(aud, trim_suffix(pattern, "*"))
}

audiences_allowed if {
	every aud in input.audiences {
		audience_allowed(aud)
	}
}

allowed_scopes contains s if {
	some m in data.scope_mappings
	m.source_domain == input.subject.trust_domain
	m.target == input.target
	some s in m.allowed_scopes
}

scopes_allowed if {
	every s in requested_scopes {
		s in allowed_scopes
	}
}

allow if {
	not admin_request
	subject_trusted
	actor_ok
	audiences_allowed
	scopes_allowed
}

allow if {
	admin_request
	is_admin
	subject_trusted
	actor_ok
	count(input.audiences) == 1
	every s in requested_scopes {
		s == "starfly:admin"
	}
}

# Why a request is denied; also which OAuth error it gets (claims.error).
default denial := ["", "invalid_request"]

denial := ["subject trust domain is not trusted", "invalid_request"] if {
	not subject_trusted
} else := ["actor trust domain is not trusted", "invalid_request"] if {
	not actor_ok
} else := ["subject is not an admin", "invalid_target"] if {
	admin_request
	not is_admin
} else := ["audience is not permitted", "invalid_target"] if {
	not admin_request
	not audiences_allowed
} else := ["scope is not permitted", "invalid_scope"] if {
	not admin_request
	not scopes_allowed
}

reason := denial[0] if not allow

claims.error := denial[1] if not allow

claims.ttl := t if {
	allow
	t := rule_ttl
}

rule_ttl := min(ttls) if {
	ttls := {r.ttl |
		some r in data.audience_rules
		r.source_domain == input.subject.trust_domain
		some a in r.audiences
		audience_matches(a, input.target)
		is_number(r.ttl)
	}
	count(ttls) > 0
} else := data.ttl

claims.scope := concat(" ", sort([s | some s in requested_scopes])) if {
	allow
	count(requested_scopes) > 0
}

claims.audiences := input.audiences if {
	allow
	count(input.audiences) > 1
}

claims.delegation_depth := 2 if {
	allow
	not admin_request
}
