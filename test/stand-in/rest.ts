/**
 * The REST verbs on stored objects — get, list, create, update, patch, delete,
 * deletecollection — with the API server's checks and answers: AlreadyExists, NotFound,
 * Conflict on a stale resourceVersion, name/namespace mismatches, dryRun, graceful
 * deletion (namespaces and scheduled pods go Terminating, then away), list paging.
 */
import { parse as parseYaml } from 'yaml';
import { apiVersionOf, resolveResource, type ResourceType } from './catalogue.ts';
import { sendJson, type Exchange } from './exchange.ts';
import { jsonPatch, mergePatch, PatchError, strategicMerge, type Json } from './patch.ts';
import { objectFilter, renderObjects, representation, sendRendered } from './render.ts';
import { alreadyExists, ApiError, badRequest, conflict, invalid, methodNotAllowed, notFound } from './status.ts';
import type { KubeObject } from './store.ts';

const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

function parseBody(x: Exchange): unknown {
  if (x.body.trim() === '') throw badRequest('the body of the request was in an unknown format - accepted media types include: application/json, application/yaml, application/vnd.kubernetes.protobuf');
  try {
    return parseYaml(x.body) as unknown;
  } catch (error) {
    throw badRequest(`the body of the request was in an unknown format: ${(error as Error).message}`);
  }
}

function asObject(value: unknown): KubeObject {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) throw badRequest('the body of the request was not a JSON object');
  const object = value as KubeObject;
  if (object.metadata === undefined || object.metadata === null || typeof object.metadata !== 'object') object.metadata = {};
  return object;
}

function checkKind(x: Exchange, object: KubeObject): void {
  const expected = apiVersionOf(x.type);
  if (object.apiVersion !== undefined && object.apiVersion !== expected) {
    throw badRequest(`the API version in the data (${object.apiVersion}) does not match the expected API version (${expected})`);
  }
  if (object.kind !== undefined && object.kind !== x.type.kind) {
    throw badRequest(`the kind in the data (${object.kind}) does not match the expected kind (${x.type.kind})`);
  }
}

function checkNamespace(x: Exchange, object: KubeObject): void {
  if (!x.type.namespaced) return;
  if (object.metadata.namespace === undefined || object.metadata.namespace === '') object.metadata.namespace = x.attrs.namespace;
  else if (object.metadata.namespace !== x.attrs.namespace) {
    throw badRequest('the namespace of the provided object does not match the namespace sent on the request');
  }
}

function validateName(type: ResourceType, name: string): void {
  if (name.length > 253 || !DNS_SUBDOMAIN.test(name)) {
    throw invalid(type.kind, type.group, name, [
      {
        field: 'metadata.name',
        message: `Invalid value: "${name}": a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')`,
      },
    ]);
  }
}

/** Defaults a real cluster's admission and controllers would leave on a new object. */
function applyDefaults(type: ResourceType, object: KubeObject, serial: string): void {
  const key = `${type.group}/${type.resource}`;
  if (key === '/namespaces') {
    object.spec ??= { finalizers: ['kubernetes'] };
    object.status = { phase: 'Active' };
  } else if (key === '/pods') {
    object.status ??= { phase: 'Pending', qosClass: 'BestEffort' };
  } else if (key === '/secrets') {
    object.type ??= 'Opaque';
  } else if (key === '/services') {
    const spec = (object.spec ??= {}) as Record<string, unknown>;
    spec.type ??= 'ClusterIP';
    if (spec.type !== 'ExternalName') spec.clusterIP ??= `10.96.${Math.floor(Number(serial) / 250) % 250}.${(Number(serial) % 250) + 1}`;
  } else if (key === 'apps/deployments' || key === 'apps/replicasets') {
    const spec = (object.spec ??= {}) as Record<string, unknown>;
    spec.replicas ??= 1;
  }
}

function dryRun(x: Exchange): boolean {
  return x.query.getAll('dryRun').includes('All');
}

function namespaceReady(x: Exchange, name: string): void {
  if (!x.type.namespaced) return;
  const ns = x.store.read(resolveResource('namespaces'), '', x.attrs.namespace);
  if (ns === undefined) throw notFound({ group: '', resource: 'namespaces' }, x.attrs.namespace);
  if (ns.metadata.deletionTimestamp !== undefined) {
    throw new ApiError(
      403,
      'Forbidden',
      `${x.type.resource} "${name}" is forbidden: unable to create new content in namespace ${x.attrs.namespace} because it is being terminated`,
      {
        name,
        kind: x.type.resource,
        causes: [{ reason: 'NamespaceTerminating', message: `namespace ${x.attrs.namespace} is being terminated`, field: 'metadata.namespace' }],
      },
    );
  }
}

