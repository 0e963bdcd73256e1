// Where a probe's start-up memory and CPU go, step by step, in the same kind of process as the
// bench's consumers (bench/startup.mjs: the packed package installed into a temporary directory,
// fresh processes, no forced GC). Each step is a small program that goes one step further than
// the one before it: node alone, the ES module loader, node:net, a node:net server, the package's
// import, createProbe(), start(), startProbe() with its address, the first request. For each:
//
//   CPU       the process's CPU time (all threads, /proc/<pid>/task/*/schedstat) 1 s after the step
//   RSS       VmRSS over `node` running an empty CommonJS file, read then
//   heap ...  process.memoryUsage() in the child at the same moment: V8's heap (total, used),
//             external memory (Buffers and other C++ objects V8 knows of)
//   core      node core modules loaded (process.moduleLoadList)
//   TurboFan  functions V8 optimized with TurboFan (from a separate run with --trace-opt); each
//             optimization pages in part of the compiler's code, which shows in RSS
//
// A second table runs the README's consumers from consumer directories at three path lengths:
// node's path and URL code walks each module's path character by character while loading it, and
// past a budget V8 optimizes those functions, which costs several MB of RSS.
//
//   node bench/breakdown.mjs [--runs N] [--node PATH] [--tarball PATH]   (`npm run build` first)
//
// --tarball measures another build (an `npm pack` tarball) instead of packing the project.
import { execFileSync, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve as resolvePath } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { cpuMsOf, freePort, packProject, prepareConsumers, removeConsumers, statusOf, vmRssOf } from './startup.mjs';

const CONSUMERS = fileURLToPath(new URL('consumers/', import.meta.url));
const { values } = parseArgs({ options: { runs: { type: 'string', default: '5' }, node: { type: 'string', default: process.execPath }, tarball: { type: 'string' } } });
// The steps run in the consumer directory: a relative path to node is taken from here.
const node = resolvePath(values.node);

// Appended to every step: 1 s after the step, its own view of its memory, on fd 1, then it stays
// up until killed (RSS is read from outside after the report). Through the CommonJS fs object,
// which every process has loaded already (an ES import of node:fs would evaluate its lazy
// `promises` export and load more).
const REPORT = `
setInterval(() => {}, 2 ** 30);
setTimeout(() => {
  const { rss, heapTotal, heapUsed, external, arrayBuffers } = process.memoryUsage();
  const core = process.moduleLoadList.filter((m) => m.startsWith('NativeModule ')).length;
  process.getBuiltinModule('node:fs').writeSync(1, JSON.stringify({ rss, heapTotal, heapUsed, external, arrayBuffers, core }) + '\\n');
}, 1000);
`;

const PORT = 'Number(process.env.PORT)';
const RAW_200 = `(socket) => socket.end('HTTP/1.1 200 OK\\r\\ncontent-length: 0\\r\\n\\r\\n')`;
/** [id, what the step adds, file extension, listens, program]. */
const STEPS = [
  ['cjs-empty', '`node file.cjs`, an empty CommonJS program (the baseline)', 'cjs', false, ''],
  ['esm-empty', 'an empty ES module program: the ES module loader', 'mjs', false, ''],
  ['net', "+ node:net (`process.getBuiltinModule('node:net')`)", 'mjs', false, "process.getBuiltinModule('node:net');"],
  ['net-listen', '+ a node:net server listening on every interface, first request answered', 'mjs', true, `process.getBuiltinModule('node:net').createServer(${RAW_200}).listen(${PORT});`],
  ['net-listen-host', "+ the same listening on '0.0.0.0' (a host: node:net loads dns to look it up)", 'mjs', true, `process.getBuiltinModule('node:net').createServer(${RAW_200}).listen(${PORT}, '0.0.0.0');`],
  ['import', "`import 'service-probe'` (alone)", 'mjs', false, "import 'service-probe';"],
  ['create', '+ `createProbe()`', 'mjs', false, "import { createProbe } from 'service-probe';\ncreateProbe();"],
  ['create-start', '+ `start()` on every interface, first request answered', 'mjs', true, `import { createProbe } from 'service-probe';\nawait createProbe({ port: ${PORT}, state: 'READY' }).start();`],
  ['start-probe', '`startProbe([0, 0, 0, 0], port, …)` instead, first request answered (the README)', 'mjs', true, `import { startProbe } from 'service-probe';\nawait startProbe([0, 0, 0, 0], ${PORT}, 'READY');`],
  ['node-http', 'for comparison: bare node:http (`import { createServer } from \'node:http\'`), first request answered', 'mjs', true, `import { createServer } from 'node:http';\ncreateServer((req, res) => res.end('READY')).listen(${PORT});`],
  ['cjs-esm-loader', "CommonJS: `require('./empty.mjs')`, the ES module loader inside a CommonJS program", 'cjs', false, "require('./empty.mjs');"],
  ['cjs-require', "CommonJS: `require('service-probe')`", 'cjs', false, "require('service-probe');"],
  ['cjs-start-probe', 'CommonJS: `startProbe([0, 0, 0, 0], port, …)`, first request answered', 'cjs', true, `require('service-probe').startProbe([0, 0, 0, 0], ${PORT}, 'READY');`],
  ['cjs-node-http', "CommonJS: bare node:http (`require('node:http')`), first request answered", 'cjs', true, `require('node:http').createServer((req, res) => res.end('READY')).listen(${PORT});`],
];

