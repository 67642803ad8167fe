/**
 * The credentials stage tells the upstream adapter when the cluster refused Gatehouse's own
 * credentials (401), so they are not reused; any other answer leaves them alone.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Hono } from 'hono';
import '../../src/context.ts';
import { credentials } from '../../src/pipeline/credentials.ts';
import { route } from '../../src/pipeline/route.ts';
import { DEFAULT_ROUTER } from '../../src/cluster-route.ts';
import type { Upstream } from '../../src/ports/upstream.ts';
import type { UpstreamConnection } from '../../src/types.ts';

const cases: { name: string; upstreamStatus: number | undefined; dropped: boolean }[] = [
  { name: 'drops the credentials the cluster answered 401 to', upstreamStatus: 401, dropped: true },
  { name: 'keeps them when the cluster answered 200', upstreamStatus: 200, dropped: false },
  { name: 'keeps them when the cluster refused the caller (403: RBAC, not Gatehouse)', upstreamStatus: 403, dropped: false },
  { name: 'keeps them when nothing was forwarded', upstreamStatus: undefined, dropped: false },
];

for (const { name, upstreamStatus, dropped } of cases) {
  test(name, async () => {
    const connection: UpstreamConnection = { server: new URL('https://cluster.example'), token: 'k8s-aws-v1.first' };
    const rejected: UpstreamConnection[] = [];
    const upstream: Upstream = { connection: async () => connection, rejected: (refused) => void rejected.push(refused) };
    const app = new Hono();
    app.use('*', route(DEFAULT_ROUTER));
    app.use('*', credentials([{ name: 'default', upstream }]));
    app.get('*', (c) => {
      if (upstreamStatus !== undefined) c.set('upstreamStatus', upstreamStatus);
      return c.text('answered', upstreamStatus === undefined ? 200 : (upstreamStatus as 200));
    });
    const response = await app.request('/api/v1/pods');
    assert.equal(await response.text(), 'answered');
    assert.deepEqual(rejected, dropped ? [connection] : []);
  });
}
