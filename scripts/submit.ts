import { statSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { ApiRequestError, PipelineClient, UploadError, uploadFile } from '#shared/client/pipeline-client.ts';
import type { JobResult } from '#shared/jobs/responses.ts';
import { contentTypeOf, parseKeyValues, resolveTarget } from './lib/cli.ts';

/**
 * `npm run submit -- photo.jpg [--model onnx/colors] [--param k=v]… [--webhook URL] [--api URL] [--key KEY] [--json]`
 * Creates a job, streams the file to its upload URL, polls until done, prints the job as JSON; an
 * OCR result is printed as its lines (text and confidence) unless --json is given.
 * Exit codes: 0 succeeded; 1 the job failed (its code on stderr); 2 usage; 3 refused by the API or S3.
 */

const usage = 'usage: npm run submit -- <image> [--model NAME] [--param key=value]… [--metadata key=value]… [--webhook URL] [--api URL] [--key KEY] [--timeout SECONDS] [--json]';

let args;
try {
  args = parseArgs({
    allowPositionals: true,
    options: {
      model: { type: 'string' },
      param: { type: 'string', multiple: true },
      metadata: { type: 'string', multiple: true },
      api: { type: 'string' },
      key: { type: 'string' },
      timeout: { type: 'string', default: '600' },
      json: { type: 'boolean', default: false },
      webhook: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
} catch (error) {
  console.error(`${(error as Error).message}\n${usage}`);
  process.exit(2);
}
const { values, positionals } = args;
if (values.help || positionals.length !== 1) {
  console.error(usage);
  process.exit(values.help ? 0 : 2);
}

const file = positionals[0]!;
try {
  const size = statSync(file).size;
  const contentType = contentTypeOf(file);
  if (!contentType) {
    console.error(`${file}: not a recognised image type (jpeg, png, webp, gif, tiff, avif)`);
    process.exit(2);
  }
  const target = resolveTarget(values);
  const client = new PipelineClient(target.apiUrl, target.apiKey);
  const started = Date.now();
  const job = await client.createJob({
    model: values.model,
    contentType,
    contentLength: size,
    params: parseKeyValues(values.param),
    metadata: parseKeyValues(values.metadata) as Record<string, string> | undefined,
    ...(values.webhook ? { webhook: { url: values.webhook } } : {}),
  });
  if (values.webhook) {
    // For the receiver: the secret its deliveries are signed with (verifyWebhook in the typed client).
    console.error(`webhook: ${values.webhook} (signing secret: ${(await client.webhookSecret()).secret})`);
  }
  console.error(`job ${job.jobId} created (${job.model}); uploading ${size} bytes…`);
  await uploadFile(job.upload, file);
  let last = '';
  const done = await client.waitForJob(job.jobId, {
    timeoutMs: Number(values.timeout) * 1000,
    onPoll: (j) => {
      if (j.status !== last) console.error(`  ${j.status}`);
      last = j.status;
    },
  });
  console.error(`job ${done.jobId} ${done.status} in ${Date.now() - started} ms`);
  const result = done.result;
  if (result?.kind === 'ocr' && !values.json) console.log(ocrLines(result));
  else console.log(JSON.stringify(done, null, 2));
  if (done.status !== 'succeeded') {
    console.error(`error: ${done.error?.code ?? done.status}: ${done.error?.message ?? ''}`);
    process.exit(1);
  }
} catch (error) {
  if (error instanceof ApiRequestError || error instanceof UploadError) {
    console.error(`refused (${error.status} ${error.code}): ${error.message}`);
    process.exit(3);
  }
  console.error(`error: ${(error as Error).message}`);
  process.exit(1);
}

/** An OCR result for people: one line per text line, its confidence first so the text is not ragged. */
function ocrLines(result: Extract<JobResult, { kind: 'ocr' }>): string {
  const { width, height, format } = result.image;
  const heading = `${result.lines.length} ${result.lines.length === 1 ? 'line' : 'lines'} read (${result.model}, ${width}×${height} ${format}, ${Math.round(result.timings.totalMs)} ms)`;
  const lines = result.lines.map((line) => `${(line.confidence * 100).toFixed(1).padStart(5)} %  ${line.text}`);
  return [heading, ...lines].join('\n');
}
