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


  /** Uses of one grant in order: each answered with the approval as it is then, or refused. */
  interface Use {
    at: number;
    use: string;
    status?: Approval['status'];
    useCount?: number;
    lastEvent?: Approval['events'][number];
    code?: string;
    message?: RegExp;
  }
  const consumptions: { name: string; approval?: Partial<Approval>; expiresAt?: number; approved: boolean; grant: 'once' | 'window'; uses: Use[] }[] = [
    {
      name: 'a one-shot grant is consumed once; replay is refused',
      approved: true,
      grant: 'once',
      uses: [
        { at: T0 + 2000, use: 'use-1', status: 'consumed', useCount: 1, lastEvent: { action: 'consumed', by: 'gatehouse', at: T0 + 2000 } },
        { at: T0 + 3000, use: 'use-2', code: 'ERR_GRANT_ALREADY_USED', message: /allowed this request once and it already ran \(at 2025-06-01T10:00:02.000Z\)/ },
      ],
    },
    {
      name: 'a window grant counts each use until it ends',
      approval: { grant: 'window', windowSeconds: 60 },
      expiresAt: T0 + 61_000,
      approved: true,
      grant: 'window',
      uses: [
        { at: T0 + 2000, use: 'use-1' },
        { at: T0 + 3000, use: 'use-2', status: 'approved', useCount: 2 },
        { at: T0 + 61_000, use: 'use-3', code: 'ERR_APPROVAL_EXPIRED' },
      ],
    },
    {
      name: 'the same use written again (its first answer lost) succeeds without counting twice',
      approved: true,
      grant: 'once',
      uses: [
        { at: T0 + 2000, use: 'use-1' },
        { at: T0 + 2100, use: 'use-1', status: 'consumed', useCount: 1 },
        { at: T0 + 2200, use: 'use-2', code: 'ERR_GRANT_ALREADY_USED' },
      ],
    },
    { name: 'a pending approval cannot be consumed', approved: false, grant: 'once', uses: [{ at: T0, use: 'use-1', code: 'ERR_APPROVAL_REQUIRED' }] },
  ];
  for (const c of consumptions) {
    test(c.name, async () => {
      const approval = await stored(c.approval);
      if (c.approved) await store.decide(approval.id, { ...approveBy('bob@example.com'), ...(c.expiresAt === undefined ? {} : { expiresAt: c.expiresAt }) });
      for (const use of c.uses) {
        if (use.code !== undefined) {
          const error = await rejection(store.consume(approval.id, c.grant, use.at, use.use));
          assert.equal(error.code, use.code);
          if (use.message !== undefined) assert.match(error.message, use.message);
          continue;
        }
        const used = await store.consume(approval.id, c.grant, use.at, use.use);
        if (use.status !== undefined) assert.equal(used.status, use.status);
        if (use.useCount !== undefined) assert.equal(used.useCount, use.useCount);
        if (use.lastEvent !== undefined) assert.deepEqual(used.events.at(-1), use.lastEvent);
      }
    });
  }

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
