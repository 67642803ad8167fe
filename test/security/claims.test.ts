/**
 * Adversarial identity claims, end to end: tokens validly signed by the issuer whose names or
 * groups would reach the cluster as someone else — padded with whitespace HTTP strips, carrying
 * control, bidi or invisible characters, starting with the cluster's or the cloud's reserved
 * prefixes (alone or assembled by a configured prefix), of the wrong type or absurd size. Each
 * case asserts the exact 401 Status and that the cluster received nothing; the accepted cases
 * assert exactly the impersonation headers the cluster received.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { parseConfig } from '../../src/config.ts';
import { configFromEnv } from '../../src/config-env.ts';
import { realClusterSkip, startRealCluster, type RealCluster } from '../kube/cluster.ts';
import { configProblems } from '../support/config-problems.ts';
import { refusalOf, startGatehouseUnderTest, type GatehouseUnderTest } from './gatehouse-under-test.ts';

const PODS = '/api/v1/namespaces/default/pods';
const CLUSTER = "names starting with \"system:\" are reserved for the cluster's own identities";
const CLOUD = (prefix: string): string => `names starting with "${prefix}" are reserved by oidc.reservedPrefixes (cloud and platform identities)`;
const SET_USER_PREFIX = '(set oidc.usernamePrefix to keep identity-provider names apart)';
const SET_GROUP_PREFIX = '(set oidc.groupsPrefix to keep identity-provider names apart)';
const WHITESPACE = 'has leading or trailing whitespace (HTTP would strip it on the way to the cluster)';

/** Gatehouses under test: default settings, prefixed names, a prefix that could assemble a reserved name, a custom reserved list. */
let plain: GatehouseUnderTest;
let prefixed: GatehouseUnderTest;
let assembling: GatehouseUnderTest;
let custom: GatehouseUnderTest;

before(async () => {
  [plain, prefixed, assembling, custom] = await Promise.all([
    startGatehouseUnderTest(),
    startGatehouseUnderTest({ oidc: { usernamePrefix: 'idp:', groupsPrefix: 'idp:' } }),
    startGatehouseUnderTest({ oidc: { usernamePrefix: 'sys', groupsPrefix: 'ek' } }),
    startGatehouseUnderTest({ oidc: { reservedPrefixes: ['corp-admin:'] } }),
  ]);
});
after(() => Promise.all([plain, prefixed, assembling, custom].map((g) => g.close())));

interface Refusal {
  name: string;
  gatehouse?: () => GatehouseUnderTest;
  claims: Record<string, unknown>;
  message: string;
}

