#!/usr/bin/env node
import { capture, captureHelp } from './commands/capture.js';
import { chaos, chaosHelp } from './commands/chaos.js';
import { cluster, clusterHelp } from './commands/cluster.js';
import { demo, demoHelp } from './commands/demo.js';
import { load, loadHelp } from './commands/load.js';
import { relay, relayHelp } from './commands/relay.js';
import { serve, serveHelp } from './commands/serve.js';
import { up, upHelp } from './commands/up.js';

const HELP = `freshcache — a distributed cache that stays fresh

Usage:
  freshcache demo [options]        run origin, relay, three regions and the HTTP API in one process
  freshcache serve --config FILE   run the roles a config file names, on PostgreSQL and Redis
  freshcache relay --config FILE   run a relay candidate only (leader-elected), on PostgreSQL and Redis
  freshcache up [options]          start redis-server, PostgreSQL, a relay and node processes locally
  freshcache chaos kill|restart|pause|resume <target>
                                   break a running up on purpose (a node, redis, postgres, nginx)
  freshcache cluster add-node|remove-node|rebalance|list
                                   reshard a Redis Cluster (add or remove a primary) under load
  freshcache capture install|uninstall --config FILE [--apply]
                                   print (or apply) the SQL that prepares PostgreSQL for capture
  freshcache load --target URL[,URL…] [options]
                                   drive reads and writes, report latency, hit ratio and freshness

${demoHelp}

${serveHelp}

${relayHelp}

${upHelp}

${chaosHelp}

${clusterHelp}

${captureHelp}

${loadHelp}`;

async function main(argv: string[]): Promise<void> {
  const [command, ...rest] = argv;
  switch (command) {
    case 'demo':
      return demo(rest);
    case 'serve':
      return serve(rest);
    case 'relay':
      return relay(rest);
    case 'up':
      return up(rest);
    case 'chaos':
      return chaos(rest);
    case 'cluster':
      return cluster(rest);
    case 'capture':
      return capture(rest);
    case 'load':
      return load(rest);
    case undefined:
    case 'help':
    case '--help':
    case '-h':
      console.log(HELP);
      return;
    default:
      console.error(`freshcache: unknown command "${command}"\n\n${HELP}`);
      process.exitCode = 2;
  }
}

main(process.argv.slice(2)).then(
  () => {
    // PGlite and pending sockets can hold the loop open after a clean stop; the work is done.
    if (['demo', 'serve', 'relay', 'up', 'load'].includes(process.argv[2] ?? '')) process.exit(process.exitCode ?? 0);
  },
  (error: unknown) => {
    console.error(`freshcache: ${(error as Error).message}`);
    process.exit(1);
  },
);
