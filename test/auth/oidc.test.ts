// OIDC token verification against a real local identity provider over HTTP (discovery
// document + JWKS), with tokens signed by jose and time frozen through the injected clock.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { CompactSign, SignJWT, base64url, exportJWK, exportSPKI, generateKeyPair } from 'jose';
import type { CryptoKey, JWK, JWTPayload } from 'jose';
import { createOidcAuthenticator } from '../../src/auth/oidc.ts';
import type { OidcConfig } from '../../src/config.ts';
import { GatehouseError } from '../../src/errors.ts';
import type { Identity } from '../../src/types.ts';

const NOW = Date.UTC(2025, 0, 15, 12, 0, 0);
const NOW_S = NOW / 1000;
const clock = { now: () => NOW };
const ALL_ALGORITHMS = 'RS256, RS384, RS512, PS256, PS384, PS512, ES256, ES384, ES512, EdDSA, Ed25519';

interface SigningKey {
  alg: string;
  kid: string;
  privateKey: CryptoKey;
  publicJwk: JWK;
}

async function signingKey(alg: string, kid: string): Promise<SigningKey> {
  const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true });
  return { alg, kid, privateKey, publicJwk: { ...(await exportJWK(publicKey)), kid } };
}

/** A tiny identity provider: discovery document and JWKS, with switches to make it misbehave. */
class FakeIdp {
  server: Server;
  issuer = '';
  keys: JWK[] = [];
  /** Overrides the `issuer` the discovery document names. */
  discoveryIssuer: string | undefined;
  jwksStatus = 200;
  hits = { discovery: 0, jwks: 0 };

  constructor() {
    this.server = createServer((req, res) => this.handle(req, res));
  }

  async start(): Promise<void> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.issuer = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  reset(): void {
    this.discoveryIssuer = undefined;
    this.jwksStatus = 200;
    this.hits = { discovery: 0, jwks: 0 };
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    if (req.url === '/.well-known/openid-configuration') {
      this.hits.discovery += 1;
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ issuer: this.discoveryIssuer ?? this.issuer, jwks_uri: `${this.issuer}/jwks` }));
    } else if (req.url === '/jwks') {
      this.hits.jwks += 1;
      res.statusCode = this.jwksStatus;
      res.setHeader('content-type', 'application/json');
      res.end(this.jwksStatus === 200 ? JSON.stringify({ keys: this.keys }) : '{"error":"unavailable"}');
    } else {
      res.statusCode = 404;
      res.end();
    }
  }
}

const idp = new FakeIdp();
let rsa: SigningKey;
let ec: SigningKey;
let ec2: SigningKey;
let ed: SigningKey;
let stray: SigningKey;

before(async () => {
  [rsa, ec, ec2, ed, stray] = await Promise.all([
    signingKey('RS256', 'rsa-1'),
    signingKey('ES256', 'ec-1'),
    signingKey('ES256', 'ec-2'),
    signingKey('EdDSA', 'ed-1'),
    signingKey('ES256', 'stray'),
  ]);
  idp.keys = [rsa.publicJwk, ec.publicJwk, ec2.publicJwk, ed.publicJwk];
  await idp.start();
});

after(async () => {
  await new Promise<void>((resolve) => idp.server.close(() => resolve()));
});

function oidcConfig(overrides: Partial<OidcConfig> = {}): OidcConfig {
  return {
    issuer: idp.issuer,
    audience: 'gatehouse',
    usernameClaim: 'email',
    groupsClaim: 'groups',
    usernamePrefix: '',
    groupsPrefix: '',
    reservedPrefixes: ['eks:', 'aws:', 'amazon:', 'iam:'],
    clockSkewSeconds: 30,
    algorithms: ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA', 'Ed25519'],
    ...overrides,
  };
}

function baseClaims(): JWTPayload {
  return { iss: idp.issuer, aud: 'gatehouse', sub: 'u-123', email: 'alice@example.com', groups: ['dev', 'oncall'], iat: NOW_S, exp: NOW_S + 600 };
}

/** Signs `claims` (undefined values removed) with `key`; `kid: null` leaves the kid out. */
async function sign(key: SigningKey, changes: Record<string, unknown> = {}, kid: string | null = key.kid): Promise<string> {
  const claims = Object.fromEntries(Object.entries({ ...baseClaims(), ...changes }).filter(([, v]) => v !== undefined));
  const header = kid === null ? { alg: key.alg } : { alg: key.alg, kid };
  return new SignJWT(claims).setProtectedHeader(header).sign(key.privateKey);
}

