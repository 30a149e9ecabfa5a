#!/bin/sh
# rego-conformance.sh - OPA's Rego compliance cases, one PASS/FAIL line per
# folder of "$SHARED/conformance/rego" against its bar:
#   a-language  100% (but for tests/rego-exceptions.txt)
#   a-builtins  >= 95%
#   b-builtins  >= 90%
# Other folders are run and reported against 90%.
cd "$(dirname "$0")/../.." || exit 2
bin=tests/bin/rego-conformance
dir="${SHARED:-}/conformance/rego"
if [ -z "${SHARED:-}" ] || [ ! -d "$dir" ]; then
	echo "SKIP rego-conformance: ../shared absent"
	exit 0
fi
if [ ! -x "$bin" ]; then
	echo "FAIL rego-conformance: $bin is not built (make $bin)"
	exit 1
fi
out=build/test-output
mkdir -p "$out"
rc=0
for d in "$dir"/*/; do
	name=$(basename "$d")
	case "$name" in
	a-language) bar=100 ;;
	a-builtins) bar=95 ;;
	*) bar=90 ;;
	esac
	log="$out/rego-$name.log"
	"$bin" -x tests/rego-exceptions.txt "$d" > "$log" 2>&1
	last=$(tail -n 1 "$log")
	p=$(echo "$last" | sed -n 's/^\([0-9]*\) passed, \([0-9]*\) failed$/\1/p')
	f=$(echo "$last" | sed -n 's/^\([0-9]*\) passed, \([0-9]*\) failed$/\2/p')
	if [ -z "$p" ] || [ -z "$f" ]; then
		echo "FAIL rego-conformance/$name: no result line (see $log)"
		rc=1
		continue
	fi
	total=$((p + f))
	if [ "$total" -eq 0 ]; then
		echo "SKIP rego-conformance/$name: no cases"
		continue
	fi
	# pass when p/total >= bar/100
	if [ $((p * 100)) -ge $((bar * total)) ]; then
		echo "PASS rego-conformance/$name: $p/$total (bar $bar%)"
	else
		echo "FAIL rego-conformance/$name: $p/$total below $bar% (see $log)"
		grep '^FAIL ' "$log" | head -n 20 | sed 's/^/    /'
		rc=1
	fi
done
exit $rc
