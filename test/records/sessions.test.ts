import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { describeCall, describeDecision, describeResponse, formatReplay, formatSessionList, listSessions, replaySession } from '../../src/records/sessions.ts';
import type { SessionRecord } from '../../src/records/schema.ts';
import { parseTime } from '../../src/cli/sessions.ts';
import { aRecord } from './support.ts';

const at = (second: number): string => `2025-03-10T09:00:${String(second).padStart(2, '0')}.000Z`;

const records: SessionRecord[] = [
  aRecord({ request_id: 'r1', kubectl_session: 's1', kubectl_command: 'kubectl get', started_at: at(1), finished_at: at(1), namespace: 'payments' }),
  aRecord({ request_id: 'r2', kubectl_session: 's1', kubectl_command: 'kubectl get', started_at: at(2), finished_at: at(3), namespace: 'payments' }),
  aRecord({ request_id: 'r3', kubectl_session: 's2', user_name: 'bob@example.com', kubectl_command: 'kubectl delete', method: 'DELETE', verb: 'delete', started_at: at(5), phase: 'intent', namespace: 'prod' }),
  aRecord({ request_id: 'r3', kubectl_session: 's2', user_name: 'bob@example.com', kubectl_command: 'kubectl delete', method: 'DELETE', verb: 'delete', started_at: at(5), finished_at: at(6), namespace: 'prod' }),
  aRecord({ request_id: 'r4', kubectl_session: 's2', user_name: 'bob@example.com', kubectl_command: 'kubectl delete', method: 'DELETE', verb: 'delete', started_at: at(7), phase: 'intent', namespace: 'prod' }),
  aRecord({ request_id: 'r5', kubectl_session: null, user_name: null, user_groups: null, started_at: at(9), status_code: 401, error_code: 'ERR_TOKEN_MISSING', error_message: 'no bearer token', decision: null }),
];

describe('listSessions', () => {
  const cases: { name: string; filter: Parameters<typeof listSessions>[1]; expected: [string, string | null, number, number, number][] }[] = [
    { name: 'lists every session oldest first, a call without Kubectl-Session as its own', filter: {}, expected: [['s1', 'alice@example.com', 2, 0, 0], ['s2', 'bob@example.com', 2, 2, 0], ['call-r5', null, 1, 0, 1]] },
    { name: 'keeps the sessions of one user', filter: { user: 'bob@example.com' }, expected: [['s2', 'bob@example.com', 2, 2, 0]] },
    { name: 'keeps the sessions that touched a namespace', filter: { namespace: 'payments' }, expected: [['s1', 'alice@example.com', 2, 0, 0]] },
    { name: 'keeps calls in the time window only', filter: { since: at(2), until: at(5) }, expected: [['s1', 'alice@example.com', 1, 0, 0], ['s2', 'bob@example.com', 1, 1, 0]] },
  ];
  for (const c of cases) {
    test(c.name, () => {
      assert.deepEqual(
        listSessions(records, c.filter).map((s) => [s.sessionId, s.user, s.calls, s.changes, s.refused]),
        c.expected,
      );
    });
  }
});

describe('replaySession', () => {
  test('replays one entry per call in order, an intent without outcome marked unfinished', () => {
    const replay = replaySession(records, 's2');
    assert.equal(replay.length, 1);
    assert.deepEqual(
      replay[0]?.commands.map((command) => [command.command, command.calls.map((call) => [call.record.request_id, call.record.phase, call.unfinished])]),
      [['kubectl delete', [['r3', 'outcome', false], ['r4', 'intent', true]]]],
    );
  });
});

describe('sessions are per user: a session id is only what the client claims', () => {
  // Mallory sends Alice's session id and a harmless-looking command line with her DELETE.
  const forged: SessionRecord[] = [
    aRecord({ request_id: 'a1', kubectl_session: 'shared', kubectl_command: 'kubectl get', started_at: at(1), finished_at: at(1) }),
    aRecord({ request_id: 'm1', kubectl_session: 'shared', kubectl_command: 'kubectl get', user_name: 'mallory@example.com', user_groups: ['ops'], method: 'DELETE', verb: 'delete', resource: 'namespaces', object_name: 'prod', started_at: at(2), finished_at: at(2) }),
    aRecord({ request_id: 'a2', kubectl_session: 'shared', kubectl_command: 'kubectl get', started_at: at(3), finished_at: at(3) }),
  ];
  test('lists one session per user under a shared session id', () => {
    assert.deepEqual(listSessions(forged).map((s) => [s.sessionId, s.user, s.calls, s.changes]), [['shared', 'alice@example.com', 2, 0], ['shared', 'mallory@example.com', 1, 1]]);
  });
  test("replays another user's call apart, never inside the session it claims", () => {
    const replay = replaySession(forged, 'shared');
    assert.deepEqual(replay.map((s) => [s.user, s.commands.flatMap((c) => c.calls.map((call) => call.record.request_id))]), [['alice@example.com', ['a1', 'a2']], ['mallory@example.com', ['m1']]]);
  });
  test('--user keeps one user of a shared session id', () => {
    assert.deepEqual(replaySession(forged, 'shared', 'mallory@example.com').map((s) => s.user), ['mallory@example.com']);
  });
  test('the text says the id was shared, and every call line names its user', () => {
    const text = formatReplay('shared', replaySession(forged, 'shared'));
    assert.match(text, /^session id shared was sent by 2 different users \(alice@example\.com, mallory@example\.com\); each one's calls are shown apart\n/);
    assert.match(text, /\n {2}09:00:02\.000 {2}mallory@example\.com {2}delete namespaces prod -n default\n/);
    assert.match(text, /\n {2}09:00:01\.000 {2}alice@example\.com {2}list pods -n default\n/);
    assert.match(text, /the session id and the \$ command lines are what the client sent; the user is who signed in/);
  });
});

describe('replay output cannot attack the terminal', () => {
  const ESC = '\x1b';
  const hostile: SessionRecord[] = [
    aRecord({
      request_id: 'h1',
      kubectl_session: `s${ESC}[2J`,
      kubectl_command: `kubectl get${ESC}]52;c;Y3VybCBldmlsLnNofHNo${'\x07'}`,
      user_agent: `kubectl${'\u009b'}31m`,
      query: `fieldSelector=metadata.name%3D${ESC}[1A`,
      object_name: `web${'\u202e'}txt.exe`,
      namespace: `prod${'\u2066'}`,
      error_code: 'ERR_X',
      status_code: 400,
      error_message: `bad ${ESC}[1A${ESC}[2K overwritten\rline`,
      request_body: `{"note":"${'\u200b'}hidden"}`,
      response_body: `log line 1\n${ESC}[2Jlog line 2${'\u2028'}`,
      started_at: at(1),
      finished_at: at(1),
    }),
  ];
  const unsafe = /(?![\n])[\p{Cc}\p{Cf}\p{Zl}\p{Zp}]/u;
  test('formatReplay escapes C0/C1 controls, bidi and invisible characters in every field', () => {
    const text = formatReplay(`s${ESC}[2J`, replaySession(hostile, `s${ESC}[2J`), { bodies: true });
    assert.doesNotMatch(text, unsafe);
    assert.match(text, /\\x1b\]52;c;/);
    assert.match(text, /web\\u202etxt\.exe/);
    assert.match(text, /overwritten\\x0dline/);
  });
  test('formatSessionList escapes them too', () => {
    assert.doesNotMatch(formatSessionList(listSessions(hostile)), unsafe);
  });
});

