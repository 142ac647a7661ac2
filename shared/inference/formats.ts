/**
 * Image formats this service accepts, and detection of the real format from the bytes: the
 * declared content-type is what the client claims, the magic bytes are what it sent.
 */

export const ACCEPTED_CONTENT_TYPES = {
  'image/jpeg': 'jpeg',
  'image/png': 'png',
  'image/webp': 'webp',
  'image/gif': 'gif',
  'image/tiff': 'tiff',
  'image/avif': 'avif',
} as const;

export type AcceptedContentType = keyof typeof ACCEPTED_CONTENT_TYPES;
export type ImageFormat = (typeof ACCEPTED_CONTENT_TYPES)[AcceptedContentType];

export function isAcceptedContentType(value: string): value is AcceptedContentType {
  return Object.hasOwn(ACCEPTED_CONTENT_TYPES, value);
}

/** Content types arrive as `image/JPEG; charset=…` at times: compare on the bare lower-case type. */
export function normalizeContentType(value: string): string {
  return value.split(';')[0]!.trim().toLowerCase();
}

const ascii = (bytes: Uint8Array, start: number, end: number) => String.fromCharCode(...bytes.subarray(start, end));

/** The format the bytes really are, among the accepted ones; undefined for anything else. */
export function detectImageFormat(bytes: Uint8Array): ImageFormat | undefined {
  if (bytes.length < 12) return undefined;
  if (bytes[0] === 0xff && bytes[1] === 0xd8 && bytes[2] === 0xff) return 'jpeg';
  if (ascii(bytes, 0, 8) === '\x89PNG\r\n\x1a\n') return 'png';
  if (ascii(bytes, 0, 6) === 'GIF87a' || ascii(bytes, 0, 6) === 'GIF89a') return 'gif';
  if (ascii(bytes, 0, 4) === 'RIFF' && ascii(bytes, 8, 12) === 'WEBP') return 'webp';
  if (ascii(bytes, 0, 4) === 'II*\0' || ascii(bytes, 0, 4) === 'MM\0*') return 'tiff';
  if (ascii(bytes, 4, 8) === 'ftyp') {
    // ISO-BMFF: the major brand, then compatible brands up to the end of the ftyp box.
    const boxSize = Math.min(new DataView(bytes.buffer, bytes.byteOffset).getUint32(0), bytes.length);
    for (let offset = 8; offset + 4 <= boxSize; offset += 4) {
      if (offset === 12) continue; // minor version, not a brand
      const brand = ascii(bytes, offset, offset + 4);
      if (brand === 'avif' || brand === 'avis') return 'avif';
    }
  }
  return undefined;
}
