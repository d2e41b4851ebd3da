import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { describe, expect, it } from 'vitest';

/**
 * What `npm install freshcache` costs a service (a library user pays only for what they use): the
 * library package ships its build and its sources (for the source maps) alone, and freshcache with
 * ioredis stays within 30 packages, none of them the server's. Checked offline, from
 * `npm pack --dry-run` of the build `npm test` makes first, and package-lock.json; the real install
 * from the registry, with its size in MB, is bench/library-install.ts.
 */
const REPO = join(import.meta.dirname, '../..');
const LIB = join(REPO, 'packages/freshcache');
const SERVER = join(REPO, 'packages/freshcache-server');

/** The paths `npm pack` would put in the package at `dir` (it must be built: npm test's pretest builds). */
function packed(dir: string): string[] {
  expect(existsSync(join(dir, 'dist')), `${dir} has no build: run npm run build (npm test runs it first)`).toBe(true);
  const [pack] = JSON.parse(
    execFileSync('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], { cwd: dir, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }),
  ) as [{ files: { path: string }[] }];
  return pack.files.map((f) => f.path);
}
const pkg = JSON.parse(readFileSync(join(LIB, 'package.json'), 'utf8')) as {
  version: string;
  files: string[];
  exports: Record<string, Record<string, string>>;
  dependencies?: Record<string, string>;
  peerDependencies?: Record<string, string>;
  peerDependenciesMeta?: Record<string, { optional?: boolean }>;
};
/** Packages only the server, the CLI, the demo or the dashboard need. */
const SERVER_ONLY = /^(fastify|@fastify\/.+|@electric-sql\/pglite|pino|ajv|react|react-dom|recharts|vite|freshcache-server)$/;
const OPTIONAL_PEERS = ['ioredis', 'pg', 'pg-logical-replication', 'vitest'];

interface LockEntry {
  dependencies?: Record<string, string>;
  optionalDependencies?: Record<string, string>;
  peerDependencies?: Record<string, string>;
  peerDependenciesMeta?: Record<string, { optional?: boolean }>;
  link?: boolean;
  resolved?: string;
}
const lock = JSON.parse(readFileSync(join(REPO, 'package-lock.json'), 'utf8')) as { packages: Record<string, LockEntry> };

/** Where Node finds `name` required from the package at lockfile path `from`: its node_modules, then each one above. */
function locate(from: string, name: string): string | undefined {
  let dir = from;
  for (;;) {
    const candidate = `${dir === '' ? '' : `${dir}/`}node_modules/${name}`;
    const found = lock.packages[candidate];
    if (found) return found.link && found.resolved ? found.resolved : candidate;
    if (dir === '') return undefined;
    const up = dir.lastIndexOf('/node_modules/');
    dir = up >= 0 ? dir.slice(0, up) : '';
  }
}

/** The packages `npm install freshcache <extra>` brings: dependencies, installed optional ones, and required peers. */
function closure(extra: string[]): Map<string, string> {
  const found = new Map<string, string>(); // lockfile path → name
  const visit = (path: string, name: string) => {
    if (found.has(path)) return;
    found.set(path, name);
    const entry = lock.packages[path]!;
    const peers = Object.keys(entry.peerDependencies ?? {}).filter((p) => !entry.peerDependenciesMeta?.[p]?.optional);
    for (const dep of [...Object.keys(entry.dependencies ?? {}), ...peers, ...Object.keys(entry.optionalDependencies ?? {})]) {
      const at = locate(path, dep);
      if (at) visit(at, dep);
      else if (!entry.optionalDependencies?.[dep]) throw new Error(`${path} needs ${dep}, which package-lock.json does not hold`);
    }
  };
  visit('packages/freshcache', 'freshcache');
  for (const name of extra) visit(locate('packages/freshcache', name)!, name);
  return found;
}

/** Bare packages the files reachable from `entry` import (relative imports followed, .js → .ts). */
function packagesReachedFrom(entry: string): Set<string> {
  const used = new Set<string>();
  const seen = new Set<string>();
  const queue = [entry];
  while (queue.length > 0) {
    const file = queue.pop()!;
    if (seen.has(file)) continue;
    seen.add(file);
    const text = readFileSync(file, 'utf8');
    // Type-only imports vanish from the built code: they cost nothing at run time.
    for (const [, typeOnly, specifier] of text.matchAll(/^(?:import|export)\s+(type\s+)?[^'";]*?from\s*['"]([^'"]+)['"]/gm)) {
      if (typeOnly) continue;
      if (specifier!.startsWith('.')) queue.push(join(dirname(file), specifier!.replace(/\.js$/, '.ts')));
      else if (!specifier!.startsWith('node:')) used.add(specifier!.startsWith('@') ? specifier!.split('/').slice(0, 2).join('/') : specifier!.split('/')[0]!);
    }
  }
  return used;
}

describe('the library package (packages/freshcache)', () => {
  it('publishes its build and sources only: npm pack holds dist/, src/, package.json, README, LICENSE, never the server, dashboard, demo or PGlite', () => {
    expect(pkg.files).toEqual(['dist', 'src']);
    const paths = packed(LIB);
    expect(paths).toEqual(expect.arrayContaining(['package.json', 'LICENSE', 'README.md', 'dist/index.js', 'dist/redis.js', 'dist/postgres.js', 'dist/testing/index.js', 'src/index.ts']));
    expect(paths.filter((p) => !/^(dist\/|src\/|package\.json$|README\.md$|LICENSE$)/.test(p))).toEqual([]);
    expect(paths.filter((p) => /(^|\/)(server|cli|topology|demo|dashboard)\/|pglite/i.test(p))).toEqual([]);
  });

  it('each subpath loads with only its own optional peer: redis needs ioredis, postgres pg (pg-logical-replication only once a WAL feed starts), testing vitest', () => {
    const reached = (entry: string) => [...packagesReachedFrom(join(LIB, entry))].filter((name) => OPTIONAL_PEERS.includes(name)).sort();
    expect(reached('src/redis.ts')).toEqual(['ioredis']);
    expect(reached('src/postgres.ts')).toEqual(['pg']);
    expect(reached('src/testing/index.ts')).toEqual(['vitest']);
  });

  it('each entry resolves to its sources under the freshcache-source condition, and to dist/ otherwise', () => {
    for (const [subpath, target] of Object.entries(pkg.exports)) {
      expect(Object.keys(target), subpath).toEqual(['freshcache-source', 'types', 'default']);
      expect(existsSync(join(LIB, target['freshcache-source']!)), subpath).toBe(true);
      const base = target['freshcache-source']!.replace(/^\.\/src\//, './dist/').replace(/\.ts$/, '');
      expect([target.types, target.default], subpath).toEqual([`${base}.d.ts`, `${base}.js`]);
    }
  });

  it('ioredis, pg, pg-logical-replication and vitest are optional peers, and the core entry loads without any of them', () => {
    for (const name of OPTIONAL_PEERS) {
      expect(pkg.peerDependencies?.[name], name).toBeDefined();
      expect(pkg.peerDependenciesMeta?.[name]?.optional, name).toBe(true);
      expect(pkg.dependencies?.[name], name).toBeUndefined();
    }
    const core = [...packagesReachedFrom(join(LIB, 'src/index.ts'))];
    expect(core.filter((name) => OPTIONAL_PEERS.includes(name))).toEqual([]);
    expect(core.every((name) => pkg.dependencies?.[name] !== undefined)).toBe(true);
  });

  it('freshcache with ioredis is at most 30 packages, and none of them is the server\'s', () => {
    const installed = closure(['ioredis']);
    const names = [...new Set(installed.values())].sort();
    expect(names.filter((name) => SERVER_ONLY.test(name))).toEqual([]);
    expect(installed.size, names.join(', ')).toBeLessThanOrEqual(30);
  });
});

describe('the server package (packages/freshcache-server)', () => {
  it('publishes the freshcache command, its build with the dashboard, and depends on the library by a range', () => {
    const server = JSON.parse(readFileSync(join(SERVER, 'package.json'), 'utf8')) as { bin: Record<string, string>; dependencies: Record<string, string> };
    const paths = packed(SERVER);
    expect(paths).toEqual(expect.arrayContaining([server.bin.freshcache!.replace(/^\.\//, ''), 'dist/dashboard/index.html', 'LICENSE', 'README.md']));
    expect(readFileSync(join(SERVER, server.bin.freshcache!), 'utf8').startsWith('#!/usr/bin/env node')).toBe(true);
    expect(server.dependencies.freshcache).toBe(`^${pkg.version}`);
  });

  it('links `npx freshcache` in this workspace at `npm ci`, before any build: the bin is a committed launcher, and the root depends on the server', () => {
    const server = JSON.parse(readFileSync(join(SERVER, 'package.json'), 'utf8')) as { bin: Record<string, string> };
    const root = JSON.parse(readFileSync(join(REPO, 'package.json'), 'utf8')) as { devDependencies: Record<string, string> };
    // npm links no bin whose file is missing at install, and dist/ exists only after `npm run build`.
    expect(server.bin.freshcache).not.toMatch(/^(\.\/)?dist\//);
    expect(execFileSync('git', ['ls-files', '--error-unmatch', server.bin.freshcache!], { cwd: SERVER, encoding: 'utf8' }).trim()).toBe(server.bin.freshcache);
    expect(root.devDependencies['freshcache-server']).toBeDefined();
  });
});
