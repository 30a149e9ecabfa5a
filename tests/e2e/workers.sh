#!/bin/sh
# workers.sh - the programs as FastCGI workers: SIGTERM finishes the
# request in hand, SIGHUP keeps them serving, a crashed worker takes no
# other down, and each launcher's way of replacing dead workers:
# the programs' own --workers supervisor, spawn-fcgi (none), lighttpd
# bin-path and Apache mod_fcgid (they respawn).  Requests go straight to
# the socket with cgi-fcgi, or through the web server.  Needs root for
# the spawn-fcgi and web-server parts (users, www-data).
. "$(dirname "$0")/../lib.sh"
cd "$TOP" || exit 1
. "$TOP/tests/e2e/hosts/lib.sh"

if [ "$(id -u)" -ne 0 ]; then
	skip "FastCGI workers" "needs root (users, servers as www-data)"
	exit 0
fi
hosts_setup
hosts_unit "$H/w" || { fail "unit"; exit 1; }
C=$H/w/etc/starfly.conf
# Its own copy of the dev policies, to change one under a running program.
cp -r "$TOP/policies/dev" "$H/w/policy"
chmod -R a+rX "$H/w/policy"
sed -i "s|^policy_dir.*|policy_dir	$H/w/policy|" "$C"
X=$H/x
mkdir -p "$X"

b64url() { base64 -w0 | tr -d '=' | tr '/+' '_-'; }
body=$(jq -nc --arg t "$(printf '{"alg":"RS256"}' | b64url).$(printf '{"sub":"w","iss":"x","exp":%s}' $(( $(date +%s) + 600 )) | b64url).stub" \
    '{grant_type: "urn:ietf:params:oauth:grant-type:token-exchange", subject_token: $t,
      subject_token_type: "urn:ietf:params:oauth:token-type:jwt", audience: "https://a.example"}')
len=$(printf %s "$body" | wc -c)
# fcgi SOCKET [DELAY]: one exchange straight to the socket; the body's
# second half DELAY seconds after the first.  Prints the status line.
fcgi() {
	{ printf %s "$body" | head -c $((len / 2)); sleep "${2:-0}"
	  printf %s "$body" | tail -c +$((len / 2 + 1)); } |
	    REQUEST_METHOD=POST REQUEST_URI=/v1/exchange/token \
	    CONTENT_TYPE=application/json CONTENT_LENGTH=$len \
	    cgi-fcgi -bind -connect "$1" 2>/dev/null > "$X/resp.$$"
	head -n 1 "$X/resp.$$" | tr -d '\r'
	rm -f "$X/resp.$$"
}
gone_within() {	# PID TENTHS: true when PID exits in time
	_i=0
	while kill -0 "$1" 2>/dev/null && [ $_i -lt "$2" ]; do
		sleep 0.1
		_i=$((_i + 1))
	done
	! kill -0 "$1" 2>/dev/null
}
wait_sock() {
	_i=0
	while [ ! -S "$1" ] && [ $_i -lt 50 ]; do sleep 0.1; _i=$((_i + 1)); done
	sleep 0.2
}
workers_of() { pgrep -P "$1" | sort | tr '\n' ' '; }
# running PID...: how many are running (zombies are not: nobody may reap
# them where PID 1 does not).
running() {
	_n=0
	for _q in "$@"; do
		case $(ps -o stat= -p "$_q" 2>/dev/null) in ''|Z*) ;; *) _n=$((_n + 1)) ;; esac
	done
	echo $_n
}

# --- one process ------------------------------------------------------------
"$TOP/bin/exchange.fcgi" --config "$C" --listen "$X/one.sock" 2> "$X/one.log" &
one=$!
wait_sock "$X/one.sock"
expect_eq "exchange over FastCGI" "$(fcgi "$X/one.sock")" "Status: 200 OK"
# SIGHUP: the next request runs under the policy now on disk.
cat > "$H/w/policy/exchange.rego.new" <<'REGO'
package starfly.exchange

import rego.v1

default allow := false

reason := "closed for the SIGHUP test"
REGO
mv "$H/w/policy/exchange.rego.new" "$H/w/policy/exchange.rego"
kill -HUP "$one"
sleep 0.2
check "SIGHUP: still running" kill -0 "$one"
expect_eq "SIGHUP: the changed policy decides the next request" "$(fcgi "$X/one.sock")" "Status: 400 Bad Request"
cp "$TOP/policies/dev/exchange.rego" "$H/w/policy/exchange.rego.new"
mv "$H/w/policy/exchange.rego.new" "$H/w/policy/exchange.rego"
kill -HUP "$one"
sleep 0.2
expect_eq "SIGHUP: and back" "$(fcgi "$X/one.sock")" "Status: 200 OK"
fcgi "$X/one.sock" 1.5 > "$X/slow" &
slow=$!
sleep 0.5
kill -TERM "$one"
wait "$slow"
expect_eq "SIGTERM mid-request: the request in hand completes" "$(cat "$X/slow")" "Status: 200 OK"
check "SIGTERM mid-request: then the process exits" gone_within "$one" 30
"$TOP/bin/exchange.fcgi" --config "$C" --listen "$X/idle.sock" 2> /dev/null &
idle=$!
wait_sock "$X/idle.sock"
kill -TERM "$idle"
check "SIGTERM when idle: exits at once" gone_within "$idle" 10

