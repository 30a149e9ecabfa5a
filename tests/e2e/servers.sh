#!/bin/sh
# servers.sh - the end-to-end suite behind each shipped web-server
# configuration, each server started on 127.0.0.1 for the test from the
# file in etc/ (paths substituted, tests/e2e/hosts/lib.sh) and stopped
# after it:
#   unit A, every program under spawn-fcgi as its own user (the shipped
#   etc/spawn-fcgi/starfly-spawn and starfly-users):
#     lighttpd (mod_fastcgi, sockets), Apache mod_proxy_fcgi, nginx, Caddy
#   unit B, every program as www-data, started by the server:
#     lighttpd bin-path, Apache mod_fcgid, lighttpd mod_cgi (plain CGI)
# The suite: the sandbox use cases (sandbox/run.sh all), exchange in JSON
# and form, Authorization reaching the program (HTTP Basic client
# authentication), the MCP verify and signal round trips when those
# programs answer, 404/405/413/400 shapes, the dashboard.  Needs root.
. "$(dirname "$0")/../lib.sh"
cd "$TOP" || exit 1
. "$TOP/tests/e2e/hosts/lib.sh"
GT=urn:ietf:params:oauth:grant-type:token-exchange
JWT=urn:ietf:params:oauth:token-type:jwt

if [ "$(id -u)" -ne 0 ]; then
	skip "web servers" "needs root (per-program users, servers as www-data)"
	exit 0
fi

b64url() { base64 -w0 | tr -d '=' | tr '/+' '_-'; }
stub() { printf '%s.%s.stub' "$(printf '{"alg":"RS256","typ":"JWT"}' | b64url)" "$(printf '%s' "$1" | b64url)"; }
claims_of() {
	_p=$(printf '%s' "$1" | cut -d. -f2 | tr '_-' '/+')
	case $(( ${#_p} % 4 )) in 2) _p="$_p==" ;; 3) _p="$_p=" ;; esac
	printf '%s' "$_p" | base64 -d 2>/dev/null
}
jqb() { _f=$1; shift; jtrue "$HTTP_BODY" "$_f" "$@"; }
# is_json_error STATUS CODE: the last response.
json_err() { [ "$HTTP_CODE" = "$1" ] && jqb '.error == $e and (.error_description|length) > 0' --arg e "$2"; }
exchange_req() {	# SUBJECT AUDIENCE -> JSON request body
	jq -n --arg t "$(stub "{\"sub\":\"system:serviceaccount:$1:api\",\"iss\":\"https://kubernetes.default.svc\",\"namespace\":\"$1\",\"serviceaccount\":\"api\",\"exp\":$(( $(date +%s) + 600 ))}")" \
	    --arg gt $GT --arg tt $JWT --arg a "$2" \
	    '{grant_type: $gt, subject_token: $t, subject_token_type: $tt, audience: $a}'
}
post_json() { _p=$1; shift; http POST "$_p" -H 'Content-Type: application/json' "$@"; }

# The sandbox use cases, one result per case.
use_cases() {
	_out=$(STARFLY_URL=$SERVER_URL sh "$TOP/sandbox/run.sh" all 2>&1)
	printf '%s\n' "$_out" | sed "s/^/    [$1] /"
	printf '%s\n' "$_out" | awk '
	    /^== use case / { n++; name[n] = $4; sub(/:$/, "", name[n]);
	                      if ($0 ~ /not available/) na[n] = 1; next }
	    /^  fail / && n { if (!bad[n]) why[n] = substr($0, 9); bad[n] = 1 }
	    END { for (i = 1; i <= n; i++)
	            print (na[i] ? "skip" : bad[i] ? "fail" : "pass"), name[i], why[i] }' |
	while read -r _r _case _why; do
		case $_r in
		pass) pass "$1: use case $_case" ;;
		skip) skip "$1: use case $_case" "not available yet" ;;
		*) fail "$1: use case $_case" "$_why" ;;
		esac
	done
	# run.sh's own status covers the lines above
	[ -n "$_out" ] || fail "$1: sandbox/run.sh ran" "no output"
}

