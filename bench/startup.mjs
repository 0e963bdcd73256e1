// What a user's process pays for the probe, measured from outside: the packed package installed
// into a temporary directory as a user installs it (the peers beside it), small programs written
// as a user writes them (bench/consumers/, ES module and CommonJS), each in a fresh process,
// against bare node:http and the alternatives in the same run. `npm run bench` runs this with the rest; on its own:
//
//   node bench/startup.mjs [--rounds N] [--node PATH] [--package LABEL=TARBALL ...] [--only a,b] [--dir DIR]
//
// --node runs the consumers (and the CLI) on another node binary, e.g. .runtimes/node24/bin/node;
// --package adds a build to compare (an `npm pack` tarball, installed under LABEL and measured
// with the same consumers), e.g. before=/tmp/service-probe-0.1.0.tgz.
//
// For each consumer process:
//   spawn → first 200   wall time from just before spawn() to the moment this process has read
//                       the status line `HTTP/1.1 200` of a `GET /ready` on a new connection. It
//                       tries to connect once a millisecond until the port accepts (a refused
//                       connect costs the child nothing), so the figure includes up to 1 ms of
//                       polling granularity and one request's round trip.
//   CPU to first 200    the child's own CPU time (all its threads, /proc/<pid>/task/*/schedstat)
//                       when that 200 has arrived: steadier than wall time on a shared machine.
//   RSS                 VmRSS from /proc/<pid>/status 1 s after that first 200 (the child
//                       listened a moment before it), with no forced GC: what a replica holds.
//                       An idle consumer of the same module kind is read 1.2 s after its spawn.
// Consumers listen on all interfaces; the parent connects to 127.0.0.1. They run with an empty
// environment but PATH and PORT, so nothing of the caller's (NODE_OPTIONS, SERVICE_PROBE_SERVER)
// changes what is measured. Contenders take turns within each round, and the order rotates from
// round to round, so that machine drift hits all of them alike.
import { execFileSync, spawn } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { connect, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve as resolvePath } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const CONSUMERS = join(ROOT, 'bench', 'consumers');

/** The peers, run from the project's dev dependencies (linked into the consumer directory). */
export const PEERS = { lightship: 'lightship', terminus: '@godaddy/terminus', 'health-connect': '@cloudnative/health-connect' };

/**
 * Start-up contenders: `file` in bench/consumers/ without its extension, and the module kinds it
 * comes in. `probe` marks the ones that import service-probe (measured once per --package).
 */
export const STARTUP_CONTENDERS = [
  { id: 'idle', label: 'idle node (the RSS baseline)', kinds: ['mjs', 'cjs'], idle: true },
  { id: 'node-http', label: 'bare node:http (the reference)', kinds: ['mjs', 'cjs'] },
  { id: 'start-probe', label: 'service-probe, `startProbe([0, 0, 0, 0], port, …)`', kinds: ['mjs', 'cjs'], probe: true },
  { id: 'create-probe', label: 'service-probe, `createProbe({ port }).start()`', kinds: ['mjs', 'cjs'], probe: true },
  { id: 'handle', label: 'service-probe, `handle()` in a node:http server', kinds: ['mjs'], probe: true },
  { id: 'terminus', label: '@godaddy/terminus on node:http', kinds: ['mjs', 'cjs'], peer: 'terminus' },
  { id: 'health-connect', label: '@cloudnative/health-connect on node:http', kinds: ['mjs', 'cjs'], peer: 'health-connect' },
  // lightship's CommonJS build cannot be required: its package.json says "type": "module".
  { id: 'lightship', label: 'lightship', kinds: ['mjs'], peer: 'lightship' },
];

/** Samples are keyed `<file>.<kind>` for the package as packed now, `<file>@<label>.<kind>` for a --package build. */
export function sampleKey(id, kind, label) {
  return `${id}${label === undefined ? '' : `@${label}`}.${kind}`;
}

function npm(args, cwd) {
  // ignore-scripts: the bench's own prebench has built dist/ already; packing must not rebuild it.
  return execFileSync('npm', args, { cwd, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, npm_config_ignore_scripts: 'true' }, encoding: 'utf8' });
}

/** `npm pack` of the project into `dir`: the tarball's path. */
export function packProject(dir) {
  const name = npm(['pack', '--silent', '--pack-destination', dir], ROOT).trim().split('\n').pop();
  return join(dir, name);
}

