/**
 * What an approver sees of a request body: the body decoded the way the API server will
 * decode it, masked like every response, with the security-relevant fields first. Pure.
 *
 * - Decoding follows the declared Content-Type only, never sniffing, as the API server does:
 *   JSON (`application/json`, the JSON patch types) with last-wins duplicate keys (what Go's
 *   decoder keeps), YAML (`application/yaml`, `application/apply-patch+yaml`) as YAML 1.1 with
 *   merge keys and last-wins duplicate keys (sigs.k8s.io/yaml), Kubernetes protobuf through
 *   protobuf-summary.ts (bodies whose single-valued fields repeat are refused there).
 * - Masking is the masking module's own (Secret values, `last-applied-configuration`, the
 *   configured ConfigMap keys and env values, credential-bearing kinds), so the page, the mail
 *   and the stored approval hold no more than a record would.
 * - `highlights` lists the fields that change what a workload or a person may do (privilege,
 *   host access, volumes, service accounts, RBAC subjects and roles, webhooks) with their full
 *   path; the page shows them before the body. Very long string values are shortened in the
 *   body text (said so in `cut`), and the text is cut at BODY_SUMMARY_MAX_CHARS, saying how
 *   much is not shown.
 * - A body that cannot be shown — an undeclared or unreadable type, text that does not parse,
 *   ambiguous protobuf, or highlights longer than a page holds — is `unshowable` with the
 *   reason; it can never be approved from the page (the service refuses it up front).
 */
import { isYamlUnavailable, KUBERNETES_YAML, parseJsonOrYaml } from '../json-or-yaml.ts';
import { maskForRequest, SECRETS_ONLY, type MaskingRules } from '../masking/index.ts';
import { mediaTypeOf } from '../media-type.ts';
import type { KubeRequest } from '../types.ts';
import { decodeKubernetesProtobuf } from './protobuf-summary.ts';

export interface BodySummary {
  /**
   * "none", "object" (create/update), "patch" (the change itself), "protobuf" (the fields it
   * holds), "unshowable" (cannot be approved). "binary" is how earlier versions stored what
   * is now "unshowable".
   */
  kind: 'none' | 'object' | 'patch' | 'protobuf' | 'unshowable' | 'binary';
  contentType: string;
  bytes: number;
  /** The decoded, masked body ("" for none/unshowable). */
  text: string;
  /** The security-relevant fields, one `path: value` per line ("" when there are none). */
  highlights?: string;
  truncated: boolean;
  /** What is not shown, in words ("" when everything is). */
  cut?: string;
  /** Why the body cannot be shown (kind "unshowable"). */
  reason?: string;
}

export const BODY_SUMMARY_MAX_CHARS = 8192;
/** The highlights must fit whole; a body whose security-relevant fields are longer cannot be shown. */
export const HIGHLIGHTS_MAX_CHARS = 6144;
/** Longer string values are shortened in the body text (not in the highlights). */
export const LONG_VALUE_CHARS = 512;

const JSON_TYPES = new Set(['application/json', 'application/json-patch+json', 'application/merge-patch+json', 'application/strategic-merge-patch+json']);
const YAML_TYPES = new Set(['application/yaml', 'application/apply-patch+yaml']);
const PROTOBUF = 'application/vnd.kubernetes.protobuf';

/** Whether an approver can decide on this body: it is shown (a stored "binary"/"unshowable" one never is). */
export function bodyDecidable(body: BodySummary): boolean {
  return body.kind === 'none' || body.kind === 'object' || body.kind === 'patch' || body.kind === 'protobuf';
}

export function summarizeBody(body: Uint8Array, contentType: string, request: KubeRequest, rules: MaskingRules = SECRETS_ONLY): BodySummary {
  const type = mediaTypeOf(contentType);
  const base = { contentType: type, bytes: body.byteLength, truncated: false };
  if (body.byteLength === 0) return { ...base, kind: 'none', text: '' };
  const decoded = decodeBody(body, type);
  if (!decoded.ok) return { ...base, kind: 'unshowable', text: '', reason: decoded.reason };
  const document = decoded.document;
  maskForRequest(document, request, rules);
  const highlights = highlightsOf(document);
  if (highlights.length > HIGHLIGHTS_MAX_CHARS) {
    const reason = `its security-relevant fields alone take ${highlights.length} characters, more than the ${HIGHLIGHTS_MAX_CHARS} a page shows in full`;
    return { ...base, kind: 'unshowable', text: '', reason };
  }
  const { text, shortened } = prettyJson(document);
  const notes: string[] = [];
  if (shortened > 0) notes.push(`${shortened} string value${shortened === 1 ? ' is' : 's are'} longer than ${LONG_VALUE_CHARS} characters and shown shortened`);
  let shown = text;
  if (text.length > BODY_SUMMARY_MAX_CHARS) {
    shown = text.slice(0, BODY_SUMMARY_MAX_CHARS);
    notes.push(`the body is cut after ${BODY_SUMMARY_MAX_CHARS} of its ${text.length} characters (the security-relevant fields above are complete)`);
  }
  const kind = type === PROTOBUF ? 'protobuf' : type.includes('patch') ? 'patch' : 'object';
  return { ...base, kind, text: shown, highlights, truncated: notes.length > 0, cut: notes.join('; ') };
}

