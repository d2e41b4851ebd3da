import type { ChainableCommander, Cluster, Redis } from 'ioredis';
import type { Clock, Timer } from '../../engine/clock.js';
import { systemClock } from '../../engine/clock.js';
import { FreshcacheError } from '../../engine/errors.js';
import type { GapInfo, GroupSubscription, InvalidationEvent, InvalidationInput, InvalidationLog, Subscription } from '../../seams/invalidation-log.js';
import { redisFailure } from './redis-unavailable.js';
import { RedisNodeRegistry } from './redis-node-registry.js';

export interface RedisStreamLogOptions {
  redis: Redis | Cluster;
  /** Prefix of the log's keys. They share one hash slot (`<namespace>{log}:…`), so the publish script runs in a cluster. */
  namespace?: string;
  /** Events kept for late readers (exact MAXLEN): a reader further behind than this reports a gap. */
  retain?: number;
  clock?: Clock;
  /**
   * The cut-off: a reader that has had no news from Redis for this long (no read that worked: a
   * closed socket, or a silent one, e.g. a paused or partitioned server) reports a gap, and its
   * node flushes its L1. So it bounds how long a node serves its L1 while the log is unreachable.
   * Default DEFAULT_CUT_OFF_MS.
   */
  cutOffMs?: number;
  /**
   * Longest a blocking read waits before it looks again: the reader's heartbeat. Capped at half
   * the cut-off, so that an idle but healthy log always answers within it.
   */
  blockMs?: number;
  /** A group consumer's unacknowledged event is handed out again after this long. */
  claimAfterMs?: number;
  batchSize?: number;
  onError?: (error: unknown, context: string) => void;
  /** Whether an append waits for a replica of the log's primary (default `{ wait: 'auto', timeoutMs: 1000 }`): see LogReplication. */
  replication?: Partial<LogReplication>;
  /**
   * Called when appends start or stop going on unreplicated ('auto' found the log's primary with
   * no connected replica): once per change, so a server can warn and set a gauge.
   */
  onReplicationChange?: (state: { unreplicated: boolean }) => void;
}

/**
 * Replicated appends. Redis replication is asynchronous: an append acknowledged by a primary that
 * then fails over can be lost with the tail its replica never got. So `publishMany` sends
 * `WAIT 1 <timeoutMs>` right after its script, on the primary's connection, and resolves only
 * once a replica holds the batch; otherwise it rejects with `log_unreplicated` (the batch may or
 * may not survive: the caller retries, and an event appended twice is harmless).
 * - `auto` (default): wait while the log's primary reports connected replicas (INFO replication
 *   `connected_slaves`); with none (no replica configured, or just after a failover) go on, and
 *   say so through `onReplicationChange`.
 * - `always`: wait, and reject when no replica confirms (a primary without replicas always rejects).
 * - `never`: acknowledge as soon as the primary has it.
 */
export interface LogReplication {
  wait: 'auto' | 'always' | 'never';
  /** How long an append waits for a replica before it rejects. */
  timeoutMs: number;
}

export const DEFAULT_LOG_REPLICATION: Readonly<LogReplication> = Object.freeze({ wait: 'auto', timeoutMs: 1_000 });

/**
 * Appends a batch of events, each with the next id, in one atomic call. Ids are the stream's own
 * ids (`n-0`), so they are the consecutive integers the seam promises: a reader that sees n+2
 * after n knows it missed one. (Pipelined `XADD *` would not do: its ids are timestamps.)
 * KEYS: stream, counter, first id (the log's identity), epoch. ARGV: retain, the last id this
 * publisher appended before (0: none) and that append's epoch, then one event JSON per event.
 * Returns the first event's id (the others follow it) and the epoch the batch was appended in.
 * The log's epoch: a log whose last id is below the last id this publisher appended moved
 * backwards (a failover lost its tail, or it was restored from an older copy), so the ids it hands
 * out next are ids readers may already hold for other events. The script then starts a new epoch,
 * numbered above that id and above the server's clock in microseconds (so that an epoch number is
 * never handed out twice, even when an epoch's start is itself lost), and records where it starts.
 * Unless the log is already in a newer epoch than the publisher's last append: another publisher
 * saw the same loss first, and one new epoch (one flush for the readers) is enough.
 * Each entry carries its epoch (field `epoch`, absent for epoch 0): a reader that sees it change
 * reports a gap.
 * A new log is numbered from the server's clock in microseconds, not from 1: if the log is lost
 * (a Redis without persistence restarted) its successor's ids are still larger than any id a node
 * remembers, so positions only grow and a node can tell it is reading a new log. If only the
 * counter is gone, numbering continues after the stream's last entry. Numbers are formatted with
 * %d: Lua would otherwise print them in exponent form.
 */
