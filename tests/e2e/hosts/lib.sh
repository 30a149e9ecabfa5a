# tests/e2e/hosts/lib.sh - run the shipped web-server configurations on
# 127.0.0.1 for tests and benchmarks (sourced after tests/lib.sh).
#
#   hosts_setup                 a scratch directory $H (removed on exit)
#   hosts_unit DIR [--single U] a dev unit in DIR (conf DIR/etc/starfly.conf,
#                               state DIR/var), its files given to the
#                               per-program users (or to U)
#   hosts_programs_start DIR | hosts_programs_stop DIR
#                               every program under spawn-fcgi
#                               (etc/spawn-fcgi/starfly-spawn), sockets
#                               in DIR/sock
#   server_start KIND DIR       start a server from the shipped config of
#                               KIND on a free port, against the unit in
#                               DIR; sets SERVER_URL, SERVER_PID
#   server_stop                 stop it and everything it started
# KIND: lighttpd lighttpd-spawn lighttpd-cgi apache-proxy-fcgi
#       apache-fcgid nginx caddy
#
# The shipped files name production paths; render() substitutes the
# test's: /usr/lib/starfly (programs), /etc/starfly/starfly.conf,
# /run/starfly (sockets), /run/lighttpd (lighttpd's spawn sockets),
# /usr/share/starfly/www, the site name and the port.  Nothing else in
# them is changed (unless a test sets R_SED, one more sed expression).
HOSTS_DIR=$TOP/tests/e2e/hosts

hosts_setup() {
	H=$(mktemp -d /tmp/starfly-hosts.XXXXXX)
	chmod 0755 "$H"
	HOSTS_CLEAN=${HOSTS_CLEAN:-}
	trap 'server_stop; hosts_cleanup; unit_stop' EXIT
}

hosts_cleanup() {
	for _d in $HOSTS_CLEAN; do hosts_programs_stop "$_d"; done
	[ -n "${H:-}" ] && [ -z "${KEEP:-}" ] && rm -rf "$H"
	return 0
}

# The dashboard: www/ when it has an index.html, else a stand-in.
hosts_www() {
	if [ -f "$TOP/www/index.html" ]; then
		echo "$TOP/www"
	else
		mkdir -p "$H/www"
		printf '<!doctype html><title>starfly</title>\n' > "$H/www/index.html"
		chmod -R a+rX "$H/www"
		echo "$H/www"
	fi
}

# hosts_unit DIR [--single USER]
hosts_unit() {
	_u=$1; shift
	mkdir -p "$_u/etc/clients.d" "$_u/sock" "$_u/log"
	chmod 0755 "$_u" "$_u/sock"
	cat > "$_u/etc/starfly.conf" <<-CONF
	mode		dev
	issuer		http://starfly.test
	state_dir	$_u/var
	policy_dir	$TOP/policies/dev
	etc_dir		$_u/etc
	show_reasons	yes
	syslog		no
	log_level	info
	CONF
	# A confidential client: HTTP Basic proves Authorization arrives.
	cat > "$_u/etc/clients.d/hosts.conf" <<-CONF
	client_id	hosts-ci
	secret_sha256	$(printf %s hosts-secret | sha256sum | cut -d' ' -f1)
	auth_methods	client_secret_basic
	CONF
	chmod -R a+rX "$_u/etc"
	"$TOP/bin/starflyctl" --config "$_u/etc/starfly.conf" init > "$_u/log/init.log" 2>&1 ||
	    { cat "$_u/log/init.log" >&2; return 1; }
	sh "$TOP/etc/spawn-fcgi/starfly-users" --config "$_u/etc/starfly.conf" "$@" \
	    >> "$_u/log/init.log" 2>&1 || { cat "$_u/log/init.log" >&2; return 1; }
	chmod 0755 "$_u/etc"
}

hosts_programs_start() {
	HOSTS_CLEAN="$HOSTS_CLEAN $1"
	STARFLY_CONF=$1/etc/starfly.conf STARFLY_BIN=$TOP/bin \
	    STARFLY_SOCK=$1/sock STARFLY_CHILDREN_exchange=2 \
	    STARFLY_CHILDREN_mcp=2 STARFLY_CHILDREN_events=2 \
	    sh "$TOP/etc/spawn-fcgi/starfly-spawn" start
}

