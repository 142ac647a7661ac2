// First: it records the environment and quiets the handlers' logs before any of them loads.
import { startEnv } from './environment.ts';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { dirname, join } from 'node:path';
import { parseArgs } from 'node:util';
import { PipelineClient } from '#shared/client/pipeline-client.ts';
import { startLocalCloud } from '../local-cloud/cloud.ts';
import { LOCAL_RESOURCES } from '../local-cloud/cloud.ts';
import { API_CONCURRENCY, measureCreateJobRate, measurePutItemRate } from './api-rate.ts';
import { measureBackfill } from './backfill.ts';
import {
  bundleFunction,
  coldRun,
  createJobEvent,
  LAMBDA_INIT_LIMIT_MS,
  LAMBDA_UNZIPPED_LIMIT_BYTES,
  summarizeColdRuns,
  workerNativeModulesBytes,
  type ColdStart,
} from './cold-start.ts';
import { measureEndToEnd, type EndToEndMeasurement, type Poller } from './end-to-end.ts';
import { type BenchImage, type BenchModel, createWorkspace, generatePhotos, IMAGE_SIZES } from './fixtures.ts';
import { measureComputeThroughput, measureInference, measurePreprocess, type InferenceLimit, type PreprocessLimit } from './limit.ts';
import { describeMachine } from './machine.ts';
import { benchOcr, ocrRows } from './ocr.ts';
import { machineBusySeconds, startCloudProcess } from './processes.ts';
import { round, roundSummary, type Summary } from './stats.ts';
import { measureSyncRoute, startSyncRoute, SYNC_PAYLOAD_LIMIT_BYTES, type SyncMeasurement } from './sync-route.ts';
import { renderMarkdown, renderTable, type Row } from './table.ts';
import { measureIoFloor, measureWorker, type WorkerMeasurement, uploadedJob, uploadEvent, type WorkerHandler } from './worker.ts';

/** The local cloud's targets (the local-cloud issue): end-to-end overhead above the worker, and backfill against compute-bound. */
const E2E_OVERHEAD_BUDGET_MS = 40;
const BACKFILL_TARGET_RATIO = 0.75;

/**
 * `npm run bench [-- --quick] [--json FILE] [--markdown FILE] [--images N]`: the pipeline measured
 * against its limits on this machine, seven measurements (issue 5) and OCR quality and cost
 * (scripts/bench/ocr.ts), printed as one table.
 * Progress goes to stderr, the table to stdout.
 */

const { values: flags } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    json: { type: 'string' },
    markdown: { type: 'string' },
    images: { type: 'string' },
    'keep-workdir': { type: 'boolean', default: false },
  },
});

/** How much of each measurement to do. Quick: a smoke run under two minutes on two cores. */
const PROFILES = {
  full: {
    distinctPhotos: { '1mp': 6, '12mp': 2 },
    limit: { iterations: 30, warmup: 3 },
    limit12mp: { iterations: 15, warmup: 2 },
    interleaved: { iterations: 20, warmup: 3 },
    computeImages: 60,
    worker: { iterations: 20, warmup: 2 },
    worker12mp: { iterations: 10, warmup: 1 },
    endToEnd: { iterations: 20, warmup: 2 },
    endToEnd12mp: { iterations: 10, warmup: 1 },
    coldRuns: 3,
    apiDurationMs: 8_000,
    apiWarmupMs: 1_000,
    backfillImages: 500,
  },
  quick: {
    distinctPhotos: { '1mp': 3, '12mp': 1 },
    limit: { iterations: 8, warmup: 1 },
    limit12mp: { iterations: 4, warmup: 1 },
    interleaved: { iterations: 6, warmup: 1 },
    computeImages: 16,
    worker: { iterations: 6, warmup: 1 },
    worker12mp: { iterations: 3, warmup: 1 },
    endToEnd: { iterations: 6, warmup: 1 },
    endToEnd12mp: { iterations: 3, warmup: 1 },
    coldRuns: 1,
    apiDurationMs: 3_000,
    apiWarmupMs: 500,
    backfillImages: 40,
  },
};
const profileName = flags.quick ? 'quick' : 'full';
const profile = PROFILES[profileName];
const backfillImages = flags.images ? Number(flags.images) : profile.backfillImages;
if (!Number.isInteger(backfillImages) || backfillImages < 1) {
  console.error(`--images must be a positive integer, got ${flags.images}`);
  process.exit(2);
}

