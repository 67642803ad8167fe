/**
 * Builds one session record from what the pipeline learnt about a call. Pure: the record
 * stage gathers the facts from Hono's context; this module only maps them onto the schema.
 */
import type { RecordingSummary } from '../ports/recordings.ts';
import type { ApprovalOutcome, Decision, Identity, KubeRequest, Restored } from '../types.ts';
import type { RecordedBody } from './body.ts';
import type { RecordPhase, SessionRecord, StreamEnd } from './schema.ts';
import { SCHEMA_VERSION } from './schema.ts';

/** What is known of a call when it arrives (before any stage ran). */
export interface CallStart {
  requestId: string;
  startedAtMs: number;
  runtime: 'node' | 'lambda';
  /** The configured cluster the path named; null when it named none. */
  cluster: string | null;
  method: string;
  path: string;
  query: string;
  sourceIp: string | null;
  headers: {
    kubectlSession: string | null;
    kubectlCommand: string | null;
    userAgent: string | null;
    forwardedFor: string | null;
    contentType: string | null;
  };
  /** Set for the API calls of an MCP tool call. */
  agent?: { session: string; tool: string; callId: string; arguments: string };
}

/** What the stages found out; each is absent when the call did not get that far. */
export interface CallFacts {
  identity?: Identity | undefined;
  /** The authenticated caller, when the call impersonates `identity` (kubectl --as). */
  impersonator?: Identity | undefined;
  request?: KubeRequest | undefined;
  decision?: Decision | undefined;
  approval?: ApprovalOutcome | undefined;
  /** Placeholders the restore stage put live values back for. */
  restoration?: Restored | undefined;
  requestBody: RecordedBody;
}

export interface CallOutcome {
  finishedAtMs: number;
  statusCode: number;
  upstreamStatus: number | undefined;
  error: { code: string; message: string } | undefined;
  responseContentType: string | null;
  responseBody: RecordedBody;
  /** Whether the mask stage masked anything in the response sent. */
  maskedInResponse: boolean;
  streamEnd: StreamEnd;
  /** How an exec/attach/port-forward session's recording ended (Node runtime). */
  recording?: RecordingSummary | undefined;
}

export function buildRecord(phase: RecordPhase, start: CallStart, facts: CallFacts, outcome?: CallOutcome): SessionRecord {
  const { identity, request, decision, approval, restoration, requestBody } = facts;
  return {
    schema_version: SCHEMA_VERSION,
    record_id: crypto.randomUUID(),
    phase,
    request_id: start.requestId,
    started_at: new Date(start.startedAtMs).toISOString(),
    finished_at: outcome === undefined ? null : new Date(outcome.finishedAtMs).toISOString(),
    latency_ms: outcome === undefined ? null : Math.max(0, outcome.finishedAtMs - start.startedAtMs),
    kubectl_session: start.headers.kubectlSession,
    kubectl_command: start.headers.kubectlCommand,
    user_name: identity?.user ?? null,
    user_groups: identity === undefined ? null : [...identity.groups],
    user_uid: identity?.uid ?? null,
    source_ip: start.sourceIp,
    forwarded_for: start.headers.forwardedFor,
    user_agent: start.headers.userAgent,
    runtime: start.runtime,
    method: start.method,
    path: start.path,
    query: start.query === '' ? null : start.query,
    is_resource_request: request?.isResourceRequest ?? null,
    verb: request?.verb ?? null,
    api_group: request?.apiGroup ?? null,
    api_version: request?.apiVersion ?? null,
    resource: request?.resource ?? null,
    subresource: request?.subresource ?? null,
    namespace: request?.namespace ?? null,
    object_name: request?.name ?? null,
    decision: decision?.effect ?? null,
    policy_rule: decision?.rule ?? null,
    decision_reason: decision?.reason ?? null,
    unmasked_grant: decision === undefined ? null : decision.unmasked === true,
    approval_id: approval?.approvalId ?? null,
    approval_status: approval?.status ?? null,
    approver: approval?.approver ?? null,
    approval_decided_at: approval?.decidedAt ?? null,
    status_code: outcome?.statusCode ?? null,
    upstream_status: outcome?.upstreamStatus ?? null,
    error_code: outcome?.error?.code ?? null,
    error_message: outcome?.error?.message ?? null,
    request_content_type: requestBody.bytes === 0 ? null : start.headers.contentType,
    request_body: requestBody.text,
    request_body_bytes: requestBody.bytes,
    request_body_truncated: requestBody.truncated,
    response_content_type: outcome?.responseContentType ?? null,
    response_body: outcome?.responseBody.text ?? null,
    response_body_bytes: outcome?.responseBody.bytes ?? null,
    response_body_truncated: outcome?.responseBody.truncated ?? null,
    masked: requestBody.masked || (outcome !== undefined && (outcome.maskedInResponse || outcome.responseBody.masked)),
    stream_end: outcome?.streamEnd ?? null,
    impersonator_user: facts.impersonator?.user ?? null,
    impersonator_groups: facts.impersonator === undefined ? null : [...facts.impersonator.groups],
    restored_paths: restoration === undefined ? null : [...restoration.paths],
    restored_resource_version: restoration?.resourceVersion ?? null,
    ...recordingColumns(outcome?.recording),
    token_issuer: (facts.impersonator ?? identity)?.issuer ?? null,
    mcp_session: start.agent === undefined || start.agent.session === '' ? null : start.agent.session,
    mcp_tool: start.agent?.tool ?? null,
    mcp_call_id: start.agent?.callId ?? null,
    mcp_arguments: start.agent?.arguments ?? null,
    cluster: start.cluster,
  };
}

