/**
 * Typed values each stage leaves in Hono's context for the stages after it, and the one type
 * of what the runtimes hand the app as `c.env`.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import type { Context } from 'hono';
import type { TunnelEnd } from './streams/tunnel.ts';
import type { ApprovalOutcome, Decision, Identity, KubeRequest, Restored, UpstreamConnection } from './types.ts';
import type { RawTarget } from './pipeline/classify.ts';

/**
 * What the Node runtime passes in `env.upgrade` for an HTTP Upgrade request. Forward sets
 * `taken` once it owns the socket (tunnel established); the runtime then ignores the response.
 */
export interface UpgradeBinding {
  socket: Duplex;
  head: Buffer;
  taken: boolean;
}

/**
 * `c.env`: on the Node runtime @hono/node-server's `incoming`/`outgoing` (and node-server.ts's
 * `upgrade`), on Lambda hono/aws-lambda's `event`; none of them for in-process callers
 * (`app.request` in tests), where `c.env` itself may be undefined.
 */
/**
 * One Kubernetes API call a tool of the MCP endpoint makes (src/mcp/): the MCP endpoint sends it
 * to the app itself, in process, with this binding instead of a token — the identity it verified
 * for the agent, and what the record and approvers are told about the tool call. Only that
 * in-process dispatch sets `env.agent`; no runtime does, so no client request can carry one.
 */
export interface AgentCall {
  identity: Identity;
  /** The MCP tool that made the call. */
  tool: string;
  /** The tool's arguments as JSON, masked like a request body. */
  arguments: string;
  /** The MCP session (the `Mcp-Session-Id` Gatehouse issued), "" when the client sent none. */
  session: string;
  /** One id per tool call, shared by the records of the API calls it made. */
  callId: string;
  /** The agent's address and User-Agent, as the MCP request arrived. */
  sourceIp: string | null;
  userAgent: string | null;
}

export interface GatehouseBindings {
  /** Set only on the MCP endpoint's own calls into the app (see AgentCall). */
  agent?: AgentCall;
  incoming?: IncomingMessage;
  outgoing?: ServerResponse;
  upgrade?: UpgradeBinding;
  event?: { rawPath?: string; rawQueryString?: string; requestContext?: { http?: { sourceIp?: string } } };
  /** On Lambda, the Function URL event's request context: `domainName` is the URL AWS routed by. */
  requestContext?: { domainName?: unknown };
}

export interface GatehouseEnv {
  Bindings: GatehouseBindings;
}

/**
 * A response forward (or mask, rewriting it) built from a plain header object, and what the
 * stages after read instead of building its Headers or wrapping its body in a stream: its
 * status and headers as built, and either the bytes forward read whole or the upstream's live
 * Node stream (which nothing has read yet: taking it leaves `response.body` unused).
 */
export interface ForwardedResponse {
  /** The Response itself: the rest describes `c.res` only while `c.res` is this one. */
  response: Response;
  /** Lower-case header names, hop-by-hop ones removed. Do not edit: copy. */
  init: { readonly status: number; readonly statusText?: string | undefined; readonly headers: Readonly<Record<string, string>> };
  bytes?: Uint8Array<ArrayBuffer>;
  stream?: IncomingMessage;
}

/** The context the stages that read the runtime's request take. */
export type GatehouseContext = Context<GatehouseEnv>;

declare module 'hono' {
  interface ContextVariableMap {
    /** Set by route: the configured name of the cluster the path names (absent when it names none; refused after authentication). */
    cluster: string;
    /** Set by route with `cluster`: the request target without the cluster prefix, as the API server is to see it (read it with `rawTarget`). */
    target: RawTarget;
    /** Set by record: one id per API call, also sent back as Audit-Id. */
    requestId: string;
    /** Set by authenticate; replaced by impersonate with the identity the caller may act as (kubectl --as). */
    identity: Identity;
    /** Set by impersonate: the authenticated caller, when it acts as `identity`. */
    impersonator: Identity;
    /** Set by classify. */
    kubeRequest: KubeRequest;
    /** Set by authorize. */
    decision: Decision;
    /** Set by approve, for review decisions. */
    approval: ApprovalOutcome;
    /** Set by credentials. */
    upstream: UpstreamConnection;
    /** Set by forward: the upstream's status code, when it answered. */
    upstreamStatus: number;
    /**
     * Set by restore when it put live values back in place of placeholders: the body forward
     * sends upstream instead of the client's (which records and approvals keep seeing).
     */
    upstreamBody: Uint8Array;
    /** Set by restore with `upstreamBody`: which fields it restored (paths, never values) and the resourceVersion the write is conditioned on. */
    restoration: Restored;
    /** Set by mask: whether any value was masked in the response. */
    masked: boolean;
    /**
     * The response body as it leaves (after masking), when a stage holds it whole: forward sets
     * it for answers it read whole, mask replaces it when it rewrites them. Record uses it
     * instead of teeing the stream. Absent for streamed answers.
     */
    responseBytes: Uint8Array;
    /** True when `responseBytes` went through the mask stage (masked, or scanned and clean). */
    responseBytesMasked: boolean;
    /** Set by forward, and by mask when it replaces the response: see plain-response.ts. */
    forwarded: ForwardedResponse;
    /** Set by forward when an exec/attach/port-forward started: settles when it ended, with its recording (record waits for it). */
    streamEnded: Promise<TunnelEnd>;
  }
}

export {};
