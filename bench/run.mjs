// `npm run bench`: service-probe against a bare node:http server, the raw node:net limit,
// lightship, terminus and @cloudnative/health, interleaved round by round so that machine drift
// hits every contender alike: throughput, CPU per request, spawn to first 200, RSS, the time to
// import each entry, the CLI, and the installed size. Writes bench/results.{json,md,svg}; `--update-docs` also rewrites
// the figures of docs/performance.md between its bench markers.
//
//   npm run bench                      full run (5 rounds, about 4 minutes on 2 cores)
//   npm run bench -- --quick           1 short round, results in a temp dir: proves the bench works
//   npm run bench -- --update-docs     full run, then refresh docs/performance.md from its results
//   options: --rounds N  --duration S  --out DIR  --only a,b
import { execFileSync, fork, spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { get } from 'node:http';
import { cpus, tmpdir, totalmem } from 'node:os';
import { dirname, join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { importOnce } from './import-time.mjs';
import { renderMarkdown, renderSvg, updatePerformancePage } from './report.mjs';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const { values: args } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    'update-docs': { type: 'boolean', default: false },
    rounds: { type: 'string' },
    duration: { type: 'string' },
    out: { type: 'string' },
    only: { type: 'string' },
  },
});

const quick = args.quick;
const config = {
  // More, shorter rounds interleave better than fewer long ones on a machine whose load drifts.
  rounds: Number(args.rounds ?? (quick ? 1 : 5)),
  warmupS: quick ? 0.2 : 0.5,
  durationS: Number(args.duration ?? (quick ? 0.5 : 2)),
  connections: 32,
  spawnSamples: quick ? 1 : 3,
  cliSamples: quick ? 2 : 8,
  importSamples: quick ? 2 : 10,
};
const outDir = args.out ?? (quick ? mkdtempSync(join(tmpdir(), 'service-probe-bench-')) : join(ROOT, 'bench'));

/** The contenders, in table order. `ratioBase` is the one every ratio divides by. */
const CONTENDERS = [
  { id: 'standalone', label: "service-probe, standalone with `server: 'http'` (node:http)" },
  { id: 'standalone-net', label: 'service-probe, standalone (node:net reader, the default)' },
  { id: 'handle', label: 'service-probe, `handle()` in a node:http server' },
  { id: 'bare', label: 'bare node:http, same bytes (the reference)' },
  { id: 'raw-net', label: 'raw node:net, precomputed response (the limit)' },
  { id: 'lightship', label: `lightship ${versionOf('lightship')}` },
  { id: 'terminus', label: `@godaddy/terminus ${versionOf('@godaddy/terminus')}` },
  { id: 'cloudnative', label: `@cloudnative/health-connect ${versionOf('@cloudnative/health-connect')}` },
];
const only = args.only?.split(',');
const contenders = CONTENDERS.filter((c) => only === undefined || only.includes(c.id) || c.id === 'bare');

function versionOf(name) {
  return JSON.parse(readFileSync(join(ROOT, 'node_modules', name, 'package.json'), 'utf8')).version;
}

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

// Spawns a server and times spawn → first 200 on /ready (the port comes over IPC once it listens).
async function startServer(id) {
  const t0 = performance.now();
  const child = fork(join(ROOT, 'bench', 'server.mjs'), [id], {
    execArgv: ['--expose-gc'],
    stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
    env: { ...process.env, NODE_ENV: 'production' },
  });
  const { port } = await nextMessage(child, 'listening');
  if (id === 'idle') return { child, port, startMs: performance.now() - t0 };
  let status;
  for (let attempt = 0; attempt < 1000; attempt++) {
    status = await request(port, '/ready');
    if (status === 200) break;
    await new Promise((r) => setTimeout(r, 1));
  }
  if (status !== 200) throw new Error(`${id}: /ready never answered 200 (last ${status})`);
  return { child, port, startMs: performance.now() - t0 };
}

function stopServer(server) {
  return new Promise((resolve) => {
    if (server.child.exitCode !== null) return resolve();
    server.child.once('exit', resolve);
    server.child.kill('SIGKILL');
  });
}

/** RSS 1 s after the server listened: { rssNoGc, rss } (the second after a forced GC). */
async function rssOf(server) {
  server.child.send({ type: 'rss' });
  return nextMessage(server.child, 'rss');
}

function recordRss(id, { rssNoGc, rss }) {
  record('rssNoGcBytes', id, rssNoGc);
  record('rssBytes', id, rss);
}

async function cpuOf(server) {
  server.child.send({ type: 'cpu' });
  const { cpu } = await nextMessage(server.child, 'cpu');
  return cpu.user + cpu.system;
}

const loadProcess = fork(join(ROOT, 'bench', 'load.mjs'), [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });

