import { Match, type Template } from 'aws-cdk-lib/assertions';
import { beforeAll, describe, expect, it } from 'vitest';
import { QUEUE_SETTINGS, TABLE_INDEXES } from '#shared/jobs/table.ts';
import { LANDED_BATCH_SIZE, LANDED_MAX_CONCURRENCY, LANDED_TIMEOUT_SECONDS } from '../../functions/landed/limits.ts';
import { METRICS_NAMESPACE, WEBHOOK_MAX_CONCURRENCY, WEBHOOK_TIMEOUT_SECONDS } from '../../infra/pipeline-stack.ts';
import { synthesize, type Synthesized } from './synth.ts';
import { functionId, functionOf, joinedText, logicalId, PIPELINE_SERVICES, type Resource } from './template.ts';

/**
 * The job lifecycle on AWS: the uploads-landed queue and its function, the webhook queue and its delivery function, the sweep on its
 * schedule, the table's timer and listing indexes, the configuration every function shares, and
 * the metrics, alarms and dashboard that watch them. Grants of each function: pipeline-stack.test.ts.
 */

let dev: Synthesized;
let prod: Synthesized;
let template: Template;

beforeAll(() => {
  dev = synthesize();
  template = dev.template;
  prod = synthesize({ stage: 'prod', maxReceiveCount: '3' });
}, 60_000);

const resources = (t: Template = template): Record<string, Resource & { Type: string }> => t.toJSON().Resources;
const id = (construct: Parameters<typeof logicalId>[1], synth: Synthesized = dev) => logicalId(synth.stack, construct);

describe('the sweep schedule', () => {
  it('runs the sweep every minute, once per tick: no EventBridge retries (the next tick is the retry)', () => {
    const rules = Object.values(template.findResources('AWS::Events::Rule'));
    expect(rules).toHaveLength(1);
    expect(rules[0]!.Properties).toMatchObject({
      ScheduleExpression: 'rate(1 minute)',
      State: 'ENABLED',
      Targets: [{ Arn: { 'Fn::GetAtt': [functionId(template, 'sweep'), 'Arn'] }, RetryPolicy: { MaximumRetryAttempts: 0 } }],
    });
    expect(rules[0]!.Properties.Targets).toHaveLength(1);
  });

  it('lets only that rule invoke the sweep', () => {
    const ruleId = Object.keys(template.findResources('AWS::Events::Rule'))[0]!;
    const invokers = Object.values(resources()).filter(
      (r) => r.Type === 'AWS::Lambda::Permission' && JSON.stringify(r.Properties.FunctionName).includes(`"${functionId(template, 'sweep')}"`),
    );
    expect(invokers.map((r) => r.Properties)).toEqual([
      { Action: 'lambda:InvokeFunction', FunctionName: { 'Fn::GetAtt': [functionId(template, 'sweep'), 'Arn'] }, Principal: 'events.amazonaws.com', SourceArn: { 'Fn::GetAtt': [ruleId, 'Arn'] } },
    ]);
  });

  it('gives the sweep a minute at most, so one run ends before the next tick', () => {
    expect(functionOf(template, 'sweep').Properties).toMatchObject({ Timeout: 60, MemorySize: 256 });
  });
});