const benchStart = performance.now();
const progress = (message: string) =>
  process.stderr.write(`bench ${((performance.now() - benchStart) / 1000).toFixed(0).padStart(4)}s  ${message}\n`);

// The environment before this process changed it (the in-process cloud rewrites it), for child processes.
const baseEnv = startEnv;
const machine = describeMachine();
progress(`${profileName} run on ${machine.cores} × ${machine.cpuModel}, Node ${machine.node}, load ${machine.loadAverageAtStart.toFixed(2)}`);

const rows: Row[] = [];
const details: Record<string, unknown> = {};

/**
 * How much CPU other processes used while a measurement that runs only in this process ran:
 * machine-wide busy time less this process's own. Other work on the machine skews every figure.
 */
const otherWork: Record<string, { seconds: number; otherCoreSeconds: number }> = {};
function trackOtherWork(name: string): () => void {
  const start = performance.now();
  const machineStart = machineBusySeconds();
  const ownStart = process.cpuUsage();
  return () => {
    const own = process.cpuUsage(ownStart);
    otherWork[name] = {
      seconds: (performance.now() - start) / 1000,
      otherCoreSeconds: Math.max(0, machineBusySeconds() - machineStart - (own.user + own.system) / 1e6),
    };
  };
}
const mb = (bytes: number) => bytes / (1024 * 1024);

const workspace = await createWorkspace();
const { colors, resnet18 } = workspace.models;
progress(`workspace ${workspace.root}: models built`);
const photos = {
  '1mp': await generatePhotos(IMAGE_SIZES['1mp'], profile.distinctPhotos['1mp'], 1),
  '12mp': await generatePhotos(IMAGE_SIZES['12mp'], profile.distinctPhotos['12mp'], 101),
};
const meanBytes = (images: BenchImage[]) => images.reduce((s, i) => s + i.bytes.length, 0) / images.length;
details.images = Object.fromEntries(
  Object.entries(photos).map(([key, images]) => [key, { count: images.length, width: images[0]!.size.width, height: images[0]!.size.height, meanJpegBytes: Math.round(meanBytes(images)) }]),
);
progress(`photos: 1 MP ≈ ${(meanBytes(photos['1mp']) / 1024).toFixed(0)} KB, 12 MP ≈ ${mb(meanBytes(photos['12mp'])).toFixed(2)} MB`);

/** The model × image pairs measured through the pipeline. */
interface Combo {
  key: string;
  label: string;
  model: BenchModel;
  images: BenchImage[];
  is12mp: boolean;
}
const combos: Combo[] = [
  { key: 'colors.1mp', label: 'colors · 1 MP', model: colors, images: photos['1mp'], is12mp: false },
  { key: 'resnet18.1mp', label: 'resnet18 · 1 MP', model: resnet18, images: photos['1mp'], is12mp: false },
  { key: 'resnet18.12mp', label: 'resnet18 · 12 MP', model: resnet18, images: photos['12mp'], is12mp: true },
];

