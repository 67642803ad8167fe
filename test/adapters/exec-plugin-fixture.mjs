#!/usr/bin/env node
// A kubeconfig exec credential plugin for the tests. Every run appends one JSON line to
// $PLUGIN_LOG (its args, KUBERNETES_EXEC_INFO and $PLUGIN_EXTRA, which the kubeconfig's env
// sets) and answers by $PLUGIN_MODE:
//   token   an ExecCredential ($PLUGIN_API_VERSION, default v1) whose token is the next of
//           $PLUGIN_TOKENS (comma-separated; the last one repeats), or "run-<n>"; expiring at
//           $PLUGIN_EXPIRES when set;
//   cert    a client certificate and key instead of a token;
//   fail    "no credentials: run aws sso login" on stderr, exit status 3;
//   garbage "hello" on stdout.
import { appendFileSync, existsSync, readFileSync } from 'node:fs';

const log = process.env.PLUGIN_LOG ?? '';
const runs = log !== '' && existsSync(log) ? readFileSync(log, 'utf8').split('\n').filter((l) => l !== '').length : 0;
if (log !== '') {
  const info = process.env.KUBERNETES_EXEC_INFO === undefined ? null : JSON.parse(process.env.KUBERNETES_EXEC_INFO);
  appendFileSync(log, `${JSON.stringify({ args: process.argv.slice(2), info, extra: process.env.PLUGIN_EXTRA ?? null })}\n`);
}
const apiVersion = process.env.PLUGIN_API_VERSION ?? 'client.authentication.k8s.io/v1';
const expires = process.env.PLUGIN_EXPIRES;
const status = {};
switch (process.env.PLUGIN_MODE ?? 'token') {
  case 'fail':
    process.stderr.write('no credentials: run aws sso login\n');
    process.exit(3);
    break;
  case 'garbage':
    process.stdout.write('hello\n');
    process.exit(0);
    break;
  case 'cert':
    status.clientCertificateData = '-----BEGIN CERTIFICATE-----\nPLUGIN\n-----END CERTIFICATE-----\n';
    status.clientKeyData = '-----BEGIN PRIVATE KEY-----\nPLUGIN\n-----END PRIVATE KEY-----\n';
    break;
  default: {
    const tokens = (process.env.PLUGIN_TOKENS ?? '').split(',').filter((t) => t !== '');
    status.token = tokens.length === 0 ? `run-${runs + 1}` : tokens[Math.min(runs, tokens.length - 1)];
  }
}
if (expires !== undefined) status.expirationTimestamp = expires;
process.stdout.write(JSON.stringify({ apiVersion, kind: 'ExecCredential', spec: {}, status }));
