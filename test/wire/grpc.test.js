// gRPC health checking (grpc.health.v1) on the probe port, asked by @grpc/grpc-js with
// grpc-health-check's service definition: the same verdicts as the HTTP endpoints, Watch, List,
// unknown services, deadlines, shutdown, and the adapter for an existing grpc-js server.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createProbe, syncGrpcHealth, ProbeArgumentError } from '../../dist/index.js';
import { check, grpc, HealthImplementation, healthService, list, probeWithClient, watch } from '../helpers/grpc.js';

const STATES = ['UP', 'READY', 'DRAINING', 'DOWN'];
// Service name → the HTTP endpoint whose verdict it follows.
const FOLLOWS = { '': '/ready', readiness: '/ready', liveness: '/health', startup: '/started' };
const wordOf = (httpStatus) => (httpStatus === 200 ? 'SERVING' : 'NOT_SERVING');
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

test('Check answers every fixed service name with the verdict of its HTTP endpoint, through every state', async (t) => {
  const { probe, client, url } = await probeWithClient(t);
  for (const state of STATES) {
    probe.setState(state);
    for (const [service, path] of Object.entries(FOLLOWS)) {
      const http = (await fetch(url(path))).status;
      assert.equal(await check(client, service), wordOf(http), `${state}: service '${service}' vs GET ${path} (${http})`);
    }
  }
  // Back to UP after READY: startup stays SERVING for good, as /started.
  probe.setState('UP');
  assert.equal(await check(client, 'startup'), 'SERVING');
  assert.equal(await check(client, ''), 'NOT_SERVING');
});

test('startup is NOT_SERVING until the probe has started, then SERVING (markStarted)', async (t) => {
  const { probe, client } = await probeWithClient(t);
  assert.equal(await check(client, 'startup'), 'NOT_SERVING');
  probe.markStarted();
  assert.equal(await check(client, 'startup'), 'SERVING');
});

test('checks: every check is a service of its own name, and the fixed services count them as /ready and /health do', async (t) => {
  const { probe, client, url } = await probeWithClient(t, { state: 'READY' });
  let dbOk = true;
  let cacheOk = true;
  probe.addCheck('db', () => dbOk);
  probe.addCheck('heart', () => cacheOk, { affects: 'liveness' });
  for (const [db, heart] of [[true, true], [false, true], [true, false], [false, false]]) {
    dbOk = db;
    cacheOk = heart;
    for (const [service, path] of [...Object.entries(FOLLOWS), ['db', '/ready/db'], ['heart', '/ready/heart']]) {
      const http = (await fetch(url(path))).status;
      assert.equal(await check(client, service), wordOf(http), `db ${db}, heart ${heart}: '${service}' vs GET ${path}`);
    }
    assert.equal(await check(client, 'db'), db ? 'SERVING' : 'NOT_SERVING');
    assert.equal(await check(client, 'heart'), heart ? 'SERVING' : 'NOT_SERVING');
  }
});

test('an unknown service is NOT_FOUND on Check, and absent from List', async (t) => {
  const { probe, client } = await probeWithClient(t, { state: 'READY' });
  probe.addCheck('db', () => true);
  for (const service of ['nope', 'Readiness', 'a/b', ' ', 'x'.repeat(300)]) {
    const answer = await check(client, service);
    assert.equal(answer.code, grpc.status.NOT_FOUND, `'${service.slice(0, 20)}'`);
  }
  assert.deepEqual(await list(client), { '': 'SERVING', readiness: 'SERVING', liveness: 'SERVING', startup: 'SERVING', db: 'SERVING' });
  probe.removeCheck('db');
  assert.equal((await check(client, 'db')).code, grpc.status.NOT_FOUND);
  assert.deepEqual(Object.keys(await list(client)), ['', 'readiness', 'liveness', 'startup']);
});

test('List shows every service with its status', async (t) => {
  const { probe, client } = await probeWithClient(t);
  probe.addCheck('db', () => false);
  probe.addCheck('cache', () => true, { affects: 'liveness' });
  assert.deepEqual(await list(client), {
    '': 'NOT_SERVING',
    readiness: 'NOT_SERVING',
    liveness: 'SERVING',
    startup: 'NOT_SERVING',
    db: 'NOT_SERVING',
    cache: 'SERVING',
  });
});

