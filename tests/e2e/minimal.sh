#!/bin/sh
# minimal.sh - the programs on a minimal host: `make STATIC=1` in a copy
# of the tree (the checkout's own build is left alone), then an exchange
# end to end in a chroot that holds only the programs, their
# configuration, the unit's state and busybox (and, for comparison, in a
# second tree with the ordinary dynamic programs plus what ldd lists).
# Each exchange runs once as plain CGI from busybox sh and once over
# FastCGI (the program on a socket inside the chroot, cgi-fcgi outside);
# the token's key must be the one jwks.fcgi publishes there.  The size
# of each tree is printed ("minimal: ..." lines).  Needs root (chroot).
. "$(dirname "$0")/../lib.sh"
cd "$TOP" || exit 1

if [ "$(id -u)" -ne 0 ]; then
	skip "minimal host" "needs root (chroot)"
	exit 0
fi
BUSYBOX=$(command -v busybox)
# static: ldd finds nothing to load
is_static() { ldd "$1" 2>&1 | grep -q 'not a dynamic executable'; }
if [ -z "$BUSYBOX" ] || ! is_static "$BUSYBOX"; then
	fail "a static busybox" "install busybox-static (tests/deps.sh)"
	exit 1
fi
M=$(mktemp -d /tmp/starfly-min.XXXXXX)
PIDS=""
cleanup() {
	[ -n "$PIDS" ] && kill $PIDS 2>/dev/null
	[ -z "${KEEP:-}" ] && rm -rf "$M"
}
trap cleanup EXIT
PROGS="exchange jwks sys"

# --- make STATIC=1 ------------------------------------------------------------
mkdir -p "$M/src"
cp -r GNUmakefile lib bin "$M/src/"
rm -rf "$M/src/lib/libcore.a" "$M/src/build"
for p in $PROGS; do rm -f "$M/src/bin/$p.fcgi"; done
if make -C "$M/src" -j2 STATIC=1 $(for p in $PROGS; do printf 'bin/%s.fcgi ' $p; done) \
    > "$M/static-build.log" 2>&1; then
	pass "make STATIC=1 builds $PROGS"
else
	fail "make STATIC=1 builds $PROGS" "$(grep -E 'error|multiple definition|undefined' "$M/static-build.log" | head -n 3 | tr '\n' ' ')"
fi
static_ok=1
for p in $PROGS; do
	if [ -x "$M/src/bin/$p.fcgi" ] && is_static "$M/src/bin/$p.fcgi"; then
		pass "$p.fcgi is statically linked"
	else
		fail "$p.fcgi is statically linked"
		static_ok=0
	fi
done

# --- a tree: tree ROOT PROGDIR [ldd] -------------------------------------------
tree() {
	_r=$1
	mkdir -p "$_r/bin" "$_r/usr/lib/starfly" "$_r/etc/starfly" "$_r/var/lib" \
	    "$_r/run" "$_r/tmp" "$_r/dev"
	cp "$BUSYBOX" "$_r/bin/busybox"
	ln -s busybox "$_r/bin/sh"
	mknod -m 666 "$_r/dev/null" c 1 3
	mknod -m 444 "$_r/dev/urandom" c 1 9
	for _p in $PROGS; do
		install -s -m 0755 "$2/$_p.fcgi" "$_r/usr/lib/starfly/$_p.fcgi" || return 1
	done
	if [ "${3:-}" = ldd ]; then
		for _l in $(for _p in $PROGS; do ldd "$2/$_p.fcgi"; done |
		    awk '/=> \// { print $3 } /^\t\/[^ ]* \(/ { print $1 }' | sort -u); do
			mkdir -p "$_r$(dirname "$_l")"
			cp -L "$_l" "$_r$_l"
		done
	fi
	cp -r "$TOP/policies/dev" "$_r/etc/starfly/policies"
	cat > "$_r/etc/starfly/starfly.conf" <<-CONF
	mode		dev
	issuer		http://minimal.test
	state_dir	/var/lib/starfly
	policy_dir	/etc/starfly/policies
	etc_dir		/etc/starfly
	syslog		no
	CONF
	# The state is made by the host's starflyctl (not a program the
	# minimal host needs) with the same layout, then used in place.
	sed "s|/var/lib/starfly|$_r/var/lib/starfly|" "$_r/etc/starfly/starfly.conf" > "$M/init.conf"
	"$TOP/bin/starflyctl" --config "$M/init.conf" init > /dev/null 2>&1
}

b64url() { base64 -w0 | tr -d '=' | tr '/+' '_-'; }
body=$(jq -nc --arg t "$(printf '{"alg":"RS256"}' | b64url).$(printf '{"sub":"system:serviceaccount:edge:agent","iss":"x","namespace":"edge","serviceaccount":"agent","exp":%s}' $(( $(date +%s) + 600 )) | b64url).stub" \
    '{grant_type: "urn:ietf:params:oauth:grant-type:token-exchange", subject_token: $t,
      subject_token_type: "urn:ietf:params:oauth:token-type:jwt", audience: "https://edge.example"}')