/** The version of a dev dependency as installed in the project. */
export function versionOf(name) {
  return JSON.parse(readFileSync(join(ROOT, 'node_modules', name, 'package.json'), 'utf8')).version;
}

/**
 * A temporary directory (in `parent`, the system's temp directory by default; its name starts
 * with `prefix`) laid out as a user's service: the packed package installed by npm from its
 * tarball (it has no dependencies), each --package build installed under its label, the peers at
 * the versions of the project's dev dependencies, and the consumer programs. npm runs offline:
 * the peers come from its cache, which installing the project's dev dependencies filled; if they
 * are not there, the project's own copies are linked instead (`peers: 'linked'`).
 * Returns { dir, peers: 'installed' | 'linked' }.
 */
export function prepareConsumers({ tarball, extra = {}, parent = tmpdir(), prefix = 'service-probe-consumers-' } = {}) {
  const dir = mkdtempSync(join(parent, prefix));
  writeFileSync(join(dir, 'package.json'), '{ "name": "bench-consumers", "private": true }\n');
  const install = (specs) => npm(['install', '--offline', '--no-audit', '--no-fund', '--no-package-lock', '--ignore-scripts', ...specs], dir);
  const ours = [tarball, ...Object.entries(extra).map(([label, path]) => `${label}@file:${path}`)];
  let peers = 'installed';
  try {
    install([...ours, ...Object.values(PEERS).map((name) => `${name}@${versionOf(name)}`)]);
  } catch {
    install(ours);
    peers = 'linked';
    for (const name of Object.values(PEERS)) {
      const link = join(dir, 'node_modules', name);
      mkdirSync(dirname(link), { recursive: true });
      symlinkSync(join(ROOT, 'node_modules', name), link, 'dir');
    }
  }
  for (const file of readdirSync(CONSUMERS)) {
    copyFileSync(join(CONSUMERS, file), join(dir, file));
    for (const label of Object.keys(extra)) {
      if (!file.includes('probe') && file !== 'handle.mjs') continue;
      const text = readFileSync(join(CONSUMERS, file), 'utf8').replaceAll("'service-probe'", `'${label}'`);
      writeFileSync(join(dir, file.replace(/\.(mjs|cjs)$/, `@${label}.$1`)), text);
    }
  }
  // An empty ES module: the floor of any ES module program, the CLI included.
  writeFileSync(join(dir, 'empty.mjs'), '');
  return { dir, peers };
}

export function removeConsumers(dir) {
  rmSync(dir, { recursive: true, force: true });
}

export function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** One `GET /ready` on a new connection: the status code, or 0 when the port does not accept. */
export function statusOf(port) {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    let head = '';
    const done = (status) => {
      socket.destroy();
      resolve(status);
    };
    socket.setEncoding('latin1');
    socket.on('connect', () => socket.write('GET /ready HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n'));
    socket.on('data', (text) => {
      head += text;
      const eol = head.indexOf('\r\n');
      if (eol !== -1) done(Number(head.slice(9, 12)) || -1);
    });
    socket.on('error', () => done(0));
    socket.on('close', () => done(head === '' ? 0 : -1));
  });
}

/** CPU time of every thread of a process so far, in ms, or null where /proc has no schedstat. */
export function cpuMsOf(pid) {
  try {
    let ns = 0;
    for (const task of readdirSync(`/proc/${pid}/task`)) ns += Number(readFileSync(`/proc/${pid}/task/${task}/schedstat`, 'utf8').split(' ')[0]);
    return ns / 1e6;
  } catch {
    return null;
  }
}

/** Resident set size of a process from /proc/<pid>/status, in bytes. */
export function vmRssOf(pid) {
  const kb = /^VmRSS:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  if (kb === null) throw new Error(`no VmRSS in /proc/${pid}/status`);
  return Number(kb[1]) * 1024;
}

const IDLE_READ_MS = 1200;
const RSS_AFTER_MS = 1000;
const GIVE_UP_MS = 20_000;

/**
 * One fresh process of `file` (in the consumer directory `dir`): { startMs, cpuMs, rssBytes };
 * startMs and cpuMs are null for an idle program. Throws with the child's stderr if it dies.
 */
