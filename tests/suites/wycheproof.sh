#!/bin/sh
# wycheproof.sh - every Wycheproof file in $SHARED/conformance/wycheproof
# through tests/bin/wycheproof (our jwk_parse/jws_verify); one PASS or
# FAIL line per file, with the failing test vectors under a FAIL.
cd "$(dirname "$0")/../.." || exit 2
dir=${SHARED:-../shared}/conformance/wycheproof
tool=tests/bin/wycheproof
if [ ! -d "$dir" ]; then
	echo "SKIP wycheproof: $dir absent"
	exit 0
fi
if [ ! -x "$tool" ]; then
	echo "SKIP wycheproof: $tool not built (make $tool)"
	exit 0
fi
found=0
for f in "$dir"/*.json; do
	[ -f "$f" ] || continue
	found=1
	name=${f##*/}
	out=$("$tool" "$f" 2>&1)
	rc=$?
	summary=$(printf '%s\n' "$out" | grep "^$name: " | tail -n 1)
	summary=${summary#"$name: "}
	if [ $rc -eq 0 ]; then
		echo "PASS wycheproof: $name ($summary)"
	else
		echo "FAIL wycheproof: $name: ${summary:-exit $rc}"
		printf '%s\n' "$out" | grep -v "^$name: " | grep -v \
		    '^[0-9]* passed, [0-9]* failed$' | sed 's/^/    /'
	fi
done
[ $found -eq 1 ] || echo "SKIP wycheproof: no files in $dir"
exit 0
