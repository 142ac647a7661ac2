import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { build, transform } from 'esbuild';

/**
 * Builds the web page: web/src (TypeScript, CSS, an HTML template) into one self-contained
 * web/dist/index.html with the script and styles inlined, so the page makes no request but to the
 * API and the upload host. functions/api/page.ts serves it with a CSP naming those inline blocks
 * by hash. `npm run build:web`.
 */

const root = fileURLToPath(new URL('../web/', import.meta.url));
export const PAGE_SOURCE = `${root}src/`;
export const PAGE_OUTPUT = `${root}dist/index.html`;

/** Browsers the page supports: the last few years of evergreen ones. */
const TARGET = ['chrome100', 'firefox100', 'safari15'];

export async function buildPage(): Promise<{ path: string; bytes: number }> {
  const script = await build({
    entryPoints: [`${PAGE_SOURCE}main.ts`],
    bundle: true,
    format: 'iife',
    minify: true,
    target: TARGET,
    write: false,
    legalComments: 'none',
    logLevel: 'silent',
  });
  const js = script.outputFiles[0]!.text.trim();
  const css = (await transform(readFileSync(`${PAGE_SOURCE}styles.css`, 'utf8'), { loader: 'css', minify: true, target: TARGET })).code.trim();
  const template = readFileSync(`${PAGE_SOURCE}index.html`, 'utf8');
  // Functions as replacements: a `$` in the code must not be read as a pattern.
  // `</script` inside the script would end the element early.
  const html = template
    .replace('/*STYLE*/', () => css.replace(/<\/style/gi, '<\\/style'))
    .replace('/*SCRIPT*/', () => js.replace(/<\/script/gi, '<\\/script'));
  mkdirSync(`${root}dist`, { recursive: true });
  writeFileSync(PAGE_OUTPUT, html);
  return { path: PAGE_OUTPUT, bytes: Buffer.byteLength(html) };
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const { path, bytes } = await buildPage();
  console.log(`web page: ${path} (${(bytes / 1024).toFixed(1)} KB)`);
}