// ── 1. Limit ────────────────────────────────────────────────────────────────────────────────
const S1 = '1. Limit: preprocessing and inference alone';
progress('1. limit: preprocessing and inference alone');
const endLimit = trackOtherWork('1. limit');
const inference: Record<string, InferenceLimit> = {};
for (const model of [colors, resnet18]) inference[model.label] = await measureInference(model, photos['1mp'][0]!, profile.limit);
const preprocessing: Record<string, PreprocessLimit> = {};
for (const combo of combos) {
  preprocessing[combo.key] = await measurePreprocess(combo.model, combo.images[0]!, combo.is12mp ? profile.limit12mp : profile.limit);
}
/** The latency limit of a combo: preprocess p50 + inference p50, as the worker runs them. */
const limitMs = (combo: Combo) => preprocessing[combo.key]!.wallMs.p50 + inference[combo.model.label]!.wallMs.p50;
/** Per-image compute on one core. */
const coreMs = (combo: Combo) => preprocessing[combo.key]!.singleCoreMs.p50 + inference[combo.model.label]!.singleCoreMs.p50;
for (const model of [colors, resnet18]) {
  const inf = inference[model.label]!;
  rows.push({
    id: `limit.${model.label}.inference.p50`,
    section: S1,
    measure: `inference p50 · ${model.label}`,
    value: inf.wallMs.p50,
    unit: 'ms',
    note: `one intra-op thread: ${inf.singleCoreMs.p50.toFixed(1)} ms`,
  });
}
for (const combo of combos) {
  const pre = preprocessing[combo.key]!;
  rows.push({
    id: `limit.${combo.key}.preprocess.p50`,
    section: S1,
    measure: `preprocess p50 · ${combo.label}`,
    value: pre.wallMs.p50,
    unit: 'ms',
    note: `one libvips thread: ${pre.singleCoreMs.p50.toFixed(1)} ms`,
  });
  rows.push({ id: `limit.${combo.key}.total`, section: S1, measure: `limit = preprocess + inference · ${combo.label}`, value: limitMs(combo), unit: 'ms' });
}
const computeBoundLimit = (combo: Combo) => ({
  label: `compute-bound (${machine.cores} cores ÷ ${coreMs(combo).toFixed(1)} ms)`,
  value: (machine.cores * 1000) / coreMs(combo),
  unit: 'img/s' as const,
});
rows.push({
  id: 'limit.resnet18.event-loop-busy',
  section: S1,
  measure: 'diagnostic: JavaScript thread busy while resnet18 infers',
  value: 100 * inference[resnet18.label]!.eventLoopUtilization,
  unit: '%',
  note: 'onnxruntime-node runs a session synchronously on the calling thread (in a setImmediate)',
});
const computeThroughput = await measureComputeThroughput(resnet18, photos['1mp'], machine.cores, profile.computeImages);
const concurrent = `${machine.cores} images at a time`;
rows.push(
  { id: 'limit.resnet18.1mp.compute-throughput', section: S1, measure: `diagnostic: decode + inference, ${concurrent} · resnet18 · 1 MP`, value: computeThroughput.asShipped, unit: 'img/s', limit: computeBoundLimit(combos[1]!), note: 'one CPU slot per core as shared/inference/runners.ts; a decode overlaps an inference, two inferences never do (JS thread)' },
  { id: 'limit.resnet18.1mp.compute-throughput-1thread', section: S1, measure: '  … with one intra-op thread', value: computeThroughput.oneThread, unit: 'img/s', limit: computeBoundLimit(combos[1]!) },
);
details.limit = { inference, preprocessing, computeThroughput };
endLimit();

// ── In-process local cloud: measurements 3, 7, 2, 6 ─────────────────────────────────────────
progress('starting the local cloud in this process');
const cloud = await startLocalCloud({
  stateDir: join(workspace.root, 'state-inproc'),
  fresh: true,
  apiPort: 0,
  env: { MODELS_DIR: workspace.modelsDir, POWERTOOLS_LOG_LEVEL: 'ERROR' },
});
const client = new PipelineClient(cloud.endpoints.apiUrl, cloud.endpoints.apiKey);
const { handler: workerHandler } = (await import('../../functions/worker/index.ts')) as { handler: WorkerHandler };
// The sessions load on first use: one job per model first, so no measurement pays for it.
for (const combo of combos) await measureEndToEnd({ client, model: combo.model, images: combo.images, poller: 'poll10', iterations: 1, warmup: 0 });

// ── 3. End to end ────────────────────────────────────────────────────────────────────────────
const endEndToEnd = trackOtherWork('3. end to end');
const S3 = '3. End to end: POST /v1/jobs → result (one job at a time)';
const endToEnd: Record<string, EndToEndMeasurement> = {};
const POLLERS: Record<Poller, string> = { client: 'waitForJob', poll10: 'poll 10 ms' };
for (const combo of combos) {
  for (const poller of Object.keys(POLLERS) as Poller[]) {
    progress(`3. end to end: ${combo.label}, ${POLLERS[poller]}`);
    endToEnd[`${combo.key}.${poller}`] = await measureEndToEnd({
      client,
      model: combo.model,
      images: combo.images,
      poller,
      ...(combo.is12mp ? profile.endToEnd12mp : profile.endToEnd),
    });
  }
}

