/**
 * Adapter: the approval store on DynamoDB (`@aws-sdk/client-dynamodb`, also spoken by the
 * local dynalite stand-in).
 *
 * One table, partition key `pk`:
 *   approval#<id>     one approval: mutable state in top-level attributes (so conditions can
 *                     test them), the immutable request in `doc` (JSON), history in `events`.
 *   fingerprint#<fp>  which approval is current for one exact request (`approvalId`).
 * Every state change is a single conditional write; a failed condition is re-read and
 * explained with the same guards the service uses (approval.ts), so callers get
 * ERR_APPROVAL_ALREADY_DECIDED / ERR_GRANT_ALREADY_USED / … and never an SDK exception.
 * `ttl` (epoch seconds) lets DynamoDB delete items a day after they lapse; the lapse itself
 * is decided on read from `expiresAt` (TTL deletion is lazy).
 */
import {
  type AttributeValue,
  DeleteItemCommand,
  type DynamoDBClient,
  GetItemCommand,
  PutItemCommand,
  UpdateItemCommand,
} from '@aws-sdk/client-dynamodb';
import { GatehouseError } from '../errors.ts';
import { awsErrorDetail, awsErrorName, stderrJsonLog, type AdapterLog } from './aws-error.ts';
import { createKeyedTable, isConditionFailure } from './dynamodb-table.ts';
import type { Approval, ApprovalEvent, ApprovalStatus } from '../approvals/approval.ts';
import { assertConsumable, assertDecidable } from '../approvals/approval.ts';
import type { ApprovalStore, DecideChange } from '../ports/approvals.ts';

/** Seconds an item is kept after it lapses, so pages and records can still show its decision. */
export const RETENTION_SECONDS = 86_400;
export const TTL_ATTRIBUTE = 'ttl';

type Item = Record<string, AttributeValue>;
type ImmutablePart = Omit<Approval, 'status' | 'expiresAt' | 'decidedBy' | 'decidedAt' | 'comment' | 'useCount' | 'lastUsedAt' | 'lastUseId' | 'notifiedAt' | 'events'>;

const NAMES = { '#status': 'status', '#ttl': TTL_ATTRIBUTE, '#comment': 'comment', '#grant': 'grant' };

const approvalKey = (id: string): Item => ({ pk: { S: `approval#${id}` } });
const fingerprintKey = (fp: string): Item => ({ pk: { S: `fingerprint#${fp}` } });
const ttlOf = (expiresAt: number): AttributeValue => ({ N: String(Math.ceil(expiresAt / 1000) + RETENTION_SECONDS) });
const num = (n: number): AttributeValue => ({ N: String(n) });
const str = (s: string): AttributeValue => ({ S: s });

function eventValue(event: ApprovalEvent): AttributeValue {
  const m: Item = { action: str(event.action), by: str(event.by), at: num(event.at) };
  if (event.comment !== undefined) m['comment'] = str(event.comment);
  return { M: m };
}

function toItem(approval: Approval): Item {
  const { status, expiresAt, decidedBy, decidedAt, comment, useCount, lastUsedAt, lastUseId, notifiedAt, events, ...immutable } = approval;
  const item: Item = {
    ...approvalKey(approval.id),
    doc: str(JSON.stringify(immutable satisfies ImmutablePart)),
    status: str(status),
    grant: str(approval.grant),
    requesterKey: str(approval.requester.user.trim().toLowerCase()),
    approverKeys: { SS: [...new Set(approval.approvers.map((a) => a.trim().toLowerCase()))] },
    expiresAt: num(expiresAt),
    [TTL_ATTRIBUTE]: ttlOf(expiresAt),
    useCount: num(useCount),
    events: { L: events.map(eventValue) },
  };
  if (decidedBy !== undefined) item['decidedBy'] = str(decidedBy);
  if (decidedAt !== undefined) item['decidedAt'] = num(decidedAt);
  if (comment !== undefined) item['comment'] = str(comment);
  if (lastUsedAt !== undefined) item['lastUsedAt'] = num(lastUsedAt);
  if (lastUseId !== undefined) item['lastUseId'] = str(lastUseId);
  if (notifiedAt !== undefined) item['notifiedAt'] = num(notifiedAt);
  return item;
}

function optionalNumber(value: AttributeValue | undefined): number | undefined {
  return value?.N === undefined ? undefined : Number(value.N);
}

