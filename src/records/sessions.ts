/**
 * Sessions from records, for `gatehouse sessions`: grouping calls into kubectl sessions,
 * filtering, and the replay — the commands in order, each call with its user, its decision
 * and a summary of its (masked) response. Pure: records in, values and text out.
 *
 * A session is (authenticated user, `Kubectl-Session` header): the header and the
 * `Kubectl-Command` are what the client claims, so one user's calls can never appear inside
 * another user's session, whatever id they send (a call without the header is a session of
 * its own). Every text line is printable (printable.ts): nothing from a request or a
 * cluster reaches the terminal as a control or bidi character.
 */
import { printable } from '../printable.ts';
import type { SessionRecord } from './schema.ts';

export interface SessionFilter {
  user?: string;
  namespace?: string;
  /** Only calls to these clusters (configured names; null: calls whose path named none). */
  clusters?: readonly (string | null)[];
  /** ISO 8601 bounds on a call's `started_at`. */
  since?: string;
  until?: string;
}

export interface SessionSummary {
  sessionId: string;
  user: string | null;
  firstAt: string;
  lastAt: string;
  calls: number;
  /** Calls that needed a record of intent (mutating, exec/attach/portforward). */
  changes: number;
  /** Calls answered 401/403 or refused by policy. */
  refused: number;
  commands: string[];
  namespaces: string[];
}

export interface ReplayCall {
  record: SessionRecord;
  /** An intent without outcome: Gatehouse stopped before the call finished. */
  unfinished: boolean;
}

export interface ReplayCommand {
  command: string;
  calls: ReplayCall[];
}

/** One user's calls under one client session id. */
export interface ReplaySession {
  sessionId: string;
  user: string | null;
  commands: ReplayCommand[];
}

const WITHOUT_SESSION = 'call-';

export function sessionIdOf(record: SessionRecord): string {
  if (record.kubectl_session !== null) return record.kubectl_session;
  // An AI agent's calls: one session per MCP session.
  if (record.mcp_session !== null) return `mcp-${record.mcp_session}`;
  return `${WITHOUT_SESSION}${record.request_id}`;
}

/** What a call belonged to, as the replay shows it: the kubectl command, the MCP tool with its (masked) arguments, or the client. */
function commandOf(record: SessionRecord): string {
  if (record.kubectl_command !== null) return record.kubectl_command;
  if (record.mcp_tool !== null) return `mcp ${record.mcp_tool} ${record.mcp_arguments ?? '{}'}`;
  return record.user_agent ?? 'unknown client';
}

/** The key a call is grouped by: its user and the session id its client sent. */
function sessionKeyOf(record: SessionRecord): string {
  return JSON.stringify([record.user_name, sessionIdOf(record)]);
}

/** One entry per call: its outcome record, or its intent when the outcome is missing. */
export function callsOf(records: readonly SessionRecord[]): ReplayCall[] {
  const byRequest = new Map<string, { intent?: SessionRecord; outcome?: SessionRecord }>();
  for (const record of records) {
    const entry = byRequest.get(record.request_id) ?? {};
    if (record.phase === 'intent') entry.intent = record;
    else entry.outcome = record;
    byRequest.set(record.request_id, entry);
  }
  const calls: ReplayCall[] = [];
  for (const { intent, outcome } of byRequest.values()) {
    if (outcome !== undefined) calls.push({ record: outcome, unfinished: false });
    else if (intent !== undefined) calls.push({ record: intent, unfinished: true });
  }
  return calls.sort((a, b) => compareCalls(a.record, b.record));
}

function compareCalls(a: SessionRecord, b: SessionRecord): number {
  return a.started_at < b.started_at ? -1 : a.started_at > b.started_at ? 1 : a.request_id < b.request_id ? -1 : a.request_id > b.request_id ? 1 : 0;
}

function matches(record: SessionRecord, filter: SessionFilter): boolean {
  if (filter.clusters !== undefined && !filter.clusters.includes(record.cluster)) return false;
  if (filter.since !== undefined && record.started_at < filter.since) return false;
  if (filter.until !== undefined && record.started_at > filter.until) return false;
  return true;
}

