/**
 * Reads the object a write targets, upstream, as the caller (impersonated like every
 * forwarded call): the restore stage's one extra call, made only for writes that carry
 * placeholders. The answer never leaves Gatehouse.
 *
 * Contract: GET of the write's own path (no query), `Accept: application/json`, identity
 * encoding, headers built as forward builds them (upstream-headers.ts); resolves with the status and the whole body (at most MAX_LIVE_OBJECT_BYTES), or
 * rejects with a GatehouseError (unreachable, timeout, TLS, too large).
 */
import * as http from 'node:http';
import * as https from 'node:https';
import { GatehouseError } from '../errors.ts';
import type { Identity, UpstreamConnection } from '../types.ts';
import { agentFor, hostnameOf, upstreamError } from './forward.ts';
import { upstreamHeaders } from './upstream-headers.ts';

/** Larger than any object etcd stores (1.5 MiB by default) written as JSON. */
export const MAX_LIVE_OBJECT_BYTES = 8 * 1024 * 1024;

export interface LiveAnswer {
  status: number;
  body: Buffer;
}

/** `requestId`: the call's id, sent as Audit-ID like the write's own (the cluster's audit log joins both to the record). */
export function readLiveObject(connection: UpstreamConnection, identity: Identity, path: string, timeoutMs: number, requestId?: string): Promise<LiveAnswer> {
  const base = connection.server;
  const basePath = base.pathname.endsWith('/') ? base.pathname.slice(0, -1) : base.pathname;
  const headers = upstreamHeaders({
    clientHeaders: ['accept', 'application/json'],
    host: base.host,
    identity,
    token: connection.token,
    requestId,
    bodyLength: undefined,
    upgrade: false,
  });
  const options: http.RequestOptions & { servername?: string | undefined } = {
    agent: agentFor(connection),
    host: hostnameOf(base),
    port: base.port === '' ? undefined : Number(base.port),
    method: 'GET',
    path: basePath + path,
    headers,
    servername: connection.tlsServerName,
  };
  const send = base.protocol === 'https:' ? https.request : http.request;
  return new Promise<LiveAnswer>((resolve, reject) => {
    const request = send(options);
    const timer = setTimeout(() => {
      request.destroy(new GatehouseError('ERR_UPSTREAM_TIMEOUT', `upstream ${base.origin} did not answer within ${timeoutMs / 1000}s`));
    }, timeoutMs);
    const fail = (error: NodeJS.ErrnoException): void => {
      clearTimeout(timer);
      reject(upstreamError(error, base.origin));
    };
    request.once('error', fail);
    request.once('response', (response) => {
      const chunks: Buffer[] = [];
      let total = 0;
      response.on('data', (chunk: Buffer) => {
        total += chunk.length;
        if (total > MAX_LIVE_OBJECT_BYTES) {
          response.destroy(new GatehouseError('ERR_UPSTREAM_UNREACHABLE', `upstream ${base.origin} answered with more than ${MAX_LIVE_OBJECT_BYTES} bytes for ${path}`));
          return;
        }
        chunks.push(chunk);
      });
      response.once('error', fail);
      response.once('end', () => {
        clearTimeout(timer);
        resolve({ status: response.statusCode ?? 502, body: Buffer.concat(chunks, total) });
      });
    });
    request.end();
  });
}