const PUBLISH = `
local count = #ARGV - 3
local n = redis.call('INCRBY', KEYS[2], count)
if n == count then
  local first
  local last = redis.call('XREVRANGE', KEYS[1], '+', '-', 'COUNT', 1)
  if #last > 0 then
    first = tonumber(string.match(last[1][1], '^(%d+)')) + 1
  else
    local t = redis.call('TIME')
    first = tonumber(t[1]) * 1000000 + tonumber(t[2])
    redis.call('SET', KEYS[3], string.format('%d', first))
  end
  n = first + count - 1
  redis.call('SET', KEYS[2], string.format('%d', n))
end
local first = n - count + 1
if redis.call('EXISTS', KEYS[3]) == 0 then
  redis.call('SET', KEYS[3], string.format('%d', first))
end
local epoch = tonumber(redis.call('HGET', KEYS[4], 'n') or '0')
local published = tonumber(ARGV[2])
if first <= published and epoch <= tonumber(ARGV[3]) then
  local t = redis.call('TIME')
  epoch = math.max(epoch + 1, published + 1, tonumber(t[1]) * 1000000 + tonumber(t[2]))
  redis.call('HSET', KEYS[4], 'n', string.format('%d', epoch), 'from', string.format('%d', first))
end
for i = 1, count do
  local id = string.format('%d-0', first + i - 1)
  if epoch == 0 then
    redis.call('XADD', KEYS[1], 'MAXLEN', ARGV[1], id, 'e', ARGV[i + 3])
  else
    redis.call('XADD', KEYS[1], 'MAXLEN', ARGV[1], id, 'e', ARGV[i + 3], 'epoch', string.format('%d', epoch))
  end
end
return { first, string.format('%d', epoch) }
`;

/**
 * Deletes the consumers of group ARGV[1] not named in ARGV[2..] that hold no pending event, in one
 * script (none can be handed an event in between); returns their names.
 */
const FORGET_CONSUMERS = `
local keep = {}
for i = 2, #ARGV do keep[ARGV[i]] = true end
local forgotten = {}
for _, consumer in ipairs(redis.call('XINFO', 'CONSUMERS', KEYS[1], ARGV[1])) do
  local fields = {}
  for i = 1, #consumer, 2 do fields[consumer[i]] = consumer[i + 1] end
  if not keep[fields['name']] and fields['pending'] == 0 then
    redis.call('XGROUP', 'DELCONSUMER', KEYS[1], ARGV[1], fields['name'])
    table.insert(forgotten, fields['name'])
  end
end
return forgotten
`;

/** Deletes consumer ARGV[2] of group ARGV[1] if it holds no pending event (in one script: none can be handed to it in between). */
const FORGET_IF_IDLE = `
for _, consumer in ipairs(redis.call('XINFO', 'CONSUMERS', KEYS[1], ARGV[1])) do
  local fields = {}
  for i = 1, #consumer, 2 do fields[consumer[i]] = consumer[i + 1] end
  if fields['name'] == ARGV[2] and fields['pending'] == 0 then
    return redis.call('XGROUP', 'DELCONSUMER', KEYS[1], ARGV[1], ARGV[2])
  end
end
return -1
`;

/**
 * Default of `cutOffMs`: how long a reader goes without a successful read before it reports a
 * cut-off (and its node flushes). Bounds how long a node can serve stale data while Redis is
 * unreachable; a Redis Cluster failover (node timeout plus election) takes longer, so it flushes.
 */
export const DEFAULT_CUT_OFF_MS = 1_000;

/**
 * Batches a group consumer holds at once while their events wait on the region's delay line:
 * enough for 16,000 events, a 600 ms delay at over 25,000 events/s, and far fewer than it could
 * apply before claimAfterMs hands them to another consumer.
 */
const MAX_BATCHES_IN_FLIGHT = 32;

type StreamEntry = [id: string, fields: string[]];

interface Loop {
  closed: boolean;
  connection: Redis | Cluster;
  done: Promise<void>;
  wake?: () => void;
  /** Resolves on close: a command on a closed Cluster client can stay queued for ever, so nothing waits on one past it. */
  stopped: Promise<void>;
  stop: () => void;
  /** Event handlers still running: close() lets them finish. */
  handling: Set<Promise<void>>;
}

/**
 * The invalidation log on Redis Streams. `subscribe` is the fan-out every node reads for its L1,
 * each from its own cursor; `consume` is a consumer group (one per region) that applies each
 * event to the region's shared L2 once, with a dead consumer's pending events claimed by a live
 * one (XAUTOCLAIM). Each reader blocks on a connection of its own, so it never stalls the shared
 * connection that serves cache reads.
 */