function store(x: Exchange, object: KubeObject): KubeObject {
  if (!dryRun(x)) return x.store.write(x.type, object);
  const now = x.store.now();
  return { ...object, metadata: { ...object.metadata, uid: object.metadata.uid ?? crypto.randomUUID(), creationTimestamp: object.metadata.creationTimestamp ?? now } };
}

function existing(x: Exchange): KubeObject {
  const found = x.store.read(x.type, x.attrs.namespace, x.attrs.name);
  if (found === undefined) throw notFound(x.type, x.attrs.name);
  return found;
}

export function handleGet(x: Exchange): void {
  const object = existing(x);
  if (x.attrs.subresource === 'scale') {
    sendJson(x.res, 200, scaleOf(object));
    return;
  }
  const rep = representation(x);
  sendRendered(x, rep, renderObjects(x, rep, [object], undefined));
}

/** A merge patch of the scale subresource (`kubectl scale`, the MCP scale tool): sets the workload's spec.replicas, answers the Scale. */
function patchScale(x: Exchange): void {
  const contentType = (x.req.headers['content-type'] ?? '').split(';')[0]?.trim() ?? '';
  if (contentType !== 'application/merge-patch+json' && contentType !== 'application/strategic-merge-patch+json') {
    throw new ApiError(415, 'UnsupportedMediaType', `the body of the request was in an unknown format - accepted media types include: application/merge-patch+json, application/strategic-merge-patch+json`);
  }
  const current = existing(x);
  const replicas = (asObject(parseBody(x)) as { spec?: { replicas?: unknown } }).spec?.replicas;
  if (typeof replicas !== 'number' || !Number.isInteger(replicas) || replicas < 0) {
    throw invalid('Scale', 'autoscaling', x.attrs.name, [{ field: 'spec.replicas', message: `Invalid value: ${JSON.stringify(replicas)}: must be greater than or equal to 0` }]);
  }
  const next: KubeObject = { ...current, spec: { ...(current.spec as Record<string, unknown>), replicas } };
  sendJson(x.res, 200, scaleOf(store(x, next)));
}

function scaleOf(object: KubeObject): unknown {
  const spec = (object.spec ?? {}) as { replicas?: number; selector?: { matchLabels?: Record<string, string> } };
  const status = (object.status ?? {}) as { replicas?: number };
  const selector = Object.entries(spec.selector?.matchLabels ?? {})
    .map(([k, v]) => `${k}=${v}`)
    .join(',');
  return {
    kind: 'Scale',
    apiVersion: 'autoscaling/v1',
    metadata: { name: object.metadata.name, namespace: object.metadata.namespace, uid: object.metadata.uid, resourceVersion: object.metadata.resourceVersion, creationTimestamp: object.metadata.creationTimestamp },
    spec: { replicas: spec.replicas ?? 1 },
    status: { replicas: status.replicas ?? 0, selector },
  };
}

interface ContinueToken {
  rv: string;
  start: string;
}

export function handleList(x: Exchange): void {
  const rep = representation(x);
  const matches = objectFilter(x);
  let objects = x.store.listOf(x.type, x.type.namespaced ? x.attrs.namespace : '').filter(matches);
  let resourceVersion = x.store.resourceVersion();
  const token = x.query.get('continue');
  if (token !== null && token !== '') {
    let parsed: ContinueToken;
    try {
      parsed = JSON.parse(Buffer.from(token, 'base64url').toString('utf8')) as ContinueToken;
    } catch {
      throw badRequest('continue key is not valid: illegal base64 data');
    }
    resourceVersion = parsed.rv;
    objects = objects.filter((o) => `${o.metadata.namespace ?? ''}/${o.metadata.name ?? ''}` > parsed.start);
  }
  const limit = Number(x.query.get('limit') ?? '0');
  const listMeta: Record<string, unknown> = { resourceVersion };
  if (limit > 0 && objects.length > limit) {
    const last = objects[limit - 1];
    listMeta.continue = Buffer.from(JSON.stringify({ rv: resourceVersion, start: `${last?.metadata.namespace ?? ''}/${last?.metadata.name ?? ''}` })).toString('base64url');
    listMeta.remainingItemCount = objects.length - limit;
    objects = objects.slice(0, limit);
  }
  sendRendered(x, rep, renderObjects(x, rep, objects, listMeta));
}

