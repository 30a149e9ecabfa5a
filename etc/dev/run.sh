#!/bin/sh
# etc/dev/run.sh PORT [VARDIR] - what `make run` does after building: write the dev
# configuration var/starfly.conf, initialise the unit (keys on first
# start), start every program on its own unix socket under var/run/, and
# run lighttpd in the foreground on 127.0.0.1:PORT.  Logs go to this
# terminal; Ctrl-C stops everything this script started.
set -u
top=$(cd "$(dirname "$0")/../.." && pwd)
port=${1:-8693}
var=${2:-$top/var}
mkdir -p "$var/run"
var=$(cd "$var" && pwd)
run=$var/run

pidfile=$run/lighttpd.pid
if [ -f "$pidfile" ] && kill -0 "$(cat "$pidfile")" 2>/dev/null; then
	echo "run: a unit is already running from $top (lighttpd pid $(cat "$pidfile"));" >&2
	echo "run: stop it (Ctrl-C in its terminal, or kill $(cat "$pidfile")) first." >&2
	exit 1
fi
if curl -s -o /dev/null --max-time 1 "http://127.0.0.1:$port/"; then
	echo "run: port $port is already in use on 127.0.0.1; try make run PORT=N" >&2
	exit 1
fi

# Tests start production-mode units the same way:
# STARFLY_MODE=production, STARFLY_ETC (issuers.d, clients.d, ...),
# STARFLY_POLICY (the bundle), STARFLY_EXTRA_CONF (more lines).
mode=${STARFLY_MODE:-dev}
if [ "$mode" = dev ]; then policy=$top/policies/dev; else policy=$top/policies; fi
conf=$var/starfly.conf
cat > "$conf" <<CONF
# Written by make run (etc/dev/run.sh); edits are lost on the next run.
mode		$mode
issuer		http://localhost:$port
listen		127.0.0.1:$port
state_dir	$var
policy_dir	${STARFLY_POLICY:-$policy}
etc_dir		${STARFLY_ETC:-$top/etc}
www_dir		$top/www
show_reasons	yes
log_level	info
${STARFLY_EXTRA_CONF:-}
CONF
"$top/bin/starflyctl" --config "$conf" init || exit 1

pids=""
cleanup() {
	trap - EXIT INT TERM
	[ -n "$pids" ] && kill $pids 2>/dev/null
	wait 2>/dev/null
	echo "run: stopped"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# The hot path gets one worker per core; the rest one each.
workers() {
	case $1 in exchange|mcp) nproc 2>/dev/null || echo 2 ;; *) echo 1 ;; esac
}
for p in exchange jwks mcp signals sys events; do
	rm -f "$run/$p.sock"	# a stale one would pass the wait below
	"$top/bin/$p.fcgi" --config "$conf" --listen "$run/$p.sock" \
	    --workers "$(workers $p)" &
	pids="$pids $!"
done
# lighttpd takes a backend whose socket is missing as down for a while
# (503): start it once every program listens (5 s at most).
i=0
for p in exchange jwks mcp signals sys events; do
	while [ ! -S "$run/$p.sock" ] && [ $i -lt 100 ]; do
		sleep 0.05
		i=$((i + 1))
	done
done
sed -e "s|@TOP@|$top|g" -e "s|@VAR@|$var|g" -e "s|@PORT@|$port|g" \
    "$top/etc/lighttpd/starfly-dev.conf.in" > "$var/lighttpd.conf"
# Benchmarks add routes (their floor) with STARFLY_LIGHTTPD_EXTRA.
[ -n "${STARFLY_LIGHTTPD_EXTRA:-}" ] &&
    printf '%s\n' "$STARFLY_LIGHTTPD_EXTRA" >> "$var/lighttpd.conf"
echo "run: unit on http://localhost:$port (state in $var); Ctrl-C stops it"
lighttpd -D -f "$var/lighttpd.conf" &
pids="$pids $!"
wait $!