/** Runs `file` once: the child's report plus RSS and CPU read from outside, and the TurboFan count when traced. */
async function runStep(dir, file, listens, { trace = false } = {}) {
  const port = await freePort();
  const child = spawn(node, [...(trace ? ['--trace-opt'] : []), file], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'], env: { PATH: process.env.PATH, PORT: String(port) } });
  let out = '';
  let err = '';
  child.stdout.setEncoding('utf8');
  child.stderr.setEncoding('utf8').on('data', (text) => (err += text));
  const report = new Promise((resolve, reject) => {
    child.stdout.on('data', (text) => {
      out += text;
      const line = out.split('\n').find((l) => l.startsWith('{'));
      if (line !== undefined) resolve(JSON.parse(line));
    });
    child.once('exit', () => reject(new Error(`${file} exited: ${err.trim()}`)));
  });
  report.catch(() => {});
  try {
    if (listens) while ((await statusOf(port)) !== 200) await new Promise((r) => setTimeout(r, 1));
    const own = await report;
    const result = { ...own, vmRss: vmRssOf(child.pid), cpuMs: cpuMsOf(child.pid) };
    if (trace) result.turbofan = (out.match(/completed optimizing/g) ?? []).length;
    return result;
  } finally {
    child.kill('SIGKILL');
  }
}

const median = (v) => [...v].sort((a, b) => a - b)[v.length >> 1];
const mb = (bytes) => (bytes / 1e6).toFixed(2);

/** Runs every `<prefix><id>.<ext>` of `dir` `runs` times, interleaved, then once traced: { stat(id, field), traced }. */
async function measure(dir, steps, runs, prefix) {
  const samples = Object.fromEntries(steps.map(([id]) => [id, []]));
  for (let i = 0; i < runs; i++) for (const [id, , ext, listens] of steps) samples[id].push(await runStep(dir, `${prefix}${id}.${ext}`, listens));
  const traced = {};
  for (const [id, , ext, listens] of steps) traced[id] = (await runStep(dir, `${prefix}${id}.${ext}`, listens, { trace: true })).turbofan;
  const stat = (id, field) => median(samples[id].map((s) => s[field]));
  return { stat, traced };
}

const work = mkdtempSync(join(tmpdir(), 'service-probe-breakdown-'));
const dirs = [];
try {
  const tarball = values.tarball ?? packProject(work);
  const runs = Number(values.runs);
  const version = execFileSync(node, ['--version'], { encoding: 'utf8' }).trim();

  const { dir } = prepareConsumers({ tarball });
  dirs.push(dir);
  for (const [id, , ext, , program] of STEPS) writeFileSync(join(dir, `step-${id}.${ext}`), `${program}\n${REPORT}`);
  const { stat, traced } = await measure(dir, STEPS, runs, 'step-');
  const base = stat('cjs-empty', 'vmRss');
  console.log(`Node ${version}; medians of ${runs} fresh processes per step; package installed at a path of ${dir.length} characters.\n`);
  console.log('| step | CPU ms | RSS over `node file.cjs`, MB | heap total, MB | heap used, MB | external, MB | core modules | TurboFan |');
  console.log('| --- | --- | --- | --- | --- | --- | --- | --- |');
  for (const [id, label] of STEPS) {
    console.log(
      `| ${label} | ${stat(id, 'cpuMs').toFixed(1)} | ${mb(stat(id, 'vmRss') - base)} | ${mb(stat(id, 'heapTotal'))} | ${mb(stat(id, 'heapUsed'))} | ` +
        `${mb(stat(id, 'external'))} | ${stat(id, 'core')} | ${traced[id]} |`,
    );
  }

  // The same consumers (bench/consumers/) installed at three path lengths.
  const long = join(work, 'srv', 'deployments', 'production', 'a-company-name', 'a-rather-long-service-name-for-the-api-gateway', 'current-release');
  mkdirSync(long, { recursive: true });
  const places = [
    ['short', prepareConsumers({ tarball, parent: tmpdir(), prefix: 'sp-' }).dir],
    ['default', dir],
    ['long', prepareConsumers({ tarball, parent: long }).dir],
  ];
  dirs.push(places[0][1], places[2][1]);
  const consumers = ['idle', 'node-http', 'start-probe', 'create-probe', 'terminus', 'health-connect'].map((id) => [id, id, 'mjs', id !== 'idle']);
  // Each reports as the steps do; under its own name, since the name's length counts too.
  for (const [, path] of places) for (const [id] of consumers) writeFileSync(join(path, `${id}.mjs`), `${readFileSync(join(CONSUMERS, `${id}.mjs`), 'utf8')}\n${REPORT}`);
  console.log('\n| consumer (ES module) | ' + places.map(([name, path]) => `${name} path (${path.length} chars): RSS over idle, MB / CPU to 200, ms / TurboFan`).join(' | ') + ' |');
  console.log(`| --- |${places.map(() => ' --- |').join('')}`);
  const byPlace = [];
  for (const [, path] of places) byPlace.push(await measure(path, consumers, runs, ''));
  for (const [id] of consumers.slice(1)) {
    const cells = byPlace.map(({ stat: s, traced: t }) => `${mb(s(id, 'vmRss') - s('idle', 'vmRss'))} / ${s(id, 'cpuMs').toFixed(1)} / ${t[id]}`);
    console.log(`| ${id} | ${cells.join(' | ')} |`);
  }
} finally {
  for (const dir of dirs) removeConsumers(dir);
  rmSync(work, { recursive: true, force: true });
}
