/**
 * The values that pass between pipeline stages. Each stage reads what the stages before it
 * set in Hono's typed context (see `context.ts`) and adds its own.
 */

/** Who is calling, as the identity provider vouched for it (prefixes already applied). */
export interface Identity {
  user: string;
  groups: string[];
  /** The token's `sub`, forwarded as Impersonate-Uid when present. */
  uid?: string;
  /** Verified claims of the token, for records and policy. */
  claims: Readonly<Record<string, unknown>>;
  /** The issuer that vouched for the caller (the token's verified `iss`), for records and policy. */
  issuer?: string;
  /** Extra attributes the issuer's `extraClaims` mapped from the token (key → values), for policy. */
  extra?: Readonly<Record<string, readonly string[]>>;
}

/**
 * A request as the Kubernetes API server's RequestInfo reads it
 * (k8s.io/apiserver/pkg/endpoints/request/requestinfo.go).
 */
export interface KubeRequest {
  /**
   * The configured name of the cluster the request was routed to (cluster-route.ts) — not part
   * of RequestInfo, which reads the path after the cluster prefix. "" when no cluster is known
   * (a policy evaluated on its own): rules naming clusters then deny and review, never allow.
   */
  cluster: string;
  isResourceRequest: boolean;
  /** The raw path as received, never decoded or normalised. */
  path: string;
  verb: string;
  /** "api" or "apis" for resource requests, "" otherwise. */
  apiPrefix: string;
  /** "" for the core group. */
  apiGroup: string;
  apiVersion: string;
  namespace: string;
  resource: string;
  subresource: string;
  name: string;
  parts: string[];
  fieldSelector: string;
  labelSelector: string;
  /** exec, attach and port-forward into a pod: what the stream runs, read from the query as the API server reads it. */
  stream?: StreamTarget;
}

/** What an exec, attach or port-forward asks for (pods/exec `command=…&container=…`, pods/portforward `ports=…`). */
export interface StreamTarget {
  kind: 'exec' | 'attach' | 'portforward';
  /** exec's argv, in order (`command` values); empty for attach and port-forward. */
  command: string[];
  /** The container named, '' when the request names none (the API server then picks the default one). */
  container: string;
  stdin: boolean;
  tty: boolean;
  /**
   * Ports to forward: the `ports` values of a WebSocket port-forward, or the single port of one
   * SPDY port-forward stream when the tunnel asks; empty when not yet known (a SPDY upgrade names none).
   */
  ports: number[];
}

export type Effect = 'allow' | 'deny' | 'review';

export interface ReviewSettings {
  approvers: string[];
  /** "once": the grant covers exactly one request; "window": matching requests for `windowSeconds`. */
  grant: 'once' | 'window';
  windowSeconds: number;
  /** The rule's own `reason`, in its words (shown to approvers without the decision's wrapping). */
  reason?: string;
}

export interface Decision {
  effect: Effect;
  /** The rule that made the decision; null when nothing matched (default deny). */
  rule: string | null;
  reason: string;
  /** Set when effect is review. */
  review?: ReviewSettings;
  /** Set when a rule lets this caller see unmasked Secrets (break-glass). */
  unmasked?: boolean;
}

/** What the approval stage concluded for a `review` decision. */
export interface ApprovalOutcome {
  approvalId: string;
  status: 'pending' | 'approved' | 'denied' | 'expired' | 'consumed';
  approver?: string;
  decidedAt?: string;
}

/** What the restore stage did to a write that carried placeholders. */
export interface Restored {
  /** Field paths whose placeholders were replaced by the live value, e.g. `data.password`. Never values. */
  paths: string[];
  /** The live object's resourceVersion the write was conditioned on. */
  resourceVersion: string;
}

/** How to reach the upstream API server for one request. */
export interface UpstreamConnection {
  /** Base URL of the API server, e.g. https://10.0.0.1:6443 (may carry a path prefix). */
  server: URL;
  /** PEM CA bundle to verify the server with; undefined means the system store. */
  ca?: string;
  /** Client certificate and key (PEM) for mutual TLS, when the upstream uses them. */
  cert?: string;
  key?: string;
  /** Bearer token Gatehouse itself presents upstream (never the caller's). */
  token?: string;
  /** Server name for SNI and certificate checks, when it differs from the URL host. */
  tlsServerName?: string;
}

/** An injectable clock: tests freeze time through this, never by sleeping. */
export interface Clock {
  now(): number;
}

export const systemClock: Clock = { now: () => Date.now() };
