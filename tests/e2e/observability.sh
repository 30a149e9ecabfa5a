#!/bin/sh
# observability.sh - a unit as `make run` starts it: /metrics through
# promtool, the sum of N requests over several processes, seal/unseal/
# seal seen by every process (FastCGI workers, plain CGI, exchange),
# audit verify catching an edited and a deleted line, server-sent events
# (connected, filter, resume, pool), and a production unit whose keys
# are encrypted at rest.
. "$(dirname "$0")/../lib.sh"
cd "$TOP" || exit 1

ctl() { "$TOP/bin/starflyctl" --config "$UNIT_CONF" "$@"; }
metric() {	# metric 'series{labels}': its value from /metrics, 0 if absent
	curl -s "$UNIT_URL/metrics" | awk -v s="$1" '$1 == s { print $2; f=1 } END { if (!f) print 0 }'
}
cgi_sys() {	# one sys.fcgi process as plain CGI: prints the status code
	STARFLY_CONF=$UNIT_CONF REQUEST_METHOD=GET REQUEST_URI="$1" \
	    "$TOP/bin/sys.fcgi" | head -n 1 | tr -d '\r' | awk '{print $2}'
}
stub() {
	_h=$(printf '{"alg":"RS256","typ":"JWT"}' | base64 | tr -d '=\n' | tr '/+' '_-')
	_c=$(printf '{"sub":"system:serviceaccount:obs:agent","iss":"https://kubernetes.default.svc","exp":%s}' \
	    $(( $(date +%s) + 600 )) | base64 | tr -d '=\n' | tr '/+' '_-')
	printf '%s.%s.stub' "$_h" "$_c"
}
exchange_code() {
	curl -s -o /dev/null -w '%{http_code}' -H 'Content-Type: application/json' \
	    -d "{\"grant_type\":\"urn:ietf:params:oauth:grant-type:token-exchange\",\"subject_token\":\"$(stub)\",\"subject_token_type\":\"urn:ietf:params:oauth:token-type:jwt\",\"audience\":\"https://api.example.com\"}" \
	    "$UNIT_URL/v1/exchange/token"
}
segment=""
forget_segment() { [ -n "$segment" ] && rm -f "$segment"; segment=""; }

unit_start || { fail "unit starts"; exit 1; }
pass "dev unit starts"

# --- /metrics ------------------------------------------------------------
if command -v promtool >/dev/null; then
	curl -s "$UNIT_URL/metrics" > "$UNIT_VAR/m1"
	if promtool check metrics < "$UNIT_VAR/m1" > "$UNIT_VAR/promtool.out" 2>&1; then
		pass "promtool check metrics"
	else
		fail "promtool check metrics" "$(head -c 400 "$UNIT_VAR/promtool.out")"
	fi
else
	skip "promtool check metrics" "promtool not installed (Debian package prometheus)"
fi
http GET /metrics
expect_eq "metrics 200" "$HTTP_CODE" 200
check "metrics content type" sh -c "echo '$(header Content-Type)' | grep -q '^text/plain; version=0.0.4'"
for fam in starfly_unit_info starfly_exchange_requests_total \
    starfly_exchange_duration_seconds starfly_policy_evaluation_duration_seconds \
    starfly_mcp_tool_calls_total starfly_mcp_verify_duration_seconds \
    starfly_signals_received_total starfly_revocation_index_size \
    starfly_sealed starfly_signing_key_age_seconds starfly_sse_clients \
    starfly_audit_append_duration_seconds starfly_store_write_failures_total; do
	check "family $fam" sh -c "printf '%s\n' \"\$1\" | grep -q '^# TYPE $fam '" _ "$HTTP_BODY"
done
check "histogram bucket at 50 us" sh -c "printf '%s\n' \"\$1\" | grep -q '^starfly_exchange_duration_seconds_bucket{le=\"5e-05\"}'" _ "$HTTP_BODY"