suite() {
	k=$1
	UNIT_URL=$SERVER_URL
	ns=hosts-$k-$(date +%s)
	sub="wimse://dev.local/ns/$ns/sa/api"

	http GET /v1/sys/health
	if [ "$HTTP_CODE" = 200 ] && jqb '.initialized == true and .mode == "dev"' &&
	    printf '%s' "$(header X-Request-ID)" | grep -Eq '^[0-9a-f-]{36}$'; then
		pass "$k: health 200 with X-Request-ID"
	else
		fail "$k: health" "HTTP $HTTP_CODE $HTTP_BODY"
	fi

	use_cases "$k"

	http GET /v1/identity/jwks
	kids=$(printf '%s' "$HTTP_BODY" | jq -r '.keys[].kid' 2>/dev/null)
	check "$k: JWKS 200 with a key" [ "$HTTP_CODE" = 200 -a -n "$kids" ]
	http GET /.well-known/oauth-authorization-server
	check "$k: RFC 8414 metadata" jqb '.issuer == "http://starfly.test" and .token_endpoint == "http://starfly.test/v1/exchange/token"'

	# Exchange round trips: JSON, then form (RFC 8693's encoding).
	req=$(exchange_req "$ns" "https://api.example.com")
	post_json /v1/exchange/token -d "$req"
	tok=$(printf '%s' "$HTTP_BODY" | jq -r '.access_token // empty' 2>/dev/null)
	if [ "$HTTP_CODE" = 200 ] && [ -n "$tok" ] &&
	    jtrue "$(claims_of "$tok")" '.sub == $s and .aud == "https://api.example.com" and .iss == "http://starfly.test"' --arg s "$sub"; then
		pass "$k: exchange (JSON) 200, token for the subject"
	else
		fail "$k: exchange (JSON)" "HTTP $HTTP_CODE $HTTP_BODY"
	fi
	kid=$(printf '%s' "$tok" | cut -d. -f1 | tr '_-' '/+' | base64 -d 2>/dev/null | jq -r .kid 2>/dev/null)
	check "$k: the token's kid is in the JWKS" sh -c "printf '%s\n' '$kids' | grep -qx -- '$kid'"
	http POST /v1/exchange/token --data-urlencode "grant_type=$GT" \
	    --data-urlencode "subject_token=$(printf '%s' "$req" | jq -r .subject_token)" \
	    --data-urlencode "subject_token_type=$JWT" \
	    --data-urlencode "audience=https://api.example.com"
	check "$k: exchange (form) 200" jqb '.token_type == "Bearer" and (.access_token|length) > 0'

	# Authorization reaches the program: HTTP Basic of a registered client.
	post_json /v1/exchange/token -u hosts-ci:hosts-secret -d "$req"
	cid=$(claims_of "$(printf '%s' "$HTTP_BODY" | jq -r '.access_token // empty' 2>/dev/null)" | jq -r .client_id 2>/dev/null)
	if [ "$HTTP_CODE" = 200 ] && [ "$cid" = hosts-ci ]; then
		pass "$k: Authorization reaches the program (Basic client -> client_id)"
	else
		fail "$k: Authorization (Basic) reaches the program" "HTTP $HTTP_CODE client_id '$cid' $HTTP_BODY"
	fi
	post_json /v1/exchange/token -u hosts-ci:wrong-secret -d "$req"
	if json_err 401 invalid_client && [ -n "$(header WWW-Authenticate)" ]; then
		pass "$k: a wrong Basic secret is 401 invalid_client"
	else
		fail "$k: wrong Basic secret" "HTTP $HTTP_CODE $HTTP_BODY"
	fi

	# MCP: register a tool, exchange for it, verify there.
	tool=tool-$ns
	post_json /v1/mcp/tools -d "{\"tool_id\":\"$tool\",\"resource_uri\":\"https://mcp.example.com/$tool\",\"capabilities\":[\"read\"]}"
	mtok=""
	if [ "$HTTP_CODE" = 501 ]; then
		skip "$k: MCP verify round trip" "mcp.fcgi not implemented yet"
	elif [ "$HTTP_CODE" != 201 ]; then
		fail "$k: MCP tool registration" "HTTP $HTTP_CODE $HTTP_BODY"
	else
		post_json /v1/exchange/token -d "$(exchange_req "$ns" "https://mcp.example.com/$tool")"
		mtok=$(printf '%s' "$HTTP_BODY" | jq -r '.access_token // empty' 2>/dev/null)
		post_json /v1/mcp/verify -d "$(jq -n --arg t "$mtok" --arg id "$tool" '{token: $t, tool_id: $id}')"
		check "$k: MCP verify round trip: 200 verified" jqb '.verified == true'
		post_json /v1/mcp/verify -d "$(jq -n --arg t "${mtok%?}x" --arg id "$tool" '{token: $t, tool_id: $id}')"
		check "$k: a tampered token is 403 verification_failed" json_err 403 verification_failed
	fi

	# Signals: revoke the subject; exchange (and verify) refuse it at once.
	post_json /v1/signals/events -d "$(jq -n --arg s "$sub" --arg j "jti-$ns" \
	    --argjson t "$(date +%s)" \
	    '{iss: "https://idp.example.com", jti: $j, iat: $t, aud: "http://starfly.test",
	      sub_id: {format: "uri", uri: $s},
	      events: {"https://schemas.openid.net/secevent/caep/event-type/session-revoked": {}}}')"
	if [ "$HTTP_CODE" = 501 ]; then
		skip "$k: signal round trip" "signals.fcgi not implemented yet"
	elif [ "$HTTP_CODE" != 202 ]; then
		fail "$k: signal pushed" "HTTP $HTTP_CODE $HTTP_BODY"
	else
		pass "$k: signal pushed: 202"
		post_json /v1/exchange/token -d "$req"
		check "$k: signal round trip: the subject is refused (revoked)" \
		    sh -c "[ '$HTTP_CODE' = 400 ] && printf '%s' '$HTTP_BODY' | grep -q revoked"
		if [ -n "$mtok" ]; then
			post_json /v1/mcp/verify -d "$(jq -n --arg t "$mtok" --arg id "$tool" '{token: $t, tool_id: $id}')"
			check "$k: signal round trip: its token no longer verifies" json_err 403 verification_failed
		fi
	fi

	# Unknown paths: the server's 404 outside the API, JSON 404 inside.
	http GET /no-such-page
	expect_eq "$k: 404 for an unknown page" "$HTTP_CODE" 404
	for p in /v1/nope /.well-known/nope /v1/exchange/token/extra /v1/identity/jwks/x; do
		http GET "$p"
		check "$k: JSON 404 for $p" json_err 404 not_found
	done
	http GET /v1/exchange/token
	if json_err 405 method_not_allowed && [ "$(header Allow)" = POST ]; then
		pass "$k: 405 with Allow: POST"
	else
		fail "$k: 405" "HTTP $HTTP_CODE Allow '$(header Allow)'"
	fi
	# Bodies: the program's own 64 KiB cap answers, not the server's.
	head -c 70000 /dev/zero | tr '\0' a > "$H/big"
	post_json /v1/exchange/token --data-binary @"$H/big"
	check "$k: 413 JSON past the program's body cap" json_err 413 invalid_request
	post_json /v1/exchange/token --data-binary @"$H/big" -H 'Transfer-Encoding: chunked'
	check "$k: 413 JSON for a chunked body past the cap" json_err 413 invalid_request
	http GET /v1/sys/../sys/health --path-as-is
	check "$k: 400 for a dot-segment path the server normalised" json_err 400 invalid_request
	# Absolute-form target (Apache passes it on in REQUEST_URI as is).
	http GET /v1/sys/health --request-target "$SERVER_URL/v1/sys/health"
	check "$k: absolute-form request target" jqb ".initialized == true"
	# The dashboard.
	http GET /
	if [ "$HTTP_CODE" = 200 ] && header Content-Type | grep -q '^text/html'; then
		pass "$k: the dashboard at /"
	else
		fail "$k: the dashboard at /" "HTTP $HTTP_CODE $(header Content-Type)"
	fi
}

