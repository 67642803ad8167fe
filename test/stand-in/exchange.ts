/** One request as the stand-in's handlers see it, and how they answer. */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { ResourceType } from './catalogue.ts';
import { ApiError } from './status.ts';
import type { FakeStore } from './store.ts';

/** The request as the API server's RequestInfo reads it, plus the resolved type. */
export interface RequestAttributes {
  verb: string;
  group: string;
  version: string;
  resource: string;
  subresource: string;
  namespace: string;
  name: string;
  path: string;
}

export interface Exchange {
  req: IncomingMessage;
  res: ServerResponse;
  query: URLSearchParams;
  body: string;
  attrs: RequestAttributes;
  type: ResourceType;
  store: FakeStore;
  /** Streams to end when the server closes. */
  track(close: () => void): () => void;
}

export function sendJson(res: ServerResponse, status: number, body: unknown, contentType = 'application/json'): void {
  sendEncoded(res, status, Buffer.from(JSON.stringify(body)), contentType);
}

/** An answer already encoded. Audit-ID: the request's, when it sent one (the API server adopts it), else a fresh one. */
export function sendEncoded(res: ServerResponse, status: number, bytes: Buffer, contentType: string): void {
  res.writeHead(status, {
    'content-type': contentType,
    'content-length': bytes.length,
    'cache-control': 'no-cache, private',
    'audit-id': auditIdOf(res.req),
  });
  res.end(bytes);
}

/** The API server takes a request's Audit-ID as its audit event id. */
export function auditIdOf(req: IncomingMessage): string {
  const sent = req.headers['audit-id'];
  return typeof sent === 'string' && sent !== '' ? sent : crypto.randomUUID();
}

export function sendError(res: ServerResponse, error: ApiError): void {
  sendJson(res, error.code, error.toStatus());
}

/** `watch=true` as the API server reads it: any value but "false" and "0". */
export function isTrue(value: string | null): boolean {
  return value !== null && value !== 'false' && value !== '0';
}
