import type { Logger } from '@aws-lambda-powertools/logger';
import { type Content, type GenerateContentConfig, type GenerateContentResponse, GoogleGenAI } from '@google/genai';
import pLimit, { type LimitFunction } from 'p-limit';
import { z } from 'zod';
import { type Config, getConfig } from '../../config.ts';
import { JobFailure } from '../../errors.ts';
import { sleep } from '../../retry.ts';
import { inspectImage } from '../image.ts';
import type { GeminiEntry, InferenceInput } from '../types.ts';
import { forgetApiKey, geminiApiKey } from './api-key.ts';
import { fitForGemini } from './image.ts';
import { callSettings, type GeminiCallSettings, GeminiParamsSchema } from './params.ts';
import { responseJsonSchema } from './preset.ts';
import { addUsage, readAnswer, usageOf } from './response.ts';
import type { AnalysisResult } from './result.ts';
import { type CallFailure, describeCallFailure, retryDelayMs } from './retry.ts';

/**
 * A Gemini preset run on one image: fit the image, ask with the preset's prompt and response
 * schema, retry 429/5xx/timeouts within the invocation, check the answer, ask once more if it does
 * not match. The only module that uses @google/genai; only runners.ts (the worker) imports it.
 */

/** A call is not started with less time than this left before the invocation's deadline. */
export const MIN_CALL_MS = 1_000;


let client: Promise<GoogleGenAI> | undefined;
let callSlots: LimitFunction | undefined;

/** One client per process, made once the key is known (from the environment or Secrets Manager). */
function geminiClient(config: Config): Promise<GoogleGenAI> {
  if (!client) {
    client = geminiApiKey(config).then(
      (apiKey) =>
        new GoogleGenAI({
          vertexai: false,
          apiKey,
          ...(config.GEMINI_BASE_URL ? { httpOptions: { baseUrl: config.GEMINI_BASE_URL } } : {}),
        }),
    );
    client.catch(() => (client = undefined));
  }
  return client;
}

export async function analyzeImage(entry: GeminiEntry, input: InferenceInput, cpuSlots: LimitFunction): Promise<AnalysisResult> {
  const config = getConfig();
  const params = GeminiParamsSchema.safeParse(input.params);
  if (!params.success) {
    throw JobFailure.permanent('model_error', `params are invalid for ${entry.name}: ${z.prettifyError(params.error)}`);
  }
  const settings = callSettings(params.data, config);
  const image = await cpuSlots(async () => {
    await inspectImage(input.bytes, config.MAX_INPUT_PIXELS);
    return fitForGemini(input.bytes, { maxSide: config.GEMINI_MAX_IMAGE_SIDE, maxPixels: config.MAX_INPUT_PIXELS });
  });
  const ai = await geminiClient(config);

  const schema = answerSchema(entry.preset.schema, settings.question);
  const ask: Content = {
    role: 'user',
    parts: [
      { inlineData: { mimeType: image.mimeType, data: image.data.toString('base64') } },
      { text: promptText(entry.preset.prompt, settings.question) },
    ],
  };
  const context: CallContext = { config, deadline: input.deadline, log: input.log, preset: entry.name };
  const call = (contents: Content[]) =>
    generate(ai, settings.modelId, contents, generationConfig(settings, schema), context);

  let response = await call([ask]);
  let usage = usageOf(response);
  let reading = readAnswer(response, schema);
  if (!reading.ok) {
    // One re-ask, with the problem: structured output rarely misses twice.
    input.log.warn('gemini answer unusable; asking once more', { preset: entry.name, problem: reading.problem });
    response = await call([
      ask,
      { role: 'model', parts: [{ text: reading.text }] },
      { role: 'user', parts: [{ text: `That answer cannot be used: ${reading.problem.slice(0, 1_000)}. Reply again with only JSON that matches the response schema.` }] },
    ]);
    usage = addUsage(usage, usageOf(response));
    reading = readAnswer(response, schema);
    if (!reading.ok) throw JobFailure.permanent('model_error', `Gemini's answer was unusable after one re-ask: ${reading.problem}`);
  }
  return {
    kind: 'analysis',
    model: entry.name,
    data: reading.data,
    usage,
    ...(response.modelVersion ? { modelVersion: response.modelVersion } : {}),
  };
}

