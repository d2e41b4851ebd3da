/**
 * Where a load goes, resolved from the command line by asking the targets: which region each
 * target reads, each region's delay, and the keys. A target that is not freshcache (it answers
 * no `/api/info`) is still a target: it is named by the user, by the read path, or by its host.
 */

/** One place reads go: a region served at an origin, with the path of a key there. */
export interface ReadTarget {
  region: string;
  /** scheme://host:port, the pool's key. */
  origin: string;
  /** The read path with the region filled in and the target's own path prefix in front; `{id}` is left. */
  pathTemplate: string;
}

export interface TargetSpec {
  /** The region the user named (`us-east=http://…`). */
  region?: string;
  url: URL;
}

/** `--target URL[,URL…]`, each optionally `region=URL`. */
export function parseTargets(text: string): TargetSpec[] {
  const specs = text
    .split(',')
    .map((part) => part.trim())
    .filter((part) => part !== '')
    .map((part) => {
      const named = /^([A-Za-z0-9_.-]+)=(.+)$/.exec(part);
      const raw = named ? named[2]! : part;
      let url: URL;
      try {
        url = new URL(raw);
      } catch {
        throw new Error(`--target: "${raw}" is not a URL`);
      }
      if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new Error(`--target: "${raw}" is not an http(s) URL`);
      return named ? { region: named[1]!, url } : { url };
    });
  if (specs.length === 0) throw new Error('--target needs at least one URL');
  return specs;
}

/** `--delay us-east=100,eu-west=300` (milliseconds). */
export function parseDelays(text: string): Map<string, number> {
  const delays = new Map<string, number>();
  for (const part of text.split(',').map((p) => p.trim()).filter(Boolean)) {
    const match = /^([A-Za-z0-9_.-]+)=(\d+(?:\.\d+)?)$/.exec(part);
    if (!match) throw new Error(`--delay: "${part}" is not region=ms`);
    delays.set(match[1]!, Number(match[2]));
  }
  return delays;
}

export type FetchJson = (url: string) => Promise<unknown>;

/** GET a JSON document; undefined when the target does not answer it with a 2xx (it may not be freshcache). */
export const fetchJson: FetchJson = async (url) => {
  try {
    const response = await fetch(url, { signal: AbortSignal.timeout(3_000) });
    if (!response.ok) {
      await response.arrayBuffer();
      return undefined;
    }
    return await response.json();
  } catch {
    return undefined;
  }
};

interface Info {
  regions?: string[];
  roles?: { regions?: string[] };
}

/**
 * One read target per region a target serves. A named target reads that region; otherwise the
 * regions its `/api/info` says it serves (the demo's one process serves all three); otherwise the
 * region the read path names (`/edge/us-east/…`), or the target's host.
 */
export async function resolveTargets(specs: TargetSpec[], readPath: string, get: FetchJson = fetchJson): Promise<ReadTarget[]> {
  const targets: ReadTarget[] = [];
  for (const spec of specs) {
    const prefix = spec.url.pathname.replace(/\/+$/, '');
    let regions: string[];
    if (spec.region) regions = [spec.region];
    else {
      const info = (await get(`${spec.url.origin}${prefix}/api/info`)) as Info | undefined;
      const served = info?.roles?.regions?.length ? info.roles.regions : (info?.regions ?? []);
      regions = served.length > 0 ? served : [/\/edge\/([^/{}]+)\//.exec(readPath)?.[1] ?? spec.url.host];
    }
    for (const region of regions) targets.push({ region, origin: spec.url.origin, pathTemplate: prefix + readPath.replaceAll('{region}', encodeURIComponent(region)) });
  }
  return targets;
}

interface RegionDescription {
  name: string;
  delayMs?: number;
  jitter?: number;
  mode?: string;
  ttlMs?: number;
}

/**
 * Each region's delay: `--delay` first, then what `/api/regions` of a target says. The most an
 * invalidation may take there by design: the delay plus its jitter; in ttl mode, where changes
 * are ignored and entries only expire, the TTL. Regions no one knows are listed in `unknown`.
 */
export async function resolveDelays(
  targets: ReadTarget[],
  given: ReadonlyMap<string, number>,
  get: FetchJson = fetchJson,
): Promise<{ delays: Map<string, number>; unknown: string[] }> {
  const delays = new Map(given);
  const wanted = () => targets.filter((t) => !delays.has(t.region));
  for (const origin of new Set(wanted().map((t) => t.origin))) {
    const answer = (await get(`${origin}/api/regions`)) as { items?: RegionDescription[] } | undefined;
    for (const region of answer?.items ?? []) {
      if (delays.has(region.name) || typeof region.delayMs !== 'number') continue;
      const delayMs = region.mode === 'ttl' && typeof region.ttlMs === 'number' ? region.ttlMs : region.delayMs * (1 + (region.jitter ?? 0));
      delays.set(region.name, delayMs);
    }
  }
  const unknown = [...new Set(wanted().map((t) => t.region))];
  for (const region of unknown) delays.set(region, 0);
  return { delays, unknown };
}
