/**
 * JSON Pointers (RFC 6901) and JSON Patch operations (RFC 6902), as much as Gatehouse needs
 * to follow a client's JSON Patch over a copy of the live object: which value stands at an
 * operation's path when that operation runs. Pure; documents are changed in place.
 */
import { isJsonObject } from '../json-object.ts';

/** "/a~1b/c" → ["a/b", "c"]; "" → []. Lenient: a pointer without its leading "/" reads as if it had one. */
export function pointerSegments(pointer: string): string[] {
  if (pointer === '') return [];
  return pointer
    .split('/')
    .slice(1)
    .map((segment) => segment.replace(/~1/g, '/').replace(/~0/g, '~'));
}

/** An array index segment: digits without a leading zero (RFC 6901), or undefined. */
function arrayIndex(segment: string): number | undefined {
  return /^(0|[1-9][0-9]*)$/.test(segment) ? Number(segment) : undefined;
}

/** The value at `segments` in `document`, or undefined when there is none. */
export function valueAt(document: unknown, segments: readonly string[]): unknown {
  let node = document;
  for (const segment of segments) {
    if (Array.isArray(node)) {
      const index = arrayIndex(segment);
      node = index === undefined ? undefined : node[index];
    } else if (isJsonObject(node)) {
      node = Object.hasOwn(node, segment) ? node[segment] : undefined;
    } else {
      return undefined;
    }
    if (node === undefined) return undefined;
  }
  return node;
}

/** True when `segments` names a new element of an array (`-`, or an index of an `add`): no value stands there yet. */
export function insertsIntoArray(document: unknown, segments: readonly string[], op: string): boolean {
  if (segments.length === 0 || op !== 'add') return false;
  return Array.isArray(valueAt(document, segments.slice(0, -1)));
}

export interface PatchOperation {
  op: string;
  path: string;
  from?: string;
  value?: unknown;
}

/** Applies one JSON Patch operation to `document` in place; the new root, or undefined when it does not apply. */
export function applyOperation(document: unknown, operation: PatchOperation): { document: unknown } | undefined {
  const path = pointerSegments(operation.path);
  switch (operation.op) {
    case 'add':
      return put(document, path, structuredClone(operation.value), true);
    case 'replace':
      if (valueAt(document, path) === undefined) return undefined;
      return put(document, path, structuredClone(operation.value), false);
    case 'remove':
      return take(document, path)?.rest;
    case 'move': {
      const taken = take(document, pointerSegments(operation.from ?? ''));
      return taken === undefined ? undefined : put(taken.rest.document, path, taken.value, true);
    }
    case 'copy': {
      const value = valueAt(document, pointerSegments(operation.from ?? ''));
      return value === undefined ? undefined : put(document, path, structuredClone(value), true);
    }
    case 'test':
      return { document };
    default:
      return undefined;
  }
}

function put(document: unknown, path: readonly string[], value: unknown, inserting: boolean): { document: unknown } | undefined {
  if (path.length === 0) return { document: value };
  const parent = valueAt(document, path.slice(0, -1));
  const last = path[path.length - 1] as string;
  if (Array.isArray(parent)) {
    const index = last === '-' ? parent.length : arrayIndex(last);
    if (index === undefined || index > parent.length || (!inserting && index >= parent.length)) return undefined;
    if (inserting) parent.splice(index, 0, value);
    else parent[index] = value;
    return { document };
  }
  if (!isJsonObject(parent)) return undefined;
  parent[last] = value;
  return { document };
}

function take(document: unknown, path: readonly string[]): { value: unknown; rest: { document: unknown } } | undefined {
  if (path.length === 0) return undefined;
  const parent = valueAt(document, path.slice(0, -1));
  const last = path[path.length - 1] as string;
  if (Array.isArray(parent)) {
    const index = arrayIndex(last);
    if (index === undefined || index >= parent.length) return undefined;
    const [value] = parent.splice(index, 1);
    return { value, rest: { document } };
  }
  if (!isJsonObject(parent) || !Object.hasOwn(parent, last)) return undefined;
  const value = parent[last];
  delete parent[last];
  return { value, rest: { document } };
}
