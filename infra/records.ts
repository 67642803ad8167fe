/**
 * GatehouseRecords — where session records live in AWS and how a compliance team queries them
 * on day one, added to the stack with one line:
 *
 * - the records bucket: SSE-S3 encryption, all public access blocked, TLS only, versioned
 *   with Object Lock (default retention in GOVERNANCE or COMPLIANCE mode for
 *   `retentionDays`, so no record can be altered or deleted before then), lifecycle (to
 *   Infrequent Access, then expiry after the retention; old versions and failed uploads
 *   cleaned), server access logs, retained when the stack goes;
 * - the Glue database and table over `<prefix>cluster=<name>/dt=YYYY-MM-DD/*.jsonl.gz` (gzip JSON
 *   Lines, OpenX JSON SerDe), columns from src/records/schema.ts, partition projection on
 *   `cluster` (an enum: the stack's clusters and `_unrouted`) and `dt` (a date, `yyyy-MM-dd`,
 *   from `firstDate` to NOW), `storage.location.template`, so no crawler runs;
 * - the Athena workgroup: enforced configuration, results in their own encrypted bucket
 *   (expiring), a per-query scan limit, engine v3, and the access-review queries of
 *   docs/records.md saved as named queries;
 * - the function's grant: s3:PutObject under the prefix, nothing else (no read, no delete),
 *   and the variables src/config-env.ts maps onto `config.records`;
 * - fewer, larger objects: read records wait in the execution environment up to
 *   `carryOverSeconds` (default 60) across invocations (functions/invocation-end.ts), with
 *   the shutdown extension as a layer, so Lambda sends the function SIGTERM before it shuts
 *   an environment down and the records waiting there are written.
 */
import { Duration, RemovalPolicy, Stack, Validations } from 'aws-cdk-lib';
import * as athena from 'aws-cdk-lib/aws-athena';
import * as glue from 'aws-cdk-lib/aws-glue';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';
import { accessReviewQueriesFor, RECORDS_TABLE } from '../src/records/queries.ts';
import { JSON_COLUMNS } from '../src/records/schema.ts';
import { SHUTDOWN_EXTENSION_DIR } from './lambda-bundle.ts';
import { UNROUTED_CLUSTER } from '../src/records/layout.ts';

/** The variables the function reads (names as in src/config-env.ts). */
export const RECORDS_ENV = {
  bucket: 'GATEHOUSE_RECORDS_BUCKET',
  prefix: 'GATEHOUSE_RECORDS_PREFIX',
  maxBodyBytes: 'GATEHOUSE_RECORDS_MAX_BODY_BYTES',
  flushIntervalSeconds: 'GATEHOUSE_RECORDS_FLUSH_INTERVAL_SECONDS',
  carryOverSeconds: 'GATEHOUSE_RECORDS_CARRY_OVER_SECONDS',
} as const;

/** Seconds read records wait across invocations by default: at most this much is at risk if an environment crashes. */
export const DEFAULT_CARRY_OVER_SECONDS = 60;

export interface GatehouseRecordsProps {
  /** The Gatehouse function: granted PutObject under the prefix, configured by environment. */
  fn: lambda.Function;
  /** The names of the clusters the stack fronts: the values of the `cluster` partition (besides `_unrouted`). */
  clusters: readonly string[];
  /** Object Lock mode: GOVERNANCE (special permission can lift it) or COMPLIANCE (nobody can). Default GOVERNANCE. */
  retentionMode?: 'GOVERNANCE' | 'COMPLIANCE';
  /** Days every record is locked against change and deletion (default 365). */
  retentionDays?: number;
  /** Days after which records expire (default retentionDays + 30; at least retentionDays). */
  expireAfterDays?: number;
  /** Days before records move to Infrequent Access (default 30). */
  infrequentAccessAfterDays?: number;
  /** Key prefix of records (default `records/`). */
  prefix?: string;
  /** First date Athena's partition projection covers (YYYY-MM-DD; default 2024-01-01). */
  firstDate?: string;
  /** Bytes of each body kept in a record (default: Gatehouse's default, 16384). */
  maxBodyBytes?: number;
  /**
   * How often buffered read records are written while the function runs (default 0: as soon as
   * each is complete, not awaited). With `carryOverSeconds`, the longer of the two: carried
   * records are written when due at the end of an invocation, with a record of intent, or at SIGTERM.
   */
  flushIntervalSeconds?: number;
  /**
   * Seconds read records may wait in an execution environment, across invocations, before they
   * are written (default 60); 0 writes them at the end of every invocation (one object per
   * call) and leaves the shutdown extension out.
   */
  carryOverSeconds?: number;
  /** Per-query scan limit of the workgroup, bytes (default 10 GB). */
  bytesScannedCutoffPerQuery?: number;
  /** Name of the Athena workgroup (default `<stack name>-records`, lower case: `gatehouse-records` for the stack `Gatehouse`). */
  workGroupName?: string;
  /** Name of the Glue database (default the stack name in lower case, `_` for other characters: `gatehouse` for `Gatehouse`). */
  databaseName?: string;
}

