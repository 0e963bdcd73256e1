// The stall verdict, pure: how late the main thread's beat is → the outcome the worker adds.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { observedStallMs, singleStallOutcome, stallLevel, stallOutcome, STALL_CHECK_NAME, beatPeriodMs, toWorkerOptions, WORKER_DEFAULTS } from '../../dist/internal.js';

const thresholds = { readinessStallMs: 1000, livenessStallMs: 10_000, beatMs: 100 };

test('the observed stall is how late the beat is: never more than the time since the last beat', () => {
  assert.equal(observedStallMs(40, 100), 0, 'a beat not yet due is no stall');
  assert.equal(observedStallMs(100, 100), 0);
  assert.equal(observedStallMs(1234.4, 100), 1134);
});

test('no outcome up to readinessStallMs; a readiness failure past it; a liveness failure past livenessStallMs', () => {
  assert.equal(stallOutcome(1000, thresholds, 0), undefined);
  const readiness = stallOutcome(1001, thresholds, 0);
  assert.deepEqual(
    { name: readiness.name, ok: readiness.ok, critical: readiness.critical, readiness: readiness.readiness, liveness: readiness.liveness, observedValue: readiness.observedValue, observedUnit: readiness.observedUnit },
    { name: STALL_CHECK_NAME, ok: false, critical: true, readiness: true, liveness: false, observedValue: 1001, observedUnit: 'ms' },
  );
  assert.equal(readiness.output, 'the main thread has not run for 1001 ms (readinessStallMs 1000)');
  assert.equal(stallOutcome(10_000, thresholds, 0).liveness, false);
  const liveness = stallOutcome(10_001, thresholds, 0);
  assert.equal(liveness.liveness, true);
  assert.equal(liveness.output, 'the main thread has not run for 10001 ms (livenessStallMs 10000)');
});

test('the stall on its own passes up to its endpoint threshold, with the stall as its observed value', () => {
  assert.equal(singleStallOutcome('ready', 1000, thresholds, 0).ok, true);
  assert.equal(singleStallOutcome('ready', 1000, thresholds, 0).observedValue, 1000);
  assert.equal(singleStallOutcome('ready', 1001, thresholds, 0).ok, false);
  assert.equal(singleStallOutcome('health', 5000, thresholds, 0).ok, true);
  assert.equal(singleStallOutcome('health', 10_001, thresholds, 0).ok, false);
});

test('one comparison with the thresholds: a stall at a threshold has not passed it', () => {
  const rows = [
    [0, 0],
    [1000, 0],
    [1001, 1],
    [10_000, 1],
    [10_001, 2],
  ];
  for (const [stallMs, level] of rows) {
    assert.equal(stallLevel(stallMs, thresholds), level, `${stallMs} ms`);
    // Every outcome follows the level: the aggregate outcome, and each endpoint's single outcome.
    assert.equal(stallOutcome(stallMs, thresholds, 0)?.liveness, level === 0 ? undefined : level === 2);
    assert.equal(singleStallOutcome('ready', stallMs, thresholds, 0).ok, level < 1);
    assert.equal(singleStallOutcome('health', stallMs, thresholds, 0).ok, level < 2);
  }
});

test('with a note (the main thread did not answer) the outcome is always there, passing below the threshold', () => {
  const note = 'the main thread has not answered for 60 ms';
  const below = stallOutcome(30, thresholds, 0, note);
  assert.deepEqual([below.ok, below.readiness, below.liveness, below.observedValue, below.output], [true, true, false, 30, note]);
  const past = stallOutcome(1200, thresholds, 0, note);
  assert.deepEqual([past.ok, past.output], [false, 'the main thread has not run for 1200 ms (readinessStallMs 1000)']);
});

test('defaults and beat period', () => {
  assert.deepEqual({ ...WORKER_DEFAULTS }, { readinessStallMs: 1000, livenessStallMs: 10_000, mainThreadWaitMs: 50 });
  assert.deepEqual({ ...toWorkerOptions(true, 'worker') }, { readinessStallMs: 1000, livenessStallMs: 10_000, mainThreadWaitMs: 50, beatMs: 100 });
  assert.equal(toWorkerOptions({ mainThreadWaitMs: 20 }, 'worker').mainThreadWaitMs, 20);
  assert.throws(() => toWorkerOptions({ mainThreadWaitMs: 0 }, 'worker'), (error) => error.code === 'INVALID_ARGUMENT' && error.argument === 'worker.mainThreadWaitMs');
  assert.equal(beatPeriodMs(300), 60);
  assert.equal(beatPeriodMs(20), 10);
  assert.equal(beatPeriodMs(60_000), 100);
  assert.equal(toWorkerOptions(false, 'worker'), undefined);
  assert.equal(toWorkerOptions(undefined, 'worker'), undefined);
});
