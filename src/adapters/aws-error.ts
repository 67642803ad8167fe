/**
 * What a caller may be told about a failed AWS call: the error's code alone (`AccessDenied`,
 * `ResourceNotFoundException`, `ECONNREFUSED`), never its message — AWS messages name the
 * account, the role and the resource ARNs. Adapters log the whole error server-side.
 */
export function awsErrorName(error: unknown): string {
  const safe = (text: unknown): text is string => typeof text === 'string' && /^[A-Za-z][A-Za-z0-9._]{0,80}$/.test(text);
  // A socket failure carries Node's code (ECONNRESET …); the SDK may name it TimeoutError whatever happened.
  const code = (error as { code?: unknown } | null | undefined)?.code;
  if (typeof code === 'string' && /^E[A-Z0-9_]{2,40}$/.test(code)) return code;
  const name = error instanceof Error ? error.name : undefined;
  if (safe(name) && name !== 'Error' && name !== 'TypeError') return name;
  if (safe(code)) return code;
  return 'unreachable';
}

/** Where an adapter logs a failed AWS call in full (server-side only). */
export type AdapterLog = (entry: Record<string, string>) => void;

/** The default AdapterLog: one JSON line on stderr. */
export const stderrJsonLog: AdapterLog = (entry) => console.error(JSON.stringify(entry));

/** The whole error (name, message, code) for the server's log only. */
export function awsErrorDetail(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const code = (error as { code?: unknown }).code;
  return `${error.name}: ${error.message}${typeof code === 'string' && !error.message.includes(code) ? ` (${code})` : ''}`;
}
