// `/metrics`: counts every finished check run, and answers a scrape with a snapshot of the state,
// the verdicts and the checks' latest outcomes, rendered by metrics.ts. The verdicts are the
// responder's own (the same decision as `/health` and `/ready`, from recorded outcomes): a scrape
// never runs a check. Loaded only by probes created with `metrics: true` or `metrics: 'collect'`
// (counting for `probeMetrics()` without serving `/metrics`), on either thread.

import type { CheckAffects } from './checks.js';
import { joinExpositions, renderFamilies, renderMetrics, type CheckMetrics, type MetricsSnapshot } from './metrics.js';
import { renderResponse, type RenderedResponse } from './render.js';
import type { Responder } from './responder.js';
import { OPENMETRICS_CONTENT_TYPE, PROMETHEUS_CONTENT_TYPE, type MetricsFormat } from './routes.js';
import type { CheckOutcome, DetailedVerdict } from './verdict.js';

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
  readonly #responder: Responder;
  readonly #counts = new Map<string, Counts>();

  /** `earlier`: runs that finished before the endpoint existed (while this module loaded). */
  constructor(responder: Responder, earlier: readonly CheckOutcome[] = []) {
    this.#responder = responder;
    for (const outcome of earlier) this.#record(outcome);
    responder.view.checks.onFinished((outcome) => this.#record(outcome));
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
    const view = this.#responder.view;
    const registered = view.checks.list();
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
    const stallMs = view.stall?.stallMs();
    return {
      state: view.state,
      up: this.#passes('health'),
      ready: this.#passes('ready'),
      started: this.#passes('started'),
      checks,
      eventLoopStallSeconds: stallMs === undefined ? undefined : stallMs / 1000,
    };
  }

  // The endpoints' own verdicts, from the outcomes recorded so far (a `recorded` verdict is at once).
  #passes(endpoint: 'health' | 'ready' | 'started'): boolean {
    return (this.#responder.verdict(endpoint, undefined, 'recorded') as DetailedVerdict).pass;
  }

  /** The families of a snapshot taken now, without `# EOF` (`probeMetrics()`). Runs nothing. */
  families(format: MetricsFormat): string {
    return renderFamilies(this.snapshot(), format);
  }

  /** Those families joined with another exposition in `format` (`combineMetrics()`). Runs nothing. */
  joinedWith(other: string, format: MetricsFormat): string {
    return joinExpositions(this.families(format), other, format);
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