/** With a question, the answer gains a required `answer` field. */
function answerSchema(schema: z.ZodObject, question: string | undefined): z.ZodObject {
  return question ? schema.extend({ answer: z.string().describe('the answer to the question asked about the image') }) : schema;
}

function promptText(prompt: string, question: string | undefined): string {
  if (!question) return prompt;
  return `${prompt}\n\nAlso answer this question about the image in the "answer" field:\n"""\n${question}\n"""`;
}

function generationConfig(settings: GeminiCallSettings, schema: z.ZodType): GenerateContentConfig {
  return {
    temperature: settings.temperature,
    responseMimeType: 'application/json',
    responseJsonSchema: responseJsonSchema(schema),
    thinkingConfig: { thinkingBudget: settings.thinkingBudget },
  };
}

interface CallContext {
  config: Config;
  deadline: number;
  log: Logger;
  preset: string;
}

/**
 * One generateContent, retried while it fails transiently and the invocation has time. Each attempt
 * holds one of the process's call slots only while its request is in flight, not while it waits.
 */
async function generate(
  ai: GoogleGenAI,
  model: string,
  contents: Content[],
  generation: GenerateContentConfig,
  { config, deadline, log, preset }: CallContext,
): Promise<GenerateContentResponse> {
  callSlots ??= pLimit(config.GEMINI_MAX_CONCURRENCY);
  let last: CallFailure | undefined;
  for (let attempt = 1; ; attempt++) {
    let retryAfter: string | null = null;
    let latencyMs = 0;
    try {
      const response = await callSlots(async () => {
        const remaining = deadline - Date.now();
        if (remaining < MIN_CALL_MS) return undefined;
        const started = performance.now();
        try {
          return await ai.models.generateContent({
            model,
            contents,
            config: {
              ...generation,
              httpOptions: {
                timeout: Math.min(config.GEMINI_CALL_TIMEOUT_MS, remaining),
                // Keeps the Retry-After of a refused call (the SDK's ApiError has the body, not the headers).
                fetch: async (url, init) => {
                  const reply = await fetch(url, init);
                  if (!reply.ok) retryAfter = reply.headers.get('retry-after');
                  return reply;
                },
              },
            },
          });
        } finally {
          latencyMs = Math.round(performance.now() - started);
        }
      });
      if (!response) throw outOfTime(model, attempt - 1, last);
      log.info('gemini call', {
        preset,
        model,
        attempt,
        latencyMs,
        finishReason: response.candidates?.[0]?.finishReason,
        modelVersion: response.modelVersion,
        ...usageOf(response),
      });
      return response;
    } catch (error) {
      if (error instanceof JobFailure) throw error;
      const failure = describeCallFailure(error, retryAfter);
      last = failure;
      if (!failure.retryable) {
        log.warn('gemini call failed', { preset, model, attempt, latencyMs, status: failure.status, error: failure.message });
        if (failure.keyRejected) {
          client = undefined;
          forgetApiKey();
          throw JobFailure.permanent('provider_unavailable', `Gemini refused the API key: ${failure.message}`, error);
        }
        throw JobFailure.permanent('model_error', `Gemini refused the request (${model}): ${failure.message}`, error);
      }
      const delayMs = retryDelayMs(attempt, { baseMs: config.GEMINI_RETRY_BASE_MS, maxMs: config.GEMINI_RETRY_MAX_MS }, failure.serverDelayMs);
      const retrying = attempt < config.GEMINI_MAX_ATTEMPTS && Date.now() + delayMs + MIN_CALL_MS <= deadline;
      log.warn('gemini call failed', {
        preset,
        model,
        attempt,
        latencyMs,
        status: failure.status,
        error: failure.message,
        ...(failure.serverDelayMs === undefined ? {} : { serverDelayMs: failure.serverDelayMs }),
        ...(retrying ? { retryInMs: delayMs } : {}),
      });
      if (!retrying) throw outOfTime(model, attempt, failure, error);
      await sleep(delayMs);
    }
  }
}

/** Retries are used up for this delivery: the worker releases the job and SQS brings it back. */
function outOfTime(model: string, attempts: number, last: CallFailure | undefined, cause?: unknown): JobFailure {
  const why = last ? `${last.timedOut ? 'timed out' : 'failed'} (${last.message})` : 'could not start';
  return JobFailure.transient('provider_unavailable', `Gemini ${model} ${why} after ${attempts} attempt(s) in this delivery`, cause);
}
