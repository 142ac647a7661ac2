import { Duration } from 'aws-cdk-lib';
import type * as apigw from 'aws-cdk-lib/aws-apigatewayv2';
import * as budgets from 'aws-cdk-lib/aws-budgets';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import { SnsAction } from 'aws-cdk-lib/aws-cloudwatch-actions';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import * as sns from 'aws-cdk-lib/aws-sns';
import { EmailSubscription } from 'aws-cdk-lib/aws-sns-subscriptions';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';

export interface PipelineAlarmsProps {
  readonly queue: sqs.IQueue;
  readonly deadLetterQueue: sqs.IQueue;
  /** The dead-letter queue's consumer: each invocation means jobs were dead-lettered. */
  readonly deadLetters: lambda.IFunction;
  readonly worker: lambda.IFunction;
  readonly api: apigw.IHttpApi;
  readonly webhooks: lambda.IFunction;
  readonly sweep: lambda.IFunction;
  readonly webhookDeadLetterQueue: sqs.IQueue;
  /** The functions' Powertools metrics namespace (EMF). */
  readonly metricsNamespace: string;
  /** Alarm when the oldest jobs-queue message is at least this old. */
  readonly queueAgeThreshold: Duration;
  readonly email?: string;
}

/**
 * Alarms that say the pipeline is not keeping up or is losing work, sent to one SNS topic:
 * a message in the DLQ (a job that failed every attempt), a backlog (oldest message age),
 * worker invocations that errored (crash or timeout, not per-record failures, which are
 * reported as batchItemFailures) or were throttled, and 5xx answers from the API.
 */
export class PipelineAlarms extends Construct {
  readonly topic: sns.Topic;
  readonly alarms: cloudwatch.Alarm[] = [];
  readonly dashboard: cloudwatch.Dashboard;