export async function measureProcess(node, dir, file, { idle = false } = {}) {
  const port = await freePort();
  const t0 = performance.now();
  const child = spawn(node, [file], { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'], env: { PATH: process.env.PATH, PORT: String(port) } });
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (text) => (stderr += text));
  let dead = false;
  const exited = new Promise((resolve) => {
    child.once('exit', resolve);
    child.once('error', (error) => {
      stderr += error.message;
      resolve();
    });
  });
  exited.then(() => (dead = true));
  try {
    let startMs = null;
    let cpuMs = null;
    if (idle) await sleep(IDLE_READ_MS);
    else {
      let status = 0;
      while (status !== 200) {
        if (dead) throw new Error(`${file} exited before answering 200: ${stderr.trim() || '(no output)'}`);
        if (performance.now() - t0 > GIVE_UP_MS) throw new Error(`${file}: no 200 on /ready within ${GIVE_UP_MS} ms (last status ${status})`);
        status = await statusOf(port);
        if (status !== 200) await sleep(1);
      }
      startMs = performance.now() - t0;
      cpuMs = cpuMsOf(child.pid);
      await sleep(RSS_AFTER_MS);
    }
    if (dead) throw new Error(`${file} exited: ${stderr.trim() || '(no output)'}`);
    return { startMs, cpuMs, rssBytes: vmRssOf(child.pid) };
  } finally {
    child.kill('SIGKILL');
    await exited;
  }
}

/** Wall time of one command to its exit, in ms; throws if it exits non-zero. */
export function timeCommand(command, argv, cwd) {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const child = spawn(command, argv, { cwd, stdio: 'ignore', env: { PATH: process.env.PATH } });
    child.on('error', reject);
    child.on('exit', (code) => {
      const ms = performance.now() - t0;
      if (code === 0) resolve(ms);
      else reject(new Error(`${command} ${argv.join(' ')} exited ${code}`));
    });
  });
}

/**
 * The programs of one round: [sampleKey, file, { idle }] for every contender, kind and build.
 * `only` leaves out the peers it does not name; the probe, idle node and node:http always run.
 */
export function startupPrograms({ labels = [], only } = {}) {
  const programs = [];
  for (const contender of STARTUP_CONTENDERS) {
    if (only !== undefined && contender.peer !== undefined && !only.includes(contender.peer)) continue;
    for (const kind of contender.kinds) {
      programs.push([sampleKey(contender.id, kind), `${contender.id}.${kind}`, { idle: contender.idle === true }]);
      if (contender.probe) for (const label of labels) programs.push([sampleKey(contender.id, kind, label), `${contender.id}@${label}.${kind}`, {}]);
    }
  }
  return programs;
}

export function rotate(list, by) {
  const k = by % list.length;
  return [...list.slice(k), ...list.slice(0, k)];
}

/** One round of every start-up program, in rotated order; calls record(metric, key, value). */
export async function startupRound({ node, dir, programs, round, record, log = () => {} }) {
  for (const [key, file, options] of rotate(programs, round)) {
    log(`  ${key}`);
    const { startMs, cpuMs, rssBytes } = await measureProcess(node, dir, file, options);
    record('rssBytes', key, rssBytes);
    if (startMs !== null) record('startMs', key, startMs);
    if (cpuMs !== null) record('startCpuMs', key, cpuMs);
  }
}

/** A probe on a free port, started by the installed package, for the CLI to ask. */
export async function startCliTarget(node, dir) {
  const port = await freePort();
  const child = spawn(node, ['start-probe.mjs'], { cwd: dir, stdio: 'ignore', env: { PATH: process.env.PATH, PORT: String(port) } });
  const t0 = performance.now();
  while ((await statusOf(port)) !== 200) {
    if (child.exitCode !== null || performance.now() - t0 > GIVE_UP_MS) throw new Error('the probe the CLI asks did not start');
    await sleep(5);
  }
  return {
    url: `http://127.0.0.1:${port}/ready`,
    stop: () => new Promise((resolve) => (child.exitCode !== null ? resolve() : (child.once('exit', resolve), child.kill('SIGKILL')))),
  };
}

/** The commands the CLI is timed against: [id, command, argv], run in the consumer directory. */
export function cliCommands(node, url, { labels = [], curl = false } = {}) {
  const cli = (label = 'service-probe') => join('node_modules', label, 'dist', 'cli.js');
  const commands = [
    ['node', node, ['-e', '']],
    ['empty-module', node, ['empty.mjs']],
    ['cli', node, [cli(), 'check', url]],
  ];
  for (const label of labels) commands.push([`cli@${label}`, node, [cli(label), 'check', url]]);
  if (curl) commands.push(['curl', 'curl', ['-fsS', '-o', '/dev/null', url]]);
  return commands;
}

