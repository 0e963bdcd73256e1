// The smoke suite for other runtimes (Bun, Deno; Node too): what a user meets first, run against
// the built package with the runtime's own HTTP client. No node:test, so it means the same on every
// runtime: each scenario prints `ok` or `not ok` with the reason, and the last line is
// `smoke: N passed, N failed`; the exit code is 1 when any failed.
//
//   node test/smoke/smoke.mjs    bun test/smoke/smoke.mjs    deno run -A test/smoke/smoke.mjs

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { ProbeUnsupportedError, ServiceState, createProbe, getServiceState, setServiceState, startProbe, stopProbe } from '../../dist/index.js';
import { diskSpace, eventLoopDelay, heapUsage, rssUsage } from '../../dist/checks-entry.js';
import { fetchServiceState, isReady } from '../../dist/client.js';

const versions = process.versions;
const runtime = versions.bun ? `bun ${versions.bun}` : versions.deno ? `deno ${versions.deno}` : `node ${versions.node}`;
const cli = fileURLToPath(new URL('../../dist/cli.js', import.meta.url));
const child = fileURLToPath(new URL('./signal-child.mjs', import.meta.url));

// The same runtime runs the children: Deno needs `run` and its permissions.
function command(file, args) {
  return versions.deno ? [process.execPath, ['run', '-A', file, ...args]] : [process.execPath, [file, ...args]];
}

