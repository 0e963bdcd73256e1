// The responder: the one core every transport asks. Built from one view of a probe (its state, the
// draining rule, details exposure, its checks and, in worker mode, the main thread's stall), it
// decides the answer to an HTTP/1 request (route → checks → verdict → rendered response), the
// verdict of an endpoint or a check (gRPC health, `/metrics`, syncGrpcHealth), tells listeners when
// a verdict may have changed, takes over HTTP/2 connections (gRPC health), and serves `/metrics`.
//
// `Probe` builds one from its own state and check registry on the main thread; the worker thread
// (worker mode) builds the same class from shared memory and a mirror of the registry. Transports
// only carry bytes: the node:net reader, the node:http server and `probe.handle()` write what
// `answer()` returns; the gRPC transport maps what `verdict()` returns to a serving status. A new
// transport is one new file that asks this one.

import type { Socket } from 'node:net';
import type { CheckSource, Freshness, Selection } from './checks.js';
import type { GrpcTransport } from './grpc/http2-transport.js';
import type { Log } from './log.js';
import type { MetricsEndpoint } from './metrics-endpoint.js';
import { METHOD_NOT_ALLOWED, NOT_FOUND, renderDetailed, stateText, type RenderedResponse } from './render.js';
import { route, type Endpoint, type MetricsFormat, type PathTable, type ProbeRoute } from './routes.js';
import type { Answerer, ServerLimits } from './server-core.js';
import type { ServiceState } from './state.js';
import { checksVerdict, evaluates, singleCheckVerdict, stateVerdict, type CheckOutcome, type DetailedVerdict } from './verdict.js';
import { singleStallOutcome, stallLevel, stallOutcome, STALL_CHECK_NAME, type StallLevel, type StallThresholds } from './worker/stall.js';

/** Worker mode: how late the main thread is, and the thresholds that make it a verdict. */
export interface StallSource {
  readonly thresholds: StallThresholds;
  /** The stall observed now, in ms: how much later than due the main thread's last beat is. */
  stallMs(): number;
}

/** One view of a probe: everything a decision reads. The same shape on both threads. */
export interface ProbeView {
  readonly state: ServiceState;
  /** The probe has been READY once (or was marked started): `/started` passes for good. */
  readonly started: boolean;
  /** The draining rule: `/ready` passes while DRAINING too (a shutdown option). */
  readonly readyWhileDraining: boolean;
  /** Show failure reasons in `?verbose` and JSON answers. */
  readonly exposeDetails: boolean;
  readonly checks: CheckSource;
  /** Worker mode only: the main thread's stall, a verdict of its own (`event-loop-stall`). */
  readonly stall?: StallSource | undefined;
  /** Brings the view up to date before a decision (worker mode: updates the main thread posted). */
  refresh?(): void;
}

/** What a responder serves besides the endpoints, and what it needs for it. */
export interface ResponderSettings {
  /** The compiled paths: `standalone` for the probe's own server, `mounted` for `handle()`. */
  readonly paths: { readonly standalone: PathTable; readonly mounted: PathTable };
  readonly limits: ServerLimits;
  readonly log: Log;
  /** Serve gRPC health on connections that start with the HTTP/2 preface. */
  readonly grpc: boolean;
  /**
   * Keep the metrics endpoint: count every finished check run from now on, for `/metrics` where
   * the path tables route it, and for `probeMetrics()` (`metrics: 'collect'` routes nothing).
   */
  readonly metrics: boolean;
}

/** A verdict now, later (checks run first), or `undefined` when the check named is not one the endpoint evaluates. */
export type VerdictAnswer = DetailedVerdict | undefined | Promise<DetailedVerdict | undefined>;

const NO_EXCLUSIONS: readonly string[] = Object.freeze([]);

/** The core of one probe on one thread; see the top of this file. */
export class Responder implements Answerer {
  readonly view: ProbeView;
  /**
   * Takes over a connection that started with the HTTP/2 preface (paused, the bytes read so far
   * put back); set when gRPC health is served. The gRPC code and node:http2 load on the first one.
   */
  readonly acceptHttp2: ((socket: Socket) => void) | undefined;
  readonly paths: ResponderSettings['paths'];
  readonly #limits: ServerLimits;
  readonly #log: Log;
  readonly #listeners = new Set<() => void>();
  #stallWatch: NodeJS.Timeout | undefined;
  #grpc: Promise<GrpcTransport> | undefined;
  #acceptingHttp2 = true;
  // `/metrics`: a promise while its module loads (only probes that count for it load it).
  #metrics: MetricsEndpoint | Promise<MetricsEndpoint> | undefined;

  constructor(view: ProbeView, settings: ResponderSettings) {
    this.view = view;
    this.paths = settings.paths;
    this.#limits = settings.limits;
    this.#log = settings.log;
    this.acceptHttp2 = settings.grpc ? (socket) => this.#acceptHttp2(socket) : undefined;
    if (settings.metrics) {
      this.#metrics = this.#loadMetrics();
      this.#metrics.catch((error: unknown) => this.#log.error({ event: 'metrics-load-failed', err: error }, `probe: loading the metrics endpoint failed: ${String(error)}`));
    }
  }

