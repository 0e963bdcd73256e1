// `npm run bench`: what the probe costs its host, against a bare node:http server, the raw
// node:net limit, lightship, terminus and @cloudnative/health-connect, in one run:
//   - start-up and memory from outside (bench/startup.mjs): the `npm pack` tarball installed into a
//     temporary directory, consumers written as a user writes them (ES module and CommonJS,
//     `startProbe` and `createProbe().start()`), each a fresh process: spawn to first 200, its
//     CPU time to that 200, and its RSS 1 s later with no forced GC, over an idle node process;
//   - the CLI's `check` against `node -e ''`, the time to import each entry, the installed size;
//   - throughput and server CPU per request under load (bench/server.mjs, bench/load.mjs).
// Each part interleaves its contenders round by round, so that machine drift hits all of them
// alike, and every ratio is taken within the same round. Writes bench/results.{json,md,svg};
// `--update-docs` also rewrites the figures of docs/performance.md between its bench markers.
//
//   npm run bench                      full run (about 9 minutes on 2 cores)
//   npm run bench -- --quick           1 short round of everything, results in a temp dir: proves the
//                                      bench works (CI runs it; it asserts nothing about speed)
//   npm run bench -- --update-docs     full run, then refresh docs/performance.md from its results
//   options: --rounds N (load)  --startup-rounds N  --duration S  --out DIR  --only a,b
//            --startup-only (no load runs)  --node PATH (the node that runs consumers, servers and
//            the CLI)  --dir DIR (where the consumer directory is made; its path length matters,
//            see docs/performance.md)
import { execFileSync, fork } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { get } from 'node:http';
import { cpus, tmpdir, totalmem } from 'node:os';
import { dirname, join, resolve as resolvePath } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { importOnce } from './import-time.mjs';
import { renderMarkdown, renderSvg, updatePerformancePage } from './report.mjs';
import {
  PEERS,
  STARTUP_CONTENDERS,
  cliCommands,
  packProject,
  prepareConsumers,
  removeConsumers,
  rotate,
  startCliTarget,
  startupPrograms,
  startupRound,
  timeCommand,
  versionOf,
} from './startup.mjs';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const { values: args } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    'update-docs': { type: 'boolean', default: false },
    'startup-only': { type: 'boolean', default: false },
    rounds: { type: 'string' },
    'startup-rounds': { type: 'string' },
    duration: { type: 'string' },
    out: { type: 'string' },
    only: { type: 'string' },
    node: { type: 'string', default: process.execPath },
    dir: { type: 'string' },
  },
});

const quick = args.quick;
const config = {
  // More, shorter rounds interleave better than fewer long ones on a machine whose load drifts.
  rounds: args['startup-only'] ? 0 : Number(args.rounds ?? (quick ? 1 : 5)),
  warmupS: quick ? 0.2 : 0.5,
  durationS: Number(args.duration ?? (quick ? 0.5 : 2)),
  connections: 32,
  startupRounds: Number(args['startup-rounds'] ?? (quick ? 1 : 10)),
  cliSamples: quick ? 2 : 20,
  importSamples: quick ? 2 : 10,
};
// The consumers run in their own directory: a relative path to node is taken from here.
const node = resolvePath(args.node);
const outDir = args.out ?? (quick ? mkdtempSync(join(tmpdir(), 'service-probe-bench-')) : join(ROOT, 'bench'));

/** The throughput contenders, in table order; every ratio divides by `bare`. */
const CONTENDERS = [
  { id: 'standalone', label: "service-probe, standalone with `server: 'http'` (node:http)" },
  { id: 'standalone-net', label: 'service-probe, standalone (node:net reader, the default)' },
  { id: 'handle', label: 'service-probe, `handle()` in a node:http server' },
  { id: 'bare', label: 'bare node:http, same bytes (the reference)' },
  { id: 'raw-net', label: 'raw node:net, precomputed response (the limit)' },
  { id: 'lightship', label: `lightship ${versionOf('lightship')}` },
  { id: 'terminus', label: `@godaddy/terminus ${versionOf('@godaddy/terminus')}` },
  { id: 'health-connect', label: `@cloudnative/health-connect ${versionOf('@cloudnative/health-connect')}` },
];
const only = args.only?.split(',');
const contenders = config.rounds === 0 ? [] : CONTENDERS.filter((c) => only === undefined || only.includes(c.id) || c.id === 'bare');

function log(message) {
  process.stderr.write(`${message}\n`);
}

// ---------------------------------------------------------------------------------------------
// Child processes

