/**
 * The recordings pages under /_gatehouse/recordings/ (Node runtime):
 *   GET ?t=…[&days=N][&page=…]     recorded sessions of the last `days` (default 7, at most 31),
 *                                  a bounded page at a time (listing.ts), newest day first
 *   GET /<dt>/<request id>?t=…     one recording, played in the browser
 *   GET /<dt>/<request id>/cast?t=… the recording itself (asciicast v2), for the player
 *   GET /assets/…                  asciinema-player's script and stylesheet, from node_modules
 * Every page and the cast need a signed view link (view-link.ts): the list a link for all
 * sessions, a recording a link for it or for all. Only GETs: nothing here changes anything.
 * Failures render as an HTML page carrying the error's status code and message.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Hono } from 'hono';
import type { Context } from 'hono';
import { PAGE_SCRIPT_HASH } from '../approvals/page.tsx';
import { GatehouseError } from '../errors.ts';
import { ownPageErrors, ownPageHeaders } from '../own-pages.ts';
import type { SigningKeyProvider } from '../ports/approvals.ts';
import type { RecordArchive } from '../ports/records.ts';
import type { Clock } from '../types.ts';
import { parseCast } from './asciicast.ts';
import { PLAYER_SCRIPT_HASH, playerPageHtml, sessionListHtml } from './page.tsx';
import { decodeCursor, encodeCursor, RECORDINGS_PAGE_SIZE, recordingsPage } from './listing.ts';
import { readRecordingText } from './read.ts';
import type { RecordingObjects } from './store.ts';
import { recordingKey } from './store.ts';
import { ALL_SESSIONS, verifyViewLink } from './view-link.ts';

export const RECORDINGS_PATH = '/_gatehouse/recordings';
const ASSETS_PATH = `${RECORDINGS_PATH}/assets`;

export interface RecordingViewer {
  archive: RecordArchive;
  objects: RecordingObjects;
  /** Key prefix of recordings (`records.recordingsPrefix`). */
  prefix: string;
  signingKey: SigningKeyProvider;
  clock: Clock;
  /** Rows per page of the list (default RECORDINGS_PAGE_SIZE, 50). */
  pageSize?: number;
}

const PAGE_HEADERS = ownPageHeaders(
  `default-src 'none'; script-src 'self' 'wasm-unsafe-eval' ${PLAYER_SCRIPT_HASH} ${PAGE_SCRIPT_HASH}; style-src 'self' 'unsafe-inline'; connect-src 'self'; img-src 'self' data:; font-src 'self' data:; form-action 'none'; frame-ancestors 'none'; base-uri 'none'`,
);

/** The player's files, as the package ships them (resolved and read once, on first use). */
const ASSETS: Record<string, { path: () => string; type: string }> = {
  'asciinema-player.min.js': { path: () => fileURLToPath(import.meta.resolve('asciinema-player/dist/bundle/asciinema-player.min.js')), type: 'text/javascript; charset=utf-8' },
  'asciinema-player.css': { path: () => fileURLToPath(import.meta.resolve('asciinema-player/dist/bundle/asciinema-player.css')), type: 'text/css; charset=utf-8' },
};
const loaded = new Map<string, Buffer>();
function asset(name: string, path: () => string): Buffer {
  let bytes = loaded.get(name);
  if (bytes === undefined) {
    bytes = readFileSync(path());
    loaded.set(name, bytes);
  }
  return bytes;
}

const TITLES: Partial<Record<string, string>> = {
  ERR_VIEW_LINK_INVALID: 'Invalid recordings link',
  ERR_NOT_FOUND: 'Recording not found',
  ERR_REQUEST_INVALID: 'Bad request',
  ERR_RECORD_UNAVAILABLE: 'Recordings unavailable',
};

