#!/bin/sh
# issuers-sync.sh - `starflyctl issuers sync|list|verify` against a real
# HTTP server on 127.0.0.1 (busybox httpd, else python3 -m http.server):
# a JWKS URL, OIDC discovery, a SPIFFE bundle endpoint; the fetched keys
# land in the store and tokens signed with them then verify.  The remote
# issuer's key is a real RSA key made by openssl, which also signs the
# tokens.  Refusals: HTTP errors, a discovery document naming another
# issuer, non-JSON and oversized documents, plain http to a non-loopback
# host, syncing a file-based issuer.  The unit runs in dev mode (its seal
# state stays in its own directory); tokens of configured issuers are
# validated exactly as in production there.
. "$(dirname "$0")/../lib.sh"
cd "$TOP" || exit 1
CTL=$TOP/bin/starflyctl

[ -x "$CTL" ] || { skip "all" "bin/starflyctl not built"; exit 0; }
for t in openssl basenc jq curl; do
	command -v "$t" > /dev/null || { skip "all" "$t missing"; exit 0; }
done

W=$(mktemp -d /tmp/issuers-sync.XXXXXX)
SRV_PID=""
cleanup() {
	[ -n "$SRV_PID" ] && kill "$SRV_PID" 2> /dev/null && wait "$SRV_PID" 2> /dev/null
	rm -rf "$W"
}
trap cleanup EXIT

PORT=$(free_port)
BASE=http://127.0.0.1:$PORT
mkdir -p "$W/www/.well-known" "$W/www/disc2/.well-known" "$W/unit/etc/issuers.d"

cat > "$W/unit/starfly.conf" <<EOF
mode		dev
issuer		https://starfly.test
state_dir	$W/unit/var
etc_dir		$W/unit/etc
EOF
U="$CTL --config $W/unit/starfly.conf"
$U init > /dev/null 2>&1 || { fail "unit init"; exit 1; }

# The remote issuer's RS256 key and its JWK.
PEM=$W/signer.pem
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$PEM" \
    2> /dev/null || { fail "openssl genpkey"; exit 1; }
N=$(openssl rsa -in "$PEM" -noout -modulus | sed 's/^Modulus=//' |
    basenc --base16 -d | basenc --base64url | tr -d '=\n')
KID=remote-rsa-1
PUB=$W/pub.jwk
printf '{"kty":"RSA","n":"%s","e":"AQAB","kid":"%s","alg":"RS256"}' "$N" "$KID" > "$PUB"
jq -c '{keys: [.]}' "$PUB" > "$W/www/jwks.json"
jq -c '{keys: [. + {use: "jwt-svid"}], spiffe_sequence: 3}' "$PUB" > "$W/www/bundle.json"
printf '{"issuer":"%s","jwks_uri":"%s/jwks.json"}' "$BASE" "$BASE" \
    > "$W/www/.well-known/openid-configuration"
printf '{"issuer":"https://someone-else","jwks_uri":"%s/jwks.json"}' "$BASE" \
    > "$W/www/disc2/.well-known/openid-configuration"
printf 'not json' > "$W/www/garbage.json"
head -c 1100000 /dev/zero | tr '\0' ' ' > "$W/www/huge.json"

I=$W/unit/etc/issuers.d
cat > "$I/remote.conf" <<EOF
issuer		https://remote.test
kind		oidc
trust_domain	remote.test
jwks_url	$BASE/jwks.json
algorithms	RS256
EOF
cat > "$I/disco.conf" <<EOF
issuer		$BASE
kind		generic
trust_domain	disco.test
discovery_url	$BASE
algorithms	RS256
EOF
cat > "$I/bundle.conf" <<EOF
kind		spiffe
trust_domain	example.org
spiffe_bundle_url $BASE/bundle.json
algorithms	RS256
EOF

# b64url: base64url without padding or line breaks.
b64url() { basenc --base64url | tr -d '=\n'; }
# mint CLAIMS: an RS256 JWT signed with the signer's key.
mint() {
	_h=$(printf '{"alg":"RS256","kid":"%s","typ":"JWT"}' "$KID" | b64url)
	_p=$(printf '%s' "$1" | b64url)
	_s=$(printf '%s.%s' "$_h" "$_p" | openssl dgst -sha256 -sign "$PEM" | b64url)
	printf '%s.%s.%s' "$_h" "$_p" "$_s"
}
NOW=$(date +%s)
EXP=$((NOW + 300))
TOK=$(mint "{\"iss\":\"https://remote.test\",\"sub\":\"alice\",\"iat\":$NOW,\"exp\":$EXP}")
DTOK=$(mint "{\"iss\":\"$BASE\",\"sub\":\"svc-7\",\"exp\":$EXP}")
STOK=$(mint "{\"sub\":\"spiffe://example.org/web\",\"aud\":\"https://starfly.test\",\"exp\":$EXP}")

# Before any sync: configured, no keys, refused without a fetch.
out=$($U issuers verify --type urn:starfly:token-type:oidc "$TOK" 2>&1)
check "refused before sync" sh -c "printf '%s' \"\$1\" | grep -q 'has no keys'" _ "$out"
out=$($U issuers list 2>&1)
check "list before sync" sh -c "printf '%s\n' \"\$1\" | grep -Eq '^remote +oidc +0 +-'" _ "$out"

