/**
 * GatehouseStreamLeases — the shared count behind the per-user cap on long streams (watch,
 * `logs -f`): on Lambda every stream is its own invocation, in any execution environment, so
 * the count lives in a table they all reach (src/adapters/dynamodb-stream-leases.ts).
 *
 * - the table: on demand, partition key `pk` (one item per user with open streams), TTL on
 *   `ttl` (an idle user's item goes a day after its last lease), the AWS-managed key. It
 *   holds only leases that lapse within a minute: no point-in-time recovery, and it goes with
 *   the stack (nothing in it is worth keeping; records say who streamed what).
 * - the grant: GetItem, PutItem, UpdateItem on that table — no Scan, Query or Delete.
 * - environment: the table and the cap, the variables src/config-env.ts maps onto `config.streams`.
 */
import { RemovalPolicy, Validations } from 'aws-cdk-lib';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import { Construct } from 'constructs';
import { KEYED_TABLE } from './keyed-table.ts';

/** The variables the function reads (names as in src/config-env.ts). */
export const STREAMS_ENV = {
  table: 'GATEHOUSE_STREAMS_TABLE',
  maxPerUser: 'GATEHOUSE_STREAMS_MAX_PER_USER',
} as const;

export const DEFAULT_MAX_STREAMS_PER_USER = 10;

export interface GatehouseStreamLeasesProps {
  fn: lambda.Function;
  /** Long streams one user may have open at once (default 10); one more is refused with 429. */
  maxPerUser?: number;
}

export class GatehouseStreamLeases extends Construct {
  readonly table: dynamodb.Table;

  constructor(scope: Construct, id: string, props: GatehouseStreamLeasesProps) {
    super(scope, id);
    this.table = new dynamodb.Table(this, 'Table', {
      ...KEYED_TABLE,
      encryption: dynamodb.TableEncryption.AWS_MANAGED,
      removalPolicy: RemovalPolicy.DESTROY,
    });
    Validations.of(this.table).acknowledge({
      id: 'AwsSolutions::AwsSolutions-DDB3',
      reason: 'Stream leases lapse within a minute and are rebuilt as streams start; a point-in-time copy of them would restore nothing of value.',
    });
    props.fn.addToRolePolicy(
      new iam.PolicyStatement({
        actions: ['dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:UpdateItem'],
        resources: [this.table.tableArn],
      }),
    );
    props.fn.addEnvironment(STREAMS_ENV.table, this.table.tableName);
    props.fn.addEnvironment(STREAMS_ENV.maxPerUser, String(props.maxPerUser ?? DEFAULT_MAX_STREAMS_PER_USER));
  }
}
