import type { ImageInfo } from '../../image.ts';

export interface ClassificationResult {
  kind: 'classification';
  model: string;
  labels: { label: string; score: number }[];
  image: ImageInfo;
  timings: { preprocessMs: number; inferenceMs: number };
}
