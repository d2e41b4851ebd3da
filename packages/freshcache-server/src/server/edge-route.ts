import { type Lookup, type LoadContext, KeyTemplate } from 'freshcache';
import type { Region } from '../topology/region.js';

/** A path parameter: a JSON schema Fastify validates it with, which the hit path checks too. */
export type EdgeParam =
  | { type: 'integer'; minimum?: number; maximum?: number }
  | { type: 'string'; pattern?: string; maxLength?: number };

export type EdgeParams = Record<string, string | number>;

export interface EdgeRouteOptions<T = unknown> {
  /** A Fastify path with a `:region` segment and one `:name` segment per key placeholder. */
  path: string;
  /** A key template (`user:{id}`) rendered from the path's parameters. */
  key: string;
  /** How each parameter is validated; a parameter not listed is any non-empty text. */
  params?: Record<string, EdgeParam>;
  /** The loader a miss reads through the region's cache with. */
  load?: (params: EdgeParams, context: LoadContext) => Promise<T> | T;
  /** Or the whole read-through, for an app that has its own (given instead of `load`). */
  read?: (region: Region, params: EdgeParams) => Promise<Lookup<T>>;
  /** The `route` label of the edge metrics (default: the key's literal prefix, `user` for `user:{id}`). */
  name?: string;
  /** For the OpenAPI document. */
  summary?: string;
  response?: object;
}

/** A declared edge route, checked and compiled once: see edgeRoute. */
export interface EdgeRoute {
  readonly path: string;
  readonly name: string;
  readonly template: KeyTemplate;
  readonly params: Readonly<Record<string, EdgeParam>>;
  readonly options: EdgeRouteOptions;
  /**
   * The hit path's test of a URL: the region's name and the entry's key when the URL is this
   * route's with valid parameters and no query string or escapes; undefined otherwise (Fastify
   * then answers, errors and all).
   */
  match(url: string): { region: string; key: string } | undefined;
}

const NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
// A segment without escapes or a query: anything else is left to Fastify, which decodes it.
const TEXT = '([^/?#%]+)';
const INTEGER = '(0|-?[1-9][0-9]{0,15})';

/**
 * Declares an edge read: `GET path` answers the value cached under `key` in the URL's region,
 * with the cache headers. A fresh L1 hit is answered by the hit path before Fastify
 * (edge-hit-path.ts); anything else goes to the Fastify route (routes/edge.ts), which reads
 * through the region's cache with `load` (or `read`). Both give the same status, headers and body.
 */
export function edgeRoute<T>(options: EdgeRouteOptions<T>): EdgeRoute {
  const fail = (why: string): never => {
    throw new Error(`edgeRoute ${JSON.stringify(options.path)}: ${why}`);
  };
  if ((options.load === undefined) === (options.read === undefined)) fail('give exactly one of load and read');
  const template = KeyTemplate.parse(options.key);
  const params: Record<string, EdgeParam> = {};
  const names: string[] = [];
  let pattern = '^';
  for (const segment of options.path.split('/').slice(1)) {
    if (!segment.startsWith(':')) {
      if (!/^[A-Za-z0-9._~-]+$/.test(segment)) fail(`segment ${JSON.stringify(segment)} is not plain text or a :parameter`);
      pattern += '/' + segment.replace(/\./g, '\\.');
      continue;
    }
    const name = segment.slice(1);
    if (!NAME.test(name) || names.includes(name)) fail(`parameter ${JSON.stringify(segment)} is not a name, or is used twice`);
    const param = name === 'region' ? { type: 'string' as const } : (options.params?.[name] ?? { type: 'string' as const });
    params[name] = param;
    names.push(name);
    pattern += '/' + (param.type === 'integer' ? INTEGER : TEXT);
  }
  if (!options.path.startsWith('/') || !names.includes('region')) fail('the path needs a :region segment');
  for (const name of names) {
    if (name !== 'region' && !template.placeholders.includes(name)) fail(`:${name} is not in the key, so two URLs would share an entry`);
  }
  for (const name of template.placeholders) if (!names.includes(name)) fail(`the key's {${name}} is not a path parameter`);
  const matcher = new RegExp(pattern + '$');
  const patterns = names.map((name) => {
    const param = params[name]!;
    return param.type === 'string' && param.pattern !== undefined ? new RegExp(param.pattern, 'u') : undefined;
  });
  // One values object, refilled per request: the hit path runs to completion synchronously.
  const values: EdgeParams = {};
  return {
    path: options.path,
    name: options.name ?? (template.literalPrefix.replace(/[^A-Za-z0-9_]+$/, '') || options.path),
    template,
    params,
    options: options as EdgeRouteOptions,
    match(url) {
      const found = matcher.exec(url);
      if (!found) return undefined;
      for (let i = 0; i < names.length; i++) {
        const text = found[i + 1]!;
        const param = params[names[i]!]!;
        if (param.type === 'integer') {
          const value = Number(text);
          if (!Number.isSafeInteger(value) || value < (param.minimum ?? -Infinity) || value > (param.maximum ?? Infinity)) return undefined;
        } else if (text.length > (param.maxLength ?? Infinity) || patterns[i]?.test(text) === false) {
          return undefined;
        }
        values[names[i]!] = text;
      }
      return { region: values.region as string, key: template.render(values) };
    },
  };
}
