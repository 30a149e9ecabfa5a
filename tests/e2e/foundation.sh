#!/bin/sh
# foundation.sh - a dev unit exactly as `make run` starts it (real
# lighttpd, programs on unix sockets): health, JWKS, RFC 8414 metadata,
# the JWKS again through plain CGI, the JSON 404/405/400/413 shapes,
# X-Request-ID, key persistence across a restart, sandbox/init.sh.
. "$(dirname "$0")/../lib.sh"
cd "$TOP" || exit 1

unit_start || { fail "unit starts"; exit 1; }
pass "unit starts behind lighttpd"

http GET /v1/sys/health
expect_eq "health 200" "$HTTP_CODE" 200
jcheck "health body" "$HTTP_BODY" '.initialized == true and .locked == false and .mode == "dev" and (.unit_id|test("^[0-9a-f]{12}$")) and (.version|length) > 0'
rid=$(header X-Request-ID)
check "X-Request-ID is a UUID" sh -c "echo '$rid' | grep -Eq '^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}\$'"
unit_id=$(printf '%s' "$HTTP_BODY" | jq -r .unit_id)

http GET /v1/identity/jwks
expect_eq "jwks 200" "$HTTP_CODE" 200
jwks=$HTTP_BODY
jcheck "jwks has an ES256 P-256 signing key" "$jwks" '.keys | length >= 1 and (.[0] | .kty == "EC" and .crv == "P-256" and .alg == "ES256" and .use == "sig" and (.kid|length) == 43 and (.x|length) > 0 and (.y|length) > 0 and (has("d")|not))'
check "jwks is cacheable" sh -c "echo '$(header Cache-Control)' | grep -q max-age"
expect_eq "jwks content type" "$(header Content-Type)" "application/json"

cgi=$(STARFLY_CONF=$UNIT_VAR/starfly.conf REQUEST_METHOD=GET \
    REQUEST_URI=/v1/identity/jwks "$TOP/bin/jwks.fcgi" | tr -d '\r' | sed '1,/^$/d')
expect_eq "same JWKS through CGI" "$cgi" "$jwks"
cgi_status=$(STARFLY_CONF=$UNIT_VAR/starfly.conf REQUEST_METHOD=GET \
    REQUEST_URI=/v1/nope "$TOP/bin/jwks.fcgi" | head -n 1 | tr -d '\r')
expect_eq "CGI 404 status line" "$cgi_status" "Status: 404 Not Found"

http GET /.well-known/oauth-authorization-server
expect_eq "metadata 200" "$HTTP_CODE" 200
jcheck "metadata names the issuer clients use" "$HTTP_BODY" '.issuer == $i and .token_endpoint == "\($i)/v1/exchange/token" and .jwks_uri == "\($i)/v1/identity/jwks" and .response_types_supported == [] and .grant_types_supported == ["urn:ietf:params:oauth:grant-type:token-exchange"]' --arg i "http://localhost:$UNIT_PORT"

for p in /v1/nope /v1/identity/nope /.well-known/nope /v1/sys/health/extra; do
	http GET "$p"
	expect_eq "404 for $p" "$HTTP_CODE" 404
	jcheck "404 body for $p is JSON" "$HTTP_BODY" '.error == "not_found" and (.error_description|length) > 0'
done

http POST /v1/sys/health -d '{}'
expect_eq "405 for POST health" "$HTTP_CODE" 405
expect_eq "405 Allow header" "$(header Allow)" "GET, HEAD"

http GET /v1/sys/../sys/health --path-as-is
expect_eq "400 for a dot-segment path" "$HTTP_CODE" 400
jcheck "400 names the problem" "$HTTP_BODY" '.error == "invalid_request" and (.error_description|test("dot-segment"))'
http GET "/v1/sys/%2e%2e/sys/health" --path-as-is
expect_eq "400 for an encoded dot-segment" "$HTTP_CODE" 400

head -c 70000 /dev/zero | tr '\0' a > "$UNIT_VAR/big"
http POST /v1/sys/unseal -H 'Content-Type: application/json' --data-binary @"$UNIT_VAR/big"
expect_eq "413 past the 64 KiB body cap" "$HTTP_CODE" 413
jcheck "413 is JSON" "$HTTP_BODY" '.error == "invalid_request"'

out=$(STARFLY_URL=$UNIT_URL sh "$TOP/sandbox/init.sh")
rc=$?
echo "$out"
expect_eq "sandbox/init.sh exits 0" "$rc" 0
check "sandbox/init.sh prints ok lines only" sh -c "echo '$out' | grep -q '^  ok  health' && ! echo '$out' | grep -q '^  fail'"

# A second unit on the same state says so instead of failing oddly.
second=$(sh "$TOP/etc/dev/run.sh" "$(free_port)" "$UNIT_VAR" 2>&1)
check "a second run on the same state refuses" sh -c "echo '$second' | grep -q 'already running'"

# Keys persist across a restart; the unit id too.
kid1=$(printf '%s' "$jwks" | jq -r '.keys[0].kid')
running=$(ps -eo args | grep -c "^[^ ]*\.fcgi --config $UNIT_VAR")
check "every program runs on its own socket" [ "$running" -ge 6 ]
kill "$UNIT_PID"; wait "$UNIT_PID" 2>/dev/null
left=$(ps -eo args | grep -c "^[^ ]*\.fcgi --config $UNIT_VAR")
expect_eq "Ctrl-C/TERM stops every program" "$left" 0
port=$UNIT_PORT
sh "$TOP/etc/dev/run.sh" "$port" "$UNIT_VAR" >> "$UNIT_VAR/unit.log" 2>&1 &
UNIT_PID=$!
for i in $(seq 50); do curl -s -o /dev/null "$UNIT_URL/v1/sys/health" && break; sleep 0.1; done
http GET /v1/identity/jwks
expect_eq "same signing key after restart" "$(printf '%s' "$HTTP_BODY" | jq -r '.keys[0].kid')" "$kid1"
http GET /v1/sys/health
expect_eq "same unit id after restart" "$(printf '%s' "$HTTP_BODY" | jq -r .unit_id)" "$unit_id"
check "private key file is 0600" sh -c "[ \"\$(stat -c %a $UNIT_VAR/keys/private/$kid1.pem)\" = 600 ]"

t_done
