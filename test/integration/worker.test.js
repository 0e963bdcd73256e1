// Worker mode with a blocked main thread: the probe keeps answering, and the stall becomes the
// verdict its thresholds prescribe. The main thread is blocked by a busy loop; the client runs in
// a worker thread of its own (helpers/plan-client.js), so it sends on time during the block.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { readdirSync } from 'node:fs';
import { createServer } from 'node:net';
import { Worker } from 'node:worker_threads';
import { createProbe, ProbeArgumentError, ProbeStartError } from '../../dist/index.js';
// Worker mode's main side, which dist/index.js imports on first use: the same module instance
// exposes its thread count and crash hook to tests.
import { liveWorkerCount, terminateWorkersForTest } from '../../dist/internal.js';

const ms = (ns) => Number(ns) / 1e6;

async function startedProbe(t, options = {}) {
  const probe = createProbe({ host: '127.0.0.1', port: 0, state: 'READY', ...options });
  const { port } = await probe.start();
  t.after(() => probe.stop());
  return { probe, port };
}

function busy(durationMs) {
  const end = performance.now() + durationMs;
  while (performance.now() < end);
}

/**
 * Blocks the main thread for `blockMs`, starting `leadMs` after the client is told the plan's time
 * zero (so its first requests go out before the block). Returns the client's results and the
 * block's actual start and end, in ms on the plan's clock.
 */
async function blockWhileClientRuns(port, plan, { blockMs, leadMs = 100 }) {
  const client = new Worker(new URL('../helpers/plan-client.js', import.meta.url), { workerData: { port, plan } });
  const results = once(client, 'message');
  await once(client, 'online');
  const startNs = process.hrtime.bigint();
  client.postMessage({ startNs });
  await new Promise((resolve) => setTimeout(resolve, leadMs));
  const blockStart = ms(process.hrtime.bigint() - startNs);
  busy(blockMs);
  const blockEnd = ms(process.hrtime.bigint() - startNs);
  const [answers] = await results;
  await client.terminate();
  const relative = answers.map((a) => ({ ...a, sent: ms(a.sentNs - startNs), received: ms(a.receivedNs - startNs) }));
  return { answers: relative, blockStart, blockEnd };
}

function every(stepMs, untilMs, make) {
  const plan = [];
  for (let at = 0; at <= untilMs; at += stepMs) plan.push(...make(at));
  return plan;
}

test('with the main thread blocked, answers keep coming; /ready turns 503 after readinessStallMs and /health after livenessStallMs, not before, and both recover', async (t) => {
  const readinessStallMs = 400;
  const livenessStallMs = 1000;
  const { port } = await startedProbe(t, { worker: { readinessStallMs, livenessStallMs } });
  const beatMs = 80; // readinessStallMs / 5
  const plan = every(25, 2400, (at) => [
    { atMs: at, path: '/ready' },
    { atMs: at, path: '/health' },
  ]);
  const { answers, blockStart, blockEnd } = await blockWhileClientRuns(port, plan, { blockMs: 1600 });
  assert.ok(answers.every((a) => a.error === undefined), JSON.stringify(answers.find((a) => a.error)));

  // Answered while blocked: everything sent well inside the block came back before it ended.
  const duringBlock = answers.filter((a) => a.sent > blockStart && a.sent < blockEnd - 300);
  assert.ok(duringBlock.length > 50, `only ${duringBlock.length} requests during the block`);
  for (const a of duringBlock) assert.ok(a.received < blockEnd, `${a.path} sent at ${a.sent} was answered only at ${a.received} (block ended ${blockEnd})`);

  for (const [path, threshold] of [
    ['/ready', readinessStallMs],
    ['/health', livenessStallMs],
  ]) {
    const mine = answers.filter((a) => a.path === path);
    // Not before: an answer received before the block had lasted the threshold passes.
    for (const a of mine.filter((a) => a.received < blockStart + threshold)) assert.equal(a.status, 200, `${path} at ${a.received} ms, block began ${blockStart}`);
    // After: one sent once the block had lasted the threshold plus a beat, answered during it, fails.
    const late = mine.filter((a) => a.sent > blockStart + threshold + beatMs + 20 && a.received < blockEnd);
    assert.ok(late.length > 5, `too few ${path} requests past its threshold`);
    for (const a of late) assert.equal(a.status, 503, `${path} sent at ${a.sent} ms, block ${blockStart}–${blockEnd}`);
    // Recovered with the first beats after the block.
    const after = mine.filter((a) => a.sent > blockEnd + 300);
    assert.ok(after.length > 5);
    for (const a of after) assert.equal(a.status, 200, `${path} sent at ${a.sent} ms, after the block (${blockEnd})`);
  }
  // /ready fails on the stall and keeps the state word it would show for a failing readiness check.
  const ready503 = answers.find((a) => a.path === '/ready' && a.status === 503 && a.received < blockStart + livenessStallMs);
  assert.equal(ready503.body, 'UP');
  const health503 = answers.find((a) => a.path === '/health' && a.status === 503);
  assert.equal(health503.body, 'DOWN');
});

