/**
 * The recordings list a page at a time: recordings written by the real store and their calls'
 * records by the real records adapter into the S3 stand-in (s3rver, which speaks
 * ListObjects with MaxKeys and a marker); the list page is followed link by link,
 * as a reader would, until it has no "Older sessions" link. Every recording appears exactly
 * once, no page holds more than the page size, days come newest first, and a page parameter the
 * list did not make is refused with 400 naming why. Time is frozen by an injected clock.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { Hono } from 'hono';
import { createS3RecordingObjects } from '../../src/adapters/s3-recordings.ts';
import { createS3Records } from '../../src/adapters/s3-records.ts';
import { LOCAL_RECORDS_BUCKET, localRecordsDirectory, startLocalS3, type LocalS3 } from '../../src/local/s3.ts';
import { encodeCursor } from '../../src/recordings/listing.ts';
import { NO_REDACTION } from '../../src/recordings/redactor.ts';
import { RECORDINGS_PATH, recordingRoutes } from '../../src/recordings/routes.ts';
import { createRecordingStore } from '../../src/recordings/store.ts';
import { ALL_SESSIONS, signViewLink } from '../../src/recordings/view-link.ts';
import { recordingColumns } from '../../src/records/build.ts';
import { toRecordLine } from '../../src/records/record-line.ts';
import { aRecord } from '../records/support.ts';

const NOW = Date.parse('2025-03-03T18:00:00.000Z');
const PAGE_SIZE = 3;
/** 8 recordings: 4 today, 1 yesterday, 3 the day before; one of today's has no record (lost). */
const SESSIONS = [
  ...['t1', 't2', 't3', 't4'].map((id, i) => ({ id, startedAt: `2025-03-03T1${i}:00:00.000Z` })),
  { id: 'y1', startedAt: '2025-03-02T09:00:00.000Z' },
  ...['b1', 'b2', 'b3'].map((id, i) => ({ id, startedAt: `2025-03-01T0${i}:30:00.000Z` })),
];
const WITHOUT_RECORD = 't3';

const key = randomBytes(32);
let dir: string;
let s3: LocalS3;
let app: Hono;
let token: string;

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'gatehouse-list-pages-'));
  s3 = await startLocalS3({ directory: localRecordsDirectory(dir) });
  const objects = createS3RecordingObjects({ bucket: LOCAL_RECORDS_BUCKET, clientConfig: s3.clientConfig });
  const archive = createS3Records({ bucket: LOCAL_RECORDS_BUCKET, clientConfig: s3.clientConfig });
  const store = createRecordingStore({ objects, prefix: 'recordings/', maxBytes: 1 << 20, redactionFor: async () => NO_REDACTION });
  const lines = [];
  for (const s of SESSIONS) {
    const recorder = await store.open({ requestId: s.id, kind: 'exec', user: 'alice@example.com', namespace: 'payments', pod: 'db-0', command: ['sh'], tty: true, startedAt: s.startedAt });
    recorder.data('stdout', Buffer.from(`session ${s.id}\r\n`), 10);
    const summary = await recorder.close('client closed', 1000);
    if (s.id === WITHOUT_RECORD) continue;
    lines.push(
      toRecordLine(aRecord({ request_id: s.id, started_at: s.startedAt, subresource: 'exec', resource: 'pods', namespace: 'payments', object_name: 'db-0', status_code: 101, ...recordingColumns(summary) })),
    );
  }
  await archive.put(lines);
  const signingKey = { key: async () => key };
  app = recordingRoutes({ archive, objects, prefix: 'recordings/', signingKey, clock: { now: () => NOW }, pageSize: PAGE_SIZE });
  token = await signViewLink(key, { viewer: 'auditor@example.com', scope: ALL_SESSIONS, expiresAt: NOW + 3_600_000 }, NOW);
});

after(async () => {
  await s3?.close();
  rmSync(dir, { recursive: true, force: true });
});

interface ListPage {
  status: number;
  html: string;
  /** Request ids of the rows, in order. */
  ids: string[];
  next: string | undefined;
  first: string | undefined;
}