const refusals: Refusal[] = [
  { name: 'refuses a user name with a leading space', claims: { email: ' alice@example.com' }, message: `token claim "email" names the user " alice@example.com", which ${WHITESPACE}` },
  { name: 'refuses a group with a trailing space', claims: { groups: ['dev '] }, message: `token claim "groups" names the group "dev ", which ${WHITESPACE}` },
  {
    name: 'refuses " system:masters", which HTTP would deliver as system:masters',
    claims: { groups: ['dev', ' system:masters'] },
    message: `token claim "groups" names the group " system:masters", which ${WHITESPACE}`,
  },
  { name: 'refuses a group padded with a non-breaking space', claims: { groups: ['dev\u00a0'] }, message: `token claim "groups" names the group "dev\u00a0", which ${WHITESPACE}` },
  {
    name: 'refuses a user name that smuggles a header line (CR LF)',
    claims: { email: 'alice@example.com\r\nImpersonate-Group: system:masters' },
    message: 'token claim "email" names the user "alice@example.com\\r\\nImpersonate-Group: system:masters", which contains a control character (U+000D) that does not print as itself',
  },
  { name: 'refuses a tab inside a group', claims: { groups: ['de\tv'] }, message: 'token claim "groups" names the group "de\\tv", which contains a control character (U+0009) that does not print as itself' },
  { name: 'refuses a NUL inside a group', claims: { groups: ['dev\u0000admins'] }, message: 'token claim "groups" names the group "dev\\u0000admins", which contains a control character (U+0000) that does not print as itself' },
  { name: 'refuses DEL inside a user name', claims: { email: 'ali\u007fce@example.com' }, message: 'token claim "email" names the user "ali\u007fce@example.com", which contains a control character (U+007F) that does not print as itself' },
  { name: 'refuses a C1 control (NEL) inside a group', claims: { groups: ['ad\u0085min'] }, message: 'token claim "groups" names the group "ad\\u0085min", which contains a C1 control character (U+0085) that does not print as itself' },
  {
    name: 'refuses a right-to-left override (U+202E) in a user name',
    claims: { email: 'alice\u202Emoc.elpmaxe@' },
    message: 'token claim "email" names the user "alice\\u202emoc.elpmaxe@", which contains a bidirectional control character (U+202E) that does not print as itself',
  },
  {
    name: 'refuses a bidi isolate (U+2066) in a group',
    claims: { groups: ['\u2066dev'] },
    message: 'token claim "groups" names the group "\\u2066dev", which contains a bidirectional control character (U+2066) that does not print as itself',
  },
  {
    name: 'refuses a zero-width space (U+200B) that makes "dev" a different group',
    claims: { groups: ['d\u200Bev'] },
    message: 'token claim "groups" names the group "d\\u200bev", which contains an invisible formatting character (U+200B) that does not print as itself',
  },
  {
    name: 'refuses a zero-width no-break space (U+FEFF) inside a name',
    claims: { email: 'alice\uFEFF@example.com' },
    message: 'token claim "email" names the user "alice\\ufeff@example.com", which contains an invisible formatting character (U+FEFF) that does not print as itself',
  },
  {
    name: 'refuses a line separator (U+2028) in a group',
    claims: { groups: ['dev\u2028ops'] },
    message: 'token claim "groups" names the group "dev\\u2028ops", which contains a line or paragraph separator (U+2028) that does not print as itself',
  },
  { name: 'refuses a lone surrogate in a group', claims: { groups: ['dev\uD800'] }, message: 'token claim "groups" names the group "dev\\ud800", which contains a lone surrogate (U+D800) that does not print as itself' },
  { name: 'refuses the group system:masters', claims: { groups: ['dev', 'system:masters'] }, message: `token claim "groups" names the group "system:masters", which is refused: ${CLUSTER} ${SET_GROUP_PREFIX}` },
  { name: 'refuses a reserved prefix in any case (SYSTEM:)', claims: { groups: ['SYSTEM:masters'] }, message: `token claim "groups" names the group "SYSTEM:masters", which is refused: ${CLUSTER} ${SET_GROUP_PREFIX}` },
  { name: 'refuses a user named like a node (system:node:…)', claims: { email: 'system:node:ip-10-0-0-1' }, message: `token claim "email" names the user "system:node:ip-10-0-0-1", which is refused: ${CLUSTER} ${SET_USER_PREFIX}` },
  { name: 'refuses the EKS user eks:addon-manager (bound to cluster-admin)', claims: { email: 'eks:addon-manager' }, message: `token claim "email" names the user "eks:addon-manager", which is refused: ${CLOUD('eks:')} ${SET_USER_PREFIX}` },
  { name: 'refuses a group starting with aws:', claims: { groups: ['aws:cluster-admins'] }, message: `token claim "groups" names the group "aws:cluster-admins", which is refused: ${CLOUD('aws:')} ${SET_GROUP_PREFIX}` },
  { name: 'refuses a group starting with amazon:', claims: { groups: ['amazon:eks-admins'] }, message: `token claim "groups" names the group "amazon:eks-admins", which is refused: ${CLOUD('amazon:')} ${SET_GROUP_PREFIX}` },
  { name: 'refuses a group starting with iam:', claims: { groups: ['IAM:root'] }, message: `token claim "groups" names the group "IAM:root", which is refused: ${CLOUD('iam:')} ${SET_GROUP_PREFIX}` },
  {
    name: 'refuses groups that are not strings',
    claims: { groups: ['dev', 7] },
    message: 'token claim "groups" must be a string or an array of non-empty strings to name groups, but is an array with a member that is not a non-empty string',
  },
  { name: 'refuses groups given as an object', claims: { groups: { admins: true } }, message: 'token claim "groups" must be a string or an array of non-empty strings to name groups, but is an object' },
  {
    name: 'refuses an empty group name in the list',
    claims: { groups: ['dev', ''] },
    message: 'token claim "groups" must be a string or an array of non-empty strings to name groups, but is an array with a member that is not a non-empty string',
  },
  { name: 'refuses a huge group list', claims: { groups: Array.from({ length: 1001 }, (_, i) => `g${i}`) }, message: 'token claim "groups" lists 1001 groups; Gatehouse accepts at most 1000' },
  {
    name: 'refuses a group name longer than any real one',
    claims: { groups: ['g'.repeat(2000)] },
    message: `token claim "groups" names the group "${'g'.repeat(100)}…", which is 2000 characters long; Gatehouse accepts at most 1024`,
  },
  { name: 'refuses a user name that is a number', claims: { email: 42 }, message: 'token claim "email" must be a non-empty string to name the user, but is the number 42' },
  {
    name: 'checks sub the same way when it names the user',
    claims: { email: undefined, sub: 'alice\r\n' },
    message: 'token claim "sub" names the user "alice\\r\\n", which has leading or trailing whitespace (HTTP would strip it on the way to the cluster)',
  },
  {
    name: 'refuses a sub with a bidi override even when the e-mail names the user (it travels as Impersonate-Uid)',
    claims: { sub: 'u-\u202Eadmin' },
    message: 'token claim "sub" "u-\\u202eadmin" has edge whitespace, unprintable characters or is too long to name the user\'s uid',
  },
  {
    name: 'checks the value before the prefix: a prefix does not hide a leading space',
    gatehouse: () => prefixed,
    claims: { groups: [' dev'] },
    message: `token claim "groups" names the group " dev", which ${WHITESPACE}`,
  },
  {
    name: 'checks the value before the prefix: a prefix does not hide a bidi override',
    gatehouse: () => prefixed,
    claims: { email: '\u202Ealice@example.com' },
    message: 'token claim "email" names the user "\\u202ealice@example.com", which contains a bidirectional control character (U+202E) that does not print as itself',
  },
  {
    name: 'checks the name after the prefix: "sys" + "tem:admin" is system:admin',
    gatehouse: () => assembling,
    claims: { email: 'tem:admin' },
    message: `token claim "email" names the user "tem:admin", which is refused (with oidc.usernamePrefix "sys": "system:admin"): ${CLUSTER}`,
  },
  {
    name: 'checks the name after the prefix: "ek" + "s:addon-manager" is eks:addon-manager',
    gatehouse: () => assembling,
    claims: { groups: ['s:addon-manager'] },
    message: `token claim "groups" names the group "s:addon-manager", which is refused (with oidc.groupsPrefix "ek": "eks:addon-manager"): ${CLOUD('eks:')}`,
  },
  {
    name: 'a configured reserved list applies in place of the default one',
    gatehouse: () => custom,
    claims: { groups: ['dev', 'corp-admin:all'] },
    message: `token claim "groups" names the group "corp-admin:all", which is refused: ${CLOUD('corp-admin:')} ${SET_GROUP_PREFIX}`,
  },
  {
    name: 'system: stays reserved whatever the configured list',
    gatehouse: () => custom,
    claims: { groups: ['dev', 'system:masters'] },
    message: `token claim "groups" names the group "system:masters", which is refused: ${CLUSTER} ${SET_GROUP_PREFIX}`,
  },
];

