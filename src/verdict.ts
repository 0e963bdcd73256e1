// Pure: state (and, later, check results) → status code and the effective state word.

import type { Endpoint } from './routes.js';
import { ServiceState } from './state.js';

/** What an endpoint answers. */
export interface Verdict {
  readonly status: 200 | 503;
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
  (['UP', 'READY', 'DRAINING', 'DOWN'] as const).map((word) => [
    word,
    { pass: Object.freeze({ status: 200, word }), fail: Object.freeze({ status: 503, word }) },
  ]),
) as Record<ServiceState, { pass: Verdict; fail: Verdict }>;
