#!/bin/sh
# client.sh - bin/starfly-token (lib/client.c) end to end.
#
# 1. Interop: a standards authorization server (npm oidc-provider with
#    the RFC 8693 grant registered, tests/node/exchange-as.mjs):
#    discovery through the OpenID fallback, client_secret_basic and
#    client_secret_post, extra parameters, the token introspected as
#    issued, the cache (no second request), the server's errors as is.
# 2. Error paths: connection refused, timeout, an HTML answer, TLS
#    verification with and without ca_file.
# 3. A dev unit (real lighttpd + exchange.fcgi): discovery through RFC
#    8414, the issued JWT, cache/margin/invalidate/flush, per-user cache
#    files, rotation of the subject token file, execution-scoped tokens,
#    the unit's own error surfaced as is.
# 4. Secrets never on a command line (/proc/PID/cmdline) or in logs.
# 5. A production unit: RS256 service-account tokens, a confidential
#    client (basic, post, wrong secret), policy obligations.
. "$(dirname "$0")/../lib.sh"
cd "$TOP" || exit 1
TOK=$TOP/bin/starfly-token
W=$(mktemp -d /tmp/starfly-client.XXXXXX)
AS_PID=""
TLS_PID=""
cleanup() {
	for _p in $AS_PID $TLS_PID; do kill "$_p" 2>/dev/null; wait "$_p" 2>/dev/null; done
	unit_stop
	rm -rf "$W"
}
trap cleanup EXIT

if [ ! -x "$TOK" ]; then
	fail "bin/starfly-token is built" "run make"
	exit 1
fi
# Our own cache directory and configuration lookup, whoever runs this.
export STARFLY_TOKEN_CACHE="$W/cache"
unset XDG_RUNTIME_DIR STARFLY_TOKEN_CONF

