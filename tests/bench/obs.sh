#!/bin/sh
# obs.sh - what observability costs an exchange, and how many event
# streams a unit holds without slowing exchange.  Measures, never
# asserts.
#  1. tests/bin/obs-bench: ns per metrics update (the three calls an
#     exchange makes) and per audit append, alone and with 2 processes.
#  2. A dev unit with sse_workers 200: wrk on POST /v1/exchange/token
#     (OBS_BENCH_SECONDS, default 5 s, 4 connections) with no stream open,
#     with OBS_SSE_CLIENTS (default 200) idle streams (?types=seal), with
#     50 and with OBS_SSE_CLIENTS streams that receive every record (the
#     fan-out: each exchange is sent to every stream).
. "$(dirname "$0")/../lib.sh"
cd "$TOP" || exit 2
secs=${OBS_BENCH_SECONDS:-5}
clients=${OBS_SSE_CLIENTS:-200}
if [ -x tests/bin/obs-bench ]; then
	echo "== per operation (tests/bin/obs-bench 1.5 2; load: $(cut -d' ' -f1-3 /proc/loadavg))"
	tests/bin/obs-bench 1.5 2
else
	echo "SKIP bench/obs: tests/bin/obs-bench not built"
fi
command -v wrk >/dev/null || { echo "SKIP bench/obs: wrk not installed"; exit 0; }
STARFLY_EXTRA_CONF="sse_workers $clients" unit_start || exit 1
stub() {
	_h=$(printf '{"alg":"RS256","typ":"JWT"}' | base64 | tr -d '=\n' | tr '/+' '_-')
	_c=$(printf '{"sub":"system:serviceaccount:bench:agent","iss":"https://kubernetes.default.svc","namespace":"bench","serviceaccount":"agent","exp":%s}' \
	    $(( $(date +%s) + 3600 )) | base64 | tr -d '=\n' | tr '/+' '_-')
	printf '%s.%s.stub' "$_h" "$_c"
}
cat > "$UNIT_VAR/post.lua" <<LUA
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"grant_type":"urn:ietf:params:oauth:grant-type:token-exchange","subject_token":"$(stub)","subject_token_type":"urn:ietf:params:oauth:token-type:jwt","audience":"https://api.example.com"}'
LUA
status=$(curl -s -o /dev/null -w '%{http_code}' -H 'Content-Type: application/json' \
    --data-binary "$(sed -n "s/^wrk.body = '\(.*\)'$/\1/p" "$UNIT_VAR/post.lua")" "$UNIT_URL/v1/exchange/token")
echo "== exchange answers HTTP $status in this unit"
run_wrk() {
	wrk -t 2 -c 4 -d "${secs}s" --latency -s "$UNIT_VAR/post.lua" "$UNIT_URL/v1/exchange/token" |
	    awk '/Requests\/sec/ {rps=$2} /^ +50%/ {p50=$2} /^ +99%/ {p99=$2} END {printf "%s req/s, p50 %s, p99 %s\n", rps, p50, p99}'
}
echo "== exchange, no event stream open: $(run_wrk)"
# streams N QUERY LABEL: open N streams, measure, close them.
streams() {
	pids=""
	i=0
	while [ $i -lt "$1" ]; do
		curl -sN --max-time $((secs + 45)) "$UNIT_URL/v1/events$2" > /dev/null 2>&1 &
		pids="$pids $!"
		i=$((i + 1))
	done
	held=0
	for t in $(seq 30); do
		held=$(curl -s "$UNIT_URL/metrics" | awk '$1 == "starfly_sse_clients" {print $2}')
		[ "$held" -ge "$1" ] && break
		sleep 1
	done
	echo "== exchange, $held event streams open ($3): $(run_wrk)"
	kill $pids 2>/dev/null
	wait $pids 2>/dev/null
	sleep 6		# streams notice at their next heartbeat
}
streams "$clients" "?types=seal" "watching seal events: idle"
streams 50 "" "each receiving every exchange record"
streams "$clients" "" "each receiving every exchange record"
echo "== exchange, streams closed again: $(run_wrk)"
