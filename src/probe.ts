// Probe: the state, the checks, the events and the lifecycle of one probe. What its answers are is
// its responder's business (responder.ts), built here from the probe's own view (state, flags,
// check registry); every transport asks that responder (the node:net reader, the node:http server,
// `handle()` in someone else's server, gRPC health), and in worker mode the worker thread builds
// the same responder from shared memory. No socket is written here.

import { EventEmitter } from 'node:events';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { CheckRegistry, type CheckFunction, type CheckOptions } from './checks.js';
import { ProbeArgumentError, ProbeStartError } from './errors.js';
import { acceptOf, clearHostHeaders, NEVER_CLOSING, respond } from './http-response.js';
import { createLog, isFieldsFirstLogger, type Log, type ProbeLogger } from './log.js';
import { toBoolean, toHost, toOptions, toPort, toPrefix, toState, type AddressInput } from './options.js';
import { RESERVED_SERVICE_NAMES } from './grpc/health-service.js';
import type { RenderedResponse } from './render.js';
import { Responder, type ProbeView } from './responder.js';
import { compilePaths, type ProbePaths } from './routes.js';
import { resolveLimits, type BoundAddress, type Listen, type ProbeServer, type ServerLimits } from './server-core.js';
import { Shutdown, type ShutdownHook, type ShutdownHookOptions, type ShutdownOptions, type ShutdownResult, type TrackableServer } from './shutdown.js';
import { ServiceState } from './state.js';
import type { CheckOutcome } from './verdict.js';
import { toWorkerOptions, workerFromEnvironment, type ResolvedWorkerOptions, type WorkerOptions } from './worker/options.js';
import type { WorkerServer } from './worker/main-side.js';
import { STALL_CHECK_NAME } from './worker/stall.js';
import { listenRaw } from './raw-server.js';

/** How long `stop()` waits for open connections before it closes them by force (no shutdown-sequence setting). */
export const STOP_GRACE_PERIOD_MS = 500;

/** The port the probe listens on unless told otherwise (the crate's examples use it too). */
export const DEFAULT_PORT = 11333;

/** Options of {@link createProbe}. Every one is optional. */
export interface ProbeOptions {
  /**
   * IP address (a string or 4/16 byte values) or host name to listen on, resolved by `start()`.
   * Default: every interface (`::`, or `0.0.0.0` where IPv6 is off), which is what kubelet needs to
   * reach the pod IP.
   */
  host?: AddressInput;
  /** TCP port; 0 picks a free one. Default 11333. */
  port?: number;
  /** The state before anything is set. Default `UP`. */
  state?: ServiceState;
  /** Also send log events here (`console`, pino, …). Silent by default. See docs/logging.md. */
  logger?: ProbeLogger;
  /**
   * Call `logger` as `logger.info(fields, message)` (`true`, pino's and bunyan's way) or with one
   * readable message string (`false`, for `console` and message-only loggers). Default: `true` for
   * a pino logger (one with `child()` and `bindings()` methods), `false` for any other.
   */
  logFields?: boolean;
  /**
   * Request-head size limit in bytes, counted as node:http counts it: the target, the field names
   * and the field values. A head is refused with 431 once they reach it. Default 8192.
   */
  maxHeaderSize?: number;
  /** Time to send a request head, in ms. Default 10 000. */
  headersTimeoutMs?: number;
  /** Time to send a whole request, in ms. Default 15 000. */
  requestTimeoutMs?: number;
  /** Idle keep-alive connections are closed after this many ms. Default 5 000. */
  keepAliveTimeoutMs?: number;
  /** Most open connections; past it the oldest is closed. Default 1024. */
  maxConnections?: number;
  /**
   * Show why checks fail (error messages, timeouts) in `?verbose` and JSON responses. Default
   * `false`: "reason withheld", as a probe port is often reachable by more than the orchestrator.
   * Reasons are always logged.
   */
  exposeDetails?: boolean;
  /**
   * What reads requests on the standalone server. `'net'` (the default): the probe's own strict
   * HTTP/1.1 request-head reader on node:net, about 1.5–2x the throughput of node:http for a
   * fraction of its CPU per request. `'http'`: node:http. Both send the same bytes and obey the same
   * limits; see docs/design.md, "Standalone server: node:http or node:net". `probe.handle()` always
   * serves through the host's own server. Without this option, the `SERVICE_PROBE_SERVER`
   * environment variable (`net` or `http`) decides, so a whole test suite can run on either.
   */
  server?: ServerKind;
  /**
   * Serve `GET /metrics`: the state, the verdicts and the checks' latest outcomes in the Prometheus
   * text format (OpenMetrics when the scraper asks for it). Reading it never runs a check. Default
   * `false` (`/metrics` is then not the probe's path). `'collect'`: count for `probeMetrics()` and
   * `combineMetrics()` only, serving nothing. See docs/metrics.md.
   */
  metrics?: boolean | 'collect';
  /**
   * Rename or alias the endpoint paths, e.g. Kubernetes-style
   * `{ health: ['/livez', '/healthz'], ready: '/readyz', started: '/startupz' }`. Each given
   * endpoint replaces its defaults (`/health` and `/live`, `/ready`, `/started`); per-check paths,
   * `?verbose`, JSON and HEAD follow. Validated here: a bad, repeated or nested path throws.
   */
  paths?: ProbePaths;
  /**
   * Worker mode: run the standalone server (the node:net reader, with gRPC health and `/metrics`
   * when they are on) in a worker thread, so probes are answered while the main thread is blocked,
   * and a blocked main thread becomes a verdict: `/ready` answers 503 past `readinessStallMs`
   * without a beat from it, `/health` past `livenessStallMs`. `true` for the defaults (1000 ms and 10 000 ms). See docs/worker.md.
   * Without this option (and without `server`), `SERVICE_PROBE_WORKER=1` turns it on.
   */
  worker?: boolean | WorkerOptions;
  /**
   * Answer gRPC health checks (grpc.health.v1 `Check`, `Watch`, `List`) on the same port: a
   * connection that starts with the HTTP/2 preface is served on node:http2, loaded only when the
   * first one arrives. Default `true`; `false` refuses the preface as any other bad request. Needs
   * the default server (`server: 'net'`), which worker mode runs too; see docs/grpc.md.
   */
  grpc?: boolean;
}

