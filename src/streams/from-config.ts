/**
 * The stream limiter from the `streams` configuration: the DynamoDB lease store (client made
 * once, here, at start-up) and the limiter over it.
 */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { createDynamoDbStreamLeases } from '../adapters/dynamodb-stream-leases.ts';
import type { GatehouseConfig } from '../config.ts';
import { awsClientConfig } from '../adapters/aws-client-config.ts';
import type { Clock } from '../types.ts';
import { createStreamLimiter, type StreamLimiter } from './stream-limit.ts';

export type StreamsConfig = NonNullable<GatehouseConfig['streams']>;

export function createStreamLimiterFromConfig(config: StreamsConfig, options: { clock?: Clock } = {}): StreamLimiter {
  const store = createDynamoDbStreamLeases(new DynamoDBClient(awsClientConfig(config.region, config.dynamodbEndpoint)), config.tableName);
  return createStreamLimiter({ store, maxPerUser: config.maxPerUser, leaseSeconds: config.leaseSeconds, ...(options.clock === undefined ? {} : { clock: options.clock }) });
}
