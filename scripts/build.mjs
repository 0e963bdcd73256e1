// Builds dist/, what the package ships: one bundled ES module per entry, the chunks they share,
// and the declarations with their TSDoc. The package is ESM only: Node 20.19+ and 22.12+ load it
// with require() too, without a flag or a warning.
//
//   tsc      type-checks src/, writes plain per-module JavaScript to build/modules/ (not shipped:
//            the unit tests of the pure modules import it) and the declarations to build/types/
//   rollup   (with rollup-plugin-dts) bundles the declarations per public entry into dist/: only
//            the types an entry's exports reach, each with its TSDoc; types two entries share go
//            to dist/types-<hash>.d.ts
//   esbuild  bundles each entry from src/ into dist/<name>.js; code that entries share goes to
//            dist/chunk-<hash>.js, and a module reached only through a dynamic import() becomes a
//            chunk of its own (dist/<module>-<hash>.js), loaded when first imported
//
// One bundle per entry loads faster than a graph of small modules: Node resolves, reads and links
// each ES module separately (bench/import-time.mjs measures it).
import { execFileSync } from 'node:child_process';
import { chmodSync, readFileSync, readdirSync, rmSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

/**
 * The package's entries: output name (dist/<name>.js) → source. A new entry point, a worker
 * script or a file loaded by path is one line here; its declarations come from tsc.
 */
export const ENTRIES = {
  index: 'src/index.ts', // service-probe
  client: 'src/client.ts', // service-probe/client
  'checks-entry': 'src/checks-entry.ts', // service-probe/checks
  nestjs: 'src/nestjs.ts', // service-probe/nestjs
  'worker-entry': 'src/worker/worker-entry.ts', // worker mode's thread, found by URL next to its loader
};

/**
 * Entries bundled whole, sharing no chunk: the CLI, which a Docker HEALTHCHECK starts every few
 * seconds, then loads one file for `check` instead of five (its own copy of the client, the
 * options, the errors and the states: a process of its own shares no class with anything).
 * `serve` imports the package's main entry (`./index.js`, next to it in dist/) when it runs.
 */
export const STANDALONE = {
  cli: 'src/cli.ts', // the service-probe bin
};

const require = createRequire(import.meta.url);

/** The esbuild options of the shipped bundles (exported to build variants to measure against). */
export function bundleOptions(entries = ENTRIES, outdir = 'dist') {
  return {
    entryPoints: entries,
    outdir,
    bundle: true,
    splitting: true,
    format: 'esm',
    platform: 'node',
    target: 'node20.19',
    packages: 'external',
    // Chunks sit next to the entries: every file of dist/ is at the same depth, so a path made with
    // `new URL('./worker.js', import.meta.url)` or `'../package.json'` holds wherever esbuild
    // places the code that makes it.
    chunkNames: '[name]-[hash]',
    // No comments in shipped JavaScript (TSDoc lives in the declarations), and minified: the
    // package must stay under 150 KB installed; minifying changes import time by nothing
    // measurable (bench/import-time.mjs). No keepNames: its `__name` helper is one more shared
    // chunk that every entry loads, and 6 KB (import of the main entry: 0.86x the CPU time without
    // it, same run); the error classes name themselves (`name`), other names are minified.
    legalComments: 'none',
    minify: true,
    keepNames: false,
    sourcemap: false,
    logLevel: 'warning',
  };
}

function tsc() {
  const bin = require.resolve('typescript/bin/tsc');
  try {
    execFileSync(process.execPath, [bin, '-p', 'tsconfig.json'], { stdio: 'inherit' });
  } catch {
    console.error('build: tsc -p tsconfig.json failed (errors above)');
    process.exit(1);
  }
}

/**
 * The public entries' declarations, bundled: a consumer's TypeScript reads one file per entry
 * (plus the types the entries share) instead of every module's, and the package ships no
 * declarations of internal modules. TSDoc comments stay; package.json's `exports` name the entries.
 */
async function bundleDeclarations(from, outdir) {
  const { rollup } = await import('rollup');
  const { dts } = await import('rollup-plugin-dts');
  const { exports } = JSON.parse(readFileSync('package.json', 'utf8'));
  const input = {};
  for (const entry of Object.values(exports)) {
    if (entry.types === undefined) continue;
    const name = entry.types.replace(/^\.\/dist\//, '').replace(/\.d\.ts$/, '');
    input[name] = join(from, `${name}.d.ts`);
  }
  const bundle = await rollup({ input, plugins: [dts()], external: (id) => id.startsWith('node:'), onwarn: (warning) => console.error(`build: rollup: ${warning.message}`) });
  // minifyInternalExports off: the shared files export the types under their own names.
  await bundle.write({ dir: outdir, format: 'es', entryFileNames: '[name].d.ts', chunkFileNames: 'types-[hash].d.ts', minifyInternalExports: false });
  await bundle.close();
}

async function main() {
  rmSync('dist', { recursive: true, force: true });
  rmSync('build', { recursive: true, force: true });
  tsc();
  const { build } = await import('esbuild');
  await build(bundleOptions());
  await build({ ...bundleOptions(STANDALONE), splitting: false, external: ['./index.js'] });
  await bundleDeclarations('build/types', 'dist');
  chmodSync('dist/cli.js', 0o755);
  const size = (dir) => readdirSync(dir, { recursive: true }).reduce((sum, f) => sum + (statSync(join(dir, f)).isFile() ? statSync(join(dir, f)).size : 0), 0);
  console.log(`build: dist/ ${(size('dist') / 1000).toFixed(1)} KB (${[...Object.keys(ENTRIES), ...Object.keys(STANDALONE)].join(', ')})`);
}

if (import.meta.url === pathToFileURL(process.argv[1]).href) await main();
