/**
 * GatehouseMonitoring — what tells an operator that Gatehouse is in trouble, added to the
 * stack with one line:
 *
 * - alarms, each notifying one SNS topic (yours, `alarmTopicArn`, or one the stack creates:
 *   TLS only, encrypted with the AWS-managed SNS key):
 *   - session records failing to reach S3 (`"component":"records"` error lines in the
 *     function's log: records_flush_failed, records_lost_at_close, …, counted by a metric
 *     filter) — a record that is not written is the one thing Gatehouse promises never happens;
 *   - 5xx answers at the Function URL (`Url5xxCount`): the cluster, STS or the function failing;
 *   - throttles: calls refused because the reserved concurrency is in use (open watches hold it);
 *   - invocations that hit the function timeout ("Task timed out" in the log), which the
 *     adapter's own time limit should make impossible: one means records may be lost;
 * - a dashboard with those metrics, invocations, duration, concurrency, and how calls ended
 *   (the function's own Powertools metrics: calls, 5xx, refusals, streams ended at the time
 *   limit, clients gone, broken responses).
 *
 * Names are left to CloudFormation (no fixed names: several stacks live side by side).
 */
import { Duration, Stack } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as actions from 'aws-cdk-lib/aws-cloudwatch-actions';
import * as kms from 'aws-cdk-lib/aws-kms';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as sns from 'aws-cdk-lib/aws-sns';
import { Construct } from 'constructs';

/** Gatehouse's own metrics — from its log lines, and Powertools' (functions/call-metrics.ts) — are in `Gatehouse/<stack name>`. */
export const METRIC_NAMESPACE = 'Gatehouse';

export function metricsNamespace(stackName: string): string {
  return `${METRIC_NAMESPACE}/${stackName}`;
}

export interface GatehouseMonitoringProps {
  fn: lambda.Function;
  logGroup: logs.ILogGroup;
  /** An existing topic to notify (e.g. one your on-call tooling subscribes to); default: a new topic. */
  alarmTopicArn?: string;
}

export class GatehouseMonitoring extends Construct {
  readonly topic: sns.ITopic;
  readonly alarms: cloudwatch.Alarm[];
  readonly dashboard: cloudwatch.Dashboard;

  constructor(scope: Construct, id: string, props: GatehouseMonitoringProps) {
    super(scope, id);
    const { fn, logGroup } = props;
    this.topic =
      props.alarmTopicArn === undefined
        ? new sns.Topic(this, 'AlarmTopic', {
            displayName: 'Gatehouse alarms',
            enforceSSL: true,
            masterKey: kms.Alias.fromAliasName(this, 'SnsKey', 'alias/aws/sns'),
          })
        : sns.Topic.fromTopicArn(this, 'AlarmTopic', props.alarmTopicArn);

    const dimensionsMap = { FunctionName: fn.functionName };
    // A metric filter's dimensions must come from the log line, so each stack counts in a namespace of its own.
    const namespace = metricsNamespace(Stack.of(this).stackName);
    const recordsErrors = recordsErrorMetric(this, logGroup, namespace);
    const timeouts = timeoutMetric(this, logGroup, namespace);
    const url5xx = new cloudwatch.Metric({ namespace: 'AWS/Lambda', metricName: 'Url5xxCount', dimensionsMap, period: Duration.minutes(5), statistic: 'Sum' });
    const throttles = fn.metricThrottles({ period: Duration.minutes(5), statistic: 'Sum' });

    this.alarms = [
      this.alarm('RecordsFlushFailures', recordsErrors, 'Session records could not be written to S3 (see "component":"records" lines in the function log)'),
      this.alarm('Url5xx', url5xx, 'The Function URL answered 5xx (the cluster, STS or the function failed)', 5),
      this.alarm('Throttles', throttles, 'Calls were throttled: the reserved concurrency is in use (open watches hold it)'),
      this.alarm('Timeouts', timeouts, 'An invocation hit the function timeout: its session record may be lost'),
    ];

    const wide = { width: 12, height: 6 };
    this.dashboard = new cloudwatch.Dashboard(this, 'Dashboard');
    this.dashboard.addWidgets(
      new cloudwatch.GraphWidget({ title: 'Calls', left: [fn.metricInvocations({ period: Duration.minutes(5) }), url5xx, new cloudwatch.Metric({ namespace: 'AWS/Lambda', metricName: 'Url4xxCount', dimensionsMap, period: Duration.minutes(5), statistic: 'Sum' })], ...wide }),
      new cloudwatch.GraphWidget({ title: 'Duration (streams run long)', left: [fn.metricDuration({ statistic: 'p50' }), fn.metricDuration({ statistic: 'p99' })], ...wide }),
      new cloudwatch.GraphWidget({
        title: 'Concurrency and throttles',
        left: [new cloudwatch.Metric({ namespace: 'AWS/Lambda', metricName: 'ConcurrentExecutions', dimensionsMap, statistic: 'Maximum' })],
        right: [throttles],
        ...wide,
      }),
      new cloudwatch.GraphWidget({ title: 'Records not written, timeouts', left: [recordsErrors, timeouts], ...wide }),
      new cloudwatch.GraphWidget({
        title: 'How calls ended (Powertools metrics)',
        left: ['Calls', 'ServerErrors', 'Refused', 'StreamsEndedAtTimeLimit', 'ClientGone', 'BrokenResponses'].map(
          (metricName) => new cloudwatch.Metric({ namespace, metricName, dimensionsMap: { service: 'gatehouse' }, period: Duration.minutes(5), statistic: 'Sum' }),
        ),
        width: 24,
        height: 6,
      }),
      new cloudwatch.AlarmStatusWidget({ title: 'Alarms', alarms: this.alarms, width: 24, height: 3 }),
    );
  }

  private alarm(id: string, metric: cloudwatch.IMetric, description: string, threshold = 1): cloudwatch.Alarm {
    const alarm = new cloudwatch.Alarm(this, id, {
      metric,
      threshold,
      evaluationPeriods: 1,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      alarmDescription: description,
    });
    alarm.addAlarmAction(new actions.SnsAction(this.topic));
    return alarm;
  }
}

/** Error lines of the records sink (src/records/sink.ts writes `{"component":"records","level":"error",…}`). */
function recordsErrorMetric(scope: Construct, logGroup: logs.ILogGroup, namespace: string): cloudwatch.Metric {
  new logs.MetricFilter(scope, 'RecordsErrorsFilter', {
    logGroup,
    filterPattern: logs.FilterPattern.all(logs.FilterPattern.stringValue('$.component', '=', 'records'), logs.FilterPattern.stringValue('$.level', '=', 'error')),
    metricNamespace: namespace,
    metricName: 'RecordsErrors',
    metricValue: '1',
    defaultValue: 0,
  });
  return new cloudwatch.Metric({ namespace, metricName: 'RecordsErrors', period: Duration.minutes(5), statistic: 'Sum' });
}

/** The runtime's "Task timed out after N seconds" line: the invocation was stopped at the timeout. */
function timeoutMetric(scope: Construct, logGroup: logs.ILogGroup, namespace: string): cloudwatch.Metric {
  new logs.MetricFilter(scope, 'TimeoutsFilter', {
    logGroup,
    filterPattern: logs.FilterPattern.allTerms('Task timed out'),
    metricNamespace: namespace,
    metricName: 'Timeouts',
    metricValue: '1',
    defaultValue: 0,
  });
  return new cloudwatch.Metric({ namespace, metricName: 'Timeouts', period: Duration.minutes(5), statistic: 'Sum' });
}
