# about: the revocation set's hash and export; the hash recomputed here from the export
ns=fed-$(date +%s)-$$
req POST /v1/signals/events -H 'Content-Type: application/json' \
    -d "$(jq -n --arg s "wimse://dev.local/ns/$ns/sa/agent" --arg j "sandbox-$ns" \
    --argjson t "$(date +%s)" '{iss: "https://sandbox.idp.example", jti: $j, iat: $t,
      sub_id: {format: "uri", uri: $s},
      events: {"https://schemas.openid.net/secevent/risc/event-type/account-disabled": {}}}')"
[ "$CODE" = 202 ] && ok "RISC account-disabled for $ns: HTTP 202" || fail "push: HTTP $CODE $BODY"
req GET /v1/federation/revocation-hash
hash=$(printf '%s' "$BODY" | jq -r .hash 2>/dev/null)
if [ "$CODE" = 200 ] && printf '%s' "$BODY" | jq -e '(.hash|test("^sha256:[0-9a-f]{64}$")) and (.count|type) == "number" and (.timestamp|test("Z$"))' >/dev/null 2>&1; then
	ok "revocation-hash: $(printf '%s' "$BODY" | jq -c .)"
else
	fail "revocation-hash: HTTP $CODE $BODY"
fi
req GET /v1/federation/revocation-export
export_body=$BODY
if [ "$CODE" = 200 ] && printf '%s' "$BODY" | jq -e --arg s "wimse://dev.local/ns/$ns/sa/agent" '.count == (.entries|length) and ([.entries[].id] | index($s) != null)' >/dev/null 2>&1; then
	ok "revocation-export: $(printf '%s' "$BODY" | jq .count) entries, ours among them"
else
	fail "revocation-export: HTTP $CODE $(printf '%s' "$BODY" | head -c 300)"
fi
# The canonical serialisation (README): RFC 8785 JSON of the entries reduced
# to expires, id, kind, lifted, time, in the export's order.
mine="sha256:$(printf '%s' "$export_body" | jq -cjS '[.entries[] | {expires, id, kind, lifted, time}]' | sha256sum | cut -d' ' -f1)"
if [ "$mine" = "$(printf '%s' "$export_body" | jq -r .hash)" ]; then
	ok "hash recomputed from the export with jq + sha256sum: $mine"
else
	fail "recomputed $mine, export says $(printf '%s' "$export_body" | jq -r .hash)"
fi
[ "$hash" = "$(printf '%s' "$export_body" | jq -r .hash)" ] &&
    ok "revocation-hash and the export agree" ||
    fail "hash endpoint $hash differs from the export's (a change in between?)"