test('List is a snapshot: it runs no check that has a result, and a check without one once', async (t) => {
  const { probe, client } = await probeWithClient(t, { state: 'READY' });
  let runs = 0;
  probe.addCheck('db', () => {
    runs++;
    return true;
  });
  // Worker mode relays the runs to the main thread; a run of the main thread counts here either way.
  assert.deepEqual(await list(client), { '': 'SERVING', readiness: 'SERVING', liveness: 'SERVING', startup: 'SERVING', db: 'SERVING' });
  assert.equal(runs, 1, 'the first List runs the check that never ran, once for every service that needs it');
  for (let i = 0; i < 5; i++) await list(client);
  assert.equal(runs, 1, 'later Lists report its latest result');
  // A Check is a request like GET /ready: it runs the check.
  assert.equal(await check(client, ''), 'SERVING');
  assert.equal(runs, 2);
});

test('List answers RESOURCE_EXHAUSTED past 100 services, as grpc-health-check does', async (t) => {
  const { probe, client } = await probeWithClient(t, { state: 'READY' });
  // 4 fixed services + 96 checks = 100: listed.
  for (let i = 0; i < 96; i++) probe.addCheck(`check-${i}`, () => true, { intervalMs: 60_000 });
  assert.equal(Object.keys(await list(client)).length, 100);
  probe.addCheck('one-more', () => true, { intervalMs: 60_000 });
  assert.equal((await list(client)).code, grpc.status.RESOURCE_EXHAUSTED);
  // Check and Watch of each service still answer.
  assert.equal(await check(client, 'one-more'), 'SERVING');
});

test('addCheck refuses the names liveness, readiness and startup', async () => {
  const probe = createProbe();
  for (const name of ['liveness', 'readiness', 'startup']) {
    assert.throws(
      () => probe.addCheck(name, () => true),
      (error) => error instanceof ProbeArgumentError && error.argument === 'name' && error.message.includes(`'${name}'`),
    );
    assert.equal(probe.hasCheck(name), false);
  }
});

test('Watch sends the current status at once, then one message per change, never a repeated one', async (t) => {
  const { probe, client } = await probeWithClient(t);
  const ready = watch(client, '');
  assert.deepEqual(await ready.until(1), ['NOT_SERVING']);
  probe.setState('READY');
  assert.deepEqual(await ready.until(2), ['NOT_SERVING', 'SERVING']);
  probe.setState('DRAINING');
  await ready.until(3);
  // DRAINING → DOWN leaves readiness NOT_SERVING: no message.
  probe.setState('DOWN');
  probe.setState('UP');
  await sleep(100);
  assert.deepEqual(ready.statuses, ['NOT_SERVING', 'SERVING', 'NOT_SERVING']);
  ready.call.cancel();
});

test('many Watch streams of a few services each get every change once', async (t) => {
  const { probe, client } = await probeWithClient(t);
  probe.addCheck('db', () => true);
  const services = ['', 'readiness', 'liveness', 'db', 'unknown'];
  const watches = Array.from({ length: 90 }, (_, i) => [services[i % services.length], watch(client, services[i % services.length])]);
  for (const [, each] of watches) await each.until(1);
  probe.setState('READY');
  probe.setState('DOWN');
  const expected = { '': ['NOT_SERVING', 'SERVING', 'NOT_SERVING'], readiness: ['NOT_SERVING', 'SERVING', 'NOT_SERVING'], liveness: ['SERVING', 'NOT_SERVING'], db: ['SERVING'], unknown: ['SERVICE_UNKNOWN'] };
  for (const [service, each] of watches) assert.deepEqual(await each.until(expected[service].length), expected[service], `'${service}'`);
  await sleep(100);
  for (const [service, each] of watches) assert.deepEqual(each.statuses, expected[service], `'${service}' got nothing more`);
  for (const [, each] of watches) each.call.cancel();
});

test('Watch follows a background check on its schedule', async (t) => {
  const { probe, client } = await probeWithClient(t, { state: 'READY' });
  let ok = true;
  probe.addCheck('db', () => ok, { intervalMs: 20 });
  await sleep(60);
  const db = watch(client, 'db');
  const ready = watch(client, 'readiness');
  assert.deepEqual(await db.until(1), ['SERVING']);
  assert.deepEqual(await ready.until(1), ['SERVING']);
  ok = false;
  assert.deepEqual(await db.until(2), ['SERVING', 'NOT_SERVING']);
  assert.deepEqual(await ready.until(2), ['SERVING', 'NOT_SERVING']);
  ok = true;
  assert.deepEqual(await db.until(3), ['SERVING', 'NOT_SERVING', 'SERVING']);
  await sleep(100);
  assert.equal(db.statuses.length, 3, 'a check that keeps passing sends nothing more');
  db.call.cancel();
  ready.call.cancel();
});

