#!/usr/bin/env node
import { demo, demoHelp } from './commands/demo.js';

const HELP = `freshcache — a distributed cache that stays fresh

Usage:
  freshcache demo [options]   run origin, relay, three regions and the HTTP API in one process

${demoHelp}`;

async function main(argv: string[]): Promise<void> {
  const [command, ...rest] = argv;
  switch (command) {
    case 'demo':
      return demo(rest);
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
    if (process.argv[2] === 'demo') process.exit(process.exitCode ?? 0);
  },
  (error: unknown) => {
    console.error(`freshcache: ${(error as Error).message}`);
    process.exit(1);
  },
);
