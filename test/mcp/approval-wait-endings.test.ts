/**
 * How waiting for an approval ends (src/mcp/approval-wait.ts), on the real approval service
 * (dynalite + the SES emulator) with a clock the wait's sleep advances: approved mid-wait,
 * denied, expired, the wait's own limit, an approval of someone else, a client that cannot be
 * asked, a call cancelled. The question's answer is what an MCP client hands back.
 */
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import type { Hono } from 'hono';
import { waitForApproval, type WaitContext } from '../../src/mcp/approval-wait.ts';
import type { Approvals } from '../../src/ports/approvals.ts';
import type { GatehouseEnv } from '../../src/context.ts';
import { alice, mailedLink, startApprovalFlow, type ApprovalStack, type FakeClock } from '../approvals/support.ts';

let stack: ApprovalStack;
let clock: FakeClock;
let approvals: Approvals;
let app: Hono<GatehouseEnv>;
before(async () => {
  ({ stack, clock, approvals, app } = await startApprovalFlow());
});
after(() => stack.close());

const SAME_ORIGIN = { origin: 'http://localhost', 'sec-fetch-site': 'same-origin', 'content-type': 'application/x-www-form-urlencoded' };
let pods = 0;

/** A fresh pending approval of alice's (a delete of a new pod) and the pending result a tool returns for it. */
async function pendingApproval(): Promise<{ id: string; result: CallToolResult }> {
  pods += 1;
  const response = await app.request(`/api/v1/namespaces/prod/pods/wait-${pods}`, { method: 'DELETE', headers: { 'x-user': alice.user } });
  const id = ((await response.json()) as { details?: { name?: string } }).details?.name ?? assert.fail('no approval id');
  const structuredContent = { status: 'pending_approval', approvalId: id, approvers: ['bob@example.com'], message: 'held', retryArguments: {} };
  return { id, result: { content: [{ type: 'text', text: `PENDING APPROVAL ${id}` }], structuredContent } };
}

async function decide(id: string, verdict: 'approve' | 'deny', comment = ''): Promise<void> {
  const link = await mailedLink(stack.mail, 'bob@example.com', id);
  const page = await (await app.request(link)).text();
  const formToken = /name="formToken" value="([^"]+)"/.exec(page)?.[1] ?? '';
  const response = await app.request(link, { method: 'POST', headers: SAME_ORIGIN, body: new URLSearchParams({ formToken, verdict, comment }).toString() });
  assert.equal(response.status, 303);
}

const APPROVED_RESULT: CallToolResult = { content: [{ type: 'text', text: 'Deleted.' }], structuredContent: { dryRun: false } };
const context = (overrides: Partial<WaitContext> = {}): WaitContext => ({
  elicit: async () => ({ action: 'accept' }),
  progress: async () => undefined,
  signal: new AbortController().signal,
  ...overrides,
});

interface Case {
  name: string;
  maxSeconds?: number;
  identity?: typeof alice;
  context?: Partial<WaitContext>;
  /** Runs at each sleep of the wait (the n-th, from 1), after the clock moved on. */
  during?: (id: string, sleep: number) => Promise<void>;
  status: string | undefined;
  wait: string | undefined;
  text: RegExp;
  ranAgain: boolean;
}

const cases: Case[] = [
  { name: 'approved on the third reading: the tool runs again and its result is returned', during: async (id, n) => (n === 2 ? decide(id, 'approve') : undefined), status: undefined, wait: undefined, text: /^Deleted\.$/, ranAgain: true },
  { name: 'denied with a comment: an error result naming the approver and the comment', during: async (id, n) => (n === 1 ? decide(id, 'deny', 'freeze') : undefined), status: 'denied', wait: 'denied', text: /^DENIED: approval [0-9a-f]{20} was denied by bob@example\.com with the comment "freeze"\. Nothing was changed; do not retry it unchanged\.$/, ranAgain: false },
  { name: 'expired while waiting: an error result saying so', maxSeconds: 3600, during: async () => clock.advance(1200), status: 'expired', wait: 'expired', text: /^Approval [0-9a-f]{20} expired without a decision\. Nothing was changed; calling the tool again asks anew\.$/, ranAgain: false },
  { name: 'still pending when the wait ends: the pending result, saying how long it waited', maxSeconds: 5, status: 'pending_approval', wait: 'timed_out', text: /^Waited 5 s \(the most Gatehouse waits is 5 s\); approval [0-9a-f]{20} is still pending\.\nPENDING APPROVAL /, ranAgain: false },
  { name: "another person's approval is never read: not found", identity: { ...alice, user: 'mallory@example.com' }, status: 'pending_approval', wait: 'not_found', text: /^Approval [0-9a-f]{20} could not be read any more\./, ranAgain: false },
  { name: 'a client that fails to answer the question: the pending result, saying why', context: { elicit: async () => Promise.reject(new Error('MCP error -32001: Request timed out')) }, status: 'pending_approval', wait: 'not_asked', text: /^Gatehouse could not ask the user whether to wait \(MCP error -32001: Request timed out\)\.\nPENDING APPROVAL /, ranAgain: false },
  { name: 'a call cancelled while waiting: the pending result, saying so', context: { signal: AbortSignal.abort() }, status: 'pending_approval', wait: 'cancelled', text: /^The tool call was cancelled while waiting for the approval\./, ranAgain: false },
];

describe('how waiting for an approval ends', () => {
  for (const c of cases) {
    test(c.name, async () => {
      const { id, result: pending } = await pendingApproval();
      let ranAgain = false;
      let sleeps = 0;
      const result = await waitForApproval({
        pendingResult: pending,
        identity: c.identity ?? alice,
        runAgain: async () => {
          ranAgain = true;
          return APPROVED_RESULT;
        },
        context: context(c.context),
        options: {
          approvals,
          clock,
          maxSeconds: c.maxSeconds ?? 600,
          pollIntervalMs: 1000,
          sleep: async (ms) => {
            sleeps += 1;
            clock.advance(ms / 1000);
            await c.during?.(id, sleeps);
          },
        },
      });
      const text = result.content.map((block) => (block.type === 'text' ? block.text : '')).join('\n');
      assert.match(text, c.text);
      assert.equal(result.structuredContent?.['status'], c.status);
      assert.equal(result.structuredContent?.['wait'], c.wait);
      assert.equal(ranAgain, c.ranAgain);
      assert.equal(result.isError === true, c.status !== undefined && c.status !== 'pending_approval');
    });
  }
});
