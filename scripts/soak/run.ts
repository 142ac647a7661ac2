import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ResultLine } from '../backfill/journal.ts';
import type { Endpoints } from '../local-cloud/cloud.ts';
import { audit, type Check } from './audit.ts';
import { type Disruption, planDisruptions } from './chaos.ts';
import { type Corpus, generateCorpus } from './corpus.ts';
import { gatherEvidence } from './evidence.ts';
import { CloudProcess, type Exit, freePort, startBackfill } from './processes.ts';

/**
 * The soak: a corpus through the backfill CLI against the local cloud, both run as child processes
 * and killed at seeded moments, the CLI resumed until it has a row for every file; then the audit.
 */

export const SOAK_DEFAULTS = {
  bad: 20,
  cloudKills: 5,
  cliKills: 3,
  seed: 1,
  /** The whole soak, generation to audit, must end within this. */
  maxMinutes: 45,
  model: 'onnx/colors',
} as const;

/**
 * Batches per run at least: a small soak in one batch would upload in a blink and get every row at
 * once, leaving no moment to hurt it. Large ones use the backfill's own maximum (100).
 */
const MIN_BATCHES = 8;
const MAX_BATCH_SIZE = 100;
/** How often the supervisor looks at the results and state files for the next disruption's moment. */
const WATCH_INTERVAL_MS = 100;
/** A pause before resuming a run that ended with work left (the cloud was away), as a person would. */
const RESUME_PAUSE_MS = 500;
/** How long in-flight jobs may take to end after the CLI's last run, before the audit reads the table. */
const SETTLE_MS = 60_000;

export interface SoakOptions {
  images: number;
  bad?: number;
  cloudKills?: number;
  cliKills?: number;
  seed?: number;
  /** Keep the work folder (corpus, results, state, the cloud's state) for a look afterwards. */
  keep?: boolean;
  maxMinutes?: number;
  /** Progress lines (stderr in the CLI). */
  log?: (line: string) => void;
}

export interface FiredDisruption {
  disruption: Disruption;
  /** Result rows on file when it fired. */
  rows: number;
  /** The Ctrl-C'd cloud outlasted its drain and was killed after all. */
  forced?: boolean;
}

export interface CliRun {
  resumed: boolean;
  exit: Exit;
  /** Killed by the soak (a planned disruption). */
  killed: boolean;
}

export interface SoakReport {
  ok: boolean;
  checks: Check[];
  planned: Disruption[];
  fired: FiredDisruption[];
  cliRuns: CliRun[];
  files: number;
  elapsedMs: number;
  workDir: string;
}

const sleep = (ms: number) => new Promise<undefined>((r) => setTimeout(() => r(undefined), ms));

function countLines(path: string, marker?: string): number {
  if (!existsSync(path)) return 0;
  const text = readFileSync(path, 'utf8');
  if (marker) return text.split(marker).length - 1;
  let lines = 0;
  for (let at = text.indexOf('\n'); at !== -1; at = text.indexOf('\n', at + 1)) lines++;
  return lines;
}

/** How far the run has got, out of 2 × files: an upload on record and a row each count one step. */
function progressOf(out: string): number {
  return countLines(out) + countLines(`${out}.state`, '"t":"up"');
}

function everyFileHasRow(out: string, corpus: Corpus): boolean {
  if (!existsSync(out)) return false;
  const paths = new Set<string>();
  for (const text of readFileSync(out, 'utf8').split('\n')) {
    try {
      if (text.trim()) paths.add((JSON.parse(text) as ResultLine).path);
    } catch {
      // a cut line: that file has no row yet
    }
  }
  return [...corpus.files.keys()].every((p) => paths.has(p));
}