function fromItem(item: Item): Approval {
  const immutable = JSON.parse(item['doc']?.S ?? '{}') as ImmutablePart;
  const approval: Approval = {
    ...immutable,
    status: (item['status']?.S ?? 'pending') as ApprovalStatus,
    expiresAt: Number(item['expiresAt']?.N ?? 0),
    useCount: Number(item['useCount']?.N ?? 0),
    events: (item['events']?.L ?? []).map((value) => {
      const m = value.M ?? {};
      const event: ApprovalEvent = { action: m['action']?.S as ApprovalEvent['action'], by: m['by']?.S ?? '', at: Number(m['at']?.N ?? 0) };
      if (m['comment']?.S !== undefined) event.comment = m['comment'].S;
      return event;
    }),
  };
  if (item['decidedBy']?.S !== undefined) approval.decidedBy = item['decidedBy'].S;
  const decidedAt = optionalNumber(item['decidedAt']);
  if (decidedAt !== undefined) approval.decidedAt = decidedAt;
  if (item['comment']?.S !== undefined) approval.comment = item['comment'].S;
  const lastUsedAt = optionalNumber(item['lastUsedAt']);
  if (lastUsedAt !== undefined) approval.lastUsedAt = lastUsedAt;
  if (item['lastUseId']?.S !== undefined) approval.lastUseId = item['lastUseId'].S;
  const notifiedAt = optionalNumber(item['notifiedAt']);
  if (notifiedAt !== undefined) approval.notifiedAt = notifiedAt;
  return approval;
}

/**
 * Any other failure of DynamoDB: fail closed, saying what could not be done and the AWS error's
 * name. The SDK's message (which can name the table ARN, the account and the function's role)
 * goes to the server's log only.
 */
function unavailable(doing: string, error: unknown, log: AdapterLog): GatehouseError {
  log({ message: `gatehouse approvals: the table could not ${doing}`, error: awsErrorDetail(error) });
  return new GatehouseError(
    'ERR_APPROVALS_UNAVAILABLE',
    `the approvals table could not ${doing} (DynamoDB: ${awsErrorName(error)}); nothing was approved or forwarded`,
    { cause: error },
  );
}

export interface DynamoDbApprovalStoreOptions {
  /** Where failures are logged in full (default: one JSON line on stderr). */
  log?: AdapterLog;
}

