import type { z } from 'zod';
import type { Config } from '../../config.ts';
import type { GeminiEntry } from '../types.ts';
import { GEMINI_PARAMS_DOC, GeminiParamsSchema } from './params.ts';
import { GEMINI_PRESETS } from './presets/index.ts';

/** The Gemini presets as catalogue entries: metadata only (no SDK), so the API function can list and check them. */

/** Why Gemini cannot run here, or undefined when a key is configured. */
export function geminiUnavailableReason(config: Pick<Config, 'GEMINI_API_KEY' | 'GEMINI_API_KEY_SECRET_ARN'>): string | undefined {
  if (config.GEMINI_API_KEY || config.GEMINI_API_KEY_SECRET_ARN) return undefined;
  return 'GEMINI_API_KEY is not set (on AWS: GEMINI_API_KEY_SECRET_ARN)';
}

export function geminiEntries(config: Config): GeminiEntry[] {
  const reason = geminiUnavailableReason(config);
  return GEMINI_PRESETS.map((preset) => ({
    name: `gemini/${preset.name}`,
    runtime: 'gemini',
    task: 'analysis',
    description: preset.description,
    params: GeminiParamsSchema as z.ZodType<Record<string, unknown>>,
    paramsDoc: GEMINI_PARAMS_DOC,
    preset,
    available: reason === undefined,
    ...(reason ? { unavailableReason: reason } : {}),
  }));
}
