// The local development issuer: its key file on disk, its tokens, its authenticator (the
// same verification path as OIDC), and the guard that keeps it off Lambda and off networks.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, stat, writeFile, chmod } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { decodeJwt, decodeProtectedHeader } from 'jose';
import { DEV_AUDIENCE, DEV_ISSUER, assertDevIssuerAllowed, loadDevIssuer } from '../../src/auth/dev-issuer.ts';
import { isLoopbackHost } from '../../src/auth/loopback.ts';
import { GatehouseError } from '../../src/errors.ts';

const NOW = Date.UTC(2025, 0, 15, 12, 0, 0);
let root: string;

before(async () => {
  root = await mkdtemp(join(tmpdir(), 'gatehouse-dev-issuer-'));
});

after(async () => {
  await rm(root, { recursive: true, force: true });
});

async function freshDir(name: string): Promise<string> {
  return join(root, name, 'state');
}

describe('dev issuer key', () => {
  test('creates the key on first use: directory 0700, file 0600, an ES256 private JWK with kid', async () => {
    const dir = await freshDir('create');
    await loadDevIssuer(dir);
    assert.equal((await stat(dir)).mode & 0o777, 0o700);
    const file = join(dir, 'dev-issuer.jwk');
    assert.equal((await stat(file)).mode & 0o777, 0o600);
    const jwk = JSON.parse(await readFile(file, 'utf8')) as Record<string, unknown>;
    assert.equal(jwk['kty'], 'EC');
    assert.equal(jwk['crv'], 'P-256');
    assert.equal(typeof jwk['d'], 'string');
    assert.equal(typeof jwk['kid'], 'string');
  });

  test('reuses the stored key, so tokens minted before a restart still verify', async () => {
    const dir = await freshDir('reuse');
    const first = await loadDevIssuer(dir, { clock: { now: () => NOW } });
    const token = await first.mint('alice@example.com', ['dev']);
    const second = await loadDevIssuer(dir, { clock: { now: () => NOW } });
    assert.equal((await second.authenticator.verify(token)).user, 'alice@example.com');
  });

  test('two processes starting at once end up with one key', async () => {
    const dir = await freshDir('race');
    const clock = { now: () => NOW };
    const [a, b] = await Promise.all([loadDevIssuer(dir, { clock }), loadDevIssuer(dir, { clock })]);
    assert.equal((await b.authenticator.verify(await a.mint('alice@example.com', []))).user, 'alice@example.com');
  });

  const broken = [
    {
      name: 'refuses a key file other users can read',
      write: async (file: string) => {
        await loadDevIssuer(join(file, '..'));
        await chmod(file, 0o644);
      },
      message: (file: string) => `invalid configuration in dev issuer:\n  - ${file} is readable by other users; run: chmod 600 ${file}`,
    },
    {
      name: 'refuses a key file that is not JSON',
      write: async (file: string) => writeFile(file, 'garbage', { mode: 0o600 }),
      message: (file: string) => `invalid configuration in dev issuer:\n  - ${file} is not JSON; delete it to create a new dev issuer key`,
    },
    {
      name: 'refuses a key file that holds no ES256 private key',
      write: async (file: string) => writeFile(file, '{"kty":"oct","k":"c2VjcmV0"}', { mode: 0o600 }),
      message: (file: string) =>
        `invalid configuration in dev issuer:\n  - ${file} is not an ES256 private key with a kid; delete it to create a new dev issuer key`,
    },
  ];
  for (const c of broken) {
    test(c.name, async () => {
      const dir = await freshDir(c.name.replaceAll(' ', '-'));
      const { mkdir } = await import('node:fs/promises');
      await mkdir(dir, { recursive: true, mode: 0o700 });
      const file = join(dir, 'dev-issuer.jwk');
      await c.write(file);
      await assert.rejects(loadDevIssuer(dir), { name: 'GatehouseConfigError', message: c.message(file) });
    });
  }
});

