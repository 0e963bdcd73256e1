// The graceful shutdown sequence: draining, tracked servers, holds, hooks, signals, exit.
// I/O and time live here; the probe only forwards to it. Nothing is installed until asked:
// importing this module sets no signal handler and starts no timer.
//
//   signal or shutdown()
//     → state DRAINING at once (/ready 503, /health still 200); responses of tracked servers carry
//       `Connection: close` from now on
//     → wait drainDelayMs (endpoints controller, kube-proxy and load balancers stop routing here)
//     → [timeoutMs starts] tracked servers stop accepting, finish in-flight requests, close idle
//       keep-alive connections
//     → wait for holds (`probe.hold()`)
//     → hooks, newest first, each bounded by its own timeout
//     → the probe server stops (unless stopProbe is false) → exit 0, or 1 if a hook failed or
//       timeoutMs ran out (then forced)

import { ProbeArgumentError, reasonOf } from './errors.js';
import type { Log } from './log.js';
import { toBoolean, toDuration, toFunction, toOptions } from './options.js';
import { ServiceState } from './state.js';

/** Timing and behaviour of the shutdown sequence. Every field is optional; see {@link SHUTDOWN_DEFAULTS}. */
export interface ShutdownOptions {
  /**
   * Time between turning DRAINING and closing the tracked servers, in ms, so that everything
   * routing requests here notices first. Default 5000 in Kubernetes, 0 elsewhere.
   */
  drainDelayMs?: number;
  /**
   * Budget for everything after the drain delay (in-flight requests, holds, hooks, the probe
   * server), in ms. Past it the remaining work is cut short and the exit code is 1.
   * Default 20 000 in Kubernetes, 10 000 elsewhere.
   */
  timeoutMs?: number;
  /** Budget of each shutdown hook, in ms (also bounded by what is left of `timeoutMs`). Default 5000. */
  hookTimeoutMs?: number;
  /** Call `process.exit()` at the end (0, or 1 on a failed hook or timeout). Default `true`. */
  exit?: boolean;
  /**
   * Keep answering 200 on `/ready` while DRAINING (the body still says `DRAINING`). Kubernetes
   * takes a terminating pod out of its endpoints by itself, and the 503s would only fill the
   * pod's events with failed-probe warnings; but load balancers that watch `/ready` then keep
   * routing here until the drain delay ends. Default `false`.
   */
  readyWhileDraining?: boolean;
  /** Signals {@link Probe.handleSignals} listens to. Default `['SIGTERM', 'SIGINT']`. */
  signals?: readonly NodeJS.Signals[];
  /**
   * Stop the probe server at the end of the sequence. `false` (with `exit: false`) leaves it
   * answering (`/health` 200, `/ready` 503 DRAINING) while the application tears down the rest
   * itself, and `probe.stop()` ends it: the NestJS module stops it in `onApplicationShutdown`, once
   * Nest has closed everything else. Default `true`.
   */
  stopProbe?: boolean;
}

/** {@link ShutdownOptions} with every default applied. */
export type ResolvedShutdownOptions = Readonly<Required<ShutdownOptions>>;

/** True when the process runs in a Kubernetes pod (kubelet sets `KUBERNETES_SERVICE_HOST`). */
export function inKubernetes(env: NodeJS.ProcessEnv = process.env): boolean {
  return typeof env.KUBERNETES_SERVICE_HOST === 'string' && env.KUBERNETES_SERVICE_HOST !== '';
}

/**
 * Every shutdown default, in one place.
 *
 * - `kubernetes` (where `KUBERNETES_SERVICE_HOST` is set): a pod being deleted is taken out of the
 *   Service endpoints *while* it receives SIGTERM, and kube-proxy, ingress controllers and cloud load
 *   balancers learn that over the next seconds; 5 s of drain delay covers that propagation (see
 *   https://github.com/kubernetes/kubernetes/issues/106476). 5 s + 20 s stays under the default
 *   `terminationGracePeriodSeconds` of 30, so the pod is not SIGKILLed mid-sequence.
 * - `local` (a laptop, CI, plain Docker): nothing routes on a delay, so no drain delay; Ctrl-C is quick.
 */
