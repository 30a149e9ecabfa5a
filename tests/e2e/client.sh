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
		check "interop: the token introspects active for the subject, scope and audience (RFC 7662)" \
		    sh -c "printf '%s' '$intro' | jq -e '.active == true and .client_id == \"agent-basic\" and .scope == \"crm:read\" and .subject == \"agent-7\" and .audience == \"https://crm.example\"'"
		check "interop: discovery fell back to openid-configuration; extra parameter sent; Basic auth" \
		    sh -c "curl -s '$AURL/_stats' | jq -e '.token == 1 and .last_requested_token_use == \"on_behalf_of\" and .last_auth == \"basic\"'"
		st "$W/as.conf" crm
		expect_eq "interop: second call is served from the cache" "$OUT" "$at"
		check "interop: second call made no request" sh -c "curl -s '$AURL/_stats' | jq -e '.token == 1'"
		st "$W/as.conf" --json crm
		check "interop: --json says cached, with issued_token_type and expires_in" \
		    sh -c "printf '%s' '$OUT' | jq -e '.cached == true and .issued_token_type == \"urn:ietf:params:oauth:token-type:access_token\" and .expires_in > 500 and .scope == \"crm:read\"'"

		AS_POST_SECRET=$(cat "$W/as/post.secret") st "$W/as.conf" crm-post
		rc_is "interop: client_secret_post with the secret from the environment" 0
		check "interop: client_secret_post sends no Authorization header" sh -c "curl -s '$AURL/_stats' | jq -e '.token == 2 and .last_auth == \"none\"'"
		intro=$(curl -s --max-time 5 -u "agent-basic:$(cat "$W/as/basic.secret")" \
		    "$AURL/token/introspection" --data-urlencode "token=$OUT")
		check "interop: the post client's token has both scopes" \
		    sh -c "printf '%s' '$intro' | jq -e '.active == true and .client_id == \"agent-post\" and .scope == \"crm:read crm:write\"'"

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
		check "interop: failures are not cached" sh -c "curl -s '$AURL/_stats' | jq -e '.token == 5'"

		# Rotation: a new subject token in the file means a new token.
		cp "$W/as/subject2.jwt" "$W/as/subject.jwt.new"
		mv "$W/as/subject.jwt.new" "$W/as/subject.jwt"
		st "$W/as.conf" crm
		intro=$(curl -s --max-time 5 -u "agent-basic:$(cat "$W/as/basic.secret")" \
		    "$AURL/token/introspection" --data-urlencode "token=$OUT")
		check "interop: a rotated subject token file is exchanged anew" \
		    sh -c "printf '%s' '$intro' | jq -e '.active == true and .subject == \"agent-8\"'"

		# Subject token from stdin and from the environment (overrides).
		OUT=$("$TOK" --config "$W/as.conf" --no-cache --subject-token-stdin crm < "$W/as/subject.jwt" 2>>"$W/all-stderr")
		check "interop: --subject-token-stdin" test -n "$OUT"
		ST=$(cat "$W/as/subject.jwt") st "$W/as.conf" --no-cache --subject-token-env ST crm
		rc_is "interop: --subject-token-env" 0
		check "interop: --no-cache made a request each time" sh -c "curl -s '$AURL/_stats' | jq -e '.token == 8'"

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
		check "secrets: no subject token, client secret or access token on stderr" \
		    sh -c "! grep -qF -e '$subj' -e '$(cat "$W/as/basic.secret")' -e '$(cat "$W/as/post.secret")' -e '$at' '$W/all-stderr'"
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
check "unit: the token's header is typ at+jwt, alg ES256" sh -c "printf '%s' '$h1' | jq -e '.typ == \"at+jwt\" and .alg == \"ES256\"'"
check "unit: a token for the audience, issued by the unit, subject from the file" \
    sh -c "printf '%s' '$c1' | jq -e --arg iss 'http://localhost:$UNIT_PORT' '.aud == \"https://api.example.com\" and .iss == \$iss and .sub == \"wimse://dev.local/ns/default/sa/agent-one\" and .scope == \"read:data\"'"
