#!/bin/sh
# privsep.sh - privilege separation of a unit installed the shipped way
# (etc/spawn-fcgi/starfly-users: one user per program): who can open the
# signing key, who can write the store, what the seccomp filter refuses,
# the --user privilege drop with --listen in the systemd socket layout,
# and the sandbox state of the running programs.  Programs are probed
# with tests/bin/sandbox-probe, which starts up exactly as a named
# program does (prog_init: configuration, --user, Landlock, seccomp).
# Needs root (it creates the users).
. "$(dirname "$0")/../lib.sh"
cd "$TOP" || exit 1
. "$TOP/tests/e2e/hosts/lib.sh"

if [ "$(id -u)" -ne 0 ]; then
	skip "privilege separation" "needs root (creates users)"
	exit 0
fi
PROBE=$TOP/tests/bin/sandbox-probe
[ -x "$PROBE" ] || { fail "tests/bin/sandbox-probe built"; exit 1; }
hosts_setup
hosts_unit "$H/a" || { fail "unit with per-program users"; exit 1; }
C=$H/a/etc/starfly.conf
V=$H/a/var
key=$(ls "$V"/keys/private/* 2>/dev/null | head -n 1)
check "the unit has a private key file" [ -n "$key" ]

# probe PROGRAM USER ACTION...: the probe's output (stderr dropped).
probe() {
	_n=$1; _u=$2; shift 2
	"$PROBE" "$_n.fcgi" --config "$C" --user "$_u" "$@" 2>/dev/null
}
# says NAME OUTPUT LINE-PREFIX RESULT: the probe line for an action.
says() {
	_l=$(printf '%s\n' "$2" | grep -F -- "$3:" | head -n 1)
	expect_eq "$1" "${_l#"$3: "}" "$4"
}

# --- the signing key: only the signing user ---------------------------
out=$(probe exchange starfly-exchange read "$key")
says "exchange.fcgi (starfly-exchange) opens the signing key" "$out" "read $key" ok
for p in jwks mcp signals events; do
	out=$(probe "$p" "starfly-$p" read "$key")
	says "$p.fcgi (starfly-$p) cannot open the signing key" "$out" "read $key" "Permission denied"
done
check "keys/private is 0700, the signing user's" \
    [ "$(stat -c '%a %U' "$V/keys/private")" = "700 starfly-exchange" ]
out=$(probe jwks starfly-jwks read "$V/keys/keyring.json")
says "jwks.fcgi reads the public keyring" "$out" "read $V/keys/keyring.json" ok

# --- the store: only the programs that write it -------------------------
for p in exchange mcp signals; do
	u=starfly-$p
	out=$(probe "$p" "$u" write "$V/starfly.db")
	says "$p.fcgi may write the store" "$out" "write $V/starfly.db" ok
done
# Their group could; Landlock keeps the read-only programs out.
check "the store is group-writable (root:starfly 0660)" \
    [ "$(stat -c '%a %U:%G' "$V/starfly.db")" = "660 root:starfly" ]
for p in jwks events; do
	out=$(probe "$p" "starfly-$p" write "$V/starfly.db")
	says "$p.fcgi cannot write the store (Landlock)" "$out" "write $V/starfly.db" "Permission denied"
done
out=$(probe jwks starfly-jwks --sandbox off write "$V/starfly.db")
says "... which its user could without the sandbox (control)" "$out" "write $V/starfly.db" ok
out=$(probe jwks starfly-jwks create "$V/audit/x")
says "jwks.fcgi cannot write the audit trail" "$out" "create $V/audit/x" "Permission denied"
out=$(probe exchange starfly-exchange create "$H/a/etc/new")
says "exchange.fcgi cannot write its configuration" "$out" "create $H/a/etc/new" "Permission denied"
# Outside the unit: nothing, even as root.
out=$("$PROBE" jwks.fcgi --config "$C" read /etc/passwd 2>/dev/null)
says "as root, jwks.fcgi still cannot read /etc/passwd (Landlock)" "$out" "read /etc/passwd" "Permission denied"
out=$("$PROBE" jwks.fcgi --config "$C" --sandbox off read /etc/passwd 2>/dev/null)
says "... which it can with --sandbox off (control)" "$out" "read /etc/passwd" ok

# --- seccomp: forbidden calls are fatal, or refused and reported -------
"$PROBE" jwks.fcgi --config "$C" --user starfly-jwks exec /bin/true > /dev/null 2>&1
expect_eq "execve kills the program (SIGSYS)" "$?" 159
"$PROBE" exchange.fcgi --config "$C" --user starfly-exchange inet > /dev/null 2>&1
expect_eq "a network socket kills the program (SIGSYS)" "$?" 159
err=$("$PROBE" jwks.fcgi --config "$C" --user starfly-jwks --sandbox debug exec /bin/true inet setuid0 2>&1 >/dev/null)
out=$("$PROBE" jwks.fcgi --config "$C" --user starfly-jwks --sandbox debug exec /bin/true inet setuid0 2>/dev/null)
says "debug: execve refused with EPERM" "$out" "exec /bin/true" "Operation not permitted"
says "debug: socket(AF_INET) refused with EPERM" "$out" "inet" "Operation not permitted"
check "debug: each refusal reported on stderr" sh -c "printf '%s\n' '$err' | grep -q 'refused system call execve' && printf '%s\n' '$err' | grep -q 'refused system call socket'"
out=$(STARFLY_SANDBOX=debug "$PROBE" jwks.fcgi --config "$C" --user starfly-jwks exec /bin/true 2>/dev/null)
says "STARFLY_SANDBOX=debug does the same" "$out" "exec /bin/true" "Operation not permitted"
# RFC 3875 §4.4: a query without "=" may reach a CGI program as argv.
out=$("$PROBE" jwks.fcgi --config "$C" read /etc/passwd --sandbox off 2>/dev/null)
says "--sandbox off anywhere on the command line (control)" "$out" "read /etc/passwd" ok
out=$(GATEWAY_INTERFACE=CGI/1.1 STARFLY_CONF="$C" "$PROBE" jwks.fcgi read /etc/passwd --sandbox off 2>/dev/null)
says "a CGI process takes no --sandbox from its command line" "$out" "read /etc/passwd" "Permission denied"

# --- the privilege drop ----------------------------------------------------
# (with the sandbox off: under seccomp setuid itself is fatal)
out=$(probe jwks starfly-jwks --sandbox off ids setuid0)
says "--user: root cannot be regained" "$out" setuid0 "Operation not permitted"
probe jwks starfly-jwks setuid0 > /dev/null
expect_eq "under seccomp setuid kills the program (SIGSYS)" "$?" 159
check "--user: the ids are the user's" sh -c "printf '%s\n' '$out' | grep -qx 'ids: uid $(id -u starfly-jwks) gid $(id -g starfly-jwks)'"
"$PROBE" jwks.fcgi --config "$C" --user root ids > /dev/null 2>&1
check "--user root is refused" [ $? -ne 0 ]
"$PROBE" jwks.fcgi --config "$C" --user no-such-user-here ids > /dev/null 2>&1
check "--user with an unknown user is refused" [ $? -ne 0 ]
setpriv --reuid starfly-mcp --regid starfly --init-groups \
    "$PROBE" jwks.fcgi --config "$C" --user starfly-jwks ids > /dev/null 2>&1
check "--user without root is refused" [ $? -ne 0 ]

# The systemd units: they verify, and their tmpfiles make the socket
# layout (in a scratch root that has this host's users).
if command -v systemd-analyze > /dev/null; then
	mkdir -p "$H/systemd"
	sed "s|/usr/lib/starfly/%i.fcgi|$TOP/bin/%i.fcgi|" "$TOP/etc/systemd/starfly@.service" \
	    > "$H/systemd/starfly@.service"
	cp -r "$TOP/etc/systemd/starfly@sys.service.d" "$H/systemd/"
	for p in exchange jwks mcp signals sys events; do
		out=$(systemd-analyze verify "$H/systemd/starfly@$p.service" 2>&1)
		expect_eq "systemd: starfly@$p.service verifies" "$out" ""
	done
else
	skip "systemd unit files verify" "no systemd-analyze"
fi
mkdir -p "$H/root/etc"
cp /etc/passwd /etc/group "$H/root/etc/"
S=$H/root/run/starfly
if ! command -v systemd-tmpfiles > /dev/null; then
	skip "systemd-tmpfiles creates the socket layout" "no systemd-tmpfiles"
	# the same by hand, for the test below
	mkdir -p "$S/jwks" "$S/sys"
	chown starfly-jwks:www-data "$S/jwks"
	chown starfly-exchange:www-data "$S/sys"
	chmod 2750 "$S/jwks" "$S/sys"
	ln -s jwks/jwks.sock "$S/jwks.sock"
elif systemd-tmpfiles --create --root="$H/root" "$TOP/etc/systemd/starfly.tmpfiles" > "$H/tmpfiles.log" 2>&1; then
	pass "systemd-tmpfiles creates the socket layout"
else
	fail "systemd-tmpfiles creates the socket layout" "$(head -n 3 "$H/tmpfiles.log")"
fi
expect_eq "socket directory: the program's user, group www-data, setgid" \
    "$(stat -c '%U:%G %a' "$S/jwks" 2>/dev/null)" "starfly-jwks:www-data 2750"
expect_eq "sys.fcgi's socket directory belongs to the signing user" \
    "$(stat -c '%U' "$S/sys" 2>/dev/null)" "starfly-exchange"

# A real program started as root with --user and --listen in that
# layout: the web server connects through /run/starfly/NAME.sock, a
# symlink into the program's own directory.
"$TOP/bin/jwks.fcgi" --config "$C" --user starfly-jwks --listen "$S/jwks/jwks.sock" \
    --workers 2 > "$H/jwks.log" 2>&1 &
jpid=$!
i=0
while [ ! -S "$S/jwks/jwks.sock" ] && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
sleep 0.3
expect_eq "the socket: the program's user, group www-data, 0660" \
    "$(stat -c '%U:%G %a' "$S/jwks/jwks.sock" 2>/dev/null)" "starfly-jwks:www-data 660"
got=$(REQUEST_METHOD=GET REQUEST_URI=/v1/identity/jwks setpriv --reuid www-data \
    --regid www-data --clear-groups cgi-fcgi -bind -connect "$S/jwks.sock" 2>/dev/null |
    head -n 1 | tr -d '\r')
expect_eq "www-data reaches it through the symlink" "$got" "Status: 200 OK"
got=$(REQUEST_METHOD=GET REQUEST_URI=/v1/identity/jwks setpriv --reuid nobody \
    --regid nogroup --clear-groups cgi-fcgi -bind -connect "$S/jwks.sock" 2>&1 | head -n 1)
check "another user cannot connect" sh -c "! printf '%s' '$got' | grep -q 'Status: 200'"
pids="$jpid $(pgrep -P "$jpid" | tr '\n' ' ')"
for q in $pids; do
	st=$(grep -E '^(Uid|NoNewPrivs|Seccomp):' "/proc/$q/status" | awk '{print $2}' | tr '\n' ' ')
	expect_eq "pid $q ($([ "$q" = "$jpid" ] && echo supervisor || echo worker)): uid, no-new-privs, seccomp" \
	    "$st" "$(id -u starfly-jwks) 1 2 "
done
# Not dumpable: another process of the same user cannot read its memory.
w=$(pgrep -P "$jpid" | head -n 1)
setpriv --reuid starfly-jwks --regid starfly --init-groups cat "/proc/$w/environ" > /dev/null 2>&1
check "the same user cannot read a worker's memory (not dumpable)" [ $? -ne 0 ]
kill "$jpid"
wait "$jpid" 2>/dev/null

# --- every program under spawn-fcgi, as shipped ---------------------------
hosts_programs_start "$H/a" > "$H/spawn.log" 2>&1
for p in exchange jwks mcp signals sys events; do
	u=starfly-$p
	[ $p = sys ] && u=starfly-exchange
	ok=1
	for q in $(cat "$H/a/sock/$p.pid" 2>/dev/null); do
		st=$(grep -E '^(Uid|NoNewPrivs|Seccomp):' "/proc/$q/status" | awk '{print $2}' | tr '\n' ' ')
		[ "$st" = "$(id -u "$u") 1 2 " ] || ok=0
	done
	[ -s "$H/a/sock/$p.pid" ] || ok=0
	check "$p.fcgi under spawn-fcgi: as $u, no-new-privs, seccomp" [ $ok = 1 ]
done
hosts_programs_stop "$H/a"
t_done
