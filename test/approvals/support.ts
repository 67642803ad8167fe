/** Shared pieces of the approval tests: a sample approval, a settable clock, the stand-ins. */
import type { Approval } from '../../src/approvals/approval.ts';
import type { Clock, Decision, Identity, KubeRequest } from '../../src/types.ts';

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
      method: 'DELETE',
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

export function podRequest(overrides: Partial<KubeRequest> = {}): KubeRequest {
  return {
    isResourceRequest: true,
    path: '/api/v1/namespaces/prod/pods/web-1',
    verb: 'delete',
    apiPrefix: 'api',
    apiGroup: '',
    apiVersion: 'v1',
    namespace: 'prod',
    resource: 'pods',
    subresource: '',
    name: 'web-1',
    parts: ['namespaces', 'prod', 'pods', 'web-1'],
    fieldSelector: '',
    labelSelector: '',
    ...overrides,
  };
}

export function reviewDecision(overrides: Partial<NonNullable<Decision['review']>> = {}): Decision {
  return {
    effect: 'review',
    rule: 'prod-deletes',
    reason: 'deleting in prod needs a second person',
    review: { approvers: ['bob@example.com'], grant: 'once', windowSeconds: 0, ...overrides },
  };
}
