import sharp from 'sharp';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  ACCEPTED_CONTENT_TYPES,
  detectImageFormat,
  type ImageFormat,
  isAcceptedContentType,
  normalizeContentType,
} from '#shared/inference/formats.ts';

const ascii = (text: string) => Uint8Array.from(text, (c) => c.charCodeAt(0));

/** An ISO-BMFF `ftyp` box: size, "ftyp", major brand, minor version, compatible brands. */
function ftyp(major: string, minorVersion: string, compatible: string[]): Uint8Array {
  const payload = `${major}${minorVersion}${compatible.join('')}`;
  const bytes = new Uint8Array(8 + payload.length + 16);
  new DataView(bytes.buffer).setUint32(0, 8 + payload.length);
  bytes.set(ascii(`ftyp${payload}`), 4);
  // What follows the box (a meta box header) must not be read as a brand.
  bytes.set(ascii('\0\0\0\x10metaavif'), 8 + payload.length);
  return bytes;
}

describe('detectImageFormat on images sharp encodes', () => {
  const encoded = new Map<ImageFormat, Buffer>();

  beforeAll(async () => {
    const base = () => sharp({ create: { width: 16, height: 12, channels: 3, background: { r: 200, g: 40, b: 90 } } });
    encoded.set('jpeg', await base().jpeg().toBuffer());
    encoded.set('png', await base().png().toBuffer());
    encoded.set('webp', await base().webp().toBuffer());
    encoded.set('gif', await base().gif().toBuffer());
    encoded.set('tiff', await base().tiff().toBuffer());
    encoded.set('avif', await base().avif({ effort: 0 }).toBuffer());
  });

  for (const format of ['jpeg', 'png', 'webp', 'gif', 'tiff', 'avif'] as const) {
    it(`recognises ${format}`, () => {
      expect(detectImageFormat(encoded.get(format)!)).toBe(format);
    });
  }

  it('recognises each format in a view that does not start at its buffer’s first byte', () => {
    for (const format of ['jpeg', 'png', 'webp', 'gif', 'tiff', 'avif'] as const) {
      const bytes = encoded.get(format)!;
      const backing = new Uint8Array(bytes.length + 7);
      backing.set(bytes, 7);
      expect(detectImageFormat(backing.subarray(7)), format).toBe(format);
    }
  });

  it('names a format for every accepted content type, and only those', () => {
    expect(new Set(Object.values(ACCEPTED_CONTENT_TYPES))).toEqual(new Set(['jpeg', 'png', 'webp', 'gif', 'tiff', 'avif']));
  });
});

describe('detectImageFormat on hand-made headers', () => {
  it('recognises big-endian TIFF (MM\\0*)', () => {
    expect(detectImageFormat(ascii('MM\0*\0\0\0\x08\0\0\0\0'))).toBe('tiff');
  });

  it('recognises GIF87a as well as GIF89a', () => {
    expect(detectImageFormat(ascii('GIF87a\x10\0\x10\0\0\0\0'))).toBe('gif');
  });

  it('recognises AVIF named only among the compatible brands', () => {
    expect(detectImageFormat(ftyp('mif1', '\0\0\0\0', ['mif1', 'miaf', 'avif']))).toBe('avif');
  });

  it('recognises an AVIF image sequence (avis)', () => {
    expect(detectImageFormat(ftyp('avis', '\0\0\0\0', ['avis', 'msf1']))).toBe('avif');
  });

  it('does not take HEIC for AVIF', () => {
    expect(detectImageFormat(ftyp('heic', '\0\0\0\0', ['mif1', 'heic']))).toBeUndefined();
  });

  it('does not take an MP4 for AVIF', () => {
    expect(detectImageFormat(ftyp('isom', '\0\0\x02\0', ['isom', 'iso2', 'mp41']))).toBeUndefined();
  });

  it('does not read the minor version or bytes past the ftyp box as a brand', () => {
    expect(detectImageFormat(ftyp('heic', 'avif', ['mif1']))).toBeUndefined();
  });

  it('is undefined for a PDF', () => {
    expect(detectImageFormat(ascii('%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<< /Type /Catalog >>\nendobj\n'))).toBeUndefined();
  });

  it('is undefined for an SVG', () => {
    const svg = '<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"><rect width="10" height="10"/></svg>';
    expect(detectImageFormat(new TextEncoder().encode(svg))).toBeUndefined();
  });

  it('is undefined for plain text', () => {
    expect(detectImageFormat(new TextEncoder().encode('Hello, this is a text file.\n'))).toBeUndefined();
  });

  it('is undefined for a RIFF file that is not WebP (a WAV)', () => {
    expect(detectImageFormat(ascii('RIFF\x24\0\0\0WAVEfmt \x10\0\0\0'))).toBeUndefined();
  });

  it('is undefined for input too short to hold a signature, even a real one cut short', async () => {
    const png = await sharp({ create: { width: 2, height: 2, channels: 3, background: '#000' } }).png().toBuffer();
    expect(detectImageFormat(new Uint8Array(0))).toBeUndefined();
    expect(detectImageFormat(png.subarray(0, 11))).toBeUndefined();
    expect(detectImageFormat(Uint8Array.from([0xff, 0xd8, 0xff]))).toBeUndefined();
  });
});

describe('content types', () => {
  it('accepts the six image types', () => {
    for (const type of ['image/jpeg', 'image/png', 'image/webp', 'image/gif', 'image/tiff', 'image/avif']) {
      expect(isAcceptedContentType(type), type).toBe(true);
    }
  });

  it('refuses other types, near misses and object property names', () => {
    for (const type of ['image/jpg', 'image/svg+xml', 'application/pdf', 'text/plain', 'image/heic', 'IMAGE/JPEG', 'image/jpeg; charset=x', '', 'toString', '__proto__', 'constructor']) {
      expect(isAcceptedContentType(type), type).toBe(false);
    }
  });

  it('normalises to the bare lower-case type', () => {
    expect(normalizeContentType('Image/JPEG; charset=x')).toBe('image/jpeg');
    expect(normalizeContentType('  image/PNG  ')).toBe('image/png');
    expect(normalizeContentType('image/webp')).toBe('image/webp');
  });

  it('accepts a declared type once normalised', () => {
    expect(isAcceptedContentType(normalizeContentType('Image/JPEG; charset=x'))).toBe(true);
    expect(isAcceptedContentType(normalizeContentType('IMAGE/AVIF ;q=1'))).toBe(true);
  });
});
