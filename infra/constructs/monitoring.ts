import { Duration } from 'aws-cdk-lib';
import type * as apigwv2 from 'aws-cdk-lib/aws-apigatewayv2';
import * as cw from 'aws-cdk-lib/aws-cloudwatch';
import * as cwActions from 'aws-cdk-lib/aws-cloudwatch-actions';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as subscriptions from 'aws-cdk-lib/aws-sns-subscriptions';
import { Construct } from 'constructs';
import { pascal } from '../names.js';
import type { StageConfig } from '../stages.js';

/**
 * The metric contract with the code (EMF lines, shared/runtime/metrics.ts). The code adds a `service`
 * dimension to every metric; the stack sets POWERTOOLS_SERVICE_NAME and POWERTOOLS_METRICS_NAMESPACE on
 * every function so that code which does not override them emits exactly these dimension sets.
 */
export const METRICS = {
  namespace: 'AnafBroker',
  service: 'anaf-broker',
  refreshFailed: 'RefreshFailed',
  refreshed: 'Refreshed',
  reauthRequired: 'ReauthRequired',
  expiring: 'Expiring',
  sweepStoppedEarly: 'SweepStoppedEarly',
  /** Gauge per sweep run: tokens that turned reauth-required in that run. */
  sweepReauthRequired: 'SweepReauthRequired',
  /** A rotated pair whose every secret write failed (it went to the escrow). */
  pairWriteFailed: 'PairWriteFailed',
  /** Gauge with an extra `status` dimension. */
  tokensByStatus: 'TokensByStatus',
  daysToRefreshExpiryMin: 'DaysToRefreshExpiryMin',
} as const;

export const TOKEN_STATUSES = ['active', 'reauth-required', 'disconnected'] as const;

export interface MonitoringProps {
  config: StageConfig;
  functions: ReadonlyMap<string, lambda.IFunction>;
  api: apigwv2.IHttpApi;
}

/** Alarms (to one SNS topic) and a dashboard over token health, refreshes, functions and the API. */
export class Monitoring extends Construct {
  readonly topic: sns.Topic;
  readonly dashboard: cw.Dashboard;
  readonly alarms: cw.Alarm[] = [];

