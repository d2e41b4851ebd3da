import { execFile } from 'node:child_process';
import { cp, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it, onTestFinished } from 'vitest';

const ROOT = join(import.meta.dirname, '../..');
/** The library package's sources, and the server's (the faces, the fleet, the demo). */
const LIB = 'packages/freshcache/src';
const SRV = 'packages/freshcache-server/src';

/** Every module specifier a file imports or re-exports (static and dynamic). */
function importsOf(source: string): string[] {
  const found: string[] = [];
  for (const match of source.matchAll(/(?:\bfrom\s*|\bimport\s*\(?\s*)['"]([^'"]+)['"]/g)) found.push(match[1]!);
  return found;
}

/** `<LIB>/<folder>/*.ts` files that import a relative path outside what `allowed` lets through. */
function strays(folder: string, allowed: (specifier: string) => boolean): string[] {
  const found: string[] = [];
  for (const file of readdirSync(join(ROOT, LIB, folder)).filter((f) => f.endsWith('.ts'))) {
    for (const specifier of importsOf(readFileSync(join(ROOT, LIB, folder, file), 'utf8'))) {
      if (specifier.startsWith('.') && !allowed(specifier)) found.push(`${LIB}/${folder}/${file} imports ${specifier}`);
    }
  }
  return found;
}

/** Every .ts file under a package's src/, as a path relative to the repository. */
function sourceFiles(src: string): string[] {
  return (readdirSync(join(ROOT, src), { recursive: true }) as string[]).filter((f) => f.endsWith('.ts')).map((f) => `${src}/${f.split('\\').join('/')}`);
}

/** The demo app, the CLI commands that start it (and speak of it in their help), and `load`, whose defaults are the demo's. */
const DEMO = (file: string) =>
  file.startsWith(`${SRV}/demo/`) || file === `${SRV}/cli/commands/demo.ts` || file === `${SRV}/cli/commands/up.ts` || file === `${SRV}/cli/commands/load.ts`;

describe('layering', () => {
  it('the engine imports only its own files, the seams and packages', () => {
    expect(strays('engine', (s) => /^\.\/[^/]+$/.test(s) || /^\.\.\/seams\/[^/]+$/.test(s))).toEqual([]);
  });

  it('the seams import only each other and packages: they sit below the engine', () => {
    expect(strays('seams', (s) => /^\.\/[^/]+$/.test(s))).toEqual([]);
  });

  it('no file outside the demo speaks of content (HTTP headers aside)', () => {
    const found: string[] = [];
    for (const file of [...sourceFiles(LIB), ...sourceFiles(SRV)].filter((f) => !DEMO(f))) {
      readFileSync(join(ROOT, file), 'utf8')
        .split('\n')
        .forEach((line, i) => {
          // Content-Type and Content-Length (and prom-client's contentType), and "the file's contents", are not the demo's content.
          if (/content(?![-_]?(?:type|length)|s\b)/i.test(line)) found.push(`${file}:${i + 1}: ${line.trim()}`);
        });
    }
    expect(found).toEqual([]);
  });

  it('the library never imports the server package, nor anything outside its own sources but packages', () => {
    const found: string[] = [];
    for (const file of sourceFiles(LIB)) {
      for (const specifier of importsOf(readFileSync(join(ROOT, file), 'utf8'))) {
        const target = specifier.startsWith('.') ? relative(ROOT, join(ROOT, file, '..', specifier)).split('\\').join('/') : specifier;
        if (specifier.startsWith('.') ? !target.startsWith(`${LIB}/`) : specifier.startsWith('freshcache-server')) found.push(`${file} imports ${specifier}`);
      }
    }
    expect(found).toEqual([]);
  });

  it('only the CLI imports the demo; the demo reaches the kernel only through its public entry points', () => {
    const found: string[] = [];
    const serverEntry = /^\.\.\/(?:server\/app|topology\/topology|tools\/[^/]+)\.js$/;
    for (const file of sourceFiles(SRV)) {
      for (const specifier of importsOf(readFileSync(join(ROOT, file), 'utf8'))) {
        if (!specifier.startsWith('.')) continue;
        const target = relative(ROOT, join(ROOT, file, '..', specifier)).split('\\').join('/');
        if (file.startsWith(`${SRV}/demo/`)) {
          if (!target.startsWith(`${SRV}/demo/`) && !serverEntry.test(specifier)) found.push(`${file} imports ${specifier}`);
        } else if (target.startsWith(`${SRV}/demo/`) && !file.startsWith(`${SRV}/cli/`)) {
          found.push(`${file} imports ${specifier}`);
        }
      }
    }
    expect(found).toEqual([]);
  });

  // The issue's test of "a kernel with no domain": the library is a package of its own, and the
  // server's fleet and faces still type-check with the demo (and the CLI that starts it) deleted.
  it('the server type-checks with its demo (and its CLI, which starts it) deleted', { timeout: 120_000 }, async () => {
    const dir = await mkdtemp(join(tmpdir(), 'freshcache-kernel-'));
    onTestFinished(() => rm(dir, { recursive: true, force: true }));
    await cp(join(ROOT, SRV), join(dir, 'src'), { recursive: true, filter: (path) => !/[/\\]src[/\\](?:demo|cli)(?:[/\\]|$)/.test(path) });
    await symlink(join(ROOT, 'node_modules'), join(dir, 'node_modules'), 'dir');
    await writeFile(join(dir, 'package.json'), JSON.stringify({ type: 'module' }));
    const tsconfig = { extends: join(ROOT, 'tsconfig.json'), compilerOptions: { noEmit: true, rootDir: '.', noUncheckedSideEffectImports: true }, include: ['src'] };
    await writeFile(join(dir, 'tsconfig.json'), JSON.stringify(tsconfig));
    const tsc = join(ROOT, 'node_modules/typescript/bin/tsc');
    const result = await promisify(execFile)(process.execPath, [tsc, '-p', join(dir, 'tsconfig.json')]).then(
      () => '',
      (error: { stdout?: string; message: string }) => error.stdout || error.message,
    );
    expect(result).toBe('');
  });
});