function unsigned(header: object, claims: object): string {
  const part = (value: object) => base64url.encode(JSON.stringify(value));
  return `${part(header)}.${part(claims)}.`;
}

interface Case {
  name: string;
  token: () => Promise<string>;
  config?: Partial<OidcConfig>;
  expect: Partial<Identity> | { code: string; message: () => string };
}

const alice = { user: 'alice@example.com', groups: ['dev', 'oncall'], uid: 'u-123' };

const cases: Case[] = [
  { name: 'accepts an RS256 token from the issuer', token: () => sign(rsa), expect: alice },
  { name: 'accepts an ES256 token from the issuer', token: () => sign(ec), expect: alice },
  { name: 'accepts an EdDSA token from the issuer', token: () => sign(ed), expect: alice },
  { name: 'accepts a token without kid when one of several fitting keys verifies it', token: () => sign(ec2, {}, null), expect: alice },
  { name: 'accepts a token that expired within the allowed clock skew', token: () => sign(ec, { exp: NOW_S - 10 }), expect: alice },
  { name: 'accepts a token whose nbf is within the allowed clock skew', token: () => sign(ec, { nbf: NOW_S + 10 }), expect: alice },
  {
    name: 'refuses an expired token, saying when it expired',
    token: () => sign(ec, { exp: NOW_S - 60 }),
    expect: {
      code: 'ERR_TOKEN_EXPIRED',
      message: () => 'token expired at 2025-01-15T11:59:00.000Z (Gatehouse time 2025-01-15T12:00:00.000Z, clock skew allowed 30s)',
    },
  },
  {
    name: 'refuses a token that is not yet valid',
    token: () => sign(ec, { nbf: NOW_S + 120 }),
    expect: {
      code: 'ERR_TOKEN_NOT_YET_VALID',
      message: () => 'token is not valid before 2025-01-15T12:02:00.000Z (Gatehouse time 2025-01-15T12:00:00.000Z, clock skew allowed 30s)',
    },
  },
  {
    name: 'refuses a token without exp',
    token: () => sign(ec, { exp: undefined }),
    expect: { code: 'ERR_TOKEN_CLAIMS', message: () => 'token has no "exp" claim: Gatehouse accepts only tokens that expire' },
  },
  {
    name: 'refuses a token from another issuer',
    token: () => sign(ec, { iss: 'https://evil.example' }),
    expect: { code: 'ERR_TOKEN_ISSUER', message: () => `token issuer "https://evil.example" is not the configured issuer "${idp.issuer}"` },
  },
  {
    name: 'refuses a token for another audience',
    token: () => sign(ec, { aud: ['kubernetes', 'other'] }),
    expect: { code: 'ERR_TOKEN_AUDIENCE', message: () => 'token audience "kubernetes", "other" does not include "gatehouse"' },
  },
  {
    name: 'refuses a token without an issuer',
    token: () => sign(ec, { iss: undefined }),
    expect: { code: 'ERR_TOKEN_ISSUER', message: () => `token has no "iss" claim; the configured issuer is "${idp.issuer}"` },
  },
  {
    name: 'refuses a token without an audience',
    token: () => sign(ec, { aud: undefined }),
    expect: { code: 'ERR_TOKEN_AUDIENCE', message: () => 'token has no "aud" claim; Gatehouse expects audience "gatehouse"' },
  },
  {
    name: 'accepts a token for any of the configured audiences',
    config: { audience: ['kubernetes', 'gatehouse'] },
    token: () => sign(ec, { aud: 'kubernetes' }),
    expect: alice,
  },
  {
    name: 'names every configured audience when none matches',
    config: { audience: ['kubernetes', 'gatehouse'] },
    token: () => sign(ec, { aud: 'other' }),
    expect: { code: 'ERR_TOKEN_AUDIENCE', message: () => 'token audience "other" does not include "kubernetes" or "gatehouse"' },
  },
  {
    name: 'refuses a token signed by a key the issuer does not publish',
    token: () => sign(stray),
    expect: { code: 'ERR_TOKEN_UNKNOWN_KEY', message: () => `no key in the issuer's JWKS matches kid "stray" (algorithm "ES256")` },
  },
  {
    name: "refuses a token that names the issuer's key but is signed by another",
    token: () => sign(stray, {}, 'ec-1'),
    expect: { code: 'ERR_TOKEN_SIGNATURE', message: () => `token signature does not verify with the issuer's key "ec-1"` },
  },
  {
    name: 'refuses a token without kid that no key of the issuer verifies',
    token: () => sign(stray, {}, null),
    expect: { code: 'ERR_TOKEN_SIGNATURE', message: () => `token signature does not verify with any key of the issuer's JWKS` },
  },
  {
    name: 'refuses an unsigned token (alg none)',
    token: async () => unsigned({ alg: 'none', typ: 'JWT' }, baseClaims()),
    expect: { code: 'ERR_TOKEN_ALGORITHM', message: () => `token algorithm "none" is not allowed: Gatehouse accepts only the asymmetric algorithms ${ALL_ALGORITHMS}` },
  },
  {
    name: "refuses an HS256 token keyed with the issuer's public key (algorithm confusion)",
    token: async () => {
      const { importJWK } = await import('jose');
      const pem = await exportSPKI((await importJWK(rsa.publicJwk, 'RS256')) as CryptoKey);
      return new SignJWT(baseClaims()).setProtectedHeader({ alg: 'HS256', kid: 'rsa-1' }).sign(new TextEncoder().encode(pem));
    },
    expect: { code: 'ERR_TOKEN_ALGORITHM', message: () => `token algorithm "HS256" is not allowed: Gatehouse accepts only the asymmetric algorithms ${ALL_ALGORITHMS}` },
  },
  {
    name: 'refuses an algorithm the configuration leaves out',
    config: { algorithms: ['RS256'] },
    token: () => sign(ec),
    expect: { code: 'ERR_TOKEN_ALGORITHM', message: () => 'token algorithm "ES256" is not allowed: Gatehouse accepts only the asymmetric algorithms RS256' },
  },
  {
    name: 'names the user by sub when the token has no email claim',
    token: () => sign(ec, { email: undefined }),
    expect: { user: 'u-123', groups: ['dev', 'oncall'], uid: 'u-123' },
  },
  {
    name: 'refuses a token with neither email nor sub',
    token: () => sign(ec, { email: undefined, sub: undefined }),
    expect: { code: 'ERR_TOKEN_CLAIMS', message: () => 'token has no "email" claim and no "sub" claim to name the user' },
  },
  {
    name: 'refuses a token without the configured username claim, with no fallback',
    config: { usernameClaim: 'preferred_username' },
    token: () => sign(ec),
    expect: { code: 'ERR_TOKEN_CLAIMS', message: () => 'token has no "preferred_username" claim (oidc.usernameClaim) to name the user' },
  },
  {
    name: 'names the user by the configured username claim',
    config: { usernameClaim: 'preferred_username' },
    token: () => sign(ec, { preferred_username: 'alice' }),
    expect: { user: 'alice', groups: ['dev', 'oncall'], uid: 'u-123' },
  },
  {
    name: 'refuses a token whose e-mail is not verified',
    token: () => sign(ec, { email_verified: false }),
    expect: {
      code: 'ERR_TOKEN_CLAIMS',
      message: () => 'token e-mail "alice@example.com" is not verified (email_verified is false): Gatehouse names users only by verified e-mail',
    },
  },
  { name: 'accepts a token whose e-mail is verified', token: () => sign(ec, { email_verified: true }), expect: alice },
  { name: 'reads a groups claim given as one string', token: () => sign(ec, { groups: 'dev' }), expect: { ...alice, groups: ['dev'] } },
  { name: 'reads an absent groups claim as no groups', token: () => sign(ec, { groups: undefined }), expect: { ...alice, groups: [] } },
  {
    name: 'reads groups from the configured groups claim',
    config: { groupsClaim: 'roles' },
    token: () => sign(ec, { roles: ['admins'] }),
    expect: { ...alice, groups: ['admins'] },
  },
  {
    name: 'refuses a groups claim that is not strings',
    token: () => sign(ec, { groups: [1, 2] }),
    expect: {
      code: 'ERR_TOKEN_CLAIMS',
      message: () => 'token claim "groups" must be a string or an array of non-empty strings to name groups, but is an array with a member that is not a non-empty string',
    },
  },
  {
    name: 'applies the username and groups prefixes',
    config: { usernamePrefix: 'oidc:', groupsPrefix: 'oidc:' },
    token: () => sign(ec),
    expect: { user: 'oidc:alice@example.com', groups: ['oidc:dev', 'oidc:oncall'], uid: 'u-123' },
  },
  {
    name: 'refuses a user name the cluster reserves for itself',
    config: { usernameClaim: 'preferred_username' },
    token: () => sign(ec, { preferred_username: 'system:kube-controller-manager' }),
    expect: {
      code: 'ERR_TOKEN_CLAIMS',
      message: () =>
        `token claim "preferred_username" names the user "system:kube-controller-manager", which is refused: names starting with "system:" are reserved for the cluster's own identities (set oidc.usernamePrefix to keep identity-provider names apart)`,
    },
  },
  {
    name: 'refuses a group name the cluster reserves for itself',
    token: () => sign(ec, { groups: ['dev', 'system:masters'] }),
    expect: {
      code: 'ERR_TOKEN_CLAIMS',
      message: () =>
        `token claim "groups" names the group "system:masters", which is refused: names starting with "system:" are reserved for the cluster's own identities (set oidc.groupsPrefix to keep identity-provider names apart)`,
    },
  },
  {
    name: 'accepts a reserved-looking name once the prefix keeps it apart',
    config: { groupsPrefix: 'idp:' },
    token: () => sign(ec, { groups: ['system:masters'] }),
    expect: { ...alice, groups: ['idp:system:masters'] },
  },
  {
    name: 'refuses a user name with control characters',
    token: () => sign(ec, { email: 'alice@example.com\r\nImpersonate-Group: system:masters' }),
    expect: {
      code: 'ERR_TOKEN_CLAIMS',
      message: () => 'token claim "email" names the user "alice@example.com\\r\\nImpersonate-Group: system:masters", which contains a control character (U+000D) that does not print as itself',
    },
  },
  {
    name: 'refuses a token that is not a JWT',
    token: async () => 'not-a-jwt',
    expect: { code: 'ERR_TOKEN_MALFORMED', message: () => 'token is not a JWT: it has 1 dot-separated parts, a signed JWT has 3' },
  },
  {
    name: 'refuses a token whose header is not JSON',
    token: async () => 'abc.def.ghi',
    expect: { code: 'ERR_TOKEN_MALFORMED', message: () => 'token is not a JWT: its header is not base64url-encoded JSON' },
  },
  {
    name: 'refuses an encrypted token',
    token: async () => 'a.b.c.d.e',
    expect: { code: 'ERR_TOKEN_MALFORMED', message: () => 'token is encrypted (JWE); Gatehouse accepts signed ID tokens (JWS) only' },
  },
  {
    name: 'refuses a signed token whose payload is not a JSON object',
    token: () => new CompactSign(new TextEncoder().encode('not json')).setProtectedHeader({ alg: 'ES256', kid: 'ec-1' }).sign(ec.privateKey),
    expect: { code: 'ERR_TOKEN_MALFORMED', message: () => 'token is not a well-formed signed JWT: JWT Claims Set must be a top-level JSON object' },
  },
];

