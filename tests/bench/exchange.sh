#!/bin/sh
# exchange.sh - exchange.fcgi under wrk behind the same lighttpd set-up as
# `make run`, against a floor measured in the same run: a minimal FastCGI
# responder (tests/bin/exchange-floor) that only verifies one token and
# signs one with the same algorithms.  Three mixes: dev stub (no verify),
# production ES256 subject token, production RS256 subject token.
#
# For each: loaded req/s (wrk -t2 -c16), unloaded p50/p90/p99 (one
# connection), CPU per request (utime+stime of lighttpd and the workers),
# in BENCH_ROUNDS (default 5) interleaved rounds of exchange and floor,
# and exchange/floor of the medians.  Then USS and RSS of the exchange
# workers.
# BENCH_SECONDS (default 10) per loaded run; BENCH_MILLION=1 adds a run of
# at least a million requests sampling USS to show it stays flat.
. "$(dirname "$0")/../lib.sh"
cd "$TOP" || exit 1
T_NAME=bench
secs=${BENCH_SECONDS:-10}
workers=$(nproc)
work=$(mktemp -d /tmp/starfly-bench.XXXXXX)
floor_pids=""
trap 'kill $floor_pids 2>/dev/null; unit_stop; rm -rf "$work"' EXIT
command -v wrk >/dev/null || { echo "wrk is not installed (make deps)"; exit 1; }

# cpu_ticks PID...: utime+stime of those processes, in clock ticks.
cpu_ticks() {
	_t=0
	for _p in "$@"; do
		[ -r "/proc/$_p/stat" ] || continue
		_v=$(sed 's/^.*) //' "/proc/$_p/stat" | awk '{print $12 + $13}')
		_t=$((_t + _v))
	done
	echo "$_t"
}
unit_pids() {	# lighttpd and every program of the unit under test
	pgrep -f "lighttpd -D -f $UNIT_VAR/" ; pgrep -f "exchange.fcgi --config $UNIT_VAR/"
}
floor_pids_of() { pgrep -f "exchange-floor --keys $UNIT_VAR/keys $1" ; pgrep -f "lighttpd -D -f $UNIT_VAR/"; }

# run_mix TAG NAME PATH BODYFILE PIDS...: print one table row and add
# "TAG req/s cpu_us p99_1c" to $work/rounds.
run_mix() {
	_tag=$1; _name=$2; _path=$3; _body=$4; shift 4
	BODY_FILE=$_body wrk -t1 -c1 -d1s -s tests/bench/exchange.lua "$UNIT_URL$_path" > /dev/null 2>&1
	_c0=$(cpu_ticks "$@")
	BODY_FILE=$_body wrk -t2 -c16 -d"${secs}s" --latency -s tests/bench/exchange.lua \
	    "$UNIT_URL$_path" > "$work/loaded.txt" 2>&1
	_c1=$(cpu_ticks "$@")
	BODY_FILE=$_body wrk -t1 -c1 -d5s --latency -s tests/bench/exchange.lua \
	    "$UNIT_URL$_path" > "$work/unloaded.txt" 2>&1
	_rps=$(awk '/^Requests\/sec/ {print $2}' "$work/loaded.txt")
	_n=$(awk '/requests in/ {print $1}' "$work/loaded.txt")
	_bad=$(awk '/Non-2xx/ {print $5}' "$work/loaded.txt")
	_p() { awk -v q="$2" '$1 == q {print $2}' "$1"; }
	_cpu=$(awk -v t=$((_c1 - _c0)) -v n="$_n" -v hz="$(getconf CLK_TCK)" \
	    'BEGIN { if (n > 0) printf "%.1f", t / hz / n * 1e6; else print "-" }')
	printf '%-22s %10s %9s %9s %9s %9s %10s %6s\n' "$_name" "$_rps" \
	    "$(_p "$work/unloaded.txt" 50%)" "$(_p "$work/unloaded.txt" 90%)" \
	    "$(_p "$work/unloaded.txt" 99%)" "$(_p "$work/loaded.txt" 99%)" \
	    "$_cpu" "${_bad:-0}"
	echo "$_tag $_rps $_cpu $(lat_us "$(_p "$work/unloaded.txt" 99%)")us" >> "$work/rounds"
}
header() {
	printf '%-22s %10s %9s %9s %9s %9s %10s %6s\n' mix req/s p50/1c p90/1c \
	    p99/1c p99/16c "cpu_us/req" non2xx
}
# start_floor NAME ARGS...: spawn-fcgi workers of the floor on a socket.
start_floor() {
	_s=$UNIT_VAR/run/floor-$1.sock; shift
	spawn-fcgi -s "$_s" -F "$workers" -P "$work/floor.pid" -- \
	    "$TOP/tests/bin/exchange-floor" --keys "$UNIT_VAR/keys" "$@" > /dev/null
	floor_pids="$floor_pids $(pgrep -f "exchange-floor --keys $UNIT_VAR/keys $*" | tr '\n' ' ')"
}
floor_routes() {
	for f in dev es rs; do
		printf 'fastcgi.server += ( "/bench/floor-%s" => (( "socket" => "%s", "check-local" => "disable" )) )\n' \
		    "$f" "$1/run/floor-$f.sock"
	done
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "-" }'; }
# med TAG COLUMN: the median of that column over the rounds of TAG.
med() { awk -v k="$1" -v c="$2" '$1 == k {print $c}' "$work/rounds" | sort -g |
    awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
# versus MIX PATH FLOOR_PATH BODY "PIDS" "FLOOR_PIDS": BENCH_ROUNDS
# (default 5) rounds of exchange then floor, interleaved so that a busy
# machine weighs on both alike; the ratio is of the medians.
versus() {
	: > "$work/rounds"
	for _r in $(seq "${BENCH_ROUNDS:-5}"); do
		run_mix x "$1 ($_r)" "$2" "$4" $5
		run_mix f "floor $1 ($_r)" "$3" "$4" $6
	done
	printf '%-22s %10s %9s %9s %9s %9s %10s\n' "$1 (median)" "$(med x 2)" "" "" \
	    "$(med x 4)" "" "$(med x 3)"
	printf '%-22s %10s %9s %9s %9s %9s %10s\n' "floor $1 (median)" "$(med f 2)" "" "" \
	    "$(med f 4)" "" "$(med f 3)"
	echo "$1 $(ratio "$(med x 2)" "$(med f 2)") $(ratio "$(med f 3)" "$(med x 3)")" >> "$work/ratios"
}

mkdir -p "$work/keys" "$work/etc/issuers.d"
(cd tests/node && node mint.mjs keys "$work/keys") || exit 1
now=$(date +%s)
for a in rs es; do
	cat > "$work/etc/issuers.d/k8s-$a.conf" <<CONF
issuer		https://k8s-$a.bench
kind		kubernetes
trust_domain	prod.example.com
jwks_file	$work/keys/${a}256.jwks
CONF
	tok=$(cd tests/node && node mint.mjs sign "$work/keys" "$(echo $a | tr a-z A-Z)256" "${a}256-test-1" \
	    "{\"iss\":\"https://k8s-$a.bench\",\"sub\":\"system:serviceaccount:payments:api\",\"iat\":$now,\"exp\":$((now + 86400))}")
	jq -n --arg t "$tok" '{grant_type: "urn:ietf:params:oauth:grant-type:token-exchange",
	    subject_token: $t, subject_token_type: "urn:ietf:params:oauth:token-type:jwt",
	    audience: "https://api.example.com", scope: "read"}' > "$work/$a.json"
