/**
 * Adapter: the approval-link signing key from AWS Secrets Manager (the CDK stack generates
 * the secret; the function's role may only read it). Read once per cold start, kept in
 * memory; never in code or in the environment in clear.
 */
import { GetSecretValueCommand, type SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { GatehouseError } from '../errors.ts';
import type { SigningKeyProvider } from '../ports/approvals.ts';

export function createSecretsManagerSigningKey(client: SecretsManagerClient, secretId: string): SigningKeyProvider {
  let pending: Promise<Uint8Array> | undefined;
  async function load(): Promise<Uint8Array> {
    let secret: string | undefined;
    try {
      ({ SecretString: secret } = await client.send(new GetSecretValueCommand({ SecretId: secretId })));
    } catch (error) {
      throw new GatehouseError('ERR_APPROVALS_UNAVAILABLE', `the approval link key (secret ${secretId}) could not be read: ${error instanceof Error ? error.message : String(error)}`, { cause: error });
    }
    const key = new TextEncoder().encode(secret ?? '');
    if (key.length < 32) {
      throw new GatehouseError('ERR_APPROVALS_UNAVAILABLE', `the approval link key (secret ${secretId}) is shorter than 32 bytes`);
    }
    return key;
  }
  return {
    key() {
      pending ??= load().catch((error: unknown) => {
        pending = undefined; // a failed read is retried by the next request
        throw error;
      });
      return pending;
    },
  };
}
