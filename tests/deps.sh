#!/bin/sh
# tests/deps.sh - install the Debian packages (and npm test clients) the
# build, `make run` and `make check` need, when any is missing.
# As root: apt-get update + install.  Otherwise: print the command, stop.
set -u
PKGS="gcc make pkg-config libfcgi-dev libfcgi-bin libssl-dev libgdbm-dev
libjansson-dev libcurl4-openssl-dev libseccomp-dev clang libclang-rt-14-dev
lighttpd spawn-fcgi curl jq wrk lua5.1 valgrind busybox-static
prometheus chromium apache2 libapache2-mod-fcgid nginx-light caddy
libpcre2-dev libjemalloc-dev"
missing=""
for p in $PKGS; do
	s=$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null)
	[ "$s" = "installed" ] || missing="$missing $p"
done
if [ -n "$missing" ]; then
	cmd="apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends$missing"
	if [ "$(id -u)" -ne 0 ]; then
		echo "missing packages:$missing" >&2
		echo "run as root: $cmd" >&2
		exit 1
	fi
	echo "deps: installing$missing"
	# The prometheus package would start its service; we only want promtool.
	if [ ! -e /usr/sbin/policy-rc.d ]; then
		printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
		chmod +x /usr/sbin/policy-rc.d
		rmprc=1
	fi
	apt-get update -qq &&
	    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
	    --no-install-recommends $missing > build-deps.log 2>&1
	rc=$?
	[ "${rmprc:-0}" = 1 ] && rm -f /usr/sbin/policy-rc.d
	if [ $rc -ne 0 ]; then
		tail -n 30 build-deps.log >&2
		exit $rc
	fi
	rm -f build-deps.log
fi
# The npm clients used by the interop tests (lockfile: tests/node/).
if [ -f tests/node/package-lock.json ] && [ ! -d tests/node/node_modules ]; then
	command -v npm >/dev/null 2>&1 || { echo "npm not found" >&2; exit 1; }
	(cd tests/node && npm ci --no-audit --no-fund --loglevel=error) || exit 1
fi
exit 0