hosts_programs_stop() {
	[ -d "$1/sock" ] || return 0
	STARFLY_SOCK=$1/sock sh "$TOP/etc/spawn-fcgi/starfly-spawn" stop > /dev/null 2>&1
}

# render SRC DST: the shipped file with the test's paths and port.
render() {
	sed -e "s|/usr/lib/starfly|$TOP/bin|g" \
	    -e "s|/etc/starfly/starfly.conf|$R_UNIT/etc/starfly.conf|g" \
	    -e "s|/run/starfly|$R_UNIT/sock|g" \
	    -e "s|/run/lighttpd|$R_RUN/lsock|g" \
	    -e "s|/usr/share/starfly/www|$R_WWW|g" \
	    -e 's|starfly\\\.example\\\.com|127\\.0\\.0\\.1|g' \
	    -e "s|^starfly\.example\.com {|http://127.0.0.1:$R_PORT {|" \
	    -e "s|starfly\.example\.com|127.0.0.1|g" \
	    -e "s|<VirtualHost \*:80>|<VirtualHost 127.0.0.1:$R_PORT>|" \
	    -e "s|listen 80;|listen 127.0.0.1:$R_PORT;|" \
	    ${R_SED:+-e "$R_SED"} "$1" > "$2"
}

# skeleton SRC DST: a server's main configuration around the snippet.
skeleton() {
	sed -e "s|@RUN@|$R_RUN|g" -e "s|@PORT@|$R_PORT|g" \
	    -e "s|@SNIPPET@|$R_RUN/snippet.conf|g" -e "s|@WWW@|$R_WWW|g" \
	    -e "s|@MODULES@|$1|g" "$HOSTS_DIR/$2" > "$3"
}

# A free port below the kernel's ephemeral range, so that no outgoing
# connection (of a benchmark, say) holds it when the server binds.
hosts_port() {
	_lo=$(awk '{ print $1 }' /proc/sys/net/ipv4/ip_local_port_range 2>/dev/null)
	[ "${_lo:-0}" -gt 12000 ] || _lo=32768
	while :; do
		_p=$(( 10000 + $(od -An -N2 -tu2 /dev/urandom) % (_lo - 10000) ))
		ss -Htan "sport = :$_p" 2>/dev/null | grep -q . || break
	done
	echo "$_p"
}