# --- the sum over processes ---------------------------------------------
# 40 requests to the FastCGI worker and 40 plain-CGI processes: 80 in all.
series='starfly_http_requests_total{program="sys",route="/v1/sys/health",code="200"}'
before=$(metric "$series")
seq 40 | xargs -P 8 -I{} curl -s -o /dev/null "$UNIT_URL/v1/sys/health"
seq 40 | xargs -P 8 -I{} sh -c "STARFLY_CONF='$UNIT_CONF' REQUEST_METHOD=GET REQUEST_URI=/v1/sys/health '$TOP/bin/sys.fcgi' > /dev/null"
after=$(metric "$series")
expect_eq "80 requests over 41 processes count 80" "$((after - before))" 80

# --- exchange moves its counter --------------------------------------------
ex_before=$(metric 'starfly_exchange_requests_total{status="success",source_type="jwt"}')
code=$(exchange_code)
if [ "$code" = 200 ]; then
	ex_after=$(metric 'starfly_exchange_requests_total{status="success",source_type="jwt"}')
	expect_eq "an exchange counts once" "$((ex_after - ex_before))" 1
else
	fail "dev exchange answers 200" "got $code"
fi

# --- seal / unseal / seal across processes ---------------------------------
key=$(cat "$UNIT_VAR/unseal.key")
check "starflyctl seal" ctl seal
expect_eq "sealed: health 503 from the FastCGI worker" "$(curl -s -o /dev/null -w '%{http_code}' "$UNIT_URL/v1/sys/health")" 503
expect_eq "sealed: health 503 from a CGI process" "$(cgi_sys /v1/sys/health)" 503
http GET /v1/sys/health
jcheck "sealed: health says locked" "$HTTP_BODY" '.locked == true'
expect_eq "sealed: exchange 503" "$(exchange_code)" 503
expect_eq "sealed metric" "$(metric starfly_sealed)" 1
http POST /v1/sys/unseal -H 'Content-Type: application/json' -d '{"key":"not-the-unseal-key-at-all"}'
expect_eq "wrong unseal key: 400" "$HTTP_CODE" 400
expect_eq "still sealed after a wrong key" "$(cgi_sys /v1/sys/health)" 503
http POST /v1/sys/unseal -H 'Content-Type: application/json' -d "{\"key\":\"$key\"}"
expect_eq "unseal over HTTP: 200" "$HTTP_CODE" 200
expect_eq "unsealed: health 200 from a CGI process" "$(cgi_sys /v1/sys/health)" 200
expect_eq "unsealed: exchange signs again without a restart" "$(exchange_code)" 200
http POST /v1/sys/seal -d ''
expect_eq "seal without an admin token: 401" "$HTTP_CODE" 401
tok=$("$TOP/tests/bin/admin-token" --config "$UNIT_CONF")
http POST /v1/sys/seal -d '' -H "Authorization: Bearer $tok"
expect_eq "seal with an admin token: 200" "$HTTP_CODE" 200
expect_eq "sealed again: exchange 503" "$(exchange_code)" 503
check "starflyctl unseal reads stdin" sh -c "echo '$key' | '$TOP/bin/starflyctl' --config '$UNIT_CONF' unseal"
expect_eq "unsealed by starflyctl: health 200" "$(curl -s -o /dev/null -w '%{http_code}' "$UNIT_URL/v1/sys/health")" 200

# --- audit trail -------------------------------------------------------------
check "audit verify: intact" ctl audit verify
check "seal records in the trail" sh -c "'$TOP/bin/starflyctl' --config '$UNIT_CONF' audit tail --type seal | grep -q '\"action\":\"unseal\"'"
log=$UNIT_VAR/audit/audit.log
cp "$log" "$UNIT_VAR/audit.orig"
sed -i '2s/"decision":"[a-z]*"/"decision":"forged"/' "$log"
out=$(ctl audit verify); rc=$?
check "audit verify: an edited line fails" sh -c "[ $rc = 1 ] && echo '$out' | grep -q 'audit.log:2: hash'"
cp "$UNIT_VAR/audit.orig" "$log"
sed -i '3d' "$log"
out=$(ctl audit verify); rc=$?
check "audit verify: a deleted line fails" sh -c "[ $rc = 1 ] && echo '$out' | grep -q 'audit.log:3: .*removed'"
cp "$UNIT_VAR/audit.orig" "$log"
check "audit verify: restored" ctl audit verify

