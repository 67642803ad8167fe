/**
 * The README's walk-through, run as written: `gatehouse serve` started the way `npm start`
 * starts it (HOME without a kubeconfig, so the seeded demo cluster is the upstream; port 0
 * instead of 8443), then every `$ ` command of the README's walk-through console blocks in
 * a shell next to it (a replay's `$ kubectl …` lines are its output), each output compared with the README's (`…` matches anything, runs of
 * spaces match any), `kubectl exec -it` driven through a pseudo-terminal (`script`) line by
 * line, and the approval done where the README says so: in Chromium, from the local inbox.
 * Then Ctrl-C: the process exits 0 and leaves no lock file and no temporary folder.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, realpathSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, dirname, join } from 'node:path';
import type { Browser } from 'playwright-core';
import { launchChromium } from '../support/chromium.ts';

const REPO = new URL('../../', import.meta.url).pathname;
const KUBECTL_DIR = dirname(realpathSync(execFileSync('sh', ['-c', 'command -v kubectl'], { encoding: 'utf8' }).trim()));

type Step = { kind: 'command'; command: string; expected: string[] } | { kind: 'approve' };

/** The walk-through's steps: console commands with the output the README shows, and the approval. */
export function walkThrough(readme: string): Step[] {
  const begin = readme.indexOf('<!-- walk-through: begin -->');
  const end = readme.indexOf('<!-- walk-through: end -->');
  assert.ok(begin !== -1 && end > begin, 'the README marks its walk-through');
  const steps: Step[] = [];
  const parts = readme.slice(begin, end).split(/(```console\n[\s\S]*?```|<!-- walk-through: approve -->)/);
  for (const part of parts) {
    if (part === '<!-- walk-through: approve -->') steps.push({ kind: 'approve' });
    if (!part.startsWith('```console\n')) continue;
    for (const line of part.slice('```console\n'.length, -3).replace(/\n$/, '').split('\n')) {
      const last = steps.at(-1);
      // A replay prints the commands it replays as `$ kubectl …` lines: output, not commands.
      const inReplay = last?.kind === 'command' && last.command.includes('sessions replay');
      if (line.startsWith('$ ') && !inReplay) steps.push({ kind: 'command', command: line.slice(2), expected: [] });
      else if (last?.kind === 'command') last.expected.push(line);
    }
  }
  return steps;
}

/** A README output line as a pattern: `…` is anything, a run of spaces any run of spaces. */
function linePattern(line: string): RegExp {
  const escaped = line
    .split('…')
    .map((piece) => piece.replace(/[.*+?^${}()|[\]\\]/g, '\\$&').replace(/ {2,}/g, '\\s+'))
    .join('.*?');
  return new RegExp(`^${escaped}$`);
}

/** Node's own runtime warnings (on Node 20 the AWS SDK warns that it will need Node 22) are not Gatehouse's output. */
function withoutNodeWarnings(text: string): string {
  return text.replace(/\(node:\d+\) Warning: [\s\S]*?\(Use `node --trace-warnings \.\.\.` to show where the warning was created\)\n/g, '');
}

function outputLines(actual: string): string[] {
  const lines = withoutNodeWarnings(actual).replace(/\r/g, '').replace(/\n+$/, '').split('\n').map((l) => l.trimEnd());
  return lines.length === 1 && lines[0] === '' ? [] : lines;
}

function matches(actual: string, expected: string[]): boolean {
  const shown = outputLines(actual);
  return shown.length === expected.length && expected.every((line, i) => linePattern(line).test(shown[i] ?? ''));
}

function assertOutput(command: string, actual: string, expected: string[]): void {
  const shown = outputLines(actual);
  assert.equal(shown.length, expected.length, `${command}: ${expected.length} lines in the README, got:\n${actual}`);
  expected.forEach((line, i) => assert.match(shown[i] ?? '', linePattern(line), `${command}: line ${i + 1}:\n${actual}`));
}

let dir: string;
let serve: ChildProcess;
let serveOutput = '';
let serveExit: Promise<number | null>;
let browser: Browser;
const env: NodeJS.ProcessEnv = {};

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'gatehouse-readme-'));
  symlinkSync(join(REPO, 'bin'), join(dir, 'bin'));
  Object.assign(env, {
    HOME: dir,
    PATH: `${KUBECTL_DIR}${delimiter}${process.env['PATH'] ?? ''}`,
    LANG: 'C.UTF-8',
    TERM: 'xterm',
  });
  serve = spawn(process.execPath, [join(dir, 'bin', 'gatehouse.mjs'), 'serve', '--port', '0'], { cwd: dir, env, stdio: ['ignore', 'pipe', 'pipe'] });
  serveExit = new Promise((resolve) => serve.once('exit', (code) => resolve(code)));
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`gatehouse serve did not start:\n${serveOutput}`)), 60_000);
    const read = (chunk: Buffer): void => {
      serveOutput += chunk.toString('utf8');
      if (serveOutput.includes('Press Ctrl-C to stop.')) {
        clearTimeout(timer);
        resolve();
      }
    };
    serve.stdout?.on('data', read);
    serve.stderr?.on('data', read);
    serve.once('exit', () => reject(new Error(`gatehouse serve exited:\n${serveOutput}`)));
  });
  browser = await launchChromium();
});

after(async () => {
  await browser?.close();
  if (serve.exitCode === null) serve.kill('SIGKILL');
  rmSync(dir, { recursive: true, force: true });
});

function run(command: string): string {
  try {
    return execFileSync('sh', ['-c', `${command} 2>&1`], { cwd: dir, env, encoding: 'utf8', timeout: 60_000 });
  } catch (error) {
    const failed = error as { stdout?: string; status?: number };
    return failed.stdout ?? '';
  }
}