test('Watch observes an on-demand check through the runs that requests make, and starts none itself', async (t) => {
  const { probe, client, url } = await probeWithClient(t, { state: 'READY' });
  let ok = true;
  let runs = 0;
  probe.addCheck('db', () => {
    runs++;
    return ok;
  });
  const db = watch(client, 'db');
  assert.deepEqual(await db.until(1), ['SERVING']);
  const runsAfterFirst = runs;
  await sleep(100);
  assert.equal(runs, runsAfterFirst, 'an open Watch does not run the check');
  ok = false;
  assert.equal((await fetch(url('/ready'))).status, 503);
  assert.deepEqual(await db.until(2), ['SERVING', 'NOT_SERVING']);
  ok = true;
  assert.equal(await check(client, 'db'), 'SERVING');
  assert.deepEqual(await db.until(3), ['SERVING', 'NOT_SERVING', 'SERVING']);
  db.call.cancel();
});

test('Watch on an unknown service: SERVICE_UNKNOWN with the stream kept open, then the status of a check added under that name', async (t) => {
  const { probe, client } = await probeWithClient(t, { state: 'READY' });
  const later = watch(client, 'later');
  assert.deepEqual(await later.until(1), ['SERVICE_UNKNOWN']);
  await sleep(50);
  assert.equal(later.end, undefined, 'the stream stays open');
  probe.addCheck('later', () => false);
  assert.deepEqual(await later.until(2), ['SERVICE_UNKNOWN', 'NOT_SERVING']);
  probe.removeCheck('later');
  assert.deepEqual(await later.until(3), ['SERVICE_UNKNOWN', 'NOT_SERVING', 'SERVICE_UNKNOWN']);
  later.call.cancel();
});

test('a Check waits for an on-demand check within the call deadline: DEADLINE_EXCEEDED past it', async (t) => {
  const { probe, client } = await probeWithClient(t, { state: 'READY' });
  // The check's one run settles only when the test says so: the order of events is the claim, not
  // how many milliseconds passed.
  let release;
  let runs = 0;
  probe.addCheck('slow', () => {
    runs++;
    return new Promise((resolve) => (release = () => resolve(true)));
  }, { timeoutMs: 10_000 });
  // A call with a long deadline starts the run and waits for it.
  const waiting = check(client, 'slow', 10_000);
  while (release === undefined) await sleep(5);
  // One with a short deadline shares that run, and is answered at its deadline while the run goes on.
  const answer = await check(client, 'slow', 100);
  assert.equal(answer.code, grpc.status.DEADLINE_EXCEEDED);
  release();
  assert.equal(await waiting, 'SERVING');
  assert.equal(runs, 1, 'one run served both calls');
});

test("a check's own timeout bounds a Check: NOT_SERVING, as /ready answers 503", async (t) => {
  const { probe, client, url } = await probeWithClient(t, { state: 'READY' });
  probe.addCheck('stuck', () => new Promise(() => {}), { timeoutMs: 50 });
  assert.equal(await check(client, '', 2000), 'NOT_SERVING');
  assert.equal((await fetch(url('/ready'))).status, 503);
});

test('while DRAINING readiness is NOT_SERVING, or SERVING with readyWhileDraining, as /ready', async (t) => {
  const { probe, client, url } = await probeWithClient(t, { state: 'READY' });
  // A connection made before the drain begins, as a prober's would be.
  assert.equal(await check(client, ''), 'SERVING');
  const result = probe.shutdown({ exit: false, drainDelayMs: 1000, readyWhileDraining: true });
  await sleep(50);
  assert.equal(probe.state, 'DRAINING');
  assert.equal((await fetch(url('/ready'))).status, 200);
  assert.equal(await check(client, ''), 'SERVING');
  await result;
  const other = await probeWithClient(t, { state: 'DRAINING' });
  assert.equal(await check(other.client, 'readiness'), 'NOT_SERVING');
  assert.equal(await check(other.client, 'liveness'), 'SERVING');
});

