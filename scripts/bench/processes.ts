import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Endpoints } from '../local-cloud/cloud.ts';
import { PROJECT_ROOT } from './fixtures.ts';

/**
 * Child processes of the benchmark, so each one's memory and CPU can be told apart: the local
 * cloud (`npm start`'s entry point) and small drivers. Linux /proc gives peak RSS (VmHWM) and CPU
 * time of any of them.
 */

export interface ProcessUsage {
  /** Peak resident set size, MB (VmHWM). */
  peakRssMb: number;
  /** User + system CPU time of all its threads, seconds. */
  cpuSeconds: number;
  /** … of its main thread alone: the one JavaScript runs on. */
  mainThreadCpuSeconds: number;
}

/** /proc/<pid>/stat counts CPU time in clock ticks: USER_HZ, 100 on Linux. */
const CLOCK_TICKS_PER_SECOND = 100;

/** utime + stime of a /proc stat line, seconds. */
function cpuSecondsOf(stat: string): number {
  // The command name (field 2) may hold spaces; the fields after its closing parenthesis are fixed.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS_PER_SECOND; // fields 14 and 15
}

export function processUsage(pid: number | 'self'): ProcessUsage {
  const id = pid === 'self' ? process.pid : pid;
  const status = readFileSync(`/proc/${id}/status`, 'utf8');
  const hwmKb = Number(/^VmHWM:\s+(\d+) kB/m.exec(status)?.[1] ?? Number.NaN);
  return {
    peakRssMb: hwmKb / 1024,
    cpuSeconds: cpuSecondsOf(readFileSync(`/proc/${id}/stat`, 'utf8')),
    // The main thread's task id is the process id.
    mainThreadCpuSeconds: cpuSecondsOf(readFileSync(`/proc/${id}/task/${id}/stat`, 'utf8')),
  };
}

/**
 * CPU time the whole machine has been busy (all processes, all cores), seconds: with our own
 * processes' CPU, it says how much other work ran during a measurement.
 */
export function machineBusySeconds(): number {
  const [, ...ticks] = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0]!.trim().split(/\s+/).map(Number);
  const [user, nice, system, , , irq, softirq, steal] = ticks as number[];
  return (user! + nice! + system! + irq! + softirq! + (steal ?? 0)) / CLOCK_TICKS_PER_SECOND;
}

/** Run TypeScript in a fresh Node process through tsx's loader: one process, so its pid is the one to watch. */
export function spawnTs(script: string, args: string[], env: NodeJS.ProcessEnv, stdout: 'pipe' | 'ignore' = 'pipe'): ChildProcess {
  return spawn(process.execPath, ['--import', 'tsx', script, ...args], {
    cwd: PROJECT_ROOT,
    env,
    stdio: ['ignore', stdout, 'pipe'],
  });
}

export function exited(child: ChildProcess): Promise<number | null> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(child.exitCode);
  return new Promise((resolve) => child.once('exit', (code) => resolve(code)));
}

/** Collect a stream's text (a child's stderr, for the error message if it fails). */
export function collect(stream: NodeJS.ReadableStream | null): () => string {
  let text = '';
  stream?.on('data', (chunk: Buffer) => {
    text = (text + chunk.toString('utf8')).slice(-20_000);
  });
  return () => text;
}

export interface CloudProcess {
  pid: number;
  endpoints: Endpoints;
  /** Usage so far (the process is still running). */
  usage(): ProcessUsage;
  /** Stop it (SIGTERM: it finishes running jobs) and return its usage just before. */
  stop(): Promise<ProcessUsage>;
}

const CLOUD_START_TIMEOUT_MS = 60_000;

function readEndpoints(file: string): Endpoints | undefined {
  if (!existsSync(file)) return undefined;
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as Endpoints;
  } catch {
    return undefined; // caught mid-write
  }
}

/**
 * `tsx scripts/local-cloud/main.ts --state-dir X --fresh` on a free port, with the models folder
 * given. Logs go nowhere (as a terminal would show them, at the default level: their cost counts).
 */
export async function startCloudProcess(options: { stateDir: string; modelsDir: string; baseEnv: NodeJS.ProcessEnv }): Promise<CloudProcess> {
  const child = spawnTs(
    join(PROJECT_ROOT, 'scripts/local-cloud/main.ts'),
    ['--state-dir', options.stateDir, '--fresh'],
    { ...options.baseEnv, PORT: '0', MODELS_DIR: options.modelsDir },
    'ignore',
  );
  const stderr = collect(child.stderr);
  const endpointsFile = join(options.stateDir, 'endpoints.json');
  const deadline = Date.now() + CLOUD_START_TIMEOUT_MS;
  // endpoints.json is written last, once every server listens (the state dir is fresh).
  let endpoints: Endpoints | undefined;
  while (!(endpoints = readEndpoints(endpointsFile))) {
    if (child.exitCode !== null) throw new Error(`the local cloud exited with ${child.exitCode}: ${stderr()}`);
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`the local cloud did not start within ${CLOUD_START_TIMEOUT_MS} ms: ${stderr()}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  const pid = child.pid!;
  return {
    pid,
    endpoints,
    usage: () => processUsage(pid),
    async stop() {
      const usage = processUsage(pid);
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
      await exited(child);
      clearTimeout(timer);
      return usage;
    },
  };
}
