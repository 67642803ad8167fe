/**
 * A Gatehouse with its MCP endpoint on the Node runtime, in front of the kube-apiserver
 * stand-in (demo cluster: dev, staging, prod), with three local issuers — people (the
 * company IdP), CI (GitHub-Actions-shaped tokens) and a cluster's service-account issuer —
 * approvals on dynalite + the SES emulator, and records in s3rver. The real MCP SDK client
 * connects over Streamable HTTP.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Hono } from 'hono';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { ElicitRequestSchema } from '@modelcontextprotocol/sdk/types.js';
import { createApp } from '../../src/app.ts';
import { createDepsFromConfig } from '../../src/compose.ts';
import { parseConfig } from '../../src/config.ts';
import { createS3Records } from '../../src/adapters/s3-records.ts';
import { createRecordsFromConfig, type Records } from '../../src/records/from-config.ts';
import type { SessionRecord } from '../../src/records/schema.ts';
import { startNodeServer, type NodeServer } from '../../src/runtime/node-server.ts';
import { startFakeApiServer, type FakeApiServer } from '../stand-in/apiserver.ts';
import { startIssuer, type TestIssuer } from '../functions/issuer.ts';
import { startApprovalStack, type ApprovalStack } from '../approvals/support.ts';
import { startS3Fixture } from '../records/support.ts';

export const APPROVER = 'bob@example.com';
export const CI_REPOSITORY = 'example-org/deploy';

/** The policy: people by group, CI by issuer and ref, the cluster's agent by issuer. `issuers` are filled in per fixture. */
export function mcpPolicy(ci: string, cluster: string): string {
  return `apiVersion: gatehouse/v1
rules:
  - name: discovery
    effect: allow
    nonResourceURLs: ["/api", "/api/*", "/apis", "/apis/*", "/version"]
    verbs: [get]
  - name: developers-read
    effect: allow
    groups: [developers]
    verbs: [get, list, watch]
    resources: ["*"]
  - name: developers-change-dev
    effect: allow
    groups: [developers]
    verbs: [create, update, patch, delete]
    namespaces: [dev]
    resources: ["*"]
  - name: prod-changes-need-approval
    effect: review
    groups: [developers]
    verbs: [create, update, patch, delete]
    namespaces: [prod]
    resources: ["*"]
    review:
      approvers: [${APPROVER}]
  - name: nobody-in-kube-system
    effect: deny
    namespaces: [kube-system]
    resources: ["*"]
  - name: ci-main-deploys-prod
    effect: allow
    issuers: ["${ci}"]
    claims:
      ref: [refs/heads/main]
    verbs: [get, list, patch]
    namespaces: [prod]
    apiGroups: [apps]
    resources: [deployments, deployments/scale]
  - name: cluster-agent-reads-staging
    effect: allow
    issuers: ["${cluster}"]
    verbs: [get, list]
    namespaces: [staging]
    resources: [pods, pods/log, events]
`;
}

export interface McpFixture {
  /** Gatehouse's base URL (plain HTTP on loopback; TLS is the runtime's business, tested elsewhere). */
  url: string;
  /** The MCP endpoint's URL: `<url>/mcp`, or the first cluster's `<url>/clusters/<name>/mcp`. */
  endpoint: string;
  /** With `clusters`: each cluster's stand-in API server by name (`api` is the first). */
  apis: Record<string, FakeApiServer>;
  people: TestIssuer;
  ci: TestIssuer;
  cluster: TestIssuer;
  api: FakeApiServer;
  approvals: ApprovalStack;
  /** Alice (developers) from the people's IdP. */
  aliceToken: string;
  /** A CI job of CI_REPOSITORY on `ref`. */
  ciToken(ref: string): Promise<string>;
  /** The cluster's service account agents/triage. */
  agentToken: string;
  connect(token: string, options?: { endpoint?: string; elicitation?: ElicitationHandler }): Promise<Client>;
  records(): Promise<SessionRecord[]>;
  close(): Promise<void>;
}

/** How a test's client answers Gatehouse's question (the elicitation/create request's params). */
export type ElicitationHandler = (params: { message: string }) => Promise<{ action: 'accept' | 'decline' | 'cancel'; content?: Record<string, never> }>;

