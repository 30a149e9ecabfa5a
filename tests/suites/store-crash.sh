#!/bin/sh
# store-crash.sh - kill store writers at random moments, many times;
# afterwards the store must open and every acknowledged write must be
# there (tests/bin/store-crash keeps a log and checks it).
#  - store-crash-disk / -tmpfs: SIGKILL from outside after a random delay,
#    on the disk (TMPDIR or /tmp) and on tmpfs (/dev/shm), where nothing
#    waits for fsync and more kills land inside a GDBM update;
#  - store-crash-points: the writer kills itself at a random write(2) to
#    the database files (before it, half-way through it, or after it),
#    so every kill lands inside an update or a repair; or, on odd runs,
#    right after a repair renamed its rebuilt file into place.
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
for what in disk:"${TMPDIR:-/tmp}" tmpfs:/dev/shm points:"${TMPDIR:-/tmp}"; do
	name=store-crash-${what%%:*}
	base=${what#*:}
	if [ ! -d "$base" ] || [ ! -w "$base" ]; then
		echo "SKIP $name: $base not writable"
		continue
	fi
	dir=$(mktemp -d "$base/sf-crash-XXXXXX") || exit 2
	i=1
	while [ "$i" -le "$KILLS" ]; do
		if [ "$name" = store-crash-points ]; then
			"$tool" write "$dir/c.db" "$dir/log" "$i" \
			    $((1 + $(rnd 2000))) "$(rnd 4)" 2>>"$dir/stderr"
		else
			"$tool" write "$dir/c.db" "$dir/log" "$i" \
			    2>>"$dir/stderr" &
			pid=$!
			ms=$(( 5 + $(rnd 250) ))
			sleep "$(printf '%d.%03d' $((ms / 1000)) $((ms % 1000)))"
			kill -9 "$pid" 2>/dev/null
			wait "$pid" 2>/dev/null
		fi
		i=$((i + 1))
	done
	if ! "$tool" check "$dir/c.db" "$dir/log" "$name"; then
		rc=1
		tail -n 20 "$dir/stderr" | sed 's/^/    /'
	fi
	rm -rf "$dir"
done
exit $rc
