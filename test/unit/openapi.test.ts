import { Validator } from '@seriousme/openapi-schema-validator';
import { describe, expect, it } from 'vitest';
import { buildOpenApiDocument } from '#functions/api/openapi.ts';
import { API_ROUTES } from '#functions/api/routes.ts';
import { API_ERROR_STATUS } from '#shared/errors.ts';
import { declaredResponse, type OpenApiDoc, schemaChecker } from '../helpers/openapi.ts';

/** The OpenAPI description (GET /v1/openapi.json): complete, valid OpenAPI 3.1, and its examples true to its schemas. */

const document = buildOpenApiDocument();
const doc = document as unknown as OpenApiDoc & { components: { parameters: Record<string, Record<string, unknown>> } };
const METHODS = ['get', 'put', 'post', 'delete', 'patch', 'head', 'options', 'trace'];

type Operation = {
  parameters?: ({ $ref: string } | { name: string; in: string })[];
  security?: unknown[];
  requestBody?: { content: Record<string, { schema: unknown; examples?: Record<string, { value: unknown }> }> };
  responses: Record<string, Record<string, unknown>>;
};
const operations = Object.entries(doc.paths).flatMap(([path, item]) =>
  Object.entries(item)
    .filter(([method]) => METHODS.includes(method))
    .map(([method, op]) => ({ path, method, op: op as unknown as Operation })),
);
const parameterOf = (p: { $ref: string } | { name: string; in: string }) =>
  '$ref' in p ? (doc.components.parameters[p.$ref.replace('#/components/parameters/', '')] as { name: string; in: string }) : p;

/** Every `$ref` in a JSON value. */
const refsIn = (value: unknown): string[] =>
  Array.isArray(value)
    ? value.flatMap(refsIn)
    : value && typeof value === 'object'
      ? Object.entries(value).flatMap(([k, v]) => (k === '$ref' && typeof v === 'string' ? [v] : refsIn(v)))
      : [];

