#!/bin/sh
# mcp-signals.sh - mcp.fcgi and signals.fcgi in a real unit behind
# lighttpd: the tool registry (HTTP and starflyctl), the confused-deputy
# verify, signed SETs (RS256, ES256 with a bearer token) and every refusal
# with its RFC 8935 code, jti idempotence, a revocation seen by the other
# processes right after the 202, lift semantics, operator revocations,
# the federation hash and export, `starflyctl verify`; then a production
# unit: admin-only registry writes, signed SETs only.
. "$(dirname "$0")/../lib.sh"
cd "$TOP" || exit 1
GT=urn:ietf:params:oauth:grant-type:token-exchange
JWT=urn:ietf:params:oauth:token-type:jwt
CAEP=https://schemas.openid.net/secevent/caep/event-type
RISC=https://schemas.openid.net/secevent/risc/event-type
SIGN=$TOP/tests/bin/set-sign
CTL=$TOP/bin/starflyctl
work=$(mktemp -d /tmp/starfly-mcp.XXXXXX)
trap 'unit_stop; rm -rf "$work"' EXIT

[ -x "$SIGN" ] || { fail "tests/bin/set-sign is built" "run make"; exit 1; }
b64url() { base64 -w0 | tr -d '=' | tr '/+' '_-'; }
stub() { printf '%s.%s.stub' "$(printf '{"alg":"RS256","typ":"JWT"}' | b64url)" "$(printf '%s' "$1" | b64url)"; }
claims_of() {
	_p=$(printf '%s' "$1" | cut -d. -f2 | tr '_-' '/+')
	case $(( ${#_p} % 4 )) in 2) _p="$_p==" ;; 3) _p="$_p=" ;; esac
	printf '%s' "$_p" | base64 -d
}
cred_for() {	# NAMESPACE: a dev stub credential for wimse://dev.local/ns/NS/sa/agent
	stub "{\"sub\":\"system:serviceaccount:$1:agent\",\"iss\":\"https://k8s.test\",\"namespace\":\"$1\",\"serviceaccount\":\"agent\",\"exp\":$(( $(date +%s) + 600 ))}"
}
xchg() {	# CREDENTIAL AUDIENCE [extra json]
	http POST /v1/exchange/token -H 'Content-Type: application/json' -d "$(jq -n \
	    --arg t "$1" --arg a "$2" --arg gt $GT --arg tt $JWT --argjson x "${3:-{\}}" \
	    '{grant_type: $gt, subject_token: $t, subject_token_type: $tt, audience: $a} + $x')"
	TOKEN=$(printf '%s' "$HTTP_BODY" | jq -r '.access_token // empty' 2>/dev/null)
}
verify() {	# TOKEN TOOL [extra json]
	http POST /v1/mcp/verify -H 'Content-Type: application/json' -d "$(jq -n \
	    --arg t "$1" --arg id "$2" --argjson x "${3:-{\}}" '{token: $t, tool_id: $id} + $x')"
}
register() {	# JSON
	http POST /v1/mcp/tools -H 'Content-Type: application/json' "$@"
}
# push SET [curl args]: a compact SET as RFC 8935 sends it.
push() {
	_s=$1; shift
	http POST /v1/signals/events -H 'Content-Type: application/secevent+jwt' "$@" --data-binary "$_s"
}
set_claims() {	# ISS JTI SUBJECT EVENT [AUD]
	jq -n --arg i "$1" --arg j "$2" --arg s "$3" --arg e "$4" --arg a "${5:-$ISSUER}" \
	    --argjson t "$(date +%s)" \
	    '{iss: $i, jti: $j, iat: $t, aud: $a, sub_id: {format: "uri", uri: $s}, events: {($e): {}}}'
}
sign_rs() { "$SIGN" sign "$work/rs.pem" RS256; }
sign_es() { "$SIGN" sign "$work/es.pem" ES256; }
set_err() {	# NAME CODE: the last push was 400 {"err": CODE, "description"}
	if [ "$HTTP_CODE" = 400 ] && [ "$(printf '%s' "$HTTP_BODY" | jq -r '.err + "|" + (.description|length > 0|tostring)' 2>/dev/null)" = "$2|true" ]; then
		pass "$1"
	else
		fail "$1" "HTTP $HTTP_CODE $HTTP_BODY"
	fi
}
denied() {	# NAME CHECK: the last verify was 403 naming CHECK
	if [ "$HTTP_CODE" = 403 ] && jtrue "$HTTP_BODY" \
	    '.error == "verification_failed" and (.error_description | startswith($c + ":"))' --arg c "$2"; then
		pass "$1"
	else
		fail "$1" "HTTP $HTTP_CODE $HTTP_BODY"
	fi
}

# Two transmitters: RS256 (idp.test), ES256 with a bearer token (bearer.test).
mkdir -p "$work/etc/transmitters.d"
"$SIGN" genkey RS256 "$work/rs.pem" "$work/etc/transmitters.d/rs.jwks" &&
"$SIGN" genkey ES256 "$work/es.pem" "$work/etc/transmitters.d/es.jwks" &&
"$SIGN" genkey ES256 "$work/rogue.pem" "$work/rogue.jwks" || { fail "transmitter keys"; exit 1; }
printf 'issuer https://idp.test\njwks_file rs.jwks\nsession_ttl 600\n' > "$work/etc/transmitters.d/rs.conf"
printf 'issuer https://bearer.test\njwks_file es.jwks\nbearer_sha256 %s\n' \
    "$(printf %s 'transmit-me' | sha256sum | cut -d' ' -f1)" > "$work/etc/transmitters.d/es.conf"

STARFLY_ETC=$work/etc unit_start || { fail "dev unit starts"; exit 1; }
ISSUER=http://localhost:$UNIT_PORT
export STARFLY_CONF=$UNIT_CONF

## The registry.
A=https://mcp.test/tools/code-search
B=https://mcp.test/tools/sql-admin
register -d "{\"tool_id\":\"code-search\",\"name\":\"Code Search\",\"resource_uri\":\"$A\",\"capabilities\":[\"read\",\"search\"],\"exec_acts\":[\"query\"]}"
expect_eq "register: 201" "$HTTP_CODE" 201
jcheck "register answers the stored entry with registered_at" "$HTTP_BODY" '.tool_id == "code-search" and (.registered_at|test("Z$"))'
register -d "{\"tool_id\":\"code-search\",\"name\":\"Code Search\",\"resource_uri\":\"$A\",\"capabilities\":[\"read\",\"search\"],\"exec_acts\":[\"query\"]}"
expect_eq "identical re-register: 200" "$HTTP_CODE" 200
register -d "{\"tool_id\":\"code-search\",\"resource_uri\":\"$B\"}"
expect_eq "different content: 409" "$HTTP_CODE" 409
jcheck "409 is tool_exists" "$HTTP_BODY" '.error == "tool_exists"'
register -d "{\"tool_id\":\"sql-admin\",\"resource_uri\":\"$B\"}"
expect_eq "second tool: 201" "$HTTP_CODE" 201
for bad in '{"tool_id":"a b","resource_uri":"https://x"}' '{"tool_id":"x","resource_uri":"/relative"}' \
    '{"resource_uri":"https://x"}' '{"tool_id":"x","resource_uri":"https://x","owner":"me"}' \
    '{"tool_id":"x","resource_uri":"https://x","capabilities":"read"}' '[1]' '{"tool_id":"x",'; do
	register -d "$bad"
	if [ "$HTTP_CODE" = 400 ] && jtrue "$HTTP_BODY" '.error == "invalid_request"'; then
		pass "400 for $bad"
	else
		fail "400 for $bad" "HTTP $HTTP_CODE $HTTP_BODY"
	fi
done
http POST /v1/mcp/tools -H 'Content-Type: text/plain' -d '{"tool_id":"x","resource_uri":"https://x"}'
expect_eq "wrong Content-Type: 400" "$HTTP_CODE" 400
http PUT /v1/mcp/tools -d '{}'
expect_eq "PUT: 405" "$HTTP_CODE" 405
expect_eq "405 Allow" "$(header Allow)" "GET, HEAD, POST, DELETE"
http GET /v1/mcp/tools
jcheck "list" "$HTTP_BODY" '.count == 2 and ([.tools[].tool_id] == ["code-search", "sql-admin"])'
http GET "/v1/mcp/tools?tool_id=sql-admin"
jcheck "one entry" "$HTTP_BODY" '.resource_uri == $b' --arg b "$B"
http GET "/v1/mcp/tools?tool_id=nope"
expect_eq "unknown tool: 404" "$HTTP_CODE" 404
jcheck "404 is tool_not_found" "$HTTP_BODY" '.error == "tool_not_found"'
# starflyctl works on the store; the server sees it at once.
"$CTL" tools add --id scratch --resource https://mcp.test/tools/scratch --capabilities a,b > /dev/null 2>&1
check "starflyctl tools add" test $? -eq 0
http GET "/v1/mcp/tools?tool_id=scratch"
jcheck "a tool added by starflyctl is served" "$HTTP_BODY" '.capabilities == ["a","b"]'
check "starflyctl tools list shows it" sh -c "'$CTL' tools list | grep -q '^scratch '"
http DELETE "/v1/mcp/tools?tool_id=scratch"
jcheck "DELETE: deregistered" "$HTTP_BODY" '.status == "deregistered" and .tool_id == "scratch"'
http DELETE "/v1/mcp/tools?tool_id=scratch"
expect_eq "DELETE again: 404" "$HTTP_CODE" 404
http DELETE /v1/mcp/tools
expect_eq "DELETE without tool_id: 400" "$HTTP_CODE" 400
check "starflyctl tools rm of an absent tool fails" sh -c "! '$CTL' tools rm scratch 2>/dev/null"

## Verify: the confused-deputy rule.
ns=mcp-$$
xchg "$(cred_for $ns)" "$A"
tok=$TOKEN
expect_eq "exchange for code-search" "$HTTP_CODE" 200
verify "$tok" code-search
expect_eq "verify at code-search: 200" "$HTTP_CODE" 200
jcheck "verified, with the claims" "$HTTP_BODY" '.verified == true and .claims.aud == $a and .claims.sub == $s' --arg a "$A" --arg s "wimse://dev.local/ns/$ns/sa/agent"
verify "$tok" sql-admin
denied "the same token at sql-admin: 403 audience" audience
verify "$tok" nope
denied "an unregistered tool: 403 tool" tool
h=${tok%%.*}; rest=${tok#*.}; c=$(printf '%s' "$rest" | cut -c10)
[ "$c" = A ] && c=B || c=A
verify "$h.$(printf '%s' "$rest" | cut -c1-9)$c$(printf '%s' "$rest" | cut -c11-)" code-search
denied "a tampered token: 403 signature" signature
verify "$(cred_for x)" code-search
denied "a stub credential is no token of this unit: 403 signature" signature
http POST /v1/mcp/verify -H 'Content-Type: application/json' -d '{"tool_id":"code-search"}'
expect_eq "no token: 400" "$HTTP_CODE" 400
verify "$tok" code-search '{"dpop_proof":"x"}'
expect_eq "an unknown member: 400" "$HTTP_CODE" 400
# Execution-scoped token: bound to htm/htu/exec_act.
xchg "$(cred_for $ns)" "$A" "{\"execution_scope\":{\"htm\":\"POST\",\"htu\":\"$A/run\",\"nonce\":\"nonce-$$-$(date +%s%N)\",\"exec_act\":\"query\"}}"
etok=$TOKEN
verify "$etok" code-search
denied "execution-scoped token without the call's fields: 403 execution" execution
verify "$etok" code-search "{\"htm\":\"POST\",\"htu\":\"$A/run\",\"exec_act\":\"delete\"}"
denied "another exec_act: 403 execution" execution
verify "$etok" code-search "{\"htm\":\"POST\",\"htu\":\"$A/run\",\"exec_act\":\"query\"}"
expect_eq "the bound call: 200" "$HTTP_CODE" 200
# Locally, without HTTP.
check "starflyctl verify allows code-search" "$CTL" verify --tool code-search "$tok"
out=$("$CTL" verify --tool sql-admin "$tok" 2>&1)
rc=$?
case "$rc $out" in
"1 denied: audience:"*) pass "starflyctl verify refuses sql-admin, naming the check" ;;
*) fail "starflyctl verify refuses sql-admin, naming the check" "exit $rc: $out" ;;
esac

## Signed SETs.
sub=wimse://dev.local/ns/$ns/sa/agent
set_claims https://idp.test "rs-$$-1" "wimse://dev.local/ns/other-$$/sa/x" "$CAEP/session-revoked" | sign_rs > "$work/rs1"
push "$(cat "$work/rs1")"
expect_eq "RS256 SET: 202" "$HTTP_CODE" 202
expect_eq "202 has an empty body" "$HTTP_BODY" ""
set_claims https://bearer.test "es-$$-1" "wimse://dev.local/ns/other-$$/sa/y" "$RISC/account-disabled" | sign_es > "$work/es1"
push "$(cat "$work/es1")" -H 'Authorization: Bearer transmit-me'
expect_eq "ES256 SET with the transmitter's bearer token: 202" "$HTTP_CODE" 202
push "$(cat "$work/es1")"
set_err "no bearer token: authentication_failed" authentication_failed
unsigned=$(set_claims https://idp.test "u-$$" "$sub" "$CAEP/session-revoked" | "$SIGN" none)
push "$unsigned"
set_err "unsigned (alg none): authentication_failed" authentication_failed
rkid=$(jq -r '.keys[0].kid' "$work/etc/transmitters.d/rs.jwks")
wrong=$(set_claims https://idp.test "w-$$" "$sub" "$CAEP/session-revoked" | "$SIGN" sign "$work/rogue.pem" ES256 --kid "$(jq -r '.keys[0].kid' "$work/etc/transmitters.d/es.jwks")")
wrong2=$(set_claims https://bearer.test "w-$$" "$sub" "$CAEP/session-revoked" | "$SIGN" sign "$work/rogue.pem" ES256 --kid "$(jq -r '.keys[0].kid' "$work/etc/transmitters.d/es.jwks")")
push "$wrong2" -H 'Authorization: Bearer transmit-me'
set_err "signed by another key under the transmitter's kid: authentication_failed" authentication_failed
push "$wrong"
set_err "a kid the transmitter does not have: invalid_key" invalid_key
push "$(set_claims https://idp.test "a-$$" "$sub" "$CAEP/session-revoked" https://elsewhere.test | sign_rs)"
set_err "wrong audience: invalid_audience" invalid_audience
push "$(set_claims https://rogue.test "i-$$" "$sub" "$CAEP/session-revoked" | sign_rs)"
set_err "unknown issuer: invalid_issuer" invalid_issuer
push "not.a.set"
set_err "malformed SET: invalid_request" invalid_request
push "$(printf '{"iss":"https://idp.test","jti":"m","iat":1,"aud":"%s","events":{}}' "$ISSUER" | sign_rs)"
set_err "no events: invalid_request" invalid_request
push "$(set_claims https://idp.test "t-$$" "$sub" "$CAEP/session-revoked" | "$SIGN" sign "$work/rs.pem" RS256 --typ JWT)"
set_err "typ JWT (RFC 8417 explicit typing): invalid_request" invalid_request
http POST /v1/signals/events -H 'Content-Type: text/plain' -d 'x'
set_err "wrong Content-Type: invalid_request" invalid_request
http POST /v1/signals/events -H 'Content-Type: application/json' -d '{"iss":'
set_err "malformed dev JSON: invalid_request" invalid_request
http GET /v1/federation/revocation-export
jcheck "refused SETs revoked nothing" "$HTTP_BODY" '[.entries[].id] | index($s) == null' --arg s "$sub"

## A revocation takes effect in every process before the 202.
xchg "$(cred_for $ns)" "$A"
before=$TOKEN
set_claims https://idp.test "rev-$$-1" "$sub" "$CAEP/session-revoked" | sign_rs > "$work/rev1"
push "$(cat "$work/rev1")"
expect_eq "session-revoked for the token's subject: 202" "$HTTP_CODE" 202
n=0; for i in 1 2 3 4 5 6; do
	verify "$before" code-search
	[ "$HTTP_CODE" = 403 ] && printf '%s' "$HTTP_BODY" | grep -q 'revocation:' && n=$((n + 1))
done
expect_eq "every verify right after the 202 refuses the token (6 of 6, $(nproc) workers)" "$n" 6
xchg "$(cred_for $ns)" "$A"
expect_eq "the same credential no longer exchanges" "$HTTP_CODE" 400
jcheck "the refusal says revoked" "$HTTP_BODY" '.error_description | test("revoked")'
http GET /v1/signals/status
stat1=$(printf '%s' "$HTTP_BODY" | jq ".events[\"$CAEP/session-revoked\"].count")
push "$(cat "$work/rev1")"
expect_eq "re-delivered jti: 202" "$HTTP_CODE" 202
http GET /v1/signals/status
expect_eq "re-delivered jti applied once" "$(printf '%s' "$HTTP_BODY" | jq ".events[\"$CAEP/session-revoked\"].count")" "$stat1"
jcheck "status: counts, last event time, revocation count, transmitters" "$HTTP_BODY" '.revocations >= 3 and (.last_event_at|test("Z$")) and (.transmitters|sort) == ["es","rs"]'

## Lift: account-enabled lets new exchanges through; the old token stays refused.
sleep 1
set_claims https://idp.test "rev-$$-2" "$sub" "$RISC/account-enabled" | sign_rs > "$work/rev2"
push "$(cat "$work/rev2")"
expect_eq "account-enabled: 202" "$HTTP_CODE" 202
xchg "$(cred_for $ns)" "$A"
expect_eq "a new exchange after the lift succeeds" "$HTTP_CODE" 200
verify "$TOKEN" code-search
expect_eq "the new token verifies" "$HTTP_CODE" 200
verify "$before" code-search
denied "the token issued before the revocation is still refused" revocation

## Operator revocations, seen at once.
"$CTL" revoke --reason "incident 42" "$sub" > /dev/null
check "starflyctl revoke" test $? -eq 0
verify "$TOKEN" code-search
denied "after starflyctl revoke the token is refused" revocation
check "starflyctl revocations lists it" sh -c "'$CTL' revocations | grep -q '$sub'"
"$CTL" unrevoke "$sub" > /dev/null
sleep 1
xchg "$(cred_for $ns)" "$A"
expect_eq "after starflyctl unrevoke a new exchange succeeds" "$HTTP_CODE" 200
check "unrevoke of an unknown subject fails" sh -c "! '$CTL' unrevoke wimse://nobody/x 2>/dev/null"
"$CTL" revoke --jti "$(claims_of "$TOKEN" | jq -r .jti)" > /dev/null
verify "$TOKEN" code-search
denied "one token revoked by jti" revocation

## Federation.
http GET /v1/federation/revocation-hash
h=$HTTP_BODY
jcheck "revocation-hash shape" "$h" '(.hash|test("^sha256:[0-9a-f]{64}$")) and .count >= 3 and (.timestamp|test("^[0-9-]+T[0-9:]+Z$"))'
http GET /v1/federation/revocation-export
x=$HTTP_BODY
jcheck "export: count and hash agree with revocation-hash" "$x" '.count == (.entries|length) and .hash == $h.hash and .count == $h.count' --argjson h "$h"
jcheck "export entries are sorted by kind, id" "$x" '[.entries[] | [.kind, .id]] == ([.entries[] | [.kind, .id]] | sort)'
mine="sha256:$(printf '%s' "$x" | jq -cjS '[.entries[] | {expires, id, kind, lifted, time}]' | sha256sum | cut -d' ' -f1)"
expect_eq "the hash is reproducible from the export (jq -S + sha256sum)" "$mine" "$(printf '%s' "$h" | jq -r .hash)"
expect_eq "starflyctl revocations hash agrees" "$("$CTL" revocations hash | jq -r .hash)" "$(printf '%s' "$h" | jq -r .hash)"
unit_stop

## Production: admin-only registry writes, signed SETs only, real policy.
mkdir -p "$work/policy"
cat > "$work/policy/mcp.rego" <<'REGO'
package starfly.mcp_tool_call

import rego.v1

default allow := false

allow if input.subject.id != ""
REGO
cat > "$work/policy/signals.rego" <<'REGO'
package starfly.signal

import rego.v1

default allow := false

allow if input.subject.id != ""

reason := "the SET names no subject" if not allow
REGO
STARFLY_MODE=production STARFLY_ETC=$work/etc STARFLY_POLICY=$work/policy unit_start ||
    { fail "production unit starts"; exit 1; }
ISSUER=http://localhost:$UNIT_PORT
export STARFLY_CONF=$UNIT_CONF
register -d '{"tool_id":"admin-api","resource_uri":"'"$ISSUER"'/admin"}'
expect_eq "production: register without a token: 401" "$HTTP_CODE" 401
jcheck "401 is invalid_token" "$HTTP_BODY" '.error == "invalid_token"'
check "401 carries WWW-Authenticate" test -n "$(header WWW-Authenticate)"
admin=$("$TOP/tests/bin/admin-token" --config "$UNIT_CONF")
register -H "Authorization: Bearer $admin" -d '{"tool_id":"admin-api","resource_uri":"'"$ISSUER"'/admin"}'
expect_eq "production: register with the admin token: 201" "$HTTP_CODE" 201
http DELETE "/v1/mcp/tools?tool_id=admin-api"
expect_eq "production: deregister without a token: 401" "$HTTP_CODE" 401
verify "$admin" admin-api
expect_eq "production: a token of this unit for the tool's URI verifies" "$HTTP_CODE" 200
http POST /v1/signals/events -H 'Content-Type: application/json' \
    -d "$(set_claims https://idp.test "p-$$" "$sub" "$CAEP/session-revoked")"
set_err "production: plain JSON SET refused" invalid_request
push "$(set_claims https://idp.test "p-$$" "$sub" "$CAEP/session-revoked" | sign_rs)"
expect_eq "production: signed SET: 202" "$HTTP_CODE" 202
push "$(jq -n --arg a "$ISSUER" --argjson t "$(date +%s)" '{iss: "https://idp.test", jti: "nosub", iat: $t, aud: $a, events: {"https://schemas.openid.net/secevent/ssf/event-type/verification": {state: "x"}}}' | sign_rs)"
set_err "production: the signal policy refuses: access_denied" access_denied
t_done
