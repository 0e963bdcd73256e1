// The decision of one routed request: route → (checks) → verdict → rendered response. Pure apart
// from what its source supplies, so the Probe on the main thread and the worker thread (worker
// mode) answer with this one function, each from its own view of the state and the checks.

import type { Selection } from './checks.js';
import { METHOD_NOT_ALLOWED, NOT_FOUND, renderDetailed, stateText, type RenderedResponse } from './render.js';
import type { ProbeRoute, Route } from './routes.js';
import type { ServiceState } from './state.js';
import { checksVerdict, singleCheckVerdict, stateVerdict, type CheckOutcome } from './verdict.js';

/** What the decision needs to know: the state, the flags, and where check outcomes come from. */
export interface AnswerSource {
  readonly state: ServiceState;
  readonly started: boolean;
  readonly readyWhileDraining: boolean;
  readonly exposeDetails: boolean;
  /** Whether any outcome could change an answer now (registered checks, or a stall verdict). */
  readonly hasChecks: boolean;
  /**
   * The outcomes for one request: at once, later, or `undefined` when `selection.only` names no
   * check the endpoint evaluates. A promise never rejects in normal operation.
   */
  evaluate(selection: Selection, latest?: boolean): readonly CheckOutcome[] | Promise<readonly CheckOutcome[]> | undefined;
  /** Told when evaluating failed against expectations (a bug); the answer is then a 503. */
  evaluationFailed(error: unknown): void;
}

/**
 * The answer to a routed request: at once when no check has to run, later when one does. With
 * `latest`, an on-demand check that already has a result is not run again (gRPC Watch).
 */
export function answerRoute(routed: Route, source: AnswerSource, latest = false): RenderedResponse | Promise<RenderedResponse> {
  if (routed.kind !== 'probe') return routed.kind === 'not-found' ? NOT_FOUND : METHOD_NOT_ALLOWED;
  if (routed.check === undefined && !routed.verbose && routed.format === 'text' && (!source.hasChecks || routed.endpoint === 'started')) {
    // The hot path: no check to run, a precomputed answer.
    const verdict = stateVerdict(routed.endpoint, source.state, source.started, source.readyWhileDraining);
    return stateText(verdict.status, verdict.word);
  }
  const outcomes = routed.endpoint === 'started' ? [] : source.evaluate({ endpoint: routed.endpoint, only: routed.check, exclude: routed.exclude }, latest);
  if (outcomes === undefined) return NOT_FOUND;
  if (!(outcomes instanceof Promise)) return renderOutcomes(routed, outcomes, source);
  return outcomes
    .then((settled) => renderOutcomes(routed, settled, source))
    .catch((error: unknown) => {
      source.evaluationFailed(error);
      return stateText(503, source.state);
    });
}

function renderOutcomes(routed: ProbeRoute, outcomes: readonly CheckOutcome[], source: AnswerSource): RenderedResponse {
  // The state is read when the outcomes are at hand: a change while checks ran shows at once.
  const state = source.state;
  const verdict =
    routed.check !== undefined
      ? singleCheckVerdict(state, outcomes[0]!)
      : checksVerdict(routed.endpoint, stateVerdict(routed.endpoint, state, source.started, source.readyWhileDraining), outcomes);
  return renderDetailed(verdict, routed.format, routed.verbose, source.exposeDetails);
}
