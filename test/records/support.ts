/** Shared helpers of the records tests: a local S3 stand-in, a record factory, a captured log. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { S3Client } from '@aws-sdk/client-s3';
import { recordsClientConfig } from '../../src/adapters/s3-records.ts';
import { LOCAL_RECORDS_BUCKET, startLocalS3 } from '../../src/local/s3.ts';
import type { LocalS3 } from '../../src/local/s3.ts';
import { recordingColumns } from '../../src/records/build.ts';
import { SCHEMA_VERSION } from '../../src/records/schema.ts';
import type { SessionRecord } from '../../src/records/schema.ts';

export interface S3Fixture {
  s3: LocalS3;
  client: S3Client;
  bucket: string;
  directory: string;
  close(): Promise<void>;
}

export async function startS3Fixture(): Promise<S3Fixture> {
  const directory = mkdtempSync(join(tmpdir(), 'gatehouse-records-'));
  const s3 = await startLocalS3({ directory });
  const client = new S3Client(recordsClientConfig(s3.clientConfig));
  return {
    s3,
    client,
    bucket: LOCAL_RECORDS_BUCKET,
    directory,
    async close() {
      client.destroy();
      await s3.close();
      rmSync(directory, { recursive: true, force: true });
    },
  };
}

/** A valid outcome record; override what the case is about. */
export function aRecord(over: Partial<SessionRecord> = {}): SessionRecord {
  return {
    schema_version: SCHEMA_VERSION,
    record_id: crypto.randomUUID(),
    phase: 'outcome',
    request_id: crypto.randomUUID(),
    started_at: '2025-03-01T12:00:00.000Z',
    finished_at: '2025-03-01T12:00:00.020Z',
    latency_ms: 20,
    kubectl_session: null,
    kubectl_command: null,
    user_name: 'alice@example.com',
    user_groups: ['dev'],
    user_uid: null,
    source_ip: '127.0.0.1',
    forwarded_for: null,
    user_agent: 'kubectl/v1.32.0',
    runtime: 'node',
    method: 'GET',
    path: '/api/v1/namespaces/default/pods',
    query: null,
    is_resource_request: true,
    verb: 'list',
    api_group: '',
    api_version: 'v1',
    resource: 'pods',
    subresource: '',
    namespace: 'default',
    object_name: '',
    decision: 'allow',
    policy_rule: 'read-all',
    decision_reason: 'reads are allowed',
    unmasked_grant: false,
    approval_id: null,
    approval_status: null,
    approver: null,
    approval_decided_at: null,
    status_code: 200,
    upstream_status: 200,
    error_code: null,
    error_message: null,
    request_content_type: null,
    request_body: null,
    request_body_bytes: 0,
    request_body_truncated: false,
    response_content_type: 'application/json',
    response_body: '{"kind":"PodList","items":[]}',
    response_body_bytes: 29,
    response_body_truncated: false,
    masked: false,
    stream_end: 'complete',
    impersonator_user: null,
    impersonator_groups: null,
    restored_paths: null,
    restored_resource_version: null,
    ...recordingColumns(undefined),
    token_issuer: null,
    mcp_session: null,
    mcp_tool: null,
    mcp_call_id: null,
    mcp_arguments: null,
    cluster: 'default',
    ...over,
  };
}

/** Collects the JSON log lines a sink writes, instead of stderr. */
export function capturedLog(): { lines: Record<string, unknown>[]; log: (event: Record<string, unknown>) => void } {
  const lines: Record<string, unknown>[] = [];
  return { lines, log: (event) => lines.push(event) };
}

/** A loopback port nothing listens on (bound, then released). */
export async function deadPort(): Promise<number> {
  const { createServer } = await import('node:net');
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (address === null || typeof address === 'string') throw new Error('no port');
  return address.port;
}