# The HTTP server.
if command -v busybox > /dev/null; then
	busybox httpd -f -p "127.0.0.1:$PORT" -h "$W/www" &
	SRV_PID=$!
elif command -v python3 > /dev/null; then
	python3 -m http.server --bind 127.0.0.1 --directory "$W/www" "$PORT" > /dev/null 2>&1 &
	SRV_PID=$!
else
	skip "sync" "neither busybox nor python3"
	t_done
	exit $?
fi
i=0
until curl -s -o /dev/null "$BASE/jwks.json"; do
	i=$((i + 1))
	[ $i -gt 50 ] && { fail "http server starts"; exit 1; }
	sleep 0.1
done

out=$($U issuers sync 2>&1)
rc=$?
expect_eq "sync all exits 0" "$rc" 0
check "jwks_url synced" sh -c "printf '%s\n' \"\$1\" | grep -q '^remote: 1 key from $BASE/jwks.json'" _ "$out"
check "discovery synced via jwks_uri" sh -c "printf '%s\n' \"\$1\" | grep -q '^disco: 1 key from $BASE/jwks.json'" _ "$out"
check "bundle synced" sh -c "printf '%s\n' \"\$1\" | grep -q '^bundle: 1 key from $BASE/bundle.json'" _ "$out"

out=$($U issuers list --json 2>&1)
jcheck "list --json shows synced keys" "$out" 'map(select(.remote)) | length == 3 and all(.keys == 1 and .synced_at > 0)'

out=$($U issuers verify --type urn:starfly:token-type:oidc "$TOK" 2>&1)
jcheck "oidc token verifies after sync" "$out" '.id == "wimse://remote.test/oidc/alice" and .own == false and .claims.sub == "alice"'
out=$(printf '%s\n' "$DTOK" | $U issuers verify - 2>&1)
jcheck "discovered issuer's token verifies (stdin)" "$out" '.id == "wimse://disco.test/jwt/svc-7"'
out=$($U issuers verify --type urn:starfly:token-type:spiffe-svid "$STOK" 2>&1)
jcheck "JWT-SVID verifies with the synced bundle" "$out" '.id == "spiffe://example.org/web" and .trust_domain == "example.org"'
# TOK's header and payload with DTOK's signature.
bad=$(printf '%s' "$TOK" | cut -d. -f1-2).$(printf '%s' "$DTOK" | cut -d. -f3)
out=$($U issuers verify --type urn:starfly:token-type:oidc "$bad" 2>&1)
check "spliced signature refused" sh -c "printf '%s' \"\$1\" | grep -q 'signature does not verify with key $KID of issuer https://remote.test'" _ "$out"

# Refusals: each leaves the stored keys as they were.
sed -i "s|^jwks_url.*|jwks_url	$BASE/missing.json|" "$I/remote.conf"
out=$($U issuers sync remote 2>&1)
rc=$?
expect_eq "404 makes sync fail" "$rc" 1
check "404 reported" sh -c "printf '%s' \"\$1\" | grep -q 'HTTP status 404'" _ "$out"
sed -i "s|^jwks_url.*|jwks_url	$BASE/garbage.json|" "$I/remote.conf"
out=$($U issuers sync remote 2>&1)
check "non-JSON refused" sh -c "printf '%s' \"\$1\" | grep -q 'not JSON'" _ "$out"
sed -i "s|^jwks_url.*|jwks_url	$BASE/huge.json|" "$I/remote.conf"
out=$($U issuers sync remote 2>&1)
check "oversized document refused" sh -c "printf '%s' \"\$1\" | grep -q 'larger than 1 MiB'" _ "$out"
out=$($U issuers verify --type urn:starfly:token-type:oidc "$TOK" 2>&1)
jcheck "previous keys kept after failed syncs" "$out" '.id == "wimse://remote.test/oidc/alice"'
sed -i "s|^jwks_url.*|jwks_url	http://example.invalid/jwks.json|" "$I/remote.conf"
out=$($U issuers sync remote 2>&1)
check "plain http off loopback refused" sh -c "printf '%s' \"\$1\" | grep -q 'only https'" _ "$out"
sed -i "s|^discovery_url.*|discovery_url	$BASE/disc2|" "$I/disco.conf"
out=$($U issuers sync disco 2>&1)
check "discovery naming another issuer refused" sh -c "printf '%s' \"\$1\" | grep -q 'issuer is https://someone-else'" _ "$out"
printf '{"keys":[]}' > "$W/file.jwks"
cat > "$I/local.conf" <<EOF
issuer		https://local.test
kind		generic
jwks_file	$W/file.jwks
EOF
out=$($U issuers sync local 2>&1)
check "file-based issuer has nothing to sync" sh -c "printf '%s' \"\$1\" | grep -q 'nothing to fetch'" _ "$out"
out=$($U issuers sync nosuch 2>&1)
check "unknown name" sh -c "printf '%s' \"\$1\" | grep -q 'no issuer named nosuch'" _ "$out"
$U issuers bogus > /dev/null 2>&1
expect_eq "usage error exits 2" "$?" 2

t_done
