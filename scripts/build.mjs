// Builds dist/, what the package ships: readable ES modules (not minified: the names of the source,
// one statement a line, so that a stack trace shows the library's own functions and code), in a few
// files named for what they hold, and the declarations with their TSDoc. The package is ESM only:
// Node 20.19+ and 22.12+ load it with require() too, without a flag or a warning.
//
//   tsc      type-checks src/ and writes declarations to build/types/ (no JavaScript: nothing runs
//            tsc's output; the unit tests import the shipped files, through dist/internal.js)
//   rollup   bundles src/ (each module's types stripped by esbuild) into the files placement()
//            names, each module in exactly one file, a file importing from the others by name; the
//            CLI is bundled apart, whole. No source maps: the code is the source's, less its types
//            and comments (a map of every line would be 25 KB more to install, a full one 190 KB).
//            With rollup-plugin-dts, it bundles the declarations per public entry: only the types
//            an entry's exports reach, each with its TSDoc, no `@internal` member (tsconfig's
//            stripInternal); types two entries share go to dist/types-<hash>.d.cts
//
// Why a few named files, not esbuild's or rollup's automatic code splitting: that puts the modules
// of each combination of entries sharing them in a chunk of its own (ten chunk-<hash>.js files
// for `import 'service-probe'`), and Node resolves, reads and links every file apart: each one
// costs import time. Here the main entry loads three files, the client and the checks two
// (bench/import-time.mjs; docs/performance.md has the figures).
import { execFileSync } from 'node:child_process';
import { chmodSync, existsSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { basename, dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

/**
 * The package's entries: output name (dist/<name>.js) → source. A new public entry or a file
 * loaded by path (the worker thread's script, found by URL next to its loader) is one line here.
 */
export const ENTRIES = {
  index: 'src/index.ts', // service-probe
  client: 'src/client.ts', // service-probe/client
  'checks-entry': 'src/checks-entry.ts', // service-probe/checks
  nestjs: 'src/nestjs.ts', // service-probe/nestjs
  'worker-entry': 'src/worker/worker-entry.ts', // worker mode's thread
  internal: 'src/internal.ts', // the tests' way into the shipped modules; not in the tarball
};

/** Entries that stay light: a module they load goes to shared.js, the small file every entry loads. */
const LIGHT = new Set(['client', 'checks-entry']);

/**
 * Built whole, sharing no file: the CLI, which a Docker HEALTHCHECK starts every few seconds, then
 * loads one file for `check` (its own copy of the client, the options, the errors and the states: a
 * process of its own shares no class with anything). `serve` imports the package's main entry
 * (`./index.js`, next to it in dist/) when it runs.
 */
export const STANDALONE = {
  cli: 'src/cli.ts', // the service-probe bin
};

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const require = createRequire(import.meta.url);

/**
 * The file of dist/ (its name without `.js`) each module goes to, given who loads it:
 *   - each entry, and each module loaded with `import()` (on first use: dist/raw-server.js,
 *     dist/metrics-endpoint.js, ...), has a file of its own;
 *   - a module only one of them loads goes into that one's file;
 *   - a module a light entry (the client, the checks) loads and anything else too: shared.js (the
 *     errors, the options, the states);
 *   - a module the main entry loads and anything else too: core.js (routes, verdicts, rendering,
 *     the check registry, the server core), which the lazily loaded files import from;
 *   - a module one lazily loaded file loads, and the worker thread's or the tests' entry: that
 *     file (http1-head.ts goes with raw-server.ts, which the worker entry imports too);
 *   - any other module (several lazily loaded files share it): core.js, correct if not the
 *     cheapest (the main entry loads it too).
 * `modules` maps each module (path relative to the repository) to what it imports:
 * `{ static: [...], dynamic: [...] }`. Throws when two files would get one name.
 */
export function placement(modules, entries = ENTRIES) {
  const roots = new Map(Object.entries(entries).map(([name, path]) => [path, name]));
  const lazy = new Set();
  for (const { dynamic } of modules.values()) {
    for (const path of dynamic) {
      if (roots.has(path)) continue;
      roots.set(path, basename(path, '.ts'));
      lazy.add(basename(path, '.ts'));
    }
  }
  const names = [...roots.values(), 'core', 'shared'];
  const twice = names.find((name, i) => names.indexOf(name) !== i);
  if (twice !== undefined) throw new Error(`build: two files would be dist/${twice}.js`);

  const users = new Map(); // module → the roots whose static imports reach it
  for (const [root, name] of roots) {
    const visit = (path) => {
      const seen = users.get(path) ?? new Set();
      if (seen.has(name)) return;
      users.set(path, seen.add(name));
      for (const next of modules.get(path).static) visit(next);
    };
    visit(root);
  }
  const owner = new Map();
  for (const [path, by] of users) {
    const lazyUsers = [...by].filter((name) => lazy.has(name));
    if (roots.has(path)) owner.set(path, roots.get(path));
    else if (by.size === 1) owner.set(path, [...by][0]);
    else if ([...by].some((name) => LIGHT.has(name))) owner.set(path, 'shared');
    else if (lazyUsers.length === 1 && !by.has('index')) owner.set(path, lazyUsers[0]);
    else owner.set(path, 'core');
  }
  return owner;
}

/** Resolves our `./x.js` imports to `src/x.ts` and strips the types (esbuild, one module at a time). */
function typescript() {
  return {
    name: 'typescript',
    resolveId(source, importer) {
      if (importer === undefined || !source.startsWith('.')) return null;
      const path = resolve(dirname(importer), source.replace(/\.js$/, '.ts'));
      return existsSync(path) ? path : null;
    },
    async transform(code, id) {
      if (!id.endsWith('.ts')) return null;
      const { transform } = await import('esbuild');
      const result = await transform(code, { loader: 'ts', format: 'esm', target: 'node20.19', sourcefile: id, legalComments: 'none' });
      // Each module's code opens with the path of its source, for a reader of dist/ (after the
      // CLI's `#!` line, which must stay first).
      return { code: result.code.replace(/^(#!.*\n)?/, `$1// ${relative(ROOT, id)}\n`), map: null };
    },
  };
}

/** The rollup output options every shipped file is written with. */
const OUTPUT = {
  format: 'es',
  entryFileNames: '[name].js',
  chunkFileNames: '[name].js',
  // Shared files export their functions under their own names (`import { route } from './core.js'`).
  minifyInternalExports: false,
  // A file imports what it uses, not also what the files it imports use (Node loads those anyway).
  hoistTransitiveImports: false,
  generatedCode: 'es2015',
};

/** Bundles the entries into `outdir`, each module in the file placement() gives it. */
export async function bundle(outdir = 'dist', entries = ENTRIES) {
  const { rollup } = await import('rollup');
  let owner;
  const build = await rollup({
    input: entries,
    plugins: [typescript()],
    external: (id) => id.startsWith('node:'),
    onwarn: (warning) => {
      throw new Error(`build: rollup: ${warning.message}`);
    },
  });
  await build.write({
    ...OUTPUT,
    dir: outdir,
    manualChunks(id, { getModuleIds, getModuleInfo }) {
      if (owner === undefined) {
        const modules = new Map();
        const path = (abs) => relative(ROOT, abs);
        for (const module of getModuleIds()) {
          if (module.startsWith('node:')) continue;
          const info = getModuleInfo(module);
          const ours = (ids) => ids.filter((i) => !i.startsWith('node:')).map(path);
          modules.set(path(module), { static: ours(info.importedIds), dynamic: ours(info.dynamicallyImportedIds) });
        }
        owner = placement(modules, entries);
      }
      const file = owner.get(relative(ROOT, id));
      // An entry's own modules are rollup's to place: they go into the entry's file.
      return file === undefined || Object.hasOwn(entries, file) ? undefined : file;
    },
  });
  await build.close();
}

/** The CLI as one file; `import('./index.js')` stays the package's main entry next to it. */
async function bundleStandalone(outdir = 'dist') {
  const { rollup } = await import('rollup');
  const mainEntry = join(ROOT, ENTRIES.index);
  const mainEntryExternal = {
    name: 'main-entry',
    resolveId(source, importer) {
      const path = importer === undefined ? undefined : resolve(dirname(importer), source.replace(/\.js$/, '.ts'));
      return path === mainEntry ? { id: './index.js', external: true } : null;
    },
  };
  const build = await rollup({
    input: STANDALONE,
    plugins: [mainEntryExternal, typescript()],
    external: (id) => id.startsWith('node:'),
    onwarn: (warning) => {
      throw new Error(`build: rollup: ${warning.message}`);
    },
  });
  await build.write({ ...OUTPUT, dir: outdir });
  await build.close();
}

function tsc() {
  const bin = require.resolve('typescript/bin/tsc');
  try {
    execFileSync(process.execPath, [bin, '-p', 'tsconfig.json'], { stdio: 'inherit', cwd: ROOT });
  } catch {
    console.error('build: tsc -p tsconfig.json failed (errors above)');
    process.exit(1);
  }
}

/**
 * The public entries' declarations, bundled: a consumer's TypeScript reads one file per entry
 * (plus the types the entries share) instead of every module's, and the package ships no
 * declarations of internal modules. TSDoc comments stay. Written once, as `.d.cts` (package.json's
 * `require` condition names them: what `require()` of the ES module returns, so that a CommonJS
 * consumer under `module: node16` does not fail with TS1479), and re-exported by the `.d.ts` that
 * ES module consumers resolve: an ES module may import CommonJS declarations, the reverse is the
 * error, and `export *` leaves out the `default` that CommonJS declarations would add.
 */
async function bundleDeclarations(from, outdir) {
  const { rollup } = await import('rollup');
  const { dts } = await import('rollup-plugin-dts');
  const { exports } = JSON.parse(readFileSync('package.json', 'utf8'));
  const input = {};
  for (const entry of Object.values(exports)) {
    if (entry.require?.types === undefined) continue;
    const name = basename(entry.require.types, '.d.cts');
    input[name] = join(from, `${name}.d.ts`);
  }
  const bundle = await rollup({ input, plugins: [dts()], external: (id) => id.startsWith('node:'), onwarn: (warning) => console.error(`build: rollup: ${warning.message}`) });
  // minifyInternalExports off: the shared files export the types under their own names.
  await bundle.write({ dir: outdir, format: 'es', entryFileNames: '[name].d.cts', chunkFileNames: 'types-[hash].d.cts', minifyInternalExports: false });
  await bundle.close();
  for (const name of Object.keys(input)) writeFileSync(join(outdir, `${name}.d.ts`), `export * from './${name}.cjs';\n`);
}

async function main() {
  process.chdir(ROOT);
  rmSync('dist', { recursive: true, force: true });
  rmSync('build', { recursive: true, force: true });
  tsc();
  await bundle();
  await bundleStandalone();
  await bundleDeclarations('build/types', 'dist');
  chmodSync('dist/cli.js', 0o755);
  const size = (dir) => readdirSync(dir, { recursive: true }).reduce((sum, f) => sum + (statSync(join(dir, f)).isFile() ? statSync(join(dir, f)).size : 0), 0);
  console.log(`build: dist/ ${(size('dist') / 1000).toFixed(1)} KB (${readdirSync('dist').filter((f) => f.endsWith('.js')).join(', ')})`);
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) await main();
