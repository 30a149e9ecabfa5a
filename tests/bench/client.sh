#!/bin/sh
# client.sh - cost of getting a token with starfly-token / lib/client.c:
# a cached call (cache hit: memory in the library, the per-user files for
# the CLI) and an uncached call (one RFC 8693 exchange over HTTP),
# against the oidc-provider test server and, when it can exchange, a dev
# unit.  Measured, never asserted.  CLIENT_BENCH_RUNS (default 200) CLI
# runs per cached figure, a quarter of that uncached.
cd "$(dirname "$0")/../.." || exit 2
. tests/lib.sh
TOK=bin/starfly-token
LIBB=tests/bin/client-bench
RUNS=${CLIENT_BENCH_RUNS:-200}
if [ ! -x "$TOK" ]; then
	echo "SKIP bench/client: $TOK not built"
	exit 0
fi
W=$(mktemp -d /tmp/starfly-client-bench.XXXXXX)
AS_PID=""
trap '[ -n "$AS_PID" ] && kill $AS_PID 2>/dev/null; unit_stop; rm -rf "$W"' EXIT
export STARFLY_TOKEN_CACHE="$W/cache"

ms() { date +%s%N; }
# cli_mean LABEL N ARGS...: mean wall time of N runs of starfly-token.
cli_mean() {
	_l=$1; _n=$2; shift 2
	"$TOK" "$@" > /dev/null || { echo "  $_l: starfly-token failed"; return 1; }
	_t0=$(ms)
	_i=0
	while [ $_i -lt "$_n" ]; do
		"$TOK" "$@" > /dev/null || return 1
		_i=$((_i + 1))
	done
	_t1=$(ms)
	awk -v a="$_t0" -v b="$_t1" -v n="$_n" -v l="$_l" \
	    'BEGIN { printf "  %s: %.2f ms per call (%d runs)\n", l, (b - a) / n / 1e6, n }'
}

bench_target() {
	_name=$1 _conf=$2 _ref=$3
	echo "$_name:"
	cli_mean "CLI cached (process start + cache file)" "$RUNS" --config "$_conf" "$_ref"
	cli_mean "CLI uncached (--no-cache: one exchange)" $((RUNS / 4)) --config "$_conf" --no-cache "$_ref"
	if [ -x "$LIBB" ]; then
		"$LIBB" "$_conf" "$_ref" 100000 | sed 's/^/  /'
	else
		echo "  (library figures: make $LIBB)"
	fi
}

if command -v node > /dev/null && [ -d tests/node/node_modules/oidc-provider ]; then
	mkdir -p "$W/as"
	node tests/node/exchange-as.mjs "$W/as" > "$W/as.log" 2>&1 &
	AS_PID=$!
	i=0
	while [ ! -s "$W/as/port" ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
	AP=$(cat "$W/as/port")
	cat > "$W/as.conf" <<EOF
[crm]
token_endpoint	http://127.0.0.1:$AP/token
allow_http	yes
auth		client_secret_basic
client_id	agent-basic
client_secret_file as/basic.secret
subject_token_file as/subject.jwt
scope		crm:read
EOF
	bench_target "oidc-provider (node) on 127.0.0.1, client_secret_basic" "$W/as.conf" crm
else
	echo "SKIP bench/client oidc-provider: node modules absent"
fi

if unit_start > "$W/unit-start.log" 2>&1; then
	b64url() { base64 -w0 | tr -d '=' | tr '/+' '_-'; }
	printf '%s.%s.stub' "$(printf '{"alg":"RS256","typ":"JWT"}' | b64url)" \
	    "$(printf '{"sub":"bench","iss":"https://k8s.example","exp":%d}' $(( $(date +%s) + 3600 )) | b64url)" > "$W/subject"
	cat > "$W/unit.conf" <<EOF
[api]
token_endpoint	$UNIT_URL/v1/exchange/token
allow_http	yes
subject_token_file subject
audience	https://api.example.com
EOF
	if "$TOK" --config "$W/unit.conf" --no-cache api > /dev/null 2>&1; then
		bench_target "dev unit (lighttpd + exchange.fcgi, ES256)" "$W/unit.conf" api
	else
		echo "SKIP bench/client unit: the unit does not exchange yet"
	fi
else
	echo "SKIP bench/client unit: the unit did not start"
fi