function run(file, args, { onStdout } = {}) {
  const [bin, argv] = command(file, args);
  const spawned = spawn(bin, argv, { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  spawned.stdout.setEncoding('utf8').on('data', (chunk) => {
    stdout += chunk;
    onStdout?.(stdout, spawned);
  });
  spawned.stderr.setEncoding('utf8').on('data', (chunk) => (stderr += chunk));
  const done = new Promise((resolve) => spawned.on('close', (code, signal) => resolve({ code, signal, stdout, stderr })));
  const timer = setTimeout(() => spawned.kill('SIGKILL'), 20_000);
  return done.finally(() => clearTimeout(timer));
}

async function get(url, init) {
  const response = await fetch(url, init);
  return { status: response.status, body: await response.text(), type: response.headers.get('content-type') };
}

const scenarios = [];
const scenario = (name, body) => scenarios.push({ name, body });

scenario('README: the module API starts a probe, turns READY and stops', async () => {
  const { address, port } = await startProbe('127.0.0.1', 0, ServiceState.Up);
  try {
    assert.equal(address, '127.0.0.1');
    assert.deepEqual(await get(`http://127.0.0.1:${port}/ready`), { status: 503, body: 'UP', type: 'text/plain; charset=utf-8' });
    setServiceState(ServiceState.Ready);
    assert.equal(getServiceState(), 'READY');
    assert.equal(await fetchServiceState(`http://127.0.0.1:${port}/ready`), 'READY');
    assert.equal(await isReady(`http://127.0.0.1:${port}/ready`), true);
  } finally {
    await stopProbe();
  }
});

scenario('every endpoint answers as documented, GET and HEAD, text and JSON', async () => {
  const probe = createProbe({ host: '127.0.0.1', port: 0 });
  const changes = [];
  probe.on('change', (next, previous) => changes.push(`${previous}->${next}`));
  const { port } = await probe.start();
  const base = `http://127.0.0.1:${port}`;
  try {
    for (const path of ['/', '/health', '/health/', '/live']) assert.deepEqual(await get(base + path), { status: 200, body: 'UP', type: 'text/plain; charset=utf-8' });
    assert.equal((await get(`${base}/ready`)).status, 503);
    assert.equal((await get(`${base}/started`)).status, 503);
    probe.setState('READY');
    assert.equal((await get(`${base}/ready`)).body, 'READY');
    assert.equal((await get(`${base}/started`)).status, 200);
    const head = await fetch(`${base}/ready`, { method: 'HEAD' });
    assert.equal(head.status, 200);
    assert.equal(head.headers.get('content-length'), '5');
    assert.equal(await head.text(), '');
    const json = await get(`${base}/ready`, { headers: { accept: 'application/health+json' } });
    assert.equal(json.type, 'application/health+json');
    assert.equal(JSON.parse(json.body).status, 'pass');
    assert.equal((await get(`${base}/nope`)).status, 404);
    assert.equal((await get(`${base}/ready`, { method: 'POST' })).status, 405);
    probe.setState('DOWN');
    assert.deepEqual(await get(`${base}/health`), { status: 503, body: 'DOWN', type: 'text/plain; charset=utf-8' });
    assert.deepEqual(changes, ['UP->READY', 'READY->DOWN']);
  } finally {
    await probe.stop();
  }
});

scenario('checks: a failing one turns /ready to 503 with its line; one alone; verbose', async () => {
  const probe = createProbe({ host: '127.0.0.1', port: 0, state: 'READY', exposeDetails: true });
  let healthy = true;
  probe.addCheck('db', async () => {
    if (!healthy) throw new Error('connection refused');
  });
  probe.addCheck('disk', diskSpace({ minFreeBytes: 1 }));
  probe.addCheck('rss', rssUsage({ maxBytes: 64 * 1024 ** 3 }));
  const { port } = await probe.start();
  const base = `http://127.0.0.1:${port}`;
  try {
    assert.equal((await get(`${base}/ready`)).status, 200);
    const verbose = await get(`${base}/ready?verbose`);
    assert.match(verbose.body, /\[\+\]db ok/);
    assert.match(verbose.body, /\[\+\]disk ok/);
    assert.match(verbose.body, /\[\+\]rss ok/);
    healthy = false;
    assert.equal((await get(`${base}/ready`)).status, 503);
    const alone = await get(`${base}/ready/db`);
    assert.equal(alone.status, 503);
    assert.match(alone.body, /\[-\]db failed: connection refused/);
    assert.equal((await get(`${base}/ready/disk`)).status, 200);
    assert.equal((await get(`${base}/ready/missing`)).status, 404);
    // The runtime really measures them: impossible limits fail, with the observed value.
    const rss = await rssUsage({ maxBytes: 1 })();
    assert.equal(rss.ok, false);
    assert.ok(rss.observedValue > 1024 * 1024, String(rss.observedValue));
    const disk = await diskSpace({ minFreeBytes: Number.MAX_SAFE_INTEGER })();
    assert.equal(disk.ok, false);
    assert.ok(disk.observedValue > 0, String(disk.observedValue));
  } finally {
    await probe.stop();
  }
});

scenario(`eventLoopDelay sees a blocked loop on ${runtime}`, async () => {
  const probe = createProbe({ host: '127.0.0.1', port: 0, state: 'READY', exposeDetails: true });
  probe.addCheck('event-loop', eventLoopDelay({ maxMs: 200 }), { affects: 'liveness' });
  const { port } = await probe.start();
  const base = `http://127.0.0.1:${port}`;
  try {
    await new Promise((resolve) => setTimeout(resolve, 100));
    assert.equal((await get(`${base}/health`)).status, 200);
    // Node's histogram drops the interval in progress when the check resets it: a block that begins
    // within one resolution of a check run goes unseen there (a known gap, see the CHANGELOG).
    await new Promise((resolve) => setTimeout(resolve, 50));
    const began = Date.now();
    while (Date.now() - began < 700);
    // As a kubelet request that arrived during the block: answered once the loop turns again.
    await new Promise((resolve) => setTimeout(resolve, 30));
    const blocked = await get(`${base}/health?verbose`);
    assert.equal(blocked.status, 503, blocked.body);
    assert.match(blocked.body, /\[-\]event-loop failed/);
    await new Promise((resolve) => setTimeout(resolve, 100));
    assert.equal((await get(`${base}/health`)).status, 200);
  } finally {
    await probe.stop();
  }
});

scenario(`heapUsage measures the heap limit, or refuses clearly on ${runtime}`, async () => {
  if (versions.bun) {
    assert.throws(() => heapUsage(), (error) => error instanceof ProbeUnsupportedError && error.code === 'UNSUPPORTED_RUNTIME' && /bun/.test(error.message));
    return;
  }
  const result = await heapUsage({ maxRatio: 1 })();
  assert.equal(result.ok, true);
  assert.ok(result.observedValue > 0 && result.observedValue < 1, String(result.observedValue));
  assert.equal((await heapUsage({ maxRatio: 1e-9 })()).ok, false);
});

for (const signal of ['SIGTERM', 'SIGINT']) {
  scenario(`${signal} runs the graceful shutdown: DRAINING, the hook, exit 0`, async () => {
    let base;
    const result = await run(child, [], {
      onStdout: (out, spawned) => {
        const listening = /listening (\d+)/.exec(out);
        if (listening && base === undefined) {
          base = `http://127.0.0.1:${listening[1]}`;
          get(`${base}/ready`).then(({ status }) => {
            assert.equal(status, 200);
            // process.kill, not spawned.kill: Deno's ChildProcess reports a child it signalled
            // itself as killed by that signal, whatever the child's real exit code was.
            process.kill(spawned.pid, signal);
          });
        }
      },
    });
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /state READY -> DRAINING/);
    assert.match(result.stdout, /hook ran/);
  });
}

scenario('the CLI check: exit 0 for READY, 1 for UP, 2 for a bad URL', async () => {
  const probe = createProbe({ host: '127.0.0.1', port: 0, state: 'READY' });
  const { port } = await probe.start();
  try {
    const ready = await run(cli, ['check', `http://127.0.0.1:${port}/ready`]);
    assert.equal(ready.code, 0, ready.stderr);
    probe.setState('UP');
    const up = await run(cli, ['check', `http://127.0.0.1:${port}/ready`]);
    assert.equal(up.code, 1);
    assert.match(up.stderr, /503/);
    const bad = await run(cli, ['check', 'ftp://x']);
    assert.equal(bad.code, 2);
  } finally {
    await probe.stop();
  }
});

let passed = 0;
let failed = 0;
console.log(`smoke: ${runtime}`);
for (const { name, body } of scenarios) {
  try {
    await body();
    passed++;
    console.log(`ok - ${name}`);
  } catch (error) {
    failed++;
    console.log(`not ok - ${name}\n  ${String(error?.stack ?? error).replaceAll('\n', '\n  ')}`);
  }
}
console.log(`smoke: ${passed} passed, ${failed} failed`);
process.exitCode = failed === 0 ? 0 : 1;
