#!/bin/sh
# policy.sh - one exchange decision (allow, reason and claims queries) on
# the production bundle in policies/ with a realistic input, over a
# million decisions: time per decision, and heap and RSS before and after
# (no growth expected: the evaluation arena is reset between decisions).
# Measured, not asserted.  POLICY_BENCH_N sets the number of decisions.
# POLICY_BENCH_CALLGRIND=1 adds instructions per decision (deterministic).
cd "$(dirname "$0")/../.." || exit 2
tool=tests/bin/policy-bench
if [ ! -x "$tool" ]; then
	echo "SKIP bench/policy: $tool not built (make $tool)"
	exit 0
fi
n=${POLICY_BENCH_N:-1000000}
echo "== policy decision ($tool -n $n policies; load: $(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null))"
"$tool" -n "$n" policies
if [ "${POLICY_BENCH_CALLGRIND:-0}" = 1 ] && command -v valgrind > /dev/null; then
	out=$(mktemp)
	valgrind --tool=callgrind --callgrind-out-file="$out" \
	    --toggle-collect=policy_decide "$tool" -n 2000 policies > /dev/null 2>&1
	ir=$(callgrind_annotate "$out" 2>/dev/null |
	    sed -n 's/^ *\([0-9,]*\) .*PROGRAM TOTALS.*/\1/p' | tr -d ,)
	# the tool makes 20000 warm-up decisions before the measured ones
	[ -n "$ir" ] && echo "instructions per decision: $((ir / 22000))"
	rm -f "$out"
fi
