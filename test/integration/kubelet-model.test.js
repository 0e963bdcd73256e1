// The probe as kubelet drives it: startup → ready → a failing liveness check → restart; and
// ready → pod deleted → drain. Asserts the transitions kubelet would act on.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { createProbe, ServiceState } from '../../dist/index.js';
import { Kubelet } from '../fixtures/kubelet.js';

const PERIOD_MS = 40;
const spec = {
  startup: { path: '/started', periodMs: PERIOD_MS, timeoutMs: 200, failureThreshold: 50, successThreshold: 1 },
  liveness: { path: '/health', periodMs: PERIOD_MS, timeoutMs: 200, failureThreshold: 3, successThreshold: 1 },
  readiness: { path: '/ready', periodMs: PERIOD_MS, timeoutMs: 200, failureThreshold: 2, successThreshold: 2 },
};

async function container(t) {
  const probe = createProbe({ host: '127.0.0.1', port: 0 });
  const { port } = await probe.start();
  const kubelet = new Kubelet(port, spec);
  t.after(() => {
    kubelet.stop();
    return probe.stop();
  });
  kubelet.start();
  return { probe, kubelet };
}

test('kubelet sees startup, then readiness, then restarts the container on a failing liveness check', async (t) => {
  const { probe, kubelet } = await container(t);

  // Warming up: /started fails, so liveness and readiness are not probed yet (no restart either).
  await sleep(PERIOD_MS * 4);
  assert.deepEqual(kubelet.types(), []);
  assert.ok(kubelet.results.length >= 2 && kubelet.results.every((r) => r.probe === 'startup' && r.status === 503));

  // Started but not ready yet: liveness passes, readiness does not.
  probe.markStarted();
  await kubelet.waitFor('started');
  await sleep(PERIOD_MS * 4);
  assert.deepEqual(kubelet.types(), ['started']);
  assert.ok(kubelet.results.some((r) => r.probe === 'liveness' && r.ok));

  probe.setState(ServiceState.Ready);
  await kubelet.waitFor('ready');
  const firstReady = kubelet.results.findIndex((r) => r.probe === 'readiness' && r.ok);
  const readyAt = kubelet.events.find((e) => e.type === 'ready').at;
  assert.equal(kubelet.results.filter((r, i) => i >= firstReady && r.probe === 'readiness' && r.at <= readyAt).length, spec.readiness.successThreshold);

  // A liveness check starts failing (the state is still READY): three failures in a row, then
  // kubelet restarts the container.
  let healthy = true;
  probe.addCheck('event-loop', () => healthy, { affects: 'liveness' });
  await sleep(PERIOD_MS * 3);
  assert.deepEqual(kubelet.types(), ['started', 'ready']);
  healthy = false;
  const restart = await kubelet.waitFor('restart');
  assert.equal(probe.state, ServiceState.Ready);
  assert.equal(restart.probe, 'liveness');
  const liveness = kubelet.results.filter((r) => r.probe === 'liveness');
  assert.deepEqual(liveness.slice(-spec.liveness.failureThreshold).map((r) => r.status), [503, 503, 503]);
  assert.deepEqual(kubelet.types(), ['started', 'ready', 'not-ready', 'restart']);
});

test('a deleted pod drains: readiness goes unready during the drain delay while liveness keeps passing', async (t) => {
  const { probe, kubelet } = await container(t);
  probe.setState(ServiceState.Ready);
  await kubelet.waitFor('ready');

  const from = kubelet.results.length;
  const drained = probe.shutdown({ drainDelayMs: 400, timeoutMs: 2000, exit: false });
  await kubelet.waitFor('not-ready');
  const result = await drained;
  kubelet.stop();

  assert.equal(result.exitCode, 0);
  assert.deepEqual(kubelet.types(), ['started', 'ready', 'not-ready']);
  // Answers seen while the probe server ran (once it stopped, the container is gone).
  const liveness = kubelet.results.slice(from).filter((r) => r.probe === 'liveness' && typeof r.status === 'number');
  assert.ok(liveness.length >= 5, `liveness was probed ${liveness.length} times during the drain`);
  assert.ok(liveness.every((r) => r.status === 200), 'liveness never failed while draining');
});

test('with readyWhileDraining kubelet keeps the pod ready through the drain (Kubernetes unlists it by itself)', async (t) => {
  const { probe, kubelet } = await container(t);
  probe.setState(ServiceState.Ready);
  await kubelet.waitFor('ready');
  const from = kubelet.results.length;
  await probe.shutdown({ drainDelayMs: 300, timeoutMs: 2000, exit: false, readyWhileDraining: true });
  kubelet.stop();
  assert.deepEqual(kubelet.types(), ['started', 'ready']);
  const readinessDuringDrain = kubelet.results.slice(from).filter((r) => r.probe === 'readiness' && typeof r.status === 'number');
  assert.ok(readinessDuringDrain.length >= 3 && readinessDuringDrain.every((r) => r.status === 200));
});

test('a failing readiness check takes the pod out of rotation without a restart, and back in once it passes', async (t) => {
  const { probe, kubelet } = await container(t);
  let reachable = true;
  probe.addCheck('postgres', () => reachable, { affects: 'readiness' });
  probe.setState(ServiceState.Ready);
  await kubelet.waitFor('ready');
  reachable = false;
  const unready = kubelet.events.length;
  await kubelet.waitFor('not-ready', { from: unready });
  reachable = true;
  await kubelet.waitFor('ready', { from: unready });
  await sleep(PERIOD_MS * 4);
  assert.deepEqual(kubelet.types(), ['started', 'ready', 'not-ready', 'ready']);
});