describe('call descriptions', () => {
  const cases: { name: string; record: SessionRecord; call: string; decision: string; response: string }[] = [
    {
      name: 'a list of pods',
      record: aRecord(),
      call: 'list pods -n default',
      decision: 'allow (read-all)',
      response: '200 PodList: 0 items',
    },
    {
      name: 'an approved delete',
      record: aRecord({ verb: 'delete', resource: 'namespaces', object_name: 'prod', namespace: 'prod', decision: 'review', policy_rule: 'ns-deletes', approval_status: 'approved', approver: 'lead@example.com', approval_id: 'a1', response_body: '{"kind":"Namespace","metadata":{"name":"prod"}}' }),
      call: 'delete namespaces prod -n prod',
      decision: 'review (ns-deletes) → approved by lead@example.com [approval a1]',
      response: '200 Namespace prod',
    },
    {
      name: 'a delete that used its one-shot grant',
      record: aRecord({ verb: 'delete', resource: 'namespaces', object_name: 'prod', namespace: 'prod', decision: 'review', policy_rule: 'ns-deletes', approval_status: 'consumed', approver: 'lead@example.com', approval_id: 'a1', response_body: '{"kind":"Namespace","metadata":{"name":"prod"}}' }),
      call: 'delete namespaces prod -n prod',
      decision: 'review (ns-deletes) → approved by lead@example.com, grant used [approval a1]',
      response: '200 Namespace prod',
    },
    {
      name: 'a denied call',
      record: aRecord({ decision: 'deny', policy_rule: null, status_code: 403, upstream_status: null, error_code: 'ERR_POLICY_DENIED', error_message: 'user "a" may not list pods: no rule allows it (default deny)' }),
      call: 'list pods -n default',
      decision: 'deny (default deny)',
      response: '403 ERR_POLICY_DENIED: user "a" may not list pods: no rule allows it (default deny)',
    },
    {
      name: 'a watch the client ended',
      record: aRecord({ verb: 'watch', resource: 'secrets', stream_end: 'client_gone', response_body_bytes: 900, response_body: '{"type":"ADDED","object":{"kind":"Secret","metadata":{"name":"a","namespace":"default"}}}\n{"type":"DELETED","object":{"kind":"Secret","metadata":{"name":"b","namespace":"default"}}}' }),
      call: 'watch secrets -n default',
      decision: 'allow (read-all)',
      response: '200 2 watch events: ADDED default/a, DELETED default/b — 900 bytes, ended: client_gone',
    },
    {
      name: 'a break-glass read of a non-resource URL',
      record: aRecord({ is_resource_request: false, verb: 'get', path: '/version', unmasked_grant: true, response_body: '[not recorded: x]' }),
      call: 'get /version',
      decision: 'allow (read-all) UNMASKED (break-glass)',
      response: '200 [not recorded: x]',
    },
  ];
  for (const c of cases) {
    test(`describes ${c.name}`, () => {
      assert.equal(describeCall(c.record), c.call);
      assert.equal(describeDecision(c.record), c.decision);
      assert.equal(describeResponse(c.record), c.response);
    });
  }
});

describe('parseTime', () => {
  const now = Date.parse('2025-03-10T12:00:00.000Z');
  const cases: [string, string | undefined][] = [
    ['7d', '2025-03-03T12:00:00.000Z'],
    ['30m', '2025-03-10T11:30:00.000Z'],
    ['2025-03-01', '2025-03-01T00:00:00.000Z'],
    ['2025-03-01T08:15:00+01:00', '2025-03-01T07:15:00.000Z'],
    ['yesterday', undefined],
  ];
  for (const [input, expected] of cases) {
    test(`reads "${input}" as ${expected ?? 'unreadable'}`, () => {
      assert.equal(parseTime(input, now), expected);
    });
  }
});
