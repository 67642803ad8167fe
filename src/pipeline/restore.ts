/**
 * Stage — restore: a write that carries placeholders keeps the live values they stand for,
 * or is refused. Sits between credentials and mask, for writes (create, update, patch) to
 * resources the mask stage masks (`mask` plans; break-glass skips it like masking).
 *
 * - A write whose body holds no placeholder mark (and is no JSON Patch) passes untouched: no
 *   parse, no upstream call.
 * - Otherwise the body (JSON, or YAML for YAML media types) is parsed; a create, or a body
 *   Gatehouse cannot read (protobuf), is refused naming what it can.
 * - The object is read upstream as the caller (one GET of the write's own path), after the
 *   policy is asked whether the caller may `get` it: Gatehouse reads only what the caller
 *   could read. `masking/restore-placeholders.ts` decides, field by field; any placeholder
 *   left is refused with 400 ERR_PLACEHOLDER_UNRESTORABLE naming its field and why (never a
 *   value). Otherwise the body is conditioned on the live object's resourceVersion
 *   (`masking/write-precondition.ts`), so a change made meanwhile fails with 409 instead of
 *   being overwritten, and forward sends it (`upstreamBody`), as JSON, under the client's
 *   content type (JSON is YAML).
 * - A JSON Patch whose `copy`, `move` or `test` operations read a value masking hides is
 *   refused (403 ERR_PATCH_READS_MASKED), with or without placeholders: a copy to an
 *   annotation would show it, a test tells whether a guess is right. Telling needs the live
 *   object too, so such patches (rare: kubectl sends `test` only on resourceVersion when it
 *   migrates managed fields) are read the same way, and conditioned the same way.
 * - The client's body stays what records and approvals see: an approval binds the body as
 *   the client sent it. `restoration` (paths, resourceVersion) goes to the record.
 */
import type { Context, MiddlewareHandler } from 'hono';
import { GatehouseError } from '../errors.ts';
import { isYamlUnavailable, KUBERNETES_YAML, parseJsonOrYaml } from '../json-or-yaml.ts';
import { planMasking, type MaskingPlan } from '../masking/masking-plan.ts';
import { SECRETS_ONLY, type MaskingRules } from '../masking/masking-rules.ts';
import { carriesPlaceholder } from '../masking/placeholder.ts';
import { readsLiveValues, restorePlaceholders, UNRESTORABLE_REASONS, type Unrestorable, type WriteShape } from '../masking/restore-placeholders.ts';
import { withPrecondition } from '../masking/write-precondition.ts';
import { mediaTypeOf } from '../media-type.ts';
import { describeCaller } from '../policy/describe-request.ts';
import type { PolicyEngine } from '../policy/policy.ts';
import type { KubeRequest } from '../types.ts';
import { readLiveObject } from './live-object.ts';

export interface RestoreOptions {
  masking?: MaskingRules | undefined;
  policy: PolicyEngine;
  /** Seconds the upstream has to answer the read of the live object. */
  timeoutSeconds: number;
}

const WRITES = new Set(['POST', 'PUT', 'PATCH']);

export function restore(options: RestoreOptions): MiddlewareHandler {
  const rules = options.masking ?? SECRETS_ONLY;
  const timeoutMs = Math.round(options.timeoutSeconds * 1000);
  return async function restoreStage(c, next) {
    if (!WRITES.has(c.req.method)) return next();
    const plan = planMasking(c.get('kubeRequest'), rules, c.get('decision').unmasked === true);
    if (plan.mode !== 'mask') return next();
    const shape = shapeOf(c.req.method, c.req.header('content-type') ?? '');
    const bytes = new Uint8Array(await c.req.arrayBuffer());
    const placeholders = carriesPlaceholder(bytes);
    if (!placeholders && shape?.shape !== 'json-patch') return next();
    await restoreWrite(c, bytes, shape, placeholders, plan, rules, options.policy, timeoutMs);
    return next();
  };
}

/** How the API server reads a write's body (its shape, and whether YAML), by method and content type; undefined: not readable here. */
function shapeOf(method: string, contentType: string): { shape: WriteShape; yaml: boolean } | undefined {
  const type = mediaTypeOf(contentType);
  if (method === 'PATCH') {
    if (type === 'application/merge-patch+json') return { shape: 'merge-patch', yaml: false };
    if (type === 'application/strategic-merge-patch+json') return { shape: 'strategic-merge-patch', yaml: false };
    if (type === 'application/json-patch+json') return { shape: 'json-patch', yaml: false };
    if (type === 'application/apply-patch+yaml') return { shape: 'apply-patch', yaml: true };
    return undefined;
  }
  if (type === 'application/json' || type === '') return { shape: 'object', yaml: false };
  if (type === 'application/yaml') return { shape: 'object', yaml: true };
  return undefined;
}

