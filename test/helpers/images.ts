import { deflateSync } from 'node:zlib';
import sharp from 'sharp';

/** Test images made on the spot with sharp: no binary fixtures. */

type Rgb = { r: number; g: number; b: number };

/** An image whose top part is one colour and bottom part another, in the given format. */
export function twoTone(
  format: 'jpeg' | 'png' | 'webp' | 'gif' | 'tiff' | 'avif',
  width: number,
  height: number,
  top: Rgb,
  bottom: Rgb,
  topShare = 0.5,
): Promise<Buffer> {
  const topHeight = Math.round(height * topShare);
  return sharp({ create: { width, height, channels: 3, background: bottom } })
    .composite([
      {
        input: { create: { width, height: topHeight, channels: 3, background: top } },
        top: 0,
        left: 0,
      },
    ])
    .toFormat(format)
    .toBuffer();
}

export const RED = { r: 230, g: 25, b: 25 };
export const BLUE = { r: 25, g: 64, b: 217 };
export const GREEN = { r: 38, g: 166, b: 51 };
export const WHITE = { r: 242, g: 242, b: 242 };

/**
 * A "decompression bomb": a tiny PNG file whose header declares width × height pixels
 * (1-bit greyscale, all zero rows, so it compresses to almost nothing).
 */
export function bombPng(width: number, height: number): Buffer {
  const crcTable = Array.from({ length: 256 }, (_, n) => {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    return c >>> 0;
  });
  const crc = (buf: Buffer) => {
    let c = 0xffffffff;
    for (const byte of buf) c = crcTable[(c ^ byte) & 0xff]! ^ (c >>> 8);
    return (c ^ 0xffffffff) >>> 0;
  };
  const chunk = (type: string, data: Buffer) => {
    const body = Buffer.concat([Buffer.from(type, 'ascii'), data]);
    const out = Buffer.alloc(8 + data.length + 4);
    out.writeUInt32BE(data.length, 0);
    body.copy(out, 4);
    out.writeUInt32BE(crc(body), 8 + data.length);
    return out;
  };
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr[8] = 1; // bit depth
  ihdr[9] = 0; // greyscale
  const rowBytes = 1 + Math.ceil(width / 8);
  const raw = Buffer.alloc(rowBytes * height); // filter byte 0 + zero pixels, every row
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', ihdr),
    chunk('IDAT', deflateSync(raw, { level: 9 })),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}
