#!/bin/sh
# tests/run.sh - run every test layer and print the closing count.
#
# Protocol: every test program or script prints one line per test,
# "PASS <name>", "FAIL <name>: <why>" or "SKIP <name>: <why>".  A program
# that exits non-zero without printing a FAIL line counts as one failure.
# Environment: ONLY=pattern runs only the entries whose name matches;
# FUZZ_SECONDS (default 5) is how long each fuzz target runs.
set -u
cd "$(dirname "$0")/.." || exit 2
top=$(pwd)
out=build/test-output
mkdir -p "$out"
: > "$out/all.log"
SHARED=${STARFLY_SHARED:-$top/../shared}
export SHARED
FUZZ_SECONDS=${FUZZ_SECONDS:-5}
ONLY=${ONLY:-}

# run NAME CMD...: run one entry, keep its output, account for it.
run() {
	name=$1; shift
	case "$name" in *"$ONLY"*) ;; *) return 0 ;; esac
	log="$out/$(echo "$name" | tr '/ ' '__').log"
	start=$(date +%s)
	timeout --kill-after=10 900 "$@" > "$log" 2>&1
	rc=$?
	grep -E '^(PASS|FAIL|SKIP) ' "$log" >> "$out/all.log"
	grep -E '^(FAIL|SKIP) ' "$log"
	if [ $rc -ne 0 ] && ! grep -q '^FAIL ' "$log"; then
		echo "FAIL $name: exited $rc (see $log)" | tee -a "$out/all.log"
		tail -n 20 "$log" | sed 's/^/    /'
	fi
	np=$(grep -c '^PASS ' "$log")
	nf=$(grep -c '^FAIL ' "$log")
	echo "-- $name: $np passed, $nf failed ($(( $(date +%s) - start ))s)"
}

# 1. Unit programs, plain and under ASan+UBSan.
for t in build/test/test_*; do
	[ -x "$t" ] && run "unit/${t##*/}" "$t"
done
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=0
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
for t in build/asan-test/test_*; do
	[ -x "$t" ] && run "asan/${t##*/}" "$t"
done
unset ASAN_OPTIONS UBSAN_OPTIONS

# 2. Data-driven suites and conformance (tests/suites/*.sh).
for s in tests/suites/*.sh; do
	[ -f "$s" ] && run "suite/${s##*/}" sh "$s"
done

# 3. Fuzz targets, briefly each, from their seed corpus.
for f in build/fuzz/fuzz_*; do
	[ -x "$f" ] || continue
	n=${f##*/fuzz_}
	run "fuzz/$n" sh tests/fuzz/run-one.sh "$f" "$n" "$FUZZ_SECONDS"
done

# 4. End-to-end scripts against real web servers (tests/e2e/*.sh).
for s in tests/e2e/*.sh; do
	[ -f "$s" ] && run "e2e/${s##*/}" sh "$s"
done

passed=$(grep -c '^PASS ' "$out/all.log")
failed=$(grep -c '^FAIL ' "$out/all.log")
skipped=$(grep -c '^SKIP ' "$out/all.log")
echo "$passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ]
