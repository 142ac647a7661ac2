import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { seededRandom } from '../lib/seeded-random.ts';
import { FONTS, phrase, renderTextImage, type TextImageSpec } from '../../test/helpers/text-images.ts';
import { characterErrorRate, linesFound } from './ocr-score.ts';
import { percentile } from './stats.ts';
import type { Row } from './table.ts';

/**
 * `npx tsx scripts/bench/ocr.ts [--quick]`: our OCR pipeline (onnx/ocr) against the reference
 * @gutenye/ocr-node on the same PP-OCRv4 weights, on rendered pictures of known text. Each engine
 * runs in its own child process, so its peak RSS is its own. OCR_BENCH_VERBOSE=1 prints each
 * picture read with errors.
 */

const PROJECT_ROOT = fileURLToPath(new URL('../../', import.meta.url));
const THIS_FILE = fileURLToPath(import.meta.url);

export const OCR_TARGETS = { cleanCer: 0.02, photoCer: 0.05, latencyMs1Mp: 1000, peakRssMb: 700 } as const;

type SetName = 'clean' | 'exif' | 'photo' | '12mp';
type EngineName = 'ours' | 'reference';

interface BenchCase {
  file: string;
  set: SetName;
  megapixels: 1 | 12;
  expected: string[];
}

interface CaseResult {
  file: string;
  text: string;
  lines: string[];
  ms: number;
}

interface ChildReport {
  results: CaseResult[];
  peakRssMb: number;
}

const ONE_MP = { width: 1152, height: 864 };
const TWELVE_MP = { width: 4000, height: 3000 };

/** The pictures: several fonts, sizes and polarities; EXIF-rotated; photo backdrops; 1 MP and 12 MP. */
export async function renderSet(dir: string, quick: boolean): Promise<BenchCase[]> {
  const random = seededRandom(2024);
  const counts = quick ? { clean: 4, exif: 2, photo: 3, big: 1 } : { clean: 12, exif: 4, photo: 8, big: 3 };
  const plan: { set: SetName; spec: Omit<TextImageSpec, 'lines'>; sizes: [number, number]; lineCount: number }[] = [];
  for (let i = 0; i < counts.clean; i++) {
    plan.push({ set: 'clean', spec: { ...ONE_MP, polarity: i % 3 === 2 ? 'light-on-dark' : 'dark-on-light', format: 'png' }, sizes: [20, 44], lineCount: 7 });
  }
  for (let i = 0; i < counts.exif; i++) {
    const orientation = ([6, 3, 8, 6] as const)[i % 4];
    plan.push({ set: 'exif', spec: { ...ONE_MP, orientation, format: 'jpeg' }, sizes: [24, 40], lineCount: 6 });
  }
  for (let i = 0; i < counts.photo; i++) {
    plan.push({ set: 'photo', spec: { ...ONE_MP, background: 'photo', polarity: i % 2 ? 'light-on-dark' : 'dark-on-light', format: 'jpeg' }, sizes: [24, 44], lineCount: 6 });
  }
  for (let i = 0; i < counts.big; i++) {
    plan.push({ set: '12mp', spec: { ...TWELVE_MP, background: i % 2 ? 'photo' : 'plain', format: 'jpeg' }, sizes: [90, 150], lineCount: 6 });
  }
  const cases: BenchCase[] = [];
  for (const [index, item] of plan.entries()) {
    const lines = Array.from({ length: item.lineCount }, () => ({
      text: phrase(random, 3 + Math.floor(random() * 2)),
      font: FONTS[Math.floor(random() * FONTS.length)]!,
      size: Math.round(item.sizes[0] + random() * (item.sizes[1] - item.sizes[0])),
    }));
    const rendered = await renderTextImage({ ...item.spec, lines, seed: index + 1 });
    const file = join(dir, `${String(index).padStart(2, '0')}-${item.set}.${item.spec.format === 'png' ? 'png' : 'jpg'}`);
    writeFileSync(file, rendered.bytes);
    cases.push({ file, set: item.set, megapixels: item.set === '12mp' ? 12 : 1, expected: lines.map((l) => l.text) });
  }
  return cases;
}

