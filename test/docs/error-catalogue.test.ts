import { readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { ERROR_CATALOGUE } from '../../packages/freshcache/src/engine/errors.js';

/**
 * docs/api.md lists the error catalogue as a table, one row per code:
 *
 *   | `code` | status | meaning |
 *
 * under the heading "## Errors". This keeps that table and ERROR_CATALOGUE in step: every code
 * with its status and its description copied exactly, and no code the catalogue lacks.
 */
const ROW = /^\| `([a-z0-9_]+)` \| (\d{3}) \| (.*) \|$/;

async function documentedRows(): Promise<{ code: string; status: number; meaning: string }[]> {
  const doc = await readFile(new URL('../../docs/api.md', import.meta.url), 'utf8');
  const start = doc.search(/^## Errors$/m);
  expect(start, 'docs/api.md has a "## Errors" section').toBeGreaterThanOrEqual(0);
  const rest = doc.slice(start + 1);
  const next = rest.search(/^## /m);
  const section = next === -1 ? rest : rest.slice(0, next);
  return section
    .split('\n')
    .map((line) => ROW.exec(line.trim()))
    .filter((match) => match !== null)
    .map(([, code, status, meaning]) => ({ code: code!, status: Number(status), meaning: meaning! }));
}

describe('docs/api.md error catalogue', () => {
  it('has a row `| `code` | status | meaning |` for every code of ERROR_CATALOGUE', async () => {
    const rows = await documentedRows();
    for (const [code, { status, description }] of Object.entries(ERROR_CATALOGUE)) {
      const row = rows.find((r) => r.code === code);
      expect(row, `docs/api.md lists \`${code}\``).toBeDefined();
      expect(row, `status and meaning of \`${code}\``).toEqual({ code, status, meaning: description });
    }
  });

  it('lists no code the catalogue lacks, and each code once', async () => {
    const codes = (await documentedRows()).map((r) => r.code);
    expect(codes.filter((c) => !(c in ERROR_CATALOGUE))).toEqual([]);
    expect(new Set(codes).size).toBe(codes.length);
  });
});
