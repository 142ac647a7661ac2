import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { App } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { AwsSolutionsChecks } from 'cdk-nag';
import type { IConstruct } from 'constructs';
import { PROJECT_ROOT } from '../../infra/constructs/pipeline-function.ts';
import { PipelineStack } from '../../infra/pipeline-stack.ts';
import { settingsFromContext } from '../../infra/settings.ts';

/** cdk.json's context (feature flags, stage default), so tests synthesize what `cdk synth` does. */
export const CDK_JSON_CONTEXT: Record<string, unknown> = JSON.parse(
  readFileSync(join(PROJECT_ROOT, 'cdk.json'), 'utf8'),
).context;

export interface Synthesized {
  app: App;
  stack: PipelineStack;
  template: Template;
}

/**
 * Build the app as `cdk synth` would, with extra context. Bundling is skipped unless asked for
 * (`aws:cdk:bundling-stacks: []`): assertion tests look at the template, not the packages.
 */
export function synthesize(context: Record<string, unknown> = {}, options: { bundle?: boolean; outdir?: string } = {}): Synthesized {
  const app = new App({
    outdir: options.outdir ?? mkdtempSync(join(tmpdir(), 'cdk-test-')),
    context: {
      ...CDK_JSON_CONTEXT,
      ...context,
      ...(options.bundle ? {} : { 'aws:cdk:bundling-stacks': [] }),
    },
  });
  const settings = settingsFromContext(app.node);
  const stack = new PipelineStack(app, settings.stackName, { settings });
  return { app, stack, template: Template.fromStack(stack) };
}

export interface NagFinding {
  rule: string;
  severity: string;
  paths: string[];
}

/** AwsSolutions findings not acknowledged in the code (should be none). */
export function unacknowledgedFindings(scope: IConstruct): NagFinding[] {
  return toFindings(new AwsSolutionsChecks(undefined, { verbose: true }).validateScope(scope));
}

/** Every AwsSolutions finding, acknowledged or not: to prove each acknowledgement is still needed. */
export function allFindings(scope: IConstruct): NagFinding[] {
  const checks = new AwsSolutionsChecks();
  (checks as unknown as { isAcknowledged: () => boolean }).isAcknowledged = () => false;
  return toFindings(checks.validateScope(scope));
}

function toFindings(report: ReturnType<AwsSolutionsChecks['validateScope']>): NagFinding[] {
  return report.violations.map((v) => ({
    rule: v.ruleName,
    severity: v.severity ?? 'error',
    paths: v.violatingResources.map((r) => (r as { constructPath?: string }).constructPath ?? r.resourceLogicalId ?? '?'),
  }));
}

/** Acknowledgements recorded with Validations.of(x).acknowledge(), by construct path. */
export function acknowledgements(scope: IConstruct): Array<{ path: string; rule: string; reason: string }> {
  const found: Array<{ path: string; rule: string; reason: string }> = [];
  for (const node of scope.node.findAll()) {
    for (const entry of node.node.metadata) {
      if (entry.type !== 'aws:cdk:acknowledged-rules' || !entry.data) continue;
      for (const [id, reason] of Object.entries(entry.data as Record<string, string>)) {
        found.push({ path: node.node.path, rule: id.replace(/^annotation::/i, ''), reason });
      }
    }
  }
  return found;
}
