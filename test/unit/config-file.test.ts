import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CONFIG_SCHEMA, ENV_OVERRIDES, loadConfigFile, parseConfig } from '../../packages/freshcache-server/src/config-file.js';
import type { ConfigInput } from '../../packages/freshcache-server/src/config.js';
import { resolveConfig } from '../../packages/freshcache-server/src/config.js';
import { FreshcacheError } from '../../packages/freshcache/src/engine/errors.js';

/** A process of a distributed deployment: PostgreSQL with WAL capture, Redis for the log and the L2. */
const distributed = {
  nodeId: 'us-east-1',
  origin: { kind: 'postgres', url: 'postgres://freshcache@db.internal:5432/app' },
  capture: { kind: 'wal' },
  log: { kind: 'redis', redis: { url: 'redis://cache.internal:6379' } },
  l2: { kind: 'redis', redis: { cluster: [{ host: '10.0.0.1', port: 7000 }, { host: '10.0.0.2', port: 7001 }] } },
  regions: [{ name: 'us-east', delayMs: 0 }, { name: 'eu-west', delayMs: 80 }],
  roles: { regions: ['us-east'], relay: false },
};

/** `value` with the setting at `path` replaced (or added). */
function withSetting(value: object, path: string[], setting: unknown): object {
  const [head, ...rest] = path;
  const copy: Record<string, unknown> = Array.isArray(value) ? ([...value] as unknown as Record<string, unknown>) : { ...value };
  copy[head!] = rest.length === 0 ? setting : withSetting((copy[head!] as object | undefined) ?? {}, rest, setting);
  return copy;
}

const parse = (document: unknown, env: Record<string, string | undefined> = {}) => parseConfig(JSON.stringify(document), env, 'freshcache.json');
const resolve = (document: unknown, env: Record<string, string | undefined> = {}) => resolveConfig(parse(document, env));

/** The FreshcacheError `run` throws (failing the test if it throws none, or something else). */
function caught(run: () => unknown): FreshcacheError {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(FreshcacheError);
    return error as FreshcacheError;
  }
  throw new Error('expected a FreshcacheError, but nothing was thrown');
}

describe('parseConfig and resolveConfig: a valid file', () => {
  it('resolves a distributed config with the defaults filled in', () => {
    const config = resolve(distributed);
    expect(config).toMatchObject({
      port: 3000,
      host: '127.0.0.1',
      nodeId: 'us-east-1',
      roles: { regions: ['us-east'], relay: false },
      origin: { kind: 'postgres', url: 'postgres://freshcache@db.internal:5432/app' },
      capture: { kind: 'wal', slot: 'freshcache_relay' },
      relay: { pollMs: 1000, electionMs: 1000 },
      log: { kind: 'redis', redis: { url: 'redis://cache.internal:6379' }, retain: 10_000, namespace: 'freshcache:', cutOffMs: 1_000, replication: { wait: 'auto', timeoutMs: 1_000 } },
      l2: { kind: 'redis', redis: { cluster: [{ host: '10.0.0.1', port: 7000 }, { host: '10.0.0.2', port: 7001 }] }, namespace: 'freshcache:l2:' },
      seed: true,
    });
    expect(config.regions.map((r) => [r.name, r.delayMs, r.strategy, r.l1.policy])).toEqual([
      ['us-east', 0, 'eager', 'lru'],
      ['eu-west', 80, 'eager', 'lru'],
    ]);
    expect(Object.isFrozen(config.log)).toBe(true);
  });

  it('keeps what the file sets over the defaults', () => {
    const config = resolve({
      ...distributed,
      $schema: './freshcache.schema.json',
      capture: { kind: 'wal', slot: 'edge_relay' },
      relay: { pollMs: 50, electionMs: 250 },
      log: { ...distributed.log, retain: 500, namespace: 'app:', cutOffMs: 2_500, replication: { wait: 'always' } },
      l2: { kind: 'redis', redis: { url: 'rediss://l2.internal:6380' }, namespace: 'app:l2:' },
    });
    expect(config).toMatchObject({
      capture: { slot: 'edge_relay' },
      relay: { pollMs: 50, electionMs: 250 },
      log: { retain: 500, namespace: 'app:', cutOffMs: 2_500, replication: { wait: 'always', timeoutMs: 1_000 } },
      l2: { redis: { url: 'rediss://l2.internal:6380' }, namespace: 'app:l2:' },
    });
  });

  it('an empty file is the embedded demo: PGlite, outbox, memory log and L2, every role', () => {
    const config = resolve({});
    expect(config).toMatchObject({ origin: { kind: 'pglite' }, capture: { kind: 'outbox' }, log: { kind: 'memory', retain: 10_000 }, l2: { kind: 'memory' } });
    expect(config.roles).toEqual({ regions: ['us-east', 'eu-west', 'ap-south'], relay: true });
  });

  it('a resolved config, written back as a file, is valid and resolves to itself (the schema knows every setting)', () => {
    const config = resolve(distributed);
    expect(Object.keys(CONFIG_SCHEMA.properties).sort()).toEqual(['$schema', ...Object.keys(config)].sort());
    expect(resolve(JSON.parse(JSON.stringify(config)))).toEqual(config);
  });
});

