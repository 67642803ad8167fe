// The demo cluster behind a local Gatehouse, with the real kubectl: seeded objects and Running
// pods, exec over WebSocket (kubectl ≥1.30) and SPDY (≤1.29) into the built-in shell, a shell
// reading stdin, port-forward carrying an HTTP request, logs -f, typed creates sent as
// protobuf, pods created later starting Running, and Deployments created, scaled, restarted
// and deleted later getting (and losing) their ReplicaSets and pods.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { DEMO_NAMESPACES, demoPodNames } from '../stand-in/demo.ts';
import { installedKubectlVersions, startHarness, type Harness } from '../support/harness.ts';

const POLICY = `
apiVersion: gatehouse/v1
rules:
  - name: discovery
    effect: allow
    nonResourceURLs: ["*"]
  - name: everything
    effect: allow
    resources: ["*"]
`;
const [WEB] = demoPodNames('dev', 'web', 2);

let h: Harness;
before(async () => {
  h = await startHarness({ policy: POLICY, demo: true });
});
after(async () => h?.close());

describe('the demo cluster through Gatehouse', () => {
  test('starts with dev, staging and prod, Running pods, Services, ConfigMaps and Secrets', async () => {
    const pods = await h.kubectl('1.33', ['get', 'pods', '-A', '-o', 'jsonpath={range .items[*]}{.metadata.namespace}/{.metadata.name}={.status.phase}{"\\n"}{end}']);
    assert.equal(pods.code, 0, pods.stderr);
    const expected = DEMO_NAMESPACES.flatMap((ns) => [...(ns === 'prod' ? demoPodNames(ns, 'payments', 1) : []), ...demoPodNames(ns, 'web', 2)].map((name) => `${ns}/${name}=Running`)).sort();
    assert.deepEqual(pods.stdout.trim().split('\n'), expected);
    for (const kind of ['services', 'configmaps', 'secrets', 'deployments']) {
      const listed = await h.kubectl('1.33', ['get', kind, '-n', 'prod', '-o', 'name']);
      assert.equal(listed.code, 0, listed.stderr);
      assert.ok(listed.stdout.split('\n').filter((l) => l !== '').length >= 2, `${kind} in prod: ${listed.stdout}`);
    }
  });

  for (const version of installedKubectlVersions()) {
    test(`kubectl ${version} exec runs a command in the built-in shell (${Number(version.split('.')[1]) >= 30 ? 'WebSocket' : 'SPDY/3.1'})`, async () => {
      const result = await h.kubectl(version, ['exec', '-n', 'dev', WEB ?? '', '--', 'cat', '/etc/app/app.properties']);
      assert.equal(result.code, 0, result.stderr);
      assert.equal(result.stdout, 'environment=dev\nlog.level=debug\n');
    });
  }

  const shells = [
    { name: 'a shell reads piped stdin line by line and exits with its code', args: ['sh'], input: 'echo hello $ENVIRONMENT\nls /etc/app\nexit 3\n', stdout: 'hello dev\napp.properties\nfeature-flags\n', code: 3, stderr: /command terminated with exit code 3/ },
    { name: 'an unknown command says so, exit 127', args: ['vim'], input: '', stdout: '', code: 127, stderr: /sh: vim: not found[\s\S]*command terminated with exit code 127/ },
    { name: 'cat without arguments copies stdin', args: ['cat'], input: 'piped through\n', stdout: 'piped through\n', code: 0, stderr: /^$/ },
  ];
  for (const version of ['1.27', '1.33']) {
    for (const { name, args, input, stdout, code, stderr } of shells) {
      test(`kubectl ${version}: ${name}`, async () => {
        const result = await h.kubectl(version, ['exec', '-i', '-n', 'dev', WEB ?? '', '--', ...args], { input });
        assert.equal(result.stdout, stdout, result.stderr);
        assert.equal(result.code, code);
        assert.match(result.stderr, stderr);
      });
    }
  }

  test('port-forward carries an HTTP request to the pod and its answer back', async () => {
    const forward = h.startKubectl('1.33', ['port-forward', '-n', 'dev', `pod/${WEB}`, ':80']);
    try {
      const line = await forward.waitFor(/Forwarding from 127\.0\.0\.1:(\d+) -> 80/, 30_000);
      const port = Number(/127\.0\.0\.1:(\d+)/.exec(line)?.[1]);
      const body = await new Promise<string>((resolve, reject) => {
        request({ host: '127.0.0.1', port, path: '/' }, (res) => {
          let text = '';
          res.setEncoding('utf8').on('data', (chunk: string) => (text += chunk));
          res.on('end', () => resolve(`${res.statusCode} ${text}`));
        })
          .on('error', reject)
          .end();
      });
      assert.equal(body, `200 hello from pod ${WEB}, port 80 (Gatehouse demo cluster)\n`);
    } finally {
      await forward.stop();
    }
  });

  test('logs -f shows the lines the pod writes as it writes them', async () => {
    const follow = h.startKubectl('1.33', ['logs', '-f', '--tail', '0', '-n', 'dev', WEB ?? '']);
    try {
      const seen = await follow.waitFor(/"GET \S+ HTTP\/1\.1" 200 \d+\n[\s\S]*"GET \S+ HTTP\/1\.1" 200 \d+\n/, 30_000);
      assert.match(seen, /^10\.244\.0\.1 - - \[/);
    } finally {
      await follow.stop();
    }
  });

  const creates = [
    { args: ['create', 'namespace', 'team-a'], out: 'namespace/team-a created\n' },
    { args: ['create', 'deployment', 'hello', '-n', 'team-a', '--image', 'nginx', '--replicas', '2', '--port', '80'], out: 'deployment.apps/hello created\n' },
    { args: ['create', 'service', 'clusterip', 'hello', '-n', 'team-a', '--tcp', '80:8080'], out: 'service/hello created\n' },
    { args: ['create', 'serviceaccount', 'robot', '-n', 'team-a'], out: 'serviceaccount/robot created\n' },
    { args: ['create', 'configmap', 'settings', '-n', 'team-a', '--from-literal', 'a=b'], out: 'configmap/settings created\n' },
    { args: ['create', 'secret', 'generic', 'token', '-n', 'team-a', '--from-literal', 'a=b'], out: 'secret/token created\n' },
  ];
  test('typed creates arrive as protobuf and are decoded (kubectl 1.33)', async () => {
    const from = h.mark();
    for (const { args, out } of creates) {
      const result = await h.kubectl('1.33', args);
      assert.equal(result.stderr, '', args.join(' '));
      assert.equal(result.stdout, out);
    }
    const posts = h.receivedSince(from).filter((r) => r.method === 'POST');
    assert.ok(posts.every((r) => String(r.headers['content-type']).startsWith('application/vnd.kubernetes.protobuf')), 'kubectl sent protobuf');
    const deployment = h.api.store.get('deployments', 'team-a', 'hello') as unknown as { spec: { replicas: number; template: { spec: { containers: { image: string; ports: { containerPort: number }[] }[] } } } };
    assert.equal(deployment.spec.replicas, 2);
    assert.equal(deployment.spec.template.spec.containers[0]?.image, 'nginx');
    assert.equal(deployment.spec.template.spec.containers[0]?.ports[0]?.containerPort, 80);
    const service = h.api.store.get('services', 'team-a', 'hello') as unknown as { spec: { ports: { port: number; targetPort: number }[] } };
    assert.deepEqual(service.spec.ports.map((p) => [p.port, p.targetPort]), [[80, 8080]]);
  });

  // The demo's controllers (test/stand-in/controllers.ts) through Gatehouse, as a newcomer
  // types it: each version works on its own Deployment in dev.
  for (const version of ['1.27', '1.33']) {
    const app = `web${version.replace('.', '')}`;
    const podsOf = async (): Promise<string[]> => {
      const listed = await h.kubectl(version, ['get', 'pods', '-n', 'dev', '-l', `app=${app}`, '-o', 'jsonpath={range .items[*]}{.metadata.name}={.status.phase}{"\\n"}{end}']);
      assert.equal(listed.code, 0, listed.stderr);
      return listed.stdout.split('\n').filter((l) => l !== '');
    };
    const rolloutStatus = async (): Promise<void> => {
      const status = await h.kubectl(version, ['rollout', 'status', `deployment/${app}`, '-n', 'dev', '--timeout=60s']);
      assert.equal(status.code, 0, status.stderr);
      assert.match(status.stdout, new RegExp(`deployment "${app}" successfully rolled out\\n$`));
    };
    test(`kubectl ${version}: a created Deployment gets Running pods through a ReplicaSet, and rollout status completes`, async () => {
      const watch = h.startKubectl(version, ['get', 'pods', '-n', 'dev', '-l', `app=${app}`, '--watch', '--output-watch-events', '-v=6']);
      try {
        await watch.waitForStderr(/watch=true.*200 OK/);
        const created = await h.kubectl(version, ['create', 'deployment', app, '-n', 'dev', '--image=nginx', '--replicas=2']);
        assert.equal(created.code, 0, created.stderr);
        await rolloutStatus();
        const seen = await watch.waitFor(new RegExp(`(MODIFIED +${app}-\\S+ +1/1 +Running[\\s\\S]*){2}`));
        assert.equal(seen.match(new RegExp(`ADDED +${app}-\\S+ +0/1 +Pending`, 'g'))?.length, 2, seen);
      } finally {
        await watch.stop();
      }
      const sets = await h.kubectl(version, ['get', 'replicasets', '-n', 'dev', '-l', `app=${app}`, '-o', 'jsonpath={.items[*].metadata.name}']);
      assert.match(sets.stdout, new RegExp(`^${app}-[a-z0-9]{10}$`));
      const pods = await podsOf();
      assert.equal(pods.length, 2);
      for (const pod of pods) assert.match(pod, new RegExp(`^${sets.stdout}-[a-z0-9]{5}=Running$`));
    });

    const scales = [
      { replicas: 3, name: 'scale up adds a pod' },
      { replicas: 1, name: 'scale down removes pods' },
    ];
    for (const c of scales) {
      test(`kubectl ${version}: ${c.name} (--replicas=${c.replicas})`, async () => {
        const scaled = await h.kubectl(version, ['scale', `deployment/${app}`, '-n', 'dev', `--replicas=${c.replicas}`]);
        assert.equal(scaled.code, 0, scaled.stderr);
        assert.equal(scaled.stdout, `deployment.apps/${app} scaled\n`);
        await rolloutStatus();
        assert.equal((await podsOf()).length, c.replicas);
      });
    }

    test(`kubectl ${version}: rollout restart replaces the pods through a new ReplicaSet; rollout status waits for it`, async () => {
      const before = await podsOf();
      const restarted = await h.kubectl(version, ['rollout', 'restart', `deployment/${app}`, '-n', 'dev']);
      assert.equal(restarted.code, 0, restarted.stderr);
      assert.equal(restarted.stdout, `deployment.apps/${app} restarted\n`);
      await rolloutStatus();
      const after = await podsOf();
      assert.equal(after.length, 1);
      assert.ok(!before.includes(after[0] ?? ''), `a new pod: ${after.join(', ')} after ${before.join(', ')}`);
      const history = await h.kubectl(version, ['rollout', 'history', `deployment/${app}`, '-n', 'dev']);
      assert.equal(history.code, 0, history.stderr);
      assert.match(history.stdout, /^1 +<none>\n2 +<none>$/m);
    });

    test(`kubectl ${version}: deleting the Deployment deletes its ReplicaSets and pods`, async () => {
      const watch = h.startKubectl(version, ['get', 'pods', '-n', 'dev', '-l', `app=${app}`, '--watch', '--output-watch-events']);
      try {
        await watch.waitFor(new RegExp(`ADDED +${app}-`));
        const deleted = await h.kubectl(version, ['delete', 'deployment', app, '-n', 'dev']);
        assert.equal(deleted.code, 0, deleted.stderr);
        const gone = await h.kubectl(version, ['wait', '--for=delete', 'pods,replicasets', '-n', 'dev', '-l', `app=${app}`, '--timeout=30s']);
        assert.equal(gone.code, 0, gone.stderr);
        await watch.waitFor(new RegExp(`DELETED +${app}-\\S+ +1/1 +Terminating`));
      } finally {
        await watch.stop();
      }
      assert.deepEqual(await podsOf(), []);
      const sets = await h.kubectl(version, ['get', 'replicasets', '-n', 'dev', '-l', `app=${app}`, '-o', 'name']);
      assert.equal(sets.stdout, '');
    });
  }

  test('a pod created later starts Running on the demo node', async () => {
    const created = await h.kubectl('1.33', ['run', 'scratch', '-n', 'dev', '--image', 'busybox']);
    assert.equal(created.code, 0, created.stderr);
    const waited = await h.kubectl('1.33', ['wait', '--for=jsonpath={.status.phase}=Running', 'pod/scratch', '-n', 'dev', '--timeout=20s']);
    assert.equal(waited.code, 0, waited.stderr);
  });
});