/** The calls of each (user, session id), in order of their first call. */
function groupByUserSession(calls: readonly ReplayCall[]): ReplayCall[][] {
  const sessions = new Map<string, ReplayCall[]>();
  for (const call of calls) {
    const key = sessionKeyOf(call.record);
    const list = sessions.get(key) ?? [];
    list.push(call);
    sessions.set(key, list);
  }
  return [...sessions.values()];
}

/** Sessions with at least one call in the time window; a namespace filter keeps a session if any call matches. */
export function listSessions(records: readonly SessionRecord[], filter: SessionFilter = {}): SessionSummary[] {
  const summaries: SessionSummary[] = [];
  for (const calls of groupByUserSession(callsOf(records.filter((record) => matches(record, filter))))) {
    const rs = calls.map((call) => call.record);
    const first = rs[0] as SessionRecord;
    if (filter.user !== undefined && first.user_name !== filter.user) continue;
    if (filter.namespace !== undefined && !rs.some((r) => r.namespace === filter.namespace)) continue;
    summaries.push({
      sessionId: sessionIdOf(first),
      user: first.user_name,
      firstAt: first.started_at,
      lastAt: rs.reduce((last, r) => ((r.finished_at ?? r.started_at) > last ? (r.finished_at ?? r.started_at) : last), ''),
      calls: rs.length,
      changes: rs.filter((r) => isChange(r)).length,
      refused: rs.filter((r) => isRefused(r)).length,
      commands: distinct(rs.map((r) => r.kubectl_command ?? (r.mcp_tool === null ? null : `mcp ${r.mcp_tool}`))),
      namespaces: distinct(rs.map((r) => r.namespace)),
    });
  }
  return summaries.sort((a, b) => (a.firstAt < b.firstAt ? -1 : a.firstAt > b.firstAt ? 1 : 0));
}

/**
 * The calls sent under one session id, one ReplaySession per user who sent it (only `user`'s
 * when given), each in order and grouped by consecutive kubectl command.
 */
export function replaySession(records: readonly SessionRecord[], sessionId: string, user?: string): ReplaySession[] {
  const calls = callsOf(records.filter((record) => sessionIdOf(record) === sessionId && (user === undefined || record.user_name === user)));
  return groupByUserSession(calls).map((sessionCalls) => {
    const commands: ReplayCommand[] = [];
    for (const call of sessionCalls) {
      const command = commandOf(call.record);
      const last = commands.at(-1);
      // Calls of one MCP tool call stay together; two calls of the same tool are two commands.
      if (last !== undefined && last.command === command && (call.record.mcp_call_id === null || last.calls.at(-1)?.record.mcp_call_id === call.record.mcp_call_id)) last.calls.push(call);
      else commands.push({ command, calls: [call] });
    }
    return { sessionId, user: (sessionCalls[0] as ReplayCall).record.user_name, commands };
  });
}

function isChange(record: SessionRecord): boolean {
  return !['GET', 'HEAD', 'OPTIONS'].includes(record.method) || ['exec', 'attach', 'portforward'].includes(record.subresource ?? '');
}

function isRefused(record: SessionRecord): boolean {
  return record.decision === 'deny' || record.status_code === 401 || record.status_code === 403 || record.error_code !== null;
}

function distinct(values: (string | null)[]): string[] {
  return [...new Set(values.filter((value): value is string => value !== null && value !== ''))];
}

// ─── text ─────────────────────────────────────────────────────────────────────

/** `list pods -n payments`, `get secrets/db -n payments`, `get /version`. */
export function describeCall(record: SessionRecord): string {
  if (record.is_resource_request !== true) return `${record.verb ?? record.method.toLowerCase()} ${record.path}`;
  const resource = [record.resource, record.subresource].filter((part) => part !== null && part !== '').join('/');
  const group = record.api_group === null || record.api_group === '' ? '' : `.${record.api_group}`;
  const name = record.object_name === null || record.object_name === '' ? '' : ` ${record.object_name}`;
  const namespace = record.namespace === null || record.namespace === '' ? '' : ` -n ${record.namespace}`;
  return `${record.verb ?? record.method.toLowerCase()} ${resource}${group}${name}${namespace}`;
}

