import { Stack, Validations } from 'aws-cdk-lib';
import { flattenCfnReference } from 'cdk-nag/lib/utils/flatten-cfn-reference.js';
import type { IConstruct } from 'constructs';

/**
 * cdk-nag 3 reads acknowledgements from CDK's Validations metadata. A rule that reports several
 * findings (IAM5: one per wildcard) is acknowledged finding by finding, `RuleId[Finding]`; the
 * finding names the resource as cdk-nag prints it (`<LogicalId.Arn>/uploads/*`), so it is
 * computed from the same token here rather than hard-coded.
 */
export function acknowledge(scope: IConstruct, id: string, reason: string): void {
  Validations.of(scope).acknowledge({ id, reason });
}

/** Acknowledge AwsSolutions-IAM5 for exactly these wildcard resources on `scope` (a role). */
export function acknowledgeWildcardResources(scope: IConstruct, resources: string[], reason: string): void {
  const stack = Stack.of(scope);
  for (const resource of resources) {
    acknowledge(scope, `AwsSolutions-IAM5[Resource::${flattenCfnReference(stack.resolve(resource))}]`, reason);
  }
}