endEndToEnd();

// ── 7. Sync comparator ───────────────────────────────────────────────────────────────────────
progress('7. sync comparator');
const endSync = trackOtherWork('7. sync comparator');
const syncRoute = await startSyncRoute();
const sync: Record<string, SyncMeasurement> = {};
for (const combo of combos) {
  sync[combo.key] = await measureSyncRoute({ url: syncRoute.url, model: combo.model, images: combo.images, ...(combo.is12mp ? profile.endToEnd12mp : profile.endToEnd) });
}
await syncRoute.close();
details.endToEnd = endToEnd;
details.sync = sync;
endSync();

// ── 2. Worker (the event source stopped: the handler is called directly) ───────────────────
await cloud.eventSource.stop();
const endWorker = trackOtherWork('2. worker');
const S2 = '2. Worker: handler per image (claim, read, preprocess, infer, write)';
const worker: Record<string, WorkerMeasurement> = {};
for (const combo of combos) {
  progress(`2. worker: ${combo.label}`);
  worker[combo.key] = await measureWorker({
    handler: workerHandler,
    client,
    bucket: cloud.endpoints.bucket,
    region: cloud.endpoints.region,
    model: combo.model,
    images: combo.images,
    ...(combo.is12mp ? profile.worker12mp : profile.worker),
  });
}
const ioFloor = await measureIoFloor({ client, model: colors, image: photos['1mp'][0]!, iterations: profile.worker.iterations });
details.worker = { ...worker, ioFloor };
endWorker();
for (const combo of combos) {
  const w = worker[combo.key]!;
  const pre = preprocessing[combo.key]!.wallMs.p50;
  const inf = inference[combo.model.label]!.wallMs.p50;
  rows.push({
    id: `worker.${combo.key}.p50`,
    section: S2,
    measure: `worker p50 · ${combo.label}`,
    value: w.handlerMs.p50,
    unit: 'ms',
    limit: { label: 'limit (1)', value: limitMs(combo), unit: 'ms' },
    target: { kind: 'max', ratio: 1.15 },
    note: `inside: preprocess ${w.preprocessMs.p50.toFixed(1)} ms (alone ${pre.toFixed(1)}), inference ${w.inferenceMs.p50.toFixed(1)} ms (alone ${inf.toFixed(1)}), the rest (claim, S3 read, inspect, write) ≈ ${(w.handlerMs.p50 - w.preprocessMs.p50 - w.inferenceMs.p50).toFixed(1)} ms; p95 ${w.handlerMs.p95.toFixed(1)} ms`,
  });
}
rows.push({
  id: 'worker.io-floor',
  section: S2,
  measure: 'diagnostic: I/O floor per job (2 × UpdateItem + GetObject 1 MP)',
  value: ioFloor.perJobMs,
  unit: 'ms',
  note: `UpdateItem p50 ${ioFloor.updateItemMs.p50.toFixed(1)} ms, GetObject p50 ${ioFloor.getObjectMs.p50.toFixed(1)} ms, alone, with the worker's SDK clients`,
});

for (const combo of combos) {
  const w = worker[combo.key]!.handlerMs.p50;
  for (const poller of Object.keys(POLLERS) as Poller[]) {
    const e = endToEnd[`${combo.key}.${poller}`]!;
    const id = `e2e.${combo.key}.${poller}`;
    const what = `${combo.label} · ${POLLERS[poller]}`;
    rows.push(
      { id: `${id}.p50`, section: S3, measure: `e2e p50 · ${what}`, value: e.totalMs.p50, unit: 'ms', limit: { label: 'worker (2)', value: w, unit: 'ms' } },
      { id: `${id}.p95`, section: S3, measure: `e2e p95 · ${what}`, value: e.totalMs.p95, unit: 'ms', limit: { label: 'worker (2)', value: w, unit: 'ms' } },
      {
        id: `${id}.overhead.p50`,
        section: S3,
        measure: `overhead p50 · ${what}`,
        value: e.overheadMs.p50,
        unit: 'ms',
        limit: { label: 'budget', value: E2E_OVERHEAD_BUDGET_MS, unit: 'ms' },
        target: { kind: 'max', ratio: 1 },
        note: `p50: create ${e.createMs.p50.toFixed(0)} · PUT ${e.uploadMs.p50.toFixed(0)} · queue ${e.queueMs.p50.toFixed(0)} · worker ${e.workerMs.p50.toFixed(0)} · poll lag ${e.resultSeenMs.p50.toFixed(0)} ms`,
      },
    );
  }
}