SERVER_PID=""
SERVER_KIND=""
SERVER_UNIT=""
# server_start KIND UNITDIR (a port taken meanwhile by someone else:
# up to three tries on other free ports).
server_start() {
	for _try in 1 2 3; do
		server_start1 "$@" && return 0
		grep -qs 'in use' "$R_RUN"/*.log || return 1
	done
	return 1
}

server_start1() {
	SERVER_KIND=$1
	SERVER_UNIT=$2
	R_UNIT=$2
	R_PORT=$(hosts_port)
	R_RUN=$H/$1
	R_WWW=$(hosts_www)
	rm -rf "$R_RUN"
	mkdir -p "$R_RUN/lsock" "$R_RUN/tmp"
	chown www-data "$R_RUN" "$R_RUN/lsock" "$R_RUN/tmp"
	chmod 0755 "$R_RUN"
	SERVER_URL=http://127.0.0.1:$R_PORT
	case $1 in
	lighttpd|lighttpd-spawn|lighttpd-cgi)
		case $1 in
		lighttpd)	render "$TOP/etc/lighttpd/starfly.conf" "$R_RUN/snippet.conf" ;;
		lighttpd-spawn)	render "$TOP/etc/lighttpd/starfly-spawn.conf" "$R_RUN/snippet.conf" ;;
		lighttpd-cgi)	render "$TOP/etc/lighttpd/starfly-cgi.conf" "$R_RUN/snippet.conf" ;;
		esac
		skeleton "" lighttpd.conf.in "$R_RUN/lighttpd.conf"
		lighttpd -D -f "$R_RUN/lighttpd.conf" > "$R_RUN/stdout.log" 2>&1 &
		SERVER_PID=$! ;;
	apache-proxy-fcgi|apache-fcgid)
		mkdir -p "$R_RUN/fcgid"
		chown www-data "$R_RUN/fcgid"
		if [ "$1" = apache-fcgid ]; then
			render "$TOP/etc/apache/starfly-fcgid.conf" "$R_RUN/snippet.conf"
			skeleton "LoadModule fcgid_module /usr/lib/apache2/modules/mod_fcgid.so" \
			    apache.conf.in "$R_RUN/apache.conf"
		else
			render "$TOP/etc/apache/starfly-proxy-fcgi.conf" "$R_RUN/snippet.conf"
			skeleton "LoadModule proxy_module /usr/lib/apache2/modules/mod_proxy.so\\
LoadModule proxy_fcgi_module /usr/lib/apache2/modules/mod_proxy_fcgi.so" \
			    apache.conf.in "$R_RUN/apache.conf"
		fi
		apache2 -d "$R_RUN" -f "$R_RUN/apache.conf" -DFOREGROUND \
		    > "$R_RUN/stdout.log" 2>&1 &
		SERVER_PID=$! ;;
	nginx)
		render "$TOP/etc/nginx/starfly.conf" "$R_RUN/snippet.conf"
		cp /etc/nginx/fastcgi_params /etc/nginx/mime.types "$R_RUN/"
		skeleton "" nginx.conf.in "$R_RUN/nginx.conf"
		nginx -p "$R_RUN" -c "$R_RUN/nginx.conf" -g 'daemon off;' \
		    > "$R_RUN/stdout.log" 2>&1 &
		SERVER_PID=$! ;;
	caddy)
		# Caddy as Debian runs it: its own user, a member of www-data.
		{ printf '{\n\tadmin off\n\tpersist_config off\n}\n'
		  render "$TOP/etc/caddy/Caddyfile" /dev/stdout; } > "$R_RUN/Caddyfile"
		mkdir -p "$R_RUN/home"
		chown -R caddy "$R_RUN/home"
		chmod a+r "$R_RUN/Caddyfile"
		HOME=$R_RUN/home XDG_DATA_HOME=$R_RUN/home XDG_CONFIG_HOME=$R_RUN/home \
		    setpriv --reuid=caddy --regid=caddy --init-groups \
		    caddy run --config "$R_RUN/Caddyfile" --adapter caddyfile \
		    > "$R_RUN/stdout.log" 2>&1 &
		SERVER_PID=$! ;;
	*)	echo "server_start: unknown kind $1" >&2; return 1 ;;
	esac
	_i=0
	while [ $_i -lt 100 ]; do
		_c=$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "$SERVER_URL/v1/sys/health")
		[ "$_c" = 200 ] && return 0
		kill -0 "$SERVER_PID" 2>/dev/null || break
		sleep 0.1
		_i=$((_i + 1))
	done
	echo "server $1 did not come up (last health: $_c); logs:" >&2
	tail -n 20 "$R_RUN"/*.log >&2
	server_stop
	return 1
}

# Programs a spawning server started for the unit in $1 (lighttpd,
# mod_fcgid and CGI name the unit by STARFLY_CONF in their environment).
spawned() {
	for _p in $(pgrep -f '\.fcgi$'); do
		{ tr '\0' '\n' < "/proc/$_p/environ"; } 2>/dev/null |
		    grep -qx "STARFLY_CONF=$1/etc/starfly.conf" && echo "$_p"
	done
}

server_stop() {
	[ -n "$SERVER_PID" ] || return 0
	kill "$SERVER_PID" 2>/dev/null
	_i=0
	while kill -0 "$SERVER_PID" 2>/dev/null && [ $_i -lt 50 ]; do
		sleep 0.1
		_i=$((_i + 1))
	done
	kill -9 "$SERVER_PID" 2>/dev/null
	wait "$SERVER_PID" 2>/dev/null
	SERVER_PID=""
	case $SERVER_KIND in
	lighttpd-spawn|lighttpd-cgi|apache-fcgid)
		# The programs it started go with it (Apache's mod_fcgid
		# process manager may take a moment).
		_i=0
		while [ -n "$(spawned "$SERVER_UNIT")" ] && [ $_i -lt 50 ]; do
			sleep 0.1
			_i=$((_i + 1))
		done
		SERVER_LEFT=$(spawned "$SERVER_UNIT")
		[ -n "$SERVER_LEFT" ] && kill -9 $SERVER_LEFT 2>/dev/null ;;
	esac
	return 0
}
