/**
 * Adversarial tokens, end to end: each case is one HTTPS request to the real app (real OIDC
 * verification against a JWKS served over HTTP, real policy, real forward) and asserts the
 * exact status, reason and message — and what the cluster received: nothing, or exactly the
 * call impersonating the token's verified identity.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { CompactSign, SignJWT, base64url, exportSPKI, importJWK } from 'jose';
import type { CryptoKey } from 'jose';
import { NOW, NOW_S, refusalOf, startGatehouseUnderTest, type GatehouseUnderTest } from './gatehouse-under-test.ts';

const PODS = '/api/v1/namespaces/default/pods';
const ALL_ALGORITHMS = 'RS256, RS384, RS512, PS256, PS384, PS512, ES256, ES384, ES512, EdDSA, Ed25519';
const NO_BEARER = 'send Authorization: Bearer <OIDC ID token>';

let now = NOW;
let g: GatehouseUnderTest;

before(async () => {
  g = await startGatehouseUnderTest({ clock: { now: () => now } });
});
after(() => g.close());

function unsigned(header: object, claims: object): string {
  const part = (value: object): string => base64url.encode(JSON.stringify(value));
  return `${part(header)}.${part(claims)}.`;
}

interface Case {
  name: string;
  /** Request headers (a token goes in Authorization unless the case says otherwise). */
  headers: () => Promise<Record<string, string | string[]>>;
  path?: string;
  message: (issuer: string) => string;
}

const bearer = (token: string): Record<string, string> => ({ authorization: `Bearer ${token}` });
const signed = (changes: Record<string, unknown> = {}) => async () => bearer(await g.idp.sign(changes));

