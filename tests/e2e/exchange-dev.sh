#!/bin/sh
# exchange-dev.sh - POST /v1/exchange/token on a dev unit behind lighttpd:
# JSON and form round trips, the issued token, the error table, client
# authentication, execution-scope nonces across processes, agent bootstrap.
. "$(dirname "$0")/../lib.sh"
cd "$TOP" || exit 1
GT=urn:ietf:params:oauth:grant-type:token-exchange
JWT=urn:ietf:params:oauth:token-type:jwt

b64url() { base64 -w0 | tr -d '=' | tr '/+' '_-'; }
stub() { printf '%s.%s.stub' "$(printf '{"alg":"RS256","typ":"JWT"}' | b64url)" "$(printf '%s' "$1" | b64url)"; }
claims_of() {
	_p=$(printf '%s' "$1" | cut -d. -f"${2:-2}" | tr '_-' '/+')
	case $(( ${#_p} % 4 )) in 2) _p="$_p==" ;; 3) _p="$_p=" ;; esac
	printf '%s' "$_p" | base64 -d
}
# jqb FILTER [jq args]: the last body is JSON and FILTER is exactly true.
jqb() {
	[ -n "$HTTP_BODY" ] &&
	    [ "$(printf '%s' "$HTTP_BODY" | jq "$@" 2>/dev/null)" = true ]
}
post_json() { http POST /v1/exchange/token -H 'Content-Type: application/json' -d "$1"; }
# err NAME STATUS CODE: the last response was STATUS with error CODE.
err() {
	if [ "$HTTP_CODE" = "$2" ] && jqb --arg e "$3" '.error == $e and (.error_description|length) > 0'; then
		pass "$1"
	else
		fail "$1" "HTTP $HTTP_CODE $HTTP_BODY"
	fi
}

unit_start || { fail "unit starts"; exit 1; }
now=$(date +%s)
cred=$(stub "{\"sub\":\"system:serviceaccount:payments:api\",\"iss\":\"https://kubernetes.default.svc\",\"namespace\":\"payments\",\"serviceaccount\":\"api\",\"exp\":$((now + 600))}")
req=$(jq -n --arg t "$cred" --arg gt $GT --arg tt $JWT \
    '{grant_type: $gt, subject_token: $t, subject_token_type: $tt, audience: "https://api.example.com", scope: "read:data"}')

# JSON round trip.
post_json "$req"
expect_eq "JSON exchange 200" "$HTTP_CODE" 200
check "response shape (RFC 8693 §2.2.1)" jqb '.issued_token_type == "urn:ietf:params:oauth:token-type:jwt" and .token_type == "Bearer" and .expires_in > 0 and .expires_in <= 300 and .scope == "read:data"'
expect_eq "Cache-Control no-store" "$(header Cache-Control)" "no-store"
tok=$(printf '%s' "$HTTP_BODY" | jq -r .access_token)
hdr=$(claims_of "$tok" 1)
cl=$(claims_of "$tok" 2)
jcheck "header typ at+jwt, ES256, kid" "$hdr" '.typ == "at+jwt" and .alg == "ES256" and (.kid|length) == 43'
jcheck "claims: sub, aud, iss, td, jti, client_id, scope" "$cl" '.sub == "wimse://dev.local/ns/payments/sa/api" and .aud == "https://api.example.com" and .iss == $iss and .td == "dev.local" and (.jti|length) == 36 and .client_id == .sub and .scope == "read:data" and .exp - .iat <= 300' --arg iss "http://localhost:$UNIT_PORT"
kid=$(printf '%s' "$hdr" | jq -r .kid)
http GET /v1/identity/jwks
check "the signing kid is published" jqb --arg k "$kid" '[.keys[].kid] | index($k) != null'

# Lifetime never past the subject token's exp.
short=$(stub "{\"sub\":\"short\",\"iss\":\"x\",\"exp\":$((now + 42))}")
post_json "$(printf '%s' "$req" | jq --arg t "$short" '.subject_token = $t')"
check "expires_in capped by the subject's exp" jqb '.expires_in <= 42 and .expires_in > 30'

# Line-broken stub (shell base64 wraps at 76 columns).
wrapped=$(printf '%s' "$cred" | fold -w 76)
post_json "$(printf '%s' "$req" | jq --arg t "$wrapped" '.subject_token = $t')"
expect_eq "a token broken across lines is accepted" "$HTTP_CODE" 200

# Form encoding (RFC 8693's shape), curl --data-urlencode.
http POST /v1/exchange/token --data-urlencode "grant_type=$GT" \
    --data-urlencode "subject_token=$cred" --data-urlencode "subject_token_type=$JWT" \
    --data-urlencode "resource=https://api.example.com/r" --data-urlencode "scope=read:data"
expect_eq "form exchange 200" "$HTTP_CODE" 200
aud=$(claims_of "$(printf '%s' "$HTTP_BODY" | jq -r .access_token)" | jq -r .aud)
expect_eq "resource becomes aud" "$aud" "https://api.example.com/r"

# The error table.
post_json "$(printf '%s' "$req" | jq '.grant_type = "password"')"
err "wrong grant_type" 400 unsupported_grant_type
post_json "$(printf '%s' "$req" | jq 'del(.subject_token)')"
err "missing subject_token" 400 invalid_request
check "the error names the field" jqb '.error_description | test("subject_token")'
post_json "$(printf '%s' "$req" | jq '.subject_token_type = "urn:x:unknown"')"
err "unsupported subject_token_type" 400 invalid_request
post_json "$(printf '%s' "$req" | jq 'del(.audience)')"
err "no audience or resource" 400 invalid_request
post_json "$(printf '%s' "$req" | jq '.audience = 7')"
err "audience of the wrong type" 400 invalid_request
post_json "$(printf '%s' "$req" | jq '.requested_token_type = "urn:x"')"
err "bad requested_token_type" 400 invalid_request
post_json "$(printf '%s' "$req" | jq '.actor_token = "a.b.c"')"
err "actor_token without actor_token_type" 400 invalid_request
post_json "$(printf '%s' "$req" | jq '.resource = "not-absolute"')"
err "resource not an absolute URI" 400 invalid_target
post_json '{"grant_type": "x", "grant_type": "y"}'
err "duplicate JSON keys" 400 invalid_request
post_json '{"grant_type": '
err "malformed JSON" 400 invalid_request
http POST /v1/exchange/token -H 'Content-Type: text/plain' -d 'x'
err "unknown Content-Type" 400 invalid_request
http POST /v1/exchange/token --data "grant_type=$GT&scope=a&scope=b"
err "repeated form parameter" 400 invalid_request
http POST /v1/exchange/token --data "grant_type=$GT&subject_token=%ff%fe"
err "invalid UTF-8 in a form" 400 invalid_request
post_json "$(printf '%s' "$req" | jq '.subject_token = "only.two"')"
err "malformed subject token" 400 invalid_request
exp=$(stub "{\"sub\":\"old\",\"iss\":\"x\",\"exp\":$((now - 3600))}")
post_json "$(printf '%s' "$req" | jq --arg t "$exp" '.subject_token = $t')"
err "expired stub refused" 400 invalid_request
post_json "$(printf '%s' "$req" | jq '.client_id = "nobody" | .client_secret = "guess"')"
err "client authentication failed" 401 invalid_client
check "401 carries WWW-Authenticate" sh -c "[ -n '$(header WWW-Authenticate)' ]"
http POST /v1/exchange/token -u "nobody:guess" -H 'Content-Type: application/json' -d "$req"
err "HTTP Basic with an unknown client" 401 invalid_client
post_json "$(printf '%s' "$req" | jq '.client_id = "public-cli"')"
expect_eq "a public client_id is recorded" "$(claims_of "$(printf '%s' "$HTTP_BODY" | jq -r .access_token)" | jq -r .client_id)" "public-cli"
post_json "$(printf '%s' "$req" | jq '.execution_scope = {"htu": "https://x/y", "nonce": "abcdefgh1234"}')"
err "execution_scope without htm" 400 invalid_request
check "the error names execution_scope.htm" jqb '.error_description | test("execution_scope.htm")'

# Execution-scoped tokens: 30 s, claims, a nonce once per unit.
nonce=n-$(od -An -N8 -tx8 /dev/urandom | tr -d ' ')
esreq=$(printf '%s' "$req" | jq --arg n "$nonce" '.execution_scope = {"htm": "POST", "htu": "https://api.example.com/pay", "nonce": $n, "inp_hash": "abc", "exec_act": "pay"}')
post_json "$esreq"
expect_eq "execution-scoped exchange 200" "$HTTP_CODE" 200
check "execution-scoped token lives 30 s" jqb '.expires_in <= 30'
jcheck "execution-scope claims" "$(claims_of "$(printf '%s' "$HTTP_BODY" | jq -r .access_token)")" '.htm == "POST" and .htu == "https://api.example.com/pay" and .nonce == $n and .inp_hash == "abc" and .exec_act == "pay"' --arg n "$nonce"
post_json "$esreq"
err "a replayed nonce is refused" 400 invalid_request
# The same nonce in another process: exchange.fcgi run once as CGI.
nonce2=m-$(od -An -N8 -tx8 /dev/urandom | tr -d ' ')
esreq2=$(printf '%s' "$esreq" | jq --arg n "$nonce2" '.execution_scope.nonce = $n')
post_json "$esreq2"
expect_eq "nonce 2 accepted by the FastCGI workers" "$HTTP_CODE" 200
cgi=$(printf '%s' "$esreq2" | STARFLY_CONF=$UNIT_CONF REQUEST_METHOD=POST \
    REQUEST_URI=/v1/exchange/token CONTENT_TYPE=application/json \
    CONTENT_LENGTH=$(printf '%s' "$esreq2" | wc -c) "$TOP/bin/exchange.fcgi" | tr -d '\r')
expect_eq "another process answers the replay with 400" "$(printf '%s\n' "$cgi" | head -n 1)" "Status: 400 Bad Request"
jcheck "the replay in another process is refused" "$(printf '%s\n' "$cgi" | sed '1,/^$/d')" '.error_description | test("nonce")'

# Delegation two deep, then a depth-0 refusal.
http POST /v1/identity/agent -H 'Content-Type: application/json' \
    -d '{"agent_name": "planner", "platform": "mcp", "capabilities": ["search", "read"], "delegation_depth": 1, "max_blast_radius": "namespace"}'
expect_eq "agent bootstrap 200" "$HTTP_CODE" 200
check "agent bootstrap body" jqb '.workload_id == "wimse://dev.local/agent/mcp/planner" and (.token|length) > 0 and (.expires_at|test("Z$"))'
agent=$(printf '%s' "$HTTP_BODY" | jq -r .token)
post_json "$(jq -n --arg t "$agent" --arg gt $GT '{grant_type: $gt, subject_token: $t, subject_token_type: "urn:starfly:token-type:agent-mcp", audience: "https://tool.example.com"}')"
expect_eq "agent token exchanges as agent-mcp" "$HTTP_CODE" 200
a1=$(printf '%s' "$HTTP_BODY" | jq -r .access_token)
actor=$(stub "{\"sub\":\"wimse://dev.local/ns/ops/sa/orchestrator\",\"iss\":\"x\",\"exp\":$((now + 600))}")
post_json "$(jq -n --arg t "$agent" --arg a "$actor" --arg gt $GT --arg tt $JWT '{grant_type: $gt, subject_token: $t, subject_token_type: "urn:starfly:token-type:agent-mcp", actor_token: $a, actor_token_type: $tt, audience: "https://tool.example.com"}')"
expect_eq "delegated exchange 200" "$HTTP_CODE" 200
d1=$(printf '%s' "$HTTP_BODY" | jq -r .access_token)
jcheck "act names the actor; depth drops to 0; obo kept" "$(claims_of "$d1")" '.act.sub == "wimse://dev.local/ns/ops/sa/orchestrator" and .delegation_depth == 0 and .obo == ["wimse://dev.local/agent/mcp/planner", "wimse://dev.local/ns/ops/sa/orchestrator"] and .blast_radius == "namespace" and (.caps|sort) == ["read","search"]'
actor2=$(stub "{\"sub\":\"wimse://dev.local/ns/ops/sa/second\",\"iss\":\"x\",\"exp\":$((now + 600))}")
post_json "$(jq -n --arg t "$d1" --arg a "$actor2" --arg gt $GT --arg tt $JWT '{grant_type: $gt, subject_token: $t, subject_token_type: $tt, actor_token: $a, actor_token_type: $tt, audience: "https://tool.example.com"}')"
err "depth 0 cannot delegate again" 400 invalid_request
check "the refusal says delegation_depth" jqb '.error_description | test("delegation_depth")'
# A token carrying act is re-issued with it.
post_json "$(jq -n --arg t "$d1" --arg gt $GT --arg tt $JWT '{grant_type: $gt, subject_token: $t, subject_token_type: $tt, audience: "https://other.example.com"}')"
jcheck "act survives a re-exchange" "$(claims_of "$(printf '%s' "$HTTP_BODY" | jq -r .access_token)")" '.act.sub == "wimse://dev.local/ns/ops/sa/orchestrator"'

# Revocation: an operator revokes the subject; the next exchange in any
# worker is refused, the actor chain too; lifting it restores exchange.
"$TOP/bin/starflyctl" --config "$UNIT_CONF" revoke --reason "test: compromised" \
    wimse://dev.local/ns/payments/sa/api > /dev/null
post_json "$req"
err "a revoked subject is refused" 400 invalid_request
check "the refusal says revoked" jqb '.error_description | test("revoked")'
post_json "$(jq -n --arg t "$agent" --arg a "$cred" --arg gt $GT --arg tt $JWT '{grant_type: $gt, subject_token: $t, subject_token_type: "urn:starfly:token-type:agent-mcp", actor_token: $a, actor_token_type: $tt, audience: "https://tool.example.com"}')"
err "a revoked actor is refused" 400 invalid_request
"$TOP/bin/starflyctl" --config "$UNIT_CONF" unrevoke wimse://dev.local/ns/payments/sa/api > /dev/null
post_json "$req"
expect_eq "lifting the revocation restores exchange" "$HTTP_CODE" 200

http POST /v1/identity/agent -H 'Content-Type: application/json' -d '{"agent_name": "x", "platform": "zzz", "capabilities": ["a"]}'
err "agent platform checked" 400 invalid_request
http POST /v1/identity/agent -H 'Content-Type: application/json' -d '{"agent_name": "x", "platform": "mcp", "capabilities": []}'
err "agent capabilities must not be empty" 400 invalid_request

t_done
