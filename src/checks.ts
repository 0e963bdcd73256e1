// The check registry: runs the service's own check functions with timeouts, shares one in-flight
// run between concurrent requests, caches results, and runs background checks on unref'd timers.
// It does I/O and time; what the results mean for an endpoint is decided in verdict.ts.

import { describe, oneLine, ProbeArgumentError, reasonOf } from './errors.js';
import type { Log } from './log.js';
import { toBoolean, toDuration, toFunction, toOptions } from './options.js';
import type { Endpoint } from './routes.js';
import { evaluates, roundMs, type CheckOutcome } from './verdict.js';

/**
 * A check's detailed result. A check may return (or resolve to) one of these; any other value
 * passes, except `false`. Any object is read this way, so `() => fetch(url)` fails on a response
 * whose `ok` is false.
 */
export interface CheckResult {
  /** Whether the check passed. Default `true`; any value but a boolean fails the check. */
  ok?: boolean;
  /** A measurement to report, e.g. `12` (JSON `observedValue`). */
  observedValue?: number | string | boolean;
  /** Its unit, e.g. `'ms'`, `'bytes'` (JSON `observedUnit`). */
  observedUnit?: string;
  /** A message: the reason of a failure, or a note. Shown only with `exposeDetails`, always logged on failure. */
  output?: string;
}

/**
 * A check: a sync or async function of an `AbortSignal` that aborts when the check times out or
 * the probe stops. It fails when it throws, rejects, returns (or resolves to) `false` or an object
 * with `ok: false` (or an `ok` that is no boolean), or outlasts its `timeoutMs`; whatever else it
 * returns passes (a {@link CheckResult} adds an observed value, unit and message).
 *
 * The return type is `unknown` so that `() => pool.query('select 1')` fits as it is.
 *
 * A check may carry `start()` and `stop()` hooks (the built-in checks do): the probe calls
 * `start()` when the check is added or the probe starts, and `stop()` when it is removed or the
 * probe stops, so monitors run only while needed.
 */
export interface CheckFunction {
  (signal: AbortSignal): unknown;
  start?(): void;
  stop?(): void;
}

/** Which endpoints a check counts for. */
export type CheckAffects = 'readiness' | 'liveness' | 'both';

/** Options of `addCheck`. Every one is optional. */
export interface CheckOptions {
  /** `'readiness'` (default): `/ready`; `'liveness'`: `/health` and `/ready`; `'both'`. */
  affects?: CheckAffects;
  /** `false` makes a failure a warning that never changes a status code. Default `true`. */
  critical?: boolean;
  /** A run that takes longer fails, and its request is answered without waiting. Default 1000. */
  timeoutMs?: number;
  /** On-demand checks: reuse a result for this many ms. Default 0 (every request runs it, shared while in flight). */
  cacheMs?: number;
  /**
   * Run the check in the background every `intervalMs` ms instead of on demand; requests are
   * answered from its latest result. Until its first result it counts as failing.
   */
  intervalMs?: number;
}

const CHECK_OPTION_NAMES = ['affects', 'critical', 'timeoutMs', 'cacheMs', 'intervalMs'] as const;

/** Default `timeoutMs` of a check. */
export const DEFAULT_CHECK_TIMEOUT_MS = 1000;

// Names appear in URL paths (`/ready/<name>`), verbose lines and log lines: a conservative
// alphabet keeps every one of them unambiguous and free of anything a client could inject.
const NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,99}$/;

interface Entry {
  readonly name: string;
  readonly fn: CheckFunction;
  readonly readiness: boolean;
  readonly liveness: boolean;
  readonly critical: boolean;
  readonly timeoutMs: number;
  readonly cacheMs: number;
  readonly intervalMs: number | undefined;
  /** The latest result (a background check's "no result yet" until its first run ends). */
  last: CheckOutcome | undefined;
  /** When `last` was recorded, on the monotonic clock. */
  lastAt: number;
  inFlight: Promise<CheckOutcome> | undefined;
  /** Ends the run in flight at once (probe stopped, check removed). */
  cancel: ((reason: string) => void) | undefined;
  timer: NodeJS.Timeout | undefined;
  removed: boolean;
  /** Bumped on every deactivation, so a background chain from before a stop never reschedules. */
  generation: number;
  /** The reason last logged for a failure, to log changes rather than every repeat. */
  loggedReason: string | undefined;
}

