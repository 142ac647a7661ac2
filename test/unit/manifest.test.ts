import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadOnnxEntries } from '#shared/inference/catalog.ts';
import { ManifestSchema } from '#shared/inference/onnx/manifest.ts';

const COMMITTED = readFileSync(new URL('../../models/colors.json', import.meta.url), 'utf8');

/** A fresh copy of a valid manifest, to break one field at a time. */
const valid = (): Record<string, any> => ({
  task: 'classification',
  description: 'a test model',
  file: 'model.onnx',
  input: { name: 'pixels', layout: 'NCHW', width: 224, height: 224, mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225] },
  output: { name: 'logits', activation: 'softmax' },
  labels: ['cat', 'dog'],
});

/** The dotted paths of the fields a manifest is refused for (and the keys of unrecognized-key issues). */
function refusedFields(manifest: unknown): string[] {
  const result = ManifestSchema.safeParse(manifest);
  expect(result.success, 'the manifest should be refused').toBe(false);
  return result.error!.issues.flatMap((issue) => [
    issue.path.join('.'),
    ...('keys' in issue ? (issue.keys as string[]) : []),
  ]);
}

describe('ManifestSchema', () => {
  it('passes the committed models/colors.json unchanged', () => {
    const manifest = JSON.parse(COMMITTED);
    expect(ManifestSchema.parse(manifest)).toEqual(manifest);
  });

  it('passes a complete, valid manifest', () => {
    expect(ManifestSchema.safeParse(valid()).success).toBe(true);
  });

  it('applies the defaults: resize cover, topK 5, mean 0 and std 1', () => {
    const manifest = valid();
    delete manifest.input.mean;
    delete manifest.input.std;
    const parsed = ManifestSchema.parse(manifest);
    if (parsed.task !== 'classification') throw new Error('parsed as another task');
    expect(parsed.input.resize).toBe('cover');
    expect(parsed.topK).toBe(5);
    expect(parsed.input.mean).toEqual([0, 0, 0]);
    expect(parsed.input.std).toEqual([1, 1, 1]);
  });

  it('refuses a manifest without labels, naming labels', () => {
    const manifest = valid();
    delete manifest.labels;
    expect(refusedFields(manifest)).toContain('labels');
  });

  it('refuses a manifest with an empty label list, naming labels', () => {
    expect(refusedFields({ ...valid(), labels: [] })).toContain('labels');
  });

  it('refuses a manifest whose std has a zero, naming input.std', () => {
    const manifest = valid();
    manifest.input.std = [0.229, 0, 0.225];
    expect(refusedFields(manifest)).toContain('input.std');
  });

  it('refuses a manifest whose std is negative, naming input.std', () => {
    const manifest = valid();
    manifest.input.std = [0.229, 0.224, -1];
    expect(refusedFields(manifest)).toContain('input.std');
  });

  it('refuses a mean or std that is not three numbers', () => {
    const shortMean = valid();
    shortMean.input.mean = [0.5, 0.5];
    expect(refusedFields(shortMean)).toContain('input.mean');
    const longStd = valid();
    longStd.input.std = [1, 1, 1, 1];
    expect(refusedFields(longStd).some((f) => f.startsWith('input.std'))).toBe(true);
  });

  it('refuses a layout other than NCHW or NHWC, naming input.layout', () => {
    const manifest = valid();
    manifest.input.layout = 'CHW';
    expect(refusedFields(manifest)).toContain('input.layout');
  });

  it('refuses a file that does not end in .onnx, naming file', () => {
    expect(refusedFields({ ...valid(), file: 'model.pt' })).toContain('file');
    expect(refusedFields({ ...valid(), file: 'model.onnx.json' })).toContain('file');
  });

  it('refuses a file with a slash, so it cannot point outside the models folder', () => {
    expect(refusedFields({ ...valid(), file: '../secrets/model.onnx' })).toContain('file');
    expect(refusedFields({ ...valid(), file: 'sub/model.onnx' })).toContain('file');
    expect(refusedFields({ ...valid(), file: '/abs/model.onnx' })).toContain('file');
    expect(refusedFields({ ...valid(), file: 'sub\\model.onnx' })).toContain('file');
  });

  it('refuses an unknown top-level field, naming it', () => {
    expect(refusedFields({ ...valid(), threshold: 0.5 })).toContain('threshold');
  });

  it('refuses a task it does not serve, naming task', () => {
    expect(refusedFields({ ...valid(), task: 'segmentation' })).toContain('task');
    const taskless = valid();
    delete taskless.task;
    expect(refusedFields(taskless)).toContain('task');
  });

  it('refuses a size that is not a positive integer', () => {
    const zero = valid();
    zero.input.width = 0;
    expect(refusedFields(zero)).toContain('input.width');
    const fractional = valid();
    fractional.input.height = 10.5;
    expect(refusedFields(fractional)).toContain('input.height');
  });

  it('refuses an unknown activation and a topK of 0', () => {
    const manifest = valid();
    manifest.output.activation = 'sigmoid';
    expect(refusedFields(manifest)).toContain('output.activation');
    expect(refusedFields({ ...valid(), topK: 0 })).toContain('topK');
  });
});

