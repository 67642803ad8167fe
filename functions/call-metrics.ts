/**
 * The CloudWatch metrics of each call, through Powertools for AWS Lambda (embedded metric
 * format: published as one log line per invocation, after the response). Counts, all:
 * `Calls`; `ServerErrors` (5xx: the cluster, STS or Gatehouse failed); `Refused` (by the
 * adapter, before the app: payload limits, bad events); `StreamsEndedAtTimeLimit` (watches
 * and `logs -f` Gatehouse ended before the deadline); `ClientGone`; `BrokenResponses` (the body
 * failed after the status went out).
 */
import { MetricUnit, type Metrics } from '@aws-lambda-powertools/metrics';
import type { CallObservation } from './lambda-handler.ts';

const BY_END: Partial<Record<CallObservation['ended'], string>> = {
  refused: 'Refused',
  time_limit: 'StreamsEndedAtTimeLimit',
  client_gone: 'ClientGone',
  broken: 'BrokenResponses',
};

export function recordCallMetrics(metrics: Metrics, call: CallObservation): void {
  metrics.addMetric('Calls', MetricUnit.Count, 1);
  if (call.statusCode >= 500) metrics.addMetric('ServerErrors', MetricUnit.Count, 1);
  const byEnd = BY_END[call.ended];
  if (byEnd !== undefined) metrics.addMetric(byEnd, MetricUnit.Count, 1);
}
