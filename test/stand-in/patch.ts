/**
 * The PATCH flavours the API server accepts: JSON merge patch (RFC 7386), JSON patch
 * (RFC 6902) and strategic merge patch. The strategic merge here is an approximation of
 * k8s.io/apimachinery/pkg/util/strategicpatch: maps merge, lists of the built-in types that
 * declare a patch merge key (containers by name, ports by containerPort/port, …) merge by
 * that key, other lists are replaced, and the directives kubectl apply sends
 * (`$patch`, `$setElementOrder/…`, `$deleteFromPrimitiveList/…`, `$retainKeys`) are honoured.
 */

export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
type JsonObject = { [key: string]: Json };

export class PatchError extends Error {}

function isObject(value: Json | undefined): value is JsonObject {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

export function mergePatch(target: Json, patch: Json): Json {
  if (!isObject(patch)) return patch;
  const result: JsonObject = isObject(target) ? { ...target } : {};
  for (const [key, value] of Object.entries(patch)) {
    if (value === null) delete result[key];
    else result[key] = mergePatch(result[key] ?? null, value);
  }
  return result;
}

/** Field name → merge key of lists of objects (the `patchMergeKey` tags of core/apps types). */
const MERGE_KEYS: Record<string, string | ((items: Json[]) => string)> = {
  containers: 'name',
  initContainers: 'name',
  ephemeralContainers: 'name',
  env: 'name',
  volumes: 'name',
  volumeMounts: 'mountPath',
  volumeDevices: 'devicePath',
  imagePullSecrets: 'name',
  hostAliases: 'ip',
  ownerReferences: 'uid',
  conditions: 'type',
  topologySpreadConstraints: 'topologyKey',
  ports: (items) => (items.some((i) => isObject(i) && 'containerPort' in i) ? 'containerPort' : 'port'),
};
/** Primitive lists with the `merge` strategy: patch values are added (set union). */
const MERGED_PRIMITIVE_LISTS = new Set(['finalizers']);

function mergeKeyFor(field: string, items: Json[]): string | undefined {
  const key = MERGE_KEYS[field];
  return typeof key === 'function' ? key(items) : key;
}

function sameKey(a: Json, b: Json, key: string): boolean {
  return isObject(a) && isObject(b) && JSON.stringify(a[key]) === JSON.stringify(b[key]);
}

function mergeList(field: string, original: Json[], patch: Json[]): Json[] {
  if (patch.some((p) => isObject(p) && p.$patch === 'replace')) {
    return patch.filter((p) => !(isObject(p) && p.$patch === 'replace'));
  }
  if (MERGED_PRIMITIVE_LISTS.has(field) && patch.every((p) => !isObject(p))) {
    return [...original, ...patch.filter((p) => !original.some((o) => JSON.stringify(o) === JSON.stringify(p)))];
  }
  const key = mergeKeyFor(field, [...original, ...patch]);
  if (key === undefined || !patch.every(isObject)) return patch;
  const result = [...original];
  for (const item of patch) {
    const index = result.findIndex((o) => sameKey(o, item, key));
    if (isObject(item) && item.$patch === 'delete') {
      if (index !== -1) result.splice(index, 1);
    } else if (index === -1) result.push(strategicMerge(null, item));
    else result[index] = strategicMerge(result[index] ?? null, item);
  }
  return result;
}

function orderBy(items: Json[], order: Json, field: string): Json[] {
  if (!Array.isArray(order)) return items;
  const key = mergeKeyFor(field, items);
  const position = (item: Json): number => {
    const i = order.findIndex((o) => (key === undefined || !isObject(o) ? JSON.stringify(o) === JSON.stringify(item) : sameKey(o, item, key)));
    return i === -1 ? order.length : i;
  };
  return [...items].sort((a, b) => position(a) - position(b));
}

export function strategicMerge(original: Json, patch: Json): Json {
  if (!isObject(patch)) return patch;
  if (patch.$patch === 'delete') return null;
  const { $patch, $retainKeys, ...fields } = patch;
  let result: JsonObject = $patch === 'replace' || !isObject(original) ? {} : { ...original };
  if (Array.isArray($retainKeys)) {
    result = Object.fromEntries(Object.entries(result).filter(([k]) => $retainKeys.includes(k)));
  }
  const orders: [string, Json][] = [];
  for (const [key, value] of Object.entries(fields)) {
    if (key.startsWith('$setElementOrder/')) {
      orders.push([key.slice('$setElementOrder/'.length), value]);
      continue;
    }
    if (key.startsWith('$deleteFromPrimitiveList/')) {
      const field = key.slice('$deleteFromPrimitiveList/'.length);
      const current = result[field];
      if (Array.isArray(current) && Array.isArray(value)) {
        result[field] = current.filter((c) => !value.some((v) => JSON.stringify(v) === JSON.stringify(c)));
      }
      continue;
    }
    if (value === null) {
      delete result[key];
      continue;
    }
    const current = result[key];
    if (Array.isArray(value)) result[key] = mergeList(key, Array.isArray(current) ? current : [], value);
    else if (isObject(value)) {
      const merged = strategicMerge(current ?? null, value);
      if (merged === null) delete result[key];
      else result[key] = merged;
    } else result[key] = value;
  }
  for (const [field, order] of orders) {
    const current = result[field];
    if (Array.isArray(current)) result[field] = orderBy(current, order, field);
  }
  return result;
}

function unescapePointer(token: string): string {
  return token.replace(/~1/g, '/').replace(/~0/g, '~');
}

function parsePointer(path: string): string[] {
  if (path === '') return [];
  if (!path.startsWith('/')) throw new PatchError(`invalid JSON pointer "${path}"`);
  return path.slice(1).split('/').map(unescapePointer);
}

function getAt(doc: Json, tokens: string[], path: string): Json {
  let current: Json = doc;
  for (const token of tokens) {
    if (Array.isArray(current)) current = current[Number(token)] ?? throwMissing(path);
    else if (isObject(current) && token in current) current = current[token] ?? null;
    else throwMissing(path);
  }
  return current;
}

function throwMissing(path: string): never {
  throw new PatchError(`doc is missing path: "${path}": missing value`);
}

function parentOf(doc: Json, tokens: string[], path: string): { parent: Json; last: string } {
  const last = tokens[tokens.length - 1];
  if (last === undefined) throw new PatchError(`cannot operate on the document root at "${path}"`);
  return { parent: getAt(doc, tokens.slice(0, -1), path), last };
}

function addAt(doc: Json, path: string, value: Json): Json {
  const tokens = parsePointer(path);
  if (tokens.length === 0) return value;
  const { parent, last } = parentOf(doc, tokens, path);
  if (Array.isArray(parent)) {
    const index = last === '-' ? parent.length : Number(last);
    if (!Number.isInteger(index) || index < 0 || index > parent.length) throw new PatchError(`add operation index out of bounds at "${path}"`);
    parent.splice(index, 0, value);
  } else if (isObject(parent)) parent[last] = value;
  else throwMissing(path);
  return doc;
}

function removeAt(doc: Json, path: string): Json {
  const tokens = parsePointer(path);
  const { parent, last } = parentOf(doc, tokens, path);
  if (Array.isArray(parent)) {
    const index = Number(last);
    if (!Number.isInteger(index) || index < 0 || index >= parent.length) throwMissing(path);
    parent.splice(index, 1);
  } else if (isObject(parent) && last in parent) delete parent[last];
  else throw new PatchError(`unable to remove nonexistent key: ${last}: missing value`);
  return doc;
}

interface JsonPatchOperation {
  op: string;
  path: string;
  from?: string;
  value?: Json;
}

export function jsonPatch(document: Json, operations: Json): Json {
  if (!Array.isArray(operations)) throw new PatchError('json: cannot unmarshal object into Go value of type jsonpatch.Patch');
  let doc = structuredClone(document);
  for (const raw of operations) {
    if (!isObject(raw) || typeof raw.op !== 'string' || typeof raw.path !== 'string') throw new PatchError('invalid JSON patch operation');
    const op = raw as unknown as JsonPatchOperation;
    switch (op.op) {
      case 'add':
        doc = addAt(doc, op.path, structuredClone(op.value ?? null));
        break;
      case 'remove':
        doc = removeAt(doc, op.path);
        break;
      case 'replace':
        getAt(doc, parsePointer(op.path), op.path);
        doc = removeAt(doc, op.path);
        doc = addAt(doc, op.path, structuredClone(op.value ?? null));
        break;
      case 'move': {
        const value = getAt(doc, parsePointer(op.from ?? ''), op.from ?? '');
        doc = removeAt(doc, op.from ?? '');
        doc = addAt(doc, op.path, value);
        break;
      }
      case 'copy':
        doc = addAt(doc, op.path, structuredClone(getAt(doc, parsePointer(op.from ?? ''), op.from ?? '')));
        break;
      case 'test':
        if (JSON.stringify(getAt(doc, parsePointer(op.path), op.path)) !== JSON.stringify(op.value ?? null)) {
          throw new PatchError(`testing value ${op.path} failed: test failed`);
        }
        break;
      default:
        throw new PatchError(`Unexpected kind: ${op.op}`);
    }
  }
  return doc;
}
