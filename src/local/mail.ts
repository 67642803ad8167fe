/**
 * Local stand-in for SES: aws-ses-v2-local on loopback. Gatehouse's SES adapter sends to it
 * over the SES v2 wire protocol; people read the mail in its web inbox (`inboxUrl`), tests
 * through `messages()` (its `/store` JSON).
 *
 * The emulator keeps its inbox in module state: every stand-in in one process shares it, so
 * readers filter by recipient and time.
 */
import { createRequire } from 'node:module';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { startLocalInbox } from './inbox.ts';

/** One mail as the emulator stores it. */
export interface LocalMail {
  messageId: string;
  from: string;
  destination: { to: string[]; cc: string[]; bcc: string[] };
  subject: string;
  body: { text?: string; html?: string };
  /** Epoch seconds. */
  at: number;
}

export interface LocalMailServer {
  /** SES endpoint for the SDK client. */
  endpoint: string;
  /** Web inbox for people (inbox.ts: every mail's text with its links clickable). */
  inboxUrl: string;
  /** Mail sent so far, oldest first; optionally only that to one address. */
  messages(to?: string): Promise<LocalMail[]>;
  close(): Promise<void>;
}

const require = createRequire(import.meta.url);
const sesLocal = require('aws-ses-v2-local') as { default: (config: { host: string; port: number }) => Promise<Server> };

export async function startLocalMail(options: { host?: string; port?: number } = {}): Promise<LocalMailServer> {
  const host = options.host ?? '127.0.0.1';
  const server = await sesLocal.default({ host, port: options.port ?? 0 });
  const { port } = server.address() as AddressInfo;
  const endpoint = `http://${host}:${port}`;
  const messages = async (to?: string): Promise<LocalMail[]> => {
    const response = await fetch(`${endpoint}/store`);
    if (!response.ok) throw new Error(`local mail inbox answered ${response.status}`);
    const { emails } = (await response.json()) as { emails: LocalMail[] };
    if (to === undefined) return emails;
    return emails.filter((mail) => mail.destination.to.some((address) => address.toLowerCase() === to.toLowerCase()));
  };
  const inbox = await startLocalInbox({ host, messages: () => messages() });
  return {
    endpoint,
    inboxUrl: inbox.url,
    messages,
    async close() {
      await inbox.close();
      server.closeAllConnections();
      await new Promise<void>((resolve, reject) => server.close((error) => (error ? reject(error) : resolve())));
    },
  };
}
