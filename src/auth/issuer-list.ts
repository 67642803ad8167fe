/**
 * Rules that span the list of trusted issuers (pure; config.ts reports them at start-up, the
 * issuers authenticator applies `namesReservedFor`). People, pipelines and in-cluster agents
 * come in through different issuers; one issuer must never be able to name a user or group
 * of another:
 * - every issuer URL appears once (a token's `iss` picks exactly one issuer's rules);
 * - with several issuers, at most one has an empty username prefix (and one an empty groups
 *   prefix), and no user or group prefix is the start of another issuer's (each issuer owns its
 *   own names);
 * - each issuer's names may not start with another issuer's prefixes (`namesReservedFor`),
 *   so the unprefixed issuer (usually the company IdP) cannot mint `gh:repo:…`.
 */
import type { ClaimMapping } from './identity-claims.ts';

export interface IssuerNames extends Pick<ClaimMapping, 'usernamePrefix' | 'groupsPrefix' | 'reservedPrefixes'> {
  issuer: string;
}

export interface IssuerListProblem {
  /** Path in the configuration: `oidc` is the first issuer, `issuers.N` the others. */
  path: (string | number)[];
  message: string;
}

/** Where issuer `index` of the list [oidc, ...issuers] sits in the configuration. */
export function issuerPath(index: number): (string | number)[] {
  return index === 0 ? ['oidc'] : ['issuers', index - 1];
}

export function issuerListProblems(issuers: readonly IssuerNames[]): IssuerListProblem[] {
  const problems: IssuerListProblem[] = [];
  const seen = new Map<string, number>();
  issuers.forEach((entry, index) => {
    const first = seen.get(entry.issuer);
    if (first === undefined) seen.set(entry.issuer, index);
    else problems.push({ path: [...issuerPath(index), 'issuer'], message: `"${entry.issuer}" is already trusted at ${issuerPath(first).join('.')}; each issuer appears once` });
  });
  if (issuers.length < 2) return problems;
  for (const setting of ['usernamePrefix', 'groupsPrefix'] as const) {
    const unprefixed = issuers.map((entry, index) => ({ entry, index })).filter(({ entry }) => entry[setting] === '');
    for (const { index } of unprefixed.slice(1)) {
      problems.push({
        path: [...issuerPath(index), setting],
        message: `is empty, and so is ${issuerPath(unprefixed[0]?.index ?? 0).join('.')}.${setting}: with several issuers at most one may leave it empty (set e.g. "ci:" so its names cannot pass for another issuer's)`,
      });
    }
  }
  for (const setting of ['usernamePrefix', 'groupsPrefix'] as const) {
    issuers.forEach((entry, index) => {
      const own = entry[setting].toLowerCase();
      if (own === '') return;
      issuers.forEach((other, otherIndex) => {
        const theirs = other[setting].toLowerCase();
        if (otherIndex === index || theirs === '' || !theirs.startsWith(own) || (theirs === own && otherIndex < index)) return;
        problems.push({
          path: [...issuerPath(index), setting],
          message: `"${entry[setting]}" ${theirs === own ? 'is also' : 'starts'} ${issuerPath(otherIndex).join('.')}.${setting} "${other[setting]}": each issuer needs prefixes of its own`,
        });
      });
    });
  }
  return problems;
}

/** The reserved prefixes of issuer `index`: its own, plus every other issuer's user and group prefixes. */
export function namesReservedFor(issuers: readonly IssuerNames[], index: number): string[] {
  const own = issuers[index]?.reservedPrefixes ?? [];
  const others = issuers.flatMap((entry, i) => (i === index ? [] : [entry.usernamePrefix, entry.groupsPrefix])).filter((prefix) => prefix !== '');
  return [...new Set([...own, ...others])];
}