test('stop() ends open Watch streams with UNAVAILABLE and closes the HTTP/2 sessions within the grace period', async (t) => {
  const errors = [];
  const logger = { debug() {}, info() {}, warn() {}, error: (message) => errors.push(message) };
  const { probe, client } = await probeWithClient(t, { state: 'READY', logger });
  const watches = [watch(client, ''), watch(client, 'liveness'), watch(client, 'unknown')];
  for (const each of watches) await each.until(1);
  await probe.stop();
  for (const each of watches) assert.equal((await each.ended()).code, grpc.status.UNAVAILABLE);
  // stop() logs an error when its grace period ran out before everything closed: the order of the
  // two, whatever the machine's load, not a number of milliseconds.
  assert.deepEqual(errors, [], 'everything closed within the grace period, nothing forced');
  // The port is closed: a new call fails.
  const after = await check(client, '', 500);
  assert.equal(after.code !== undefined, true);
});

test('grpc: false refuses the HTTP/2 preface; server "http" with grpc: true is refused at createProbe', async (t) => {
  const { client } = await probeWithClient(t, { grpc: false });
  const answer = await check(client, '', 1000);
  assert.equal(answer.code === grpc.status.UNAVAILABLE || answer.code === grpc.status.INTERNAL || answer.code === grpc.status.DEADLINE_EXCEEDED, true, JSON.stringify(answer));
  assert.throws(() => createProbe({ server: 'http', grpc: true }), (error) => error instanceof ProbeArgumentError && error.argument === 'options.grpc');
  assert.throws(() => createProbe({ grpc: 'yes' }), (error) => error instanceof ProbeArgumentError && error.argument === 'options.grpc');
});

test('the module API (startProbe) serves gRPC health on the default server, and none with server http', async (t) => {
  const { startProbe, stopProbe, setServiceState } = await import('../../dist/index.js');
  const { port } = await startProbe('127.0.0.1', 0, 'READY');
  const Client = grpc.makeGenericClientConstructor(healthService, 'Health');
  const client = new Client(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
  t.after(async () => {
    client.close();
    await stopProbe();
  });
  if (process.env.SERVICE_PROBE_SERVER === 'http') {
    // The default probe follows SERVICE_PROBE_SERVER: node:http answers the preface 400.
    const answer = await check(client, '', 1000);
    assert.notEqual(answer.code, undefined, JSON.stringify(answer));
    return;
  }
  assert.equal(await check(client, ''), 'SERVING');
  setServiceState('UP');
  assert.equal(await check(client, ''), 'NOT_SERVING');
});

test('with server http and no grpc option, the HTTP/2 preface is refused as before', async (t) => {
  const { client } = await probeWithClient(t, { server: 'http' });
  const answer = await check(client, '', 1000);
  assert.notEqual(answer.code, undefined, JSON.stringify(answer));
});

test("syncGrpcHealth keeps an existing grpc-js server's HealthImplementation in step with the probe", async (t) => {
  const probe = createProbe({ state: 'UP' });
  let ok = true;
  probe.addCheck('db', () => ok, { intervalMs: 20 });
  const health = new HealthImplementation();
  const server = new grpc.Server();
  health.addToServer(server);
  const port = await new Promise((resolve, reject) => server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (error, bound) => (error ? reject(error) : resolve(bound))));
  const Client = grpc.makeGenericClientConstructor(healthService, 'Health');
  const client = new Client(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
  const stopSync = syncGrpcHealth(probe, health);
  t.after(async () => {
    stopSync();
    client.close();
    await probe.stop();
    await new Promise((resolve) => server.tryShutdown(resolve));
  });
  await sleep(60);
  assert.equal(await check(client, ''), 'NOT_SERVING');
  assert.equal(await check(client, 'liveness'), 'SERVING');
  assert.equal(await check(client, 'db'), 'SERVING');
  probe.setState('READY');
  assert.equal(await check(client, ''), 'SERVING');
  assert.equal(await check(client, 'startup'), 'SERVING');
  ok = false;
  await sleep(80);
  assert.equal(await check(client, 'db'), 'NOT_SERVING');
  assert.equal(await check(client, 'readiness'), 'NOT_SERVING');
  probe.addCheck('late', () => true);
  await sleep(20);
  assert.equal(await check(client, 'late'), 'SERVING');
  stopSync();
  ok = true;
  probe.setState('DOWN');
  await sleep(80);
  assert.equal(await check(client, 'liveness'), 'SERVING', 'after the stop function, statuses no longer follow the probe');
  assert.throws(() => syncGrpcHealth(probe, {}), (error) => error instanceof ProbeArgumentError && error.argument === 'health');
  assert.throws(() => syncGrpcHealth({}, health), (error) => error instanceof ProbeArgumentError && error.argument === 'probe');
});