done
stub=$(printf '%s.%s.stub' "$(printf '{"alg":"RS256"}' | base64 -w0 | tr -d '=' | tr '/+' '_-')" \
    "$(printf '{"sub":"system:serviceaccount:payments:api","iss":"k8s","namespace":"payments","serviceaccount":"api","exp":%s}' $((now + 86400)) | base64 -w0 | tr -d '=' | tr '/+' '_-')")
jq -n --arg t "$stub" '{grant_type: "urn:ietf:params:oauth:grant-type:token-exchange",
    subject_token: $t, subject_token_type: "urn:ietf:params:oauth:token-type:jwt",
    audience: "https://api.example.com", scope: "read"}' > "$work/dev.json"

echo "exchange.fcgi x$workers and floor x$workers behind one lighttpd; wrk loaded -t2 -c16 -d${secs}s, unloaded -c1 -d5s; ${BENCH_ROUNDS:-5} interleaved rounds; latencies in wrk's units"
header
: > "$work/ratios"
# Phase 1: the dev unit (stub credentials, permissive policy).
pre=$(mktemp -d /tmp/starfly-test.XXXXXX)
STARFLY_LIGHTTPD_EXTRA=$(floor_routes "$pre") unit_start_in "$pre" || exit 1
start_floor dev --no-verify
versus "dev stub" /v1/exchange/token /bench/floor-dev "$work/dev.json" \
    "$(unit_pids)" "$(floor_pids_of --no-verify)"
kill $floor_pids 2>/dev/null; floor_pids=""
unit_stop
# Phase 2: production (real signatures, the shipped policy).
pre=$(mktemp -d /tmp/starfly-test.XXXXXX)
STARFLY_MODE=production STARFLY_ETC=$work/etc STARFLY_LIGHTTPD_EXTRA=$(floor_routes "$pre") \
    unit_start_in "$pre" || exit 1
start_floor es --jwks "$work/keys/es256.jwks"
start_floor rs --jwks "$work/keys/rs256.jwks"
versus "prod ES256" /v1/exchange/token /bench/floor-es "$work/es.json" \
    "$(unit_pids)" "$(floor_pids_of "--jwks $work/keys/es256.jwks")"
versus "prod RS256" /v1/exchange/token /bench/floor-rs "$work/rs.json" \
    "$(unit_pids)" "$(floor_pids_of "--jwks $work/keys/rs256.jwks")"
echo
echo "exchange/floor (median req/s; in brackets floor/exchange CPU per request):"
awk '{printf "  %s %s: %s (%s)\n", $1, $2, $3, $4}' "$work/ratios"
for p in $(pgrep -f "exchange.fcgi --config $UNIT_VAR/"); do
	awk -v p="$p" '/^Rss:/ {r=$2} /^Private_(Clean|Dirty):/ {u+=$2}
	    END {printf "exchange.fcgi pid %s: USS %d KiB, RSS %d KiB\n", p, u, r}' "/proc/$p/smaps_rollup"
done
if [ "${BENCH_MILLION:-0}" = 1 ]; then
	echo "a million requests (prod ES256), USS of each worker every 20 s:"
	BODY_FILE=$work/es.json wrk -t2 -c16 -d300s -s tests/bench/exchange.lua \
	    "$UNIT_URL/v1/exchange/token" > "$work/million.txt" 2>&1 &
	w=$!
	while kill -0 $w 2>/dev/null; do
		sleep 20
		for p in $(pgrep -f "exchange.fcgi --config $UNIT_VAR/"); do
			awk -v p="$p" '/^Private_(Clean|Dirty):/ {u+=$2} END {printf " %s:%dKiB", p, u}' \
			    "/proc/$p/smaps_rollup" 2>/dev/null
		done
		echo
	done
	grep -E 'requests in|Requests/sec' "$work/million.txt"
fi