/** Which checks one request evaluates. */
export interface Selection {
  readonly endpoint: Endpoint;
  /** One check by name (`/ready/<name>`). */
  readonly only?: string | undefined;
  readonly exclude: readonly string[];
}

/**
 * How fresh the outcomes of one evaluation must be:
 * - `run`: a request's. On-demand checks run, unless a result is cached (`cacheMs`) or a run is in flight.
 * - `reuse`: any recorded result is used; only on-demand checks that never finished a run run now
 *   (gRPC Watch re-evaluates on every run it hears of and must not start runs itself; List).
 * - `recorded`: the recorded results only, at once; nothing runs, and on-demand checks without a
 *   result are left out (`/metrics`).
 */
export type Freshness = 'run' | 'reuse' | 'recorded';

/**
 * Where a probe's check outcomes come from: the registry on the main thread, its mirror in the
 * worker thread (worker mode). The responder (responder.ts) reads one of them.
 */
export interface CheckSource {
  /** How many checks are registered. */
  readonly size: number;
  /** Every check in registration order with its latest outcome. Runs nothing. */
  list(): readonly CheckInfo[];
  /**
   * The outcomes for one selection: at once when every one is at hand (always for `recorded`),
   * else a promise that settles within the longest timeout involved and never rejects.
   * `undefined` when `selection.only` names no check the endpoint evaluates.
   */
  evaluate(selection: Selection, freshness: Freshness): readonly CheckOutcome[] | Promise<readonly CheckOutcome[]> | undefined;
  /** Calls `listener` with every finished run (not cancelled ones). Returns the unsubscribe. */
  onFinished(listener: (outcome: CheckOutcome) => void): () => void;
}

/** What the worker thread knows of a check: enough to select it and to answer without it. */
export interface CheckInfo {
  readonly name: string;
  readonly readiness: boolean;
  readonly liveness: boolean;
  readonly critical: boolean;
  readonly timeoutMs: number;
  /** Runs on its own schedule (`intervalMs`): requests are answered from its latest outcome. */
  readonly background: boolean;
  /**
   * What a request answered from this check's latest result would count: the latest run's outcome,
   * the "no result yet" failure of a background check before its first run, or `undefined` for an
   * on-demand check that has not finished a run.
   */
  readonly last: CheckOutcome | undefined;
}

/**
 * The checks one request evaluates, in registration order: the one named by `only`, or every
 * check the endpoint evaluates minus the excluded ones. `undefined` when `only` names no check the
 * endpoint evaluates. Shared by the registry and the worker thread's mirror of it.
 */
export function selectChecks<T extends { readonly name: string; readonly readiness: boolean; readonly liveness: boolean }>(
  checks: ReadonlyMap<string, T>,
  selection: Selection,
): T[] | undefined {
  if (selection.only !== undefined) {
    const check = checks.get(selection.only);
    return check === undefined || !evaluates(selection.endpoint, check) ? undefined : [check];
  }
  const selected: T[] = [];
  for (const check of checks.values()) {
    if (evaluates(selection.endpoint, check) && !selection.exclude.includes(check.name)) selected.push(check);
  }
  return selected;
}

/**
 * The latest outcomes of the selected checks, for `recorded` evaluations: checks that have not
 * finished a run are left out. Shared by the registry and the worker thread's mirror of it.
 */
export function recordedOutcomes(selected: readonly { readonly last: CheckOutcome | undefined }[]): CheckOutcome[] {
  const outcomes: CheckOutcome[] = [];
  for (const check of selected) if (check.last !== undefined) outcomes.push(check.last);
  return outcomes;
}

/** The registry of one probe's checks. */
export class CheckRegistry implements CheckSource {
  readonly #log: Log;
  readonly #listeners = new Set<(outcome: CheckOutcome) => void>();
  readonly #entries = new Map<string, Entry>();
  // Background timers and monitors run while active: from creation (so `probe.handle()` works
  // without `start()`) until the probe stops, and again once it starts.
  #active = true;

  constructor(log: Log) {
    this.#log = log;
  }

