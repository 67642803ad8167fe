/**
 * Every HTTP request Gatehouse makes to the identity provider (discovery document, JWKS)
 * goes through here, so every way it can fail becomes one ERR_IDP_UNAVAILABLE whose message
 * names the URL and the reason (refused, timed out, HTTP status) — never a bare TypeError.
 *
 * Contract: resolves a 200 response; otherwise rejects with GatehouseError ERR_IDP_UNAVAILABLE.
 * Redirects are not followed: the issuer's documents live where the configuration says.
 */
import { GatehouseError } from '../errors.ts';

export type FetchFunction = typeof fetch;

export interface IdpFetchOptions {
  fetch: FetchFunction;
  timeoutMs: number;
}

/** What is being fetched, for messages: e.g. "discovery document", "JWKS". */
export async function fetchFromIdp(what: string, url: string, options: IdpFetchOptions, init: RequestInit = {}): Promise<Response> {
  let response: Response;
  try {
    response = await options.fetch(url, {
      method: 'GET',
      redirect: 'manual',
      ...init,
      headers: init.headers ?? { accept: 'application/json' },
      signal: init.signal ?? AbortSignal.timeout(options.timeoutMs),
    });
  } catch (error) {
    throw idpUnavailable(what, url, fetchFailure(error, options.timeoutMs), error);
  }
  if (response.status !== 200) {
    await response.body?.cancel();
    throw idpUnavailable(what, url, `it answered HTTP ${response.status}`);
  }
  return response;
}

/** The JSON document at `url` (any JSON value: the caller checks its shape); ERR_IDP_UNAVAILABLE when it is not JSON. */
export async function fetchJsonFromIdp(what: string, url: string, options: IdpFetchOptions): Promise<unknown> {
  const response = await fetchFromIdp(what, url, options);
  try {
    return (await response.json()) as unknown;
  } catch (error) {
    throw idpUnavailable(what, url, 'it is not JSON', error);
  }
}

export function idpUnavailable(what: string, url: string, why: string, cause?: unknown): GatehouseError {
  return new GatehouseError('ERR_IDP_UNAVAILABLE', `the identity provider's ${what} at ${url} could not be used: ${why}`, { cause });
}

function fetchFailure(error: unknown, timeoutMs: number): string {
  if (error instanceof Error && (error.name === 'TimeoutError' || error.name === 'AbortError')) {
    return `no answer within ${timeoutMs / 1000}s`;
  }
  const cause = error instanceof Error ? (error.cause as { code?: unknown; message?: unknown } | undefined) : undefined;
  if (typeof cause?.code === 'string') return `${describeCode(cause.code)} (${cause.code})`;
  if (typeof cause?.message === 'string') return cause.message;
  return error instanceof Error ? error.message : String(error);
}

function describeCode(code: string): string {
  switch (code) {
    case 'ECONNREFUSED':
      return 'connection refused';
    case 'ECONNRESET':
      return 'connection reset';
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return 'host name not found';
    case 'ETIMEDOUT':
    case 'UND_ERR_CONNECT_TIMEOUT':
      return 'connection timed out';
    default:
      return code.startsWith('ERR_TLS') || code.includes('CERT') ? 'TLS verification failed' : 'request failed';
  }
}
