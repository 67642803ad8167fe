/**
 * Adapter: stream leases on DynamoDB (`@aws-sdk/client-dynamodb`, also spoken by dynalite).
 *
 * One item per user, partition key `streams#<user>`:
 *   leases   map lease id → { expiresAt (epoch ms), what }
 *   version  bumped by every write, so a write based on a stale read fails its condition
 *   ttl      epoch seconds a day after the latest expiry: DynamoDB deletes idle users' items
 * `acquire` reads the item (consistently), drops lapsed leases, and — when fewer than the cap
 * are live — writes the pruned map plus the new lease on condition that the version is still
 * the one it read; a lost race is re-read and tried again. `renew` and `release` touch one
 * lease on condition that it is still there. Any other failure is ERR_STREAM_LEASES_UNAVAILABLE
 * (fail closed: no slot, no stream), naming the AWS error's code only; the SDK's message,
 * which can name the table ARN and the account, goes to the server's log.
 */
import { type AttributeValue, type DynamoDBClient, GetItemCommand, PutItemCommand, UpdateItemCommand } from '@aws-sdk/client-dynamodb';
import { GatehouseError } from '../errors.ts';
import type { AcquireOutcome, LeaseEntry, StreamLeaseStore } from '../ports/stream-leases.ts';
import { awsErrorDetail, awsErrorName, stderrJsonLog, type AdapterLog } from './aws-error.ts';
import { isConditionFailure } from './dynamodb-table.ts';

type Item = Record<string, AttributeValue>;

/** Seconds an idle user's item outlives its last lease. */
const RETENTION_SECONDS = 86_400;
/**
 * Races lost to the same user's other streams starting at once, beyond the cap, before giving
 * up: each lost race is another stream's win, so after `max` of them the cap is reached.
 */
const SPARE_ATTEMPTS = 5;

const userKey = (user: string): Item => ({ pk: { S: `streams#${user}` } });
const ttlOf = (expiresAt: number): AttributeValue => ({ N: String(Math.ceil(expiresAt / 1000) + RETENTION_SECONDS) });

function leasesOf(item: Item | undefined): LeaseEntry[] {
  return Object.entries(item?.['leases']?.M ?? {}).map(([id, value]) => ({
    id,
    expiresAt: Number(value.M?.['expiresAt']?.N ?? 0),
    what: value.M?.['what']?.S ?? '',
  }));
}

function leaseValue(lease: LeaseEntry): AttributeValue {
  return { M: { expiresAt: { N: String(lease.expiresAt) }, what: { S: lease.what } } };
}

export interface DynamoDbStreamLeaseOptions {
  /** Where failures are logged in full (default: one JSON line on stderr). */
  log?: AdapterLog;
}

export function createDynamoDbStreamLeases(client: DynamoDBClient, tableName: string, options: DynamoDbStreamLeaseOptions = {}): StreamLeaseStore {
  const log = options.log ?? stderrJsonLog;

  function unavailable(doing: string, error: unknown): GatehouseError {
    log({ message: `gatehouse stream leases: the table could not ${doing}`, error: awsErrorDetail(error) });
    return new GatehouseError('ERR_STREAM_LEASES_UNAVAILABLE', `the stream lease table could not ${doing} (DynamoDB: ${awsErrorName(error)})`, { cause: error });
  }

  async function read(user: string): Promise<Item | undefined> {
    try {
      const { Item } = await client.send(new GetItemCommand({ TableName: tableName, Key: userKey(user), ConsistentRead: true }));
      return Item;
    } catch (error) {
      throw unavailable(`read the streams of user "${user}"`, error);
    }
  }

  /** One lease changed on condition that it is still there; false when it is gone. */
  async function touch(user: string, id: string, doing: string, update: string, values: Item): Promise<boolean> {
    try {
      await client.send(
        new UpdateItemCommand({
          TableName: tableName,
          Key: userKey(user),
          UpdateExpression: `${update} ADD version :one`,
          ConditionExpression: 'attribute_exists(leases.#id)',
          ExpressionAttributeNames: { '#id': id, ...(update.includes('#ttl') ? { '#ttl': 'ttl' } : {}) },
          ExpressionAttributeValues: { ':one': { N: '1' }, ...values },
        }),
      );
      return true;
    } catch (error) {
      if (isConditionFailure(error)) return false;
      throw unavailable(`${doing} a stream lease of user "${user}"`, error);
    }
  }

  return {
    async acquire(user, lease, max, now): Promise<AcquireOutcome> {
      for (let attempt = 1; ; attempt += 1) {
        const item = await read(user);
        const live = leasesOf(item).filter((entry) => entry.expiresAt > now);
        if (live.length >= max) return { taken: false, held: live.length, nextExpiry: Math.min(...live.map((entry) => entry.expiresAt)) };
        const kept = [...live, lease];
        const version = item?.['version']?.N;
        try {
          await client.send(
            new PutItemCommand({
              TableName: tableName,
              Item: {
                ...userKey(user),
                leases: { M: Object.fromEntries(kept.map((entry) => [entry.id, leaseValue(entry)])) },
                version: { N: String(Number(version ?? 0) + 1) },
                ttl: ttlOf(Math.max(...kept.map((entry) => entry.expiresAt))),
              },
              ...(version === undefined
                ? { ConditionExpression: 'attribute_not_exists(pk)' }
                : { ConditionExpression: 'version = :read', ExpressionAttributeValues: { ':read': { N: version } } }),
            }),
          );
          return { taken: true };
        } catch (error) {
          if (!isConditionFailure(error)) throw unavailable(`take a stream lease for user "${user}"`, error);
          if (attempt >= max + SPARE_ATTEMPTS) {
            throw new GatehouseError('ERR_STREAM_LEASES_UNAVAILABLE', `the stream lease of user "${user}" lost ${attempt} races with the same user's other streams starting at once; try again`);
          }
        }
      }
    },

    renew(user, id, expiresAt) {
      return touch(user, id, 'renew', 'SET leases.#id.expiresAt = :expiresAt, #ttl = :ttl', { ':expiresAt': { N: String(expiresAt) }, ':ttl': ttlOf(expiresAt) });
    },

    async release(user, id) {
      await touch(user, id, 'release', 'REMOVE leases.#id', {});
    },

    async live(user, now) {
      return leasesOf(await read(user)).filter((entry) => entry.expiresAt > now);
    },
  };
}
