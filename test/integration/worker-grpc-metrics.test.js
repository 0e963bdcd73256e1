// Worker mode serves gRPC health and /metrics from the worker thread, on the probe's port: the same
// verdicts as inline through every state and check outcome, and answers while the main thread is
// blocked, with the stall verdict (gRPC statuses, Watch messages, up/ready and the stall gauge).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { Worker } from 'node:worker_threads';
import { createProbe } from '../../dist/index.js';
import { get } from '../helpers/checks.js';
import { check, list, probeWithClient, watch } from '../helpers/grpc.js';
import { hasPromtool, parsePrometheus, promtoolCheck } from '../helpers/metrics.js';
// Worker mode's main side, which dist/index.js imports on first use (the same module instance).
import { liveWorkerCount, terminateWorkersForTest } from '../../dist/internal.js';

const STATES = ['UP', 'READY', 'DRAINING', 'DOWN'];
const wordOf = (httpStatus) => (httpStatus === 200 ? 'SERVING' : 'NOT_SERVING');
const ms = (ns) => Number(ns) / 1e6;
const sleep = (delayMs) => new Promise((resolve) => setTimeout(resolve, delayMs));

function busy(durationMs) {
  const end = performance.now() + durationMs;
  while (performance.now() < end);
}

async function scrape(base) {
  const response = await get(`${base}/metrics`);
  assert.equal(response.status, 200, response.body);
  return parsePrometheus(response.body).values;
}

test('in worker mode, gRPC Check answers "", readiness, liveness, startup and each check with the verdict of its HTTP endpoint', async (t) => {
  const { probe, client, url } = await probeWithClient(t, { worker: true });
  assert.equal(liveWorkerCount(), 1, 'the probe runs in worker mode');
  const flags = { db: true, heart: true };
  probe.addCheck('db', () => flags.db);
  probe.addCheck('heart', () => flags.heart, { affects: 'liveness' });
  const follows = { '': '/ready', readiness: '/ready', liveness: '/health', startup: '/started', db: '/ready/db', heart: '/ready/heart' };
  for (const state of STATES) {
    probe.setState(state);
    for (const [db, heart] of [[true, true], [false, true], [true, false]]) {
      Object.assign(flags, { db, heart });
      for (const [service, path] of Object.entries(follows)) {
        const http = (await fetch(url(path))).status;
        assert.equal(await check(client, service), wordOf(http), `${state} db ${db} heart ${heart}: '${service}' vs GET ${path} (${http})`);
      }
    }
  }
  assert.equal((await check(client, 'nope')).code, 5 /* NOT_FOUND */);
});

test('in worker mode, Watch follows state changes (each one, never a repeat) and List shows every service', async (t) => {
  const { probe, client } = await probeWithClient(t, { worker: true });
  probe.addCheck('db', () => true);
  const ready = watch(client, '');
  const live = watch(client, 'liveness');
  assert.deepEqual(await ready.until(1), ['NOT_SERVING']);
  assert.deepEqual(await live.until(1), ['SERVING']);
  probe.setState('READY');
  assert.deepEqual(await ready.until(2), ['NOT_SERVING', 'SERVING']);
  // Two changes in a row: both are told, as inline.
  probe.setState('DRAINING');
  probe.setState('READY');
  assert.deepEqual(await ready.until(4), ['NOT_SERVING', 'SERVING', 'NOT_SERVING', 'SERVING']);
  probe.setState('DOWN');
  assert.deepEqual(await live.until(2), ['SERVING', 'NOT_SERVING']);
  await sleep(100);
  assert.deepEqual(ready.statuses, ['NOT_SERVING', 'SERVING', 'NOT_SERVING', 'SERVING', 'NOT_SERVING']);
  assert.deepEqual(live.statuses, ['SERVING', 'NOT_SERVING']);
  probe.setState('READY');
  assert.deepEqual(await list(client), { '': 'SERVING', readiness: 'SERVING', liveness: 'SERVING', startup: 'SERVING', db: 'SERVING' });
  ready.call.cancel();
  live.call.cancel();
});

