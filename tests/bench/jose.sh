#!/bin/sh
# jose.sh - sign and verify cost per JWS algorithm, in microseconds per
# operation (tests/bin/jose-bench; measured, not asserted).  The raw
# OpenSSL figures for the same primitives follow for comparison.
# JOSE_BENCH_SECONDS (default 1.5) is the time spent per figure.
cd "$(dirname "$0")/../.." || exit 2
tool=tests/bin/jose-bench
if [ ! -x "$tool" ]; then
	echo "SKIP bench/jose: $tool not built (make $tool)"
	exit 0
fi
echo "== JOSE per operation ($tool ${JOSE_BENCH_SECONDS:-1.5}; load: $(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null))"
"$tool" "${JOSE_BENCH_SECONDS:-1.5}" || exit 1
if command -v openssl > /dev/null 2>&1; then
	echo "== OpenSSL primitives (openssl speed -seconds 1)"
	openssl speed -seconds 1 ecdsap256 ecdsap384 ed25519 rsa2048 2>/dev/null |
	    grep -E '^ *(rsa|[0-9]+ bits)|sign +verify'
fi
# Instructions per call (deterministic, unlike the clock): opt in with
# JOSE_BENCH_CALLGRIND=1 (slow: every run generates its keys).
if [ "${JOSE_BENCH_CALLGRIND:-0}" = 1 ] && command -v valgrind > /dev/null; then
	echo "== instructions per call (callgrind --toggle-collect)"
	printf '%-6s %12s %12s %12s %14s\n' alg sign parse verify parse+verify
	out=$(mktemp)
	for alg in ES256 ES384 EdDSA RS256 RS384 RS512 PS256; do
		line=$(printf '%-6s' "$alg")
		for pair in sign:jws_sign_jwt parse:jws_parse verify:jws_verify \
		    both:jws_verify_compact; do
			valgrind --tool=callgrind --callgrind-out-file="$out" \
			    --toggle-collect="${pair#*:}" "$tool" -n 50 "$alg" \
			    "${pair%%:*}" > /dev/null 2>&1
			n=$(awk '/^totals:/ { print int($2 / 50) }' "$out")
			w=12; [ "${pair%%:*}" = both ] && w=14
			line="$line $(printf "%${w}s" "$n")"
		done
		echo "$line"
	done
	rm -f "$out"
fi