export async function runSoak(options: SoakOptions): Promise<SoakReport> {
  const started = Date.now();
  const seed = options.seed ?? SOAK_DEFAULTS.seed;
  const deadline = started + (options.maxMinutes ?? SOAK_DEFAULTS.maxMinutes) * 60_000;
  const log = options.log ?? (() => undefined);
  const workDir = mkdtempSync(join(tmpdir(), 'soak-'));
  const out = join(workDir, 'results.jsonl');
  const planned = planDisruptions({ cloudKills: options.cloudKills ?? SOAK_DEFAULTS.cloudKills, cliKills: options.cliKills ?? SOAK_DEFAULTS.cliKills }, seed);
  const fired: FiredDisruption[] = [];
  const cliRuns: CliRun[] = [];
  /** When the cloud died without draining: what may explain a job's second attempt. */
  const crashes: number[] = [];
  const cloud = new CloudProcess({ stateDir: join(workDir, 'cloud'), apiPort: await freePort(), edgePort: await freePort() });
  let failure: string | undefined;
  let checks: Check[] = [];
  let files = 0;

  try {
    const corpus = await generateCorpus(workDir, { images: options.images, bad: options.bad ?? SOAK_DEFAULTS.bad }, seed);
    files = corpus.files.size;
    log(`soak: ${files} files in ${corpus.dir}; ${planned.length} disruptions planned`);
    let endpoints: Endpoints = await cloud.start();
    const pending = [...planned];

    let lastDisruptionAt = -1;
    const batchSize = Math.min(MAX_BATCH_SIZE, Math.max(1, Math.ceil(files / MIN_BATCHES)));
    /** Fires the disruption due at this progress (steps of 2 × files), if any; returns whether it killed the CLI. */
    const disrupt = async (steps: number, cli: ReturnType<typeof startBackfill>): Promise<boolean> => {
      const next = pending[0];
      // One disruption per step of progress at most: the run must move between two blows.
      if (!next || steps < next.atShare * 2 * files || steps <= lastDisruptionAt) return false;
      lastDisruptionAt = steps;
      pending.shift();
      const rows = countLines(out);
      log(`soak: ${rows}/${files} rows, ${steps - rows} uploads: ${next.signal} to the ${next.target === 'cli' ? 'backfill' : 'local cloud'}`);
      if (next.target === 'cli') {
        cli.child.kill('SIGKILL');
        await cli.exited;
        fired.push({ disruption: next, rows });
        return true;
      }
      const at = Date.now();
      const { forced } = await cloud.stop(next.signal);
      if (next.signal === 'SIGKILL') crashes.push(at);
      if (forced) crashes.push(Date.now());
      fired.push({ disruption: next, rows, ...(forced ? { forced } : {}) });
      await sleep(next.downtimeMs);
      endpoints = await cloud.start();
      return false;
    };

    while (!failure) {
      const resumed = existsSync(out) || existsSync(`${out}.state`);
      const cli = startBackfill({ inputDir: corpus.dir, model: SOAK_DEFAULTS.model, out, resume: resumed, batchSize, endpoints });
      let exit: Exit | undefined;
      let killed = false;
      while (!exit && !killed) {
        exit = await Promise.race([cli.exited, sleep(WATCH_INTERVAL_MS)]);
        if (exit) break;
        if (Date.now() > deadline) {
          cli.child.kill('SIGKILL');
          failure = `the time limit (${options.maxMinutes ?? SOAK_DEFAULTS.maxMinutes} min) ran out`;
          break;
        }
        killed = await disrupt(progressOf(out), cli);
      }
      exit ??= await cli.exited;
      cliRuns.push({ resumed, exit, killed });
      log(`soak: backfill run ${cliRuns.length}${resumed ? ' (--resume)' : ''} ended: ${killed ? 'killed' : (exit.code ?? exit.signal)}`);
      if (failure || killed) continue;
      if (exit.code === 2) failure = `the backfill exited 2: ${cli.stderr().trim()}`;
      else if ((exit.code === 0 || exit.code === 1) && everyFileHasRow(out, corpus)) break;
      else await sleep(RESUME_PAUSE_MS);
    }

    const evidence = await gatherEvidence({ out, endpoints, settleMs: SETTLE_MS });
    checks = audit(corpus, evidence, crashes);
  } catch (error) {
    failure = `${(error as Error).message}${cloud.stderr() ? `\n${cloud.stderr()}` : ''}`;
  } finally {
    if (cloud.running) await cloud.stop('SIGINT');
    if (!options.keep) rmSync(workDir, { recursive: true, force: true });
  }
  const unfired = planned.length - fired.length;
  checks.unshift(
    { name: 'the soak ran to the end', value: failure ? 'no' : 'yes', ok: !failure, examples: failure ? [failure] : [] },
    // Every planned disruption must have happened, or the soak proved less than it claims.
    { name: 'disruptions fired', value: `${fired.length}/${planned.length}`, ok: unfired === 0, examples: unfired ? [`${unfired} came after the last row`] : [] },
  );
  return { ok: checks.every((c) => c.ok), checks, planned, fired, cliRuns, files, elapsedMs: Date.now() - started, workDir };
}
