# Tests for data.starfly.exchange (starflyctl policy test policies/).
package starfly.exchange_test

import rego.v1

import data.starfly.exchange

base := {
	"action": "exchange",
	"target": "https://api.example.com",
	"audiences": ["https://api.example.com"],
	"subject": {
		"id": "spiffe://prod.example.com/ns/shop/sa/cart",
		"trust_domain": "prod.example.com",
		"type": "urn:starfly:token-type:spiffe-svid",
		"issuer": "spiffe://prod.example.com",
		"claims": {},
	},
	"context": {"scope": "read", "client_id": "cart"},
}

test_allow_trusted_subject_audience_and_scope if {
	exchange.allow with input as base
	exchange.claims == {"ttl": 600, "scope": "read", "delegation_depth": 2} with input as base
	not exchange.reason with input as base
}

test_deny_untrusted_domain if {
	req := object.union(base, {"subject": {"trust_domain": "evil.example.org"}})
	not exchange.allow with input as req
	exchange.reason == "subject trust domain is not trusted" with input as req
	exchange.claims.error == "invalid_request" with input as req
}

test_deny_disabled_domain if {
	req := object.union(base, {"subject": {"trust_domain": "legacy.example.com"}})
	not exchange.allow with input as req
}

test_deny_audience if {
	req := object.union(base, {"target": "https://hr.example.com", "audiences": ["https://hr.example.com"]})
	not exchange.allow with input as req
	exchange.reason == "audience is not permitted" with input as req
	exchange.claims.error == "invalid_target" with input as req
}

test_deny_scope if {
	req := object.union(base, {"context": {"scope": "read admin"}})
	not exchange.allow with input as req
	exchange.reason == "scope is not permitted" with input as req
	exchange.claims.error == "invalid_scope" with input as req
}

test_empty_scope_needs_no_mapping if {
	req := object.union(base, {"target": "spiffe://prod.example.com/payments", "audiences": ["spiffe://prod.example.com/payments"], "context": {"scope": ""}})
	exchange.allow with input as req
	not exchange.claims.scope with input as req
}

test_prefix_audience_rule if {
	req := object.union(base, {"target": "spiffe://prod.example.com/ledger", "audiences": ["spiffe://prod.example.com/ledger"], "context": {"scope": ""}})
	exchange.allow with input as req
}

test_several_audiences_consented if {
	auds := ["https://api.example.com", "https://billing.example.com"]
	req := object.union(base, {"audiences": auds, "context": {"scope": ""}})
	exchange.allow with input as req
	exchange.claims.audiences == auds with input as req
}

test_several_audiences_one_refused if {
	req := object.union(base, {"audiences": ["https://api.example.com", "https://hr.example.com"]})
	not exchange.allow with input as req
}

test_ttl_from_rule_and_default if {
	partner := object.union(base, {"subject": {"trust_domain": "partner.example.net"}})
	exchange.claims.ttl == 120 with input as partner
	exchange.claims.ttl == 300 with input as base with data.audience_rules as {"prod.example.com": {"audiences": ["https://api.example.com"]}}
}

test_actor_must_be_trusted if {
	ok := object.union(base, {"actor": {"id": "spiffe://partner.example.net/agent", "trust_domain": "partner.example.net"}})
	exchange.allow with input as ok
	bad := object.union(base, {"actor": {"id": "spiffe://evil.example.org/agent", "trust_domain": "evil.example.org"}})
	not exchange.allow with input as bad
	exchange.reason == "actor trust domain is not trusted" with input as bad
}

admin_req := object.union(base, {
	"target": "http://localhost:8693/admin",
	"audiences": ["http://localhost:8693/admin"],
	"subject": {"id": "spiffe://prod.example.com/ns/ops/sa/starfly-admin"},
	"context": {"scope": "starfly:admin"},
})

test_admin_listed_subject_gets_admin_token if {
	exchange.allow with input as admin_req
	exchange.claims.scope == "starfly:admin" with input as admin_req
	not exchange.claims.delegation_depth with input as admin_req
}

test_admin_refused_to_others if {
	req := object.union(admin_req, {"subject": {"id": "spiffe://prod.example.com/ns/shop/sa/cart"}})
	not exchange.allow with input as req
	exchange.reason == "subject is not an admin" with input as req
	exchange.claims.error == "invalid_target" with input as req
}

test_admin_scope_not_granted_elsewhere if {
	req := object.union(base, {"context": {"scope": "read starfly:admin"}})
	not exchange.allow with input as req
}

test_no_input_denies if {
	not exchange.allow
}
