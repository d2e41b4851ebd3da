import type { ConfigInput } from '../../config.js';
import { loadConfigFile } from '../../config-file.js';
import { configArgument, envOverridesHelp, runConfig } from './serve.js';

export const relayHelp = `freshcache relay --config FILE

Runs a relay candidate only: it captures the origin's changes and publishes them on the log while
it leads (one candidate leads, by a PostgreSQL advisory lock; the others stand by). It serves no
region, whatever FILE's roles say (FRESHCACHE_ROLES is ignored too), and needs a postgres origin
and a redis log. It listens on FILE's port for /health, /ready and /metrics. FILE is the JSON of
\`freshcache serve\` (docs/operations.md); environment variables override it:
${envOverridesHelp}`;

export async function relay(argv: string[]): Promise<void> {
  const file = configArgument('relay', argv, relayHelp);
  if (!file) return;
  const input = relayOnly(await loadConfigFile(file), file);
  await runConfig(input, (topology) => `serving relay (a relay candidate, ${topology.relayState === 'running' ? 'leading' : 'standing by'})`);
}

/**
 * The relay role alone. Embedded parts are refused: a relay on PGlite or a memory log would
 * relay to itself, and no other process could hear it.
 */
function relayOnly(input: ConfigInput, file: string): ConfigInput {
  const origin = input.origin?.kind ?? 'pglite';
  const log = input.log?.kind ?? 'memory';
  if (origin !== 'postgres') throw new Error(`relay needs a postgres origin (${file} has ${origin}; set origin or FRESHCACHE_POSTGRES_URL)`);
  if (log !== 'redis') throw new Error(`relay needs a redis log (${file} has ${log}; set log or FRESHCACHE_REDIS_URL)`);
  return { ...input, roles: { regions: [], relay: true } };
}
