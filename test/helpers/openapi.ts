import { Ajv2020, type ErrorObject } from 'ajv/dist/2020.js';

/**
 * Checking JSON against the schemas of an OpenAPI 3.1 document with ajv (draft 2020-12), `$ref`s
 * resolved inside the document as a client would resolve them.
 */

type Json = Record<string, unknown>;

export interface OpenApiDoc {
  paths: Record<string, Record<string, { responses: Record<string, Json> }>>;
  components: { schemas: Record<string, Json>; responses: Record<string, Json> };
}

const DOCUMENT_ID = 'urn:test:openapi.json';

/** The two formats the API's schemas use, checked for real (ajv ships none). */
const FORMATS = {
  'date-time': (value: string) => /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$/.test(value) && !Number.isNaN(Date.parse(value)),
  uri: (value: string) => URL.canParse(value) && /^[a-z][a-z0-9+.-]*:/i.test(value),
};

export function schemaChecker(document: object) {
  const ajv = new Ajv2020({ strict: true, allErrors: true, formats: FORMATS });
  // The document's own fields are no JSON Schema keywords: declared as annotations, so strict mode
  // still refuses any unknown keyword inside the schemas, where it would be a mistake.
  for (const field of Object.keys(document)) ajv.addKeyword({ keyword: field });
  ajv.addSchema(document, DOCUMENT_ID);
  return {
    /** Errors of `value` against the schema at this JSON pointer of the document (`/components/schemas/JobView`). */
    errorsAt(pointer: string, value: unknown): ErrorObject[] {
      const validate = ajv.getSchema(`${DOCUMENT_ID}#${pointer}`);
      if (!validate) throw new Error(`no schema at ${pointer}`);
      return validate(value) ? [] : (validate.errors ?? []);
    },
  };
}

/** The response object a document declares for this operation and status, its `$ref` followed. */
export function declaredResponse(document: OpenApiDoc, path: string, method: string, status: number): Json | undefined {
  const response = document.paths[path]?.[method.toLowerCase()]?.responses[String(status)];
  const target = response?.$ref;
  return typeof target === 'string' ? document.components.responses[target.replace('#/components/responses/', '')] : response;
}

/**
 * The document with every object schema closed (`additionalProperties: false` unless it says
 * otherwise): replies are documented open, so clients tolerate new fields, but a test can ask that
 * every field the API sends today is documented.
 */
export function closedWorld<T>(document: T): T {
  const copy = structuredClone(document);
  const close = (node: unknown): void => {
    if (Array.isArray(node)) {
      node.forEach(close);
      return;
    }
    if (!node || typeof node !== 'object') return;
    const schema = node as Json;
    if (schema.type === 'object' && schema.properties && !('additionalProperties' in schema)) schema.additionalProperties = false;
    Object.values(schema).forEach(close);
  };
  close((copy as { components: unknown }).components);
  return copy;
}
