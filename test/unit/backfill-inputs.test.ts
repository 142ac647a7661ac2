import { chmodSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { countPaths, inputKind, inspectFile, pathsOf, pathsOfAll } from '../../scripts/backfill/inputs.ts';
import { RED, twoTone } from '../helpers/images.ts';

/** How a backfill finds its files and tells images from the rest. */

let root: string;
const rel = (paths: string[]) => paths.map((p) => relative(root, p)).sort();

async function collect(iterable: AsyncIterable<string>): Promise<string[]> {
  const out: string[] = [];
  for await (const path of iterable) out.push(path);
  return out;
}

beforeAll(async () => {
  root = mkdtempSync(join(tmpdir(), 'backfill-inputs-'));
  for (const dir of ['photos/2024/jan', 'photos/2025', 'photos/.cache', 'other']) mkdirSync(join(root, dir), { recursive: true });
  const png = await twoTone('png', 16, 16, RED, RED);
  const jpeg = await twoTone('jpeg', 16, 16, RED, RED);
  writeFileSync(join(root, 'photos/a.jpg'), jpeg);
  writeFileSync(join(root, 'photos/b.png'), png);
  writeFileSync(join(root, 'photos/2024/c.jpg'), jpeg);
  writeFileSync(join(root, 'photos/2024/jan/d.png'), png);
  writeFileSync(join(root, 'photos/2025/e.jpg'), jpeg);
  writeFileSync(join(root, 'photos/.hidden.jpg'), jpeg);
  writeFileSync(join(root, 'photos/.cache/f.jpg'), jpeg);
  writeFileSync(join(root, 'other/g.jpg'), jpeg);
  symlinkSync(join(root, 'other/g.jpg'), join(root, 'photos/link-to-g.jpg'));
  symlinkSync(join(root, 'other'), join(root, 'photos/link-to-other'));
  writeFileSync(join(root, 'list.txt'), `# images to send\n${join(root, 'photos/a.jpg')}\n\n  ${join(root, 'other/g.jpg')}  \n`);
});
afterAll(() => rmSync(root, { recursive: true, force: true }));

describe('finding files', () => {
  it('walks a directory recursively, skipping dot files and folders and not following folder links', async () => {
    expect(rel(await collect(pathsOf(join(root, 'photos'))))).toEqual([
      'photos/2024/c.jpg',
      'photos/2024/jan/d.png',
      'photos/2025/e.jpg',
      'photos/a.jpg',
      'photos/b.png',
      'photos/link-to-g.jpg',
    ]);
  });

  it('matches a glob below its static base, with ** across folders and * within one', async () => {
    expect(rel(await collect(pathsOf(join(root, 'photos/**/*.jpg'))))).toEqual([
      'photos/2024/c.jpg',
      'photos/2025/e.jpg',
      'photos/a.jpg',
      'photos/link-to-g.jpg',
    ]);
    expect(rel(await collect(pathsOf(join(root, 'photos/*/*.{jpg,png}'))))).toEqual(['photos/2024/c.jpg', 'photos/2025/e.jpg']);
  });

  it('reads a list file line by line, skipping blanks and comments', async () => {
    expect(rel(await collect(pathsOf(join(root, 'list.txt'))))).toEqual(['other/g.jpg', 'photos/a.jpg']);
  });

  it('takes several inputs one after another, and counts what they name', async () => {
    const inputs = [join(root, 'other'), join(root, 'photos/a.jpg')];
    expect(rel(await collect(pathsOfAll(inputs)))).toEqual(['other/g.jpg', 'photos/a.jpg']);
    expect(await countPaths(inputs)).toBe(2);
    expect(await countPaths(inputs, undefined, (p) => p.endsWith('a.jpg'))).toBe(1);
  });

  it('tells the kind of each input, and refuses one that names nothing', async () => {
    expect(await inputKind(join(root, 'photos'))).toBe('directory');
    expect(await inputKind(join(root, 'list.txt'))).toBe('list');
    expect(await inputKind(join(root, 'photos/a.jpg'))).toBe('file');
    expect(await inputKind(join(root, 'photos/*.jpg'))).toBe('glob');
    await expect(inputKind(join(root, 'nothing-here'))).rejects.toThrow(/no such file or directory/);
  });

  it('yields lazily: the first path comes before the walk is done', async () => {
    const walk = pathsOf(join(root, 'photos'));
    const first = await walk.next();
    expect(first.done).toBe(false);
    await walk.return(undefined);
  });
});

describe('inspecting files', () => {
  it('reads the type from the bytes, not the name', async () => {
    writeFileSync(join(root, 'png-named.jpg'), await twoTone('png', 8, 8, RED, RED));
    expect(await inspectFile(join(root, 'png-named.jpg'))).toMatchObject({ ok: true, contentType: 'image/png' });
    expect(await inspectFile(join(root, 'photos/a.jpg'))).toMatchObject({ ok: true, contentType: 'image/jpeg', size: expect.any(Number) });
  });

  it.each([
    ['a text file named .jpg', 'text.jpg', 'not an image at all, just words', 'not_an_image'],
    ['an empty file', 'empty.png', '', 'empty_file'],
  ])('refuses %s', async (_what, name, content, code) => {
    writeFileSync(join(root, name), content);
    expect(await inspectFile(join(root, name))).toMatchObject({ ok: false, code });
  });

  it('reports a file that cannot be read, without throwing', async () => {
    expect(await inspectFile(join(root, 'gone.jpg'))).toMatchObject({ ok: false, code: 'unreadable', message: expect.stringContaining('ENOENT') });
    const locked = join(root, 'locked.jpg');
    writeFileSync(locked, 'x');
    chmodSync(locked, 0o000);
    const result = await inspectFile(locked);
    // root reads anything; everyone else is refused.
    expect(result).toMatchObject(process.getuid?.() === 0 ? { ok: false, code: 'not_an_image' } : { ok: false, code: 'unreadable' });
  });
});
