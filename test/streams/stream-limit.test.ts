/**
 * The per-user cap on long streams: the limiter over the DynamoDB lease store, against
 * dynalite through the real SDK client, with time frozen by an injected clock.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { createDynamoDbStreamLeases } from '../../src/adapters/dynamodb-stream-leases.ts';
import { createKeyedTable } from '../../src/adapters/dynamodb-table.ts';
import { statusResponse } from '../../src/errors.ts';
import { startLocalDynamoDb, type LocalDynamoDb } from '../../src/local/dynamodb.ts';
import type { StreamLeaseStore } from '../../src/ports/stream-leases.ts';
import { createStreamLimiter, type StreamLimiter } from '../../src/streams/stream-limit.ts';
import { createStreamLimiterFromConfig } from '../../src/streams/from-config.ts';
import { rejection } from '../support/rejection.ts';

const T0 = Date.UTC(2026, 11, 6, 12, 0, 0);

let db: LocalDynamoDb;
let client: DynamoDBClient;
let store: StreamLeaseStore;
let users = 0;
const limiters: StreamLimiter[] = [];

before(async () => {
  db = await startLocalDynamoDb();
  client = db.client();
  await createKeyedTable(client, 'streams');
  store = createDynamoDbStreamLeases(client, 'streams', { log: () => undefined });
});
after(async () => {
  for (const limiter of limiters) limiter.stop();
  await db.close();
});

/** A limiter on a clock the test moves; a fresh user per test, so tests do not share slots. */
function setup(maxPerUser: number, leaseSeconds = 60): { limiter: StreamLimiter; clock: { now(): number; advance(ms: number): void }; user: string } {
  let now = T0;
  const clock = { now: () => now, advance: (ms: number) => void (now += ms) };
  const limiter = createStreamLimiter({ store, maxPerUser, leaseSeconds, clock, log: () => undefined });
  limiters.push(limiter);
  return { limiter, clock, user: `user-${++users}@example.com` };
}

