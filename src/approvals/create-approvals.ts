/**
 * Builds the approval service from the `approvals` configuration: DynamoDB store, SES
 * mailer, link key (Secrets Manager or a local file). Clients are created once, here, at
 * start-up (cold start on Lambda), never per request.
 */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { SESv2Client } from '@aws-sdk/client-sesv2';
import { createDynamoDbApprovalStore } from '../adapters/dynamodb-approvals.ts';
import { createSecretsManagerSigningKey } from '../adapters/secrets-manager-signing-key.ts';
import { createSesMailer } from '../adapters/ses-mailer.ts';
import { awsClientConfig } from '../adapters/aws-client-config.ts';
import type { ApprovalsConfig } from '../config.ts';
import { createFileSigningKey } from '../local/signing-key.ts';
import type { Approvals, SigningKeyProvider } from '../ports/approvals.ts';
import type { Clock } from '../types.ts';
import { systemClock } from '../types.ts';
import { createApprovalService } from './approval-service.ts';

export interface CreateApprovalsOptions {
  clock?: Clock;
  /** The public URL when the configuration has none: the local runtime's own listener, known once it listens. */
  publicUrl?: () => string;
  /** Hold-mode poll interval and wait (tests). */
  pollIntervalMs?: number;
  wait?: (ms: number) => Promise<void>;
}

export function createApprovalsFromConfig(config: ApprovalsConfig, options: CreateApprovalsOptions = {}): Approvals {
  const publicUrl = config.publicUrl ?? options.publicUrl;
  const signingKey = signingKeyFromConfig(config);
  return createApprovalService({
    store: createDynamoDbApprovalStore(new DynamoDBClient(awsClientConfig(config.region, config.dynamodbEndpoint)), config.tableName),
    mailer: createSesMailer(new SESv2Client(awsClientConfig(config.region, config.sesEndpoint)), config.mailFrom),
    signingKey,
    clock: options.clock ?? systemClock,
    ...(publicUrl === undefined ? {} : { publicUrl }),
    ttlSeconds: config.ttlSeconds,
    name: config.name,
    holdSeconds: config.holdSeconds,
    maxBodyBytes: config.maxBodyBytes,
    ...(options.pollIntervalMs === undefined ? {} : { pollIntervalMs: options.pollIntervalMs }),
    ...(options.wait === undefined ? {} : { wait: options.wait }),
  });
}

/** The link key the configuration names: a Secrets Manager secret, or a local file (approval and recordings links). */
export function signingKeyFromConfig(config: ApprovalsConfig): SigningKeyProvider {
  return config.signingSecretId !== undefined
    ? createSecretsManagerSigningKey(new SecretsManagerClient(awsClientConfig(config.region, config.secretsManagerEndpoint)), config.signingSecretId)
    : createFileSigningKey(config.signingKeyFile ?? '');
}
