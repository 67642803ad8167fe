/**
 * The Gatehouse app: the whole pipeline assembled in one place, in the order a request
 * passes it. Both runtimes (Node HTTPS server, Lambda Function URL) serve this same app.
 *
 * `/mcp` (AI agents, src/mcp/; `/clusters/<name>/mcp` with several clusters) sits beside the chain:
 * each tool call re-enters it as API requests under its cluster's prefix.
 *
 *   route ─► record ─► authenticate ─► cluster known ─► impersonate ─► classify ─► request framing ─► authorize ─► request body ─► approve ─► limit streams ─► record intent ─► credentials ─► restore ─► forward ─► mask
 *
 * `request framing` refuses, from the headers alone, a body on GET/HEAD and a declared
 * Content-Length over the limit (413) — no refusal waits for a body that may never come.
 * `request body` reads any other body whole, bounded (413 as it passes the limit), before
 * approvals, records or forward read it; policy needs no body, so it runs first.
 * `limit streams` takes one of the user's slots for a long stream (watch, `logs -f`, exec,
 * attach, port-forward) and frees it when the stream ends (429 at the per-user cap).
 * `route` only reads which configured cluster the path names (never refusing), so `record`,
 * outermost of the stages that can refuse, files every call under its cluster; a path naming
 * no cluster is refused once the caller is authenticated (`cluster known`).
 * `record` is outermost so every outcome, failures included, becomes one record. `record
 * intent` makes a mutating call's record durable once it is decided and before anything is
 * forwarded (no durable record, no call). `restore` puts live values back where a write
 * carries placeholders (after approve, so a grant binds the body as the client sent it).
 * `mask` sits before `forward` in the chain because it works on the response forward returns.
 */
import { Hono } from 'hono';
import './context.ts';
import { asGatehouseError, statusResponse } from './errors.ts';
import type { Authenticator } from './ports/authenticator.ts';
import type { ClusterSet, Upstream } from './ports/upstream.ts';
import { GatehouseConfigError } from './config-error.ts';
import { requireCluster, route } from './pipeline/route.ts';
import { DEFAULT_CLUSTER, DEFAULT_ROUTER } from './cluster-route.ts';
import type { PolicyEngine } from './policy/policy.ts';
import type { Approvals } from './ports/approvals.ts';
import type { RecordSink } from './ports/records.ts';
import type { MaskingRules } from './masking/index.ts';
import type { Clock } from './types.ts';
import { systemClock } from './types.ts';
import { DEFAULT_RECORD_SETTINGS, record, recordIntent } from './pipeline/record.ts';
import type { RecordSettings } from './pipeline/record.ts';
import { recordBodyMasking } from './records/masker.ts';
import { authenticate } from './pipeline/authenticate.ts';
import { impersonate } from './pipeline/impersonate.ts';
import { classify } from './pipeline/classify.ts';
import { DEFAULT_MAX_REQUEST_BODY_BYTES, requestBodies, requestFraming } from './pipeline/request-body.ts';
import { authorize } from './pipeline/authorize.ts';
import { approve } from './pipeline/approve.ts';
import { limitStreams } from './pipeline/limit-streams.ts';
import type { StreamLimiter } from './streams/stream-limit.ts';
import { credentials } from './pipeline/credentials.ts';
import { forward } from './pipeline/forward.ts';
import { mask } from './pipeline/mask.ts';
import { restore } from './pipeline/restore.ts';
import { approvalRoutes } from './approvals/routes.ts';
import type { RecordingStore } from './ports/recordings.ts';
import { mcpEndpoint } from './mcp/endpoint.ts';
import type { ProtectedResource } from './mcp/resource-metadata.ts';
import type { ApprovalWaitOptions } from './mcp/approval-wait.ts';
import type { StreamHandling } from './streams/stream-upgrade.ts';
import type { SessionControl } from './streams/live-sessions.ts';

export interface GatehouseDeps {
  authenticator: Authenticator;
  policy: PolicyEngine;
  /** The clusters this Gatehouse fronts (compose.ts builds them from the configuration) … */
  clusters?: ClusterSet;
  /** … or, for one cluster at the root named "default", just its upstream. Exactly one of the two. */
  upstream?: Upstream;
  /** Just-in-time approvals; without them, `review` decisions are refused. */
  approvals?: Approvals;
  /** The per-user cap on long streams; without it streams are not counted. */
  streams?: StreamLimiter;
  /** Session records; without a sink nothing is recorded (local tries only). */
  records?: RecordSink;
  /** Body size kept in records, source-IP trust; defaults when absent. */
  recordSettings?: RecordSettings;
  masking?: MaskingRules;
  /**
   * The recordings pages (src/recordings/routes.ts), mounted at /_gatehouse/recordings: built
   * by the Node runtime only (src/recordings/from-config.ts), so the Lambda bundle carries none of them.
   */
  recordingPages?: Hono;
  clock?: Clock;
  runtime: 'node' | 'lambda';
  /** Seconds the upstream has to answer with headers. */
  upstreamTimeoutSeconds: number;
  /** Largest request body accepted (413 beyond); default 3 MiB, the API server's own limit. */
  maxRequestBodyBytes?: number;
  /** Where exec/attach/cp/port-forward sessions are recorded (Node runtime): what `tunnels` is built with. */
  recordings?: RecordingStore;
  /** The MCP endpoint (/mcp, or /clusters/<name>/mcp for each of several clusters) as this protected resource; absent: not served. */
  mcp?: ProtectedResource;
  /**
   * Longest an MCP tool call waits for an approval the user chose to wait for (asked through MCP
   * elicitation); absent or 0: never offered. Used on the Node runtime only, where the client's
   * answer reaches the waiting process (docs/mcp.md says why not on Lambda).
   */
  mcpApprovalWaitSeconds?: number;
  /**
   * exec, attach, cp and port-forward (Node runtime only: `createNodeStreams`, src/streams/); without
   * it every upgrade is refused (503). Its live sessions are what an approver's terminate ends.
   */
  tunnels?: StreamHandling;
  /**
   * The live sessions the approval page counts and terminates; default: this process's (`tunnels`).
   * A worker of `serve --workers N` sets every worker's (src/runtime/worker-sessions.ts).
   */
  liveSessions?: SessionControl;
}