export const SHUTDOWN_DEFAULTS = Object.freeze({
  kubernetes: Object.freeze({
    drainDelayMs: 5000,
    timeoutMs: 20_000,
    hookTimeoutMs: 5000,
    exit: true,
    readyWhileDraining: false,
    signals: Object.freeze(['SIGTERM', 'SIGINT'] as NodeJS.Signals[]),
    stopProbe: true,
  }),
  local: Object.freeze({
    drainDelayMs: 0,
    timeoutMs: 10_000,
    hookTimeoutMs: 5000,
    exit: true,
    readyWhileDraining: false,
    signals: Object.freeze(['SIGTERM', 'SIGINT'] as NodeJS.Signals[]),
    stopProbe: true,
  }),
} satisfies Record<'kubernetes' | 'local', ResolvedShutdownOptions>);

/** The defaults that apply in this environment: {@link SHUTDOWN_DEFAULTS}`.kubernetes` or `.local`. */
export function shutdownDefaults(env: NodeJS.ProcessEnv = process.env): ResolvedShutdownOptions {
  return inKubernetes(env) ? SHUTDOWN_DEFAULTS.kubernetes : SHUTDOWN_DEFAULTS.local;
}

const OPTION_NAMES = ['drainDelayMs', 'timeoutMs', 'hookTimeoutMs', 'exit', 'readyWhileDraining', 'signals', 'stopProbe'] as const;

/**
 * Validates shutdown options and lays them over `base`; throws before anything changes. The one
 * place shutdown options are resolved: by the sequence below, and by the NestJS module at its
 * door (forRoot), long before its shutdown runs.
 */
export function toShutdownOptions(options: unknown, argument: string, base: ResolvedShutdownOptions): ResolvedShutdownOptions {
  const given = toOptions<ShutdownOptions>(options, argument, OPTION_NAMES);
  const resolved = { ...base };
  if (given.drainDelayMs !== undefined) resolved.drainDelayMs = toDuration(given.drainDelayMs, `${argument}.drainDelayMs`, 0);
  if (given.timeoutMs !== undefined) resolved.timeoutMs = toDuration(given.timeoutMs, `${argument}.timeoutMs`);
  if (given.hookTimeoutMs !== undefined) resolved.hookTimeoutMs = toDuration(given.hookTimeoutMs, `${argument}.hookTimeoutMs`);
  if (given.exit !== undefined) resolved.exit = toBoolean(given.exit, `${argument}.exit`);
  if (given.readyWhileDraining !== undefined) {
    resolved.readyWhileDraining = toBoolean(given.readyWhileDraining, `${argument}.readyWhileDraining`);
  }
  if (given.signals !== undefined) resolved.signals = toSignals(given.signals, `${argument}.signals`);
  if (given.stopProbe !== undefined) resolved.stopProbe = toBoolean(given.stopProbe, `${argument}.stopProbe`);
  return Object.freeze(resolved);
}

function toSignals(value: unknown, argument: string): readonly NodeJS.Signals[] {
  if (!Array.isArray(value) || value.length === 0) throw new ProbeArgumentError(argument, 'a non-empty array of signal names', value);
  for (const signal of value) {
    if (typeof signal !== 'string' || !(signal in process.getBuiltinModule('node:os').constants.signals) || signal === 'SIGKILL' || signal === 'SIGSTOP') {
      throw new ProbeArgumentError(argument, "signal names that can be caught, such as 'SIGTERM'", signal);
    }
  }
  return Object.freeze([...new Set(value as NodeJS.Signals[])]);
}

/** A function run during shutdown (close a pool, flush a queue). May return a promise. */
export type ShutdownHook = () => unknown;

