import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const ENGINE = join(import.meta.dirname, '../../src/engine');

/** Every module specifier a file imports or re-exports (static and dynamic). */
function importsOf(source: string): string[] {
  const found: string[] = [];
  for (const match of source.matchAll(/(?:\bfrom\s*|\bimport\s*\(?\s*)['"]([^'"]+)['"]/g)) found.push(match[1]!);
  return found;
}

describe('layering', () => {
  it('the engine imports only its own files, the seams and packages', () => {
    const strays: string[] = [];
    for (const file of readdirSync(ENGINE).filter((f) => f.endsWith('.ts'))) {
      for (const specifier of importsOf(readFileSync(join(ENGINE, file), 'utf8'))) {
        const relative = specifier.startsWith('.');
        const allowed = !relative || /^\.\/[^/]+$/.test(specifier) || /^\.\.\/seams\/[^/]+$/.test(specifier);
        if (!allowed) strays.push(`src/engine/${file} imports ${specifier}`);
      }
    }
    expect(strays).toEqual([]);
  });
});