# --- --workers N: the program's own supervisor -------------------------------
"$TOP/bin/exchange.fcgi" --config "$C" --listen "$X/sup.sock" --workers 2 2> "$X/sup.log" &
sup=$!
wait_sock "$X/sup.sock"
sleep 0.3
before=$(workers_of "$sup")
expect_eq "--workers 2: two workers" "$(echo $before | wc -w)" 2
sleep 1.2	# they have been serving a while
victim=$(echo $before | cut -d' ' -f1)
kill -SEGV "$victim"
# (a request the victim had accepted as it died would be lost with it)
i=0
while [ "$(running "$victim")" != 0 ] && [ $i -lt 20 ]; do sleep 0.05; i=$((i + 1)); done
got=$(for i in 1 2 3 4 5 6 7 8; do fcgi "$X/sup.sock"; done | sort | uniq -c | tr -s ' ' | tr '\n' ';')
expect_eq "a worker crashed (SIGSEGV): every request still answered" "$got" " 8 Status: 200 OK;"
i=0
while [ "$(workers_of "$sup" | wc -w)" -lt 2 ] && [ $i -lt 40 ]; do sleep 0.1; i=$((i + 1)); done
after=$(workers_of "$sup")
check "the supervisor replaced it" sh -c "[ $(echo $after | wc -w) = 2 ] && ! echo ' $after ' | grep -q ' $victim '"
check "... and logged why" grep -q "ended (signal 11); restarting" "$X/sup.log"
# A worker dying within a second of its start: restarted, at most once a
# second (the supervisor's documented rate).
young=$(echo " $after " | tr ' ' '\n' | grep -v -x -e '' $(for w in $before; do printf -- '-e %s ' "$w"; done) | head -n 1)
[ -n "$young" ] && kill -SEGV "$young"
i=0
while [ "$(workers_of "$sup" | wc -w)" -lt 2 ] && [ $i -lt 40 ]; do sleep 0.1; i=$((i + 1)); done
after=$(workers_of "$sup")
check "a worker crashing at once is restarted too (within 4 s)" \
    sh -c "[ -n '$young' ] && [ $(echo $after | wc -w) = 2 ] && ! echo ' $after ' | grep -q ' $young '"
kill -HUP "$sup"
sleep 0.3
expect_eq "SIGHUP to the supervisor: the same workers serve on" "$(workers_of "$sup")" "$after"
expect_eq "SIGHUP: still answering" "$(fcgi "$X/sup.sock")" "Status: 200 OK"
kill -TERM "$sup"
check "SIGTERM to the supervisor: it and its workers exit" gone_within "$sup" 30
expect_eq "no worker left behind" "$(running $after)" 0

# --- spawn-fcgi -F 2: nobody restarts ------------------------------------------
sp() { STARFLY_CONF=$C STARFLY_BIN=$TOP/bin STARFLY_SOCK=$H/w/sock \
    STARFLY_CHILDREN_exchange=2 sh "$TOP/etc/spawn-fcgi/starfly-spawn" "$@"; }
sp start exchange > "$X/spawn.log" 2>&1
check "starfly-spawn status: 2 of 2" sp status exchange
kids=$(cat "$H/w/sock/exchange.pid")
kill -SEGV "$(echo $kids | cut -d' ' -f1)"
sleep 0.2
expect_eq "spawn-fcgi: the other child answers" "$(fcgi "$H/w/sock/exchange.sock")" "Status: 200 OK"
st=$(sp status exchange)
expect_eq "spawn-fcgi: the dead child is not replaced" "$st" "exchange: 1 of 2 children alive"
sp restart exchange > /dev/null 2>&1
check "starfly-spawn restart refills it" sp status exchange
kids="$kids $(cat "$H/w/sock/exchange.pid")"
sp stop exchange > /dev/null 2>&1
expect_eq "starfly-spawn stop: none left" "$(running $kids)" 0

# --- servers that spawn: they replace a dead program ----------------------------
hosts_unit "$H/b" --single www-data || { fail "unit B"; exit 1; }
for kind in lighttpd-spawn apache-fcgid; do
	if ! server_start "$kind" "$H/b"; then
		fail "$kind starts"
		continue
	fi
	UNIT_URL=$SERVER_URL
	http POST /v1/exchange/token -H 'Content-Type: application/json' -d "$body"
	victims=$(spawned "$H/b" | while read -r q; do
		grep -qx 'exchange.fcgi' "/proc/$q/comm" 2>/dev/null && echo "$q"; done)
	v=$(echo $victims | cut -d' ' -f1)
	if [ -z "$v" ]; then
		fail "$kind: an exchange.fcgi to kill"
	else
		kill -SEGV "$v"
		ok=0
		for i in 1 2 3 4 5 6; do
			http POST /v1/exchange/token -H 'Content-Type: application/json' -d "$body"
			[ "$HTTP_CODE" = 200 ] && ok=$((ok + 1))
			sleep 0.2
		done
		# lighttpd marks the backend down for a moment, then respawns
		check "$kind: after a crash, requests succeed again" [ "$ok" -ge 3 ]
		now=$(spawned "$H/b" | while read -r q; do
			grep -qx 'exchange.fcgi' "/proc/$q/comm" 2>/dev/null && echo "$q"; done)
		check "$kind: a new exchange.fcgi replaced the dead one" \
		    sh -c "[ -n '$now' ] && ! echo ' $(echo $now) ' | grep -q ' $v '"
	fi
	server_stop
done
t_done
