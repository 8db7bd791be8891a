// A real OpenID Connect identity provider for the tests: panva's oidc-provider 9.13.3
// (package.json; `npm ci --no-audit --no-fund` at the top of the checkout) on 127.0.0.1.
// oidc-provider 9 names Node.js 22 LTS as its least runtime and says "Unsupported runtime" on
// 20 (a warning at start, in the log); the tests run it on Node.js 20.20 and it works there.
//
//   node tests/idp/oidc_provider.mjs STATE.json [PORT]      (or: npm run idp -- STATE.json)
//
// PORT (or $OIDC_PROVIDER_PORT, or "port" in the file) 0 or absent: a free port chosen by the
// system. The issuer is http://127.0.0.1:PORT. When it listens it writes STATE.json's folder's
// `ready.json` ({"issuer", "port", "pid"}) and prints the issuer. tests/oidc.py drives it.
// Everything is in memory (sessions, codes, grants) and the signing key is made at start: a
// restart on the same port is the same issuer with a new key and nothing remembered.
//
// STATE.json, read once at start for "clients" and "acr_values", and READ AGAIN ON EVERY
// REQUEST for "accounts", "tamper" and "options" (tests change them between logins):
//
//   clients     [{client_id, client_secret, redirect_uris, post_logout_redirect_uris,
//                 token_endpoint_auth_method, ...}]: oidc-provider client metadata as is.
//                 A client registered with client_secret_basic may also authenticate with
//                 client_secret_post, and the other way round (oidc-provider treats both alike).
//   accounts    {id: {sub, email, email_verified, name, roles: [], groups: [], team, acr, amr}}
//                 The login form's field `login` is the id; no password. sub defaults to id.
//                 `acr` (and `amr`) are the login's, taken from the account when the form is
//                 submitted; the other claims are read again whenever a token is made.
//   acr_values  the acr_values_supported (default: the two Doorstep levels below).
//   options     lifetimes in seconds: id_token_ttl (3600), authorization_code_ttl (60),
//                 access_token_ttl (600), session_ttl, grant_ttl (3600), interaction_ttl (600).
//   tamper      {} for a well-behaved provider; see "Misbehaviour" below.
//
// Scopes and the claims they carry (claims also by the `claims` request parameter):
//   openid   sub, and the login's acr, amr, auth_time     email    email, email_verified
//   profile  name, given_name, family_name, preferred_username, locale
//   roles    roles          groups   groups          team     team
// The ID token carries them (conformIdTokenClaims: false), not only the UserInfo answer.
//
// Interactions (dev interactions off): GET /interaction/:uid shows a login form (field
// `login`, buttons "Sign in" and "Cancel"); POST /interaction/:uid/login logs in and grants
// consent for every scope and claim asked for; POST /interaction/:uid/abort ends the request
// with access_denied. A consent prompt on its own (a session that exists, a scope not yet
// granted) is granted at once by GET /interaction/:uid (a 303, no page). The login is
// remembered (single sign-on, as at a real provider) until RP-initiated logout, prompt=login
// or max_age. acr_values is voluntary (the account's acr is given, whatever was asked); an
// essential acr in the claims parameter that the account's acr does not meet ends the request
// with unmet_authentication_requirements.

import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as path from 'node:path';
import { promisify } from 'node:util';

const DEFAULT_ACR_VALUES = ['urn:doorstep:loa:substantial', 'urn:doorstep:loa:high'];

const statePath = process.argv[2];
if (!statePath) {
  console.error('usage: node tests/idp/oidc_provider.mjs STATE.json [PORT]');
  process.exit(2);
}

function readState() {
  return JSON.parse(fs.readFileSync(statePath, 'utf8'));
}

const initial = readState();
const wantedPort = Number(process.argv[3] ?? process.env.OIDC_PROVIDER_PORT ?? initial.port ?? 0);

// Keys: made for this run (a restart on the same port is a provider with new keys), while
// oidc-provider loads.
async function rsaKey(kid) {
  const { privateKey } = await promisify(crypto.generateKeyPair)('rsa', { modulusLength: 2048 });
  const jwk = { ...privateKey.export({ format: 'jwk' }), kid, alg: 'RS256', use: 'sig' };
  return { privateKey, jwk };
}
const [signing, { default: Provider }] = await Promise.all([
  rsaKey(`doorstep-test-${crypto.randomBytes(4).toString('hex')}`),
  import('oidc-provider'),
]);
let foreign; // a key not in the JWKS, made when a tamper asks for it

