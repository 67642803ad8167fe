/**
 * Getting and keeping an OIDC ID token for kubectl: authorization code + PKCE with a loopback
 * redirect (the browser flow), the device authorization grant (no browser here), and silent
 * refresh. OAuth is oauth4webapi's; this module only decides which flow runs and when.
 *
 * Contract: `currentToken()` returns a usable ID token — from the cache, by refresh, or by
 * a login when one is allowed — or throws a LoginError that says what to do next.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import * as oauth from 'oauth4webapi';
import { browserOpener, launchArgv, openInBrowser } from './open-browser.ts';
import { cachePath, readCachedTokens, removeCachedTokens, writeCachedTokens, type CachedTokens } from './token-cache.ts';

export interface LoginOptions {
  issuer: string;
  clientId: string;
  clientSecret?: string;
  /** Extra scopes (e.g. `groups`); `openid`, `offline_access` and `email` are always asked for. */
  scopes: string[];
  configDir: string;
  /** browser: code + PKCE on a loopback redirect; device: device code; auto: browser when one can open, else device. */
  flow: 'auto' | 'browser' | 'device';
  /** Whether the user can be asked to sign in now (false: fail with a message instead). */
  interactive: boolean;
  /** Command that opens a URL (the URL is its last argument); default: xdg-open / open. */
  browserCommand?: string;
  /** Fixed loopback port for the redirect (some IdPs register one); 0 = any free port. */
  redirectPort: number;
  /** Seconds before expiry at which a token counts as expired already. */
  expirySkewSeconds: number;
  /** Where the plugin talks to the user (never stdout: kubectl reads that). */
  log: (line: string) => void;
  now?: () => number;
}

/** Exit code 4: the user has to sign in (again). */
export class LoginError extends Error {
  readonly exitCode = 4;
  constructor(message: string) {
    super(message);
    this.name = 'LoginError';
  }
}

const LOGIN_TIMEOUT_MS = 5 * 60 * 1000;

export async function currentToken(options: LoginOptions): Promise<CachedTokens> {
  const path = cachePath(options.configDir, options.issuer, options.clientId);
  const now = Math.floor((options.now ?? Date.now)() / 1000);
  const cached = await readCachedTokens(path);
  if (cached !== undefined && cached.expiresAt - options.expirySkewSeconds > now) return cached;

  if (cached?.refreshToken !== undefined) {
    const refreshed = await refresh(options, cached.refreshToken);
    if (refreshed.ok) {
      await writeCachedTokens(path, refreshed.tokens);
      return refreshed.tokens;
    }
    await removeCachedTokens(path);
    if (!options.interactive) {
      throw new LoginError(
        `your Gatehouse sign-in has ended: ${options.issuer} refused the refresh token (${refreshed.reason}). ` +
          `Sign in again: ${loginCommand(options)}`,
      );
    }
    options.log(`Your sign-in has ended (${refreshed.reason}); signing in again.`);
  } else if (!options.interactive) {
    throw new LoginError(`not signed in to Gatehouse (no cached token for ${options.issuer}). Sign in first: ${loginCommand(options)}`);
  }

  return login(options);
}

/** Runs a login whatever the cache holds (`gatehouse login`), and caches the tokens. */
export async function login(options: LoginOptions): Promise<CachedTokens> {
  const server = await discover(options);
  const flow = chooseFlow(options, server);
  const response = flow === 'device' ? await deviceFlow(options, server) : await browserFlow(options, server);
  const tokens = toCachedTokens(options, response, undefined);
  await writeCachedTokens(cachePath(options.configDir, options.issuer, options.clientId), tokens);
  return tokens;
}

export async function logout(options: Pick<LoginOptions, 'configDir' | 'issuer' | 'clientId'>): Promise<void> {
  await removeCachedTokens(cachePath(options.configDir, options.issuer, options.clientId));
}

function loginCommand(options: LoginOptions): string {
  return `gatehouse login --issuer ${options.issuer} --client-id ${options.clientId}`;
}

function requestOptions(options: LoginOptions): { [oauth.allowInsecureRequests]: boolean; signal: AbortSignal } {
  // Plain http is only ever accepted for a loopback issuer (local IdPs, tests).
  const url = new URL(options.issuer);
  const loopback = url.hostname === '127.0.0.1' || url.hostname === 'localhost' || url.hostname === '[::1]';
  return { [oauth.allowInsecureRequests]: loopback && url.protocol === 'http:', signal: AbortSignal.timeout(30_000) };
}

async function discover(options: LoginOptions): Promise<oauth.AuthorizationServer> {
  const issuer = new URL(options.issuer);
  try {
    const response = await oauth.discoveryRequest(issuer, { algorithm: 'oidc', ...requestOptions(options) });
    return await oauth.processDiscoveryResponse(issuer, response);
  } catch (error) {
    throw new LoginError(`cannot read the OpenID configuration of ${options.issuer}: ${describe(error)}`);
  }
}

