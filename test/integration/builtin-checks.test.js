// Built-in checks against real resources: a real TCP listener, a real HTTP server, the real disk,
// this process's heap, RSS and event loop. And: stopping the probe leaves nothing running.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { statfs } from 'node:fs/promises';
import { Agent, createServer as createHttpServer } from 'node:http';
import { createServer as createTcpServer } from 'node:net';
import { fileURLToPath } from 'node:url';
import { createProbe, ProbeArgumentError } from '../../dist/index.js';
import { diskSpace, eventLoopDelay, heapUsage, http, rssUsage, tcp } from '../../dist/checks-entry.js';
import { delay, get, serve } from '../helpers/checks.js';
import { freePort } from '../helpers/servers.js';
import { controlTimer } from '../helpers/timing.js';

async function listening(t, server) {
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(() => new Promise((resolve) => {
    server.closeAllConnections?.();
    server.close(resolve);
  }));
  return server.address().port;
}

async function json(base, name) {
  const res = await get(`${base}/ready/${name}?format=json`);
  return { status: res.status, result: JSON.parse(res.body).checks[name][0] };
}

test('tcp passes against a real listener and reports the connect time in ms', async (t) => {
  const port = await listening(t, createTcpServer((socket) => socket.destroy()));
  const { probe, base } = await serve(t, 'standalone');
  probe.addCheck('tcp', tcp({ host: '127.0.0.1', port }));
  const { status, result } = await json(base, 'tcp');
  assert.equal(status, 200);
  assert.equal(result.observedUnit, 'ms');
  assert.ok(result.observedValue >= 0);
});

test('tcp fails with the socket error when nothing listens', async (t) => {
  const port = await freePort();
  const { probe, base } = await serve(t, 'standalone', { exposeDetails: true });
  probe.addCheck('tcp', tcp({ port }));
  const { status, result } = await json(base, 'tcp');
  assert.equal(status, 503);
  assert.equal(result.output, `cannot connect to 127.0.0.1:${port}: ECONNREFUSED`);
});

test('http passes on 200–399 or the expected statuses, fails on others, and leaves no connection open', async (t) => {
  let answer = 200;
  const server = createHttpServer((req, res) => {
    res.writeHead(answer);
    res.end('body the check never reads');
  });
  const port = await listening(t, server);
  const { probe, base } = await serve(t, 'standalone', { exposeDetails: true });
  probe.addCheck('api', http({ url: `http://127.0.0.1:${port}/healthz?token=secret` }));
  probe.addCheck('created', http({ url: `http://127.0.0.1:${port}/`, expectStatus: [201, 202] }));
  let { status, result } = await json(base, 'api');
  assert.equal(status, 200);
  assert.equal(result.observedUnit, 'ms');
  assert.match(result.output, new RegExp(`^GET http://127.0.0.1:${port}/healthz answered 200 in [\\d.]+ ms$`));
  assert.equal((await json(base, 'created')).status, 503);
  answer = 500;
  ({ status, result } = await json(base, 'api'));
  assert.equal(status, 503);
  assert.match(result.output, /answered 500/);
  answer = 202;
  assert.equal((await json(base, 'created')).status, 200);
  await delay(50);
  const open = await new Promise((resolve) => server.getConnections((_, n) => resolve(n)));
  assert.equal(open, 0);
});

test('http respects the timeout: a server that never answers fails the check in time and its connection is closed', async (t) => {
  const sockets = new Set();
  const server = createHttpServer(() => {});
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  const port = await listening(t, server);
  const { probe, base } = await serve(t, 'standalone', { exposeDetails: true });
  probe.addCheck('hangs', http({ url: `http://127.0.0.1:${port}/` }), { timeoutMs: 200 });
  // One warm keep-alive connection: only the request itself is timed.
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  t.after(() => agent.destroy());
  await get(`${base}/started`, { agent });
  const control = controlTimer(200);
  const res = await get(`${base}/ready/hangs?verbose`, { agent });
  const controlMs = await control;
  assert.equal(res.body, '[-]hangs failed: timed out after 200 ms\n');
  assert.ok(res.ms < controlMs + 500, `answered after ${res.ms} ms; a 200 ms timer fired after ${controlMs} ms`);
  for (let i = 0; i < 50 && sockets.size > 0; i++) await delay(10);
  assert.equal(sockets.size, 0);
});

