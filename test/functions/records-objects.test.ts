/**
 * How many S3 objects 1,000 calls leave on Lambda: the handler (functions/lambda-handler.ts
 * with functions/invocation-end.ts, as functions/handler.ts wires them) driven through the
 * streaming shim, one call per invocation as a Function URL invokes it, in front of the
 * kube-apiserver stand-in, records into S3 (s3rver). One warm execution environment takes a
 * call every 100 ms (time from an injected clock); one call in ten is a mutation (a ConfigMap
 * created), the rest reads. Then the environment shuts down (the SIGTERM path).
 *
 * - before: records written at the end of every invocation (`carryOverSeconds` 0);
 * - after: read records carried over for up to 60 s; each record of intent's PUT takes the
 *   carried records along.
 * Every call's records are in S3 either way; the figures are printed (node test/run.mjs records-objects).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { createApp } from '../../src/app.ts';
import { createDepsFromConfig } from '../../src/compose.ts';
import { configFromEnv } from '../../src/config-env.ts';
import { createRecordsFromConfig } from '../../src/records/from-config.ts';
import { createLambdaHandler } from '../../functions/lambda-handler.ts';
import { invocationEnd } from '../../functions/invocation-end.ts';
import { startS3Fixture, type S3Fixture } from '../records/support.ts';
import { startFakeApiServer, type FakeApiServer } from '../stand-in/apiserver.ts';
import { installAwsLambdaShim, invoke } from './awslambda-shim.ts';
import { functionUrlEvent, type RawRequest } from './function-url-event.ts';
import { startIssuer, type TestIssuer } from './issuer.ts';

installAwsLambdaShim();

const POLICY = join(new URL('../../', import.meta.url).pathname, 'policy', 'default.yaml');
const CALLS = 1000;
const MUTATION_EVERY = 10;
const CALL_SPACING_MS = 100;

let api: FakeApiServer;
let idp: TestIssuer;
let s3: S3Fixture;
let token: string;

before(async () => {
  [api, idp, s3] = await Promise.all([startFakeApiServer(), startIssuer(), startS3Fixture()]);
  api.store.put({ apiVersion: 'v1', kind: 'Pod', metadata: { name: 'web', namespace: 'default' }, spec: { containers: [{ name: 'web', image: 'nginx' }] } });
  token = await idp.sign({ sub: 'u-alice', email: 'alice@example.com', groups: ['developers'] });
});
after(() => Promise.all([api.close(), idp.close(), s3.close()]));

function call(i: number, run: string): RawRequest {
  const auth: [string, string] = ['Authorization', `Bearer ${token}`];
  if (i % MUTATION_EVERY === MUTATION_EVERY - 1) {
    const body = JSON.stringify({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: `${run}-${i}` }, data: { n: String(i) } });
    return { method: 'POST', target: '/api/v1/namespaces/default/configmaps', headers: [auth, ['Content-Type', 'application/json']], body: Buffer.from(body) };
  }
  return { method: 'GET', target: i % 2 === 0 ? '/api/v1/namespaces/default/pods/web' : '/api/v1/namespaces/default/pods', headers: [auth, ['Accept', 'application/json']] };
}

/**
 * The objects under `prefix`, read from s3rver's folder: its ListObjectsV2 fails with an
 * InternalError once a prefix holds more than 1,000 objects (s3rver 3.7), which the "before"
 * run makes. s3rver keeps each object's bytes in `<bucket>/<key>._S3rver_object`.
 */
function objectsUnder(prefix: string): Buffer[] {
  const root = join(s3.directory, s3.bucket, prefix);
  return readdirSync(root, { recursive: true })
    .map(String)
    .filter((path) => path.endsWith('.jsonl.gz._S3rver_object'))
    .map((path) => readFileSync(join(root, path)));
}

/** Runs the calls through one warm environment, shuts it down, and counts objects and records. */
async function run(carryOverSeconds: number): Promise<{ objects: number; outcomes: number; intents: number }> {
  const prefix = `objects-${carryOverSeconds}-${crypto.randomUUID()}/`;
  let now = Date.UTC(2026, 11, 6, 9, 0, 0);
  const clock = { now: () => now };
  const config = configFromEnv(
    {
      GATEHOUSE_OIDC_ISSUER: idp.issuer,
      GATEHOUSE_OIDC_AUDIENCE: 'gatehouse',
      GATEHOUSE_UPSTREAM: 'kubeconfig',
      GATEHOUSE_KUBECONFIG: api.kubeconfigPath,
      GATEHOUSE_POLICY_FILE: POLICY,
      GATEHOUSE_RECORDS_BUCKET: s3.bucket,
      GATEHOUSE_RECORDS_PREFIX: prefix,
      GATEHOUSE_RECORDS_CARRY_OVER_SECONDS: String(carryOverSeconds),
    },
    { runtime: 'lambda', defaultPolicyFile: POLICY },
  );
  const records = createRecordsFromConfig(config.records!, { clientConfig: s3.s3.clientConfig, clock, log: () => undefined });
  // The tokens are real-time; only the records' clock is moved by the test.
  const deps = await createDepsFromConfig(config, { records: records.sink, recordSettings: records.settings });
  const end = invocationEnd(deps);
  const handler = createLambdaHandler(createApp(deps), { afterResponse: () => end.afterInvocation() });
  for (let i = 0; i < CALLS; i += 1) {
    const decoded = await invoke(handler, functionUrlEvent(call(i, prefix.slice(0, 20)))).done;
    assert.ok([200, 201].includes(decoded.metadata?.statusCode ?? 0), `call ${i}: ${decoded.body.toString('utf8')}`);
    now += CALL_SPACING_MS;
  }
  await end.atShutdown();
  await records.sink.close();
  const objects = objectsUnder(prefix);
  const phases = objects.flatMap((bytes) => gunzipSync(bytes).toString('utf8').trim().split('\n').map((line) => (JSON.parse(line) as { phase: string }).phase));
  return { objects: objects.length, outcomes: phases.filter((phase) => phase === 'outcome').length, intents: phases.filter((phase) => phase === 'intent').length };
}

describe(`S3 objects per ${CALLS} calls on Lambda`, () => {
  const mutations = CALLS / MUTATION_EVERY;

  test('before: records written at the end of every invocation make one object per call, and one more per mutation', async (t) => {
    const { objects, outcomes, intents } = await run(0);
    assert.equal(outcomes, CALLS);
    assert.equal(intents, mutations);
    assert.equal(objects, CALLS + mutations);
    t.diagnostic(`before (carryOverSeconds 0): ${objects} S3 objects per ${CALLS} calls (${mutations} mutations)`);
    console.log(`records-objects: before (carryOverSeconds 0): ${objects} S3 objects per ${CALLS} calls (${mutations} mutations)`);
  });

  test('after: read records carried over for 60 s ride in the records of intent, every record still written', async (t) => {
    const { objects, outcomes, intents } = await run(60);
    assert.equal(outcomes, CALLS);
    assert.equal(intents, mutations);
    // Each mutation's record of intent is its own PUT, carrying the reads before it; the reads
    // after the last mutation are written at shutdown.
    assert.equal(objects, mutations + 1);
    t.diagnostic(`after (carryOverSeconds 60): ${objects} S3 objects per ${CALLS} calls (${mutations} mutations)`);
    console.log(`records-objects: after (carryOverSeconds 60): ${objects} S3 objects per ${CALLS} calls (${mutations} mutations)`);
  });
});
