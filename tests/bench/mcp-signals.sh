#!/bin/sh
# mcp-signals.sh - mcp.fcgi verify and signals.fcgi pushes under wrk,
# behind the same lighttpd set-up as `make run`, and the revocation index
# at a million entries.
#
# 1. POST /v1/mcp/verify (allowed, and the confused-deputy refusal)
#    against a floor in the same run: tests/bin/mcp-floor, a minimal
#    FastCGI responder that only parses the body and verifies the token's
#    signature with the unit's JWKS.  Loaded req/s (wrk -t2 -c16),
#    unloaded p50/p90/p99 (one connection), loaded p99, verify/floor.
# 2. SET pushes acknowledged per second, each 202 after its fsync (dev
#    JSON, and ES256-signed SETs from a transmitter), counted both by wrk
#    and by the SETs the unit recorded.
# 3. tests/bin/revoke-bench: fill, full load, memory, revoke_check and
#    incremental refresh at BENCH_REVOKED (default 1000000) entries.
# 4. The same unit with that store: verify and dev exchange req/s with the
#    index loaded, alone and while SETs are pushed (every push moves the
#    store's change marker, so every worker refreshes).
# BENCH_SECONDS (default 10) per loaded run, BENCH_ROUNDS (default 3)
# interleaved verify/floor rounds.
. "$(dirname "$0")/../lib.sh"
cd "$TOP" || exit 1
T_NAME=bench
secs=${BENCH_SECONDS:-10}
nrev=${BENCH_REVOKED:-1000000}
workers=$(nproc)
work=$(mktemp -d /tmp/starfly-bench.XXXXXX)
floor_pids=""
trap 'kill $floor_pids 2>/dev/null; unit_stop; rm -rf "$work"' EXIT
command -v wrk >/dev/null || { echo "wrk is not installed (make deps)"; exit 1; }
for t in mcp-floor set-sign revoke-bench; do
	[ -x "tests/bin/$t" ] || { echo "tests/bin/$t is not built (make)"; exit 1; }
done
LUA=tests/bench/exchange.lua
A=https://mcp.bench/tools/code-search
B=https://mcp.bench/tools/sql-admin

cpu_ticks() {
	_t=0
	for _p in "$@"; do
		[ -r "/proc/$_p/stat" ] || continue
		_v=$(sed 's/^.*) //' "/proc/$_p/stat" | awk '{print $12 + $13}')
		_t=$((_t + _v))
	done
	echo "$_t"
}
prog_pids() { pgrep -f "lighttpd -D -f $UNIT_VAR/"; pgrep -f "$1.fcgi --config $UNIT_VAR/"; }