test('diskSpace reads the real disk: free bytes as fs.statfs says, failing below the minimum', async (t) => {
  const { probe, base } = await serve(t, 'standalone', { exposeDetails: true });
  probe.addCheck('disk', diskSpace({ path: '/', minFreeBytes: 1 }));
  probe.addCheck('huge', diskSpace({ path: '/', minFreeBytes: Number.MAX_SAFE_INTEGER }));
  probe.addCheck('ratio', diskSpace({ minFreeRatio: 1 }));
  probe.addCheck('missing', diskSpace({ path: '/no/such/dir/service-probe' }));
  const stats = await statfs('/');
  const { status, result } = await json(base, 'disk');
  assert.equal(status, 200);
  assert.equal(result.observedUnit, 'bytes');
  // Other processes write to this disk meanwhile: within 1 GiB.
  assert.ok(Math.abs(result.observedValue - stats.bavail * stats.bsize) < 2 ** 30);
  assert.equal((await json(base, 'huge')).status, 503);
  assert.equal((await json(base, 'ratio')).status, 503);
  const missing = await json(base, 'missing');
  assert.equal(missing.status, 503);
  assert.match(missing.result.output, /ENOENT/);
});

test('heapUsage and rssUsage report ratio and bytes and fail past their limits', async (t) => {
  const { probe, base } = await serve(t, 'standalone');
  probe.addCheck('heap', heapUsage({ maxRatio: 1 }));
  probe.addCheck('heap-tiny', heapUsage({ maxRatio: 1e-9 }));
  probe.addCheck('rss', rssUsage({ maxBytes: 2 ** 50 }));
  probe.addCheck('rss-tiny', rssUsage({ maxBytes: 1 }));
  const heap = await json(base, 'heap');
  assert.equal(heap.status, 200);
  assert.equal(heap.result.observedUnit, 'ratio');
  assert.ok(heap.result.observedValue > 0 && heap.result.observedValue < 1);
  assert.equal((await json(base, 'heap-tiny')).status, 503);
  const rss = await json(base, 'rss');
  assert.equal(rss.status, 200);
  assert.equal(rss.result.observedUnit, 'bytes');
  assert.ok(Math.abs(rss.result.observedValue - process.memoryUsage.rss()) < 2 ** 28);
  assert.equal((await json(base, 'rss-tiny')).status, 503);
});

test('eventLoopDelay passes on an idle loop and fails after the loop was blocked', async (t) => {
  const { probe, base } = await serve(t, 'standalone', { exposeDetails: true });
  // A control: how late a plain 10 ms timer ran over the same window. A loaded machine can stall
  // this process past 100 ms on its own; the check must then say so, and pass otherwise.
  let controlLateMs = 0;
  let last = performance.now();
  const control = setInterval(() => {
    const now = performance.now();
    controlLateMs = Math.max(controlLateMs, now - last - 10);
    last = now;
  }, 10);
  t.after(() => clearInterval(control));
  probe.addCheck('loop', eventLoopDelay({ maxMs: 100, resolutionMs: 10 }), { affects: 'liveness' });
  await delay(100);
  const idle = await json(base, 'loop');
  clearInterval(control);
  assert.equal(idle.result.observedUnit, 'ms');
  if (controlLateMs < 90) {
    assert.equal(idle.status, 200, `observed ${idle.result.observedValue} ms, a 10 ms timer at most ${controlLateMs.toFixed(1)} ms late`);
    assert.ok(idle.result.observedValue < 100);
  } else {
    t.diagnostic(`the loop was stalled ${controlLateMs.toFixed(0)} ms by the machine; the check observed ${idle.result.observedValue} ms`);
  }
  await delay(30);
  const until = performance.now() + 250;
  while (performance.now() < until); // block the loop
  await delay(20);
  const blocked = await json(base, 'loop');
  assert.equal(blocked.status, 503);
  assert.ok(blocked.result.observedValue >= 100, `observed ${blocked.result.observedValue} ms`);
});

test('built-in options are validated at the door, naming the value', () => {
  const cases = [
    [() => eventLoopDelay({ maxMs: 0 }), 'options.maxMs'],
    [() => eventLoopDelay({ resolutionMs: 0.5 }), 'options.resolutionMs'],
    [() => heapUsage({ maxRatio: 2 }), 'options.maxRatio'],
    [() => rssUsage({}), 'options.maxBytes'],
    [() => rssUsage({ maxBytes: 2 ** 53 }), 'options.maxBytes'],
    [() => eventLoopDelay({ resolutionMs: 2 ** 31 }), 'options.resolutionMs'],
    [() => diskSpace({ path: '' }), 'options.path'],
    [() => diskSpace({ minFreeRatio: 0 }), 'options.minFreeRatio'],
    [() => diskSpace({ minFreeBytes: -1 }), 'options.minFreeBytes'],
    [() => tcp({ port: 70000 }), 'options.port'],
    [() => tcp({ port: 0 }), 'options.port'],
    [() => tcp({ host: 5, port: 80 }), 'options.host'],
    [() => http({ url: 'ftp://x/' }), 'options.url'],
    [() => http({ url: 'not a url' }), 'options.url'],
    [() => http({ url: 'http://x/', expectStatus: 99 }), 'options.expectStatus'],
    [() => http({ url: 'http://x/', expectStatus: [] }), 'options.expectStatus'],
    [() => http({ url: 'http://x/', method: 'get me' }), 'options.method'],
    [() => http({ url: 'http://x/', timeout: 5 }), 'options.timeout'],
  ];
  for (const [make, argument] of cases) {
    assert.throws(make, (error) => error instanceof ProbeArgumentError && error.argument === argument && /Received/.test(error.message), argument);
  }
});

