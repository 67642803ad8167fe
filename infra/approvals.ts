/**
 * GatehouseApprovals — what just-in-time approvals need in AWS, added to the stack with one
 * line and granted to the function with exactly the calls it makes:
 *
 * - the approvals table: on-demand (approvals are rare and bursty), partition key `pk`, TTL
 *   on `ttl` (items go a day after they lapse; Gatehouse checks expiry on read because TTL
 *   deletion is lazy), point-in-time recovery, retained on stack deletion (it is part of the
 *   audit trail). Encryption: the AWS-managed key (aws/dynamodb): KMS encryption at rest
 *   with key use logged in CloudTrail, and no key policy to keep right; the items hold who
 *   asked for what and who decided, not Secret values (bodies are summarised with Secrets
 *   masked). Pass `encryptionKey` for a customer-managed key when your rules require one.
 * - the SES sending identity: by default the sender's whole domain, with Easy DKIM (2048-bit):
 *   mail signed for the domain passes DMARC, so a domain with a `p=reject` policy receives
 *   it. The three DKIM CNAME records to publish are stack outputs. Or just the sender address
 *   (`senderIdentity: 'address'`: no DKIM for the domain), or an identity that already exists
 *   in the account (`'existing'`: the domain is verified already, e.g. by a first stack with the same
 *   sender domain; nothing is created, the grant names it).
 * - the SES sandbox: a new account's SES sends only to verified identities, and authorizes
 *   SendEmail on the recipients' identities too; `sandboxRecipients` creates an identity for
 *   each (SES mails each address a verification link) and grants sending to them. Out of the
 *   sandbox (request production access), leave it empty.
 * - the link-signing key: a Secrets Manager secret generated at deploy time; the function
 *   gets its id in the environment, never its value.
 * - grants: GetItem/PutItem/UpdateItem/DeleteItem on the table (no Scan, no Query), read of
 *   that one secret, SendEmail from that one identity.
 * - environment: the variables `src/config-env.ts` maps onto `config.approvals`.
 */
import { CfnOutput, Fn, RemovalPolicy, Stack, Validations } from 'aws-cdk-lib';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as kms from 'aws-cdk-lib/aws-kms';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import * as ses from 'aws-cdk-lib/aws-ses';
import { Construct } from 'constructs';
import { KEYED_TABLE } from './keyed-table.ts';

/** The variables the function reads (names as in src/config-env.ts). */
export const APPROVALS_ENV = {
  table: 'GATEHOUSE_APPROVALS_TABLE',
  mailFrom: 'GATEHOUSE_APPROVALS_MAIL_FROM',
  signingSecret: 'GATEHOUSE_APPROVALS_SIGNING_SECRET',
  publicUrl: 'GATEHOUSE_APPROVALS_PUBLIC_URL',
  holdSeconds: 'GATEHOUSE_APPROVALS_HOLD_SECONDS',
  name: 'GATEHOUSE_APPROVALS_NAME',
} as const;

export interface GatehouseApprovalsProps {
  /** The Gatehouse function. */
  fn: lambda.Function;
  /** Sender of approval mail. */
  mailFrom: string;
  /** The domain to verify (default: the sender address's domain). */
  senderDomain?: string;
  /** `domain` (default: the domain with Easy DKIM), `address` (the sender address only) or `existing` (already verified; create none). */
  senderIdentity?: 'domain' | 'address' | 'existing';
  /** SES sandbox only: approver addresses to verify and grant sending to. */
  sandboxRecipients?: string[];
  /** Public URL links point at (a custom domain); default the URL each request came in at. */
  publicUrl?: string;
  /** Seconds a review request is held open waiting for a decision (default 0). */
  holdSeconds?: number;
  /**
   * Which Gatehouse this is, shown to approvers on the page and in the mail subject (default:
   * the stack's name, so approvers of a staging and a production stack can tell the two apart).
   */
  name?: string;
  /** A customer-managed key for the table instead of the AWS-managed one. */
  encryptionKey?: kms.IKey;
}