// ---------------------------------------------------------------------------------------------
// Standalone use: start-up, RSS and the CLI only, printed as a table.

function median(values) {
  const sorted = values.filter((v) => v !== null).sort((a, b) => a - b);
  if (sorted.length === 0) return null;
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

/** Median of the per-round ratios of two paired sample lists. */
export function pairedRatio(mine, base) {
  if (mine === undefined || base === undefined || mine.length !== base.length) return null;
  return median(mine.map((v, i) => v / base[i]));
}

if (import.meta.url === pathToFileURL(process.argv[1]).href) {
  const { values } = parseArgs({
    options: {
      rounds: { type: 'string', default: '10' },
      node: { type: 'string', default: process.execPath },
      package: { type: 'string', multiple: true, default: [] },
      only: { type: 'string' },
      dir: { type: 'string' },
      'cli-samples': { type: 'string', default: '20' },
    },
  });
  const extra = Object.fromEntries(values.package.map((spec) => [spec.slice(0, spec.indexOf('=')), spec.slice(spec.indexOf('=') + 1)]));
  for (const [label, path] of Object.entries(extra)) if (!/^[a-z][a-z0-9-]*$/.test(label) || !existsSync(path)) throw new Error(`--package ${label}=${path}: a lowercase label and an existing tarball`);
  const work = mkdtempSync(join(tmpdir(), 'service-probe-pack-'));
  const samples = {};
  const record = (metric, key, value) => ((samples[metric] ??= {})[key] ??= []).push(value);
  // The consumers run in their own directory: a relative path to node is taken from here.
  const node = resolvePath(values.node);
  let dir;
  try {
    ({ dir } = prepareConsumers({ tarball: packProject(work), extra, parent: values.dir }));
    const programs = startupPrograms({ labels: Object.keys(extra), only: values.only?.split(',') });
    for (let round = 0; round < Number(values.rounds); round++) {
      process.stderr.write(`round ${round + 1}/${values.rounds}\n`);
      await startupRound({ node, dir, programs, round, record });
    }
    const target = await startCliTarget(node, dir);
    try {
      const commands = cliCommands(node, target.url, { labels: Object.keys(extra) });
      for (let i = 0; i < Number(values['cli-samples']); i++) for (const [id, command, argv] of rotate(commands, i)) record('cliMs', id, await timeCommand(command, argv, dir));
    } finally {
      await target.stop();
    }
  } finally {
    if (dir !== undefined) removeConsumers(dir);
    rmSync(work, { recursive: true, force: true });
  }
  const version = execFileSync(node, ['--version'], { encoding: 'utf8' }).trim();
  console.log(`Node ${version}, ${values.rounds} rounds`);
  console.log('| consumer | spawn → first 200, ms | vs node:http | CPU to first 200, ms | vs node:http | RSS over idle, MB |');
  console.log('| --- | --- | --- | --- | --- | --- |');
  for (const key of Object.keys(samples.rssBytes ?? {})) {
    if (key.startsWith('idle.')) continue;
    const kind = key.slice(key.lastIndexOf('.') + 1);
    const f = (v, d = 1) => (v === null ? '–' : v.toFixed(d));
    const idleRss = median(samples.rssBytes[`idle.${kind}`]);
    console.log(
      `| ${key} | ${f(median(samples.startMs[key]))} | ${f(pairedRatio(samples.startMs[key], samples.startMs[`node-http.${kind}`]), 2)}x | ` +
        `${f(median(samples.startCpuMs?.[key] ?? []))} | ${f(pairedRatio(samples.startCpuMs?.[key], samples.startCpuMs?.[`node-http.${kind}`]), 2)}x | ` +
        `${f((median(samples.rssBytes[key]) - idleRss) / 1e6, 2)} |`,
    );
  }
  console.log('\n| command | wall ms | vs `node -e \'\'` |\n| --- | --- | --- |');
  for (const [id, ms] of Object.entries(samples.cliMs)) console.log(`| ${id} | ${median(ms).toFixed(1)} | ${pairedRatio(ms, samples.cliMs.node).toFixed(3)}x |`);
}