test('in worker mode, /metrics up, ready and state follow every state and check outcome exactly as /health and /ready answer', async (t) => {
  const probe = createProbe({ host: '127.0.0.1', port: 0, worker: true, metrics: true });
  t.after(() => probe.stop());
  const base = `http://127.0.0.1:${(await probe.start()).port}`;
  assert.equal(liveWorkerCount(), 1);
  const flags = { db: true, loop: true, cache: true };
  probe.addCheck('db', () => flags.db);
  probe.addCheck('loop', () => flags.loop, { affects: 'liveness' });
  probe.addCheck('cache', () => flags.cache, { critical: false, affects: 'both' });
  for (const state of STATES) {
    probe.setState(state);
    for (let bits = 0; bits < 8; bits++) {
      Object.assign(flags, { db: (bits & 1) === 0, loop: (bits & 2) === 0, cache: (bits & 4) === 0 });
      const label = `${state} ${JSON.stringify(flags)}`;
      const ready = await get(`${base}/ready`);
      let values = await scrape(base);
      assert.equal(values.get('service_probe_ready'), ready.status === 200 ? 1 : 0, label);
      const health = await get(`${base}/health`);
      values = await scrape(base);
      assert.equal(values.get('service_probe_up'), health.status === 200 ? 1 : 0, label);
      for (const word of STATES) assert.equal(values.get(`service_probe_state{state="${word}"}`), word === state ? 1 : 0, label);
      assert.equal(values.get('service_probe_check_status{affects="readiness",check="db"}'), flags.db ? 1 : 0, label);
      assert.equal(values.get('service_probe_check_status{affects="liveness",check="loop"}'), flags.loop ? 1 : 0, label);
      assert.equal(values.get('service_probe_check_status{affects="both",check="cache"}'), flags.cache ? 1 : 0, label);
      // The stall gauge: worker mode's own family (its values under a block: the test below).
      assert.ok(values.get('service_probe_event_loop_stall_seconds') >= 0, label);
    }
  }
});

test("in worker mode, /metrics counters count from the probe's creation, across a worker restart and a stop and start", async (t) => {
  const infos = [];
  const logger = { debug() {}, info: (m) => infos.push(m), warn() {}, error() {} };
  const probe = createProbe({ host: '127.0.0.1', port: 0, worker: true, metrics: true, state: 'READY', logger });
  t.after(() => probe.stop());
  probe.addCheck('db', () => true);
  // A run before the worker exists (handle() and answer() serve on the main thread) counts too.
  assert.equal((await probe.answer('GET', '/ready')).status, 200);
  let base = `http://127.0.0.1:${(await probe.start()).port}`;
  const passes = async () => (await scrape(base)).get('service_probe_check_runs_total{check="db",outcome="pass"}');
  assert.equal(await passes(), 1);
  for (let i = 0; i < 2; i++) await get(`${base}/ready`);
  assert.equal(await passes(), 3);

  await terminateWorkersForTest();
  while (!infos.some((m) => m.startsWith('probe worker restarted'))) await sleep(10);
  assert.equal(await passes(), 3, 'after a worker restart');
  await get(`${base}/ready`);
  assert.equal(await passes(), 4);

  await probe.stop();
  base = `http://127.0.0.1:${(await probe.start({ port: 0 })).port}`;
  assert.equal(await passes(), 4, 'after stop and start');
  // The main thread's own endpoint (answer(), handle()) shows the same counts.
  assert.match((await probe.answer('GET', '/metrics')).body.toString(), /^service_probe_check_runs_total\{check="db",outcome="pass"\} 4$/m);
});

/** Runs `plan` from a client in a thread of its own while the main thread is blocked for `blockMs`. */
async function blockWhileClientRuns(port, plan, blockMs, leadMs = 100) {
  const client = new Worker(new URL('../helpers/plan-client.js', import.meta.url), { workerData: { port, plan } });
  const results = once(client, 'message');
  await once(client, 'online');
  const startNs = process.hrtime.bigint();
  client.postMessage({ startNs });
  await sleep(leadMs);
  const blockStart = ms(process.hrtime.bigint() - startNs);
  busy(blockMs);
  const blockEnd = ms(process.hrtime.bigint() - startNs);
  const [answers] = await results;
  await client.terminate();
  return { answers: answers.map((a) => ({ ...a, sent: ms(a.sentNs - startNs), received: ms(a.receivedNs - startNs) })), blockStart, blockEnd };
}