function nextMessage(child, type) {
  return new Promise((resolve, reject) => {
    const onMessage = (message) => {
      if (type !== undefined && message.type !== type) return;
      cleanup();
      resolve(message);
    };
    const onExit = (code) => {
      cleanup();
      reject(new Error(`child exited (${code}) while waiting for ${type ?? 'a message'}`));
    };
    const cleanup = () => {
      child.off('message', onMessage);
      child.off('exit', onExit);
    };
    child.on('message', onMessage);
    child.on('exit', onExit);
  });
}

function request(port, path) {
  return new Promise((resolve, reject) => {
    get({ host: '127.0.0.1', port, path, agent: false }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode));
    }).on('error', reject);
  });
}

// Forks a throughput server on the installed package; resolves once it listens.
async function startServer(id) {
  const child = fork(join(ROOT, 'bench', 'server.mjs'), [id, packageEntry], {
    execPath: node,
    stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
    env: { ...process.env, NODE_ENV: 'production' },
  });
  const { port } = await nextMessage(child, 'listening');
  const status = await request(port, '/ready');
  if (status !== 200) throw new Error(`${id}: /ready answered ${status}`);
  return { child, port };
}

function stopServer(server) {
  return new Promise((resolve) => {
    if (server.child.exitCode !== null) return resolve();
    server.child.once('exit', resolve);
    server.child.kill('SIGKILL');
  });
}

async function cpuOf(server) {
  server.child.send({ type: 'cpu' });
  const { cpu } = await nextMessage(server.child, 'cpu');
  return cpu.user + cpu.system;
}