/** A valid YOLO detector manifest (the fields detection adds to the common ones). */
const detector = (): Record<string, any> => ({
  task: 'detection',
  description: 'a test detector',
  file: 'yolo.onnx',
  input: { name: 'images', layout: 'NCHW', width: 640, height: 640 },
  output: { format: 'yolo', name: 'output0', layout: 'per-attribute', objectness: false },
  labels: ['person', 'bicycle'],
});

/** A valid embedding manifest. */
const embedder = (): Record<string, any> => ({
  task: 'embedding',
  description: 'a test embedder',
  file: 'embed.onnx',
  input: { name: 'pixels', layout: 'NCHW', width: 224, height: 224 },
  output: { name: 'embedding' },
});

describe('ManifestSchema, one variant per task', () => {
  it('passes a detector and an embedder, with their defaults applied', () => {
    const yolo = ManifestSchema.parse(detector());
    if (yolo.task !== 'detection') throw new Error('parsed as another task');
    expect([yolo.minScore, yolo.iouThreshold, yolo.maxObjects]).toEqual([0.25, 0.45, 100]);
    expect(yolo.input.padColor).toEqual([114, 114, 114]);
    const embed = ManifestSchema.parse(embedder());
    if (embed.task !== 'embedding') throw new Error('parsed as another task');
    expect(embed.output.normalize).toBe(true);
    expect(embed.input.resize).toBe('cover');
  });

  it('takes the common licence and attribution fields for every task', () => {
    for (const manifest of [valid(), detector(), embedder()]) {
      expect(ManifestSchema.parse({ ...manifest, license: 'Apache-2.0', attribution: 'Test Lab' })).toMatchObject({
        license: 'Apache-2.0',
        attribution: 'Test Lab',
      });
    }
  });

  it('requires the common fields for every task, naming them', () => {
    for (const manifest of [detector(), embedder()]) {
      delete manifest.description;
      expect(refusedFields({ ...manifest, file: 'model.pt' })).toEqual(expect.arrayContaining(['description', 'file']));
    }
  });

  it('stays strict per task: a field of another task is refused, naming it', () => {
    expect(refusedFields({ ...detector(), topK: 5 })).toContain('topK');
    expect(refusedFields({ ...embedder(), labels: ['a'] })).toContain('labels');
    expect(refusedFields({ ...valid(), minScore: 0.3 })).toContain('minScore');
  });

  it('checks the settings of the task the manifest names', () => {
    // A classifier's output read as a detector's: the detector's output variants are what is asked for.
    expect(refusedFields({ ...valid(), task: 'detection' }).some((f) => f.startsWith('output'))).toBe(true);
    expect(refusedFields({ ...detector(), output: { ...detector().output, layout: 'rows' } })).toContain('output.layout');
    expect(refusedFields({ ...detector(), maxObjects: 1000 })).toContain('maxObjects');
    expect(refusedFields({ ...embedder(), output: { name: 'embedding', normalise: true } })).toContain('normalise');
  });
});