/** Options of {@link Probe.onShutdown}. */
export interface ShutdownHookOptions {
  /**
   * Shown in the log lines about this hook and in `failedHooks`. Default: the function's name, or,
   * for an anonymous function, `hook #n: ` and the start of its source (`hook #1: () => pool.end()`).
   */
  name?: string;
  /** This hook's own budget in ms. Default: the sequence's `hookTimeoutMs`. */
  timeoutMs?: number;
}

/**
 * A server the shutdown sequence drains: node:http and node:https servers (and Express, Fastify
 * or Koa, which run on one) fit.
 */
export interface TrackableServer {
  close(callback?: (error?: Error) => void): unknown;
  closeIdleConnections(): void;
  closeAllConnections(): void;
  // `any[]`: the shape of EventEmitter's own signature, which http.Server and https.Server both match.
  prependListener(event: 'request', listener: (...args: any[]) => void): unknown;
  removeListener(event: 'request', listener: (...args: any[]) => void): unknown;
}

/** What {@link Probe.shutdown} resolves to (when `exit` is false; otherwise the process exits). */
export interface ShutdownResult {
  /** 0, or 1 if a hook failed or timed out, `timeoutMs` ran out, or a second signal forced the end. */
  readonly exitCode: 0 | 1;
  /** `timeoutMs` ran out, or a second signal cut the sequence short. */
  readonly timedOut: boolean;
  /** Names of the hooks that threw, rejected or timed out. */
  readonly failedHooks: readonly string[];
  /** Names of the holds still open when the sequence gave up on them. */
  readonly openHolds: readonly string[];
}

/** What the shutdown sequence needs from the probe. */
export interface ShutdownHost {
  readonly log: Log;
  setState(state: ServiceState): void;
  setReadyWhileDraining(on: boolean): void;
  stopProbe(): Promise<void>;
}

interface Hook {
  readonly run: ShutdownHook;
  readonly name: string;
  readonly timeoutMs: number | undefined;
}

/** The shutdown sequence of one probe. Created by the probe on first use. */
export class Shutdown {
  readonly #host: ShutdownHost;
  readonly #hooks: Hook[] = [];
  readonly #servers = new Map<TrackableServer, TrackedServer>();
  readonly #holds = new Map<number, string>();
  #holdCount = 0;
  #hookCount = 0;
  #onHoldsReleased: (() => void) | undefined;
  #signalOptions: ResolvedShutdownOptions | undefined;
  #uninstallSignals: (() => void) | undefined;
  #running: Promise<ShutdownResult> | undefined;
  /** What began the running sequence (a signal's name, or {@link SHUTDOWN_CALLED}) and whether it exits. */
  #began: { readonly reason: string; readonly exit: boolean } | undefined;
  #force: ((reason: string) => void) | undefined;

  constructor(host: ShutdownHost) {
    this.#host = host;
  }

  /** True from the moment the sequence began. */
  get shuttingDown(): boolean {
    return this.#running !== undefined;
  }