st "$W/unit.conf" -v api
expect_eq "unit: second call returns the cached token" "$OUT" "$t1"
check "unit: -v says it came from the cache" grep -q 'cached token' "$W/stderr"
check "unit: cache directory 0700, token file 0600" \
    sh -c "[ \"\$(stat -c %a '$W/cache')\" = 700 ] && [ \"\$(stat -c %a '$W/cache/api')\" = 700 ] && [ \"\$(stat -c %a '$W/cache/api/'*)\" = 600 ]"
st "$W/unit.conf" --no-cache api
check "unit: --no-cache exchanges again (new jti)" sh -c "[ '$OUT' != '$t1' ] && [ \"\$(printf '%s' '$(claims "$OUT")' | jq -r .jti)\" != \"\$(printf '%s' '$c1' | jq -r .jti)\" ]"
st "$W/unit.conf" api
expect_eq "unit: --no-cache did not replace the cached token" "$OUT" "$t1"
st "$W/unit.conf" --invalidate api api
check "unit: --invalidate REF then REF gets a new token" sh -c "[ '$RC' = 0 ] && [ '$OUT' != '$t1' ]"
t2=$OUT
st "$W/unit.conf" pay
tp=$OUT
st "$W/unit.conf" --invalidate pay
check "unit: --invalidate alone prints nothing and removes REF's files only" \
    sh -c "[ '$RC' = 0 ] && [ -z '$OUT' ] && [ ! -e '$W/cache/pay' ] && [ -d '$W/cache/api' ]"
st "$W/unit.conf" api
expect_eq "unit: invalidating another entry keeps this one" "$OUT" "$t2"
st "$W/unit.conf" --flush
check "unit: --flush empties the cache" sh -c "[ '$RC' = 0 ] && [ -z \"\$(ls '$W/cache')\" ]"
st "$W/unit.conf" api
check "unit: after --flush a new token" test "$OUT" != "$t2"
st "$W/unit.conf" nomargin
n1=$OUT
st "$W/unit.conf" nomargin
check "unit: a token with no more than the margin left is not reused" test "$OUT" != "$n1"

# Rotation of the subject token file.
stub "{\"sub\":\"agent-two\",\"iss\":\"https://k8s.example\",\"exp\":$((now + 3600))}" > "$W/unit-subject.new"
mv "$W/unit-subject.new" "$W/unit-subject"
st "$W/unit.conf" api
check "unit: a rotated subject token file gives a token for the new subject" \
    sh -c "printf '%s' '$(claims "$OUT")' | jq -e '.sub == \"wimse://dev.local/ns/default/sa/agent-two\"'"

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
check "unit: execution-scoped token carries htm, htu, nonce, inp_hash of the body" \
    sh -c "printf '%s' '$xc' | jq -e --arg h '$want' --arg n \"\$(printf '%s' '$x1' | jq -r .nonce)\" '.htm == \"POST\" and .htu == \"https://pay.example.com/v1/charge\" and .inp_hash == \$h and .nonce == \$n and .exec_act == \"charge\"'"
check "unit: execution-scoped token lives 30 s at most" sh -c "printf '%s' '$xc' | jq -e '.exp - .iat <= 30'"
st "$W/unit.conf" --json --htm POST --htu https://pay.example.com/v1/charge --body-file - pay < "$W/body.json"
check "unit: the same call again gets a fresh nonce and a new token (never cached)" \
    sh -c "[ \"\$(printf '%s' '$OUT' | jq -r .nonce)\" != \"\$(printf '%s' '$x1' | jq -r .nonce)\" ] && printf '%s' '$OUT' | jq -e --arg h '$want' '.cached == false and .inp_hash == \$h'"

check "secrets: the unit's log holds neither subject token nor issued token" \
    sh -c "! grep -qF -e '$(cat "$W/unit-subject")' -e '$t1' '$UNIT_VAR/unit.log'"
check "secrets: nothing secret on the CLI's stderr" \
    sh -c "! grep -qF -e '$(cat "$W/unit-subject")' -e '$t1' -e '$t2' '$W/all-stderr'"

t_done
