import { CfnElement, type Stack } from 'aws-cdk-lib';
import { Match, type Template } from 'aws-cdk-lib/assertions';
import { expect } from 'vitest';
import type { IConstruct } from 'constructs';
import type { PipelineFunction } from '../../infra/constructs/pipeline-function.ts';
import type { Synthesized } from './synth.ts';

/** Reading a synthesized template the way the infra specs need: resources by role, grants by name. */

export type Resource = { Properties: Record<string, any>; DeletionPolicy?: string };

/** Every pipeline function, by its POWERTOOLS_SERVICE_NAME. */
export const PIPELINE_SERVICES = ['api', 'authorizer', 'worker', 'dead-letter', 'landed', 'webhooks', 'sweep'] as const;
export type Service = (typeof PIPELINE_SERVICES)[number];

/** The one resource of a type whose properties match, with its logical id. */
export function only(template: Template, type: string, props: object = {}): [string, Resource] {
  const found = Object.entries(template.findResources(type, { Properties: Match.objectLike(props) }));
  expect(found, `${type} matching ${JSON.stringify(props)}`).toHaveLength(1);
  return found[0] as [string, Resource];
}

/** The logical id CDK gave a construct's CloudFormation resource. */
export function logicalId(stack: Stack, construct: IConstruct): string {
  const element = construct instanceof CfnElement ? construct : construct.node.defaultChild;
  if (!(element instanceof CfnElement)) throw new Error(`${construct.node.path} has no CloudFormation resource`);
  return stack.getLogicalId(element);
}

export function functionId(template: Template, service: Service): string {
  return only(template, 'AWS::Lambda::Function', {
    Environment: { Variables: Match.objectLike({ POWERTOOLS_SERVICE_NAME: service }) },
  })[0];
}

export function functionOf(template: Template, service: Service): Resource {
  return template.toJSON().Resources[functionId(template, service)];
}

/** Every statement of the policies attached to a function's role. */
export function statementsOf(template: Template, fnId: string): Array<Record<string, any>> {
  const fn = template.toJSON().Resources[fnId];
  const roleId = fn.Properties.Role['Fn::GetAtt'][0];
  const policies = Object.values(
    template.findResources('AWS::IAM::Policy', { Properties: { Roles: [{ Ref: roleId }] } }),
  ) as Array<{ Properties: { PolicyDocument: { Statement: Array<Record<string, any>> } } }>;
  return policies.flatMap((p) => p.Properties.PolicyDocument.Statement);
}

export function actionsOf(statements: Array<Record<string, any>>): string[] {
  return statements.flatMap((s) => [s.Action].flat()).sort();
}

/** The pipeline's resources by the names the grant specs use. */
function resourceNames(synth: Synthesized, fn: PipelineFunction): Map<string, string> {
  const { stack } = synth;
  const named: Array<[IConstruct, string]> = [
    [stack.table, 'table'],
    [stack.bucket, 'bucket'],
    [stack.jobs.queue, 'jobs queue'],
    [stack.jobs.deadLetterQueue, 'jobs DLQ'],
    [stack.landedQueue.queue, 'uploads-landed queue'],
    [stack.landedQueue.deadLetterQueue, 'uploads-landed DLQ'],
    [stack.uploads.topic, 'uploads topic'],
    [stack.webhookQueue.queue, 'webhook queue'],
    [stack.webhookQueue.deadLetterQueue, 'webhook DLQ'],
    [fn.logGroup, 'own log group'],
  ];
  if (stack.geminiApiKey.node.defaultChild) named.push([stack.geminiApiKey, 'Gemini secret']);
  return new Map(named.map(([construct, name]) => [logicalId(stack, construct), name]));
}

