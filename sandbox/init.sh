#!/bin/sh
# sandbox/init.sh - check that a Starfly unit answers: health and JWKS.
#
#   STARFLY_PROFILE=local (default): $STARFLY_URL or http://localhost:8693
#   STARFLY_PROFILE=personal: $STARFLY_URL is required
#
# Prints "  ok  <what>" or "  fail  <what>" per check; exits non-zero on
# any failure.  Needs curl and jq.
set -u
profile=${STARFLY_PROFILE:-local}
case "$profile" in
local)	url=${STARFLY_URL:-http://localhost:8693} ;;
personal)
	if [ -z "${STARFLY_URL:-}" ]; then
		echo "  fail  profile personal needs STARFLY_URL" >&2
		exit 1
	fi
	url=$STARFLY_URL ;;
*)	echo "  fail  unknown STARFLY_PROFILE '$profile' (local|personal)" >&2
	exit 1 ;;
esac
url=${url%/}
failed=0
ok()   { echo "  ok  $*"; }
fail() { echo "  fail  $*"; failed=1; }

for tool in curl jq; do
	command -v "$tool" >/dev/null 2>&1 || { fail "$tool is installed"; exit 1; }
done
echo "Starfly sandbox: $url (profile $profile)"

health=$(curl -s --max-time 5 -w '\n%{http_code}' "$url/v1/sys/health")
code=$(printf '%s\n' "$health" | tail -n 1)
body=$(printf '%s\n' "$health" | sed '$d')
if [ "$code" = 200 ] && printf '%s' "$body" | jq -e \
    '.initialized == true and .locked == false and (.unit_id|length) > 0' \
    >/dev/null 2>&1; then
	ok "health: unit $(printf '%s' "$body" | jq -r .unit_id), mode $(printf '%s' "$body" | jq -r .mode), version $(printf '%s' "$body" | jq -r .version)"
else
	fail "health: HTTP $code $(printf '%s' "$body" | head -c 200)"
fi

jwks=$(curl -s --max-time 5 -w '\n%{http_code}' "$url/v1/identity/jwks")
code=$(printf '%s\n' "$jwks" | tail -n 1)
body=$(printf '%s\n' "$jwks" | sed '$d')
if [ "$code" = 200 ] && printf '%s' "$body" | jq -e \
    '(.keys|length) > 0 and all(.keys[]; .kid and .alg and .use == "sig" and .kty)' \
    >/dev/null 2>&1; then
	ok "jwks: $(printf '%s' "$body" | jq -r '[.keys[] | "\(.alg) \(.kid)"] | join(", ")')"
else
	fail "jwks: HTTP $code $(printf '%s' "$body" | head -c 200)"
fi

meta=$(curl -s --max-time 5 "$url/.well-known/oauth-authorization-server")
if printf '%s' "$meta" | jq -e '.issuer and .token_endpoint and .jwks_uri' >/dev/null 2>&1; then
	ok "metadata: issuer $(printf '%s' "$meta" | jq -r .issuer)"
else
	fail "metadata: $(printf '%s' "$meta" | head -c 200)"
fi
exit $failed
