/**
 * The OIDC authenticator: verifies ID tokens of the configured issuer against its JWKS.
 *
 * Contract: `createOidcAuthenticator(config, options)` checks the configuration at once
 * (start-up, throwing GatehouseConfigError) and touches the network only on first use: the
 * JWKS URL is `config.jwksUri`, or discovered from the issuer's discovery document. The
 * discovered URL and the key set are cached for the authenticator's life (create it once,
 * at module scope on Lambda); a failed discovery or first key fetch is retried by a later
 * request, never cached. The key set is fetched again when a token names an unknown `kid`
 * (at most every 30 s) and when it is 10 minutes old; while the IdP is down the keys already
 * fetched keep working (key-set.ts), and a token naming a new kid gets a 401 saying so.
 */
import type { JSONWebKeySet } from 'jose';
import type { OidcConfig } from '../config.ts';
import { GatehouseConfigError } from '../config-error.ts';
import type { Authenticator } from '../ports/authenticator.ts';
import type { Clock } from '../types.ts';
import { systemClock } from '../types.ts';
import { discoverJwksUri } from './discovery.ts';
import { isJsonObject } from '../json-object.ts';
import { fetchJsonFromIdp, idpUnavailable } from './idp-fetch.ts';
import type { FetchFunction, IdpFetchOptions } from './idp-fetch.ts';
import { isHttpsOrLoopback } from './loopback.ts';
import { createKeySet } from './key-set.ts';
import { createTokenAuthenticator } from './token-verifier.ts';

export interface OidcAuthenticatorOptions {
  clock?: Clock;
  /** The fetch the IdP is reached with; tests and proxies may supply their own. */
  fetch?: FetchFunction;
  /** Milliseconds the IdP has to answer a discovery or JWKS request. */
  timeoutMs?: number;
  /** Where key-set refresh failures are logged (default stderr). */
  log?: (message: string) => void;
}

export function createOidcAuthenticator(config: OidcConfig, options: OidcAuthenticatorOptions = {}): Authenticator {
  checkUrls(config);
  const fetchOptions: IdpFetchOptions = { fetch: options.fetch ?? fetch, timeoutMs: options.timeoutMs ?? 5000 };
  const clock = options.clock ?? systemClock;
  let jwksUri = config.jwksUri;
  const keys = createKeySet({
    clock,
    ...(options.log === undefined ? {} : { log: options.log }),
    async load() {
      jwksUri ??= await discoverJwksUri(config.issuer, fetchOptions);
      return readKeySet(jwksUri, fetchOptions);
    },
  });
  return createTokenAuthenticator(config, keys, { clock });
}

/** The JWKS document at `jwksUri`, checked to be one; ERR_IDP_UNAVAILABLE otherwise. */
async function readKeySet(jwksUri: string, fetchOptions: IdpFetchOptions): Promise<JSONWebKeySet> {
  const document = await fetchJsonFromIdp('JWKS', jwksUri, fetchOptions);
  const keys = (document as { keys?: unknown } | null)?.keys;
  if (!Array.isArray(keys) || !keys.every(isJsonObject)) {
    throw idpUnavailable('JWKS', jwksUri, 'it is not a valid JSON Web Key Set');
  }
  return { keys: keys as JSONWebKeySet['keys'] };
}

function checkUrls(config: OidcConfig): void {
  const problems: string[] = [];
  for (const [key, value] of [['oidc.issuer', config.issuer], ['oidc.jwksUri', config.jwksUri]] as const) {
    if (value !== undefined && !isHttpsOrLoopback(new URL(value))) problems.push(`${key}: ${value} must be an https:// URL (plain http only on loopback)`);
  }
  if (problems.length > 0) throw new GatehouseConfigError('oidc configuration', problems);
}