  /**
   * The answer to an HTTP/1 request: the rendered response at once when no check has to run, a
   * promise of it when one does (it never rejects), or `undefined` for a path the probe does not
   * own when mounted under `prefix`. Without `prefix` (the standalone servers) every path gets an
   * answer, 404 included. The caller writes it (http1-policy.ts decides HEAD and `Connection`).
   */
  answer(method: string, target: string, accept: string | undefined): RenderedResponse | Promise<RenderedResponse>;
  answer(method: string, target: string, accept: string | undefined, prefix: string | undefined): RenderedResponse | Promise<RenderedResponse> | undefined;
  answer(method: string, target: string, accept: string | undefined, prefix?: string): RenderedResponse | Promise<RenderedResponse> | undefined {
    const routed = route(method, target, accept, prefix, prefix === undefined ? this.paths.standalone : this.paths.mounted);
    switch (routed.kind) {
      case 'probe':
        this.view.refresh?.();
        return this.#answerProbe(routed);
      case 'metrics':
        this.view.refresh?.();
        return this.#answerMetrics(routed.format);
      case 'not-found':
        return prefix !== undefined && !routed.owned ? undefined : NOT_FOUND;
      case 'method-not-allowed':
        return prefix !== undefined && !routed.owned ? undefined : METHOD_NOT_ALLOWED;
    }
  }

  /**
   * The verdict of an endpoint, or of one check alone when `check` is given (`undefined` when the
   * endpoint does not evaluate such a check). `freshness` says whether checks run for it (see
   * {@link Freshness}); `recorded` verdicts are always at once.
   */
  verdict(endpoint: Endpoint, check: string | undefined, freshness: Freshness): VerdictAnswer {
    this.view.refresh?.();
    return this.#decide({ endpoint, only: check, exclude: NO_EXCLUSIONS }, freshness, this.#stallNow());
  }

  /** The names of the registered checks, in registration order. */
  checkNames(): string[] {
    this.view.refresh?.();
    return this.view.checks.list().map((check) => check.name);
  }

  /**
   * Calls `listener` after anything that may change a verdict: a state or flag change, a check
   * added, removed or finished, the stall crossing a threshold. Returns the unsubscribe.
   */
  subscribe(listener: () => void): () => void {
    this.#listeners.add(listener);
    this.#watchStall();
    return () => {
      this.#listeners.delete(listener);
      if (this.#listeners.size === 0) this.#unwatchStall();
    };
  }

  /** The owner of the view tells the responder that something a verdict depends on changed. */
  notify(): void {
    for (const listener of this.#listeners) {
      try {
        listener();
      } catch (error) {
        this.#log.error({ event: 'verdict-listener-failed', err: error }, `probe: a verdict listener failed: ${String(error)}`);
      }
    }
  }

  /** The `/metrics` endpoint, once loaded; `undefined` when the probe neither serves nor collects metrics. */
  metricsEndpoint(): Promise<MetricsEndpoint> | undefined {
    return this.#metrics === undefined ? undefined : Promise.resolve(this.#metrics);
  }

  /** Takes HTTP/2 connections again after a {@link Responder.stop} (the probe started again). */
  open(): void {
    this.#acceptingHttp2 = true;
  }

  /**
   * Ends gRPC health (Watch streams, sessions; whatever is open after `graceMs` is destroyed) and
   * refuses HTTP/2 connections until {@link Responder.open}. Resolves when every session closed.
   */
  stop(graceMs: number): Promise<void> {
    this.#acceptingHttp2 = false;
    this.#unwatchStall();
    const grpc = this.#grpc;
    this.#grpc = undefined;
    return grpc === undefined ? Promise.resolve() : grpc.then((transport) => transport.stop(graceMs), () => undefined);
  }

  #answerProbe(routed: ProbeRoute): RenderedResponse | Promise<RenderedResponse> {
    const view = this.view;
    const stallMs = this.#stallNow();
    if (routed.check === undefined && !routed.verbose && routed.format === 'text' && (routed.endpoint === 'started' || (view.checks.size === 0 && this.#stallLevel(stallMs) === 0))) {
      // The hot path: no check to run, a precomputed answer.
      return stateText(stateVerdict(routed.endpoint, view.state, view.started, view.readyWhileDraining));
    }
    const verdict = this.#decide({ endpoint: routed.endpoint, only: routed.check, exclude: routed.exclude }, 'run', stallMs);
    const render = (settled: DetailedVerdict | undefined) => (settled === undefined ? NOT_FOUND : renderDetailed(settled, routed.format, routed.verbose, view.exposeDetails));
    if (!(verdict instanceof Promise)) return render(verdict);
    return verdict.then(render, (error: unknown) => {
      this.#log.error({ event: 'evaluation-failed', err: error }, `probe: evaluating checks failed: ${String(error)}`);
      return stateText({ pass: false, word: view.state });
    });
  }

  #decide(selection: Selection, freshness: Freshness, stallMs: number | undefined): VerdictAnswer {
    if (selection.endpoint === 'started') return this.#verdictOf(selection, []);
    const outcomes = this.#outcomes(selection, freshness, stallMs);
    if (outcomes === undefined) return undefined;
    if (outcomes instanceof Promise) return outcomes.then((settled) => this.#verdictOf(selection, settled));
    return this.#verdictOf(selection, outcomes);
  }

  // The state is read when the outcomes are at hand: a change while checks ran shows at once.
  #verdictOf(selection: Selection, outcomes: readonly CheckOutcome[]): DetailedVerdict {
    const view = this.view;
    if (selection.only !== undefined) return singleCheckVerdict(view.state, outcomes[0]!);
    return checksVerdict(selection.endpoint, stateVerdict(selection.endpoint, view.state, view.started, view.readyWhileDraining), outcomes);
  }

  // The checks' outcomes, with the stall verdict (worker mode) as the answer's last outcome while
  // a threshold is passed. It is taken when the request arrives; an evaluation that could not
  // reach the main thread brings its own (see worker/check-mirror.ts), and one is enough.
  #outcomes(selection: Selection, freshness: Freshness, stallMs: number | undefined): readonly CheckOutcome[] | Promise<readonly CheckOutcome[]> | undefined {
    const stall = this.view.stall;
    if (stall === undefined || stallMs === undefined) return this.view.checks.evaluate(selection, freshness);
    if (selection.only === STALL_CHECK_NAME) return [singleStallOutcome(selection.endpoint, stallMs, stall.thresholds, Date.now())];
    const outcomes = this.view.checks.evaluate(selection, freshness);
    if (outcomes === undefined || selection.only !== undefined || selection.exclude.includes(STALL_CHECK_NAME)) return outcomes;
    const stalled = stallOutcome(stallMs, stall.thresholds, Date.now());
    if (stalled === undefined || !evaluates(selection.endpoint, stalled)) return outcomes;
    const withStall = (settled: readonly CheckOutcome[]) => (settled.some((outcome) => outcome.name === STALL_CHECK_NAME) ? settled : [...settled, stalled]);
    return outcomes instanceof Promise ? outcomes.then(withStall) : withStall(outcomes);
  }