export class RedisStreamLog implements InvalidationLog {
  private readonly redis: Redis | Cluster;
  private readonly clock: Clock;
  private readonly retain: number;
  private readonly cutOffMs: number;
  private readonly blockMs: number;
  private readonly claimAfterMs: number;
  private readonly batchSize: number;
  private readonly onError: (error: unknown, context: string) => void;
  private readonly streamKey: string;
  private readonly counterKey: string;
  private readonly firstIdKey: string;
  private readonly epochKey: string;
  private readonly namespace: string;
  private readonly loops = new Set<Loop>();
  private readonly replication: LogReplication;
  private readonly onReplicationChange: (state: { unreplicated: boolean }) => void;
  /** The connection appends go out on, when they WAIT (which blocks it): its own, so cache reads never queue behind a WAIT. */
  private publisher: Redis | Cluster | undefined;
  /** Connected replicas of the log's primary, as last seen ('auto'); undefined until looked at. */
  private replicas: number | undefined;
  private isUnreplicated = false;
  /** The WAIT the appends that just answered will share, until it is sent (see replicated()). */
  private nextWait: Promise<number> | undefined;
  /** Written before each WAIT, in the log's slot (see replicated()). */
  private readonly barrierKey: string;
  /** The last id this log appended, and its epoch: the log's last id found below it means the log moved backwards. */
  private lastPublished = { id: 0, epoch: 0 };

  constructor(options: RedisStreamLogOptions) {
    this.redis = options.redis;
    this.clock = options.clock ?? systemClock;
    this.retain = options.retain ?? 10_000;
    this.cutOffMs = options.cutOffMs ?? DEFAULT_CUT_OFF_MS;
    if (!(this.cutOffMs >= 2)) throw new Error(`cutOffMs must be at least 2, got ${this.cutOffMs}`);
    // A read returns at least every half cut-off even when nothing happens: one that does not
    // (a hung command on a silent connection) is time without news.
    this.blockMs = Math.min(options.blockMs ?? 1_000, Math.floor(this.cutOffMs / 2));
    this.claimAfterMs = options.claimAfterMs ?? 5_000;
    this.batchSize = options.batchSize ?? 500;
    this.onError = options.onError ?? (() => {});
    const namespace = options.namespace ?? 'freshcache:';
    if (/[{}]/.test(namespace)) throw new Error(`log namespace must not contain braces (it would change the hash slot): "${namespace}"`);
    this.namespace = namespace;
    this.streamKey = `${namespace}{log}:events`;
    this.counterKey = `${namespace}{log}:last`;
    this.firstIdKey = `${namespace}{log}:first`;
    this.epochKey = `${namespace}{log}:epoch`;
    this.barrierKey = `${namespace}{log}:barrier`;
    this.replication = { ...DEFAULT_LOG_REPLICATION, ...options.replication };
    if (!['auto', 'always', 'never'].includes(this.replication.wait)) throw new Error(`replication.wait must be auto, always or never, got "${this.replication.wait}"`);
    if (!(Number.isInteger(this.replication.timeoutMs) && this.replication.timeoutMs >= 1)) throw new Error(`replication.timeoutMs must be a positive integer, got ${this.replication.timeoutMs}`);
    this.onReplicationChange = options.onReplicationChange ?? (() => {});
  }

  /** Whether the last append went on without a replica ('auto' found none connected to the log's primary). */
  get unreplicated(): boolean {
    return this.isUnreplicated;
  }

  async publish(input: InvalidationInput): Promise<InvalidationEvent> {
    return (await this.publishMany([input]))[0]!;
  }

  async publishMany(inputs: readonly InvalidationInput[]): Promise<InvalidationEvent[]> {
    if (inputs.length === 0) return [];
    const publishedAt = this.clock.now();
    const bodies = inputs.map((input) => JSON.stringify({ ...input, publishedAt }));
    // One script call: the batch is appended whole, its ids consecutive, whatever else publishes meanwhile.
    // Arguments as one array: a spread call of many thousand bodies would overflow the stack.
    const args = [this.streamKey, this.counterKey, this.firstIdKey, this.epochKey, String(this.retain), String(this.lastPublished.id), String(this.lastPublished.epoch), ...bodies];
    const [first, epoch] = await this.append(args, inputs.length).catch(logFailed('publish'));
    return inputs.map((input, i) => Object.freeze({ ...input, id: first + i, publishedAt, ...(epoch > 0 ? { epoch } : {}) }));
  }

