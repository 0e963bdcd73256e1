// The reason graceful shutdown exists: a rolling restart behind a load balancer that watches
// /ready must not fail a single client request. Two real app instances (child processes), a model
// of endpoints + kube-proxy polling /ready every 100 ms, and a client sending requests continuously.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { startInstance } from '../fixtures/instance.js';
import { LoadBalancer, startClient } from '../fixtures/load-balancer.js';

const DRAIN_DELAY_MS = 400; // four polls of the load balancer
const TIMEOUT_MS = 5000;
// Six client loops and 20 ms per request: requests are always in flight on both instances.
const LOAD = { APP_DELAY_MS: '20' };
const CONCURRENCY = 6;

async function cluster(t, env) {
  const instances = await Promise.all([startInstance(env), startInstance(env)]);
  t.after(() => instances.forEach((instance) => instance.kill()));
  const lb = new LoadBalancer(instances.map((i) => ({ name: `pid ${i.pid}`, appPort: i.appPort, probePort: i.probePort })));
  t.after(() => lb.stop());
  await lb.start();
  return { instances, lb, backends: lb.backends };
}

const failuresOf = (results) => results.filter((r) => !r.ok);
const describeFailures = (results) => JSON.stringify(failuresOf(results).slice(0, 5).map(({ status, error }) => ({ status, error })));

test('SIGTERM to one of two instances fails no client request, and that instance exits 0 within its timeout', async (t) => {
  const env = { ...LOAD, DRAIN_DELAY_MS: String(DRAIN_DELAY_MS), TIMEOUT_MS: String(TIMEOUT_MS) };
  const { instances, lb } = await cluster(t, env);
  const [leaving, staying] = instances;
  const client = startClient(lb, CONCURRENCY);
  await sleep(300);

  leaving.child.kill('SIGTERM');
  const exit = await leaving.exited;
  await sleep(300);
  const results = await client.stop();

  // Within its timeout by cause, not by this process's clock: a sequence that timeoutMs cut short
  // exits 1 and says so.
  assert.deepEqual({ code: exit.code, signal: exit.signal }, { code: 0, signal: null }, leaving.stderr());
  assert.doesNotMatch(leaving.stderr(), /ran out/);
  assert.equal(failuresOf(results).length, 0, `failed requests: ${describeFailures(results)}`);
  const servedBy = (instance) => results.filter((r) => r.body?.startsWith(`ok ${instance.pid} `)).length;
  assert.ok(servedBy(leaving) > 10, `the leaving instance served ${servedBy(leaving)} requests`);
  assert.ok(servedBy(staying) > 10, `the staying instance served ${servedBy(staying)} requests`);
  assert.match(leaving.stderr(), /shutdown: received SIGTERM/);
  assert.match(leaving.stderr(), /tracked servers closed/);
});

test('a 2-second request in flight when SIGTERM arrives completes, and the instance exits 0 after it', async (t) => {
  const env = { DRAIN_DELAY_MS: String(DRAIN_DELAY_MS), TIMEOUT_MS: String(TIMEOUT_MS) };
  const { instances, lb } = await cluster(t, env);
  const [leaving] = instances;
  const client = startClient(lb, 2);
  const slowBackend = { appPort: leaving.appPort, probePort: leaving.probePort };
  const slow = lb.request('/slow', slowBackend);
  await sleep(200);

  leaving.child.kill('SIGTERM');
  const [slowResult, exit] = await Promise.all([slow.then((r) => ({ ...r, at: Date.now() })), leaving.exited]);
  const results = await client.stop();

  assert.equal(slowResult.status, 200, JSON.stringify(slowResult));
  assert.equal(slowResult.body, `ok ${leaving.pid} /slow`);
  // Sent while draining: the answer tells the client not to reuse the connection.
  assert.equal(slowResult.connection, 'close');
  assert.deepEqual({ code: exit.code, signal: exit.signal }, { code: 0, signal: null }, leaving.stderr());
  assert.ok(exit.at >= slowResult.at - 50, 'the instance exited before its in-flight request was answered');
  assert.equal(failuresOf(results).length, 0, `failed requests: ${describeFailures(results)}`);
});

test('without this library (process.exit on SIGTERM) the same restart fails client requests', async (t) => {
  const { instances, lb } = await cluster(t, { ...LOAD, SHUTDOWN: 'plain' });
  const [leaving] = instances;
  const client = startClient(lb, CONCURRENCY);
  await sleep(300);

  leaving.child.kill('SIGTERM');
  await leaving.exited;
  await sleep(300);
  const results = await client.stop();

  assert.ok(failuresOf(results).length > 0, `expected failed requests out of ${results.length}`);
});
