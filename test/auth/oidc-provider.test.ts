// ID tokens issued by a certified OpenID provider (panva's oidc-provider, on loopback),
// verified with keys Gatehouse discovers from the provider's own discovery document.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { decodeJwt } from 'jose';
import { createOidcAuthenticator } from '../../src/auth/oidc.ts';
import type { OidcConfig } from '../../src/config.ts';
import { startTestIdp } from '../login/oidc-provider.ts';
import type { TestIdp } from '../login/oidc-provider.ts';

interface IssuableIdToken {
  scope: string;
  issue(options: { use: 'idtoken' }): Promise<string>;
}
type IdTokenClass = new (claims: object, options: { client: unknown; ctx: undefined }) => IssuableIdToken;

let idp: TestIdp;
let idToken: string;
let issuedAt: number;

before(async () => {
  idp = await startTestIdp();
  // The provider's own IdToken model: the token a real sign-in ends with, without the browser.
  const IdToken = (idp.provider as unknown as { IdToken: IdTokenClass }).IdToken;
  const token = new IdToken(
    { sub: 'alice@example.com', email: 'alice@example.com', email_verified: true, groups: ['dev', 'oncall'] },
    { client: await idp.provider.Client.find(idp.clientId), ctx: undefined },
  );
  token.scope = 'openid email groups';
  idToken = await token.issue({ use: 'idtoken' });
  issuedAt = decodeJwt(idToken).iat as number;
});

after(async () => {
  await idp.close();
});

function config(): OidcConfig {
  return {
    issuer: idp.issuer,
    audience: idp.clientId,
    usernameClaim: 'email',
    groupsClaim: 'groups',
    usernamePrefix: 'oidc:',
    groupsPrefix: 'oidc:',
    reservedPrefixes: ['eks:', 'aws:', 'amazon:', 'iam:'],
    clockSkewSeconds: 30,
    algorithms: ['RS256', 'PS256', 'ES256', 'EdDSA'],
  };
}

describe('tokens of a real OpenID provider', () => {
  test('verifies its ID token with the keys its discovery document names', async () => {
    const authenticator = createOidcAuthenticator(config(), { clock: { now: () => issuedAt * 1000 } });
    const identity = await authenticator.verify(idToken);
    assert.deepEqual({ user: identity.user, groups: identity.groups, uid: identity.uid }, {
      user: 'oidc:alice@example.com',
      groups: ['oidc:dev', 'oidc:oncall'],
      uid: 'alice@example.com',
    });
  });

  test('refuses its ID token once expired', async () => {
    const exp = decodeJwt(idToken).exp as number;
    const authenticator = createOidcAuthenticator(config(), { clock: { now: () => (exp + 31) * 1000 } });
    await assert.rejects(authenticator.verify(idToken), {
      code: 'ERR_TOKEN_EXPIRED',
      message: `token expired at ${new Date(exp * 1000).toISOString()} (Gatehouse time ${new Date((exp + 31) * 1000).toISOString()}, clock skew allowed 30s)`,
    });
  });

  test('refuses its ID token for another client', async () => {
    const authenticator = createOidcAuthenticator({ ...config(), audience: 'another-client' }, { clock: { now: () => issuedAt * 1000 } });
    await assert.rejects(authenticator.verify(idToken), {
      code: 'ERR_TOKEN_AUDIENCE',
      message: `token audience "${idp.clientId}" does not include "another-client"`,
    });
  });
});
