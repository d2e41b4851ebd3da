import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import type { RedisTarget } from '../../config.js';
import { parseAddress, RedisClusterAdmin } from '../../topology/redis-cluster-admin.js';
import type { PreparedOperation, RebalanceProgress, RedisAddress } from '../../topology/redis-cluster-admin.js';
import { prepareAddUnderUp, stopOnceRemoved, UpClient } from '../../tools/up-client.js';
import type { ProgressStream } from '../../tools/load/load-progress.js';
import { UP_STATE_FILE } from './up.js';
import type { UpState } from './up.js';

export const clusterHelp = `freshcache cluster add-node [host:port] [--seed host:port[,…]] [--state FILE]
freshcache cluster remove-node <node id|host:port> [--seed …] [--state FILE]
freshcache cluster rebalance [--seed …] [--state FILE]
freshcache cluster list [--seed …] [--state FILE]

Reshards a Redis Cluster with Redis's own migration (redis-cli --cluster, which must be on the
PATH: Debian's redis-tools), while clients go on reading and writing (they follow MOVED and ASK):

  add-node      joins a running, empty, cluster-enabled redis-server as a primary and moves its
                share of the slots onto it. Without host:port, on the cluster of a running
                \`freshcache up --redis cluster\` (no --seed): up starts the new redis-server
                itself and supervises it as redis-PORT, like its other Redis nodes
  remove-node   moves every slot of a primary to the others, then has every node forget it (its
                replicas serve a remaining primary); the server keeps running, empty, unless
                up started it: then up stops it and stops supervising it
  rebalance     evens the slots out across the primaries (nothing moves within 2 %)
  list          the nodes, their roles and how many slots each serves

  --seed LIST          nodes of the cluster, host:port, comma-separated (one is enough)
  --state FILE         otherwise: the up.json of a running \`freshcache up --redis cluster\`
                       (default ~/.freshcache/up.json, the last up started)
  --keys-per-migrate N keys moved per MIGRATE call (default 10)

A progress bar on a terminal, one line per step otherwise. An operation cut short leaves a slot
open: \`redis-cli --cluster fix <host:port>\` closes it.`;

const ACTIONS = ['add-node', 'remove-node', 'rebalance', 'list'] as const;
type Action = (typeof ACTIONS)[number];

export async function cluster(argv: string[]): Promise<void> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      seed: { type: 'string' },
      state: { type: 'string', default: UP_STATE_FILE },
      'keys-per-migrate': { type: 'string', default: '10' },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) {
    console.log(clusterHelp);
    return;
  }
  const [action, node, ...extra] = positionals as [Action | undefined, string | undefined, ...string[]];
  const takesNode = action === 'add-node' || action === 'remove-node';
  if (!action || !ACTIONS.includes(action) || extra.length > 0 || (!takesNode && node !== undefined) || (action === 'remove-node' && node === undefined)) {
    throw new Error(`usage: freshcache cluster add-node [host:port] | remove-node <id|host:port> | rebalance | list (freshcache cluster --help)`);
  }
  const keysPerMigrate = Number(values['keys-per-migrate']);
  if (!Number.isInteger(keysPerMigrate) || keysPerMigrate < 1 || keysPerMigrate > 10_000) throw new Error(`--keys-per-migrate must be 1..10000, got ${values['keys-per-migrate']}`);
  // Without --seed, the cluster of a running up: up then starts and stops the Redis nodes it adds and removes.
  const { seeds, up } = values.seed ? { seeds: values.seed.split(',').map((s) => parseAddress(s)), up: undefined } : await clusterOfUp(values.state);
  const admin = new RedisClusterAdmin({ seeds, keysPerMigrate });

  if (action === 'list') {
    for (const n of await admin.nodes()) {
      console.log(`${n.id}  ${n.address.padEnd(21)} ${n.role === 'master' ? `primary  ${n.slots} slots` : `replica  of ${n.masterId}`}${n.unhealthy ? '  (failed)' : ''}`);
    }
    return;
  }
  let prepared: PreparedOperation;
  if (action === 'add-node' && node === undefined) {
    if (!up) throw new Error('add-node needs the host:port of a running, empty, cluster-enabled redis-server (with --seed, no freshcache up starts one)');
    prepared = await prepareAddUnderUp(admin, up);
    console.log(`freshcache up started redis-${parseAddress(prepared.node!).port} (${prepared.node}) and supervises it`);
  } else if (action === 'add-node') {
    prepared = await admin.prepareAdd(parseAddress(node!));
  } else if (action === 'remove-node') {
    prepared = await admin.prepareRemove(node!);
    if (up) prepared = stopOnceRemoved(prepared, up);
  } else {
    prepared = await admin.prepareRebalance();
  }
  const bar = new ClusterProgress(process.stdout);
  const result = await prepared.run((progress) => bar.update(progress));
  bar.done();
  if (result.phase === 'failed') throw new Error(`${action} failed after ${result.movedSlots} slots: ${result.error}`);
  const seconds = ((result.finishedAt! - result.startedAt) / 1000).toFixed(1);
  console.log(`${action}${result.node ? ` ${result.node}` : ''}: done, ${result.movedSlots.toLocaleString('en-US')} slots moved in ${seconds} s`);
}

