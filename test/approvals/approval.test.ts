import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  assertConsumable,
  assertDecidable,
  describeTarget,
  effectiveStatus,
  expiryAfterDecision,
  toOutcome,
} from '../../src/approvals/approval.ts';
import { GatehouseError } from '../../src/errors.ts';
import { sampleApproval, T0 } from './support.ts';

function thrown(fn: () => void): GatehouseError {
  try {
    fn();
  } catch (error) {
    assert.ok(error instanceof GatehouseError);
    return error;
  }
  assert.fail('expected a GatehouseError');
}

describe('approval state machine', () => {
  test('a pending approval within its time reads as pending', () => {
    assert.equal(effectiveStatus(sampleApproval(), T0 + 1000), 'pending');
  });
  test('a pending approval past its time reads as expired (TTL deletion is lazy)', () => {
    assert.equal(effectiveStatus(sampleApproval(), T0 + 3600_000), 'expired');
  });
  test('an approved grant past its end reads as expired', () => {
    assert.equal(effectiveStatus(sampleApproval({ status: 'approved', expiresAt: T0 + 10 }), T0 + 10), 'expired');
  });

  const refusals: [string, () => void, string, RegExp][] = [
    [
      'the requester cannot approve their own request',
      () => assertDecidable(sampleApproval({ approvers: ['alice@example.com', 'bob@example.com'] }), 'Alice@Example.com', T0),
      'ERR_APPROVAL_SELF',
      /^"Alice@Example.com" asked for approval a1 and may not decide it: nobody approves their own request$/,
    ],
    [
      'the signed-in caller who asked with kubectl --as cannot approve it either',
      () =>
        assertDecidable(sampleApproval({ impersonator: { user: 'carol@example.com', groups: ['oncall'] }, approvers: ['carol@example.com', 'bob@example.com'] }), 'Carol@example.com', T0),
      'ERR_APPROVAL_SELF',
      /^"Carol@example.com" asked for approval a1 and may not decide it: nobody approves their own request$/,
    ],
    [
      'the identity a kubectl --as request runs as cannot approve it',
      () =>
        assertDecidable(sampleApproval({ impersonator: { user: 'carol@example.com', groups: ['oncall'] }, approvers: ['alice@example.com', 'bob@example.com'] }), 'alice@example.com', T0),
      'ERR_APPROVAL_SELF',
      /^"alice@example.com" is whom approval a1 runs as \(carol@example.com asked, acting as them\) and may not decide it: nobody approves a request made as themselves$/,
    ],
    [
      'someone who is not an approver cannot decide',
      () => assertDecidable(sampleApproval(), 'mallory@example.com', T0),
      'ERR_APPROVAL_LINK_INVALID',
      /^"mallory@example.com" is not an approver of approval a1$/,
    ],
    [
      'an approved approval cannot be decided again',
      () => assertDecidable(sampleApproval({ status: 'approved', decidedBy: 'carol@example.com', decidedAt: T0 + 5000 }), 'bob@example.com', T0 + 6000),
      'ERR_APPROVAL_ALREADY_DECIDED',
      /^approval a1 cannot be decided again: it was approved by carol@example.com at 2025-06-01T10:00:05.000Z$/,
    ],
    [
      'a denied approval cannot be decided again',
      () => assertDecidable(sampleApproval({ status: 'denied', decidedBy: 'carol@example.com', decidedAt: T0, comment: 'not now' }), 'bob@example.com', T0),
      'ERR_APPROVAL_ALREADY_DECIDED',
      /it was denied by carol@example.com at .* \(comment: "not now"\)$/,
    ],
    [
      'a consumed approval cannot be decided again',
      () => assertDecidable(sampleApproval({ status: 'consumed', decidedBy: 'carol@example.com', decidedAt: T0 }), 'bob@example.com', T0),
      'ERR_APPROVAL_ALREADY_DECIDED',
      /one-shot grant has been used$/,
    ],
    [
      'an expired approval cannot be decided',
      () => assertDecidable(sampleApproval(), 'bob@example.com', T0 + 3600_000),
      'ERR_APPROVAL_EXPIRED',
      /^approval a1 expired at 2025-06-01T11:00:00.000Z without a decision; running the command again asks anew$/,
    ],
    [
      'a consumed one-shot grant cannot be used again',
      () => assertConsumable(sampleApproval({ status: 'consumed', decidedAt: T0, lastUsedAt: T0 + 1000 }), T0 + 2000),
      'ERR_GRANT_ALREADY_USED',
      /^approval a1 allowed this request once and it already ran \(at 2025-06-01T10:00:01.000Z\); running the command again asks for a new approval$/,
    ],
    [
      'a pending approval grants nothing',
      () => assertConsumable(sampleApproval(), T0),
      'ERR_APPROVAL_REQUIRED',
      /^approval a1 grants nothing: it is pending since/,
    ],
    [
      'a grant past its end cannot be used',
      () => assertConsumable(sampleApproval({ status: 'approved', expiresAt: T0 }), T0),
      'ERR_APPROVAL_EXPIRED',
      /^the grant of approval a1 ended at 2025-06-01T10:00:00.000Z/,
    ],
  ];
  for (const [name, fn, code, message] of refusals) {
    test(name, () => {
      const error = thrown(fn);
      assert.equal(error.code, code);
      assert.match(error.message, message);
    });
  }

  test('a listed approver may decide a pending approval in time', () => {
    assertDecidable(sampleApproval(), 'BOB@example.com ', T0 + 1000);
  });
  test('an approved grant in time can be consumed', () => {
    assertConsumable(sampleApproval({ status: 'approved' }), T0);
  });
  test('approving a one-shot grant gives the requester grantSeconds to run it', () => {
    assert.equal(expiryAfterDecision(sampleApproval(), 'approve', T0 + 1000), T0 + 1000 + 600_000);
  });
  test('approving a window grant opens the window from the decision', () => {
    assert.equal(expiryAfterDecision(sampleApproval({ grant: 'window', windowSeconds: 300 }), 'approve', T0), T0 + 300_000);
  });
  test('a denial stands until the request would have expired', () => {
    assert.equal(expiryAfterDecision(sampleApproval(), 'deny', T0 + 1000), T0 + 3600_000);
  });
  test('the outcome for records names the approval, status, approver and time', () => {
    assert.deepEqual(toOutcome(sampleApproval({ status: 'consumed', decidedBy: 'bob@example.com', decidedAt: T0 }), T0), {
      approvalId: 'a1',
      status: 'consumed',
      approver: 'bob@example.com',
      decidedAt: '2025-06-01T10:00:00.000Z',
    });
  });
});

describe('describing a target', () => {
  const base = sampleApproval().target;
  const cases: [string, Partial<typeof base>, string][] = [
    ['a namespaced object', {}, 'delete pods "web-1" in namespace "prod"'],
    ['a subresource', { verb: 'create', subresource: 'exec' }, 'create pods/exec "web-1" in namespace "prod"'],
    ['a grouped resource without name', { verb: 'list', apiGroup: 'apps', resource: 'deployments', name: '' }, 'list deployments.apps in namespace "prod"'],
    ['a cluster-scoped object', { resource: 'namespaces', namespace: '', name: 'prod' }, 'delete namespaces "prod"'],
    ['a non-resource URL', { verb: 'get', resource: '', path: '/metrics' }, 'get /metrics'],
  ];
  for (const [name, change, expected] of cases) {
    test(`${name} reads like the API server's messages`, () => assert.equal(describeTarget({ ...base, ...change }), expected));
  }
});