test('a stall shows as the event-loop-stall line in ?verbose and entry in JSON, with the observed stall; HEAD and the per-check path answer it too', async (t) => {
  const { port } = await startedProbe(t, { worker: { readinessStallMs: 200, livenessStallMs: 500 }, exposeDetails: true });
  const at = 700; // well past both thresholds, inside the block
  const plan = [
    { atMs: at, path: '/ready?verbose' },
    { atMs: at, path: '/health?verbose' },
    { atMs: at, path: '/health', headers: { accept: 'application/health+json' } },
    { atMs: at, path: '/ready/event-loop-stall' },
    { atMs: at, method: 'HEAD', path: '/ready' },
    { atMs: at, path: '/started' },
  ];
  const { answers } = await blockWhileClientRuns(port, plan, { blockMs: 1000, leadMs: 0 });
  const [verboseReady, verboseHealth, json, single, head, started] = answers;
  assert.equal(verboseReady.status, 503);
  assert.match(verboseReady.body, /^\[-\]event-loop-stall failed: the main thread has not run for \d+ ms \(livenessStallMs 500\)\nDOWN\n$/);
  assert.equal(verboseHealth.status, 503);
  assert.match(verboseHealth.body, /^\[-\]event-loop-stall failed: .*\nDOWN\n$/);
  assert.equal(json.status, 503);
  assert.equal(json.headers['content-type'], 'application/health+json');
  const body = JSON.parse(json.body);
  assert.equal(body.status, 'fail');
  assert.equal(body.state, 'DOWN');
  const [entry] = body.checks['event-loop-stall'];
  assert.equal(entry.status, 'fail');
  assert.equal(entry.observedUnit, 'ms');
  assert.ok(entry.observedValue > 500 && entry.observedValue < 1000, String(entry.observedValue));
  assert.match(entry.output, /has not run for \d+ ms/);
  assert.equal(single.status, 503);
  assert.match(single.body, /^\[-\]event-loop-stall failed: .*readinessStallMs 200\)\n$/);
  assert.equal(head.status, 503);
  assert.equal(head.body, '');
  assert.equal(head.headers['content-length'], '4', 'the length of DOWN, the body a GET gets');
  assert.equal(started.status, 200, '/started ignores the stall');
});

test('without exposeDetails the stall line withholds its reason, and the JSON entry has no output', async (t) => {
  const { port } = await startedProbe(t, { worker: { readinessStallMs: 150, livenessStallMs: 5000 } });
  const plan = [
    { atMs: 400, path: '/ready?verbose' },
    { atMs: 400, path: '/ready', headers: { accept: 'application/json' } },
    { atMs: 400, path: '/health?verbose' },
  ];
  const { answers } = await blockWhileClientRuns(port, plan, { blockMs: 600, leadMs: 0 });
  const [verbose, json, health] = answers;
  assert.equal(verbose.status, 503);
  assert.equal(verbose.body, '[-]event-loop-stall failed: reason withheld\nUP\n');
  const [entry] = JSON.parse(json.body).checks['event-loop-stall'];
  assert.equal(entry.output, undefined);
  assert.ok(entry.observedValue > 150);
  // Below livenessStallMs, /health neither fails nor lists the stall.
  assert.equal(health.status, 200);
  assert.equal(health.body, 'READY\n');
});