  constructor(scope: Construct, id: string, props: PipelineAlarmsProps) {
    super(scope, id);
    this.topic = new sns.Topic(this, 'Topic', { displayName: 'Async inference pipeline alarms', enforceSSL: true });
    if (props.email) this.topic.addSubscription(new EmailSubscription(props.email));

    const oneMinute = Duration.minutes(1);
    const fiveMinutes = Duration.minutes(5);
    this.add('JobsDeadLettered', {
      alarmDescription: 'Job messages ran out of deliveries and reached the dead-letter queue; their jobs were failed (search the dead-letter function logs for "job dead-lettered").',
      metric: props.deadLetters.metricInvocations({ period: fiveMinutes, statistic: 'Sum' }),
      threshold: 1,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      evaluationPeriods: 1,
    });
    this.add('DeadLetterQueueNotEmpty', {
      alarmDescription: 'Messages have stayed in the dead-letter queue for 15 minutes: its consumer is not draining it. Inspect them.',
      metric: props.deadLetterQueue.metricApproximateNumberOfMessagesVisible({ period: fiveMinutes, statistic: 'Minimum' }),
      threshold: 0,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
      evaluationPeriods: 3,
    });
    this.add('QueueBacklog', {
      alarmDescription: `The oldest job message has waited ${props.queueAgeThreshold.toSeconds()} s or more: the workers are not keeping up.`,
      metric: props.queue.metricApproximateAgeOfOldestMessage({ period: oneMinute, statistic: 'Maximum' }),
      threshold: props.queueAgeThreshold.toSeconds(),
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      evaluationPeriods: 3,
    });
    this.add('WorkerErrors', {
      alarmDescription: 'Worker invocations failed as a whole (crash or timeout).',
      metric: props.worker.metricErrors({ period: fiveMinutes, statistic: 'Sum' }),
      threshold: 1,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      evaluationPeriods: 1,
    });
    this.add('WorkerThrottles', {
      alarmDescription: 'Worker invocations were throttled: account concurrency is exhausted.',
      metric: props.worker.metricThrottles({ period: fiveMinutes, statistic: 'Sum' }),
      threshold: 1,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      evaluationPeriods: 1,
    });
    // The functions' own metrics (Powertools EMF; `service` is each function's POWERTOOLS_SERVICE_NAME).
    const metric = (service: string, metricName: string) =>
      new cloudwatch.Metric({ namespace: props.metricsNamespace, metricName, dimensionsMap: { service }, period: fiveMinutes, statistic: 'Sum' });
    const delivered = metric('webhooks', 'WebhookDelivered');
    const failed = metric('webhooks', 'WebhookFailed');
    this.add('WebhookFailureRate', {
      alarmDescription: 'Over half of the webhook calls in 15 minutes failed (receivers down or refusing): events are retried on the schedule, look at the webhooks function logs.',
      metric: new cloudwatch.MathExpression({
        expression: 'IF(delivered + failed >= 10, failed / (delivered + failed), 0)',
        usingMetrics: { delivered, failed },
        period: fiveMinutes,
        label: 'webhook failure rate',
      }),
      threshold: 0.5,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
      evaluationPeriods: 3,
    });
    this.add('JobsStuck', {
      alarmDescription: 'The sweep found jobs past their lease or left queued (their notification was sent again): look for workers that crash or time out.',
      metric: metric('sweep', 'JobsRenotified'),
      threshold: 1,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      evaluationPeriods: 1,
    });
    this.add('SweepErrors', {
      alarmDescription: 'The sweep failed: expiry, lost-notification recovery and webhook retries wait for it.',
      metric: props.sweep.metricErrors({ period: fiveMinutes, statistic: 'Sum' }),
      threshold: 1,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      evaluationPeriods: 2,
    });

    // One page for the lifecycle: outcomes, times, the queues, webhooks and the sweep.
    this.dashboard = new cloudwatch.Dashboard(this, 'Dashboard', { defaultInterval: Duration.hours(3) });
    this.dashboard.addWidgets(
      new cloudwatch.GraphWidget({
        title: 'Jobs by outcome',
        left: ['JobSucceeded', 'JobFailed', 'JobRetried'].map((name) => metric('worker', name)),
        right: [metric('sweep', 'JobsExpired')],
      }),
      new cloudwatch.GraphWidget({
        title: 'Times (ms, p50 / p95)',
        left: ['QueueWait', 'ProcessingTime', 'EndToEndTime'].flatMap((name) =>
          ['p50', 'p95'].map((statistic) => new cloudwatch.Metric({ namespace: props.metricsNamespace, metricName: name, dimensionsMap: { service: 'worker' }, period: fiveMinutes, statistic })),
        ),
      }),
      new cloudwatch.GraphWidget({
        title: 'Jobs queue',
        left: [props.queue.metricApproximateNumberOfMessagesVisible(), props.deadLetterQueue.metricApproximateNumberOfMessagesVisible()],
        right: [props.queue.metricApproximateAgeOfOldestMessage()],
      }),
      new cloudwatch.GraphWidget({
        title: 'Webhooks',
        left: [delivered, failed],
        right: [props.webhookDeadLetterQueue.metricApproximateNumberOfMessagesVisible()],
      }),
      new cloudwatch.GraphWidget({ title: 'Sweep', left: ['JobsExpired', 'JobsRenotified', 'WebhookDeliveriesRequested'].map((name) => metric('sweep', name)) }),
    );

    this.add('ApiServerErrors', {
      alarmDescription: 'The HTTP API answered 5xx.',
      metric: props.api.metricServerError({ period: fiveMinutes, statistic: 'Sum' }),
      threshold: 1,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      evaluationPeriods: 1,
    });
  }

  private add(id: string, props: cloudwatch.AlarmProps): void {
    const alarm = new cloudwatch.Alarm(this, id, {
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      ...props,
    });
    alarm.addAlarmAction(new SnsAction(this.topic));
    alarm.addOkAction(new SnsAction(this.topic));
    this.alarms.push(alarm);
  }
}

export interface CostBudgetProps {
  readonly monthlyUsd: number;
  readonly email: string;
}

/**
 * A monthly AWS Budgets cost budget that mails when actual spend passes 80 % or the forecast
 * passes 100 %. Budgets are account-wide: the amount covers everything the account runs.
 */
export class CostBudget extends Construct {
  constructor(scope: Construct, id: string, props: CostBudgetProps) {
    super(scope, id);
    const subscribers = [{ subscriptionType: 'EMAIL', address: props.email }];
    new budgets.CfnBudget(this, 'Budget', {
      budget: {
        budgetType: 'COST',
        timeUnit: 'MONTHLY',
        budgetLimit: { amount: props.monthlyUsd, unit: 'USD' },
      },
      notificationsWithSubscribers: [
        {
          notification: { notificationType: 'ACTUAL', comparisonOperator: 'GREATER_THAN', threshold: 80, thresholdType: 'PERCENTAGE' },
          subscribers,
        },
        {
          notification: { notificationType: 'FORECASTED', comparisonOperator: 'GREATER_THAN', threshold: 100, thresholdType: 'PERCENTAGE' },
          subscribers,
        },
      ],
    });
  }
}
