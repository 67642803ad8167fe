/**
 * The tools that change things: server-side apply, patch, scale, rollout restart and status,
 * delete. Each is one write (plus a discovery read for apply) through the pipeline, so policy,
 * approvals, the record of intent and restore of masked values apply as to kubectl's writes.
 * Every write takes dryRun; a held write answers "pending approval" (tool-results.ts).
 */
import * as z from 'zod';
import { defineTool } from './tool-kit.ts';
import { apiVersion, dryRun, namespaceName, objectName, objectTarget, resourcePath, versionPath } from './fields.ts';
import { arr, obj, type Json } from './json-shape.ts';
import { DRY_RUN, JSON_OBJECT, WRITTEN } from './output-fields.ts';
import { argumentProblem, dataResult } from './tool-results.ts';


/** The field manager Gatehouse's apply and patches are recorded under in the object's managedFields. */
export const FIELD_MANAGER = 'gatehouse-mcp';
const WRITE = { readOnlyHint: false, destructiveHint: false, openWorldHint: false } as const;
const dryRunQuery = (on: boolean): string | undefined => (on ? 'All' : undefined);

/** The object as the API server answered a write: identity and status, not the whole object. */
function written(json: unknown): Json {
  const o = obj(json);
  const metadata = obj(o['metadata']);
  return { kind: o['kind'], name: metadata['name'], namespace: metadata['namespace'], resourceVersion: metadata['resourceVersion'], generation: metadata['generation'] };
}

export const applyManifest = defineTool({
  name: 'apply_manifest',
  title: 'Apply a manifest',
  description:
    `Server-side apply of ONE object given as a JSON manifest (apiVersion, kind, metadata.name, and metadata.namespace for namespaced kinds): creates it or updates the fields it lists, as field manager "${FIELD_MANAGER}". Use dryRun=true first to see what the API server would make of it. force=true takes over fields another manager owns.`,
  input: {
    manifest: z.record(z.string(), z.unknown()).describe('The object as JSON, e.g. {"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"x","namespace":"default"},"data":{"k":"v"}}.'),
    dryRun,
    force: z.boolean().default(false),
  },
  output: { dryRun: DRY_RUN, object: WRITTEN },
  annotations: { ...WRITE, idempotentHint: true, title: 'Apply a manifest' },
  async run({ args, kube, expect }) {
    const manifest = args.manifest;
    const metadata = obj(manifest['metadata']);
    const version = apiVersion.safeParse(manifest['apiVersion']);
    if (!version.success) return argumentProblem('manifest.apiVersion must be "v1" or "group/version", e.g. "apps/v1"');
    if (typeof manifest['kind'] !== 'string' || manifest['kind'] === '') return argumentProblem('manifest.kind must name the kind, e.g. "Deployment"');
    const name = objectName.safeParse(metadata['name']);
    if (!name.success) return argumentProblem(`manifest.metadata.name ${name.error.issues[0]?.message ?? 'is required'}`);
    const discovery = expect(await kube.call({ method: 'GET', path: versionPath(version.data) }));
    const resource = arr(obj(discovery.json)['resources']).map(obj).find((r) => r['kind'] === manifest['kind'] && !String(r['name']).includes('/'));
    if (resource === undefined) return argumentProblem(`${version.data} serves no kind "${String(manifest['kind'])}" (api_resources with apiVersion "${version.data}" lists its kinds)`);
    let namespace: string | undefined;
    if (resource['namespaced'] === true) {
      const parsed = namespaceName.safeParse(metadata['namespace']);
      if (!parsed.success) return argumentProblem(`${String(manifest['kind'])} is namespaced: set manifest.metadata.namespace`);
      namespace = parsed.data;
    }
    const answer = expect(
      await kube.call({
        method: 'PATCH',
        path: resourcePath({ apiVersion: version.data, resource: String(resource['name']), namespace, name: name.data }),
        query: { fieldManager: FIELD_MANAGER, force: args.force ? true : undefined, dryRun: dryRunQuery(args.dryRun) },
        body: manifest,
        contentType: 'application/apply-patch+yaml',
      }),
    );
    return dataResult(`${args.dryRun ? 'Dry run: would apply' : 'Applied'} ${String(manifest['kind'])} ${name.data}.`, { dryRun: args.dryRun, object: written(answer.json) });
  },
});

const PATCH_TYPES = { merge: 'application/merge-patch+json', strategic: 'application/strategic-merge-patch+json', json: 'application/json-patch+json' } as const;

