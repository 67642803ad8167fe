/** @jsxImportSource hono/jsx */
/**
 * The recordings pages (Hono JSX, rendered on the server): the list of recorded exec, attach
 * and port-forward sessions, and one session's recording played in the browser by
 * asciinema-player, whose script and stylesheet Gatehouse serves itself (no CDN). The one
 * inline script starts the player; it is allowed by its hash, and the player's WebAssembly
 * terminal by `'wasm-unsafe-eval'`, in the page's Content-Security-Policy.
 */
import { createHash } from 'node:crypto';
import type { FC, PropsWithChildren } from 'hono/jsx';
import { raw } from 'hono/html';
import type { HtmlEscapedString } from 'hono/utils/html';
import { PAGE_STYLE } from '../approvals/page.tsx';
import { printable } from '../printable.ts';
import type { SessionRecord } from '../records/schema.ts';
import type { CastHeader } from './asciicast.ts';
import type { RecordingRow } from './listing.ts';

const EXTRA_STYLE = `
table{border-collapse:collapse;width:100%;font-size:.9rem}th,td{text-align:left;padding:.35rem .5rem;border-bottom:1px solid #dde1e7;vertical-align:top}
#player{margin-top:.5rem}main.wide{max-width:1100px}
`;

/** Starts the player on `#player` from its data attributes (no value of the page is inside the script). */
const PLAYER_SCRIPT =
  "const e=document.getElementById('player');" +
  "window.gatehousePlayer=AsciinemaPlayer.create(e.dataset.cast,e,{cols:Number(e.dataset.cols),rows:Number(e.dataset.rows),autoPlay:true,idleTimeLimit:2,fit:'width'});";
export const PLAYER_SCRIPT_HASH = `'sha256-${createHash('sha256').update(PLAYER_SCRIPT).digest('base64')}'`;

const Layout: FC<PropsWithChildren<{ title: string; assets: string; player?: boolean }>> = ({ title, assets, player, children }) => (
  <html lang="en">
    <head>
      <meta charset="utf-8" />
      <meta name="viewport" content="width=device-width, initial-scale=1" />
      <meta name="robots" content="noindex" />
      {/* No /favicon.ico request: that path is the cluster's, not Gatehouse's. */}
      <link rel="icon" href="data:," />
      <title>{title}</title>
      <style>{PAGE_STYLE + EXTRA_STYLE}</style>
      {player === true ? <link rel="stylesheet" href={`${assets}/asciinema-player.css`} /> : null}
    </head>
    <body>
      <main class="wide">{children}</main>
      {player === true ? <script src={`${assets}/asciinema-player.min.js`}></script> : null}
      {player === true ? <script>{raw(PLAYER_SCRIPT)}</script> : null}
    </body>
  </html>
);

export interface SessionListProps {
  viewer: string;
  rows: readonly RecordingRow[];
  from: string;
  to: string;
  /** Link to one session's page. */
  linkTo(row: RecordingRow): string;
  /** The next page of the list; undefined on the last. */
  nextUrl: string | undefined;
  /** The first page; undefined on it. */
  firstUrl: string | undefined;
  assets: string;
}

