/** Shared pieces of the approval tests: a sample approval, a settable clock, the stand-ins. */
import type { Approval } from '../../src/approvals/approval.ts';
import type { Clock, Decision, Identity } from '../../src/types.ts';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Hono } from 'hono';
import type { GatehouseEnv } from '../../src/context.ts';
import { createApprovalsTable } from '../../src/adapters/dynamodb-approvals.ts';
import { createApprovalsFromConfig, type CreateApprovalsOptions } from '../../src/approvals/create-approvals.ts';
import { approvalRoutes } from '../../src/approvals/routes.ts';
import type { ApprovalsConfig } from '../../src/config.ts';
import { asGatehouseError, statusResponse } from '../../src/errors.ts';
import { startLocalDynamoDb } from '../../src/local/dynamodb.ts';
import { startLocalMail, type LocalMailServer } from '../../src/local/mail.ts';
import { approve } from '../../src/pipeline/approve.ts';
import { rawTarget } from '../../src/pipeline/classify.ts';
import type { Approvals } from '../../src/ports/approvals.ts';
import { classifyRequest } from '../../src/request-info.ts';

export const T0 = Date.parse('2025-06-01T10:00:00.000Z');

export class FakeClock implements Clock {
  constructor(public ms: number = T0) {}
  now(): number {
    return this.ms;
  }
  advance(seconds: number): void {
    this.ms += seconds * 1000;
  }
}

export function sampleApproval(overrides: Partial<Approval> = {}): Approval {
  return {
    id: 'a1',
    fingerprint: 'f'.repeat(64),
    status: 'pending',
    requester: { user: 'alice@example.com', groups: ['dev'] },
    target: {
      cluster: 'default',
      method: 'DELETE',
      contentType: '',
      verb: 'delete',
      apiGroup: '',
      apiVersion: 'v1',
      resource: 'pods',
      subresource: '',
      namespace: 'prod',
      name: 'web-1',
      path: '/api/v1/namespaces/prod/pods/web-1',
      query: '',
      bodySha256: '',
    },
    kubectlCommand: 'kubectl delete',
    kubectlSession: 's-1',
    body: { kind: 'none', contentType: '', bytes: 0, text: '', truncated: false },
    rule: 'prod-deletes',
    reason: 'deleting in prod needs a second person',
    approvers: ['bob@example.com', 'carol@example.com'],
    grant: 'once',
    windowSeconds: 0,
    grantSeconds: 600,
    createdAt: T0,
    expiresAt: T0 + 3600_000,
    useCount: 0,
    links: { L1: 'bob@example.com', L2: 'carol@example.com' },
    events: [{ action: 'requested', by: 'alice@example.com', at: T0 }],
    ...overrides,
  };
}

export const alice: Identity = { user: 'alice@example.com', groups: ['dev'], claims: {} };

export function reviewDecision(overrides: Partial<NonNullable<Decision['review']>> = {}): Decision {
  return {
    effect: 'review',
    rule: 'prod-deletes',
    reason: 'deleting in prod needs a second person',
    review: { approvers: ['bob@example.com'], grant: 'once', windowSeconds: 0, ...overrides },
  };
}

// ─── the approval service on its real stand-ins ──────────────────────────────────────────
export interface ApprovalStack {
  config: ApprovalsConfig;
  mail: LocalMailServer;
  make(options?: CreateApprovalsOptions & { holdSeconds?: number }): Approvals;
  close(): Promise<void>;
}

/** dynalite + the SES emulator + a key file, and a factory for services on them. */
export async function startApprovalStack(publicUrl = 'http://localhost'): Promise<ApprovalStack> {
  const dir = mkdtempSync(join(tmpdir(), 'gatehouse-approvals-'));
  const db = await startLocalDynamoDb();
  const mail = await startLocalMail();
  await createApprovalsTable(db.client(), 'approvals');
  const config: ApprovalsConfig = {
    name: 'Gatehouse',
    tableName: 'approvals',
    publicUrl,
    mailFrom: 'gatehouse@example.com',
    ttlSeconds: 3600,
    holdSeconds: 0,
    maxBodyBytes: 1024,
    dynamodbEndpoint: db.endpoint,
    sesEndpoint: mail.endpoint,
    signingKeyFile: join(dir, 'approval-link.key'),
  };
  return {
    config,
    mail,
    make: ({ holdSeconds, ...options } = {}) => createApprovalsFromConfig({ ...config, holdSeconds: holdSeconds ?? 0 }, options),
    async close() {
      await Promise.all([db.close(), mail.close()]);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** The latest approval link mailed to `to` for `approvalId`, as a path for app.request. */
export async function mailedLink(mail: LocalMailServer, to: string, approvalId: string): Promise<string> {
  const mails = (await mail.messages(to)).filter((m) => m.body.text?.includes(`/_gatehouse/approvals/${approvalId}?t=`));
  const text = mails.at(-1)?.body.text ?? '';
  const link = /https?:\/\/\S+\/_gatehouse\/approvals\/\S+/.exec(text)?.[0];
  if (link === undefined) throw new Error(`no approval link for ${approvalId} mailed to ${to}`);
  const url = new URL(link);
  return url.pathname + url.search;
}

export interface Forwarded {
  method: string;
  path: string;
  body: string;
}

/**
 * The stages around approve, reduced to what it needs: identity from `x-user`, the real
 * classifier, a review decision for every resource request (approvers from
 * `x-approvers`, grant from `x-grant`), and a "forward" that counts what got through.
 */
export function approvalApp(approvals: Approvals, clock: Clock): { app: Hono<GatehouseEnv>; forwarded: Forwarded[] } {
  const forwarded: Forwarded[] = [];
  const app = new Hono<GatehouseEnv>();
  app.onError((error) => statusResponse(asGatehouseError(error)));
  app.route('/_gatehouse/approvals', approvalRoutes(approvals, clock));
  app.use('*', async (c, next) => {
    c.set('identity', { user: c.req.header('x-user') ?? alice.user, groups: ['dev'], claims: {} });
    const target = rawTarget(c);
    // The cluster the route stage would name (a header only in this test app: Gatehouse reads it from the path).
    c.set('kubeRequest', classifyRequest(c.req.method, target.path, target.query, { runtime: 'node', cluster: c.req.header('x-test-cluster') ?? 'prod-eu' }));
    const grant = c.req.header('x-grant') === 'window' ? 'window' : 'once';
    c.set(
      'decision',
      reviewDecision({ approvers: (c.req.header('x-approvers') ?? 'bob@example.com').split(','), grant, windowSeconds: grant === 'window' ? 300 : 0 }),
    );
    await next();
  });
  app.use('*', approve(approvals, clock));
  app.all('*', async (c) => {
    forwarded.push({ method: c.req.method, path: c.req.path, body: await c.req.text() });
    return c.json({ kind: 'Pod', forwarded: true });
  });
  return { app, forwarded };
}

/** The stack, a clock at now and the approve stage's app on a service of the stack: what the flow tests share. */
export async function startApprovalFlow(): Promise<{ stack: ApprovalStack; clock: FakeClock; approvals: Approvals; app: Hono<GatehouseEnv>; forwarded: Forwarded[] }> {
  const stack = await startApprovalStack();
  const clock = new FakeClock(Date.now());
  const approvals = stack.make({ clock });
  return { stack, clock, approvals, ...approvalApp(approvals, clock) };
}
