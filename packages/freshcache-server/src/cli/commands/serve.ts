import { parseArgs } from 'node:util';
import type { ConfigInput } from '../../config.js';
import { resolveConfig } from '../../config.js';
import { ENV_OVERRIDES, loadConfigFile } from '../../config-file.js';
import { DemoApp } from '../../demo/demo-app.js';
import { buildApp } from '../../server/app.js';
import { createTopology } from '../../topology/topology.js';
import type { Topology, TopologyOptions } from '../../topology/topology.js';
import { untilSignal } from '../until-signal.js';

/** The environment overrides, one per line, for the help of the commands that read a config file. */
export const envOverridesHelp = Object.entries(ENV_OVERRIDES)
  .map(([name, what]) => `  ${name.padEnd(24)} ${what}`)
  .join('\n');

export const serveHelp = `freshcache serve --config FILE

Runs the roles FILE names (edge nodes for some regions, a relay candidate) on the adapters it
names (PostgreSQL or PGlite, Redis or memory), with the HTTP API. FILE is JSON; its schema is in
docs/operations.md. Environment variables override it:
${envOverridesHelp}`;

export async function serve(argv: string[]): Promise<void> {
  const file = configArgument('serve', argv, serveHelp);
  if (!file) return;
  await runConfig(await loadConfigFile(file), (topology) => {
    const roles = [...topology.config.roles.regions, ...(topology.config.roles.relay ? ['relay'] : [])].join(', ') || 'API only';
    return `serving ${roles}`;
  });
}

/** `--config FILE` of a command; undefined when --help was asked (and printed). */
export function configArgument(command: string, argv: string[], help: string): string | undefined {
  const { values } = parseArgs({ args: argv, options: { config: { type: 'string' }, help: { type: 'boolean', short: 'h', default: false } } });
  if (values.help) {
    console.log(help);
    return undefined;
  }
  if (!values.config) throw new Error(`${command} needs --config FILE\n\n${help}`);
  return values.config;
}

/**
 * The one place a process of the CLI starts: the topology and its HTTP face, with the demo app
 * on both when the configuration runs it (`demo`, by default when it has no capture rules).
 */
export async function startTopology(input: ConfigInput, options: Omit<TopologyOptions, 'config' | 'apps'> = {}) {
  const apps = resolveConfig(input).demo ? [new DemoApp()] : [];
  const topology = await createTopology({ ...options, config: input, apps });
  try {
    return { topology, app: await buildApp({ topology, apps }), apps };
  } catch (error) {
    await topology.close();
    throw error;
  }
}

/**
 * Runs a configuration with the HTTP API on its port until SIGTERM or SIGINT, then stops cleanly.
 * `describe` says what this process serves, in the one line printed once it listens.
 */
export async function runConfig(input: ConfigInput, describe: (topology: Topology) => string): Promise<void> {
  const { topology, app } = await startTopology(input);
  await app.listen({ port: topology.config.port, host: topology.config.host });
  const address = app.server.address();
  const port = typeof address === 'object' && address ? address.port : topology.config.port;
  if (process.env.FRESHCACHE_STOP_WITH_PARENT === '1') {
    // Started by `freshcache up` (or a test) with a pipe on stdin: when that parent dies, even by
    // SIGKILL, the pipe closes, and this process stops instead of running on as an orphan.
    process.stdin.once('end', () => process.kill(process.pid, 'SIGTERM'));
    process.stdin.resume();
  }
  // Where other processes forward a drain of this node: a wildcard address is reached on loopback.
  const host = ['0.0.0.0', '::'].includes(topology.config.host) ? '127.0.0.1' : topology.config.host;
  await topology.presence.listening(`http://${host.includes(':') ? `[${host}]` : host}:${port}`);
  // One line a supervisor (or `freshcache up`) can wait for.
  console.log(`freshcache ${topology.config.nodeId} ${describe(topology)} at http://${topology.config.host}:${port}`);
  await untilSignal();
  await app.close();
  await topology.close();
}