/** `allow (read-everything)`, `deny (no-system-secrets)`, `review → approved by lead@… (approval a1b2)`. */
export function describeDecision(record: SessionRecord): string {
  if (record.decision === null) return record.error_code === null ? 'no decision' : `refused before policy`;
  const rule = record.policy_rule === null ? 'default deny' : record.policy_rule;
  let text = `${record.decision} (${rule})`;
  if (record.approval_status !== null) {
    // A one-shot grant this call used reads as what happened: approved by someone, then used.
    const used = record.approval_status === 'consumed' && record.approver !== null;
    text += ` → ${used ? 'approved' : record.approval_status}${record.approver === null ? '' : ` by ${record.approver}`}${used ? ', grant used' : ''}`;
    if (record.approval_id !== null) text += ` [approval ${record.approval_id}]`;
  }
  if (record.unmasked_grant === true) text += ' UNMASKED (break-glass)';
  return text;
}

/** A one-line summary of the (masked) response: status and what came back. */
export function describeResponse(record: SessionRecord): string {
  if (record.phase === 'intent') return 'no outcome recorded (Gatehouse stopped before the call finished)';
  const status = record.status_code === null ? '' : String(record.status_code);
  if (record.error_code !== null) return `${status} ${record.error_code}: ${record.error_message ?? ''}`.trim();
  const body = record.response_body;
  const size = record.response_body_bytes ?? 0;
  const streamNote = record.stream_end !== null && record.stream_end !== 'complete' && record.stream_end !== 'none' ? `, ended: ${record.stream_end}` : '';
  if (body === null || body === '') return `${status}${size > 0 ? ` (${size} bytes)` : ''}${streamNote}`;
  return `${status} ${summariseBody(body, record)}${streamNote}`;
}

/** What an exec/attach/port-forward session carried, from its recording columns; nothing for other calls. */
export function describeStream(record: SessionRecord): string[] {
  if (record.recording_key === null) return [];
  const lines = [
    `      recording: ${record.recording_key} (${record.recording_bytes ?? 0} bytes stored${record.recording_truncated === true ? ', truncated at the cap' : ''}), ${record.stream_duration_ms ?? 0} ms, ended: ${record.stream_end_reason ?? 'unknown'}`,
  ];
  if (record.forward_ports !== null) {
    lines.push(`      forwarded: port ${record.forward_ports.join(', ')}; ${record.forward_bytes_in ?? 0} bytes in, ${record.forward_bytes_out ?? 0} bytes out`);
  } else {
    lines.push(`      streams: stdin ${record.stream_stdin_bytes ?? 0} bytes, stdout ${record.stream_stdout_bytes ?? 0}, stderr ${record.stream_stderr_bytes ?? 0}`);
  }
  if (record.stream_files !== null) lines.push(`      files: ${record.stream_files.join(', ')}`);
  return lines;
}

function summariseBody(body: string, record: SessionRecord): string {
  if (body.startsWith('[')) return body;
  const size = record.response_body_bytes ?? body.length;
  const lines = body.split('\n').filter((line) => line.trim() !== '');
  const documents = lines.map(parseObject);
  if (documents.length > 1 && documents.every((d) => d !== undefined && typeof d['type'] === 'string')) {
    const shown = documents.map((d) => `${String(d?.['type'])} ${objectRef(d?.['object'])}`).join(', ');
    return `${lines.length} watch events${record.response_body_truncated === true ? ' (first ones)' : ''}: ${shown} — ${size} bytes`;
  }
  const document = documents.length === 1 ? documents[0] : undefined;
  if (document === undefined) {
    const first = (lines[0] ?? '').slice(0, 80);
    return `${size} bytes${record.response_body_truncated === true ? ' (start kept)' : ''}: ${first}`;
  }
  const kind = typeof document['kind'] === 'string' ? document['kind'] : 'object';
  if (kind === 'Status') return `Status: ${String(document['message'] ?? document['status'] ?? '')}`;
  if (kind === 'Table' && Array.isArray(document['rows'])) return `Table: ${document['rows'].length} rows`;
  if (Array.isArray(document['items'])) return `${kind}: ${document['items'].length} items`;
  return `${kind} ${objectRef(document)}`;
}