export const patchResource = defineTool({
  name: 'patch_resource',
  title: 'Patch a resource',
  description:
    'Changes fields of one existing object. patchType "merge" (JSON merge patch: an object of the fields to set, null removes), "strategic" (Kubernetes strategic merge, merges lists by key) or "json" (RFC 6902 list of operations).',
  input: {
    ...objectTarget,
    patchType: z.enum(['merge', 'strategic', 'json']).default('merge'),
    patch: z.union([z.record(z.string(), z.unknown()), z.array(z.record(z.string(), z.unknown()))]).describe('The patch document as JSON.'),
    dryRun,
  },
  output: { dryRun: DRY_RUN, object: WRITTEN },
  annotations: { ...WRITE, idempotentHint: false, title: 'Patch a resource' },
  async run({ args, kube, expect }) {
    if ((args.patchType === 'json') !== Array.isArray(args.patch)) {
      return argumentProblem(args.patchType === 'json' ? 'a "json" patch is a list of operations, e.g. [{"op":"replace","path":"/spec/replicas","value":2}]' : `a "${args.patchType}" patch is an object of fields, not a list`);
    }
    const answer = expect(
      await kube.call({ method: 'PATCH', path: resourcePath(args), query: { fieldManager: FIELD_MANAGER, dryRun: dryRunQuery(args.dryRun) }, body: args.patch, contentType: PATCH_TYPES[args.patchType] }),
    );
    return dataResult(`${args.dryRun ? 'Dry run: would patch' : 'Patched'} ${args.resource} ${args.name}.`, { dryRun: args.dryRun, object: written(answer.json) });
  },
});

const workload = z.enum(['deployments', 'statefulsets', 'replicasets']);

export const scale = defineTool({
  name: 'scale',
  title: 'Scale a workload',
  description: 'Sets the replica count of a Deployment, StatefulSet or ReplicaSet (apps/v1) through its scale subresource.',
  input: {
    resource: workload.default('deployments'),
    namespace: namespaceName,
    name: objectName,
    replicas: z.number().int().min(0).max(10000),
    dryRun,
  },
  output: { dryRun: DRY_RUN, replicas: z.unknown() },
  annotations: { ...WRITE, idempotentHint: true, title: 'Scale a workload' },
  async run({ args, kube, expect }) {
    const answer = expect(
      await kube.call({
        method: 'PATCH',
        path: resourcePath({ apiVersion: 'apps/v1', resource: args.resource, namespace: args.namespace, name: args.name, subresource: 'scale' }),
        query: { fieldManager: FIELD_MANAGER, dryRun: dryRunQuery(args.dryRun) },
        body: { spec: { replicas: args.replicas } },
        contentType: PATCH_TYPES.merge,
      }),
    );
    const spec = obj(obj(answer.json)['spec']);
    return dataResult(`${args.dryRun ? 'Dry run: would scale' : 'Scaled'} ${args.resource} ${args.name} to ${String(spec['replicas'] ?? args.replicas)} replicas.`, {
      dryRun: args.dryRun,
      replicas: spec['replicas'] ?? args.replicas,
    });
  },
});

const rolloutTarget = { resource: z.enum(['deployments', 'statefulsets', 'daemonsets']).default('deployments'), namespace: namespaceName, name: objectName };

export const rolloutRestart = defineTool({
  name: 'rollout_restart',
  title: 'Restart a rollout',
  description:
    'Restarts every pod of a Deployment, StatefulSet or DaemonSet the way kubectl rollout restart does (a new kubectl.kubernetes.io/restartedAt annotation on the pod template). If it is held for approval, call it again with the same restartedAt.',
  input: {
    ...rolloutTarget,
    restartedAt: z.iso.datetime().optional().describe('The restart time to write (ISO 8601); default now. Resend the same value after an approval.'),
    dryRun,
  },
  output: { dryRun: DRY_RUN, restartedAt: z.string(), object: WRITTEN },
  annotations: { ...WRITE, idempotentHint: false, title: 'Restart a rollout' },
  async run({ args, kube, expect, now }) {
    // Kept in the arguments: a run after an approval, and the retry arguments, send the same body (the grant binds it).
    const restartedAt = (args.restartedAt ??= new Date(now()).toISOString());
    const answer = expect(
      await kube.call({
        method: 'PATCH',
        path: resourcePath({ apiVersion: 'apps/v1', resource: args.resource, namespace: args.namespace, name: args.name }),
        query: { fieldManager: FIELD_MANAGER, dryRun: dryRunQuery(args.dryRun) },
        body: { spec: { template: { metadata: { annotations: { 'kubectl.kubernetes.io/restartedAt': restartedAt } } } } },
        contentType: PATCH_TYPES.strategic,
      }),
    );
    return dataResult(`${args.dryRun ? 'Dry run: would restart' : 'Restarted'} ${args.resource} ${args.name} (restartedAt ${restartedAt}); follow it with rollout_status.`, {
      dryRun: args.dryRun,
      restartedAt,
      object: written(answer.json),
    });
  },
});

