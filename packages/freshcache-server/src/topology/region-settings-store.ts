import type { Cluster, Redis } from 'ioredis';
import type { RegionSettings } from './region.js';

/** Where a change is in the log: its epoch (0 before any), then its id. */
export interface LogPlace {
  epoch: number;
  id: number;
}

/**
 * Where a deployment keeps the region settings changed at run time (PATCH /api/regions), so that a
 * node started later serves its region as the others do. Each setting is kept with the log place
 * of the change that set it, and a change recorded late never undoes a later one: every process
 * that reads the change records it, in any order.
 */
export interface RegionSettingsStore {
  /** Every region's changed settings. */
  load(): Promise<Record<string, Partial<RegionSettings>>>;
  /** Records `settings` of `region`, changed by the event at log place `at`. */
  save(region: string, settings: Partial<RegionSettings>, at: LogPlace): Promise<void>;
}

/** Whether `a` comes after `b` in the log: a later epoch, or the same epoch and a later id. */
function after(a: LogPlace, b: LogPlace): boolean {
  return a.epoch > b.epoch || (a.epoch === b.epoch && a.id > b.id);
}

/** One process's store: the embedded deployment, whose nodes all live in it. */
export class MemoryRegionSettings implements RegionSettingsStore {
  private readonly saved = new Map<string, { value: unknown; at: LogPlace }>();

  async load(): Promise<Record<string, Partial<RegionSettings>>> {
    return group([...this.saved].map(([field, { value }]) => [field, value]));
  }

  async save(region: string, settings: Partial<RegionSettings>, at: LogPlace): Promise<void> {
    for (const [name, value] of Object.entries(settings)) {
      const field = `${region}/${name}`;
      const held = this.saved.get(field);
      if (!held || after(at, held.at)) this.saved.set(field, { value, at });
    }
  }
}

/**
 * KEYS: the hash. ARGV: epoch, id, then field and JSON value pairs. A field set at a later log
 * place stays. The place is kept as text: cjson writes numbers with 14 digits, and ids have 16.
 */
const SAVE = `
local epoch, id = tonumber(ARGV[1]), tonumber(ARGV[2])
for i = 3, #ARGV, 2 do
  local held = redis.call('HGET', KEYS[1], ARGV[i])
  local newer = true
  if held then
    local was = cjson.decode(held)
    local wasEpoch, wasId = tonumber(was['epoch']), tonumber(was['id'])
    newer = epoch > wasEpoch or (epoch == wasEpoch and id > wasId)
  end
  if newer then
    redis.call('HSET', KEYS[1], ARGV[i], cjson.encode({ epoch = ARGV[1], id = ARGV[2], value = cjson.decode(ARGV[i + 1]) }))
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

  async save(region: string, settings: Partial<RegionSettings>, at: LogPlace): Promise<void> {
    const pairs = Object.entries(settings).flatMap(([name, value]) => [`${region}/${name}`, JSON.stringify(value)]);
    if (pairs.length > 0) await this.redis.eval(SAVE, 1, this.key, String(at.epoch), String(at.id), ...pairs);
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
