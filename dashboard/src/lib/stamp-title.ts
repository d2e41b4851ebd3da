/** The stamp this adds; a previous stamp is replaced, so editing again and again keeps the title short. */
const STAMP = / · [a-z]+ \d\d:\d\d:\d\d$/;

/** The title limit of the content API. */
const MAX_TITLE = 200;

/**
 * A title that visibly differs from `title`: "Article 1 · edited 12:34:56". The demos and the
 * Regions page change an article this way so that the served title shows which write a region has.
 */
export function stampTitle(title: string, label: string, at: Date): string {
  const pad = (n: number) => String(n).padStart(2, '0');
  const stamp = ` · ${label} ${pad(at.getHours())}:${pad(at.getMinutes())}:${pad(at.getSeconds())}`;
  return title.replace(STAMP, '').slice(0, MAX_TITLE - stamp.length) + stamp;
}
