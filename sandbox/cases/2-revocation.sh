# about: a CAEP session-revoked signal refuses the same credential at once; account-enabled lifts it
ns=revoke-$(date +%s)-$$
sub="wimse://dev.local/ns/$ns/sa/agent"
cred=$(stub_token "{\"sub\":\"system:serviceaccount:$ns:agent\",\"iss\":\"https://kubernetes.default.svc\",\"namespace\":\"$ns\",\"serviceaccount\":\"agent\",\"exp\":$(( $(date +%s) + 600 ))}")
# signal EVENT: push a dev-mode SET (Starfly's plain JSON shape) about $sub.
signal() {
	req POST /v1/signals/events -H 'Content-Type: application/json' \
	    -d "$(jq -n --arg s "$sub" --arg e "$1" --arg j "sandbox-$ns-$2" \
	    --argjson t "$(date +%s)" --arg a "$STARFLY_URL" \
	    '{iss: "https://sandbox.idp.example", jti: $j, iat: $t, aud: $a,
	      sub_id: {format: "uri", uri: $s}, events: {($e): {}}}')"
}
exchange "$cred" "https://api.target.example.com"
if [ "$CODE" = 200 ] && [ -n "$TOKEN" ]; then
	ok "exchange for $sub: HTTP 200"
else
	fail "exchange before the signal: HTTP $CODE $BODY"
fi
signal https://schemas.openid.net/secevent/caep/event-type/session-revoked 1
if [ "$CODE" = 202 ] && [ -z "$BODY" ]; then
	ok "CAEP session-revoked pushed: HTTP 202, empty body (RFC 8935)"
else
	fail "push session-revoked: HTTP $CODE $BODY"
fi
signal https://schemas.openid.net/secevent/caep/event-type/session-revoked 1
[ "$CODE" = 202 ] && ok "the same SET again (same jti): HTTP 202, applied once" ||
    fail "re-delivery: HTTP $CODE $BODY"
exchange "$cred" "https://api.target.example.com"
if [ "$CODE" = 400 ] && printf '%s' "$BODY" | jq -e '.error == "invalid_request" and (.error_description|test("revoked"))' >/dev/null 2>&1; then
	ok "the same credential is now refused: HTTP 400, $(printf '%s' "$BODY" | jq -r .error_description | cut -c1-70)..."
else
	fail "exchange after the signal: HTTP $CODE $BODY"
fi
signal https://schemas.openid.net/secevent/risc/event-type/account-enabled 2
[ "$CODE" = 202 ] && ok "RISC account-enabled pushed: HTTP 202" ||
    fail "push account-enabled: HTTP $CODE $BODY"
exchange "$cred" "https://api.target.example.com"
[ "$CODE" = 200 ] && ok "after the lift a new exchange succeeds: HTTP 200" ||
    fail "exchange after the lift: HTTP $CODE $BODY"
req GET /v1/signals/status
if [ "$CODE" = 200 ] && printf '%s' "$BODY" | jq -e '.events["https://schemas.openid.net/secevent/caep/event-type/session-revoked"].count >= 1' >/dev/null 2>&1; then
	ok "signals status: $(printf '%s' "$BODY" | jq -c '{revocations, last_event_at}')"
else
	fail "signals status: HTTP $CODE $BODY"
fi
