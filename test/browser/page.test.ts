import { mkdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { Page, Route } from 'playwright-core';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildPage } from '../../scripts/build-web.ts';
import { launchBrowser, type TestBrowser } from '../helpers/browser.ts';
import { BLUE, GREEN, RED, twoTone } from '../helpers/images.ts';
import { startTestCloud, type TestCloud } from '../helpers/local-cloud.ts';
import { renderTextImage, type TextLineSpec } from '../helpers/text-images.ts';

/**
 * The web page in a real browser against a local cloud: key, model, drop, upload to the presigned
 * URL, results drawn, refusals explained, cancel, a batch and its JSONL, OCR lines and their boxes. Screenshots of each step
 * go to test/browser/artifacts/.
 */

const ARTIFACTS = fileURLToPath(new URL('./artifacts/', import.meta.url));
/** Time for a job to go through the whole local pipeline and be drawn. */
const RESULT_TIMEOUT_MS = 15_000;
/** The first OCR job also loads the detector, recogniser and classifier in the worker. */
const OCR_RESULT_TIMEOUT_MS = 30_000;

/** What the page of text dropped for OCR says. */
const OCR_LINES: TextLineSpec[] = [
  { text: 'Invoice 2024-117', font: 'DejaVu Sans', size: 40 },
  { text: 'Total amount: 42.50', font: 'Liberation Sans', size: 34 },
  { text: 'Paid by card on Monday', font: 'DejaVu Serif', size: 30 },
];

/** A sky: a blue gradient with two white clouds. */
async function skyPhoto(): Promise<Buffer> {
  const width = 640;
  const height = 420;
  const pixels = Buffer.alloc(width * height * 3);
  const clouds = [
    { cx: 180, cy: 130, rx: 110, ry: 38 },
    { cx: 470, cy: 260, rx: 90, ry: 30 },
  ];
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const t = y / height;
      const inCloud = clouds.some((c) => ((x - c.cx) / c.rx) ** 2 + ((y - c.cy) / c.ry) ** 2 <= 1);
      const rgb = inCloud ? [240, 243, 248] : [20 + 60 * t, 60 + 70 * t, 200 + 30 * t];
      pixels.set(rgb.map(Math.round), (y * width + x) * 3);
    }
  }
  return sharp(pixels, { raw: { width, height, channels: 3 } }).jpeg({ quality: 90 }).toBuffer();
}

const SVG = Buffer.from('<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"><rect width="10" height="10" fill="red"/></svg>');

/** The browser globals the page.evaluate callbacks use: this file compiles for Node, without the DOM library. */
interface PageGlobals {
  DataTransfer: new () => { items: { add(file: File): unknown } };
  getComputedStyle(element: unknown): { backgroundColor: string };
  document: { documentElement: { scrollWidth: number; clientWidth: number } };
}

/** Drop files on the drop zone as a drag and drop from the desktop delivers them. */
async function dropFiles(page: Page, files: { name: string; mimeType: string; buffer: Buffer }[]): Promise<void> {
  const transfer = await page.evaluateHandle((list) => {
    const data = new (globalThis as unknown as PageGlobals).DataTransfer();
    for (const f of list) {
      const bytes = Uint8Array.from(atob(f.base64), (c) => c.charCodeAt(0));
      data.items.add(new File([bytes], f.name, { type: f.mimeType }));
    }
    return data;
  }, files.map((f) => ({ name: f.name, mimeType: f.mimeType, base64: f.buffer.toString('base64') })));
  await page.dispatchEvent('#drop', 'dragover', { dataTransfer: transfer });
  await page.dispatchEvent('#drop', 'drop', { dataTransfer: transfer });
}

const rowOf = (page: Page, name: string) => page.locator('#jobs-body tr', { has: page.getByRole('button', { name, exact: true }) });

