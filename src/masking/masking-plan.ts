/**
 * Which responses the mask stage reads, and how — decided from the classified request alone,
 * before anything is forwarded. Pure.
 *
 * - `mask`: the resource holds values to mask (core `secrets`; `configmaps` when a rule names
 *   ConfigMap keys; Pods and pod-template workloads when a rule names env variables). Every
 *   object of the response is parsed and masked; the upstream is asked for JSON only (never
 *   protobuf, YAML or CBOR, which could not be masked), and a response that is not JSON is
 *   refused.
 * - `scan`: any other resource request. A JSON response is scanned unit by unit (object, list
 *   item, watch event); only units whose bytes could hold something to mask (a `"Secret"` kind,
 *   also inside a last-applied annotation, or what the rules name) are parsed and masked; the
 *   rest leaves as the very bytes that came in. The upstream is asked for JSON here too, and
 *   an answer in any other media type is refused: a custom resource, a list or a Table can
 *   embed a Secret manifest, which YAML, protobuf or CBOR would carry past the scanner.
 * - `off`: non-resource URLs (discovery, /version, /openapi), streams that are not objects
 *   (logs, exec, attach, port-forward, proxy), and break-glass decisions: untouched, zero-copy.
 */
import type { KubeRequest } from '../types.ts';
import type { MaskHint } from './mask-document.ts';
import { mediaTypeOf } from '../media-type.ts';
import type { MaskingRules } from './masking-rules.ts';

export type MaskingMode = 'off' | 'scan' | 'mask';

export interface MaskingPlan {
  mode: MaskingMode;
  /** Why, in a few words (for logs and tests). */
  why: string;
  hint: MaskHint;
  /** The request's object in words, for messages: `secrets "db" in namespace "prod"`. */
  subject: string;
}

/** Kinds of the built-in resources masking knows, by "group/resource" ("" group = core). */
const KINDS: Readonly<Record<string, string>> = {
  '/secrets': 'Secret',
  '/configmaps': 'ConfigMap',
  '/pods': 'Pod',
  '/podtemplates': 'PodTemplate',
  '/replicationcontrollers': 'ReplicationController',
  'apps/deployments': 'Deployment',
  'apps/replicasets': 'ReplicaSet',
  'apps/statefulsets': 'StatefulSet',
  'apps/daemonsets': 'DaemonSet',
  'batch/jobs': 'Job',
  'batch/cronjobs': 'CronJob',
};

/**
 * Requests answered with a credential-bearing object (mask-document.ts CREDENTIAL_FIELDS), by
 * "group/resource/subresource": TokenRequest is the `token` subresource of ServiceAccounts.
 */
const CREDENTIAL_ANSWERS: ReadonlyMap<string, string> = new Map([
  ['/serviceaccounts/token', 'TokenRequest'],
  ['authentication.k8s.io/tokenreviews/', 'TokenReview'],
]);

/** Kinds whose objects carry container env (directly or in a pod template). */
const ENV_KINDS = new Set(['Pod', 'PodTemplate', 'ReplicationController', 'Deployment', 'ReplicaSet', 'StatefulSet', 'DaemonSet', 'Job', 'CronJob']);

/** Subresources that answer with the object itself (or a list/watch of objects); others stream something else. */
const OBJECT_SUBRESOURCES = new Set(['', 'status', 'ephemeralcontainers', 'resize']);

export function planMasking(request: KubeRequest, rules: MaskingRules, unmasked: boolean): MaskingPlan {
  const subject = subjectOf(request);
  const credentialKind = CREDENTIAL_ANSWERS.get(`${request.apiGroup}/${request.resource}/${request.subresource}`);
  const kind = credentialKind ?? KINDS[`${request.apiGroup}/${request.resource}`];
  const hint: MaskHint = {};
  if (kind !== undefined) hint.kind = kind;
  if (request.namespace !== '') hint.namespace = request.namespace;
  const [mode, why] = credentialKind !== undefined && request.isResourceRequest && !unmasked ? (['mask', `the answer carries a credential (${credentialKind})`] as const) : modeOf(request, kind, rules, unmasked);
  return { mode, why, hint, subject };
}

function modeOf(request: KubeRequest, kind: string | undefined, rules: MaskingRules, unmasked: boolean): [MaskingMode, string] {
  if (unmasked) return ['off', 'break-glass: the policy lets this caller see values unmasked'];
  if (!request.isResourceRequest) return ['off', 'not a resource request'];
  if (!OBJECT_SUBRESOURCES.has(request.subresource)) return ['off', `subresource ${request.subresource} does not answer with objects`];
  if (kind === 'Secret') return ['mask', 'Secrets are always masked'];
  if (kind === 'ConfigMap' && rules.masksConfigMaps) return ['mask', 'a masking rule names ConfigMap keys'];
  if (kind !== undefined && ENV_KINDS.has(kind) && rules.masksEnv) return ['mask', 'a masking rule names env variables'];
  return ['scan', 'objects of this resource are masked only where they embed a Secret'];
}

function subjectOf(request: KubeRequest): string {
  if (!request.isResourceRequest) return request.path;
  const resource = request.apiGroup === '' ? request.resource : `${request.resource}.${request.apiGroup}`;
  const sub = request.subresource === '' ? '' : `/${request.subresource}`;
  const name = request.name === '' ? '' : ` "${request.name}"`;
  const where = request.namespace === '' ? '' : ` in namespace "${request.namespace}"`;
  return `${resource}${sub}${name}${where}`;
}

/**
 * The Accept header to send upstream for a `mask` plan: the client's JSON media ranges only
 * (their parameters kept, e.g. `as=Table`), or plain `application/json` when none is left.
 */
export function jsonOnlyAccept(accept: string | null): string {
  const kept = (accept ?? '')
    .split(',')
    .map((range) => range.trim())
    .filter((range) => isJsonMediaType(range));
  return kept.length === 0 ? 'application/json' : kept.join(',');
}

/** `application/json` or `application/*+json`, parameters allowed (`;stream=watch`, `;as=Table…`). */
export function isJsonMediaType(mediaType: string | null): boolean {
  if (mediaType === null) return false;
  const type = mediaTypeOf(mediaType);
  return type === 'application/json' || (type.startsWith('application/') && type.endsWith('+json'));
}