describe('parseConfig: an invalid file', () => {
  it('refuses text that is not JSON, naming the file', () => {
    const error = caught(() => parseConfig('{ "port": 3000, }', {}, '/etc/freshcache.json'));
    expect(error.code).toBe('bad_request');
    expect(error.message).toMatch(/^\/etc\/freshcache\.json is not valid JSON/);
  });

  it.each([
    ['an unknown top-level property', ['prot'], 3000, /\/ must NOT have additional property "prot"/],
    ['an unknown nested property', ['limits', 'maxKeyBytez'], 10, /\/limits must NOT have additional property "maxKeyBytez"/],
    ['a string port', ['port'], '3000', /\/port must be integer/],
    ['a port out of range', ['port'], 70000, /\/port must be <= 65535/],
    ['a string seed', ['seed'], 'yes', /\/seed must be boolean/],
    ['roles.regions not an array', ['roles', 'regions'], 'us-east', /\/roles\/regions must be array/],
    ['an unknown strategy', ['regions'], [{ name: 'us-east', strategy: 'sometimes' }], /\/regions\/0\/strategy must be one of eager, lazy/],
    ['an unknown tier policy', ['regions'], [{ name: 'us-east', l1: { policy: 'fifo' } }], /\/regions\/0\/l1\/policy must be one of lru, lfu/],
    ['an unknown origin kind', ['origin'], { kind: 'mysql', url: 'mysql://db' }, /\/origin\/kind must be equal to constant/],
    ['an unknown capture kind', ['capture'], { kind: 'logical' }, /\/capture\/kind must be one of outbox, wal/],
    ['a slot with outbox capture', ['capture'], { kind: 'outbox', slot: 'x' }, /\/capture must NOT have additional property "slot"/],
    ['a WAL slot that is not a lowercase SQL name', ['capture'], { kind: 'wal', slot: "x'); DROP TABLE users; --" }, /\/capture\/slot must match pattern/],
    ['a log redis url that is not redis://', ['log', 'redis'], { url: 'http://cache.internal:6379' }, /\/log\/redis\/url must match pattern/],
    ['an l2 redis url that is not redis://', ['l2', 'redis'], { url: 'cache.internal:6379' }, /\/l2\/redis\/url must match pattern/],
    ['an empty cluster', ['l2', 'redis'], { cluster: [] }, /\/l2\/redis\/cluster must NOT have fewer than 1 items/],
    ['a cluster node without a port', ['l2', 'redis'], { cluster: [{ host: 'a' }] }, /\/l2\/redis\/cluster\/0 must have required property 'port'/],
    ['a postgres url that is not postgres://', ['origin', 'url'], 'mysql://db.internal/app', /\/origin\/url must match pattern/],
    ['a pollMs below 10', ['relay', 'pollMs'], 5, /\/relay\/pollMs must be >= 10/],
    ['a retain of 0', ['log', 'retain'], 0, /\/log\/retain must be >= 1/],
    ['a log cut-off below 100 ms', ['log', 'cutOffMs'], 50, /\/log\/cutOffMs must be >= 100/],
    ['an unknown log replication wait', ['log', 'replication'], { wait: 'sometimes' }, /\/log\/replication\/wait must be one of auto, always, never/],
    ['a log replication timeout of 0', ['log', 'replication'], { timeoutMs: 0 }, /\/log\/replication\/timeoutMs must be >= 1/],
  ])('refuses %s, naming its path', (_what, path, setting, message) => {
    const error = caught(() => parse(withSetting(distributed, path, setting)));
    expect(error.code).toBe('bad_request');
    expect(error.message).toMatch(/^freshcache\.json is invalid: /);
    expect(error.message).toMatch(message);
  });

  it('refuses a document that is not an object', () => {
    expect(caught(() => parse([distributed])).message).toMatch(/\/ must be object/);
  });

  it('reports every problem at once', () => {
    const message = caught(() => parse({ port: 'x', seed: 1 })).message;
    expect(message).toMatch(/\/port must be integer/);
    expect(message).toMatch(/\/seed must be boolean/);
  });
});

