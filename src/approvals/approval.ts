/**
 * The approval model and its state machine — pure, no clock or I/O (times are passed in,
 * epoch milliseconds).
 *
 *   pending ──approve──► approved ──consume (once)──► consumed
 *      │  └──deny─────► denied         └─(window: each use counted until the grant ends)
 *      └──time up─────► expired        (an approved grant whose time is up reads as expired)
 *
 * The guards here are the same ones the store's conditional writes enforce atomically; the
 * store calls them again after a failed condition, so the error a caller sees names the
 * real reason (already decided by whom, expired when, already used).
 */
import { describeAction } from '../policy/describe-request.ts';
import { GatehouseError } from '../errors.ts';
import type { ApprovalOutcome } from '../types.ts';
import type { BodySummary } from './body-summary.ts';
import type { FingerprintInput } from './fingerprint.ts';

export type ApprovalStatus = 'pending' | 'approved' | 'denied' | 'expired' | 'consumed';
export type Verdict = 'approve' | 'deny';
export type ApprovalAction = 'requested' | 'notified' | 'approved' | 'denied' | 'expired' | 'consumed' | 'used';

/** One thing that happened to an approval, with who and when (kept for the records). */
export interface ApprovalEvent {
  action: ApprovalAction;
  by: string;
  at: number;
  comment?: string;
}

/** What exactly was asked for: what the fingerprint binds, plus the API version shown to approvers. */
export interface ApprovalTarget extends Omit<FingerprintInput, 'user'> {
  apiVersion: string;
}

/** What approvers are told of a request an AI agent made through the MCP endpoint. */
export interface AgentRequest {
  tool: string;
  /** The tool's arguments as JSON, masked. */
  arguments: string;
  /** The MCP session, "" when none. */
  session: string;
}

export interface Approval {
  id: string;
  fingerprint: string;
  status: ApprovalStatus;
  /** Whom the request runs as: what policy decided and the cluster will see (the impersonated identity under kubectl --as). */
  requester: { user: string; groups: string[] };
  /** Set when the signed-in caller acts as `requester` (kubectl --as, allowed by policy): who actually asked. */
  impersonator?: { user: string; groups: string[] };
  target: ApprovalTarget;
  kubectlCommand: string;
  kubectlSession: string;
  /** Set when an AI agent asked through the MCP endpoint: the tool and its (masked) arguments, for approvers. */
  agent?: AgentRequest;
  body: BodySummary;
  rule: string | null;
  reason: string;
  approvers: string[];
  grant: 'once' | 'window';
  windowSeconds: number;
  /** Seconds an approved one-shot grant stays usable. */
  grantSeconds: number;
  createdAt: number;
  /** Pending: when the request lapses. Approved: when the grant ends. */
  expiresAt: number;
  decidedBy?: string;
  decidedAt?: number;
  comment?: string;
  useCount: number;
  lastUsedAt?: number;
  /** The id of the last use of the grant: a retried write whose first answer was lost recognises itself by it. */
  lastUseId?: string;
  notifiedAt?: number;
  /** Link id (JWT jti) → approver it was sent to. */
  links: Record<string, string>;
  events: ApprovalEvent[];
}

/** User names and mail addresses compare without regard to case or surrounding blanks. */
export function samePerson(a: string, b: string): boolean {
  return a.trim().toLowerCase() === b.trim().toLowerCase();
}

export function iso(ms: number): string {
  return new Date(ms).toISOString();
}

/** The status as of `now`: a pending request or a grant whose time is up reads as expired. */
export function effectiveStatus(approval: Approval, now: number): ApprovalStatus {
  if ((approval.status === 'pending' || approval.status === 'approved') && now >= approval.expiresAt) return 'expired';
  return approval.status;
}

/** Who asked: the signed-in caller (under kubectl --as, not the identity it acts as). */
export function askedBy(approval: Approval): { user: string; groups: string[] } {
  return approval.impersonator ?? approval.requester;
}

/** Throws unless `approver` may decide `approval` now. */
export function assertDecidable(approval: Approval, approver: string, now: number): void {
  if (samePerson(approver, askedBy(approval).user)) {
    throw new GatehouseError(
      'ERR_APPROVAL_SELF',
      `"${approver}" asked for approval ${approval.id} and may not decide it: nobody approves their own request`,
    );
  }
  if (samePerson(approver, approval.requester.user)) {
    throw new GatehouseError(
      'ERR_APPROVAL_SELF',
      `"${approver}" is whom approval ${approval.id} runs as (${askedBy(approval).user} asked, acting as them) and may not decide it: nobody approves a request made as themselves`,
    );
  }
  if (!approval.approvers.some((a) => samePerson(a, approver))) {
    throw new GatehouseError('ERR_APPROVAL_LINK_INVALID', `"${approver}" is not an approver of approval ${approval.id}`);
  }
  if (approval.status !== 'pending') {
    throw new GatehouseError('ERR_APPROVAL_ALREADY_DECIDED', `approval ${approval.id} cannot be decided again: ${describeState(approval)}`);
  }
  if (now >= approval.expiresAt) {
    throw new GatehouseError(
      'ERR_APPROVAL_EXPIRED',
      `approval ${approval.id} expired at ${iso(approval.expiresAt)} without a decision; running the command again asks anew`,
    );
  }
}