const SessionList: FC<SessionListProps> = ({ viewer, rows, from, to, linkTo, nextUrl, firstUrl, assets }) => (
  <Layout title="Recorded sessions" assets={assets}>
    <h1>Recorded sessions</h1>
    <p class="muted">
      exec, attach and port-forward sessions from {from} to {to} (UTC), newest day first, a page at a time. Shown to {printable(viewer)}.
    </p>
    {rows.length === 0 ? (
      <p class="card" id="empty">
        {firstUrl === undefined ? 'No recorded sessions in these days.' : 'No more recorded sessions in these days.'}
      </p>
    ) : (
      <div class="card">
        <table id="sessions">
          <thead>
            <tr>
              <th>started (UTC)</th>
              <th>user</th>
              <th>what</th>
              <th>pod</th>
              <th>lasted</th>
              <th>ended</th>
            </tr>
          </thead>
          <tbody>
            {rows.map((row) => {
              const record = row.record;
              if (record === undefined) {
                return (
                  <tr data-request-id={row.requestId}>
                    <td>
                      <a href={linkTo(row)}>{row.day}</a>
                    </td>
                    <td colspan={5} class="muted">
                      request {printable(row.requestId)}: no record of the call found (not written yet, or lost); the recording says who and what
                    </td>
                  </tr>
                );
              }
              return (
                <tr data-request-id={row.requestId}>
                  <td>
                    <a href={linkTo(row)}>{record.started_at.replace('T', ' ').slice(0, 19)}</a>
                  </td>
                  <td>{printable(record.user_name ?? '')}</td>
                  <td>{printable(describeWhat(record))}</td>
                  <td>{printable(`${record.namespace ?? ''}/${record.object_name ?? ''}`)}</td>
                  <td>{record.stream_duration_ms === null ? '' : `${Math.round(record.stream_duration_ms / 1000)} s`}</td>
                  <td>
                    {printable(record.stream_end_reason ?? '')}
                    {record.recording_truncated === true ? ' (recording truncated)' : ''}
                  </td>
                </tr>
              );
            })}
          </tbody>
        </table>
      </div>
    )}
    {nextUrl === undefined && firstUrl === undefined ? null : (
      <p id="pages">
        {firstUrl === undefined ? null : (
          <a href={firstUrl} id="first-page">
            Newest
          </a>
        )}
        {firstUrl !== undefined && nextUrl !== undefined ? ' · ' : null}
        {nextUrl === undefined ? null : (
          <a href={nextUrl} id="next-page">
            Older sessions
          </a>
        )}
      </p>
    )}
  </Layout>
);

/** `exec: sh -i`, `portforward: 5432`, `exec: tar cf - /data (2 files)`. */
function describeWhat(record: SessionRecord): string {
  const kind = record.subresource ?? 'session';
  if (record.forward_ports !== null) return `${kind}: ${record.forward_ports.join(', ')}`;
  const command = new URLSearchParams(record.query ?? '').getAll('command').join(' ');
  const files = record.stream_files === null ? '' : ` (${record.stream_files.length} files)`;
  return `${kind}${command === '' ? '' : `: ${command}`}${files}`;
}

export interface PlayerPageProps {
  viewer: string;
  header: CastHeader;
  castUrl: string;
  listUrl: string | undefined;
  assets: string;
}

const PlayerPage: FC<PlayerPageProps> = ({ viewer, header, castUrl, listUrl, assets }) => {
  const g = header.gatehouse;
  return (
    <Layout title={`Recording: ${printable(header.title)}`} assets={assets} player>
      <h1>
        Recording of {g.kind === 'portforward' ? 'a port-forward' : `an ${g.kind}`} session
      </h1>
      <div class="card">
        <dl>
          <dt>user</dt>
          <dd id="user">{printable(g.user)}</dd>
          <dt>pod</dt>
          <dd>{printable(`${g.namespace}/${g.pod}${g.container === null ? '' : ` (container ${g.container})`}`)}</dd>
          {g.command === null ? null : (
            <>
              <dt>command</dt>
              <dd id="command">{printable(g.command.join(' '))}</dd>
            </>
          )}
          <dt>started (UTC)</dt>
          <dd>{new Date(header.timestamp * 1000).toISOString().replace('T', ' ').slice(0, 19)}</dd>
          <dt>ended</dt>
          <dd id="end-reason">{g.end_reason === null ? 'not recorded: Gatehouse stopped before the session ended' : printable(g.end_reason)}</dd>
          <dt>request id</dt>
          <dd>{printable(g.request_id)}</dd>
        </dl>
        {g.truncated ? <p class="status error">The recording was cut at the size cap; a marker shows where.</p> : null}
        <p class="muted">
          Output on stderr plays with stdout, in the order it came. Values the policy redacts show as [REDACTED]. Shown to {printable(viewer)}.
          {listUrl === undefined ? null : (
            <>
              {' '}
              <a href={listUrl}>All recorded sessions</a>
            </>
          )}
        </p>
      </div>
      <div id="player" data-cast={castUrl} data-cols={String(header.width)} data-rows={String(header.height)}></div>
    </Layout>
  );
};

export function sessionListHtml(props: SessionListProps): HtmlEscapedString | Promise<HtmlEscapedString> {
  return <SessionList {...props} />;
}

export function playerPageHtml(props: PlayerPageProps): HtmlEscapedString | Promise<HtmlEscapedString> {
  return <PlayerPage {...props} />;
}