/** Paths under this prefix are Gatehouse's own (approval pages, health); the API server has none. */
export const OWN_PREFIX = '/_gatehouse';

export function createApp(deps: GatehouseDeps): Hono {
  const clock = deps.clock ?? systemClock;
  const maxRequestBodyBytes = deps.maxRequestBodyBytes ?? DEFAULT_MAX_REQUEST_BODY_BYTES;
  const clusters = clusterSet(deps);
  const recordSettings = deps.recordSettings ?? DEFAULT_RECORD_SETTINGS;
  // One document masker for the records and the MCP endpoint's tool arguments.
  const recordMasking = recordBodyMasking(deps.masking);
  const app = new Hono();

  app.onError((error) => statusResponse(asGatehouseError(error)));
  app.notFound(() => statusResponse(asGatehouseError(new Error('unreachable: every path is forwarded'))));

  app.get(`${OWN_PREFIX}/healthz`, (c) => c.text('ok'));
  if (deps.approvals !== undefined) app.route(`${OWN_PREFIX}/approvals`, approvalRoutes(deps.approvals, clock, deps.liveSessions ?? deps.tunnels?.sessions.control()));
  if (deps.recordingPages !== undefined) app.route(`${OWN_PREFIX}/recordings`, deps.recordingPages);
  // AI agents: each tool call comes back into this app as API requests, through every stage below.
  if (deps.mcp !== undefined) {
    app.route(
      '/',
      mcpEndpoint({
        resource: deps.mcp,
        router: clusters.router,
        authenticator: deps.authenticator,
        dispatch: (request, env) => app.fetch(request, env),
        mask: recordMasking.mask,
        clock,
        runtime: deps.runtime,
        maxBodyBytes: maxRequestBodyBytes,
        trustForwardedFor: recordSettings.trustForwardedFor,
        ...mcpApprovalWait(deps, clock),
      }),
    );
  }

  app.use('*', route(clusters.router));
  app.use('*', record(deps.records, { clock, runtime: deps.runtime, ...recordSettings, ...recordMasking }));
  app.use('*', authenticate(deps.authenticator, { impersonation: 'decide' }));
  app.use('*', requireCluster(clusters.router));
  // kubectl --as: allowed only where the policy grants the caller `impersonate` (refused otherwise, as before).
  app.use('*', impersonate(deps.policy));
  app.use('*', classify({ runtime: deps.runtime }));
  app.use('*', requestFraming({ maxBytes: maxRequestBodyBytes }));
  app.use('*', authorize(deps.policy));
  app.use('*', requestBodies({ maxBytes: maxRequestBodyBytes }));
  app.use('*', approve(deps.approvals, clock, deps.masking));
  app.use('*', limitStreams(deps.streams));
  app.use('*', recordIntent());
  app.use('*', credentials(clusters.upstreams));
  app.use('*', restore({ masking: deps.masking, policy: deps.policy, timeoutSeconds: deps.upstreamTimeoutSeconds }));
  app.use('*', mask(deps.masking));
  app.all('*', forward({ timeoutSeconds: deps.upstreamTimeoutSeconds, maxRequestBodyBytes, ...(deps.tunnels === undefined ? {} : { tunnels: deps.tunnels }) }));

  return app;
}

/** Waiting for approvals on the MCP endpoint: the Node runtime, with approvals, when configured. */
function mcpApprovalWait(deps: GatehouseDeps, clock: Clock): { approvalWait?: ApprovalWaitOptions } {
  const seconds = deps.mcpApprovalWaitSeconds ?? 0;
  if (deps.runtime !== 'node' || deps.approvals === undefined || seconds <= 0) return {};
  return { approvalWait: { approvals: deps.approvals, clock, maxSeconds: seconds } };
}

/** The clusters of `deps`: `clusters`, or `upstream` as the one cluster "default" at the root. */
function clusterSet(deps: GatehouseDeps): ClusterSet {
  if (deps.clusters !== undefined && deps.upstream === undefined) return deps.clusters;
  if (deps.upstream !== undefined && deps.clusters === undefined) {
    return { router: DEFAULT_ROUTER, upstreams: [{ name: DEFAULT_CLUSTER, upstream: deps.upstream }] };
  }
  throw new GatehouseConfigError('the Gatehouse dependencies', ['exactly one of clusters and upstream names what Gatehouse fronts']);
}
