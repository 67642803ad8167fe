/**
 * Local signing key for approval links: 32 random bytes in a file of the state directory,
 * created on first use with mode 0600 and reused after (links survive a restart).
 */
import { randomBytes } from 'node:crypto';
import { chmodSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import type { SigningKeyProvider } from '../ports/approvals.ts';

export const LOCAL_SIGNING_KEY_FILE = 'approval-link.key';

export function createFileSigningKey(path: string): SigningKeyProvider {
  let cached: Uint8Array | undefined;
  return {
    async key() {
      cached ??= loadOrCreate(path);
      return cached;
    },
  };
}

function loadOrCreate(path: string): Uint8Array {
  try {
    const key = Buffer.from(readFileSync(path, 'utf8').trim(), 'base64url');
    if (key.length < 32) throw new Error(`approval link key in ${path} is shorter than 32 bytes`);
    return key;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  const key = randomBytes(32);
  try {
    writeFileSync(path, `${key.toString('base64url')}\n`, { mode: 0o600, flag: 'wx' });
  } catch (error) {
    // Another process created it first: use theirs, so links agree.
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return loadOrCreate(path);
    throw error;
  }
  chmodSync(path, 0o600);
  return key;
}
