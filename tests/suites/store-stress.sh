#!/bin/sh
# store-stress.sh - the store's concurrency proof: 4 reader processes and
# one writer doing 10,000 acknowledged writes; no failed or lost write,
# every reader finds each change on its next request (see
# tests/bin/store-stress.c).  Then a short "storm" where readers never
# pause, to show the writer is not starved.  Figures go in the PASS line.
set -u
cd "$(dirname "$0")/../.." || exit 2
tool=tests/bin/store-stress
if [ ! -x "$tool" ] && ! make -s "$tool" >/dev/null 2>&1; then
	echo "FAIL store-stress: cannot build $tool"
	exit 1
fi
rc=0
"$tool" -r 4 -n 10000 || rc=1
"$tool" -s -r 4 -n 300 || rc=1
exit $rc