/** The document the API server will decode from the body, by its declared type; or why it cannot be shown. */
function decodeBody(body: Uint8Array, type: string): { ok: true; document: unknown } | { ok: false; reason: string } {
  if (type === PROTOBUF) {
    const decoded = decodeKubernetesProtobuf(body);
    return decoded.ok ? { ok: true, document: decoded.object } : decoded;
  }
  const isJson = JSON_TYPES.has(type);
  if (!isJson && !YAML_TYPES.has(type)) {
    const reason =
      type === ''
        ? 'the request declares no Content-Type, so there is no telling how the API server reads it'
        : `Gatehouse cannot show a ${type} body; send it as JSON or YAML`;
    return { ok: false, reason };
  }
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(body);
  } catch {
    return { ok: false, reason: `the ${type} body is not valid UTF-8` };
  }
  try {
    return { ok: true, document: isJson ? JSON.parse(text) : parseJsonOrYaml(text, KUBERNETES_YAML) };
  } catch (error) {
    if (isYamlUnavailable(error)) return { ok: false, reason: 'this runtime reads no YAML; send the body as JSON' };
    return { ok: false, reason: `the ${type} body does not parse: ${error instanceof Error ? (error.message.split('\n')[0] ?? '') : String(error)}` };
  }
}

/** Pretty JSON with every key kept (`__proto__` too: JSON.parse makes it an own key) and long strings shortened. */
function prettyJson(document: unknown): { text: string; shortened: number } {
  let shortened = 0;
  const text = JSON.stringify(
    document,
    (_key, value: unknown) => {
      if (typeof value !== 'string' || value.length <= LONG_VALUE_CHARS) return value;
      shortened += 1;
      return `${value.slice(0, LONG_VALUE_CHARS / 2)}… [${value.length - LONG_VALUE_CHARS / 2} more characters not shown]`;
    },
    2,
  );
  return { text: text ?? String(document), shortened };
}

/**
 * Keys whose value changes what a workload or a person may do. Their whole value is a
 * highlight, wherever they stand (a Pod, a template in a Deployment, a patch).
 */
export const SECURITY_KEYS: ReadonlySet<string> = new Set([
  // privilege (a whole securityContext, pod or container, is one highlight)
  'securityContext',
  'privileged',
  'hostProcess',
  'allowPrivilegeEscalation',
  'capabilities',
  'runAsUser',
  'runAsGroup',
  'runAsNonRoot',
  'procMount',
  'seLinuxOptions',
  'seccompProfile',
  'appArmorProfile',
  'sysctls',
  'shareProcessNamespace',
  // host access
  'hostPID',
  'hostIPC',
  'hostNetwork',
  'hostUsers',
  'hostPath',
  'hostPort',
  'nodeName',
  // volumes and service accounts
  'volumes',
  'serviceAccountName',
  'serviceAccount',
  'automountServiceAccountToken',
  'ephemeralContainers',
  // RBAC
  'subjects',
  'roleRef',
  'rules',
  'aggregationRule',
  // webhooks and admission
  'webhooks',
]);

/** Every security-relevant field of a (masked) document, as `path: json` lines, in document order. */
export function highlightsOf(document: unknown): string {
  const lines: string[] = [];
  const walk = (node: unknown, path: string): void => {
    if (Array.isArray(node)) {
      node.forEach((item, index) => walk(item, `${path}[${index}]`));
      return;
    }
    if (node === null || typeof node !== 'object') return;
    // A JSON Patch operation: its value is security-relevant when its path names such a field.
    const operation = node as Record<string, unknown>;
    if (typeof operation['op'] === 'string' && typeof operation['path'] === 'string') {
      const from = typeof operation['from'] === 'string' ? operation['from'] : '';
      const segments = `${operation['path']}/${from}`.split('/').map((s) => s.replaceAll('~1', '/').replaceAll('~0', '~'));
      if (segments.some((segment) => SECURITY_KEYS.has(segment))) {
        const source = from === '' ? '' : ` from ${from}`;
        lines.push(`${path} ${operation['op']} ${operation['path']}${source}: ${JSON.stringify(operation['value'] ?? null)}`);
        return;
      }
    }
    for (const key of Object.keys(node)) {
      const value = (node as Record<string, unknown>)[key];
      const at = path === '' ? keyPath(key) : `${path}${keyPath(key, true)}`;
      if (SECURITY_KEYS.has(key)) lines.push(`${at}: ${JSON.stringify(value)}`);
      else walk(value, at);
    }
  };
  walk(document, '');
  return lines.join('\n');
}

function keyPath(key: string, dotted = false): string {
  if (/^[A-Za-z_$][\w$-]*$/.test(key) && key !== '__proto__') return dotted ? `.${key}` : key;
  return `[${JSON.stringify(key)}]`;
}
