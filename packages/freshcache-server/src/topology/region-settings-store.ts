import type { Cluster, Redis } from 'ioredis';
import type { RegionSettings } from './region.js';

/**
 * Where a deployment keeps the region settings changed at run time (PATCH /api/regions), so that a
 * node started later serves its region as the others do. Each setting is kept with the log
 * position of the change that set it, and a change recorded late never undoes a later one.
 */
export interface RegionSettingsStore {
  /** Every region's changed settings. */
  load(): Promise<Record<string, Partial<RegionSettings>>>;
  /** Records `settings` of `region`, changed by the event at log `position`. */
  save(region: string, settings: Partial<RegionSettings>, position: number): Promise<void>;
}

/** One process's store: the embedded deployment, whose nodes all live in it. */
export class MemoryRegionSettings implements RegionSettingsStore {
  private readonly saved = new Map<string, { value: unknown; position: number }>();

  async load(): Promise<Record<string, Partial<RegionSettings>>> {
    return group([...this.saved].map(([field, { value }]) => [field, value]));
  }

  async save(region: string, settings: Partial<RegionSettings>, position: number): Promise<void> {
    for (const [name, value] of Object.entries(settings)) {
      const field = `${region}/${name}`;
      if ((this.saved.get(field)?.position ?? -1) < position) this.saved.set(field, { value, position });
    }
  }
}

/** KEYS: the hash. ARGV: position, then field and JSON value pairs. A field set by a later position stays. */
const SAVE = `
local position = tonumber(ARGV[1])
for i = 2, #ARGV, 2 do
  local held = redis.call('HGET', KEYS[1], ARGV[i])
  if not held or tonumber(cjson.decode(held)['position']) < position then
    redis.call('HSET', KEYS[1], ARGV[i], cjson.encode({ position = position, value = cjson.decode(ARGV[i + 1]) }))
  end
end
`;

/** On the log's Redis, one hash (`<namespace>{settings}:regions`), a field per region and setting. */
export class RedisRegionSettings implements RegionSettingsStore {
  private readonly key: string;

  constructor(
    private readonly redis: Redis | Cluster,
    namespace: string,
  ) {
    this.key = `${namespace}{settings}:regions`;
  }

  async load(): Promise<Record<string, Partial<RegionSettings>>> {
    const fields = await this.redis.hgetall(this.key);
    return group(Object.entries(fields).map(([field, held]) => [field, (JSON.parse(held) as { value: unknown }).value]));
  }

  async save(region: string, settings: Partial<RegionSettings>, position: number): Promise<void> {
    const pairs = Object.entries(settings).flatMap(([name, value]) => [`${region}/${name}`, JSON.stringify(value)]);
    if (pairs.length > 0) await this.redis.eval(SAVE, 1, this.key, String(position), ...pairs);
  }
}

/** `region/setting` fields as each region's settings. */
function group(fields: [string, unknown][]): Record<string, Partial<RegionSettings>> {
  const regions: Record<string, Record<string, unknown>> = {};
  for (const [field, value] of fields) {
    const at = field.lastIndexOf('/');
    (regions[field.slice(0, at)] ??= {})[field.slice(at + 1)] = value;
  }
  return regions as Record<string, Partial<RegionSettings>>;
}
