/**
 * The local runtime's stream cap: a DynamoDB stand-in (dynalite) in memory, its lease table,
 * and the limiter built on them through the same configuration path and adapter as on AWS.
 * In memory on purpose: a restart ends every stream, so no lease should outlive the process.
 */
import { createKeyedTable } from '../adapters/dynamodb-table.ts';
import type { StreamsConfig } from '../streams/from-config.ts';
import { createStreamLimiterFromConfig } from '../streams/from-config.ts';
import type { StreamLimiter } from '../streams/stream-limit.ts';
import type { Clock } from '../types.ts';
import { startLocalDynamoDb } from './dynamodb.ts';

export interface LocalStreamLeases {
  limiter: StreamLimiter;
  dynamodbEndpoint: string;
  close(): Promise<void>;
}

export async function startLocalStreamLeases(options: { host: string; maxPerUser?: number; leaseSeconds?: number; clock?: Clock }): Promise<LocalStreamLeases> {
  const db = await startLocalDynamoDb({ host: options.host });
  const config: StreamsConfig = {
    tableName: 'gatehouse-streams',
    maxPerUser: options.maxPerUser ?? 10,
    leaseSeconds: options.leaseSeconds ?? 60,
    dynamodbEndpoint: db.endpoint,
  };
  try {
    await createKeyedTable(db.client(), config.tableName);
  } catch (error) {
    await db.close();
    throw error;
  }
  const limiter = createStreamLimiterFromConfig(config, options.clock === undefined ? {} : { clock: options.clock });
  return {
    limiter,
    dynamodbEndpoint: db.endpoint,
    async close() {
      limiter.stop();
      await db.close();
    },
  };
}