describe('parseConfig: environment overrides', () => {
  it.each([
    [{ FRESHCACHE_PORT: '8080' }, { port: 8080 }],
    [{ FRESHCACHE_PORT: '0' }, { port: 0 }],
    [{ FRESHCACHE_HOST: '0.0.0.0' }, { host: '0.0.0.0' }],
    [{ FRESHCACHE_NODE_ID: 'eu-west-7' }, { nodeId: 'eu-west-7' }],
    [{ FRESHCACHE_POSTGRES_URL: 'postgresql://other.internal/app' }, { origin: { kind: 'postgres', url: 'postgresql://other.internal/app' } }],
    [{ FRESHCACHE_ROLES: 'relay,us-east' }, { roles: { relay: true, regions: ['us-east'] } }],
    [{ FRESHCACHE_ROLES: ' us-east , eu-west ' }, { roles: { relay: false, regions: ['us-east', 'eu-west'] } }],
    [{ FRESHCACHE_ROLES: 'relay' }, { roles: { relay: true, regions: [] } }],
  ])('%j overrides the file', (env, expected) => {
    expect(resolve(distributed, env)).toMatchObject(expected);
  });

  it('FRESHCACHE_ROLES with one region runs only that edge (no relay)', () => {
    const config = resolve({ ...distributed, roles: { relay: true } }, { FRESHCACHE_ROLES: 'eu-west' });
    expect(config.roles).toEqual({ relay: false, regions: ['eu-west'] });
  });

  it('FRESHCACHE_POSTGRES_URL replaces a PGlite origin with its data dir', () => {
    expect(parse({ origin: { kind: 'pglite', dataDir: '/var/lib/fc' } }, { FRESHCACHE_POSTGRES_URL: 'postgres://db/app' }).origin).toEqual({ kind: 'postgres', url: 'postgres://db/app' });
  });

  it('FRESHCACHE_REDIS_URL puts both the log and the L2 on that Redis, keeping their other settings', () => {
    const config = resolve(
      { ...distributed, log: { kind: 'memory', retain: 42 }, l2: { ...distributed.l2, namespace: 'app:l2:' } },
      { FRESHCACHE_REDIS_URL: 'redis://10.1.1.1:6379' },
    );
    expect(config.log).toEqual({ kind: 'redis', redis: { url: 'redis://10.1.1.1:6379' }, retain: 42, namespace: 'freshcache:', cutOffMs: 1_000, replication: { wait: 'auto', timeoutMs: 1_000 } });
    expect(config.l2).toEqual({ kind: 'redis', redis: { url: 'redis://10.1.1.1:6379' }, namespace: 'app:l2:' });
  });

  it('FRESHCACHE_CAPTURE=wal turns WAL capture on, keeping a slot the file names', () => {
    expect(resolve({ ...distributed, capture: { kind: 'outbox' } }, { FRESHCACHE_CAPTURE: 'wal' }).capture).toEqual({ kind: 'wal', slot: 'freshcache_relay', rules: [] });
    expect(resolve({ ...distributed, capture: { kind: 'wal', slot: 'mine' } }, { FRESHCACHE_CAPTURE: 'wal' }).capture).toEqual({ kind: 'wal', slot: 'mine', rules: [] });
  });

  it('FRESHCACHE_CAPTURE=outbox drops the slot the file gave for WAL capture', () => {
    expect(resolve({ ...distributed, capture: { kind: 'wal', slot: 'mine' } }, { FRESHCACHE_CAPTURE: 'outbox' }).capture).toEqual({ kind: 'outbox', rules: [] });
  });

  it('takes capture rules, which FRESHCACHE_CAPTURE keeps; the demo runs by default only on PGlite without rules', () => {
    const rules = [{ table: 'users', key: 'user:{id}', tags: ['org:{org_id}', 'users'] }, { table: 'app.orgs', key: 'org:{id}' }];
    const config = resolve({ ...distributed, capture: { kind: 'wal', rules } });
    expect(config.capture).toEqual({ kind: 'wal', slot: 'freshcache_relay', rules });
    expect(config.demo).toBe(false);
    expect(resolve({ ...distributed, capture: { kind: 'wal', rules } }, { FRESHCACHE_CAPTURE: 'outbox' }).capture).toEqual({ kind: 'outbox', rules });
    // PostgreSQL is the user's database: the demo's table is created only when asked for.
    expect(resolve(distributed).demo).toBe(false);
    expect(resolve({}).demo).toBe(true);
    expect(resolve({ capture: { kind: 'outbox', rules } }).demo).toBe(false);
    expect(resolve({ ...distributed, capture: { kind: 'wal', rules }, demo: true }).demo).toBe(true);
  });

  it('refuses a capture rule of the wrong shape, naming where it is', () => {
    const bad = (rule: unknown) => caught(() => parse({ ...distributed, capture: { kind: 'wal', rules: [rule] } })).message;
    expect(bad({ table: 'users', key: 'user:{id}', tag: ['x'] })).toContain('/capture');
    expect(bad({ table: 'users' })).toContain('/capture');
    expect(bad({ key: 'user:{id}' })).toContain('/capture');
  });

  it('empty variables are ignored, except FRESHCACHE_ROLES, where empty means no roles (API only)', () => {
    const env = { FRESHCACHE_HOST: '', FRESHCACHE_NODE_ID: '', FRESHCACHE_POSTGRES_URL: '', FRESHCACHE_REDIS_URL: '', FRESHCACHE_CAPTURE: '' };
    expect(parse(distributed, env)).toEqual(distributed);
    expect(resolve(distributed, { FRESHCACHE_ROLES: '' }).roles).toEqual({ relay: false, regions: [] });
  });

  it('every variable ENV_OVERRIDES documents changes the config', () => {
    const samples: Record<keyof typeof ENV_OVERRIDES, string> = {
      FRESHCACHE_PORT: '9999',
      FRESHCACHE_HOST: '10.9.9.9',
      FRESHCACHE_NODE_ID: 'other',
      FRESHCACHE_POSTGRES_URL: 'postgres://elsewhere/app',
      FRESHCACHE_REDIS_URL: 'redis://elsewhere:6379',
      FRESHCACHE_ROLES: 'relay',
      FRESHCACHE_CAPTURE: 'outbox',
    };
    for (const [name, value] of Object.entries(samples)) expect(parse(distributed, { [name]: value }), name).not.toEqual(parse(distributed));
  });

  it.each([
    ['FRESHCACHE_PORT', 'abc', /FRESHCACHE_PORT must be a port number \(0\.\.65535\), got "abc"/],
    ['FRESHCACHE_PORT', '80.5', /FRESHCACHE_PORT must be a port number/],
    ['FRESHCACHE_PORT', '70000', /FRESHCACHE_PORT must be a port number/],
    // Empty would otherwise be Number('') = 0: silently any free port.
    ['FRESHCACHE_PORT', '', /FRESHCACHE_PORT must be a port number/],
    ['FRESHCACHE_CAPTURE', 'logical', /FRESHCACHE_CAPTURE must be outbox or wal, got "logical"/],
    ['FRESHCACHE_REDIS_URL', 'cache.internal:6379', /FRESHCACHE_REDIS_URL must be a redis:\/\/ or rediss:\/\/ URL/],
    ['FRESHCACHE_POSTGRES_URL', 'db.internal:5432', /FRESHCACHE_POSTGRES_URL must be a postgres:\/\/ or postgresql:\/\/ URL/],
  ])('refuses %s=%j, naming the variable rather than blaming the file', (name, value, message) => {
    const error = caught(() => parse(distributed, { [name]: value }));
    expect(error.code).toBe('bad_request');
    expect(error.message).toMatch(message);
    expect(error.message).not.toMatch(/freshcache\.json/);
  });

  it('refuses roles from the environment that name an unknown region', () => {
    expect(caught(() => resolve(distributed, { FRESHCACHE_ROLES: 'relay,mars' })).message).toMatch(/roles\.regions names "mars", which is not a configured region/);
  });
});

