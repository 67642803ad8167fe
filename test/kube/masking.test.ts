/**
 * Masking against a REAL kube-apiserver: every way kubectl shows a Secret (and the values a
 * policy's masking rules name), through Gatehouse and directly (admin with --as/--as-group
 * for the same caller). Gatehouse's output must equal the direct output with exactly the
 * stated difference — each value replaced by its placeholder — and no value, plain or base64,
 * may appear in it. The real server sends the values (the direct output has them) and answers
 * some of these calls in ways the stand-in does not model (protobuf bodies, managed fields,
 * the last-applied annotation written by the server side of apply).
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { placeholderBase64, placeholderText } from '../../src/masking/placeholder.ts';
import { kubectlVersionsUnderTest, startGatehouseFront, type GatehouseFront } from '../support/harness.ts';
import { API_KEY, APPLIED, assertNoSecret, b64, LITERAL, MASKING_POLICY, PASSWORD, SECRET_VALUES } from '../support/kubectl-fixtures.ts';
import { realClusterSkip, startRealCluster, type RealCluster } from './cluster.ts';
import { assertSideBySide, normalise, sidePair, type ExpectedDifference, type SideBySideCase, type SidePair } from './side-by-side.ts';

/** Each base64 value in the direct output becomes its base64 placeholder (Secret data). */
const maskedData: ExpectedDifference = {
  why: 'each Secret data value (base64) becomes the base64 placeholder of its size class',
  apply: (direct) => ({ ...direct, stdout: SECRET_VALUES.reduce((out, v) => out.replaceAll(b64(v), placeholderBase64(v.length)), direct.stdout) }),
};

/** Plain values (stringData in the last-applied annotation, ConfigMap keys, env) become the text placeholder. */
function maskedText(values: string[], quote: (placeholder: string) => string): ExpectedDifference {
  return {
    why: `${values.length} plain value(s) become the text placeholder of their size class, and Secret data its base64 placeholder`,
    apply: (direct) => {
      const data = maskedData.apply(direct);
      return { ...data, stdout: values.reduce((out, v) => out.replaceAll(v, quote(placeholderText(v.length))), data.stdout) };
    },
  };
}
/** YAML: a placeholder starts with "*" (an alias), so kubectl's YAML writer single-quotes it. */
const yamlQuoted = (placeholder: string): string => `'${placeholder}'`;
/** JSON and describe print the placeholder as it is. */
const asIs = (placeholder: string): string => placeholder;

const describedSizes: ExpectedDifference = {
  why: 'describe prints the size of each decoded value: the placeholder’s size instead of the value’s',
  apply: (direct) => ({
    ...direct,
    stdout: SECRET_VALUES.reduce(
      (out, v) => out.replace(new RegExp(`^(\\S+:\\s+)${v.length} bytes$`, 'gm'), `$1${Buffer.from(placeholderBase64(v.length), 'base64').length} bytes`),
      direct.stdout,
    ),
  }),
};

const APPLIED_SECRET = `apiVersion: v1\nkind: Secret\nmetadata:\n  name: applied\nstringData:\n  token: ${APPLIED}\n`;

const CASES: SideBySideCase[] = [
  { name: 'get secrets prints the same Table, with the data count and no value', args: ['get', 'secrets'] },
  { name: 'get secret -o yaml differs only by the placeholders', args: ['get', 'secret', 'db', '-o', 'yaml'], differs: maskedData },
  { name: 'get secrets -o json masks every item of the list', args: ['get', 'secrets', '-o', 'json'], differs: maskedData },
  { name: 'get secret -o jsonpath prints the placeholder', args: ['get', 'secret', 'db', '-o', 'jsonpath={.data.password}'], differs: maskedData },
  { name: 'describe secret shows the sizes of the placeholders (typed client decodes them)', args: ['describe', 'secret', 'db'], differs: describedSizes },
  {
    name: 'create secret generic --from-literal -o yaml echoes the created Secret masked',
    args: ['create', 'secret', 'generic', 'literal', `--from-literal=token=${LITERAL}`, '-o', 'yaml'],
    differs: maskedData,
  },
  { name: 'apply of a Secret with stringData says the same', args: ['apply', '-f', '-'], input: APPLIED_SECRET },
  {
    name: 'get of the applied Secret masks its data and the stringData in the last-applied annotation',
    args: ['get', 'secret', 'applied', '-o', 'json'],
    differs: maskedText([APPLIED], asIs),
  },
  { name: 'get configmap -o yaml masks the keys a masking rule names, and only those', args: ['get', 'configmap', 'app', '-o', 'yaml'], differs: maskedText([PASSWORD], yamlQuoted) },
  { name: 'get pod -o yaml masks the env values a masking rule names, in every container', args: ['get', 'pod', 'web', '-o', 'yaml'], differs: maskedText([PASSWORD, API_KEY], yamlQuoted) },
  { name: 'get pod -o json masks the same env values', args: ['get', 'pod', 'web', '-o', 'json'], differs: maskedText([PASSWORD, API_KEY], asIs) },
  { name: 'describe pod masks the same env values', args: ['describe', 'pod', 'web'], differs: maskedText([PASSWORD, API_KEY], asIs) },
];

const skip = realClusterSkip();

