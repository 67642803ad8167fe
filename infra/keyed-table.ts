/**
 * The one table shape Gatehouse's DynamoDB adapters use (src/adapters/dynamodb-table.ts): a
 * string partition key `pk`, on demand, items deleted by TTL on `ttl`. Each table adds its own
 * recovery, encryption and removal settings.
 */
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';

export const KEYED_TABLE = {
  partitionKey: { name: 'pk', type: dynamodb.AttributeType.STRING },
  billingMode: dynamodb.BillingMode.PAY_PER_REQUEST,
  timeToLiveAttribute: 'ttl',
} as const satisfies Partial<dynamodb.TableProps>;