describe('resolveConfig: rules across settings', () => {
  const embedded: ConfigInput = { regions: [{ name: 'us-east' }, { name: 'eu-west' }] };

  it.each<[string, ConfigInput, RegExp]>([
    ['WAL capture with a PGlite origin', { capture: { kind: 'wal' } }, /capture "wal" needs a postgres origin/],
    ['a redis L2 with a memory log', { l2: { kind: 'redis', redis: { url: 'redis://r:6379' } } }, /a redis L2 \(shared by processes\) needs the redis log/],
    ['only some regions on an embedded origin and log', { roles: { regions: ['us-east'] } }, /running only some roles needs the shared parts/],
    ['no relay on an embedded origin and log', { roles: { relay: false } }, /running only some roles needs the shared parts/],
    [
      'only some roles with a redis log but a PGlite origin',
      { roles: { relay: false }, log: { kind: 'redis', redis: { url: 'redis://r:6379' } } },
      /running only some roles needs the shared parts/,
    ],
    ['only some roles with a postgres origin but a memory log', { roles: { relay: false }, origin: { kind: 'postgres', url: 'postgres://db/app' } }, /running only some roles/],
    ['roles naming an unknown region', { roles: { regions: ['us-east', 'mars'] } }, /roles\.regions names "mars", which is not a configured region/],
    ['a region named twice', { regions: [{ name: 'us-east' }, { name: 'us-east' }] }, /region "us-east" is named twice/],
    ['a region name with capitals', { regions: [{ name: 'US-East' }] }, /region name "US-East" must match/],
    ['a body limit below the value limit', { limits: { maxValueBytes: 2048, bodyLimitBytes: 1024 } }, /bodyLimitBytes must be at least maxValueBytes/],
    ['a WAL slot that is not a lowercase SQL name', { origin: { kind: 'postgres', url: 'postgres://db/app' }, capture: { kind: 'wal', slot: 'Relay-Slot' } }, /capture\.slot must be a lowercase SQL name/],
  ])('refuses %s', (_what, input, message) => {
    const error = caught(() => resolveConfig({ ...embedded, ...input }));
    expect(error.code).toBe('bad_request');
    expect(error.message).toMatch(/^invalid configuration: /);
    expect(error.message).toMatch(message);
  });

  it.each([
    ['a log namespace with braces', ['log', 'namespace'], 'app{1}:', /log\.namespace must not contain braces/],
    ['an L2 namespace with braces', ['l2', 'namespace'], 'l2}:', /l2\.namespace must not contain braces/],
  ])('refuses %s in a valid file', (_what, path, setting, message) => {
    const input = parse(withSetting(distributed, path, setting));
    expect(caught(() => resolveConfig(input)).message).toMatch(message);
  });

  it('allows partial roles once the origin is postgres and the log is redis (the L2 may stay in memory)', () => {
    const config = resolve({ ...distributed, l2: { kind: 'memory' } });
    expect(config.roles).toEqual({ regions: ['us-east'], relay: false });
    expect(config.l2).toEqual({ kind: 'memory' });
  });
});

