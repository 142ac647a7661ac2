import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';

/** A real webhook receiver on loopback: it records every call and answers as the test says. */

export interface ReceivedCall {
  headers: IncomingHttpHeaders;
  /** The raw body, exactly as sent (what a signature covers). */
  body: string;
  receivedAt: number;
}

/** How to answer one call: a status, after an optional delay (longer than the sender's timeout = a timeout). */
export type Answer = { status: number; delayMs?: number };

export interface WebhookReceiver {
  url: string;
  calls: ReceivedCall[];
  /** Answers for the next calls, in order; after them, `fallback`. */
  answers: Answer[];
  fallback: Answer;
  /** Resolves once `predicate` holds for the calls so far, or rejects after `timeoutMs`. */
  waitFor(predicate: (calls: ReceivedCall[]) => boolean, timeoutMs?: number): Promise<ReceivedCall[]>;
  close(): Promise<void>;
}

export async function startWebhookReceiver(path = '/hook'): Promise<WebhookReceiver> {
  const calls: ReceivedCall[] = [];
  const receiver = { answers: [] as Answer[], fallback: { status: 204 } as Answer };
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      calls.push({ headers: req.headers, body: Buffer.concat(chunks).toString('utf8'), receivedAt: Date.now() });
      const answer = receiver.answers.shift() ?? receiver.fallback;
      const timer = setTimeout(() => {
        if (!res.destroyed) res.writeHead(answer.status, { 'content-type': 'text/plain' }).end(`answered ${answer.status}`);
      }, answer.delayMs ?? 0);
      res.on('close', () => clearTimeout(timer));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}${path}`;
  return Object.assign(receiver, {
    url,
    calls,
    async waitFor(predicate: (calls: ReceivedCall[]) => boolean, timeoutMs = 20_000) {
      const until = Date.now() + timeoutMs;
      while (!predicate(calls)) {
        if (Date.now() > until) throw new Error(`the receiver got ${calls.length} calls, not what was awaited: ${calls.map((c) => c.body.slice(0, 120)).join(' | ')}`);
        await new Promise((r) => setTimeout(r, 25));
      }
      return calls;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  });
}
