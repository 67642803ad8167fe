/**
 * What a session's recording redacts: the policy's recording patterns for its namespace and,
 * unless a masking rule opts out for the namespace (`recordingSecretValues: false`), the
 * values of the Secrets in that namespace — read upstream over
 * Gatehouse's own connection, impersonating the dedicated user REDACTOR_USER (the cluster's
 * RBAC grants that user `list secrets` only where recordings redact them:
 * infra/rbac/recording-redactor.yaml). The caller's own rights do not matter: a user who
 * may not read a Secret can still print it from inside a pod, which is what is redacted.
 * The values stay in memory for the session; they are never written anywhere.
 */
import { GatehouseError } from '../errors.ts';
import type { MaskingRules } from '../masking/masking-rules.ts';
import { recordingRedaction, SECRETS_ONLY } from '../masking/masking-rules.ts';
import { readLiveObject } from '../pipeline/live-object.ts';
import type { StreamSessionInfo } from '../ports/recordings.ts';
import type { Upstream } from '../ports/upstream.ts';
import type { RedactionRules } from './redactor.ts';

/** The identity Gatehouse reads Secret values as, for redaction only. */
export const REDACTOR_USER = 'gatehouse:recording-redactor';

/** Where a namespace's Secret values are read: each cluster the Gatehouse fronts (named when there are several). */
export interface SecretSource {
  upstream: Upstream;
  cluster?: string;
}

export interface RedactionSourceOptions {
  masking: MaskingRules | undefined;
  /**
   * Every cluster a session may be on: one unnamed, or each named. A session on a deployment
   * of several names its cluster, and only that cluster's Secrets are read; a session that
   * names none (one cluster) reads the one source.
   */
  sources: readonly SecretSource[];
  /** Longest pattern match promised across frames. */
  windowChars: number;
  timeoutMs?: number;
}

export function redactionSource(options: RedactionSourceOptions): (info: StreamSessionInfo) => Promise<RedactionRules> {
  return async (info) => {
    const wanted = recordingRedaction(options.masking ?? SECRETS_ONLY, info.namespace);
    if (!wanted.secretValues) return { literals: [], patterns: wanted.patterns, windowChars: options.windowChars };
    const source = sourceOf(options.sources, info.cluster);
    if (source === undefined) {
      const where = info.cluster === undefined ? 'the session names no cluster' : `no cluster named "${info.cluster}" is configured`;
      throw new GatehouseError('ERR_RECORD_UNAVAILABLE', `the Secrets of namespace "${info.namespace}" cannot be read to redact them: ${where}`);
    }
    const values = await namespaceSecretValues(source.upstream, info.namespace, info.requestId, options.timeoutMs ?? 10_000, source.cluster);
    return { literals: values, patterns: wanted.patterns, windowChars: options.windowChars };
  };
}

/** The session's own cluster: the named one, or the only one when neither names a cluster. */
function sourceOf(sources: readonly SecretSource[], cluster: string | undefined): SecretSource | undefined {
  if (cluster !== undefined) return sources.find((source) => source.cluster === cluster);
  return sources.length === 1 && sources[0]?.cluster === undefined ? sources[0] : undefined;
}

/** Every value of every Secret in `namespace`, decoded, and each as its base64 text too (as `-o yaml` prints it). */
export async function namespaceSecretValues(upstream: Upstream, namespace: string, requestId: string, timeoutMs: number, cluster?: string): Promise<string[]> {
  const connection = await upstream.connection();
  const path = `/api/v1/namespaces/${encodeURIComponent(namespace)}/secrets`;
  const answer = await readLiveObject(connection, { user: REDACTOR_USER, groups: [], claims: {} }, path, timeoutMs, requestId);
  if (answer.status !== 200) {
    throw new GatehouseError(
      'ERR_RECORD_UNAVAILABLE',
      `the Secrets of namespace "${namespace}"${cluster === undefined ? '' : ` on cluster "${cluster}"`} could not be read as ${REDACTOR_USER} to redact them (the cluster answered ${answer.status}; see infra/rbac/recording-redactor.yaml)`,
    );
  }
  return secretValuesOf(answer.body.toString('utf8'));
}

/** The values in a SecretList (JSON): `data` decoded from base64 plus its base64 text, and `stringData`. */
export function secretValuesOf(json: string): string[] {
  const list = JSON.parse(json) as { items?: { data?: Record<string, unknown>; stringData?: Record<string, unknown> }[] };
  const values = new Set<string>();
  for (const item of list.items ?? []) {
    for (const encoded of Object.values(item.data ?? {})) {
      if (typeof encoded !== 'string') continue;
      values.add(encoded);
      values.add(Buffer.from(encoded, 'base64').toString('utf8'));
    }
    for (const value of Object.values(item.stringData ?? {})) if (typeof value === 'string') values.add(value);
  }
  return [...values];
}
