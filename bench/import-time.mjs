// What `import` of a module costs a fresh process: wall time and the process's CPU time (user +
// system) spent inside the `await import(...)`, read by the child itself. CPU time is the steadier
// figure on a shared machine: waiting for a core does not count.
//
//   node bench/import-time.mjs [--runs N] label=path-or-specifier ...
//     e.g. node bench/import-time.mjs --runs 40 before=/tmp/old/dist/index.js after=dist/index.js
//
// Runs are interleaved (one of each per turn) so that load drift hits every module alike; prints
// medians, and ratios to the first module.
import { execFile } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { isAbsolute, join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs, promisify } from 'node:util';

const run = promisify(execFile);

// The child measures itself around one dynamic import. It first imports an empty ES module file:
// Node loads its file loader (fs/promises, streams, readline) with the first ES module read from
// disk, which a service's own main module has already paid for.
const EMPTY = join(tmpdir(), 'service-probe-bench-empty.mjs');
const PROGRAM = `
await import(process.argv[2]);
const c0 = process.cpuUsage();
const t0 = performance.now();
await import(process.argv[1]);
const ms = performance.now() - t0;
const cpu = process.cpuUsage(c0);
process.stdout.write(JSON.stringify({ ms, cpuMs: (cpu.user + cpu.system) / 1000 }));
`;

/** A specifier the child can import: bare names and `node:` stay, paths become file URLs. */
export function importable(target) {
  if (target.startsWith('node:') || target.startsWith('file:')) return target;
  if (isAbsolute(target) || target.startsWith('.') || existsSync(target)) return pathToFileURL(resolve(target)).href;
  return target;
}

/** One fresh process of `node` importing `target` once: { ms, cpuMs }. `cwd` is where bare names resolve. */
export async function importOnce(target, { cwd = process.cwd(), execArgv = [], node = process.execPath } = {}) {
  if (!existsSync(EMPTY)) writeFileSync(EMPTY, '');
  const { stdout } = await run(node, [...execArgv, '--input-type=module', '-e', PROGRAM, importable(target), pathToFileURL(EMPTY).href], { cwd });
  return JSON.parse(stdout);
}

function median(values) {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

if (import.meta.url === pathToFileURL(process.argv[1]).href) {
  const { values, positionals } = parseArgs({ options: { runs: { type: 'string', default: '30' } }, allowPositionals: true });
  const targets = positionals.map((arg) => {
    const at = arg.indexOf('=');
    return at === -1 ? { label: arg, target: arg } : { label: arg.slice(0, at), target: arg.slice(at + 1) };
  });
  const samples = targets.map(() => ({ ms: [], cpuMs: [] }));
  for (let i = 0; i < Number(values.runs); i++) {
    for (const [k, { target }] of targets.entries()) {
      const { ms, cpuMs } = await importOnce(target);
      samples[k].ms.push(ms);
      samples[k].cpuMs.push(cpuMs);
    }
  }
  const base = samples[0];
  console.log(`| module | import wall ms (median of ${values.runs}) | vs first | import CPU ms | vs first |`);
  console.log('| --- | --- | --- | --- | --- |');
  for (const [k, { label }] of targets.entries()) {
    const { ms, cpuMs } = samples[k];
    const ratio = (a, b) => median(a.map((v, i) => v / b[i])).toFixed(2);
    console.log(`| ${label} | ${median(ms).toFixed(2)} | ${ratio(ms, base.ms)}x | ${median(cpuMs).toFixed(2)} | ${ratio(cpuMs, base.cpuMs)}x |`);
  }
}