/** Names derived from the stack's, so several Gatehouse stacks live side by side in one account and region. */
export function recordsNames(stackName: string): { databaseName: string; workGroupName: string } {
  const lower = stackName.toLowerCase();
  return { databaseName: lower.replace(/[^a-z0-9_]/g, '_'), workGroupName: `${lower.replace(/[^a-z0-9._-]/g, '-')}-records` };
}

export class GatehouseRecords extends Construct {
  readonly bucket: s3.Bucket;
  readonly resultsBucket: s3.Bucket;
  readonly accessLogsBucket: s3.Bucket;
  readonly database: glue.CfnDatabase;
  readonly table: glue.CfnTable;
  readonly workGroup: athena.CfnWorkGroup;
  /** The layer with the shutdown extension (absent when records are not carried over). */
  readonly shutdownExtension: lambda.LayerVersion | undefined;
  readonly prefix: string;
  readonly databaseName: string;

  constructor(scope: Construct, id: string, props: GatehouseRecordsProps) {
    super(scope, id);
    const retentionDays = props.retentionDays ?? 365;
    const expireAfterDays = props.expireAfterDays ?? retentionDays + 30;
    const infrequentAccessAfterDays = props.infrequentAccessAfterDays ?? 30;
    const firstDate = props.firstDate ?? '2024-01-01';
    const prefix = normalisePrefix(props.prefix ?? 'records/');
    this.prefix = prefix;
    checkProps({ retentionDays, expireAfterDays, infrequentAccessAfterDays, firstDate, prefix });

    this.accessLogsBucket = new s3.Bucket(this, 'AccessLogs', {
      encryption: s3.BucketEncryption.S3_MANAGED,
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      enforceSSL: true,
      objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_PREFERRED,
      lifecycleRules: [{ expiration: Duration.days(expireAfterDays) }],
      removalPolicy: RemovalPolicy.RETAIN,
    });
    Validations.of(this.accessLogsBucket).acknowledge({
      id: 'AwsSolutions::AwsSolutions-S1',
      reason: 'This bucket receives the server access logs of the records buckets; logging it into itself would loop.',
    });

    this.bucket = new s3.Bucket(this, 'Bucket', {
      encryption: s3.BucketEncryption.S3_MANAGED,
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      enforceSSL: true,
      versioned: true,
      objectLockEnabled: true,
      objectLockDefaultRetention:
        props.retentionMode === 'COMPLIANCE'
          ? s3.ObjectLockRetention.compliance(Duration.days(retentionDays))
          : s3.ObjectLockRetention.governance(Duration.days(retentionDays)),
      lifecycleRules: [
        {
          id: 'records',
          prefix,
          transitions: [{ storageClass: s3.StorageClass.INFREQUENT_ACCESS, transitionAfter: Duration.days(infrequentAccessAfterDays) }],
          // Locked versions outlive these rules until their retention ends; then they go.
          expiration: Duration.days(expireAfterDays),
          noncurrentVersionExpiration: Duration.days(1),
          abortIncompleteMultipartUploadAfter: Duration.days(1),
        },
      ],
      serverAccessLogsBucket: this.accessLogsBucket,
      serverAccessLogsPrefix: 'records-bucket/',
      removalPolicy: RemovalPolicy.RETAIN,
    });

    this.resultsBucket = new s3.Bucket(this, 'QueryResults', {
      encryption: s3.BucketEncryption.S3_MANAGED,
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      enforceSSL: true,
      lifecycleRules: [{ expiration: Duration.days(30), abortIncompleteMultipartUploadAfter: Duration.days(1) }],
      serverAccessLogsBucket: this.accessLogsBucket,
      serverAccessLogsPrefix: 'query-results-bucket/',
      removalPolicy: RemovalPolicy.RETAIN,
    });

    const account = this.bucket.stack.account;
    const names = recordsNames(Stack.of(this).stackName);
    const databaseName = props.databaseName ?? names.databaseName;
    this.databaseName = databaseName;
    this.database = new glue.CfnDatabase(this, 'Database', {
      catalogId: account,
      databaseInput: { name: databaseName, description: 'Gatehouse session records (docs/records.md)' },
    });

    const location = `s3://${this.bucket.bucketName}/${prefix}`;
    this.table = new glue.CfnTable(this, 'Table', {
      catalogId: account,
      databaseName,
      tableInput: {
        name: RECORDS_TABLE,
        description: 'One row per Kubernetes API call through Gatehouse (and a record of intent before each change); schema in docs/records.md',
        tableType: 'EXTERNAL_TABLE',
        parameters: {
          classification: 'json',
          compressionType: 'gzip',
          'projection.enabled': 'true',
          'projection.cluster.type': 'enum',
          'projection.cluster.values': [...props.clusters, UNROUTED_CLUSTER].join(','),
          'projection.dt.type': 'date',
          'projection.dt.format': 'yyyy-MM-dd',
          'projection.dt.range': `${firstDate},NOW`,
          'projection.dt.interval': '1',
          'projection.dt.interval.unit': 'DAYS',
          'storage.location.template': `${location}cluster=\${cluster}/dt=\${dt}/`,
        },
        partitionKeys: [
          { name: 'cluster', type: 'string', comment: `The cluster the call was for (${UNROUTED_CLUSTER}: its path named none)` },
          { name: 'dt', type: 'string', comment: 'UTC date the call started (YYYY-MM-DD)' },
        ],
        storageDescriptor: {
          location,
          // A partition column (`cluster`) is read from its folder, so it is a partition key, not a column too.
          columns: JSON_COLUMNS.map((column) => ({ name: column.name, type: column.type, comment: glueComment(column.description) })),
          inputFormat: 'org.apache.hadoop.mapred.TextInputFormat',
          outputFormat: 'org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat',
          serdeInfo: {
            serializationLibrary: 'org.openx.data.jsonserde.JsonSerDe',
            // Column names are already lower case; a malformed line must fail the query, not vanish.
            parameters: { 'case.insensitive': 'TRUE', 'ignore.malformed.json': 'FALSE' },
          },
        },
      },
    });
    this.table.addResourceDependency(this.database);

    const workGroupName = props.workGroupName ?? names.workGroupName;
    this.workGroup = new athena.CfnWorkGroup(this, 'WorkGroup', {
      name: workGroupName,
      description: 'Gatehouse session records: access reviews (named queries) over the Glue table',
      state: 'ENABLED',
      workGroupConfiguration: {
        enforceWorkGroupConfiguration: true,
        publishCloudWatchMetricsEnabled: true,
        bytesScannedCutoffPerQuery: props.bytesScannedCutoffPerQuery ?? 10 * 1024 ** 3,
        engineVersion: { selectedEngineVersion: 'Athena engine version 3' },
        resultConfiguration: {
          outputLocation: `s3://${this.resultsBucket.bucketName}/`,
          encryptionConfiguration: { encryptionOption: 'SSE_S3' },
        },
      },
    });

    for (const query of accessReviewQueriesFor(databaseName)) {
      const named = new athena.CfnNamedQuery(this, `Query-${query.id}`, {
        name: query.title,
        description: query.description.slice(0, 1024),
        database: databaseName,
        workGroup: workGroupName,
        queryString: query.sql,
      });
      named.addResourceDependency(this.workGroup);
      named.addResourceDependency(this.table);
    }

    // Least privilege: Gatehouse only adds records. It never reads, lists, overwrites or deletes them.
    props.fn.addToRolePolicy(
      new iam.PolicyStatement({
        sid: 'WriteSessionRecords',
        actions: ['s3:PutObject'],
        resources: [this.bucket.arnForObjects(`${prefix}*`)],
      }),
    );
    if (props.fn.role !== undefined) {
      const bucketId = Stack.of(this).getLogicalId(this.bucket.node.defaultChild as s3.CfnBucket);
      Validations.of(props.fn.role).acknowledge({
        id: `AwsSolutions::AwsSolutions-IAM5[Resource::<${bucketId}.Arn>/${prefix}*]`,
        reason: 'Each record batch is a new object with a generated key under the records prefix; the grant is PutObject only, limited to that prefix.',
      });
    }
    props.fn.addEnvironment(RECORDS_ENV.bucket, this.bucket.bucketName);
    props.fn.addEnvironment(RECORDS_ENV.prefix, prefix);
    if (props.maxBodyBytes !== undefined) props.fn.addEnvironment(RECORDS_ENV.maxBodyBytes, String(props.maxBodyBytes));
    props.fn.addEnvironment(RECORDS_ENV.flushIntervalSeconds, String(props.flushIntervalSeconds ?? 0));
    const carryOverSeconds = props.carryOverSeconds ?? DEFAULT_CARRY_OVER_SECONDS;
    props.fn.addEnvironment(RECORDS_ENV.carryOverSeconds, String(carryOverSeconds));
    if (carryOverSeconds > 0) {
      this.shutdownExtension = new lambda.LayerVersion(this, 'ShutdownExtension', {
        code: lambda.Code.fromAsset(SHUTDOWN_EXTENSION_DIR),
        compatibleArchitectures: [lambda.Architecture.ARM_64, lambda.Architecture.X86_64],
        description: 'Gatehouse shutdown extension: registered for SHUTDOWN so Lambda sends the function SIGTERM, when it writes the session records it carried over',
      });
      props.fn.addLayers(this.shutdownExtension);
    }
  }
}