type Gatehouses = Record<'plain' | 'prefixed' | 'custom', GatehouseUnderTest>;
interface Accepted {
  name: string;
  gatehouse: (g: Gatehouses) => GatehouseUnderTest;
  claims: Record<string, unknown>;
  user: string;
  groups: string[];
}
/** Identities that pass, run against the recording upstream and a real kube-apiserver. */
const accepted: Accepted[] = [
  {
    name: 'a prefix keeps a reserved-looking IdP group apart: system:masters travels as idp:system:masters',
    gatehouse: (g) => g.prefixed,
    claims: { groups: ['dev', 'system:masters'] },
    user: 'idp:alice@example.com',
    groups: ['idp:dev', 'idp:system:masters'],
  },
  {
    name: 'a configured reserved list replaces the default one (eks: is then the operator\'s choice)',
    gatehouse: (g) => g.custom,
    claims: { groups: ['dev', 'eks:readers'] },
    user: 'alice@example.com',
    groups: ['dev', 'eks:readers'],
  },
  { name: 'repeated groups travel once', gatehouse: (g) => g.plain, claims: { groups: ['dev', 'dev'] }, user: 'alice@example.com', groups: ['dev'] },
  {
    name: 'printable non-ASCII names travel as UTF-8 bytes, unchanged',
    gatehouse: (g) => g.plain,
    claims: { email: 'zoë@example.com', groups: ['dev', 'développeurs'] },
    user: 'zoë@example.com',
    groups: ['dev', 'développeurs'],
  },
];

describe('adversarial identity claims', () => {
  for (const c of refusals) {
    test(c.name, async () => {
      const g = c.gatehouse?.() ?? plain;
      const before = g.upstream.calls.length;
      const answer = await g.send('GET', PODS, { authorization: `Bearer ${await g.idp.sign(c.claims)}` });
      assert.deepEqual(refusalOf(answer), { code: 401, reason: 'Unauthorized', message: c.message });
      assert.deepEqual(g.upstream.calls.slice(before), [], 'nothing reaches the cluster');
    });
  }

  for (const c of accepted) {
    test(c.name, async () => {
      const g = c.gatehouse({ plain, prefixed, custom });
      const before = g.upstream.calls.length;
      const answer = await g.send('GET', PODS, { authorization: `Bearer ${await g.idp.sign(c.claims)}` });
      assert.equal(answer.status, 200, answer.text);
      const calls = g.upstream.calls.slice(before);
      assert.equal(calls.length, 1);
      const utf8 = (value: string): string => Buffer.from(value, 'latin1').toString('utf8');
      assert.deepEqual({ user: utf8(calls[0]?.user ?? ''), groups: calls[0]?.groups.map(utf8) }, { user: c.user, groups: c.groups });
    });
  }
});


