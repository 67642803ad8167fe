/**
 * How a tool reaches the cluster: as ordinary Kubernetes API requests sent to the Gatehouse
 * app itself, in process, so each one passes the whole pipeline a kubectl call passes —
 * classify, policy, approvals, record of intent, credentials, forward, masking, records.
 *
 * Contract: `createKubeClient(dispatch, caller, tool, args, options).call(request)` builds a
 * Request for the path (made by fields.ts only), with no Authorization header: the caller's
 * verified identity rides in the `agent` binding (context.ts), which only this dispatch sets,
 * so the agent's token is never passed on or re-verified. Answers are read whole up to
 * `maxBytes` (the rest is cancelled and the answer marked truncated); a Status answer is
 * parsed so a tool can say what was refused and why.
 */
import type { AgentCall, GatehouseBindings } from '../context.ts';
import type { DocumentMasker } from '../records/body.ts';
import { classifyRequest } from '../request-info.ts';
import type { Identity } from '../types.ts';

/** The app's own fetch: `(request, env) => app.fetch(request, env)`. */
export type Dispatch = (request: Request, env: GatehouseBindings) => Response | Promise<Response>;

/** Who is calling, as the MCP endpoint verified it, and where from. */
export interface Caller {
  identity: Identity;
  session: string;
  sourceIp: string | null;
  userAgent: string | null;
  /** On Lambda, the Function URL's request context (approval links use its domain when no public URL is set). */
  requestContext?: GatehouseBindings['requestContext'];
}

export interface KubeCall {
  method: 'GET' | 'POST' | 'PATCH' | 'DELETE' | 'PUT';
  path: string;
  query?: Record<string, string | number | boolean | undefined>;
  body?: unknown;
  contentType?: string;
  /** Largest answer read (bytes); default 2 MiB. */
  maxBytes?: number;
}

export interface KubeStatus {
  code: number;
  reason: string;
  message: string;
  details?: { causes?: { reason?: string; message?: string }[] };
}

export interface KubeAnswer {
  status: number;
  /** The parsed JSON answer (undefined for text, e.g. logs). */
  json: unknown;
  text: string;
  truncated: boolean;
  /** Set when the answer is a Kubernetes Status failure (refused by Gatehouse or by the cluster). */
  failure?: KubeStatus;
}

export interface KubeClient {
  call(request: KubeCall): Promise<KubeAnswer>;
}

/** The internal requests' origin: never resolved, never sent anywhere (the app only reads the path). */
const INTERNAL_ORIGIN = 'https://mcp.gatehouse.invalid';
const DEFAULT_MAX_BYTES = 2 * 1024 * 1024;

/**
 * `clusterPrefix` is the path of the cluster the MCP endpoint serves ("" for the one cluster at
 * the root, `/clusters/<name>` for one of several): the app's route stage reads the cluster from
 * it exactly as for kubectl, so policy, approvals and records name that cluster.
 */
export function createKubeClient(
  dispatch: Dispatch,
  caller: Caller,
  tool: string,
  args: unknown,
  options: { runtime: 'node' | 'lambda'; mask: DocumentMasker; clusterPrefix: string },
): KubeClient {
  const callId = crypto.randomUUID();
  return {
    async call(request) {
      const query = queryString(request.query ?? {});
      const path = `${options.clusterPrefix}${request.path}`;
      const url = new URL(`${INTERNAL_ORIGIN}${path}${query === '' ? '' : `?${query}`}`);
      // fields.ts made the path; a URL parser that changed it (dot segments) would mean a bug there: refuse rather than send it.
      if (url.pathname !== path) throw new Error(`refusing to send ${JSON.stringify(request.path)}: it does not survive URL parsing unchanged`);
      const kubeRequest = classifyRequest(request.method, request.path, query, { runtime: options.runtime });
      const agent: AgentCall = {
        identity: caller.identity,
        tool,
        arguments: maskedArguments(args, kubeRequest, options.mask),
        session: caller.session,
        callId,
        sourceIp: caller.sourceIp,
        userAgent: caller.userAgent,
      };
      const headers: Record<string, string> = { accept: 'application/json', 'user-agent': `gatehouse-mcp/${tool}` };
      let body: string | undefined;
      if (request.body !== undefined) {
        body = JSON.stringify(request.body);
        headers['content-type'] = request.contentType ?? 'application/json';
      }
      const env: GatehouseBindings = { agent, ...(caller.requestContext === undefined ? {} : { requestContext: caller.requestContext }) };
      const response = await dispatch(new Request(url, { method: request.method, headers, ...(body === undefined ? {} : { body }) }), env);
      return readAnswer(response, request.maxBytes ?? DEFAULT_MAX_BYTES);
    },
  };
}

function queryString(query: Record<string, string | number | boolean | undefined>): string {
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(query)) if (value !== undefined && value !== '') params.set(key, String(value));
  return params.toString();
}

/** The arguments for records and approvers: JSON, with any manifest or patch masked as a request body to this target would be. */
function maskedArguments(args: unknown, request: ReturnType<typeof classifyRequest>, mask: DocumentMasker): string {
  if (typeof args !== 'object' || args === null) return JSON.stringify(args ?? {});
  const copy: Record<string, unknown> = { ...(args as Record<string, unknown>) };
  for (const key of ['manifest', 'patch']) {
    // A copy: the masker may work in place, and the arguments are still to be sent as they are.
    if (copy[key] !== undefined) copy[key] = mask(structuredClone(copy[key]), request).document;
  }
  return JSON.stringify(copy);
}

async function readAnswer(response: Response, maxBytes: number): Promise<KubeAnswer> {
  const { bytes, truncated } = await readBounded(response, maxBytes);
  const text = new TextDecoder().decode(bytes);
  const contentType = response.headers.get('content-type') ?? '';
  let json: unknown;
  if (contentType.includes('json') && !truncated) {
    try {
      json = JSON.parse(text);
    } catch {
      json = undefined;
    }
  }
  const answer: KubeAnswer = { status: response.status, json, text, truncated };
  const failure = statusFailure(json);
  if (failure !== undefined && response.status >= 400) answer.failure = failure;
  else if (response.status >= 400) answer.failure = { code: response.status, reason: response.statusText, message: text.slice(0, 500) };
  return answer;
}

async function readBounded(response: Response, maxBytes: number): Promise<{ bytes: Uint8Array; truncated: boolean }> {
  if (response.body === null) return { bytes: new Uint8Array(0), truncated: false };
  const reader = response.body.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    const room = maxBytes - total;
    if (value.byteLength > room) {
      chunks.push(value.subarray(0, room));
      total += room;
      await reader.cancel();
      return { bytes: concat(chunks, total), truncated: true };
    }
    chunks.push(value);
    total += value.byteLength;
  }
  return { bytes: concat(chunks, total), truncated: false };
}

function concat(chunks: Uint8Array[], total: number): Uint8Array {
  const out = new Uint8Array(total);
  let offset = 0;
  for (const chunk of chunks) {
    out.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return out;
}

function statusFailure(json: unknown): KubeStatus | undefined {
  if (typeof json !== 'object' || json === null) return undefined;
  const status = json as Record<string, unknown>;
  if (status['kind'] !== 'Status' || status['status'] !== 'Failure') return undefined;
  const failure: KubeStatus = { code: Number(status['code'] ?? 0), reason: String(status['reason'] ?? ''), message: String(status['message'] ?? '') };
  const details = status['details'];
  if (typeof details === 'object' && details !== null) failure.details = details as NonNullable<KubeStatus['details']>;
  return failure;
}
