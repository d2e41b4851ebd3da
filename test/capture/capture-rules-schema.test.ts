import { Ajv } from 'ajv';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { CaptureError } from '../../packages/freshcache/src/capture/capture-error.js';
import { CAPTURE_RULES_SCHEMA } from '../../packages/freshcache/src/capture/capture-rules-schema.js';
import { compileRules, type CaptureRule } from '../../packages/freshcache/src/capture/capture-rules.js';

const validate = new Ajv({ allErrors: true }).compile(CAPTURE_RULES_SCHEMA);

describe('CAPTURE_RULES_SCHEMA', () => {
  it('accepts the config-file form of rules', () => {
    const rules = [
      { table: 'users', key: 'user:{id}', tags: ['org:{org_id}', 'users'] },
      { table: 'billing.invoices', prefixes: ['tenant:{tenant}:'] },
      { table: 'users', key: '{id}', onTruncate: { tags: ['users'] } },
    ];
    expect(validate(rules)).toBe(true);
    expect(() => compileRules(rules)).not.toThrow();
  });

  it('refuses a typo, a wrong type, a rule that names nothing and an empty onTruncate, at their path', () => {
    const cases: [unknown, string, string][] = [
      [[{ table: 'users', key: 'user:{id}', tag: ['users'] }], '/0', 'additionalProperties'],
      [[{ table: 'users', tags: 'users' }], '/0/tags', 'type'],
      [[{ table: 'users' }], '/0', 'anyOf'],
      [[{ table: 'users', key: 'user:{id}', onTruncate: {} }], '/0/onTruncate', 'anyOf'],
      [[{ table: 'a.b.c', key: 'x' }], '/0/table', 'pattern'],
      [[{ key: 'x' }], '/0', 'required'],
      [[{ table: 'users', key: '' }], '/0/key', 'minLength'],
    ];
    for (const [rules, path, keyword] of cases) {
      expect(validate(rules)).toBe(false);
      expect(validate.errors?.map((e) => [e.instancePath, e.keyword])).toContainEqual([path, keyword]);
    }
  });

  it('property: a rule the schema accepts either compiles or is refused as invalid_rule, never with another error', () => {
    const text = fc.string({ maxLength: 8, unit: fc.constantFrom('a', ':', '{', '}', 'i', 'd', '.', '_') });
    const rule = fc.record(
      { table: text, key: text, tags: fc.array(text, { maxLength: 3 }), prefixes: fc.array(text, { maxLength: 2 }), onTruncate: fc.record({ tags: fc.array(text, { maxLength: 2 }) }, { requiredKeys: [] }) },
      { requiredKeys: ['table'] },
    );
    fc.assert(
      fc.property(fc.array(rule, { maxLength: 3 }), (rules) => {
        fc.pre(validate(rules));
        try {
          compileRules(rules as CaptureRule[]);
        } catch (err) {
          expect(err).toBeInstanceOf(CaptureError);
          expect((err as CaptureError).code).toBe('invalid_rule');
        }
      }),
      { numRuns: 300 },
    );
  });
});