/** `kubectl exec -it …` in a pseudo-terminal: each line typed after the prompt that precedes it in the README. */
async function runInTerminal(command: string, transcript: string[]): Promise<string> {
  const inputs = transcript.flatMap((line) => {
    const typed = /^\S+:\/\S*# (.*)$/.exec(line);
    return typed === null ? [] : [typed[1] as string];
  });
  const child = spawn('script', ['-qfec', command, '/dev/null'], { cwd: dir, env, stdio: ['pipe', 'pipe', 'pipe'] });
  let output = '';
  let sent = 0;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${command} did not finish; output:\n${output}`)), 60_000);
    const onData = (chunk: Buffer): void => {
      output += chunk.toString('utf8');
      // The shell's prompt ends in "# ": type the next line the README shows.
      const prompts = output.match(/:\/\S*# /g)?.length ?? 0;
      if (prompts > sent && sent < inputs.length) child.stdin?.write(`${inputs[sent++]}\r`);
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onData);
    void exited.then(() => {
      clearTimeout(timer);
      resolve();
    });
  });
  return output;
}

async function approveFromInbox(): Promise<void> {
  const inbox = /approval mail \(local inbox\): (\S+)/.exec(serveOutput)?.[1];
  assert.ok(inbox !== undefined, `npm start prints the inbox URL:\n${serveOutput}`);
  // The README's reader accepts the local CA's warning once (or trusts .gatehouse/ca.crt).
  const context = await browser.newContext({ ignoreHTTPSErrors: true, timezoneId: 'Europe/Berlin' });
  try {
    const page = await context.newPage();
    await page.goto(inbox);
    const link = page.locator('article').first().locator('a[href*="/_gatehouse/approvals/"]');
    assert.equal(await link.count(), 1, 'the inbox shows the approval link');
    await link.click();
    assert.equal(await page.locator('#gatehouse').textContent(), 'local Gatehouse (demo cluster)');
    assert.equal(await page.locator('h1').textContent(), 'you@example.com wants to delete namespaces "prod"');
    // Times in the reader's zone (Berlin), UTC beside.
    assert.match((await page.locator('#status').textContent()) ?? '', /expires .*GMT\+1.* \(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC\)/);
    await Promise.all([page.waitForURL(/\/_gatehouse\/approvals\//), page.getByRole('button', { name: 'Approve' }).click()]);
    assert.equal(await page.locator('#status').getAttribute('data-status'), 'approved');
  } finally {
    await context.close();
  }
}

describe('the README walk-through, as written', () => {
  test('every command prints what the README shows', async () => {
    const steps = walkThrough(readFileSync(join(REPO, 'README.md'), 'utf8'));
    assert.ok(steps.filter((s) => s.kind === 'command').length >= 8, 'the walk-through has its commands');
    for (const step of steps) {
      if (step.kind === 'approve') {
        await approveFromInbox();
        continue;
      }
      const exported = /^export (\w+)=(.*)$/.exec(step.command);
      if (exported !== null) {
        env[exported[1] as string] = run(`echo ${exported[2]}`).trim();
        continue;
      }
      if (/ -it /.test(step.command)) {
        assertOutput(step.command, await runInTerminal(step.command, step.expected), step.expected);
        continue;
      }
      // Records reach the store within a second or so (a busy machine: longer); the session
      // commands read them from there, so they are asked again until the README's answer shows.
      let output = run(step.command);
      for (let tries = 0; step.command.includes(' sessions ') && !matches(output, step.expected) && tries < 40; tries += 1) {
        await new Promise((resolve) => setTimeout(resolve, 500));
        output = run(step.command);
      }
      assertOutput(step.command, output, step.expected);
    }
  });

  test('a second start on the same state folder stops at once, naming the running one', () => {
    const pid = String(serve.pid);
    const second = run('./bin/gatehouse.mjs serve --port 0');
    assert.match(second, new RegExp(`Gatehouse is already running from the state folder ${join(realpathSync(dir), '.gatehouse').replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} \\(PID ${pid}, https://127\\.0\\.0\\.1:\\d+\\)`));
  });

  test('Ctrl-C closes it: exit 0, no lock file, no temporary folder left', async () => {
    const upstreamFolder = /from (\/\S+)\/kubeconfig/.exec(serveOutput)?.[1];
    assert.ok(upstreamFolder !== undefined && existsSync(upstreamFolder), serveOutput);
    serve.kill('SIGINT');
    assert.equal(await serveExit, 0, serveOutput);
    assert.equal(existsSync(join(dir, '.gatehouse', 'gatehouse.pid')), false);
    assert.equal(existsSync(upstreamFolder), false, 'the demo cluster\'s temporary folder is gone');
  });
  test('restarted with its own kubeconfig still exported, Gatehouse refuses to be its own upstream', () => {
    const output = withoutNodeWarnings(run('KUBECONFIG=$PWD/.gatehouse/kubeconfig ./bin/gatehouse.mjs serve --port 0 2>&1; echo "exit code $?"'));
    assert.equal(
      output,
      `invalid configuration in ${join(realpathSync(dir), '.gatehouse', 'kubeconfig')}:\n` +
        "  - the upstream kubeconfig is this Gatehouse's own kubeconfig for its users: Gatehouse would forward every call to itself. " +
        'Point it at a cluster instead (--kubeconfig/--context), or unset KUBECONFIG (the one `npm start` printed) before starting it\nexit code 2\n',
    );
    assert.equal(existsSync(join(dir, '.gatehouse', 'gatehouse.pid')), false, 'the refused start left no lock behind');
  });
});
