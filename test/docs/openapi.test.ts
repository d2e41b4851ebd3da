import SwaggerParser from '@apidevtools/swagger-parser';
import { describe, expect, it } from 'vitest';
import { testApp } from '../testkit/test-topology.js';

/**
 * The OpenAPI document is what client generators read: a strict validator must accept all of it.
 * It is OpenAPI 3.1, whose schemas are JSON Schema 2020-12, the dialect the route schemas use.
 */
describe('GET /docs/json', () => {
  it('is a valid OpenAPI 3.1 document (swagger-parser, strict)', async () => {
    const { app } = await testApp();
    const res = await app.inject('/docs/json');
    expect(res.statusCode).toBe(200);
    const document = res.json<{ openapi: string }>();
    expect(document.openapi).toBe('3.1.0');
    // validate() dereferences in place: hand it a copy, and fail with the validator's own message.
    await expect(SwaggerParser.validate(structuredClone(document) as never)).resolves.toBeDefined();
  });
});
