import { Ajv } from 'ajv';
import type { FastifySchemaCompiler } from 'fastify';

/**
 * Two validators, because the parts of a request differ. A query string or path carries only
 * text, so "limit=50" must become 50. A JSON body carries types, so `"ttl": "5"` or `"tags": "a"`
 * is a client bug that must be refused, not quietly converted. Unknown properties are refused
 * too (a typo should be an error), and defaults are filled in.
 */
const common = { removeAdditional: false, useDefaults: true, allErrors: false, strict: false } as const;
const bodyAjv = new Ajv({ ...common, coerceTypes: false });
const textAjv = new Ajv({ ...common, coerceTypes: 'array' });

export const validatorCompiler: FastifySchemaCompiler<object> = ({ schema, httpPart }) =>
  (httpPart === 'body' ? bodyAjv : textAjv).compile(schema);
