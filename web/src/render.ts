import { h, svg } from './dom.ts';
import type { AnalysisResult, Box, ClassificationResult, DetectionResult, EmbeddingResult, InferenceResult, OcrResult } from './types.ts';

/** A result, drawn by its kind; the raw JSON is always one click away. */

/** Embedding values shown before "…": enough to recognise a vector, few enough to read. */
const EMBEDDING_PREVIEW_VALUES = 8;

export function renderResult(result: InferenceResult, imageUrl: string): HTMLElement {
  const body = renderByKind(result, imageUrl);
  // OCR and detection draw on the image; the others sit beside it.
  const drawsOnImage = result.kind === 'ocr' || result.kind === 'detection';
  const main = drawsOnImage ? body : h('div', { class: 'split' }, h('img', { class: 'preview', src: imageUrl, alt: 'The uploaded image' }), body);
  return h('div', { class: 'result' }, main, timingsLine(result), rawJson(result));
}

function renderByKind(result: InferenceResult, imageUrl: string): HTMLElement {
  switch (result.kind) {
    case 'classification':
      return renderClassification(result);
    case 'ocr':
      return renderOcr(result, imageUrl);
    case 'detection':
      return renderDetection(result, imageUrl);
    case 'embedding':
      return renderEmbedding(result);
    case 'analysis':
      return renderAnalysis(result);
    default:
      return h('p', {}, `A result of kind “${String((result as { kind?: unknown }).kind)}”: see the raw JSON.`);
  }
}

export function rawJson(value: unknown, summary = 'Raw JSON'): HTMLElement {
  return h('details', { class: 'raw' }, h('summary', {}, summary), h('pre', {}, JSON.stringify(value, null, 2)));
}

function timingsLine(result: InferenceResult): HTMLElement | null {
  if (!result.timings) return null;
  const parts = Object.entries(result.timings).map(([name, ms]) => `${name.replace(/Ms$/, '')} ${Math.round(ms * 10) / 10} ms`);
  return h('p', { class: 'muted small' }, parts.join(' · '));
}

const percent = (score: number) => `${(score * 100).toFixed(score >= 0.1 ? 0 : 1)}%`;

/** A label that is a CSS colour name (the colour model's labels) gets a swatch of that colour. */
function colourSwatch(label: string): HTMLElement | null {
  if (!/^[a-z]+$/i.test(label) || !CSS.supports('color', label)) return null;
  const swatch = h('span', { class: 'swatch', 'aria-hidden': 'true' });
  swatch.style.backgroundColor = label;
  return swatch;
}

function renderClassification(result: ClassificationResult): HTMLElement {
  const list = h('ol', { class: 'labels', 'aria-label': 'Labels, best first' });
  for (const { label, score } of result.labels) {
    const bar = h('span', { class: 'bar-fill' });
    bar.style.width = `${Math.max(0, Math.min(1, score)) * 100}%`;
    list.append(
      h('li', {}, h('span', { class: 'label-name' }, colourSwatch(label), label), h('span', { class: 'bar', 'aria-hidden': 'true' }, bar), h('span', { class: 'score' }, percent(score))),
    );
  }
  return list;
}

type Point = [number, number];

/** Any accepted box shape as a polygon. */
function polygonOf(box: Box): Point[] {
  if (Array.isArray(box)) {
    if (box.length === 4 && box.every((v) => typeof v === 'number')) {
      const [x1, y1, x2, y2] = box as [number, number, number, number];
      return [[x1, y1], [x2, y1], [x2, y2], [x1, y2]];
    }
    return box as Point[];
  }
  const { x, y, width, height } = box;
  return [[x, y], [x + width, y], [x + width, y + height], [x, y + height]];
}

/**
 * The image with shapes drawn over it: an SVG on top of the <img>, its viewBox in the image's
 * pixels, so it scales with the picture. Boxes given as 0–1 fractions are scaled to those pixels.
 */