function parseObject(line: string): Record<string, unknown> | undefined {
  try {
    const value: unknown = JSON.parse(line);
    return value !== null && typeof value === 'object' && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

function objectRef(object: unknown): string {
  if (object === null || typeof object !== 'object') return '';
  const metadata = (object as { metadata?: { name?: unknown; namespace?: unknown } }).metadata;
  const name = typeof metadata?.name === 'string' ? metadata.name : '';
  const namespace = typeof metadata?.namespace === 'string' ? metadata.namespace : '';
  return namespace === '' ? name : `${namespace}/${name}`;
}

export function formatSessionList(sessions: readonly SessionSummary[]): string {
  if (sessions.length === 0) return 'no sessions match\n';
  const rows = [['SESSION', 'USER', 'FIRST CALL (UTC)', 'CALLS', 'CHANGES', 'REFUSED', 'COMMANDS', 'NAMESPACES']];
  for (const s of sessions) {
    rows.push([s.sessionId, s.user ?? '-', s.firstAt, String(s.calls), String(s.changes), String(s.refused), s.commands.join(', ') || '-', s.namespaces.join(', ') || '-'].map(printable));
  }
  return table(rows);
}

const CLAIMS_NOTE = '(the session id and the $ command lines are what the client sent; the user is who signed in)';

/** The replay as text: one block per user who sent this session id, every call naming its user. */
export function formatReplay(sessionId: string, sessions: readonly ReplaySession[], options: { bodies?: boolean } = {}): string {
  if (sessions.length === 0) return `no records of session ${printable(sessionId)}\n`;
  const out: string[] = [];
  if (sessions.length > 1) {
    const users = sessions.map((session) => session.user ?? 'unauthenticated').join(', ');
    out.push(`session id ${sessionId} was sent by ${sessions.length} different users (${users}); each one's calls are shown apart`, '');
  }
  sessions.forEach((session, index) => {
    if (index > 0) out.push('');
    out.push(...replayLines(session, options));
  });
  return `${out.map(printable).join('\n')}\n`;
}

function replayLines(session: ReplaySession, options: { bodies?: boolean }): string[] {
  const calls = session.commands.flatMap((command) => command.calls.map((call) => call.record));
  const first = calls[0] as SessionRecord;
  const last = calls.at(-1) as SessionRecord;
  const user = first.user_name ?? 'unauthenticated';
  const groups = first.user_groups === null ? '' : ` (${first.user_groups.join(', ')})`;
  const out: string[] = [
    `session ${session.sessionId}: ${user}${groups} from ${first.source_ip ?? 'unknown address'}, ${calls.length} calls, ${first.started_at} … ${last.finished_at ?? last.started_at}`,
    CLAIMS_NOTE,
  ];
  for (const command of session.commands) {
    out.push('', `$ ${command.command}`);
    for (const { record, unfinished } of command.calls) {
      out.push(`  ${record.started_at.slice(11, 23)}  ${record.user_name ?? 'unauthenticated'}  ${describeCall(record)}`);
      out.push(`      decision: ${describeDecision(record)}`);
      out.push(`      response: ${unfinished ? describeResponse({ ...record, phase: 'intent' }) : describeResponse(record)}`);
      out.push(...describeStream(record));
      if (options.bodies === true) {
        if (record.request_body !== null) out.push(`      request body${record.request_body_truncated === true ? ' (cut)' : ''}: ${record.request_body}`);
        if (record.response_body !== null) out.push(`      response body${record.response_body_truncated === true ? ' (cut)' : ''}: ${record.response_body}`);
      }
    }
  }
  return out;
}

function table(rows: string[][]): string {
  const widths = (rows[0] as string[]).map((_, i) => Math.max(...rows.map((row) => (row[i] ?? '').length)));
  return `${rows.map((row) => row.map((cell, i) => (i === row.length - 1 ? cell : cell.padEnd(widths[i] ?? 0))).join('  ')).join('\n')}\n`;
}