/** Refused by authentication: 401 Unauthorized, with the Bearer challenge. */
const unauthenticated: Case[] = [
  {
    name: 'refuses an unsigned token (alg none)',
    headers: async () => bearer(unsigned({ alg: 'none', typ: 'JWT' }, g.idp.baseClaims())),
    message: () => `token algorithm "none" is not allowed: Gatehouse accepts only the asymmetric algorithms ${ALL_ALGORITHMS}`,
  },
  {
    name: 'refuses an unsigned token that still names a key of the issuer',
    headers: async () => bearer(unsigned({ alg: 'none', kid: 'ec-1' }, g.idp.baseClaims())),
    message: () => `token algorithm "none" is not allowed: Gatehouse accepts only the asymmetric algorithms ${ALL_ALGORITHMS}`,
  },
  {
    name: "refuses an HS256 token keyed with the issuer's RSA public key (algorithm confusion)",
    headers: async () => {
      const pem = await exportSPKI((await importJWK(g.idp.rsa.publicJwk, 'RS256')) as CryptoKey);
      return bearer(await new SignJWT(g.idp.baseClaims()).setProtectedHeader({ alg: 'HS256', kid: 'rsa-1' }).sign(new TextEncoder().encode(pem)));
    },
    message: () => `token algorithm "HS256" is not allowed: Gatehouse accepts only the asymmetric algorithms ${ALL_ALGORITHMS}`,
  },
  {
    name: "refuses an HS256 token keyed with the issuer's JWK text",
    headers: async () =>
      bearer(await new SignJWT(g.idp.baseClaims()).setProtectedHeader({ alg: 'HS256', kid: 'ec-1' }).sign(new TextEncoder().encode(JSON.stringify(g.idp.ec.publicJwk)))),
    message: () => `token algorithm "HS256" is not allowed: Gatehouse accepts only the asymmetric algorithms ${ALL_ALGORITHMS}`,
  },
  {
    name: 'refuses a token from another issuer, even signed by the right key',
    headers: signed({ iss: 'https://evil.example' }),
    message: (issuer) => `token issuer "https://evil.example" is not the configured issuer "${issuer}"`,
  },
  {
    name: 'refuses a token whose issuer differs only by a trailing slash',
    headers: async () => bearer(await g.idp.sign({ iss: `${g.idp.issuer}/` })),
    message: (issuer) => `token issuer "${issuer}/" is not the configured issuer "${issuer}"`,
  },
  {
    name: 'refuses a token without an issuer',
    headers: signed({ iss: undefined }),
    message: (issuer) => `token has no "iss" claim; the configured issuer is "${issuer}"`,
  },
  {
    name: 'refuses a token minted for another audience',
    headers: signed({ aud: 'kubernetes' }),
    message: () => 'token audience "kubernetes" does not include "gatehouse"',
  },
  {
    name: 'refuses a token without an audience',
    headers: signed({ aud: undefined }),
    message: () => 'token has no "aud" claim; Gatehouse expects audience "gatehouse"',
  },
  {
    name: 'refuses an expired token',
    headers: signed({ exp: NOW_S - 3600 }),
    message: () => 'token expired at 2025-01-15T11:00:00.000Z (Gatehouse time 2025-01-15T12:00:00.000Z, clock skew allowed 30s)',
  },
  {
    name: 'refuses a token whose nbf is in the future',
    headers: signed({ nbf: NOW_S + 300 }),
    message: () => 'token is not valid before 2025-01-15T12:05:00.000Z (Gatehouse time 2025-01-15T12:00:00.000Z, clock skew allowed 30s)',
  },
  {
    name: 'refuses a token that never expires',
    headers: signed({ exp: undefined }),
    message: () => 'token has no "exp" claim: Gatehouse accepts only tokens that expire',
  },
  {
    name: 'refuses a token signed by a key the issuer does not publish',
    headers: async () => bearer(await g.idp.sign({}, g.idp.stray)),
    message: () => `no key in the issuer's JWKS matches kid "stray-1" (algorithm "ES256")`,
  },
  {
    name: "refuses a token signed by a foreign key that names the issuer's kid",
    headers: async () => bearer(await g.idp.sign({}, g.idp.stray, { kid: 'ec-1' })),
    message: () => `token signature does not verify with the issuer's key "ec-1"`,
  },
  {
    name: "refuses kid confusion: an ES256 token naming the issuer's RSA key",
    headers: async () => bearer(await g.idp.sign({}, g.idp.ec, { kid: 'rsa-1' })),
    message: () => `no key in the issuer's JWKS matches kid "rsa-1" (algorithm "ES256")`,
  },
  {
    name: 'refuses a kid that looks like a path',
    headers: async () => bearer(await g.idp.sign({}, g.idp.stray, { kid: '../../../jwks' })),
    message: () => `no key in the issuer's JWKS matches kid "../../../jwks" (algorithm "ES256")`,
  },
  {
    name: "ignores a jku header pointing at the caller's own key set",
    headers: async () => bearer(await g.idp.sign({}, g.idp.stray, { jku: 'https://evil.example/jwks' })),
    message: () => `no key in the issuer's JWKS matches kid "stray-1" (algorithm "ES256")`,
  },
  {
    name: "ignores a key embedded in the token's header (jwk)",
    headers: async () => bearer(await g.idp.sign({}, g.idp.stray, { jwk: { kty: 'EC', crv: 'P-256', x: g.idp.stray.publicJwk.x, y: g.idp.stray.publicJwk.y } })),
    message: () => `no key in the issuer's JWKS matches kid "stray-1" (algorithm "ES256")`,
  },
  {
    name: 'refuses an oversized token before verifying it',
    headers: async () => bearer(`${'a'.repeat(20000)}.b.c`),
    message: () => 'token is 20004 characters long; Gatehouse accepts at most 16384',
  },
  {
    name: 'refuses a token that is not a JWT',
    headers: async () => bearer('not-a-jwt'),
    message: () => 'token is not a JWT: it has 1 dot-separated parts, a signed JWT has 3',
  },
  {
    name: 'refuses a token whose header is not base64url JSON',
    headers: async () => bearer('abc.def.ghi'),
    message: () => 'token is not a JWT: its header is not base64url-encoded JSON',
  },
  {
    name: 'refuses an encrypted token (JWE)',
    headers: async () => bearer('a.b.c.d.e'),
    message: () => 'token is encrypted (JWE); Gatehouse accepts signed ID tokens (JWS) only',
  },
  {
    name: 'refuses a signed token whose payload is not a claims object',
    headers: async () => bearer(await new CompactSign(new TextEncoder().encode('["alice"]')).setProtectedHeader({ alg: 'ES256', kid: 'ec-1' }).sign(g.idp.ec.privateKey)),
    message: () => 'token is not a well-formed signed JWT: JWT Claims Set must be a top-level JSON object',
  },
  {
    name: 'refuses a valid token whose signature was cut off',
    headers: async () => bearer((await g.idp.sign()).replace(/\.[^.]+$/, '.')),
    message: () => `token signature does not verify with the issuer's key "ec-1"`,
  },
  {
    name: 'refuses a valid token whose claims were edited after signing',
    headers: async () => {
      const [header, , signature] = (await g.idp.sign()).split('.');
      const claims = base64url.encode(JSON.stringify({ ...g.idp.baseClaims(), groups: ['dev', 'admins'] }));
      return bearer(`${header}.${claims}.${signature}`);
    },
    message: () => `token signature does not verify with the issuer's key "ec-1"`,
  },
  {
    name: 'refuses a token passed in the query string (access_token) instead of the Authorization header',
    headers: async () => ({}),
    path: `${PODS}?access_token=${'x'.repeat(10)}`,
    message: () => `no bearer token: ${NO_BEARER}`,
  },
  {
    name: 'refuses two Authorization headers, even when both carry valid tokens',
    headers: async () => ({ authorization: [`Bearer ${await g.idp.sign()}`, `Bearer ${await g.idp.sign({ email: 'mallory@example.com' })}`] }),
    message: () => `the request carried 2 Authorization headers; send exactly one: Authorization: Bearer <OIDC ID token>`,
  },
  {
    name: 'refuses two tokens in one Bearer credential',
    headers: async () => ({ authorization: `Bearer ${await g.idp.sign()} ${await g.idp.sign()}` }),
    message: () => `no bearer token: the request carried an empty or malformed Bearer credential; ${NO_BEARER}`,
  },
  {
    name: 'refuses a Basic credential',
    headers: async () => ({ authorization: 'Basic YWxpY2U6c2VjcmV0' }),
    message: () => `no bearer token: the request carried a "Basic" credential; ${NO_BEARER}`,
  },
  {
    name: 'refuses a request with no credential at all',
    headers: async () => ({}),
    message: () => `no bearer token: ${NO_BEARER}`,
  },
  {
    name: "refuses an unverified e-mail as the user's name",
    headers: signed({ email_verified: false }),
    message: () => 'token e-mail "alice@example.com" is not verified (email_verified is false): Gatehouse names users only by verified e-mail',
  },
];

