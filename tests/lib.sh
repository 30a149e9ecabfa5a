# tests/lib.sh - helpers for shell tests (sourced).  Output protocol:
# "PASS name", "FAIL name: why", "SKIP name: why" (see tests/run.sh).
#
#   check NAME CMD...        PASS when CMD succeeds
#   expect_eq NAME GOT WANT  PASS when equal
#   unit_start               start a unit exactly as `make run` does, on a
#                            free 127.0.0.1 port with its own state
#                            directory: sets UNIT_URL UNIT_VAR UNIT_PORT.
#                            Dev mode unless STARFLY_MODE=production (see
#                            etc/dev/run.sh for STARFLY_ETC, STARFLY_POLICY,
#                            STARFLY_EXTRA_CONF)
#   unit_stop                stop it (also run on exit)
#   http METHOD PATH [curl args...]  sets HTTP_CODE, HTTP_BODY, HTTP_HEADERS
TOP=$(cd "$(dirname "$0")/../.." 2>/dev/null && pwd)
[ -f "$TOP/GNUmakefile" ] || TOP=$(pwd)
T_NAME=${T_NAME:-$(basename "$0" .sh)}
T_FAILS=0

pass() { echo "PASS $T_NAME: $1"; }
fail() { echo "FAIL $T_NAME: $1${2:+: $2}"; T_FAILS=$((T_FAILS + 1)); }
skip() { echo "SKIP $T_NAME: $1${2:+: $2}"; }

check() {
	_n=$1; shift
	if "$@" > /dev/null 2>&1; then pass "$_n"; else fail "$_n" "$*"; fi
}

expect_eq() {
	if [ "$2" = "$3" ]; then pass "$1"
	else fail "$1" "got '$2', want '$3'"; fi
}

# A port nothing listens on (loopback only).
free_port() {
	_p=$(( 20000 + $(od -An -N2 -tu2 /dev/urandom) % 20000 ))
	while curl -s -o /dev/null --max-time 1 "http://127.0.0.1:$_p/"; do
		_p=$(( _p + 1 ))
	done
	echo "$_p"
}

UNIT_PID=""
unit_start() {
	unit_start_in "$(mktemp -d /tmp/starfly-test.XXXXXX)"
}
# unit_start_in DIR: the same, with the state directory chosen.
unit_start_in() {
	UNIT_VAR=$1
	UNIT_PORT=$(free_port)
	UNIT_URL=http://127.0.0.1:$UNIT_PORT
	UNIT_CONF=$UNIT_VAR/starfly.conf
	sh "$TOP/etc/dev/run.sh" "$UNIT_PORT" "$UNIT_VAR" > "$UNIT_VAR/unit.log" 2>&1 &
	UNIT_PID=$!
	_i=0
	while [ $_i -lt 100 ]; do
		if curl -s -o /dev/null --max-time 1 "$UNIT_URL/v1/sys/health"; then
			# every program up: each answers its own route
			curl -s -o /dev/null --max-time 1 "$UNIT_URL/v1/identity/jwks" &&
			    return 0
		fi
		kill -0 "$UNIT_PID" 2>/dev/null || break
		sleep 0.1
		_i=$((_i + 1))
	done
	echo "unit did not start; log:" >&2
	cat "$UNIT_VAR/unit.log" >&2
	return 1
}

unit_stop() {
	# A production unit's seal segment lives in /dev/shm: remove it.
	if [ -n "${UNIT_CONF:-}" ] && [ -f "$UNIT_CONF" ] &&
	    grep -q '^mode[[:space:]]*production' "$UNIT_CONF"; then
		_seg=$("$TOP/bin/starflyctl" --config "$UNIT_CONF" seal status 2>/dev/null |
		    jq -r '.segment // empty' 2>/dev/null)
		case "$_seg" in /dev/shm/starfly-seal-*) _rm_seg=$_seg ;; *) _rm_seg= ;; esac
	fi
	if [ -n "$UNIT_PID" ]; then
		kill "$UNIT_PID" 2>/dev/null
		wait "$UNIT_PID" 2>/dev/null
		UNIT_PID=""
	fi
	[ -n "${_rm_seg:-}" ] && rm -f "$_rm_seg"
	[ -n "${UNIT_VAR:-}" ] && [ -z "${KEEP:-}" ] && rm -rf "$UNIT_VAR"
}
trap 'unit_stop' EXIT

http() {
	_m=$1; _p=$2; shift 2
	_h=$(mktemp)
	HTTP_BODY=$(curl -s --max-time 10 -X "$_m" -D "$_h" -o - -w '\n%{http_code}' "$@" "$UNIT_URL$_p")
	HTTP_CODE=$(printf '%s\n' "$HTTP_BODY" | tail -n 1)
	HTTP_BODY=$(printf '%s\n' "$HTTP_BODY" | sed '$d')
	HTTP_HEADERS=$(tr -d '\r' < "$_h")
	rm -f "$_h"
}

# header NAME: value of a response header from the last http call.
header() {
	printf '%s\n' "$HTTP_HEADERS" | awk -v n="$1" 'BEGIN{IGNORECASE=1}
	    tolower(substr($0,1,length(n)+1))==tolower(n)":" {sub(/^[^:]*: */,""); print; exit}'
}

# lat_us LATENCY: wrk's latency ("512.00us", "1.34ms", "2.01s") in
# microseconds, so that medians sort across units.
lat_us() {
	awk -v v="$1" 'BEGIN { n = v + 0; if (v ~ /ms$/) n *= 1000;
	    else if (v ~ /[0-9]s$/) n *= 1000000; printf "%.0f", n }'
}

# jtrue JSON FILTER [jq args...]: true when JSON is non-empty and FILTER
# evaluates to exactly true (jq -e alone passes on empty input).
jtrue() {
	_jj=$1; _jf=$2; shift 2
	[ -n "$_jj" ] && [ "$(printf '%s' "$_jj" | jq "$@" "$_jf" 2>/dev/null)" = true ]
}

# jcheck NAME JSON FILTER [jq args...]: PASS when JSON is non-empty and
# FILTER evaluates to exactly true (never on empty or invalid input).
jcheck() {
	_n=$1; _j=$2; _f=$3; shift 3
	if jtrue "$_j" "$_f" "$@"; then
		pass "$_n"
	else
		fail "$_n" "$(printf '%s' "$_j" | head -c 300) !~ $_f"
	fi
}

t_done() { [ "$T_FAILS" -eq 0 ]; }
