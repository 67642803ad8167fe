/**
 * The recordings pages of a running local Gatehouse, in headless Chromium: a link minted by
 * the built CLI (`gatehouse sessions link`) opens the list, the list opens a recording, and
 * asciinema-player — served by Gatehouse itself — plays it: the test reads the player's
 * terminal text from the DOM and saves a screenshot. Links are checked: none, forged, for
 * another recording, expired.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, test } from 'node:test';
import type { Browser } from 'playwright-core';
import { launchChromium } from '../support/chromium.ts';
import { LOCAL_SIGNING_KEY_FILE } from '../../src/local/signing-key.ts';
import { buildRecord, recordingColumns } from '../../src/records/build.ts';
import type { RecordingStore, RecordingSummary } from '../../src/ports/recordings.ts';
import { createS3RecordingObjects } from '../../src/adapters/s3-recordings.ts';
import { LOCAL_RECORDS_BUCKET, localRecordsDirectory, startLocalS3 } from '../../src/local/s3.ts';
import { NO_REDACTION } from '../../src/recordings/redactor.ts';
import { createRecordingStore } from '../../src/recordings/store.ts';
import { signViewLink } from '../../src/recordings/view-link.ts';
import { startHarness } from '../support/harness.ts';
import type { Harness } from '../support/harness.ts';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const REQUEST_ID = 'f00dcafe-0000-4000-8000-00000000beef';
const STARTED = new Date().toISOString();
const DATE = STARTED.slice(0, 10);

let h: Harness;
let browser: Browser;
let summary: RecordingSummary;


function link(...args: string[]): string {
  const result = spawnSync(
    process.execPath,
    [join(ROOT, 'bin/gatehouse.mjs'), 'sessions', 'link', ...args, '--viewer', 'auditor@example.com', '--url', h.gatehouse.url, '--local', join(h.dir, 'state')],
    { encoding: 'utf8', timeout: 60_000 },
  );
  assert.equal(result.status, 0, result.stderr);
  return result.stdout.trim();
}

async function recordSession(recordings: RecordingStore): Promise<RecordingSummary> {
  const recorder = await recordings.open({
    requestId: REQUEST_ID,
    kind: 'exec',
    user: 'you@example.com',
    namespace: 'payments',
    pod: 'db-0',
    command: ['sh'],
    tty: true,
    size: { cols: 60, rows: 12 },
    startedAt: STARTED,
  });
  recorder.data('stdout', Buffer.from('$ '), 50);
  recorder.data('stdin', Buffer.from('echo hello from the pod\r'), 400);
  recorder.data('stdout', Buffer.from('echo hello from the pod\r\nhello from the pod\r\n'), 450);
  recorder.data('stderr', Buffer.from('warning: on stderr\r\n'), 500);
  recorder.data('stdout', Buffer.from('$ '), 520);
  return recorder.close('client closed', 900);
}

before(async () => {
  h = await startHarness();
  const records = h.gatehouse.records;
  assert.ok(records !== undefined, 'the local Gatehouse writes session records');
  // The recording is written by the real store into the state dir's S3 objects (through a
  // second stand-in on the same folder, as harness.records() reads them), whatever store the
  // harness gives the tunnel.
  const s3 = await startLocalS3({ directory: localRecordsDirectory(join(h.dir, 'state')) });
  try {
    const recordings = createRecordingStore({
      objects: createS3RecordingObjects({ bucket: LOCAL_RECORDS_BUCKET, clientConfig: s3.clientConfig }),
      prefix: 'recordings/',
      maxBytes: 1 << 20,
      redactionFor: async () => NO_REDACTION,
    });
    summary = await recordSession(recordings);
  } finally {
    await s3.close();
  }
  const record = buildRecord(
    'outcome',
    {
      requestId: REQUEST_ID,
      startedAtMs: Date.parse(STARTED),
      runtime: 'node',
      cluster: 'default',
      method: 'POST',
      path: '/api/v1/namespaces/payments/pods/db-0/exec',
      query: 'command=sh&stdin=true&stdout=true&tty=true',
      sourceIp: '127.0.0.1',
      headers: { kubectlSession: 'sess-page', kubectlCommand: 'kubectl exec', userAgent: 'kubectl/v1.33.0', forwardedFor: null, contentType: null },
    },
    { identity: { user: 'you@example.com', groups: ['dev'], claims: {} }, requestBody: { text: null, bytes: 0, truncated: false, masked: false } },
    {
      finishedAtMs: Date.parse(STARTED) + 900,
      statusCode: 101,
      upstreamStatus: 101,
      error: undefined,
      responseContentType: null,
      responseBody: { text: null, bytes: 0, truncated: false, masked: false },
      maskedInResponse: false,
      streamEnd: 'upgraded',
      recording: summary,
    },
  );
  records.write({ ...record, verb: 'create', resource: 'pods', subresource: 'exec', namespace: 'payments', object_name: 'db-0', is_resource_request: true });
  await records.flush();
  browser = await launchChromium();
});

after(async () => {
  await browser?.close();
  await h?.close();
});

describe('recordings page (Chromium)', () => {
  test('the list links to the recording, and the player plays the recorded terminal', async () => {
    assert.equal(recordingColumns(summary).recording_key, `recordings/dt=${DATE}/${REQUEST_ID}.cast.gz`);
    const context = await browser.newContext({ ignoreHTTPSErrors: true });
    try {
      const page = await context.newPage();
      const failures: string[] = [];
      page.on('pageerror', (error) => failures.push(error.message));
      page.on('console', (message) => {
        if (message.type() === 'error') failures.push(message.text());
      });
      page.on('response', (response) => {
        if (response.status() >= 400) failures.push(`${response.status()} ${response.url()}`);
      });
      const listResponse = await page.goto(link());
      assert.equal(listResponse?.status(), 200);
      const row = page.locator('#sessions tbody tr');
      assert.equal(await row.count(), 1);
      assert.match(await row.innerText(), /you@example\.com\s+exec: sh\s+payments\/db-0\s+1 s\s+client closed/);
      await row.locator('a').click();
      await page.waitForURL(new RegExp(`/_gatehouse/recordings/${DATE}/${REQUEST_ID}\\?t=`));
      assert.equal(await page.locator('#end-reason').innerText(), 'client closed');
      // The player's own DOM: the text layer of its terminal shows what the pod printed.
      // It plays with the recorded timing: wait for the last event (the prompt after stderr), not only the one before it.
      await page.waitForFunction(() => /warning: on stderr\s+\$/.test(document.querySelector('#player pre.ap-term-text')?.textContent ?? ''), undefined, { timeout: 90_000 });
      const terminal = await page.locator('#player pre.ap-term-text').innerText();
      assert.match(terminal, /\$ echo hello from the pod\s+hello from the pod\s+warning: on stderr\s+\$/);
      const screenshot = join(h.dir, 'recording-player.png');
      await page.screenshot({ path: screenshot, fullPage: true });
      assert.ok(existsSync(screenshot) && statSync(screenshot).size > 1000, 'a screenshot of the played terminal');
      assert.deepEqual(failures, [], 'no script error, nothing refused by the Content-Security-Policy');
    } finally {
      await context.close();
    }
  });

  test('the player script and stylesheet come from Gatehouse itself, as the package ships them', async () => {
    // The local Gatehouse speaks TLS with its own CA: read through the browser's request client.
    const context = await browser.newContext({ ignoreHTTPSErrors: true });
    try {
      const page = await context.newPage();
      const served = await page.request.get(`${h.gatehouse.url}/_gatehouse/recordings/assets/asciinema-player.min.js`);
      assert.equal(served.status(), 200);
      assert.equal(served.headers()['content-type'], 'text/javascript; charset=utf-8');
      const shipped = readFileSync(join(ROOT, 'node_modules/asciinema-player/dist/bundle/asciinema-player.min.js'));
      assert.ok(Buffer.from(await served.body()).equals(shipped));
    } finally {
      await context.close();
    }
  });

  const refusals: { name: string; url: () => Promise<string> | string; message: RegExp }[] = [
    { name: 'a page without a link token is refused', url: () => `${h.gatehouse.url}/_gatehouse/recordings`, message: /this recordings link is not valid: it carries no token/ },
    {
      name: 'a link for one recording does not open the list',
      url: () => link(REQUEST_ID, '--date', DATE).replace(`/${DATE}/${REQUEST_ID}`, ''),
      message: /this recordings link is not valid: it opens one recording, not the list of sessions/,
    },
    {
      name: 'a link for one recording does not open another',
      url: () => link('another-request', '--date', DATE).replace('another-request', REQUEST_ID),
      message: new RegExp(`this recordings link is not valid: it opens another recording, not ${REQUEST_ID}`),
    },
    {
      name: 'a link signed with another key is refused',
      url: async () => {
        const token = await signViewLink(new Uint8Array(32).fill(7), { viewer: 'mallory', scope: '*', expiresAt: Date.now() + 60_000 }, Date.now());
        return `${h.gatehouse.url}/_gatehouse/recordings?t=${token}`;
      },
      message: /this recordings link is not valid: its signature does not match \(forged or altered\)/,
    },
    {
      name: 'an expired link is refused',
      url: async () => {
        const key = Buffer.from(readFileSync(join(h.dir, 'state', LOCAL_SIGNING_KEY_FILE), 'utf8').trim(), 'base64url');
        const token = await signViewLink(key, { viewer: 'auditor', scope: '*', expiresAt: Date.now() - 120_000 }, Date.now() - 600_000);
        return `${h.gatehouse.url}/_gatehouse/recordings?t=${token}`;
      },
      message: /this recordings link is not valid: it expired/,
    },
  ];
  for (const c of refusals) {
    test(c.name, async () => {
      const context = await browser.newContext({ ignoreHTTPSErrors: true });
      try {
        const response = await context.request.get(await c.url());
        assert.equal(response.status(), 403);
        assert.match(await response.text(), c.message);
      } finally {
        await context.close();
      }
    });
  }
});