describe('stream limiter on DynamoDB', () => {
  test('takes slots up to the cap and refuses the next with 429, naming the cap and the stream', async () => {
    const { limiter, user } = setup(2);
    await limiter.open(user, 'watch pods in namespace "dev"');
    await limiter.open(user, 'logs -f pod "web" in namespace "dev"');
    const error = await rejection(limiter.open(user, 'watch secrets in namespace "dev"'));
    assert.equal(error.code, 'ERR_STREAM_LIMIT');
    assert.equal(error.httpStatus, 429);
    assert.equal(error.reason, 'TooManyRequests');
    assert.equal(
      error.message,
      `user "${user}" has 2 long streams open (watch, logs -f, exec, attach, port-forward), the most Gatehouse allows per user (2); ` +
        'watch secrets in namespace "dev" was not started: end one of the others and retry (a stream that ended without closing frees its slot within 60s)',
    );
    const response = statusResponse(error);
    assert.equal(response.headers.get('retry-after'), '1');
    assert.deepEqual((await response.json()) as unknown, { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message: error.message, reason: 'TooManyRequests', code: 429, details: { retryAfterSeconds: 1 } });
  });

  test('a closed stream gives its slot back', async () => {
    const { limiter, user } = setup(1);
    const stream = await limiter.open(user, 'watch pods');
    stream.close();
    stream.close();
    await limiter.settle();
    assert.deepEqual(await limiter.live(user), []);
    const next = await limiter.open(user, 'watch pods');
    assert.equal((await limiter.live(user)).length, 1);
    next.close();
    await limiter.settle();
  });

  test('a lease nobody renews (its process died) lapses after leaseSeconds and frees its slot', async () => {
    const { limiter, clock, user } = setup(2, 60);
    await limiter.open(user, 'watch pods');
    clock.advance(30_000);
    await limiter.open(user, 'watch nodes');
    // The process holding both "crashes": no renewal, no release.
    limiter.stop();
    clock.advance(30_000);
    // At T0+60s the first lease has lapsed (its expiry is not after now); the second lives on.
    assert.deepEqual((await limiter.live(user)).map((lease) => lease.what), ['watch nodes']);
    await limiter.open(user, 'watch services');
    const refused = await rejection(limiter.open(user, 'watch secrets'));
    assert.equal(refused.code, 'ERR_STREAM_LIMIT');
    assert.match(refused.message, /frees its slot within 30s\)$/);
    clock.advance(60_000);
    assert.deepEqual(await limiter.live(user), []);
  });

  test('a renewed lease outlives leaseSeconds', async () => {
    const { clock, user } = setup(1, 60);
    const outcome = await store.acquire(user, { id: 'lease-1', expiresAt: clock.now() + 60_000, what: 'watch pods' }, 1, clock.now());
    assert.deepEqual(outcome, { taken: true });
    clock.advance(50_000);
    assert.equal(await store.renew(user, 'lease-1', clock.now() + 60_000), true);
    clock.advance(50_000);
    assert.deepEqual(await store.live(user, clock.now()), [{ id: 'lease-1', expiresAt: T0 + 110_000, what: 'watch pods' }]);
    const full = await store.acquire(user, { id: 'lease-2', expiresAt: clock.now() + 60_000, what: 'watch nodes' }, 1, clock.now());
    assert.deepEqual(full, { taken: false, held: 1, nextExpiry: T0 + 110_000 });
  });

  test('renewing or releasing a lease that is gone is not an error', async () => {
    const { user } = setup(1);
    assert.equal(await store.renew(user, 'never-taken', T0 + 60_000), false);
    await store.release(user, 'never-taken');
    assert.deepEqual(await store.live(user, T0), []);
  });

  test('each user has a cap of their own', async () => {
    const first = setup(1);
    const second = setup(1);
    await first.limiter.open(first.user, 'watch pods');
    await second.limiter.open(second.user, 'watch pods');
    assert.equal((await rejection(first.limiter.open(first.user, 'watch pods'))).code, 'ERR_STREAM_LIMIT');
  });

  test('streams starting at once never take more slots than the cap', async () => {
    const { limiter, user } = setup(5);
    const outcomes = await Promise.allSettled(Array.from({ length: 20 }, (_, i) => limiter.open(user, `watch pods ${i}`)));
    const taken = outcomes.filter((outcome) => outcome.status === 'fulfilled').length;
    const refusals = outcomes.flatMap((outcome) => (outcome.status === 'rejected' ? [(outcome.reason as { code?: string }).code] : []));
    assert.equal(taken, 5);
    assert.deepEqual([...new Set(refusals)], ['ERR_STREAM_LIMIT']);
    assert.equal((await limiter.live(user)).length, 5);
  });

  test('a lease store that cannot be reached refuses the stream with 503 naming why (fail closed)', async () => {
    const down = await startLocalDynamoDb();
    const endpoint = down.endpoint;
    await down.close();
    const limiter = createStreamLimiterFromConfig({ tableName: 'streams', maxPerUser: 10, leaseSeconds: 60, dynamodbEndpoint: endpoint });
    limiters.push(limiter);
    const error = await rejection(limiter.open('alice@example.com', 'watch pods in namespace "dev"'));
    assert.equal(error.code, 'ERR_STREAM_LEASES_UNAVAILABLE');
    assert.equal(error.httpStatus, 503);
    assert.equal(error.message, 'the stream lease table could not read the streams of user "alice@example.com" (DynamoDB: ECONNREFUSED)');
    assert.equal(statusResponse(error).headers.get('retry-after'), '5');
  });

  test('a missing lease table refuses the stream with 503 naming the AWS error, not its message', async () => {
    const limiter = createStreamLimiter({ store: createDynamoDbStreamLeases(client, 'no-such-table', { log: () => undefined }), maxPerUser: 1, leaseSeconds: 60 });
    limiters.push(limiter);
    const error = await rejection(limiter.open('alice@example.com', 'watch pods'));
    assert.equal(error.code, 'ERR_STREAM_LEASES_UNAVAILABLE');
    assert.equal(error.message, 'the stream lease table could not read the streams of user "alice@example.com" (DynamoDB: ResourceNotFoundException)');
  });
});
