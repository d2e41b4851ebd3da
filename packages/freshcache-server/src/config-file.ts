import { readFile } from 'node:fs/promises';
import { Ajv } from 'ajv';
import type { ErrorObject } from 'ajv';
import { CAPTURE_RULES_SCHEMA, CacheSettingsSchema, FreshcacheError } from 'freshcache';
import type { ConfigInput } from './config.js';
import { RegionInputSchema } from './topology/region-schema.js';

const redisTarget = {
  oneOf: [
    { type: 'object', required: ['url'], additionalProperties: false, properties: { url: { type: 'string', pattern: '^rediss?://' } } },
    {
      type: 'object',
      required: ['cluster'],
      additionalProperties: false,
      properties: {
        cluster: {
          type: 'array',
          minItems: 1,
          items: {
            type: 'object',
            required: ['host', 'port'],
            additionalProperties: false,
            properties: { host: { type: 'string', minLength: 1 }, port: { type: 'integer', minimum: 1, maximum: 65535 } },
          },
        },
      },
    },
  ],
};

/**
 * The shape of a config file. A region and the limits are the library's and the topology's own
 * schemas (the limits PATCH /api/regions and createCache apply too); resolveConfig adds the
 * cross-field rules.
 */
export const CONFIG_SCHEMA = {
  type: 'object',
  additionalProperties: false,
  properties: {
    $schema: { type: 'string' },
    port: { type: 'integer', minimum: 0, maximum: 65535 },
    host: { type: 'string', minLength: 1 },
    trustProxy: { type: 'array', maxItems: 64, items: { type: 'string', minLength: 1, maxLength: 64 } },
    nodeId: { type: 'string', minLength: 1, maxLength: 128 },
    demo: { type: 'boolean' },
    seed: { type: 'boolean' },
    roles: {
      type: 'object',
      additionalProperties: false,
      properties: { regions: { type: 'array', items: { type: 'string' } }, relay: { type: 'boolean' } },
    },
    regions: {
      type: 'array',
      minItems: 1,
      items: RegionInputSchema,
    },
    limits: {
      type: 'object',
      additionalProperties: false,
      properties: {
        maxKeyBytes: CacheSettingsSchema.properties.maxKeyBytes,
        maxValueBytes: CacheSettingsSchema.properties.maxValueBytes,
        bodyLimitBytes: { type: 'integer', minimum: 1 },
      },
    },
    origin: {
      oneOf: [
        { type: 'object', required: ['kind'], additionalProperties: false, properties: { kind: { const: 'pglite' }, dataDir: { type: 'string' } } },
        { type: 'object', required: ['kind', 'url'], additionalProperties: false, properties: { kind: { const: 'postgres' }, url: { type: 'string', pattern: '^postgres(ql)?://' } } },
      ],
    },
    capture: {
      // The discriminator reports only the errors of the kind given, not of every alternative.
      type: 'object',
      required: ['kind'],
      discriminator: { propertyName: 'kind' },
      oneOf: [
        { type: 'object', required: ['kind'], additionalProperties: false, properties: { kind: { const: 'outbox' }, rules: CAPTURE_RULES_SCHEMA } },
        { type: 'object', required: ['kind'], additionalProperties: false, properties: { kind: { const: 'wal' }, slot: { type: 'string', pattern: '^[a-z_][a-z0-9_]{0,55}$' }, rules: CAPTURE_RULES_SCHEMA } },
      ],
    },
    relay: {
      type: 'object',
      additionalProperties: false,
      properties: { pollMs: { type: 'integer', minimum: 10 }, electionMs: { type: 'integer', minimum: 10 } },
    },
    nodes: {
      type: 'object',
      additionalProperties: false,
      properties: { heartbeatMs: { type: 'integer', minimum: 10 }, downAfterMs: { type: 'integer', minimum: 11 }, removeAfterMs: { type: 'integer', minimum: 12 } },
    },
    log: {
      oneOf: [
        { type: 'object', required: ['kind'], additionalProperties: false, properties: { kind: { const: 'memory' }, retain: { type: 'integer', minimum: 1 } } },
        {
          type: 'object',
          required: ['kind', 'redis'],
          additionalProperties: false,
          properties: {
            kind: { const: 'redis' },
            redis: redisTarget,
            retain: { type: 'integer', minimum: 1 },
            namespace: { type: 'string' },
            cutOffMs: { type: 'integer', minimum: 100 },
            replication: {
              type: 'object',
              additionalProperties: false,
              properties: { wait: { enum: ['auto', 'always', 'never'] }, timeoutMs: { type: 'integer', minimum: 1 } },
            },
          },
        },
      ],
    },
    l2: {
      oneOf: [
        { type: 'object', required: ['kind'], additionalProperties: false, properties: { kind: { const: 'memory' } } },
        { type: 'object', required: ['kind', 'redis'], additionalProperties: false, properties: { kind: { const: 'redis' }, redis: redisTarget, namespace: { type: 'string' } } },
      ],
    },
  },
} as const;

const validate = new Ajv({ allErrors: true, discriminator: true, verbose: true }).compile<ConfigInput>(CONFIG_SCHEMA);

/**
 * Environment variables that override the file, for the settings that differ per host or per
 * process (twelve-factor style): where PostgreSQL and Redis are, this process's port, name and roles.
 */