async function open(url: string): Promise<ListPage> {
  const response = await app.request(url.slice(RECORDINGS_PATH.length) || '/');
  const html = await response.text();
  const href = (id: string): string | undefined => new RegExp(`<a href="([^"]+)" id="${id}">`).exec(html)?.[1]?.replaceAll('&amp;', '&');
  return { status: response.status, html, ids: [...html.matchAll(/<tr data-request-id="([^"]+)">/g)].map((m) => m[1] as string), next: href('next-page'), first: href('first-page') };
}

describe('the recordings list, a page at a time', () => {
  test('following "Older sessions" lists every recording once, newest day first, no page over the page size', async () => {
    const pages: ListPage[] = [];
    let url: string | undefined = `${RECORDINGS_PATH}?t=${encodeURIComponent(token)}`;
    while (url !== undefined) {
      const page = await open(url);
      assert.equal(page.status, 200, page.html);
      pages.push(page);
      assert.ok(pages.length <= SESSIONS.length, 'the pages end');
      url = page.next;
    }
    assert.ok(pages.every((page) => page.ids.length <= PAGE_SIZE));
    const listed = pages.flatMap((page) => page.ids);
    assert.deepEqual([...listed].sort(), SESSIONS.map((s) => s.id).sort(), 'each recording once');
    const dayOf = (id: string): string => SESSIONS.find((s) => s.id === id)?.startedAt.slice(0, 10) ?? '';
    assert.deepEqual(listed.map(dayOf), [...listed.map(dayOf)].sort().reverse(), 'newest day first');
    assert.equal(pages[0]?.first, undefined, 'the first page links no first page');
    assert.ok(pages.slice(1).every((page) => page.first === `${RECORDINGS_PATH}?t=${encodeURIComponent(token)}`), 'later pages link the first');
    assert.ok(pages.length >= Math.ceil(SESSIONS.length / PAGE_SIZE));
  });

  test('a recording whose call has no record is listed, linked, and said to have none', async () => {
    let url: string | undefined = `${RECORDINGS_PATH}?t=${encodeURIComponent(token)}`;
    let html = '';
    while (url !== undefined && !html.includes(`data-request-id="${WITHOUT_RECORD}"`)) {
      const page = await open(url);
      html = page.html;
      url = page.next;
    }
    assert.match(html, new RegExp(`<tr data-request-id="${WITHOUT_RECORD}"><td><a href="${RECORDINGS_PATH}/2025-03-03/${WITHOUT_RECORD}\\?t=[^"]+">2025-03-03</a></td><td colspan="5" class="muted">request ${WITHOUT_RECORD}: no record of the call found`));
  });

  test('a day range keeps the days param on the page links', async () => {
    const page = await open(`${RECORDINGS_PATH}?t=${encodeURIComponent(token)}&days=2`);
    assert.equal(page.status, 200);
    assert.match(page.next ?? '', /&days=2&page=/);
    const rest = await open(page.next ?? '');
    assert.ok(rest.ids.every((id) => !id.startsWith('b')), 'the day before yesterday is outside two days');
  });

  const refused: { name: string; page: string; message: RegExp }[] = [
    { name: 'a page parameter that is not base64url', page: 'not%20base64!', message: /the page parameter is not a page of this list: not base64url of a bounded size/ },
    { name: 'a page of a day outside the range listed', page: encodeCursor({ day: '2025-02-01' }), message: /the page parameter is not a page of this list: its day is not one of 2025-02-25 … 2025-03-03/ },
    { name: 'a cursor whose resume point is no request id (a key elsewhere in the bucket)', page: Buffer.from(JSON.stringify({ d: '2025-03-03', a: '../../records/x' })).toString('base64url'), message: /the page parameter is not a page of this list: it names no request id to resume after/ },
  ];
  for (const c of refused) {
    test(`refuses ${c.name} with 400, naming why`, async () => {
      const page = await open(`${RECORDINGS_PATH}?t=${encodeURIComponent(token)}&page=${c.page}`);
      assert.equal(page.status, 400, page.html);
      assert.match(page.html, c.message);
    });
  }
});
