import { BACKFILL_DEFAULTS, runBackfill } from '../backfill/run.ts';
import type { BackfillChildReport } from './backfill.ts';
import { processUsage } from './processes.ts';

/**
 * The backfill of measurement 4, in a process of its own so its peak RSS and CPU are its own:
 * runBackfill with the CLI's defaults over a folder, against API_URL/API_KEY. Prints a
 * BackfillChildReport as its last stdout line.
 * Usage: node --import tsx backfill-child.ts '{"input":"dir","model":"onnx/x","out":"results.jsonl"}'
 */

const { input, model, out } = JSON.parse(process.argv[2]!) as { input: string; model: string; out: string };
const apiUrl = process.env.API_URL;
const apiKey = process.env.API_KEY;
if (!apiUrl || !apiKey) throw new Error('API_URL and API_KEY must be set');

const start = performance.now();
const summary = await runBackfill({ inputs: input, model, apiUrl, apiKey, out, progress: 'none' });
const elapsedMs = performance.now() - start;
const report: BackfillChildReport = {
  succeeded: summary.succeeded,
  failed: summary.failed + summary.skipped,
  failuresByCode: summary.failuresByCode,
  concurrency: BACKFILL_DEFAULTS.concurrency,
  elapsedMs,
  usage: processUsage('self'),
};
process.stdout.write(`${JSON.stringify(report)}\n`);
process.exit(0);