  constructor(scope: Construct, id: string, props: MonitoringProps) {
    super(scope, id);
    const { config, functions, api } = props;
    const stage = config.stage;

    // Alarm notifications carry alarm names and numbers only, so SSE is not needed; publishing requires TLS.
    this.topic = new sns.Topic(this, 'AlarmTopic', { enforceSSL: true, displayName: `anaf-broker ${stage} alarms` });
    if (config.alarmEmail) this.topic.addSubscription(new subscriptions.EmailSubscription(config.alarmEmail));
    const action = new cwActions.SnsAction(this.topic);

    const broker = (metricName: string, statistic: string, period: Duration, extra: Record<string, string> = {}) =>
      new cw.Metric({
        namespace: METRICS.namespace,
        metricName,
        dimensionsMap: { service: METRICS.service, ...extra },
        statistic,
        period,
      });

    const addAlarm = (alarmId: string, alarmProps: cw.AlarmProps) => {
      const alarm = new cw.Alarm(this, alarmId, alarmProps);
      alarm.addAlarmAction(action);
      alarm.addOkAction(action);
      this.alarms.push(alarm);
      return alarm;
    };

    // A failed refresh stays `active` and is retried, but an operator should know before expiry comes close.
    addAlarm('RefreshFailures', {
      alarmDescription: `anaf-broker ${stage}: token refreshes failed (ANAF down, client rejected, or a bug); the sweep retries daily`,
      metric: broker(METRICS.refreshFailed, 'Sum', Duration.hours(1)),
      threshold: config.alarms.refreshFailures,
      comparisonOperator: cw.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      evaluationPeriods: 1,
      treatMissingData: cw.TreatMissingData.NOT_BREACHING,
    });

    // The gauge is emitted by the sweep; between sweeps the alarm keeps its last state.
    addAlarm('ReauthRequiredTokens', {
      alarmDescription: `anaf-broker ${stage}: tokens need a new login with the certificate (reauth-required); the ERP should send connect links`,
      metric: broker(METRICS.tokensByStatus, 'Maximum', Duration.hours(1), { status: 'reauth-required' }),
      threshold: config.alarms.reauthRequiredTokens,
      comparisonOperator: cw.ComparisonOperator.GREATER_THAN_THRESHOLD,
      evaluationPeriods: 1,
      treatMissingData: cw.TreatMissingData.IGNORE,
    });

    // Each transition means a person must log in again with the certificate; the ERP got an event with a link.
    addAlarm('ReauthRequiredTransitions', {
      alarmDescription: `anaf-broker ${stage}: ANAF refused a refresh token (invalid_grant or expired): a token became reauth-required`,
      metric: broker(METRICS.reauthRequired, 'Sum', Duration.hours(1)),
      threshold: 1,
      comparisonOperator: cw.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      evaluationPeriods: 1,
      treatMissingData: cw.TreatMissingData.NOT_BREACHING,
    });

    // Individual users' certificates lapse one at a time; more than 5 in one run smells like our bug or an
    // ANAF change (a refused-token answer we misread), which an operator must look at before users do.
    addAlarm('SweepReauthRequiredBurst', {
      alarmDescription: `anaf-broker ${stage}: more than 5 tokens became reauth-required in one sweep (a bug or an ANAF change?)`,
      metric: broker(METRICS.sweepReauthRequired, 'Maximum', Duration.hours(1)),
      threshold: 5,
      comparisonOperator: cw.ComparisonOperator.GREATER_THAN_THRESHOLD,
      evaluationPeriods: 1,
      treatMissingData: cw.TreatMissingData.NOT_BREACHING,
    });

    // ANAF rotated and Secrets Manager refused every write of the new pair: it sits in the escrow item
    // until the next run moves it; repeated, the secret's versions quota may be exhausted.
    addAlarm('PairWriteFailed', {
      alarmDescription: `anaf-broker ${stage}: a rotated token pair could not be written to Secrets Manager (kept in the escrow; check the secret's versions and throttling)`,
      metric: broker(METRICS.pairWriteFailed, 'Sum', Duration.hours(1)),
      threshold: 1,
      comparisonOperator: cw.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      evaluationPeriods: 1,
      treatMissingData: cw.TreatMissingData.NOT_BREACHING,
    });

    // The sweep ran out of time with due tokens left: they wait for the next run; repeated, it falls behind.
    addAlarm('SweepStoppedEarly', {
      alarmDescription: `anaf-broker ${stage}: the refresh sweep stopped before its deadline with due tokens left (raise SWEEP_CONCURRENCY or run it more often)`,
      metric: broker(METRICS.sweepStoppedEarly, 'Sum', Duration.hours(1)),
      threshold: 1,
      comparisonOperator: cw.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      evaluationPeriods: 1,
      treatMissingData: cw.TreatMissingData.NOT_BREACHING,
    });

    addAlarm('Api5xx', {
      alarmDescription: `anaf-broker ${stage}: HTTP API 5xx answers (503 ANAF_UNAVAILABLE counts too)`,
      metric: api.metricServerError({ period: Duration.minutes(5), statistic: 'Sum' }),
      threshold: config.alarms.api5xx,
      comparisonOperator: cw.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      evaluationPeriods: 1,
      treatMissingData: cw.TreatMissingData.NOT_BREACHING,
    });

    // One alarm per function (errors or throttles), so the alarm name says where to look.
    for (const [name, fn] of functions) {
      addAlarm(`${pascal(name)}ErrorsOrThrottles`, {
        alarmDescription: `anaf-broker ${stage}: ${name} failed (unhandled error or timeout) or was throttled`,
        metric: new cw.MathExpression({
          expression: 'FILL(errors, 0) + FILL(throttles, 0)',
          usingMetrics: {
            errors: fn.metricErrors({ statistic: 'Sum' }),
            throttles: fn.metricThrottles({ statistic: 'Sum' }),
          },
          period: Duration.minutes(5),
          label: `${name} errors + throttles`,
        }),
        threshold: 1,
        comparisonOperator: cw.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        evaluationPeriods: 1,
        treatMissingData: cw.TreatMissingData.NOT_BREACHING,
      });
    }

    const day = Duration.days(1);
    this.dashboard = new cw.Dashboard(this, 'Dashboard', {
      defaultInterval: Duration.days(30),
      widgets: [
        [
          new cw.GraphWidget({
            title: 'Tokens by status',
            left: TOKEN_STATUSES.map((status) =>
              broker(METRICS.tokensByStatus, 'Maximum', day, { status }).with({ label: status }),
            ),
            width: 8,
          }),
          new cw.GraphWidget({
            title: 'Refreshes per day',
            left: [
              broker(METRICS.refreshed, 'Sum', day).with({ label: 'refreshed' }),
              broker(METRICS.refreshFailed, 'Sum', day).with({ label: 'failed' }),
              broker(METRICS.reauthRequired, 'Sum', day).with({ label: 'reauth required' }),
              broker(METRICS.expiring, 'Sum', day).with({ label: 'expiry warnings' }),
            ],
            view: cw.GraphWidgetView.BAR,
            width: 8,
          }),
          new cw.GraphWidget({
            title: 'Days until the earliest refresh token expires',
            left: [broker(METRICS.daysToRefreshExpiryMin, 'Minimum', day).with({ label: 'min days' })],
            leftAnnotations: [{ value: config.refreshMarginDays, label: 'refresh margin', color: cw.Color.ORANGE }],
            width: 8,
          }),
        ],
        [
          new cw.GraphWidget({
            title: 'Function errors',
            left: [...functions].map(([name, fn]) =>
              fn.metricErrors({ statistic: 'Sum', period: Duration.hours(1), label: name }),
            ),
            width: 12,
          }),
          new cw.GraphWidget({
            title: 'HTTP API',
            left: [
              api.metricCount({ statistic: 'Sum', period: Duration.hours(1), label: 'requests' }),
              api.metricClientError({ statistic: 'Sum', period: Duration.hours(1), label: '4xx' }),
              api.metricServerError({ statistic: 'Sum', period: Duration.hours(1), label: '5xx' }),
            ],
            right: [api.metricLatency({ statistic: 'p99', period: Duration.hours(1), label: 'latency p99' })],
            width: 12,
          }),
        ],
        [new cw.AlarmStatusWidget({ title: 'Alarms', alarms: this.alarms, width: 24 })],
      ],
    });
  }
}
