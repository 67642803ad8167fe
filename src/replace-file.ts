/**
 * Replacing a file whole, atomically, for files that may hold credentials (kubeconfigs,
 * the login token cache). The new content goes to a temp file next to the target (same
 * directory, so the rename is atomic) created exclusively — `wx`: O_CREAT|O_EXCL, which never
 * follows a symlink or reuses a file another local user planted under a guessable name — with
 * the final mode from its creation, then renamed over the target. A symlinked target is
 * replaced where it points (a kubeconfig people link from a dotfiles folder), unless the
 * caller says `replaceSymlink` (caches: the link itself is replaced, nothing is written where
 * it points). Synchronous: each caller writes one small file and then exits or goes on.
 */
import { randomBytes } from 'node:crypto';
import { closeSync, fchmodSync, fsyncSync, mkdirSync, openSync, realpathSync, renameSync, rmSync, statSync, writeSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';

export interface ReplaceFileOptions {
  /** Mode of the file, whatever the target's was (the token cache: always 0600). */
  mode?: number;
  /** Mode when the target does not exist yet and `mode` is not given; otherwise the target's mode is kept. Default 0600. */
  newFileMode?: number;
  /** A symlink at `path` is replaced by the new file instead of written through (default false). */
  replaceSymlink?: boolean;
}

/** The path itself, or where it points when it is a symlink; the path when it does not exist. */
function resolvedTarget(path: string): string {
  try {
    return realpathSync(path);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return path;
    throw error;
  }
}

function existingMode(path: string): number | undefined {
  try {
    return statSync(path).mode & 0o7777;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
}

export function replaceFileSync(path: string, data: string, options: ReplaceFileOptions = {}): void {
  const target = options.replaceSymlink === true ? path : resolvedTarget(path);
  const mode = options.mode ?? existingMode(target) ?? options.newFileMode ?? 0o600;
  mkdirSync(dirname(target), { recursive: true, mode: 0o700 });
  const temp = join(dirname(target), `.${basename(target)}.${randomBytes(8).toString('hex')}.tmp`);
  const fd = openSync(temp, 'wx', mode);
  try {
    try {
      fchmodSync(fd, mode); // the umask may have narrowed the mode given to open
      writeSync(fd, data);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(temp, target);
  } catch (error) {
    rmSync(temp, { force: true });
    throw error;
  }
}
