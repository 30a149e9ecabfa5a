#!/bin/sh
# ctl_keys.sh - `starflyctl keys` end to end on a scratch unit: init is
# idempotent, rotate publishes old and new keys, list shows both, the
# private key files are 0600 in a 0700 directory, prune keeps published
# keys, bad arguments are usage errors.
cd "$(dirname "$0")/../.." || exit 2
ctl=bin/starflyctl
if [ ! -x "$ctl" ]; then
	echo "SKIP ctl_keys: $ctl not built"
	exit 0
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cat > "$work/starfly.conf" <<CONF
mode dev
issuer http://localhost:8693
state_dir $work/var
max_token_ttl 900
CONF
STARFLY_CONF=$work/starfly.conf
export STARFLY_CONF
keys=$work/var/keys

check() {	# check NAME CONDITION-COMMAND...
	name=$1; shift
	if "$@" > "$work/out" 2>&1; then
		echo "PASS ctl_keys: $name"
	else
		echo "FAIL ctl_keys: $name: $(head -c 300 "$work/out" | tr '\n' ' ')"
	fi
}
mode() { stat -c %a "$1"; }

check "list before init fails" sh -c "! $ctl keys list"
check "init" $ctl keys init
kid1=$(sed -n 's/.*active key \([A-Za-z0-9_-]*\).*/\1/p' "$work/out")
check "init prints a thumbprint kid" test ${#kid1} -eq 43
check "init is idempotent" sh -c "$ctl keys init | grep -q $kid1"
check "private dir is 0700" test "$(mode "$keys/private")" = 700
check "private key is 0600" test "$(mode "$keys/private/$kid1.pem")" = 600
check "public key is 0644" test "$(mode "$keys/public/$kid1.jwk")" = 644
check "rotate --alg EdDSA" $ctl keys rotate --alg EdDSA
kid2=$(sed -n 's/.*new active key \([A-Za-z0-9_-]*\).*/\1/p' "$work/out")
check "rotate made a new kid" sh -c "test ${#kid2} -eq 43 && test $kid2 != $kid1"
check "list shows old retired, new active" sh -c \
    "$ctl keys list > $work/list && grep -q '^$kid1  ES256  retired' $work/list &&
    grep -q '^$kid2  EdDSA  active' $work/list"
check "list --json is the keyring document" sh -c \
    "$ctl keys list --json | grep -q '\"publish_until\"'"
check "prune keeps a published key" sh -c \
    "$ctl keys prune | grep -q 'pruned 0' && test -f $keys/public/$kid1.jwk"
check "unknown algorithm is a usage error" sh -c \
    "$ctl keys rotate --alg HS256; test \$? -eq 2"
check "unknown subcommand is a usage error" sh -c \
    "$ctl keys frobnicate; test \$? -eq 2"
check "no subcommand is a usage error" sh -c "$ctl keys; test \$? -eq 2"
exit 0
