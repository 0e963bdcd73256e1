// Worker mode's options: validated at the door like every other option, and the defaults with
// the reasons for them (docs/worker.md, "Defaults"). No node:worker_threads here: validating
// costs a probe that never uses worker mode nothing.

import { ProbeArgumentError } from '../errors.js';
import { toDuration, toOptions } from '../options.js';

/** Options of worker mode (`createProbe({ worker: { … } })`). Every one is optional. */
export interface WorkerOptions {
  /**
   * `/ready` answers 503 once the main thread has not run for longer than this many ms (its beat
   * is that late). Default 1000: kubelet's default `timeoutSeconds`, the stall after which an
   * inline probe would have timed out. Traffic moves away only after kubelet's `failureThreshold`
   * (default 3) such answers in a row.
   */
  readinessStallMs?: number;
  /**
   * `/health` (and with it `/ready`) answers 503 once the main thread has not run for longer than
   * this many ms. Default 10 000: a whole default `periodSeconds`. With kubelet's default
   * `failureThreshold` of 3, only a loop stuck for about 30 s is restarted.
   */
  livenessStallMs?: number;
  /**
   * The longest an answer waits for the main thread, which runs the on-demand checks (those
   * without `intervalMs`). A main thread that has not taken a check run up within this many ms,
   * or stops running while the check runs, is not waited for: the answer uses each check's latest
   * completed result and adds the stall verdict (`event-loop-stall`), which says the main thread
   * did not answer; the check itself is not failed for it. Default 50: a blocked main thread costs
   * a probe at most this much, far within kubelet's default `timeoutSeconds: 1`.
   */
  mainThreadWaitMs?: number;
}

/** Worker mode's settings, defaults applied. */
export interface ResolvedWorkerOptions {
  readonly readinessStallMs: number;
  readonly livenessStallMs: number;
  readonly mainThreadWaitMs: number;
  /** How often the main thread beats. */
  readonly beatMs: number;
}

/** The defaults of {@link WorkerOptions}. */
export const WORKER_DEFAULTS: Readonly<Required<WorkerOptions>> = Object.freeze({
  readinessStallMs: 1000,
  livenessStallMs: 10_000,
  mainThreadWaitMs: 50,
});

// The longest delay a timer can wait (setTimeout fires at once past 2^31-1 ms).
const MAX_DELAY_MS = 2_147_483_647;

/**
 * The beat period: a fifth of the readiness threshold, so that a stall is seen within 20 % of it,
 * between 10 ms and 100 ms. At the defaults, 10 beats a second: a timer callback that stores one
 * number (see docs/worker.md for what it costs).
 */
export function beatPeriodMs(readinessStallMs: number): number {
  return Math.min(100, Math.max(10, Math.floor(readinessStallMs / 5)));
}

/**
 * Reads the `worker` option: `undefined` or `false` (inline), `true` (defaults) or an options
 * object. Throws a ProbeArgumentError naming the bad value.
 */
export function toWorkerOptions(given: unknown, argument: string): ResolvedWorkerOptions | undefined {
  if (given === undefined || given === false) return undefined;
  if (given !== true && (typeof given !== 'object' || given === null || Array.isArray(given))) {
    throw new ProbeArgumentError(argument, 'true, false or an object with readinessStallMs, livenessStallMs and mainThreadWaitMs', given);
  }
  const options = given === true ? {} : toOptions<WorkerOptions>(given, argument, ['readinessStallMs', 'livenessStallMs', 'mainThreadWaitMs']);
  const readinessStallMs = options.readinessStallMs === undefined ? WORKER_DEFAULTS.readinessStallMs : toStallMs(options.readinessStallMs, `${argument}.readinessStallMs`);
  const livenessStallMs = options.livenessStallMs === undefined ? WORKER_DEFAULTS.livenessStallMs : toStallMs(options.livenessStallMs, `${argument}.livenessStallMs`);
  if (livenessStallMs < readinessStallMs) {
    // A main thread too stuck to live is too stuck to take traffic.
    throw new ProbeArgumentError(`${argument}.livenessStallMs`, `at least readinessStallMs (${readinessStallMs})`, livenessStallMs);
  }
  const mainThreadWaitMs = options.mainThreadWaitMs === undefined ? WORKER_DEFAULTS.mainThreadWaitMs : toDuration(options.mainThreadWaitMs, `${argument}.mainThreadWaitMs`);
  return Object.freeze({ readinessStallMs, livenessStallMs, mainThreadWaitMs, beatMs: beatPeriodMs(readinessStallMs) });
}

function toStallMs(value: unknown, argument: string): number {
  if (typeof value === 'number' && Number.isInteger(value) && value >= 20 && value <= MAX_DELAY_MS) return value;
  throw new ProbeArgumentError(argument, `an integer number of ms from 20 to ${MAX_DELAY_MS}`, value);
}

/**
 * Worker mode from the environment, for probes that set neither `worker` nor `server`:
 * `SERVICE_PROBE_WORKER=1` (or `true`) runs them in worker mode with the defaults, and a JSON
 * object of {@link WorkerOptions} (`SERVICE_PROBE_WORKER='{"mainThreadWaitMs":100}'`) with those,
 * so a whole test suite or a deployment can run in worker mode without a code change. Any other
 * value leaves worker mode off; a JSON object that is not valid options throws a ProbeArgumentError.
 */
export function workerFromEnvironment(): ResolvedWorkerOptions | undefined {
  const value = process.env.SERVICE_PROBE_WORKER;
  if (value === '1' || value === 'true') return toWorkerOptions(true, 'SERVICE_PROBE_WORKER');
  if (value === undefined || !value.trimStart().startsWith('{')) return undefined;
  let options: unknown;
  try {
    options = JSON.parse(value);
  } catch {
    throw new ProbeArgumentError('SERVICE_PROBE_WORKER', '1, true or a JSON object of worker options', value);
  }
  return toWorkerOptions(options, 'SERVICE_PROBE_WORKER');
}
