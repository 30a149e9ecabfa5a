#!/bin/sh
# signals-crash.sh - kill -9 signals.fcgi at random moments while two
# streams of SETs are pushed at it (through lighttpd, as a transmitter
# would), restarting it each time.  Afterwards every push that got a 202
# must still be a revocation in the store (read by starflyctl, by the
# restarted signals.fcgi and by the exchange processes, which never
# restarted), the store must open, and any repair must have been logged.
# CRASH_PUSHES (default 150 SETs per stream); kills every 50 to 560 ms
# until the streams end (at most CRASH_KILLS).
. "$(dirname "$0")/../lib.sh"
cd "$TOP" || exit 1
PUSHES=${CRASH_PUSHES:-150}
KILLS=${CRASH_KILLS:-1000}
work=$(mktemp -d /tmp/starfly-crash.XXXXXX)
SIG_PID=""
cleanup() {
	[ -n "$SIG_PID" ] && kill "$SIG_PID" 2>/dev/null
	[ -n "${P1:-}" ] && kill "$P1" 2>/dev/null
	[ -n "${P2:-}" ] && kill "$P2" 2>/dev/null
	unit_stop
	rm -rf "$work"
}
trap cleanup EXIT

rnd() { od -An -N2 -tu2 /dev/urandom | tr -d ' '; }

unit_start || { fail "unit starts"; exit 1; }
export STARFLY_CONF=$UNIT_CONF
sock=$UNIT_VAR/run/signals.sock
# The signals.fcgi run.sh started (one process, no supervisor).
SIG_PID=$(pgrep -f -- "--listen $sock" | head -n 1)
[ -n "$SIG_PID" ] || { fail "signals.fcgi found"; exit 1; }
# The revocation each push carries: subject wimse://dev.local/ns/crash/sa/<stream>-<i>.
# Like a transmitter, a push that is not acknowledged is sent again (same
# jti) a few times; the line records the last answer and the attempts.
stream() {	# NAME: push PUSHES SETs, one line "id status attempts" each
	_i=1
	while [ $_i -le "$PUSHES" ]; do
		_id="$1-$_i"
		_n=0
		while [ $_n -lt 8 ]; do
			_n=$((_n + 1))
			_c=$(curl -s -o /dev/null -w '%{http_code}' --max-time 15 -X POST \
			    -H 'Content-Type: application/json' "$UNIT_URL/v1/signals/events" \
			    -d "{\"iss\":\"https://crash.test\",\"jti\":\"crash-$_id\",\"iat\":$(date +%s),\"sub_id\":{\"format\":\"uri\",\"uri\":\"wimse://dev.local/ns/crash/sa/$_id\"},\"events\":{\"https://schemas.openid.net/secevent/risc/event-type/account-disabled\":{}}}")
			[ "$_c" = 202 ] && break
			sleep 0.1
		done
		echo "$_id $_c $_n"
		_i=$((_i + 1))
	done > "$work/$1.log"
}
stream a & P1=$!
stream b & P2=$!
kills=0
while [ $kills -lt "$KILLS" ] && kill -0 "$P1" 2>/dev/null; do
	# 50 to 560 ms, then kill whatever signals.fcgi is doing.
	sleep "0.$(printf '%03d' $(( 50 + $(rnd) % 511 )))"
	kill -9 "$SIG_PID" 2>/dev/null && kills=$((kills + 1))
	wait "$SIG_PID" 2>/dev/null
	"$TOP/bin/signals.fcgi" --config "$UNIT_CONF" --listen "$sock" \
	    >> "$work/signals.log" 2>&1 &
	SIG_PID=$!
done
wait "$P1" "$P2"
P1=""; P2=""
# One last kill, then the restart every check below reads from.
kill -9 "$SIG_PID" 2>/dev/null
wait "$SIG_PID" 2>/dev/null
"$TOP/bin/signals.fcgi" --config "$UNIT_CONF" --listen "$sock" >> "$work/signals.log" 2>&1 &
SIG_PID=$!
sleep 0.5

