#!/bin/sh
# exchange-prod.sh - a production unit (real signatures, configured
# issuers, a Rego policy with obligations) behind lighttpd: Kubernetes
# RS256 and SPIFFE ES256 credentials signed by keys made with npm jose,
# the RFC 8725 attack set, policy denials with their error codes, and the
# admin-only agent bootstrap.
. "$(dirname "$0")/../lib.sh"
cd "$TOP" || exit 1
GT=urn:ietf:params:oauth:grant-type:token-exchange
JWT=urn:ietf:params:oauth:token-type:jwt
SVID=urn:starfly:token-type:spiffe-svid
work=$(mktemp -d /tmp/starfly-prod.XXXXXX)
trap 'unit_stop; rm -rf "$work"' EXIT

b64url() { base64 -w0 | tr -d '=' | tr '/+' '_-'; }
claims_of() {
	_p=$(printf '%s' "$1" | cut -d. -f2 | tr '_-' '/+')
	case $(( ${#_p} % 4 )) in 2) _p="$_p==" ;; 3) _p="$_p=" ;; esac
	printf '%s' "$_p" | base64 -d
}
mint() { (cd tests/node && node mint.mjs sign "$work/keys" "$@"); }
jqb() { [ -n "$HTTP_BODY" ] && [ "$(printf '%s' "$HTTP_BODY" | jq "$@" 2>/dev/null)" = true ]; }
err() {
	if [ "$HTTP_CODE" = "$2" ] && jqb --arg e "$3" '.error == $e'; then pass "$1"
	else fail "$1" "HTTP $HTTP_CODE $HTTP_BODY"; fi
}
xchg() {	# TOKEN TYPE AUDIENCE [extra json]
	http POST /v1/exchange/token -H 'Content-Type: application/json' -d "$(jq -n \
	    --arg t "$1" --arg tt "$2" --arg a "$3" --arg gt $GT --argjson x "${4:-{\}}" \
	    '{grant_type: $gt, subject_token: $t, subject_token_type: $tt, audience: $a} + $x')"
	TOKEN=$(printf '%s' "$HTTP_BODY" | jq -r '.access_token // empty' 2>/dev/null)
}

# Keys nobody here made, and the unit's configuration.
mkdir -p "$work/keys" "$work/etc/issuers.d" "$work/policy"
(cd tests/node && node mint.mjs keys "$work/keys") || { fail "jose keys"; exit 1; }
jq '.keys[0].use = "jwt-svid"' "$work/keys/es256.jwks" > "$work/keys/bundle.json"
cat > "$work/etc/issuers.d/k8s.conf" <<CONF
issuer		https://k8s.cluster.test
kind		kubernetes
trust_domain	cluster.test
jwks_file	$work/keys/rs256.jwks
algorithms	RS256
CONF
cat > "$work/etc/issuers.d/other.conf" <<CONF
issuer		https://k8s.other.test
kind		kubernetes
trust_domain	other.test
jwks_file	$work/keys/rs256.jwks
algorithms	RS256
CONF
cat > "$work/etc/issuers.d/spiffe.conf" <<CONF
kind		spiffe
trust_domain	spiffe.test
spiffe_bundle	$work/keys/bundle.json
audience	starfly
CONF
cat > "$work/policy/exchange.rego" <<'REGO'
package starfly.exchange

import rego.v1

trusted := {"cluster.test", "spiffe.test"}

default allow := false

allow if {
	input.subject.trust_domain in trusted
	not startswith(input.target, "https://forbidden.")
}

reason := "audience not allowed" if startswith(input.target, "https://forbidden.")
else := "untrusted trust domain" if not input.subject.trust_domain in trusted

claims := {"error": "invalid_target"} if startswith(input.target, "https://forbidden.")
else := {"scope": "starfly:admin", "ttl": 600} if endswith(input.target, "/admin")
else := {"scope": "read:data write:data", "ttl": 120, "caps": ["search"]}
REGO

STARFLY_MODE=production STARFLY_ETC=$work/etc STARFLY_POLICY=$work/policy unit_start ||
    { fail "production unit starts"; exit 1; }
pass "production unit starts"
now=$(date +%s)
iss=http://localhost:$UNIT_PORT

k8s=$(mint RS256 rs256-test-1 "{\"iss\":\"https://k8s.cluster.test\",\"sub\":\"system:serviceaccount:payments:api\",\"aud\":[\"starfly\"],\"iat\":$now,\"exp\":$((now + 600))}")
xchg "$k8s" $JWT https://api.example.com '{"scope":"read:data delete:all"}'
expect_eq "RS256 Kubernetes token exchanges" "$HTTP_CODE" 200
c=$(claims_of "$TOKEN")
jcheck "Kubernetes subject and trust domain" "$c" '.sub == "wimse://cluster.test/ns/payments/sa/api" and .td == "cluster.test" and .iss == $i' --arg i "$iss"
jcheck "scope is the requested one intersected with the policy's" "$HTTP_BODY" '.scope == "read:data"'
jcheck "ttl obligation lowers the lifetime" "$HTTP_BODY" '.expires_in <= 120 and .expires_in > 100'
jcheck "caps obligation is a claim" "$c" '.caps == ["search"]'

svid=$(mint ES256 es256-test-1 "{\"sub\":\"spiffe://spiffe.test/ns/web/sa/frontend\",\"aud\":[\"starfly\"],\"iat\":$now,\"exp\":$((now + 300))}")
xchg "$svid" $SVID https://api.example.com
expect_eq "ES256 JWT-SVID exchanges" "$HTTP_CODE" 200
jcheck "the SPIFFE ID is the subject" "$(claims_of "$TOKEN")" '.sub == "spiffe://spiffe.test/ns/web/sa/frontend" and .td == "spiffe.test"'

expired=$(mint RS256 rs256-test-1 "{\"iss\":\"https://k8s.cluster.test\",\"sub\":\"system:serviceaccount:a:b\",\"iat\":$((now - 7200)),\"exp\":$((now - 3600))}")
xchg "$expired" $JWT https://api.example.com
err "an expired token is refused" 400 invalid_request
jcheck "the refusal says expired" "$HTTP_BODY" '.error_description | test("expire")'

wrongiss=$(mint RS256 rs256-test-1 "{\"iss\":\"https://k8s.unknown.test\",\"sub\":\"system:serviceaccount:a:b\",\"exp\":$((now + 600))}")
xchg "$wrongiss" $JWT https://api.example.com
err "a token from an unconfigured issuer is refused" 400 invalid_request

wrongtd=$(mint ES256 es256-test-1 "{\"sub\":\"spiffe://elsewhere.test/x\",\"aud\":[\"starfly\"],\"exp\":$((now + 300))}")
xchg "$wrongtd" $SVID https://api.example.com
err "a JWT-SVID of another trust domain is refused" 400 invalid_request

noaud=$(mint ES256 es256-test-1 "{\"sub\":\"spiffe://spiffe.test/x\",\"aud\":[\"someone-else\"],\"exp\":$((now + 300))}")
xchg "$noaud" $SVID https://api.example.com
err "a JWT-SVID for another audience is refused" 400 invalid_request

none=$(printf '%s.%s.' "$(printf '{"alg":"none","kid":"rs256-test-1"}' | b64url)" \
    "$(printf '{"iss":"https://k8s.cluster.test","sub":"system:serviceaccount:a:b","exp":%s}' $((now + 600)) | b64url)")
xchg "$none" $JWT https://api.example.com
err "alg none is refused" 400 invalid_request

hs=$(cd tests/node && node mint.mjs hs-public "$work/keys" rs256-test-1 "{\"iss\":\"https://k8s.cluster.test\",\"sub\":\"system:serviceaccount:a:b\",\"exp\":$((now + 600))}")
xchg "$hs" $JWT https://api.example.com
err "HS256 keyed with the public key is refused" 400 invalid_request

swapped=$(mint ES256 es256-test-1 "{\"iss\":\"https://k8s.cluster.test\",\"sub\":\"system:serviceaccount:a:b\",\"exp\":$((now + 600))}" '{"kid":"rs256-test-1"}')
xchg "$swapped" $JWT https://api.example.com
err "an ES256 signature under the RS256 key's kid is refused" 400 invalid_request

unk=$(mint RS256 no-such-kid "{\"iss\":\"https://k8s.cluster.test\",\"sub\":\"system:serviceaccount:a:b\",\"exp\":$((now + 600))}")
xchg "$unk" $JWT https://api.example.com
err "an unknown kid is refused (no fetch)" 400 invalid_request

stub=$(printf '%s.%s.stub' "$(printf '{"alg":"RS256"}' | b64url)" "$(printf '{"sub":"x","iss":"y","exp":%s}' $((now + 600)) | b64url)")
xchg "$stub" $JWT https://api.example.com
err "dev stub credentials are refused in production" 400 invalid_request

other=$(mint RS256 rs256-test-1 "{\"iss\":\"https://k8s.other.test\",\"sub\":\"system:serviceaccount:a:b\",\"exp\":$((now + 600))}")
xchg "$other" $JWT https://api.example.com
err "denied by policy" 400 invalid_request
jcheck "the policy's reason is shown" "$HTTP_BODY" '.error_description | test("untrusted trust domain")'

xchg "$k8s" $JWT https://forbidden.example.com
err "the policy's error obligation: invalid_target" 400 invalid_target
xchg "$k8s" $JWT https://api.example.com '{"scope":"delete:all"}'
err "a scope the policy does not grant: invalid_scope" 400 invalid_scope
xchg "$k8s" $JWT https://a.example.com '{"audience":["https://a.example.com","https://b.example.com"]}'
err "two audiences without the policy's consent: invalid_target" 400 invalid_target

# Agent bootstrap needs an admin token in production.
http POST /v1/identity/agent -H 'Content-Type: application/json' \
    -d '{"agent_name":"bot","platform":"mcp","capabilities":["search"]}'
expect_eq "agent bootstrap without a token is 401" "$HTTP_CODE" 401
xchg "$k8s" $JWT "$iss/v1/exchange/token" '{"scope":"read:data"}'
http POST /v1/identity/agent -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' \
    -d '{"agent_name":"bot","platform":"mcp","capabilities":["search"]}'
expect_eq "a non-admin token is refused" "$HTTP_CODE" 401
xchg "$k8s" $JWT "$iss/admin" '{"scope":"starfly:admin"}'
expect_eq "the policy grants an admin token" "$HTTP_CODE" 200
http POST /v1/identity/agent -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' \
    -d '{"agent_name":"bot","platform":"mcp","capabilities":["search"]}'
expect_eq "agent bootstrap with the admin token" "$HTTP_CODE" 200
jcheck "the agent's workload id is in this unit's trust domain" "$HTTP_BODY" '.workload_id == "wimse://localhost/agent/mcp/bot"'

t_done