describe('the OpenAPI description', () => {
  it('describes exactly the routes of API_ROUTES: none missing, none extra', () => {
    const documented = operations.map(({ path, method }) => `${method.toUpperCase()} ${path}`).sort();
    expect(documented).toEqual(API_ROUTES.map((r) => `${r.method} ${r.path}`).sort());
  });

  it('validates as OpenAPI 3.1', async () => {
    const validator = new Validator();
    const result = await validator.validate(structuredClone(document));
    expect(result.errors ?? []).toEqual([]);
    expect(result.valid).toBe(true);
    expect(validator.version).toBe('3.1');
  });

  it('resolves every $ref inside the document', () => {
    const refs = [...new Set(refsIn(document))];
    expect(refs.length).toBeGreaterThan(10);
    for (const ref of refs) {
      expect(ref, ref).toMatch(/^#\//);
      const target = ref
        .slice(2)
        .split('/')
        .reduce<unknown>((node, key) => (node as Record<string, unknown> | undefined)?.[key], document);
      expect(target, ref).toBeDefined();
    }
  });

  it('compiles every component schema as JSON Schema 2020-12 in ajv strict mode', () => {
    const checker = schemaChecker(document);
    for (const name of Object.keys(doc.components.schemas)) expect(() => checker.errorsAt(`/components/schemas/${name}`, null), name).not.toThrow();
  });

  it('names each path parameter of a path template, and only those, as a required path parameter', () => {
    for (const { path, method, op } of operations) {
      const inPath = [...path.matchAll(/\{(\w+)\}/g)].map((m) => m[1]);
      const declared = (op.parameters ?? []).map(parameterOf).filter((p) => p.in === 'path');
      expect(declared.map((p) => p.name), `${method} ${path}`).toEqual(inPath);
    }
  });

  it('asks an x-api-key of exactly the authenticated routes, and answers them 401 in the error shape', () => {
    for (const route of API_ROUTES) {
      const op = doc.paths[route.path]![route.method.toLowerCase()] as unknown as Operation;
      expect(op.security, route.path).toEqual(route.authenticated ? undefined : []);
      expect(declaredResponse(doc, route.path, route.method, 401) !== undefined, `${route.method} ${route.path}`).toBe(route.authenticated);
    }
    expect(doc).toMatchObject({ security: [{ apiKey: [] }], components: { securitySchemes: { apiKey: { type: 'apiKey', in: 'header', name: 'x-api-key' } } } });
  });

  it('lists the batch page query (limit, cursor) and the long-poll and idempotency headers', () => {
    const names = (path: string, method: string) =>
      ((doc.paths[path]![method] as unknown as Operation).parameters ?? []).map(parameterOf).map((p) => `${p.in}:${p.name}`);
    expect(names('/v1/batches/{batchId}', 'get')).toEqual(['path:batchId', 'query:limit', 'query:cursor', 'header:Prefer']);
    expect(names('/v1/jobs/{jobId}', 'get')).toEqual(['path:jobId', 'header:Prefer']);
    expect(names('/v1/jobs', 'post')).toEqual(['header:Idempotency-Key']);
    expect(names('/v1/batches', 'post')).toEqual(['header:Idempotency-Key']);
  });

  it('gives each error status the error shape with exactly the codes answered with that status', () => {
    const checker = schemaChecker(document);
    for (const [code, status] of Object.entries(API_ERROR_STATUS)) {
      const pointer = `/components/schemas/Error${status}`;
      expect(checker.errorsAt(pointer, { error: { code, message: 'm' } }), code).toEqual([]);
      expect(checker.errorsAt(pointer, { error: { code, message: 'm', details: [{ path: 'x' }] } }), code).toEqual([]);
      const otherStatus = Object.entries(API_ERROR_STATUS).find(([, s]) => s !== status)!;
      expect(checker.errorsAt(pointer, { error: { code: otherStatus[0], message: 'm' } }), `${code} vs ${otherStatus[0]}`).not.toEqual([]);
    }
  });

  it('has examples that validate against their schemas: request bodies, replies and errors', () => {
    const checker = schemaChecker(document);
    const mediaTypes = [
      ...operations.flatMap(({ op }) => [
        ...Object.values(op.requestBody?.content ?? {}),
        ...Object.values(op.responses).flatMap((r) => Object.values((r.content ?? {}) as Record<string, { schema: unknown; examples?: Record<string, { value: unknown }> }>)),
      ]),
      ...Object.values(doc.components.responses).flatMap((r) => Object.values(r.content as Record<string, { schema: unknown; examples?: Record<string, { value: unknown }> }>)),
    ];
    let checked = 0;
    for (const { schema, examples } of mediaTypes) {
      const ref = (schema as { $ref?: string }).$ref;
      if (!ref) continue; // the page and this document: not JSON bodies of the API
      expect(Object.keys(examples ?? {}).length, `${ref} has examples`).toBeGreaterThan(0);
      for (const [name, { value }] of Object.entries(examples ?? {})) {
        expect(checker.errorsAt(ref.slice(1), value), `${ref} example ${name}`).toEqual([]);
        checked += 1;
      }
    }
    expect(checked).toBeGreaterThanOrEqual(20);
  });

  it('refuses what the API refuses: a request body with an unknown field, a job without contentLength', () => {
    const checker = schemaChecker(document);
    expect(checker.errorsAt('/components/schemas/CreateJobBody', { contentType: 'image/png', contentLength: 1 })).toEqual([]);
    expect(checker.errorsAt('/components/schemas/CreateJobBody', { contentType: 'image/png', contentLength: 1, colour: 'red' })).not.toEqual([]);
    expect(checker.errorsAt('/components/schemas/CreateJobBody', { contentType: 'image/png' })).not.toEqual([]);
    expect(checker.errorsAt('/components/schemas/CreateBatchBody', { items: [] })).not.toEqual([]);
  });
});
