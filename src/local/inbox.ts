/**
 * The local approval inbox for people: one plain page on loopback listing the mail the SES
 * stand-in received, newest first, with each mail's text and its links clickable — the
 * emulator's own inbox shows the HTML part only behind a toggle. Read-only; the mail text is
 * escaped, and only https/http links become anchors.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { LocalMail } from './mail.ts';

export interface LocalInbox {
  url: string;
  close(): Promise<void>;
}

const escapeHtml = (text: string): string => text.replace(/[&<>"']/g, (ch) => `&#${ch.charCodeAt(0)};`);

/** Escaped text with its URLs as links. */
function linked(text: string): string {
  return text
    .split(/(https?:\/\/[^\s<>"']+)/)
    .map((part, i) => (i % 2 === 1 ? `<a href="${escapeHtml(part)}">${escapeHtml(part)}</a>` : escapeHtml(part)))
    .join('');
}

export function inboxHtml(mails: LocalMail[]): string {
  const items = [...mails]
    .reverse()
    .map(
      (mail) =>
        `<article><h2>${escapeHtml(mail.subject)}</h2><p class="meta">to ${escapeHtml(mail.destination.to.join(', '))} · ` +
        `${escapeHtml(new Date(mail.at * 1000).toISOString())}</p><pre>${linked(mail.body.text ?? '')}</pre></article>`,
    )
    .join('');
  return (
    '<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Gatehouse local inbox</title>' +
    '<style>body{font:15px/1.45 system-ui,sans-serif;max-width:900px;margin:2rem auto;padding:0 1rem}article{border:1px solid #dde1e7;border-radius:8px;padding:0 1rem;margin:1rem 0}' +
    'pre{white-space:pre-wrap;word-break:break-all}.meta{color:#5b6575}</style></head><body><h1>Gatehouse local inbox</h1>' +
    `<p class="meta">Approval mail sent by this local Gatehouse (${mails.length}), newest first. Reload for new mail.</p>${items || '<p>No mail yet.</p>'}</body></html>`
  );
}

export async function startLocalInbox(options: { host: string; messages: () => Promise<LocalMail[]> }): Promise<LocalInbox> {
  const server = createServer((req, res) => {
    if (req.method !== 'GET' || (req.url ?? '/') !== '/') {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
      return;
    }
    options.messages().then(
      (mails) => {
        res.writeHead(200, {
          'content-type': 'text/html; charset=utf-8',
          'cache-control': 'no-store',
          'content-security-policy': "default-src 'none'; style-src 'unsafe-inline'",
          'referrer-policy': 'no-referrer',
        });
        res.end(inboxHtml(mails));
      },
      (error: unknown) => res.writeHead(502, { 'content-type': 'text/plain' }).end(`the mail stand-in did not answer: ${String(error)}\n`),
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, options.host, () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://${options.host}:${port}/`,
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