# --- server-sent events ------------------------------------------------------
sse=$UNIT_VAR/sse
curl -sN --max-time 4 "$UNIT_URL/v1/events?types=seal" > "$sse.1" &
c1=$!
sleep 1
ctl seal > /dev/null
echo "$key" | ctl unseal > /dev/null
exchange_code > /dev/null
wait $c1
check "sse: connected comment first" sh -c "head -n 1 '$sse.1' | grep -q '^: connected'"
check "sse: id and data lines" sh -c "grep -q '^id: [0-9]' '$sse.1' && grep -q '^data: {\"seq\"' '$sse.1'"
check "sse: ?types=seal keeps only seal records" sh -c "! grep '^data:' '$sse.1' | grep -v '\"type\":\"seal\"' | grep -q ."
first=$(grep '^id: ' "$sse.1" | head -n 1 | cut -d' ' -f2)
last=$(grep '^id: ' "$sse.1" | tail -n 1 | cut -d' ' -f2)
curl -sN --max-time 2 -H "Last-Event-ID: $first" "$UNIT_URL/v1/events?types=seal" > "$sse.2"
expect_eq "sse: resume after Last-Event-ID" "$(grep '^id: ' "$sse.2" | head -n 1 | cut -d' ' -f2)" "$last"
curl -sN --max-time 7 "$UNIT_URL/v1/events" > "$sse.3"
check "sse: heartbeat within 5 s" grep -q '^: heartbeat' "$sse.3"
# The pool (sse_workers, 8 in a dev unit): the ninth stream gets 503.
# A stream notices its client left at its next heartbeat: let the
# streams above go first.
sleep 6
pids=""
for i in 1 2 3 4 5 6 7 8; do
	curl -sN --max-time 6 "$UNIT_URL/v1/events" > /dev/null & pids="$pids $!"
done
sleep 1.5
expect_eq "sse clients gauge" "$(metric starfly_sse_clients)" 8
http GET /v1/events --max-time 3
expect_eq "sse: past the pool 503" "$HTTP_CODE" 503
check "sse: Retry-After" test -n "$(header Retry-After)"
wait $pids 2>/dev/null
unit_stop

# --- production: keys encrypted at rest ------------------------------------
STARFLY_MODE=production unit_start || { fail "production unit starts"; exit 1; }
segment=$(ctl seal status | jq -r .segment)
trap 'forget_segment; unit_stop' EXIT
key=$(sed -n 's/^unseal key: //p' "$UNIT_VAR/unit.log")
check "production init prints the unseal key" test -n "$key"
check "no plain private key on disk" sh -c "! ls '$UNIT_VAR'/keys/private/*.pem 2>/dev/null | grep -q . && ls '$UNIT_VAR'/keys/private/*.sealed >/dev/null && ! grep -l 'PRIVATE KEY' '$UNIT_VAR'/keys/private/* 2>/dev/null | grep -q ."
check "seal segment is 0600 on tmpfs" sh -c "[ \"\$(stat -c %a '$segment')\" = 600 ] && [ \"\$(stat -f -c %T '$segment')\" = tmpfs ]"
check "production rotate works unsealed" ctl keys rotate
ctl seal > /dev/null
out=$(ctl keys rotate 2>&1); rc=$?
check "rotation while sealed is refused clearly" sh -c "[ $rc != 0 ] && echo '$out' | grep -q sealed"
expect_eq "production sealed: health 503" "$(curl -s -o /dev/null -w '%{http_code}' "$UNIT_URL/v1/sys/health")" 503
http POST /v1/sys/unseal -H 'Content-Type: application/json' -d "{\"key\":\"$key\"}"
expect_eq "production unseal: 200" "$HTTP_CODE" 200
check "admin token after unseal" "$TOP/tests/bin/admin-token" --config "$UNIT_CONF"
t_done
