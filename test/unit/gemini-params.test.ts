import { describe, expect, it } from 'vitest';
import { parseConfig } from '#shared/config.ts';
import { geminiEntries, geminiUnavailableReason } from '#shared/inference/gemini/entries.ts';
import {
  callSettings,
  DEFAULT_THINKING_BUDGET,
  GeminiParamsSchema,
  QUESTION_MAX_LENGTH,
  THINKING_BUDGET_MAX,
  THINKING_BUDGET_MIN,
} from '#shared/inference/gemini/params.ts';

/** Gemini job params: what is accepted, the defaults, and the call settings they become. */

const REQUIRED = { TABLE_NAME: 'jobs', BUCKET_NAME: 'uploads' };
const models = { GEMINI_MODEL_FAST: 'm-fast', GEMINI_MODEL_BALANCED: 'm-balanced', GEMINI_MODEL_ACCURATE: 'm-accurate' };
const parse = (params: unknown) => GeminiParamsSchema.parse(params);

describe('Gemini params', () => {
  it('defaults to balanced speed and temperature 0', () => {
    expect(parse({})).toEqual({ speed: 'balanced', temperature: 0 });
  });

  it.each([
    ['an unknown key', { topK: 5 }],
    ['an unknown speed', { speed: 'warp' }],
    ['a fractional thinking budget', { thinkingBudget: 1.5 }],
    ['a thinking budget below the minimum', { thinkingBudget: THINKING_BUDGET_MIN - 1 }],
    ['a thinking budget above the maximum', { thinkingBudget: THINKING_BUDGET_MAX + 1 }],
    ['a temperature above 2', { temperature: 2.5 }],
    ['a question over the length cap', { question: 'q'.repeat(QUESTION_MAX_LENGTH + 1) }],
    ['a blank question', { question: '   ' }],
  ])('refuses %s', (_case, params) => {
    expect(GeminiParamsSchema.safeParse(params).success).toBe(false);
  });

  it('accepts a question of exactly the cap, trimmed', () => {
    const question = 'q'.repeat(QUESTION_MAX_LENGTH);
    expect(parse({ question: `  ${question}\n` }).question).toBe(question);
  });

  it.each([
    ['fast', 'm-fast'],
    ['balanced', 'm-balanced'],
    ['accurate', 'm-accurate'],
  ] as const)('maps speed %s to its configured model and default thinking budget', (speed, modelId) => {
    expect(callSettings(parse({ speed }), models)).toEqual({ modelId, thinkingBudget: DEFAULT_THINKING_BUDGET[speed], temperature: 0 });
  });

  it('lets an explicit thinking budget, temperature and question through', () => {
    expect(callSettings(parse({ speed: 'fast', thinkingBudget: 512, temperature: 0.4, question: 'Why?' }), models)).toEqual({
      modelId: 'm-fast',
      thinkingBudget: 512,
      temperature: 0.4,
      question: 'Why?',
    });
  });

  it('takes its model ids from the environment, with current Gemini defaults', () => {
    expect(parseConfig(REQUIRED)).toMatchObject({
      GEMINI_MODEL_FAST: 'gemini-2.5-flash-lite',
      GEMINI_MODEL_BALANCED: 'gemini-2.5-flash',
      GEMINI_MODEL_ACCURATE: 'gemini-2.5-pro',
      GEMINI_MAX_IMAGE_SIDE: 3072,
    });
    expect(parseConfig({ ...REQUIRED, GEMINI_MODEL_FAST: 'gemini-x' }).GEMINI_MODEL_FAST).toBe('gemini-x');
  });
});

describe('Gemini availability', () => {
  it('is unavailable, saying why, without a key or a key secret', () => {
    const config = parseConfig(REQUIRED);
    expect(geminiUnavailableReason(config)).toMatch(/GEMINI_API_KEY is not set/);
    for (const entry of geminiEntries(config)) {
      expect(entry).toMatchObject({ runtime: 'gemini', available: false, unavailableReason: expect.stringMatching(/GEMINI_API_KEY/) });
    }
  });

  it('treats an empty GEMINI_API_KEY as unset', () => {
    expect(geminiUnavailableReason(parseConfig({ ...REQUIRED, GEMINI_API_KEY: '' }))).toBeDefined();
  });

  it.each([
    ['GEMINI_API_KEY', 'AIza-test'],
    ['GEMINI_API_KEY_SECRET_ARN', 'arn:aws:secretsmanager:us-east-1:123456789012:secret:gemini-AbCdEf'],
  ])('is available with %s', (name, value) => {
    const entries = geminiEntries(parseConfig({ ...REQUIRED, [name]: value }));
    expect(entries.map((e) => e.name)).toEqual(['gemini/describe', 'gemini/egyptian-art']);
    expect(entries.every((e) => e.available && e.unavailableReason === undefined)).toBe(true);
  });

  it('checks params at job creation with the strict schema', () => {
    const [entry] = geminiEntries(parseConfig({ ...REQUIRED, GEMINI_API_KEY: 'k' }));
    expect(entry!.params.safeParse({ speed: 'fast' }).success).toBe(true);
    expect(entry!.params.safeParse({ speed: 'fast', extra: 1 }).success).toBe(false);
  });
});
