import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type {
  APIGatewayProxyResultV2,
  APIGatewayRequestAuthorizerEventV2,
  APIGatewaySimpleAuthorizerWithContextResult,
} from 'aws-lambda';
import type { JSONWebKeySet, JWTVerifyGetKey } from 'jose';
import type { AuthContext } from '#shared/auth/authenticate.ts';
import { API_ROUTES, CORS_POLICY, PUBLIC_ROUTES } from '#functions/api/routes.ts';
import { bearerToken, type JwtSettings, verifyJwt } from '#shared/auth/jwt.ts';
import type { ApiEvent } from '#functions/api/http.ts';
import { readBodyWithin } from '../lib/http.ts';
import { closeGracefully } from './edge.ts';

/**
 * API Gateway HTTP API, locally: turns each request into a payload-format-2.0 event, runs the
 * Lambda authorizer first (except on public routes), calls the API handler and writes its reply.
 * It answers what API Gateway answers itself: CORS preflights and CORS headers, oversized bodies.
 * With `jwt`, a request carrying `Authorization: Bearer` and no x-api-key is checked as HTTP API's
 * JWT authorizer checks it (401 `{"message":"Unauthorized"}` otherwise; the claims reach the API
 * as `authorizer.jwt`), and the issuer's key set is served at GET /.well-known/jwks.json.
 */

/** Where the local issuer's public keys are served (Cognito's path under its issuer). */
export const JWKS_PATH = '/.well-known/jwks.json';

/** HTTP API's request payload limit. */
export const HTTP_API_MAX_BODY_BYTES = 10 * 1024 * 1024;

export interface HttpGatewayOptions {
  host: string;
  port: number;
  api: (event: ApiEvent) => Promise<APIGatewayProxyResultV2>;
  authorizer: (event: APIGatewayRequestAuthorizerEventV2) => Promise<APIGatewaySimpleAuthorizerWithContextResult<AuthContext>>;
  /** CORS allowed origins; `*` allows any. */
  allowedOrigins: string[];
  /** The local token issuer, verified as API Gateway's JWT authorizer would. */
  jwt?: { settings: JwtSettings; jwks: JSONWebKeySet; keys: JWTVerifyGetKey };
}

export interface HttpGateway {
  url: string;
  /** Stop accepting; answer requests arriving on open connections with 503; wait for those in flight. */
  close(): Promise<void>;
}

/** `METHOD /path` matchers for the stack's routes (`{name}` is one path segment), as API Gateway matches them. */
const ROUTE_MATCHERS = API_ROUTES.map((route) => ({
  method: route.method as string,
  path: new RegExp(`^${route.path.replace(/\{[^}]+\}/g, '[^/]+')}$`),
}));

/** Whether API Gateway has a route for this request (the stack defines no $default route). */
export function hasRoute(method: string, path: string): boolean {
  return ROUTE_MATCHERS.some((route) => route.method === method && route.path.test(path));
}


function headersOf(req: IncomingMessage): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(req.headers)) {
    if (value !== undefined) headers[name] = Array.isArray(value) ? value.join(',') : value;
  }
  return headers;
}

function corsHeaders(origin: string | undefined, allowedOrigins: string[]): Record<string, string> {
  if (!origin) return {};
  const allowed = allowedOrigins.includes('*') ? '*' : allowedOrigins.includes(origin) ? origin : undefined;
  if (!allowed) return {};
  return {
    'access-control-allow-origin': allowed,
    'access-control-expose-headers': CORS_POLICY.exposeHeaders.join(','),
    ...(allowed === '*' ? {} : { vary: 'origin' }),
  };
}

