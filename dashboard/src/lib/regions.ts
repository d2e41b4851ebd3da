/** How regions look and in which order they are listed, on every page. */

/** Regions with a colour in styles.css. */
const THEMED = new Set(['us-east', 'eu-west', 'ap-south']);

/** For regions styles.css has no colour for: distinct from the themed ones on the dark background. */
const FALLBACK_PALETTE = ['#7ee787', '#ff7b72', '#f2cc60', '#79c0ff', '#d2a8ff', '#ffa198', '#56d4dd', '#e3b341'];

/** The region's colour; an unknown name always gets the same fallback, on every chart and page. */
export function regionColor(name: string): string {
  if (THEMED.has(name)) return `var(--${name})`;
  let hash = 0;
  for (const char of name) hash = (hash * 31 + char.charCodeAt(0)) >>> 0;
  return FALLBACK_PALETTE[hash % FALLBACK_PALETTE.length]!;
}

/**
 * `names` in the server's configuration order (`/api/info`), then any it does not know in the
 * order given, so columns and lines keep their place while data comes and goes.
 */
export function orderRegions(names: Iterable<string>, configured: readonly string[] = []): string[] {
  const present = new Set(names);
  return [...configured.filter((name) => present.has(name)), ...[...present].filter((name) => !configured.includes(name))];
}