describe('loadConfigFile', () => {
  let dir: string;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'freshcache-config-'));
  });

  afterAll(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('reads a file and applies the given environment, not the process environment', async () => {
    const file = join(dir, 'node.json');
    await writeFile(file, JSON.stringify(distributed, null, 2));
    expect(await loadConfigFile(file, {})).toEqual(distributed);
    expect(await loadConfigFile(file, { FRESHCACHE_PORT: '4100' })).toEqual({ ...distributed, port: 4100 });
  });

  it('refuses a missing file, naming it', async () => {
    const file = join(dir, 'missing.json');
    const error = await loadConfigFile(file, {}).then(
      () => undefined,
      (reason: unknown) => reason,
    );
    expect(error).toBeInstanceOf(FreshcacheError);
    expect(error).toMatchObject({ code: 'bad_request' });
    expect((error as Error).message).toMatch(new RegExp(`^cannot read config file ${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: .*ENOENT`));
  });

  it('names the file in a validation error', async () => {
    const file = join(dir, 'typo.json');
    await writeFile(file, '{ "prot": 3000 }');
    await expect(loadConfigFile(file, {})).rejects.toThrow(`${file} is invalid: / must NOT have additional property "prot"`);
  });

  it('names the file when it is not JSON', async () => {
    const file = join(dir, 'broken.json');
    await writeFile(file, 'port = 3000');
    await expect(loadConfigFile(file, {})).rejects.toThrow(`${file} is not valid JSON`);
  });
});