export const ENV_OVERRIDES = {
  FRESHCACHE_PORT: 'port',
  FRESHCACHE_HOST: 'host',
  FRESHCACHE_NODE_ID: 'nodeId',
  FRESHCACHE_POSTGRES_URL: 'origin (kind postgres)',
  FRESHCACHE_REDIS_URL: 'log and l2 (kind redis)',
  FRESHCACHE_ROLES: 'roles: "relay" and/or region names, comma-separated',
  FRESHCACHE_CAPTURE: 'capture kind: outbox or wal',
} as const;

/** Parses and validates a config document (file contents), then applies the environment's overrides. */
export function parseConfig(text: string, env: Record<string, string | undefined> = {}, source = 'config'): ConfigInput {
  let document: unknown;
  try {
    document = JSON.parse(text);
  } catch (error) {
    throw new FreshcacheError('bad_request', `${source} is not valid JSON: ${(error as Error).message}`);
  }
  const input = applyEnv(document, env);
  if (!validate(input)) {
    const problems = (validate.errors ?? []).map(describeProblem).join('; ');
    throw new FreshcacheError('bad_request', `${source} is invalid: ${problems}`);
  }
  return input;
}

export async function loadConfigFile(path: string, env: Record<string, string | undefined> = process.env): Promise<ConfigInput> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    throw new FreshcacheError('bad_request', `cannot read config file ${path}: ${(error as Error).message}`);
  }
  return parseConfig(text, env, path);
}

/** The `const` of each alternative's `kind`: the values a discriminated setting takes. */
function kindsOf(schema: unknown): string[] {
  const alternatives = (schema as { oneOf?: { properties?: { kind?: { const?: unknown } } }[] } | undefined)?.oneOf ?? [];
  return alternatives.map((alternative) => String(alternative.properties?.kind?.const));
}

/** Ajv's message for an unknown property leaves out its name, which is the one thing a reader needs (a typo). */
function describeProblem(error: ErrorObject): string {
  const path = error.instancePath || '/';
  if (error.keyword === 'additionalProperties') return `${path} must NOT have additional property "${String(error.params.additionalProperty)}"`;
  if (error.keyword === 'enum') return `${path} must be one of ${(error.params.allowedValues as unknown[]).join(', ')}`;
  if (error.keyword === 'discriminator') {
    const kinds = kindsOf(error.parentSchema).join(', ');
    return `${path}/${String(error.params.tag)} must be one of ${kinds}`;
  }
  return `${path} ${error.message}`;
}

/**
 * Checked here rather than left to the schema, whose message would blame the file for a value
 * that came from the environment.
 */
const ENV_FORMATS: Partial<Record<keyof typeof ENV_OVERRIDES, { valid: (value: string) => boolean; expected: string }>> = {
  FRESHCACHE_PORT: { valid: (value) => /^\d{1,5}$/.test(value) && Number(value) <= 65535, expected: 'a port number (0..65535)' },
  FRESHCACHE_POSTGRES_URL: { valid: (value) => /^postgres(ql)?:\/\//.test(value), expected: 'a postgres:// or postgresql:// URL' },
  FRESHCACHE_REDIS_URL: { valid: (value) => /^rediss?:\/\//.test(value), expected: 'a redis:// or rediss:// URL' },
  FRESHCACHE_CAPTURE: { valid: (value) => value === 'outbox' || value === 'wal', expected: 'outbox or wal' },
};

function checkEnv(env: Record<string, string | undefined>): void {
  for (const [name, format] of Object.entries(ENV_FORMATS)) {
    const value = env[name];
    // An empty value counts as unset, as it does where the overrides are applied (except the port,
    // where it would silently mean "any free port").
    if (value === undefined || (value === '' && name !== 'FRESHCACHE_PORT')) continue;
    if (!format.valid(value)) throw new FreshcacheError('bad_request', `environment variable ${name} must be ${format.expected}, got ${JSON.stringify(value)}`);
  }
}

function applyEnv(document: unknown, env: Record<string, string | undefined>): unknown {
  if (typeof document !== 'object' || document === null || Array.isArray(document)) return document;
  checkEnv(env);
  const input = { ...(document as Record<string, unknown>) };
  if (env.FRESHCACHE_PORT !== undefined) input.port = Number(env.FRESHCACHE_PORT);
  if (env.FRESHCACHE_HOST) input.host = env.FRESHCACHE_HOST;
  if (env.FRESHCACHE_NODE_ID) input.nodeId = env.FRESHCACHE_NODE_ID;
  if (env.FRESHCACHE_POSTGRES_URL) input.origin = { kind: 'postgres', url: env.FRESHCACHE_POSTGRES_URL };
  if (env.FRESHCACHE_CAPTURE) {
    // The kind changes; the rules stay (a slot name only means something to wal).
    const { slot, rules } = (input.capture ?? {}) as { slot?: unknown; rules?: unknown };
    input.capture = { kind: env.FRESHCACHE_CAPTURE, ...(env.FRESHCACHE_CAPTURE === 'wal' && slot !== undefined ? { slot } : {}), ...(rules !== undefined ? { rules } : {}) };
  }
  if (env.FRESHCACHE_REDIS_URL) {
    const redis = { url: env.FRESHCACHE_REDIS_URL };
    input.log = { ...(input.log as object | undefined), kind: 'redis', redis };
    input.l2 = { ...(input.l2 as object | undefined), kind: 'redis', redis };
  }
  if (env.FRESHCACHE_ROLES !== undefined) {
    const roles = env.FRESHCACHE_ROLES.split(',').map((r) => r.trim()).filter(Boolean);
    input.roles = { relay: roles.includes('relay'), regions: roles.filter((r) => r !== 'relay') };
  }
  return input;
}