/** kubectl rollout status's reading of a workload's status (pkg/polymorphichelpers/rollout_status.go), in one answer. */
function rolloutState(resource: string, object: Json): { done: boolean; message: string } {
  const metadata = obj(object['metadata']);
  const spec = obj(object['spec']);
  const status = obj(object['status']);
  const n = (value: unknown): number => (typeof value === 'number' ? value : 0);
  if (n(status['observedGeneration']) < n(metadata['generation'])) return { done: false, message: 'waiting for the controller to see the latest change' };
  if (resource === 'daemonsets') {
    const desired = n(status['desiredNumberScheduled']);
    if (n(status['updatedNumberScheduled']) < desired) return { done: false, message: `${n(status['updatedNumberScheduled'])} of ${desired} pods updated` };
    if (n(status['numberAvailable']) < desired) return { done: false, message: `${n(status['numberAvailable'])} of ${desired} updated pods available` };
    return { done: true, message: `rolled out: ${desired} pods` };
  }
  const desired = typeof spec['replicas'] === 'number' ? spec['replicas'] : 1;
  const updated = n(status['updatedReplicas']);
  if (updated < desired) return { done: false, message: `${updated} of ${desired} new replicas updated` };
  if (resource === 'deployments' && n(status['replicas']) > updated) return { done: false, message: `${n(status['replicas']) - updated} old replicas pending termination` };
  const available = n(resource === 'statefulsets' ? status['readyReplicas'] : status['availableReplicas']);
  if (available < updated) return { done: false, message: `${available} of ${updated} updated replicas available` };
  return { done: true, message: `rolled out: ${updated} replicas` };
}

export const rolloutStatus = defineTool({
  name: 'rollout_status',
  title: 'Rollout status',
  description: 'Says whether the latest rollout of a Deployment, StatefulSet or DaemonSet is complete, like kubectl rollout status (one reading, no waiting). Call again to follow it.',
  input: rolloutTarget,
  output: { done: z.boolean(), message: z.string(), workloadStatus: JSON_OBJECT },
  annotations: { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: false, title: 'Rollout status' },
  async run({ args, kube, expect }) {
    const answer = expect(await kube.call({ method: 'GET', path: resourcePath({ apiVersion: 'apps/v1', resource: args.resource, namespace: args.namespace, name: args.name }) }));
    const state = rolloutState(args.resource, obj(answer.json));
    return dataResult(`${args.resource} ${args.name}: ${state.message}.`, { done: state.done, message: state.message, workloadStatus: obj(obj(answer.json)['status']) });
  },
});

export const deleteResource = defineTool({
  name: 'delete_resource',
  title: 'Delete a resource',
  description: 'Deletes ONE object by name (never a collection). dryRun=true shows whether it would be allowed. propagationPolicy decides what happens to objects it owns (default: the API server\'s, background).',
  input: {
    ...objectTarget,
    dryRun,
    propagationPolicy: z.enum(['Background', 'Foreground', 'Orphan']).optional(),
  },
  output: { dryRun: DRY_RUN, deleted: z.object({ resource: z.string(), name: z.string(), namespace: z.string().nullable() }) },
  annotations: { readOnlyHint: false, destructiveHint: true, idempotentHint: true, openWorldHint: false, title: 'Delete a resource' },
  async run({ args, kube, expect }) {
    expect(await kube.call({ method: 'DELETE', path: resourcePath(args), query: { dryRun: dryRunQuery(args.dryRun), propagationPolicy: args.propagationPolicy } }));
    return dataResult(`${args.dryRun ? 'Dry run: would delete' : 'Deleted'} ${args.resource} ${args.name}${args.namespace === undefined ? '' : ` in ${args.namespace}`}.`, {
      dryRun: args.dryRun,
      deleted: { resource: args.resource, name: args.name, namespace: args.namespace ?? null },
    });
  },
});

export const WRITE_TOOLS = [applyManifest, patchResource, scale, rolloutRestart, rolloutStatus, deleteResource];