  onShutdown(hook: ShutdownHook, options?: ShutdownHookOptions): () => void {
    toFunction(hook, 'hook');
    const given = toOptions<ShutdownHookOptions>(options, 'options', ['name', 'timeoutMs']);
    if (given.name !== undefined && (typeof given.name !== 'string' || given.name === '')) {
      throw new ProbeArgumentError('options.name', 'a non-empty string', given.name);
    }
    const timeoutMs = given.timeoutMs === undefined ? undefined : toDuration(given.timeoutMs, 'options.timeoutMs');
    this.#hookCount++;
    const entry: Hook = { run: hook, name: given.name ?? hookName(hook, this.#hookCount), timeoutMs };
    this.#hooks.push(entry);
    return () => {
      const at = this.#hooks.indexOf(entry);
      if (at !== -1) this.#hooks.splice(at, 1);
    };
  }

  trackServer(server: TrackableServer): () => void {
    if (
      typeof server !== 'object' ||
      server === null ||
      typeof server.close !== 'function' ||
      typeof server.closeIdleConnections !== 'function' ||
      typeof server.closeAllConnections !== 'function' ||
      typeof server.prependListener !== 'function' ||
      typeof server.removeListener !== 'function'
    ) {
      throw new ProbeArgumentError('server', 'a node:http or node:https server', server);
    }
    if (!this.#servers.has(server)) this.#servers.set(server, new TrackedServer(server));
    return () => {
      this.#servers.get(server)?.untrack();
      this.#servers.delete(server);
    };
  }

  hold(name: string | undefined): () => void {
    if (name !== undefined && typeof name !== 'string') throw new ProbeArgumentError('name', 'a string', name);
    const id = ++this.#holdCount;
    this.#holds.set(id, name ?? `hold #${id}`);
    return () => {
      if (!this.#holds.delete(id)) return;
      if (this.#running !== undefined) {
        const hold = name ?? `hold #${id}`;
        this.#host.log.debug({ event: 'shutdown-hold-released', hold, openHolds: this.#holds.size }, `shutdown: hold '${hold}' released; ${this.#holds.size} still open`);
      }
      if (this.#holds.size === 0) this.#onHoldsReleased?.();
    };
  }

  /**
   * Installs the signal handlers: the first signal starts the sequence (or, when a `shutdown()`
   * call began it already, lets it go on), a second one during it forces the end (exit 1 at
   * once). Installing again replaces the previous handlers.
   */
  handleSignals(given: unknown): () => void {
    const options = toShutdownOptions(given, 'options', shutdownDefaults());
    this.#uninstallSignals?.();
    this.#signalOptions = options;
    // Signals during one sequence: the first signal asks for the shutdown under way, the second
    // is an operator's "now".
    let signalled: NodeJS.Signals | undefined;
    const onSignal = (signal: NodeJS.Signals) => {
      if (this.#running === undefined) {
        signalled = signal;
        this.#host.log.info({ event: 'shutdown-signal', signal }, `shutdown: received ${signal}`);
        void this.run(options, signal);
        return;
      }
      const began = this.#began!;
      if (signalled === undefined) {
        // The application began the shutdown itself (a fatal error, its framework's hook), and
        // the platform asks for the same (kubelet's SIGTERM on the pod's deletion): it goes on.
        signalled = signal;
        this.#host.log.info(
          { event: 'shutdown-signal', signal, begunBy: began.reason },
          `shutdown: received ${signal} during the shutdown that a shutdown() call began; it goes on (a second signal ${began.exit ? 'forces exit' : 'cuts it short'})`,
        );
        return;
      }
      // Said in full: "SIGINT again" after a SIGTERM reads as if SIGINT had come twice.
      const what = `${signal}, a second signal, during the shutdown that ${began.reason === SHUTDOWN_CALLED ? `a shutdown() call began and ${signalled} asked for` : `${began.reason} began`}`;
      this.#host.log.warn(
        { event: 'shutdown-second-signal', signal, begunBy: began.reason },
        `shutdown: received ${what}: ${began.exit ? 'forcing exit' : 'cutting the sequence short'}`,
      );
      this.#force?.(what);
    };
    for (const signal of options.signals) process.on(signal, onSignal);
    const uninstall = () => {
      for (const signal of options.signals) process.removeListener(signal, onSignal);
      if (this.#uninstallSignals === uninstall) {
        this.#uninstallSignals = undefined;
        this.#signalOptions = undefined;
      }
    };
    this.#uninstallSignals = uninstall;
    this.#host.log.debug(
      { event: 'shutdown-signals-handled', signals: options.signals, drainDelayMs: options.drainDelayMs, timeoutMs: options.timeoutMs },
      `shutdown: handling ${options.signals.join(', ')} (drainDelayMs ${options.drainDelayMs}, timeoutMs ${options.timeoutMs})`,
    );
    return uninstall;
  }

  /**
   * Starts the sequence for `shutdown(given)`: the options laid over those `handleSignals` was
   * given, else over {@link shutdownDefaults}. Once it runs, every call returns the same promise
   * (the options of later calls are not even checked). A bad option rejects and starts nothing.
   */
  start(given: unknown): Promise<ShutdownResult> {
    if (this.#running !== undefined) return this.#running;
    let options;
    try {
      options = toShutdownOptions(given, 'options', this.#signalOptions ?? shutdownDefaults());
    } catch (error) {
      return Promise.reject(error);
    }
    return this.run(options, SHUTDOWN_CALLED);
  }

  /** Runs the sequence once; every later call returns the same promise. */
  run(options: ResolvedShutdownOptions, reason: string): Promise<ShutdownResult> {
    if (this.#running === undefined) {
      this.#began = { reason, exit: options.exit };
      this.#running = this.#sequence(options, reason);
    }
    return this.#running;
  }

  async #sequence(options: ResolvedShutdownOptions, reason: string): Promise<ShutdownResult> {
    const log = this.#host.log;
    const began = Date.now();
    // A step's `elapsedMs` field and its line show one figure: the field (evaluated first, as the
    // first argument of the log call) takes the time, the line repeats what it took.
    let taken = 0;
    const elapsedMs = () => (taken = Date.now() - began);
    const elapsed = () => `+${taken} ms`;

    // `cut` settles when timeoutMs runs out or a second signal arrives; every wait races it.
    let cutReason: string | undefined;
    let cutTimer: NodeJS.Timeout | undefined;
    const cut = new Promise<void>((resolve) => {
      this.#force = (why) => {
        if (cutReason !== undefined) return;
        cutReason = why;
        if (options.exit) {
          log.error({ event: 'shutdown-forced-exit', reason: why, exitCode: 1, elapsedMs: elapsedMs() }, `shutdown: ${why}; exiting with code 1 now`);
          process.exit(1);
        }
        resolve();
      };
    });
    const failedHooks: string[] = [];
    let openHolds: string[] = [];

    log.info(
      { event: 'shutdown-begun', reason, state: ServiceState.Draining, readyStatus: options.readyWhileDraining ? 200 : 503 },
      `shutdown: begun (${reason}); state DRAINING, /ready answers ${options.readyWhileDraining ? '200 (readyWhileDraining)' : '503'} from now on`,
    );
    this.#host.setReadyWhileDraining(options.readyWhileDraining);
    this.#host.setState(ServiceState.Draining);
    const servers = [...this.#servers.values()];
    for (const tracked of servers) tracked.askClientsToClose();
    if (servers.length > 0) {
      log.info({ event: 'shutdown-connection-close', servers: servers.length }, `shutdown: responses of ${servers.length} tracked server(s) carry Connection: close from now on`);
    }

    if (options.drainDelayMs > 0) {
      log.info({ event: 'shutdown-drain-delay', drainDelayMs: options.drainDelayMs }, `shutdown: waiting drainDelayMs (${options.drainDelayMs} ms) so that routing to this instance stops`);
      await raceSleep(options.drainDelayMs, cut);
    }

    if (cutReason === undefined) {
      cutTimer = setTimeout(() => this.#force?.(`timeoutMs (${options.timeoutMs} ms) ran out`), options.timeoutMs);
      log.info({ event: 'shutdown-drain-delay-over', elapsedMs: elapsedMs(), timeoutMs: options.timeoutMs }, `shutdown: ${elapsed()} drain delay over; timeoutMs (${options.timeoutMs} ms) starts now`);
    }

    // Tracked servers: stop accepting, let in-flight requests finish, close idle keep-alive
    // connections, and ask clients to close after each response sent meanwhile.
    if (cutReason === undefined && servers.length > 0) {
      log.info(
        { event: 'shutdown-closing-servers', elapsedMs: elapsedMs(), servers: servers.length },
        `shutdown: ${elapsed()} closing ${servers.length} tracked server(s); in-flight requests finish, idle connections close`,
      );
      const closed = await Promise.race([Promise.all(servers.map((tracked) => tracked.close())).then(() => true), cut.then(() => false)]);
      if (closed) log.info({ event: 'shutdown-servers-closed', elapsedMs: elapsedMs() }, `shutdown: ${elapsed()} tracked servers closed`);
    }

    if (cutReason === undefined && this.#holds.size > 0) {
      const holds = [...this.#holds.values()];
      log.info({ event: 'shutdown-waiting-for-holds', elapsedMs: elapsedMs(), holds }, `shutdown: ${elapsed()} waiting for ${holds.length} hold(s): ${holds.join(', ')}`);
      const released = new Promise<void>((resolve) => {
        this.#onHoldsReleased = resolve;
      });
      await Promise.race([released, cut]);
      this.#onHoldsReleased = undefined;
      if (this.#holds.size === 0) log.info({ event: 'shutdown-holds-released', elapsedMs: elapsedMs() }, `shutdown: ${elapsed()} every hold released`);
    }

    const hooks = [...this.#hooks].reverse();
    if (cutReason === undefined && hooks.length > 0) {
      log.info({ event: 'shutdown-running-hooks', elapsedMs: elapsedMs(), hooks: hooks.map((hook) => hook.name) }, `shutdown: ${elapsed()} running ${hooks.length} hook(s), newest first`);
      for (const hook of hooks) {
        if (cutReason !== undefined) break;
        const hookBegan = Date.now();
        const failure = await runHook(hook, hook.timeoutMs ?? options.hookTimeoutMs, cut);
        if (cutReason !== undefined && failure === 'cut') break;
        const fields = { elapsedMs: elapsedMs(), hook: hook.name, durationMs: Date.now() - hookBegan };
        if (failure === undefined) log.info({ event: 'shutdown-hook-done', ...fields }, `shutdown: ${elapsed()} hook '${hook.name}' done`);
        else {
          failedHooks.push(hook.name);
          log.error({ event: 'shutdown-hook-failed', ...fields, reason: failure }, `shutdown: ${elapsed()} hook '${hook.name}' failed: ${failure}; running the rest`);
        }
      }
    }

    if (cutReason !== undefined) {
      log.error({ event: 'shutdown-cut-short', elapsedMs: elapsedMs(), reason: cutReason }, `shutdown: ${elapsed()} ${cutReason}; cutting the sequence short`);
      for (const tracked of servers) tracked.server.closeAllConnections();
      openHolds = [...this.#holds.values()];
      if (openHolds.length > 0) log.error({ event: 'shutdown-holds-open', holds: openHolds }, `shutdown: holds still open: ${openHolds.join(', ')}`);
    }
    clearTimeout(cutTimer);

    if (options.stopProbe) {
      log.info({ event: 'shutdown-stopping-probe', elapsedMs: elapsedMs() }, `shutdown: ${elapsed()} stopping the probe server`);
      await this.#host.stopProbe();
    }

    const timedOut = cutReason !== undefined;
    const exitCode: 0 | 1 = timedOut || failedHooks.length > 0 ? 1 : 0;
    this.#force = undefined;
    this.#uninstallSignals?.();
    if (options.exit) {
      log.info({ event: 'shutdown-done', elapsedMs: elapsedMs(), exitCode, exit: true }, `shutdown: ${elapsed()} done; exiting with code ${exitCode}`);
      process.exit(exitCode);
    }
    log.info({ event: 'shutdown-done', elapsedMs: elapsedMs(), exitCode, exit: false }, `shutdown: ${elapsed()} done (exit code ${exitCode}, left to the application)`);
    return Object.freeze({ exitCode, timedOut, failedHooks: Object.freeze(failedHooks), openHolds: Object.freeze(openHolds) });
  }
}

/** The reason of a sequence begun by `shutdown()` rather than a signal. */
const SHUTDOWN_CALLED = 'shutdown() called';

// An anonymous hook (an inline arrow) is named by its number and the start of its source, so that
// a log line says which one hung.
function hookName(hook: ShutdownHook, number: number): string {
  if (hook.name !== '') return hook.name;
  let source: string;
  try {
    source = Function.prototype.toString.call(hook).replace(/\s+/g, ' ').trim();
  } catch {
    return `hook #${number}`;
  }
  return `hook #${number}: ${source.length > MAX_HOOK_SOURCE ? `${source.slice(0, MAX_HOOK_SOURCE - 1)}…` : source}`;
}

const MAX_HOOK_SOURCE = 40;

function raceSleep(ms: number, cut: Promise<void>): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const slept = new Promise<void>((resolve) => {
    timer = setTimeout(resolve, ms);
  });
  return Promise.race([slept, cut]).finally(() => clearTimeout(timer));
}

interface TrackedResponse {
  readonly headersSent: boolean;
  setHeader(name: string, value: string): unknown;
  on(event: 'close', listener: (this: TrackedResponse) => void): unknown;
}

// One tracked server. Responses in flight are remembered (a Set add and delete per request, no
// allocation) so that those whose headers are not sent yet when the drain begins can still get
// `Connection: close`; node:http does not add it by itself after close().
class TrackedServer {
  readonly server: TrackableServer;
  readonly #inFlight = new Set<TrackedResponse>();
  #draining = false;
  readonly #onRequest = (_req: unknown, res: TrackedResponse) => {
    if (this.#draining) {
      res.setHeader('Connection', 'close');
      return;
    }
    this.#inFlight.add(res);
    res.on('close', this.#forget);
  };
  readonly #forget: (this: TrackedResponse) => void;

  constructor(server: TrackableServer) {
    this.server = server;
    const inFlight = this.#inFlight;
    this.#forget = function forget(this: TrackedResponse) {
      inFlight.delete(this);
    };
    server.prependListener('request', this.#onRequest);
  }

  untrack(): void {
    this.server.removeListener('request', this.#onRequest);
    this.#inFlight.clear();
  }

  // close(): node:http's close() stops accepting and (since Node 19) closes idle connections; connections
  // busy with a request stay open until it is answered, and `Connection: close` makes the client
  // drop them after that answer. The sweep closes connections whose response had already started
  // before the drain and then went idle.
  // From the first moment of shutdown, every response asks its client to close the connection, so
  // keep-alive clients reconnect during the drain delay, and a new connection goes elsewhere
  // (kube-proxy balances per connection; an old one would keep reaching this pod).
  askClientsToClose(): void {
    this.#draining = true;
    for (const res of this.#inFlight) if (!res.headersSent) res.setHeader('Connection', 'close');
  }

  close(): Promise<void> {
    this.askClientsToClose();
    const server = this.server;
    return new Promise<void>((resolve) => {
      const sweep = setInterval(() => server.closeIdleConnections(), 50);
      const done = () => {
        clearInterval(sweep);
        resolve();
      };
      try {
        server.close(() => done());
      } catch {
        done();
      }
      server.closeIdleConnections();
    });
  }
}

async function runHook(hook: Hook, timeoutMs: number, cut: Promise<void>): Promise<string | undefined | 'cut'> {
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<string>((resolve) => {
    timer = setTimeout(() => resolve(`timed out after ${timeoutMs} ms`), timeoutMs);
  });
  const ran = (async () => {
    try {
      await hook.run();
      return undefined;
    } catch (error) {
      return reasonOf(error);
    }
  })();
  try {
    return await Promise.race([ran, timedOut, cut.then(() => 'cut' as const)]);
  } finally {
    clearTimeout(timer);
  }
}
