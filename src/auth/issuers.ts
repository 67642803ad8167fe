/**
 * The authenticator of every trusted issuer: people (the company IdP, `oidc`), pipelines
 * (GitHub Actions, GitLab CI) and in-cluster agents (a cluster's service-account issuer),
 * each verified by its own OIDC authenticator (oidc.ts) with its own audiences, claim
 * mappings, prefixes and required claims.
 *
 * Contract: `createIssuersAuthenticator(issuers, options)` checks every issuer at once
 * (start-up). `verify(token)` reads the token's `iss` WITHOUT trusting it — only to pick
 * whose rules verify the token — then verifies signature, `iss`, `aud`, `exp`/`nbf` and claims
 * exactly as for a single issuer. A token naming an issuer that is not trusted is refused
 * (401 ERR_TOKEN_ISSUER, naming it and the trusted ones) before any key is fetched. With one
 * issuer, this IS that issuer's authenticator (same messages as before there was a list).
 */
import { decodeJwt } from 'jose';
import type { IssuerConfig } from '../config.ts';
import { GatehouseConfigError } from '../config-error.ts';
import { GatehouseError } from '../errors.ts';
import type { Authenticator } from '../ports/authenticator.ts';
import { namesReservedFor } from './issuer-list.ts';
import { createOidcAuthenticator } from './oidc.ts';
import type { OidcAuthenticatorOptions } from './oidc.ts';
import { MAX_TOKEN_LENGTH } from './token-verifier.ts';

export function createIssuersAuthenticator(issuers: readonly IssuerConfig[], options: OidcAuthenticatorOptions = {}): Authenticator {
  const problems: string[] = [];
  const byIssuer = new Map<string, Authenticator>();
  issuers.forEach((issuer, index) => {
    try {
      byIssuer.set(issuer.issuer, createOidcAuthenticator({ ...issuer, reservedPrefixes: namesReservedFor(issuers, index) }, options));
    } catch (error) {
      if (!(error instanceof GatehouseConfigError)) throw error;
      problems.push(...error.problems);
    }
  });
  if (problems.length > 0) throw new GatehouseConfigError('trusted issuers', problems);
  const only = issuers.length === 1 ? byIssuer.get(issuers[0]?.issuer ?? '') : undefined;
  if (only !== undefined) return only;
  const trusted = [...byIssuer.keys()].map((issuer) => `"${issuer}"`).join(', ');
  return {
    async verify(token: string) {
      const issuer = unverifiedIssuer(token);
      const authenticator = byIssuer.get(issuer);
      if (authenticator === undefined) {
        throw new GatehouseError('ERR_TOKEN_ISSUER', `token issuer ${JSON.stringify(issuer.slice(0, 200))} is not one Gatehouse trusts (trusted: ${trusted})`);
      }
      return authenticator.verify(token);
    },
  };
}

/** The `iss` a token claims, unverified: it only picks the rules that then verify the token. */
function unverifiedIssuer(token: string): string {
  if (token.length > MAX_TOKEN_LENGTH) {
    throw new GatehouseError('ERR_TOKEN_MALFORMED', `token is ${token.length} characters long; Gatehouse accepts at most ${MAX_TOKEN_LENGTH}`);
  }
  let claims: Record<string, unknown>;
  try {
    claims = decodeJwt(token);
  } catch {
    throw new GatehouseError('ERR_TOKEN_MALFORMED', 'token is not a signed JWT with a JSON claims set; Gatehouse accepts signed ID tokens (JWS) only');
  }
  const issuer = claims['iss'];
  if (typeof issuer !== 'string' || issuer === '') throw new GatehouseError('ERR_TOKEN_ISSUER', 'token has no "iss" claim naming its issuer');
  return issuer;
}
