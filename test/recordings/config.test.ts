/**
 * Recordings in the configuration: the records section's recording settings (defaults, the
 * prefix kept out of the Athena table's folder), and which runtime builds the store and pages.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { createApp } from '../../src/app.ts';
import { createDepsFromConfig } from '../../src/compose.ts';
import { addConfiguredRecordings } from '../../src/recordings/from-config.ts';
import { parseConfig } from '../../src/config.ts';
import { configFromEnv } from '../../src/config-env.ts';
import { configProblems } from '../support/config-problems.ts';

const scratch = mkdtempSync(join(tmpdir(), 'gatehouse-recordings-config-'));
after(() => rmSync(scratch, { recursive: true, force: true }));

const BASE = {
  oidc: { issuer: 'https://idp.example.com', audience: 'gatehouse' },
  upstream: { kind: 'kubeconfig', kubeconfig: join(scratch, 'kubeconfig.yaml') },
  policy: { file: join(scratch, 'policy.yaml') },
};

describe('records: recording settings', () => {
  test('default to recordings/ beside records/, 8 MiB per session and a 256-character redaction window', () => {
    const config = parseConfig({ ...BASE, records: { bucket: 'audit-bucket' } }, 'test');
    assert.equal(config.records?.recordingsPrefix, 'recordings/');
    assert.equal(config.records?.maxRecordingBytes, 8388608);
    assert.equal(config.records?.redactionWindowChars, 256);
  });

  const refused: { name: string; records: Record<string, unknown>; problems: string[] }[] = [
    {
      name: 'refuses recordings inside the records prefix, which Athena reads as records',
      records: { bucket: 'audit-bucket', prefix: 'records/', recordingsPrefix: 'records/recordings/' },
      problems: [
        'records.recordingsPrefix: "records/recordings/" lies inside the records prefix "records/", whose objects the Athena table reads as records; give the recordings a prefix of their own (default "recordings/")',
      ],
    },
    {
      name: 'refuses records at the bucket root with recordings in the same bucket',
      records: { bucket: 'audit-bucket', prefix: '' },
      problems: [
        'records.recordingsPrefix: "recordings/" lies inside the records prefix "", whose objects the Athena table reads as records; give the recordings a prefix of their own (default "recordings/")',
      ],
    },
    {
      name: 'refuses a cap too small to hold a header',
      records: { bucket: 'audit-bucket', maxRecordingBytes: 100 },
      problems: ['records.maxRecordingBytes: Too small: expected number to be >=4096'],
    },
  ];
  for (const c of refused) {
    test(c.name, () => assert.deepEqual(configProblems(() => parseConfig({ ...BASE, records: c.records }, 'test')), c.problems));
  }

  test('the environment sets them on the Node runtime next to Lambda', () => {
    const config = configFromEnv(
      {
        GATEHOUSE_OIDC_ISSUER: 'https://idp.example.com',
        GATEHOUSE_OIDC_AUDIENCE: 'gatehouse',
        GATEHOUSE_UPSTREAM: 'kubeconfig',
        GATEHOUSE_RECORDS_BUCKET: 'audit-bucket',
        GATEHOUSE_RECORDS_RECORDINGS_PREFIX: 'sessions/',
        GATEHOUSE_RECORDS_MAX_RECORDING_BYTES: '1048576',
        GATEHOUSE_RECORDS_REDACTION_WINDOW_CHARS: '64',
      },
      { runtime: 'node', defaultPolicyFile: BASE.policy.file },
    );
    assert.deepEqual([config.records?.recordingsPrefix, config.records?.maxRecordingBytes, config.records?.redactionWindowChars], ['sessions/', 1048576, 64]);
  });
});

describe('which runtime records streams', () => {
  writeFileSync(join(scratch, 'policy.yaml'), 'apiVersion: gatehouse/v1\nrules:\n  - { name: all, effect: allow, resources: ["*"] }\n');
  writeFileSync(
    join(scratch, 'kubeconfig.yaml'),
    'apiVersion: v1\nkind: Config\nclusters: [{name: c, cluster: {server: "https://127.0.0.1:6443"}}]\nusers: [{name: u, user: {token: t}}]\ncontexts: [{name: x, context: {cluster: c, user: u}}]\ncurrent-context: x\n',
  );
  const approvals = { mailFrom: 'gatehouse@example.com', publicUrl: 'https://gatehouse.example.com', signingKeyFile: join(scratch, 'link.key') };

  async function composed(config: Record<string, unknown>) {
    const parsed = parseConfig({ ...BASE, ...config }, 'test');
    const deps = await createDepsFromConfig(parsed);
    addConfiguredRecordings(deps, parsed);
    return deps;
  }

  test('the Node runtime with records and approvals builds the recording store and mounts the recordings pages', async () => {
    const deps = await composed({ runtime: 'node', records: { bucket: 'audit-bucket' }, approvals });
    assert.equal(typeof deps.recordings?.open, 'function');
    const page = await createApp(deps).request('/_gatehouse/recordings');
    assert.equal(page.status, 403);
    assert.match(await page.text(), /this recordings link is not valid: it carries no token/);
  });

  test('the Node runtime without approvals has no link key, so no recordings pages', async () => {
    const deps = await composed({ runtime: 'node', records: { bucket: 'audit-bucket' } });
    assert.equal(typeof deps.recordings?.open, 'function');
    assert.equal(deps.recordingPages, undefined);
  });

  test('Lambda, which carries no exec/attach/port-forward, builds neither', async () => {
    const deps = await composed({ runtime: 'lambda', records: { bucket: 'audit-bucket' }, approvals });
    assert.equal(deps.recordings, undefined);
    assert.equal(deps.recordingPages, undefined);
  });
});
