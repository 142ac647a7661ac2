import { z } from 'zod';
import type { Config } from '../../config.ts';

/**
 * The params every Gemini preset takes (checked at job creation and again by the worker, where
 * the defaults are applied), and how they become one generateContent call's settings.
 */

export const GEMINI_SPEEDS = ['fast', 'balanced', 'accurate'] as const;
export type GeminiSpeed = (typeof GEMINI_SPEEDS)[number];

/** The longest `question` accepted, in characters: a question, not a second prompt. */
export const QUESTION_MAX_LENGTH = 500;

/** Thinking budget bounds, tokens: -1 lets the model decide, 0 turns thinking off (where the model allows it). */
export const THINKING_BUDGET_MIN = -1;
export const THINKING_BUDGET_MAX = 32_768;

/**
 * The thinking budget when the job sets none: none for `fast`, a bounded amount for `balanced`, the
 * model's own choice for `accurate` (Gemini 2.5 Pro cannot turn thinking off).
 */
export const DEFAULT_THINKING_BUDGET: Readonly<Record<GeminiSpeed, number>> = { fast: 0, balanced: 1_024, accurate: -1 };

export const GeminiParamsSchema = z
  .object({
    speed: z.enum(GEMINI_SPEEDS).default('balanced'),
    thinkingBudget: z.number().int().min(THINKING_BUDGET_MIN).max(THINKING_BUDGET_MAX).optional(),
    temperature: z.number().min(0).max(2).default(0),
    question: z.string().trim().min(1).max(QUESTION_MAX_LENGTH).optional(),
  })
  .strict();
export type GeminiParams = z.output<typeof GeminiParamsSchema>;

export const GEMINI_PARAMS_DOC: Record<keyof GeminiParams, string> = {
  speed: 'fast | balanced | accurate (default balanced): picks the Gemini model',
  thinkingBudget: `thinking tokens, ${THINKING_BUDGET_MIN} (model decides) to ${THINKING_BUDGET_MAX}; 0 turns thinking off; default by speed: fast 0, balanced 1024, accurate -1`,
  temperature: 'sampling temperature 0–2 (default 0)',
  question: `an extra question about the image, answered in data.answer (at most ${QUESTION_MAX_LENGTH} characters)`,
};

export interface GeminiCallSettings {
  modelId: string;
  thinkingBudget: number;
  temperature: number;
  question?: string;
}

type ModelIds = Pick<Config, 'GEMINI_MODEL_FAST' | 'GEMINI_MODEL_BALANCED' | 'GEMINI_MODEL_ACCURATE'>;

export function callSettings(params: GeminiParams, models: ModelIds): GeminiCallSettings {
  const modelId = { fast: models.GEMINI_MODEL_FAST, balanced: models.GEMINI_MODEL_BALANCED, accurate: models.GEMINI_MODEL_ACCURATE }[params.speed];
  return {
    modelId,
    thinkingBudget: params.thinkingBudget ?? DEFAULT_THINKING_BUDGET[params.speed],
    temperature: params.temperature,
    ...(params.question ? { question: params.question } : {}),
  };
}
