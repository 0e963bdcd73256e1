// `/metrics`: counts every finished check run from the probe's 'check' event, and answers a scrape
// with a snapshot of the state, the verdicts and the checks' latest outcomes, rendered by
// metrics.ts. A scrape never runs a check. Loaded only by probes created with `metrics: true`.

import type { CheckAffects, CheckInfo } from './checks.js';
import { OPENMETRICS_CONTENT_TYPE, PROMETHEUS_CONTENT_TYPE, renderMetrics, type CheckMetrics, type MetricsSnapshot } from './metrics.js';
import { renderResponse, type RenderedResponse } from './render.js';
import type { Endpoint, MetricsFormat } from './routes.js';
import type { ServiceState } from './state.js';
import { checksVerdict, evaluates, type CheckOutcome, type Verdict } from './verdict.js';

/** What the endpoint reads from its probe; nothing here runs a check. */
export interface MetricsSource {
  /** Subscribes to every finished check run (the probe's `'check'` event). */
  onCheck(listener: (outcome: CheckOutcome) => void): void;
  state(): ServiceState;
  /** The verdict of an endpoint from the state alone, exactly as the endpoints take it. */
  stateVerdict(endpoint: Endpoint): Verdict;
  /** Every registered check with its latest outcome (`CheckRegistry.list`). */
  checks(): readonly CheckInfo[];
  /**
   * Worker mode: the main thread's observed stall, and the stall verdict while a threshold is
   * passed (it counts in `up` and `ready` as in `/health` and `/ready`). Inline probes have none.
   */
  stall?(): { readonly ms: number; readonly outcome: CheckOutcome | undefined };
}

/** The counters of every check, as carried from the main thread to the worker thread (worker mode). */
export type CheckCounts = readonly (readonly [name: string, counts: Counts])[];

interface Counts {
  passes: number;
  failures: number;
  durationSeconds: number | undefined;
  lastSuccessSeconds: number | undefined;
}

/** The `/metrics` endpoint of one probe. */
export class MetricsEndpoint {
  readonly #source: MetricsSource;
  readonly #counts = new Map<string, Counts>();

  /** `earlier`: runs that finished before the endpoint existed (while this module loaded). */
  constructor(source: MetricsSource, earlier: readonly CheckOutcome[] = []) {
    this.#source = source;
    for (const outcome of earlier) this.#record(outcome);
    source.onCheck((outcome) => this.#record(outcome));
  }

  #record(outcome: CheckOutcome): void {
    let counts = this.#counts.get(outcome.name);
    if (counts === undefined) {
      counts = { passes: 0, failures: 0, durationSeconds: undefined, lastSuccessSeconds: undefined };
      this.#counts.set(outcome.name, counts);
    }
    if (outcome.ok) {
      counts.passes++;
      counts.lastSuccessSeconds = outcome.time / 1000;
    } else {
      counts.failures++;
    }
    // Microseconds are plenty, and keep the exposition free of float noise (0.00022564300000004777).
    counts.durationSeconds = Math.round(outcome.durationMs * 1000) / 1e6;
  }

  /** Every check's counters, to carry to another endpoint ({@link MetricsEndpoint.replaceCounts}). */
  counts(): CheckCounts {
    return [...this.#counts].map(([name, counts]) => [name, { ...counts }] as const);
  }

  /** Replaces every counter (worker mode: the worker takes over the main thread's counts). */
  replaceCounts(counts: CheckCounts): void {
    this.#counts.clear();
    for (const [name, each] of counts) this.#counts.set(name, { ...each });
  }

  /** The state, the verdicts and every check's figures, now. Runs nothing. */
  snapshot(): MetricsSnapshot {
    const registered = this.#source.checks();
    const outcomes: CheckOutcome[] = [];
    for (const check of registered) if (check.last !== undefined) outcomes.push(check.last);
    const stall = this.#source.stall?.();
    if (stall?.outcome !== undefined) outcomes.push(stall.outcome);
    const checks: CheckMetrics[] = [];
    for (const check of registered) {
      const counts = this.#counts.get(check.name);
      checks.push({
        name: check.name,
        affects: affectsOf(check),
        ok: check.last?.ok,
        durationSeconds: counts?.durationSeconds,
        passes: counts?.passes ?? 0,
        failures: counts?.failures ?? 0,
        lastSuccessSeconds: counts?.lastSuccessSeconds,
      });
    }
    // Counts of removed checks go with them (a check added again under the same name starts
    // over, which Prometheus reads as a counter reset).
    if (this.#counts.size > registered.length) {
      const names = new Set(registered.map((check) => check.name));
      for (const name of this.#counts.keys()) if (!names.has(name)) this.#counts.delete(name);
    }
    return {
      state: this.#source.state(),
      up: this.#passes('health', outcomes),
      ready: this.#passes('ready', outcomes),
      started: this.#source.stateVerdict('started').status === 200,
      checks,
      eventLoopStallSeconds: stall === undefined ? undefined : stall.ms / 1000,
    };
  }

  // The endpoints' own decision (verdict.ts) over the checks they evaluate, fed with latest outcomes.
  #passes(endpoint: Endpoint, outcomes: readonly CheckOutcome[]): boolean {
    const counted = outcomes.filter((outcome) => evaluates(endpoint, outcome));
    return checksVerdict(endpoint, this.#source.stateVerdict(endpoint), counted).status === 200;
  }

  /** The scrape's response: always 200, in the format the route negotiated. */
  answer(format: MetricsFormat): RenderedResponse {
    const contentType = format === 'openmetrics' ? OPENMETRICS_CONTENT_TYPE : PROMETHEUS_CONTENT_TYPE;
    return renderResponse(200, contentType, renderMetrics(this.snapshot(), format));
  }
}

function affectsOf(check: { readonly readiness: boolean; readonly liveness: boolean }): CheckAffects {
  if (check.liveness) return check.readiness ? 'both' : 'liveness';
  return 'readiness';
}
