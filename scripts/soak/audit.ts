import { isTerminal, type Job } from '#shared/jobs/model.ts';
import type { ResultLine } from '../backfill/journal.ts';
import type { Corpus } from './corpus.ts';
import type { Evidence } from './evidence.ts';

/**
 * The soak's verdict: what the issue "Crash-safe local cloud and backfill" promises, checked
 * against the results file, the state file, the table and the bucket after the last run.
 */

export interface Check {
  name: string;
  /** What was counted, for the summary table. */
  value: string;
  ok: boolean;
  /** A few of the offending files or jobs, when not ok. */
  examples: string[];
}

/** When the local cloud died without draining (SIGKILL, or a Ctrl-C that outlasted its drain), epoch ms. */
export type CrashTimes = readonly number[];

/** Offenders listed per failed check: enough to start looking, not a dump. */
const EXAMPLES_PER_CHECK = 5;

function check(name: string, value: string, offenders: string[]): Check {
  return { name, value, ok: offenders.length === 0, examples: offenders.slice(0, EXAMPLES_PER_CHECK) };
}

function group<T>(items: Iterable<T>, key: (item: T) => string | undefined): Map<string, T[]> {
  const groups = new Map<string, T[]>();
  for (const item of items) {
    const k = key(item);
    if (k === undefined) continue;
    groups.set(k, [...(groups.get(k) ?? []), item]);
  }
  return groups;
}

/** A retry is explained by a crash only if the cloud died while the job was alive (created, not yet ended). */
function interruptedByCrash(job: Job, crashes: CrashTimes, now: number): boolean {
  const from = Date.parse(job.createdAt);
  const to = job.completedAt ? Date.parse(job.completedAt) : now;
  return crashes.some((at) => at >= from && at <= to);
}

function rowChecks(corpus: Corpus, evidence: Evidence): Check[] {
  const rowsByPath = group(evidence.results, (r) => r.path);
  const missing = [...corpus.files.keys()].filter((p) => !rowsByPath.has(p)).map((p) => `${p}: no row`);
  const repeated = [...rowsByPath].filter(([, rows]) => rows.length > 1).map(([p, rows]) => `${p}: ${rows.length} rows`);
  const strangers = [...rowsByPath.keys()].filter((p) => !corpus.files.has(p)).map((p) => `${p}: not an input`);
  const broken = evidence.brokenResultLines ? [`${evidence.brokenResultLines} lines are not JSON`] : [];
  const exact = [...corpus.files.keys()].filter((p) => rowsByPath.get(p)?.length === 1).length;

  const rowOf = (path: string): ResultLine | undefined => rowsByPath.get(path)?.[0];
  const images = [...corpus.files].filter(([, e]) => e.kind === 'image').map(([p]) => p);
  const notSucceeded = images.filter((p) => rowOf(p) && rowOf(p)!.status !== 'succeeded');
  const uploadFailed = notSucceeded.filter((p) => rowOf(p)!.error?.code === 'upload_failed');
  const describe = (p: string) => `${p}: ${rowOf(p)!.status} ${rowOf(p)!.error?.code ?? ''}`.trim();

  const bad = [...corpus.files].flatMap(([p, e]) => (e.kind === 'bad' ? [{ path: p, expected: e }] : []));
  const wrongBad = bad.filter(({ path, expected }) => {
    const row = rowOf(path);
    return !row || row.status !== expected.status || row.error?.code !== expected.code;
  });
  return [
    check('every input file has exactly one row', `${exact}/${corpus.files.size}`, [...missing, ...repeated, ...strangers, ...broken]),
    check('good images succeeded', `${images.length - notSucceeded.length}/${images.length}`, notSucceeded.map(describe)),
    check('good images upload_failed', String(uploadFailed.length), uploadFailed.map(describe)),
    check(
      'bad files ended with the right failure',
      `${bad.length - wrongBad.length}/${bad.length}`,
      wrongBad.map(({ path, expected }) => `${path}: expected ${expected.status} ${expected.code}, got ${rowOf(path) ? describe(path) : 'no row'}`),
    ),
  ];
}

function jobChecks(corpus: Corpus, evidence: Evidence, crashes: CrashTimes, now: number): Check[] {
  const jobsById = new Map(evidence.jobs.map((j) => [j.jobId, j]));
  const pathOf = (job: Job) => evidence.pathOfJob.get(job.jobId);
  const unfinished = evidence.jobs.filter((j) => !isTerminal(j.status));
  const strangers = evidence.jobs.filter((j) => !pathOf(j) || !corpus.files.has(pathOf(j)!));

  const disagreeing = evidence.results.flatMap((row) => {
    if (!row.jobId) return [];
    const job = jobsById.get(row.jobId);
    if (!job) return [`${row.path}: row names job ${row.jobId}, which the table lacks`];
    const agrees = row.status === 'succeeded' ? job.status === 'succeeded' : row.status === 'failed' && job.status !== 'succeeded' && isTerminal(job.status);
    return agrees ? [] : [`${row.path}: row ${row.status}, job ${job.jobId} ${job.status}`];
  });

  const jobsByPath = group(evidence.jobs, pathOf);
  const uploadedTwice = [...jobsByPath].filter(([, jobs]) => jobs.filter((j) => evidence.uploadedObjects.has(j.jobId)).length > 1);
  // Worked on by a worker under more than one job (or succeeded twice): the same image processed twice.
  const processedTwice = [...jobsByPath].filter(([, jobs]) => jobs.filter((j) => j.attempts > 0 || j.status === 'succeeded').length > 1);
  const orphanObjects = [...evidence.uploadedObjects].filter((id) => !jobsById.has(id));

  const retried = evidence.jobs.filter((j) => j.attempts > 1);
  const unexplained = retried.filter((j) => !interruptedByCrash(j, crashes, now));
  const listJobs = (entries: [string, Job[]][]) => entries.map(([p, jobs]) => `${p}: jobs ${jobs.map((j) => `${j.jobId} ${j.status}`).join(', ')}`);
  return [
    check('jobs left non-terminal', String(unfinished.length), unfinished.map((j) => `${j.jobId} ${j.status} (${pathOf(j) ?? 'no file'})`)),
    check('jobs not traceable to an input file', String(strangers.length), strangers.map((j) => `${j.jobId} ${j.status}`)),
    check('rows that disagree with their job', String(disagreeing.length), disagreeing),
    check(
      'files uploaded more than once',
      `${uploadedTwice.length} (objects ${evidence.uploadedObjects.size}, jobs ${evidence.jobs.length})`,
      listJobs(uploadedTwice),
    ),
    check('objects with no job', String(orphanObjects.length), orphanObjects),
    check('files processed more than once', String(processedTwice.length), listJobs(processedTwice)),
    check(
      'jobs with attempts > 1 not explained by a crash',
      `${unexplained.length} (of ${retried.length} with attempts > 1)`,
      unexplained.map((j) => `${j.jobId}: ${j.attempts} attempts, ${j.createdAt} → ${j.completedAt ?? 'not ended'}`),
    ),
  ];
}

export function audit(corpus: Corpus, evidence: Evidence, crashes: CrashTimes, now = Date.now()): Check[] {
  return [...rowChecks(corpus, evidence), ...jobChecks(corpus, evidence, crashes, now)];
}