# run_mix NAME PATH BODYFILE PIDS...: one table row.
run_mix() {
	_name=$1; _path=$2; _body=$3; shift 3
	BODY_FILE=$_body wrk -t1 -c1 -d1s -s $LUA "$UNIT_URL$_path" > /dev/null 2>&1
	_c0=$(cpu_ticks "$@")
	BODY_FILE=$_body wrk -t2 -c16 -d"${secs}s" --latency -s $LUA \
	    "$UNIT_URL$_path" > "$work/loaded.txt" 2>&1
	_c1=$(cpu_ticks "$@")
	BODY_FILE=$_body wrk -t1 -c1 -d5s --latency -s $LUA \
	    "$UNIT_URL$_path" > "$work/unloaded.txt" 2>&1
	_rps=$(awk '/^Requests\/sec/ {print $2}' "$work/loaded.txt")
	_n=$(awk '/requests in/ {print $1}' "$work/loaded.txt")
	_bad=$(awk '/Non-2xx/ {print $5}' "$work/loaded.txt")
	_p() { awk -v q="$2" '$1 == q {print $2}' "$1"; }
	_cpu=$(awk -v t=$((_c1 - _c0)) -v n="$_n" -v hz="$(getconf CLK_TCK)" \
	    'BEGIN { if (n > 0) printf "%.1f", t / hz / n * 1e6; else print "-" }')
	printf '%-28s %10s %9s %9s %9s %9s %10s %6s\n' "$_name" "$_rps" \
	    "$(_p "$work/unloaded.txt" 50%)" "$(_p "$work/unloaded.txt" 90%)" \
	    "$(_p "$work/unloaded.txt" 99%)" "$(_p "$work/loaded.txt" 99%)" \
	    "$_cpu" "${_bad:-0}"
	LAST_RPS=$_rps
	LAST_P99=$(_p "$work/loaded.txt" 99%)
}
table_header() {
	printf '%-28s %10s %9s %9s %9s %9s %10s %6s\n' run req/s p50/1c p90/1c \
	    p99/1c p99/16c "cpu_us/req" non2xx
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "-" }'; }
stub() {
	printf '%s.%s.stub' "$(printf '{"alg":"RS256"}' | base64 -w0 | tr -d '=' | tr '/+' '_-')" \
	    "$(printf '{"sub":"system:serviceaccount:bench:%s","iss":"k8s","namespace":"bench","serviceaccount":"%s","exp":%s}' "$1" "$1" $(( $(date +%s) + 86400 )) | base64 -w0 | tr -d '=' | tr '/+' '_-')"
}
# setup_unit: tools, a token for code-search, the request bodies.
setup_unit() {
	# Workers load the revocation index before they listen.
	_i=0
	while [ $_i -lt 600 ]; do
		[ "$(curl -s -o /dev/null -w '%{http_code}' "$UNIT_URL/v1/mcp/tools")" = 200 ] &&
		    [ "$(curl -s -o /dev/null -w '%{http_code}' -X POST -H 'Content-Type: application/json' -d '{}' "$UNIT_URL/v1/exchange/token")" = 400 ] &&
		    [ "$(curl -s -o /dev/null -w '%{http_code}' "$UNIT_URL/v1/signals/status")" = 200 ] && break
		sleep 0.2
		_i=$((_i + 1))
	done
	for t in "code-search $A" "sql-admin $B"; do
		set -- $t
		curl -s -o /dev/null -X POST "$UNIT_URL/v1/mcp/tools" -H 'Content-Type: application/json' \
		    -d "{\"tool_id\":\"$1\",\"resource_uri\":\"$2\"}"
	done
	jq -n --arg t "$(stub agent)" --arg a "$A" '{grant_type: "urn:ietf:params:oauth:grant-type:token-exchange",
	    subject_token: $t, subject_token_type: "urn:ietf:params:oauth:token-type:jwt", audience: $a}' > "$work/xchg.json"
	tok=$(curl -s -X POST "$UNIT_URL/v1/exchange/token" -H 'Content-Type: application/json' \
	    --data-binary @"$work/xchg.json" | jq -r .access_token)
	jq -n --arg t "$tok" '{token: $t, tool_id: "code-search"}' > "$work/allow.json"
	jq -n --arg t "$tok" '{token: $t, tool_id: "sql-admin"}' > "$work/deny.json"
	curl -s "$UNIT_URL/v1/identity/jwks" > "$work/jwks.json"
	_c=$(curl -s -o "$work/setup.out" -w '%{http_code}' -X POST "$UNIT_URL/v1/mcp/verify" \
	    -H 'Content-Type: application/json' --data-binary @"$work/allow.json")
	[ "$_c" = 200 ] || { echo "setup: verify answers $_c: $(head -c 300 "$work/setup.out")" \
	    "(token: $(printf '%s' "$tok" | head -c 40))"; exit 1; }
}
start_floor() {
	spawn-fcgi -s "$1/run/mcp-floor.sock" -F "$workers" -P "$work/floor.pid" -- \
	    "$TOP/tests/bin/mcp-floor" --jwks "$work/jwks.json" > /dev/null
	floor_pids=$(pgrep -f "mcp-floor --jwks $work/jwks.json" | tr '\n' ' ')
}
floor_route() {
	printf 'fastcgi.server += ( "/bench/mcp-floor" => (( "socket" => "%s", "check-local" => "disable" )) )\n' \
	    "$1/run/mcp-floor.sock"
}
recorded() {	# SETs the unit recorded for account-disabled
	curl -s "$UNIT_URL/v1/signals/status" | jq '.events["https://schemas.openid.net/secevent/risc/event-type/account-disabled"].count // 0'
}
push_run() {	# NAME [SETS_FILE]
	_r0=$(recorded)
	WRK_THREADS=2 SETS_FILE=${2:-} wrk -t2 -c4 -d"${secs}s" --latency -s tests/bench/signals.lua \
	    "$UNIT_URL/v1/signals/events" > "$work/push.txt" 2>&1
	_r1=$(recorded)
	printf '%-28s %10s %9s %9s   recorded %d new SETs = %s/s\n' "$1" \
	    "$(awk '/^Requests\/sec/ {print $2}' "$work/push.txt")" \
	    "$(awk '$1 == "50%" {print $2}' "$work/push.txt")" \
	    "$(awk '$1 == "99%" {print $2}' "$work/push.txt")" $((_r1 - _r0)) \
	    "$(awk -v n=$((_r1 - _r0)) -v s="$secs" 'BEGIN {printf "%.0f", n / s}')"
}