describe('masking through Gatehouse against a real kube-apiserver', { skip, concurrency: true }, () => {
  let cluster: RealCluster;
  let front: GatehouseFront;
  let breakGlass: GatehouseFront;
  const versions = kubectlVersionsUnderTest();
  const namespaces = versions.flatMap((v) => [`mask-gh-${v.replace('.', '-')}`, `mask-direct-${v.replace('.', '-')}`]);

  before(async () => {
    cluster = await startRealCluster({
      namespaces: [...namespaces, 'break-glass'],
      bindings: [
        ...namespaces.map((namespace) => ({ namespace, role: 'edit', group: 'developers' })),
        { namespace: 'break-glass', role: 'edit', group: 'incident-responders' },
      ],
    });
    front = await startGatehouseFront(cluster.gatehouseKubeconfigPath, { policy: MASKING_POLICY });
    breakGlass = await startGatehouseFront(cluster.gatehouseKubeconfigPath, { policy: MASKING_POLICY, groups: ['incident-responders'] });
    for (const namespace of [...namespaces, 'break-glass']) {
      await cluster.admin('POST', `/api/v1/namespaces/${namespace}/secrets`, {
        apiVersion: 'v1',
        kind: 'Secret',
        metadata: { name: 'db' },
        type: 'Opaque',
        data: { password: b64(PASSWORD), 'api-key': b64(API_KEY) },
      });
      await cluster.admin('POST', `/api/v1/namespaces/${namespace}/configmaps`, {
        apiVersion: 'v1',
        kind: 'ConfigMap',
        metadata: { name: 'app' },
        data: { DB_PASSWORD: PASSWORD, mode: 'fast' },
      });
      await cluster.admin('POST', `/api/v1/namespaces/${namespace}/pods`, {
        apiVersion: 'v1',
        kind: 'Pod',
        metadata: { name: 'web', labels: { env: 'prod' } },
        spec: {
          initContainers: [{ name: 'init', image: 'busybox', env: [{ name: 'INIT_TOKEN', value: API_KEY }] }],
          containers: [{ name: 'web', image: 'nginx', env: [{ name: 'LOG_LEVEL', value: 'info' }, { name: 'DB_PASSWORD', value: PASSWORD }] }],
        },
      });
    }
  });
  after(async () => {
    await breakGlass?.close();
    await front?.close();
    await cluster?.close();
  });

  for (const version of versions) {
    // Versions run side by side (each in namespaces of its own); one version's cases run in order.
    describe(`kubectl ${version}: Secret values never leave Gatehouse`, { concurrency: 1 }, () => {
      let pair: SidePair;
      before(() => {
        pair = sidePair(front, cluster, version, 'mask-');
      });

      for (const testCase of CASES) {
        test(testCase.name, async () => {
          const { gatehouse, direct } = await assertSideBySide(pair, testCase);
          assertNoSecret(gatehouse.stdout + gatehouse.stderr, `kubectl ${testCase.args.join(' ')} through Gatehouse`);
          if (testCase.differs !== undefined && testCase.differs !== describedSizes && testCase.input === undefined) {
            assert.ok(SECRET_VALUES.some((v) => direct.stdout.includes(v) || direct.stdout.includes(b64(v))), 'the real server sent a value (the direct output has it)');
          }
        });
      }

      test('replace with what get -o yaml showed keeps the live values (placeholders restored, never shown)', async () => {
        const shown = await pair.gatehouse.run(['get', 'secret', 'db', '-o', 'yaml']);
        assert.equal(shown.code, 0, shown.stderr);
        assertNoSecret(shown.stdout, 'get secret -o yaml through Gatehouse');
        const r = await pair.gatehouse.run(['replace', '-f', '-'], shown.stdout);
        assert.equal(r.code, 0, `Gatehouse restores the placeholders it showed from the live object: ${r.stderr}`);
        assert.match(r.stdout, /^secret\/db replaced\n$/);
        assertNoSecret(r.stdout + r.stderr, 'kubectl replace through Gatehouse');
        const stored = await cluster.admin<{ data: Record<string, string> }>('GET', `/api/v1/namespaces/${pair.gatehouse.namespace}/secrets/db`);
        assert.equal(stored.data['password'], b64(PASSWORD));
      });

      test('get secret -w -o json shows masked events as they come', async () => {
        // kubectl watches one named object from resourceVersion 0 and skips the first event, so a
        // change made before its watch is answered would be lost: -v=6 logs that answer.
        const watch = pair.gatehouse.start(['get', 'secret', 'db', '-w', '-o', 'json', '-v=6']);
        try {
          await watch.waitFor(placeholderBase64(PASSWORD.length));
          await watch.waitForStderr(/watch=true\S*(?:" status="| )200 OK/);
          await cluster.admin('PATCH', `/api/v1/namespaces/${pair.gatehouse.namespace}/secrets/db`, { data: { rotated: b64(`${PASSWORD}-2`) } });
          await watch.waitFor('"rotated"');
        } finally {
          const result = await watch.stop();
          assertNoSecret(result.stdout + result.stderr, 'get secret -w');
        }
      });
    });
  }

  test('a break-glass rule lets its group see Secret values: the same output as directly', async () => {
    const newest = versions.at(-1) ?? 'default';
    const impersonate = ['--as', breakGlass.user, '--as-group', 'incident-responders', '--as-uid', breakGlass.user];
    for (const args of [['get', 'secret', 'db', '-o', 'yaml'], ['describe', 'secret', 'db']]) {
      const [viaGatehouse, direct] = await Promise.all([
        breakGlass.kubectl(newest, ['-n', 'break-glass', ...args]),
        breakGlass.kubectl(newest, ['-n', 'break-glass', ...impersonate, ...args], { kubeconfig: cluster.adminKubeconfigPath }),
      ]);
      assert.equal(viaGatehouse.code, 0, viaGatehouse.stderr);
      assert.equal(normalise(viaGatehouse.stdout, 'break-glass'), normalise(direct.stdout, 'break-glass'));
    }
  });
});
