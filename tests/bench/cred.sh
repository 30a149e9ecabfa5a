#!/bin/sh
# cred.sh - cost of inbound credential validation (cred_validate) per
# credential kind, in microseconds per call, next to jws_verify alone
# (tests/bin/cred-bench; measured, not asserted).  CRED_BENCH_SECONDS
# (default 1.5) is the time spent per figure.
cd "$(dirname "$0")/../.." || exit 2
tool=tests/bin/cred-bench
if [ ! -x "$tool" ]; then
	echo "SKIP bench/cred: $tool not built (make $tool)"
	exit 0
fi
"$tool" "${CRED_BENCH_SECONDS:-1.5}"
