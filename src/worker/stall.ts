// Pure: how late the main thread's beat is → the `event-loop-stall` verdict, shaped as a check
// outcome so that the one verdict and rendering code (verdict.ts, render.ts) shows it like any
// check: a line in `?verbose`, an entry in JSON, its reason withheld unless `exposeDetails`.

import type { Endpoint } from '../routes.js';
import type { CheckOutcome } from '../verdict.js';

/** The name of the stall verdict in verbose and JSON answers, and its per-check path (`/ready/event-loop-stall`). */
export const STALL_CHECK_NAME = 'event-loop-stall';

/** The thresholds of a stall verdict, in ms. */
export interface StallThresholds {
  readonly readinessStallMs: number;
  readonly livenessStallMs: number;
  readonly beatMs: number;
}

/**
 * The observed stall: how much later than due the main thread's last beat is. A beat is due
 * `beatMs` after the one before, so a healthy loop shows 0 (or its timer lag), and a loop blocked
 * for x ms never shows more than x: a verdict never comes before its threshold.
 */
export function observedStallMs(msSinceBeat: number, beatMs: number): number {
  return Math.max(0, Math.round(msSinceBeat - beatMs));
}

/**
 * The stall outcome an answer includes, or `undefined` when the stall is below the readiness
 * threshold (then answers are byte for byte those of inline mode). Past `readinessStallMs` it
 * fails as a readiness check; past `livenessStallMs` as a liveness check, which `/health` and
 * `/ready` both evaluate.
 */
export function stallOutcome(stallMs: number, thresholds: StallThresholds, now: number): CheckOutcome | undefined {
  if (stallMs <= thresholds.readinessStallMs) return undefined;
  const liveness = stallMs > thresholds.livenessStallMs;
  return outcome(stallMs, liveness, liveness ? thresholds.livenessStallMs : thresholds.readinessStallMs, now);
}

/**
 * The stall on its own (`/ready/event-loop-stall`, `/health/event-loop-stall`): passes with the
 * observed stall up to the endpoint's threshold, fails past it.
 */
export function singleStallOutcome(endpoint: Endpoint, stallMs: number, thresholds: StallThresholds, now: number): CheckOutcome {
  const liveness = endpoint === 'health';
  return outcome(stallMs, liveness, liveness ? thresholds.livenessStallMs : thresholds.readinessStallMs, now);
}

// Passes up to `threshold`, fails past it with the reason.
function outcome(stallMs: number, liveness: boolean, threshold: number, now: number): CheckOutcome {
  const ok = stallMs <= threshold;
  return Object.freeze({
    name: STALL_CHECK_NAME,
    ok,
    critical: true,
    readiness: true,
    liveness,
    time: now,
    durationMs: 0,
    observedValue: stallMs,
    observedUnit: 'ms',
    output: ok ? undefined : `the main thread has not run for ${stallMs} ms (${liveness ? 'livenessStallMs' : 'readinessStallMs'} ${threshold})`,
  });
}