// ── 6. Cold start ────────────────────────────────────────────────────────────────────────────
const S6 = '6. Cold start: fresh process, bundled as deployed';
progress('6. cold start: bundling');
const bundleDir = join(workspace.root, 'bundles');
const apiBundle = await bundleFunction('functions/api/index.ts', join(bundleDir, 'api'));
const workerBundle = await bundleFunction('functions/worker/index.ts', join(bundleDir, 'worker'), ['sharp', 'onnxruntime-node']);
const nativeBytes = workerNativeModulesBytes();
const childEnv = { ...process.env }; // the in-process cloud's endpoints and settings
const cold: Record<string, ColdStart> = {};
for (const sourceMaps of [true, false]) {
  const tag = sourceMaps ? 'maps' : 'nomaps';
  for (const model of [colors, resnet18]) {
    progress(`6. cold start: worker ${model.label}${sourceMaps ? ', --enable-source-maps' : ''}`);
    const runs = [];
    for (let i = 0; i < profile.coldRuns; i++) {
      const image = photos['1mp'][i % photos['1mp'].length]!;
      const events = [];
      for (let j = 0; j < 2; j++) {
        const jobId = await uploadedJob(client, model, image);
        events.push(uploadEvent(cloud.endpoints.bucket, cloud.endpoints.region, jobId, image.bytes.length));
      }
      runs.push(await coldRun(workerBundle, events, sourceMaps, childEnv, workspace.root));
    }
    cold[`worker.${model.label}.${tag}`] = summarizeColdRuns(`worker ${model.label}`, sourceMaps, runs);
  }
  progress(`6. cold start: api${sourceMaps ? ', --enable-source-maps' : ''}`);
  const runs = [];
  for (let i = 0; i < profile.coldRuns; i++) {
    const body = { model: colors.name, contentType: 'image/jpeg', contentLength: photos['1mp'][0]!.bytes.length };
    runs.push(await coldRun(apiBundle, [createJobEvent(LOCAL_RESOURCES.devOwner, body), createJobEvent(LOCAL_RESOURCES.devOwner, body)], sourceMaps, childEnv, workspace.root));
  }
  cold[`api.${tag}`] = summarizeColdRuns('api', sourceMaps, runs);
}
await cloud.stop();