export function createDynamoDbApprovalStore(client: DynamoDBClient, tableName: string, options: DynamoDbApprovalStoreOptions = {}): ApprovalStore {
  const log = options.log ?? stderrJsonLog;
  async function get(id: string): Promise<Approval | undefined> {
    let item: Item | undefined;
    try {
      ({ Item: item } = await client.send(new GetItemCommand({ TableName: tableName, Key: approvalKey(id), ConsistentRead: true })));
    } catch (error) {
      throw unavailable(`read approval ${id}`, error, log);
    }
    return item === undefined || item['doc'] === undefined ? undefined : fromItem(item);
  }

  /**
   * Runs a conditional update; on a failed condition, `explain` turns the re-read item into the
   * domain error — or returns it when the change is already there (a retry whose first answer was lost).
   */
  async function update(
    id: string,
    doing: string,
    input: { update: string; condition: string; values: Item },
    explain: (current: Approval) => Approval | void,
  ): Promise<Approval> {
    try {
      const { Attributes } = await client.send(
        new UpdateItemCommand({
          TableName: tableName,
          Key: approvalKey(id),
          UpdateExpression: input.update,
          ConditionExpression: `attribute_exists(pk) AND ${input.condition}`,
          ExpressionAttributeNames: usedNames(`${input.update} ${input.condition}`),
          ExpressionAttributeValues: input.values,
          ReturnValues: 'ALL_NEW',
        }),
      );
      return fromItem(Attributes ?? {});
    } catch (error) {
      if (!isConditionFailure(error)) throw unavailable(doing, error, log);
      const current = await get(id);
      if (current === undefined) throw new GatehouseError('ERR_APPROVAL_NOT_FOUND', `approval ${id} does not exist (any more)`);
      const applied = explain(current);
      if (applied !== undefined) return applied;
      throw new GatehouseError('ERR_APPROVAL_ALREADY_DECIDED', `approval ${id} changed while Gatehouse tried to ${doing}; try again`);
    }
  }

  return {
    async create(approval) {
      try {
        await client.send(
          new PutItemCommand({ TableName: tableName, Item: toItem(approval), ConditionExpression: 'attribute_not_exists(pk)' }),
        );
      } catch (error) {
        if (isConditionFailure(error)) throw new GatehouseError('ERR_INTERNAL', `approval id ${approval.id} is already taken`);
        throw unavailable(`store approval ${approval.id}`, error, log);
      }
    },

    get,

    async currentFor(fingerprint) {
      try {
        const { Item } = await client.send(
          new GetItemCommand({ TableName: tableName, Key: fingerprintKey(fingerprint), ConsistentRead: true }),
        );
        return Item?.['approvalId']?.S;
      } catch (error) {
        throw unavailable('look up the approval of this request', error, log);
      }
    },

    async claimFingerprint(fingerprint, approvalId, previousId, expiresAt) {
      try {
        await client.send(
          new PutItemCommand({
            TableName: tableName,
            Item: { ...fingerprintKey(fingerprint), approvalId: str(approvalId), [TTL_ATTRIBUTE]: ttlOf(expiresAt) },
            ConditionExpression: previousId === undefined ? 'attribute_not_exists(pk)' : 'attribute_not_exists(pk) OR approvalId = :previous',
            ...(previousId === undefined ? {} : { ExpressionAttributeValues: { ':previous': str(previousId) } }),
          }),
        );
        return true;
      } catch (error) {
        if (isConditionFailure(error)) return false;
        throw unavailable(`record approval ${approvalId} for this request`, error, log);
      }
    },

    async discard(id) {
      try {
        await client.send(
          new DeleteItemCommand({
            TableName: tableName,
            Key: approvalKey(id),
            ConditionExpression: '#status = :pending AND attribute_not_exists(notifiedAt)',
            ExpressionAttributeNames: { '#status': 'status' },
            ExpressionAttributeValues: { ':pending': str('pending') },
          }),
        );
      } catch (error) {
        if (!isConditionFailure(error)) throw unavailable(`discard approval ${id}`, error, log);
      }
    },

    async decide(id, change: DecideChange) {
      const by = change.by.trim().toLowerCase();
      const event: ApprovalEvent = { action: change.verdict === 'approve' ? 'approved' : 'denied', by: change.by, at: change.at };
      if (change.comment !== '') event.comment = change.comment;
      return update(
        id,
        `decide approval ${id}`,
        {
          update:
            'SET #status = :status, decidedBy = :by, decidedAt = :at, #comment = :comment, expiresAt = :expiresAt, #ttl = :ttl, events = list_append(events, :event)',
          condition: '#status = :pending AND expiresAt > :at AND requesterKey <> :byKey AND contains(approverKeys, :byKey)',
          values: {
            ':status': str(change.verdict === 'approve' ? 'approved' : 'denied'),
            ':pending': str('pending'),
            ':by': str(change.by),
            ':byKey': str(by),
            ':at': num(change.at),
            ':comment': str(change.comment),
            ':expiresAt': num(change.expiresAt),
            ':ttl': ttlOf(change.expiresAt),
            ':event': { L: [eventValue(event)] },
          },
        },
        (current) => assertDecidable(current, change.by, change.at),
      );
    },

    async consume(id, grant, at, useId) {
      const values: Item = { ':approved': str('approved'), ':at': num(at), ':one': num(1), ':grant': str(grant), ':use': str(useId) };
      // A retried write of this same use (its first answer lost) must not count twice.
      const condition = '#status = :approved AND expiresAt > :at AND #grant = :grant AND (attribute_not_exists(lastUseId) OR lastUseId <> :use)';
      const input =
        grant === 'once'
          ? {
              update: 'SET #status = :consumed, lastUsedAt = :at, lastUseId = :use, events = list_append(events, :event) ADD useCount :one',
              condition,
              values: { ...values, ':consumed': str('consumed'), ':event': { L: [eventValue({ action: 'consumed', by: 'gatehouse', at })] } },
            }
          : { update: 'SET lastUsedAt = :at, lastUseId = :use ADD useCount :one', condition, values };
      return update(id, `consume the grant of approval ${id}`, input, (current) => {
        if (current.lastUseId === useId) return current; // this very use landed before: its answer was lost
        assertConsumable(current, at);
      });
    },

    async expire(id, at) {
      return update(
        id,
        `expire approval ${id}`,
        {
          update: 'SET #status = :expired, events = list_append(events, :event)',
          condition: '#status = :pending AND expiresAt <= :at',
          values: {
            ':expired': str('expired'),
            ':pending': str('pending'),
            ':at': num(at),
            ':event': { L: [eventValue({ action: 'expired', by: 'gatehouse', at })] },
          },
        },
        () => undefined,
      );
    },

    async markNotified(id, event) {
      await update(
        id,
        `note the mail of approval ${id}`,
        { update: 'SET notifiedAt = :at, events = list_append(events, :event)', condition: 'attribute_exists(doc)', values: { ':at': num(event.at), ':event': { L: [eventValue(event)] } } },
        () => undefined,
      );
    },
  };
}

function usedNames(expression: string): Record<string, string> | undefined {
  const used = Object.entries(NAMES).filter(([placeholder]) => expression.includes(placeholder));
  return used.length === 0 ? undefined : Object.fromEntries(used);
}

/** Creates the approvals table (local stand-in and tests; on AWS the CDK stack owns it). */
export async function createApprovalsTable(client: DynamoDBClient, tableName: string): Promise<void> {
  await createKeyedTable(client, tableName);
}