export function recordingRoutes(viewer: RecordingViewer): Hono {
  const app = new Hono();

  app.onError(ownPageErrors('recordings', TITLES, 'Recordings failed', PAGE_HEADERS));

  app.get('/assets/:file', (c) => {
    const name = c.req.param('file');
    const spec = ASSETS[name];
    if (spec === undefined) throw new GatehouseError('ERR_NOT_FOUND', `no asset ${JSON.stringify(name)}`);
    return c.body(new Uint8Array(asset(name, spec.path)), 200, { 'content-type': spec.type, 'cache-control': 'public, max-age=86400', 'x-content-type-options': 'nosniff' });
  });

  app.get('/', async (c) => {
    const token = c.req.query('t') ?? '';
    const claims = await verifyViewLink(await viewer.signingKey.key(), token, ALL_SESSIONS, viewer.clock.now());
    const daysParam = c.req.query('days');
    const days = daysOf(daysParam);
    // Newest first: today (UTC) and the days before it.
    const dates = Array.from({ length: days }, (_, i) => new Date(viewer.clock.now() - i * 86_400_000).toISOString().slice(0, 10));
    const pageParam = c.req.query('page');
    const cursor = pageParam === undefined ? undefined : decodeCursor(pageParam, dates);
    const page = await recordingsPage(viewer, dates, cursor, viewer.pageSize ?? RECORDINGS_PAGE_SIZE);
    const listUrl = (pageCursor: string | undefined): string =>
      `${RECORDINGS_PATH}?t=${encodeURIComponent(token)}${daysParam === undefined ? '' : `&days=${days}`}${pageCursor === undefined ? '' : `&page=${pageCursor}`}`;
    return c.html(
      sessionListHtml({
        viewer: claims.viewer,
        rows: page.rows,
        from: dates.at(-1) as string,
        to: dates[0] as string,
        assets: ASSETS_PATH,
        linkTo: (row) => `${RECORDINGS_PATH}/${row.day}/${encodeURIComponent(row.requestId)}?t=${encodeURIComponent(token)}`,
        nextUrl: page.next === undefined ? undefined : listUrl(encodeCursor(page.next)),
        firstUrl: cursor === undefined ? undefined : listUrl(undefined),
      }),
      200,
      PAGE_HEADERS,
    );
  });

  app.get('/:date/:rid', async (c) => {
    const { date, requestId, token, claims } = await opened(c, viewer);
    const cast = parseCast(await readRecordingText(viewer.objects, recordingKey(viewer.prefix, `${date}T00:00:00.000Z`, requestId)));
    const query = `?t=${encodeURIComponent(token)}`;
    return c.html(
      playerPageHtml({
        viewer: claims.viewer,
        header: cast.header,
        castUrl: `${RECORDINGS_PATH}/${date}/${encodeURIComponent(requestId)}/cast${query}`,
        listUrl: claims.scope === ALL_SESSIONS ? `${RECORDINGS_PATH}${query}` : undefined,
        assets: ASSETS_PATH,
      }),
      200,
      PAGE_HEADERS,
    );
  });

  app.get('/:date/:rid/cast', async (c) => {
    const { date, requestId } = await opened(c, viewer);
    const text = await readRecordingText(viewer.objects, recordingKey(viewer.prefix, `${date}T00:00:00.000Z`, requestId));
    return c.body(text, 200, { ...PAGE_HEADERS, 'content-type': 'application/x-asciicast; charset=utf-8' });
  });

  return app;
}

/** The date and request id of the path, checked, and the link that opens them. */
async function opened(c: Context, viewer: RecordingViewer) {
  const date = c.req.param('date') ?? '';
  const requestId = c.req.param('rid') ?? '';
  if (!/^\d{4}-\d{2}-\d{2}$/.test(date)) throw new GatehouseError('ERR_REQUEST_INVALID', `"${date}" is not a date (YYYY-MM-DD)`);
  if (!/^[A-Za-z0-9._-]{1,128}$/.test(requestId)) throw new GatehouseError('ERR_REQUEST_INVALID', 'the request id in the path is malformed');
  const token = c.req.query('t') ?? '';
  const claims = await verifyViewLink(await viewer.signingKey.key(), token, requestId, viewer.clock.now());
  return { date, requestId, token, claims };
}

function daysOf(value: string | undefined): number {
  if (value === undefined) return 7;
  const days = Number(value);
  if (!Number.isInteger(days) || days < 1 || days > 31) throw new GatehouseError('ERR_REQUEST_INVALID', `days must be a whole number from 1 to 31, not ${JSON.stringify(value)}`);
  return days;
}