describe('accepted identities as a real kube-apiserver sees them (its audit log, its RBAC message)', { skip: realClusterSkip() }, () => {
  let cluster: RealCluster;
  let real: Gatehouses;
  before(async () => {
    cluster = await startRealCluster({ audit: true });
    const [plainReal, prefixedReal, customReal] = await Promise.all([
      startGatehouseUnderTest({ cluster }),
      startGatehouseUnderTest({ cluster, oidc: { usernamePrefix: 'idp:', groupsPrefix: 'idp:' } }),
      startGatehouseUnderTest({ cluster, oidc: { reservedPrefixes: ['corp-admin:'] } }),
    ]);
    real = { plain: plainReal, prefixed: prefixedReal, custom: customReal };
  });
  after(async () => {
    await Promise.all(Object.values(real ?? {}).map((g) => g.close()));
    await cluster?.close();
  });
  for (const c of accepted) {
    test(c.name, async () => {
      const g = c.gatehouse(real);
      const answer = await g.send('GET', PODS, { authorization: `Bearer ${await g.idp.sign(c.claims)}` });
      // Nobody here is bound to a role: the cluster refuses, naming the user as it read the header.
      assert.deepEqual(refusalOf(answer), {
        code: 403,
        reason: 'Forbidden',
        message: `pods is forbidden: User "${c.user}" cannot list resource "pods" in API group "" in the namespace "default"`,
      });
      const events = cluster.auditEvents().filter((e) => e.auditID === answer.headers['audit-id']);
      assert.deepEqual(
        events.map((e) => ({ as: e.user.username, user: e.impersonatedUser?.username, groups: e.impersonatedUser?.groups?.filter((name) => name !== 'system:authenticated') })),
        [{ as: 'gatehouse', user: c.user, groups: c.groups }],
      );
    });
  }
});

describe('prefix settings checked at start-up', () => {
  const base = { upstream: { kind: 'kubeconfig' }, policy: { file: 'policy.yaml' } };
  const oidc = { issuer: 'https://idp.example.com', audience: 'gatehouse' };
  const cases: [string, Record<string, unknown>, string[]][] = [
    ['a username prefix that is itself reserved', { usernamePrefix: 'system:' }, ['oidc.usernamePrefix: "system:" starts with the reserved prefix "system:": every name would be refused']],
    ['a groups prefix that is a cloud prefix in another case', { groupsPrefix: 'EKS:' }, ['oidc.groupsPrefix: "EKS:" starts with the reserved prefix "eks:": every name would be refused']],
    ['a prefix ending in whitespace', { usernamePrefix: 'idp: ' }, ['oidc.usernamePrefix: "idp: " must be printable text without leading or trailing whitespace']],
    ['a prefix with a bidi override', { groupsPrefix: 'idp\u202E:' }, ['oidc.groupsPrefix: "idp\\u202e:" must be printable text without leading or trailing whitespace']],
    ['an empty reserved prefix', { reservedPrefixes: ['corp:', ''] }, ['oidc.reservedPrefixes: "" must be non-empty printable text without leading or trailing whitespace']],
  ];
  for (const [name, settings, expected] of cases) {
    test(`refuses ${name}`, () => {
      assert.deepEqual(configProblems(() => parseConfig({ ...base, oidc: { ...oidc, ...settings } }, 'test')), expected);
    });
  }

  test('the reserved list defaults to eks:, aws:, amazon:, iam: and is read from GATEHOUSE_OIDC_RESERVED_PREFIXES on Lambda', () => {
    assert.deepEqual(parseConfig({ ...base, oidc }, 'test').oidc.reservedPrefixes, ['eks:', 'aws:', 'amazon:', 'iam:']);
    const env = {
      GATEHOUSE_OIDC_ISSUER: 'https://idp.example.com',
      GATEHOUSE_OIDC_AUDIENCE: 'gatehouse',
      GATEHOUSE_EKS_CLUSTER_NAME: 'prod',
      GATEHOUSE_EKS_REGION: 'eu-west-1',
      GATEHOUSE_EKS_ROLE_ARN: 'arn:aws:iam::123456789012:role/gatehouse',
      GATEHOUSE_OIDC_RESERVED_PREFIXES: 'corp-admin:, eks:',
    };
    assert.deepEqual(configFromEnv(env, { runtime: 'lambda', defaultPolicyFile: 'policy.json' }).oidc.reservedPrefixes, ['corp-admin:', 'eks:']);
  });
});
