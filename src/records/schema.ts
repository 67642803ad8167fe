/**
 * The session record schema: one flat JSON object per API call (plus a record of intent for
 * mutating calls). This table is the single source of the schema — the TypeScript type, the
 * Glue/Athena columns (infra/records.ts), the DuckDB columns the tests query with, and the
 * table in docs/records.md are all derived from it.
 *
 * Stability contract: columns are only ever added (at the end); a column never changes its
 * type or meaning within a `schema_version`. Readers must ignore columns they do not know.
 */

export const SCHEMA_VERSION = 1;

/** Column types in Athena/Hive DDL terms. */
export type ColumnType = 'string' | 'int' | 'bigint' | 'boolean' | 'array<string>';

export interface ColumnSpec {
  readonly name: string;
  readonly type: ColumnType;
  /** False: always present in every record. */
  readonly nullable: boolean;
  readonly description: string;
  /** Also the partition key of the same name (the folder `<name>=<value>/`); the Glue table has it as a partition key only. */
  readonly partition?: true;
}

export const RECORD_COLUMNS = [
  { name: 'schema_version', type: 'int', nullable: false, description: 'Version of this schema (currently 1). Columns are only ever added; a change of meaning would bump it.' },
  { name: 'record_id', type: 'string', nullable: false, description: 'Unique id of this record (UUID).' },
  {
    name: 'phase',
    type: 'string',
    nullable: false,
    description:
      '`outcome`: written when the call finished (every call has exactly one). `intent`: written, and durable, after the decision but before a mutating call was forwarded; an intent without an outcome means Gatehouse stopped mid-call.',
  },
  { name: 'request_id', type: 'string', nullable: false, description: 'Id of the API call, returned to the client as the `Audit-Id` header; intent and outcome records of one call share it.' },
  { name: 'started_at', type: 'string', nullable: false, description: 'When Gatehouse received the call: ISO 8601, UTC, milliseconds (`2025-03-01T12:00:00.000Z`). The `dt` partition is its date.' },
  { name: 'finished_at', type: 'string', nullable: true, description: 'When the response ended (for streams: when the stream ended or the client went away). Null in intent records.' },
  { name: 'latency_ms', type: 'bigint', nullable: true, description: 'Milliseconds from `started_at` to `finished_at`. Null in intent records.' },
  { name: 'kubectl_session', type: 'string', nullable: true, description: 'The `Kubectl-Session` header: one id per kubectl invocation (kubectl ≥ 1.30), as the client claims it — any client can send any id. Group calls into sessions by (`user_name`, `kubectl_session`).' },
  { name: 'kubectl_command', type: 'string', nullable: true, description: 'The `Kubectl-Command` header, e.g. `kubectl delete`, as the client claims it (not checked against what the call does).' },
  { name: 'user_name', type: 'string', nullable: true, description: 'The authenticated user (prefixes applied). Null when authentication failed.' },
  { name: 'user_groups', type: 'array<string>', nullable: true, description: 'The authenticated groups. Null when authentication failed.' },
  { name: 'user_uid', type: 'string', nullable: true, description: 'The token subject (`sub`), when present.' },
  {
    name: 'source_ip',
    type: 'string',
    nullable: true,
    description:
      'Address the call came from: the TCP peer on Node, `requestContext.http.sourceIp` on Lambda. `X-Forwarded-For` is used only when `records.trustForwardedFor` is set (then its last entry).',
  },
  { name: 'forwarded_for', type: 'string', nullable: true, description: 'The raw `X-Forwarded-For` header as the client sent it (informational, not trusted).' },
  { name: 'user_agent', type: 'string', nullable: true, description: 'The `User-Agent` header.' },
  { name: 'runtime', type: 'string', nullable: false, description: '`node` or `lambda`: which runtime served the call.' },
  { name: 'method', type: 'string', nullable: false, description: 'HTTP method.' },
  { name: 'path', type: 'string', nullable: false, description: 'Request path exactly as received (not decoded).' },
  { name: 'query', type: 'string', nullable: true, description: 'Raw query string without `?`; null when there is none.' },
  { name: 'is_resource_request', type: 'boolean', nullable: true, description: 'True for `/api/…` and `/apis/…` resource calls; false for non-resource URLs; null when the path could not be classified.' },
  { name: 'verb', type: 'string', nullable: true, description: 'Kubernetes verb (`get`, `list`, `watch`, `create`, `update`, `patch`, `delete`, `deletecollection`; lowercased method for non-resource URLs).' },
  { name: 'api_group', type: 'string', nullable: true, description: 'API group; empty string for the core group.' },
  { name: 'api_version', type: 'string', nullable: true, description: 'API version, e.g. `v1`.' },
  { name: 'resource', type: 'string', nullable: true, description: 'Resource, e.g. `secrets`; empty for non-resource URLs.' },
  { name: 'subresource', type: 'string', nullable: true, description: 'Subresource, e.g. `exec`, `log`, `status`; empty when none.' },
  { name: 'namespace', type: 'string', nullable: true, description: 'Namespace; empty for cluster-scoped calls.' },
  { name: 'object_name', type: 'string', nullable: true, description: 'Object name (also from `fieldSelector=metadata.name=…`); empty for collections.' },
  { name: 'decision', type: 'string', nullable: true, description: 'Policy effect: `allow`, `deny` or `review`. Null when the call was refused before policy (authentication, malformed path).' },
  { name: 'policy_rule', type: 'string', nullable: true, description: 'Name of the policy rule that decided; null for the default deny.' },
  { name: 'decision_reason', type: 'string', nullable: true, description: 'Why the policy decided so, in words.' },
  { name: 'unmasked_grant', type: 'boolean', nullable: true, description: 'True when a break-glass rule let this caller see Secret values unmasked (the record itself is still masked).' },
  { name: 'approval_id', type: 'string', nullable: true, description: 'Approval request id, for `review` decisions.' },
  { name: 'approval_status', type: 'string', nullable: true, description: '`pending`, `approved`, `denied`, `expired` or `consumed`.' },
  { name: 'approver', type: 'string', nullable: true, description: 'Who approved (or denied) the call.' },
  { name: 'approval_decided_at', type: 'string', nullable: true, description: 'When the approver decided (ISO 8601).' },
  { name: 'status_code', type: 'int', nullable: true, description: 'HTTP status Gatehouse answered with. Null in intent records.' },
  { name: 'upstream_status', type: 'int', nullable: true, description: 'HTTP status of the API server; null when the call never reached it (101 for an upgraded exec/attach/port-forward).' },
  { name: 'error_code', type: 'string', nullable: true, description: 'Gatehouse error code (`ERR_POLICY_DENIED`, `ERR_TOKEN_EXPIRED`, …) when Gatehouse refused or failed the call.' },
  { name: 'error_message', type: 'string', nullable: true, description: 'The message of that error, as kubectl showed it.' },
  { name: 'request_content_type', type: 'string', nullable: true, description: '`Content-Type` of the request body.' },
  { name: 'request_body', type: 'string', nullable: true, description: 'Request body, masked, then cut to `records.maxBodyBytes` bytes. A bracketed note instead when it could not be recorded safely, or was never read (the call was refused first).' },
  { name: 'request_body_bytes', type: 'bigint', nullable: true, description: 'Size in bytes of the request body as received (before masking and truncation).' },
  { name: 'request_body_truncated', type: 'boolean', nullable: true, description: 'True when `request_body` was cut.' },
  { name: 'response_content_type', type: 'string', nullable: true, description: '`Content-Type` of the response.' },
  { name: 'response_body', type: 'string', nullable: true, description: 'The first `records.maxBodyBytes` bytes of the response as sent to the client, masked. A bracketed note instead when it could not be recorded safely. Null in intent records.' },
  { name: 'response_body_bytes', type: 'bigint', nullable: true, description: 'Total bytes of the response body sent (the whole stream for watch and `logs -f`).' },
  { name: 'response_body_truncated', type: 'boolean', nullable: true, description: 'True when `response_body` holds only the start of the response.' },
  { name: 'masked', type: 'boolean', nullable: true, description: 'True when any value was masked in the response sent or in this record’s bodies.' },
  {
    name: 'stream_end',
    type: 'string',
    nullable: true,
    description:
      'How the response ended: `complete`, `client_gone` (the client closed first, e.g. Ctrl-C on a watch), `time_limit` (Gatehouse on Lambda ended it before the function deadline, or at the configured longest stream), `upstream_error` (the stream broke), `upgraded` (exec/attach/port-forward tunnel), `none` (no body). Null in intent records.',
  },
  {
    name: 'impersonator_user',
    type: 'string',
    nullable: true,
    description:
      'For `kubectl --as`: the authenticated caller who impersonated (the policy granted it `impersonate`); `user_name` and `user_groups` are then the impersonated identity the call was decided and forwarded as. Null otherwise.',
  },
  { name: 'impersonator_groups', type: 'array<string>', nullable: true, description: 'The groups of `impersonator_user`. Null when the call impersonated nobody.' },
  {
    name: 'restored_paths',
    type: 'array<string>',
    nullable: true,
    description:
      'Fields of a write whose masked placeholders Gatehouse replaced by the live values (read upstream as the caller), e.g. `data.password`: paths only, never values. Null when nothing was restored (and in intent records).',
  },
  {
    name: 'restored_resource_version',
    type: 'string',
    nullable: true,
    description: 'The `resourceVersion` a write with restored placeholders was conditioned on (a change made meanwhile fails with 409). Null when nothing was restored.',
  },
  {
    name: 'recording_key',
    type: 'string',
    nullable: true,
    description:
      'Key, in the records bucket, of the recording of an exec, attach or port-forward session (asciicast v2, gzip, under `records.recordingsPrefix`); play it with `gatehouse sessions replay` or the recordings page. Null for every other call.',
  },
  { name: 'recording_bytes', type: 'bigint', nullable: true, description: 'Size of the stored (gzip) recording object.' },
  { name: 'recording_truncated', type: 'boolean', nullable: true, description: 'True when the session passed `records.maxRecordingBytes`: the recording stops at a truncation marker; the byte counts below still cover the whole session.' },
  { name: 'stream_stdin_bytes', type: 'bigint', nullable: true, description: 'Bytes the client sent on stdin of an exec/attach session (before redaction and the cap).' },
  { name: 'stream_stdout_bytes', type: 'bigint', nullable: true, description: 'Bytes the pod sent on stdout (a TTY session sends all its output here).' },
  { name: 'stream_stderr_bytes', type: 'bigint', nullable: true, description: 'Bytes the pod sent on stderr.' },
  {
    name: 'stream_files',
    type: 'array<string>',
    nullable: true,
    description: 'Files in a tar stream on stdin or stdout (`kubectl cp` both ways), each as `<size in bytes> <path as the archive names it>`; at most 1000. Null when none.',
  },
  { name: 'forward_ports', type: 'array<string>', nullable: true, description: 'Ports of a port-forward session. Null for other calls.' },
  { name: 'forward_bytes_in', type: 'bigint', nullable: true, description: 'Port-forward bytes from the client to the pod, all ports together (the recording lists them per port).' },
  { name: 'forward_bytes_out', type: 'bigint', nullable: true, description: 'Port-forward bytes from the pod to the client, all ports together.' },
  { name: 'stream_duration_ms', type: 'bigint', nullable: true, description: 'Milliseconds the exec/attach/port-forward session lasted, from its upgrade to its end.' },
  { name: 'stream_end_reason', type: 'string', nullable: true, description: 'Why the session ended, e.g. `client closed`, `upstream reset`, `terminated by lead@example.com`.' },
  { name: 'token_issuer', type: 'string', nullable: true, description: 'The trusted issuer that vouched for the caller (the token\'s verified `iss`): the company IdP, a CI system, a cluster. Null when authentication failed.' },
  {
    name: 'mcp_session',
    type: 'string',
    nullable: true,
    description: 'For calls an AI agent made through the MCP endpoint: the `Mcp-Session-Id` Gatehouse issued at `initialize`, as the client sends it back. Group an agent\'s calls into sessions by (`user_name`, `mcp_session`). Null for kubectl and other clients.',
  },
  { name: 'mcp_tool', type: 'string', nullable: true, description: 'The MCP tool whose call made this API call (e.g. `scale`). Null outside MCP.' },
  { name: 'mcp_call_id', type: 'string', nullable: true, description: 'One id per MCP tool call, shared by every API call that tool call made. Null outside MCP.' },
  { name: 'mcp_arguments', type: 'string', nullable: true, description: 'The tool call\'s arguments as JSON, masked like request bodies (Secret values in a manifest never appear). Null outside MCP.' },
  {
    name: 'cluster',
    type: 'string',
    nullable: true,
    partition: true,
    description:
      'The configured name of the cluster the call was for (its path `/clusters/<name>/…` when a Gatehouse fronts several; the one cluster\'s name otherwise); `path` is what follows. Null when the path named no configured cluster (refused 404). Also the partition `cluster=<name>/` (`_unrouted` for null): in Athena, filter on it first.',
  },
] as const satisfies readonly ColumnSpec[];