describe('loadOnnxEntries', () => {
  let dir: string;

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'manifest-test-'));
    writeFileSync(join(dir, 'good.json'), JSON.stringify(valid()));
    const broken = valid();
    broken.input.std = [1, 0, 1];
    writeFileSync(join(dir, 'broken.json'), JSON.stringify(broken));
    writeFileSync(join(dir, 'garbled.json'), '{ "task": "classification", ');
    writeFileSync(join(dir, 'model.onnx'), 'only its presence is checked by the catalog');
    writeFileSync(join(dir, 'orphan.json'), JSON.stringify({ ...valid(), file: 'missing.onnx' }));
    writeFileSync(join(dir, 'README.md'), '# not a manifest');
    writeFileSync(join(dir, 'yolo.json'), JSON.stringify(detector()));
    writeFileSync(join(dir, 'embed.json'), JSON.stringify(embedder()));
    writeFileSync(join(dir, 'bad-yolo.json'), JSON.stringify({ ...detector(), iouThreshold: 2 }));
  });

  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('lists one entry per .json manifest, as onnx/<name>, in name order', () => {
    expect(loadOnnxEntries(dir).map((e) => e.name)).toEqual([
      'onnx/bad-yolo',
      'onnx/broken',
      'onnx/embed',
      'onnx/garbled',
      'onnx/good',
      'onnx/orphan',
      'onnx/yolo',
    ]);
  });

  it('lists a valid manifest as available, with its model file beside it', () => {
    const good = loadOnnxEntries(dir).find((e) => e.name === 'onnx/good')!;
    expect(good.available).toBe(true);
    expect(good.runtime).toBe('onnx');
    expect(good.description).toBe('a test model');
    expect(good.modelPath).toBe(join(dir, 'model.onnx'));
    expect(good.manifest?.task === 'classification' && good.manifest.topK).toBe(5);
    expect(good.unavailableReason).toBeUndefined();
  });

  it('reads manifests only: weights are not looked for (the API function ships manifests without them)', () => {
    const orphan = loadOnnxEntries(dir).find((e) => e.name === 'onnx/orphan')!;
    expect(orphan.available).toBe(true);
    expect(orphan.modelPath).toBe(join(dir, 'missing.onnx'));
  });

  it('lists a broken manifest as unavailable, with a reason naming the file and the field', () => {
    const broken = loadOnnxEntries(dir).find((e) => e.name === 'onnx/broken')!;
    expect(broken.available).toBe(false);
    expect(broken.manifest).toBeUndefined();
    expect(broken.modelPath).toBeUndefined();
    expect(broken.unavailableReason).toContain('broken.json');
    expect(broken.unavailableReason).toContain('input.std');
  });

  it('lists a manifest that is not JSON as unavailable, naming the file', () => {
    const garbled = loadOnnxEntries(dir).find((e) => e.name === 'onnx/garbled')!;
    expect(garbled.available).toBe(false);
    expect(garbled.unavailableReason).toContain('garbled.json');
  });

  it('checks a model’s params: topK from 1 to 100, nothing else', () => {
    const good = loadOnnxEntries(dir).find((e) => e.name === 'onnx/good')!;
    expect(good.params.safeParse({}).success).toBe(true);
    expect(good.params.safeParse({ topK: 3 }).success).toBe(true);
    expect(good.params.safeParse({ topK: 0 }).success).toBe(false);
    expect(good.params.safeParse({ topK: 101 }).success).toBe(false);
    expect(good.params.safeParse({ temperature: 1 }).success).toBe(false);
  });

  it('takes each model’s task, params and params doc from its manifest’s task', () => {
    const entries = loadOnnxEntries(dir);
    const yolo = entries.find((e) => e.name === 'onnx/yolo')!;
    expect(yolo.task).toBe('detection');
    expect(Object.keys(yolo.paramsDoc).sort()).toEqual(['iouThreshold', 'maxObjects', 'minScore']);
    expect(yolo.params.safeParse({ minScore: 0.5, maxObjects: 10 }).success).toBe(true);
    expect(yolo.params.safeParse({ topK: 3 }).success).toBe(false);
    const embed = entries.find((e) => e.name === 'onnx/embed')!;
    expect(embed.task).toBe('embedding');
    expect(embed.paramsDoc).toEqual({});
    expect(embed.params.safeParse({}).success).toBe(true);
    expect(embed.params.safeParse({ topK: 3 }).success).toBe(false);
  });

  it('lists a broken manifest under the task it claims, with the field in the reason', () => {
    const bad = loadOnnxEntries(dir).find((e) => e.name === 'onnx/bad-yolo')!;
    expect(bad.available).toBe(false);
    expect(bad.task).toBe('detection');
    expect(bad.unavailableReason).toContain('iouThreshold');
  });

  it('serves the committed models folder with onnx/colors available', () => {
    const entries = loadOnnxEntries(new URL('../../models/', import.meta.url).pathname);
    const colors = entries.find((e) => e.name === 'onnx/colors');
    expect(colors?.available).toBe(true);
  });

  it('lists nothing for a folder that does not exist', () => {
    const missing = join(dir, 'no-such-folder');
    expect(loadOnnxEntries(missing)).toEqual([]);
  });

  it('lists nothing for an empty folder', () => {
    const empty = join(dir, 'empty');
    mkdirSync(empty);
    expect(loadOnnxEntries(empty)).toEqual([]);
  });
});
