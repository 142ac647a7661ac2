import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { ApiEvent, ApiResponse } from './http.ts';
import { json } from './http.ts';
import { createUploadUrl } from '#shared/storage/presign.ts';

/**
 * GET / : the web page (web/src, built into one file by `npm run build:web`), with a Content-
 * Security-Policy that lets it talk to the API and the upload host and nothing else.
 */

/**
 * Where the built page is looked for: beside the sources (npm start, tests), and beside the
 * bundled function on AWS (the bundling copies web/dist/index.html to web/index.html in the asset).
 */
const PAGE_LOCATIONS = ['../../web/dist/index.html', './web/index.html'].map((relative) => fileURLToPath(new URL(relative, import.meta.url)));

/**
 * Browsers may keep the page but must ask again each time (no-cache + ETag: a 304 is a few bytes),
 * so a deploy is seen at once.
 */
const PAGE_CACHE_CONTROL = 'no-cache';

interface BuiltPage {
  html: string;
  etag: string;
  /** CSP sources naming the page's inline <script> and <style> blocks by hash. */
  scriptHashes: string[];
  styleHashes: string[];
}

let page: BuiltPage | undefined;
let uploadOriginPromise: Promise<string> | undefined;

const sha256 = (text: string) => `'sha256-${createHash('sha256').update(text, 'utf8').digest('base64')}'`;
const blocks = (html: string, tag: 'script' | 'style') => [...html.matchAll(new RegExp(`<${tag}>([\\s\\S]*?)</${tag}>`, 'g'))].map((m) => m[1]!);

/** The built page, read once; undefined until it has been built (checked again on every request until then). */
function builtPage(): BuiltPage | undefined {
  if (page) return page;
  const path = PAGE_LOCATIONS.find((p) => existsSync(p));
  if (!path) return undefined;
  const html = readFileSync(path, 'utf8');
  page = {
    html,
    etag: `"${createHash('sha256').update(html).digest('base64url').slice(0, 27)}"`,
    scriptHashes: blocks(html, 'script').map(sha256),
    styleHashes: blocks(html, 'style').map(sha256),
  };
  return page;
}

/**
 * The origin uploads go to, as this function presigns them (the bucket's virtual host on AWS, the
 * local S3 endpoint locally): presigning is local computation, no request. The page PUTs files
 * there and GETs large results from there, so the CSP's connect-src must name it.
 */
function uploadOrigin(): Promise<string> {
  uploadOriginPromise ??= createUploadUrl('00000000-0000-4000-8000-000000000000', 'image/jpeg', 1).then((upload) => new URL(upload.url).origin);
  return uploadOriginPromise;
}

/** `?api=` on the page: the API it talks to when hosted elsewhere (the page reads the same parameter). */
function requestedApiOrigin(event: Pick<ApiEvent, 'queryStringParameters'>): string | undefined {
  const requested = event.queryStringParameters?.api;
  if (!requested) return undefined;
  try {
    const url = new URL(requested);
    return url.protocol === 'http:' || url.protocol === 'https:' ? url.origin : undefined;
  } catch {
    return undefined;
  }
}

export function contentSecurityPolicy(built: Pick<BuiltPage, 'scriptHashes' | 'styleHashes'>, connectSources: string[]): string {
  return [
    "default-src 'none'",
    `script-src ${built.scriptHashes.join(' ')}`,
    `style-src ${built.styleHashes.join(' ')}`,
    // blob: the previews of the files being sent; data: the empty favicon.
    "img-src 'self' blob: data:",
    `connect-src 'self' ${connectSources.join(' ')}`.trim(),
    "base-uri 'none'",
    "form-action 'none'",
    "frame-ancestors 'none'",
  ].join('; ');
}

export async function pageReply(event: Pick<ApiEvent, 'headers' | 'queryStringParameters'>): Promise<ApiResponse> {
  const built = builtPage();
  if (!built) {
    return json(503, { error: { code: 'page_not_built', message: 'the web page has not been built: run npm run build:web' } });
  }
  const cacheHeaders = { etag: built.etag, 'cache-control': PAGE_CACHE_CONTROL };
  if (event.headers?.['if-none-match'] === built.etag) return { statusCode: 304, headers: cacheHeaders };
  const connectSources = [await uploadOrigin(), requestedApiOrigin(event)].filter((s): s is string => s !== undefined);
  return {
    statusCode: 200,
    headers: {
      'content-type': 'text/html; charset=utf-8',
      ...cacheHeaders,
      'content-security-policy': contentSecurityPolicy(built, [...new Set(connectSources)]),
      'x-content-type-options': 'nosniff',
      // The page's URL may carry ?api=; requests to S3 need no referrer.
      'referrer-policy': 'no-referrer',
    },
    body: built.html,
  };
}