type Column = (typeof RECORD_COLUMNS)[number];

type ValueOf<T extends ColumnType> = T extends 'string'
  ? string
  : T extends 'int' | 'bigint'
    ? number
    : T extends 'boolean'
      ? boolean
      : string[];

/** One session record, exactly the columns above (nullable columns may be null). */
export type SessionRecord = {
  [C in Column as C['name']]: C['nullable'] extends true ? ValueOf<C['type']> | null : ValueOf<C['type']>;
};

export type RecordPhase = 'intent' | 'outcome';
export type StreamEnd = 'complete' | 'client_gone' | 'time_limit' | 'upstream_error' | 'upgraded' | 'none';

// Pure: a runtime module that needs only SCHEMA_VERSION (records/build.ts) leaves the column table, and its descriptions, out of the Lambda bundle.
export const COLUMN_NAMES: readonly string[] = /* @__PURE__ */ RECORD_COLUMNS.map((column) => column.name);

/**
 * The columns a reader takes from each JSON line: all but the partition ones, which it reads
 * from their folder (`cluster=…/`) — so the Glue table has them as partition keys only.
 */
export const JSON_COLUMNS: readonly ColumnSpec[] = /* @__PURE__ */ RECORD_COLUMNS.filter((column: ColumnSpec) => column.partition !== true);