let loadProcess;
async function load(port, close) {
  loadProcess ??= fork(join(ROOT, 'bench', 'load.mjs'), [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  loadProcess.send({ port, path: '/ready', connections: config.connections, warmupS: config.warmupS, durationS: config.durationS, close });
  const result = await nextMessage(loadProcess);
  if (!result.ok) throw new Error(result.error);
  return result;
}

// ---------------------------------------------------------------------------------------------
// Measurements

const samples = {}; // samples[metric][id] = number[]
function record(metric, id, value) {
  ((samples[metric] ??= {})[id] ??= []).push(value);
}

async function measureThroughput(id) {
  const server = await startServer(id);
  try {
    for (const close of [false, true]) {
      const mode = close ? 'close' : 'keepAlive';
      const cpuBefore = await cpuOf(server);
      const result = await load(server.port, close);
      const cpuAfter = await cpuOf(server);
      if (result.non200 > 0 || result.requests === 0) {
        log(`  ${id} ${mode}: ${result.requests} ok, ${result.non200} not 200, ${result.errors} errors`);
      }
      record(`${mode}Rps`, id, result.rps);
      record(`${mode}P50Us`, id, result.p50us);
      record(`${mode}P99Us`, id, result.p99us);
      // Server CPU per request, warm-up included on both sides of the ratio.
      const total = result.requests * ((config.warmupS + result.seconds) / result.seconds);
      record(`${mode}CpuUs`, id, (cpuAfter - cpuBefore) / total);
    }
  } finally {
    await stopServer(server);
  }
}

function hasCurl() {
  try {
    execFileSync('curl', ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

// `service-probe check URL` of the installed package against a running probe, beside `node -e ''`
// and an empty ES module (the floor of any ES module program: the CLI is one), interleaved.
async function measureCli() {
  const target = await startCliTarget(node, consumers);
  try {
    const commands = cliCommands(node, target.url, { curl: hasCurl() });
    for (let i = 0; i < config.cliSamples; i++) {
      for (const [id, command, argv] of rotate(commands, i)) record('cliMs', id, await timeCommand(command, argv, consumers));
    }
  } finally {
    await target.stop();
  }
}

// The time to import each entry of the installed package (every export of package.json, so a new
// entry is measured without a change here), beside the peers and node:http itself: fresh
// processes, wall and CPU time inside the `await import()`, names resolved from the consumer
// directory as in a user's service.
function importTargets() {
  const { exports } = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8'));
  const targets = [['bare', 'node:http']];
  for (const entry of Object.keys(exports)) {
    if (entry !== './package.json') targets.push([`service-probe${entry.slice(1)}`, `service-probe${entry.slice(1)}`]);
  }
  for (const [id, name] of Object.entries(PEERS)) if (only === undefined || only.includes(id)) targets.push([id, name]);
  return targets;
}

async function measureImports() {
  for (let i = 0; i < config.importSamples; i++) {
    for (const [id, target] of rotate(importTargets(), i)) {
      const { ms, cpuMs } = await importOnce(target, { cwd: consumers, node });
      record('importMs', id, ms);
      record('importCpuMs', id, cpuMs);
    }
  }
}

// Footprint: what `npm install --omit=dev` puts on disk, counted in packages and file bytes: the
// package's tarball, and the peers' published versions (from npm's cache when it has them).
function footprint() {
  const result = {};
  const targets = {
    'service-probe': tarball,
    lightship: `lightship@${versionOf('lightship')}`,
    terminus: `@godaddy/terminus@${versionOf('@godaddy/terminus')}`,
    'health-connect': `@cloudnative/health-connect@${versionOf('@cloudnative/health-connect')}`,
  };
  for (const [id, spec] of Object.entries(targets)) {
    if (only !== undefined && id !== 'service-probe' && !only.includes(id)) continue;
    const dir = join(work, `footprint-${id}`);
    mkdirSync(dir);
    writeFileSync(join(dir, 'package.json'), '{"name":"footprint","private":true}\n');
    try {
      execFileSync('npm', ['install', '--omit=dev', '--prefer-offline', '--no-audit', '--no-fund', '--ignore-scripts', '--no-package-lock', spec], {
        cwd: dir,
        stdio: ['ignore', 'ignore', 'pipe'],
        timeout: 120_000,
      });
      result[id] = countInstalled(join(dir, 'node_modules'));
    } catch (error) {
      result[id] = { error: String(error.message).split('\n')[0] };
    }
  }
  return result;
}

function countInstalled(nodeModules) {
  let packages = 0;
  let bytes = 0;
  const walk = (dir) => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) walk(path);
      else if (entry.isFile()) {
        bytes += statSync(path).size;
        if (entry.name === 'package.json' && /node_modules[\\/](@[^\\/]+[\\/])?[^\\/@]+$/.test(dir)) packages++;
      }
    }
  };
  walk(nodeModules);
  return { packages, bytes };
}

// ---------------------------------------------------------------------------------------------
// Run

const began = performance.now();
const work = mkdtempSync(join(tmpdir(), 'service-probe-bench-work-'));
let consumers;
let tarball;
let packageEntry;
try {
  log(`bench: packing and installing into a consumer directory${quick ? ' (quick)' : ''}`);
  tarball = packProject(work);
  let peers;
  ({ dir: consumers, peers } = prepareConsumers({ tarball, parent: args.dir }));
  packageEntry = pathToFileURL(join(consumers, 'node_modules', 'service-probe', 'dist', 'index.js')).href;
  log(`bench: consumers in ${consumers}`);

  const programs = startupPrograms({ only });
  for (let round = 0; round < config.startupRounds; round++) {
    log(`start-up round ${round + 1}/${config.startupRounds}`);
    await startupRound({ node, dir: consumers, programs, round, record, log });
  }
  for (let round = 0; round < config.rounds; round++) {
    log(`load round ${round + 1}/${config.rounds}`);
    for (const { id } of rotate(contenders, round)) {
      log(`  ${id}`);
      await measureThroughput(id);
    }
  }
  log('cli');
  await measureCli();
  log('import');
  await measureImports();
  log('footprint');
  const installed = footprint();

  const meta = {
    date: new Date().toISOString(),
    node: execFileSync(node, ['--version'], { encoding: 'utf8' }).trim(),
    cpus: cpus().length,
    cpuModel: cpus()[0]?.model ?? 'unknown',
    memoryGiB: Math.round(totalmem() / 2 ** 30),
    quick,
    ...config,
    consumersPathLength: consumers.length,
    peers,
    curlAvailable: hasCurl(),
    seconds: Math.round((performance.now() - began) / 1000),
  };
  const startupContenders = STARTUP_CONTENDERS.map(({ id, label, kinds }) => ({ id, label, kinds }));
  const results = { meta, contenders: contenders.map(({ id, label }) => ({ id, label })), startupContenders, samples, installed };
  mkdirSync(outDir, { recursive: true });
  writeFileSync(join(outDir, 'results.json'), `${JSON.stringify(results, null, 2)}\n`);
  const markdown = renderMarkdown(results);
  writeFileSync(join(outDir, 'results.md'), markdown);
  writeFileSync(join(outDir, 'results.svg'), renderSvg(results));
  process.stdout.write(markdown);
  if (args['update-docs'] && !quick) {
    updatePerformancePage(join(ROOT, 'docs', 'performance.md'), markdown);
    log('docs/performance.md: figures updated');
  }
  log(`bench: done in ${meta.seconds} s; results in ${outDir}`);
  // What --quick proves in CI: every consumer answered 200 (startupRound throws otherwise), and
  // every throughput contender answered 200s in both modes. Nothing about speed is asserted.
  const broken = contenders.filter(({ id }) => !(Math.min(...samples.keepAliveRps[id]) > 0 && Math.min(...samples.closeRps[id]) > 0));
  if (broken.length > 0) {
    log(`bench: no successful GET /ready from ${broken.map((c) => c.id).join(', ')}`);
    process.exitCode = 1;
  }
} finally {
  loadProcess?.disconnect();
  if (consumers !== undefined) removeConsumers(consumers);
  rmSync(work, { recursive: true, force: true });
}
