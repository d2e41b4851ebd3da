import pg from 'pg';
import { execFile } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { chown, mkdtemp, readdir, readFile, readlink, realpath, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { freePort } from './free-port.js';

const run = promisify(execFile);
const ROOT = '/usr/lib/postgresql';

export interface PostgresServer {
  url: string;
  port: number;
  /** Its folder (data, socket, log). */
  dir: string;
  /** The postmaster's pid, from its lock file (pg_ctl starts it detached: it is nobody's child). */
  pid(): Promise<number>;
  /** Creates an empty database and resolves its URL (a database per test, per benchmark path). */
  createDatabase(name: string): Promise<string>;
  /** An immediate stop (as a crash: clients lose their connections) and a start on the same port and data. */
  restart(): Promise<void>;
  /**
   * kill -9 of the postmaster, as a crash: its backends notice, end their sessions with 57P01
   * ("terminating connection due to unexpected postmaster exit") and exit. Resolves once they
   * are all gone, so that `start()` can run.
   */
  kill(): Promise<void>;
  /** Starts the server again on the same port and data (after `kill`): crash recovery, then ready. */
  start(): Promise<void>;
  stop(): Promise<void>;
}

/** The newest PostgreSQL server binaries on the machine, or undefined (Debian: apt-get install postgresql). */
export function postgresBinaries(): string | undefined {
  if (!existsSync(ROOT)) return undefined;
  const versions = readdirSync(ROOT)
    .filter((v) => existsSync(join(ROOT, v, 'bin', 'pg_ctl')))
    .sort((a, b) => Number(b) - Number(a));
  return versions[0] === undefined ? undefined : join(ROOT, versions[0], 'bin');
}

/**
 * A PostgreSQL of our own (tests, `freshcache up`): initdb in a temp folder, started on a free port with logical
 * replication enabled, stopped and deleted by `stop()`. Postgres refuses to run as root, so as
 * root it runs as the `postgres` user.
 */
export async function startPostgres(): Promise<PostgresServer> {
  const bin = postgresBinaries();
  // Never a skip: in CI a test that cannot run must fail (scripts/ensure-test-deps.sh installs them).
  if (!bin) throw new Error('PostgreSQL server binaries not found: apt-get install -y postgresql');
  const dir = await mkdtemp(join(tmpdir(), 'freshcache-pg-'));
  const asRoot = process.getuid?.() === 0;
  if (asRoot) {
    const { stdout } = await run('id', ['-u', 'postgres']);
    const { stdout: gid } = await run('id', ['-g', 'postgres']);
    await chown(dir, Number(stdout.trim()), Number(gid.trim()));
  }
  const as = (command: string, args: string[]) =>
    asRoot ? run('runuser', ['-u', 'postgres', '--', join(bin, command), ...args]) : run(join(bin, command), args);
  const data = join(dir, 'data');
  await as('initdb', ['-D', data, '-U', 'postgres', '--auth=trust', '-E', 'UTF8', '--locale=C.UTF-8', '--no-sync']);
  const port = await freePort();
  const options = [
    `-p ${port}`,
    '-c listen_addresses=127.0.0.1',
    `-k ${dir}`,
    '-c wal_level=logical',
    '-c max_replication_slots=10',
    '-c max_wal_senders=10',
    '-c fsync=off',
  ].join(' ');
  const start = () => as('pg_ctl', ['-D', data, '-l', join(dir, 'pg.log'), '-w', '-o', options, 'start']);
  await start();
  const url = `postgres://postgres@127.0.0.1:${port}/postgres`;
  const pid = async () => Number((await readFile(join(data, 'postmaster.pid'), 'utf8')).split('\n')[0]);
  return {
    port,
    url,
    dir,
    pid,
    createDatabase: async (name) => {
      if (!/^[a-z_][a-z0-9_]{0,62}$/.test(name)) throw new Error(`not a plain database name: ${name}`);
      const admin = new pg.Client({ connectionString: url });
      await admin.connect();
      try {
        await admin.query(`CREATE DATABASE ${name}`);
      } finally {
        await admin.end().catch(() => {});
      }
      return url.replace(/\/postgres$/, `/${name}`);
    },
    restart: async () => {
      await as('pg_ctl', ['-D', data, '-m', 'immediate', '-w', 'stop']);
      await start();
    },
    kill: async () => {
      try {
        process.kill(await pid(), 'SIGKILL');
      } catch {
        // Already dead (a crash, or a chaos kill): clean up after it all the same.
      }
      await untilGone(data);
      // A new postmaster refuses to start while the pid in its lock files exists, and a dead one
      // whose parent does not reap it (some containers' init) still does, as a zombie.
      await rm(join(data, 'postmaster.pid'), { force: true });
      await rm(join(dir, `.s.PGSQL.${port}.lock`), { force: true });
    },
    start: async () => {
      await start();
    },
    stop: async () => {
      await as('pg_ctl', ['-D', data, '-m', 'immediate', '-w', 'stop']).catch(() => {});
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/**
 * Waits until no process works in `data` (every server process runs there): a new postmaster
 * refuses to start while the old one's backends still hold its shared memory. The kernel offers
 * no event for another process's exit, so this looks every 20 ms, for at most 30 s.
 */
async function untilGone(data: string): Promise<void> {
  const deadline = Date.now() + 30_000;
  const where = await realpath(data); // what /proc shows: the path with any symbolic link resolved
  for (;;) {
    const left: number[] = [];
    for (const entry of await readdir('/proc')) {
      if (!/^\d+$/.test(entry)) continue;
      // A process that has exited (or a zombie) has no working directory any more.
      const cwd = await readlink(`/proc/${entry}/cwd`).catch(() => undefined);
      if (cwd === where) left.push(Number(entry));
    }
    if (left.length === 0) return;
    if (Date.now() > deadline) throw new Error(`PostgreSQL processes ${left.join(', ')} still run 30 s after the kill`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
