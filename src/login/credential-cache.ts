/**
 * The ExecCredential cache that kubectl's shell fast path reads (fast-path-exec.ts): a file of
 * two lines, the epoch second until which the credential may be handed out (the token's expiry
 * less REFRESH_MARGIN_SECONDS) and the ExecCredential JSON exactly as the plugin prints it.
 *
 * The Node plugins write it (`gatehouse credential`, `gatehouse dev-token --exec-credential`)
 * whenever they print a credential, so only the first kubectl call after a sign-in, a refresh
 * or an expiry starts Node. The file is 0600 in a 0700 directory, replaced atomically, and a
 * symlink in its place is replaced, never written through (replace-file.ts).
 */
import { createHash } from 'node:crypto';
import { chmodSync, lstatSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { replaceFileSync } from '../replace-file.ts';
import type { ExecCredential } from './exec-credential.ts';

/** A token is handed out only while it is good for this many more seconds. */
export const REFRESH_MARGIN_SECONDS = 30;

/** The two lines the fast path reads. */
export function credentialCacheText(credential: ExecCredential, expiresAtSeconds: number): string {
  return `${expiresAtSeconds - REFRESH_MARGIN_SECONDS}\n${JSON.stringify(credential)}\n`;
}

/** `gatehouse dev-token`'s cache: one file per user, groups and lifetime, in the state directory. */
export function devTokenCachePath(stateDir: string, user: string, groups: readonly string[], ttlSeconds: number): string {
  const key = createHash('sha256').update(JSON.stringify([user, groups, ttlSeconds])).digest('hex').slice(0, 32);
  return join(devTokenCacheDir(stateDir), `${key}.exec-credential`);
}

/** Where the dev-token caches of a state directory live (`gatehouse serve` empties it when it starts). */
export function devTokenCacheDir(stateDir: string): string {
  return join(stateDir, 'credentials');
}

/** Whether `path` is already a regular file of ours holding exactly `text` (then there is nothing to write). */
function holds(path: string, text: string): boolean {
  try {
    const stat = lstatSync(path);
    if (!stat.isFile() || (process.getuid !== undefined && stat.uid !== process.getuid())) return false;
    return readFileSync(path, 'utf8') === text;
  } catch {
    return false;
  }
}

/**
 * Writes the cache for `credential`, unless the file holds it already. A cache that cannot be
 * written costs speed, not the credential: the problem goes to stderr (kubectl shows it) and
 * the plugin prints its credential all the same.
 */
export function writeCredentialCache(path: string, credential: ExecCredential, expiresAtSeconds: number): void {
  const text = credentialCacheText(credential, expiresAtSeconds);
  if (holds(path, text)) return;
  try {
    const dir = dirname(path);
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    chmodSync(dir, 0o700);
    replaceFileSync(path, text, { mode: 0o600, replaceSymlink: true });
  } catch (error) {
    process.stderr.write(`gatehouse: cannot write the credential cache ${path}: ${error instanceof Error ? error.message : String(error)}\n`);
  }
}

export function removeCredentialCache(path: string): void {
  rmSync(path, { force: true });
}
