// Where the main entry's import time goes, file by file: the marginal CPU time of loading each
// node core module and each file of dist/ that `import 'service-probe'` loads, once everything it
// imports is loaded already. For the lazy-loading work: it names what to defer (the `// src/...`
// lines of a file say which modules it holds). `npm run build` first.
//
//   node bench/startup-cost.mjs [--runs N]
import { execFile } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, posix } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs, promisify } from 'node:util';

const run = promisify(execFile);
const MODULES = fileURLToPath(new URL('../dist/', import.meta.url));
const { values } = parseArgs({ options: { runs: { type: 'string', default: '20' } } });

// Loads the preloads, then measures the CPU time of importing the target alone.
const PROGRAM = `
const [target, ...preloads] = process.argv.slice(1);
for (const p of preloads) await import(p);
const c0 = process.cpuUsage();
await import(target);
const cpu = process.cpuUsage(c0);
process.stdout.write(String((cpu.user + cpu.system) / 1000));
`;

function importsOf(file) {
  const text = readFileSync(join(MODULES, file), 'utf8');
  return [...text.matchAll(/^(?:import|export)\s[^;]*?from\s+'([^']+)';/gms)].map((m) => m[1]);
}

/** Our module's transitive imports: [our files in load order, node core modules]. */
function closure(file, seen = new Set(), core = new Set()) {
  for (const spec of importsOf(file)) {
    if (spec.startsWith('node:')) core.add(spec);
    else {
      const path = posix.normalize(posix.join(posix.dirname(file), spec));
      if (seen.has(path)) continue;
      closure(path, seen, core);
      seen.add(path);
    }
  }
  return [[...seen], [...core]];
}

const url = (file) => pathToFileURL(join(MODULES, file)).href;
const [, allCore] = closure('index.js');
const ours = [...closure('index.js')[0], 'index.js'];
// An empty ES module file: the first one read from disk loads Node's file loader (fs/promises,
// streams, readline), which a service's own main module has paid for already.
const EMPTY = pathToFileURL(join(tmpdir(), 'service-probe-bench-empty.mjs')).href;
writeFileSync(new URL(EMPTY), '');

const cases = [];
for (const core of allCore) cases.push({ label: core, target: core, preloads: [EMPTY] });
cases.push({ label: `all ${allCore.length} core modules together`, target: `data:text/javascript,${allCore.map((m) => `import '${m}';`).join('')}`, preloads: [EMPTY] });
for (const file of ours) {
  const [deps] = closure(file);
  cases.push({ label: `dist/${file}`, target: url(file), preloads: [EMPTY, ...allCore, ...deps.map(url)] });
}
cases.push({ label: 'dist/index.js with every file it loads, over the core modules', target: url('index.js'), preloads: [EMPTY, ...allCore] });

const samples = cases.map(() => []);
for (let i = 0; i < Number(values.runs); i++) {
  for (const [k, { target, preloads }] of cases.entries()) {
    const { stdout } = await run(process.execPath, ['--input-type=module', '-e', PROGRAM, target, ...preloads]);
    samples[k].push(Number(stdout));
  }
}
const median = (v) => [...v].sort((a, b) => a - b)[v.length >> 1];
console.log(`| module | marginal import CPU ms (median of ${values.runs}) |`);
console.log('| --- | --- |');
for (const [k, { label }] of cases.entries()) console.log(`| ${label} | ${median(samples[k]).toFixed(2)} |`);