const initLimit = { label: 'Lambda init limit', value: LAMBDA_INIT_LIMIT_MS, unit: 'ms' as const };
for (const model of [colors, resnet18]) {
  const c = cold[`worker.${model.label}.maps`]!;
  const bare = cold[`worker.${model.label}.nomaps`]!;
  const warm = worker[`${model.label}.1mp`]!.handlerMs.p50;
  rows.push(
    { id: `cold.worker.${model.label}.init`, section: S6, measure: `worker module init · ${model.label}`, value: c.initMs.p50, unit: 'ms', limit: initLimit, note: `without source maps ${bare.initMs.p50.toFixed(0)} ms; node boot ${c.runs[0]!.bootMs.toFixed(0)} ms before it` },
    { id: `cold.worker.${model.label}.init-first`, section: S6, measure: `worker init + first invocation · ${model.label} · 1 MP`, value: c.initPlusFirstMs.p50, unit: 'ms', limit: { label: 'warm worker (2)', value: warm, unit: 'ms' }, note: `first invocation ${c.firstMs.p50.toFixed(0)} ms, second ${c.secondMs.p50.toFixed(0)} ms; without source maps init + first ${bare.initPlusFirstMs.p50.toFixed(0)} ms` },
  );
}
{
  const c = cold['api.maps']!;
  const bare = cold['api.nomaps']!;
  const packageLimit = { label: 'Lambda unzipped limit', value: mb(LAMBDA_UNZIPPED_LIMIT_BYTES), unit: 'MB' as const };
  rows.push(
    { id: 'cold.api.bundle', section: S6, measure: 'API bundle (index.mjs, AWS SDK inside)', value: mb(apiBundle.bytes), unit: 'MB', limit: packageLimit, note: `gzip ${mb(apiBundle.gzipBytes).toFixed(2)} MB; source map ${mb(apiBundle.mapBytes).toFixed(2)} MB beside it` },
    { id: 'cold.api.init', section: S6, measure: 'API module init', value: c.initMs.p50, unit: 'ms', limit: initLimit, note: `without source maps ${bare.initMs.p50.toFixed(0)} ms` },
    { id: 'cold.api.init-first', section: S6, measure: 'API init + first POST /v1/jobs', value: c.initPlusFirstMs.p50, unit: 'ms', limit: { label: 'warm request', value: c.secondMs.p50, unit: 'ms' }, note: `first request ${c.firstMs.p50.toFixed(0)} ms; without source maps init + first ${bare.initPlusFirstMs.p50.toFixed(0)} ms` },
    { id: 'cold.worker.package', section: S6, measure: `worker package (bundle + ${process.platform}-${process.arch} sharp, onnxruntime)`, value: mb(workerBundle.bytes + nativeBytes), unit: 'MB', limit: packageLimit, note: `bundle ${mb(workerBundle.bytes).toFixed(2)} MB + native modules ${mb(nativeBytes).toFixed(1)} MB (models not counted)` },
  );
}
details.coldStart = { apiBundle, workerBundle: { ...workerBundle, nativeModulesBytes: nativeBytes }, runs: cold };

// ── 7. rows (after 2, so the sync figures sit beside both) ─────────────────────────────────
const S7 = '7. Sync comparator: base64 in, result out (≤ 6 MB bodies)';
for (const combo of combos) {
  const s = sync[combo.key]!;
  const body = `body ${mb(s.bodyBytes).toFixed(2)} MB`;
  if (!s.latencyMs) {
    rows.push({ id: `sync.${combo.key}.p50`, section: S7, measure: `sync route p50 · ${combo.label}`, value: null, unit: 'ms', note: `${body} > the ${mb(SYNC_PAYLOAD_LIMIT_BYTES)} MB synchronous payload limit: only the async path can take it` });
    continue;
  }
  const syncRef = { label: 'sync p50', value: s.latencyMs.p50, unit: 'ms' as const };
  rows.push({ id: `sync.${combo.key}.p50`, section: S7, measure: `sync route p50 · ${combo.label}`, value: s.latencyMs.p50, unit: 'ms', note: `${body}; p95 ${s.latencyMs.p95.toFixed(1)} ms` });
  for (const poller of Object.keys(POLLERS) as Poller[]) {
    rows.push({ id: `sync.${combo.key}.async-${poller}`, section: S7, measure: `  async p50 (${POLLERS[poller]}) ÷ sync`, value: endToEnd[`${combo.key}.${poller}`]!.totalMs.p50, unit: 'ms', limit: syncRef });
  }
}