  #stallNow(): number | undefined {
    return this.view.stall?.stallMs();
  }

  #stallLevel(stallMs: number | undefined): StallLevel {
    return stallMs === undefined ? 0 : stallLevel(stallMs, this.view.stall!.thresholds);
  }

  // The stall verdict changes with time alone: while anyone listens, it is looked at every beat
  // period, and a crossing of either threshold (either way) is told.
  #watchStall(): void {
    const stall = this.view.stall;
    if (stall === undefined || this.#stallWatch !== undefined) return;
    let level = stallLevel(stall.stallMs(), stall.thresholds);
    this.#stallWatch = setInterval(() => {
      const now = stallLevel(stall.stallMs(), stall.thresholds);
      if (now === level) return;
      level = now;
      this.notify();
    }, stall.thresholds.beatMs);
    this.#stallWatch.unref();
  }

  #unwatchStall(): void {
    clearInterval(this.#stallWatch);
    this.#stallWatch = undefined;
  }

  #answerMetrics(format: MetricsFormat): RenderedResponse | Promise<RenderedResponse> {
    const metrics = this.#metrics!;
    return metrics instanceof Promise ? metrics.then((loaded) => loaded.answer(format)) : metrics.answer(format);
  }

  // The module loads in the background; runs that finish meanwhile are kept for its counters.
  async #loadMetrics(): Promise<MetricsEndpoint> {
    const earlier: CheckOutcome[] = [];
    const stopKeeping = this.view.checks.onFinished((outcome) => earlier.push(outcome));
    try {
      const { MetricsEndpoint } = await import('./metrics-endpoint.js');
      const endpoint = new MetricsEndpoint(this, earlier);
      this.#metrics = endpoint;
      return endpoint;
    } finally {
      stopKeeping();
    }
  }

  #acceptHttp2(socket: Socket): void {
    if (!this.#acceptingHttp2) {
      // A preface completed after stop() began: no new transport for it.
      socket.destroy();
      return;
    }
    this.#grpc ??= import('./grpc/http2-transport.js').then(({ GrpcTransport }) => new GrpcTransport(this, this.#limits, this.#log));
    this.#grpc.then(
      (transport) => transport.accept(socket),
      (error: unknown) => {
        this.#log.error({ event: 'grpc-load-failed', err: error }, `probe: cannot load the gRPC transport: ${String(error)}`);
        socket.destroy();
      },
    );
  }
}