  /** Runs the PUBLISH script and, as `replication` says, waits for a replica: [first id, epoch]. */
  private async append(args: string[], count: number): Promise<[number, number]> {
    const { wait, timeoutMs } = this.replication;
    if (wait === 'never') return this.appended(publishReply(await this.redis.eval(PUBLISH, 4, args)), count);
    const waits = wait === 'always' || (this.replicas ?? 0) > 0;
    const [appended, after] = await this.onLogPrimary((pipeline) => (waits ? pipeline.eval(PUBLISH, 4, ...args) : pipeline.eval(PUBLISH, 4, ...args).info('replication')));
    // Noted before the WAIT: an append no replica confirmed may still have been read, and then lost.
    const published = this.appended(publishReply(appended), count);
    if (!waits) {
      this.replicas = connectedReplicas(after as string);
      if (this.replicas === 0) return this.goOnUnreplicated(published);
      // A replica appeared since the last look: this append waits for it too.
    }
    const acknowledged = await this.replicated();
    if (acknowledged >= 1) {
      this.setUnreplicated(false);
      return published;
    }
    if (wait === 'auto') {
      // No replica confirmed: is there one still connected (paused, lagging: reject), or none left (go on)?
      this.replicas = connectedReplicas((await this.onLogPrimary((pipeline) => pipeline.exists(this.streamKey).info('replication')))[1] as string);
      if (this.replicas === 0) return this.goOnUnreplicated(published);
    }
    throw new FreshcacheError('log_unreplicated', `invalidation log publish: no replica of the log's primary confirmed the append within ${timeoutMs} ms; it may be lost in a failover, retry it`);
  }

  /**
   * WAIT for a replica to hold every write this connection made so far. A WAIT blocks its
   * connection, so one per append would serialize a process's concurrent appends (50 of them went
   * from ~45 k/s to ~9 k/s): the appends whose scripts answered before the WAIT is sent share it.
   */
  private replicated(): Promise<number> {
    this.nextWait ??= Promise.resolve().then(async () => {
      this.nextWait = undefined;
      // A write of the log's slot first: WAIT covers this connection's writes, and a connection
      // that reconnected, or a slot that moved to another primary (whose RESTORE carried the
      // appends), has made none of them; replicated in order, this one covers what came before.
      return (await this.onLogPrimary((pipeline) => pipeline.incr(this.barrierKey).wait(1, this.replication.timeoutMs)))[1] as number;
    });
    return this.nextWait;
  }

  /** Notes the last append. Replies come back in order on one connection, so this follows the log (backwards too, after a new epoch). */
  private appended(published: [number, number], count: number): [number, number] {
    const [first, epoch] = published;
    this.lastPublished = { id: first + count - 1, epoch };
    return published;
  }

  private goOnUnreplicated(published: [number, number]): [number, number] {
    this.setUnreplicated(true);
    return published;
  }

  private setUnreplicated(unreplicated: boolean): void {
    if (unreplicated === this.isUnreplicated) return;
    this.isUnreplicated = unreplicated;
    this.onReplicationChange({ unreplicated });
  }

  /**
   * Runs a pipeline whose first command names a key of the log on the publisher's connection: a
   * Cluster client sends a pipeline whole to the node owning its keys' slot (a keyless command
   * alone would go to a random node), so the WAIT or INFO in it asks the log's primary, about
   * the writes of this very connection. Resolves with the replies; rejects with the first error.
   * A pipeline that reached a node no longer owning the slot (MOVED, ASK: ioredis does not
   * redirect a pipeline that holds a write) is sent again once the slot map is refreshed.
   */
  private async onLogPrimary(build: (pipeline: ChainableCommander) => ChainableCommander): Promise<unknown[]> {
    const connection = this.publisherConnection();
    for (let attempt = 1; ; attempt++) {
      const results = (await build(connection.pipeline()).exec()) ?? [];
      const error = results.find(([failed]) => failed)?.[0];
      if (!error) return results.map(([, value]) => value);
      if (!(isCluster(connection) && /^(MOVED|ASK) /.test(error.message))) throw error;
      if (attempt === 3) throw new FreshcacheError('log_unavailable', `invalidation log publish: the log's slot is moving (${error.message})`, { cause: error });
      await new Promise<void>((resolve) => connection.refreshSlotsCache(() => resolve()));
    }
  }

  private publisherConnection(): Redis | Cluster {
    if (!this.publisher) {
      this.publisher = isCluster(this.redis)
        ? this.redis.duplicate(undefined, { redisOptions: { ...this.redis.options.redisOptions } })
        : this.redis.duplicate();
      // Failures reach publish as failed commands.
      this.publisher.on('error', () => {});
    }
    return this.publisher;
  }

  /** The log's epoch and the id it starts at ([0, 0] before any). */
  private async epochOf(connection: Redis | Cluster): Promise<[number, number]> {
    return epochOf(await connection.hmget(this.epochKey, 'n', 'from'));
  }

  /** The nodes of this log's deployment, kept in the same Redis under the same namespace (on the log's connection). */
  nodeRegistry(): RedisNodeRegistry {
    return new RedisNodeRegistry({ redis: this.redis, namespace: this.namespace, clock: this.clock });
  }

  async lastId(): Promise<number> {
    return Number((await this.redis.get(this.counterKey).catch(logFailed('lastId'))) ?? 0);
  }

