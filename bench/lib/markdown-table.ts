import type { Row } from './row.js';

/** A GitHub markdown table; the columns are the union of the rows' keys, in first-seen order. */
export function markdownTable(rows: readonly Row[]): string {
  const columns: string[] = [];
  for (const row of rows) for (const key of Object.keys(row)) if (!columns.includes(key)) columns.push(key);
  const cell = (value: string | undefined) => (value ?? '').replace(/\|/g, '\\|');
  const lines = [
    `| ${columns.map(cell).join(' | ')} |`,
    `| ${columns.map(() => '---').join(' | ')} |`,
    ...rows.map((row) => `| ${columns.map((c) => cell(row[c])).join(' | ')} |`),
  ];
  return lines.join('\n');
}