cat "$work/a.log" "$work/b.log" > "$work/all.log"
total=$(wc -l < "$work/all.log")
acked=$(awk '$2 == 202' "$work/all.log" | wc -l)
other=$((total - acked))
retried=$(awk '$3 > 1' "$work/all.log" | wc -l)
expect_eq "every push answered ($((2 * PUSHES)) pushes)" "$total" $((2 * PUSHES))
check "signals.fcgi was killed mid-stream ($kills kills)" test "$kills" -ge 1
check "some pushes were acknowledged ($acked of $total got 202)" test "$acked" -gt 0
bad=$(awk '$2 != 202 && $2 != 502 && $2 != 503 && $2 != 500 && $2 != 000' "$work/all.log" | head -n 3)
expect_eq "a push not acknowledged failed as unavailable (5xx), never as refused" "$bad" ""

# The store opens and holds every acknowledged revocation.
if "$TOP/bin/starflyctl" revocations --all --json > "$work/store.json" 2> "$work/ctl.err"; then
	pass "the store opens after $kills kills"
else
	fail "the store opens after $kills kills" "$(cat "$work/ctl.err")"
fi
jq -r '.[].id' "$work/store.json" | sed 's|^wimse://dev.local/ns/crash/sa/||' | sort > "$work/present"
awk '$2 == 202 {print $1}' "$work/all.log" | sort > "$work/acked"
missing=$(comm -23 "$work/acked" "$work/present" | wc -l)
expect_eq "every 202'd revocation is in the store ($acked acknowledged)" "$missing" 0
# The restarted signals.fcgi and the exchange workers (never restarted)
# see the same set.
http GET /v1/federation/revocation-export
printf '%s' "$HTTP_BODY" | jq -r '.entries[].id' | sed 's|^wimse://dev.local/ns/crash/sa/||' | sort > "$work/served"
expect_eq "the restarted signals.fcgi exports all of them" "$(comm -23 "$work/acked" "$work/served" | wc -l)" 0
refused=0; sampled=0
for id in $(shuf -n 20 "$work/acked" 2>/dev/null); do
	ns=crash
	cred=$(printf '%s.%s.stub' "$(printf '{"alg":"RS256"}' | base64 -w0 | tr -d '=' | tr '/+' '_-')" \
	    "$(printf '{"sub":"x","iss":"x","namespace":"%s","serviceaccount":"%s","exp":%d}' "$ns" "$id" $(( $(date +%s) + 600 )) | base64 -w0 | tr -d '=' | tr '/+' '_-')")
	http POST /v1/exchange/token -H 'Content-Type: application/json' -d "{\"grant_type\":\"urn:ietf:params:oauth:grant-type:token-exchange\",\"subject_token\":\"$cred\",\"subject_token_type\":\"urn:ietf:params:oauth:token-type:jwt\",\"audience\":\"https://x.test\"}"
	sampled=$((sampled + 1))
	[ "$HTTP_CODE" = 400 ] && printf '%s' "$HTTP_BODY" | grep -q revoked && refused=$((refused + 1))
done
expect_eq "exchange refuses sampled acknowledged subjects ($sampled sampled)" "$refused" "$sampled"
# Unacknowledged pushes may or may not have landed; either is allowed.
landed=$(comm -13 "$work/acked" "$work/present" | wc -l)
repairs=$(grep -c -i 'recover\|rolled forward\|repair' "$work/signals.log" "$UNIT_VAR/unit.log" 2>/dev/null | awk -F: '{s += $2} END {print s + 0}')
echo "crash-test: SETs=$total acknowledged=$acked never-acknowledged=$other retried=$retried kills=$kills landed-without-202=$landed repairs-logged=$repairs"
pass "counts: $total SETs, $acked acknowledged ($retried after retries), $kills kills, $repairs repairs logged"
t_done
