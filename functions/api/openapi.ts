import { z } from 'zod';
import { API_ERROR_STATUS, type ApiErrorCode } from '#shared/errors.ts';
import { apiErrorBody, errorCodesOf } from '#shared/jobs/responses.ts';
import {
  API_INFO,
  ERROR_EXAMPLES,
  type JsonSchemaName,
  PATH_PARAMETERS,
  REQUEST_HEADERS,
  REQUEST_SCHEMAS,
  RESPONSE_HEADERS,
  REPLY_SCHEMAS,
  ROUTE_DOCS,
  type RouteDoc,
  TAGS,
} from './route-docs.ts';
import { API_ROUTES, routeKey } from './routes.ts';

/**
 * GET /v1/openapi.json: the OpenAPI 3.1 description of this API, built from the route list
 * (routes.ts), the per-route docs (route-docs.ts) and the zod schemas the handlers validate
 * requests with and type their replies by (shared/jobs/requests.ts, responses.ts). OpenAPI 3.1
 * schemas are JSON Schema draft 2020-12, zod's default target.
 */

type JsonSchema = Record<string, unknown>;
type JsonObject = Record<string, unknown>;

const SCHEMA_REF = '#/components/schemas/';
const ref = (section: string, name: string) => ({ $ref: `#/components/${section}/${name}` });
const errorSchemaName = (status: number) => `Error${status}`;
const statusesOf = (codes: readonly ApiErrorCode[]) => [...new Set(codes.map((code) => API_ERROR_STATUS[code]))].sort((a, b) => a - b);

/**
 * Schemas as named components, cross-referenced by `$ref`. Requests are converted as zod reads
 * them (`io: 'input'`: what a client may send, before any transform). Replies are too, on purpose:
 * `output` would close every object (`additionalProperties: false`), and a client generated from
 * that would break on any field added later; clients are to ignore fields they do not know.
 */
function componentSchemas(schemas: Record<string, z.ZodType>): Record<string, JsonSchema> {
  const registry = z.registry<{ id: string }>();
  for (const [id, schema] of Object.entries(schemas)) registry.add(schema, { id });
  const { schemas: converted } = z.toJSONSchema(registry, { io: 'input', unrepresentable: 'any', uri: (id) => `${SCHEMA_REF}${id}` });
  // Inside an OpenAPI document a component needs neither a dialect nor an id (a fragment `$id` is not even valid).
  return Object.fromEntries(
    Object.entries(converted).map(([id, { $schema: _dialect, $id: _id, ...schema }]) => {
      if (id === '__shared') throw new Error('a schema is used in two places without a component name: add it to REPLY_SCHEMAS');
      return [id, schema];
    }),
  );
}

/** One parameter per property of a zod object (a route's query): a new query parameter is one property there. */
function queryParameters(query: z.ZodObject): JsonObject[] {
  const { properties = {}, required = [] } = z.toJSONSchema(query, { io: 'input' }) as { properties?: Record<string, JsonSchema>; required?: string[] };
  return Object.entries(properties).map(([name, { description, ...schema }]) => ({
    name,
    in: 'query',
    required: required.includes(name),
    ...(description ? { description } : {}),
    schema,
  }));
}

const pathParameterNames = (path: string) => [...path.matchAll(/\{(\w+)\}/g)].map((m) => m[1] as keyof typeof PATH_PARAMETERS);

function jsonContent(name: JsonSchemaName | `Error${number}`, examples: Record<string, { summary: string; value: unknown }>) {
  return { 'application/json': { schema: { $ref: `${SCHEMA_REF}${name}` }, examples } };
}

function operation(doc: RouteDoc, path: string, authenticated: boolean): JsonObject {
  const parameters = [
    ...pathParameterNames(path).map((name) => ref('parameters', name)),
    ...(doc.query ? queryParameters(doc.query) : []),
    ...(doc.requestHeaders ?? []).map((name) => ref('parameters', name)),
  ];
  const responses: JsonObject = {};
  for (const [status, reply] of Object.entries(doc.replies)) {
    responses[status] = {
      description: reply.description,
      ...(reply.headers ? { headers: Object.fromEntries(reply.headers.map((name) => [name, ref('headers', name)])) } : {}),
      content: 'raw' in reply ? { [reply.raw.mediaType]: { schema: reply.raw.schema } } : jsonContent(reply.schema, reply.examples),
    };
  }
  const codes: ApiErrorCode[] = [...(doc.errors ?? []), ...(authenticated ? (['unauthorized'] as const) : []), 'internal'];
  for (const status of statusesOf(codes)) responses[status] = ref('responses', errorSchemaName(status));
  return {
    operationId: doc.operationId,
    tags: [doc.tag],
    summary: doc.summary,
    description: doc.description,
    ...(authenticated ? {} : { security: [] }),
    ...(parameters.length ? { parameters } : {}),
    ...(doc.requestBody
      ? {
          requestBody: {
            required: true,
            description: doc.requestBody.description,
            content: jsonContent(doc.requestBody.schema, doc.requestBody.examples),
          },
        }
      : {}),
    responses,
  };
}

/** Per HTTP status, the error shape with the codes answered with it, and an example of each. */
function errorResponses(statuses: readonly number[]) {
  const responses: JsonObject = {};
  for (const status of statuses) {
    const codes = errorCodesOf(status);
    const examples = Object.fromEntries(
      codes.map((code) => [code, { summary: code, value: { error: { code, ...ERROR_EXAMPLES[code] } } }]),
    );
    responses[errorSchemaName(status)] = {
      description: `Refused: ${codes.map((code) => `\`${code}\``).join(', ')}.`,
      content: jsonContent(`Error${status}`, examples),
    };
  }
  return responses;
}

export function buildOpenApiDocument() {
  const paths: Record<string, JsonObject> = {};
  for (const route of API_ROUTES) {
    paths[route.path] ??= {};
    paths[route.path]![route.method.toLowerCase()] = operation(ROUTE_DOCS[routeKey(route)], route.path, route.authenticated);
  }
  const statuses = [...new Set(Object.values(API_ERROR_STATUS))].sort((a, b) => a - b);
  const errorSchemas = Object.fromEntries(statuses.map((status) => [errorSchemaName(status), apiErrorBody(errorCodesOf(status))]));
  return {
    openapi: '3.1.1',
    info: API_INFO,
    tags: TAGS,
    security: [{ apiKey: [] }],
    paths,
    components: {
      schemas: componentSchemas({ ...REQUEST_SCHEMAS, ...REPLY_SCHEMAS, ...errorSchemas }),
      parameters: {
        ...Object.fromEntries(Object.entries(PATH_PARAMETERS).map(([name, p]) => [name, { name, in: 'path', required: true, ...p }])),
        ...Object.fromEntries(Object.entries(REQUEST_HEADERS).map(([name, p]) => [name, { name, in: 'header', required: false, ...p }])),
      },
      headers: RESPONSE_HEADERS,
      responses: errorResponses(statuses),
      securitySchemes: {
        apiKey: { type: 'apiKey', in: 'header', name: 'x-api-key', description: 'An API key (`npm run keys` makes one). All routes but the public ones need it.' },
      },
    },
  };
}

export type OpenApiDocument = ReturnType<typeof buildOpenApiDocument>;

let document: OpenApiDocument | undefined;

/** The document, built once per process (it depends on nothing that changes at run time). */
export function openApiDocument(): OpenApiDocument {
  document ??= buildOpenApiDocument();
  return document;
}