/** `clusters`: front several stand-in clusters by these names (`clusters:`) instead of one at the root. */
export async function startMcpFixture(options: { clusters?: string[] } = {}): Promise<McpFixture> {
  const dir = mkdtempSync(join(tmpdir(), 'gatehouse-mcp-'));
  const names = options.clusters ?? [];
  const [apiList, people, ci, cluster, s3] = await Promise.all([
    Promise.all((names.length === 0 ? ['default'] : names).map(() => startFakeApiServer({ demo: true }))),
    startIssuer(),
    startIssuer(),
    startIssuer(),
    startS3Fixture(),
  ]);
  const api = apiList[0] as FakeApiServer;
  const apis = Object.fromEntries(names.map((name, i) => [name, apiList[i] as FakeApiServer]));
  const closeApis = (): Promise<unknown> => Promise.all(apiList.map((a) => a.close()));
  let approvals: ApprovalStack | undefined;
  let server: NodeServer | undefined;
  let records: Records | undefined;
  try {
    // The app is made once the port is known: its public URL (config, never a Host) names it.
    let inner: Hono | undefined;
    const front = new Hono();
    front.all('*', (c) => (inner as Hono).fetch(c.req.raw, c.env));
    server = await startNodeServer({ app: front, host: '127.0.0.1', port: 0 });
    approvals = await startApprovalStack(server.url);
    const policyFile = join(dir, 'policy.yaml');
    writeFileSync(policyFile, mcpPolicy(ci.issuer, cluster.issuer));
    const config = parseConfig(
      {
        oidc: { issuer: people.issuer, audience: 'gatehouse' },
        issuers: [
          {
            issuer: ci.issuer,
            audience: 'gatehouse-ci',
            usernameClaim: 'sub',
            usernamePrefix: 'ci:',
            groupsPrefix: 'ci:',
            extraClaims: { ref: 'ref', repository: 'repository' },
            requiredClaims: { repository_owner: 'example-org' },
          },
          { issuer: cluster.issuer, audience: 'gatehouse', usernameClaim: 'sub', usernamePrefix: 'cluster-a:', groupsPrefix: 'cluster-a:' },
        ],
        ...(names.length === 0
          ? { upstream: { kind: 'kubeconfig', kubeconfig: api.kubeconfigPath } }
          : { clusters: names.map((name) => ({ name, upstream: { kind: 'kubeconfig', kubeconfig: (apis[name] as FakeApiServer).kubeconfigPath } })) }),
        policy: { file: policyFile },
        approvals: approvals.config,
        mcp: { publicUrl: server.url },
        records: { bucket: s3.bucket, prefix: 'mcp/', flushIntervalSeconds: 0 },
      },
      'mcp fixture',
    );
    // Made here (not from the config by compose) so the test can flush them before reading.
    const made = createRecordsFromConfig(config.records as NonNullable<typeof config.records>, { clientConfig: s3.s3.clientConfig });
    records = made;
    inner = createApp(await createDepsFromConfig(config, { records: made.sink, recordSettings: made.settings }));
  } catch (error) {
    await Promise.all([server?.close(), approvals?.close(), closeApis(), people.close(), ci.close(), cluster.close(), s3.close()]);
    rmSync(dir, { recursive: true, force: true });
    throw error;
  }
  const url = server.url;
  const endpoint = names.length === 0 ? `${url}/mcp` : `${url}/clusters/${names[0] as string}/mcp`;
  const sink = (records as Records).sink;
  const clients: Client[] = [];
  const ciToken = (ref: string): Promise<string> =>
    ci.sign({ sub: `repo:${CI_REPOSITORY}:ref:${ref}`, repository: CI_REPOSITORY, repository_owner: 'example-org', ref }, 'gatehouse-ci');
  return {
    url,
    endpoint,
    apis,
    people,
    ci,
    cluster,
    api,
    approvals,
    aliceToken: await people.sign({ sub: 'u-alice', email: 'alice@example.com', groups: ['developers'] }),
    ciToken,
    agentToken: await cluster.sign({ sub: 'system:serviceaccount:agents:triage' }),
    async connect(token, connectOptions = {}) {
      const handler = connectOptions.elicitation;
      const client = new Client({ name: 'gatehouse-test', version: '1.0.0' }, handler === undefined ? {} : { capabilities: { elicitation: { form: {} } } });
      if (handler !== undefined) client.setRequestHandler(ElicitRequestSchema, (request) => handler(request.params));
      const transport = new StreamableHTTPClientTransport(new URL(connectOptions.endpoint ?? endpoint), { requestInit: { headers: { authorization: `Bearer ${token}` } } });
      await client.connect(transport);
      clients.push(client);
      return client;
    },
    async records() {
      // A write started by an earlier flush may still be on its way: read until two reads agree.
      let previous = -1;
      for (;;) {
        await sink.flush();
        const out: SessionRecord[] = [];
        for await (const record of createS3Records({ bucket: s3.bucket, prefix: 'mcp/', clientConfig: s3.s3.clientConfig }).read({})) out.push(record);
        if (out.length === previous) return out;
        previous = out.length;
      }
    },
    async close() {
      await Promise.all(clients.map((client) => client.close().catch(() => undefined)));
      await sink.close();
      await server?.close();
      await Promise.all([approvals?.close(), closeApis(), people.close(), ci.close(), cluster.close(), s3.close()]);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** The structured content of a tool result, typed loosely for assertions. */
export function structured(result: unknown): Record<string, unknown> {
  return ((result as { structuredContent?: Record<string, unknown> }).structuredContent ?? {}) as Record<string, unknown>;
}

/** The text of a tool result's first content block. */
export function textOf(result: unknown): string {
  const content = (result as { content?: { type: string; text?: string }[] }).content ?? [];
  return content.map((block) => block.text ?? '').join('\n');
}

/** Opens an approval link's page over HTTP as the approver's browser does, then posts the decision its form posts. */
export async function decideByLink(baseUrl: string, link: string, verdict: 'approve' | 'deny', comment = ''): Promise<number> {
  const page = await (await fetch(`${baseUrl}${link}`)).text();
  const formToken = /name="formToken" value="([^"]+)"/.exec(page)?.[1] ?? '';
  const response = await fetch(`${baseUrl}${link}`, {
    method: 'POST',
    redirect: 'manual',
    headers: { origin: baseUrl, 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ formToken, verdict, comment }).toString(),
  });
  return response.status;
}