function annotatedImage(imageUrl: string, polygons: { points: Point[]; label?: string }[], size: { width: number; height: number } | undefined) {
  const figure = h('div', { class: 'annotated' });
  const img = h('img', { src: imageUrl, alt: 'The uploaded image with what was found outlined' });
  const overlay = svg('svg', { class: 'overlay', preserveAspectRatio: 'none', 'aria-hidden': 'true' });
  const fractions = polygons.every((p) => p.points.every(([x, y]) => x <= 1 && y <= 1));
  const draw = (width: number, height: number) => {
    overlay.setAttribute('viewBox', `0 0 ${width} ${height}`);
    // Labels a constant share of the picture, whatever its resolution.
    const fontSize = Math.max(width, height) / 40;
    overlay.replaceChildren(
      ...polygons.map(({ points, label }, index) => {
        const pixels = fractions ? points.map(([x, y]): Point => [x * width, y * height]) : points;
        const group = svg('g', { class: 'shape', 'data-index': index });
        group.append(svg('polygon', { points: pixels.map((p) => p.join(',')).join(' '), 'vector-effect': 'non-scaling-stroke' }));
        if (label) {
          const [x, y] = pixels[0] ?? [0, 0];
          group.append(svg('text', { x, y: Math.max(fontSize, y - fontSize / 4), class: 'shape-label', 'font-size': fontSize, 'stroke-width': fontSize / 5 }, label));
        }
        return group;
      }),
    );
  };
  if (size) draw(size.width, size.height);
  else img.addEventListener('load', () => draw(img.naturalWidth, img.naturalHeight), { once: true });
  figure.append(img, overlay);
  const highlight = (index: number, on: boolean) => overlay.querySelector(`[data-index="${index}"]`)?.classList.toggle('active', on);
  return { figure, highlight };
}

function renderOcr(result: OcrResult, imageUrl: string): HTMLElement {
  const { figure, highlight: highlightShape } = annotatedImage(imageUrl, result.lines.map((line) => ({ points: polygonOf(line.box) })), result.image);
  const lines = h('ol', { class: 'ocr-lines' });
  result.lines.forEach((line, index) => {
    const item = h('li', { tabindex: 0 }, h('span', { class: 'ocr-text' }, line.text), h('span', { class: 'muted small' }, ` ${percent(line.confidence)}`));
    const highlight = (on: boolean) => highlightShape(index, on);
    for (const [event, on] of [['mouseenter', true], ['mouseleave', false], ['focus', true], ['blur', false]] as const) {
      item.addEventListener(event, () => highlight(on));
    }
    lines.append(item);
  });
  const text = result.text || result.lines.map((l) => l.text).join('\n');
  const copy = h('button', { type: 'button', class: 'secondary' }, 'Copy text');
  copy.addEventListener('click', () => {
    navigator.clipboard.writeText(text).then(
      () => (copy.textContent = 'Copied'),
      () => (copy.textContent = 'Copy failed: select the text'),
    );
  });
  const side = h('div', { class: 'ocr-side' }, h('div', { class: 'row' }, h('strong', {}, `${result.lines.length} ${result.lines.length === 1 ? 'line' : 'lines'}`), copy), lines);
  return h('div', { class: 'split' }, figure, side);
}

function renderDetection(result: DetectionResult, imageUrl: string): HTMLElement {
  const { figure } = annotatedImage(
    imageUrl,
    result.objects.map((o) => ({ points: polygonOf(o.box), label: `${o.label} ${percent(o.score)}` })),
    result.image,
  );
  const list = h('ul', { class: 'plain' }, ...result.objects.map((o) => h('li', {}, `${o.label} `, h('span', { class: 'muted' }, percent(o.score)))));
  return h('div', { class: 'split' }, figure, h('div', {}, h('strong', {}, `${result.objects.length} ${result.objects.length === 1 ? 'object' : 'objects'}`), list));
}

function renderEmbedding(result: EmbeddingResult): HTMLElement {
  const first = result.vector.slice(0, EMBEDDING_PREVIEW_VALUES).map((v) => v.toFixed(4));
  return h(
    'div',
    {},
    h('p', {}, h('strong', {}, `${result.dimensions} dimensions`)),
    h('p', { class: 'mono small' }, `[${first.join(', ')}${result.vector.length > first.length ? ', …' : ''}]`),
  );
}

function renderAnalysis(result: AnalysisResult): HTMLElement {
  const usage = result.usage ? h('p', { class: 'muted small' }, Object.entries(result.usage).map(([k, v]) => `${k} ${v}`).join(' · ')) : null;
  return h('div', {}, describeValue(result.data), usage);
}

const words = (key: string) => key.replace(/([a-z])([A-Z])/g, '$1 $2').replace(/[_-]+/g, ' ');

/** Any JSON as nested definition lists and lists: Gemini's data, readable. */
export function describeValue(value: unknown): HTMLElement {
  if (value === null || value === undefined) return h('span', { class: 'muted' }, '—');
  if (Array.isArray(value)) {
    if (value.length === 0) return h('span', { class: 'muted' }, 'none');
    if (value.every((v) => typeof v !== 'object' || v === null)) return h('span', {}, value.map(String).join(', '));
    return h('ol', { class: 'nested' }, ...value.map((v) => h('li', {}, describeValue(v))));
  }
  if (typeof value === 'object') {
    const list = h('dl', { class: 'fields' });
    for (const [key, v] of Object.entries(value)) list.append(h('dt', {}, words(key)), h('dd', {}, describeValue(v)));
    return list;
  }
  if (typeof value === 'boolean') return h('span', {}, value ? 'yes' : 'no');
  return h('span', {}, String(value));
}