echo "mcp.fcgi x$workers, signals.fcgi x1, floor x$workers behind one lighttpd; wrk loaded -t2 -c16 -d${secs}s, unloaded -c1 -d5s"
## 1-2. An empty unit.
pre=$(mktemp -d /tmp/starfly-test.XXXXXX)
STARFLY_LIGHTTPD_EXTRA=$(floor_route "$pre") unit_start_in "$pre" || exit 1
setup_unit
start_floor "$pre"
# verify_vs_floor LABEL: rounds of verify then floor, interleaved so a
# busy machine weighs on both alike; the medians make the ratio.
verify_vs_floor() {
	: > "$work/rounds"
	table_header
	for _r in $(seq "${BENCH_ROUNDS:-3}"); do
		run_mix "verify allowed ($_r)" /v1/mcp/verify "$work/allow.json" $(prog_pids mcp)
		echo "v $LAST_RPS $(lat_us "$LAST_P99")us" >> "$work/rounds"
		run_mix "floor, signature only ($_r)" /bench/mcp-floor "$work/allow.json" $floor_pids \
		    $(pgrep -f "lighttpd -D -f $UNIT_VAR/")
		echo "f $LAST_RPS $(lat_us "$LAST_P99")us" >> "$work/rounds"
	done
	_med() { awk -v k="$1" -v c="$2" '$1 == k {print $c}' "$work/rounds" | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
	echo "$1: median verify $(_med v 2) req/s, floor $(_med f 2) req/s," \
	    "verify/floor $(ratio "$(_med v 2)" "$(_med f 2)"); loaded p99 (median) verify $(_med v 3), floor $(_med f 3)"
}
verify_vs_floor "verify vs floor, empty unit"
table_header
run_mix "verify refused (deputy)" /v1/mcp/verify "$work/deny.json" $(prog_pids mcp)
jq -n --arg t "$(stub other)" '{grant_type: "urn:ietf:params:oauth:grant-type:token-exchange",
    subject_token: $t, subject_token_type: "urn:ietf:params:oauth:token-type:jwt", audience: "https://api.bench"}' > "$work/dev.json"
