/** The DynamoDB approval store against dynalite, through the real SDK client. */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { GetItemCommand, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { createApprovalsTable, createDynamoDbApprovalStore } from '../../src/adapters/dynamodb-approvals.ts';
import type { Approval } from '../../src/approvals/approval.ts';
import { GatehouseError } from '../../src/errors.ts';
import { startLocalDynamoDb, type LocalDynamoDb } from '../../src/local/dynamodb.ts';
import type { ApprovalStore } from '../../src/ports/approvals.ts';
import { sampleApproval, T0 } from './support.ts';
import { rejection } from '../support/rejection.ts';

let db: LocalDynamoDb;
let client: DynamoDBClient;
let store: ApprovalStore;
let next = 0;

before(async () => {
  db = await startLocalDynamoDb();
  client = db.client();
  await createApprovalsTable(client, 'approvals');
  store = createDynamoDbApprovalStore(client, 'approvals');
});
after(() => db.close());

async function stored(overrides: Partial<Approval> = {}): Promise<Approval> {
  const approval = sampleApproval({ id: `a${++next}`, ...overrides });
  await store.create(approval);
  return approval;
}

const approveBy = (by: string, at = T0 + 1000) => ({ verdict: 'approve' as const, by, at, comment: 'ok', expiresAt: at + 600_000 });

describe('DynamoDB approval store', () => {
  test('an approval reads back as it was stored', async () => {
    const approval = await stored();
    assert.deepEqual(await store.get(approval.id), approval);
  });

  test('an unknown approval reads as undefined', async () => {
    assert.equal(await store.get('nope'), undefined);
  });

  test('an id cannot be stored twice', async () => {
    const approval = await stored();
    const error = await rejection(store.create(approval));
    assert.equal(error.code, 'ERR_INTERNAL');
  });

  test('approving keeps who, when and the comment, and ends the grant later', async () => {
    const approval = await stored();
    const decided = await store.decide(approval.id, approveBy('Bob@example.com'));
    assert.equal(decided.status, 'approved');
    assert.equal(decided.decidedBy, 'Bob@example.com');
    assert.equal(decided.decidedAt, T0 + 1000);
    assert.equal(decided.comment, 'ok');
    assert.equal(decided.expiresAt, T0 + 601_000);
    assert.deepEqual(decided.events.at(-1), { action: 'approved', by: 'Bob@example.com', at: T0 + 1000, comment: 'ok' });
  });

  test('a second decision is refused, naming the first', async () => {
    const approval = await stored();
    await store.decide(approval.id, { ...approveBy('carol@example.com'), verdict: 'deny', comment: 'no' });
    const error = await rejection(store.decide(approval.id, approveBy('bob@example.com', T0 + 2000)));
    assert.equal(error.code, 'ERR_APPROVAL_ALREADY_DECIDED');
    assert.match(error.message, /^approval a\d+ cannot be decided again: it was denied by carol@example.com at 2025-06-01T10:00:01.000Z \(comment: "no"\)$/);
  });

  test('the condition itself refuses self-approval, even past the service', async () => {
    const approval = await stored({ approvers: ['alice@example.com', 'bob@example.com'] });
    const error = await rejection(store.decide(approval.id, approveBy('ALICE@example.com')));
    assert.equal(error.code, 'ERR_APPROVAL_SELF');
    assert.equal((await store.get(approval.id))?.status, 'pending');
  });

  test('the condition refuses someone who is not an approver', async () => {
    const approval = await stored();
    const error = await rejection(store.decide(approval.id, approveBy('mallory@example.com')));
    assert.equal(error.code, 'ERR_APPROVAL_LINK_INVALID');
  });

  test('an expired approval cannot be decided (checked on write, not left to TTL)', async () => {
    const approval = await stored();
    const error = await rejection(store.decide(approval.id, approveBy('bob@example.com', T0 + 3600_000)));
    assert.equal(error.code, 'ERR_APPROVAL_EXPIRED');
  });

  test('expiring a pending approval past its time keeps the event', async () => {
    const approval = await stored();
    const expired = await store.expire(approval.id, T0 + 3600_000);
    assert.equal(expired.status, 'expired');
    assert.deepEqual(expired.events.at(-1), { action: 'expired', by: 'gatehouse', at: T0 + 3600_000 });
  });

  test('a one-shot grant is consumed once; replay is refused', async () => {
    const approval = await stored();
    await store.decide(approval.id, approveBy('bob@example.com'));
    const used = await store.consume(approval.id, 'once', T0 + 2000, 'use-1');
    assert.equal(used.status, 'consumed');
    assert.equal(used.useCount, 1);
    assert.deepEqual(used.events.at(-1), { action: 'consumed', by: 'gatehouse', at: T0 + 2000 });
    const error = await rejection(store.consume(approval.id, 'once', T0 + 3000, 'use-2'));
    assert.equal(error.code, 'ERR_GRANT_ALREADY_USED');
    assert.match(error.message, /allowed this request once and it already ran \(at 2025-06-01T10:00:02.000Z\)/);
  });

  test('50 concurrent consumes of one approved one-shot grant: exactly one wins', async () => {
    const approval = await stored();
    await store.decide(approval.id, approveBy('bob@example.com'));
    const results = await Promise.allSettled(Array.from({ length: 50 }, (_, i) => store.consume(approval.id, 'once', T0 + 2000, `use-${i}`)));
    const won = results.filter((r) => r.status === 'fulfilled');
    const lost = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
    assert.equal(won.length, 1);
    assert.equal(lost.length, 49);
    for (const r of lost) assert.equal((r.reason as GatehouseError).code, 'ERR_GRANT_ALREADY_USED');
    assert.equal((await store.get(approval.id))?.useCount, 1);
  });

  test('a window grant counts each use until it ends', async () => {
    const approval = await stored({ grant: 'window', windowSeconds: 60 });
    await store.decide(approval.id, { ...approveBy('bob@example.com'), expiresAt: T0 + 61_000 });
    await store.consume(approval.id, 'window', T0 + 2000, 'use-1');
    const twice = await store.consume(approval.id, 'window', T0 + 3000, 'use-2');
    assert.equal(twice.status, 'approved');
    assert.equal(twice.useCount, 2);
    const error = await rejection(store.consume(approval.id, 'window', T0 + 61_000, 'use-3'));
    assert.equal(error.code, 'ERR_APPROVAL_EXPIRED');
  });

  test('the same use written again (its first answer lost) succeeds without counting twice', async () => {
    const approval = await stored();
    await store.decide(approval.id, approveBy('bob@example.com'));
    await store.consume(approval.id, 'once', T0 + 2000, 'use-1');
    const again = await store.consume(approval.id, 'once', T0 + 2100, 'use-1');
    assert.equal(again.status, 'consumed');
    assert.equal(again.useCount, 1);
    const other = await rejection(store.consume(approval.id, 'once', T0 + 2200, 'use-2'));
    assert.equal(other.code, 'ERR_GRANT_ALREADY_USED');
  });

  test('a pending approval cannot be consumed', async () => {
    const approval = await stored();
    const error = await rejection(store.consume(approval.id, 'once', T0, 'use-1'));
    assert.equal(error.code, 'ERR_APPROVAL_REQUIRED');
  });

  test('claiming a fingerprint is first come, first served, then moves only from the approval it replaces', async () => {
    const fp = `fp-${++next}`;
    assert.equal(await store.claimFingerprint(fp, 'x1', undefined, T0), true);
    assert.equal(await store.claimFingerprint(fp, 'x2', undefined, T0), false);
    assert.equal(await store.claimFingerprint(fp, 'x2', 'wrong', T0), false);
    assert.equal(await store.claimFingerprint(fp, 'x2', 'x1', T0), true);
    assert.equal(await store.currentFor(fp), 'x2');
  });

  test('items carry a TTL attribute a day after they lapse', async () => {
    const approval = await stored();
    const { Item } = await client.send(new GetItemCommand({ TableName: 'approvals', Key: { pk: { S: `approval#${approval.id}` } } }));
    assert.equal(Item?.['ttl']?.N, String((T0 + 3600_000) / 1000 + 86_400));
  });

  test('a store that cannot be reached fails closed with ERR_APPROVALS_UNAVAILABLE', async () => {
    const logged: Record<string, string>[] = [];
    const broken = createDynamoDbApprovalStore(client, 'no-such-table', { log: (entry) => logged.push(entry) });
    const error = await rejection(broken.get('a1'));
    assert.equal(error.code, 'ERR_APPROVALS_UNAVAILABLE');
    assert.equal(error.message, 'the approvals table could not read approval a1 (DynamoDB: ResourceNotFoundException); nothing was approved or forwarded');
    assert.equal(error.details?.retryAfterSeconds, 5);
    assert.equal(logged.length, 1);
    assert.match(logged[0]?.['error'] ?? '', /^ResourceNotFoundException: /);
  });
});
