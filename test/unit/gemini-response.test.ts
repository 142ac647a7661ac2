import type { GenerateContentResponse } from '@google/genai';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { JobFailure } from '#shared/errors.ts';
import { apiKeyFromSecretString, geminiApiKey } from '#shared/inference/gemini/api-key.ts';
import { addUsage, readAnswer, usageOf } from '#shared/inference/gemini/response.ts';

/** Reading Gemini's answers: blocks and empties end the job; off-schema answers are returned for a re-ask. */

const schema = z.object({ caption: z.string(), tags: z.array(z.string()) });
const answer = (text: string, finishReason = 'STOP') =>
  ({ candidates: [{ content: { role: 'model', parts: [{ text }] }, finishReason }] }) as unknown as GenerateContentResponse;

function failureOf(read: () => unknown): JobFailure {
  try {
    read();
  } catch (error) {
    expect(error).toBeInstanceOf(JobFailure);
    return error as JobFailure;
  }
  throw new Error('expected a JobFailure');
}

describe('readAnswer', () => {
  it('returns schema-valid data', () => {
    expect(readAnswer(answer('{"caption":"a cat","tags":["cat"]}'), schema)).toMatchObject({ ok: true, data: { caption: 'a cat', tags: ['cat'] } });
  });

  it('ignores thought parts', () => {
    const response = {
      candidates: [{ content: { parts: [{ text: 'let me think', thought: true }, { text: '{"caption":"x","tags":[]}' }] }, finishReason: 'STOP' }],
    } as unknown as GenerateContentResponse;
    expect(readAnswer(response, schema)).toMatchObject({ ok: true, data: { caption: 'x', tags: [] } });
  });

  it('returns malformed JSON as a problem to re-ask about, noting a cut-off answer', () => {
    expect(readAnswer(answer('{"caption":'), schema)).toMatchObject({ ok: false, text: '{"caption":', problem: expect.stringMatching(/not JSON/) });
    expect(readAnswer(answer('{"caption":', 'MAX_TOKENS'), schema)).toMatchObject({ ok: false, problem: expect.stringMatching(/cut off/) });
  });

  it('returns an off-schema answer with the fields at fault', () => {
    expect(readAnswer(answer('{"caption":3}'), schema)).toMatchObject({ ok: false, problem: expect.stringMatching(/caption.*tags/s) });
  });

  it('fails model_error, permanently, on a blocked prompt with its reason', () => {
    const blocked = {
      promptFeedback: { blockReason: 'PROHIBITED_CONTENT', blockReasonMessage: 'policy', safetyRatings: [{ category: 'HARM_CATEGORY_HATE_SPEECH', probability: 'HIGH' }] },
    } as unknown as GenerateContentResponse;
    const failure = failureOf(() => readAnswer(blocked, schema));
    expect(failure).toMatchObject({ code: 'model_error', permanent: true });
    expect(failure.message).toBe('Gemini blocked the request: PROHIBITED_CONTENT (policy; HARM_CATEGORY_HATE_SPEECH=HIGH)');
  });

  it.each(['SAFETY', 'RECITATION', 'PROHIBITED_CONTENT', 'IMAGE_SAFETY'])('fails model_error when the answer stops for %s', (reason) => {
    const stopped = { candidates: [{ finishReason: reason }] } as unknown as GenerateContentResponse;
    expect(failureOf(() => readAnswer(stopped, schema))).toMatchObject({ code: 'model_error', permanent: true, message: `Gemini withheld the answer: ${reason}` });
  });

  it('fails model_error on no candidate and on an empty one', () => {
    expect(failureOf(() => readAnswer({ candidates: [] } as unknown as GenerateContentResponse, schema)).message).toMatch(/no candidate/);
    expect(failureOf(() => readAnswer(answer('  '), schema)).message).toMatch(/empty answer/);
  });
});

describe('usage', () => {
  it('maps usageMetadata to the result terms, thinking only when there was some', () => {
    const withThinking = { usageMetadata: { promptTokenCount: 100, candidatesTokenCount: 20, thoughtsTokenCount: 30, totalTokenCount: 150 } } as GenerateContentResponse;
    const without = { usageMetadata: { promptTokenCount: 10, candidatesTokenCount: 5, totalTokenCount: 15 } } as GenerateContentResponse;
    expect(usageOf(withThinking)).toEqual({ promptTokens: 100, outputTokens: 20, thinkingTokens: 30, totalTokens: 150 });
    expect(usageOf(without)).toEqual({ promptTokens: 10, outputTokens: 5, totalTokens: 15 });
    expect(addUsage(usageOf(withThinking), usageOf(without))).toEqual({ promptTokens: 110, outputTokens: 25, thinkingTokens: 30, totalTokens: 165 });
  });
});

describe('the API key secret', () => {
  it.each([
    ['a bare key', 'AIzaSyExample\n', 'AIzaSyExample'],
    ['JSON with apiKey', '{"apiKey":"AIza1"}', 'AIza1'],
    ['JSON with GEMINI_API_KEY', '{"GEMINI_API_KEY":"AIza2"}', 'AIza2'],
    ['an empty string', '  ', undefined],
    ['JSON without a key', '{"other":"x"}', undefined],
    ["the stack's placeholder", '{"apiKey":""}', undefined],
  ])('reads %s', (_case, secret, key) => {
    expect(apiKeyFromSecretString(secret)).toBe(key);
  });

  it('prefers GEMINI_API_KEY, and refuses permanently when neither is set', async () => {
    const both = { AWS_REGION: 'us-east-1', GEMINI_API_KEY: 'AIza-env', GEMINI_API_KEY_SECRET_ARN: 'arn:aws:secretsmanager:us-east-1:1:secret:x' };
    await expect(geminiApiKey(both)).resolves.toBe('AIza-env');
    await expect(geminiApiKey({ AWS_REGION: 'us-east-1' })).rejects.toMatchObject({ code: 'model_error', permanent: true });
  });
});
