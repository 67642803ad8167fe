/**
 * The tools that read: discovery, list, get, describe (object, events, owner chain), logs and
 * events. Each is one or a few GETs through the pipeline (tool-kit.ts), summarised for a model.
 */
import * as z from 'zod';
import { defineTool } from './tool-kit.ts';
import { CLUSTER_OBJECT, EVENTS, JSON_OBJECT } from './output-fields.ts';
import type { ToolCall } from './tool-kit.ts';
import { apiVersion, containerName, namespaceName, objectName, objectTarget, resourceName, resourcePath, selector, versionPath } from './fields.ts';
import { arr, obj, str, type Json } from './json-shape.ts';
import { dataResult, failureResult } from './tool-results.ts';
import type { KubeAnswer } from './kube-client.ts';

const READ = { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: false } as const;


/** A resource as discovery lists it: enough for a model to address it with the other tools. */
function resourceEntries(list: unknown): Json[] {
  return arr(obj(list)['resources']).map((entry) => {
    const r = obj(entry);
    return { name: r['name'], kind: r['kind'], namespaced: r['namespaced'], verbs: r['verbs'] };
  });
}

export const apiResources = defineTool({
  name: 'api_resources',
  title: 'API resources',
  description:
    'Lists what the cluster serves. Without apiVersion: the core (v1) resources and every API group with its versions. With apiVersion (e.g. "apps/v1"): that version\'s resources. Use it to find the "resource" and "apiVersion" the other tools take.',
  input: { apiVersion: apiVersion.optional() },
  output: { apiVersion: z.string(), resources: z.array(JSON_OBJECT), core: z.array(JSON_OBJECT), groups: z.array(z.looseObject({ group: z.unknown().optional(), versions: z.array(z.unknown()).optional(), preferred: z.unknown().optional() })) },
  annotations: { ...READ, title: 'API resources' },
  async run({ args, kube, expect }) {
    if (args.apiVersion !== undefined) {
      const list = expect(await kube.call({ method: 'GET', path: versionPath(args.apiVersion) }));
      return dataResult(`Resources of ${args.apiVersion}.`, { apiVersion: args.apiVersion, resources: resourceEntries(list.json) });
    }
    const core = expect(await kube.call({ method: 'GET', path: '/api/v1' }));
    const groups = expect(await kube.call({ method: 'GET', path: '/apis' }));
    const groupList = arr(obj(groups.json)['groups']).map((entry) => {
      const g = obj(entry);
      return { group: g['name'], versions: arr(g['versions']).map((v) => obj(v)['groupVersion']), preferred: obj(g['preferredVersion'])['groupVersion'] };
    });
    return dataResult('Core (v1) resources and the API groups; call api_resources with an apiVersion from "groups" for its resources.', {
      core: resourceEntries(core.json),
      groups: groupList,
    });
  },
});

/** One line of a list: what a model needs to pick an object, not the whole object. */
function itemSummary(item: unknown): Json {
  const o = obj(item);
  const metadata = obj(o['metadata']);
  const status = obj(o['status']);
  const spec = obj(o['spec']);
  const summary: Json = { name: metadata['name'] };
  if (metadata['namespace'] !== undefined) summary['namespace'] = metadata['namespace'];
  summary['created'] = metadata['creationTimestamp'];
  if (metadata['labels'] !== undefined) summary['labels'] = metadata['labels'];
  if (str(status['phase']) !== undefined) summary['phase'] = status['phase'];
  if (typeof spec['replicas'] === 'number') summary['replicas'] = { desired: spec['replicas'], ready: status['readyReplicas'] ?? 0, updated: status['updatedReplicas'] ?? 0 };
  return summary;
}

