import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';

/**
 * What `package.json` "exports" publishes: each entry is built from a source file that exists, the
 * module loads, and it exports what docs/api.md (Library, Package exports) promises. The shipped
 * parts stay shippable: the contract suites import nothing from test/, only they need vitest, and
 * the Redis and PostgreSQL entries sit on the kernel (adapters, seams, engine) only.
 */
const REPO = join(import.meta.dirname, '../..');
/** The library package: its package.json, tsconfig.build.json and src/ (the server is packages/freshcache-server). */
const ROOT = join(REPO, 'packages/freshcache');
const SRC = join(ROOT, 'src');
const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as {
  exports: Record<string, { types: string; default: string }>;
  peerDependencies?: Record<string, string>;
  peerDependenciesMeta?: Record<string, { optional?: boolean }>;
};

/** `./dist/x/y.js` (or `.d.ts`) → `src/x/y.ts`: tsconfig.build.json compiles src/ into dist/. */
function sourceOf(built: string): string {
  const match = /^\.\/dist\/(.+?)(?:\.d\.ts|\.js)$/.exec(built);
  if (!match) throw new Error(`${built} does not point into dist/`);
  return `src/${match[1]}.ts`;
}

/** Every module specifier a file imports or re-exports (static and dynamic). */
function importsOf(file: string): string[] {
  const source = readFileSync(file, 'utf8');
  return [...source.matchAll(/(?:\bfrom\s*|\bimport\s*\(?\s*)['"]([^'"]+)['"]/g)].map((m) => m[1]!);
}

function filesUnder(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true, recursive: true })
    .filter((d) => d.isFile() && d.name.endsWith('.ts'))
    .map((d) => join(d.parentPath, d.name));
}

/** docs/api.md's bullets "- `freshcache/x`: `name`, …, types `Name`, …": subpath → names. */
function promised(): Map<string, string[]> {
  const api = readFileSync(join(REPO, 'docs/api.md'), 'utf8');
  const section = api.slice(api.indexOf('### Package exports'));
  const found = new Map<string, string[]>();
  for (const [, subpath, rest] of section.matchAll(/^- `(freshcache(?:\/[a-z]+)?)`: (.*)$/gm)) {
    found.set(subpath!, [...rest!.matchAll(/`([A-Za-z_]\w*)`/g)].map((m) => m[1]!));
  }
  return found;
}

describe('package exports', () => {
  const entries = Object.entries(pkg.exports);

  it('every entry is built from a source file that exists, its types and code from the same one', () => {
    const missing = entries.filter(([, target]) => !existsSync(join(ROOT, sourceOf(target.default))));
    expect(missing).toEqual([]);
    for (const [name, target] of entries) expect(sourceOf(target.types), name).toBe(sourceOf(target.default));
    const build = JSON.parse(readFileSync(join(ROOT, 'tsconfig.build.json'), 'utf8')) as { include: string[]; exclude?: string[] };
    expect(build.include).toContain('src');
    expect(build.exclude ?? []).toEqual([]);
  });

  it('publishes the four library subpaths the docs describe', () => {
    const documented = promised();
    expect([...documented.keys()].sort()).toEqual(['freshcache', 'freshcache/postgres', 'freshcache/redis', 'freshcache/testing']);
    for (const subpath of documented.keys()) expect(Object.keys(pkg.exports)).toContain(subpath.replace(/^freshcache/, '.'));
  });

  it.each([...promised()])('%s loads and exports every name the docs promise', async (subpath, names) => {
    const file = join(ROOT, sourceOf(pkg.exports[subpath.replace(/^freshcache/, '.')]!.default));
    const module = (await import(pathToFileURL(file).href)) as Record<string, unknown>;
    // A type has no value at run time: it counts as exported when the entry re-exports it by name.
    const text = readFileSync(file, 'utf8');
    const exportsType = (name: string) => new RegExp(`export type \\{[^}]*\\b${name}\\b[^}]*\\}|export (?:interface|type) ${name}\\b`).test(text);
    const absent = names.filter((name) => module[name] === undefined && !exportsType(name));
    expect(names.length).toBeGreaterThan(0);
    expect(absent).toEqual([]);
  });

  it('every entry of the library loads', async () => {
    for (const [name, target] of entries) {
      const module = (await import(pathToFileURL(join(ROOT, sourceOf(target.default))).href)) as Record<string, unknown>;
      expect(Object.keys(module).length, name).toBeGreaterThan(0);
    }
  });

  it('the contract suites ship: nothing in src/ imports from test/, and only src/testing needs vitest, an optional peer', () => {
    const strays: string[] = [];
    for (const file of filesUnder(SRC)) {
      for (const specifier of importsOf(file)) {
        const where = relative(ROOT, file);
        if (specifier.startsWith('.') && relative(ROOT, join(file, '..', specifier)).startsWith('test/')) strays.push(`${where} imports ${specifier}`);
        if (specifier === 'vitest' && !where.startsWith('src/testing/')) strays.push(`${where} imports vitest`);
      }
    }
    expect(strays).toEqual([]);
    expect(pkg.peerDependencies?.vitest).toBeDefined();
    expect(pkg.peerDependenciesMeta?.vitest?.optional).toBe(true);
  });

  it('freshcache/redis and freshcache/postgres are made of the kernel only: adapters, seams and engine', () => {
    const strays = ['redis.ts', 'postgres.ts'].flatMap((file) =>
      importsOf(join(SRC, file))
        .filter((s) => s.startsWith('.') && !/^\.\/(adapters|seams|engine)\//.test(s))
        .map((s) => `src/${file} imports ${s}`),
    );
    expect(strays).toEqual([]);
  });
});
