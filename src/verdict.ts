// Pure: state and check results → whether an endpoint passes, the effective state word and the
// per-check statuses. No HTTP here: render.ts turns a verdict into a status code, the gRPC health
// service into a serving status (grpc/health-service.ts).

import type { Endpoint } from './routes.js';
import { SERVICE_STATES, ServiceState } from './state.js';

/** What an endpoint answers. */
export interface Verdict {
  /** The endpoint passes (HTTP 200, gRPC SERVING). */
  readonly pass: boolean;
  /** The state word the body shows. */
  readonly word: ServiceState;
}

/**
 * The verdict of an endpoint from the service state alone.
 *
 * - `health` (`/`, `/health`, `/live`): 200 unless the state is DOWN.
 * - `ready`: 200 only when the state is READY.
 * - `started`: 200 once the probe has been READY (or marked started), for good.
 *
 * `readyWhileDraining` (a shutdown option) lets `ready` pass while DRAINING too.
 */
export function stateVerdict(endpoint: Endpoint, state: ServiceState, started: boolean, readyWhileDraining = false): Verdict {
  let pass: boolean;
  switch (endpoint) {
    case 'health':
      pass = state !== ServiceState.Down;
      break;
    case 'ready':
      pass = state === ServiceState.Ready || (readyWhileDraining && state === ServiceState.Draining);
      break;
    case 'started':
      pass = started;
      break;
  }
  return pass ? VERDICTS[state].pass : VERDICTS[state].fail;
}

const VERDICTS = Object.fromEntries(
  SERVICE_STATES.map((word) => [
    word,
    { pass: Object.freeze({ pass: true, word }), fail: Object.freeze({ pass: false, word }) },
  ]),
) as Record<ServiceState, { pass: Verdict; fail: Verdict }>;

/** A check's status in the IETF health-check format: `warn` is a failed non-critical check. */
export type CheckStatus = 'pass' | 'warn' | 'fail';

/** The result of one run of one check, as the registry records it. */
export interface CheckOutcome {
  readonly name: string;
  /** The check passed. */
  readonly ok: boolean;
  /** A failure of a non-critical check is a warning: it never changes a status code. */
  readonly critical: boolean;
  /** The check counts for `/ready`. */
  readonly readiness: boolean;
  /** The check counts for `/health` (and, as a failure makes the service DOWN, for `/ready`). */
  readonly liveness: boolean;
  /** When the result was recorded, in ms since the epoch. */
  readonly time: number;
  /** How long the run took, in ms. */
  readonly durationMs: number;
  readonly observedValue?: number | string | boolean | undefined;
  readonly observedUnit?: string | undefined;
  /** The reason of a failure, or the check's own message: shown only with `exposeDetails`. */
  readonly output?: string | undefined;
}

/**
 * A check's duration as the probe shows it, in the JSON body and in log fields: ms with 2 decimals
 * (the monotonic clock's sub-microsecond digits are noise to a reader).
 */
export function roundMs(durationMs: number): number {
  return Math.round(durationMs * 100) / 100;
}

/** Whether an endpoint evaluates a check with these `affects` flags. */
export function evaluates(endpoint: Endpoint, check: { readonly readiness: boolean; readonly liveness: boolean }): boolean {
  switch (endpoint) {
    case 'health':
      return check.liveness;
    // Like the Kubernetes API server's /readyz (which includes every /livez check): a service whose
    // liveness fails is DOWN, and a DOWN service takes no traffic.
    case 'ready':
      return check.readiness || check.liveness;
    case 'started':
      return false;
  }
}

/** `pass`, or for a failure `fail` (critical) or `warn` (not critical). */
export function checkStatus(outcome: CheckOutcome): CheckStatus {
  if (outcome.ok) return 'pass';
  return outcome.critical ? 'fail' : 'warn';
}

/** A verdict with the check results behind it, for the verbose and JSON forms. */
export interface DetailedVerdict extends Verdict {
  /** The overall status in the IETF format: `fail` when the endpoint fails, `warn` when a check warns, else `pass`. */
  readonly health: CheckStatus;
  /** The results the endpoint evaluated, in registration order. */
  readonly checks: readonly CheckOutcome[];
  /** `/ready/<name>`, `/health/<name>`: one check alone, whatever the state. */
  readonly single: boolean;
}

/**
 * The verdict of an endpoint from the verdict of the state alone (`base`, from
 * {@link stateVerdict}) and the results of the checks the endpoint evaluates.
 *
 * - `/ready` is 200 when the state passes and no critical check it evaluates fails.
 * - `/health` is 200 when the state is not DOWN and no critical liveness check fails.
 * - The word is the effective state: `DOWN` when a critical liveness check fails, `UP` when the
 *   state is READY but a critical readiness check fails, otherwise the state.
 * - `/started` ignores checks.
 */
export function checksVerdict(endpoint: Endpoint, base: Verdict, outcomes: readonly CheckOutcome[]): DetailedVerdict {
  const state = base.word;
  let livenessFailed = false;
  let readinessFailed = false;
  let warned = false;
  if (endpoint !== 'started') {
    for (const outcome of outcomes) {
      if (outcome.ok) continue;
      if (!outcome.critical) warned = true;
      else if (outcome.liveness) livenessFailed = true;
      else if (outcome.readiness && endpoint === 'ready') readinessFailed = true;
    }
  }
  let word: ServiceState = state;
  if (livenessFailed) word = ServiceState.Down;
  else if (readinessFailed && state === ServiceState.Ready) word = ServiceState.Up;
  const pass = base.pass && !livenessFailed && !readinessFailed;
  const health: CheckStatus = !pass ? 'fail' : warned ? 'warn' : 'pass';
  return { pass, word, health, checks: endpoint === 'started' ? [] : outcomes, single: false };
}

/** The verdict of one check alone (`/ready/<name>`): fails only when the check fails and is critical. */
export function singleCheckVerdict(state: ServiceState, outcome: CheckOutcome): DetailedVerdict {
  const health = checkStatus(outcome);
  return { pass: health !== 'fail', word: state, health, checks: [outcome], single: true };
}