export async function startHttpGateway(options: HttpGatewayOptions): Promise<HttpGateway> {
  let draining = false;
  const send = (res: ServerResponse, status: number, headers: Record<string, string>, body: string | Buffer) => {
    res.writeHead(status, { ...headers, 'content-length': String(Buffer.byteLength(body)) });
    res.end(body);
  };

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    // The request target is a path: prefixed, so `//x` stays a path and is not read as a host.
    const url = new URL(`http://localhost${(req.url ?? '/').startsWith('/') ? '' : '/'}${req.url ?? ''}`);
    const method = (req.method ?? 'GET').toUpperCase();
    const headers = headersOf(req);
    const cors = corsHeaders(headers.origin, options.allowedOrigins);

    if (method === 'OPTIONS' && headers['access-control-request-method']) {
      // Preflight: answered by API Gateway without invoking anything.
      send(res, 204, {
        ...cors,
        'access-control-allow-methods': CORS_POLICY.allowMethods.join(','),
        'access-control-allow-headers': CORS_POLICY.allowHeaders.join(','),
        'access-control-max-age': String(CORS_POLICY.maxAgeSeconds),
      }, '');
      return;
    }

    if (draining) {
      req.resume();
      send(res, 503, { 'content-type': 'application/json', connection: 'close', ...cors }, JSON.stringify({ message: 'Service Unavailable' }));
      return;
    }
    // The local issuer's keys (not a route of the API: on AWS the issuer, e.g. Cognito, serves them).
    if (options.jwt && method === 'GET' && url.pathname === JWKS_PATH) {
      send(res, 200, { 'content-type': 'application/json', ...cors }, JSON.stringify(options.jwt.jwks));
      return;
    }
    if (!hasRoute(method, url.pathname)) {
      // No route and no $default: API Gateway answers itself.
      req.resume();
      send(res, 404, { 'content-type': 'application/json', ...cors }, JSON.stringify({ message: 'Not Found' }));
      return;
    }

    const body = await readBodyWithin(req, HTTP_API_MAX_BODY_BYTES);
    if (body === 'too_large') {
      send(res, 413, { 'content-type': 'application/json', ...cors }, JSON.stringify({ message: 'Request Entity Too Large' }));
      return;
    }
    const now = Date.now();
    const requestContext = {
      accountId: '000000000000',
      apiId: 'local',
      domainName: headers.host ?? 'localhost',
      domainPrefix: 'local',
      http: { method, path: url.pathname, protocol: `HTTP/${req.httpVersion}`, sourceIp: req.socket.remoteAddress ?? '127.0.0.1', userAgent: headers['user-agent'] ?? '' },
      requestId: randomUUID(),
      routeKey: '$default',
      stage: '$default',
      time: new Date(now).toISOString(),
      timeEpoch: now,
    };
    const textual = /json|text|xml|x-www-form-urlencoded/i.test(headers['content-type'] ?? 'application/json');
    const event: ApiEvent = {
      version: '2.0',
      routeKey: '$default',
      rawPath: url.pathname,
      rawQueryString: url.search.slice(1),
      headers,
      ...(url.search ? { queryStringParameters: Object.fromEntries(url.searchParams) } : {}),
      requestContext: requestContext as ApiEvent['requestContext'],
      ...(body.length > 0 ? { body: textual ? body.toString('utf8') : body.toString('base64') } : {}),
      isBase64Encoded: body.length > 0 && !textual,
    };

    const token = bearerToken(headers.authorization);
    if (!PUBLIC_ROUTES.includes(`${method} ${url.pathname}`) && options.jwt && token && !headers['x-api-key']) {
      const check = await verifyJwt(token, options.jwt.keys, options.jwt.settings);
      if ('problem' in check) {
        send(res, 401, { 'content-type': 'application/json', 'www-authenticate': 'Bearer', ...cors }, JSON.stringify({ message: 'Unauthorized' }));
        return;
      }
      const claims = { sub: check.identity.sub, scope: check.identity.scopes.join(' ') };
      (event.requestContext as { authorizer?: unknown }).authorizer = { jwt: { claims, scopes: check.identity.scopes } };
    } else if (!PUBLIC_ROUTES.includes(`${method} ${url.pathname}`)) {
      const authorization = await options.authorizer({
        version: '2.0',
        type: 'REQUEST',
        routeArn: `arn:aws:execute-api:local:000000000000:local/$default/${method}${url.pathname}`,
        identitySource: [],
        routeKey: '$default',
        rawPath: url.pathname,
        rawQueryString: event.rawQueryString,
        cookies: [],
        headers,
        queryStringParameters: event.queryStringParameters ?? {},
        requestContext: requestContext as APIGatewayRequestAuthorizerEventV2['requestContext'],
        pathParameters: {},
        stageVariables: {},
      });
      if (!authorization.isAuthorized) {
        send(res, 403, { 'content-type': 'application/json', ...cors }, JSON.stringify({ message: 'Forbidden' }));
        return;
      }
      event.requestContext.authorizer = { lambda: authorization.context };
    }

    const result = await options.api(event);
    if (typeof result === 'string' || result === undefined || !('statusCode' in result)) {
      // Payload format 2.0: a bare value is a 200 JSON reply.
      send(res, 200, { 'content-type': 'application/json', ...cors }, typeof result === 'string' ? result : JSON.stringify(result));
      return;
    }
    const replyHeaders: Record<string, string> = {};
    for (const [name, value] of Object.entries(result.headers ?? {})) replyHeaders[name.toLowerCase()] = String(value);
    const replyBody = result.isBase64Encoded ? Buffer.from(result.body ?? '', 'base64') : (result.body ?? '');
    send(res, result.statusCode ?? 200, { ...replyHeaders, ...cors }, replyBody);
  }

  const server: Server = createServer((req, res) => {
    handle(req, res).catch((error: unknown) => {
      // API Gateway's answer when the integration fails.
      console.error('local gateway: integration error', error);
      if (!res.headersSent) send(res, 500, { 'content-type': 'application/json' }, JSON.stringify({ message: 'Internal Server Error' }));
      else res.destroy();
    });
  });
  server.keepAliveTimeout = 30_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://${options.host}:${port}`,
    close: () => closeGracefully(server, () => (draining = true)),
  };
}