test("state set on the main thread reaches the worker's answers at once, even while it is blocked right after", async (t) => {
  const { probe, port } = await startedProbe(t, { worker: true, state: 'UP' });
  for (const [state, ready] of [
    ['READY', 200],
    ['DRAINING', 503],
    ['READY', 200],
    ['DOWN', 503],
  ]) {
    probe.setState(state);
    // The main thread does not get to run between the change and the answer: the client in its
    // own thread asks while this one is blocked.
    const { answers } = await blockWhileClientRuns(port, [{ atMs: 50, path: '/ready' }], { blockMs: 300, leadMs: 0 });
    assert.equal(answers[0].status, ready, state);
    assert.equal(answers[0].body, state);
  }
  probe.markStarted();
  const { answers } = await blockWhileClientRuns(port, [{ atMs: 50, path: '/started' }], { blockMs: 200, leadMs: 0 });
  assert.equal(answers[0].status, 200);
});

test('background checks answer from their latest outcome while the main thread is blocked; on-demand checks fail at their timeout', async (t) => {
  const { probe, port } = await startedProbe(t, { worker: { readinessStallMs: 5000, livenessStallMs: 5000 }, exposeDetails: true });
  probe.addCheck('queue', () => ({ ok: true, observedValue: 7 }), { intervalMs: 50 });
  probe.addCheck('db', () => true, { timeoutMs: 200 });
  probe.addCheck('cache', () => false, { timeoutMs: 5000, intervalMs: 60_000 });
  await new Promise((resolve) => setTimeout(resolve, 100));
  const plan = [
    { atMs: 100, path: '/ready/queue' },
    { atMs: 100, path: '/ready?verbose&exclude=db' },
    { atMs: 100, path: '/ready/db' },
    { atMs: 100, path: '/ready?verbose' },
    { atMs: 100, path: '/ready/nope' },
  ];
  const { answers, blockEnd } = await blockWhileClientRuns(port, plan, { blockMs: 800, leadMs: 0 });
  const [queue, background, db, all, nope] = answers;
  assert.equal(queue.status, 200);
  assert.equal(queue.body, '[+]queue ok\n');
  assert.ok(queue.received < blockEnd, 'a background check is answered without the main thread');
  assert.equal(background.status, 503);
  assert.equal(background.body, '[+]queue ok\n[-]cache failed: returned false\nUP\n');
  assert.equal(db.status, 503);
  assert.equal(db.body, '[-]db failed: timed out after 200 ms\n');
  assert.ok(db.received < blockEnd, 'the on-demand check failed at its timeout, not when the main thread came back');
  assert.ok(db.received - db.sent >= 190, `answered after ${db.received - db.sent} ms, before the check's timeout`);
  assert.equal(all.body, '[+]queue ok\n[-]db failed: timed out after 200 ms\n[-]cache failed: returned false\nUP\n');
  assert.equal(nope.status, 404);
  // Unblocked, the main thread runs on-demand checks for the worker again.
  const res = await fetch(`http://127.0.0.1:${port}/ready/db`);
  assert.equal(res.status, 200);
  assert.equal(await res.text(), '[+]db ok\n');
});

test('checks added and removed on the main thread count from the next request; the stall name is reserved in worker mode', async (t) => {
  const { probe, port } = await startedProbe(t, { worker: true });
  const url = `http://127.0.0.1:${port}`;
  probe.addCheck('db', () => false);
  assert.equal((await fetch(`${url}/ready`)).status, 503);
  assert.equal((await fetch(`${url}/ready/db`)).status, 503);
  probe.removeCheck('db');
  assert.equal((await fetch(`${url}/ready`)).status, 200);
  assert.equal((await fetch(`${url}/ready/db`)).status, 404);
  // The stall's own path passes while the main thread runs.
  const stall = await fetch(`${url}/ready/event-loop-stall`);
  assert.equal(stall.status, 200);
  assert.equal(await stall.text(), '[+]event-loop-stall ok\n');
  assert.throws(() => probe.addCheck('event-loop-stall', () => true), ProbeArgumentError);
  assert.equal(probe.hasCheck('event-loop-stall'), false);
});

test('worker options are checked at the door', () => {
  for (const worker of ['yes', 1, null, [], { readinessStallMs: 0 }, { livenessStallMs: 1.5 }, { readinessStallMs: 2000, livenessStallMs: 1000 }, { beatMs: 10 }]) {
    assert.throws(() => createProbe({ worker }), (error) => error instanceof ProbeArgumentError && error.code === 'INVALID_ARGUMENT', JSON.stringify(worker));
  }
  assert.throws(() => createProbe({ worker: true, server: 'http' }), /options\.server/);
  createProbe({ worker: false });
  createProbe({ worker: { readinessStallMs: 500 } });
});

