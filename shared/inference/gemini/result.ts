import type { Usage } from './response.ts';

export interface AnalysisResult {
  kind: 'analysis';
  /** The catalogue name, `gemini/<preset>`. */
  model: string;
  data: unknown;
  /** Summed over the calls that answered (a re-ask included). */
  usage: Usage;
  /** The Gemini model version that answered, e.g. `gemini-2.5-flash`. */
  modelVersion?: string;
}
