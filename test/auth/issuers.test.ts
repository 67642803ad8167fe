/**
 * Several trusted issuers: the start-up rules across the list (config.ts, issuer-list.ts) and
 * the authenticator that picks an issuer's rules by the token's `iss` (issuers.ts), against
 * three local issuers serving their discovery documents and JWKS over HTTP.
 */
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createIssuersAuthenticator } from '../../src/auth/issuers.ts';
import { parseConfig, trustedIssuers } from '../../src/config.ts';
import { GatehouseError } from '../../src/errors.ts';
import type { Authenticator } from '../../src/ports/authenticator.ts';
import { configProblems } from '../support/config-problems.ts';
import { startIssuer, type TestIssuer } from '../functions/issuer.ts';

const base = { upstream: { kind: 'kubeconfig' }, policy: { file: 'policy.yaml' } };
const people = { issuer: 'https://idp.example.com', audience: 'gatehouse' };

describe('the list of trusted issuers at start-up', () => {
  const cases: { name: string; issuers: Record<string, unknown>[]; problems: string[] }[] = [
    {
      name: 'an issuer listed twice is a problem',
      issuers: [{ issuer: 'https://idp.example.com', audience: 'x', usernamePrefix: 'ci:', groupsPrefix: 'ci:' }],
      problems: ['issuers.0.issuer: "https://idp.example.com" is already trusted at oidc; each issuer appears once'],
    },
    {
      name: 'two issuers without a username prefix are a problem',
      issuers: [{ issuer: 'https://token.actions.githubusercontent.com', audience: 'gatehouse', groupsPrefix: 'gh:' }],
      problems: ['issuers.0.usernamePrefix: is empty, and so is oidc.usernamePrefix: with several issuers at most one may leave it empty (set e.g. "ci:" so its names cannot pass for another issuer\'s)'],
    },
    {
      name: "a prefix that starts another issuer's is a problem",
      issuers: [
        { issuer: 'https://gitlab.example.com', audience: 'gatehouse', usernamePrefix: 'ci:', groupsPrefix: 'ci:' },
        { issuer: 'https://token.actions.githubusercontent.com', audience: 'gatehouse', usernamePrefix: 'ci:gh:', groupsPrefix: 'gh:' },
      ],
      problems: ['issuers.0.usernamePrefix: "ci:" starts issuers.1.usernamePrefix "ci:gh:": each issuer needs prefixes of its own'],
    },
    {
      name: 'issuers with prefixes of their own are fine, with extra and required claims',
      issuers: [{ issuer: 'https://token.actions.githubusercontent.com', audience: 'gatehouse', usernameClaim: 'sub', usernamePrefix: 'gh:', groupsPrefix: 'gh:', extraClaims: { ref: 'ref' }, requiredClaims: { repository_owner: 'example-org' } }],
      problems: [],
    },
    {
      name: 'an extra claim key that is not a plain name is a problem',
      issuers: [{ issuer: 'https://ci.example.com', audience: 'gatehouse', usernamePrefix: 'ci:', groupsPrefix: 'ci:', extraClaims: { 'a b': 'ref' } }],
      problems: ['issuers.0.extraClaims: each key must be 1-100 letters, digits, "_", ".", ":", "/" or "-" (policies match it under claims)'],
    },
  ];
  for (const c of cases) {
    test(c.name, () => {
      assert.deepEqual(
        configProblems(() => parseConfig({ ...base, oidc: people, issuers: c.issuers }, 'test')),
        c.problems,
      );
    });
  }

  test('the single-issuer configuration is still a list of one', () => {
    assert.deepEqual(trustedIssuers(parseConfig({ ...base, oidc: people }, 'test')).map((issuer) => issuer.issuer), ['https://idp.example.com']);
  });
});

