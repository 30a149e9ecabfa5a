#!/bin/sh
# tests/bench/run.sh - `make bench`: every tests/bench/*.sh in turn.
# Benchmarks measure and print; they never pass or fail on a time.
# BENCH=name runs only the matching ones.  Results are also kept in
# build/bench/.
cd "$(dirname "$0")/../.." || exit 2
mkdir -p build/bench
echo "machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), $(sed -n 's/^model name[^:]*: //p' /proc/cpuinfo | head -n 1)"
echo "kernel: $(uname -r); date: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
for b in tests/bench/*.sh; do
	[ "$b" = tests/bench/run.sh ] && continue
	case "$b" in *"${BENCH:-}"*) ;; *) continue ;; esac
	echo "== $b"
	sh "$b" 2>&1 | tee "build/bench/$(basename "$b" .sh).txt"
done
