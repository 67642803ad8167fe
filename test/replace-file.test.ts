// Replacing kubeconfigs and token caches: exclusive temp files next to the target, the
// target's mode kept, nothing left behind.
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { replaceFileSync } from '../src/replace-file.ts';

const root = mkdtempSync(join(tmpdir(), 'gatehouse-replace-file-'));
after(() => rmSync(root, { recursive: true, force: true }));
let n = 0;
const fresh = (): string => {
  const dir = join(root, `case-${n++}`);
  mkdirSync(dir);
  return dir;
};
const modeOf = (path: string): number => statSync(path).mode & 0o777;

describe('replaceFileSync', { skip: process.platform === 'win32' ? 'POSIX modes' : false }, () => {
  const modes: { name: string; existingMode?: number; options?: Parameters<typeof replaceFileSync>[2]; mode: number }[] = [
    { name: "a new file is the owner's alone (0600)", mode: 0o600 },
    { name: "an existing file keeps its mode (the target's, not a default)", existingMode: 0o640, options: { newFileMode: 0o600 }, mode: 0o640 },
    { name: 'a forced mode wins over the existing one (the token cache is always 0600)', existingMode: 0o644, options: { mode: 0o600 }, mode: 0o600 },
  ];
  for (const c of modes) {
    test(c.name, () => {
      const path = join(fresh(), 'config');
      if (c.existingMode !== undefined) writeFileSync(path, 'old', { mode: c.existingMode });
      replaceFileSync(path, 'new', c.options);
      assert.equal(readFileSync(path, 'utf8'), 'new');
      assert.equal(modeOf(path), c.mode);
    });
  }

  test('a symlinked kubeconfig is replaced where it points; the link stays', () => {
    const dir = fresh();
    const real = join(dir, 'dotfiles-config');
    const link = join(dir, 'config');
    writeFileSync(real, 'old', { mode: 0o600 });
    symlinkSync(real, link);
    replaceFileSync(link, 'new');
    assert.ok(lstatSync(link).isSymbolicLink());
    assert.equal(readFileSync(real, 'utf8'), 'new');
  });

  test('with replaceSymlink a symlinked cache file is replaced by a regular file and the file it pointed to is left alone', () => {
    const dir = fresh();
    const elsewhere = join(dir, 'elsewhere');
    const link = join(dir, 'cache');
    writeFileSync(elsewhere, 'planted', { mode: 0o644 });
    symlinkSync(elsewhere, link);
    replaceFileSync(link, 'new', { mode: 0o600, replaceSymlink: true });
    assert.ok(lstatSync(link).isFile());
    assert.equal(readFileSync(link, 'utf8'), 'new');
    assert.equal(modeOf(link), 0o600);
    assert.equal(readFileSync(elsewhere, 'utf8'), 'planted');
  });

  test('the temp file is made in the target\'s directory and removed when the rename fails', () => {
    const dir = fresh();
    const target = join(dir, 'config');
    mkdirSync(target); // a directory where the file should be: rename fails
    assert.throws(() => replaceFileSync(target, 'new'), /EISDIR|ENOTEMPTY|EEXIST|EPERM/);
    assert.deepEqual(readdirSync(dir), ['config']);
  });

  test('leaves no temp file behind and never the old pid-named one', () => {
    const dir = fresh();
    const path = join(dir, 'config');
    // What an attacker could have planted under the old predictable name: left alone, not written through.
    writeFileSync(`${path}.${process.pid}.tmp`, 'planted');
    replaceFileSync(path, 'new');
    assert.deepEqual(readdirSync(dir).sort(), ['config', `config.${process.pid}.tmp`]);
    assert.equal(readFileSync(`${path}.${process.pid}.tmp`, 'utf8'), 'planted');
  });
});
