/**
 * What `npm install freshcache ioredis` costs a service, measured for real: packs the built library
 * (packages/freshcache), installs the tarball and ioredis from the registry into an empty project,
 * and bentocache into another for comparison; prints packages and MB on disk. Needs the registry,
 * so it is a bench and not a test (test/docs/library-package.test.ts checks the same offline).
 * The scenario `library-install` of `npm run bench` (or `npm run bench:install`); it builds the
 * library first.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Progress } from './lib/progress.js';
import type { ScenarioOutput } from './lib/row.js';

const ROOT = new URL('..', import.meta.url).pathname;
const LIB = new URL('../packages/freshcache/', import.meta.url).pathname;

/** Bytes of every file under `dir`. */
function bytes(dir: string): number {
  let total = 0;
  for (const d of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, d.name);
    if (d.isDirectory()) total += bytes(path);
    else if (d.isFile()) total += statSync(path).size;
  }
  return total;
}

/** Installs `specs` into an empty project; its package count (from its lockfile) and node_modules' size. */
function install(label: string, specs: string[]) {
  const dir = mkdtempSync(join(tmpdir(), 'freshcache-install-'));
  try {
    writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'probe', version: '1.0.0', private: true, type: 'module' }));
    execFileSync('npm', ['install', '--no-audit', '--no-fund', '--ignore-scripts', '--loglevel=error', ...specs], { cwd: dir, stdio: 'inherit' });
    const lock = JSON.parse(readFileSync(join(dir, 'package-lock.json'), 'utf8')) as { packages: Record<string, unknown> };
    const packages = Object.keys(lock.packages).filter((path) => path.startsWith('node_modules/'));
    const largest = packages
      .map((path) => ({ name: path.replace(/^.*node_modules\//, ''), mb: bytes(join(dir, path)) / 1e6 }))
      .sort((a, b) => b.mb - a.mb);
    return { label, packages: packages.length, mb: bytes(join(dir, 'node_modules')) / 1e6, largest };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export async function libraryInstall(progress: Progress): Promise<ScenarioOutput> {
  progress.update(0, 'building the library');
  execFileSync('npm', ['run', 'build', '--silent', '-w', 'freshcache'], { cwd: ROOT, stdio: 'inherit' });
  if (!existsSync(join(LIB, 'dist/index.js'))) throw new Error('packages/freshcache has no build after npm run build -w freshcache');
  const packDir = mkdtempSync(join(tmpdir(), 'freshcache-pack-'));
  try {
    const [packed] = JSON.parse(execFileSync('npm', ['pack', '--json', '--ignore-scripts', '--pack-destination', packDir], { cwd: LIB, encoding: 'utf8' })) as [
      { filename: string; size: number; unpackedSize: number; entryCount: number },
    ];
    progress.update(0.2, 'installing freshcache + ioredis from the registry');
    const ours = install('freshcache + ioredis', [join(packDir, packed.filename), 'ioredis']);
    progress.update(0.6, 'installing bentocache from the registry');
    const theirs = install('bentocache', ['bentocache']);
    const row = (r: typeof ours, target: string) => ({
      install: r.label,
      packages: String(r.packages),
      'MB on disk': r.mb.toFixed(1),
      target,
      'largest packages (MB)': r.largest
        .slice(0, 4)
        .map((p) => `${p.name} ${p.mb.toFixed(2)}`)
        .join(', '),
    });
    const within = ours.packages <= 30 && ours.mb <= 10;
    return {
      rows: [row(ours, `≤ 30 packages, ≤ 10 MB: ${within ? 'met' : 'MISSED'}`), row(theirs, 'peer')],
      tables: [
        {
          title: 'The freshcache tarball (npm pack)',
          rows: [{ files: String(packed.entryCount), 'kB packed': (packed.size / 1e3).toFixed(0), 'MB unpacked': (packed.unpackedSize / 1e6).toFixed(2) }],
        },
      ],
    };
  } finally {
    rmSync(packDir, { recursive: true, force: true });
  }
}
