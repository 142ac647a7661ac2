import { createReadStream } from 'node:fs';
import { open, opendir, stat } from 'node:fs/promises';
import { extname, join, relative, sep } from 'node:path';
import { createInterface } from 'node:readline';
import picomatch from 'picomatch';
import { ACCEPTED_CONTENT_TYPES, detectImageFormat } from '#shared/inference/formats.ts';

/**
 * What a backfill reads: the image paths named by its inputs, found lazily (a directory or glob is
 * walked one directory listing at a time, a list file read line by line), and each file's type
 * from its first bytes. Nothing is stat'ed or read up front, so 100k files cost no more memory than 10.
 */

/** A list file names one path per line (blank lines and `#` comments skipped); other files are images. */
const LIST_EXTENSIONS = new Set(['.txt', '.lst', '.list']);

export type InputKind = 'directory' | 'glob' | 'list' | 'file';

/** How an input is read: an existing directory, a list file, a file, or else a glob pattern. */
export async function inputKind(input: string): Promise<InputKind> {
  const info = await stat(input).catch(() => undefined);
  if (info?.isDirectory()) return 'directory';
  if (info) return LIST_EXTENSIONS.has(extname(input).toLowerCase()) ? 'list' : 'file';
  if (picomatch.scan(input).isGlob) return 'glob';
  throw new Error(`${input}: no such file or directory`);
}

/** The paths an input names, lazily, in walk order. */
export async function* pathsOf(input: string, signal?: AbortSignal): AsyncGenerator<string> {
  const kind = await inputKind(input);
  if (kind === 'file') yield input;
  else if (kind === 'list') yield* listedPaths(input);
  else if (kind === 'directory') yield* walk(input, { signal });
  else {
    const { base, glob } = picomatch.scan(input);
    const matches = picomatch(glob, { dot: false });
    // Without `**` a pattern matches at one depth only: no need to look below it.
    const maxDepth = glob.includes('**') ? Infinity : glob.split('/').length;
    const root = base || '.';
    for await (const path of walk(root, { maxDepth, signal })) {
      if (matches(relative(root, path).split(sep).join('/'))) yield path;
    }
  }
}

/** The paths all inputs name, one input after another. */
export async function* pathsOfAll(inputs: readonly string[], signal?: AbortSignal): AsyncGenerator<string> {
  for (const input of inputs) yield* pathsOf(input, signal);
}

async function* listedPaths(listFile: string): AsyncGenerator<string> {
  const lines = createInterface({ input: createReadStream(listFile, 'utf8'), crlfDelay: Infinity });
  for await (const line of lines) {
    const path = line.trim();
    if (path && !path.startsWith('#')) yield path;
  }
}

/**
 * Files under root, depth first, one open directory at a time: a directory's subdirectories wait
 * on a stack (as paths) while its files are yielded. Dot files and dot folders are skipped, as a
 * glob skips them; symlinks to files are followed, symlinks to folders are not (no cycles).
 */
async function* walk(root: string, options: { maxDepth?: number; signal?: AbortSignal } = {}): AsyncGenerator<string> {
  const maxDepth = options.maxDepth ?? Infinity;
  const pending: { dir: string; depth: number }[] = [{ dir: root, depth: 0 }];
  while (pending.length > 0) {
    const { dir, depth } = pending.pop()!;
    const subdirs: { dir: string; depth: number }[] = [];
    let entries;
    try {
      entries = await opendir(dir, { bufferSize: 64 });
    } catch (error) {
      if (dir === root) throw error;
      continue; // an unreadable subfolder: nothing under it can be read either
    }
    for await (const entry of entries) {
      options.signal?.throwIfAborted();
      if (entry.name.startsWith('.')) continue;
      const path = join(dir, entry.name);
      if (entry.isDirectory()) {
        if (depth + 1 < maxDepth) subdirs.push({ dir: path, depth: depth + 1 });
      } else if (entry.isFile()) {
        yield path;
      } else if (entry.isSymbolicLink()) {
        if ((await stat(path).catch(() => undefined))?.isFile()) yield path;
      }
    }
    // Reversed, so the stack visits subfolders in listing order.
    pending.push(...subdirs.reverse());
  }
}

/** How many paths the inputs name, for a progress total (walks again, reading names only). */
export async function countPaths(inputs: readonly string[], signal?: AbortSignal, excluded: (path: string) => boolean = () => false): Promise<number> {
  let count = 0;
  for await (const path of pathsOfAll(inputs, signal)) if (!excluded(path)) count++;
  return count;
}

export type Inspection =
  | { ok: true; path: string; contentType: string; size: number }
  | { ok: false; path: string; code: 'not_an_image' | 'empty_file' | 'unreadable'; message: string };

/** Bytes read from the head of a file to tell its format (the longest signature, AVIF's ftyp box, fits). */
const SNIFF_BYTES = 64;

/**
 * A file's size and image type from its first bytes (the extension is not trusted: the worker
 * checks the bytes too, and a mislabelled file would only fail there after an upload).
 */
export async function inspectFile(path: string): Promise<Inspection> {
  let handle;
  try {
    handle = await open(path, 'r');
    const info = await handle.stat();
    if (!info.isFile()) return { ok: false, path, code: 'unreadable', message: 'not a regular file' };
    if (info.size === 0) return { ok: false, path, code: 'empty_file', message: 'the file is empty' };
    const head = Buffer.alloc(SNIFF_BYTES);
    const { bytesRead } = await handle.read(head, 0, SNIFF_BYTES, 0);
    const format = detectImageFormat(head.subarray(0, bytesRead));
    if (!format) return { ok: false, path, code: 'not_an_image', message: 'not a JPEG, PNG, WebP, GIF, TIFF or AVIF image (by its first bytes)' };
    const contentType = Object.entries(ACCEPTED_CONTENT_TYPES).find(([, f]) => f === format)![0];
    return { ok: true, path, contentType, size: info.size };
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    return { ok: false, path, code: 'unreadable', message: code ? `cannot read the file (${code})` : (error as Error).message };
  } finally {
    await handle?.close();
  }
}
