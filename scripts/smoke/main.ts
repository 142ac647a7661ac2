import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { contentTypeOf, resolveTarget } from '../lib/cli.ts';
import { formatReport, runSmoke } from './run.ts';

/**
 * `npm run smoke -- [--api URL --key KEY] [--model NAME] [--image FILE] [--json]`
 * Exercises a deployment end to end and prints each step's timing; exits 1 if any step failed.
 * Without --api/--key it targets the running local cloud.
 */

const { values } = parseArgs({
  options: {
    api: { type: 'string' },
    key: { type: 'string' },
    model: { type: 'string' },
    image: { type: 'string' },
    json: { type: 'boolean', default: false },
  },
});

try {
  const target = resolveTarget(values);
  const image = values.image ? { bytes: readFileSync(values.image), contentType: contentTypeOf(values.image) ?? 'image/jpeg' } : undefined;
  const report = await runSmoke({ ...target, model: values.model, image });
  console.log(values.json ? JSON.stringify(report, null, 2) : formatReport(report));
  process.exit(report.ok ? 0 : 1);
} catch (error) {
  console.error(`error: ${(error as Error).message}`);
  process.exit(2);
}
