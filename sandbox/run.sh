#!/bin/sh
# sandbox/run.sh - Starfly's use cases against a running unit.
#
#   sandbox/run.sh              list the use cases
#   sandbox/run.sh all          run every one
#   sandbox/run.sh 1-5 | NAME   run one (exchange, revocation, mcp,
#                               federation, observability)
#
# Target: $STARFLY_URL (default http://localhost:8693).  Each case prints
# "  ok  ..." / "  fail  ..." lines; the exit status is non-zero when any
# failed.  Needs only curl and jq.  Each use case is a file
# sandbox/cases/N-NAME.sh, sourced with the helpers below.
set -u
here=$(cd "$(dirname "$0")" && pwd)
STARFLY_URL=${STARFLY_URL:-http://localhost:8693}
STARFLY_URL=${STARFLY_URL%/}
export STARFLY_URL
failed=0

ok()   { echo "  ok  $*"; }
fail() { echo "  fail  $*"; failed=1; }
# req METHOD PATH [curl args]: sets CODE and BODY.
req() {
	_m=$1; _p=$2; shift 2
	BODY=$(curl -s --max-time 10 -X "$_m" -w '\n%{http_code}' "$@" "$STARFLY_URL$_p")
	CODE=$(printf '%s\n' "$BODY" | tail -n 1)
	BODY=$(printf '%s\n' "$BODY" | sed '$d')
}
# A dev stub credential (Starfly's shape): {"alg":"RS256"}.{claims}.stub
stub_token() {
	_h=$(printf '{"alg":"RS256","typ":"JWT"}' | base64 | tr -d '=\n' | tr '/+' '_-')
	_c=$(printf '%s' "$1" | base64 | tr -d '=\n' | tr '/+' '_-')
	printf '%s.%s.stub' "$_h" "$_c"
}
# jwt_claims TOKEN: the decoded payload (jq-readable).
jwt_claims() {
	_p=$(printf '%s' "$1" | cut -d. -f2 | tr '_-' '/+')
	case $(( ${#_p} % 4 )) in 2) _p="$_p==" ;; 3) _p="$_p=" ;; esac
	printf '%s' "$_p" | base64 -d 2>/dev/null
}
# exchange SUBJECT_TOKEN AUDIENCE [extra JSON]: sets CODE, BODY, TOKEN.
exchange() {
	_extra=${3:-'{}'}
	req POST /v1/exchange/token -H 'Content-Type: application/json' \
	    -d "$(jq -n --arg t "$1" --arg a "$2" --argjson x "$_extra" \
	    '{grant_type: "urn:ietf:params:oauth:grant-type:token-exchange",
	      subject_token: $t,
	      subject_token_type: "urn:ietf:params:oauth:token-type:jwt",
	      audience: $a} + $x')"
	TOKEN=$(printf '%s' "$BODY" | jq -r '.access_token // empty' 2>/dev/null)
}

cases() { ls "$here"/cases/[0-9]-*.sh 2>/dev/null | sort; }
list() {
	echo "usage: sandbox/run.sh all | N | NAME     (against $STARFLY_URL)"
	for f in $(cases); do
		b=$(basename "$f" .sh)
		printf '  %s  %-14s %s\n' "${b%%-*}" "${b#*-}" \
		    "$(sed -n 's/^# about: //p' "$f")"
	done
}
run_case() {
	echo "== use case $(basename "$1" .sh)"
	. "$1"
}

command -v curl >/dev/null && command -v jq >/dev/null ||
    { echo "  fail  curl and jq are required"; exit 1; }
[ $# -eq 0 ] && { list; exit 0; }
for arg in "$@"; do
	case "$arg" in
	all)	for f in $(cases); do run_case "$f"; done ;;
	*)	f=$(cases | grep -E "/($arg-[a-z]+|[0-9]-$arg)\.sh\$" | head -n 1)
		if [ -z "$f" ]; then
			case "$arg" in
			1|2|3|4|5|exchange|revocation|mcp|federation|observability)
				echo "== use case $arg: not available yet"
				continue ;;
			esac
			echo "  fail  no use case '$arg'"; list; exit 2
		fi
		run_case "$f" ;;
	esac
done
exit $failed