async function load(port, close) {
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

async function measureContender(id) {
  // Spawn to first 200: several fresh processes; the last one stays up for the rest.
  let server;
  for (let i = 0; i < config.spawnSamples; i++) {
    if (server !== undefined) await stopServer(server);
    server = await startServer(id);
    record('startMs', id, server.startMs);
  }
  try {
    recordRss(id, await rssOf(server));
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

async function measureIdle() {
  const server = await startServer('idle');
  try {
    recordRss('idle', await rssOf(server));
  } finally {
    await stopServer(server);
  }
}

function timeCommand(command, argv) {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const child = spawn(command, argv, { stdio: 'ignore' });
    child.on('error', reject);
    child.on('exit', (code) => resolve({ ms: performance.now() - t0, code }));
  });
}

function hasCurl() {
  try {
    execFileSync('curl', ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

const CLI = join(ROOT, 'dist', 'cli.js');
function cliAvailable() {
  // Until the CLI lands, src/cli.ts is a stub: no `check` command to time.
  return existsSync(CLI) && readFileSync(CLI, 'utf8').includes('check');
}

async function measureCli() {
  const server = await startServer('standalone');
  const url = `http://127.0.0.1:${server.port}/ready`;
  const commands = [['node', process.execPath, ['-e', '']]];
  if (hasCurl()) commands.push(['curl', 'curl', ['-fsS', '-o', '/dev/null', url]]);
  if (cliAvailable()) commands.push(['cli', process.execPath, [CLI, 'check', url]]);
  try {
    for (let i = 0; i < config.cliSamples; i++) {
      for (const [id, command, argv] of commands) {
        const { ms, code } = await timeCommand(command, argv);
        if (code !== 0) throw new Error(`${id} exited ${code}`);
        record('cliMs', id, ms);
      }
    }
  } finally {
    await stopServer(server);
  }
}

// The time to import each entry of the package (every export of package.json, so a new entry is
// measured without a change here), beside the peers and node:http itself: fresh processes, wall
// and CPU time inside the `await import()`.
function importTargets() {
  const { exports } = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8'));
  const targets = [['bare', 'node:http']];
  for (const [entry, target] of Object.entries(exports)) {
    if (entry !== './package.json') targets.push([`service-probe${entry.slice(1)}`, join(ROOT, target.default ?? target)]);
  }
  const peers = { lightship: 'lightship', terminus: '@godaddy/terminus', cloudnative: '@cloudnative/health-connect' };
  for (const [id, name] of Object.entries(peers)) if (only === undefined || only.includes(id)) targets.push([id, name]);
  return targets;
}

async function measureImports() {
  for (let i = 0; i < config.importSamples; i++) {
    for (const [id, target] of importTargets()) {
      const { ms, cpuMs } = await importOnce(target, { cwd: ROOT });
      record('importMs', id, ms);
      record('importCpuMs', id, cpuMs);
    }
  }
}

// Footprint: what `npm install --omit=dev` puts on disk, counted in packages and file bytes.
function footprint() {
  const work = mkdtempSync(join(tmpdir(), 'service-probe-footprint-'));
  const result = {};
  try {
    execFileSync('npm', ['pack', '--silent', '--pack-destination', work], { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, npm_config_ignore_scripts: 'true' } });
    const tarball = readdirSync(work).find((name) => name.endsWith('.tgz'));
    const targets = {
      standalone: join(work, tarball),
      lightship: `lightship@${versionOf('lightship')}`,
      terminus: `@godaddy/terminus@${versionOf('@godaddy/terminus')}`,
      cloudnative: `@cloudnative/health-connect@${versionOf('@cloudnative/health-connect')}`,
    };
    for (const [id, spec] of Object.entries(targets)) {
      if (only !== undefined && !only.includes(id)) continue;
      const dir = join(work, id);
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
  } finally {
    rmSync(work, { recursive: true, force: true });
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

function rotate(list, by) {
  const k = by % list.length;
  return [...list.slice(k), ...list.slice(0, k)];
}

const began = performance.now();
log(`bench: ${config.rounds} round(s), ${config.durationS} s per load run, ${contenders.length} contenders${quick ? ' (quick)' : ''}`);
try {
  for (let round = 0; round < config.rounds; round++) {
    log(`round ${round + 1}/${config.rounds}`);
    await measureIdle();
    for (const { id } of rotate(contenders, round)) {
      log(`  ${id}`);
      await measureContender(id);
    }
    log('  cli');
    await measureCli();
    log('  import');
    await measureImports();
  }
  log('footprint');
  const installed = footprint();

  const meta = {
    date: new Date().toISOString(),
    node: process.version,
    cpus: cpus().length,
    cpuModel: cpus()[0]?.model ?? 'unknown',
    memoryGiB: Math.round(totalmem() / 2 ** 30),
    quick,
    ...config,
    cliAvailable: cliAvailable(),
    curlAvailable: hasCurl(),
    seconds: Math.round((performance.now() - began) / 1000),
  };
  const results = { meta, contenders: contenders.map(({ id, label }) => ({ id, label })), samples, installed };
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
  // What --quick proves in CI: every contender started and answered 200s in both modes. Nothing
  // about speed is asserted.
  const broken = contenders.filter(({ id }) => !(Math.min(...samples.keepAliveRps[id]) > 0 && Math.min(...samples.closeRps[id]) > 0));
  if (broken.length > 0) {
    log(`bench: no successful GET /ready from ${broken.map((c) => c.id).join(', ')}`);
    process.exitCode = 1;
  }
} finally {
  loadProcess.disconnect();
}