export const listResources = defineTool({
  name: 'list_resources',
  title: 'List resources',
  description:
    'Lists objects of one resource, in one namespace or (namespace left out) across all namespaces the policy lets you see. Narrow with labelSelector ("app=web") or fieldSelector ("status.phase=Running"). Returns a summary per object (name, namespace, labels, phase, replicas); use get_resource for the whole object. Pages with limit and continue.',
  input: {
    apiVersion: apiVersion.default('v1'),
    resource: resourceName,
    namespace: namespaceName.optional(),
    labelSelector: selector.optional().describe('Label selector, e.g. "app=web,tier!=cache".'),
    fieldSelector: selector.optional().describe('Field selector, e.g. "status.phase=Running" or "metadata.name=web".'),
    limit: z.number().int().min(1).max(500).default(100).describe('At most this many objects (1-500).'),
    continue: z.string().max(4096).regex(/^[A-Za-z0-9+/=_-]*$/, 'must be the continue token a previous list returned').optional(),
  },
  output: { kind: z.unknown(), items: z.array(z.looseObject({ name: z.unknown().optional(), namespace: z.unknown().optional() })), continue: z.string() },
  annotations: { ...READ, title: 'List resources' },
  async run({ args, kube, expect }) {
    const answer = expect(
      await kube.call({
        method: 'GET',
        path: resourcePath(args),
        query: { labelSelector: args.labelSelector, fieldSelector: args.fieldSelector, limit: args.limit, continue: args.continue },
        maxBytes: 8 * 1024 * 1024,
      }),
    );
    const list = obj(answer.json);
    const items = arr(list['items']).map(itemSummary);
    const metadata = obj(list['metadata']);
    const next = str(metadata['continue']);
    const where = args.namespace === undefined ? 'all namespaces' : `namespace ${args.namespace}`;
    return dataResult(`${items.length} ${args.resource} in ${where}${next === undefined || next === '' ? '' : '; more remain (pass "continue")'}.`, {
      kind: list['kind'],
      items,
      ...(next === undefined || next === '' ? {} : { continue: next }),
    });
  },
});

/** An object without its managedFields (noise for a model, and large). */
function withoutManagedFields(value: unknown): Json {
  const o = obj(value);
  const metadata = { ...obj(o['metadata']) };
  delete metadata['managedFields'];
  return { ...o, metadata };
}

export const getResource = defineTool({
  name: 'get_resource',
  title: 'Get a resource',
  description: 'Reads one object whole (managedFields left out). Secret values and other masked fields come back masked: they cannot be read through this tool.',
  input: objectTarget,
  output: { object: CLUSTER_OBJECT },
  annotations: { ...READ, title: 'Get a resource' },
  async run({ args, kube, expect }) {
    const answer = expect(await kube.call({ method: 'GET', path: resourcePath(args) }));
    return dataResult(`${args.resource} ${args.name}${args.namespace === undefined ? '' : ` in ${args.namespace}`}.`, { object: withoutManagedFields(answer.json) });
  },
});

/** Events about one object (by name and uid), newest first. */
async function eventsFor(call: ToolCall<unknown>, namespace: string | undefined, fieldSelector: string | undefined, limit: number): Promise<Json[] | KubeAnswer> {
  const path = namespace === undefined ? '/api/v1/events' : `/api/v1/namespaces/${namespaceName.parse(namespace)}/events`;
  const answer = await call.kube.call({ method: 'GET', path, query: { fieldSelector, limit } });
  if (answer.failure !== undefined) return answer;
  return arr(obj(answer.json)['items'])
    .map((entry) => {
      const e = obj(entry);
      const involved = obj(e['involvedObject']);
      return {
        time: e['lastTimestamp'] ?? e['eventTime'] ?? obj(e['metadata'])['creationTimestamp'],
        type: e['type'],
        reason: e['reason'],
        object: `${String(involved['kind'] ?? '')}/${String(involved['name'] ?? '')}`,
        message: e['message'],
        count: e['count'],
      };
    })
    .sort((a, b) => String(b.time ?? '').localeCompare(String(a.time ?? '')));
}

/** The controller chain above an object (ReplicaSet → Deployment …), each found through discovery; at most four steps. */
async function ownerChain(call: ToolCall<unknown>, start: Json, namespace: string | undefined): Promise<Json[]> {
  const chain: Json[] = [];
  let current = start;
  for (let step = 0; step < 4; step += 1) {
    const owners = arr(obj(current['metadata'])['ownerReferences']).map(obj);
    const owner = owners.find((o) => o['controller'] === true) ?? owners[0];
    if (owner === undefined) break;
    const version = apiVersion.safeParse(owner['apiVersion']);
    const name = objectName.safeParse(owner['name']);
    if (!version.success || !name.success) break;
    const discovery = await call.kube.call({ method: 'GET', path: versionPath(version.data) });
    const resource = arr(obj(discovery.json)['resources']).map(obj).find((r) => r['kind'] === owner['kind'] && !String(r['name']).includes('/'));
    const link: Json = { apiVersion: version.data, kind: owner['kind'], name: name.data };
    chain.push(link);
    if (resource === undefined) break;
    const fetched = await call.kube.call({
      method: 'GET',
      path: resourcePath({ apiVersion: version.data, resource: String(resource['name']), namespace: resource['namespaced'] === true ? namespace : undefined, name: name.data }),
    });
    if (fetched.failure !== undefined) {
      link['refused'] = fetched.failure.message;
      break;
    }
    current = obj(fetched.json);
  }
  return chain;
}

