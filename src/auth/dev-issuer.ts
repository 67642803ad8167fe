/**
 * LOCAL DEVELOPMENT ONLY: a token issuer for trying Gatehouse without an identity provider.
 *
 * Contract: `loadDevIssuer(stateDir)` loads — or on first use creates — an ES256 key pair at
 * `<stateDir>/dev-issuer.jwk` (file 0600, directory created 0700) and returns a DevIssuer:
 * `mint(user, groups, ttl)` signs tokens for any name, and `authenticator` verifies them
 * through the same code as the OIDC authenticator (token-verifier.ts), with this key as
 * the only key. Anyone who can read the key file can be anyone, so the issuer is refused
 * on Lambda and on any non-loopback listener: callers that serve with it must call
 * `assertDevIssuerAllowed(runtime, host)` first.
 */
import { randomBytes } from 'node:crypto';
import { chmod, link, mkdir, stat, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { SignJWT, calculateJwkThumbprint, createLocalJWKSet, exportJWK, generateKeyPair, importJWK } from 'jose';
import type { JWK } from 'jose';
import { readTextIfExists } from '../read-if-exists.ts';
import { GatehouseConfigError } from '../config-error.ts';
import type { Authenticator } from '../ports/authenticator.ts';
import type { Clock } from '../types.ts';
import { systemClock } from '../types.ts';
import { isLoopbackHost } from './loopback.ts';
import { DEFAULT_RESERVED_PREFIXES, identityFromClaims } from './identity-claims.ts';
import { createTokenAuthenticator } from './token-verifier.ts';
import type { TokenSettings } from './token-verifier.ts';

/** `.invalid` (RFC 2606) can never resolve, so no real IdP can share this issuer. */
export const DEV_ISSUER = 'https://gatehouse.invalid/dev-issuer';
export const DEV_AUDIENCE = 'gatehouse-dev';
export const DEV_KEY_FILE = 'dev-issuer.jwk';
const ALGORITHM = 'ES256';
const MAX_TTL_SECONDS = 24 * 3600;

export interface DevIssuer {
  issuer: string;
  audience: string;
  authenticator: Authenticator;
  /** Signs a token for `user` in `groups`, valid for ttlSeconds (default 3600, at most a day). */
  mint(user: string, groups: string[], ttlSeconds?: number): Promise<string>;
}

const DEV_SETTINGS: TokenSettings = {
  issuer: DEV_ISSUER,
  audience: DEV_AUDIENCE,
  algorithms: [ALGORITHM],
  clockSkewSeconds: 30,
  usernameClaim: 'email',
  groupsClaim: 'groups',
  usernamePrefix: '',
  groupsPrefix: '',
  reservedPrefixes: DEFAULT_RESERVED_PREFIXES,
};

/** Throws unless the dev issuer may serve here: the Node runtime, listening on loopback only. */
export function assertDevIssuerAllowed(runtime: string, host: string): void {
  const problems: string[] = [];
  if (runtime !== 'node') problems.push(`the local development issuer cannot be enabled in the ${runtime} runtime; configure oidc instead`);
  if (!isLoopbackHost(host)) {
    problems.push(`the local development issuer is allowed only on loopback (127.0.0.1, ::1, localhost), but Gatehouse listens on "${host}"`);
  }
  if (problems.length > 0) throw new GatehouseConfigError('dev issuer', problems);
}

export async function loadDevIssuer(stateDir: string, options: { clock?: Clock } = {}): Promise<DevIssuer> {
  if (runsOnLambda()) throw new GatehouseConfigError('dev issuer', ['the local development issuer cannot be loaded on AWS Lambda']);
  const clock = options.clock ?? systemClock;
  const privateJwk = await loadOrCreateKey(join(stateDir, DEV_KEY_FILE));
  const signingKey = await importJWK(privateJwk, ALGORITHM);
  const { kty, crv, x, y, kid } = privateJwk;
  const publicJwk: JWK = { kty, crv, x, y, kid, alg: ALGORITHM, use: 'sig' };
  const authenticator = createTokenAuthenticator(DEV_SETTINGS, createLocalJWKSet({ keys: [publicJwk] }), { clock });

  return {
    issuer: DEV_ISSUER,
    audience: DEV_AUDIENCE,
    authenticator,
    async mint(user, groups, ttlSeconds = 3600) {
      if (!Number.isInteger(ttlSeconds) || ttlSeconds < 1 || ttlSeconds > MAX_TTL_SECONDS) {
        throw new RangeError(`token lifetime must be 1 to ${MAX_TTL_SECONDS} seconds, got ${ttlSeconds}`);
      }
      const claims = { email: user, groups, sub: user };
      // Refuse here what verification would refuse, so a dev token never fails later.
      identityFromClaims(claims, DEV_SETTINGS);
      const now = Math.floor(clock.now() / 1000);
      return new SignJWT(claims)
        .setProtectedHeader({ alg: ALGORITHM, kid, typ: 'JWT' })
        .setIssuer(DEV_ISSUER)
        .setAudience(DEV_AUDIENCE)
        .setIssuedAt(now)
        .setExpirationTime(now + ttlSeconds)
        .sign(signingKey);
    },
  };
}

function runsOnLambda(): boolean {
  return process.env['AWS_LAMBDA_FUNCTION_NAME'] !== undefined || (process.env['AWS_EXECUTION_ENV'] ?? '').startsWith('AWS_Lambda');
}

async function loadOrCreateKey(path: string): Promise<JWK> {
  const existing = await readKey(path);
  if (existing !== undefined) return existing;
  const { privateKey } = await generateKeyPair(ALGORITHM, { extractable: true });
  const jwk = await exportJWK(privateKey);
  jwk.kid = await calculateJwkThumbprint(jwk);
  jwk.alg = ALGORITHM;
  // Written aside and linked into place: link fails if another process won the race, and
  // nobody ever reads a half-written key.
  await mkdir(join(path, '..'), { recursive: true, mode: 0o700 });
  const temporary = `${path}.${randomBytes(6).toString('hex')}.tmp`;
  await writeFile(temporary, `${JSON.stringify(jwk, null, 2)}\n`, { mode: 0o600, flag: 'wx' });
  await chmod(temporary, 0o600);
  try {
    await link(temporary, path);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
  } finally {
    await unlink(temporary);
  }
  const stored = await readKey(path);
  if (stored === undefined) throw new Error(`dev issuer key ${path} vanished while it was being created`);
  return stored;
}

async function readKey(path: string): Promise<JWK | undefined> {
  const text = await readTextIfExists(path);
  if (text === undefined) return undefined;
  const problems: string[] = [];
  if (process.platform !== 'win32' && ((await stat(path)).mode & 0o077) !== 0) {
    problems.push(`${path} is readable by other users; run: chmod 600 ${path}`);
  }
  let jwk: JWK | undefined;
  try {
    jwk = JSON.parse(text) as JWK;
  } catch {
    problems.push(`${path} is not JSON; delete it to create a new dev issuer key`);
  }
  if (jwk !== undefined) {
    const complete =
      jwk.kty === 'EC' && jwk.crv === 'P-256' && [jwk.x, jwk.y, jwk.d, jwk.kid].every((part) => typeof part === 'string' && part !== '');
    if (!complete) problems.push(`${path} is not an ES256 private key with a kid; delete it to create a new dev issuer key`);
  }
  if (problems.length > 0 || jwk === undefined) throw new GatehouseConfigError('dev issuer', problems);
  return jwk;
}
