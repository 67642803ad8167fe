/**
 * Waiting for an approval inside a tool call, when the user agrees to: Gatehouse asks through
 * MCP elicitation ("wait for the approval?"), then reads the approval every `pollIntervalMs`
 * until it is decided, lapses, or `maxSeconds` pass. Approved: the tool runs again — its
 * requests now carry the grant — and its real result is returned. Every other ending is a tool
 * result saying so (never an exception): declined or cancelled (still pending), denied (by whom,
 * with their comment), expired, still pending when the wait ended, or the approval unreadable.
 *
 * Contract: `waitForApproval({ pendingResult, identity, runAgain, context, options })` with
 * `pendingResult` the tool's own pending result; `context` is what the SDK hands the tool handler (send a request to the
 * client, send progress, the call's abort signal). While waiting it sends
 * `notifications/progress` when the client asked for progress (so a client that resets its
 * timeout on progress keeps waiting).
 */
import type { CallToolResult, ElicitRequest } from '@modelcontextprotocol/sdk/types.js';
import type { Approvals } from '../ports/approvals.ts';
import type { Clock, Identity } from '../types.ts';
import { pendingOf, waitEnded, type PendingApproval } from './tool-results.ts';

export interface ApprovalWaitOptions {
  approvals: Approvals;
  clock: Clock;
  /** Longest wait after the user accepted (seconds). */
  maxSeconds: number;
  /** Default 1000 ms. */
  pollIntervalMs?: number;
  /** How the wait sleeps; default setTimeout (ends early when the call is aborted). */
  sleep?: (ms: number, signal: AbortSignal) => Promise<void>;
}

export interface WaitContext {
  /** Asks the user through the client; rejects when the client fails or goes away. */
  elicit(params: ElicitRequest['params']): Promise<{ action: string }>;
  /** Sends a progress notification when the client asked for progress; otherwise nothing. */
  progress(progress: number, message: string): Promise<void>;
  /** Aborted when the client is gone or the call was cancelled. */
  signal: AbortSignal;
}

/** The form: nothing to fill in, accept means "wait". */
const WAIT_FORM = { type: 'object' as const, properties: {} };

/** One wait: the tool's pending result, whose identity, how to run the tool again, the SDK's context, the settings. */
interface Wait {
  pendingResult: CallToolResult;
  identity: Identity;
  runAgain: () => Promise<CallToolResult>;
  context: WaitContext;
  options: ApprovalWaitOptions;
}

export async function waitForApproval(wait: Wait): Promise<CallToolResult> {
  const { pendingResult, context, options } = wait;
  const pending = pendingOf(pendingResult);
  if (pending === undefined || options.maxSeconds <= 0) return pendingResult;
  let action: string;
  try {
    ({ action } = await context.elicit({ mode: 'form', message: question(pending, options.maxSeconds), requestedSchema: WAIT_FORM }));
  } catch (error) {
    return waitEnded(pendingResult, 'not_asked', `Gatehouse could not ask the user whether to wait (${error instanceof Error ? error.message : String(error)}).`);
  }
  if (action === 'decline') return waitEnded(pendingResult, 'declined', 'The user declined to wait here for the approval.');
  if (action !== 'accept') return waitEnded(pendingResult, 'cancelled', 'The user dismissed the question whether to wait for the approval.');
  return poll(pending, wait);
}

async function poll(pending: PendingApproval, { pendingResult, identity, runAgain, context, options }: Wait): Promise<CallToolResult> {
  const { approvals, clock } = options;
  const interval = options.pollIntervalMs ?? 1000;
  const sleep = options.sleep ?? abortableSleep;
  const started = clock.now();
  const deadline = started + options.maxSeconds * 1000;
  for (;;) {
    if (context.signal.aborted) return waitEnded(pendingResult, 'cancelled', 'The tool call was cancelled while waiting for the approval.');
    const state = await approvals.state(pending.approvalId, identity.user);
    if (state === undefined) return waitEnded(pendingResult, 'not_found', `Approval ${pending.approvalId} could not be read any more.`);
    switch (state.status) {
      case 'approved':
        return runAgain();
      case 'consumed':
        return waitEnded(pendingResult, 'consumed', `Approval ${pending.approvalId} was approved${by(state.decidedBy)} and its grant is already used (another call with the same arguments went through).`, true);
      case 'denied':
        return waitEnded(pendingResult, 'denied', `DENIED: approval ${pending.approvalId} was denied${by(state.decidedBy)}${state.comment === undefined ? '' : ` with the comment ${JSON.stringify(state.comment)}`}. Nothing was changed; do not retry it unchanged.`, true);
      case 'expired':
        return waitEnded(pendingResult, 'expired', `Approval ${pending.approvalId} expired without a decision. Nothing was changed; calling the tool again asks anew.`, true);
      case 'pending':
        break;
    }
    const now = clock.now();
    if (now >= deadline) {
      return waitEnded(pendingResult, 'timed_out', `Waited ${Math.round((now - started) / 1000)} s (the most Gatehouse waits is ${options.maxSeconds} s); approval ${pending.approvalId} is still pending.`);
    }
    await context.progress(Math.round((now - started) / 1000), `waiting for approval ${pending.approvalId} (asked: ${pending.approvers.join(', ')})`).catch(() => undefined);
    await sleep(Math.min(interval, deadline - now), context.signal);
  }
}

function question(pending: PendingApproval, maxSeconds: number): string {
  const limit = maxSeconds >= 120 ? `${Math.floor(maxSeconds / 60)} minutes` : `${maxSeconds} seconds`;
  return (
    `Gatehouse: this call needs a person's approval first (approval ${pending.approvalId}; asked: ${pending.approvers.join(', ') || 'nobody listed'}). ` +
    `Wait here for their decision (up to ${limit})? Accept to wait and run it once approved; decline to get the pending result now.`
  );
}

const by = (who: string | undefined): string => (who === undefined ? '' : ` by ${who}`);

function abortableSleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const done = (): void => {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, Math.max(0, ms));
    signal.addEventListener('abort', done, { once: true });
  });
}
