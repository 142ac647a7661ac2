import { createHash } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ManifestSchema } from '#shared/inference/onnx/manifest.ts';
import { buildMobileNetV2, buildResNet18, writeModel } from '../../scripts/models/random-nets.ts';

/** Building and loading a 47 MB ResNet takes about a second; leave room for slow CI. */
const HEAVY_TIMEOUT_MS = 20_000;

/** Hashes stand in for byte comparison: fast on tens of MB, and a failure prints two short strings. */
const sha256 = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex');

/** A fixed NCHW input: a smooth gradient, or seeded noise, roughly ImageNet-normalised. */
function input(kind: 'gradient' | 'noise'): ort.Tensor {
  const size = 224;
  const data = new Float32Array(3 * size * size);
  let state = 7;
  for (let i = 0; i < data.length; i++) {
    const pixel = i % (size * size);
    if (kind === 'gradient') data[i] = (pixel / (size * size) - 0.5) * 4;
    else data[i] = ((state = (Math.imul(state, 1103515245) + 12345) >>> 0) / 2 ** 32 - 0.5) * 4;
  }
  return new ort.Tensor('float32', data, [1, 3, size, size]);
}

describe.each([
  { name: 'MobileNetV2', build: buildMobileNetV2 },
  { name: 'ResNet-18', build: buildResNet18 },
])('a seeded random $name', ({ build }) => {
  let model: ReturnType<typeof build>;
  let session: ort.InferenceSession;

  beforeAll(async () => {
    model = build({ seed: 1 });
    session = await ort.InferenceSession.create(model.onnx);
  }, HEAVY_TIMEOUT_MS);

  afterAll(async () => {
    await session?.release();
  });

  it(
    'is the same bytes for the same seed and different bytes for another',
    () => {
      expect(sha256(build({ seed: 1 }).onnx)).toBe(sha256(model.onnx));
      expect(sha256(build({ seed: 2 }).onnx)).not.toBe(sha256(model.onnx));
    },
    HEAVY_TIMEOUT_MS,
  );

  it('has a manifest that passes the schema and names the graph input and output', () => {
    expect(ManifestSchema.parse(model.manifest)).toEqual(model.manifest);
    expect(session.inputNames).toEqual([model.manifest.input.name]);
    expect(session.outputNames).toEqual([model.manifest.output.name]);
    expect(model.manifest.input).toMatchObject({ layout: 'NCHW', width: 224, height: 224 });
    expect(model.manifest.labels).toHaveLength(1000);
    expect(model.manifest.labels.slice(0, 2)).toEqual(['class_0', 'class_1']);
  });

  it('maps a [1,3,224,224] image to 1000 finite, varied logits that depend on the image', async () => {
    const logits = async (kind: 'gradient' | 'noise') => {
      const { logits } = await session.run({ input: input(kind) });
      expect(logits!.dims).toEqual([1, 1000]);
      return Array.from(logits!.data as Float32Array);
    };
    const gradient = await logits('gradient');
    const noise = await logits('noise');

    expect(gradient.every(Number.isFinite)).toBe(true);
    // Not constant: a dead (all-zero) or saturated network would give near-equal logits.
    expect(Math.max(...gradient) - Math.min(...gradient)).toBeGreaterThan(0.1);
    // Neither exploding: softmax over logits this size still spreads mass over several classes.
    expect(Math.max(...gradient.map(Math.abs))).toBeLessThan(100);
    // And the image reaches the output, rather than every input collapsing to the same features.
    const largestChange = Math.max(...gradient.map((v, i) => Math.abs(v - noise[i]!)));
    expect(largestChange).toBeGreaterThan(1e-3);
  });
});

describe('random classifiers for user models', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'random-nets-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('take custom labels, sizing the output to match', async () => {
    const model = buildMobileNetV2({ seed: 3, labels: ['cat', 'dog', 'fish'] });
    expect(model.manifest.labels).toEqual(['cat', 'dog', 'fish']);
    const session = await ort.InferenceSession.create(model.onnx);
    const { logits } = await session.run({ input: input('gradient') });
    expect(logits!.dims).toEqual([1, 3]);
    await session.release();
  });

  it('refuse a class count that contradicts the labels', () => {
    expect(() => buildMobileNetV2({ seed: 3, numClasses: 5, labels: ['cat', 'dog'] })).toThrow(/numClasses 5/);
  });

  it('are written as <name>.onnx beside a <name>.json manifest that points at it', async () => {
    const model = buildMobileNetV2({ seed: 4, numClasses: 10 });
    const { onnxPath, manifestPath } = await writeModel(dir, 'my-classifier', model);

    expect(onnxPath).toBe(join(dir, 'my-classifier.onnx'));
    expect(sha256(await readFile(onnxPath))).toBe(sha256(model.onnx));
    const text = await readFile(manifestPath, 'utf8');
    expect(text.endsWith('}\n')).toBe(true);
    const manifest = ManifestSchema.parse(JSON.parse(text));
    expect(manifest).toEqual({ ...model.manifest, file: 'my-classifier.onnx' });
  });
});
