// The authenticate stage on a tiny Hono app (app.request), with the dev issuer as a real
// authenticator: client impersonation refused first, then bearer required, then identity set.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Hono } from 'hono';
import '../../src/context.ts';
import { loadDevIssuer } from '../../src/auth/dev-issuer.ts';
import type { DevIssuer } from '../../src/auth/dev-issuer.ts';
import { asGatehouseError, statusResponse } from '../../src/errors.ts';
import { authenticate } from '../../src/pipeline/authenticate.ts';

const NOW = Date.UTC(2025, 0, 15, 12, 0, 0);
let stateDir: string;
let issuer: DevIssuer;
let app: Hono;
let validToken: string;
let expiredToken: string;

before(async () => {
  stateDir = await mkdtemp(join(tmpdir(), 'gatehouse-authenticate-'));
  issuer = await loadDevIssuer(stateDir, { clock: { now: () => NOW } });
  validToken = await issuer.mint('alice@example.com', ['dev']);
  const early = await loadDevIssuer(stateDir, { clock: { now: () => NOW - 7200_000 } });
  expiredToken = await early.mint('alice@example.com', ['dev'], 60);
  app = new Hono();
  app.onError((error) => statusResponse(asGatehouseError(error)));
  app.use('*', authenticate(issuer.authenticator));
  app.get('*', (c) => c.json(c.get('identity')));
});

after(async () => {
  await rm(stateDir, { recursive: true, force: true });
});

function bearer(token: string): Record<string, string> {
  return { authorization: `Bearer ${token}` };
}

interface Refusal {
  name: string;
  headers: () => Record<string, string>;
  status: number;
  reason: string;
  message: string;
}

const refusals: Refusal[] = [
  {
    name: 'refuses a client Impersonate-User header, even with a valid token',
    headers: () => ({ ...bearer(validToken), 'Impersonate-User': 'admin' }),
    status: 403,
    reason: 'Forbidden',
    message: "Gatehouse refuses client impersonation headers (Impersonate-User): the caller's identity comes from its token",
  },
  {
    name: 'refuses impersonation headers in any case, naming each',
    headers: () => ({ ...bearer(validToken), 'impersonate-group': 'system:masters', 'IMPERSONATE-UID': '1' }),
    status: 403,
    reason: 'Forbidden',
    message: "Gatehouse refuses client impersonation headers (Impersonate-Group, Impersonate-Uid): the caller's identity comes from its token",
  },
  {
    name: 'refuses an Impersonate-Extra header before asking for a token',
    headers: () => ({ 'Impersonate-Extra-Scopes': 'view' }),
    status: 403,
    reason: 'Forbidden',
    message: "Gatehouse refuses client impersonation headers (Impersonate-Extra-Scopes): the caller's identity comes from its token",
  },
  {
    name: 'refuses a request without Authorization',
    headers: () => ({}),
    status: 401,
    reason: 'Unauthorized',
    message: 'no bearer token: send Authorization: Bearer <OIDC ID token>',
  },
  {
    name: 'refuses a Basic credential without echoing it',
    headers: () => ({ authorization: 'Basic YWxpY2U6c2VjcmV0' }),
    status: 401,
    reason: 'Unauthorized',
    message: 'no bearer token: the request carried a "Basic" credential; send Authorization: Bearer <OIDC ID token>',
  },
  {
    name: 'refuses an empty Bearer credential',
    headers: () => ({ authorization: 'Bearer ' }),
    status: 401,
    reason: 'Unauthorized',
    message: 'no bearer token: the request carried an empty or malformed Bearer credential; send Authorization: Bearer <OIDC ID token>',
  },
  {
    name: 'refuses an expired token, saying so',
    headers: () => bearer(expiredToken),
    status: 401,
    reason: 'Unauthorized',
    message: 'token expired at 2025-01-15T10:01:00.000Z (Gatehouse time 2025-01-15T12:00:00.000Z, clock skew allowed 30s)',
  },
];

describe('authenticate stage', () => {
  for (const c of refusals) {
    test(c.name, async () => {
      const response = await app.request('/api/v1/namespaces/default/pods', { headers: c.headers() });
      assert.equal(response.status, c.status);
      assert.equal(response.headers.get('content-type'), 'application/json');
      assert.deepEqual(await response.json(), {
        kind: 'Status',
        apiVersion: 'v1',
        metadata: {},
        status: 'Failure',
        message: c.message,
        reason: c.reason,
        code: c.status,
      });
      if (c.status === 401) assert.equal(response.headers.get('www-authenticate'), 'Bearer realm="gatehouse"');
    });
  }

  const accepted = [
    { name: 'sets the identity from a valid bearer token', authorization: () => `Bearer ${validToken}` },
    { name: 'accepts the Bearer scheme in any case', authorization: () => `bearer ${validToken}` },
  ];
  for (const c of accepted) {
    test(c.name, async () => {
      const response = await app.request('/api/v1/namespaces/default/pods', { headers: { authorization: c.authorization() } });
      assert.equal(response.status, 200);
      const identity = (await response.json()) as { user: string; groups: string[]; uid: string };
      assert.deepEqual({ user: identity.user, groups: identity.groups, uid: identity.uid }, {
        user: 'alice@example.com',
        groups: ['dev'],
        uid: 'alice@example.com',
      });
    });
  }
});