async function outcome(config: Partial<OidcConfig> | undefined, token: string): Promise<Identity | GatehouseError> {
  const authenticator = createOidcAuthenticator(oidcConfig(config), { clock });
  try {
    return await authenticator.verify(token);
  } catch (error) {
    if (error instanceof GatehouseError) return error;
    throw error;
  }
}

describe('OIDC authenticator', () => {
  for (const c of cases) {
    test(c.name, async () => {
      const token = await c.token();
      const result = await outcome(c.config, token);
      if ('code' in c.expect) {
        assert.ok(result instanceof GatehouseError, `expected ${c.expect.code}, got identity ${JSON.stringify(result)}`);
        assert.equal(result.code, c.expect.code);
        assert.equal(result.message, c.expect.message());
        assert.equal(result.httpStatus, 401);
        assert.ok(!result.message.includes(token), 'the message must not echo the token');
      } else {
        assert.ok(!(result instanceof GatehouseError), `expected an identity, got ${result instanceof GatehouseError ? `${result.code}: ${result.message}` : ''}`);
        assert.deepEqual({ user: result.user, groups: result.groups, uid: result.uid }, { user: alice.user, groups: alice.groups, uid: alice.uid, ...c.expect });
      }
    });
  }

  test('keeps the verified claims on the identity', async () => {
    const result = await outcome(undefined, await sign(ec, { name: 'Alice' }));
    assert.ok(!(result instanceof GatehouseError));
    assert.equal(result.claims['name'], 'Alice');
    assert.equal(result.claims['iss'], idp.issuer);
  });
});