test('a start on a taken port rejects SOCKET_UNAVAILABLE and leaves no thread, timer or handle behind', async () => {
  const blocker = createServer();
  blocker.listen(0, '127.0.0.1');
  await once(blocker, 'listening');
  const before = process.getActiveResourcesInfo().sort();
  const probe = createProbe({ host: '127.0.0.1', port: blocker.address().port, worker: true });
  await assert.rejects(probe.start(), (error) => error instanceof ProbeStartError && error.code === 'SOCKET_UNAVAILABLE' && error.cause?.code === 'EADDRINUSE');
  assert.equal(liveWorkerCount(), 0);
  assert.deepEqual(process.getActiveResourcesInfo().sort(), before);
  blocker.close();
  // And the same probe starts once the port is free.
  const { port } = await probe.start({ port: 0 });
  assert.equal((await fetch(`http://127.0.0.1:${port}/health`)).status, 200);
  await probe.stop();
});

test('a worker that dies is reported through the logger and restarted on the same port', async (t) => {
  const errors = [];
  const infos = [];
  const logger = { error: (m) => errors.push(m), info: (m) => infos.push(m) };
  const { probe, port } = await startedProbe(t, { worker: true, logger });
  await terminateWorkersForTest();
  assert.match(errors.join('\n'), new RegExp(`probe worker exited unexpectedly \\(code 1\\); restarting it on port ${port}`));
  while (!infos.some((m) => m.startsWith('probe worker restarted'))) await new Promise((resolve) => setTimeout(resolve, 10));
  assert.equal(liveWorkerCount(), 1);
  probe.setState('DRAINING');
  const res = await fetch(`http://127.0.0.1:${port}/ready`);
  assert.equal(res.status, 503);
  assert.equal(await res.text(), 'DRAINING');
  await probe.stop();
  assert.equal(liveWorkerCount(), 0);
});

function threadCount() {
  return readdirSync('/proc/self/task').length;
}

test('start and stop 200 times: no thread, timer or handle left behind', async () => {
  const probe = createProbe({ host: '127.0.0.1', port: 0, worker: true, state: 'READY' });
  // One round first: the thread pool and V8's platform threads a first worker brings are not leaks.
  await probe.start();
  await probe.stop();
  const threads = threadCount();
  const resources = process.getActiveResourcesInfo().sort();
  for (let i = 0; i < 200; i++) {
    const { port } = await probe.start();
    if (i % 20 === 0) assert.equal((await fetch(`http://127.0.0.1:${port}/ready`)).status, 200);
    await probe.stop();
  }
  assert.equal(liveWorkerCount(), 0);
  // A terminated worker's thread is joined just after its exit event.
  for (let i = 0; i < 100 && threadCount() > threads; i++) await new Promise((resolve) => setTimeout(resolve, 10));
  assert.equal(threadCount(), threads);
  assert.deepEqual(process.getActiveResourcesInfo().sort(), resources);
});

test('SERVICE_PROBE_WORKER=1 runs probes that set neither worker nor server in worker mode', async () => {
  process.env.SERVICE_PROBE_WORKER = '1';
  try {
    const inWorker = createProbe({ host: '127.0.0.1', port: 0 });
    const explicit = createProbe({ host: '127.0.0.1', port: 0, server: 'net' });
    const off = createProbe({ host: '127.0.0.1', port: 0, worker: false });
    for (const [probe, workers] of [
      [inWorker, 1],
      [explicit, 0],
      [off, 0],
    ]) {
      await probe.start();
      assert.equal(liveWorkerCount(), workers);
      await probe.stop();
    }
  } finally {
    delete process.env.SERVICE_PROBE_WORKER;
  }
});

test('state and checks changed while the worker starts show in its first answers', async (t) => {
  const probe = createProbe({ host: '127.0.0.1', port: 0, worker: true });
  const starting = probe.start();
  // Once the worker is being spawned (its bootstrap takes tens of ms), before it listens.
  await new Promise((resolve) => setTimeout(resolve, 15));
  probe.setState('READY');
  probe.addCheck('db', () => ({ ok: false, output: 'down' }), { intervalMs: 60_000 });
  const { port } = await starting;
  t.after(() => probe.stop());
  const res = await fetch(`http://127.0.0.1:${port}/ready?verbose`);
  assert.equal(res.status, 503);
  assert.equal(await res.text(), '[-]db failed: reason withheld\nUP\n');
  probe.removeCheck('db');
  assert.equal((await fetch(`http://127.0.0.1:${port}/ready`)).status, 200);
});