/** The standalone server's request reader: the probe's own on node:net, or node:http. */
export type ServerKind = 'net' | 'http';

const OPTION_NAMES = [
  'host',
  'port',
  'state',
  'logger',
  'logFields',
  'maxHeaderSize',
  'headersTimeoutMs',
  'requestTimeoutMs',
  'keepAliveTimeoutMs',
  'maxConnections',
  'exposeDetails',
  'server',
  'metrics',
  'paths',
  'worker',
  'grpc',
] as const;

/** Per-start overrides of the probe's `host`, `port` and initial `state`. */
export interface StartOptions {
  host?: AddressInput;
  port?: number;
  state?: ServiceState;
}

/** Events a {@link Probe} emits. */
export interface ProbeEvents {
  /** The state changed (never emitted for a set to the same state). */
  change: [next: ServiceState, previous: ServiceState];
  /**
   * A check finished a run (on demand or in the background): its name, whether it passed, how long
   * it took, its observed value and its failure reason. Not emitted for runs cut short by `stop()`
   * or `removeCheck()`. For feeding your own metrics (prom-client, OpenTelemetry).
   */
  check: [outcome: CheckOutcome];
}

/**
 * One probe: a state, and the HTTP server that shows it. Create it with {@link createProbe}.
 */
export class Probe extends EventEmitter<ProbeEvents> {
  readonly #log: Log;
  readonly #limits: ServerLimits;
  readonly #host: string | undefined;
  readonly #port: number;
  readonly #checks: CheckRegistry;
  readonly #exposeDetails: boolean;
  readonly #serverKind: ServerKind;
  readonly #responder: Responder;
  readonly #workerOptions: ResolvedWorkerOptions | undefined;
  // The worker server while it runs (worker mode): told of every change its answers depend on.
  #worker: WorkerServer | undefined;
  #state: ServiceState;
  #started = false;
  #whenStarted: Promise<void> | undefined;
  #resolveStarted: (() => void) | undefined;
  #server: ProbeServer | undefined;
  #starting: Promise<BoundAddress> | undefined;
  #stopping: Promise<void> | undefined;
  #shutdown: Shutdown | undefined;
  #readyWhileDraining = false;

