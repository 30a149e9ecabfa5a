#!/bin/sh
# hosts.sh - exchange behind each shipped web-server configuration under
# the same wrk load, and the cold start of one exchange as plain CGI.
#
# Servers are started as tests/e2e/servers.sh starts them (shipped files,
# paths substituted, tests/e2e/hosts/lib.sh): lighttpd, Apache
# mod_proxy_fcgi, nginx and Caddy in front of the programs under
# spawn-fcgi (one user per program, 2 exchange children), then lighttpd
# bin-path and Apache mod_fcgid starting them, and lighttpd mod_cgi (one
# process per request).  Each: wrk -t2 -c16 for BENCH_SECONDS (default
# 10) posting a dev exchange; req/s, p50/p99 latency, non-2xx count.
# CGI cold start: tests/bin/cgi-time runs exchange.fcgi N times (fork to
# response read), with the sandbox on and off.  Needs root.
. "$(dirname "$0")/../lib.sh"
cd "$TOP" || exit 1
. "$TOP/tests/e2e/hosts/lib.sh"
T_NAME=bench
secs=${BENCH_SECONDS:-10}
[ "$(id -u)" -eq 0 ] || { echo "hosts.sh needs root"; exit 0; }
command -v wrk > /dev/null || { echo "wrk is not installed (make deps)"; exit 1; }
[ -x tests/bin/cgi-time ] || { echo "tests/bin/cgi-time is not built"; exit 1; }
hosts_setup

b64url() { base64 -w0 | tr -d '=' | tr '/+' '_-'; }
jq -nc --arg t "$(printf '{"alg":"RS256","typ":"JWT"}' | b64url).$(printf '{"sub":"system:serviceaccount:bench:api","iss":"https://kubernetes.default.svc","namespace":"bench","serviceaccount":"api","exp":%s}' $(( $(date +%s) + 86400 )) | b64url).stub" \
    '{grant_type: "urn:ietf:params:oauth:grant-type:token-exchange", subject_token: $t,
      subject_token_type: "urn:ietf:params:oauth:token-type:jwt",
      audience: "https://api.example.com", scope: "read:data"}' > "$H/body.json"

row() {	# KIND: one table row for the server running at $SERVER_URL
	BODY_FILE=$H/body.json wrk -t1 -c2 -d1s -s tests/bench/exchange.lua \
	    "$SERVER_URL/v1/exchange/token" > /dev/null 2>&1
	BODY_FILE=$H/body.json wrk -t2 -c16 -d"${secs}s" --latency \
	    -s tests/bench/exchange.lua "$SERVER_URL/v1/exchange/token" > "$H/wrk.txt" 2>&1
	_p() { awk -v q="$1" '$1 == q {print $2}' "$H/wrk.txt"; }
	printf '%-20s %10s %10s %10s %10s\n' "$1" \
	    "$(awk '/^Requests\/sec/ {print $2}' "$H/wrk.txt")" "$(_p 50%)" "$(_p 99%)" \
	    "$(awk '/Non-2xx/ {print $5}' "$H/wrk.txt" | grep . || echo 0)"
}

echo "exchange under wrk -t2 -c16 -d${secs}s (same body, same unit set-up)"
printf '%-20s %10s %10s %10s %10s\n' server "req/s" p50 p99 non-2xx
hosts_unit "$H/a" > /dev/null || exit 1
hosts_programs_start "$H/a" > /dev/null
for kind in lighttpd apache-proxy-fcgi nginx caddy; do
	if server_start "$kind" "$H/a" 2> /dev/null; then
		row "$kind"
		server_stop
	else
		printf '%-20s did not start\n' "$kind"
	fi
done
hosts_programs_stop "$H/a"
hosts_unit "$H/b" --single www-data > /dev/null || exit 1
for kind in lighttpd-spawn apache-fcgid lighttpd-cgi; do
	if server_start "$kind" "$H/b" 2> /dev/null; then
		row "$kind"
		server_stop
	else
		printf '%-20s did not start\n' "$kind"
	fi
done

echo
echo "CGI cold start of one exchange (fork to response read; tests/bin/cgi-time)"
n=${BENCH_CGI_RUNS:-200}
for mode in on off; do
	printf 'sandbox %-4s ' "$mode"
	STARFLY_SANDBOX=$mode STARFLY_CONF=$H/b/etc/starfly.conf REQUEST_METHOD=POST \
	    REQUEST_URI=/v1/exchange/token CONTENT_TYPE=application/json \
	    tests/bin/cgi-time "$n" "$H/body.json" "$TOP/bin/exchange.fcgi" 2> /dev/null
done