describe('dev issuer tokens', () => {
  test('mints a token with email, groups, sub, iat, exp and kid that its authenticator accepts', async () => {
    const issuer = await loadDevIssuer(await freshDir('mint'), { clock: { now: () => NOW } });
    const token = await issuer.mint('alice@example.com', ['dev', 'oncall'], 600);
    const claims = decodeJwt(token);
    assert.deepEqual(claims, {
      email: 'alice@example.com',
      groups: ['dev', 'oncall'],
      sub: 'alice@example.com',
      iss: DEV_ISSUER,
      aud: DEV_AUDIENCE,
      iat: NOW / 1000,
      exp: NOW / 1000 + 600,
    });
    assert.equal(decodeProtectedHeader(token).alg, 'ES256');
    assert.equal(typeof decodeProtectedHeader(token).kid, 'string');
    const identity = await issuer.authenticator.verify(token);
    assert.deepEqual({ user: identity.user, groups: identity.groups, uid: identity.uid }, {
      user: 'alice@example.com',
      groups: ['dev', 'oncall'],
      uid: 'alice@example.com',
    });
  });

  test('refuses its own token once expired, through the shared verification path', async () => {
    let now = NOW;
    const issuer = await loadDevIssuer(await freshDir('expire'), { clock: { now: () => now } });
    const token = await issuer.mint('alice@example.com', [], 60);
    now = NOW + 120_000;
    await assert.rejects(issuer.authenticator.verify(token), (error: unknown) => {
      assert.ok(error instanceof GatehouseError);
      assert.equal(error.code, 'ERR_TOKEN_EXPIRED');
      assert.equal(error.message, 'token expired at 2025-01-15T12:01:00.000Z (Gatehouse time 2025-01-15T12:02:00.000Z, clock skew allowed 30s)');
      return true;
    });
  });

  test("refuses a token of another dev issuer's key", async () => {
    const clock = { now: () => NOW };
    const mine = await loadDevIssuer(await freshDir('mine'), { clock });
    const theirs = await loadDevIssuer(await freshDir('theirs'), { clock });
    await assert.rejects(mine.authenticator.verify(await theirs.mint('mallory@example.com', [])), { code: 'ERR_TOKEN_UNKNOWN_KEY' });
  });

  const refusedMints = [
    {
      name: 'refuses to mint for a system: user',
      mint: ['system:admin', []] as const,
      message:
        'token claim "email" names the user "system:admin", which is refused: names starting with "system:" are reserved for the cluster\'s own identities (set oidc.usernamePrefix to keep identity-provider names apart)',
    },
    {
      name: 'refuses to mint for a system: group',
      mint: ['alice@example.com', ['system:masters']] as const,
      message:
        'token claim "groups" names the group "system:masters", which is refused: names starting with "system:" are reserved for the cluster\'s own identities (set oidc.groupsPrefix to keep identity-provider names apart)',
    },
  ];
  for (const c of refusedMints) {
    test(c.name, async () => {
      const issuer = await loadDevIssuer(await freshDir('refuse'));
      await assert.rejects(issuer.mint(c.mint[0], [...c.mint[1]]), { code: 'ERR_TOKEN_CLAIMS', message: c.message });
    });
  }

  test('refuses a lifetime over a day', async () => {
    const issuer = await loadDevIssuer(await freshDir('ttl'));
    await assert.rejects(issuer.mint('alice@example.com', [], 86401), { name: 'RangeError', message: 'token lifetime must be 1 to 86400 seconds, got 86401' });
  });
});

describe('where the dev issuer may run', () => {
  const allowed = [
    ['node', '127.0.0.1'],
    ['node', '127.8.9.10'],
    ['node', '::1'],
    ['node', '[::1]'],
    ['node', 'localhost'],
  ] as const;
  for (const [runtime, host] of allowed) {
    test(`allows the ${runtime} runtime listening on ${host}`, () => {
      assert.doesNotThrow(() => assertDevIssuerAllowed(runtime, host));
    });
  }

  const refused = [
    {
      runtime: 'node',
      host: '0.0.0.0',
      problems: ['the local development issuer is allowed only on loopback (127.0.0.1, ::1, localhost), but Gatehouse listens on "0.0.0.0"'],
    },
    {
      runtime: 'node',
      host: '::',
      problems: ['the local development issuer is allowed only on loopback (127.0.0.1, ::1, localhost), but Gatehouse listens on "::"'],
    },
    {
      runtime: 'node',
      host: '10.0.0.5',
      problems: ['the local development issuer is allowed only on loopback (127.0.0.1, ::1, localhost), but Gatehouse listens on "10.0.0.5"'],
    },
    {
      runtime: 'node',
      host: 'localhost.example.com',
      problems: [
        'the local development issuer is allowed only on loopback (127.0.0.1, ::1, localhost), but Gatehouse listens on "localhost.example.com"',
      ],
    },
    {
      runtime: 'lambda',
      host: '127.0.0.1',
      problems: ['the local development issuer cannot be enabled in the lambda runtime; configure oidc instead'],
    },
  ];
  for (const c of refused) {
    test(`refuses the ${c.runtime} runtime listening on ${c.host}`, () => {
      assert.throws(() => assertDevIssuerAllowed(c.runtime, c.host), { name: 'GatehouseConfigError', problems: c.problems });
    });
  }

  test('refuses to load at all on AWS Lambda', async () => {
    process.env['AWS_LAMBDA_FUNCTION_NAME'] = 'gatehouse';
    try {
      await assert.rejects(loadDevIssuer(await freshDir('lambda')), {
        name: 'GatehouseConfigError',
        problems: ['the local development issuer cannot be loaded on AWS Lambda'],
      });
    } finally {
      delete process.env['AWS_LAMBDA_FUNCTION_NAME'];
    }
  });

  const hosts = [
    ['127.0.0.1', true],
    ['127.255.255.254', true],
    ['::ffff:127.0.0.1', true],
    ['LOCALHOST', true],
    ['128.0.0.1', false],
    ['127.0.0.256', false],
    ['127.0.0.1.nip.io', false],
    ['', false],
  ] as const;
  for (const [host, loopback] of hosts) {
    test(`reads "${host}" as ${loopback ? '' : 'not '}loopback`, () => {
      assert.equal(isLoopbackHost(host), loopback);
    });
  }
});
