#!/usr/bin/env node
// Runs every test/**/*.test.ts with Node's own test runner (tsx as the loader for the test
// files and the modules they import), after building dist/ once: the tests of the CLI, the
// server process and the credential plugin run the built bin/gatehouse.mjs, as users do.
// Usage: node test/run.mjs [substring …]  — only files whose path contains one of the substrings.
import { readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { realServerForRun } from './kube/availability.mjs';

const root = fileURLToPath(new URL('..', import.meta.url));
const testDir = join(root, 'test');

function walk(dir) {
  return readdirSync(dir).flatMap((entry) => {
    const full = join(dir, entry);
    if (statSync(full).isDirectory()) return entry === 'fixtures' ? [] : walk(full);
    return entry.endsWith('.test.ts') ? [full] : [];
  });
}

const filters = process.argv.slice(2);
const files = walk(testDir)
  .map((f) => relative(root, f))
  .filter((f) => filters.length === 0 || filters.some((s) => f.includes(s)))
  .sort();
if (files.length === 0) {
  console.error(`no test files match ${filters.join(', ') || 'test/**/*.test.ts'}`);
  process.exit(1);
}
const built = spawnSync(process.execPath, [join(root, 'scripts/build.mjs')], { cwd: root, stdio: 'inherit' });
if (built.status !== 0) {
  console.error('the build failed (scripts/build.mjs); no tests were run');
  process.exit(built.status ?? 1);
}
// Files that start a real kube-apiserver need it built first (test/kube/availability.mjs).
const realServer = realServerForRun(files.map((f) => join(root, f)));
if (realServer.notice) console.error(realServer.notice);
const result = spawnSync(
  process.execPath,
  ['--import', 'tsx', '--test', '--test-concurrency=2', '--test-timeout=240000', ...files],
  { cwd: root, stdio: 'inherit', env: { ...process.env, ...realServer.env } },
);
if (realServer.notice) console.error(realServer.notice);
process.exit(result.status ?? 1);