/** A resource or condition as readable text: `table/index/byOwner`, `bucket/uploads/*`, `<AWS::Region>`. */
function render(value: unknown, names: Map<string, string>): string {
  if (typeof value === 'string') return value;
  const v = value as Record<string, any>;
  if (v.Ref) return names.get(v.Ref) ?? `<${v.Ref}>`;
  if (v['Fn::GetAtt']) {
    const [id, attribute] = v['Fn::GetAtt'] as [string, string];
    return attribute === 'Arn' ? (names.get(id) ?? `<${id}>`) : `<${id}.${attribute}>`;
  }
  if (v['Fn::Join']) {
    const [separator, parts] = v['Fn::Join'] as [string, unknown[]];
    return parts.map((part) => render(part, names)).join(separator);
  }
  return JSON.stringify(value);
}

function renderCondition(condition: Record<string, Record<string, unknown>>): string {
  return Object.entries(condition)
    .flatMap(([operator, tests]) => Object.entries(tests).map(([key, values]) => `${key} ${operator} ${[values].flat().join('|')}`))
    .join(' and ');
}

/**
 * Everything a function's role may do, as `resource → sorted actions`. The function's log group
 * (by ARN and by name) reads `own log group`; a condition is appended (`bucket when s3:prefix
 * StringLike uploads/*`). Meant for toEqual: an unexpected grant anywhere fails.
 */
export function grantsOf(synth: Synthesized, service: Service): Record<string, string[]> {
  const fn = pipelineFunctions(synth)[service];
  const names = resourceNames(synth, fn);
  const ownLogGroup = logicalId(synth.stack, fn.logGroup);
  const grants: Record<string, Set<string>> = {};
  for (const statement of statementsOf(synth.template, functionId(synth.template, service))) {
    expect(statement.Effect).toBe('Allow');
    for (const resource of [statement.Resource].flat()) {
      // The log group is granted by ARN and by name-based ARN; both are the function's own group.
      const mentionsOwnLogGroup = JSON.stringify(resource).includes(`"${ownLogGroup}"`);
      const label = mentionsOwnLogGroup ? 'own log group' : render(resource, names);
      const key = statement.Condition ? `${label} when ${renderCondition(statement.Condition)}` : label;
      grants[key] ??= new Set();
      for (const action of [statement.Action].flat()) grants[key].add(action);
    }
  }
  return Object.fromEntries(Object.entries(grants).map(([key, actions]) => [key, [...actions].sort()]));
}

export function pipelineFunctions(synth: Synthesized): Record<Service, PipelineFunction> {
  const { stack } = synth;
  return {
    api: stack.apiFunction,
    authorizer: stack.authorizerFunction,
    worker: stack.workerFunction,
    'dead-letter': stack.deadLetterFunction,
    landed: stack.landedFunction,
    webhooks: stack.webhooksFunction,
    sweep: stack.sweepFunction,
  };
}

/** What every function's role starts with: writing its own log group, and X-Ray (no resource-level permissions). */
export const BASE_GRANTS = {
  'own log group': ['logs:CreateLogStream', 'logs:PutLogEvents'],
  '*': ['xray:PutTelemetryRecords', 'xray:PutTraceSegments'],
} as const;

/** What CDK's grantSendMessages gives. */
export const SEND_MESSAGES = ['sqs:GetQueueAttributes', 'sqs:GetQueueUrl', 'sqs:SendMessage'];
/** What an SQS event source gives its function on the queue. */
export const CONSUME_MESSAGES = ['sqs:ChangeMessageVisibility', 'sqs:DeleteMessage', 'sqs:GetQueueAttributes', 'sqs:GetQueueUrl', 'sqs:ReceiveMessage'];

/**
 * A CloudFormation Fn::Join as text, each token written `{{LogicalId}}` or `{{LogicalId.Attribute}}`
 * (a dashboard body is JSON with tokens inside its strings, so this parses).
 */
export function joinedText(value: unknown): string {
  const v = value as Record<string, any>;
  if (typeof value === 'string') return value;
  if (v.Ref) return `{{${v.Ref}}}`;
  if (v['Fn::GetAtt']) return `{{${(v['Fn::GetAtt'] as string[]).join('.')}}}`;
  if (v['Fn::Join']) {
    const [separator, parts] = v['Fn::Join'] as [string, unknown[]];
    return parts.map(joinedText).join(separator);
  }
  throw new Error(`cannot render ${JSON.stringify(value)}`);
}
