/**
 * The precondition that makes a restored write safe: it may only land on the very version of
 * the object its placeholders were restored from. Pure.
 *
 * Every write shape carries it as `metadata.resourceVersion` in the object the API server
 * ends up with, which the server compares with the stored one (409 Conflict when they
 * differ, the optimistic concurrency of every update):
 * - whole objects (update) and merge, strategic-merge and apply patches: the body's
 *   `metadata.resourceVersion` (server-side apply treats it as a precondition too);
 * - JSON Patch: one more operation at the end, `add /metadata/resourceVersion`.
 *
 * A body that names a resourceVersion of its own keeps it: that is the client's precondition,
 * and a stricter one than none (if it is not the version the values came from, the server
 * refuses the write).
 */
import { pointerSegments } from './json-pointer.ts';
import type { WriteShape } from './restore-placeholders.ts';
import { isJsonObject, type JsonObject } from '../json-object.ts';

export interface Preconditioned {
  body: unknown;
  /** The resourceVersion the write is conditioned on. */
  resourceVersion: string;
}

/** `body` conditioned on `resourceVersion` (changed in place), or undefined when its shape cannot carry one. */
export function withPrecondition(body: unknown, shape: WriteShape, resourceVersion: string): Preconditioned | undefined {
  if (shape === 'json-patch') {
    if (!Array.isArray(body)) return undefined;
    const own = body.findLast(
      (operation): operation is JsonObject =>
        isJsonObject(operation) && (operation['op'] === 'add' || operation['op'] === 'replace') && isResourceVersionPath(operation['path']),
    );
    if (own !== undefined && typeof own['value'] === 'string' && own['value'] !== '') return { body, resourceVersion: own['value'] };
    body.push({ op: 'add', path: '/metadata/resourceVersion', value: resourceVersion });
    return { body, resourceVersion };
  }
  if (!isJsonObject(body)) return undefined;
  const existing = body['metadata'];
  if (existing !== undefined && existing !== null && !isJsonObject(existing)) return undefined;
  const metadata: JsonObject = existing ?? {};
  body['metadata'] = metadata;
  const own = metadata['resourceVersion'];
  if (typeof own === 'string' && own !== '') return { body, resourceVersion: own };
  metadata['resourceVersion'] = resourceVersion;
  return { body, resourceVersion };
}

function isResourceVersionPath(path: unknown): boolean {
  if (typeof path !== 'string') return false;
  const segments = pointerSegments(path);
  return segments.length === 2 && segments[0] === 'metadata' && segments[1] === 'resourceVersion';
}