describe('the uploads-landed queue', () => {
  const queue = (synth: Synthesized) => resources(synth.template)[id(synth.stack.landedQueue.queue, synth)]!.Properties;
  const mappingsFrom = (construct: Parameters<typeof logicalId>[1]) =>
    Object.values(template.findResources('AWS::Lambda::EventSourceMapping')).filter((m) => JSON.stringify(m.Properties.EventSourceArn) === JSON.stringify({ 'Fn::GetAtt': [id(construct), 'Arn'] }));

  it('is encrypted, TLS-only, and its own queue with its own dead-letter queue', () => {
    const { stack } = dev;
    expect(id(stack.landedQueue.queue)).not.toBe(id(stack.jobs.queue));
    const dlqId = id(stack.landedQueue.deadLetterQueue);
    expect(queue(dev)).toMatchObject({
      SqsManagedSseEnabled: true,
      RedrivePolicy: { deadLetterTargetArn: { 'Fn::GetAtt': [dlqId, 'Arn'] }, maxReceiveCount: 5 },
    });
    expect(resources()[dlqId]!.Properties).toMatchObject({ SqsManagedSseEnabled: true, MessageRetentionPeriod: QUEUE_SETTINGS.dlqRetentionDays * 24 * 3600 });
    for (const queueId of [id(stack.landedQueue.queue), dlqId]) {
      template.hasResourceProperties('AWS::SQS::QueuePolicy', {
        Queues: [{ Ref: queueId }],
        PolicyDocument: { Statement: Match.arrayWith([Match.objectLike({ Effect: 'Deny', Action: 'sqs:*', Condition: { Bool: { 'aws:SecureTransport': 'false' } } })]) },
      });
    }
    expect(queue(prod).RedrivePolicy.maxReceiveCount).toBe(3);
  });

  it(`hides a message for 6 × the landed function's ${LANDED_TIMEOUT_SECONDS} s timeout (no batching window)`, () => {
    expect(functionOf(template, 'landed').Properties).toMatchObject({ Timeout: LANDED_TIMEOUT_SECONDS, MemorySize: 256 });
    expect(queue(dev).VisibilityTimeout).toBe(QUEUE_SETTINGS.visibilityTimeoutFactor * LANDED_TIMEOUT_SECONDS);
    expect(queue(dev).VisibilityTimeout).toBe(180);
  });

  it(`feeds the landed function with partial batch failures, at most ${LANDED_MAX_CONCURRENCY} invocations at once`, () => {
    expect(mappingsFrom(dev.stack.landedQueue.queue).map((m) => m.Properties)).toEqual([
      {
        EventSourceArn: { 'Fn::GetAtt': [id(dev.stack.landedQueue.queue), 'Arn'] },
        FunctionName: { Ref: functionId(template, 'landed') },
        BatchSize: LANDED_BATCH_SIZE,
        FunctionResponseTypes: ['ReportBatchItemFailures'],
        ScalingConfig: { MaximumConcurrency: LANDED_MAX_CONCURRENCY },
      },
    ]);
  });

  it('has no consumer on its dead-letter queue: the worker’s copy of the notification is the one that runs the job', () => {
    expect(mappingsFrom(dev.stack.landedQueue.deadLetterQueue)).toEqual([]);
  });
});

describe('the webhook queue', () => {
  const queue = (synth: Synthesized) => resources(synth.template)[id(synth.stack.webhookQueue.queue, synth)]!.Properties;

  it('is encrypted, TLS-only, and its own queue with its own dead-letter queue', () => {
    const { stack } = dev;
    expect(id(stack.webhookQueue.queue)).not.toBe(id(stack.jobs.queue));
    const dlqId = id(stack.webhookQueue.deadLetterQueue);
    expect(queue(dev)).toMatchObject({
      SqsManagedSseEnabled: true,
      RedrivePolicy: { deadLetterTargetArn: { 'Fn::GetAtt': [dlqId, 'Arn'] }, maxReceiveCount: 5 },
    });
    expect(resources()[dlqId]!.Properties).toMatchObject({ SqsManagedSseEnabled: true, MessageRetentionPeriod: QUEUE_SETTINGS.dlqRetentionDays * 24 * 3600 });
    for (const queueId of [id(stack.webhookQueue.queue), dlqId]) {
      template.hasResourceProperties('AWS::SQS::QueuePolicy', {
        Queues: [{ Ref: queueId }],
        PolicyDocument: { Statement: Match.arrayWith([Match.objectLike({ Effect: 'Deny', Action: 'sqs:*', Condition: { Bool: { 'aws:SecureTransport': 'false' } } })]) },
      });
    }
    // The receive count follows the context, as the jobs queue's does.
    expect(queue(prod).RedrivePolicy.maxReceiveCount).toBe(3);
  });

  it(`hides a message for 6 × the deliverer's ${WEBHOOK_TIMEOUT_SECONDS} s timeout (no batching window)`, () => {
    expect(functionOf(template, 'webhooks').Properties).toMatchObject({ Timeout: WEBHOOK_TIMEOUT_SECONDS, MemorySize: 256 });
    expect(queue(dev).VisibilityTimeout).toBe(QUEUE_SETTINGS.visibilityTimeoutFactor * WEBHOOK_TIMEOUT_SECONDS);
    expect(queue(dev).VisibilityTimeout).toBe(180);
  });

  it(`feeds the deliverer with partial batch failures, at most ${WEBHOOK_MAX_CONCURRENCY} invocations at once`, () => {
    const mappings = Object.values(template.findResources('AWS::Lambda::EventSourceMapping')).filter(
      (m) => JSON.stringify(m.Properties.EventSourceArn).includes(`"${id(dev.stack.webhookQueue.queue)}"`),
    );
    expect(mappings.map((m) => m.Properties)).toEqual([
      {
        EventSourceArn: { 'Fn::GetAtt': [id(dev.stack.webhookQueue.queue), 'Arn'] },
        FunctionName: { Ref: functionId(template, 'webhooks') },
        BatchSize: 10,
        FunctionResponseTypes: ['ReportBatchItemFailures'],
        ScalingConfig: { MaximumConcurrency: WEBHOOK_MAX_CONCURRENCY },
      },
    ]);
  });

  it('has no consumer on its dead-letter queue: the sweep re-sends what is due from the table', () => {
    const dlqArn = JSON.stringify({ 'Fn::GetAtt': [id(dev.stack.webhookQueue.deadLetterQueue), 'Arn'] });
    const consumers = Object.values(template.findResources('AWS::Lambda::EventSourceMapping')).filter((m) => JSON.stringify(m.Properties.EventSourceArn) === dlqArn);
    expect(consumers).toEqual([]);
  });
});

