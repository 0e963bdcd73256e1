// Builds dist/, what the package ships: one bundled ES module per entry, the chunks they share,
// and the declarations with their TSDoc. The package is ESM only: Node 20.19+ and 22.12+ load it
// with require() too, without a flag or a warning.
//
//   tsc      type-checks src/, writes the declarations to dist/ and plain per-module JavaScript to
//            build/modules/ (not shipped: the unit tests of the pure modules import it)
//   esbuild  bundles each entry from src/ into dist/<name>.js; code that entries share goes to
//            dist/chunk-<hash>.js, and a module reached only through a dynamic import() becomes a
//            chunk of its own (dist/<module>-<hash>.js), loaded when first imported
//
// One bundle per entry loads faster than a graph of small modules: Node resolves, reads and links
// each ES module separately (bench/import-time.mjs measures it).
import { execFileSync } from 'node:child_process';
import { chmodSync, readFileSync, readdirSync, rmSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';

/**
 * The package's entries: output name (dist/<name>.js) → source. A new entry point, a worker
 * script or a file loaded by path is one line here; its declarations come from tsc.
 */
export const ENTRIES = {
  index: 'src/index.ts', // service-probe
  client: 'src/client.ts', // service-probe/client
  cli: 'src/cli.ts', // the service-probe bin
  'checks-entry': 'src/checks-entry.ts', // service-probe/checks
  'worker-entry': 'src/worker/worker-entry.ts', // worker mode's thread, found by URL next to its loader
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
    // package must stay under 150 KB installed. keepNames keeps the names of functions and
    // classes (`Probe`, `toState`) in stack traces and `constructor.name`; minifying changes
    // import time by nothing measurable (bench/import-time.mjs).
    legalComments: 'none',
    minify: true,
    keepNames: true,
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
 * Keeps only the declaration files that package.json's `exports` reach (directly or through the
 * types they import); the others would ship for nothing.
 */
function pruneDeclarations(dir) {
  const reached = new Set();
  const visit = (file) => {
    if (reached.has(file)) return;
    reached.add(file);
    const text = readFileSync(file, 'utf8');
    for (const [, spec] of text.matchAll(/(?:from\s+|import\()['"](\.\.?\/[^'"]+)\.js['"]/g)) visit(join(dirname(file), `${spec}.d.ts`));
  };
  const { exports } = JSON.parse(readFileSync('package.json', 'utf8'));
  for (const entry of Object.values(exports)) if (entry.types !== undefined) visit(join(entry.types));
  for (const file of readdirSync(dir, { recursive: true })) {
    const path = join(dir, file);
    if (path.endsWith('.d.ts') && !reached.has(path)) rmSync(path);
  }
}

async function main() {
  rmSync('dist', { recursive: true, force: true });
  rmSync('build', { recursive: true, force: true });
  tsc();
  const { build } = await import('esbuild');
  await build(bundleOptions());
  pruneDeclarations('dist');
  chmodSync('dist/cli.js', 0o755);
  const size = (dir) => readdirSync(dir, { recursive: true }).reduce((sum, f) => sum + (statSync(join(dir, f)).isFile() ? statSync(join(dir, f)).size : 0), 0);
  console.log(`build: dist/ ${(size('dist') / 1000).toFixed(1)} KB (${Object.keys(ENTRIES).join(', ')})`);
}

if (import.meta.url === pathToFileURL(process.argv[1]).href) await main();