  subscribe(options: { afterId: number; onEvent: (event: InvalidationEvent) => void; onGap?: (info: GapInfo) => void }): Subscription {
    const onGap = options.onGap ?? (() => {});
    let cursor = options.afterId;
    /** The first id of the log the cursor belongs to: it changes when the log is lost and started again. */
    let logFirstId: number | undefined;
    /** After a failure the log may have been lost meanwhile: check before reading on. */
    let mustCheckLog = true;
    /** The log's epoch this reader is in, once it looked. Ids alone cannot tell a log that moved back: its next appends reuse ids this reader holds. */
    let epoch: number | undefined;
    /**
     * The log moved backwards and started a new epoch at `from`: this reader cannot tell which of
     * the events it holds survived (epochs may have come and gone meanwhile), so it reports a gap,
     * and reads on from the new epoch's start when that is at or below its cursor.
     */
    const enterEpoch = ([next, from]: [number, number]) => {
      onGap({ reason: 'epoch', afterId: cursor, oldestRetainedId: 0 });
      epoch = next;
      if (from > 0) cursor = Math.min(cursor, from - 1);
    };
    return this.run('reading the invalidation log', async (loop) => {
      if (mustCheckLog) {
        const [first, last, logEpoch] = await Promise.all([loop.connection.get(this.firstIdKey), loop.connection.get(this.counterKey), this.epochOf(loop.connection)]);
        const firstId = first === null ? undefined : Number(first);
        const lost = (logFirstId !== undefined && firstId !== logFirstId) || Number(last ?? 0) < cursor;
        if (lost) {
          onGap({ reason: 'reset', afterId: cursor, oldestRetainedId: 0 });
          cursor = 0;
          epoch = logEpoch[0];
        } else if (epoch === undefined) epoch = logEpoch[0];
        else if (logEpoch[0] !== epoch) enterEpoch(logEpoch);
        logFirstId = firstId;
        // Position 0 means "from the start of the log", which is just before its first id.
        if (cursor === 0 && firstId !== undefined) cursor = firstId - 1;
        mustCheckLog = false;
      }
      // The log's epoch comes with each read (asked after it, in the same pipeline, so on the same
      // node): a new epoch whose ids are all at or below the cursor brings no entry to this read.
      const [reply, epochReply] = await execPipeline(
        loop.connection.pipeline().xread('COUNT', this.batchSize, 'BLOCK', this.blockMs, 'STREAMS', this.streamKey, `${cursor}-0`).hmget(this.epochKey, 'n', 'from'),
      );
      if (loop.closed) return;
      const entries = (reply as [string, StreamEntry[]][] | null)?.[0]?.[1] ?? [];
      const logEpoch = epochOf(epochReply as (string | null)[]);
      if (cursor === 0 && entries.length > 0) {
        // The log was empty when we looked: learn where it starts before judging the first id.
        mustCheckLog = true;
        return;
      }
      for (const [id, fields] of entries) {
        const event = decode(id, fields);
        // An entry this release cannot read carries no epoch it can trust: it flushes the node anyway.
        if (event.kind !== UNREADABLE && (event.epoch ?? 0) !== epoch) {
          // Read on from the new epoch's start (the next step), after the gap.
          enterEpoch(logEpoch[0] === (event.epoch ?? 0) ? logEpoch : [event.epoch ?? 0, event.id]);
          return;
        }
        if (event.id !== cursor + 1) onGap({ reason: 'trimmed', afterId: cursor, oldestRetainedId: event.id });
        cursor = event.id;
        try {
          options.onEvent(event);
        } catch (error) {
          this.onError(error, `an invalidation subscriber failed on event ${event.id}`);
        }
      }
      if (logEpoch[0] !== epoch) enterEpoch(logEpoch);
    }, (cutOff) => {
      mustCheckLog = true;
      if (cutOff) onGap({ reason: 'disconnected', afterId: cursor, oldestRetainedId: 0 });
    }, () => onGap({ reason: 'reconnected', afterId: cursor, oldestRetainedId: 0 }));
  }

