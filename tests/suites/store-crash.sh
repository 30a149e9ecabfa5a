#!/bin/sh
# store-crash.sh - kill -9 a store writer at random moments, many times;
# afterwards the store must open and every acknowledged write must be
# there (tests/bin/store-crash checks the log it kept).  Runs once on the
# disk (TMPDIR or /tmp) and once on tmpfs (/dev/shm), where nothing waits
# for fsync and most kills land inside a GDBM update.
set -u
cd "$(dirname "$0")/../.." || exit 2
tool=tests/bin/store-crash
KILLS=${STORE_CRASH_KILLS:-30}
if [ ! -x "$tool" ] && ! make -s "$tool" >/dev/null 2>&1; then
	echo "FAIL store-crash: cannot build $tool"
	exit 1
fi

# rnd N: a random integer in [0, N).
rnd() {
	echo $(( $(od -An -N2 -tu2 /dev/urandom | tr -d ' ') % $1 ))
}

rc=0
for where in disk:"${TMPDIR:-/tmp}" tmpfs:/dev/shm; do
	name=store-crash-${where%%:*}
	base=${where#*:}
	if [ ! -d "$base" ] || [ ! -w "$base" ]; then
		echo "SKIP $name: $base not writable"
		continue
	fi
	dir=$(mktemp -d "$base/sf-crash-XXXXXX") || exit 2
	i=1
	while [ "$i" -le "$KILLS" ]; do
		"$tool" write "$dir/c.db" "$dir/log" "$i" 2>>"$dir/stderr" &
		pid=$!
		ms=$(( 5 + $(rnd 250) ))
		sleep "$(printf '%d.%03d' $((ms / 1000)) $((ms % 1000)))"
		kill -9 "$pid" 2>/dev/null
		wait "$pid" 2>/dev/null
		i=$((i + 1))
	done
	"$tool" check "$dir/c.db" "$dir/log" "$name" || rc=1
	if [ $rc -ne 0 ]; then
		tail -n 20 "$dir/stderr" | sed 's/^/    /'
	fi
	rm -rf "$dir"
done
exit $rc