// ── 5. API ───────────────────────────────────────────────────────────────────────────────────
const S5 = `5. API: create-job rate at concurrency ${API_CONCURRENCY} (cloud in its own process)`;
progress('5. api: starting a local cloud process');
const apiCloud = await startCloudProcess({ stateDir: join(workspace.root, 'state-api'), modelsDir: workspace.modelsDir, baseEnv });
progress(`5. api: PutItem and POST /v1/jobs at concurrency ${API_CONCURRENCY}`);
const apiTarget = { endpoints: apiCloud.endpoints, usage: () => apiCloud.usage() };
const putRate = await measurePutItemRate(apiTarget, profile.apiDurationMs, profile.apiWarmupMs);
const createRate = await measureCreateJobRate(apiTarget, profile.apiDurationMs, profile.apiWarmupMs);
const apiCloudUsage = await apiCloud.stop();
rows.push(
  { id: 'api.putitem.rate', section: S5, measure: 'DynamoDB (dynalite) conditional PutItem', value: putRate.perSecond, unit: 'req/s', note: `p50 ${putRate.latencyMs.p50.toFixed(1)} ms; CPU per request: cloud process ${putRate.serverCpuMsPerOp.toFixed(2)} ms (main thread ${putRate.serverMainThreadCpuMsPerOp.toFixed(2)}), load generator ${putRate.clientCpuMsPerOp.toFixed(2)} ms; other processes ${putRate.otherCpuSeconds.toFixed(1)} core-s; ${putRate.errors} errors` },
  {
    id: 'api.create-job.rate',
    section: S5,
    measure: 'POST /v1/jobs',
    value: createRate.perSecond,
    unit: 'req/s',
    limit: { label: 'PutItem', value: putRate.perSecond, unit: 'req/s' },
    target: { kind: 'min', ratio: 0.7 },
    note: `p50 ${createRate.latencyMs.p50.toFixed(1)} ms, p95 ${createRate.latencyMs.p95.toFixed(1)} ms; CPU per request: cloud process ${createRate.serverCpuMsPerOp.toFixed(2)} ms (main thread ${createRate.serverMainThreadCpuMsPerOp.toFixed(2)}), load generator ${createRate.clientCpuMsPerOp.toFixed(2)} ms; other processes ${createRate.otherCpuSeconds.toFixed(1)} core-s; ${createRate.errors} errors`,
  },
);
details.api = { putRate, createRate, cloudProcess: apiCloudUsage };

// ── 4. Backfill (last: the whole pipeline, in processes of its own) ────────────────────────
const S4 = '4. Backfill: the whole pipeline, cloud and CLI in processes of their own';
const backfillCombo = combos[1]!; // resnet18 · 1 MP
const backfillLimit = computeBoundLimit(backfillCombo);
const backfillRuns: { tag: string; label: string; cloudEnv: Record<string, string> }[] = [
  { tag: 'as-shipped', label: '', cloudEnv: {} },
  // The same run with the worker's ORT sessions on one thread each: a setting (shared/config.ts), not a code change.
  { tag: 'ort-1-thread', label: ' · ONNX_INTRA_OP_THREADS=1', cloudEnv: { ONNX_INTRA_OP_THREADS: '1' } },
];
const backfills: Record<string, unknown> = {};
for (const run of backfillRuns) {
  progress(`4. backfill: ${backfillImages} images${run.label}`);
  const backfill = await measureBackfill({
    workspace,
    model: backfillCombo.model,
    photos: backfillCombo.images,
    count: backfillImages,
    baseEnv,
    cloudEnv: run.cloudEnv,
    tag: run.tag,
    progress,
  });
  backfills[run.tag] = backfill;
  if (!backfill.ok) {
    rows.push({ id: `backfill.${run.tag}.throughput`, section: S4, measure: `${backfillImages} images · ${backfillCombo.label}${run.label}`, value: null, unit: 'img/s', limit: backfillLimit, note: backfill.reason });
    continue;
  }
  const coreSeconds = (machine.cores * backfill.elapsedMs) / 1000;
  rows.push({
    id: `backfill.${run.tag}.throughput`,
    section: S4,
    measure: `${backfill.images} images · ${backfillCombo.label} · concurrency ${backfill.concurrency}${run.label}`,
    value: backfill.imagesPerSecond,
    unit: 'img/s',
    limit: backfillLimit,
    target: { kind: 'min', ratio: BACKFILL_TARGET_RATIO },
    note:
      `${backfill.succeeded} succeeded, ${backfill.failed} failed in ${(backfill.elapsedMs / 1000).toFixed(1)} s; ` +
      `CPU: cloud ${backfill.cloud.cpuSeconds.toFixed(1)} s (${((backfill.cloud.cpuSeconds * 1000) / backfill.images).toFixed(0)} ms/image), ` +
      `backfill ${backfill.cli.cpuSeconds.toFixed(1)} s, of ${coreSeconds.toFixed(1)} core-s; ` +
      `cloud main thread busy ${((100 * backfill.cloud.mainThreadCpuSeconds * 1000) / backfill.cloudWindowMs).toFixed(0)}% ` +
      `(${((backfill.cloud.mainThreadCpuSeconds * 1000) / backfill.images).toFixed(0)} ms/image); other processes ${backfill.otherCpuSeconds.toFixed(1)} core-s`,
  });
  if (run.tag === 'as-shipped') {
    rows.push(
      { id: 'backfill.rss.cli', section: S4, measure: 'peak RSS · backfill process', value: backfill.cli.peakRssMb, unit: 'MB' },
      { id: 'backfill.rss.cloud', section: S4, measure: 'peak RSS · local cloud process', value: backfill.cloud.peakRssMb, unit: 'MB' },
    );
  }
}
details.backfill = { runs: backfills, computeBoundImagesPerSecond: backfillLimit.value, perImageCoreMs: coreMs(backfillCombo) };