  async consume(options: { group: string; consumer: string; onEvent: (event: InvalidationEvent) => Promise<void> }): Promise<GroupSubscription> {
    const { group, consumer } = options;
    // A new group starts at the end of the log: its region's L2 holds nothing older to delete.
    const createGroup = (connection: Redis | Cluster) =>
      connection.xgroup('CREATE', this.streamKey, group, '$', 'MKSTREAM').catch((error: Error) => {
        if (!error.message.includes('BUSYGROUP')) throw error;
      });
    await createGroup(this.redis);
    /** First the events this consumer name was handed before (a restart) and never acknowledged. */
    let ownPendingDone = false;
    let lastClaimAt = -Infinity;
    let claimCursor = '0-0';
    const handle = async (loop: Loop, entries: StreamEntry[]) => {
      const applied: string[] = [];
      const handling = Promise.all(
        entries.map(async ([id, fields]) => {
          try {
            await options.onEvent(decode(id, fields));
            applied.push(id);
          } catch (error) {
            // Left pending: XAUTOCLAIM hands it out again after claimAfterMs. Closing is not a failure.
            if (!loop.closed) this.onError(error, `group ${group} could not apply event ${id}`);
          }
        }),
      )
        // One XACK per batch, not per event: a round trip per event per region was most of the
        // Redis work of the groups. Unacknowledged after a close: handed out again, as after a crash.
        .then(async () => {
          if (applied.length === 0 || loop.closed) return;
          // On the log's own connection: the reader's may be blocked in its next read.
          await Promise.race([this.redis.xack(this.streamKey, group, ...applied), loop.stopped]).catch((error: unknown) => {
            // Left pending, handed out again after claimAfterMs: applying an event twice is harmless.
            if (!loop.closed) this.onError(error, `group ${group} could not acknowledge ${applied.length} applied events`);
          });
        });
      loop.handling.add(handling);
      await handling.finally(() => loop.handling.delete(handling));
    };
    let recreate = false;
    /** Set by leave(): read no new events, empty this consumer's pending list, then delete the consumer. */
    let leaving = false;
    let left = () => {};
    const hasLeft = new Promise<void>((resolve) => (left = resolve));
    let gone = false;
    const subscription = this.run(`consuming the invalidation log as ${group}/${consumer}`, async (loop) => {
      const { connection } = loop;
      if (gone) {
        // Any read now would put the consumer back in the group: wait for the close.
        await loop.stopped;
        return;
      }
      if (leaving) {
        // What it was handed is still being applied: let it finish (and be acknowledged) first.
        await Promise.all(loop.handling);
        const reply = (await connection.xreadgroup('GROUP', group, consumer, 'COUNT', this.batchSize, 'STREAMS', this.streamKey, '0')) as
          | [string, (StreamEntry | [string, null])[]][]
          | null;
        const pending = reply?.[0]?.[1] ?? [];
        if (pending.length > 0) {
          // An entry the log trimmed comes back without fields: nothing left to apply, only to acknowledge.
          const trimmed = pending.filter(([, fields]) => fields === null).map(([id]) => id);
          if (trimmed.length > 0) await connection.xack(this.streamKey, group, ...trimmed);
          await handle(loop, pending.filter((entry): entry is StreamEntry => entry[1] !== null));
          return;
        }
        // Its pending list is empty and it reads nothing new: deleting it drops nothing.
        await connection.xgroup('DELCONSUMER', this.streamKey, group, consumer);
        gone = true;
        left();
        return;
      }
      if (recreate) {
        // The log was lost with its groups (a Redis without persistence restarted): start again.
        await createGroup(connection);
        recreate = false;
      }
      if (!ownPendingDone) {
        const reply = (await connection.xreadgroup('GROUP', group, consumer, 'COUNT', this.batchSize, 'STREAMS', this.streamKey, '0')) as
          | [string, StreamEntry[]][]
          | null;
        const entries = reply?.[0]?.[1] ?? [];
        await handle(loop, entries);
        if (entries.length < this.batchSize) ownPendingDone = true;
        return;
      }
      const now = this.clock.now();
      if (claimCursor !== '0-0' || now - lastClaimAt >= this.claimAfterMs) {
        if (claimCursor === '0-0') lastClaimAt = now;
        // A backlog larger than a batch is claimed batch by batch, following XAUTOCLAIM's cursor.
        const [next, claimed] = (await connection.xautoclaim(this.streamKey, group, consumer, this.claimAfterMs, claimCursor, 'COUNT', this.batchSize)) as [
          string,
          StreamEntry[],
        ];
        claimCursor = next;
        await handle(loop, claimed.filter((entry) => entry !== null));
      }
      const block = Math.min(this.blockMs, this.claimAfterMs);
      const reply = (await connection.xreadgroup('GROUP', group, consumer, 'COUNT', this.batchSize, 'BLOCK', block, 'STREAMS', this.streamKey, '>')) as
        | [string, StreamEntry[]][]
        | null;
      const entries = reply?.[0]?.[1] ?? [];
      if (loop.closed || entries.length === 0) return;
      // Read on while these wait on the region's delay line: awaiting them would hold each next
      // read back by a whole delay. At most MAX_BATCHES_IN_FLIGHT batches are in hand.
      void handle(loop, entries);
      while (loop.handling.size >= MAX_BATCHES_IN_FLIGHT && !loop.closed) await Promise.race(loop.handling);
    }, (_cutOff, error) => {
      if (error instanceof Error && error.message.includes('NOGROUP')) recreate = true;
    });
    return {
      close: async () => {
        await subscription.close();
        // Its name would stay in the group for good (one more per restart: names carry the process
        // id). Closed, it reads no more, so nothing new can be handed to it: if nothing is pending,
        // deleting it drops nothing. What is pending stays, for another consumer to claim.
        // Bounded: with the whole cluster unreachable the command would wait for it, and so would a shutdown.
        await within(this.redis.eval(FORGET_IF_IDLE, 1, this.streamKey, group, consumer).catch(() => {}), CLOSE_SETTLE_MS);
      },
      leave: async () => {
        leaving = true;
        // A failing event is retried by the loop (with backoff) until it is applied and acknowledged.
        await Promise.race([hasLeft, subscription.stopped]);
        await subscription.close();
      },
    };
  }