/** In the child: read every picture with one engine (the first read warms it up and is read again). */
async function runEngine(engine: EngineName, files: string[]): Promise<ChildReport> {
  let read: (file: string) => Promise<string[]>;
  if (engine === 'ours') {
    const { OcrManifestSchema, resolveOcrFiles } = await import('../../shared/inference/tasks/ocr/manifest.ts');
    const { OcrEngine } = await import('../../shared/inference/tasks/ocr/pipeline.ts');
    const modelsDir = join(PROJECT_ROOT, 'models');
    const manifest = OcrManifestSchema.parse(JSON.parse(readFileSync(join(modelsDir, 'ocr.json'), 'utf8')));
    const ocr = await OcrEngine.load('onnx/ocr', manifest, resolveOcrFiles(manifest, modelsDir));
    read = async (file) => (await ocr.read(readFileSync(file))).lines.map((l) => l.text);
  } else {
    const { default: Ocr } = await import('@gutenye/ocr-node');
    const ocr = await Ocr.create();
    read = async (file) => (await ocr.detect(file)).map((l: { text: string }) => l.text);
  }
  if (files[0]) await read(files[0]);
  const results: CaseResult[] = [];
  for (const file of files) {
    const started = performance.now();
    const lines = await read(file);
    results.push({ file, lines, text: lines.join('\n'), ms: performance.now() - started });
  }
  const status = readFileSync('/proc/self/status', 'utf8');
  return { results, peakRssMb: Number(/^VmHWM:\s+(\d+) kB/m.exec(status)?.[1]) / 1024 };
}

function runChild(engine: EngineName, files: string[]): Promise<ChildReport> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', THIS_FILE, '--child', engine, ...files], {
      cwd: PROJECT_ROOT,
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
    child.on('error', reject);
    child.on('exit', (code) => {
      if (code !== 0) return reject(new Error(`the ${engine} OCR child exited with ${code}`));
      const last = out.trim().split('\n').at(-1) ?? '';
      resolve(JSON.parse(last) as ChildReport);
    });
  });
}

export interface OcrBenchRow {
  engine: EngineName;
  set: SetName;
  images: number;
  cer: number;
  lineRecall: number;
  p50Ms: number;
}

export interface OcrBench {
  rows: OcrBenchRow[];
  peakRssMb: Record<EngineName, number>;
  latencyP50Ms1Mp: Record<EngineName, number>;
}

function score(engine: EngineName, cases: BenchCase[], report: ChildReport): OcrBenchRow[] {
  const byFile = new Map(report.results.map((r) => [r.file, r]));
  const sets = [...new Set(cases.map((c) => c.set))];
  return sets.map((set) => {
    const members = cases.filter((c) => c.set === set);
    let errors = 0, characters = 0, found = 0, expectedLines = 0;
    const times: number[] = [];
    for (const c of members) {
      const result = byFile.get(c.file)!;
      const cer = characterErrorRate(c.expected, result.text);
      errors += cer.errors;
      characters += cer.characters;
      found += linesFound(c.expected, result.lines);
      if (process.env.OCR_BENCH_VERBOSE && cer.errors > 0) console.error(`${engine} ${c.file}: expected ${JSON.stringify(c.expected)}, read ${JSON.stringify(result.lines)}`);
      expectedLines += c.expected.length;
      times.push(result.ms);
    }
    return { engine, set, images: members.length, cer: errors / characters, lineRecall: found / expectedLines, p50Ms: percentile(times, 50) };
  });
}

