// A real probe on port 0 running one check, asked over HTTP, as kubelet would ask it: each run
// answers the /ready status, the check's outcome (from the probe's 'check' event) and how long
// the request took, beside a plain timer of the check's timeout started with it.

import assert from 'node:assert/strict';
import { once } from 'node:events';
import { performance } from 'node:perf_hooks';
import { createProbe } from '../../../dist/index.js';

export const TIMEOUT_MS = 1000;
// A failing run is answered once the check's timeout fires: at the latest, this margin after a
// plain timer of the same length started with the request (which a loaded or stalled machine
// delays as much). It covers the probe's own answer and the fetch, never the check's round trip.
const ANSWER_MARGIN_MS = 500;

/** Starts a probe with `check` as its one readiness check; stopped when the test ends. */
export async function probeWith(t, check, { timeoutMs = TIMEOUT_MS } = {}) {
  const probe = createProbe({ host: '127.0.0.1', port: 0, state: 'READY' });
  probe.addCheck('dependency', check, { timeoutMs });
  const { port } = await probe.start();
  t.after(() => probe.stop());
  const url = `http://127.0.0.1:${port}/ready`;
  return {
    probe,
    timeoutMs,
    async run() {
      const outcome = once(probe, 'check');
      const began = performance.now();
      // Set before the probe's own timeout (which starts when the request arrives), so it fires
      // first: for an answer sent at that timeout, it has fired by the time the answer is read.
      let controlMs;
      const control = setTimeout(() => (controlMs = performance.now() - began), timeoutMs);
      const response = await fetch(url);
      await response.text();
      const elapsedMs = performance.now() - began;
      clearTimeout(control);
      const [checkOutcome] = await outcome;
      return { status: response.status, outcome: checkOutcome, elapsedMs, controlMs };
    },
  };
}

/** The run passed: 200, and a round trip in ms as the observed value. */
export function assertPasses(result, what = 'the check') {
  assert.equal(result.status, 200, `${what}: expected 200, got ${result.status} (${result.outcome.output})`);
  assert.equal(result.outcome.ok, true);
  assert.equal(result.outcome.observedUnit, 'ms');
  assert.equal(typeof result.outcome.observedValue, 'number');
  assert.ok(result.outcome.observedValue >= 0);
}

/** The run failed, was answered within the check's timeout (plus the answer's margin), and says why. */
export function assertFails(result, timeoutMs, reason, what = 'the check') {
  assert.equal(result.status, 503, `${what}: expected 503, got ${result.status} (${result.outcome.output})`);
  assert.equal(result.outcome.ok, false);
  const controlMs = result.controlMs ?? timeoutMs;
  assert.ok(result.elapsedMs < controlMs + ANSWER_MARGIN_MS, `${what}: answered after ${Math.round(result.elapsedMs)} ms, timeout ${timeoutMs} ms (a timer of it fired after ${Math.round(controlMs)} ms)`);
  assert.match(result.outcome.output, reason);
}

/** Runs the check until it passes (the server is back), for at most `timeoutMs`. */
export async function eventuallyPasses(probe, timeoutMs = 30_000) {
  const deadline = Date.now() + timeoutMs;
  let last;
  while (Date.now() < deadline) {
    last = await probe.run();
    if (last.status === 200) return last;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  assert.fail(`the check did not pass again within ${timeoutMs} ms (last: ${last?.outcome.output})`);
}

/**
 * Wraps a client so that calls of `method` are counted while outstanding: the test asserts that
 * the check never has more than one in the driver, however many runs time out.
 */
export function countOutstanding(target, method) {
  const counter = { now: 0, most: 0, calls: 0 };
  const original = target[method];
  const wrapped = function (...args) {
    const result = original.apply(target, args);
    counter.calls++;
    counter.now++;
    counter.most = Math.max(counter.most, counter.now);
    Promise.resolve(result).then(
      () => counter.now--,
      () => counter.now--,
    );
    return result;
  };
  counter.proxy = new Proxy(target, {
    get: (object, key) => (key === method ? wrapped : Reflect.get(object, key, object)),
  });
  return counter;
}
