/**
 * Stage 1 — authenticate: who is calling, from the bearer token only.
 *
 * Contract: `authenticate(authenticator)` refuses a request carrying any `Impersonate-*`
 * header (403 ERR_IMPERSONATION_REFUSED) — forwarded, such headers would run with the
 * broker's rights — unless told that the impersonate stage after it decides them
 * (`{ impersonation: 'decide' }`, as the app does); then it requires exactly one
 * `Authorization: Bearer <token>` (401 ERR_TOKEN_MISSING),
 * verifies the token (401 with the authenticator's code) and sets `identity` for the stages
 * after it. Errors are thrown; the app turns them into Kubernetes Status responses.
 */
import type { Context, MiddlewareHandler } from 'hono';
import type { GatehouseBindings } from '../context.ts';
import type { Identity } from '../types.ts';
import { GatehouseError } from '../errors.ts';
import type { Authenticator } from '../ports/authenticator.ts';
import { clientHeaderPairs } from './request-headers.ts';

const IMPERSONATE_PREFIX = 'impersonate-';
const BEARER = /^Bearer +([^\s,]+) *$/i;

export interface AuthenticateOptions {
  /** `refuse` (default): any Impersonate-* header is refused here. `decide`: the impersonate stage decides them by policy. */
  impersonation?: 'refuse' | 'decide';
}

export function authenticate(authenticator: Authenticator, options: AuthenticateOptions = {}): MiddlewareHandler {
  const refuseImpersonation = options.impersonation !== 'decide';
  return async function authenticateStage(c, next) {
    const impersonation = refuseImpersonation ? impersonationHeaders(clientHeaderPairs(c)) : [];
    if (impersonation.length > 0) {
      throw new GatehouseError(
        'ERR_IMPERSONATION_REFUSED',
        `Gatehouse refuses client impersonation headers (${impersonation.map(canonicalHeaderName).join(', ')}): the caller's identity comes from its token`,
      );
    }
    // A tool call of the MCP endpoint: the endpoint verified the agent's token; its calls carry none (none is passed on).
    const agent = (c.env as GatehouseBindings | undefined)?.agent;
    if (agent !== undefined) {
      c.set('identity', agent.identity);
      return next();
    }
    c.set('identity', await verifiedCaller(c, authenticator));
    await next();
  };
}

/** The caller of a request, from its one `Authorization: Bearer` token (401 codes when there is none or it fails). */
export function verifiedCaller(c: Context, authenticator: Authenticator): Promise<Identity> {
  return authenticator.verify(bearerToken(singleAuthorization(clientHeaderPairs(c))));
}

/** Names of the Impersonate-* headers among [name, value, …], once each. */
function impersonationHeaders(pairs: string[]): string[] {
  let names: Set<string> | undefined;
  for (let i = 0; i < pairs.length; i += 2) {
    const name = (pairs[i] as string).toLowerCase();
    if (name.startsWith(IMPERSONATE_PREFIX)) (names ??= new Set()).add(name);
  }
  return names === undefined ? [] : [...names];
}

/**
 * The one Authorization header's value. Two are refused rather than picked from: which one a
 * proxy, Node and the API server would each read differs, and a credential must be unambiguous.
 */
function singleAuthorization(pairs: string[]): string | undefined {
  let value: string | undefined;
  let count = 0;
  for (let i = 0; i + 1 < pairs.length; i += 2) {
    if ((pairs[i] as string).length !== 13 || (pairs[i] as string).toLowerCase() !== 'authorization') continue;
    count += 1;
    value = pairs[i + 1] as string;
  }
  if (count > 1) {
    throw new GatehouseError('ERR_TOKEN_MISSING', `the request carried ${count} Authorization headers; send exactly one: Authorization: Bearer <OIDC ID token>`);
  }
  return value;
}

function bearerToken(authorization: string | undefined): string {
  if (authorization === undefined || authorization.trim() === '') {
    throw new GatehouseError('ERR_TOKEN_MISSING', 'no bearer token: send Authorization: Bearer <OIDC ID token>');
  }
  const match = BEARER.exec(authorization.trim());
  if (match?.[1] === undefined) {
    const scheme = authorization.trim().split(/\s+/)[0] ?? '';
    const what = scheme.toLowerCase() === 'bearer' ? 'an empty or malformed Bearer credential' : `a "${scheme.slice(0, 20)}" credential`;
    throw new GatehouseError('ERR_TOKEN_MISSING', `no bearer token: the request carried ${what}; send Authorization: Bearer <OIDC ID token>`);
  }
  return match[1];
}

/** `impersonate-extra-scopes` → `Impersonate-Extra-Scopes`, as people write them. */
function canonicalHeaderName(name: string): string {
  return name
    .toLowerCase()
    .split('-')
    .map((part) => part.charAt(0).toUpperCase() + part.slice(1))
    .join('-');
}