async function restoreWrite(
  c: Context,
  bytes: Uint8Array,
  shape: { shape: WriteShape; yaml: boolean } | undefined,
  placeholders: boolean,
  plan: MaskingPlan,
  rules: MaskingRules,
  policy: PolicyEngine,
  timeoutMs: number,
): Promise<void> {
  const request = c.get('kubeRequest');
  const identity = c.get('identity');
  const caller = describeCaller(identity);
  const refuse = (what: string): GatehouseError =>
    new GatehouseError('ERR_PLACEHOLDER_UNRESTORABLE', `${caller} may not ${request.verb} ${plan.subject} with a masked placeholder ("***masked (…)***") ${what}; send the real value, or leave the field out`);

  const contentType = c.req.header('content-type') ?? '';
  if (shape === undefined) throw refuse(`in a ${JSON.stringify(contentType)} body: Gatehouse restores placeholders only in JSON or YAML bodies, and would otherwise replace the real value`);
  const body = parseBody(bytes, shape.yaml);
  if (body === undefined) {
    if (!placeholders) return; // a malformed JSON Patch: the API server says what is wrong with it
    throw refuse('in a body that does not parse: it would replace the real value');
  }

  // Where the placeholders are, before anything is read: a create, or a body with none left
  // once parsed (a YAML comment), needs no upstream call.
  const found = restorePlaceholders(body, shape.shape, undefined, rules, plan.hint);
  const reads = readsLiveValues(body, shape.shape);
  if (found.unrestorable.length === 0 && !reads) return;
  if (c.req.method === 'POST') throw refuse(`at ${fields(found.unrestorable, 'a create has no live object whose value it could keep')}`);
  // The refusals before the live object is read: of the placeholders, or else of the reading operations.
  const restoring = found.unrestorable.length > 0;
  const needs = (why: string): GatehouseError =>
    restoring ? refuse(`at ${pathList(found.unrestorable)}: ${why}`) : readRefusal(caller, request.verb, plan.subject, why);

  const decision = policy.decide(identity, { ...request, verb: 'get' } satisfies KubeRequest);
  if (decision.effect !== 'allow') {
    const reading = restoring ? 'restoring it reads the live object' : 'telling whether they read a masked value needs the live object';
    throw needs(`${reading}, and ${caller} may not get ${plan.subject}: ${decision.reason}`);
  }
  const live = await readLiveObject(c.get('upstream'), identity, request.path, timeoutMs, c.get('requestId'));
  if (live.status === 404) throw needs(`${plan.subject} does not exist${restoring ? ', so there is no live value to keep' : ''}`);
  if (live.status !== 200) throw needs(`reading the live object as ${caller} was answered with ${live.status}${upstreamMessage(live.body)}`);
  const object = parseLive(live.body);
  const resourceVersion = resourceVersionOf(object);
  if (object === undefined || resourceVersion === undefined) {
    throw new GatehouseError('ERR_UPSTREAM_UNREACHABLE', `the upstream answered the read of ${plan.subject} with something that is not an object with a resourceVersion`);
  }
  const result = restorePlaceholders(body, shape.shape, object, rules, plan.hint);
  if (result.unrestorable.length > 0) throw refuse(`at ${fields(result.unrestorable)}`);
  if (result.maskedReads.length > 0) {
    const operations = result.maskedReads.map((read) => `operation ${read.operation} (${read.op} ${read.op === 'test' ? '' : 'from '}${read.pointer || '(the whole object)'})`);
    throw readRefusal(caller, request.verb, plan.subject, `${operations.join(', ')} would read a masked value: a copy or move could put it where it shows, a test tells whether a guess is right`);
  }
  const conditioned = withPrecondition(result.body, shape.shape, resourceVersion);
  if (conditioned === undefined) throw refuse('in a body that is not an object: the write could not be conditioned on the live version');
  c.set('upstreamBody', new TextEncoder().encode(JSON.stringify(conditioned.body)));
  if (result.restored.length > 0) c.set('restoration', { paths: result.restored, resourceVersion: conditioned.resourceVersion });
}

/** The refusal of a JSON Patch whose copy, move or test operations read (or may read) masked values. */
function readRefusal(caller: string, verb: string, subject: string, why: string): GatehouseError {
  return new GatehouseError('ERR_PATCH_READS_MASKED', `${caller} may not ${verb} ${subject} with JSON Patch copy, move or test operations that read values: ${why}`);
}

function parseBody(bytes: Uint8Array, yaml: boolean): unknown {
  const text = new TextDecoder('utf-8', { fatal: true, ignoreBOM: false });
  try {
    const decoded = text.decode(bytes);
    return yaml ? parseJsonOrYaml(decoded, KUBERNETES_YAML) : (JSON.parse(decoded) as unknown);
  } catch (error) {
    if (isYamlUnavailable(error)) {
      throw new GatehouseError('ERR_PLACEHOLDER_UNRESTORABLE', 'a YAML body with a masked placeholder cannot be read on this runtime (it reads no YAML); send it as JSON');
    }
    return undefined;
  }
}

function parseLive(body: Buffer): unknown {
  try {
    return JSON.parse(body.toString('utf8')) as unknown;
  } catch {
    return undefined;
  }
}

function resourceVersionOf(object: unknown): string | undefined {
  if (typeof object !== 'object' || object === null) return undefined;
  const metadata = (object as { metadata?: unknown }).metadata;
  if (typeof metadata !== 'object' || metadata === null) return undefined;
  const version = (metadata as { resourceVersion?: unknown }).resourceVersion;
  return typeof version === 'string' && version !== '' ? version : undefined;
}

/** The API server's own message (a Status), which speaks of the caller only. */
function upstreamMessage(body: Buffer): string {
  const status = parseLive(body);
  const message = typeof status === 'object' && status !== null ? (status as { message?: unknown }).message : undefined;
  return typeof message === 'string' ? ` (${message})` : '';
}

function pathList(unrestorable: readonly Unrestorable[]): string {
  return [...new Set(unrestorable.map((entry) => entry.path))].join(', ');
}

/** "data.password, data.token: <why>" — grouped by reason, each reason once. */
function fields(unrestorable: readonly Unrestorable[], why?: string): string {
  if (why !== undefined) return `${pathList(unrestorable)}: ${why}`;
  const byReason = new Map<string, string[]>();
  for (const entry of unrestorable) {
    const reason = UNRESTORABLE_REASONS[entry.reason];
    byReason.set(reason, [...(byReason.get(reason) ?? []), entry.path]);
  }
  return [...byReason].map(([reason, paths]) => `${[...new Set(paths)].join(', ')}: ${reason}`).join('; at ');
}