describe('OIDC key discovery', () => {
  async function refusal(promise: Promise<unknown>): Promise<GatehouseError> {
    const error = await promise.then(
      () => assert.fail('expected a refusal'),
      (e: unknown) => e,
    );
    assert.ok(error instanceof GatehouseError, String(error));
    return error;
  }

  test('discovers the JWKS lazily on first use and caches it', async () => {
    idp.reset();
    const authenticator = createOidcAuthenticator(oidcConfig(), { clock });
    assert.deepEqual(idp.hits, { discovery: 0, jwks: 0 });
    await authenticator.verify(await sign(ec));
    await authenticator.verify(await sign(rsa));
    assert.deepEqual(idp.hits, { discovery: 1, jwks: 1 });
  });

  test('uses a configured jwksUri without discovery', async () => {
    idp.reset();
    const authenticator = createOidcAuthenticator(oidcConfig({ jwksUri: `${idp.issuer}/jwks` }), { clock });
    assert.equal((await authenticator.verify(await sign(ed))).user, 'alice@example.com');
    assert.deepEqual(idp.hits, { discovery: 0, jwks: 1 });
  });

  test('refuses with ERR_IDP_UNAVAILABLE while the JWKS endpoint fails, and recovers when it is back', async () => {
    idp.reset();
    idp.jwksStatus = 503;
    const authenticator = createOidcAuthenticator(oidcConfig(), { clock });
    const error = await refusal(authenticator.verify(await sign(ec)));
    assert.equal(error.code, 'ERR_IDP_UNAVAILABLE');
    assert.equal(error.message, `the identity provider's JWKS at ${idp.issuer}/jwks could not be used: it answered HTTP 503`);
    assert.equal(error.httpStatus, 401);
    idp.jwksStatus = 200;
    assert.equal((await authenticator.verify(await sign(ec))).user, 'alice@example.com');
  });

  test('refuses a discovery document that names another issuer, and retries discovery later', async () => {
    idp.reset();
    idp.discoveryIssuer = 'https://impostor.example';
    const authenticator = createOidcAuthenticator(oidcConfig(), { clock });
    const error = await refusal(authenticator.verify(await sign(ec)));
    assert.equal(error.code, 'ERR_IDP_UNAVAILABLE');
    assert.equal(
      error.message,
      `the identity provider's discovery document at ${idp.issuer}/.well-known/openid-configuration could not be used: it names issuer "https://impostor.example", not the configured issuer "${idp.issuer}"`,
    );
    idp.discoveryIssuer = undefined;
    assert.equal((await authenticator.verify(await sign(ec))).user, 'alice@example.com');
    assert.equal(idp.hits.discovery, 2);
  });

  test('refuses with ERR_IDP_UNAVAILABLE when nothing listens at the issuer', async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const issuer = `http://127.0.0.1:${(closed.address() as AddressInfo).port}`;
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    const authenticator = createOidcAuthenticator(oidcConfig({ issuer }), { clock });
    const error = await refusal(authenticator.verify(await sign(ec, { iss: issuer })));
    assert.equal(error.code, 'ERR_IDP_UNAVAILABLE');
    assert.equal(
      error.message,
      `the identity provider's discovery document at ${issuer}/.well-known/openid-configuration could not be used: connection refused (ECONNREFUSED)`,
    );
  });

  test('refuses with ERR_IDP_UNAVAILABLE when the JWKS endpoint does not answer in time', async () => {
    const silent = createServer(() => {
      /* never answers */
    });
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const jwksUri = `http://127.0.0.1:${(silent.address() as AddressInfo).port}/jwks`;
    try {
      const authenticator = createOidcAuthenticator(oidcConfig({ jwksUri }), { clock, timeoutMs: 200 });
      const error = await refusal(authenticator.verify(await sign(ec)));
      assert.equal(error.code, 'ERR_IDP_UNAVAILABLE');
      assert.equal(error.message, `the identity provider's JWKS at ${jwksUri} could not be used: no answer within 0.2s`);
    } finally {
      silent.closeAllConnections();
      await new Promise<void>((resolve) => silent.close(() => resolve()));
    }
  });

  test('refuses at start-up an issuer or JWKS reached over plain HTTP across a network', () => {
    assert.throws(
      () => createOidcAuthenticator(oidcConfig({ issuer: 'http://idp.example.com', jwksUri: 'http://idp.example.com/jwks' })),
      {
        name: 'GatehouseConfigError',
        message:
          'invalid configuration in oidc configuration:\n' +
          '  - oidc.issuer: http://idp.example.com must be an https:// URL (plain http only on loopback)\n' +
          '  - oidc.jwksUri: http://idp.example.com/jwks must be an https:// URL (plain http only on loopback)',
      },
    );
  });
});