  /** Hears every finished run (not cancelled ones, not a background check's placeholder). */
  onFinished(listener: (outcome: CheckOutcome) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** How many checks are registered. */
  get size(): number {
    return this.#entries.size;
  }

  /** Registers a check; validates everything first, so a rejected call changes nothing. */
  add(name: unknown, fn: unknown, options?: CheckOptions): void {
    if (typeof name !== 'string' || !NAME_PATTERN.test(name)) {
      throw new ProbeArgumentError('name', 'a string of 1 to 100 letters, digits, ".", "_", ":" or "-", starting with a letter or digit', name);
    }
    toFunction(fn, 'check');
    const given = toOptions<CheckOptions>(options, 'options', CHECK_OPTION_NAMES);
    const affects = given.affects ?? 'readiness';
    if (affects !== 'readiness' && affects !== 'liveness' && affects !== 'both') {
      throw new ProbeArgumentError('options.affects', "one of 'readiness', 'liveness', 'both'", affects);
    }
    if (given.critical !== undefined) toBoolean(given.critical, 'options.critical');
    const timeoutMs = given.timeoutMs === undefined ? DEFAULT_CHECK_TIMEOUT_MS : toDuration(given.timeoutMs, 'options.timeoutMs');
    const cacheMs = given.cacheMs === undefined ? 0 : toDuration(given.cacheMs, 'options.cacheMs', 0);
    const intervalMs = given.intervalMs === undefined ? undefined : toDuration(given.intervalMs, 'options.intervalMs');
    if (intervalMs !== undefined && cacheMs !== 0) {
      throw new ProbeArgumentError('options.cacheMs', 'left out when intervalMs is set (a background check is always answered from its latest result)', cacheMs);
    }
    if (this.#entries.has(name)) throw new ProbeArgumentError('name', 'a name no other check of this probe has', name);

    const entry: Entry = {
      name,
      fn: fn as CheckFunction,
      readiness: affects !== 'liveness',
      liveness: affects !== 'readiness',
      critical: given.critical ?? true,
      timeoutMs,
      cacheMs,
      intervalMs,
      last: undefined,
      lastAt: 0,
      inFlight: undefined,
      cancel: undefined,
      timer: undefined,
      removed: false,
      generation: 0,
      loggedReason: undefined,
    };
    if (intervalMs !== undefined) entry.last = this.#outcome(entry, false, 0, { output: 'no result yet' });
    this.#entries.set(name, entry);
    if (this.#active) this.#activate(entry);
  }

  /** Removes a check, stopping its timer, its run in flight and its monitor. Returns whether it existed. */
  remove(name: string): boolean {
    const entry = this.#entries.get(name);
    if (entry === undefined) return false;
    this.#entries.delete(name);
    entry.removed = true;
    this.#deactivate(entry, 'check removed');
    return true;
  }

  /** Whether a check of this name is registered. */
  has(name: string): boolean {
    return this.#entries.has(name);
  }

  /** The registered names, in registration order. */
  names(): string[] {
    return [...this.#entries.keys()];
  }

  /** Starts background runs and monitors again (the probe started). */
  open(): void {
    if (this.#active) return;
    this.#active = true;
    for (const entry of this.#entries.values()) this.#activate(entry);
  }

  /** Stops every background timer, run in flight and monitor (the probe stopped). Idempotent. */
  close(): void {
    if (!this.#active) return;
    this.#active = false;
    for (const entry of this.#entries.values()) this.#deactivate(entry, 'probe stopped');
  }

  /**
   * The results for one selection (see {@link CheckSource.evaluate}): synchronously when every one
   * is at hand (background checks, cached results, `recorded`), else a promise that settles within
   * the longest timeout involved and never rejects.
   */
  evaluate(selection: Selection, freshness: Freshness): readonly CheckOutcome[] | Promise<readonly CheckOutcome[]> | undefined {
    const selected = selectChecks(this.#entries, selection);
    if (selected === undefined) return undefined;
    if (freshness === 'recorded') return recordedOutcomes(selected);
    const pending: (CheckOutcome | Promise<CheckOutcome>)[] = [];
    let sync = true;
    for (const entry of selected) {
      const result = this.#result(entry, freshness === 'reuse');
      if (result instanceof Promise) sync = false;
      pending.push(result);
    }
    return sync ? (pending as CheckOutcome[]) : Promise.all(pending);
  }

  /** Every check in registration order with its latest outcome. Runs nothing (for `/metrics` and the worker thread). */
  list(): CheckInfo[] {
    const infos: CheckInfo[] = [];
    for (const entry of this.#entries.values()) {
      infos.push({
        name: entry.name,
        readiness: entry.readiness,
        liveness: entry.liveness,
        critical: entry.critical,
        timeoutMs: entry.timeoutMs,
        background: entry.intervalMs !== undefined,
        last: entry.last,
      });
    }
    return infos;
  }

  #result(entry: Entry, reuse: boolean): CheckOutcome | Promise<CheckOutcome> {
    if (entry.intervalMs !== undefined) return entry.last!;
    if (entry.inFlight !== undefined) return entry.inFlight;
    if (reuse && entry.last !== undefined) return entry.last;
    if (entry.cacheMs > 0 && entry.last !== undefined && performance.now() - entry.lastAt < entry.cacheMs) return entry.last;
    return this.#run(entry);
  }

  // One run: settles exactly once, with the check's result, its failure, its timeout, or a
  // cancellation; whatever the check does later is ignored. Never rejects.
  #run(entry: Entry): Promise<CheckOutcome> {
    const controller = new AbortController();
    const began = performance.now();
    let timer: NodeJS.Timeout | undefined;
    let settle!: (outcome: CheckOutcome, report?: boolean) => void;
    const run = new Promise<CheckOutcome>((resolve) => {
      settle = (outcome, report = true) => {
        if (entry.inFlight !== run) return;
        clearTimeout(timer);
        entry.inFlight = undefined;
        entry.cancel = undefined;
        if (!entry.removed) {
          entry.last = outcome;
          entry.lastAt = performance.now();
          if (report) {
            this.#report(entry, outcome);
            this.#publish(entry, outcome);
          }
        }
        resolve(outcome);
      };
    });
    const fail = (output: string, report = true) => settle(this.#outcome(entry, false, performance.now() - began, { output }), report);
    entry.inFlight = run;
    // Cancelled runs (the probe stopped, the check was removed) are no failure of the check: not logged.
    entry.cancel = (reason) => {
      fail(reason, false);
      controller.abort(new Error(reason));
    };
    timer = setTimeout(() => {
      fail(`timed out after ${entry.timeoutMs} ms`);
      controller.abort(new Error(`check timed out after ${entry.timeoutMs} ms`));
    }, entry.timeoutMs);
    timer.unref();

    let value: Promise<unknown>;
    try {
      // Promise.resolve adopts any thenable, and turns a throwing `then` into a rejection.
      value = Promise.resolve(entry.fn.call(undefined, controller.signal));
    } catch (error) {
      value = Promise.reject(error);
    }
    value.then(
      (returned) => settle(this.#interpret(entry, returned, performance.now() - began)),
      (error: unknown) => fail(reasonOf(error)),
    );
    return run;
  }

  #interpret(entry: Entry, returned: unknown, durationMs: number): CheckOutcome {
    try {
      if (returned === false) return this.#outcome(entry, false, durationMs, { output: 'returned false' });
      if (typeof returned !== 'object' || returned === null) return this.#outcome(entry, true, durationMs, {});
      const result = returned as CheckResult;
      const given: unknown = result.ok;
      // `ok: 'false'` (a serialised or mistyped flag) must not pass. A check is the service's code:
      // its mistake fails the check, saying so; it is never thrown into the request that ran it.
      if (given !== undefined && typeof given !== 'boolean') return this.#outcome(entry, false, durationMs, { output: `returned ok: ${shown(given)} (not a boolean)` });
      const ok = given !== false;
      const output = typeof result.output === 'string' ? oneLine(result.output) : ok ? undefined : 'returned ok: false';
      return this.#outcome(entry, ok, durationMs, { observedValue: result.observedValue, observedUnit: result.observedUnit, output });
    } catch (error) {
      // A result object whose getters throw.
      return this.#outcome(entry, false, durationMs, { output: reasonOf(error) });
    }
  }

  #outcome(entry: Entry, ok: boolean, durationMs: number, details: Partial<CheckResult>): CheckOutcome {
    const value = details.observedValue;
    const observedValue =
      (typeof value === 'number' && Number.isFinite(value)) || typeof value === 'boolean'
        ? value
        : typeof value === 'string'
          ? oneLine(value)
          : undefined;
    return Object.freeze({
      name: entry.name,
      ok,
      critical: entry.critical,
      readiness: entry.readiness,
      liveness: entry.liveness,
      time: Date.now(),
      durationMs,
      observedValue,
      observedUnit: typeof details.observedUnit === 'string' ? oneLine(details.observedUnit) : undefined,
      output: details.output,
    });
  }

  // Failures are always logged with their reason (responses withhold it unless exposeDetails):
  // when a check starts failing or its reason changes, and again when it recovers.
  #report(entry: Entry, outcome: CheckOutcome): void {
    const durationMs = roundMs(outcome.durationMs);
    if (outcome.ok) {
      if (entry.loggedReason !== undefined) {
        this.#log.info({ event: 'check-recovered', check: entry.name, critical: entry.critical, durationMs }, `check ${entry.name} passes again`);
      }
      entry.loggedReason = undefined;
      return;
    }
    const reason = outcome.output ?? 'failed';
    const kind = entry.critical ? 'failed' : 'warns (not critical)';
    if (reason !== entry.loggedReason) {
      this.#log.warn({ event: 'check-failed', check: entry.name, critical: entry.critical, reason, durationMs }, `check ${entry.name} ${kind}: ${reason}`);
    } else if (this.#log.enabled('debug')) {
      // Every run of a failing check comes here (on demand: every request): fields only when wanted.
      this.#log.debug(
        { event: 'check-still-failing', check: entry.name, critical: entry.critical, reason, durationMs },
        `check ${entry.name} still ${kind === 'failed' ? 'failing' : 'warning'}: ${reason}`,
      );
    }
    entry.loggedReason = reason;
  }

  // A listener that throws must not break the run that settles here, nor keep the others from hearing it.
  #publish(entry: Entry, outcome: CheckOutcome): void {
    for (const listener of this.#listeners) {
      try {
        listener(outcome);
      } catch (error) {
        this.#log.error({ event: 'check-listener-failed', check: entry.name, reason: reasonOf(error), err: error }, `check ${entry.name}: a 'check' listener threw: ${reasonOf(error)}`);
      }
    }
  }

  #activate(entry: Entry): void {
    callHook(entry, 'start', this.#log);
    if (entry.intervalMs !== undefined) this.#background(entry);
  }

  #deactivate(entry: Entry, reason: string): void {
    entry.generation++;
    clearTimeout(entry.timer);
    entry.timer = undefined;
    entry.cancel?.(reason);
    callHook(entry, 'stop', this.#log);
  }

  // Runs now, then `intervalMs` after each run began (never two at once: the next is scheduled
  // only when the previous has settled).
  #background(entry: Entry): void {
    const began = performance.now();
    const generation = entry.generation;
    const run = entry.inFlight ?? this.#run(entry);
    void run.then(() => {
      if (entry.removed || !this.#active || entry.generation !== generation) return;
      const wait = Math.max(0, entry.intervalMs! - (performance.now() - began));
      entry.timer = setTimeout(() => {
        entry.timer = undefined;
        this.#background(entry);
      }, wait);
      entry.timer.unref();
    });
  }
}

function callHook(entry: Entry, hook: 'start' | 'stop', log: Log): void {
  try {
    const fn = entry.fn[hook];
    if (typeof fn === 'function') fn.call(entry.fn);
  } catch (error) {
    const reason = reasonOf(error);
    log.error({ event: 'check-hook-failed', check: entry.name, hook, reason, err: error }, `check ${entry.name}: ${hook}() threw: ${reason}`);
  }
}

/** A value as a reason shows it: a string quoted, a number or null as such, anything else described. */
function shown(value: unknown): string {
  if (typeof value === 'string') return `'${oneLine(value).slice(0, 40)}'`;
  if (typeof value === 'number' || typeof value === 'bigint' || value === null) return String(value);
  return describe(value);
}
