import type { IncomingMessage, OutgoingHttpHeader, OutgoingHttpHeaders, ServerResponse } from 'node:http';
import { Readable, Writable } from 'node:stream';

/**
 * An AWS SDK request handler that hands each signed request straight to an emulator's request
 * listener, in this process: the same bytes, headers and signature as over HTTP, without a socket,
 * the HTTP parser or a second trip through the event loop per chunk. The local cloud gives it to
 * the handlers' SDK clients (shared/aws.ts's seam); the AWS CLI and scripts still use the port.
 *
 * The listener sees an IncomingMessage-shaped stream and writes to a ServerResponse-shaped sink
 * (the subset Node's servers, dynalite and local-aws-sqs use); the reply body is buffered, which
 * suits the sizes the pipeline moves (uploads ≤ the upload limit, small JSON and XML otherwise).
 */

export type RequestListener = (req: IncomingMessage, res: ServerResponse) => void;

/** The request the SDK hands its HttpHandler (@smithy HttpRequest), as far as this uses it. */
interface SdkRequest {
  method: string;
  protocol?: string;
  hostname?: string;
  port?: number;
  path: string;
  query?: Record<string, string | string[] | null>;
  headers: Record<string, string>;
  body?: unknown;
}

interface SdkResponse {
  statusCode: number;
  reason?: string;
  headers: Record<string, string>;
  body: Readable;
}

/** RFC 3986 escaping, as the SDK's own query-string builder does (the signature covers it). */
const escapeUri = (text: string) => encodeURIComponent(text).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);

export function queryString(query: SdkRequest['query']): string {
  const parts: string[] = [];
  for (const key of Object.keys(query ?? {})) {
    const value = query?.[key];
    const name = escapeUri(key);
    if (Array.isArray(value)) for (const item of value) parts.push(`${name}=${escapeUri(item)}`);
    else if (value === null || value === undefined) parts.push(name);
    else parts.push(`${name}=${escapeUri(value)}`);
  }
  return parts.join('&');
}

function bodyStream(body: unknown): Readable {
  if (body instanceof Readable) return body;
  if (body === undefined || body === null) return Readable.from([]);
  if (typeof body === 'string') return Readable.from([Buffer.from(body)]);
  if (body instanceof Uint8Array) return Readable.from([Buffer.from(body.buffer, body.byteOffset, body.byteLength)]);
  throw new TypeError(`in-process request handler: unsupported body type ${Object.prototype.toString.call(body)}`);
}

/** What a listener reads: a Readable with IncomingMessage's request fields. */
function incomingMessage(request: SdkRequest): IncomingMessage {
  const source = bodyStream(request.body);
  const rawHeaders: string[] = [];
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(request.headers)) {
    rawHeaders.push(name, value);
    headers[name.toLowerCase()] = value;
  }
  const search = queryString(request.query);
  const message = Object.assign(new Readable({ read() {} }), {
    method: request.method.toUpperCase(),
    url: search ? `${request.path}?${search}` : request.path,
    headers,
    rawHeaders,
    httpVersion: '1.1',
    httpVersionMajor: 1,
    httpVersionMinor: 1,
    complete: false,
    aborted: false,
    socket: { remoteAddress: '127.0.0.1', remotePort: 0, encrypted: false },
    connection: { remoteAddress: '127.0.0.1' },
  });
  source.on('data', (chunk: Buffer) => message.push(chunk));
  source.on('end', () => {
    message.complete = true;
    message.push(null);
  });
  source.on('error', (error) => message.destroy(error));
  return message as unknown as IncomingMessage;
}

/** What a listener writes to: collects status, headers and body, and settles once the reply ends. */
class ResponseSink extends Writable {
  statusCode = 200;
  statusMessage = '';
  headersSent = false;
  sendDate = false;
  private readonly headerMap = new Map<string, OutgoingHttpHeader>();
  private readonly chunks: Buffer[] = [];

  constructor(settle: (result: SdkResponse | Error) => void) {
    super();
    this.once('finish', () => settle(this.reply()));
    this.once('close', () => {
      if (!this.writableFinished) settle(new Error('socket hang up (the in-process listener destroyed the reply)'));
    });
  }

  setHeader(name: string, value: OutgoingHttpHeader): this {
    this.headerMap.set(name.toLowerCase(), value);
    return this;
  }
  getHeader(name: string) {
    return this.headerMap.get(name.toLowerCase());
  }
  getHeaders(): OutgoingHttpHeaders {
    return Object.fromEntries(this.headerMap);
  }
  hasHeader(name: string): boolean {
    return this.headerMap.has(name.toLowerCase());
  }
  removeHeader(name: string): void {
    this.headerMap.delete(name.toLowerCase());
  }
  writeHead(status: number, reasonOrHeaders?: string | OutgoingHttpHeaders, maybeHeaders?: OutgoingHttpHeaders): this {
    this.statusCode = status;
    const headers = typeof reasonOrHeaders === 'object' ? reasonOrHeaders : maybeHeaders;
    if (typeof reasonOrHeaders === 'string') this.statusMessage = reasonOrHeaders;
    for (const [name, value] of Object.entries(headers ?? {})) if (value !== undefined) this.setHeader(name, value);
    this.headersSent = true;
    return this;
  }
  writeContinue(): void {}
  flushHeaders(): void {
    this.headersSent = true;
  }

  override _write(chunk: Buffer | string, encoding: BufferEncoding, done: (error?: Error | null) => void): void {
    this.headersSent = true;
    this.chunks.push(typeof chunk === 'string' ? Buffer.from(chunk, encoding) : chunk);
    done();
  }

  private reply(): SdkResponse {
    const headers: Record<string, string> = {};
    for (const [name, value] of this.headerMap) headers[name] = Array.isArray(value) ? value.join(', ') : String(value);
    return { statusCode: this.statusCode, reason: this.statusMessage, headers, body: Readable.from(this.chunks.length > 0 ? [Buffer.concat(this.chunks)] : []) };
  }
}

/** A @smithy HttpHandler (handle / destroy / config) over a request listener. */
export class InProcessRequestHandler {
  readonly metadata = { handlerProtocol: 'http/1.1' };

  constructor(private readonly listener: RequestListener) {}

  handle(request: SdkRequest, options: { abortSignal?: AbortSignal } = {}): Promise<{ response: SdkResponse }> {
    return new Promise((resolve, reject) => {
      if (options.abortSignal?.aborted) {
        reject(Object.assign(new Error('Request aborted'), { name: 'AbortError' }));
        return;
      }
      const req = incomingMessage(request);
      const res = new ResponseSink((result) => (result instanceof Error ? reject(result) : resolve({ response: result })));
      try {
        this.listener(req, res as unknown as ServerResponse);
      } catch (error) {
        reject(error);
      }
    });
  }

  updateHttpClientConfig(): void {}
  httpHandlerConfigs(): Record<string, never> {
    return {};
  }
  destroy(): void {}
}
