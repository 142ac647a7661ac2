import type { IncomingMessage } from 'node:http';

/** A request body up to maxBytes; past that it is drained, not kept, and 'too_large' is the answer. */
export function readBodyWithin(req: IncomingMessage, maxBytes: number): Promise<Buffer | 'too_large'> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size <= maxBytes) chunks.push(chunk);
    });
    req.on('end', () => resolve(size > maxBytes ? 'too_large' : Buffer.concat(chunks)));
    req.on('error', reject);
  });
}
