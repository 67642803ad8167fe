/**
 * The shutdown extension (functions/shutdown-extension/), started as Lambda starts it — the
 * executable in `extensions/` — against a loopback Extensions API (2020-01-01) that answers as
 * Lambda's does (docs.aws.amazon.com/lambda/latest/dg/runtimes-extensions-api.html): register
 * with the extension's name and events, then long-polled `event/next` until SHUTDOWN.
 */
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { statSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const EXECUTABLE = fileURLToPath(new URL('../../functions/shutdown-extension/extensions/gatehouse-shutdown', import.meta.url));
const EXTENSION_ID = 'ext-0123456789abcdef';

interface ExtensionsApi {
  address: string;
  registration: Promise<{ name: string | undefined; events: unknown; contentType: string | undefined }>;
  /** Resolves when the extension waits for its next event (the identifier it sent). */
  polling: Promise<string | undefined>;
  shutdown(): void;
  close(): Promise<void>;
}

/** A loopback Extensions API; `registerStatus` other than 200 refuses the registration. */
async function startExtensionsApi(registerStatus = 200): Promise<ExtensionsApi> {
  let registered!: (value: { name: string | undefined; events: unknown; contentType: string | undefined }) => void;
  let polled!: (id: string | undefined) => void;
  const registration = new Promise<{ name: string | undefined; events: unknown; contentType: string | undefined }>((resolve) => (registered = resolve));
  const polling = new Promise<string | undefined>((resolve) => (polled = resolve));
  let waiting: ServerResponse | undefined;
  const server: Server = createServer((req: IncomingMessage, res: ServerResponse) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (chunk: string) => (body += chunk));
    req.on('end', () => {
      if (req.method === 'POST' && req.url === '/2020-01-01/extension/register') {
        registered({ name: req.headers['lambda-extension-name'] as string | undefined, events: (JSON.parse(body) as { events: unknown }).events, contentType: req.headers['content-type'] });
        if (registerStatus !== 200) {
          res.writeHead(registerStatus, { 'content-type': 'application/json' }).end(JSON.stringify({ errorMessage: 'Extension.LaunchError', errorType: 'Extension.LaunchError' }));
          return;
        }
        res.writeHead(200, { 'content-type': 'application/json', 'lambda-extension-identifier': EXTENSION_ID }).end(JSON.stringify({ functionName: 'gatehouse', functionVersion: '$LATEST', handler: 'index.handler' }));
        return;
      }
      if (req.method === 'GET' && req.url === '/2020-01-01/extension/event/next') {
        waiting = res;
        polled(req.headers['lambda-extension-identifier'] as string | undefined);
        return;
      }
      res.writeHead(404).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    address: `127.0.0.1:${port}`,
    registration,
    polling,
    shutdown() {
      waiting?.writeHead(200, { 'content-type': 'application/json', 'lambda-extension-event-identifier': 'event-1' }).end(JSON.stringify({ eventType: 'SHUTDOWN', shutdownReason: 'spindown', deadlineMs: Date.now() + 2000 }));
    },
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

function startExtension(address: string): { exited: Promise<{ code: number | null; stderr: string }> } {
  // The Node.js runtime puts node on the PATH; so does this.
  const child = spawn(EXECUTABLE, [], { env: { PATH: `${dirname(process.execPath)}:/usr/bin:/bin`, AWS_LAMBDA_RUNTIME_API: address }, stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  return { exited: new Promise((resolve) => child.once('exit', (code) => resolve({ code, stderr }))) };
}

describe('the shutdown extension', () => {
  const apis: ExtensionsApi[] = [];
  after(async () => {
    for (const api of apis) await api.close();
  });

  test('is an executable file in extensions/, as Lambda needs to start it', () => {
    assert.equal(statSync(EXECUTABLE).mode & 0o111, 0o111);
    assert.ok(statSync(join(dirname(EXECUTABLE), '..', 'gatehouse-shutdown', 'extension.mjs')).isFile());
  });

  test('registers under its file name for SHUTDOWN only, waits, and exits 0 at SHUTDOWN', async () => {
    const api = await startExtensionsApi();
    apis.push(api);
    const extension = startExtension(api.address);
    assert.deepEqual(await api.registration, { name: 'gatehouse-shutdown', events: ['SHUTDOWN'], contentType: 'application/json' });
    assert.equal(await api.polling, EXTENSION_ID);
    api.shutdown();
    assert.deepEqual(await extension.exited, { code: 0, stderr: '' });
  });

  test('exits 1 naming the answer when the registration is refused', async () => {
    const api = await startExtensionsApi(403);
    apis.push(api);
    const { code, stderr } = await startExtension(api.address).exited;
    assert.equal(code, 1);
    assert.deepEqual(JSON.parse(stderr) as unknown, {
      extension: 'gatehouse-shutdown',
      level: 'error',
      message: 'registering with the Extensions API failed (403): {"errorMessage":"Extension.LaunchError","errorType":"Extension.LaunchError"}',
    });
  });
});
