/**
 * Key templates: `user:{id}`, `org:{org_id}:members`, `tenant:{tenant}:user:{id}`.
 *
 * Syntax:
 * - `{name}` is a placeholder; `name` is `[A-Za-z_][A-Za-z0-9_]*` (a column or parameter name).
 * - Everything else is literal text. A literal `{` or `}` is written `{{` or `}}`; any other brace
 *   (`{1}`, `{ id }`, an unclosed `{`, a lone `}`) is refused at parse.
 * - Refused at parse, because `match` could not split a key back into values: two placeholders
 *   with no literal text between them (`{a}{b}`), and a name used twice.
 * - An empty template is refused (a key is never empty).
 *
 * `render` turns each value into text with `String()`: strings as they are, numbers and bigints
 * as their digits (integers below 1e21; larger numbers in exponent form), booleans as
 * `true`/`false`. Any other value (null, undefined, objects, dates, arrays) and a value that
 * renders as empty text are refused with an error naming the placeholder: `[object Object]` or an
 * empty segment would silently make different rows share a key.
 *
 * `match` reads a key back: each placeholder takes the non-empty text up to the FIRST occurrence
 * of the literal that follows it (the last placeholder of a template that ends with it takes the
 * rest of the key), and the key must be used up exactly. So `match(render(v))` gives back `v` (as
 * text) exactly when, for each placeholder, the literal after it first occurs in
 * `value + literal` right after the value; in particular whenever no value contains that
 * literal's first character (ids without `:` in `org:{org}:user:{id}`). A value that merely does
 * not contain the literal is not enough when the literal repeats itself: with
 * `t:{a}:user:{b}`, a = `x:user` and b = 1 render `t:x:user:user:1`, which reads back as a = `x`.
 */
export type KeyTemplateErrorCode = 'invalid_template' | 'invalid_value';

export class KeyTemplateError extends Error {
  readonly code: KeyTemplateErrorCode;
  /** The placeholder a bad value was given for (`invalid_value`). */
  readonly placeholder: string | undefined;

  constructor(code: KeyTemplateErrorCode, message: string, placeholder?: string) {
    super(message);
    this.name = 'KeyTemplateError';
    this.code = code;
    this.placeholder = placeholder;
  }
}

const NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

export class KeyTemplate {
  /** The template as written. */
  readonly source: string;
  /** Placeholder names, in order of appearance. */
  readonly placeholders: readonly string[];
  /** The literal text before the first placeholder (escapes resolved): `user:` for `user:{id}`. */
  readonly literalPrefix: string;
  /** literals[i] comes before placeholders[i]; the last one follows the last placeholder. */
  private readonly literals: readonly string[];

  private constructor(source: string, literals: string[], placeholders: string[]) {
    this.source = source;
    this.literals = literals;
    this.placeholders = placeholders;
    this.literalPrefix = literals[0] ?? '';
  }

  static parse(source: string): KeyTemplate {
    const fail = (why: string): never => {
      throw new KeyTemplateError('invalid_template', `Key template ${JSON.stringify(source)}: ${why}`);
    };
    if (typeof source !== 'string' || source === '') fail('a template must be a non-empty string');
    const literals: string[] = [];
    const placeholders: string[] = [];
    let literal = '';
    let i = 0;
    while (i < source.length) {
      const c = source[i];
      if (c === '{' && source[i + 1] === '{') {
        literal += '{';
        i += 2;
      } else if (c === '}' && source[i + 1] === '}') {
        literal += '}';
        i += 2;
      } else if (c === '}') {
        fail(`a lone "}" at offset ${i} (write "}}" for a literal brace)`);
      } else if (c === '{') {
        const end = source.indexOf('}', i + 1);
        const name = end === -1 ? '' : source.slice(i + 1, end);
        if (end === -1 || !NAME.test(name)) {
          fail(`"{" at offset ${i} does not open a placeholder {name} with name [A-Za-z_][A-Za-z0-9_]* (write "{{" for a literal brace)`);
        }
        if (placeholders.length > 0 && literal === '') {
          fail(`placeholders {${placeholders.at(-1)}} and {${name}} have no literal text between them, so a key cannot be split back into values`);
        }
        if (placeholders.includes(name)) fail(`placeholder {${name}} appears twice`);
        literals.push(literal);
        placeholders.push(name);
        literal = '';
        i = end + 1;
      } else {
        literal += c;
        i += 1;
      }
    }
    literals.push(literal);
    return new KeyTemplate(source, literals, placeholders);
  }

  render(values: Readonly<Record<string, unknown>>): string {
    let out = this.literals[0] ?? '';
    for (let i = 0; i < this.placeholders.length; i++) {
      const name = this.placeholders[i] as string;
      out += renderValue(this.source, name, values[name]) + (this.literals[i + 1] ?? '');
    }
    return out;
  }

  /** The placeholder values a key was rendered from (as text), or undefined if it does not fit. */
  match(key: string): Record<string, string> | undefined {
    const first = this.literals[0] ?? '';
    if (!key.startsWith(first)) return undefined;
    const params: Record<string, string> = {};
    let at = first.length;
    for (let i = 0; i < this.placeholders.length; i++) {
      const next = this.literals[i + 1] ?? '';
      const isLast = i === this.placeholders.length - 1;
      // Only the last placeholder can be followed by no literal: it takes the rest of the key.
      const end = next === '' ? key.length : key.indexOf(next, at + 1);
      if (end === -1 || end <= at) return undefined;
      params[this.placeholders[i] as string] = key.slice(at, end);
      at = end + next.length;
      if (isLast && at !== key.length) return undefined;
    }
    if (this.placeholders.length === 0 && key !== first) return undefined;
    return params;
  }
}

function renderValue(source: string, name: string, value: unknown): string {
  const type = typeof value;
  if (type !== 'string' && type !== 'number' && type !== 'bigint' && type !== 'boolean') {
    const what = value === null ? 'null' : value === undefined ? 'missing' : `a ${Array.isArray(value) ? 'array' : type} (${Object.prototype.toString.call(value)})`;
    throw new KeyTemplateError('invalid_value', `Key template ${JSON.stringify(source)}: the value of {${name}} is ${what}; it must be a string, number, bigint or boolean`, name);
  }
  const text = String(value);
  if (text === '') throw new KeyTemplateError('invalid_value', `Key template ${JSON.stringify(source)}: the value of {${name}} is empty text`, name);
  return text;
}