function client(options: LoginOptions): { client: oauth.Client; auth: oauth.ClientAuth } {
  return {
    client: { client_id: options.clientId },
    auth: options.clientSecret === undefined ? oauth.None() : oauth.ClientSecretPost(options.clientSecret),
  };
}

function scopeString(options: LoginOptions): string {
  return [...new Set(['openid', 'offline_access', 'email', ...options.scopes])].join(' ');
}

function chooseFlow(options: LoginOptions, server: oauth.AuthorizationServer): 'browser' | 'device' {
  if (options.flow === 'device') {
    if (server.device_authorization_endpoint === undefined) {
      throw new LoginError(`${options.issuer} does not offer the device flow; use --flow browser`);
    }
    return 'device';
  }
  if (options.flow === 'browser') return 'browser';
  if (openerOf(options) !== undefined || server.device_authorization_endpoint === undefined) return 'browser';
  return 'device';
}

function openerOf(options: LoginOptions): string[] | undefined {
  return browserOpener(process.platform, process.env, options.browserCommand);
}

async function browserFlow(options: LoginOptions, server: oauth.AuthorizationServer): Promise<oauth.TokenEndpointResponse> {
  if (server.authorization_endpoint === undefined) throw new LoginError(`${options.issuer} has no authorization endpoint`);
  const { client: c, auth } = client(options);
  const verifier = oauth.generateRandomCodeVerifier();
  const state = oauth.generateRandomState();
  const nonce = oauth.generateRandomNonce();

  const callback = await listenForRedirect(options.redirectPort, state);
  try {
    const redirectUri = `http://127.0.0.1:${callback.port}/callback`;
    const url = new URL(server.authorization_endpoint);
    url.searchParams.set('client_id', options.clientId);
    url.searchParams.set('redirect_uri', redirectUri);
    url.searchParams.set('response_type', 'code');
    url.searchParams.set('scope', scopeString(options));
    url.searchParams.set('code_challenge', await oauth.calculatePKCECodeChallenge(verifier));
    url.searchParams.set('code_challenge_method', 'S256');
    url.searchParams.set('state', state);
    url.searchParams.set('nonce', nonce);
    // offline_access (a refresh token) needs the consent prompt at most providers.
    url.searchParams.set('prompt', 'consent');

    const opener = openerOf(options);
    if (opener !== undefined) {
      try {
        launchArgv(opener, url.href);
      } catch (error) {
        throw new LoginError(`${options.issuer} named an authorization endpoint Gatehouse will not open: ${describe(error)}`);
      }
    }
    options.log(`Opening the browser to sign in to Gatehouse. If it does not open, visit:\n  ${url.href}`);
    if (opener !== undefined) openInBrowser(opener, url.href, options.log);

    const callbackUrl = await callback.result;
    let parameters: URLSearchParams;
    try {
      parameters = oauth.validateAuthResponse(server, c, callbackUrl, state);
    } catch (error) {
      throw new LoginError(`sign-in was not completed: ${describe(error)}`);
    }
    const response = await oauth.authorizationCodeGrantRequest(server, c, auth, parameters, redirectUri, verifier, requestOptions(options));
    return await oauth.processAuthorizationCodeResponse(server, c, response, { expectedNonce: nonce, requireIdToken: true });
  } catch (error) {
    if (error instanceof LoginError) throw error;
    throw new LoginError(`sign-in failed: ${describe(error)}`);
  } finally {
    callback.close();
  }
}

async function deviceFlow(options: LoginOptions, server: oauth.AuthorizationServer): Promise<oauth.TokenEndpointResponse> {
  const { client: c, auth } = client(options);
  try {
    const started = await oauth.processDeviceAuthorizationResponse(
      server,
      c,
      await oauth.deviceAuthorizationRequest(server, c, auth, { scope: scopeString(options) }, requestOptions(options)),
    );
    options.log(
      `To sign in to Gatehouse, visit ${started.verification_uri_complete ?? started.verification_uri}` +
        (started.verification_uri_complete ? '' : ` and enter the code ${started.user_code}`),
    );
    let intervalSeconds = started.interval ?? 5;
    const deadline = Date.now() + Math.min(started.expires_in * 1000, LOGIN_TIMEOUT_MS);
    while (Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, intervalSeconds * 1000));
      try {
        const response = await oauth.deviceCodeGrantRequest(server, c, auth, started.device_code, requestOptions(options));
        return await oauth.processDeviceCodeResponse(server, c, response);
      } catch (error) {
        if (error instanceof oauth.ResponseBodyError && error.error === 'authorization_pending') continue;
        if (error instanceof oauth.ResponseBodyError && error.error === 'slow_down') {
          intervalSeconds += 5;
          continue;
        }
        throw error;
      }
    }
    throw new LoginError('the device code expired before sign-in was completed; run the command again');
  } catch (error) {
    if (error instanceof LoginError) throw error;
    throw new LoginError(`sign-in failed: ${describe(error)}`);
  }
}