  async forgetConsumers(group: string, keep: readonly string[]): Promise<string[]> {
    try {
      return (await this.redis.eval(FORGET_CONSUMERS, 1, this.streamKey, group, ...keep)) as string[];
    } catch (error) {
      // A group that does not exist (yet) has nobody to forget.
      if (error instanceof Error && /NOGROUP|no such key/i.test(error.message)) return [];
      throw error;
    }
  }

  async close(): Promise<void> {
    await Promise.all([...this.loops].map((loop) => this.stop(loop)));
    if (this.publisher) {
      await settled(this.publisher, CLOSE_SETTLE_MS);
      this.publisher.disconnect();
      this.publisher = undefined;
    }
  }

  /**
   * Runs `step` until closed, on a connection of its own. A failing step is retried with backoff;
   * `onFailure(false, error)` hears every failure, and `onFailure(true)` comes once per
   * `cutOffMs` without a step that worked, so a reader can say it may have missed events
   * while it was cut off; `onReconnected` comes with the first step that worked after that.
   */
  private run(
    context: string,
    step: (loop: Loop) => Promise<void>,
    onFailure?: (cutOff: boolean, error?: unknown) => void,
    onReconnected?: () => void,
  ): Subscription & { stopped: Promise<void> } {
    const connection = this.readerConnection();
    let stop = () => {};
    const stopped = new Promise<void>((resolve) => (stop = resolve));
    const loop: Loop = { closed: false, connection, done: Promise.resolve(), stopped, stop, handling: new Set() };
    // Cut off counts from the last read that worked, not the first that failed: a read that
    // hangs until its command timeout is time without news too. A timer reports it when it is
    // due: judged only when a step fails, it came late by that step's wait for a reconnect (up
    // to seconds) and the backoff before it.
    let lastOkAt = this.clock.now();
    let cutOff = false;
    let watch: Timer | undefined;
    const judge = () => {
      if (loop.closed) return;
      const now = this.clock.now();
      if (now - lastOkAt >= this.cutOffMs) {
        lastOkAt = now; // report once per interval
        cutOff = true;
        onFailure?.(true);
      }
      armCutOff();
    };
    const armCutOff = () => {
      // Judged after the sockets were read: after a stall (a long GC, a CPU-bound handler) Node
      // runs due timers before it reads the answer already waiting, which would count as no news.
      watch = this.clock.setTimeout(() => setImmediate(judge), Math.max(0, lastOkAt + this.cutOffMs - this.clock.now()));
    };
    armCutOff();
    loop.done = (async () => {
      let backoffMs = 50;
      while (!loop.closed) {
        try {
          const stepping = step(loop);
          stepping.catch(() => {}); // its failure after a close is nobody's business
          await Promise.race([stepping, loop.stopped]);
          lastOkAt = this.clock.now();
          backoffMs = 50;
          if (cutOff && !loop.closed) {
            cutOff = false;
            onReconnected?.();
          }
        } catch (error) {
          if (loop.closed) break;
          this.onError(error, context);
          onFailure?.(false, error);
          await this.pause(loop, backoffMs);
          backoffMs = Math.min(backoffMs * 2, 1_000);
        }
      }
      watch?.cancel();
    })();
    this.loops.add(loop);
    return { close: () => this.stop(loop), stopped: loop.stopped };
  }

  /**
   * A blocking read holds its connection, so each reader gets its own and never stalls the one
   * that serves cache reads. A command fails after one reconnect attempt instead of queueing
   * (the loop retries and counts how long it has been cut off), and a read on a connection that
   * went silent fails after its block time plus a margin.
   */
  private readerConnection(): Redis | Cluster {
    const override = { maxRetriesPerRequest: 1, commandTimeout: this.blockMs + 2_000 };
    const connection =
      'nodes' in this.redis && typeof this.redis.nodes === 'function'
        ? // duplicate() replaces redisOptions instead of merging: keep the parent's (timeouts, auth, TLS).
          (this.redis as Cluster).duplicate(undefined, { redisOptions: { ...(this.redis as Cluster).options.redisOptions, ...override } })
        : (this.redis as Redis).duplicate(override);
    // Connection errors reach the loop as failed commands (counted, backed off, reported); without
    // a listener ioredis would also print every failed reconnect.
    connection.on('error', () => {});
    return connection;
  }