describe('the table’s indexes', () => {
  it('creates every index of TABLE_INDEXES with its key types, projecting all attributes', () => {
    const table = template.findResources('AWS::DynamoDB::Table');
    const properties = Object.values(table)[0]!.Properties;
    expect(TABLE_INDEXES.map((i) => i.name)).toEqual(['byOwner', 'byDeadline', 'byWebhookDue']);
    expect(properties.GlobalSecondaryIndexes).toEqual(
      TABLE_INDEXES.map((index) => ({
        IndexName: index.name,
        KeySchema: [
          { AttributeName: index.partitionKey, KeyType: 'HASH' },
          { AttributeName: index.sortKey, KeyType: 'RANGE' },
        ],
        Projection: { ProjectionType: 'ALL' },
      })),
    );
    // Listing sorts by an ISO createdAt (string); the timers by epoch milliseconds (numbers).
    expect(properties.AttributeDefinitions).toEqual(
      expect.arrayContaining([
        { AttributeName: 'ownerId', AttributeType: 'S' },
        { AttributeName: 'createdAt', AttributeType: 'S' },
        { AttributeName: 'deadlineShard', AttributeType: 'S' },
        { AttributeName: 'deadlineAt', AttributeType: 'N' },
        { AttributeName: 'webhookShard', AttributeType: 'S' },
        { AttributeName: 'webhookDueAt', AttributeType: 'N' },
      ]),
    );
    for (const index of TABLE_INDEXES) {
      expect(properties.AttributeDefinitions).toContainEqual({ AttributeName: index.partitionKey, AttributeType: index.keyTypes[0] });
      expect(properties.AttributeDefinitions).toContainEqual({ AttributeName: index.sortKey, AttributeType: index.keyTypes[1] });
    }
  });
});

describe('configuration every function shares', () => {
  it('tells every function both queue URLs and the metrics namespace', () => {
    for (const service of PIPELINE_SERVICES) {
      expect(functionOf(template, service).Properties.Environment.Variables, service).toMatchObject({
        JOBS_QUEUE_URL: { Ref: id(dev.stack.jobs.queue) },
        WEBHOOK_QUEUE_URL: { Ref: id(dev.stack.webhookQueue.queue) },
        POWERTOOLS_METRICS_NAMESPACE: METRICS_NAMESPACE,
        POWERTOOLS_SERVICE_NAME: service,
      });
    }
  });
});

describe('no wildcard resources', () => {
  it('grants "*" to no role but for the X-Ray actions, once per pipeline function', () => {
    const wildcards: string[][] = [];
    for (const resource of Object.values(resources())) {
      const documents =
        resource.Type === 'AWS::IAM::Policy'
          ? [resource.Properties.PolicyDocument]
          : resource.Type === 'AWS::IAM::Role'
            ? (resource.Properties.Policies ?? []).map((p: { PolicyDocument: unknown }) => p.PolicyDocument)
            : [];
      for (const document of documents) {
        for (const statement of document.Statement) {
          if ([statement.Resource].flat().includes('*')) wildcards.push([statement.Action].flat().sort());
        }
      }
    }
    expect(wildcards).toEqual(PIPELINE_SERVICES.map(() => ['xray:PutTelemetryRecords', 'xray:PutTraceSegments']));
  });
});

