# about: a token for code-search verifies there (200) and is refused at sql-admin (403)
register() {
	req POST /v1/mcp/tools -H 'Content-Type: application/json' \
	    -d "{\"tool_id\":\"$1\",\"name\":\"$2\",\"resource_uri\":\"https://mcp.example.com/tools/$1\",\"server_id\":\"sandbox-mcp-server\"}"
	case $CODE in
	201) ok "register $1: HTTP 201" ;;
	200) ok "register $1: HTTP 200 (already registered, same content)" ;;
	*) fail "register $1: HTTP $CODE $BODY" ;;
	esac
}
register code-search "Code Search"
register sql-admin "SQL Admin"
req GET /v1/mcp/tools
printf '%s' "$BODY" | jq -e '[.tools[].tool_id] | index("code-search") != null and index("sql-admin") != null' >/dev/null 2>&1 &&
    ok "both listed ($(printf '%s' "$BODY" | jq -r .count) tools registered)" || fail "list: HTTP $CODE $BODY"
ns=mcp-$(date +%s)-$$
cred=$(stub_token "{\"sub\":\"system:serviceaccount:$ns:agent\",\"iss\":\"https://kubernetes.default.svc\",\"namespace\":\"$ns\",\"serviceaccount\":\"agent\",\"exp\":$(( $(date +%s) + 600 ))}")
exchange "$cred" "https://mcp.example.com/tools/code-search"
if [ "$CODE" = 200 ] && [ -n "$TOKEN" ]; then
	ok "exchange for code-search: aud $(jwt_claims "$TOKEN" | jq -r .aud)"
else
	fail "exchange: HTTP $CODE $BODY"
fi
verify() {
	req POST /v1/mcp/verify -H 'Content-Type: application/json' \
	    -d "$(jq -n --arg t "$TOKEN" --arg id "$1" '{token: $t, tool_id: $id}')"
}
verify code-search
if [ "$CODE" = 200 ] && printf '%s' "$BODY" | jq -e '.verified == true' >/dev/null 2>&1; then
	ok "verify at code-search: HTTP 200, verified"
else
	fail "verify at code-search: HTTP $CODE $BODY"
fi
verify sql-admin
if [ "$CODE" = 403 ] && printf '%s' "$BODY" | jq -e '.error == "verification_failed"' >/dev/null 2>&1; then
	ok "the same token at sql-admin: HTTP 403 ($(printf '%s' "$BODY" | jq -r .error_description | cut -c1-60)...)"
else
	fail "verify at sql-admin: HTTP $CODE $BODY"
fi