async function refresh(
  options: LoginOptions,
  refreshToken: string,
): Promise<{ ok: true; tokens: CachedTokens } | { ok: false; reason: string }> {
  let server: oauth.AuthorizationServer;
  try {
    server = await discover(options);
  } catch (error) {
    // The IdP being down is not the refresh token's fault: say so, keep the cache.
    throw error instanceof LoginError ? error : new LoginError(describe(error));
  }
  const { client: c, auth } = client(options);
  try {
    const response = await oauth.refreshTokenGrantRequest(server, c, auth, refreshToken, requestOptions(options));
    const result = await oauth.processRefreshTokenResponse(server, c, response);
    if (result.id_token === undefined) return { ok: false, reason: 'the provider returned no ID token on refresh' };
    return { ok: true, tokens: toCachedTokens(options, result, refreshToken) };
  } catch (error) {
    if (error instanceof oauth.ResponseBodyError) {
      return { ok: false, reason: `${error.error}${error.error_description ? `: ${error.error_description}` : ''}` };
    }
    throw new LoginError(`cannot refresh the Gatehouse sign-in at ${options.issuer}: ${describe(error)}`);
  }
}

function toCachedTokens(options: LoginOptions, result: oauth.TokenEndpointResponse, previousRefresh: string | undefined): CachedTokens {
  const claims = oauth.getValidatedIdTokenClaims(result);
  if (result.id_token === undefined || claims === undefined) throw new LoginError(`${options.issuer} returned no ID token`);
  const tokens: CachedTokens = { issuer: options.issuer, clientId: options.clientId, idToken: result.id_token, expiresAt: claims.exp };
  const refreshToken = result.refresh_token ?? previousRefresh;
  if (refreshToken !== undefined) tokens.refreshToken = refreshToken;
  return tokens;
}

interface RedirectListener {
  port: number;
  result: Promise<URL>;
  close(): void;
}

/**
 * Listens on loopback for the provider's redirect. Only a callback carrying this login's
 * `state` ends the wait: any other local process can reach the port, and a callback with a
 * wrong or missing state — an error included — is answered 400 and ignored, so it can neither
 * abort the sign-in nor slip in a code of its own.
 */
function listenForRedirect(port: number, expectedState: string): Promise<RedirectListener> {
  return new Promise((resolveListener, rejectListener) => {
    let settle: (url: URL) => void = () => undefined;
    let fail: (error: Error) => void = () => undefined;
    const result = new Promise<URL>((resolve, reject) => {
      settle = resolve;
      fail = reject;
    });
    const server = createServer((req, res) => {
      const url = new URL(req.url ?? '/', `http://127.0.0.1:${(server.address() as AddressInfo).port}`);
      if (url.pathname !== '/callback') {
        res.writeHead(404).end();
        return;
      }
      if (url.searchParams.get('state') !== expectedState) {
        res.writeHead(400, { 'content-type': 'text/html; charset=utf-8', connection: 'close' });
        res.end('<!doctype html><title>Gatehouse</title><p>This response does not belong to the sign-in in progress; it was ignored.</p>');
        return;
      }
      const failed = url.searchParams.has('error');
      res.writeHead(failed ? 400 : 200, { 'content-type': 'text/html; charset=utf-8', connection: 'close' });
      res.end(
        failed
          ? '<!doctype html><title>Gatehouse</title><p>Sign-in failed. Return to your terminal for details.</p>'
          : '<!doctype html><title>Gatehouse</title><p>Signed in to Gatehouse. You can close this tab and return to your terminal.</p>',
      );
      settle(url);
    });
    const timer = setTimeout(() => fail(new LoginError('no sign-in arrived within 5 minutes')), LOGIN_TIMEOUT_MS);
    timer.unref();
    server.once('error', rejectListener);
    server.listen(port, '127.0.0.1', () => {
      resolveListener({
        port: (server.address() as AddressInfo).port,
        result,
        close: () => {
          clearTimeout(timer);
          server.closeAllConnections();
          server.close();
        },
      });
    });
  });
}

function describe(error: unknown): string {
  if (error instanceof oauth.ResponseBodyError) return `${error.error}${error.error_description ? `: ${error.error_description}` : ''}`;
  if (error instanceof Error) return error.message;
  return String(error);
}