export function handleCreate(x: Exchange): void {
  if (x.attrs.subresource !== '') throw methodNotAllowed();
  const object = asObject(parseBody(x));
  checkKind(x, object);
  checkNamespace(x, object);
  const meta = object.metadata;
  if ((meta.name === undefined || meta.name === '') && typeof meta.generateName === 'string' && meta.generateName !== '') {
    meta.name = `${meta.generateName}${Math.random().toString(36).slice(2, 7)}`;
  }
  if (meta.name === undefined || meta.name === '') {
    throw invalid(x.type.kind, x.type.group, '', [{ field: 'metadata.name', message: 'Required value: name or generateName is required' }]);
  }
  validateName(x.type, meta.name);
  namespaceReady(x, meta.name);
  if (x.store.read(x.type, x.attrs.namespace, meta.name) !== undefined) throw alreadyExists(x.type, meta.name);
  for (const field of ['uid', 'resourceVersion', 'creationTimestamp', 'deletionTimestamp', 'generation'] as const) delete meta[field];
  applyDefaults(x.type, object, x.store.resourceVersion());
  sendJson(x.res, 201, store(x, object));
}

/** A write to the main resource keeps the stored status; a write to /status keeps everything else. */
function mergeStatusRules(x: Exchange, current: KubeObject, next: KubeObject): KubeObject {
  const hasStatus = x.type.subresources.some((s) => s.name === 'status');
  if (x.attrs.subresource === 'status') return { ...current, status: next.status, metadata: { ...current.metadata, ...pickMutableMeta(next) } };
  if (hasStatus && x.type.resource !== 'namespaces') {
    const merged = { ...next };
    if (current.status === undefined) delete merged.status;
    else merged.status = current.status;
    return merged;
  }
  return next;
}

function pickMutableMeta(next: KubeObject): Partial<KubeObject['metadata']> {
  const { labels, annotations } = next.metadata;
  return { ...(labels !== undefined ? { labels } : {}), ...(annotations !== undefined ? { annotations } : {}) };
}

/** The checks every write to an existing object shares, then the write itself. */
function commitUpdate(x: Exchange, current: KubeObject, next: KubeObject, status: number): void {
  if (next.metadata.name !== undefined && next.metadata.name !== x.attrs.name) {
    throw badRequest(`the name of the object (${String(next.metadata.name)}) does not match the name on the URL (${x.attrs.name})`);
  }
  checkNamespace(x, next);
  const rv = next.metadata.resourceVersion;
  if (rv !== undefined && rv !== '' && rv !== current.metadata.resourceVersion) throw conflict(x.type, x.attrs.name);
  const merged = mergeStatusRules(x, current, next);
  merged.metadata = {
    ...merged.metadata,
    name: x.attrs.name,
    uid: current.metadata.uid,
    creationTimestamp: current.metadata.creationTimestamp,
    ...(current.metadata.deletionTimestamp !== undefined ? { deletionTimestamp: current.metadata.deletionTimestamp } : {}),
  };
  if (!x.type.namespaced) delete merged.metadata.namespace;
  sendJson(x.res, status, store(x, merged));
}

export function handleUpdate(x: Exchange): void {
  if (x.attrs.subresource !== '' && x.attrs.subresource !== 'status') throw methodNotAllowed();
  const next = asObject(parseBody(x));
  checkKind(x, next);
  commitUpdate(x, existing(x), next, 200);
}

export function handlePatch(x: Exchange): void {
  if (x.attrs.subresource === 'scale') {
    patchScale(x);
    return;
  }
  if (x.attrs.subresource !== '' && x.attrs.subresource !== 'status') throw methodNotAllowed();
  const contentType = (x.req.headers['content-type'] ?? '').split(';')[0]?.trim() ?? '';
  const current = x.store.read(x.type, x.attrs.namespace, x.attrs.name);
  if (contentType === 'application/apply-patch+yaml') {
    applyPatch(x, current);
    return;
  }
  if (current === undefined) throw notFound(x.type, x.attrs.name);
  const body = parseBody(x) as Json;
  let patched: Json;
  try {
    if (contentType === 'application/merge-patch+json') patched = mergePatch(current as unknown as Json, body);
    else if (contentType === 'application/strategic-merge-patch+json') patched = strategicMerge(current as unknown as Json, body);
    else if (contentType === 'application/json-patch+json') patched = jsonPatch(current as unknown as Json, body);
    else {
      throw new ApiError(415, 'UnsupportedMediaType', `the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml, application/strategic-merge-patch+json`);
    }
  } catch (error) {
    if (error instanceof PatchError) throw new ApiError(422, 'Invalid', error.message);
    throw error;
  }
  const next = asObject(patched);
  if (next.metadata.resourceVersion === current.metadata.resourceVersion) delete next.metadata.resourceVersion;
  commitUpdate(x, current, next, 200);
}

