// Probe: ties the state, the pure decisions (route → verdict → render) and the server together.
// The same `respond` serves the standalone server and `probe.handle()` in someone else's server,
// so both send the same bytes.

import { EventEmitter } from 'node:events';
import type { IncomingMessage, OutgoingHttpHeader, ServerResponse } from 'node:http';
import { CheckRegistry, type CheckFunction, type CheckOptions } from './checks.js';
import { ProbeArgumentError, ProbeStartError } from './errors.js';
import { createLog, type Log, type ProbeLogger } from './log.js';
import { toHost, toOptions, toPort, toPositiveInteger, toState, type AddressInput } from './options.js';
import { METHOD_NOT_ALLOWED, NOT_FOUND, renderDetailed, stateText, withConnectionClose, type RenderedResponse } from './render.js';
import { route, type ProbeRoute, type Route } from './routes.js';
import { listenRaw, type RawAnswer } from './raw-server.js';
import type { GrpcTransport } from './grpc/http2-transport.js';
import type { HealthSource } from './grpc/health-service.js';
import { RESERVED_SERVICE_NAMES } from './grpc/service-names.js';
import type { Socket } from 'node:net';
import { DEFAULT_LIMITS, listen, type BoundAddress, type ProbeServer, type ServerLimits } from './server.js';
import { Shutdown, shutdownDefaults, toShutdownOptions, type ShutdownHook, type ShutdownHookOptions, type ShutdownOptions, type ShutdownResult, type TrackableServer } from './shutdown.js';
import { ServiceState } from './state.js';
import { checksVerdict, singleCheckVerdict, stateVerdict, type CheckOutcome } from './verdict.js';

/** How long `stop()` waits for open connections before it closes them by force. */
export const SHUTDOWN_GRACE_PERIOD_MS = 500;

/** The port the probe listens on unless told otherwise (the crate's examples use it too). */
export const DEFAULT_PORT = 11333;

/** Options of {@link createProbe}. Every one is optional. */
export interface ProbeOptions {
  /**
   * IP address to listen on: a string or 4/16 byte values. Default: every interface (`::`, or
   * `0.0.0.0` where IPv6 is off), which is what kubelet needs to reach the pod IP.
   */
  host?: AddressInput;
  /** TCP port; 0 picks a free one. Default 11333. */
  port?: number;
  /** The state before anything is set. Default `UP`. */
  state?: ServiceState;
  /** Also send log events here (`console`, pino, …). Silent by default. */
  logger?: ProbeLogger;
  /** Largest request head in bytes (431 past it). Default 8192. */
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
   * limits; see the README's "Standalone server: node:http or node:net". `probe.handle()` always
   * serves through the host's own server. Without this option, the `SERVICE_PROBE_SERVER`
   * environment variable (`net` or `http`) decides, so a whole test suite can run on either.
   */
  server?: ServerKind;
  /**
   * Answer gRPC health checks (grpc.health.v1 `Check`, `Watch`, `List`) on the same port: a
   * connection that starts with the HTTP/2 preface is served on node:http2, loaded only when the
   * first one arrives. Default `true`; `false` refuses the preface as any other bad request. Needs
   * the default server (`server: 'net'`); see docs/grpc.md.
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
  'maxHeaderSize',
  'headersTimeoutMs',
  'requestTimeoutMs',
  'keepAliveTimeoutMs',
  'maxConnections',
  'exposeDetails',
  'server',
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
  #state: ServiceState;
  #started = false;
  #whenStarted: Promise<void> | undefined;
  #resolveStarted: (() => void) | undefined;
  #server: ProbeServer | undefined;
  #starting: Promise<BoundAddress> | undefined;
  #stopping: Promise<void> | undefined;
  #shutdown: Shutdown | undefined;
  #readyWhileDraining = false;
  readonly #grpcEnabled: boolean;
  #grpc: Promise<GrpcTransport> | undefined;
  // Told after anything that may change a verdict (gRPC Watch listens here).
  readonly #verdictListeners = new Set<() => void>();

  constructor(options?: ProbeOptions) {
    super();
    const given = toOptions<ProbeOptions>(options, 'options', OPTION_NAMES);
    this.#host = given.host === undefined ? undefined : toHost(given.host, 'options.host');
    this.#port = given.port === undefined ? DEFAULT_PORT : toPort(given.port, 'options.port');
    this.#state = given.state === undefined ? ServiceState.Up : toState(given.state, 'options.state');
    if (given.logger !== undefined && (typeof given.logger !== 'object' || given.logger === null)) {
      throw new ProbeArgumentError('options.logger', 'an object with debug/info/warn/error methods', given.logger);
    }
    this.#limits = {
      maxHeaderSize: limit(given, 'maxHeaderSize'),
      headersTimeoutMs: limit(given, 'headersTimeoutMs'),
      requestTimeoutMs: limit(given, 'requestTimeoutMs'),
      keepAliveTimeoutMs: limit(given, 'keepAliveTimeoutMs'),
      maxConnections: limit(given, 'maxConnections'),
    };
    if (this.#limits.requestTimeoutMs < this.#limits.headersTimeoutMs) {
      throw new ProbeArgumentError('options.requestTimeoutMs', `at least headersTimeoutMs (${this.#limits.headersTimeoutMs})`, this.#limits.requestTimeoutMs);
    }
    if (given.exposeDetails !== undefined && typeof given.exposeDetails !== 'boolean') {
      throw new ProbeArgumentError('options.exposeDetails', 'a boolean', given.exposeDetails);
    }
    this.#exposeDetails = given.exposeDetails ?? false;
    this.#serverKind = toServerKind(given.server);
    if (given.grpc !== undefined && typeof given.grpc !== 'boolean') throw new ProbeArgumentError('options.grpc', 'a boolean', given.grpc);
    if (given.grpc === true && this.#serverKind === 'http') {
      throw new ProbeArgumentError('options.grpc', "false or left out with server: 'http' (gRPC needs the default server, 'net')", given.grpc);
    }
    this.#grpcEnabled = given.grpc !== false && this.#serverKind === 'net';
    this.#log = createLog(given.logger);
    this.#checks = new CheckRegistry(this.#log, (outcome) => {
      this.emit('check', outcome);
      this.#verdictChanged();
    });
    if (this.#state === ServiceState.Ready) this.#started = true;
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
    this.#log.debug(`Service state change: ${previous} to ${next}.`);
    if (next === ServiceState.Ready) this.markStarted();
    this.emit('change', next, previous);
    this.#verdictChanged();
  }

  /** True once the probe has been READY or `markStarted()` was called; `/started` then answers 200 for good. */
  get started(): boolean {
    return this.#started;
  }