describe('the web page', () => {
  let cloud: TestCloud;
  let browser: TestBrowser;
  let page: Page;
  const pageErrors: string[] = [];
  const cspViolations: string[] = [];
  const shot = (name: string) => page.screenshot({ path: `${ARTIFACTS}${name}.png`, fullPage: true });

  beforeAll(async () => {
    mkdirSync(ARTIFACTS, { recursive: true });
    await buildPage();
    [cloud, browser] = await Promise.all([startTestCloud(), launchBrowser()]);
    page = await browser.context.newPage();
    page.on('pageerror', (error) => pageErrors.push(error.message));
    page.on('console', (message) => {
      if (/Content Security Policy/i.test(message.text())) cspViolations.push(message.text());
    });
  });

  afterAll(async () => {
    await browser?.close();
    await cloud?.stop();
  });

  it('takes the API key once, from the keyboard, and lists the models with their params', async () => {
    // The API serves its own page at `/`.
    await page.goto(`${cloud.cloud.endpoints.apiUrl}/`);
    await page.getByLabel('API key').fill(cloud.cloud.endpoints.apiKey);
    await page.getByLabel('API key').press('Enter');
    await expect.poll(() => page.locator('#model').inputValue()).toBe('onnx/colors');
    expect(await page.locator('#model-description').textContent()).toContain('Dominant colours of a photo');
    expect(await page.getByLabel('topK').count()).toBe(1);
    // Saved for this API: a reload needs no key.
    await page.reload();
    await expect.poll(() => page.locator('#model').inputValue()).toBe('onnx/colors');
    expect(await page.locator('#key-form').isHidden()).toBe(true);
    expect(await page.content()).not.toContain(cloud.cloud.endpoints.apiKey);
    await shot('1-key-and-models');
  });

  it('shows the colours of a dropped photo of the sky, with swatches', async () => {
    await dropFiles(page, [{ name: 'sky.jpg', mimeType: 'image/jpeg', buffer: await skyPhoto() }]);
    const labels = page.locator('#detail .labels li');
    await labels.first().waitFor({ timeout: RESULT_TIMEOUT_MS });
    expect(await labels.first().locator('.label-name').textContent()).toBe('blue');
    expect(await labels.first().locator('.swatch').evaluate((e) => (globalThis as unknown as PageGlobals).getComputedStyle(e).backgroundColor)).toBe('rgb(0, 0, 255)');
    expect(await rowOf(page, 'sky.jpg').getAttribute('data-state')).toBe('succeeded');
    expect(await page.locator('#counts').textContent()).toContain('succeeded 1');
    await shot('2-sky-colours');
  });

  it('explains a refused SVG with the API\'s message and code', async () => {
    await page.locator('#files').setInputFiles({ name: 'logo.svg', mimeType: 'image/svg+xml', buffer: SVG });
    const message = page.locator('#detail .message');
    await message.waitFor({ timeout: RESULT_TIMEOUT_MS });
    expect(await message.textContent()).toMatch(/refused: contentType image\/svg\+xml is not accepted unsupported_media_type/);
    expect(await rowOf(page, 'logo.svg').getAttribute('data-state')).toBe('refused');
    await shot('3-svg-refused');
  });

  it('cancels a job whose upload has not finished', async () => {
    // Hold the upload: the job exists, awaiting its bytes, while the page shows it uploading.
    const s3Origin = new URL(cloud.cloud.endpoints.s3).origin;
    const held: Route[] = [];
    const toS3 = (url: URL) => url.origin === s3Origin;
    const hold = (route: Route) => (route.request().method() === 'PUT' ? void held.push(route) : route.fallback());
    await page.route(toS3, hold);
    await page.locator('#files').setInputFiles({ name: 'held.jpg', mimeType: 'image/jpeg', buffer: await twoTone('jpeg', 64, 64, RED, RED) });
    await expect.poll(() => rowOf(page, 'held.jpg').getAttribute('data-state')).toBe('uploading');
    await page.getByRole('button', { name: 'Cancel held.jpg' }).first().click();
    await expect.poll(() => rowOf(page, 'held.jpg').getAttribute('data-state')).toBe('canceled');
    expect(await page.locator('#detail .message').textContent()).toContain('canceled');
    await shot('4-canceled');
    await page.unroute(toS3, hold);
    await Promise.all(held.map((route) => route.abort().catch(() => undefined)));
    // The API agrees.
    const jobId = (await page.locator('#detail .mono').first().textContent())!;
    expect((await cloud.client.getJob(jobId)).job.status).toBe('canceled');
  });

  it('runs a batch: counts by state and one JSON line per file to download', async () => {
    const files = await Promise.all(
      [['red.png', RED], ['green.png', GREEN], ['blue.png', BLUE]].map(async ([name, colour]) => ({
        name: name as string,
        mimeType: 'image/png',
        buffer: await twoTone('png', 120, 80, colour as typeof RED, colour as typeof RED),
      })),
    );
    await page.locator('#files').setInputFiles(files);
    // With the files of the steps before: the sky, the SVG, the canceled one.
    await expect
      .poll(() => page.locator('#counts').textContent(), { timeout: RESULT_TIMEOUT_MS })
      .toMatch(/^6 files\s*succeeded 4\s*refused 1\s*canceled 1$/);
    const [download] = await Promise.all([page.waitForEvent('download'), page.getByRole('button', { name: 'Download results (JSONL)' }).click()]);
    const lines = readFileSync((await download.path())!, 'utf8').trim().split('\n').map((line) => JSON.parse(line));
    expect(lines.map((l) => [l.file, l.status, l.result?.labels[0].label ?? l.error.code])).toEqual([
      ['sky.jpg', 'succeeded', 'blue'],
      ['logo.svg', 'refused', 'unsupported_media_type'],
      ['held.jpg', 'canceled', 'canceled'],
      ['red.png', 'succeeded', 'red'],
      ['green.png', 'succeeded', 'green'],
      ['blue.png', 'succeeded', 'blue'],
    ]);
    await shot('5-batch');
    await page.getByRole('button', { name: 'sky.jpg', exact: true }).click();
    await page.screenshot({ path: `${ARTIFACTS}7-desktop.png` });
  });

  it('fits a 375 px wide phone screen without sideways scrolling', async () => {
    await page.setViewportSize({ width: 375, height: 812 });
    const overflow = await page.evaluate(() => {
      const { documentElement } = (globalThis as unknown as PageGlobals).document;
      return documentElement.scrollWidth - documentElement.clientWidth;
    });
    expect(overflow).toBe(0);
    await shot('6-phone');
    await page.setViewportSize({ width: 1280, height: 900 });
  });

  it('clears finished jobs', async () => {
    await page.getByRole('button', { name: 'Clear finished' }).click();
    expect(await page.locator('#counts').textContent()).toBe('No jobs yet.');
    expect(await page.locator('#jobs-table').isHidden()).toBe(true);
  });

  it('reads the text of a dropped page with onnx/ocr: the lines beside the image, each boxed on it', async () => {
    await page.locator('#model').selectOption('onnx/ocr');
    expect(await page.locator('#model-description').textContent()).toContain('PaddleOCR PP-OCRv4');
    expect(await page.getByLabel('sideLimit').count()).toBe(1);
    const { bytes } = await renderTextImage({ width: 900, height: 400, lines: OCR_LINES });
    await dropFiles(page, [{ name: 'page.png', mimeType: 'image/png', buffer: bytes }]);
    const lines = page.locator('#detail .ocr-lines li');
    // The first OCR job loads three networks in the worker.
    await lines.first().waitFor({ timeout: OCR_RESULT_TIMEOUT_MS });
    expect(await page.locator('#detail .ocr-text').allTextContents()).toEqual(OCR_LINES.map((l) => l.text));
    expect(await page.locator('#detail .ocr-side strong').first().textContent()).toBe(`${OCR_LINES.length} lines`);
    // One box drawn over the image per line; a line in focus lights its box.
    const shapes = page.locator('#detail .overlay .shape');
    expect(await shapes.locator('polygon').count()).toBe(OCR_LINES.length);
    await lines.nth(1).focus();
    expect(await shapes.nth(1).getAttribute('class')).toContain('active');
    expect(await rowOf(page, 'page.png').getAttribute('data-state')).toBe('succeeded');
    await shot('8-ocr');
  });

  it('raised no script errors and no Content-Security-Policy violations', () => {
    expect(pageErrors).toEqual([]);
    expect(cspViolations).toEqual([]);
  });
});
