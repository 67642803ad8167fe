/**
 * The GatehouseRecords construct, synthesized ONCE in a stack beside a stand-in function,
 * with cdk-nag's AWS Solutions checks as a validation plugin (an unacknowledged finding fails
 * the synth); then one small check per property that matters.
 */
import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { App, Stack, Validations } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { AwsSolutionsChecks } from 'cdk-nag';
import { GatehouseRecords, RECORDS_ENV } from '../../infra/records.ts';
import { ACCESS_REVIEW_QUERIES, accessReviewQueriesFor } from '../../src/records/queries.ts';
import { RECORD_COLUMNS } from '../../src/records/schema.ts';

let template: Template;

before(() => {
  const app = new App({ outdir: mkdtempSync(join(tmpdir(), 'gatehouse-records-cdk-')) });
  Validations.of(app).addPlugins(new AwsSolutionsChecks(app, { verbose: true }));
  const stack = new Stack(app, 'RecordsTest', { env: { account: '123456789012', region: 'eu-west-1' } });
  const role = new iam.Role(stack, 'FunctionRole', { assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com') });
  const fn = new lambda.Function(stack, 'Function', {
    runtime: lambda.Runtime.NODEJS_22_X,
    handler: 'index.handler',
    code: lambda.Code.fromInline('export const handler = async () => ({})'),
    role,
  });
  Validations.of(fn).acknowledge({ id: 'AwsSolutions::AwsSolutions-L1', reason: 'stand-in function of the test' });
  new GatehouseRecords(stack, 'Records', { fn, clusters: ['dev', 'prod'], retentionMode: 'COMPLIANCE', retentionDays: 400, maxBodyBytes: 8192, firstDate: '2025-01-01' });
  template = Template.fromStack(stack);
});

const recordsBucket = () => Match.objectLike({ Ref: Match.stringLikeRegexp('^RecordsBucket') });

describe('GatehouseRecords', () => {
  test('locks every record in the chosen mode for the retention period', () => {
    template.hasResourceProperties('AWS::S3::Bucket', {
      ObjectLockEnabled: true,
      ObjectLockConfiguration: { ObjectLockEnabled: 'Enabled', Rule: { DefaultRetention: { Mode: 'COMPLIANCE', Days: 400 } } },
      VersioningConfiguration: { Status: 'Enabled' },
    });
  });

  test('encrypts, blocks public access and logs access on the records bucket', () => {
    template.hasResourceProperties('AWS::S3::Bucket', {
      ObjectLockEnabled: true,
      BucketEncryption: { ServerSideEncryptionConfiguration: [{ ServerSideEncryptionByDefault: { SSEAlgorithm: 'AES256' } }] },
      PublicAccessBlockConfiguration: { BlockPublicAcls: true, BlockPublicPolicy: true, IgnorePublicAcls: true, RestrictPublicBuckets: true },
      LoggingConfiguration: { DestinationBucketName: Match.objectLike({ Ref: Match.stringLikeRegexp('^RecordsAccessLogs') }) },
    });
  });

  test('moves records to Infrequent Access and expires them only after the retention', () => {
    template.hasResourceProperties('AWS::S3::Bucket', {
      ObjectLockEnabled: true,
      LifecycleConfiguration: {
        Rules: [
          Match.objectLike({
            Prefix: 'records/',
            Status: 'Enabled',
            ExpirationInDays: 430,
            Transitions: [{ StorageClass: 'STANDARD_IA', TransitionInDays: 30 }],
            AbortIncompleteMultipartUpload: { DaysAfterInitiation: 1 },
          }),
        ],
      },
    });
  });

  test('refuses plain HTTP to the records bucket', () => {
    template.hasResourceProperties('AWS::S3::BucketPolicy', {
      Bucket: recordsBucket(),
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({ Effect: 'Deny', Action: 's3:*', Condition: { Bool: { 'aws:SecureTransport': 'false' } }, Principal: { AWS: '*' } }),
        ]),
      },
    });
  });

  test('lets the function only put objects under the records prefix', () => {
    template.hasResourceProperties('AWS::IAM::Policy', {
      PolicyDocument: {
        Statement: [
          {
            Sid: 'WriteSessionRecords',
            Effect: 'Allow',
            Action: 's3:PutObject',
            Resource: { 'Fn::Join': ['', [{ 'Fn::GetAtt': [Match.stringLikeRegexp('^RecordsBucket'), 'Arn'] }, '/records/*']] },
          },
        ],
      },
    });
    const statements = Object.values(template.findResources('AWS::IAM::Policy')).flatMap(
      (policy) => (policy as { Properties: { PolicyDocument: { Statement: { Action: string | string[] }[] } } }).Properties.PolicyDocument.Statement,
    );
    const s3Actions = statements.flatMap((s) => [s.Action].flat()).filter((action) => action.startsWith('s3:'));
    assert.deepEqual(s3Actions, ['s3:PutObject'], 'no read, list or delete of records');
  });

  test('tells the function where records go, and to send each read record at once (Lambda freezes timers)', () => {
    template.hasResourceProperties('AWS::Lambda::Function', {
      Environment: { Variables: { [RECORDS_ENV.bucket]: recordsBucket(), [RECORDS_ENV.prefix]: 'records/', [RECORDS_ENV.maxBodyBytes]: '8192', [RECORDS_ENV.flushIntervalSeconds]: '0' } },
    });
  });

  test('describes the records with a Glue table: every schema column (the cluster as a partition key), gzip JSON Lines, OpenX SerDe', () => {
    // Named after the stack (RecordsTest), so several stacks live side by side.
    template.hasResourceProperties('AWS::Glue::Database', { DatabaseInput: { Name: 'recordstest' } });
    template.hasResourceProperties('AWS::Glue::Table', {
      DatabaseName: 'recordstest',
      TableInput: {
        Name: 'session_records',
        TableType: 'EXTERNAL_TABLE',
        PartitionKeys: [Match.objectLike({ Name: 'cluster', Type: 'string' }), Match.objectLike({ Name: 'dt', Type: 'string' })],
        StorageDescriptor: {
          Columns: RECORD_COLUMNS.filter((column) => column.name !== 'cluster').map((column) => Match.objectLike({ Name: column.name, Type: column.type })),
          InputFormat: 'org.apache.hadoop.mapred.TextInputFormat',
          SerdeInfo: { SerializationLibrary: 'org.openx.data.jsonserde.JsonSerDe' },
        },
      },
    });
  });

  test('projects the cluster partition (the clusters and _unrouted) and the dt partition (a date) over the key layout, so no crawler is needed', () => {
    template.hasResourceProperties('AWS::Glue::Table', {
      TableInput: {
        PartitionKeys: [
          { Name: 'cluster', Type: 'string', Comment: 'The cluster the call was for (_unrouted: its path named none)' },
          { Name: 'dt', Type: 'string', Comment: 'UTC date the call started (YYYY-MM-DD)' },
        ],
        Parameters: {
          'projection.enabled': 'true',
          'projection.cluster.type': 'enum',
          'projection.cluster.values': 'dev,prod,_unrouted',
          'projection.dt.type': 'date',
          'projection.dt.format': 'yyyy-MM-dd',
          'projection.dt.range': '2025-01-01,NOW',
          'projection.dt.interval': '1',
          'projection.dt.interval.unit': 'DAYS',
          'storage.location.template': { 'Fn::Join': ['', ['s3://', recordsBucket(), '/records/cluster=${cluster}/dt=${dt}/']] },
          compressionType: 'gzip',
        },
      },
    });
  });

  test('gives Athena an enforced workgroup with encrypted results in their own bucket', () => {
    template.hasResourceProperties('AWS::Athena::WorkGroup', {
      Name: 'recordstest-records',
      WorkGroupConfiguration: {
        EnforceWorkGroupConfiguration: true,
        BytesScannedCutoffPerQuery: 10 * 1024 ** 3,
        ResultConfiguration: {
          OutputLocation: { 'Fn::Join': ['', ['s3://', Match.objectLike({ Ref: Match.stringLikeRegexp('^RecordsQueryResults') }), '/']] },
          EncryptionConfiguration: { EncryptionOption: 'SSE_S3' },
        },
      },
    });
  });

  test('saves the documented access-review queries in the workgroup', () => {
    template.resourceCountIs('AWS::Athena::NamedQuery', ACCESS_REVIEW_QUERIES.length);
    for (const query of accessReviewQueriesFor('recordstest')) {
      assert.match(query.sql, /FROM recordstest\.session_records\b/);
      assert.ok(!query.sql.includes('gatehouse.session_records'), query.id);
      template.hasResourceProperties('AWS::Athena::NamedQuery', { Name: query.title, Database: 'recordstest', WorkGroup: 'recordstest-records', QueryString: query.sql });
    }
  });

  test('keeps the buckets when the stack is deleted', () => {
    const buckets = Object.values(template.findResources('AWS::S3::Bucket')) as { DeletionPolicy?: string }[];
    assert.equal(buckets.length, 3);
    assert.ok(buckets.every((bucket) => bucket.DeletionPolicy === 'Retain'));
  });

  test('refuses an expiry shorter than the retention, naming every problem', () => {
    const stack = new Stack(new App(), 'Bad');
    const fn = new lambda.Function(stack, 'F', { runtime: lambda.Runtime.NODEJS_22_X, handler: 'index.handler', code: lambda.Code.fromInline('x') });
    assert.throws(() => new GatehouseRecords(stack, 'Records', { fn, clusters: ['prod'], retentionDays: 90, expireAfterDays: 30, firstDate: '2025/01/01' }), {
      message: 'GatehouseRecords: expireAfterDays (30) must be a whole number of days ≥ retentionDays (90); firstDate must be YYYY-MM-DD, got "2025/01/01"',
    });
  });
});