/** Server-side apply, approximated: create when missing, else a strategic merge of the applied configuration. */
function applyPatch(x: Exchange, current: KubeObject | undefined): void {
  if ((x.query.get('fieldManager') ?? '') === '') {
    throw invalid('PatchOptions', 'meta.k8s.io', '', [{ field: 'fieldManager', message: 'Required value: is required for apply patch' }]);
  }
  const applied = asObject(parseBody(x));
  checkKind(x, applied);
  if (current === undefined) {
    applied.metadata.name ??= x.attrs.name;
    validateName(x.type, x.attrs.name);
    checkNamespace(x, applied);
    namespaceReady(x, x.attrs.name);
    applyDefaults(x.type, applied, x.store.resourceVersion());
    sendJson(x.res, 201, store(x, applied));
    return;
  }
  const next = asObject(strategicMerge(current as unknown as Json, applied as unknown as Json));
  commitUpdate(x, current, next, 200);
}

interface DeleteOptions {
  gracePeriodSeconds?: number;
  preconditions?: { uid?: string; resourceVersion?: string };
  propagationPolicy?: string;
  dryRun?: string[];
}

function deleteOptions(x: Exchange): DeleteOptions {
  const fromBody = x.body.trim() === '' ? {} : (parseBody(x) as DeleteOptions);
  const grace = x.query.get('gracePeriodSeconds');
  return { ...fromBody, ...(grace !== null ? { gracePeriodSeconds: Number(grace) } : {}) };
}

function successStatus(x: Exchange, object: KubeObject): unknown {
  return {
    kind: 'Status',
    apiVersion: 'v1',
    metadata: {},
    status: 'Success',
    details: { name: object.metadata.name, ...(x.type.group !== '' ? { group: x.type.group } : {}), kind: x.type.resource, uid: object.metadata.uid },
  };
}

/**
 * Deletes one object. Namespaces, objects with finalizers and pods bound to a node go
 * Terminating first (answered with the object); the "kubelet"/"namespace controller"
 * finishes right after. Others go at once (answered with a Success Status).
 */
function deleteOne(x: Exchange, object: KubeObject, options: DeleteOptions): { status: number; body: unknown } {
  const name = object.metadata.name ?? '';
  const pre = options.preconditions;
  if (pre?.uid !== undefined && pre.uid !== object.metadata.uid) {
    throw new ApiError(409, 'Conflict', `Precondition failed: UID in precondition: ${pre.uid}, UID in object meta: ${object.metadata.uid ?? ''}`);
  }
  if (pre?.resourceVersion !== undefined && pre.resourceVersion !== object.metadata.resourceVersion) {
    throw new ApiError(409, 'Conflict', `Precondition failed: ResourceVersion in precondition: ${pre.resourceVersion}, ResourceVersion in object meta: ${object.metadata.resourceVersion ?? ''}`);
  }
  if (dryRun(x) || (options.dryRun ?? []).includes('All')) return { status: 200, body: object };
  const isNamespace = x.type.group === '' && x.type.resource === 'namespaces';
  const finalizers = object.metadata.finalizers ?? [];
  const scheduledPod = x.type.group === '' && x.type.resource === 'pods' && typeof (object.spec as { nodeName?: unknown } | undefined)?.nodeName === 'string' && options.gracePeriodSeconds !== 0;
  if (isNamespace || finalizers.length > 0 || scheduledPod) {
    if (object.metadata.deletionTimestamp !== undefined) return { status: 200, body: object };
    const terminating = structuredClone(object);
    terminating.metadata.deletionTimestamp = x.store.now();
    if (isNamespace) terminating.status = { ...(terminating.status as object | undefined), phase: 'Terminating' };
    if (scheduledPod) terminating.metadata.deletionGracePeriodSeconds = options.gracePeriodSeconds ?? 30;
    const stored = x.store.write(x.type, terminating);
    if (finalizers.length === 0) setImmediate(() => x.store.erase(x.type, object.metadata.namespace ?? '', name));
    return { status: 200, body: stored };
  }
  const gone = x.store.erase(x.type, object.metadata.namespace ?? '', name) ?? object;
  return { status: 200, body: successStatus(x, gone) };
}

export function handleDelete(x: Exchange): void {
  if (x.attrs.subresource !== '') throw methodNotAllowed();
  const result = deleteOne(x, existing(x), deleteOptions(x));
  sendJson(x.res, result.status, result.body);
}

export function handleDeleteCollection(x: Exchange): void {
  if (!x.type.verbs.includes('deletecollection')) throw methodNotAllowed();
  const options = deleteOptions(x);
  const matches = objectFilter(x);
  const objects = x.store.listOf(x.type, x.type.namespaced ? x.attrs.namespace : '').filter(matches);
  for (const object of objects) deleteOne(x, object, options);
  const items = objects.map(({ apiVersion: _a, kind: _k, ...rest }) => rest);
  sendJson(x.res, 200, { kind: x.type.listKind, apiVersion: apiVersionOf(x.type), metadata: { resourceVersion: x.store.resourceVersion() }, items });
}

