import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestProject } from 'vitest/node';
import { createPgliteClient } from '../../packages/freshcache-server/src/adapters/postgres/pglite-client.js';

declare module 'vitest' {
  export interface ProvidedContext {
    pgliteSnapshot: string;
  }
}

/**
 * A fresh PGlite runs initdb (~3 s). Do it once per test run, with the schema applied, and let
 * every test start its own database from the dump (~0.5 s).
 */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const dir = await mkdtemp(join(tmpdir(), 'freshcache-test-'));
  const client = await createPgliteClient();
  const dump = await client.db.dumpDataDir('none');
  await client.close();
  const file = join(dir, 'pglite.tar');
  await writeFile(file, Buffer.from(await dump.arrayBuffer()));
  project.provide('pgliteSnapshot', file);
  return async () => rm(dir, { recursive: true, force: true });
}
