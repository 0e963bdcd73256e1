// `npm run bench:worker`: probe answers while the service's main thread is blocked 2 s at a time
// (a busy loop, 2 s blocked then 0.5 s free, round after round), worker mode against inline mode,
// lightship and terminus; then what worker mode costs against inline mode: start-up time, memory
// and idle CPU. Each contender runs in a child process of its own; the client here sends a
// kubelet-like GET /ready (a new connection each) every 20 ms. Writes bench/worker-results.{json,md}.
//
//   node bench/blocked.mjs            full run (about 1 minute)
//   node bench/blocked.mjs --quick    a short run, results in a temp dir
import { fork } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { cpus, loadavg, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const { values: args } = parseArgs({ options: { quick: { type: 'boolean', default: false }, child: { type: 'string' }, out: { type: 'string' } } });
const quick = args.quick;
const BLOCK_MS = 2000;
const FREE_MS = 500;
const EVERY_MS = 20;
const CYCLES = quick ? 1 : 6;
const versionOf = (name) => JSON.parse(readFileSync(join(ROOT, 'node_modules', name, 'package.json'), 'utf8')).version;

const CONTENDERS = {
  async inline() {
    const { createProbe } = await import('../dist/index.js');
    const probe = createProbe({ host: '127.0.0.1', port: 0, state: 'READY' });
    return (await probe.start()).port;
  },
  async worker() {
    const { createProbe } = await import('../dist/index.js');
    const probe = createProbe({ host: '127.0.0.1', port: 0, state: 'READY', worker: true });
    return (await probe.start()).port;
  },
  async lightship() {
    const { createLightship } = await import('lightship');
    const lightship = await createLightship({ detectKubernetes: true });
    lightship.signalReady();
    return lightship.server.address().port;
  },
  async terminus() {
    const { createServer } = await import('node:http');
    const { createTerminus } = await import('@godaddy/terminus');
    const server = createServer((req, res) => {
      res.statusCode = 404;
      res.end();
    });
    createTerminus(server, { healthChecks: { '/ready': async () => 'READY' } });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    return server.address().port;
  },
};

function busy(ms) {
  const end = performance.now() + ms;
  while (performance.now() < end);
}

// A child: one contender; blocks its main thread on request.
if (args.child !== undefined) {
  if (args.child.startsWith('cost-')) {
    // Start-up and memory: a fresh process per sample.
    const kind = args.child.slice(5);
    const { createProbe } = await import('../dist/index.js');
    globalThis.gc?.();
    const rssBefore = process.memoryUsage().rss;
    const began = performance.now();
    const probe = createProbe({ host: '127.0.0.1', port: 0, state: 'READY', worker: kind === 'worker' });
    const { port } = await probe.start();
    const startMs = performance.now() - began;
    // node:http, not fetch: loading undici would dwarf what is measured here.
    await probeOnce(port);
    await new Promise((resolve) => setTimeout(resolve, 200));
    globalThis.gc?.();
    const rssMb = (process.memoryUsage().rss - rssBefore) / 2 ** 20;
    const cpuBefore = process.cpuUsage();
    const idleMs = quick ? 1000 : 5000;
    await new Promise((resolve) => setTimeout(resolve, idleMs));
    const cpu = process.cpuUsage(cpuBefore);
    const stopBegan = performance.now();
    await probe.stop();
    process.send({ startMs, rssMb, idleCpuPercent: ((cpu.user + cpu.system) / 1000 / idleMs) * 100, stopMs: performance.now() - stopBegan });
    process.disconnect();
  } else if (args.child.startsWith('serve-')) {
    // Throughput: serve until the parent disconnects.
    const port = await CONTENDERS[args.child.slice(6)]();
    process.send({ port });
    process.on('disconnect', () => process.exit(0));
  } else {
    const port = await CONTENDERS[args.child]();
    process.send({ port });
    process.once('message', async () => {
      for (let i = 0; i < CYCLES; i++) {
        busy(BLOCK_MS);
        await new Promise((resolve) => setTimeout(resolve, FREE_MS));
      }
      process.send({ done: true });
      process.exit(0);
    });
  }
} else {
  await main();
}

function probeOnce(port) {
  return new Promise((resolve) => {
    const began = performance.now();
    const req = request({ host: '127.0.0.1', port, path: '/ready', agent: false, headers: { 'User-Agent': 'kube-probe/1.31' } }, (res) => {
      res.resume();
      res.on('end', () => resolve({ ms: performance.now() - began, status: res.statusCode }));
    });
    req.setTimeout(10_000, () => req.destroy(new Error('timeout')));
    req.on('error', () => resolve({ ms: performance.now() - began, status: 0 }));
    req.end();
  });
}

function quantile(sorted, q) {
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
}

function median(values) {
  return quantile([...values].sort((a, b) => a - b), 0.5);
}

async function blocked(name) {
  const child = fork(fileURLToPath(import.meta.url), ['--child', name], { stdio: ['ignore', 'ignore', 'inherit', 'ipc'] });
  const exited = once(child, 'exit');
  const [{ port }] = await once(child, 'message');
  child.send('go');
  const done = once(child, 'message');
  const pending = [];
  let finished = false;
  void done.then(() => (finished = true));
  while (!finished) {
    pending.push(probeOnce(port));
    await new Promise((resolve) => setTimeout(resolve, EVERY_MS));
  }
  const results = await Promise.all(pending);
  await exited;
  const latencies = results.map((r) => r.ms).sort((a, b) => a - b);
  const statuses = {};
  for (const r of results) statuses[r.status] = (statuses[r.status] ?? 0) + 1;
  return {
    requests: results.length,
    p50: quantile(latencies, 0.5),
    p99: quantile(latencies, 0.99),
    max: latencies.at(-1),
    over1s: results.filter((r) => r.ms > 1000).length / results.length,
    statuses,
  };
}

async function cost(kind) {
  const samples = [];
  for (let i = 0; i < (quick ? 1 : 5); i++) {
    const child = fork(fileURLToPath(import.meta.url), ['--child', `cost-${kind}`], { execArgv: ['--expose-gc'], stdio: ['ignore', 'ignore', 'inherit', 'ipc'] });
    const exited = once(child, 'exit');
    const [sample] = await once(child, 'message');
    samples.push(sample);
    await exited;
  }
  return Object.fromEntries(Object.keys(samples[0]).map((key) => [key, median(samples.map((s) => s[key]))]));
}

// Keep-alive GET /ready throughput with the main thread free: what worker mode costs (or saves)
// per request. bench/load.mjs in its own process; rounds alternate inline and worker.
async function throughput() {
  const load = fork(join(ROOT, 'bench', 'load.mjs'), [], { stdio: ['ignore', 'ignore', 'inherit', 'ipc'] });
  const figures = { inline: [], worker: [] };
  for (let round = 0; round < (quick ? 1 : 3); round++) {
    for (const kind of ['inline', 'worker']) {
      const child = fork(fileURLToPath(import.meta.url), ['--child', `serve-${kind}`], { stdio: ['ignore', 'ignore', 'inherit', 'ipc'] });
      const exited = once(child, 'exit');
      const [{ port }] = await once(child, 'message');
      load.send({ port, path: '/ready', connections: 32, warmupS: quick ? 0.2 : 0.5, durationS: quick ? 0.5 : 2, close: false });
      const [result] = await once(load, 'message');
      figures[kind].push(result);
      child.disconnect();
      await exited;
    }
  }
  load.disconnect();
  return Object.fromEntries(
    Object.entries(figures).map(([kind, runs]) => [kind, { rps: median(runs.map((r) => r.rps)), p50us: median(runs.map((r) => r.p50us)), p99us: median(runs.map((r) => r.p99us)) }]),
  );
}

async function main() {
  const labels = {
    inline: 'service-probe, inline (default)',
    worker: 'service-probe, `worker: true`',
    lightship: `lightship ${versionOf('lightship')}`,
    terminus: `@godaddy/terminus ${versionOf('@godaddy/terminus')}`,
  };
  const results = { date: new Date().toISOString(), node: process.version, cpus: `${cpus().length} × ${cpus()[0]?.model ?? '?'}`, blockMs: BLOCK_MS, freeMs: FREE_MS, everyMs: EVERY_MS, cycles: CYCLES, blocked: {}, cost: {} };
  results.loadBefore = loadavg()[0];
  for (const name of Object.keys(CONTENDERS)) {
    results.blocked[name] = await blocked(name);
    console.error(name, JSON.stringify(results.blocked[name]));
  }
  for (const kind of ['inline', 'worker']) {
    results.cost[kind] = await cost(kind);
    console.error(`cost ${kind}`, JSON.stringify(results.cost[kind]));
  }
  results.throughput = await throughput();
  console.error('throughput', JSON.stringify(results.throughput));
  results.loadAfter = loadavg()[0];
  const f = (n) => (n >= 100 ? n.toFixed(0) : n >= 10 ? n.toFixed(1) : n.toFixed(2));
  let md = `Measured ${results.date.slice(0, 10)} with Node ${results.node} on ${results.cpus}. The service's main thread is blocked ${BLOCK_MS} ms at a time (then ${FREE_MS} ms free), ${CYCLES} times; a client sends GET /ready on a new connection every ${EVERY_MS} ms throughout. Latency in ms from sending to the end of the answer. Machine load average ${results.loadBefore.toFixed(1)} before, ${results.loadAfter.toFixed(1)} after (other work shared the machine).\n\n`;
  md += '| main thread blocked 2 s at a time | requests | p50 ms | p99 ms | max ms | answers slower than 1 s (kubelet timeout) | statuses |\n| --- | --- | --- | --- | --- | --- | --- |\n';
  for (const [name, r] of Object.entries(results.blocked)) {
    const statuses = Object.entries(r.statuses).map(([s, n]) => `${s}: ${n}`).join(', ');
    md += `| ${labels[name]} | ${r.requests} | ${f(r.p50)} | ${f(r.p99)} | ${f(r.max)} | ${(r.over1s * 100).toFixed(1)} % | ${statuses} |\n`;
  }
  md += '\n| cost (median of fresh processes) | `start()` ms | RSS after start, MB over before | idle CPU, % of one core | `stop()` ms |\n| --- | --- | --- | --- | --- |\n';
  for (const [kind, c] of Object.entries(results.cost)) md += `| ${labels[kind]} | ${f(c.startMs)} | ${f(c.rssMb)} | ${c.idleCpuPercent.toFixed(3)} | ${f(c.stopMs)} |\n`;
  md += '\n| keep-alive GET /ready, main thread free, 32 connections | req/s | p50 ms | p99 ms |\n| --- | --- | --- | --- |\n';
  for (const [kind, r] of Object.entries(results.throughput)) md += `| ${labels[kind]} | ${(r.rps / 1000).toFixed(1)}k | ${f(r.p50us / 1000)} | ${f(r.p99us / 1000)} |\n`;
  const out = args.out ?? (quick ? mkdtempSync(join(tmpdir(), 'service-probe-worker-bench-')) : join(ROOT, 'bench'));
  writeFileSync(join(out, 'worker-results.json'), `${JSON.stringify(results, null, 2)}\n`);
  writeFileSync(join(out, 'worker-results.md'), md);
  console.log(md);
}
