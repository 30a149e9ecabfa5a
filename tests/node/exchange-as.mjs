// exchange-as.mjs - a standards authorization server for interop tests of
// the RFC 8693 client (tests/e2e/client.sh): npm oidc-provider with the
// token-exchange grant registered through registerGrantType.
//
//   node exchange-as.mjs STATE_DIR [--tls KEY CERT]
//
// Binds 127.0.0.1 on a free port; issuer http(s)://127.0.0.1:PORT (only
// OpenID Connect discovery is served, so clients must fall back to
// /.well-known/openid-configuration).  Writes into STATE_DIR: port,
// subject.jwt, subject2.jwt (another subject), expired.jwt, and a
// signing key; subject tokens must be JWTs signed by that key with
// issuer https://idp.test.  Clients: agent-basic (client_secret_basic,
// secret in STATE_DIR/basic.secret), agent-post (client_secret_post,
// post.secret).  Extra test routes: GET /_stats (request counts and the
// last extra parameter seen), POST /html/token (an HTML error page),
// POST /hang/token (never answers).  Stops on SIGTERM.
import fs from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import crypto from 'node:crypto';
import Provider, { errors } from 'oidc-provider';
import * as jose from 'jose';

const TE = 'urn:ietf:params:oauth:grant-type:token-exchange';
const TT_JWT = 'urn:ietf:params:oauth:token-type:jwt';
const TT_ACCESS = 'urn:ietf:params:oauth:token-type:access_token';
const ALLOWED_SCOPES = new Set(['crm:read', 'crm:write']);

const [dir, tlsFlag, keyFile, certFile] = process.argv.slice(2);
if (!dir) {
  console.error('usage: exchange-as.mjs STATE_DIR [--tls KEY CERT]');
  process.exit(2);
}
const tls = tlsFlag === '--tls';

const stats = { token: 0, last_requested_token_use: null, last_auth: null };
const hanging = new Set();

// The key of the upstream identity provider whose JWTs we accept.
const { publicKey, privateKey } = await jose.generateKeyPair('ES256');
async function subjectJwt(sub, expOffset) {
  const now = Math.floor(Date.now() / 1000);
  return new jose.SignJWT({ sub, scope: 'crm:read crm:write' })
    .setProtectedHeader({ alg: 'ES256', typ: 'JWT' })
    .setIssuer('https://idp.test')
    .setIssuedAt(now - 10)
    .setExpirationTime(now + expOffset)
    .sign(privateKey);
}

const secret = () => crypto.randomBytes(18).toString('base64url');
const basicSecret = secret();
const postSecret = secret();

const server = tls
  ? https.createServer({ key: fs.readFileSync(keyFile), cert: fs.readFileSync(certFile) })
  : http.createServer();
await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
const port = server.address().port;
const issuer = `${tls ? 'https' : 'http'}://127.0.0.1:${port}`;

const provider = new Provider(issuer, {
  clients: [
    {
      client_id: 'agent-basic',
      client_secret: basicSecret,
      token_endpoint_auth_method: 'client_secret_basic',
      grant_types: [TE],
      response_types: [],
      redirect_uris: [],
    },
    {
      client_id: 'agent-post',
      client_secret: postSecret,
      token_endpoint_auth_method: 'client_secret_post',
      grant_types: [TE],
      response_types: [],
      redirect_uris: [],
    },
  ],
  features: {
    devInteractions: { enabled: false },
    clientCredentials: { enabled: true },
    introspection: { enabled: true, allowedPolicy: async () => true },
  },
  ttl: { ClientCredentials: 600 },
  // Claims of the exchanged subject, shown by introspection.
  extraTokenClaims: (ctx) => ctx.state.exchanged,
});
provider.proxy = false;

// RFC 8693 §2.1: validate the subject token, then issue an access token
// for the requested scope (an opaque oidc-provider ClientCredentials token,
// so it can be introspected, RFC 7662).
async function tokenExchange(ctx) {
  const p = ctx.oidc.params;
  if (p.subject_token_type !== TT_JWT) {
    throw new errors.InvalidRequest(`unsupported subject_token_type ${p.subject_token_type}`);
  }
  let claims;
  try {
    ({ payload: claims } = await jose.jwtVerify(p.subject_token, publicKey, {
      issuer: 'https://idp.test',
      algorithms: ['ES256'],
    }));
  } catch (e) {
    throw new errors.InvalidRequest(`subject_token: ${e.message}`);
  }
  const scopes = (p.scope || '').split(' ').filter(Boolean);
  for (const s of scopes) {
    if (!ALLOWED_SCOPES.has(s)) {
      throw new errors.InvalidScope(`scope ${s} is not allowed`, s);
    }
  }
  stats.last_requested_token_use = p.requested_token_use ?? null;
  const token = new provider.ClientCredentials({
    client: ctx.oidc.client,
    scope: scopes.join(' ') || undefined,
  });
  ctx.state.exchanged = { subject: claims.sub, audience: p.audience ?? null };
  const value = await token.save();
  ctx.body = {
    access_token: value,
    issued_token_type: TT_ACCESS,
    token_type: 'Bearer',
    expires_in: token.expiration,
    ...(token.scope ? { scope: token.scope } : {}),
  };
}
provider.registerGrantType(TE, tokenExchange,
  ['subject_token', 'subject_token_type', 'actor_token', 'actor_token_type',
    'audience', 'resource', 'scope', 'requested_token_type', 'requested_token_use'],
  ['audience', 'resource']);

const callback = provider.callback();
server.on('request', (req, res) => {
  const path = req.url.split('?')[0];
  if (path === '/_stats') {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify(stats));
    return;
  }
  if (path === '/html/token') {
    res.writeHead(502, { 'content-type': 'text/html' });
    res.end('<!doctype html><html><body><h1>502 Bad Gateway</h1></body></html>');
    return;
  }
  if (path === '/hang/token') {
    hanging.add(res);
    return;
  }
  if (path === '/token') {
    stats.token += 1;
    stats.last_auth = req.headers.authorization ? 'basic' : 'none';
  }
  callback(req, res);
});

fs.writeFileSync(`${dir}/basic.secret`, `${basicSecret}\n`, { mode: 0o600 });
fs.writeFileSync(`${dir}/post.secret`, `${postSecret}\n`, { mode: 0o600 });
fs.writeFileSync(`${dir}/subject.jwt`, `${await subjectJwt('agent-7', 3600)}\n`);
fs.writeFileSync(`${dir}/subject2.jwt`, `${await subjectJwt('agent-8', 3600)}\n`);
fs.writeFileSync(`${dir}/expired.jwt`, `${await subjectJwt('agent-7', -600)}\n`);
fs.writeFileSync(`${dir}/port.tmp`, `${port}\n`);
fs.renameSync(`${dir}/port.tmp`, `${dir}/port`);

const stop = () => {
  for (const res of hanging) res.destroy();
  server.close(() => process.exit(0));
  setTimeout(() => process.exit(0), 500).unref();
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
