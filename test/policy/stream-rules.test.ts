/**
 * Policy on what a stream runs (src/policy/stream-match.ts): exec argv (`commands`, `shells`),
 * the container (`containers`) and port-forward ports (`ports`), decided on exec, attach and
 * port-forward requests as kubectl sends them; and the file problems of those fields.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { compilePolicy, parsePolicy } from '../../src/policy/policy-file.ts';
import { classifyRequest } from '../../src/request-info.ts';
import type { Identity, KubeRequest } from '../../src/types.ts';
import { configProblems } from '../support/config-problems.ts';

const alice: Identity = { user: 'alice@example.com', groups: ['dev'], claims: {} };

const RULES = `
  - name: no-rm
    effect: deny
    resources: [pods/exec]
    commands: [[rm, "..."], [shred, "..."]]
    reason: "files are not removed by hand"
  - name: shells-need-review
    effect: review
    resources: [pods/exec]
    shells: true
    review: { approvers: [lead@example.com] }
  - name: sidecars-are-off-limits
    effect: deny
    resources: [pods/exec, pods/attach]
    containers: [istio-*]
  - name: read-only-commands
    effect: allow
    resources: [pods/exec]
    commands: [[ls, "..."], [cat, "/etc/*"], [tar, cf, "-", "*"], [env]]
  - name: attach-to-app
    effect: allow
    resources: [pods/attach]
    containers: [app]
  - name: database-port-needs-review
    effect: review
    resources: [pods/portforward]
    ports: [5432]
    review: { approvers: [lead@example.com] }
  - name: ssh-port-never
    effect: deny
    resources: [pods/portforward]
    ports: [22]
  - name: web-ports
    effect: allow
    resources: [pods/portforward]
    ports: [8080, 8443]
`;

const engine = compilePolicy(parsePolicy(`apiVersion: gatehouse/v1\nrules:\n${RULES}`, 'streams.yaml'));

function exec(argv: string[], container = 'app', extra = ''): KubeRequest {
  const query = [...argv.map((a) => `command=${encodeURIComponent(a)}`), ...(container === '' ? [] : [`container=${container}`]), 'stdout=true', 'stderr=true'].join('&') + extra;
  return classifyRequest('POST', '/api/v1/namespaces/prod/pods/web-1/exec', query, { runtime: 'node' });
}

function attach(container: string): KubeRequest {
  return classifyRequest('POST', '/api/v1/namespaces/prod/pods/web-1/attach', `container=${container}&stdin=true&stdout=true&tty=true`, { runtime: 'node' });
}

function portForward(ports: number[]): KubeRequest {
  const request = classifyRequest('POST', '/api/v1/namespaces/prod/pods/db-0/portforward', '', { runtime: 'node' });
  const stream = request.stream;
  assert.ok(stream !== undefined);
  return { ...request, stream: { ...stream, ports } };
}

const cases: { name: string; request: KubeRequest; effect: 'allow' | 'deny' | 'review'; rule: string | null }[] = [
  { name: 'allows ls with any arguments', request: exec(['ls', '-la', '/var/log']), effect: 'allow', rule: 'read-only-commands' },
  { name: 'allows ls with no arguments ("..." may be none)', request: exec(['ls']), effect: 'allow', rule: 'read-only-commands' },
  { name: 'allows cat of one file under /etc', request: exec(['cat', '/etc/os-release']), effect: 'allow', rule: 'read-only-commands' },
  { name: 'refuses cat of two files: the pattern has exactly two arguments', request: exec(['cat', '/etc/os-release', '/etc/shadow2']), effect: 'deny', rule: null },
  { name: 'refuses cat outside /etc', request: exec(['cat', '/var/run/secrets/token']), effect: 'deny', rule: null },
  { name: 'allows the tar kubectl cp runs to copy out', request: exec(['tar', 'cf', '-', '/tmp/report.csv']), effect: 'allow', rule: 'read-only-commands' },
  { name: 'refuses the tar kubectl cp runs to copy in (not listed)', request: exec(['tar', '-xmf', '-', '-C', '/tmp']), effect: 'deny', rule: null },
  { name: 'allows env exactly, with no arguments', request: exec(['env']), effect: 'allow', rule: 'read-only-commands' },
  { name: 'does not let an allowed program name widen to a path: /tmp/x/ls is not ls', request: exec(['/tmp/x/ls']), effect: 'deny', rule: null },
  { name: 'denies rm with any arguments, naming the rule', request: exec(['rm', '-rf', '/data']), effect: 'deny', rule: 'no-rm' },
  { name: 'denies /bin/rm too: deny rules match the base name of the program', request: exec(['/bin/rm', '-rf', '/data']), effect: 'deny', rule: 'no-rm' },
  { name: 'sends sh to review', request: exec(['sh']), effect: 'review', rule: 'shells-need-review' },
  { name: 'sends /bin/bash to review', request: exec(['/bin/bash']), effect: 'review', rule: 'shells-need-review' },
  { name: 'sends sh -c to review: a shell runs whatever its script says', request: exec(['sh', '-c', 'ls /']), effect: 'review', rule: 'shells-need-review' },
  { name: 'sends zsh to review', request: exec(['zsh']), effect: 'review', rule: 'shells-need-review' },
  { name: 'sends busybox sh to review', request: exec(['busybox', 'sh']), effect: 'review', rule: 'shells-need-review' },
  { name: 'sends env bash to review', request: exec(['env', 'bash']), effect: 'review', rule: 'shells-need-review' },
  { name: 'of two deny rules, the first in file order names the refusal (rm in a sidecar)', request: exec(['rm', 'x'], 'istio-proxy'), effect: 'deny', rule: 'no-rm' },
  { name: 'denies anything in a sidecar container', request: exec(['ls'], 'istio-proxy'), effect: 'deny', rule: 'sidecars-are-off-limits' },
  { name: 'denies an exec naming no container when a deny rule lists containers (fail closed)', request: exec(['ls'], ''), effect: 'deny', rule: 'sidecars-are-off-limits' },
  { name: 'allows attach to the app container', request: attach('app'), effect: 'allow', rule: 'attach-to-app' },
  { name: 'denies attach to a sidecar', request: attach('istio-proxy'), effect: 'deny', rule: 'sidecars-are-off-limits' },
  { name: 'refuses attach to another container: the allow rule names only app', request: attach('worker'), effect: 'deny', rule: null },
  { name: 'allows forwarding a web port', request: portForward([8080]), effect: 'allow', rule: 'web-ports' },
  { name: 'allows forwarding both web ports', request: portForward([8080, 8443]), effect: 'allow', rule: 'web-ports' },
  { name: 'refuses forwarding a web port with an unlisted one: allow needs every port listed', request: portForward([8080, 9000]), effect: 'deny', rule: null },
  { name: 'sends the database port to review', request: portForward([5432]), effect: 'review', rule: 'database-port-needs-review' },
  { name: 'denies the ssh port', request: portForward([22]), effect: 'deny', rule: 'ssh-port-never' },
  { name: 'asks for review up front when a SPDY upgrade names no port yet (each stream is decided again)', request: portForward([]), effect: 'review', rule: 'database-port-needs-review' },
];

describe('stream rules decide exec argv, containers and ports', () => {
  for (const c of cases) {
    test(c.name, () => {
      const decision = engine.decide(alice, c.request);
      assert.equal(decision.effect, c.effect, decision.reason);
      assert.equal(decision.rule, c.rule, decision.reason);
    });
  }

  test('a deny names the rule and its reason', () => {
    assert.equal(engine.decide(alice, exec(['rm', '-rf', '/'])).reason, 'denied by rule "no-rm" (files are not removed by hand)');
  });

  test('the exec command is read from the query as the API server reads it: repeated command values in order, + as a space', () => {
    const request = classifyRequest('GET', '/api/v1/namespaces/prod/pods/web-1/exec', 'command=echo&command=a+b%20c&container=app&tty=1&stdin=false', { runtime: 'node' });
    assert.deepEqual(request.stream, { kind: 'exec', command: ['echo', 'a b c'], container: 'app', stdin: false, tty: true, ports: [] });
  });

  test('a port-forward port that is not a port is refused as the API server would', () => {
    assert.throws(
      () => classifyRequest('GET', '/api/v1/namespaces/prod/pods/db-0/portforward', 'ports=5432,http', { runtime: 'node' }),
      (error: Error & { code?: string }) => error.code === 'ERR_REQUEST_INVALID' && error.message === 'port-forward port "http" is not a port (1-65535)',
    );
  });
});

describe('stream rule fields in the policy file', () => {
  const problemCases: { name: string; rule: string; problems: string[] }[] = [
    {
      name: 'commands apply to pods/exec only',
      rule: '{ name: r, effect: allow, resources: [pods/exec, pods/log], commands: [[ls]] }',
      problems: ['rules[0].commands: applies only to pods/exec; list only it in resources (got ["pods/exec","pods/log"])'],
    },
    {
      name: '"..." may only end a command pattern',
      rule: '{ name: r, effect: allow, resources: [pods/exec], commands: [[ls, "...", "-l"]] }',
      problems: ['rules[0].commands[0]: "..." may only end a command pattern'],
    },
    {
      name: 'a command pattern starts with the program',
      rule: '{ name: r, effect: allow, resources: [pods/exec], commands: [["..."]] }',
      problems: ['rules[0].commands[0]: must start with the program (exact, a prefix ending in "*", or "*")'],
    },
    {
      name: 'shells is true or left out',
      rule: '{ name: r, effect: review, resources: [pods/exec], shells: false, review: { approvers: [a@example.com] } }',
      problems: ['rules[0].shells: must be true (leave it out to match any command)'],
    },
    {
      name: 'ports are ports, on pods/portforward only',
      rule: '{ name: r, effect: allow, resources: [pods/exec], ports: [0] }',
      problems: ['rules[0].ports[0]: must be a port (1-65535)', 'rules[0].ports: applies only to pods/portforward; list only it in resources (got ["pods/exec"])'],
    },
    {
      name: 'containers apply to exec and attach',
      rule: '{ name: r, effect: deny, resources: ["*"], containers: [app] }',
      problems: ['rules[0].containers: applies only to pods/exec and pods/attach; list only them in resources (got ["*"])'],
    },
  ];
  for (const c of problemCases) {
    test(`refuses a policy where ${c.name}`, () => {
      const problems = configProblems(() => parsePolicy(`apiVersion: gatehouse/v1\nrules:\n  - ${c.rule}\n`, 'streams.yaml'));
      assert.deepEqual(problems.map((p) => p.replace(/ \(line \d+\)/, '')), c.problems);
    });
  }
});
