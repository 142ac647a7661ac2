import { readFile } from 'node:fs/promises';
import * as ort from 'onnxruntime-node';
import { beforeAll, describe, expect, it } from 'vitest';
import { ManifestSchema } from '#shared/inference/onnx/manifest.ts';
import { srgbToLab } from '../../scripts/models/color-space.ts';
import { buildColorsModel, COLOR_INPUT_SIZE, COLOR_NAMES, nearestColorName } from '../../scripts/models/colors.ts';

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
  const labels = COLOR_NAMES.map((c) => c.label);

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

  const prototypes = COLOR_NAMES.flatMap(({ label, prototypes }) => prototypes.map((rgb) => [label, rgb] as const));
  it.each(prototypes)('names a solid image of a %s prototype %s', async (label, rgb) => {
    const result = await shares(solid(rgb.map((c) => c / 255) as unknown as Rgb));
    const best = Object.entries(result).sort(([, a], [, b]) => b - a)[0]!;
    expect(best[0]).toBe(label);
    expect(best[1]).toBeGreaterThan(0.9);
  });

  /**
   * CSS named colours none of which is a prototype, each with the name a person gives it: the
   * model must agree between its prototypes, not only on them. The pure-function twin
   * (nearestColorName) must agree too, since the builder places prototypes with it.
   */
  const HELD_OUT: readonly (readonly [string, Rgb, string])[] = [
    ['forestgreen', [34, 139, 34], 'green'],
    ['yellowgreen', [154, 205, 50], 'green'],
    ['seagreen', [46, 139, 87], 'green'],
    ['darkgreen', [0, 100, 0], 'green'],
    ['lightgreen', [144, 238, 144], 'green'],
    ['navy', [0, 0, 128], 'blue'],
    ['skyblue', [135, 206, 235], 'blue'],
    ['royalblue', [65, 105, 225], 'blue'],
    ['dodgerblue', [30, 144, 255], 'blue'],
    ['lightblue', [173, 216, 230], 'blue'],
    ['saddlebrown', [139, 69, 19], 'brown'],
    ['sienna', [160, 82, 45], 'brown'],
    ['tan', [210, 180, 140], 'beige'],
    ['wheat', [245, 222, 179], 'beige'],
    ['gold', [255, 215, 0], 'yellow'],
    ['crimson', [220, 20, 60], 'red'],
    ['firebrick', [178, 34, 34], 'red'],
    ['maroon', [128, 0, 0], 'red'],
    ['orange', [255, 165, 0], 'orange'],
    ['hotpink', [255, 105, 180], 'pink'],
    ['lightpink', [255, 182, 193], 'pink'],
    ['indigo', [75, 0, 130], 'purple'],
    ['mediumpurple', [147, 112, 219], 'purple'],
    ['darkcyan', [0, 139, 139], 'teal'],
    ['silver', [192, 192, 192], 'gray'],
    ['dimgray', [105, 105, 105], 'gray'],
    ['slategray', [112, 128, 144], 'gray'],
    ['snow', [255, 250, 250], 'white'],
    ['black', [0, 0, 0], 'black'],
  ];
  it.each(HELD_OUT)('names %s %s as %s', async (_css, rgb, expected) => {
    const result = await shares(solid(rgb.map((c) => c / 255) as unknown as Rgb));
    const best = Object.entries(result).sort(([, a], [, b]) => b - a)[0]!;
    expect(best[0]).toBe(expected);
    expect(best[1]).toBeGreaterThan(0.5);
    expect(nearestColorName(rgb)).toBe(expected);
  });

  it('converts sRGB to CIELAB as the standard says (D65 white, mid grey, pure primaries)', () => {
    // Reference values: CIE 15 / Bruce Lindbloom's calculator, to 0.1.
    const cases: [Rgb, Rgb][] = [
      [[1, 1, 1], [100, 0, 0]],
      [[0, 0, 0], [0, 0, 0]],
      [[0.5, 0.5, 0.5], [53.39, 0, 0]],
      [[1, 0, 0], [53.24, 80.09, 67.2]],
      [[0, 1, 0], [87.73, -86.18, 83.18]],
      [[0, 0, 1], [32.3, 79.19, -107.86]],
    ];
    for (const [rgb, lab] of cases) {
      srgbToLab(rgb).forEach((v, i) => expect(Math.abs(v - lab[i]!)).toBeLessThan(0.1));
    }
  });
});
