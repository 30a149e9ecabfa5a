#!/bin/sh
# interop.sh - openid-client and jose (npm) against a dev unit.
. "$(dirname "$0")/../lib.sh"
cd "$TOP" || exit 1
if [ ! -d tests/node/node_modules/openid-client ]; then
	fail "npm clients installed" "run make deps"
	exit 1
fi
unit_start || { fail "unit starts"; exit 1; }
b64url() { base64 -w0 | tr -d '=' | tr '/+' '_-'; }
cred=$(printf '%s.%s.stub' "$(printf '{"alg":"RS256"}' | b64url)" \
    "$(printf '{"sub":"system:serviceaccount:interop:client","iss":"k8s","exp":%s}' $(( $(date +%s) + 600 )) | b64url)")
node tests/node/interop.mjs "http://localhost:$UNIT_PORT" "$cred" "https://api.example.com"