/** The Redis of a running `freshcache up` (its control process's configuration, in up's folder), and up's endpoint. */
async function clusterOfUp(stateFile: string): Promise<{ seeds: RedisAddress[]; up: UpClient }> {
  const text = await readFile(stateFile, 'utf8').catch(() => {
    throw new Error(`no --seed, and no running freshcache up: ${stateFile} does not exist`);
  });
  const state = JSON.parse(text) as UpState;
  const config = JSON.parse(await readFile(join(state.dir, 'control.json'), 'utf8').catch(() => '{}')) as { l2?: { redis?: RedisTarget }; log?: { redis?: RedisTarget } };
  const target = config.l2?.redis ?? config.log?.redis;
  if (!target) throw new Error(`the freshcache up of ${stateFile} runs no Redis that this command can find: pass --seed`);
  const up = new UpClient(state.url, state.token);
  if ('cluster' in target) return { seeds: target.cluster, up };
  const url = new URL(target.url);
  return { seeds: [{ host: url.hostname || '127.0.0.1', port: Number(url.port || 6379) }], up };
}

const BAR_WIDTH = 30;

/**
 * A resharding's progress: on a TTY one line redrawn in place (a bar, slots moved, the current
 * move), otherwise a plain line at each phase, each move redis-cli announces, and each tenth of the way.
 */
export class ClusterProgress {
  private drawn = false;
  private lastPhase = '';
  private lastMoves = 0;
  private lastTenth = 0;

  constructor(private readonly stream: ProgressStream) {}

  update(progress: RebalanceProgress): void {
    const planned = Math.max(progress.plannedSlots, progress.movedSlots);
    const count = `${progress.movedSlots.toLocaleString('en-US')} / ${planned.toLocaleString('en-US')} slots`;
    const move = progress.moves.at(-1);
    if (this.stream.isTTY) {
      const filled = planned === 0 ? 0 : Math.round((progress.movedSlots / planned) * BAR_WIDTH);
      const step = progress.phase === 'moving' && move ? `${move.from} → ${move.to}` : progress.phase;
      this.stream.write(`\r\x1b[K[${'#'.repeat(filled)}${'.'.repeat(BAR_WIDTH - filled)}] ${count}  ${step}`);
      this.drawn = true;
      return;
    }
    const tenth = planned === 0 ? 0 : Math.floor((progress.movedSlots / planned) * 10);
    if (progress.phase !== this.lastPhase) this.stream.write(`${progress.phase}: ${count}\n`);
    else if (progress.moves.length !== this.lastMoves && move) this.stream.write(`moving ${move.slots} slots from ${move.from} to ${move.to}\n`);
    else if (tenth > this.lastTenth) this.stream.write(`moving: ${count}\n`);
    this.lastPhase = progress.phase;
    this.lastMoves = progress.moves.length;
    this.lastTenth = tenth;
  }

  /** Ends the redrawn line, so what follows starts on a line of its own. */
  done(): void {
    if (this.drawn) this.stream.write('\n');
    this.drawn = false;
  }
}
