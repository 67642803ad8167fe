/**
 * Reading the live object a write targets (the restore stage's one extra upstream call),
 * against a plain HTTP upstream of this file's own: what is asked, as whom, and how each
 * failure is said.
 */
import assert from 'node:assert/strict';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { closeUpstreamAgents } from '../../src/pipeline/forward.ts';
import { MAX_LIVE_OBJECT_BYTES, readLiveObject } from '../../src/pipeline/live-object.ts';
import type { Identity } from '../../src/types.ts';
import { rejection } from '../support/rejection.ts';

const ALICE: Identity = { user: 'alice@example.com', groups: ['dev', 'oncall'], uid: 'u-1', claims: {} };

describe('reading the live object', () => {
  let server: http.Server;
  let base: URL;
  const seen: http.IncomingMessage[] = [];

  before(async () => {
    server = http.createServer((req, res) => {
      seen.push(req);
      if (req.url === '/prefix/api/v1/namespaces/prod/secrets/db') {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end('{"kind":"Secret"}');
      } else if (req.url === '/prefix/huge') {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(Buffer.alloc(MAX_LIVE_OBJECT_BYTES + 1, 0x20));
      } else if (req.url === '/prefix/silent') {
        // Never answers: the read must give up on its own.
      } else {
        res.writeHead(404, { 'content-type': 'application/json' });
        res.end('{"kind":"Status","code":404}');
      }
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = new URL(`http://127.0.0.1:${(server.address() as AddressInfo).port}/prefix/`);
  });
  after(async () => {
    closeUpstreamAgents();
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  test('asks for JSON, as the caller, with Gatehouse’s own token, under the server’s path prefix', async () => {
    const answer = await readLiveObject({ server: base, token: 'gatehouse-token' }, ALICE, '/api/v1/namespaces/prod/secrets/db', 5000);
    assert.deepEqual({ status: answer.status, body: answer.body.toString() }, { status: 200, body: '{"kind":"Secret"}' });
    const request = seen.at(-1);
    assert.equal(request?.method, 'GET');
    assert.equal(request?.headers['accept'], 'application/json');
    assert.equal(request?.headers['authorization'], 'Bearer gatehouse-token');
    assert.equal(request?.headers['impersonate-user'], 'alice@example.com');
    assert.deepEqual(request?.headersDistinct['impersonate-group'], ['dev', 'oncall']);
    assert.equal(request?.headers['impersonate-uid'], 'u-1');
    assert.equal(request?.headers['accept-encoding'], undefined, 'an identity-encoded answer');
  });

  test('passes a refusal on as its status and body', async () => {
    const answer = await readLiveObject({ server: base }, ALICE, '/api/v1/namespaces/prod/secrets/none', 5000);
    assert.equal(answer.status, 404);
  });

  const failures: { name: string; path: string; server?: URL; timeoutMs?: number; code: string; message: RegExp }[] = [
    { name: 'gives up on an upstream that does not answer in time', path: '/silent', timeoutMs: 200, code: 'ERR_UPSTREAM_TIMEOUT', message: /did not answer within 0.2s/ },
    { name: 'refuses an answer larger than any object', path: '/huge', code: 'ERR_UPSTREAM_UNREACHABLE', message: new RegExp(`answered with more than ${MAX_LIVE_OBJECT_BYTES} bytes for /huge`) },
    { name: 'says an upstream that refuses connections is unreachable', path: '/x', server: new URL('http://127.0.0.1:1/'), code: 'ERR_UPSTREAM_UNREACHABLE', message: /is unreachable: ECONNREFUSED/ },
  ];
  for (const entry of failures) {
    test(entry.name, async () => {
      const error = await rejection(readLiveObject({ server: entry.server ?? base }, ALICE, entry.path, entry.timeoutMs ?? 5000));
      assert.equal(error.code, entry.code);
      assert.match(error.message, entry.message);
    });
  }
});
