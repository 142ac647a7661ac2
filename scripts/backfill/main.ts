import { parseArgs } from 'node:util';
import { parseKeyValues, resolveTarget } from '../lib/cli.ts';
import { formatDuration, type ProgressMode } from './progress.ts';
import { BACKFILL_DEFAULTS, BackfillError, type BackfillSummary, JournalError, runBackfill } from './run.ts';

/**
 * `npm run backfill -- <dir | glob | list.txt>… [--model M] [--out results.jsonl] [--resume] …`
 * The CLI around runBackfill (scripts/backfill/run.ts); docs/backfill.md has the details.
 * Exit codes: 0 every file succeeded (or --allow-failures); 1 some failed or were skipped, some
 * uploads are left for --resume, or the run failed (API unreachable after retries); 2 usage, a
 * refusal that stops the run (bad key, unknown model), or a results/state file that cannot be
 * written (ENOSPC, EACCES, EROFS…); 130 interrupted (Ctrl-C).
 */

const usage = `usage: npm run backfill -- <dir | 'glob' | list.txt | image>… [options]
  --model NAME          model to run (default: the API's default)
  --param key=value     model parameter, repeatable
  --out FILE            results, one JSON line per file (default ${BACKFILL_DEFAULTS.out}); state in FILE.state
  --resume              continue the run recorded in --out and its state file
  --concurrency N       uploads in flight (default ${BACKFILL_DEFAULTS.concurrency})
  --batch-size N        jobs per batch request, 1..100 (default ${BACKFILL_DEFAULTS.batchSize})
  --timeout SECONDS     give up on an image this long after its upload (default ${BACKFILL_DEFAULTS.jobTimeoutMs / 1000})
  --progress MODE       auto | bar | lines | none (default auto: a bar on a terminal, lines every 10 s otherwise)
  --allow-failures      exit 0 even if some files failed or were skipped
  --api URL --key KEY   the API (default: API_URL/API_KEY, else the local cloud's .local/endpoints.json)
Quote globs ('photos/**/*.jpg') so the shell does not expand them.`;

function positiveInt(name: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new BackfillError(`--${name} must be a positive integer, not ${value}`);
  return n;
}

export function formatSummary(summary: BackfillSummary): string {
  const lines = [
    `${summary.files} files: ${summary.succeeded} succeeded, ${summary.failed} failed, ${summary.skipped} skipped` +
      (summary.previouslyDone ? ` (${summary.previouslyDone} done by earlier runs)` : ''),
  ];
  const codes = Object.entries(summary.failuresByCode).sort(([, a], [, b]) => b - a);
  if (codes.length) lines.push(`failed or skipped by code: ${codes.map(([code, n]) => `${code} ${n}`).join(', ')}`);
  const run = summary.thisRun;
  lines.push(
    `this run: ${run.processed} images in ${formatDuration(run.elapsedMs / 1000)} (${run.imagesPerSecond.toFixed(1)} images/s), ${run.uploaded} uploaded`,
  );
  lines.push(`results: ${summary.out}`);
  if (summary.unfinished > 0) {
    lines.push(`${summary.unfinished} images could not be uploaded (the cloud was unreachable): run again with --resume to retry them (state: ${summary.stateFile})`);
  }
  if (summary.interrupted) lines.push(`interrupted: run again with --resume to continue (state: ${summary.stateFile})`);
  return lines.join('\n');
}

async function main(): Promise<number> {
  let args;
  try {
    args = parseArgs({
      allowPositionals: true,
      options: {
        model: { type: 'string' },
        param: { type: 'string', multiple: true },
        out: { type: 'string' },
        resume: { type: 'boolean' },
        concurrency: { type: 'string' },
        'batch-size': { type: 'string' },
        timeout: { type: 'string' },
        progress: { type: 'string', default: 'auto' },
        'allow-failures': { type: 'boolean' },
        api: { type: 'string' },
        key: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    });
  } catch (error) {
    console.error(`${(error as Error).message}\n${usage}`);
    return 2;
  }
  const { values, positionals } = args;
  if (values.help) {
    console.log(usage);
    return 0;
  }
  if (positionals.length === 0) {
    console.error(usage);
    return 2;
  }

  // First Ctrl-C: stop cleanly (cut uploads, keep state). Second: quit at once (the state file is still whole).
  const stop = new AbortController();
  process.on('SIGINT', () => {
    if (stop.signal.aborted) process.exit(130);
    console.error('\nstopping… (Ctrl-C again to quit at once)');
    stop.abort();
  });
  process.on('SIGTERM', () => stop.abort());

  try {
    if (!['auto', 'bar', 'lines', 'none'].includes(values.progress)) throw new BackfillError(`--progress must be auto, bar, lines or none`);
    const target = resolveTarget(values);
    const timeout = positiveInt('timeout', values.timeout);
    const summary = await runBackfill({
      inputs: positionals,
      model: values.model,
      params: parseKeyValues(values.param),
      apiUrl: target.apiUrl,
      apiKey: target.apiKey,
      out: values.out,
      resume: values.resume,
      concurrency: positiveInt('concurrency', values.concurrency),
      batchSize: positiveInt('batch-size', values['batch-size']),
      ...(timeout ? { jobTimeoutMs: timeout * 1000 } : {}),
      progress: values.progress as ProgressMode,
      signal: stop.signal,
    });
    console.log(formatSummary(summary));
    if (summary.interrupted) return 130;
    if (summary.unfinished > 0) return 1;
    return summary.failed + summary.skipped > 0 && !values['allow-failures'] ? 1 : 0;
  } catch (error) {
    if (error instanceof JournalError) {
      console.error(`backfill: ${error.message}`);
      if (error.resumable) console.error('what was done so far is kept: fix that, then run again with --resume to continue');
      else console.error('nothing was sent');
      return 2;
    }
    if (error instanceof BackfillError || /no API to talk to|expected key=value/.test((error as Error).message)) {
      console.error(`backfill: ${(error as Error).message}`);
      return 2;
    }
    const cause = (error as { cause?: { code?: string; message?: string } }).cause;
    const why = cause ? ` (${cause.code ?? cause.message})` : '';
    console.error(`backfill failed: ${(error as Error).message}${why}; what was done is kept: run again with --resume to continue`);
    if (process.env.DEBUG) console.error((error as Error).stack);
    return 1;
  }
}

process.exitCode = await main();
