import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { BenchImage, BenchModel, Workspace } from './fixtures.ts';
import { PROJECT_ROOT } from './fixtures.ts';
import { collect, exited, machineBusySeconds, type ProcessUsage, spawnTs, startCloudProcess } from './processes.ts';
import { perSecond } from './stats.ts';

/**
 * Measurement 4, backfill throughput: N images through the whole pipeline with the backfill CLI's
 * own code (runBackfill), the local cloud in one process and the backfill in another, so each
 * one's peak RSS and CPU time are its own.
 */

export type BackfillMeasurement =
  | {
      ok: true;
      images: number;
      succeeded: number;
      failed: number;
      failuresByCode: Record<string, number>;
      concurrency: number;
      elapsedMs: number;
      imagesPerSecond: number;
      /** CPU: the whole backfill process (its start-up included). */
      cli: ProcessUsage;
      /** CPU: from when the backfill started (the cloud's own start-up left out) … */
      cloud: ProcessUsage;
      /** … to when it ended (its process start-up included), ms. */
      cloudWindowMs: number;
      /** CPU other processes on the machine used in that window (not ours: not the cloud, the backfill or the bench). */
      otherCpuSeconds: number;
    }
  | { ok: false; reason: string };

/** What backfill-child.ts prints as its last line. */
export interface BackfillChildReport {
  succeeded: number;
  /** Failed or skipped. */
  failed: number;
  failuresByCode: Record<string, number>;
  concurrency: number;
  elapsedMs: number;
  usage: ProcessUsage;
}

const RUN_BACKFILL = join(PROJECT_ROOT, 'scripts/backfill/run.ts');
const CHILD = join(PROJECT_ROOT, 'scripts/bench/backfill-child.ts');

/** A folder of `count` JPEGs, cycling through the given photos. */
function writeInputFolder(dir: string, photos: BenchImage[], count: number): void {
  mkdirSync(dir, { recursive: true });
  for (let i = 0; i < count; i++) writeFileSync(join(dir, `photo-${String(i).padStart(6, '0')}.jpg`), photos[i % photos.length]!.bytes);
}

export async function measureBackfill(options: {
  workspace: Workspace;
  model: BenchModel;
  photos: BenchImage[];
  count: number;
  baseEnv: NodeJS.ProcessEnv;
  /** Settings for the local cloud (shared/config.ts variables), e.g. ONNX_INTRA_OP_THREADS. */
  cloudEnv?: Record<string, string>;
  /** Names this run's state folder and results, so runs do not share them. */
  tag: string;
  progress: (message: string) => void;
}): Promise<BackfillMeasurement> {
  if (!existsSync(RUN_BACKFILL)) return { ok: false, reason: 'scripts/backfill/run.ts (runBackfill) is not in this checkout' };
  const input = join(options.workspace.root, `backfill-input-${options.count}`);
  if (!existsSync(input)) writeInputFolder(input, options.photos, options.count);
  const cloud = await startCloudProcess({
    stateDir: join(options.workspace.root, `state-backfill-${options.tag}`),
    modelsDir: options.workspace.modelsDir,
    baseEnv: { ...options.baseEnv, ...options.cloudEnv },
  });
  let cloudUsage: ProcessUsage | undefined;
  // The cloud's start-up (module loading, the table) is not the backfill's: count CPU from here.
  const cloudAtStart = cloud.usage();
  const windowStart = performance.now();
  const machineAtStart = machineBusySeconds();
  const benchAtStart = process.cpuUsage();
  try {
    options.progress(`4. backfill: local cloud pid ${cloud.pid}, running the backfill`);
    const child = spawnTs(
      CHILD,
      [JSON.stringify({ input, model: options.model.name, out: join(options.workspace.root, `backfill-results-${options.tag}.jsonl`) })],
      { ...options.baseEnv, API_URL: cloud.endpoints.apiUrl, API_KEY: cloud.endpoints.apiKey },
    );
    const stdout = collect(child.stdout);
    const stderr = collect(child.stderr);
    const code = await exited(child);
    const cloudWindowMs = performance.now() - windowStart;
    const machineBusy = machineBusySeconds() - machineAtStart;
    const benchCpu = process.cpuUsage(benchAtStart);
    cloudUsage = await cloud.stop();
    const lastLine = stdout().trim().split('\n').at(-1) ?? '';
    let report: BackfillChildReport;
    try {
      report = JSON.parse(lastLine) as BackfillChildReport;
    } catch {
      return { ok: false, reason: `the backfill exited with ${code} and no report: ${stderr().slice(-2000)}` };
    }
    const cloudCpuSeconds = cloudUsage.cpuSeconds - cloudAtStart.cpuSeconds;
    const ours = cloudCpuSeconds + report.usage.cpuSeconds + (benchCpu.user + benchCpu.system) / 1e6;
    return {
      ok: true,
      images: options.count,
      succeeded: report.succeeded,
      failed: report.failed,
      failuresByCode: report.failuresByCode,
      concurrency: report.concurrency,
      elapsedMs: report.elapsedMs,
      imagesPerSecond: perSecond(report.succeeded, report.elapsedMs),
      cli: report.usage,
      cloudWindowMs,
      otherCpuSeconds: Math.max(0, machineBusy - ours),
      cloud: {
        peakRssMb: cloudUsage.peakRssMb,
        cpuSeconds: cloudCpuSeconds,
        mainThreadCpuSeconds: cloudUsage.mainThreadCpuSeconds - cloudAtStart.mainThreadCpuSeconds,
      },
    };
  } finally {
    if (!cloudUsage) await cloud.stop();
  }
}
