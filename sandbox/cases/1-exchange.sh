# about: a dev stub credential in, a scoped token out, its claims printed
ns=sandbox-$(date +%s)
cred=$(stub_token "{\"sub\":\"system:serviceaccount:$ns:agent\",\"iss\":\"https://kubernetes.default.svc\",\"namespace\":\"$ns\",\"serviceaccount\":\"agent\",\"exp\":$(( $(date +%s) + 600 ))}")
exchange "$cred" "https://api.target.example.com" '{"scope":"read:data"}'
if [ "$CODE" = 200 ] && [ -n "$TOKEN" ]; then
	ok "exchange: HTTP 200, $(printf '%s' "$BODY" | jq -r '.token_type + " token, expires_in " + (.expires_in|tostring)')"
	claims=$(jwt_claims "$TOKEN")
	printf '%s\n' "$claims" | jq -C . 2>/dev/null | sed 's/^/      /'
	if printf '%s' "$claims" | jq -e --arg s "wimse://dev.local/ns/$ns/sa/agent" \
	    '.sub == $s and .aud == "https://api.target.example.com" and .td == "dev.local" and .jti and .exp > .iat' >/dev/null; then
		ok "claims: sub $(printf '%s' "$claims" | jq -r .sub), aud scoped to the target"
	else
		fail "claims do not match the request"
	fi
else
	fail "exchange: HTTP $CODE $(printf '%s' "$BODY" | head -c 300)"
fi
req POST /v1/exchange/token -H 'Content-Type: application/json' \
    -d '{"grant_type":"password","subject_token":"x","subject_token_type":"urn:ietf:params:oauth:token-type:jwt","audience":"a"}'
if [ "$CODE" = 400 ] && [ "$(printf '%s' "$BODY" | jq -r .error)" = unsupported_grant_type ]; then
	ok "a wrong grant_type is refused: 400 unsupported_grant_type"
else
	fail "wrong grant_type: HTTP $CODE $BODY"
fi
