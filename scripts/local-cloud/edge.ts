import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { RequestListener } from './in-process-handler.ts';

/**
 * One port for every emulated AWS service (LocalStack's convention, 4566), so
 * `AWS_ENDPOINT_URL=http://127.0.0.1:4566` alone points the AWS CLI and the SDKs at the local
 * cloud. A request is routed by what names its service: the SigV4 credential scope (Authorization
 * header, or X-Amz-Credential for presigned URLs), else X-Amz-Target (the JSON protocols), else it
 * is S3 (path-style, as unsigned browser preflights to presigned URLs are).
 */

export const EDGE_DEFAULT_PORT = 4566;
/** How long a stop waits for in-flight requests before cutting their connections. */
export const EDGE_DRAIN_TIMEOUT_MS = 10_000;

const DRAIN_SWEEP_MS = 25;

export type EdgeService = 's3' | 'dynamodb' | 'sqs';

export interface EdgeServices {
  s3: { listener: RequestListener; checkContinueListener: RequestListener };
  dynamodb: RequestListener;
  sqs: RequestListener;
}

const SCOPE_SERVICES: Record<string, EdgeService> = { s3: 's3', dynamodb: 'dynamodb', sqs: 'sqs' };
const CREDENTIAL_IN_HEADER = /Credential=[^/,\s]+\/\d{8}\/[^/]+\/([^/]+)\/aws4_request/;
const CREDENTIAL_IN_QUERY = /[?&]X-Amz-Credential=[^/&]+(?:\/|%2F)\d{8}(?:\/|%2F)[^/&%]+(?:\/|%2F)([^/&%]+)(?:\/|%2F)aws4_request/i;

/** The service a request is for; a credential scope naming a service not served here is 'unknown'. */
export function serviceOf(req: Pick<IncomingMessage, 'headers' | 'url'>): EdgeService | { unknown: string } {
  const authorization = req.headers.authorization;
  const scope = (typeof authorization === 'string' && CREDENTIAL_IN_HEADER.exec(authorization)?.[1]) || CREDENTIAL_IN_QUERY.exec(req.url ?? '')?.[1];
  if (scope) return SCOPE_SERVICES[scope] ?? { unknown: scope };
  const target = req.headers['x-amz-target'];
  if (typeof target === 'string') {
    if (target.startsWith('DynamoDB_')) return 'dynamodb';
    if (target.startsWith('AmazonSQS.')) return 'sqs';
    return { unknown: target };
  }
  return 's3';
}

function refuse(res: ServerResponse, service: EdgeService | { unknown: string }, status: number, code: string, message: string): void {
  const xml = service === 's3';
  const body = xml
    ? `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${code}</Code><Message>${message}</Message></Error>`
    : JSON.stringify({ __type: code, message });
  res.writeHead(status, {
    'content-type': xml ? 'application/xml' : 'application/x-amz-json-1.0',
    'content-length': Buffer.byteLength(body),
    connection: 'close',
  });
  res.end(body);
}

export interface Edge {
  url: string;
  /** Stop accepting; answer requests arriving on open connections with 503; wait for those in flight. */
  close(): Promise<void>;
}

export async function startEdge(services: EdgeServices, port: number, host: string): Promise<Edge> {
  let draining = false;
  const dispatch = (req: IncomingMessage, res: ServerResponse, expectsContinue: boolean) => {
    const service = serviceOf(req);
    if (draining) {
      req.resume();
      refuse(res, service, 503, 'ServiceUnavailable', 'The local cloud is stopping.');
      return;
    }
    if (typeof service === 'object') {
      req.resume();
      refuse(res, 's3', 400, 'UnsupportedService', `The local cloud does not emulate ${service.unknown}.`);
      return;
    }
    if (service === 's3') {
      (expectsContinue ? services.s3.checkContinueListener : services.s3.listener)(req, res);
      return;
    }
    if (expectsContinue) res.writeContinue();
    services[service](req, res);
  };
  const server: Server = createServer((req, res) => dispatch(req, res, false));
  server.on('checkContinue', (req, res) => dispatch(req, res, true));
  server.keepAliveTimeout = 30_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { port: bound } = server.address() as AddressInfo;
  return {
    url: `http://${host.includes(':') ? `[${host}]` : host}:${bound}`,
    close: () => closeGracefully(server, () => (draining = true)),
  };
}

/** server.close, idle connections closed now, busy ones after their reply or the drain timeout. */
export function closeGracefully(server: Server, beginDrain: () => void): Promise<void> {
  beginDrain();
  return new Promise((resolve) => {
    const deadline = setTimeout(() => server.closeAllConnections(), EDGE_DRAIN_TIMEOUT_MS);
    // A kept-alive connection becomes idle once its last reply is out; close it then.
    const sweep = setInterval(() => server.closeIdleConnections(), DRAIN_SWEEP_MS);
    server.close(() => {
      clearTimeout(deadline);
      clearInterval(sweep);
      resolve();
    });
    server.closeIdleConnections();
  });
}
