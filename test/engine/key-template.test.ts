import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { KeyTemplate, KeyTemplateError } from '../../packages/freshcache/src/engine/key-template.js';

function parseError(source: string): KeyTemplateError {
  try {
    KeyTemplate.parse(source);
  } catch (err) {
    if (err instanceof KeyTemplateError) return err;
    throw err;
  }
  throw new Error(`${source} parsed`);
}

describe('KeyTemplate', () => {
  it('parses placeholders and the literal prefix', () => {
    const t = KeyTemplate.parse('tenant:{tenant}:user:{id}');
    expect(t.placeholders).toEqual(['tenant', 'id']);
    expect(t.literalPrefix).toBe('tenant:');
    expect(KeyTemplate.parse('user:{id}').literalPrefix).toBe('user:');
    expect(KeyTemplate.parse('{id}:x').literalPrefix).toBe('');
    expect(KeyTemplate.parse('users').placeholders).toEqual([]);
  });

  it('renders numbers and bigints as digits, strings as they are', () => {
    expect(KeyTemplate.parse('org:{org_id}:members').render({ org_id: 3 })).toBe('org:3:members');
    expect(KeyTemplate.parse('user:{id}').render({ id: 12345678901234567890n })).toBe('user:12345678901234567890');
    expect(KeyTemplate.parse('tenant:{tenant}:user:{id}').render({ tenant: 'acme', id: 'u-7', extra: 1 })).toBe('tenant:acme:user:u-7');
    expect(KeyTemplate.parse('flag:{on}').render({ on: false })).toBe('flag:false');
  });

  it('a missing, null, object or empty value is an error naming the placeholder', () => {
    const t = KeyTemplate.parse('org:{org_id}:user:{id}');
    for (const values of [{ id: 1 }, { id: 1, org_id: null }, { id: 1, org_id: { a: 1 } }, { id: 1, org_id: new Date(0) }, { id: 1, org_id: '' }]) {
      const err = (() => {
        try {
          t.render(values);
        } catch (e) {
          return e;
        }
      })();
      expect(err).toBeInstanceOf(KeyTemplateError);
      expect((err as KeyTemplateError).code).toBe('invalid_value');
      expect((err as KeyTemplateError).placeholder).toBe('org_id');
      expect((err as Error).message).toContain('{org_id}');
    }
  });

  it('{{ and }} are literal braces; any other brace is refused at parse', () => {
    const t = KeyTemplate.parse('a{{x}}:{id}');
    expect(t.placeholders).toEqual(['id']);
    expect(t.literalPrefix).toBe('a{x}:');
    expect(t.render({ id: 1 })).toBe('a{x}:1');
    expect(t.match('a{x}:1')).toEqual({ id: '1' });
    for (const bad of ['user:{', 'user:}', 'user:{1d}', 'user:{ id }', 'user:{}', 'a}b{id}']) {
      expect(parseError(bad).code).toBe('invalid_template');
    }
    expect(parseError('user:{ id }').message).toContain('offset 5');
  });

  it('refuses ambiguous templates, repeated names and the empty template at parse', () => {
    expect(parseError('{a}{b}').message).toMatch(/\{a\} and \{b\} have no literal text between them/);
    expect(parseError('x:{id}:{id}').message).toContain('{id} appears twice');
    expect(parseError('').code).toBe('invalid_template');
  });

  it('match reads values back, or gives undefined when the key does not fit', () => {
    const t = KeyTemplate.parse('tenant:{tenant}:user:{id}');
    expect(t.match('tenant:acme:user:7')).toEqual({ tenant: 'acme', id: '7' });
    expect(t.match('tenant:acme:user:')).toBeUndefined();
    expect(t.match('tenant::user:7')).toBeUndefined();
    expect(t.match('tenant:acme:7')).toBeUndefined();
    expect(t.match('org:acme:user:7')).toBeUndefined();
    const members = KeyTemplate.parse('org:{org_id}:members');
    expect(members.match('org:3:members')).toEqual({ org_id: '3' });
    expect(members.match('org:3:members:x')).toBeUndefined();
    expect(members.match('org:3')).toBeUndefined();
    // A value runs up to the first occurrence of the literal after it.
    expect(members.match('org:3:members:members')).toBeUndefined();
    // Not containing the literal is not enough when the literal repeats itself (documented).
    const tu = KeyTemplate.parse('t:{a}:user:{b}');
    expect(tu.match(tu.render({ a: 'x:user', b: 1 }))).toEqual({ a: 'x', b: 'user:1' });
    expect(KeyTemplate.parse('users').match('users')).toEqual({});
    expect(KeyTemplate.parse('users').match('users2')).toBeUndefined();
  });

  it('property: match(render(v)) gives v back for values without the following literal', () => {
    const name = fc.stringMatching(/^[A-Za-z_][A-Za-z0-9_]{0,5}$/);
    // A literal may hold anything; braces are written doubled in the source.
    const literal = fc.string({ maxLength: 4, unit: fc.constantFrom('a', ':', '/', '{', '}', '-', 'é') });
    const escape = (s: string) => s.replace(/[{}]/g, (b) => b + b);
    const template = fc
      .tuple(literal, fc.uniqueArray(name, { minLength: 0, maxLength: 4 }), fc.array(literal.filter((s) => s !== ''), { minLength: 4, maxLength: 4 }), literal)
      .map(([first, names, middles, last]) => ({
        names,
        source: escape(first) + names.map((n, i) => `{${n}}` + escape(i === names.length - 1 ? last : (middles[i] as string))).join(''),
      }))
      .filter(({ source }) => source !== '');
    const value = fc.oneof(fc.string({ minLength: 1, maxLength: 6, unit: fc.constantFrom('a', ':', '/', '{', '-', '7') }), fc.integer({ min: 0 }), fc.bigInt({ min: 0n, max: 2n ** 70n }));

    fc.assert(
      fc.property(template, fc.array(value, { minLength: 4, maxLength: 4 }), ({ names, source }, raw) => {
        const t = KeyTemplate.parse(source);
        expect(t.placeholders).toEqual(names);
        const values = Object.fromEntries(names.map((n, i) => [n, raw[i]]));
        const key = t.render(values);
        expect(key.startsWith(t.literalPrefix)).toBe(true);
        // The documented condition: the literal after each value first occurs right after it.
        const following = (i: number) => (t as unknown as { literals: string[] }).literals[i + 1] as string;
        fc.pre(names.every((n, i) => following(i) === '' || (String(values[n]) + following(i)).indexOf(following(i), 1) === String(values[n]).length));
        expect(t.match(key)).toEqual(Object.fromEntries(names.map((n) => [n, String(values[n])])));
      }),
      { numRuns: 500 },
    );
  });
});
