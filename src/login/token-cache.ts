/**
 * The login token cache: one JSON file per (issuer, client id) in the user's config directory,
 * written with 0600 permissions in a 0700 directory, replaced atomically (replace-file.ts) so a
 * kubectl run in parallel never reads half a file.
 */
import { createHash } from 'node:crypto';
import { chmod, mkdir, rm } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { readTextIfExists } from '../read-if-exists.ts';
import { replaceFileSync } from '../replace-file.ts';

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

export async function writeCachedTokens(path: string, tokens: CachedTokens): Promise<void> {
  const dir = join(path, '..');
  await mkdir(dir, { recursive: true, mode: 0o700 });
  await chmod(dir, 0o700);
  replaceFileSync(path, JSON.stringify(tokens, null, 2), { mode: 0o600 });
}

export async function removeCachedTokens(path: string): Promise<void> {
  await rm(path, { force: true });
}