describe('OIDC keys while the JWKS endpoint is down', () => {
  const LONG = { exp: NOW_S + 3 * 86400 };
  let now = NOW;
  let logged: string[] = [];
  let serial = 0;
  const moving = { now: () => now };
  /** A fresh token string each time, so the verified-token memory never answers for the key set. */
  const fresh = (key: SigningKey, kid: string | null = key.kid): Promise<string> => sign(key, { ...LONG, jti: `t${++serial}` }, kid);
  const authenticator = () => {
    idp.reset();
    now = NOW;
    logged = [];
    return createOidcAuthenticator(oidcConfig({ jwksUri: `${idp.issuer}/jwks` }), { clock: moving, log: (m) => logged.push(m) });
  };
  const failure = async (promise: Promise<unknown>): Promise<GatehouseError> => {
    const error = await promise.then(
      () => assert.fail('expected a refusal'),
      (e: unknown) => e,
    );
    assert.ok(error instanceof GatehouseError, String(error));
    return error;
  };
  after(() => idp.reset());

  test('keeps accepting tokens signed with keys it already has, past the refresh age, and logs the failed refresh', async () => {
    const a = authenticator();
    assert.equal((await a.verify(await fresh(ec))).user, 'alice@example.com');
    idp.jwksStatus = 503;
    now += 11 * 60_000;
    assert.equal((await a.verify(await fresh(ec))).user, 'alice@example.com');
    assert.equal((await a.verify(await fresh(rsa))).user, 'alice@example.com');
    assert.equal(idp.hits.jwks, 2, 'one refresh attempt, not one per token');
    assert.deepEqual(logged, [
      `refreshing the issuer's keys failed; keeping the keys fetched at 2025-01-15T12:00:00.000Z: the identity provider's JWKS at ${idp.issuer}/jwks could not be used: it answered HTTP 503`,
    ]);
  });

  test('refuses a token naming a new kid with a 401 that says the key set could not be fetched again', async () => {
    const a = authenticator();
    await a.verify(await fresh(ec));
    idp.jwksStatus = 503;
    now += 31_000;
    const error = await failure(a.verify(await fresh(stray, 'rotated-2')));
    assert.equal(error.code, 'ERR_TOKEN_UNKNOWN_KEY');
    assert.equal(error.httpStatus, 401);
    assert.equal(
      error.message,
      `no key in the issuer's JWKS (as fetched at 2025-01-15T12:00:00.000Z) matches kid "rotated-2" (algorithm "ES256"), and fetching the JWKS again to look for it failed: the identity provider's JWKS at ${idp.issuer}/jwks could not be used: it answered HTTP 503`,
    );
    assert.equal((await a.verify(await fresh(ec))).user, 'alice@example.com', 'the known keys still work');
  });

  test('within 30 s of the last fetch a new kid is refused without fetching again', async () => {
    const a = authenticator();
    await a.verify(await fresh(ec));
    idp.jwksStatus = 503;
    now += 10_000;
    const error = await failure(a.verify(await fresh(stray, 'rotated-3')));
    assert.equal(error.code, 'ERR_TOKEN_UNKNOWN_KEY');
    assert.equal(error.message, `no key in the issuer's JWKS matches kid "rotated-3" (algorithm "ES256")`);
    assert.equal(idp.hits.jwks, 1);
  });

  test('picks up a rotated key once the JWKS answers again', async () => {
    const a = authenticator();
    await a.verify(await fresh(ec));
    const rotated = await signingKey('ES256', 'rotated-4');
    idp.keys = [...idp.keys, rotated.publicJwk];
    try {
      now += 31_000;
      assert.equal((await a.verify(await fresh(rotated))).user, 'alice@example.com');
      assert.equal(idp.hits.jwks, 2);
    } finally {
      idp.keys = idp.keys.filter((key) => key.kid !== 'rotated-4');
    }
  });

  test('stops trusting keys fetched more than 24 hours ago while the JWKS stays down', async () => {
    const a = authenticator();
    await a.verify(await fresh(ec));
    idp.jwksStatus = 503;
    now += 24 * 3600_000 + 1;
    const error = await failure(a.verify(await fresh(ec)));
    assert.equal(error.code, 'ERR_IDP_UNAVAILABLE');
    assert.equal(
      error.message,
      `the identity provider's keys were last fetched at 2025-01-15T12:00:00.000Z, more than 24 hours ago, and fetching them again fails: the identity provider's JWKS at ${idp.issuer}/jwks could not be used: it answered HTTP 503`,
    );
  });
});
