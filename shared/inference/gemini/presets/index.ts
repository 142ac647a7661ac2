import type { GeminiPreset } from '../preset.ts';
import { describePreset } from './describe.ts';
import { egyptianArtPreset } from './egyptian-art.ts';

/** Every preset this deployment serves as `gemini/<name>`. Adding one: a file beside this, and a line here. */
export const GEMINI_PRESETS: readonly GeminiPreset[] = [
  describePreset,
  egyptianArtPreset,
];
