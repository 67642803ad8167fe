/**
 * Which request headers reach the upstream API server: an allowlist, never a denylist.
 *
 * Contract: `upstreamHeaders` builds the whole header list of the upstream request from the
 * client's headers and what Gatehouse itself sets. A client header is copied only when its
 * name is on the list below — the headers kube-apiserver reads and that kubectl, client-go,
 * Helm, k9s and Lens send — and every other one (X-Remote-*, X-Forwarded-*, Audit-Id, Cookie,
 * Authorization, Impersonate-* …) is dropped. Framing headers are never copied: Gatehouse
 * sends the body it read whole, with its own Content-Length, or none at all. Gatehouse sets
 * Host, its own Authorization (the connection's token), Impersonate-* from the verified
 * identity, and `Audit-ID` = its own request id, which the API server adopts as the audit
 * event id (so a record and the cluster's audit event join on it).
 *
 * The upgrade handshake headers travel only on an upgrade the classify stage let through
 * (pods/exec, attach, portforward on the Node runtime).
 */
import { GatehouseError } from '../errors.ts';
import type { Identity } from '../types.ts';

/** Client headers copied to every upstream request (lower-case). */
const FORWARDED = new Set([
  // Content negotiation (the mask stage narrows Accept to JSON where an answer could hold a Secret).
  'accept',
  'accept-encoding',
  // Cache validators the API server honours for discovery and OpenAPI (ETag → 304).
  'if-none-match',
  // Who is calling and from which command: the audit log's userAgent, kubectl's session grouping.
  'user-agent',
  'kubectl-command',
  'kubectl-session',
]);

/** Client headers copied only when a body is sent. */
const FORWARDED_WITH_BODY = new Set(['content-type']);

/** Client headers copied only on an upgrade the classify stage allowed. */
const FORWARDED_ON_UPGRADE = new Set([
  'upgrade',
  'origin',
  'sec-websocket-key',
  'sec-websocket-version',
  'sec-websocket-protocol',
  // SPDY/3.1 (kubectl ≤ 1.29, and the fallback of later ones) names its stream protocols here.
  'x-stream-protocol-version',
]);

export interface UpstreamHeaderInput {
  /** The client's headers, flat [name, value, …] (see request-headers.ts). */
  clientHeaders: readonly string[];
  /** The upstream's host[:port]. */
  host: string;
  identity: Identity;
  /** Gatehouse's bearer token for the upstream, when the connection has one. */
  token: string | undefined;
  /** Gatehouse's id for this call, sent as Audit-ID. */
  requestId: string | undefined;
  /** Byte length of the body sent, or undefined for none. */
  bodyLength: number | undefined;
  /** An allowed upgrade (the runtime carries the socket). */
  upgrade: boolean;
}

/** The upstream request's headers as a flat [name, value, …] list (Node writes it as is, repeats kept). */
export function upstreamHeaders(input: UpstreamHeaderInput): string[] {
  const pairs = input.clientHeaders;
  const withBody = input.bodyLength !== undefined;
  const out: string[] = ['host', input.host];
  for (let i = 0; i + 1 < pairs.length; i += 2) {
    const rawName = pairs[i] as string;
    const name = rawName.toLowerCase();
    if (FORWARDED.has(name) || (withBody && FORWARDED_WITH_BODY.has(name)) || (input.upgrade && FORWARDED_ON_UPGRADE.has(name))) {
      out.push(rawName, headerValue(name, pairs[i + 1] as string));
    }
  }
  if (input.upgrade) out.push('connection', 'Upgrade');
  if (withBody) out.push('content-length', String(input.bodyLength));
  if (input.requestId !== undefined) out.push('audit-id', headerValue('audit-id', input.requestId));
  if (input.token !== undefined) out.push('authorization', headerValue('authorization', `Bearer ${input.token}`));
  const identity = input.identity;
  out.push('impersonate-user', headerValue('impersonate-user', identity.user));
  for (const group of identity.groups) out.push('impersonate-group', headerValue('impersonate-group', group));
  if (identity.uid !== undefined) out.push('impersonate-uid', headerValue('impersonate-uid', identity.uid));
  return out;
}

/**
 * A header value as it goes on the wire. Control characters (CR/LF above all: they would
 * split the header) are refused; non-ASCII text (a user name from a token) travels as UTF-8
 * bytes, the way Go's client-go sends it, since Node writes header strings as latin1.
 */
function headerValue(name: string, value: string): string {
  // eslint-disable-next-line no-control-regex
  if (/[\x00-\x08\x0a-\x1f\x7f]/.test(value)) {
    throw new GatehouseError(
      'ERR_REQUEST_INVALID',
      `header ${name} for the upstream would contain a control character (CR/LF); refusing to forward`,
    );
  }
  // eslint-disable-next-line no-control-regex
  return /[^\x00-\x7f]/.test(value) ? Buffer.from(value, 'utf8').toString('latin1') : value;
}
