import sharp from 'sharp';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { ApiRequestError } from '#shared/client/pipeline-client.ts';
import { QUESTION_MAX_LENGTH } from '#shared/inference/gemini/params.ts';
import { responseJsonSchema } from '#shared/inference/gemini/preset.ts';
import { describePreset } from '#shared/inference/gemini/presets/describe.ts';
import { egyptianArtPreset } from '#shared/inference/gemini/presets/egyptian-art.ts';
import { FAKE_USAGE, type FakeGemini, reply, sentImage, sentText, startFakeGemini } from '../helpers/fake-gemini.ts';
import { BLUE, RED, twoTone, WHITE } from '../helpers/images.ts';
import { startTestCloud, submitBytes, type TestCloud } from '../helpers/local-cloud.ts';

/**
 * Gemini presets through the whole pipeline on the local cloud: presigned upload → S3 event →
 * SQS → worker (sharp, the real @google/genai SDK) → a fake Gemini speaking the REST protocol.
 */

const API_KEY = 'test-key';
const MAX_ATTEMPTS = 3;
let t: TestCloud;
let gemini: FakeGemini;
let smallJpeg: Buffer;

beforeAll(async () => {
  gemini = await startFakeGemini({ apiKey: API_KEY });
  t = await startTestCloud({
    maxReceiveCount: 2,
    env: {
      GEMINI_API_KEY: API_KEY,
      GEMINI_BASE_URL: gemini.url,
      GEMINI_MODEL_FAST: 'fake-flash-lite',
      GEMINI_MODEL_BALANCED: 'fake-flash',
      GEMINI_MODEL_ACCURATE: 'fake-pro',
      GEMINI_MAX_ATTEMPTS: String(MAX_ATTEMPTS),
      GEMINI_RETRY_BASE_MS: '20',
      GEMINI_RETRY_MAX_MS: '100',
      GEMINI_CALL_TIMEOUT_MS: '1500',
    },
  });
  smallJpeg = await twoTone('jpeg', 320, 240, RED, WHITE);
});

afterAll(async () => {
  await t?.stop();
  await gemini?.close();
});

beforeEach(() => gemini.reset());

const describeJob = (params?: Record<string, unknown>) => ({ model: 'gemini/describe', ...(params ? { params } : {}) });