/** Throws unless the approval's grant can let one more request through now. */
export function assertConsumable(approval: Approval, now: number): void {
  if (approval.status === 'consumed') {
    throw new GatehouseError(
      'ERR_GRANT_ALREADY_USED',
      `approval ${approval.id} allowed this request once and it already ran (at ${iso(approval.lastUsedAt ?? approval.decidedAt ?? approval.createdAt)}); running the command again asks for a new approval`,
    );
  }
  if (approval.status !== 'approved') {
    throw new GatehouseError('ERR_APPROVAL_REQUIRED', `approval ${approval.id} grants nothing: ${describeState(approval)}`);
  }
  if (now >= approval.expiresAt) {
    throw new GatehouseError(
      'ERR_APPROVAL_EXPIRED',
      `the grant of approval ${approval.id} ended at ${iso(approval.expiresAt)}; running the command again asks anew`,
    );
  }
}

/** When a decision made at `at` lets the grant end (approvals) or the denial stand until. */
export function expiryAfterDecision(approval: Approval, verdict: Verdict, at: number): number {
  if (verdict === 'deny') return approval.expiresAt;
  return at + 1000 * (approval.grant === 'window' ? approval.windowSeconds : approval.grantSeconds);
}

/** "approved by bob@example.com at …", for messages and pages. */
export function describeState(approval: Approval): string {
  const by = approval.decidedBy === undefined ? '' : ` by ${approval.decidedBy}`;
  const at = approval.decidedAt === undefined ? '' : ` at ${iso(approval.decidedAt)}`;
  const comment = approval.comment ? ` (comment: ${JSON.stringify(approval.comment)})` : '';
  switch (approval.status) {
    case 'pending':
      return `it is pending since ${iso(approval.createdAt)}, waiting for ${approval.approvers.join(', ')}`;
    case 'approved':
      return `it was approved${by}${at}${comment}`;
    case 'denied':
      return `it was denied${by}${at}${comment}`;
    case 'consumed':
      return `it was approved${by}${at}${comment} and its one-shot grant has been used`;
    case 'expired':
      return `it expired at ${iso(approval.expiresAt)} without a decision`;
  }
}

/** What the records keep next to the request. */
export function toOutcome(approval: Approval, now: number): ApprovalOutcome {
  const outcome: ApprovalOutcome = { approvalId: approval.id, status: effectiveStatus(approval, now) };
  if (approval.decidedBy !== undefined) outcome.approver = approval.decidedBy;
  if (approval.decidedAt !== undefined) outcome.decidedAt = iso(approval.decidedAt);
  return outcome;
}

/** The request in the words of the API server's own messages: `delete pods "web" in namespace "prod"`. */
export function describeTarget(target: Pick<ApprovalTarget, 'verb' | 'resource' | 'subresource' | 'namespace' | 'name' | 'apiGroup' | 'path'>): string {
  if (target.resource === '') return `${target.verb} ${target.path}`;
  return describeAction({ ...target, isResourceRequest: true });
}

/** What an exec or attach runs, read from its query: the argv (shell-quoted), the container and the streams. */
export function describeStreamCall(target: Pick<ApprovalTarget, 'resource' | 'subresource' | 'query'>): { command: string; argv: string[]; container: string; interactive: string } | undefined {
  if (target.resource !== 'pods' || (target.subresource !== 'exec' && target.subresource !== 'attach')) return undefined;
  const query = new URLSearchParams(target.query);
  const quote = (word: string): string => (/^[\w@%+=:,./-]+$/.test(word) ? word : `'${word.replace(/'/g, `'\\''`)}'`);
  const on = (key: string): boolean => ['true', '1'].includes(query.get(key) ?? '');
  const streams = [on('stdin') ? 'stdin' : '', on('tty') ? 'a terminal (TTY)' : ''].filter((s) => s !== '');
  return {
    command: target.subresource === 'attach' ? '(attaches to the running process)' : query.getAll('command').map(quote).join(' '),
    argv: target.subresource === 'attach' ? [] : query.getAll('command'),
    container: query.get('container') ?? '',
    interactive: streams.length === 0 ? 'no input' : `interactive: ${streams.join(' and ')}`,
  };
}