test('a check’s start/stop hooks run when it is added, the probe stops and starts, and it is removed', async (t) => {
  const calls = [];
  const check = Object.assign(() => true, { start: () => calls.push('start'), stop: () => calls.push('stop') });
  const probe = createProbe({ host: '127.0.0.1', port: 0 });
  t.after(() => probe.stop());
  probe.addCheck('hooked', check);
  assert.deepEqual(calls, ['start']);
  await probe.start();
  await probe.stop();
  assert.deepEqual(calls, ['start', 'stop']);
  await probe.start();
  assert.deepEqual(calls, ['start', 'stop', 'start']);
  probe.removeCheck('hooked');
  assert.deepEqual(calls, ['start', 'stop', 'start', 'stop']);
});

test('after probe.stop() nothing remains: no timer, no socket, no background run', async (t) => {
  const hanging = createHttpServer(() => {});
  const hangingPort = await listening(t, hanging);
  const tcpPort = await listening(t, createTcpServer((socket) => socket.destroy()));
  await delay(20);
  const baseline = process.getActiveResourcesInfo().sort();

  const probe = createProbe({ host: '127.0.0.1', port: 0, state: 'READY' });
  let backgroundRuns = 0;
  probe.addCheck('loop', eventLoopDelay(), { affects: 'liveness' });
  probe.addCheck('tcp', tcp({ port: tcpPort }), { intervalMs: 20 });
  probe.addCheck('disk', diskSpace(), { intervalMs: 20 });
  probe.addCheck('counted', () => {
    backgroundRuns++;
  }, { intervalMs: 20 });
  probe.addCheck('hangs', http({ url: `http://127.0.0.1:${hangingPort}/` }), { timeoutMs: 10_000 });
  const { port } = await probe.start();
  // A request waits on the hanging http check while the probe stops.
  const pending = get(`http://127.0.0.1:${port}/ready`).catch((error) => error);
  await delay(100);
  await probe.stop();
  const answer = await pending;
  assert.equal(answer.status, 503, 'the waiting request was answered when the probe stopped');
  const runsAtStop = backgroundRuns;
  let now;
  for (let i = 0; i < 50; i++) {
    now = process.getActiveResourcesInfo().sort();
    if (JSON.stringify(now) === JSON.stringify(baseline)) break;
    await delay(10);
  }
  assert.deepEqual(now, baseline);
  await delay(60);
  assert.equal(backgroundRuns, runsAtStop, 'background runs stopped');
  const open = await new Promise((resolve) => hanging.getConnections((_, n) => resolve(n)));
  assert.equal(open, 0, 'the hanging http check closed its connection');
});

test('background checks and monitors never keep the process alive (unref’d timers)', async () => {
  const entry = fileURLToPath(new URL('../../dist/index.js', import.meta.url));
  const checks = fileURLToPath(new URL('../../dist/checks-entry.js', import.meta.url));
  const script = `
    const { createProbe } = await import(${JSON.stringify(entry)});
    const { eventLoopDelay, diskSpace } = await import(${JSON.stringify(checks)});
    const probe = createProbe();
    probe.addCheck('loop', eventLoopDelay(), { intervalMs: 50 });
    probe.addCheck('disk', diskSpace(), { intervalMs: 50 });
    probe.addCheck('hangs', () => new Promise(() => {}), { intervalMs: 50, timeoutMs: 60000 });
    setTimeout(() => console.log('done'), 200);
  `;
  // A process kept alive by a timer never exits on its own: execFile kills it after 10 s and rejects.
  const stdout = await new Promise((resolve, reject) => {
    execFile(process.execPath, ['--input-type=module', '-e', script], { timeout: 10_000 }, (error, out) => (error ? reject(error) : resolve(out)));
  });
  assert.equal(stdout.trim(), 'done');
});
