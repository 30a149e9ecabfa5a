// mint.mjs - test credentials signed by keys no Starfly code made.
//
//   node mint.mjs keys DIR            generate rs256.pem/es256.pem (+ .jwks)
//                                     and an HMAC-with-public-key attacker input
//   node mint.mjs sign DIR ALG KID CLAIMS_JSON [HEADER_JSON]
//                                     print a compact JWS (ALG RS256|ES256)
//   node mint.mjs hs-public DIR KID CLAIMS_JSON
//                                     the key-confusion attack: HS256 with
//                                     the RS256 public key (SPKI PEM) as secret
//
// Keys: PKCS#8 PEM private keys in DIR; DIR/ALG.jwks holds the public JWK
// set the issuer configuration points at.
import { generateKeyPair, exportPKCS8, exportSPKI, exportJWK, importPKCS8, SignJWT } from 'jose';
import { createPublicKey } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';

const [cmd, dir, alg, kid, claims, header] = process.argv.slice(2);

if (cmd === 'keys') {
  for (const a of ['RS256', 'ES256']) {
    const { publicKey, privateKey } = await generateKeyPair(a, { extractable: true });
    const jwk = await exportJWK(publicKey);
    jwk.kid = `${a.toLowerCase()}-test-1`;
    jwk.alg = a;
    jwk.use = 'sig';
    writeFileSync(`${dir}/${a.toLowerCase()}.pem`, await exportPKCS8(privateKey));
    writeFileSync(`${dir}/${a.toLowerCase()}.jwks`, JSON.stringify({ keys: [jwk] }));
  }
} else if (cmd === 'sign') {
  const key = await importPKCS8(readFileSync(`${dir}/${alg.toLowerCase()}.pem`, 'utf8'), alg);
  const hdr = { alg, kid, typ: 'JWT', ...(header ? JSON.parse(header) : {}) };
  process.stdout.write(await new SignJWT(JSON.parse(claims)).setProtectedHeader(hdr).sign(key));
} else if (cmd === 'hs-public') {
  const pem = createPublicKey(readFileSync(`${dir}/rs256.pem`, 'utf8')).export({ type: 'spki', format: 'pem' });
  const secret = new TextEncoder().encode(pem);
  // argv: hs-public DIR KID CLAIMS (KID lands in `alg`, CLAIMS in `kid`)
  process.stdout.write(await new SignJWT(JSON.parse(kid))
    .setProtectedHeader({ alg: 'HS256', kid: alg, typ: 'JWT' }).sign(secret));
} else {
  console.error('usage: mint.mjs keys DIR | sign DIR ALG KID CLAIMS [HEADER]');
  process.exit(2);
}
