import { execFile } from 'node:child_process';
import { cp, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it, onTestFinished } from 'vitest';

const ROOT = join(import.meta.dirname, '../..');
const SRC = join(ROOT, 'src');

/** Every module specifier a file imports or re-exports (static and dynamic). */
function importsOf(source: string): string[] {
  const found: string[] = [];
  for (const match of source.matchAll(/(?:\bfrom\s*|\bimport\s*\(?\s*)['"]([^'"]+)['"]/g)) found.push(match[1]!);
  return found;
}

/** `src/<folder>/*.ts` files that import a relative path outside what `allowed` lets through. */
function strays(folder: string, allowed: (specifier: string) => boolean): string[] {
  const found: string[] = [];
  for (const file of readdirSync(join(SRC, folder)).filter((f) => f.endsWith('.ts'))) {
    for (const specifier of importsOf(readFileSync(join(SRC, folder, file), 'utf8'))) {
      if (specifier.startsWith('.') && !allowed(specifier)) found.push(`src/${folder}/${file} imports ${specifier}`);
    }
  }
  return found;
}

/** Every .ts file under src/, as a path relative to the repository (`src/engine/clock.ts`). */
function sourceFiles(): string[] {
  return (readdirSync(SRC, { recursive: true }) as string[]).filter((f) => f.endsWith('.ts')).map((f) => `src/${f.split('\\').join('/')}`);
}

/** The demo app, and the CLI commands that start it (and speak of it in their help). */
const DEMO = (file: string) => file.startsWith('src/demo/') || file === 'src/cli/commands/demo.ts' || file === 'src/cli/commands/up.ts';

describe('layering', () => {
  it('the engine imports only its own files, the seams and packages', () => {
    expect(strays('engine', (s) => /^\.\/[^/]+$/.test(s) || /^\.\.\/seams\/[^/]+$/.test(s))).toEqual([]);
  });

  it('the seams import only each other and packages: they sit below the engine', () => {
    expect(strays('seams', (s) => /^\.\/[^/]+$/.test(s))).toEqual([]);
  });

  it('no file outside the demo speaks of content (HTTP headers aside)', () => {
    const found: string[] = [];
    for (const file of sourceFiles().filter((f) => !DEMO(f))) {
      readFileSync(join(ROOT, file), 'utf8')
        .split('\n')
        .forEach((line, i) => {
          // Content-Type and Content-Length (and prom-client's contentType), and "the file's contents", are not the demo's content.
          if (/content(?![-_]?(?:type|length)|s\b)/i.test(line)) found.push(`${file}:${i + 1}: ${line.trim()}`);
        });
    }
    expect(found).toEqual([]);
  });

  it('only the CLI imports the demo; the demo imports the kernel only through its public entry points', () => {
    const found: string[] = [];
    const publicEntry = /^\.\.\/(?:index|postgres|redis|server\/app|topology\/topology|tools\/[^/]+)\.js$/;
    for (const file of sourceFiles()) {
      for (const specifier of importsOf(readFileSync(join(ROOT, file), 'utf8'))) {
        if (!specifier.startsWith('.')) continue;
        const target = relative(ROOT, join(ROOT, file, '..', specifier)).split('\\').join('/');
        if (file.startsWith('src/demo/')) {
          if (!target.startsWith('src/demo/') && !publicEntry.test(specifier)) found.push(`${file} imports ${specifier}`);
        } else if (target.startsWith('src/demo/') && !file.startsWith('src/cli/')) {
          found.push(`${file} imports ${specifier}`);
        }
      }
    }
    expect(found).toEqual([]);
  });

  // The issue's test of "a kernel with no domain": delete the demo (and the CLI that starts it) and
  // the rest still type-checks. A copy of src/ without them, checked by the project's own tsc.
  it('the kernel type-checks with src/demo (and src/cli, which starts it) deleted', { timeout: 120_000 }, async () => {
    const dir = await mkdtemp(join(tmpdir(), 'freshcache-kernel-'));
    onTestFinished(() => rm(dir, { recursive: true, force: true }));
    await cp(SRC, join(dir, 'src'), { recursive: true, filter: (path) => !/[/\\]src[/\\](?:demo|cli)(?:[/\\]|$)/.test(path) });
    await symlink(join(ROOT, 'node_modules'), join(dir, 'node_modules'), 'dir');
    await writeFile(join(dir, 'package.json'), JSON.stringify({ type: 'module' }));
    const tsconfig = { extends: join(ROOT, 'tsconfig.json'), compilerOptions: { noEmit: true, rootDir: '.', paths: {}, noUncheckedSideEffectImports: true }, include: ['src'] };
    await writeFile(join(dir, 'tsconfig.json'), JSON.stringify(tsconfig));
    const tsc = join(ROOT, 'node_modules/typescript/bin/tsc');
    const result = await promisify(execFile)(process.execPath, [tsc, '-p', join(dir, 'tsconfig.json')]).then(
      () => '',
      (error: { stdout?: string; message: string }) => error.stdout || error.message,
    );
    expect(result).toBe('');
  });
});