  /** Marks start-up as finished without becoming READY: `/started` answers 200 from now on. */
  markStarted(): void {
    if (this.#started) return;
    this.#started = true;
    this.#resolveStarted?.();
    this.#verdictChanged();
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
        this.#serverKind === 'net'
          ? await listenRaw((method, target, accept) => this.#answerRaw(method, target, accept), host, port, this.#limits, this.#log, this.#grpcEnabled ? (socket) => this.#serveGrpc(socket) : undefined)
          : await listen((req, res) => this.#respond(req, res, route(req.method, req.url, acceptOf(req)), server), host, port, this.#limits, this.#log);
      this.#server = server;
      this.#stopping = undefined;
      this.#checks.open();
      if (state !== undefined) this.setState(state);
      const { address, port: boundPort } = server.bound;
      const shown = address.includes(':') ? `[${address}]` : address;
      this.#log.info(`Service readiness probe listening on http://${shown}:${boundPort}/ with initial state ${this.#state}`);
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
   * {@link SHUTDOWN_GRACE_PERIOD_MS}; logs an error if that had to be forced. Idempotent.
   */
  stop(): Promise<void> {
    this.#checks.close();
    if (this.#stopping !== undefined) return this.#stopping;
    const server = this.#server;
    if (server === undefined) {
      return this.#starting === undefined ? Promise.resolve() : this.#starting.then(() => this.stop(), () => undefined);
    }
    const grpc = this.#grpc;
    this.#grpc = undefined;
    const grpcStopped = grpc?.then((transport) => transport.stop(SHUTDOWN_GRACE_PERIOD_MS), () => undefined);
    this.#stopping = Promise.all([server.stop(SHUTDOWN_GRACE_PERIOD_MS), grpcStopped]).then(([inTime]) => {
      if (this.#server === server) this.#server = undefined;
      if (!inTime) this.#log.error(`Service probe did not stop within ${SHUTDOWN_GRACE_PERIOD_MS} ms; open connections were closed`);
      else this.#log.debug('Service probe stopped');
    });
    return this.#stopping;
  }

  /**
   * Answers a probe request inside an existing node:http server (or Express, Fastify, Koa via their
   * raw request and response). Returns `true` when it answered, `false` when the path is not the
   * probe's, so the caller can fall through to its own routes. The answer is byte for byte the
   * standalone server's (headers set earlier on `res` are dropped, except `Connection`).
   *
   * @param prefix  serve the probe paths under this mount prefix, e.g. `'/internal/health'`
   *                (leading slash, no trailing slash); default `''`
   */
  handle(req: IncomingMessage, res: ServerResponse, prefix = ''): boolean {
    if (prefix !== '') toPrefix(prefix, 'prefix');
    const routed = route(req.method, req.url, acceptOf(req), prefix);
    if (routed.kind !== 'probe' && !routed.owned) return false;
    clearHostHeaders(res);
    this.#respond(req, res, routed, undefined);
    return true;
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
    if (typeof name === 'string' && RESERVED_SERVICE_NAMES.has(name)) {
      throw new ProbeArgumentError('name', "a name other than 'liveness', 'readiness' and 'startup' (gRPC health service names)", name);
    }
    this.#checks.add(name, check, options);
    this.#verdictChanged();
  }

  /** Removes a check (its timer and monitor stop). Returns `false` if there was none of that name. */
  removeCheck(name: string): boolean {
    const removed = this.#checks.remove(name);
    if (removed) this.#verdictChanged();
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
    const resolved = toShutdownOptions(options, 'options', shutdownDefaults());
    return this.#shutdownSequence().handleSignals(resolved);
  }

  /**
   * The graceful shutdown sequence (see the README's "Graceful shutdown"). Options default to those
   * given to {@link Probe.handleSignals}, then to {@link shutdownDefaults}. Idempotent: every call
   * returns the same promise, which resolves only when `exit` is false.
   */
  shutdown(options?: ShutdownOptions): Promise<ShutdownResult> {
    const sequence = this.#shutdownSequence();
    if (sequence.shuttingDown) return sequence.run(shutdownDefaults(), 'shutdown()');
    let resolved;
    try {
      resolved = toShutdownOptions(options, 'options', sequence.signalOptions ?? shutdownDefaults());
    } catch (error) {
      return Promise.reject(error);
    }
    return sequence.run(resolved, 'shutdown() called');
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
        this.#verdictChanged();
      },
      stopProbe: () => this.stop(),
    });
    return this.#shutdown;
  }

  #respond(req: IncomingMessage, res: ServerResponse, routed: Route, server: ProbeServer | undefined): void {
    const response = this.#answer(routed);
    if (!(response instanceof Promise)) {
      writeResponse(req, res, response, routed.head, server?.stopping === true);
      return;
    }
    // #answer never rejects; the guard keeps a bug from becoming an unhandled rejection.
    response.then(
      (settled) => writeResponse(req, res, settled, routed.head, server?.stopping === true),
      (error: unknown) => this.#log.error(`probe: answering failed: ${String(error)}`),
    );
  }