# run KIND UNIT: start the server from its shipped file, the suite, stop.
run() {
	if ! server_start "$1" "$2"; then
		fail "$1: starts from the shipped configuration"
		return
	fi
	pass "$1: starts from the shipped configuration"
	suite "$1"
	server_stop
	if [ -n "${SERVER_LEFT:-}" ]; then
		fail "$1: stopped with everything it started" "left: $SERVER_LEFT"
	else
		pass "$1: stopped with everything it started"
	fi
	SERVER_LEFT=""
}

for b in lighttpd apache2 nginx caddy spawn-fcgi; do
	command -v "$b" > /dev/null || { fail "$b installed" "run tests/deps.sh"; exit 1; }
done
hosts_setup

# Unit A: one user per program, spawn-fcgi, servers that connect.
if ! hosts_unit "$H/a"; then
	fail "unit A (per-program users)"
	exit 1
fi
hosts_programs_start "$H/a" > "$H/a/log/spawn.log" 2>&1
for p in exchange jwks mcp signals sys events; do
	u=starfly-$p
	[ $p = sys ] && u=starfly-exchange
	users=$(for q in $(cat "$H/a/sock/$p.pid" 2>/dev/null); do ps -o user= -p "$q"; done | sort -u)
	expect_eq "spawn-fcgi: $p.fcgi runs as $u" "$users" "$u"
done
for kind in lighttpd apache-proxy-fcgi nginx caddy; do
	run "$kind" "$H/a"
done
# Control: without CGIPassAuth, Apache strips Authorization, so a wrong
# Basic secret goes unnoticed (the check above can fail).
R_SED='/CGIPassAuth On/d'
if server_start apache-proxy-fcgi "$H/a"; then
	R_SED=""
	UNIT_URL=$SERVER_URL
	post_json /v1/exchange/token -u hosts-ci:wrong-secret -d "$(exchange_req hosts-ctl https://api.example.com)"
	expect_eq "control: Apache without CGIPassAuth drops Authorization" "$HTTP_CODE" 200
	server_stop
else
	R_SED=""
	fail "control: Apache without CGIPassAuth starts"
fi
# Every program's decisions reach the one audit trail, whoever wrote first.
for t in exchange tool verify signal; do
	n=$("$TOP/bin/starflyctl" --config "$H/a/etc/starfly.conf" audit tail -n 100000 \
	    --type "$t" 2> /dev/null | grep -c .)
	check "per-program users: $t records reach the audit trail" [ "$n" -gt 0 ]
done
check "per-program users: the audit hash chain verifies" \
    "$TOP/bin/starflyctl" --config "$H/a/etc/starfly.conf" audit verify
hosts_programs_stop "$H/a"

# Unit B: the server starts the programs, all as www-data.
if ! hosts_unit "$H/b" --single www-data; then
	fail "unit B (www-data)"
	exit 1
fi
for kind in lighttpd-spawn apache-fcgid lighttpd-cgi; do
	run "$kind" "$H/b"
done
t_done
