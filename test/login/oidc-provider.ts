/**
 * A real OAuth 2.0 / OIDC server for the login tests: `oidc-provider` (a certified
 * implementation) on loopback, with code + PKCE, the device flow, refresh tokens and
 * revocation. The only shortcut: its login and consent interactions complete by themselves for
 * the account the test names, so a "browser" that just follows redirects can sign in.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import Provider, { type KoaContextWithOIDC } from 'oidc-provider';

export interface TestIdp {
  issuer: string;
  clientId: string;
  /** Who signs in at the next interaction. */
  account: { email: string; groups: string[] };
  /** How many times a person had to sign in (interactions completed). */
  logins: number;
  /** How many refresh_token grants succeeded. */
  refreshes: number;
  /** Seconds an ID token lives. */
  idTokenTtl: number;
  provider: Provider;
  /** Revokes every refresh token issued so far (as an admin would). */
  revokeRefreshTokens(): Promise<void>;
  close(): Promise<void>;
}

export async function startTestIdp(): Promise<TestIdp> {
  const server: Server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const refreshTokenIds: string[] = [];

  const idp: TestIdp = {
    issuer,
    clientId: 'gatehouse-cli',
    account: { email: 'alice@example.com', groups: ['developers'] },
    logins: 0,
    refreshes: 0,
    idTokenTtl: 3600,
    provider: undefined as unknown as Provider,
    async revokeRefreshTokens() {
      for (const id of refreshTokenIds) {
        const token = await idp.provider.RefreshToken.find(id);
        await token?.destroy();
      }
    },
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };

  const provider = new Provider(issuer, {
    clients: [
      {
        client_id: idp.clientId,
        application_type: 'native',
        token_endpoint_auth_method: 'none',
        redirect_uris: ['http://127.0.0.1/callback'],
        grant_types: ['authorization_code', 'refresh_token', 'urn:ietf:params:oauth:grant-type:device_code'],
        response_types: ['code'],
      },
    ],
    claims: { openid: ['sub'], email: ['email', 'email_verified'], groups: ['groups'] },
    scopes: ['openid', 'offline_access', 'email', 'groups'],
    conformIdTokenClaims: false,
    features: { devInteractions: { enabled: false }, deviceFlow: { enabled: true }, revocation: { enabled: true } },
    ttl: { IdToken: () => idp.idTokenTtl, AccessToken: 3600, RefreshToken: 86400, DeviceCode: 600, Interaction: 600, Session: 86400, Grant: 86400 },
    findAccount: async (_ctx: KoaContextWithOIDC, id: string) => ({
      accountId: id,
      claims: async () => ({ sub: id, email: id, email_verified: true, groups: idp.account.groups }),
    }),
    interactions: { url: (_ctx: KoaContextWithOIDC, interaction: { uid: string }) => `/interaction/${interaction.uid}` },
    // Every sign-in is a fresh one: no remembered session between tests.
    expiresWithSession: () => false,
    cookies: { keys: ['test-only-cookie-key'] },
  });
  provider.on('grant.success', (ctx: KoaContextWithOIDC) => {
    if (ctx.oidc.params?.grant_type === 'refresh_token') idp.refreshes += 1;
  });
  provider.on('refresh_token.saved', (token: { jti: string }) => refreshTokenIds.push(token.jti));
  idp.provider = provider;

  const callback = provider.callback();
  server.on('request', (req, res) => {
    const url = req.url ?? '/';
    if (url.startsWith('/interaction/')) {
      void completeInteraction(provider, idp, req, res);
      return;
    }
    void callback(req, res);
  });
  return idp;
}

/** Logs the configured account in and grants every requested scope and claim. */
async function completeInteraction(
  provider: Provider,
  idp: TestIdp,
  req: Parameters<Provider['interactionDetails']>[0],
  res: Parameters<Provider['interactionDetails']>[1],
): Promise<void> {
  const details = await provider.interactionDetails(req, res);
  if (details.prompt.name === 'login') {
    idp.logins += 1;
    await provider.interactionFinished(req, res, { login: { accountId: idp.account.email } }, { mergeWithLastSubmission: false });
    return;
  }
  const grant = new provider.Grant({ accountId: details.session?.accountId ?? idp.account.email, clientId: String(details.params.client_id) });
  grant.addOIDCScope(String(details.params.scope));
  const grantId = await grant.save();
  await provider.interactionFinished(req, res, { consent: { grantId } }, { mergeWithLastSubmission: true });
}