  private async stop(loop: Loop): Promise<void> {
    if (!loop.closed) {
      loop.closed = true;
      loop.wake?.();
      loop.stop();
      // A Cluster client disconnected while it connects never ends (ioredis 5): let it settle first.
      await settled(loop.connection, CLOSE_SETTLE_MS);
      // Ends a blocking read at once (it rejects, and the closed loop exits).
      loop.connection.disconnect();
    }
    await loop.done;
    await Promise.all(loop.handling);
    this.loops.delete(loop);
  }

  private pause(loop: Loop, ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer: Timer = this.clock.setTimeout(() => {
        loop.wake = undefined;
        resolve();
      }, ms);
      loop.wake = () => {
        timer.cancel();
        resolve();
      };
    });
  }
}

/** How long close() waits for a reader's connection that is still connecting. */
const CLOSE_SETTLE_MS = 1_000;

/** Resolves once `connection` is no longer connecting (ready, closed or retrying), or after `ms`. */
function settled(connection: Redis | Cluster, ms: number): Promise<void> {
  if (connection.status !== 'connecting' && connection.status !== 'connect') return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      for (const status of SETTLED) connection.off(status, done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    timer.unref();
    for (const status of SETTLED) connection.once(status, done);
  });
}
const SETTLED = ['ready', 'close', 'end', 'reconnecting'] as const;

/** Resolves when `work` settles or after `ms`, whichever comes first. */
function within(work: Promise<unknown>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<void>((resolve) => {
    timer = setTimeout(resolve, ms);
    timer.unref();
  });
  return Promise.race([work.then(() => {}), timeout]).finally(() => clearTimeout(timer));
}

function epochOf([n, from]: (string | null)[]): [number, number] {
  return [Number(n ?? 0), Number(from ?? 0)];
}

/** Runs a pipeline; resolves with its replies, rejects with its first error. */
async function execPipeline(pipeline: ChainableCommander): Promise<unknown[]> {
  const results = (await pipeline.exec()) ?? [];
  const error = results.find(([failed]) => failed)?.[0];
  if (error) throw error;
  return results.map(([, value]) => value);
}

function decode(id: string, fields: string[]): InvalidationEvent {
  const position = Number(id.split('-')[0]);
  const at = fields.findIndex((field, i) => i % 2 === 0 && field === 'e');
  const event = at < 0 ? undefined : parseObject(fields[at + 1]!);
  // The log's epoch when appended (absent: epoch 0, as every entry before epochs).
  const epochAt = fields.findIndex((field, i) => i % 2 === 0 && field === 'epoch');
  const epoch = epochAt < 0 ? 0 : Number(fields[epochAt + 1]);
  if (event === undefined || !Number.isSafeInteger(epoch) || epoch < 0) {
    // An entry this release cannot decode (a newer release's layout, or written by hand): handed
    // on as an event of a kind no node knows, so readers flush on it instead of stalling or skipping.
    return Object.freeze({ kind: UNREADABLE, v: 0, keys: [], tags: [], prefixes: [], source: 'purge', committedAt: NaN, publishedAt: NaN, id: position });
  }
  // Nodes from before event kinds and format versions wrote neither: what they wrote is a v1
  // invalidate. Kept so that old and new nodes can share the stream during a rolling upgrade.
  return Object.freeze({ ...event, kind: event.kind ?? 'invalidate', v: event.v ?? 1, id: position, ...(epoch > 0 ? { epoch } : {}) });
}

/** The kind given to a log entry that cannot be decoded. */
export const UNREADABLE = 'unreadable entry';

type StoredEvent = Omit<InvalidationEvent, 'id' | 'kind' | 'v'> & Partial<Pick<InvalidationEvent, 'kind' | 'v'>>;

function parseObject(body: string): StoredEvent | undefined {
  try {
    const parsed: unknown = JSON.parse(body);
    return typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed) ? (parsed as StoredEvent) : undefined;
  } catch {
    return undefined;
  }
}

function isCluster(redis: Redis | Cluster): redis is Cluster {
  return 'nodes' in redis && typeof redis.nodes === 'function';
}

/** The PUBLISH script's reply: [first id, epoch]. */
function publishReply(reply: unknown): [number, number] {
  const [first, epoch] = reply as [number, string];
  return [Number(first), Number(epoch)];
}

/** `connected_slaves` of an INFO replication reply. */
function connectedReplicas(info: string): number {
  const match = /^connected_slaves:(\d+)/m.exec(info);
  if (!match) throw new Error(`INFO replication without connected_slaves: ${info.slice(0, 200)}`);
  return Number(match[1]);
}

/** Rethrows an unreachable Redis as `log_unavailable`: the event was not published (or the position not read). */
function logFailed(operation: string): (error: unknown) => never {
  return (error) => {
    throw redisFailure('log_unavailable', `invalidation log ${operation}`, error);
  };
}
