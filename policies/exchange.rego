# data.starfly.exchange - production token-exchange policy (RFC 8693).
#
# Input (API.md "Policy input"): action, target (first audience),
# audiences, subject {id, trust_domain, type, issuer, claims}, actor
# (same shape, delegation only), context {scope, client_id,
# execution_scope?, agent?}.
#
# Data (data.json beside this file), keyed for direct lookups:
#   trust_domains   {domain: {enabled}}     whose subjects may exchange
#   audience_rules  {domain: {audiences, audience_prefixes?, ttl?}}
#                   which audiences the domain's subjects may obtain
#   scope_mappings  {domain: {audience: [scope]}}  scopes per audience
#   admins          [subject id]            may obtain <issuer>/admin tokens
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

domain_trusted(td) if data.trust_domains[td].enabled == true

subject_trusted if domain_trusted(input.subject.trust_domain)

actor_ok if not input.actor

actor_ok if domain_trusted(input.actor.trust_domain)

# Admin tokens: audience <issuer>/admin with scope starfly:admin.
admin_request if endswith(input.target, "/admin")

admin_request if "starfly:admin" in requested_scopes

is_admin if input.subject.id in data.admins

rules := data.audience_rules[input.subject.trust_domain]

audience_allowed(aud) if aud in rules.audiences

audience_allowed(aud) if {
	some prefix in rules.audience_prefixes
	startswith(aud, prefix)
}

audiences_allowed if {
	every aud in input.audiences {
		audience_allowed(aud)
	}
}

scopes_allowed if {
	allowed := data.scope_mappings[input.subject.trust_domain][input.target]
	every s in requested_scopes {
		s in allowed
	}
}

scopes_allowed if count(requested_scopes) == 0

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

claims.ttl := rule_ttl if {
	allow
	rule_ttl > 0
}

default rule_ttl := 0

rule_ttl := rules.ttl if is_number(rules.ttl) else := data.ttl if is_number(data.ttl)

claims.scope := concat(" ", requested_scopes) if {
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
