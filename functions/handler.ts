/**
 * AWS Lambda entry point (Function URL, invoke mode RESPONSE_STREAM).
 *
 * Cold start, once: configuration from the environment (validated, every problem at once —
 * a misconfigured function fails its init and logs why, it never serves), then the app's
 * dependencies (OIDC verifier with its remote JWKS, policy, STS/EKS clients) at module
 * scope via top-level await. Building them does no network I/O — the JWKS, role
 * credentials and cluster endpoint are fetched on first use and cached — so init stays fast.
 * The policy is the `policy.json` the CDK stack converts from the policy YAML at synth and
 * bundles next to this file (infra/lambda-bundle.ts): parsing YAML was most of a cold start.
 * Logs and metrics go through Powertools for AWS Lambda (logger, metrics: functions/call-metrics.ts).
 *
 * After each invocation and at shutdown (SIGTERM): functions/invocation-end.ts (records, stream
 * leases). A Function URL invocation is one call, so records written at the end of each made one
 * S3 object per call; `records.carryOverSeconds` lets read records wait across invocations
 * (records of intent stay synchronous: no mutation reaches the cluster unrecorded).
 */
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createApp } from '../src/app.ts';
import { createDepsFromConfig } from '../src/compose.ts';
import { configFromEnv } from '../src/config-env.ts';
import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics } from '@aws-lambda-powertools/metrics';
import { createLambdaHandler } from './lambda-handler.ts';
import { recordCallMetrics } from './call-metrics.ts';
import { invocationEnd } from './invocation-end.ts';

const config = configFromEnv(process.env, {
  runtime: 'lambda',
  defaultPolicyFile: join(dirname(fileURLToPath(import.meta.url)), 'policy.json'),
});
const deps = await createDepsFromConfig(config);
const app = createApp(deps);

// Powertools: structured JSON logs, and CloudWatch metrics as EMF log lines (no API call, no
// permission): the namespace comes from POWERTOOLS_METRICS_NAMESPACE, which the stack sets.
const logger = new Logger({ serviceName: 'gatehouse' });
const metrics = new Metrics({ serviceName: 'gatehouse', namespace: process.env.POWERTOOLS_METRICS_NAMESPACE ?? 'Gatehouse' });

const end = invocationEnd(deps);
// Records carried over between invocations are written before the environment goes away;
// then SIGTERM, without this listener, ends the process as it would have. (Not process.exit:
// it waits for the runtime client's pending native `next` call, which never returns now.)
process.once('SIGTERM', () => {
  void end.atShutdown().finally(() => process.kill(process.pid, 'SIGTERM'));
});

export const handler = createLambdaHandler(app, {
  afterResponse: async () => {
    await end.afterInvocation();
    metrics.publishStoredMetrics();
  },
  log: (event) => logger.warn(String(event.message ?? 'gatehouse'), event),
  observe: (call) => recordCallMetrics(metrics, call),
  deadlineMarginMs: config.lambda.deadlineMarginSeconds * 1000,
  ...(config.lambda.maxStreamSeconds === undefined ? {} : { maxStreamMs: config.lambda.maxStreamSeconds * 1000 }),
});