describe('gemini presets through the pipeline', () => {
  it('lists the presets as available, with their params', async () => {
    const models = await t.client.listModels();
    for (const name of ['gemini/describe', 'gemini/egyptian-art']) {
      const model = models.find((m) => m.name === name);
      expect(model).toMatchObject({ kind: 'gemini', available: true });
      expect(Object.keys(model!.params).sort()).toEqual(['question', 'speed', 'temperature', 'thinkingBudget']);
    }
  });

  it('analyses a 5000×3000 JPEG: schema-valid data, a downscaled inline image, the schema, the model for the speed, thinking and temperature 0', async () => {
    gemini.script(reply.answer(describePreset.example, { modelVersion: 'fake-flash-lite-001' }));
    const image = await twoTone('jpeg', 5000, 3000, BLUE, WHITE);
    const job = await submitBytes(t.client, image, 'image/jpeg', describeJob({ speed: 'fast', thinkingBudget: 256 }));

    expect(job.status).toBe('succeeded');
    expect(job.result).toEqual({
      kind: 'analysis',
      model: 'gemini/describe',
      data: describePreset.example,
      usage: {
        promptTokens: FAKE_USAGE.promptTokenCount,
        outputTokens: FAKE_USAGE.candidatesTokenCount,
        thinkingTokens: FAKE_USAGE.thoughtsTokenCount,
        totalTokens: FAKE_USAGE.totalTokenCount,
      },
      modelVersion: 'fake-flash-lite-001',
    });
    expect(describePreset.schema.safeParse((job.result as { data: unknown }).data).success).toBe(true);

    expect(gemini.requests).toHaveLength(1);
    const [request] = gemini.requests;
    expect(request!.model).toBe('fake-flash-lite');
    expect(request!.headers['x-goog-api-key']).toBe(API_KEY);
    const sent = sentImage(request!);
    expect(sent.mimeType).toBe('image/jpeg');
    const { width, height, format } = await sharp(sent.bytes).metadata();
    expect(format).toBe('jpeg');
    expect(Math.max(width!, height!)).toBe(3072); // GEMINI_MAX_IMAGE_SIDE's default, aspect kept
    expect(height).toBe(Math.round((3000 * 3072) / 5000));
    expect(sentText(request!)).toContain(describePreset.prompt);
    expect(request!.body.generationConfig).toEqual({
      temperature: 0,
      responseMimeType: 'application/json',
      responseJsonSchema: responseJsonSchema(describePreset.schema),
      thinkingConfig: { thinkingBudget: 256 },
    });
  });

  it('uses the accurate model and the model-chosen thinking budget for speed=accurate', async () => {
    gemini.script(reply.answer(egyptianArtPreset.example));
    const job = await submitBytes(t.client, smallJpeg, 'image/jpeg', { model: 'gemini/egyptian-art', params: { speed: 'accurate' } });
    expect(job.status).toBe('succeeded');
    expect((job.result as { data: unknown }).data).toEqual(egyptianArtPreset.example);
    expect(gemini.requests[0]!.model).toBe('fake-pro');
    expect(gemini.requests[0]!.body.generationConfig?.thinkingConfig).toEqual({ thinkingBudget: -1 });
    expect(gemini.requests[0]!.body.generationConfig?.responseJsonSchema).toEqual(responseJsonSchema(egyptianArtPreset.schema));
  });

  it('appends a question to the prompt and returns its answer, with balanced defaults', async () => {
    gemini.script(reply.answer({ ...describePreset.example, answer: 'Two colours: red above white.' }));
    const job = await submitBytes(t.client, smallJpeg, 'image/jpeg', describeJob({ question: 'Which colours are there?' }));
    expect(job.status).toBe('succeeded');
    expect((job.result as { data: { answer: string } }).data.answer).toBe('Two colours: red above white.');
    const [request] = gemini.requests;
    expect(request!.model).toBe('fake-flash');
    expect(request!.body.generationConfig).toMatchObject({ temperature: 0, thinkingConfig: { thinkingBudget: 1024 } });
    expect(sentText(request!)).toContain('Which colours are there?');
    const schema = request!.body.generationConfig!.responseJsonSchema as { properties: Record<string, unknown>; required: string[] };
    expect(schema.properties).toHaveProperty('answer');
    expect(schema.required).toContain('answer');
  });

  it('sends an image with transparency as PNG', async () => {
    gemini.script(reply.answer(describePreset.example));
    const png = await sharp({ create: { width: 64, height: 48, channels: 4, background: { r: 0, g: 0, b: 255, alpha: 0.5 } } }).png().toBuffer();
    const job = await submitBytes(t.client, png, 'image/png', describeJob());
    expect(job.status).toBe('succeeded');
    expect(sentImage(gemini.requests[0]!).mimeType).toBe('image/png');
  });

  it('refuses bad params at job creation with 400, before any upload', async () => {
    for (const params of [{ speed: 'warp' }, { temperature: 3 }, { question: 'x'.repeat(QUESTION_MAX_LENGTH + 1) }, { topK: 3 }]) {
      const refusal = await t.client.createJob({ contentType: 'image/jpeg', contentLength: 1000, ...describeJob(params) }).catch((e: unknown) => e);
      expect(refusal).toBeInstanceOf(ApiRequestError);
      expect((refusal as ApiRequestError).status).toBe(400);
    }
    expect(gemini.requests).toHaveLength(0);
  });
});

