// interop.mjs ISSUER SUBJECT_TOKEN AUDIENCE
//
// Standard clients nobody here wrote, against a running unit:
//  1. openid-client discovers the unit through
//     /.well-known/oauth-authorization-server (RFC 8414) and performs the
//     RFC 8693 token exchange (form-encoded, as OAuth clients send it);
//  2. jose verifies the issued token against the jwks_uri with
//     typ "at+jwt" required (RFC 9068), issuer and audience checked.
// The dev issuer is plain http, so openid-client's allowInsecureRequests
// is on.  Prints PASS/FAIL lines.
import * as oidc from 'openid-client';
import { createRemoteJWKSet, jwtVerify } from 'jose';

const [issuer, subjectToken, audience] = process.argv.slice(2);
let failed = 0;
const pass = (n) => console.log(`PASS interop: ${n}`);
const fail = (n, e) => { console.log(`FAIL interop: ${n}: ${e}`); failed++; };

let config, tokens;
try {
  config = await oidc.discovery(new URL(issuer), 'interop-test', undefined,
    oidc.None(), { execute: [oidc.allowInsecureRequests], algorithm: 'oauth2' });
  const md = config.serverMetadata();
  if (md.issuer !== issuer) throw new Error(`issuer ${md.issuer}`);
  if (!md.grant_types_supported.includes('urn:ietf:params:oauth:grant-type:token-exchange'))
    throw new Error('token exchange not advertised');
  pass('openid-client discovers the unit (RFC 8414)');
} catch (e) { fail('openid-client discovery', e.message); }

if (config) {
  try {
    tokens = await oidc.genericGrantRequest(config,
      'urn:ietf:params:oauth:grant-type:token-exchange', {
        subject_token: subjectToken,
        subject_token_type: 'urn:ietf:params:oauth:token-type:jwt',
        audience,
        scope: 'read:data',
      });
    if (tokens.token_type.toLowerCase() !== 'bearer') throw new Error(tokens.token_type);
    if (tokens.issued_token_type !== 'urn:ietf:params:oauth:token-type:jwt')
      throw new Error(tokens.issued_token_type);
    pass('openid-client performs the token exchange (form-encoded)');
  } catch (e) { fail('openid-client token exchange', `${e.message} ${e.error ?? ''} ${e.error_description ?? ''}`); }
  try {
    await oidc.genericGrantRequest(config,
      'urn:ietf:params:oauth:grant-type:token-exchange', {
        subject_token: 'not-a-jwt',
        subject_token_type: 'urn:ietf:params:oauth:token-type:jwt',
        audience,
      });
    fail('openid-client sees an RFC 6749 error', 'bad token accepted');
  } catch (e) {
    if (e.error === 'invalid_request' && e.status === 400)
      pass('openid-client reads the RFC 6749 §5.2 error response');
    else fail('openid-client sees an RFC 6749 error', `${e.status} ${e.error} ${e.message}`);
  }
}

if (tokens) {
  try {
    const jwks = createRemoteJWKSet(new URL(config.serverMetadata().jwks_uri));
    const { payload, protectedHeader } = await jwtVerify(tokens.access_token, jwks,
      { issuer, audience, typ: 'at+jwt', algorithms: ['ES256', 'ES384', 'EdDSA', 'RS256', 'PS256'] });
    if (!payload.jti || !payload.sub || !payload.exp) throw new Error('claims missing');
    pass(`jose verifies the issued token against the JWKS (${protectedHeader.alg}, typ at+jwt)`);
    try {
      await jwtVerify(tokens.access_token, jwks, { issuer, audience: 'https://someone-else.example' });
      fail('jose refuses another audience', 'accepted');
    } catch (e) { pass('jose refuses the token for another audience'); }
  } catch (e) { fail('jose verification', e.message); }
}
process.exit(failed ? 1 : 0);