function htmlSafe(value) {
  return String(value ?? '').replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

function page(title, body) {
  return `<!DOCTYPE html>
<html lang="en">
<head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${htmlSafe(title)}</title></head>
<body><main><h1>${htmlSafe(title)}</h1>
${body}
</main></body></html>`;
}

function claimsOf(id) {
  const account = readState().accounts?.[id];
  if (!account) return undefined;
  const { acr, amr, ...claims } = account;
  return { sub: id, ...claims };
}

function seconds(name, fallback) {
  return () => {
    const value = readState().options?.[name];
    return value === undefined || value === null ? fallback : value;
  };
}

const server = http.createServer();
await new Promise((resolve) => { server.listen(wantedPort, '127.0.0.1', resolve); });
const { port } = server.address();
const issuer = `http://127.0.0.1:${port}`;

const provider = new Provider(issuer, {
  clients: initial.clients ?? [],
  clientAuthMethods: ['client_secret_basic', 'client_secret_post'],
  acrValues: initial.acr_values ?? DEFAULT_ACR_VALUES,
  claims: {
    // oidc-provider puts acr and auth_time in the ID token only when asked (acr_values,
    // max_age, the claims parameter); in `openid` they are always there, as the identity
    // providers the app meets do it. They are the login's, not the account's claims.
    openid: ['sub', 'acr', 'amr', 'auth_time'],
    sid: null,
    email: ['email', 'email_verified'],
    profile: ['name', 'given_name', 'family_name', 'preferred_username', 'locale'],
    roles: ['roles'],
    groups: ['groups'],
    team: ['team'],
  },
  conformIdTokenClaims: false,
  pkce: { required: () => true }, // S256 is the only method oidc-provider 9 knows
  responseTypes: ['code'],
  jwks: { keys: [signing.jwk] },
  cookies: { keys: [crypto.randomBytes(32).toString('hex')] },
  async findAccount(ctx, id) {
    if (!claimsOf(id)) return undefined;
    // Read again when the token endpoint asks for the claims: a role changed at the provider
    // shows in the next ID token.
    return { accountId: id, claims: async () => claimsOf(id) ?? { sub: id } };
  },
  interactions: { url: (ctx, interaction) => `/interaction/${interaction.uid}` },
  features: {
    devInteractions: { enabled: false },
    claimsParameter: { enabled: true },
    rpInitiatedLogout: {
      enabled: true,
      async logoutSource(ctx, form) {
        ctx.body = page('Sign out', `${form}
<p>Sign out of the test identity provider at ${htmlSafe(ctx.host)}?</p>
<button type="submit" form="op.logoutForm" name="logout" value="yes">Yes, sign me out</button>
<button type="submit" form="op.logoutForm">No, stay signed in</button>`);
      },
      async postLogoutSuccessSource(ctx) {
        ctx.body = page('Signed out', '<p>You are signed out of the test identity provider.</p>');
      },
    },
  },
  async renderError(ctx, out) {
    ctx.type = 'html';
    ctx.body = page('Identity provider error', Object.entries(out)
      .map(([key, value]) => `<p><strong>${htmlSafe(key)}</strong>: ${htmlSafe(value)}</p>`)
      .join('\n'));
  },
  ttl: {
    AccessToken: seconds('access_token_ttl', 600),
    AuthorizationCode: seconds('authorization_code_ttl', 60),
    IdToken: seconds('id_token_ttl', 3600),
    Interaction: seconds('interaction_ttl', 600),
    Grant: seconds('grant_ttl', 3600),
    Session: seconds('session_ttl', 3600),
  },
});

// The login and consent interaction -------------------------------------------------------

async function readForm(req) {
  const chunks = [];
  for await (const chunk of req) chunks.push(chunk);
  return new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
}

function loginPage(uid, details, error) {
  const { client_id: clientId, scope } = details.params;
  return page('Test identity provider: sign in', `
${error ? `<p role="alert" class="error">${htmlSafe(error)}</p>` : ''}
<p>Client <code>${htmlSafe(clientId)}</code> asks for <code>${htmlSafe(scope)}</code>.</p>
<form method="post" action="/interaction/${htmlSafe(uid)}/login" autocomplete="off">
  <label for="login">Account</label>
  <input id="login" name="login" required autofocus>
  <button type="submit">Sign in</button>
  <button type="submit" formaction="/interaction/${htmlSafe(uid)}/abort" formnovalidate>
    Cancel</button>
</form>`);
}

function claimsParameter(value) {
  if (!value) return {};
  return typeof value === 'string' ? JSON.parse(value) : value;
}

function requestedClaims(value) {
  const parsed = claimsParameter(value);
  const names = [...Object.keys(parsed.id_token ?? {}), ...Object.keys(parsed.userinfo ?? {})];
  return [...new Set(names)];
}

async function grantEverything(details, accountId, missing) {
  const { Grant } = provider;
  const clientId = details.params.client_id;
  const grant = details.grantId
    ? await Grant.find(details.grantId)
    : new Grant({ accountId, clientId });
  const asked = String(details.params.scope ?? '').split(' ').filter(Boolean);
  const scopes = missing?.missingOIDCScope ?? asked;
  const claims = missing?.missingOIDCClaims ?? requestedClaims(details.params.claims);
  if (scopes.length) grant.addOIDCScope(scopes.join(' '));
  if (claims.length) grant.addOIDCClaims(claims);
  for (const [indicator, resourceScopes] of Object.entries(missing?.missingResourceScopes ?? {})) {
    grant.addResourceScope(indicator, resourceScopes.join(' '));
  }
  return grant.save();
}

async function interaction(ctx) {
  const match = /^\/interaction\/([^/]+)(?:\/(login|abort))?$/.exec(ctx.path);
  if (!match) {
    ctx.status = 404;
    return;
  }
  const [, uid, action] = match;
  ctx.set('Cache-Control', 'no-store');
  const details = await provider.interactionDetails(ctx.req, ctx.res);
  if (details.uid !== uid) {
    ctx.status = 400;
    ctx.body = page('Identity provider error', '<p>This sign-in has ended; start again.</p>');
    return;
  }
  const { prompt } = details;
  const finish = async (result) => {
    ctx.status = 303;
    const options = { mergeWithLastSubmission: false };
    ctx.redirect(await provider.interactionResult(ctx.req, ctx.res, result, options));
  };

  if (ctx.method === 'GET' && !action) {
    if (prompt.name === 'login') {
      ctx.type = 'html';
      ctx.body = loginPage(uid, details);
      return;
    }
    // consent: granted without asking
    const grantId = await grantEverything(details, details.session.accountId, prompt.details);
    await finish({ consent: { grantId } });
    return;
  }
  if (ctx.method !== 'POST' || !action) {
    ctx.status = 405;
    return;
  }
  const form = await readForm(ctx.req);
  if (action === 'abort') {
    await finish({ error: 'access_denied', error_description: 'the user cancelled the sign-in' });
    return;
  }
  if (prompt.name !== 'login') {
    ctx.status = 400;
    ctx.body = page('Identity provider error', '<p>No sign-in is asked for here.</p>');
    return;
  }
  const accountId = form.get('login') ?? '';
  const account = readState().accounts?.[accountId];
  if (!account) {
    ctx.status = 400;
    ctx.type = 'html';
    ctx.body = loginPage(uid, details, `No test account "${accountId}".`);
    return;
  }
  // An essential acr (the claims parameter) the account's level does not meet: the answer an
  // identity provider gives when it cannot step up. (acr_values is voluntary: the account's
  // level is given, whatever was asked, and the client must check it.)
  const wanted = claimsParameter(details.params.claims).id_token?.acr;
  if (wanted?.essential) {
    const levels = wanted.values ?? [wanted.value];
    if (!levels.includes(account.acr)) {
      await finish({
        error: 'unmet_authentication_requirements',
        error_description: `the account's acr ${account.acr} is not one of ${levels.join(', ')}`,
      });
      return;
    }
  }
  const login = { accountId }; // remembered: single sign-on until the provider's logout
  if (account.acr) login.acr = account.acr;
  if (account.amr) login.amr = account.amr;
  // Consent for what is asked, given with the login: one redirect back to the client.
  const grantId = await grantEverything(details, accountId);
  await finish({ login, consent: { grantId } });
}

// Misbehaviour for negative tests ("tamper" in STATE.json, read on every request) ----------
//
// On the ID token the token endpoint returns, after oidc-provider made it; the result is
// signed again with the provider's own key (the one its JWKS publishes), unless `signature`
// says otherwise:
//   id_token_nonce   the nonce claim (null: no nonce)
//   iss, aud, sub, azp, acr
//                    those claims (null: claim removed)
//   clock_offset_seconds
//                    iat, exp and auth_time moved by this: a provider whose clock is off
//   exp_seconds      exp = now + this (negative: expired)
//   iat_seconds      iat = now + this (positive: issued in the future)
//   id_token_claims  {claim: value or null}, any others
//   signature        "foreign_key" (a key not in the JWKS, with the JWKS's kid),
//                    "unknown_kid" (a key not in the JWKS, under a kid of its own),
//                    "none" (alg none, no signature), "corrupt" (the right key, a flipped byte)
// On the authorization response (the redirect back to the client; query response mode):
//   auth_iss         the RFC 9207 iss parameter (null: left out)
//   auth_state       the state parameter (null: left out)
// On the UserInfo answer:
//   userinfo_sub     sub (another subject than the ID token's)

const b64u = (value) => Buffer.from(value).toString('base64url');

function sign(header, payload, privateKey) {
  const input = `${b64u(JSON.stringify(header))}.${b64u(JSON.stringify(payload))}`;
  if (header.alg === 'none') return `${input}.`;
  return `${input}.${crypto.sign('sha256', Buffer.from(input), privateKey).toString('base64url')}`;
}

function setClaim(payload, name, value) {
  if (value === null) delete payload[name];
  else payload[name] = value;
}

async function tamperIdToken(idToken, tamper) {
  const [h, p] = idToken.split('.');
  const header = JSON.parse(Buffer.from(h, 'base64url'));
  const payload = JSON.parse(Buffer.from(p, 'base64url'));
  if (header.alg !== 'RS256') throw new Error(`tamper: cannot sign ${header.alg} again`);
  const now = Math.floor(Date.now() / 1000);
  if ('id_token_nonce' in tamper) setClaim(payload, 'nonce', tamper.id_token_nonce);
  for (const name of ['iss', 'aud', 'sub', 'azp', 'acr']) {
    if (name in tamper) setClaim(payload, name, tamper[name]);
  }
  if ('clock_offset_seconds' in tamper) {
    for (const name of ['iat', 'exp', 'auth_time', 'nbf']) {
      if (name in payload) payload[name] += tamper.clock_offset_seconds;
    }
  }
  if ('iat_seconds' in tamper) payload.iat = now + tamper.iat_seconds;
  if ('exp_seconds' in tamper) {
    payload.exp = now + tamper.exp_seconds;
    payload.iat = Math.min(payload.iat, payload.exp - 60);
    if (payload.auth_time) payload.auth_time = Math.min(payload.auth_time, payload.iat);
  }
  for (const [name, value] of Object.entries(tamper.id_token_claims ?? {})) {
    setClaim(payload, name, value);
  }
  let key = signing.privateKey;
  switch (tamper.signature) {
    case undefined:
    case null:
      break;
    case 'foreign_key':
    case 'unknown_kid':
      foreign ??= await rsaKey('not-in-the-jwks');
      key = foreign.privateKey;
      if (tamper.signature === 'unknown_kid') header.kid = foreign.jwk.kid;
      break;
    case 'none':
      header.alg = 'none';
      delete header.kid;
      break;
    case 'corrupt': {
      const token = sign(header, payload, key);
      const cut = token.lastIndexOf('.') + 1;
      const signature = Buffer.from(token.slice(cut), 'base64url');
      signature[signature.length - 1] ^= 1;
      return token.slice(0, cut) + signature.toString('base64url');
    }
    default:
      throw new Error(`tamper: unknown signature ${tamper.signature}`);
  }
  return sign(header, payload, key);
}

function tamperRedirect(location, tamper) {
  const url = new URL(location, issuer);
  if (url.origin === issuer) return location;
  for (const [name, key] of [['iss', 'auth_iss'], ['state', 'auth_state']]) {
    if (key in tamper) {
      if (tamper[key] === null) url.searchParams.delete(name);
      else url.searchParams.set(name, tamper[key]);
    }
  }
  return url.href;
}

provider.use(async (ctx, next) => {
  if (ctx.path.startsWith('/interaction/')) {
    await interaction(ctx);
    return;
  }
  await next();
  const tamper = readState().tamper ?? {};
  if (!Object.keys(tamper).length) return;
  const route = ctx.oidc?.route;
  if (route === 'token' && ctx.body?.id_token) {
    ctx.body = { ...ctx.body, id_token: await tamperIdToken(ctx.body.id_token, tamper) };
  } else if ((route === 'authorization' || route === 'resume') && ctx.response.get('Location')) {
    ctx.response.set('Location', tamperRedirect(ctx.response.get('Location'), tamper));
  } else if (route === 'userinfo' && ctx.body?.sub && 'userinfo_sub' in tamper) {
    ctx.body = { ...ctx.body, sub: tamper.userinfo_sub };
  }
});

provider.on('server_error', (ctx, error) => { console.error('server_error', ctx.path, error); });

server.on('request', provider.callback());

const ready = path.join(path.dirname(statePath), 'ready.json');
fs.writeFileSync(`${ready}.tmp`, JSON.stringify({ issuer, port, pid: process.pid }));
fs.renameSync(`${ready}.tmp`, ready);
console.log(`oidc-provider ${issuer}`);

const stop = () => { server.close(); server.closeAllConnections(); process.exit(0); };
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
