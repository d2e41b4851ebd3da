import { FreshcacheError } from './errors.js';
import { KeyTemplate } from './key-template.js';
import type { LoadContext } from './cache-types.js';

/** A key's placeholder values, as text read back from the key (`{ id: '7' }` for `user:7`). */
export type TemplateParams = Readonly<Record<string, string>>;

/** What `define` registers for a key template. */
export interface TemplateLoaders<T = unknown> {
  /** Loads one key; sets `context.version`, `tags`, `ttlMs`… as a call-site loader does. Throw `not_found` for no such record. */
  load(params: TemplateParams, context: LoadContext): Promise<T> | T;
  /**
   * Loads several keys of the template in one call (one query). Returns an array aligned with
   * `params`: `values[i]` is the value of `params[i]`, and `undefined` there means "no such
   * record" (that key is a `not_found`, nothing is cached). `contexts[i]` is that key's
   * LoadContext, to set its version, tags and TTL.
   */
  loadMany?(params: readonly TemplateParams[], contexts: readonly LoadContext[]): Promise<readonly (T | undefined)[]> | readonly (T | undefined)[];
}

/** A defined template and its loaders. */
export interface Definition {
  readonly template: KeyTemplate;
  readonly loaders: TemplateLoaders;
}

/** Placeholder text for probing overlaps: a plain id, as real keys carry. */
const PROBE = '1';

/**
 * The loaders defined by key template. A key is loaded by the MOST SPECIFIC template that matches
 * it: the one with the most literal text, as a router prefers a static path segment to a
 * parameter. So `org:{id}` and `org:{id}:users` live side by side (`org:5:users` is the list,
 * `org:5` the org), and so do `user:{id}` and `user:admin`. Two templates of equal specificity that
 * would share keys are refused at `define` (`user:{id}` and `user:{uid}`): the new one is refused
 * when a key it renders from plain values (each placeholder `1`) matches the other, or the other
 * way round. Values chosen to collide (an org id containing `:team:`) can still make a key match
 * two templates of equal specificity; then the first defined wins.
 */
export class LoaderRegistry {
  /** Most specific first; among equals, in the order defined. */
  private readonly definitions: Definition[] = [];

  define(source: string, loaders: TemplateLoaders): KeyTemplate {
    const template = KeyTemplate.parse(source);
    if (typeof loaders?.load !== 'function') {
      throw new FreshcacheError('bad_request', `define(${JSON.stringify(source)}): loaders.load must be a function`);
    }
    if (loaders.loadMany !== undefined && typeof loaders.loadMany !== 'function') {
      throw new FreshcacheError('bad_request', `define(${JSON.stringify(source)}): loaders.loadMany must be a function when given`);
    }
    for (const { template: other } of this.definitions) {
      if (other.source === source) throw new FreshcacheError('bad_request', `key template ${JSON.stringify(source)} is already defined`);
      const shareKeys = other.match(probe(template)) !== undefined || template.match(probe(other)) !== undefined;
      if (shareKeys && specificity(other) === specificity(template)) {
        throw new FreshcacheError(
          'bad_request',
          `key template ${JSON.stringify(source)} overlaps ${JSON.stringify(other.source)}, defined before it: some keys would match both, and neither is more specific`,
        );
      }
    }
    const at = this.definitions.findIndex((definition) => specificity(definition.template) < specificity(template));
    this.definitions.splice(at < 0 ? this.definitions.length : at, 0, { template, loaders });
    return template;
  }

  /** The definition whose template matches `key`, with the key's params; undefined when none does. */
  find(key: string): { definition: Definition; params: TemplateParams } | undefined {
    for (const definition of this.definitions) {
      const params = definition.template.match(key);
      if (params !== undefined) return { definition, params };
    }
    return undefined;
  }

  /** Like `find`, but a key no template matches is a `no_loader` error. */
  resolve(key: string): { definition: Definition; params: TemplateParams } {
    const found = this.find(key);
    if (found === undefined) {
      throw new FreshcacheError('no_loader', `no loader for key ${JSON.stringify(key)}: pass one to the call, or define a key template that matches it`);
    }
    return found;
  }
}

/** How much literal text a template has: the more, the fewer keys it matches. */
function specificity(template: KeyTemplate): number {
  return probe(template).length - template.placeholders.length * PROBE.length;
}

function probe(template: KeyTemplate): string {
  return template.render(Object.fromEntries(template.placeholders.map((name) => [name, PROBE])));
}
