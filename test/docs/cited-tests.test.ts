import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

/**
 * The docs prove their claims by naming tests: a file (`test/…`, or a contract suite in `packages/freshcache/src/testing/`), often followed by the names of
 * its tests in double quotes, in the same sentence. Every file they name must exist, and every quoted name must be a
 * test title in that file (a trailing "…" names a prefix), so that a renamed or deleted test
 * cannot leave a proof pointing at nothing.
 */
const ROOT = join(import.meta.dirname, '../..');
const DOCS = ['README.md', 'docs/architecture.md', 'docs/api.md', 'docs/operations.md', 'bench/README.md'];
const TOKEN = /`((?:test|packages\/freshcache\/src\/testing)\/[A-Za-z0-9_./-]+)`|\n\s*\n|^#.*$|\.(?=\s)|"([^"\n]+(?:\n[^"\n]+)?)"/gm;

interface Citation {
  doc: string;
  file: string;
  name?: string;
}

function citations(doc: string): Citation[] {
  const text = readFileSync(join(ROOT, doc), 'utf8');
  const found: Citation[] = [];
  let file: string | undefined;
  for (const [, path, quoted] of text.matchAll(TOKEN)) {
    if (path !== undefined) {
      file = path;
      found.push({ doc, file });
    } else if (quoted !== undefined) {
      if (file?.endsWith('.ts')) found.push({ doc, file, name: quoted.replace(/\s+/g, ' ') });
    } else {
      file = undefined; // a sentence, a paragraph or a section ends the citation
    }
  }
  return found;
}

const normalise = (text: string) => text.replace(/\\'/g, "'").replace(/\s+/g, ' ');

describe.each(DOCS)('%s', (doc) => {
  const cited = citations(doc);

  it('names only test files and folders that exist', () => {
    const missing = [...new Set(cited.map((c) => c.file))].filter((file) => !existsSync(join(ROOT, file.replace(/\/$/, ''))));
    expect(missing).toEqual([]);
  });

  it('quotes only test names that exist in the file it names', () => {
    const unknown = cited
      .filter((c): c is Required<Citation> => c.name !== undefined && existsSync(join(ROOT, c.file)))
      .filter(({ file, name }) => !normalise(readFileSync(join(ROOT, file), 'utf8')).includes(name.replace(/…$/, '')))
      .map(({ file, name }) => `${file}: "${name}"`);
    expect(unknown).toEqual([]);
  });
});
