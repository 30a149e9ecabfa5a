# about: health, JWKS, starfly_ metrics, the exchange counter moving, the event stream
req GET /v1/sys/health
if [ "$CODE" = 200 ] && printf '%s' "$BODY" | jq -e '.initialized and (.locked|not)' >/dev/null 2>&1; then
	ok "health: $(printf '%s' "$BODY" | jq -r '"unit " + .unit_id + ", " + .mode + ", version " + .version + ", unsealed"')"
else
	fail "health: HTTP $CODE $BODY"
fi
req GET /v1/identity/jwks
if [ "$CODE" = 200 ] && [ "$(printf '%s' "$BODY" | jq '.keys | length' 2>/dev/null)" -ge 1 ] 2>/dev/null; then
	ok "jwks: $(printf '%s' "$BODY" | jq -r '[.keys[] | .alg + " " + .kid[0:12] + "..."] | join(", ")')"
else
	fail "jwks: HTTP $CODE"
fi
metric_sum() {	# the sum of every series of family $1 in $BODY
	printf '%s\n' "$BODY" | awk -v f="$1" 'index($1, f "{") == 1 || $1 == f { s += $2 } END { print s + 0 }'
}
req GET /metrics
if [ "$CODE" = 200 ] && printf '%s\n' "$BODY" | grep -q '^starfly_unit_info{'; then
	ok "metrics: $(printf '%s\n' "$BODY" | grep -c '^starfly_') starfly_ series, $(printf '%s\n' "$BODY" | grep -c '^# TYPE starfly_') families"
else
	fail "metrics: HTTP $CODE, no starfly_unit_info"
fi
before=$(metric_sum starfly_exchange_requests_total)
# The stream is opened before the exchange so that it sees it.
events=$(mktemp)
curl -sN --max-time 3 "$STARFLY_URL/v1/events?types=exchange" > "$events" 2>/dev/null &
sse_pid=$!
sleep 0.5
ns=sandbox-obs-$(date +%s)
exchange "$(stub_token "{\"sub\":\"system:serviceaccount:$ns:agent\",\"iss\":\"https://kubernetes.default.svc\",\"namespace\":\"$ns\",\"serviceaccount\":\"agent\",\"exp\":$(( $(date +%s) + 600 ))}")" "https://api.target.example.com"
req GET /metrics
after=$(metric_sum starfly_exchange_requests_total)
if [ "$after" -gt "$before" ]; then
	ok "metrics: starfly_exchange_requests_total moved $before -> $after after an exchange (HTTP $CODE)"
else
	fail "metrics: starfly_exchange_requests_total stayed at $before after an exchange"
fi
wait $sse_pid 2>/dev/null
if head -n 1 "$events" | grep -q '^: connected'; then
	n=$(grep -c '^id: ' "$events")
	ok "events: stream open (: connected), $n exchange event(s) in 3 s"
else
	fail "events: no ': connected' on /v1/events"
fi
rm -f "$events"
