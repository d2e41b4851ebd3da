/** A cell starting with one of these is run as a formula by spreadsheets (a tab or CR in front of one too). */
const FORMULA_START = /^[=+\-@\t\r]/;

/**
 * RFC 4180 CSV: fields with a comma, quote or line break are quoted, quotes doubled. Text that
 * starts with =, +, -, @, a tab or a carriage return gets a single quote in front, as OWASP
 * recommends against CSV injection: the file is meant for spreadsheets, and a cache key or tag
 * such as `=HYPERLINK(...)` must show as text, not run. Numbers are written as they are.
 */
export function toCsv(header: string[], rows: (string | number | null | undefined)[][]): string {
  const field = (value: string | number | null | undefined) => {
    const text = value === null || value === undefined ? '' : typeof value === 'string' && FORMULA_START.test(value) ? `'${value}` : String(value);
    return /[",\r\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
  };
  return [header, ...rows].map((row) => row.map(field).join(',')).join('\r\n') + '\r\n';
}

/** Offers `text` to the user as a file download. */
export function download(fileName: string, text: string, type = 'text/csv'): void {
  const url = URL.createObjectURL(new Blob([text], { type }));
  const link = document.createElement('a');
  link.href = url;
  link.download = fileName;
  link.click();
  URL.revokeObjectURL(url);
}
