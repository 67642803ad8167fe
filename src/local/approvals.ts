/**
 * The local runtime's approvals: DynamoDB (dynalite, persisted under the state dir) and SES
 * (aws-ses-v2-local, web inbox) stand-ins on loopback, the approvals table, a link key file
 * in the state dir — and the approval service built on them through the same adapters and
 * configuration path as on AWS.
 */
import { join } from 'node:path';
import { createApprovalsTable } from '../adapters/dynamodb-approvals.ts';
import { createApprovalsFromConfig } from '../approvals/create-approvals.ts';
import type { ApprovalsConfig } from '../config.ts';
import type { Approvals } from '../ports/approvals.ts';
import type { Clock } from '../types.ts';
import { startLocalDynamoDb } from './dynamodb.ts';
import { startLocalMail, type LocalMailServer } from './mail.ts';
import { LOCAL_SIGNING_KEY_FILE } from './signing-key.ts';

export interface LocalApprovalsOptions {
  stateDir: string;
  host: string;
  /** Gatehouse's own URL, known once it listens. */
  publicUrl: () => string;
  clock?: Clock;
  /** Keep the DynamoDB stand-in in memory instead of under the state dir. */
  inMemory?: boolean;
  holdSeconds?: number;
  ttlSeconds?: number;
  /** Which Gatehouse this is, for approvers (page and mail subject). */
  name?: string;
}

export interface LocalApprovals {
  approvals: Approvals;
  /** The mail stand-in: `inboxUrl` for people, `messages()` for tests. */
  mail: LocalMailServer;
  dynamodbEndpoint: string;
  close(): Promise<void>;
}

export const LOCAL_MAIL_FROM = 'gatehouse@example.com';

export async function startLocalApprovals(options: LocalApprovalsOptions): Promise<LocalApprovals> {
  const db = await startLocalDynamoDb({ host: options.host, ...(options.inMemory ? {} : { path: join(options.stateDir, 'dynamodb') }) });
  let mail: LocalMailServer;
  try {
    mail = await startLocalMail({ host: options.host });
    const setup = db.client();
    await createApprovalsTable(setup, 'gatehouse-approvals');
  } catch (error) {
    await db.close();
    throw error;
  }
  const config: ApprovalsConfig = {
    tableName: 'gatehouse-approvals',
    name: options.name ?? 'local Gatehouse',
    mailFrom: LOCAL_MAIL_FROM,
    ttlSeconds: options.ttlSeconds ?? 3600,
    holdSeconds: options.holdSeconds ?? 0,
    maxBodyBytes: 1048576,
    dynamodbEndpoint: db.endpoint,
    sesEndpoint: mail.endpoint,
    signingKeyFile: join(options.stateDir, LOCAL_SIGNING_KEY_FILE),
  };
  const approvals = createApprovalsFromConfig(config, {
    publicUrl: options.publicUrl,
    ...(options.clock === undefined ? {} : { clock: options.clock }),
  });
  return {
    approvals,
    mail,
    dynamodbEndpoint: db.endpoint,
    async close() {
      await Promise.allSettled([mail.close(), db.close()]);
    },
  };
}
