/**
 * The login token cache: one JSON file per (issuer, client id) in the user's config directory,
 * written with 0600 permissions in a 0700 directory, replaced atomically (replace-file.ts) so a
 * kubectl run in parallel never reads half a file; a symlink in its place is replaced, not
 * followed. Beside it, the ExecCredential the shell fast path prints (credential-cache.ts),
 * written and removed with it.
 */
import { createHash } from 'node:crypto';
import { chmod, mkdir, rm } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { readTextIfExists } from '../read-if-exists.ts';
import { replaceFileSync } from '../replace-file.ts';
import { removeCredentialCache, writeCredentialCache } from './credential-cache.ts';
import { execCredential } from './exec-credential.ts';

export interface CachedTokens {
  issuer: string;
  clientId: string;
  idToken: string;
  /** Expiry of the ID token, epoch seconds (its `exp`). */
  expiresAt: number;
  refreshToken?: string;
}

/** `$GATEHOUSE_CONFIG_DIR`, else `$XDG_CONFIG_HOME/gatehouse`, else `~/.config/gatehouse`. */
export function configDir(env: NodeJS.ProcessEnv = process.env): string {
  if (env.GATEHOUSE_CONFIG_DIR) return env.GATEHOUSE_CONFIG_DIR;
  const base = env.XDG_CONFIG_HOME || join(homedir(), '.config');
  return join(base, 'gatehouse');
}

export function cachePath(dir: string, issuer: string, clientId: string): string {
  const key = createHash('sha256').update(`${issuer}\n${clientId}`).digest('hex').slice(0, 32);
  return join(dir, 'tokens', `${key}.json`);
}

/** The fast path's ExecCredential file beside a token cache file. */
export function credentialCachePath(tokensPath: string): string {
  return tokensPath.replace(/\.json$/, '.exec-credential');
}

/** Writes the fast path's ExecCredential for `tokens` beside their cache file (unless it is there already). */
export function writeFastPathCredential(tokensPath: string, tokens: CachedTokens): void {
  writeCredentialCache(credentialCachePath(tokensPath), execCredential(tokens.idToken, tokens.expiresAt), tokens.expiresAt);
}

export async function readCachedTokens(path: string): Promise<CachedTokens | undefined> {
  const text = await readTextIfExists(path);
  if (text === undefined) return undefined;
  try {
    const parsed = JSON.parse(text) as Partial<CachedTokens>;
    if (typeof parsed.idToken !== 'string' || typeof parsed.expiresAt !== 'number') return undefined;
    return parsed as CachedTokens;
  } catch {
    // A corrupt cache is not an error worth stopping for: the user logs in again.
    return undefined;
  }
}

export interface CacheLookup {
  path: string;
  /** What the cache holds (a refresh token may still be good when the ID token is not). */
  cached: CachedTokens | undefined;
  /** The cached tokens when the ID token is good for `expirySkewSeconds` more; else undefined. */
  fresh: CachedTokens | undefined;
}

/** Reads the cache entry of one issuer and client: the whole work of a plugin call with a valid token. */
export async function lookUpCachedTokens(where: {
  configDir: string;
  issuer: string;
  clientId: string;
  expirySkewSeconds: number;
  now?: () => number;
}): Promise<CacheLookup> {
  const path = cachePath(where.configDir, where.issuer, where.clientId);
  const cached = await readCachedTokens(path);
  const nowSeconds = Math.floor((where.now ?? Date.now)() / 1000);
  const fresh = cached !== undefined && cached.expiresAt - where.expirySkewSeconds > nowSeconds ? cached : undefined;
  return { path, cached, fresh };
}

export async function writeCachedTokens(path: string, tokens: CachedTokens): Promise<void> {
  const dir = join(path, '..');
  await mkdir(dir, { recursive: true, mode: 0o700 });
  await chmod(dir, 0o700);
  replaceFileSync(path, JSON.stringify(tokens, null, 2), { mode: 0o600, replaceSymlink: true });
  writeFastPathCredential(path, tokens);
}

/** The fast path's credential first: from then on every kubectl call reaches the Node plugin. */
export async function removeCachedTokens(path: string): Promise<void> {
  removeCredentialCache(credentialCachePath(path));
  await rm(path, { force: true });
}