# st CONF ARGS...: run starfly-token; sets OUT, ERR, RC.
st() {
	_c=$1; shift
	OUT=$("$TOK" --config "$_c" "$@" 2> "$W/stderr")
	RC=$?
	ERR=$(cat "$W/stderr")
	cat "$W/stderr" >> "$W/all-stderr"
}
b64url_d() {
	_s=$(printf '%s' "$1" | tr '_-' '/+')
	case $(( ${#_s} % 4 )) in 2) _s="$_s==" ;; 3) _s="$_s=" ;; esac
	printf '%s' "$_s" | base64 -d 2>/dev/null
}
claims() { b64url_d "$(printf '%s' "$1" | cut -d. -f2)"; }
rc_is() {
	if [ "$RC" = "$2" ]; then pass "$1"
	else fail "$1" "exit $RC, want $2; stderr: $ERR"; fi
}
# same NAME A B / differ NAME A B: two non-empty values, equal / not.
same() {
	if [ -n "$2" ] && [ "$2" = "$3" ]; then pass "$1"
	else fail "$1" "got '$2', want '$3' (non-empty)"; fi
}
differ() {
	if [ -n "$2" ] && [ -n "$3" ] && [ "$2" != "$3" ]; then pass "$1"
	else fail "$1" "got '$2' and '$3' (want two different non-empty values)"; fi
}
# absent NAME FILE SECRET...: PASS when no SECRET (each non-empty) is in FILE.
absent() {
	_n=$1 _f=$2
	shift 2
	for _s in "$@"; do
		if [ -z "$_s" ]; then fail "$_n" "nothing to look for (an earlier step failed)"; return; fi
		if grep -qF -e "$_s" "$_f"; then fail "$_n" "found in $_f"; return; fi
	done
	pass "$_n"
}
# wait_file FILE: up to 10 s.
wait_file() {
	_i=0
	while [ ! -s "$1" ] && [ $_i -lt 100 ]; do sleep 0.1; _i=$((_i + 1)); done
	[ -s "$1" ]
}

# ---------------------------------------------------------------------
# 1. Interop with oidc-provider.
if ! command -v node > /dev/null || [ ! -d tests/node/node_modules/oidc-provider ]; then
	skip "interop with oidc-provider" "node or tests/node/node_modules absent (make deps)"
else
	mkdir -p "$W/as"
	node tests/node/exchange-as.mjs "$W/as" > "$W/as.log" 2>&1 &
	AS_PID=$!
	if ! wait_file "$W/as/port"; then
		fail "oidc-provider test server starts" "$(tail -5 "$W/as.log")"
	else
		AP=$(cat "$W/as/port")
		AURL=http://127.0.0.1:$AP
		as_stats() { curl -s --max-time 5 "$AURL/_stats"; }
		cat > "$W/as.conf" <<EOF
# Defaults for every entry: the test AS, discovered from its issuer.
issuer		$AURL
allow_http	yes
subject_token_file as/subject.jwt
timeout		5

[crm]
auth		client_secret_basic
client_id	agent-basic
client_secret_file as/basic.secret
scope		crm:read
audience	https://crm.example
extra		requested_token_use=on_behalf_of

[crm-post]
auth		client_secret_post
client_id	agent-post
client_secret_env AS_POST_SECRET
scope		"crm:read crm:write"
audience	https://crm.example

[crm-wrong-secret]
auth		client_secret_basic
client_id	agent-basic
client_secret_env AS_WRONG_SECRET
audience	https://crm.example

[crm-bad-scope]
auth		client_secret_basic
client_id	agent-basic
client_secret_file as/basic.secret
scope		admin
audience	https://crm.example

[crm-expired]
token_endpoint	$AURL/token
auth		client_secret_basic
client_id	agent-basic
client_secret_file as/basic.secret
subject_token_file as/expired.jwt
audience	https://crm.example
EOF
		st "$W/as.conf" crm
		rc_is "interop: client_secret_basic exchange exits 0" 0
		at=$OUT
		intro=$(curl -s --max-time 5 -u "agent-basic:$(cat "$W/as/basic.secret")" \
		    "$AURL/token/introspection" --data-urlencode "token=$at")
		jcheck "interop: the token introspects active for the subject, scope and audience (RFC 7662)" \
		    "$intro" '.active == true and .client_id == "agent-basic" and .scope == "crm:read" and .subject == "agent-7" and .audience == "https://crm.example"'
		jcheck "interop: discovery fell back to openid-configuration; extra parameter sent; Basic auth" \
		    "$(as_stats)" '.token == 1 and .last_requested_token_use == "on_behalf_of" and .last_auth == "basic"'
		st "$W/as.conf" crm
		same "interop: second call is served from the cache" "$OUT" "$at"
		jcheck "interop: second call made no request" "$(as_stats)" '.token == 1'
		st "$W/as.conf" --json crm
		jcheck "interop: --json says cached, with issued_token_type and expires_in" \
		    "$OUT" '.cached == true and .issued_token_type == "urn:ietf:params:oauth:token-type:access_token" and .expires_in > 500 and .scope == "crm:read"'

		AS_POST_SECRET=$(cat "$W/as/post.secret") st "$W/as.conf" crm-post
		rc_is "interop: client_secret_post with the secret from the environment" 0
		jcheck "interop: client_secret_post sends no Authorization header" "$(as_stats)" '.token == 2 and .last_auth == "none"'
		intro=$(curl -s --max-time 5 -u "agent-basic:$(cat "$W/as/basic.secret")" \
		    "$AURL/token/introspection" --data-urlencode "token=$OUT")
		jcheck "interop: the post client's token has both scopes" \
		    "$intro" '.active == true and .client_id == "agent-post" and .scope == "crm:read crm:write"'

		AS_WRONG_SECRET=not-the-secret st "$W/as.conf" crm-wrong-secret
		rc_is "interop: wrong client secret exits 1" 1
		check "interop: invalid_client with the server's description as is" \
		    grep -q 'oauth: HTTP 401 invalid_client: client authentication failed' "$W/stderr"
		st "$W/as.conf" crm-bad-scope
		rc_is "interop: a scope the server refuses exits 1" 1
		check "interop: invalid_scope surfaced" grep -q 'invalid_scope: scope admin is not allowed' "$W/stderr"
		st "$W/as.conf" crm-expired
		rc_is "interop: an expired subject token exits 1" 1
		check "interop: invalid_request with the server's reason" \
		    grep -q 'HTTP 400 invalid_request: subject_token: .*exp' "$W/stderr"
		jcheck "interop: failures are not cached" "$(as_stats)" '.token == 5'

		# Rotation: a new subject token in the file means a new token.
		cp "$W/as/subject2.jwt" "$W/as/subject.jwt.new"
		mv "$W/as/subject.jwt.new" "$W/as/subject.jwt"
		st "$W/as.conf" crm
		intro=$(curl -s --max-time 5 -u "agent-basic:$(cat "$W/as/basic.secret")" \
		    "$AURL/token/introspection" --data-urlencode "token=$OUT")
		jcheck "interop: a rotated subject token file is exchanged anew" \
		    "$intro" '.active == true and .subject == "agent-8"'

		# Subject token from stdin and from the environment (overrides).
		OUT=$("$TOK" --config "$W/as.conf" --no-cache --subject-token-stdin crm < "$W/as/subject.jwt" 2>>"$W/all-stderr")
		check "interop: --subject-token-stdin" test -n "$OUT"
		ST=$(cat "$W/as/subject.jwt") st "$W/as.conf" --no-cache --subject-token-env ST crm
		rc_is "interop: --subject-token-env" 0
		jcheck "interop: --no-cache made a request each time" "$(as_stats)" '.token == 8'

		# 2. Error paths (the test server's /html and /hang routes).
		cat > "$W/err.conf" <<EOF
allow_http	yes
subject_token_file as/subject.jwt
timeout		1
connect_timeout	1
[html]
token_endpoint	$AURL/html/token
[hang]
token_endpoint	$AURL/hang/token
[refused]
token_endpoint	http://127.0.0.1:$(free_port)/token
EOF
		printf '[nohttp]\ntoken_endpoint %s/token\nsubject_token x\n' "$AURL" > "$W/nohttp.conf"
		st "$W/err.conf" html
		rc_is "an HTML answer exits 6" 6
		check "an HTML answer is told apart" grep -q 'not_json: HTTP 502 answer is an HTML page' "$W/stderr"
		t0=$(date +%s)
		st "$W/err.conf" hang
		rc_is "a server that never answers exits 5 (timeout)" 5
		t1=$(date +%s)
		check "timeout is told apart and honoured" sh -c "grep -q 'timeout: timed out' '$W/stderr' && [ $((t1 - t0)) -le 4 ]"
		st "$W/err.conf" refused
		rc_is "connection refused exits 4" 4
		check "connection refused is told apart" grep -q 'refused: connection refused' "$W/stderr"
		st "$W/nohttp.conf" nohttp
		rc_is "an http endpoint without allow_http is a configuration error" 2

		# TLS: the same server over https with a self-signed certificate.
		if openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
		    -keyout "$W/tls.key" -out "$W/tls.crt" -days 1 -subj /CN=127.0.0.1 \
		    -addext subjectAltName=IP:127.0.0.1 > /dev/null 2>&1; then
			mkdir -p "$W/tlsas"
			node tests/node/exchange-as.mjs "$W/tlsas" --tls "$W/tls.key" "$W/tls.crt" > "$W/tlsas.log" 2>&1 &
			TLS_PID=$!
			if wait_file "$W/tlsas/port"; then
				TP=$(cat "$W/tlsas/port")
				cat > "$W/tls.conf" <<EOF
issuer		https://127.0.0.1:$TP
subject_token_file tlsas/subject.jwt
auth		client_secret_basic
client_id	agent-basic
client_secret_file tlsas/basic.secret
[untrusted]
[trusted]
ca_file		tls.crt
EOF
				st "$W/tls.conf" untrusted
				rc_is "TLS: a certificate outside the trust store exits 4" 4
				check "TLS: verification failure is told apart" grep -q ': tls: TLS: ' "$W/stderr"
				st "$W/tls.conf" trusted
				rc_is "TLS: ca_file trusts the server's certificate (discovery and exchange over https)" 0
			else
				fail "TLS test server starts" "$(tail -5 "$W/tlsas.log")"
			fi
		else
			skip "TLS" "openssl cannot make a test certificate"
		fi

		# 4. Secrets: never on the command line of a running process.
		AS_WRONG_SECRET=secret-in-env-7 "$TOK" --config "$W/err.conf" hang 2>>"$W/all-stderr" &
		pid=$!
		sleep 0.3
		cmdline=$(tr '\0' ' ' < "/proc/$pid/cmdline" 2>/dev/null)
		wait $pid
		subj=$(cat "$W/as/subject.jwt")
		if [ -z "$cmdline" ]; then
			fail "secrets: /proc/PID/cmdline readable while running"
		elif printf '%s' "$cmdline" | grep -qF -e "$subj" -e "$(cat "$W/as/basic.secret")"; then
			fail "secrets: /proc/PID/cmdline holds no secret" "$cmdline"
		else
			pass "secrets: /proc/PID/cmdline holds no secret ($cmdline)"
		fi
		absent "secrets: no subject token, client secret or access token on stderr" "$W/all-stderr" \
		    "$subj" "$(cat "$W/as/basic.secret")" "$(cat "$W/as/post.secret")" "$at"
		check "secrets: the CLI has no option taking a secret value" \
		    sh -c "! '$TOK' --help | grep -Eiq -e '--(subject-token|client-secret|secret|token)[ =]'"
	fi
fi

# ---------------------------------------------------------------------
# 3. A dev unit.
unit_start || { fail "unit starts"; exit 1; }
b64url() { base64 -w0 | tr -d '=' | tr '/+' '_-'; }
stub() { printf '%s.%s.stub' "$(printf '{"alg":"RS256","typ":"JWT"}' | b64url)" "$(printf '%s' "$1" | b64url)"; }
now=$(date +%s)
stub "{\"sub\":\"agent-one\",\"iss\":\"https://k8s.example\",\"exp\":$((now + 3600))}" > "$W/unit-subject"
probe=$(curl -s --max-time 10 -w '\n%{http_code}' "$UNIT_URL/v1/exchange/token" \
    --data-urlencode grant_type=urn:ietf:params:oauth:grant-type:token-exchange \
    --data-urlencode "subject_token@$W/unit-subject" \
    --data-urlencode subject_token_type=urn:ietf:params:oauth:token-type:jwt \
    --data-urlencode audience=https://probe.example)
if [ "$(printf '%s\n' "$probe" | tail -n 1)" != 200 ]; then
	fail "unit: exchange.fcgi answers 200 to a form exchange" "$(printf '%s\n' "$probe" | head -c 300)"
	skip "unit: client against the unit" "the unit cannot exchange yet"
	t_done
	exit
fi
pass "unit: exchange.fcgi answers 200 to a form exchange"
cat > "$W/unit.conf" <<EOF
# The dev unit, found through RFC 8414 metadata at its issuer.
issuer		http://localhost:$UNIT_PORT
allow_http	yes
subject_token_file unit-subject
[api]
audience	https://api.example.com
scope		read:data
[nomargin]
audience	https://api.example.com
margin		300
[bad]
subject_token	not-a-jwt
audience	https://api.example.com
[pay]
audience	https://pay.example.com
EOF
st "$W/unit.conf" api
rc_is "unit: starfly-token api exits 0" 0
t1=$OUT
c1=$(claims "$t1")
h1=$(b64url_d "$(printf '%s' "$t1" | cut -d. -f1)")
jcheck "unit: the token's header is typ at+jwt, alg ES256" "$h1" '.typ == "at+jwt" and .alg == "ES256"'
jcheck "unit: a token for the audience, issued by the unit, subject from the file" \
    "$c1" '.aud == "https://api.example.com" and .iss == $iss and .sub == "wimse://dev.local/ns/default/sa/agent-one" and .scope == "read:data"' --arg iss "http://localhost:$UNIT_PORT"
st "$W/unit.conf" -v api
same "unit: second call returns the cached token" "$OUT" "$t1"
check "unit: -v says it came from the cache" grep -q 'cached token' "$W/stderr"
check "unit: cache directory 0700, token file 0600" \
    sh -c "[ \"\$(stat -c %a '$W/cache')\" = 700 ] && [ \"\$(stat -c %a '$W/cache/api')\" = 700 ] && [ \"\$(stat -c %a '$W/cache/api/'*)\" = 600 ]"
st "$W/unit.conf" --no-cache api
differ "unit: --no-cache exchanges again (new jti)" "$(claims "$OUT" | jq -r .jti)" "$(printf '%s' "$c1" | jq -r .jti)"
st "$W/unit.conf" api
same "unit: --no-cache did not replace the cached token" "$OUT" "$t1"
st "$W/unit.conf" --invalidate api api
rc_is "unit: --invalidate REF REF exits 0" 0
differ "unit: --invalidate REF then REF gets a new token" "$OUT" "$t1"
t2=$OUT
st "$W/unit.conf" pay
check "unit: a second entry has its own cache directory" test -d "$W/cache/pay"
st "$W/unit.conf" --invalidate pay
check "unit: --invalidate alone prints nothing and removes REF's files only" \
    sh -c "[ '$RC' = 0 ] && [ -z '$OUT' ] && [ ! -e '$W/cache/pay' ] && [ -d '$W/cache/api' ]"
st "$W/unit.conf" api
same "unit: invalidating another entry keeps this one" "$OUT" "$t2"
st "$W/unit.conf" --flush
check "unit: --flush empties the cache" sh -c "[ '$RC' = 0 ] && [ -z \"\$(ls '$W/cache')\" ]"
st "$W/unit.conf" api
differ "unit: after --flush a new token" "$OUT" "$t2"
st "$W/unit.conf" nomargin
n1=$OUT
st "$W/unit.conf" nomargin
differ "unit: a token with no more than the margin left is not reused" "$OUT" "$n1"

# Rotation of the subject token file.
stub "{\"sub\":\"agent-two\",\"iss\":\"https://k8s.example\",\"exp\":$((now + 3600))}" > "$W/unit-subject.new"
mv "$W/unit-subject.new" "$W/unit-subject"
st "$W/unit.conf" api
jcheck "unit: a rotated subject token file gives a token for the new subject" \
    "$(claims "$OUT")" '.sub == "wimse://dev.local/ns/default/sa/agent-two"'

# The unit's own error, as is.
st "$W/unit.conf" bad
rc_is "unit: a malformed subject token exits 1" 1
direct=$(curl -s --max-time 10 "$UNIT_URL/v1/exchange/token" \
    --data-urlencode grant_type=urn:ietf:params:oauth:grant-type:token-exchange \
    --data-urlencode subject_token=not-a-jwt \
    --data-urlencode subject_token_type=urn:ietf:params:oauth:token-type:jwt \
    --data-urlencode audience=https://api.example.com | jq -r '"\(.error): \(.error_description)"')
check "unit: the unit's error and error_description are printed as sent ($direct)" \
    grep -qF "oauth: HTTP 400 $direct" "$W/stderr"

# Execution-scoped tokens: inp_hash = base64url(SHA-256(body)), fresh nonce.
printf '{"amount":42,"to":"acct-9"}' > "$W/body.json"
want=$(openssl dgst -sha256 -binary "$W/body.json" | base64 -w0 | tr -d '=' | tr '/+' '_-')
st "$W/unit.conf" --json --htm POST --htu https://pay.example.com/v1/charge --body-file "$W/body.json" --exec-act charge pay
rc_is "unit: execution-scoped exchange exits 0" 0
x1=$OUT
xc=$(claims "$(printf '%s' "$x1" | jq -r .access_token)")
n1=$(printf '%s' "$x1" | jq -r .nonce)
jcheck "unit: execution-scoped token carries htm, htu, nonce, inp_hash of the body" \
    "$xc" '.htm == "POST" and .htu == "https://pay.example.com/v1/charge" and .inp_hash == $h and .nonce == $n and .exec_act == "charge"' \
    --arg h "$want" --arg n "$n1"
jcheck "unit: execution-scoped token lives 30 s at most" "$xc" '.exp - .iat <= 30'
st "$W/unit.conf" --json --htm POST --htu https://pay.example.com/v1/charge --body-file - pay < "$W/body.json"
jcheck "unit: the same call again gets a fresh nonce and a new token (never cached)" \
    "$OUT" '.cached == false and .inp_hash == $h and (.nonce | length) == 22 and .nonce != $n' \
    --arg h "$want" --arg n "$n1"

absent "secrets: the unit's log holds neither subject token nor issued token" "$UNIT_VAR/unit.log" \
    "$(cat "$W/unit-subject")" "$t1"
absent "secrets: nothing secret on the CLI's stderr" "$W/all-stderr" \
    "$(cat "$W/unit-subject")" "$t1" "$t2"
unit_stop

# ---------------------------------------------------------------------
# 5. A production unit: real RS256 Kubernetes credentials (npm jose),
#    a confidential client in clients.d, a Rego policy with obligations.
if ! command -v node > /dev/null || [ ! -d tests/node/node_modules/jose ]; then
	skip "production unit" "node or tests/node/node_modules absent (make deps)"
	t_done
	exit
fi
P=$W/prod
mkdir -p "$P/keys" "$P/etc/issuers.d" "$P/etc/clients.d" "$P/policy"
(cd tests/node && node mint.mjs keys "$P/keys") || { fail "prod: jose keys"; t_done; exit; }
mint() { (cd tests/node && node mint.mjs sign "$P/keys" RS256 rs256-test-1 "$1"); }
cat > "$P/etc/issuers.d/k8s.conf" <<CONF
issuer		https://k8s.cluster.test
kind		kubernetes
trust_domain	cluster.test
jwks_file	$P/keys/rs256.jwks
algorithms	RS256
CONF
head -c 24 /dev/urandom | base64 | tr -d '/+=' > "$P/client.secret"
cat > "$P/etc/clients.d/agent.conf" <<CONF
client_id	agent-prod
secret_sha256	$(tr -d '\n' < "$P/client.secret" | sha256sum | cut -d' ' -f1)
auth_methods	client_secret_basic client_secret_post
CONF
cat > "$P/policy/exchange.rego" <<'REGO'
package starfly.exchange

import rego.v1

default allow := false

allow if input.subject.trust_domain == "cluster.test"

reason := "untrusted trust domain" if not allow

claims := {"scope": "read:data write:data", "ttl": 120}
REGO
STARFLY_MODE=production STARFLY_ETC=$P/etc STARFLY_POLICY=$P/policy unit_start ||
    { fail "prod: production unit starts"; t_done; exit; }
now=$(date +%s)
sa() {	# SUB IAT EXP
	mint "{\"iss\":\"https://k8s.cluster.test\",\"sub\":\"system:serviceaccount:$1\",\"aud\":[\"starfly\"],\"iat\":$2,\"exp\":$3}"
}
sa payments:api "$now" $((now + 600)) > "$P/sa-token"
cat > "$W/prod.conf" <<CONF
issuer		http://localhost:$UNIT_PORT
allow_http	yes
subject_token_file prod/sa-token
client_id	agent-prod
audience	https://api.example.com
scope		"read:data delete:all"
[basic]
auth		client_secret_basic
client_secret_file prod/client.secret
[post]
auth		client_secret_post
client_secret_env PROD_SECRET
[wrong]
auth		client_secret_basic
client_secret_env PROD_WRONG
CONF
st "$W/prod.conf" --json basic
rc_is "prod: client_secret_basic exchange of an RS256 service-account token" 0
pt=$(printf '%s' "$OUT" | jq -r .access_token)
jcheck "prod: granted scope is the policy's intersection, lifetime its ttl" \
    "$OUT" '.scope == "read:data" and .expires_in <= 120 and .expires_in > 100 and .cached == false'
jcheck "prod: the token names the Kubernetes subject and the client" \
    "$(claims "$pt")" '.sub == "wimse://cluster.test/ns/payments/sa/api" and .client_id == "agent-prod" and .aud == "https://api.example.com"'
st "$W/prod.conf" basic
same "prod: second call is served from the cache" "$OUT" "$pt"
PROD_SECRET=$(cat "$P/client.secret") st "$W/prod.conf" post
rc_is "prod: client_secret_post" 0
PROD_WRONG=not-the-secret st "$W/prod.conf" wrong
rc_is "prod: a wrong client secret exits 1" 1
direct=$(curl -s --max-time 10 -u agent-prod:not-the-secret "$UNIT_URL/v1/exchange/token" \
    --data-urlencode grant_type=urn:ietf:params:oauth:grant-type:token-exchange \
    --data-urlencode "subject_token@$P/sa-token" \
    --data-urlencode subject_token_type=urn:ietf:params:oauth:token-type:jwt \
    --data-urlencode audience=https://api.example.com | jq -r '"\(.error): \(.error_description)"')
check "prod: invalid_client surfaced as the unit sent it ($direct)" \
    grep -qF "oauth: HTTP 401 $direct" "$W/stderr"
sa billing:worker "$now" $((now + 600)) > "$P/sa-token.new"
mv "$P/sa-token.new" "$P/sa-token"
st "$W/prod.conf" basic
jcheck "prod: a rotated service-account token is exchanged anew" \
    "$(claims "$OUT")" '.sub == "wimse://cluster.test/ns/billing/sa/worker"'
sa a:b $((now - 7200)) $((now - 3600)) > "$P/sa-token"
st "$W/prod.conf" basic
rc_is "prod: an expired service-account token exits 1" 1
check "prod: the unit's reason is shown" grep -q 'oauth: HTTP 400 invalid_request: .*expire' "$W/stderr"
absent "prod secrets: the unit's log holds no client secret or issued token" "$UNIT_VAR/unit.log" \
    "$(cat "$P/client.secret")" "$pt"
absent "prod secrets: nothing secret on the CLI's stderr" "$W/all-stderr" \
    "$(cat "$P/client.secret")" "$pt"

t_done