function normalisePrefix(prefix: string): string {
  return prefix === '' || prefix.endsWith('/') ? prefix : `${prefix}/`;
}

/** Glue column comments are at most 255 characters. */
function glueComment(text: string): string {
  return text.length <= 255 ? text : `${text.slice(0, 252)}...`;
}

/** Misconfiguration fails the synth with every problem named. */
function checkProps(p: { retentionDays: number; expireAfterDays: number; infrequentAccessAfterDays: number; firstDate: string; prefix: string }): void {
  const problems: string[] = [];
  if (!Number.isInteger(p.retentionDays) || p.retentionDays < 1) problems.push(`retentionDays must be a whole number of days ≥ 1, got ${p.retentionDays}`);
  if (!Number.isInteger(p.expireAfterDays) || p.expireAfterDays < p.retentionDays) {
    problems.push(`expireAfterDays (${p.expireAfterDays}) must be a whole number of days ≥ retentionDays (${p.retentionDays})`);
  }
  if (!Number.isInteger(p.infrequentAccessAfterDays) || p.infrequentAccessAfterDays < 30) {
    problems.push(`infrequentAccessAfterDays must be at least 30 (an S3 minimum), got ${p.infrequentAccessAfterDays}`);
  }
  if (!/^\d{4}-\d{2}-\d{2}$/.test(p.firstDate)) problems.push(`firstDate must be YYYY-MM-DD, got "${p.firstDate}"`);
  if (p.prefix.startsWith('/')) problems.push(`prefix must not start with "/", got "${p.prefix}"`);
  if (problems.length > 0) throw new Error(`GatehouseRecords: ${problems.join('; ')}`);
}