export async function benchOcr({ quick }: { quick: boolean }): Promise<OcrBench> {
  const dir = mkdtempSync(join(tmpdir(), 'ocr-bench-'));
  try {
    const cases = await renderSet(dir, quick);
    const files = cases.map((c) => c.file);
    const rows: OcrBenchRow[] = [];
    const peakRssMb = { ours: 0, reference: 0 };
    const latencyP50Ms1Mp = { ours: 0, reference: 0 };
    for (const engine of ['ours', 'reference'] as const) {
      const report = await runChild(engine, files);
      rows.push(...score(engine, cases, report));
      peakRssMb[engine] = report.peakRssMb;
      const oneMp = new Set(cases.filter((c) => c.megapixels === 1).map((c) => c.file));
      latencyP50Ms1Mp[engine] = percentile(report.results.filter((r) => oneMp.has(r.file)).map((r) => r.ms), 50);
    }
    return { rows, peakRssMb, latencyP50Ms1Mp };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const pct = (x: number) => `${(x * 100).toFixed(2)} %`;

export function renderOcrBench(bench: OcrBench): string {
  const lines = ['| engine | set | images | CER | line recall | p50 ms |', '|---|---|---|---|---|---|'];
  for (const r of bench.rows) lines.push(`| ${r.engine} | ${r.set} | ${r.images} | ${pct(r.cer)} | ${pct(r.lineRecall)} | ${Math.round(r.p50Ms)} |`);
  lines.push('', '| engine | 1 MP p50 ms (all 1 MP sets) | peak RSS MB |', '|---|---|---|');
  for (const engine of ['ours', 'reference'] as const) {
    lines.push(`| ${engine} | ${Math.round(bench.latencyP50Ms1Mp[engine])} | ${Math.round(bench.peakRssMb[engine])} |`);
  }
  const t = OCR_TARGETS;
  lines.push('', `Targets: CER ≤ ${pct(t.cleanCer)} clean, ≤ ${pct(t.photoCer)} photo; 1 MP p50 ≤ ${t.latencyMs1Mp} ms; peak RSS ≤ ${t.peakRssMb} MB.`);
  return lines.join('\n');
}

/** The CER target of a set, where the issue sets one. */
const CER_TARGETS: Partial<Record<SetName, number>> = { clean: OCR_TARGETS.cleanCer, photo: OCR_TARGETS.photoCer };

/** The OCR figures as rows of `npm run bench`'s table: ours against the targets, the reference's in each note. */
export function ocrRows(bench: OcrBench, section: string): Row[] {
  const reference = new Map(bench.rows.filter((r) => r.engine === 'reference').map((r) => [r.set, r]));
  const rows: Row[] = [];
  for (const r of bench.rows.filter((row) => row.engine === 'ours')) {
    const ref = reference.get(r.set);
    const target = CER_TARGETS[r.set];
    rows.push({
      id: `ocr.${r.set}.cer`,
      section,
      measure: `character error rate · ${r.set} (${r.images} ${r.images === 1 ? 'image' : 'images'})`,
      value: r.cer * 100,
      unit: '%',
      ...(target === undefined ? {} : { limit: { label: 'target', value: target * 100, unit: '%' as const }, target: { kind: 'max' as const, ratio: 1 } }),
      note: `line recall ${pct(r.lineRecall)}, p50 ${Math.round(r.p50Ms)} ms${ref ? `; reference CER ${pct(ref.cer)}, line recall ${pct(ref.lineRecall)}, p50 ${Math.round(ref.p50Ms)} ms` : ''}`,
    });
  }
  rows.push(
    {
      id: 'ocr.1mp.p50',
      section,
      measure: 'OCR latency p50 · 1 MP (decode → lines, in process)',
      value: bench.latencyP50Ms1Mp.ours,
      unit: 'ms',
      limit: { label: 'target', value: OCR_TARGETS.latencyMs1Mp, unit: 'ms' },
      target: { kind: 'max', ratio: 1 },
      note: `reference ${Math.round(bench.latencyP50Ms1Mp.reference)} ms`,
    },
    {
      id: 'ocr.rss',
      section,
      measure: 'peak RSS · OCR process',
      value: bench.peakRssMb.ours,
      unit: 'MB',
      limit: { label: 'target', value: OCR_TARGETS.peakRssMb, unit: 'MB' },
      target: { kind: 'max', ratio: 1 },
      note: `reference ${Math.round(bench.peakRssMb.reference)} MB`,
    },
  );
  return rows;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const { values, positionals } = parseArgs({
    options: { quick: { type: 'boolean', default: false }, child: { type: 'string' } },
    allowPositionals: true,
  });
  if (values.child) {
    const report = await runEngine(values.child as EngineName, positionals);
    process.stdout.write(`\n${JSON.stringify(report)}\n`);
  } else {
    console.log(renderOcrBench(await benchOcr({ quick: values.quick })));
  }
}