  constructor(options?: ProbeOptions) {
    super();
    const given = toOptions<ProbeOptions>(options, 'options', OPTION_NAMES);
    this.#host = given.host === undefined ? undefined : toHost(given.host, 'options.host');
    this.#port = given.port === undefined ? DEFAULT_PORT : toPort(given.port, 'options.port');
    this.#state = given.state === undefined ? ServiceState.Up : toState(given.state, 'options.state');
    if (given.logger !== undefined && (typeof given.logger !== 'object' || given.logger === null)) {
      throw new ProbeArgumentError('options.logger', 'an object with debug/info/warn/error methods', given.logger);
    }
    this.#limits = resolveLimits(given, 'options');
    this.#exposeDetails = given.exposeDetails === undefined ? false : toBoolean(given.exposeDetails, 'options.exposeDetails');
    this.#serverKind = toServerKind(given.server);
    const metrics = toMetricsOption(given.metrics);
    const paths = compilePaths(given.paths, 'options.paths', metrics === true);
    this.#workerOptions = toWorkerOptions(given.worker, 'options.worker');
    if (this.#workerOptions !== undefined && given.server === 'http') {
      throw new ProbeArgumentError('options.server', "'net' or left out with worker mode (the worker runs the node:net reader)", given.server);
    }
    if (given.worker === undefined && given.server === undefined) this.#workerOptions = workerFromEnvironment();
    const grpc = given.grpc === undefined ? undefined : toBoolean(given.grpc, 'options.grpc');
    // The worker thread always runs the node:net reader, which tells the HTTP/2 preface apart.
    const netReader = this.#workerOptions !== undefined || this.#serverKind === 'net';
    if (grpc === true && !netReader) {
      throw new ProbeArgumentError('options.grpc', "false or left out with server: 'http' (gRPC needs the default server, 'net')", given.grpc);
    }
    this.#log = createLog(given.logger, given.logFields === undefined ? isFieldsFirstLogger(given.logger) : toBoolean(given.logFields, 'options.logFields'));
    this.#checks = new CheckRegistry(this.#log);
    this.#checks.onFinished((outcome) => {
      this.#worker?.checkFinished(outcome);
      this.emit('check', outcome);
      this.#responder.notify();
    });
    if (this.#state === ServiceState.Ready) this.#started = true;
    this.#responder = new Responder(this.#createView(), { paths, limits: this.#limits, log: this.#log, grpc: grpc !== false && netReader, metrics: metrics !== false });
    responders.set(this, this.#responder);
  }

  /** The current state. */
  get state(): ServiceState {
    return this.#state;
  }

  /** Sets the state; emits `'change'` and logs when it really changes. Throws on an unknown state. */
  setState(state: ServiceState): void {
    const next = toState(state, 'state');
    const previous = this.#state;
    if (next === previous) return;
    this.#state = next;
    this.#log.info({ event: 'state-change', state: next, previous }, `Service state change: ${previous} to ${next}.`);
    if (next === ServiceState.Ready) this.markStarted();
    this.#worker?.stateChanged();
    this.emit('change', next, previous);
    this.#responder.notify();
  }

  /** True once the probe has been READY or `markStarted()` was called; `/started` then answers 200 for good. */
  get started(): boolean {
    return this.#started;
  }

  /** Marks start-up as finished without becoming READY: `/started` answers 200 from now on. */
  markStarted(): void {
    if (this.#started) return;
    this.#started = true;
    this.#worker?.stateChanged();
    this.#resolveStarted?.();
    this.#responder.notify();
  }

  /** Resolves once the probe has started (see {@link Probe.started}). */
  whenStarted(): Promise<void> {
    if (this.#started) return Promise.resolve();
    this.#whenStarted ??= new Promise<void>((resolve) => {
      this.#resolveStarted = resolve;
    });
    return this.#whenStarted;
  }

  /** Where the server listens, while it runs. */
  get address(): BoundAddress | undefined {
    return this.#server?.bound;
  }

  /**
   * Starts the probe's HTTP server. Resolves to the bound address and port.
   * Rejects a {@link ProbeStartError}: `ALREADY_STARTED`, or `SOCKET_UNAVAILABLE` with the OS
   * error as `cause`; a failed start changes nothing (the initial state is set only once bound).
   */
  async start(overrides?: StartOptions): Promise<BoundAddress> {
    const given = toOptions<StartOptions>(overrides, 'overrides', ['host', 'port', 'state']);
    const host = given.host === undefined ? this.#host : toHost(given.host, 'overrides.host');
    const port = given.port === undefined ? this.#port : toPort(given.port, 'overrides.port');
    const state = given.state === undefined ? undefined : toState(given.state, 'overrides.state');
    if (this.#server !== undefined || this.#starting !== undefined) {
      throw new ProbeStartError('ALREADY_STARTED', 'The probe is already started; stop it first');
    }
    const starting = (async () => {
      if (this.#stopping !== undefined) await this.#stopping;
      const server =
        this.#workerOptions !== undefined
          ? (this.#worker = await this.#listenInWorker(host, port, this.#workerOptions))
          : await (await loadTransport(this.#serverKind))(this.#responder, host, port, this.#limits, this.#log, this.#responder.acceptHttp2);
      this.#server = server;
      this.#responder.open();
      this.#stopping = undefined;
      this.#checks.open();
      if (state !== undefined) this.setState(state);
      const { address, port: boundPort } = server.bound;
      const shown = address.includes(':') ? `[${address}]` : address;
      const url = `http://${shown}:${boundPort}/`;
      this.#log.info({ event: 'listening', address, port: boundPort, url, state: this.#state }, `Service readiness probe listening on ${url} with initial state ${this.#state}`);
      return server.bound;
    })();
    this.#starting = starting;
    try {
      return await starting;
    } finally {
      this.#starting = undefined;
    }
  }

  /**
   * Stops the server and closes every connection, keep-alive ones included, within
   * {@link STOP_GRACE_PERIOD_MS}; logs an error if that had to be forced. Idempotent.
   */
  stop(): Promise<void> {
    this.#checks.close();
    if (this.#stopping !== undefined) return this.#stopping;
    const server = this.#server;
    if (server === undefined) {
      return this.#starting === undefined ? Promise.resolve() : this.#starting.then(() => this.stop(), () => undefined);
    }
    this.#stopping = Promise.all([server.stop(STOP_GRACE_PERIOD_MS), this.#responder.stop(STOP_GRACE_PERIOD_MS)]).then(([inTime]) => {
      if (this.#server === server) this.#server = undefined;
      if (this.#worker === server) this.#worker = undefined;
      if (!inTime) this.#log.error({ event: 'stop-forced', graceMs: STOP_GRACE_PERIOD_MS }, `Service probe did not stop within ${STOP_GRACE_PERIOD_MS} ms; open connections were closed`);
      else this.#log.info({ event: 'stopped' }, 'Service probe stopped');
    });
    return this.#stopping;
  }

  /**
   * Answers a probe request inside an existing node:http server (or Express, Fastify, Koa via their
   * raw request and response). Returns `true` when it answered, `false` when the path is not the
   * probe's, so the caller can fall through to its own routes. Without a prefix it answers only
   * the probe's named paths (`/health`, `/live`, `/ready`, `/started` and their per-check paths),
   * never `/`, which is the app's; under a prefix, the prefix itself is `/`. The answer is byte for byte the
   * standalone server's (headers set earlier on `res` are dropped, except `Connection`).
   *
   * @param prefix  serve the probe paths under this mount prefix, e.g. `'/internal/health'`
   *                (leading slash, no trailing slash); default `''`
   */
  handle(req: IncomingMessage, res: ServerResponse, prefix = ''): boolean {
    if (prefix !== '') toPrefix(prefix, 'prefix');
    const answer = this.#responder.answer(req.method ?? '', req.url ?? '', acceptOf(req), prefix);
    if (answer === undefined) return false;
    clearHostHeaders(res);
    respond(req, res, answer, NEVER_CLOSING, this.#log);
    return true;
  }

  /**
   * The answer to a request, decided as every transport of the probe decides it (the standalone
   * servers, {@link Probe.handle}, the worker thread). Returns the rendered response (status,
   * header list, body) at once when no check has to run, a promise of it when one does (it never
   * rejects), or `undefined` for a path the probe does not own when mounted under `prefix`.
   * Without `prefix` the probe owns every path: a foreign one answers 404.
   *
   * The caller writes it: for HEAD without the body, and with `Connection: close` where its own
   * request or state asks for it. The plain `GET /ready` answer is a shared precomputed object:
   * nothing is allocated for it.
   *
   * ```ts
   * const answer = await probe.answer('GET', '/ready?verbose', undefined);
   * console.log(answer.status, answer.body.toString());
   * ```
   *
   * @param method  the request method, upper case (`'GET'`, `'HEAD'`; any other answers 405)
   * @param target  the request target: origin-form (`/ready?verbose`) or absolute-form
   * @param accept  the `Accept` header, if any (`application/health+json` asks for JSON)
   * @param prefix  the mount prefix, e.g. `'/internal/health'`, or `''` for the root
   */
  answer(method: string, target: string, accept: string | undefined): RenderedResponse | Promise<RenderedResponse>;
  answer(method: string, target: string, accept: string | undefined, prefix: string): RenderedResponse | Promise<RenderedResponse> | undefined;
  answer(method: string, target: string, accept: string | undefined, prefix?: string): RenderedResponse | Promise<RenderedResponse> | undefined {
    if (typeof method !== 'string') throw new ProbeArgumentError('method', 'a string', method);
    if (typeof target !== 'string') throw new ProbeArgumentError('target', 'a string', target);
    if (accept !== undefined && typeof accept !== 'string') throw new ProbeArgumentError('accept', 'a string or undefined', accept);
    if (prefix !== undefined && prefix !== '') toPrefix(prefix, 'prefix');
    return this.#responder.answer(method, target, accept, prefix);
  }

  /**
   * Adds a check: a function, sync or async, that fails when it throws, rejects, returns `false`
   * or an object with `ok: false`, or outlasts `timeoutMs`. See {@link CheckOptions}. Throws a
   * `ProbeArgumentError` for a bad or duplicate name, a non-function or a bad option; nothing is
   * added then.
   *
   * ```ts
   * probe.addCheck('postgres', () => pool.query('select 1'), { timeoutMs: 1000 });
   * ```
   */
  addCheck(name: string, check: CheckFunction, options?: CheckOptions): void {
    if (name === STALL_CHECK_NAME && this.#workerOptions !== undefined) {
      throw new ProbeArgumentError('name', `a name other than '${STALL_CHECK_NAME}' (worker mode's stall verdict)`, name);
    }
    if (typeof name === 'string' && RESERVED_SERVICE_NAMES.has(name)) {
      throw new ProbeArgumentError('name', "a name other than 'liveness', 'readiness' and 'startup' (gRPC health service names)", name);
    }
    this.#checks.add(name, check, options);
    this.#worker?.checksChanged();
    this.#responder.notify();
  }

  /** Removes a check (its timer and monitor stop). Returns `false` if there was none of that name. */
  removeCheck(name: string): boolean {
    const removed = this.#checks.remove(name);
    if (removed) {
      this.#worker?.checksChanged();
      this.#responder.notify();
    }
    return removed;
  }

  /** Whether a check of this name is registered. */
  hasCheck(name: string): boolean {
    return this.#checks.has(name);
  }

  // Graceful shutdown: thin forwards to shutdown.ts, which owns the sequence.

  /**
   * Registers a function to run during shutdown, after the tracked servers drained and the holds
   * were released. Hooks run one at a time, newest first, each bounded by its own timeout; a
   * failing one is logged and the rest still run. Returns a function that unregisters it.
   */
  onShutdown(hook: ShutdownHook, options?: ShutdownHookOptions): () => void {
    return this.#shutdownSequence().onShutdown(hook, options);
  }

  /**
   * Drains this node:http(s) server during shutdown: from the first moment its responses carry
   * `Connection: close`; after the drain delay it stops accepting, finishes in-flight requests and
   * closes idle keep-alive connections.
   * Returns a function that stops tracking it.
   */
  trackServer(server: TrackableServer): () => void {
    return this.#shutdownSequence().trackServer(server);
  }

  /**
   * Work that must finish before the process exits and is not an HTTP request (a queue job, a
   * websocket session). Shutdown waits for every hold after draining the tracked servers, within
   * `timeoutMs`. Returns the release function (calling it again does nothing).
   */
  hold(name?: string): () => void {
    return this.#shutdownSequence().hold(name);
  }

  /**
   * Runs {@link Probe.shutdown} on the first of `options.signals` (default SIGTERM and SIGINT);
   * a second signal during shutdown forces the exit. Returns a function that removes the handlers.
   */
  handleSignals(options?: ShutdownOptions): () => void {
    return this.#shutdownSequence().handleSignals(options);
  }

  /**
   * The graceful shutdown sequence (see docs/shutdown.md). Options default to those
   * given to {@link Probe.handleSignals}, then to {@link shutdownDefaults}. Idempotent: every call
   * returns the same promise, which resolves only when `exit` is false.
   */
  shutdown(options?: ShutdownOptions): Promise<ShutdownResult> {
    return this.#shutdownSequence().start(options);
  }

  /** True once the shutdown sequence has begun. */
  get shuttingDown(): boolean {
    return this.#shutdown?.shuttingDown === true;
  }

  #shutdownSequence(): Shutdown {
    this.#shutdown ??= new Shutdown({
      log: this.#log,
      setState: (state) => this.setState(state),
      setReadyWhileDraining: (on) => {
        this.#readyWhileDraining = on;
        this.#worker?.stateChanged();
        this.#responder.notify();
      },
      stopProbe: () => this.stop(),
    });
    return this.#shutdown;
  }

  // Worker mode: node:worker_threads and the worker's code load only here, on first use. The
  // worker serves gRPC and `/metrics` too; the main thread's metrics endpoint keeps counting and
  // hands its counters to every worker started that serves `/metrics` (with `metrics: 'collect'`
  // only the main thread counts, for probeMetrics()).
  async #listenInWorker(host: string | undefined, port: number, options: ResolvedWorkerOptions): Promise<WorkerServer> {
    const { listenInWorker } = await import('./worker/main-side.js');
    const metrics = this.#responder.paths.standalone.metrics ? await this.#responder.metricsEndpoint() : undefined;
    const metricsCounts = metrics === undefined ? undefined : () => metrics.counts();
    return listenInWorker(this.#responder.view, host, port, this.#limits, this.#responder.paths.standalone, this.#log, options, { grpc: this.#responder.acceptHttp2 !== undefined, metricsCounts });
  }

  // The probe's own view, read by its responder and, in worker mode, copied to the worker thread.
  #createView(): ProbeView {
    const probe = this;
    return {
      get state() {
        return probe.#state;
      },
      get started() {
        return probe.#started;
      },
      get readyWhileDraining() {
        return probe.#readyWhileDraining;
      },
      exposeDetails: this.#exposeDetails,
      checks: this.#checks,
    };
  }
}

// The responder of every probe, for the package's own modules that serve a probe from outside
// (syncGrpcHealth, probeMetrics): not a member, so that it is no part of the Probe type users see.
const responders = new WeakMap<Probe, Responder>();

/** The responder of a probe made by {@link createProbe}, or `undefined` for anything else. */
export function responderOf(probe: unknown): Responder | undefined {
  return typeof probe === 'object' && probe !== null ? responders.get(probe as Probe) : undefined;
}

// A transport's node module (node:net, or node:http, which alone costs a few ms) loads when a
// probe starts its server, so importing the package or using only `handle()` (which writes on
// the host's own node:http objects) loads neither. The default transport's code comes with the
// package itself: importing it when the probe starts meant more ES module files to resolve and
// load at start-up, which costs more than its code (docs/performance.md, "Build layout").
function loadTransport(kind: ServerKind): Promise<Listen> {
  return kind === 'net' ? Promise.resolve(listenRaw) : import('./http-server.js').then(({ listenHttp }) => listenHttp);
}

function toMetricsOption(given: unknown): boolean | 'collect' {
  if (given === undefined) return false;
  if (typeof given === 'boolean' || given === 'collect') return given;
  throw new ProbeArgumentError('options.metrics', "true, false or 'collect'", given);
}

function toServerKind(given: unknown): ServerKind {
  if (given === 'net' || given === 'http') return given;
  if (given !== undefined) throw new ProbeArgumentError('options.server', "'net' or 'http'", given);
  const fromEnvironment = process.env.SERVICE_PROBE_SERVER;
  return fromEnvironment === 'http' ? 'http' : 'net';
}

/** Creates a probe with its own state and server. See {@link ProbeOptions}. */
export function createProbe(options?: ProbeOptions): Probe {
  return new Probe(options);
}
