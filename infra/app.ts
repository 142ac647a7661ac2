import { App, Tags, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { PipelineStack } from './pipeline-stack.ts';
import { settingsFromContext, unknownContextKeys } from './settings.ts';

/**
 * `npm run synth` / `npm run deploy -- -c stage=prod`. Settings come from CDK context (cdk.json,
 * `-c key=value`); docs/deploy.md lists them. No account or region is pinned: the stack is
 * environment-agnostic, so synth needs no credentials, and deploy targets the CLI's profile.
 */
const app = new App();
const settings = settingsFromContext(app.node);
const unknown = unknownContextKeys(app.node);
if (unknown.length > 0) {
  process.emitWarning(`ignoring unknown context keys: ${unknown.join(', ')} (see docs/deploy.md)`);
}

const stack = new PipelineStack(app, settings.stackName, {
  settings,
  description: `Asynchronous image inference pipeline (${settings.stage})`,
});
Tags.of(stack).add('project', 'async-inference-pipeline');
Tags.of(stack).add('stage', settings.stage);

// Every synth is checked against the AWS Solutions rules; an unacknowledged finding fails synth.
Validations.of(app).addPlugins(new AwsSolutionsChecks(app, { verbose: true }));