describe('verifying a token of one of three issuers', () => {
  let idp: TestIssuer;
  let ci: TestIssuer;
  let cluster: TestIssuer;
  let stranger: TestIssuer;
  let authenticator: Authenticator;

  before(async () => {
    [idp, ci, cluster, stranger] = await Promise.all([startIssuer(), startIssuer(), startIssuer(), startIssuer()]);
    const config = parseConfig(
      {
        ...base,
        oidc: { issuer: idp.issuer, audience: 'gatehouse' },
        issuers: [
          { issuer: ci.issuer, audience: 'gatehouse-ci', usernameClaim: 'sub', usernamePrefix: 'ci:', groupsPrefix: 'ci:', extraClaims: { ref: 'ref', environment: 'environment' }, requiredClaims: { repository_owner: 'example-org' } },
          { issuer: cluster.issuer, audience: 'gatehouse', usernameClaim: 'sub', usernamePrefix: 'cluster-a:', groupsPrefix: 'cluster-a:' },
        ],
      },
      'test',
    );
    authenticator = createIssuersAuthenticator(trustedIssuers(config), { log: () => undefined });
  });
  after(async () => {
    await Promise.all([idp?.close(), ci?.close(), cluster?.close(), stranger?.close()]);
  });

  const ciClaims = { sub: 'repo:example-org/deploy:ref:refs/heads/main', repository_owner: 'example-org', ref: 'refs/heads/main', environment: 'prod' };
  const accepted: { name: string; token: () => Promise<string>; user: string; groups: string[]; issuer: () => string; extra?: Record<string, string[]> }[] = [
    { name: "a person's token is mapped by the IdP's rules", token: () => idp.sign({ sub: 'u-1', email: 'alice@example.com', groups: ['dev'] }), user: 'alice@example.com', groups: ['dev'], issuer: () => idp.issuer },
    { name: "a CI token is mapped by the CI issuer's rules, with its extra claims", token: () => ci.sign(ciClaims, 'gatehouse-ci'), user: 'ci:repo:example-org/deploy:ref:refs/heads/main', groups: [], issuer: () => ci.issuer, extra: { ref: ['refs/heads/main'], environment: ['prod'] } },
    { name: "a service-account token is mapped by the cluster issuer's rules", token: () => cluster.sign({ sub: 'system:serviceaccount:agents:triage' }), user: 'cluster-a:system:serviceaccount:agents:triage', groups: [], issuer: () => cluster.issuer },
  ];
  for (const c of accepted) {
    test(c.name, async () => {
      const identity = await authenticator.verify(await c.token());
      assert.equal(identity.user, c.user);
      assert.deepEqual(identity.groups, c.groups);
      assert.equal(identity.issuer, c.issuer());
      assert.deepEqual(identity.extra, c.extra);
    });
  }

  const refused: { name: string; token: () => Promise<string>; code: string; message: RegExp }[] = [
    { name: 'a token of an issuer nobody configured', token: () => stranger.sign({ sub: 'x', email: 'm@example.com' }), code: 'ERR_TOKEN_ISSUER', message: /^token issuer "http:\/\/127\.0\.0\.1:\d+" is not one Gatehouse trusts \(trusted: "http:\/\/127\.0\.0\.1:\d+", "http:\/\/127\.0\.0\.1:\d+", "http:\/\/127\.0\.0\.1:\d+"\)$/ },
    { name: "a CI token for the people's audience", token: () => ci.sign(ciClaims, 'gatehouse'), code: 'ERR_TOKEN_AUDIENCE', message: /audience/ },
    { name: 'a CI token without the required claim', token: () => ci.sign({ ...ciClaims, repository_owner: undefined }, 'gatehouse-ci'), code: 'ERR_TOKEN_CLAIMS', message: /^token claim "repository_owner" is absent; this issuer requires "example-org"$/ },
    { name: 'a CI token with an extra claim that is not text', token: () => ci.sign({ ...ciClaims, environment: { name: 'prod' } }, 'gatehouse-ci'), code: 'ERR_TOKEN_CLAIMS', message: /^token claim "environment" \(extra "environment"\) must be a string or a list of strings, but is an object$/ },
    { name: "the IdP naming a user inside the CI issuer's prefix", token: () => idp.sign({ sub: 'u', email: 'ci:repo:example-org/deploy' }), code: 'ERR_TOKEN_CLAIMS', message: /names starting with "ci:" are reserved/ },
    { name: 'a token that is no JWT', token: async () => 'a.b', code: 'ERR_TOKEN_MALFORMED', message: /^token is not a signed JWT/ },
  ];
  for (const c of refused) {
    test(`refuses ${c.name}`, async () => {
      const error = await authenticator.verify(await c.token()).then(
        () => assert.fail('accepted'),
        (e: unknown) => e,
      );
      assert.ok(error instanceof GatehouseError);
      assert.equal(error.code, c.code);
      assert.match(error.message, c.message);
    });
  }
});
