#!/bin/sh
# run-one.sh BINARY NAME SECONDS: run one libFuzzer target from its corpus
# (tests/fuzz/corpus/NAME, copied so the tree is not written to).
bin=$1; name=$2; secs=$3
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/corpus"
[ -d "tests/fuzz/corpus/$name" ] && cp -r "tests/fuzz/corpus/$name/." "$work/corpus/"
if "$bin" -max_total_time="$secs" -rss_limit_mb=2048 -timeout=10 \
    -artifact_prefix="$work/" "$work/corpus" > "$work/log" 2>&1; then
	echo "PASS fuzz: $name ($(grep -c . "$work/log") log lines, ${secs}s)"
else
	echo "FAIL fuzz: $name: crash or leak"
	tail -n 40 "$work/log"
	for a in "$work"/crash-* "$work"/leak-* "$work"/timeout-*; do
		[ -f "$a" ] && { echo "input:"; od -c "$a" | head -20; }
	done
	exit 1
fi