// ── 8. OCR (its engines in child processes of their own, so each peak RSS is its own) ─────────
const S8 = '8. OCR: PP-OCRv4 on rendered text, ours vs @gutenye/ocr-node on the same weights';
progress('8. ocr: rendering pictures of text, reading them with ours and the reference');
const ocr = await benchOcr({ quick: flags.quick });
rows.push(...ocrRows(ocr, S8));
details.ocr = ocr;

// ── Report ───────────────────────────────────────────────────────────────────────────────────
const order = ['1.', '2.', '3.', '4.', '5.', '6.', '7.', '8.'];
rows.sort((a, b) => order.findIndex((p) => a.section.startsWith(p)) - order.findIndex((p) => b.section.startsWith(p)));
const elapsedS = (performance.now() - benchStart) / 1000;
const loadAtEnd = loadavg()[0]!;
progress(`done in ${elapsedS.toFixed(0)} s; load average now ${loadAtEnd.toFixed(2)}`);

console.log(`\nnpm run bench${flags.quick ? ' -- --quick' : ''} · ${machine.cores} × ${machine.cpuModel} · ${machine.memoryGb} GB · Node ${machine.node} · ${elapsedS.toFixed(0)} s\n`);
console.log(renderTable(rows));
const others = Object.entries(otherWork)
  .map(([name, w]) => `${name} ${w.otherCoreSeconds.toFixed(1)} of ${(w.seconds * machine.cores).toFixed(1)} core-s`)
  .join('; ');
console.log(`\nOther processes' CPU during the in-process measurements: ${others}. Load average ${machine.loadAverageAtStart.toFixed(2)} at start, ${loadAtEnd.toFixed(2)} at end.`);

const roundDeep = (value: unknown): unknown => {
  if (typeof value === 'number') return round(value, 3);
  if (Array.isArray(value)) return value.map(roundDeep);
  if (value && typeof value === 'object') {
    const entries = Object.entries(value);
    if ('p50' in value && 'n' in value) return roundSummary(value as Summary, 3);
    return Object.fromEntries(entries.map(([k, v]) => [k, roundDeep(v)]));
  }
  return value;
};
const report = {
  command: `npm run bench${flags.quick ? ' -- --quick' : ''}`,
  profile: profileName,
  startedAt: new Date(Date.now() - elapsedS * 1000).toISOString(),
  elapsedSeconds: round(elapsedS, 1),
  machine: { ...machine, loadAverageAtEnd: loadAtEnd },
  otherWork,
  // Unrounded, so a table rendered from the JSON reads exactly as the one printed.
  rows,
  details: roundDeep(details),
};
if (flags.json) {
  mkdirSync(dirname(flags.json), { recursive: true });
  writeFileSync(flags.json, `${JSON.stringify(report, null, 2)}\n`);
  progress(`JSON report: ${flags.json}`);
}
if (flags.markdown) {
  mkdirSync(dirname(flags.markdown), { recursive: true });
  writeFileSync(flags.markdown, `${renderMarkdown(rows)}\n`);
  progress(`Markdown table: ${flags.markdown}`);
}
if (!flags['keep-workdir']) rmSync(workspace.root, { recursive: true, force: true });
process.exit(0);
