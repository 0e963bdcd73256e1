// Worker mode with a blocked main thread: the probe keeps answering, and the stall becomes the
// verdict its thresholds prescribe. The main thread is blocked by a busy loop; the client runs in
// a worker thread of its own (helpers/plan-client.js), so it sends on time during the block.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { readdirSync } from 'node:fs';
import { createServer } from 'node:net';
import { createProbe, ProbeArgumentError, ProbeStartError } from '../../dist/index.js';
import { clientWorker, liveWorkerCount, terminateProbeWorkers } from '../helpers/workers.js';

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
 * zero (so its first requests go out before the block). Returns the client's results and, in ms on
 * the plan's clock, the block's actual start and end, how late the main thread's own timer before
 * the block fired (`timerLateMs`: a loaded machine delays the probe's beat as much), and when the
 * main thread's timers ran again after it (`timersBackAt`: the beat, overdue, runs no later).
 * With `after` (a promise), the block starts once it settles instead of `leadMs` after time zero.
 */
async function blockWhileClientRuns(port, plan, { blockMs, leadMs = 100, after }) {
  const client = clientWorker(new URL('../helpers/plan-client.js', import.meta.url), { workerData: { port, plan } });
  const results = once(client, 'message');
  await once(client, 'online');
  const startNs = process.hrtime.bigint();
  const now = () => ms(process.hrtime.bigint() - startNs);
  client.postMessage({ startNs });
  const scheduledAt = now();
  await (after ?? new Promise((resolve) => setTimeout(resolve, leadMs)));
  const blockStart = now();
  const timerLateMs = after === undefined ? Math.max(0, blockStart - scheduledAt - leadMs) : 0;
  busy(blockMs);
  const blockEnd = now();
  const timersBackAt = await new Promise((resolve) => setTimeout(() => resolve(now()), 0));
  const [answers] = await results;
  await client.terminate();
  const relative = answers.map((a) => ({ ...a, sent: ms(a.sentNs - startNs), received: ms(a.receivedNs - startNs) }));
  return { answers: relative, blockStart, blockEnd, timerLateMs, timersBackAt };
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
  const { answers, blockStart, blockEnd, timerLateMs, timersBackAt } = await blockWhileClientRuns(port, plan, { blockMs: 1600 });
  assert.ok(answers.every((a) => a.error === undefined), JSON.stringify(answers.find((a) => a.error)));

  // The bounds below are orders of events measured in this run, not fixed margins: the main
  // thread's last beat before the block came no earlier than one beat period plus its timers'
  // lateness before it, and no answer is decided before its request was sent.
  const duringBlock = answers.filter((a) => a.received > blockStart && a.received < blockEnd);
  assert.ok(duringBlock.length > 20, `only ${duringBlock.length} answers came while the main thread was blocked`);

  for (const [path, threshold] of [
    ['/ready', readinessStallMs],
    ['/health', livenessStallMs],
  ]) {
    const mine = answers.filter((a) => a.path === path);
    // Not before: the stall an answer saw is at most the time since the block began, plus the
    // lateness of the main thread's timers before it (1 ms for the rounding of the stall).
    for (const a of mine.filter((a) => a.received < blockStart + threshold - timerLateMs - 1)) assert.equal(a.status, 200, `${path} at ${a.received} ms, block began ${blockStart}`);
    // After: one sent once the block had lasted the threshold plus a beat, and answered during it,
    // saw a stall past the threshold.
    const late = mine.filter((a) => a.sent > blockStart + threshold + beatMs + 1 && a.received < blockEnd);
    assert.ok(late.length > 5, `too few ${path} requests past its threshold`);
    for (const a of late) assert.equal(a.status, 503, `${path} sent at ${a.sent} ms, block ${blockStart}–${blockEnd}`);
    // Recovered with the first beat after the block, which runs before the main thread's next timer.
    const after = mine.filter((a) => a.sent > timersBackAt);
    assert.ok(after.length > 5);
    for (const a of after) assert.equal(a.status, 200, `${path} sent at ${a.sent} ms, after the main thread's timers ran again (${timersBackAt})`);
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

test('background checks answer from their latest outcome while the main thread is blocked', async (t) => {
  const { probe, port } = await startedProbe(t, { worker: { readinessStallMs: 5000, livenessStallMs: 5000 }, exposeDetails: true });
  probe.addCheck('queue', () => ({ ok: true, observedValue: 7 }), { intervalMs: 50 });
  probe.addCheck('cache', () => false, { timeoutMs: 5000, intervalMs: 60_000 });
  await new Promise((resolve) => setTimeout(resolve, 100));
  const plan = [
    { atMs: 100, path: '/ready/queue' },
    { atMs: 100, path: '/ready?verbose' },
    { atMs: 100, path: '/ready/nope' },
  ];
  const { answers, blockEnd } = await blockWhileClientRuns(port, plan, { blockMs: 800, leadMs: 0 });
  const [queue, all, nope] = answers;
  assert.equal(queue.status, 200);
  assert.equal(queue.body, '[+]queue ok\n');
  assert.ok(queue.received < blockEnd, 'a background check is answered without the main thread');
  assert.equal(all.status, 503);
  assert.equal(all.body, '[+]queue ok\n[-]cache failed: returned false\nUP\n');
  assert.equal(nope.status, 404);
});

test('an on-demand check does not wait for a blocked main thread: the answer uses its latest result and the stall verdict says the main thread did not answer', async (t) => {
  // The thresholds are far away: the stall passes, and only the note says what happened.
  const { probe, port } = await startedProbe(t, { worker: { readinessStallMs: 5000, livenessStallMs: 5000 }, exposeDetails: true });
  probe.addCheck('db', () => true);
  assert.equal(await (await fetch(`http://127.0.0.1:${port}/ready/db`)).text(), '[+]db ok\n', 'db has a latest result');
  const plan = [
    { atMs: 100, path: '/ready' },
    { atMs: 100, path: '/ready/db' },
    { atMs: 100, path: '/ready?verbose' },
    { atMs: 100, path: '/ready', headers: { accept: 'application/health+json' } },
    { atMs: 100, grpc: '' },
    { atMs: 100, grpc: 'db' },
  ];
  const { answers, blockEnd } = await blockWhileClientRuns(port, plan, { blockMs: 1500, leadMs: 0 });
  const [plain, db, verbose, json, grpcAll, grpcDb] = answers;
  for (const answer of answers) {
    assert.equal(answer.error, undefined);
    assert.ok(answer.received < blockEnd, `${answer.path ?? `grpc '${answer.grpc}'`} waited for the main thread`);
    // The check's own timeout (1000 ms) is what an answer waited for when it waited on the main thread.
    assert.ok(answer.received - answer.sent < 1000, `${answer.path ?? `grpc '${answer.grpc}'`} answered only after ${answer.received - answer.sent} ms`);
  }
  assert.deepEqual([plain.status, plain.body], [200, 'READY']);
  assert.deepEqual([db.status, db.body], [200, '[+]db ok\n']);
  assert.deepEqual([verbose.status, verbose.body], [200, '[+]db ok\n[+]event-loop-stall ok\nREADY\n']);
  const [stall] = JSON.parse(json.body).checks['event-loop-stall'];
  assert.equal(stall.status, 'pass');
  assert.match(stall.output, /^the main thread has not answered for \d+ ms; answered from the latest results$/);
  assert.equal(typeof stall.observedValue, 'number');
  assert.equal(grpcAll.status, 'SERVING');
  assert.equal(grpcDb.status, 'SERVING');
  // Unblocked, the main thread runs the check again for every request.
  let runs = 0;
  probe.on('check', () => runs++);
  assert.equal((await fetch(`http://127.0.0.1:${port}/ready?verbose`)).status, 200);
  assert.equal(runs, 1);
});

test('a check with no result yet is answered as such, not as its failure, while the main thread is blocked', async (t) => {
  const { probe, port } = await startedProbe(t, { worker: { readinessStallMs: 5000, livenessStallMs: 5000 }, exposeDetails: true });
  probe.addCheck('fresh', () => true);
  const plan = [
    { atMs: 100, path: '/ready/fresh' },
    { atMs: 100, path: '/ready?verbose' },
  ];
  const { answers, blockEnd } = await blockWhileClientRuns(port, plan, { blockMs: 1500, leadMs: 0 });
  const [single, verbose] = answers;
  assert.ok(single.received < blockEnd && verbose.received < blockEnd);
  assert.equal(single.status, 503);
  assert.match(single.body, /^\[-\]fresh failed: no result yet: the main thread has not answered for \d+ ms\n$/);
  assert.equal(verbose.status, 503);
  assert.match(verbose.body, /^\[-\]fresh failed: no result yet: .*\n\[\+\]event-loop-stall ok\nUP\n$/);
  assert.equal(await (await fetch(`http://127.0.0.1:${port}/ready/fresh`)).text(), '[+]fresh ok\n');
});

test('a main thread that took a check run up and then blocks is not waited for either', async (t) => {
  const { probe, port } = await startedProbe(t, { worker: { readinessStallMs: 5000, livenessStallMs: 5000 } });
  // The run takes 100 ms of timers: the main thread starts it, then blocks before it can finish.
  let runStarted = () => {};
  probe.addCheck('slow', () => {
    runStarted();
    return new Promise((resolve) => setTimeout(() => resolve(true), 100));
  });
  assert.equal((await fetch(`http://127.0.0.1:${port}/ready/slow`)).status, 200);
  let finished = 0;
  probe.on('check', () => finished++);
  const taken = new Promise((resolve) => (runStarted = resolve));
  const { answers, blockStart, blockEnd } = await blockWhileClientRuns(port, [{ atMs: 0, path: '/ready/slow' }], { blockMs: 1500, after: taken });
  const [slow] = answers;
  assert.ok(slow.received > blockStart && slow.received < blockEnd, `answered at ${slow.received} ms, block ${blockStart}–${blockEnd}`);
  assert.deepEqual([slow.status, slow.body], [200, '[+]slow ok\n']);
  await new Promise((resolve) => setTimeout(resolve, 150));
  assert.equal(finished, 1, 'the run the main thread took up finished after the block');
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
  for (const worker of ['yes', 1, null, [], { readinessStallMs: 0 }, { livenessStallMs: 1.5 }, { readinessStallMs: 2000, livenessStallMs: 1000 }, { beatMs: 10 }, { mainThreadWaitMs: 0 }, { mainThreadWaitMs: 2.5 }, { mainThreadWaitMs: '50' }]) {
    assert.throws(() => createProbe({ worker }), (error) => error instanceof ProbeArgumentError && error.code === 'INVALID_ARGUMENT', JSON.stringify(worker));
  }
  assert.throws(() => createProbe({ worker: true, server: 'http' }), /options\.server/);
  createProbe({ worker: false });
  createProbe({ worker: { readinessStallMs: 500 } });
  createProbe({ worker: { mainThreadWaitMs: 20 } });
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
  await terminateProbeWorkers();
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

test('SERVICE_PROBE_WORKER may hold worker options as JSON; a bad value is refused naming the variable', async (t) => {
  t.after(() => delete process.env.SERVICE_PROBE_WORKER);
  process.env.SERVICE_PROBE_WORKER = '{"mainThreadWaitMs": 20, "readinessStallMs": 300}';
  const probe = createProbe({ host: '127.0.0.1', port: 0, state: 'READY', exposeDetails: true });
  const { port } = await probe.start();
  t.after(() => probe.stop());
  assert.equal(liveWorkerCount(), 1);
  const plan = [400, 450, 500, 550].map((atMs) => ({ atMs, path: '/ready/event-loop-stall' }));
  const { answers, blockStart, blockEnd } = await blockWhileClientRuns(port, plan, { blockMs: 800, leadMs: 0 });
  // Sent past the threshold (and a beat of 60 ms) and answered during the block: failing with it.
  const past = answers.filter((a) => a.sent > blockStart + 300 + 60 + 1 && a.received < blockEnd);
  assert.ok(past.length > 0, 'no request was answered past the threshold during the block');
  for (const a of past) assert.match(a.body, /readinessStallMs 300\)/);
  for (const value of ['{"mainThreadWaitMs": 0}', '{"nope": 1}', '{not json']) {
    process.env.SERVICE_PROBE_WORKER = value;
    assert.throws(() => createProbe(), (error) => error instanceof ProbeArgumentError && error.argument.startsWith('SERVICE_PROBE_WORKER'), value);
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
