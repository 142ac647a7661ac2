import type { GenerateContentResponse, SafetyRating } from '@google/genai';
import type { z } from 'zod';
import { JobFailure } from '../../errors.ts';
import { issuesLine } from '../../validation.ts';

/**
 * Reading a generateContent response: a block or an empty candidate ends the job `model_error`
 * with the reason; otherwise the answer text is parsed and checked against the preset's schema,
 * and a mismatch is returned (not thrown) so the caller can ask once more.
 */

export type Reading<T> =
  | { ok: true; data: T; text: string }
  | { ok: false; text: string; problem: string };

export interface Usage {
  promptTokens: number;
  outputTokens: number;
  thinkingTokens?: number;
  totalTokens: number;
}

/** Finish reasons that mean the answer was withheld, not merely cut short. */
const BLOCKED_FINISH = new Set([
  'SAFETY',
  'RECITATION',
  'LANGUAGE',
  'BLOCKLIST',
  'PROHIBITED_CONTENT',
  'SPII',
  'IMAGE_SAFETY',
  'IMAGE_PROHIBITED_CONTENT',
  'IMAGE_RECITATION',
]);

export function readAnswer<T>(response: GenerateContentResponse, schema: z.ZodType<T>): Reading<T> {
  const feedback = response.promptFeedback;
  if (feedback?.blockReason) {
    throw JobFailure.permanent(
      'model_error',
      `Gemini blocked the request: ${feedback.blockReason}${detail(feedback.blockReasonMessage, feedback.safetyRatings)}`,
    );
  }
  const candidate = response.candidates?.[0];
  if (!candidate) throw JobFailure.permanent('model_error', 'Gemini returned no candidate');
  const finish = candidate.finishReason ?? 'FINISH_REASON_UNSPECIFIED';
  if (BLOCKED_FINISH.has(finish)) {
    throw JobFailure.permanent('model_error', `Gemini withheld the answer: ${finish}${detail(candidate.finishMessage, candidate.safetyRatings)}`);
  }
  // Thought summaries are parts too; the answer is the rest.
  const text = (candidate.content?.parts ?? [])
    .filter((part) => typeof part.text === 'string' && !part.thought)
    .map((part) => part.text)
    .join('');
  if (!text.trim()) throw JobFailure.permanent('model_error', `Gemini returned an empty answer (finishReason ${finish})`);

  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    const cut = finish === 'MAX_TOKENS' ? ' (cut off at the output token limit)' : '';
    return { ok: false, text, problem: `the answer is not JSON${cut}: ${(error as Error).message}` };
  }
  const checked = schema.safeParse(value);
  if (!checked.success) {
    return { ok: false, text, problem: `the answer does not match the schema: ${issuesLine(checked.error)}` };
  }
  return { ok: true, data: checked.data, text };
}

function detail(message: string | undefined, ratings: SafetyRating[] | undefined): string {
  const flagged = (ratings ?? [])
    .filter((r) => r.blocked || r.probability === 'HIGH' || r.probability === 'MEDIUM')
    .map((r) => `${r.category ?? 'unknown'}=${r.probability ?? 'blocked'}`);
  const parts = [message, flagged.length ? flagged.join(', ') : undefined].filter(Boolean);
  return parts.length ? ` (${parts.join('; ')})` : '';
}

/** Token counts of one response, in the result's terms. */
export function usageOf(response: GenerateContentResponse): Usage {
  const u = response.usageMetadata ?? {};
  const promptTokens = u.promptTokenCount ?? 0;
  const outputTokens = u.candidatesTokenCount ?? 0;
  const thinkingTokens = u.thoughtsTokenCount;
  return {
    promptTokens,
    outputTokens,
    ...(thinkingTokens ? { thinkingTokens } : {}),
    totalTokens: u.totalTokenCount ?? promptTokens + outputTokens + (thinkingTokens ?? 0),
  };
}

export function addUsage(a: Usage, b: Usage): Usage {
  const thinking = (a.thinkingTokens ?? 0) + (b.thinkingTokens ?? 0);
  return {
    promptTokens: a.promptTokens + b.promptTokens,
    outputTokens: a.outputTokens + b.outputTokens,
    ...(thinking ? { thinkingTokens: thinking } : {}),
    totalTokens: a.totalTokens + b.totalTokens,
  };
}
