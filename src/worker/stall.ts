// Pure: how late the main thread's beat is → the `event-loop-stall` verdict, shaped as a check
// outcome so that the one verdict and rendering code (verdict.ts, render.ts) shows it like any
// check: a line in `?verbose`, an entry in JSON, its reason withheld unless `exposeDetails`.
// `stallLevel` is the one place the thresholds are compared: the HTTP answers, gRPC Watch's
// crossing watch and `/metrics` all go through it, so they cannot disagree at a threshold.

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
 * How bad a stall is: 0 below both thresholds, 1 past `readinessStallMs` (`/ready` fails), 2 past
 * `livenessStallMs` (`/health` fails too). A stall exactly at a threshold has not passed it.
 */
export type StallLevel = 0 | 1 | 2;

/** The one comparison of a stall with the thresholds. */
export function stallLevel(stallMs: number, thresholds: StallThresholds): StallLevel {
  if (stallMs > thresholds.livenessStallMs) return 2;
  return stallMs > thresholds.readinessStallMs ? 1 : 0;
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
 * The stall outcome an answer includes, or `undefined` below the readiness threshold (then answers
 * are byte for byte those of inline mode), unless `note` is given: then it is always included, passing
 * below the threshold, with `note` as its message. Past `readinessStallMs` it fails as a readiness
 * check; past `livenessStallMs` as a liveness check, which `/health` and `/ready` both evaluate.
 */
export function stallOutcome(stallMs: number, thresholds: StallThresholds, now: number, note?: string): CheckOutcome | undefined {
  const level = stallLevel(stallMs, thresholds);
  if (level === 0) return note === undefined ? undefined : outcome(stallMs, false, true, now, note);
  const liveness = level === 2;
  return outcome(stallMs, liveness, false, now, failureReason(stallMs, liveness, thresholds));
}

/**
 * The stall on its own (`/ready/event-loop-stall`, `/health/event-loop-stall`): passes with the
 * observed stall up to the endpoint's threshold, fails past it.
 */
export function singleStallOutcome(endpoint: Endpoint, stallMs: number, thresholds: StallThresholds, now: number): CheckOutcome {
  const liveness = endpoint === 'health';
  const ok = stallLevel(stallMs, thresholds) < (liveness ? 2 : 1);
  return outcome(stallMs, liveness, ok, now, ok ? undefined : failureReason(stallMs, liveness, thresholds));
}

function failureReason(stallMs: number, liveness: boolean, thresholds: StallThresholds): string {
  const [name, threshold] = liveness ? ['livenessStallMs', thresholds.livenessStallMs] : ['readinessStallMs', thresholds.readinessStallMs];
  return `the main thread has not run for ${stallMs} ms (${name} ${threshold})`;
}

function outcome(stallMs: number, liveness: boolean, ok: boolean, now: number, output: string | undefined): CheckOutcome {
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
    output,
  });
}