type RecordingColumns = Pick<
  SessionRecord,
  | 'recording_key'
  | 'recording_bytes'
  | 'recording_truncated'
  | 'stream_stdin_bytes'
  | 'stream_stdout_bytes'
  | 'stream_stderr_bytes'
  | 'stream_files'
  | 'forward_ports'
  | 'forward_bytes_in'
  | 'forward_bytes_out'
  | 'stream_duration_ms'
  | 'stream_end_reason'
>;

/** The record columns of a session recording; all null for a call that had none. */
export function recordingColumns(summary: RecordingSummary | undefined): RecordingColumns {
  if (summary === undefined) {
    return {
      recording_key: null,
      recording_bytes: null,
      recording_truncated: null,
      stream_stdin_bytes: null,
      stream_stdout_bytes: null,
      stream_stderr_bytes: null,
      stream_files: null,
      forward_ports: null,
      forward_bytes_in: null,
      forward_bytes_out: null,
      stream_duration_ms: null,
      stream_end_reason: null,
    };
  }
  const forwarding = summary.forwarded.length > 0;
  return {
    recording_key: summary.key,
    recording_bytes: summary.storedBytes,
    recording_truncated: summary.truncated,
    stream_stdin_bytes: summary.bytes.stdin,
    stream_stdout_bytes: summary.bytes.stdout,
    stream_stderr_bytes: summary.bytes.stderr,
    stream_files: summary.files.length === 0 ? null : summary.files.map((file) => `${file.size} ${file.name}`),
    forward_ports: forwarding ? summary.forwarded.map((port) => String(port.port)) : null,
    forward_bytes_in: forwarding ? summary.forwarded.reduce((sum, port) => sum + port.in, 0) : null,
    forward_bytes_out: forwarding ? summary.forwarded.reduce((sum, port) => sum + port.out, 0) : null,
    stream_duration_ms: summary.durationMs,
    stream_end_reason: summary.reason,
  };
}

/** Subresources that open a live channel into a workload: mutating whatever the method. */
const CHANNEL_SUBRESOURCES = new Set(['exec', 'attach', 'portforward']);
const READ_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

/**
 * Whether a call needs a durable record of intent before it is forwarded: every method that
 * can change something (create, update, patch, delete, deletecollection, and any non-resource
 * POST/PUT/…), and exec/attach/portforward, which kubectl opens with a GET for WebSockets.
 */
export function needsIntent(method: string, request: KubeRequest | undefined): boolean {
  if (!READ_METHODS.has(method.toUpperCase())) return true;
  return request !== undefined && request.resource === 'pods' && CHANNEL_SUBRESOURCES.has(request.subresource);
}
