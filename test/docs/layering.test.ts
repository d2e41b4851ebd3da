import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const SRC = join(import.meta.dirname, '../../src');

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

describe('layering', () => {
  it('the engine imports only its own files, the seams and packages', () => {
    expect(strays('engine', (s) => /^\.\/[^/]+$/.test(s) || /^\.\.\/seams\/[^/]+$/.test(s))).toEqual([]);
  });

  it('the seams import only each other and packages: they sit below the engine', () => {
    expect(strays('seams', (s) => /^\.\/[^/]+$/.test(s))).toEqual([]);
  });
});
