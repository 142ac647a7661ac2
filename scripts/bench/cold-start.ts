import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { build } from 'esbuild';
import type { ApiEvent } from '#functions/api/http.ts';
import { collect, exited } from './processes.ts';
import { PROJECT_ROOT } from './fixtures.ts';
import { type Summary, summarize } from './stats.ts';
import { THREAD_BUNDLE, THREAD_SOURCE } from '#shared/inference/pool/entry.ts';

/**
 * Measurement 6, cold start: each function bundled as the CDK stack bundles it (esbuild: ESM,
 * minified, linked source map, the AWS SDK inside; the worker's native modules left outside), then
 * imported in a fresh `node` process that calls the handler twice: module init, first invocation
 * (SDK clients, model session, first inference), and a warm one for comparison. Measured with and
 * without --enable-source-maps, which the stack sets in NODE_OPTIONS.
 */

/** infra/constructs/pipeline-function.ts's banner (not imported: that would load aws-cdk-lib). */
const ESM_REQUIRE_BANNER =
  "import { createRequire as __pipelineCreateRequire } from 'node:module'; const require = __pipelineCreateRequire(import.meta.url);";

/** The worker's native modules (infra/constructs/bundling.ts WORKER_NATIVE_MODULES): installed beside the bundle, not bundled. */
const WORKER_EXTERNALS = ['sharp', 'onnxruntime-node'];

/** Lambda's limit on a function's unzipped package (code and layers). */
export const LAMBDA_UNZIPPED_LIMIT_BYTES = 250 * 1024 * 1024;
/** Lambda's init phase limit. */
export const LAMBDA_INIT_LIMIT_MS = 10_000;

export interface Bundle {
  file: string;
  bytes: number;
  mapBytes: number;
  gzipBytes: number;
}

export async function bundleFunction(entry: string, outDir: string, external: string[] = []): Promise<Bundle> {
  mkdirSync(outDir, { recursive: true });
  const file = join(outDir, 'index.mjs');
  // The worker's inference threads load their own bundled entry beside index.mjs, as the stack packages them.
  const thread = entry.startsWith('functions/worker/') ? { [THREAD_BUNDLE.replace(/\.mjs$/, '')]: join(PROJECT_ROOT, THREAD_SOURCE) } : {};
  await build({
    entryPoints: { index: join(PROJECT_ROOT, entry), ...thread },
    outdir: outDir,
    outExtension: { '.js': '.mjs' },
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node22',
    mainFields: ['module', 'main'],
    banner: { js: ESM_REQUIRE_BANNER },
    minify: true,
    sourcemap: 'linked',
    sourcesContent: false,
    external,
    logLevel: 'error',
  });
  // Externals resolve from the project's node_modules, as they would from the package's own.
  const modules = join(outDir, 'node_modules');
  if (external.length > 0 && !existsSync(modules)) symlinkSync(join(PROJECT_ROOT, 'node_modules'), modules, 'dir');
  const code = readFileSync(file);
  return { file, bytes: code.length, mapBytes: statSync(`${file}.map`).size, gzipBytes: gzipSync(code, { level: 9 }).length };
}

function directoryBytes(path: string, skip: (path: string) => boolean = () => false): number {
  if (skip(path)) return 0;
  const stat = statSync(path);
  if (!stat.isDirectory()) return stat.size;
  return readdirSync(path).reduce((sum, name) => sum + directoryBytes(join(path, name), skip), 0);
}

/**
 * The worker package's native part, as the stack installs it for linux on this machine's CPU:
 * sharp and onnxruntime-node with their installed dependencies, onnxruntime-node's binaries for
 * linux/<cpu> only (bundling.ts deletes the others).
 */