test('with the main thread blocked, gRPC Check and /metrics keep answering from the worker, with the stall verdict, and recover', async (t) => {
  const readinessStallMs = 400;
  const livenessStallMs = 1000;
  const beatMs = 80; // readinessStallMs / 5
  const probe = createProbe({ host: '127.0.0.1', port: 0, state: 'READY', metrics: true, worker: { readinessStallMs, livenessStallMs } });
  t.after(() => probe.stop());
  const { port } = await probe.start();
  const plan = [];
  for (let at = 0; at <= 2800; at += 50) plan.push({ atMs: at, grpc: '' }, { atMs: at, grpc: 'liveness' }, { atMs: at, path: '/metrics' });
  const { answers, blockStart, blockEnd } = await blockWhileClientRuns(port, plan, 2000);
  assert.ok(answers.every((a) => a.error === undefined), JSON.stringify(answers.find((a) => a.error)));

  // Answered while blocked: everything sent well inside the block came back before it ended.
  const duringBlock = answers.filter((a) => a.sent > blockStart && a.sent < blockEnd - 300);
  assert.ok(duringBlock.length > 60, `only ${duringBlock.length} calls during the block`);
  for (const a of duringBlock) assert.ok(a.received < blockEnd, `${a.grpc ?? a.path} sent at ${a.sent} was answered only at ${a.received} (block ended ${blockEnd})`);
  const latencies = duringBlock.map((a) => a.received - a.sent).sort((x, y) => x - y);
  t.diagnostic(`during the block: ${latencies.length} answers, median ${latencies[latencies.length >> 1].toFixed(1)} ms, max ${latencies.at(-1).toFixed(1)} ms`);

  const metrics = answers.filter((a) => a.path === '/metrics').map((a) => ({ ...a, values: parsePrometheus(a.body).values }));
  for (const [service, sample, threshold] of [
    ['', 'service_probe_ready', readinessStallMs],
    ['liveness', 'service_probe_up', livenessStallMs],
  ]) {
    const calls = answers.filter((a) => a.grpc === service);
    const early = (a) => a.received < blockStart + threshold;
    const late = (a) => a.sent > blockStart + threshold + beatMs + 20 && a.received < blockEnd;
    const after = (a) => a.sent > blockEnd + 300;
    // Not before the threshold; past it (plus a beat); recovered after the block.
    for (const a of calls.filter(early)) assert.equal(a.status, 'SERVING', `'${service}' at ${a.received} ms, block began ${blockStart}`);
    for (const a of metrics.filter(early)) assert.equal(a.values.get(sample), 1, `${sample} at ${a.received} ms, block began ${blockStart}`);
    assert.ok(calls.filter(late).length > 5 && metrics.filter(late).length > 5, `too few calls past the ${service || 'readiness'} threshold`);
    for (const a of calls.filter(late)) assert.equal(a.status, 'NOT_SERVING', `'${service}' sent at ${a.sent} ms, block ${blockStart}–${blockEnd}`);
    for (const a of metrics.filter(late)) {
      assert.equal(a.values.get(sample), 0, `${sample} sent at ${a.sent} ms, block ${blockStart}–${blockEnd}`);
      assert.ok(a.values.get('service_probe_event_loop_stall_seconds') * 1000 > threshold, `stall gauge ${a.values.get('service_probe_event_loop_stall_seconds')} s at ${a.sent} ms`);
    }
    assert.ok(calls.filter(after).length > 5);
    for (const a of calls.filter(after)) assert.equal(a.status, 'SERVING', `'${service}' sent at ${a.sent} ms, after the block (${blockEnd})`);
    for (const a of metrics.filter(after)) assert.equal(a.values.get(sample), 1, `${sample} sent at ${a.sent} ms, after the block`);
  }
  for (const a of metrics.filter((a) => a.sent > blockEnd + 300)) assert.ok(a.values.get('service_probe_event_loop_stall_seconds') < 0.4);

  // An exposition taken past the liveness threshold passes promtool, the stall gauge with it.
  const stalled = metrics.find((a) => a.values.get('service_probe_up') === 0);
  assert.match(stalled.body, /^# TYPE service_probe_event_loop_stall_seconds gauge$/m);
  if (hasPromtool()) assert.deepEqual(await promtoolCheck(stalled.body), { code: 0, output: '' });
  else t.diagnostic("promtool is not installed (Debian's prometheus package): its check did not run");
});

test('in worker mode, Watch streams hear the stall cross each threshold while the main thread is blocked, and the recovery', async (t) => {
  const { client } = await probeWithClient(t, { state: 'READY', worker: { readinessStallMs: 300, livenessStallMs: 700 } });
  const ready = watch(client, '');
  const live = watch(client, 'liveness');
  const startup = watch(client, 'startup');
  assert.deepEqual(await ready.until(1), ['SERVING']);
  assert.deepEqual(await live.until(1), ['SERVING']);
  assert.deepEqual(await startup.until(1), ['SERVING']);
  busy(1200);
  assert.deepEqual(await ready.until(3), ['SERVING', 'NOT_SERVING', 'SERVING']);
  assert.deepEqual(await live.until(3), ['SERVING', 'NOT_SERVING', 'SERVING']);
  await sleep(100);
  // Readiness was NOT_SERVING from the first threshold on: the second changes nothing for it.
  assert.deepEqual(ready.statuses, ['SERVING', 'NOT_SERVING', 'SERVING']);
  assert.deepEqual(startup.statuses, ['SERVING'], 'startup does not follow the stall, as /started');
  for (const each of [ready, live, startup]) each.call.cancel();
});
