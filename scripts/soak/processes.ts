import { type ChildProcess, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join, resolve } from 'node:path';
import type { Endpoints } from '../local-cloud/cloud.ts';

/**
 * The two processes the soak runs and kills: `npm start`'s entry point on a private state folder
 * and fixed ports (so presigned URLs and the API address survive its restarts), and the backfill
 * CLI. Each is node with tsx's loader, so the pid signalled is the process itself, not a wrapper.
 */

export const PROJECT_ROOT = resolve(import.meta.dirname, '..', '..');

/** How long the local cloud may take to start (tsx, the handlers, redriving unfinished jobs). */
const CLOUD_START_TIMEOUT_MS = 120_000;
/** How long a Ctrl-C'd cloud may take to finish its running jobs before it is killed after all. */
export const CLOUD_DRAIN_TIMEOUT_MS = 60_000;
/** What `main.ts` prints once every server listens and unfinished jobs were re-notified. */
const CLOUD_READY_LINE = 'Local inference pipeline is running.';
/** The tail of a child's output kept for error messages. */
const OUTPUT_TAIL_CHARS = 20_000;

/** A free loopback port, picked now (the OS does not hand it out again at once). */
export function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolvePort(port));
    });
  });
}

function spawnTs(script: string, args: string[], env: NodeJS.ProcessEnv): ChildProcess {
  return spawn(process.execPath, ['--import', 'tsx', join(PROJECT_ROOT, script), ...args], { cwd: PROJECT_ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
}

function tail(child: ChildProcess): { stdout: () => string; stderr: () => string } {
  let out = '';
  let err = '';
  child.stdout!.on('data', (c: Buffer) => (out = (out + c.toString('utf8')).slice(-OUTPUT_TAIL_CHARS)));
  child.stderr!.on('data', (c: Buffer) => (err = (err + c.toString('utf8')).slice(-OUTPUT_TAIL_CHARS)));
  return { stdout: () => out, stderr: () => err };
}

export interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

function exitOf(child: ChildProcess): Promise<Exit> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve({ code: child.exitCode, signal: child.signalCode });
  return new Promise((done) => child.once('exit', (code, signal) => done({ code, signal })));
}

export interface CloudSettings {
  stateDir: string;
  apiPort: number;
  edgePort: number;
  env?: NodeJS.ProcessEnv;
}

/** The local cloud as a child process, restartable on the same state folder and ports. */
export class CloudProcess {
  private child: ChildProcess | undefined;
  private output: ReturnType<typeof tail> | undefined;
  endpoints: Endpoints | undefined;

  constructor(private readonly settings: CloudSettings) {}

  get running(): boolean {
    return this.child !== undefined && this.child.exitCode === null && this.child.signalCode === null;
  }

  async start(): Promise<Endpoints> {
    const { stateDir, apiPort, edgePort, env } = this.settings;
    const child = spawnTs('scripts/local-cloud/main.ts', ['--state-dir', stateDir], {
      ...process.env,
      POWERTOOLS_LOG_LEVEL: 'ERROR',
      ...env,
      PORT: String(apiPort),
      EDGE_PORT: String(edgePort),
    });
    this.child = child;
    const output = tail(child);
    this.output = output;
    const exited = exitOf(child);
    const deadline = Date.now() + CLOUD_START_TIMEOUT_MS;
    while (!output.stdout().includes(CLOUD_READY_LINE)) {
      const early = await Promise.race([exited, new Promise<undefined>((r) => setTimeout(() => r(undefined), 50))]);
      if (early) throw new Error(`the local cloud exited while starting (${early.code ?? early.signal}): ${output.stderr() || output.stdout()}`);
      if (Date.now() > deadline) {
        child.kill('SIGKILL');
        throw new Error(`the local cloud did not start within ${CLOUD_START_TIMEOUT_MS} ms: ${output.stderr()}`);
      }
    }
    this.endpoints = JSON.parse(readFileSync(join(stateDir, 'endpoints.json'), 'utf8')) as Endpoints;
    return this.endpoints;
  }

  /**
   * SIGKILL: gone at once, mid-write. SIGINT: one Ctrl-C, which drains; if draining outlasts
   * CLOUD_DRAIN_TIMEOUT_MS it is killed after all (`forced`).
   */
  async stop(signal: 'SIGKILL' | 'SIGINT'): Promise<{ exit: Exit; forced: boolean }> {
    const child = this.child;
    if (!child) throw new Error('the local cloud is not running');
    const exited = exitOf(child);
    child.kill(signal);
    let forced = false;
    const timer = setTimeout(() => {
      forced = true;
      child.kill('SIGKILL');
    }, CLOUD_DRAIN_TIMEOUT_MS);
    const exit = await exited;
    clearTimeout(timer);
    this.child = undefined;
    return { exit, forced };
  }

  stderr(): string {
    return this.output?.stderr() ?? '';
  }
}

export interface BackfillRun {
  child: ChildProcess;
  exited: Promise<Exit>;
  stdout: () => string;
  stderr: () => string;
}

/** `npm run backfill -- <dir> --model M --out FILE --batch-size N [--resume]` against the given API. */
export function startBackfill(options: { inputDir: string; model: string; out: string; resume: boolean; batchSize: number; endpoints: Endpoints }): BackfillRun {
  const args = [options.inputDir, '--model', options.model, '--out', options.out, '--progress', 'none', '--batch-size', String(options.batchSize)];
  if (options.resume) args.push('--resume');
  args.push('--api', options.endpoints.apiUrl, '--key', options.endpoints.apiKey);
  const child = spawnTs('scripts/backfill/main.ts', args, process.env);
  const output = tail(child);
  return { child, exited: exitOf(child), ...output };
}