export function workerNativeModulesBytes(): number {
  const cpu = process.arch === 'arm64' ? 'arm64' : 'x64';
  const modules = join(PROJECT_ROOT, 'node_modules');
  const seen = new Set<string>();
  const visit = (name: string): number => {
    const dir = join(modules, name);
    if (seen.has(name) || !existsSync(dir)) return 0;
    seen.add(name);
    const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as {
      dependencies?: Record<string, string>;
      optionalDependencies?: Record<string, string>;
    };
    const ortBin = join(modules, 'onnxruntime-node', 'bin');
    const own = directoryBytes(dir, (path) => {
      if (!path.startsWith(ortBin)) return false;
      const parts = path.slice(ortBin.length + 1).split('/'); // napi-vN/<platform>/<cpu>
      return (parts.length >= 2 && parts[1] !== 'linux') || (parts.length >= 3 && parts[2] !== cpu);
    });
    const deps = Object.keys({ ...pkg.dependencies, ...pkg.optionalDependencies });
    return own + deps.reduce((sum, dep) => sum + visit(dep), 0);
  };
  return WORKER_EXTERNALS.reduce((sum, name) => sum + visit(name), 0);
}

export interface ColdRun {
  /** Node's boot before the driver runs. */
  bootMs: number;
  /** import() of the bundle: module init. */
  initMs: number;
  firstMs: number;
  secondMs: number;
  /** Spawn to exit, seen from outside. */
  processMs: number;
}

export interface ColdStart {
  label: string;
  sourceMaps: boolean;
  runs: ColdRun[];
  initMs: Summary;
  firstMs: Summary;
  /** init + first invocation. */
  initPlusFirstMs: Summary;
  secondMs: Summary;
  processMs: Summary;
}

const DRIVER = join(PROJECT_ROOT, 'scripts/bench/cold-start-driver.mjs');

/** One fresh process: import the bundle, call the handler with each event (two). */
export async function coldRun(bundle: Bundle, events: unknown[], sourceMaps: boolean, env: NodeJS.ProcessEnv, workDir: string): Promise<ColdRun> {
  const eventsFile = join(workDir, `events-${randomUUID()}.json`);
  writeFileSync(eventsFile, JSON.stringify(events));
  const start = performance.now();
  const child = spawn(process.execPath, [...(sourceMaps ? ['--enable-source-maps'] : []), DRIVER, bundle.file, eventsFile], {
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const stdout = collect(child.stdout);
  const stderr = collect(child.stderr);
  const code = await exited(child);
  const processMs = performance.now() - start;
  if (code !== 0) throw new Error(`cold start of ${bundle.file} exited with ${code}: ${stderr()}`);
  const out = JSON.parse(stdout()) as { bootMs: number; initMs: number; invocations: { ms: number; ok: boolean; status?: number }[] };
  const failed = out.invocations.find((i) => !i.ok);
  if (failed) throw new Error(`cold start of ${bundle.file}: an invocation failed (${failed.status ?? 'batch item failure'}): ${stderr()}`);
  return { bootMs: out.bootMs, initMs: out.initMs, firstMs: out.invocations[0]!.ms, secondMs: out.invocations[1]!.ms, processMs };
}

export function summarizeColdRuns(label: string, sourceMaps: boolean, runs: ColdRun[]): ColdStart {
  return {
    label,
    sourceMaps,
    runs,
    initMs: summarize(runs.map((r) => r.initMs)),
    firstMs: summarize(runs.map((r) => r.firstMs)),
    initPlusFirstMs: summarize(runs.map((r) => r.initMs + r.firstMs)),
    secondMs: summarize(runs.map((r) => r.secondMs)),
    processMs: summarize(runs.map((r) => r.processMs)),
  };
}

/** POST /v1/jobs as API Gateway hands it to the API function, after the authorizer said who the caller is. */
export function createJobEvent(ownerId: string, body: Record<string, unknown>): ApiEvent {
  const now = Date.now();
  return {
    version: '2.0',
    routeKey: '$default',
    rawPath: '/v1/jobs',
    rawQueryString: '',
    headers: { 'content-type': 'application/json', host: 'cold-start.local' },
    requestContext: {
      accountId: '000000000000',
      apiId: 'cold',
      domainName: 'cold-start.local',
      domainPrefix: 'cold',
      http: { method: 'POST', path: '/v1/jobs', protocol: 'HTTP/1.1', sourceIp: '127.0.0.1', userAgent: 'bench' },
      requestId: randomUUID(),
      routeKey: '$default',
      stage: '$default',
      time: new Date(now).toISOString(),
      timeEpoch: now,
      authorizer: { lambda: { ownerId } },
    },
    body: JSON.stringify(body),
    isBase64Encoded: false,
  } as ApiEvent;
}
