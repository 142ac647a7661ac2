import { readFile } from 'node:fs/promises';
import * as ort from 'onnxruntime-node';
import { beforeAll, describe, expect, it } from 'vitest';
import { ManifestSchema } from '#shared/inference/onnx/manifest.ts';
import { buildColorsModel, COLOR_INPUT_SIZE, COLOR_PROTOTYPES } from '../../scripts/models/colors.ts';

const MODEL_URL = new URL('../../models/colors.onnx', import.meta.url);
const MANIFEST_URL = new URL('../../models/colors.json', import.meta.url);

type Rgb = readonly [number, number, number];
const SIZE = COLOR_INPUT_SIZE;
const PIXELS = SIZE * SIZE;

/** An NCHW image on [0,1] whose pixel at (row, col) is `colorAt(row, col)`. */
function image(colorAt: (row: number, col: number) => Rgb): ort.Tensor {
  const data = new Float32Array(3 * PIXELS);
  for (let row = 0; row < SIZE; row++) {
    for (let col = 0; col < SIZE; col++) {
      const rgb = colorAt(row, col);
      for (let c = 0; c < 3; c++) data[c * PIXELS + row * SIZE + col] = rgb[c]!;
    }
  }
  return new ort.Tensor('float32', data, [1, 3, SIZE, SIZE]);
}

const solid = (rgb: Rgb) => image(() => rgb);

describe('the colors demo model', () => {
  let session: ort.InferenceSession;
  const labels = COLOR_PROTOTYPES.map((p) => p.label);

  /** Runs the committed model and returns the share for each label. */
  async function shares(input: ort.Tensor): Promise<Record<string, number>> {
    const { colors } = await session.run({ image: input });
    expect(colors!.dims).toEqual([1, labels.length]);
    const values = colors!.data as Float32Array;
    return Object.fromEntries(labels.map((label, i) => [label, values[i]!]));
  }

  beforeAll(async () => {
    // The committed file, not a rebuild: this is what the worker serves.
    session = await ort.InferenceSession.create(await readFile(MODEL_URL));
  });

  it('is committed exactly as the builder makes it', async () => {
    const { onnx, manifest } = buildColorsModel();
    expect(Buffer.from(onnx).equals(await readFile(MODEL_URL))).toBe(true);
    expect(manifest).toEqual(JSON.parse(await readFile(MANIFEST_URL, 'utf8')));
  });

  it('builds the same bytes every time', () => {
    expect(Buffer.from(buildColorsModel().onnx).equals(Buffer.from(buildColorsModel().onnx))).toBe(true);
  });

  it('has a manifest that passes the schema unchanged and matches the graph', () => {
    const { manifest } = buildColorsModel();
    expect(ManifestSchema.parse(manifest)).toEqual(manifest);
    expect(session.inputNames).toEqual([manifest.input.name]);
    expect(session.outputNames).toEqual([manifest.output.name]);
    expect(manifest.labels).toEqual(labels);
  });

  it('gives an all-red image to red', async () => {
    expect((await shares(solid([1, 0, 0]))).red).toBeGreaterThan(0.95);
  });

  it('splits a half-blue, half-white image evenly between blue and white', async () => {
    const result = await shares(image((row) => (row < SIZE / 2 ? [0, 0, 1] : [1, 1, 1])));
    expect(Math.abs(result.blue! - 0.5)).toBeLessThanOrEqual(0.05);
    expect(Math.abs(result.white! - 0.5)).toBeLessThanOrEqual(0.05);
  });

  it('returns shares that sum to 1, even for noisy pixels between colours', async () => {
    // A fixed pseudo-random image (LCG), so pixels fall between prototypes and votes split.
    let state = 12345;
    const next = () => (state = (Math.imul(state, 1103515245) + 12345) >>> 0) / 2 ** 32;
    const noise = image(() => [next(), next(), next()]);
    for (const input of [noise, solid([1, 0, 0]), solid([0.3, 0.6, 0.9])]) {
      const values = Object.values(await shares(input));
      for (const v of values) expect(v).toBeGreaterThanOrEqual(0);
      expect(Math.abs(values.reduce((sum, v) => sum + v, 0) - 1)).toBeLessThanOrEqual(1e-4);
    }
  });

  it.each(COLOR_PROTOTYPES.map((p) => [p.label, p.rgb] as const))('names a solid %s image %s', async (label, rgb) => {
    const result = await shares(solid(rgb));
    const best = Object.entries(result).sort(([, a], [, b]) => b - a)[0]!;
    expect(best[0]).toBe(label);
    expect(best[1]).toBeGreaterThan(0.95);
  });
});