export const describeResource = defineTool({
  name: 'describe_resource',
  title: 'Describe a resource',
  description:
    'Like kubectl describe: one object\'s metadata, spec and status, the events about it (newest first) and the chain of controllers that own it (e.g. Pod → ReplicaSet → Deployment). Start here when something is wrong with an object.',
  input: objectTarget,
  output: { object: CLUSTER_OBJECT, events: z.union([EVENTS, z.object({ refused: z.string() })]), owners: z.array(z.looseObject({ apiVersion: z.string().optional(), kind: z.unknown().optional(), name: z.string().optional(), refused: z.string().optional() })) },
  annotations: { ...READ, title: 'Describe a resource' },
  async run(call) {
    const { args, kube, expect } = call;
    const answer = expect(await kube.call({ method: 'GET', path: resourcePath(args) }));
    const object = withoutManagedFields(answer.json);
    const uid = str(obj(object['metadata'])['uid']);
    const selectorText = `involvedObject.name=${args.name}${uid === undefined ? '' : `,involvedObject.uid=${uid}`}`;
    const [events, owners] = await Promise.all([eventsFor(call, args.namespace, selectorText, 50), ownerChain(call, object, args.namespace)]);
    // Events are refused separately (a policy may allow the object and not its events): say so beside the object.
    const eventsPart = Array.isArray(events) ? events : { refused: events.failure?.message ?? 'refused' };
    return dataResult(`${args.resource} ${args.name}: object, events and owners.`, { object, events: eventsPart, owners });
  },
});

/** Log bounds: a model never needs more, and the pipeline and Lambda's 6 MB answer must not be flooded. */
export const MAX_LOG_LINES = 5000;
export const MAX_LOG_BYTES = 1024 * 1024;

export const podLogs = defineTool({
  name: 'pod_logs',
  title: 'Pod logs',
  description: `Reads the last lines of one container's log (at most ${MAX_LOG_LINES} lines and ${MAX_LOG_BYTES} bytes; defaults 100 lines, 64 KiB). previous=true reads the container's previous (crashed) run.`,
  input: {
    namespace: namespaceName,
    name: objectName.describe('Pod name.'),
    container: containerName.optional(),
    tailLines: z.number().int().min(1).max(MAX_LOG_LINES).default(100).describe(`Last lines to read (1-${MAX_LOG_LINES}).`),
    limitBytes: z.number().int().min(1).max(MAX_LOG_BYTES).default(65536).describe(`Most bytes to read (1-${MAX_LOG_BYTES}).`),
    previous: z.boolean().default(false),
    sinceSeconds: z.number().int().min(1).max(7 * 86400).optional().describe('Only lines newer than this many seconds.'),
  },
  output: { pod: z.string(), namespace: z.string(), container: z.string(), truncated: z.boolean(), log: z.string() },
  annotations: { ...READ, title: 'Pod logs' },
  async run({ args, kube, expect }) {
    const answer = expect(
      await kube.call({
        method: 'GET',
        path: resourcePath({ apiVersion: 'v1', resource: 'pods', namespace: args.namespace, name: args.name, subresource: 'log' }),
        query: { container: args.container, tailLines: args.tailLines, limitBytes: args.limitBytes, previous: args.previous ? true : undefined, sinceSeconds: args.sinceSeconds },
        maxBytes: args.limitBytes,
      }),
    );
    const lines = answer.text === '' ? 0 : answer.text.split('\n').filter((line) => line !== '').length;
    return dataResult(`${lines} log lines of pod ${args.name}${args.container === undefined ? '' : ` container ${args.container}`}${answer.truncated ? ' (cut at limitBytes)' : ''}.`, {
      pod: args.name,
      namespace: args.namespace,
      ...(args.container === undefined ? {} : { container: args.container }),
      truncated: answer.truncated,
      log: answer.text,
    });
  },
});

export const listEvents = defineTool({
  name: 'list_events',
  title: 'List events',
  description: 'Recent events, newest first: in one namespace or all, optionally only those about one object (objectName). Warnings explain most failures (scheduling, image pulls, probes).',
  input: {
    namespace: namespaceName.optional(),
    objectName: objectName.optional().describe('Only events about the object of this name.'),
    limit: z.number().int().min(1).max(500).default(100),
  },
  output: { events: EVENTS },
  annotations: { ...READ, title: 'List events' },
  async run(call) {
    const { args } = call;
    const events = await eventsFor(call, args.namespace, args.objectName === undefined ? undefined : `involvedObject.name=${args.objectName}`, args.limit);
    if (!Array.isArray(events)) return failureResult(events, args);
    return dataResult(`${events.length} events.`, { events });
  },
});

export const READ_TOOLS = [apiResources, listResources, getResource, describeResource, podLogs, listEvents];