  // The node:net server (raw-server.ts) asks here: the same decision, no req/res.
  #answerRaw(method: string, target: string, accept: string | undefined): RawAnswer | Promise<RawAnswer> {
    const routed = route(method, target, accept);
    const response = this.#answer(routed);
    return response instanceof Promise ? response.then((settled) => ({ response: settled, head: routed.head })) : { response, head: routed.head };
  }

  /**
   * The verdict source of gRPC health checking (src/grpc/): the HTTP status `GET target` answers,
   * decided by the same code as the HTTP endpoints, and a way to hear of verdict changes.
   * @internal
   */
  healthSource(): HealthSource {
    return {
      status: (target, latest) => {
        const answer = this.#answer(route('GET', target, undefined), latest);
        return answer instanceof Promise ? answer.then((settled) => settled.status) : answer.status;
      },
      checkNames: () => this.#checks.names(),
      subscribe: (listener) => {
        this.#verdictListeners.add(listener);
        return () => this.#verdictListeners.delete(listener);
      },
    };
  }

  #verdictChanged(): void {
    for (const listener of this.#verdictListeners) {
      try {
        listener();
      } catch (error) {
        this.#log.error(`probe: a verdict listener failed: ${String(error)}`);
      }
    }
  }

  // A connection that started with the HTTP/2 preface (raw-server.ts): the gRPC code and node:http2
  // are loaded on the first one.
  #serveGrpc(socket: Socket): void {
    if (this.#stopping !== undefined) {
      // A preface completed after stop() began: no new transport for it.
      socket.destroy();
      return;
    }
    this.#grpc ??= import('./grpc/http2-transport.js').then(({ GrpcTransport }) => new GrpcTransport(this.healthSource(), this.#limits, this.#log));
    this.#grpc.then(
      (transport) => transport.accept(socket),
      (error: unknown) => {
        this.#log.error(`probe: cannot load the gRPC transport: ${String(error)}`);
        socket.destroy();
      },
    );
  }

  // The answer to a routed request: at once when no check has to run, later when one does. With
  // `latest`, on-demand checks that have a result are not run again (see CheckRegistry.evaluate).
  #answer(routed: Route, latest = false): RenderedResponse | Promise<RenderedResponse> {
    if (routed.kind !== 'probe') return routed.kind === 'not-found' ? NOT_FOUND : METHOD_NOT_ALLOWED;
    if (routed.check === undefined && !routed.verbose && routed.format === 'text' && (this.#checks.size === 0 || routed.endpoint === 'started')) {
      // The hot path: no check to run, a precomputed answer.
      const verdict = stateVerdict(routed.endpoint, this.#state, this.#started, this.#readyWhileDraining);
      return stateText(verdict.status, verdict.word);
    }
    const outcomes = routed.endpoint === 'started' ? [] : this.#checks.evaluate({ endpoint: routed.endpoint, only: routed.check, exclude: routed.exclude }, latest);
    if (outcomes === undefined) return NOT_FOUND;
    if (!(outcomes instanceof Promise)) return this.#render(routed, outcomes);
    return outcomes
      .then((settled) => this.#render(routed, settled))
      .catch((error: unknown) => {
        this.#log.error(`probe: evaluating checks failed: ${String(error)}`);
        return stateText(503, this.#state);
      });
  }

  #render(routed: ProbeRoute, outcomes: readonly CheckOutcome[]): RenderedResponse {
    const verdict =
      routed.check !== undefined
        ? singleCheckVerdict(this.#state, outcomes[0]!)
        : checksVerdict(routed.endpoint, stateVerdict(routed.endpoint, this.#state, this.#started, this.#readyWhileDraining), outcomes);
    return renderDetailed(verdict, routed.format, routed.verbose, this.#exposeDetails);
  }
}

function toServerKind(given: unknown): ServerKind {
  if (given === 'net' || given === 'http') return given;
  if (given !== undefined) throw new ProbeArgumentError('options.server', "'net' or 'http'", given);
  const fromEnvironment = process.env.SERVICE_PROBE_SERVER;
  return fromEnvironment === 'http' ? 'http' : 'net';
}

function limit(given: Partial<ProbeOptions>, name: keyof ServerLimits): number {
  const value = given[name];
  return value === undefined ? DEFAULT_LIMITS[name] : toPositiveInteger(value, `options.${name}`);
}

// Header lookups scan rawHeaders instead of reading `req.headers`, which node:http builds lazily
// as a new object on first access: the plain GET /ready path stays allocation-free.
function rawHeader(req: IncomingMessage, lowerName: string): string | undefined {
  const raw = req.rawHeaders;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!;
    if (name.length === lowerName.length && name.toLowerCase() === lowerName) return raw[i + 1];
  }
  return undefined;
}

function acceptOf(req: IncomingMessage): string | undefined {
  return rawHeader(req, 'accept');
}

// A probe never reads a request body. When one is announced, the connection is closed after the
// answer instead of reading and discarding an arbitrary amount of data to keep it alive.
function announcesBody(req: IncomingMessage): boolean {
  const length = rawHeader(req, 'content-length');
  return (length !== undefined && length !== '0') || rawHeader(req, 'transfer-encoding') !== undefined;
}

// A probe answer is the same bytes wherever it is mounted: headers a framework or an earlier
// middleware set on the response (Express's X-Powered-By, CORS, …) are dropped. `Connection`
// stays: a draining tracked server sets it to ask the client to close.
function clearHostHeaders(res: ServerResponse): void {
  for (const name of res.getHeaderNames()) if (name !== 'connection') res.removeHeader(name);
}

function writeResponse(req: IncomingMessage, res: ServerResponse, response: RenderedResponse, head: boolean, closing: boolean): void {
  // A response that waited for checks may find its client gone, or an answer already written
  // (by a framework, or a second call of handle()): it is then dropped, never written twice.
  if (res.headersSent || res.writableEnded || res.destroyed || req.socket?.destroyed === true) return;
  const sent = closing || announcesBody(req) ? withConnectionClose(response) : response;
  res.writeHead(sent.status, sent.headers as OutgoingHttpHeader[]);
  res.end(head ? undefined : sent.body);
}

/** Checks a mount prefix: `''`, or a path that starts with `/` and does not end with one (`/internal/health`). */
export function toPrefix(prefix: unknown, argument: string): string {
  if (typeof prefix === 'string' && (prefix === '' || (prefix.charCodeAt(0) === 47 && !prefix.endsWith('/') && !/[?#\s]/.test(prefix)))) {
    return prefix;
  }
  throw new ProbeArgumentError(argument, "'' or a path such as '/internal/health' (leading slash, no trailing slash)", prefix);
}

/** Creates a probe with its own state and server. See {@link ProbeOptions}. */
export function createProbe(options?: ProbeOptions): Probe {
  return new Probe(options);
}