len=$(printf %s "$body" | wc -c)

# exchange_in NAME ROOT: the exchange end to end inside the tree.
exchange_in() {
	_n=$1; _r=$2
	printf %s "$body" > "$_r/tmp/req.json"
	# Plain CGI, started by busybox sh in the chroot.
	chroot "$_r" /bin/sh -c "STARFLY_CONF=/etc/starfly/starfly.conf \
	    REQUEST_METHOD=POST REQUEST_URI=/v1/exchange/token \
	    CONTENT_TYPE=application/json CONTENT_LENGTH=$len \
	    /usr/lib/starfly/exchange.fcgi < /tmp/req.json" > "$M/$_n.cgi" 2> "$M/$_n.cgi.err"
	_tok=$(tr -d '\r' < "$M/$_n.cgi" | sed '1,/^$/d' | jq -r '.access_token // empty' 2>/dev/null)
	if head -n 1 "$M/$_n.cgi" | grep -q '^Status: 200' && [ -n "$_tok" ]; then
		pass "$_n: exchange as CGI from busybox sh in the chroot"
	else
		fail "$_n: exchange as CGI in the chroot" "$(head -c 300 "$M/$_n.cgi") $(head -c 300 "$M/$_n.cgi.err")"
	fi
	# FastCGI: the programs on sockets inside, a client outside.
	for _p in exchange jwks; do
		chroot "$_r" /usr/lib/starfly/$_p.fcgi --config /etc/starfly/starfly.conf \
		    --listen /run/$_p.sock > "$M/$_n.$_p.log" 2>&1 &
		PIDS="$PIDS $!"
	done
	_i=0
	while { [ ! -S "$_r/run/exchange.sock" ] || [ ! -S "$_r/run/jwks.sock" ]; } && [ $_i -lt 50 ]; do
		sleep 0.1
		_i=$((_i + 1))
	done
	REQUEST_METHOD=POST REQUEST_URI=/v1/exchange/token CONTENT_TYPE=application/json \
	    CONTENT_LENGTH=$len cgi-fcgi -bind -connect "$_r/run/exchange.sock" \
	    < "$_r/tmp/req.json" > "$M/$_n.fcgi" 2>&1
	_tok=$(tr -d '\r' < "$M/$_n.fcgi" | sed '1,/^$/d' | jq -r '.access_token // empty' 2>/dev/null)
	if head -n 1 "$M/$_n.fcgi" | grep -q '^Status: 200' && [ -n "$_tok" ]; then
		pass "$_n: exchange over FastCGI from the chroot"
	else
		fail "$_n: exchange over FastCGI from the chroot" "$(head -c 300 "$M/$_n.fcgi") $(tail -n 3 "$M/$_n.exchange.log")"
	fi
	_kid=$(printf '%s' "$_tok" | cut -d. -f1 | tr '_-' '/+' | base64 -d 2>/dev/null | jq -r .kid 2>/dev/null)
	REQUEST_METHOD=GET REQUEST_URI=/v1/identity/jwks cgi-fcgi -bind \
	    -connect "$_r/run/jwks.sock" > "$M/$_n.jwks" 2>&1
	jcheck "$_n: jwks.fcgi there publishes the token's key" \
	    "$(tr -d '\r' < "$M/$_n.jwks" | sed '1,/^$/d')" \
	    '[.keys[].kid] | index($k) != null' --arg k "$_kid"
	kill $PIDS 2>/dev/null
	wait 2>/dev/null
	PIDS=""
}

kib() { du -sk "$@" 2>/dev/null | awk '{ s += $1 } END { print s + 0 }'; }
report() {	# NAME ROOT
	echo "minimal: $1 tree $(kib "$2") KiB: programs $(kib "$2/usr/lib/starfly") KiB" \
	    "($PROGS, stripped), libraries $(kib "$2/lib" "$2/lib64" "$2/usr/lib/x86_64-linux-gnu") KiB," \
	    "busybox $(kib "$2/bin") KiB, configuration and policies $(kib "$2/etc") KiB," \
	    "unit state $(kib "$2/var") KiB"
}

if [ $static_ok = 1 ]; then
	tree "$M/static" "$M/src/bin" || fail "static tree"
	check "static tree: no shared library in it" \
	    sh -c "! find '$M/static' -name '*.so*' | grep -q ."
	exchange_in static "$M/static"
	report static "$M/static"
fi
tree "$M/dynamic" "$TOP/bin" ldd || fail "ldd tree"
exchange_in dynamic "$M/dynamic"
report dynamic "$M/dynamic"
t_done
