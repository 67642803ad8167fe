/** The SES mailer against the SES emulator, and the Secrets Manager key over its JSON wire protocol. */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { SESv2Client } from '@aws-sdk/client-sesv2';
import { createSecretsManagerSigningKey } from '../../src/adapters/secrets-manager-signing-key.ts';
import { createSesMailer } from '../../src/adapters/ses-mailer.ts';
import { GatehouseError } from '../../src/errors.ts';
import { LOCAL_AWS } from '../../src/local/dynamodb.ts';
import { startLocalMail, type LocalMailServer } from '../../src/local/mail.ts';

describe('SES mailer', () => {
  let mail: LocalMailServer;
  let client: SESv2Client;
  before(async () => {
    mail = await startLocalMail();
    client = new SESv2Client({ ...LOCAL_AWS, endpoint: mail.endpoint });
  });
  after(async () => {
    client.destroy();
    await mail.close();
  });

  test('sends text and HTML from the configured sender to the recipient', async () => {
    await createSesMailer(client, 'gatehouse@example.com').send({ to: ['erin@example.com'], subject: 'Approval needed: ü', text: 'plain', html: '<p>html</p>' });
    const [sent] = await mail.messages('erin@example.com');
    assert.equal(sent?.from, 'gatehouse@example.com');
    assert.equal(sent?.subject, 'Approval needed: ü');
    assert.equal(sent?.body.text, 'plain');
    assert.equal(sent?.body.html, '<p>html</p>');
  });

  test('a mail service that is down makes send throw', async () => {
    const down = new SESv2Client({ ...LOCAL_AWS, endpoint: 'http://127.0.0.1:1', maxAttempts: 1 });
    await assert.rejects(createSesMailer(down, 'gatehouse@example.com').send({ to: ['x@example.com'], subject: 's', text: 't', html: 'h' }));
    down.destroy();
  });
});

describe('Secrets Manager signing key', () => {
  let server: Server;
  let endpoint: string;
  let calls = 0;
  let secret: string | undefined = 'k'.repeat(48);
  before(async () => {
    server = createServer((req: IncomingMessage, res) => {
      calls++;
      let body = '';
      req.on('data', (chunk: Buffer) => (body += chunk.toString()));
      req.on('end', () => {
        const target = req.headers['x-amz-target'];
        const { SecretId } = JSON.parse(body) as { SecretId: string };
        res.setHeader('content-type', 'application/x-amz-json-1.1');
        if (target !== 'secretsmanager.GetSecretValue' || SecretId !== 'gatehouse/approval-link' || secret === undefined) {
          res.statusCode = 400;
          res.end(JSON.stringify({ __type: 'ResourceNotFoundException', message: "Secrets Manager can't find the specified secret." }));
          return;
        }
        res.end(JSON.stringify({ ARN: 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:gatehouse/approval-link', Name: SecretId, SecretString: secret }));
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(() => new Promise<void>((resolve) => server.close(() => resolve())));

  test('reads the secret once and keeps it', async () => {
    const client = new SecretsManagerClient({ ...LOCAL_AWS, endpoint });
    const provider = createSecretsManagerSigningKey(client, 'gatehouse/approval-link');
    const before = calls;
    const [a, b] = await Promise.all([provider.key(), provider.key()]);
    await provider.key();
    assert.equal(Buffer.from(a).toString(), 'k'.repeat(48));
    assert.equal(a, b);
    assert.equal(calls - before, 1);
    client.destroy();
  });

  test('a missing secret fails closed, naming it, and is retried next time', async () => {
    const client = new SecretsManagerClient({ ...LOCAL_AWS, endpoint, maxAttempts: 1 });
    const provider = createSecretsManagerSigningKey(client, 'gatehouse/other');
    const error = await provider.key().then(() => assert.fail('expected a refusal'), (e: unknown) => e);
    assert.ok(error instanceof GatehouseError);
    assert.equal(error.code, 'ERR_APPROVALS_UNAVAILABLE');
    assert.match(error.message, /^the approval link key \(secret gatehouse\/other\) could not be read: /);
    const before = calls;
    await provider.key().catch(() => undefined);
    assert.equal(calls - before, 1, 'a failed read is not cached');
    client.destroy();
  });

  test('a key shorter than 32 bytes is refused', async () => {
    secret = 'short';
    const client = new SecretsManagerClient({ ...LOCAL_AWS, endpoint });
    const error = await createSecretsManagerSigningKey(client, 'gatehouse/approval-link').key().then(() => undefined, (e: unknown) => e);
    assert.ok(error instanceof GatehouseError);
    assert.equal(error.message, 'the approval link key (secret gatehouse/approval-link) is shorter than 32 bytes');
    secret = 'k'.repeat(48);
    client.destroy();
  });
});