export class GatehouseApprovals extends Construct {
  readonly table: dynamodb.Table;
  readonly signingSecret: secretsmanager.Secret;
  /** The sender identity this stack created (undefined for `existing`). */
  readonly identity: ses.EmailIdentity | undefined;

  constructor(scope: Construct, id: string, props: GatehouseApprovalsProps) {
    super(scope, id);

    this.table = new dynamodb.Table(this, 'Table', {
      ...KEYED_TABLE,
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      ...(props.encryptionKey === undefined
        ? { encryption: dynamodb.TableEncryption.AWS_MANAGED }
        : { encryption: dynamodb.TableEncryption.CUSTOMER_MANAGED, encryptionKey: props.encryptionKey }),
      deletionProtection: true,
      removalPolicy: RemovalPolicy.RETAIN,
    });

    this.signingSecret = new secretsmanager.Secret(this, 'LinkSigningKey', {
      description: 'Gatehouse: HMAC key that signs approval links',
      generateSecretString: { passwordLength: 64, excludePunctuation: true, includeSpace: false },
    });
    Validations.of(this.signingSecret).acknowledge({
      id: 'AwsSolutions::AwsSolutions-SMG4',
      reason:
        'The approval-link HMAC key is not a credential to another system; rotating it only invalidates links in flight (at most the approval TTL). Rotate by hand (put-secret-value) if it may have leaked.',
    });

    const kind = props.senderIdentity ?? 'domain';
    const domain = props.senderDomain ?? props.mailFrom.slice(props.mailFrom.lastIndexOf('@') + 1);
    if (kind === 'existing') {
      this.identity = undefined;
      props.fn.addToRolePolicy(
        new iam.PolicyStatement({
          actions: ['ses:SendEmail', 'ses:SendRawEmail'],
          resources: [Stack.of(this).formatArn({ service: 'ses', resource: 'identity', resourceName: domain })],
        }),
      );
    } else if (kind === 'address') {
      this.identity = new ses.EmailIdentity(this, 'Sender', { identity: ses.Identity.email(props.mailFrom) });
    } else {
      this.identity = new ses.EmailIdentity(this, 'Sender', {
        identity: ses.Identity.domain(domain),
        dkimSigning: true,
        dkimIdentity: ses.DkimIdentity.easyDkim(ses.EasyDkimSigningKeyLength.RSA_2048_BIT),
      });
      this.identity.dkimRecords.forEach((record, index) => {
        new CfnOutput(this, `DkimRecord${index + 1}`, {
          value: Fn.join(' ', [record.name, 'CNAME', record.value]),
          description: `DKIM record ${index + 1} of 3 to publish in the DNS of ${domain}, so SES can sign approval mail for it`,
        });
      });
    }
    (props.sandboxRecipients ?? []).forEach((address, index) => {
      const recipient = new ses.EmailIdentity(this, `SandboxRecipient${index + 1}`, { identity: ses.Identity.email(address) });
      recipient.grantSendEmail(props.fn);
    });

    props.fn.addToRolePolicy(
      new iam.PolicyStatement({
        actions: ['dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:UpdateItem', 'dynamodb:DeleteItem'],
        resources: [this.table.tableArn],
      }),
    );
    if (props.encryptionKey !== undefined) props.encryptionKey.grantEncryptDecrypt(props.fn);
    this.signingSecret.grantRead(props.fn);
    this.identity?.grantSendEmail(props.fn);

    props.fn.addEnvironment(APPROVALS_ENV.table, this.table.tableName);
    props.fn.addEnvironment(APPROVALS_ENV.mailFrom, props.mailFrom);
    props.fn.addEnvironment(APPROVALS_ENV.signingSecret, this.signingSecret.secretArn);
    if (props.publicUrl !== undefined) props.fn.addEnvironment(APPROVALS_ENV.publicUrl, props.publicUrl);
    if (props.holdSeconds !== undefined) props.fn.addEnvironment(APPROVALS_ENV.holdSeconds, String(props.holdSeconds));
    // config.approvals.name holds at most 100 characters; a CloudFormation stack name up to 128.
    props.fn.addEnvironment(APPROVALS_ENV.name, props.name ?? Stack.of(this).stackName.slice(0, 100));
  }
}