/** Authenticated, then refused: 403 Forbidden. */
const forbidden: Case[] = [
  {
    name: 'refuses a valid token that also sends Impersonate-User and Impersonate-Group',
    headers: async () => ({ ...bearer(await g.idp.sign()), 'Impersonate-User': 'admin', 'Impersonate-Group': 'system:masters' }),
    // Impersonation is decided by policy (verb impersonate named explicitly); none grants it here.
    message: () => 'user "alice@example.com" (groups: dev) may not impersonate users "admin": no rule allows it (default deny)',
  },
];

const refusals = [
  ...unauthenticated.map((c) => ({ ...c, code: 401, reason: 'Unauthorized' })),
  ...forbidden.map((c) => ({ ...c, code: 403, reason: 'Forbidden' })),
];

describe('adversarial tokens', () => {
  for (const c of refusals) {
    test(c.name, async () => {
      const before = g.upstream.calls.length;
      const answer = await g.send('GET', c.path ?? PODS, await c.headers());
      assert.deepEqual(refusalOf(answer), { code: c.code, reason: c.reason, message: c.message(g.idp.issuer) });
      assert.equal(answer.status, c.code);
      if (c.code === 401) assert.equal(answer.headers['www-authenticate'], 'Bearer realm="gatehouse"');
      assert.deepEqual(g.upstream.calls.slice(before), [], 'nothing reaches the cluster');
    });
  }

  test('forwards a valid token as exactly the impersonated identity, never the token itself', async () => {
    const token = await g.idp.sign({ groups: ['dev', 'oncall'] });
    const before = g.upstream.calls.length;
    const answer = await g.send('GET', PODS, bearer(token));
    assert.equal(answer.status, 200);
    const calls = g.upstream.calls.slice(before);
    assert.equal(calls.length, 1);
    const [call] = calls;
    assert.deepEqual(
      { method: call?.method, url: call?.url, user: call?.user, groups: call?.groups, uid: call?.headers['impersonate-uid'], authorization: call?.headers['authorization'] },
      { method: 'GET', url: PODS, user: 'alice@example.com', groups: ['dev', 'oncall'], uid: ['u-alice'], authorization: undefined },
    );
    assert.ok(!JSON.stringify(call?.headers).includes(token), 'the caller token never leaves');
  });

  test('a stolen token stops working when it expires, though it was accepted (and remembered) before', async () => {
    const token = await g.idp.sign({ exp: NOW_S + 60, jti: 'short-lived' });
    const before = g.upstream.calls.length;
    assert.equal((await g.send('GET', PODS, bearer(token))).status, 200);
    now = NOW + 120_000;
    try {
      const answer = await g.send('GET', PODS, bearer(token));
      assert.deepEqual(refusalOf(answer), {
        code: 401,
        reason: 'Unauthorized',
        message: 'token expired at 2025-01-15T12:01:00.000Z (Gatehouse time 2025-01-15T12:02:00.000Z, clock skew allowed 30s)',
      });
    } finally {
      now = NOW;
    }
    assert.equal(g.upstream.calls.length - before, 1, 'only the call before expiry reached the cluster');
  });
});