describe('alarms on the lifecycle', () => {
  const alarm = (name: string) => {
    const found = Object.entries(template.findResources('AWS::CloudWatch::Alarm')).filter(([logical]) => logical.startsWith(`Alarms${name}`));
    expect(found, name).toHaveLength(1);
    const properties = found[0]![1].Properties;
    expect(properties.AlarmActions, name).toEqual([{ Ref: expect.stringMatching(/^AlarmsTopic/) }]);
    expect(properties.OKActions, name).toEqual(properties.AlarmActions);
    expect(properties.TreatMissingData, name).toBe('notBreaching');
    return properties;
  };
  const emf = (metricName: string, service: string) => ({ Namespace: METRICS_NAMESPACE, MetricName: metricName, Dimensions: [{ Name: 'service', Value: service }] });

  it('WebhookFailureRate: over half of 10 or more webhook calls failed, three 5-minute periods running', () => {
    const properties = alarm('WebhookFailureRate');
    expect(properties).toMatchObject({ Threshold: 0.5, ComparisonOperator: 'GreaterThanThreshold', EvaluationPeriods: 3 });
    const [expression, ...inputs] = properties.Metrics as Array<Record<string, any>>;
    expect(expression).toMatchObject({ Expression: 'IF(delivered + failed >= 10, failed / (delivered + failed), 0)', ReturnData: true });
    expect(inputs).toEqual([
      { Id: 'delivered', MetricStat: { Metric: emf('WebhookDelivered', 'webhooks'), Period: 300, Stat: 'Sum' }, ReturnData: false },
      { Id: 'failed', MetricStat: { Metric: emf('WebhookFailed', 'webhooks'), Period: 300, Stat: 'Sum' }, ReturnData: false },
    ]);
  });

  it('JobsStuck: the sweep had to re-send a job’s notification', () => {
    expect(alarm('JobsStuck')).toMatchObject({
      ...emf('JobsRenotified', 'sweep'),
      Statistic: 'Sum',
      Period: 300,
      Threshold: 1,
      ComparisonOperator: 'GreaterThanOrEqualToThreshold',
      EvaluationPeriods: 1,
    });
  });

  it('SweepErrors: the sweep function failed in two 5-minute periods running', () => {
    expect(alarm('SweepErrors')).toMatchObject({
      Namespace: 'AWS/Lambda',
      MetricName: 'Errors',
      Dimensions: [{ Name: 'FunctionName', Value: { Ref: functionId(template, 'sweep') } }],
      Statistic: 'Sum',
      Threshold: 1,
      ComparisonOperator: 'GreaterThanOrEqualToThreshold',
      EvaluationPeriods: 2,
    });
  });
});

describe('the dashboard', () => {
  type Widget = { type: string; properties: { title: string; metrics: unknown[][] } };

  function widgets(): Widget[] {
    const dashboards = Object.values(template.findResources('AWS::CloudWatch::Dashboard'));
    expect(dashboards).toHaveLength(1);
    const body = JSON.parse(joinedText(dashboards[0]!.Properties.DashboardBody)) as { start: string; widgets: Widget[] };
    expect(body.start).toBe('-PT3H');
    return body.widgets;
  }
  const metricsOf = (title: string) => {
    const widget = widgets().find((w) => w.properties.title === title);
    expect(widget, title).toBeDefined();
    return widget!.properties.metrics.map((m) => m.filter((part) => typeof part === 'string'));
  };

  it('has one graph each for outcomes, times, the jobs queue, webhooks and the sweep', () => {
    expect(widgets().map((w) => [w.type, w.properties.title])).toEqual([
      ['metric', 'Jobs by outcome'],
      ['metric', 'Times (ms, p50 / p95)'],
      ['metric', 'Jobs queue'],
      ['metric', 'Webhooks'],
      ['metric', 'Sweep'],
    ]);
  });

  it('graphs the functions’ own metrics under their service, and the queues by name', () => {
    const queueName = (construct: Parameters<typeof logicalId>[1]) => `{{${id(construct)}.QueueName}}`;
    const { stack } = dev;
    expect(metricsOf('Jobs by outcome')).toEqual([
      [METRICS_NAMESPACE, 'JobSucceeded', 'service', 'worker'],
      [METRICS_NAMESPACE, 'JobFailed', 'service', 'worker'],
      [METRICS_NAMESPACE, 'JobRetried', 'service', 'worker'],
      [METRICS_NAMESPACE, 'JobsExpired', 'service', 'sweep'],
    ]);
    expect(metricsOf('Jobs queue')).toEqual([
      ['AWS/SQS', 'ApproximateNumberOfMessagesVisible', 'QueueName', queueName(stack.jobs.queue)],
      ['AWS/SQS', 'ApproximateNumberOfMessagesVisible', 'QueueName', queueName(stack.jobs.deadLetterQueue)],
      ['AWS/SQS', 'ApproximateAgeOfOldestMessage', 'QueueName', queueName(stack.jobs.queue)],
    ]);
    expect(metricsOf('Webhooks')).toEqual([
      [METRICS_NAMESPACE, 'WebhookDelivered', 'service', 'webhooks'],
      [METRICS_NAMESPACE, 'WebhookFailed', 'service', 'webhooks'],
      ['AWS/SQS', 'ApproximateNumberOfMessagesVisible', 'QueueName', queueName(stack.webhookQueue.deadLetterQueue)],
    ]);
    expect(metricsOf('Sweep')).toEqual(
      ['JobsExpired', 'JobsRenotified', 'WebhookDeliveriesRequested'].map((name) => [METRICS_NAMESPACE, name, 'service', 'sweep']),
    );
    expect(metricsOf('Times (ms, p50 / p95)').map((m) => m[1])).toEqual(['QueueWait', 'QueueWait', 'ProcessingTime', 'ProcessingTime', 'EndToEndTime', 'EndToEndTime']);
  });
});