run_mix "exchange (dev), none revoked" /v1/exchange/token "$work/dev.json" $(prog_pids exchange)
x0=$LAST_RPS
kill $floor_pids 2>/dev/null; floor_pids=""
echo
echo "SET pushes (wrk -t2 -c4 -d${secs}s; every 202 after the store's fsync):"
printf '%-28s %10s %9s %9s\n' run req/s p50 p99
push_run "dev JSON"
jkid=$(mktemp -d "$work/tx.XXXXXX")
"$TOP/tests/bin/set-sign" genkey ES256 "$jkid/es.pem" "$jkid/es.jwks" >/dev/null
unit_stop
# Signed pushes need a transmitter: restart with one.
mkdir -p "$work/etc/transmitters.d"
cp "$jkid/es.jwks" "$work/etc/transmitters.d/bench.jwks"
printf 'issuer https://tx.bench\njwks_file bench.jwks\n' > "$work/etc/transmitters.d/bench.conf"
pre=$(mktemp -d /tmp/starfly-test.XXXXXX)
STARFLY_ETC=$work/etc unit_start_in "$pre" || exit 1
nsets=$(( secs * 1500 ))
printf '{"iss":"https://tx.bench","jti":"b-%s-@N@","iat":%s,"aud":"%s","sub_id":{"format":"uri","uri":"wimse://dev.local/ns/bench/sa/s-@N@"},"events":{"https://schemas.openid.net/secevent/risc/event-type/account-disabled":{}}}' \
    "$$" "$(date +%s)" "http://localhost:$UNIT_PORT" | \
    "$TOP/tests/bin/set-sign" batch "$jkid/es.pem" ES256 "$nsets" > "$work/sets.txt"
printf '%-28s %10s %9s %9s\n' run req/s p50 p99
push_run "ES256-signed SETs" "$work/sets.txt"
unit_stop

## 3. The index at scale.
echo
echo "revocation index (tests/bin/revoke-bench, $nrev revoked subjects):"
pre=$(mktemp -d /tmp/starfly-test.XXXXXX)
"$TOP/tests/bin/revoke-bench" "$pre/fill" "$nrev" | sed 's/^/  /'
mv "$pre/fill/bench.db" "$pre/starfly.db"
mv "$pre/fill/bench.db.gen" "$pre/starfly.db.gen"
rm -rf "$pre/fill"

## 4. A unit holding that store.
echo
t0=$(date +%s)
STARFLY_LIGHTTPD_EXTRA=$(floor_route "$pre") unit_start_in "$pre" || exit 1
setup_unit
start_floor "$pre"
echo "unit with $nrev revocations up in $(( $(date +%s) - t0 )) s"
for p in $(pgrep -f "mcp.fcgi --config $UNIT_VAR/"); do
	awk -v p="$p" '/^Rss:/ {r=$2} /^Private_(Clean|Dirty):/ {u+=$2}
	    END {printf "  mcp.fcgi pid %s: USS %d KiB, RSS %d KiB\n", p, u, r}' "/proc/$p/smaps_rollup"
done
for p in $(pgrep -f "exchange.fcgi --config $UNIT_VAR/"); do
	awk -v p="$p" '/^Rss:/ {r=$2} /^Private_(Clean|Dirty):/ {u+=$2}
	    END {printf "  exchange.fcgi pid %s: USS %d KiB, RSS %d KiB\n", p, u, r}' "/proc/$p/smaps_rollup"
done
verify_vs_floor "verify vs floor, $nrev revoked"
table_header
run_mix "exchange (dev), $nrev revoked" /v1/exchange/token "$work/dev.json" $(prog_pids exchange)
x1=$LAST_RPS
echo "exchange with $nrev revoked / with none: $(ratio "$x1" "$x0")"
# The same while SETs are pushed (dev JSON, one connection).
WRK_THREADS=1 wrk -t1 -c1 -d"$((secs + 8))s" -s tests/bench/signals.lua \
    "$UNIT_URL/v1/signals/events" > "$work/bgpush.txt" 2>&1 &
bg=$!
sleep 1
run_mix "exchange during pushes" /v1/exchange/token "$work/dev.json" $(prog_pids exchange)
x2=$LAST_RPS
run_mix "verify during pushes" /v1/mcp/verify "$work/allow.json" $(prog_pids mcp)
wait $bg
echo "pushes meanwhile: $(awk '/^Requests\/sec/ {print $2}' "$work/bgpush.txt")/s; exchange during/alone: $(ratio "$x2" "$x1")"