describe('provider failures', () => {
  it("retries a 429 after the server's RetryInfo delay and succeeds in the same delivery", async () => {
    gemini.script(reply.rateLimited('0.400s'), reply.answer(describePreset.example));
    const job = await submitBytes(t.client, smallJpeg, 'image/jpeg', describeJob());
    expect(job.status).toBe('succeeded');
    expect(job.attempts).toBe(1);
    expect(gemini.requests).toHaveLength(2);
    expect(gemini.requests[1]!.at - gemini.requests[0]!.at).toBeGreaterThanOrEqual(400);
  });

  it('abandons a call that outlives the per-call timeout and retries it', async () => {
    gemini.script({ ...reply.answer(describePreset.example), delayMs: 3_000 }, reply.answer(describePreset.example));
    const job = await submitBytes(t.client, smallJpeg, 'image/jpeg', describeJob());
    expect(job.status).toBe('succeeded');
    expect(gemini.requests).toHaveLength(2);
    // The retry came once the 1.5 s call timeout fired (less the moments before the first request landed).
    expect(gemini.requests[1]!.at - gemini.requests[0]!.at).toBeGreaterThanOrEqual(1_400);
  });

  it('fails provider_unavailable on the final receive when Gemini stays at 503', async () => {
    gemini.script(...Array.from({ length: 2 * MAX_ATTEMPTS }, () => reply.unavailable()));
    const job = await submitBytes(t.client, smallJpeg, 'image/jpeg', describeJob());
    expect(job.status).toBe('failed');
    expect(job.error?.code).toBe('provider_unavailable');
    expect(job.error?.message).toMatch(/503 UNAVAILABLE/);
    expect(job.attempts).toBe(2); // maxReceiveCount in this cloud
    expect(gemini.requests).toHaveLength(2 * MAX_ATTEMPTS); // each delivery used its attempts
  });

  it('asks once more when the answer is not JSON, then fails model_error', async () => {
    gemini.script(reply.text('{"caption": "a tram", '), reply.text('Sorry, here is the JSON: {'));
    const job = await submitBytes(t.client, smallJpeg, 'image/jpeg', describeJob());
    expect(job.status).toBe('failed');
    expect(job.error?.code).toBe('model_error');
    expect(job.error?.message).toMatch(/not JSON/);
    expect(job.attempts).toBe(1);
    expect(gemini.requests).toHaveLength(2);
    const reask = gemini.requests[1]!.body.contents;
    expect(reask.map((c) => c.role)).toEqual(['user', 'model', 'user']);
    expect(reask[1]!.parts[0]!.text).toBe('{"caption": "a tram", ');
  });

  it('accepts an answer corrected after the re-ask, counting both calls in usage', async () => {
    gemini.script(reply.answer({ caption: 'missing the other fields' }), reply.answer(describePreset.example));
    const job = await submitBytes(t.client, smallJpeg, 'image/jpeg', describeJob());
    expect(job.status).toBe('succeeded');
    expect(gemini.requests[1]!.body.contents[2]!.parts[0]!.text).toMatch(/does not match the schema.*tags/);
    expect((job.result as { usage: { totalTokens: number } }).usage.totalTokens).toBe(2 * FAKE_USAGE.totalTokenCount);
  });

  it('fails provider_unavailable at once when Gemini refuses the API key', async () => {
    gemini.apiKey = 'a-rotated-key';
    try {
      const job = await submitBytes(t.client, smallJpeg, 'image/jpeg', describeJob());
      expect(job.status).toBe('failed');
      expect(job.error?.code).toBe('provider_unavailable');
      expect(job.error?.message).toMatch(/refused the API key: 400 INVALID_ARGUMENT: API key not valid/);
      expect(job.attempts).toBe(1);
      expect(gemini.requests).toHaveLength(1);
    } finally {
      gemini.apiKey = API_KEY;
    }
  });

  it.each([
    ['the prompt is blocked (promptFeedback.blockReason)', reply.promptBlocked('SAFETY'), /blocked the request: SAFETY.*DANGEROUS_CONTENT/],
    ['the answer is withheld (finishReason SAFETY)', reply.answerBlocked('SAFETY'), /withheld the answer: SAFETY.*HARASSMENT/],
    ['the candidate is empty', reply.empty(), /empty answer/],
  ])('fails model_error with the reason, without retrying, when %s', async (_case, blocked, reason) => {
    gemini.script(blocked);
    const job = await submitBytes(t.client, smallJpeg, 'image/jpeg', describeJob());
    expect(job.status).toBe('failed');
    expect(job.error?.code).toBe('model_error');
    expect(job.error?.message).toMatch(reason);
    expect(gemini.requests).toHaveLength(1);
  });
});
