// The server core of the standalone probe servers (the node:net reader in raw-server.ts, node:http
// in http-server.ts): limits, bind, the connection cap, the one serializer for every byte the
// probe writes itself, end-then-destroy, and the graceful stop within a grace period. It knows
// nothing of routing or verdicts (it asks an Answerer: the probe's responder) nor of the HTTP/1
// rules (http1-policy.ts). The transports import this and the policy, never each other: a new
// standalone server is one more file that does the same.

import type { Server as NetServer, Socket } from 'node:net';
import { ProbeArgumentError, ProbeStartError } from './errors.js';
import type { Log } from './log.js';
import { toDuration, toPositiveInteger } from './options.js';
import type { RenderedResponse } from './render.js';

// The reason phrases of the statuses the probe answers with, as node:http writes them; any other
// status asks node:http's table (the default server does not load node:http otherwise: it costs a
// few ms of start-up).
const REASONS: Readonly<Record<number, string>> = {
  200: 'OK',
  400: 'Bad Request',
  404: 'Not Found',
  405: 'Method Not Allowed',
  408: 'Request Timeout',
  417: 'Expectation Failed',
  431: 'Request Header Fields Too Large',
  503: 'Service Unavailable',
};

/** The reason phrase node:http writes for `status`. */
export function reasonPhrase(status: number): string {
  return REASONS[status] ?? process.getBuiltinModule('node:http').STATUS_CODES[status] ?? 'unknown';
}

/**
 * What a transport asks for each request: the probe's responder (responder.ts) in its standalone
 * form (no mount prefix, so every path gets an answer, 404 included). The transport writes what
 * it gets back, with HEAD and `Connection` as the HTTP/1 policy (http1-policy.ts) has them.
 */
export interface Answerer {
  answer(method: string, target: string, accept: string | undefined): RenderedResponse | Promise<RenderedResponse>;
}

/** Limits of the standalone probe server. All durations in milliseconds. */
export interface ServerLimits {
  /**
   * Request-head size limit, at most 65 536: the bytes of the target, field names and field values
   * (node:http's count, which the node:net reader applies too); once they reach it the client gets
   * 431. Default 8192.
   */
  readonly maxHeaderSize: number;
  /**
   * Time a client has to send the whole request head, counted from the connection's start for its
   * first request: a connection that stays silent gets a 408 and is closed. Default 10 000.
   */
  readonly headersTimeoutMs: number;
  /** Time a client has to send the whole request; at least `headersTimeoutMs`. Default 15 000. */
  readonly requestTimeoutMs: number;
  /** How long an idle keep-alive connection stays open. Default 5 000. */
  readonly keepAliveTimeoutMs: number;
  /**
   * Most connections open at once, at most 65 536. Past it the *oldest* connection is closed, not
   * the new one: a client holding connections open cannot lock kubelet out. Default 1024.
   */
  readonly maxConnections: number;
}

/** The limits of a probe server unless told otherwise. */
export const DEFAULT_LIMITS: ServerLimits = Object.freeze({
  maxHeaderSize: 8192,
  headersTimeoutMs: 10_000,
  requestTimeoutMs: 15_000,
  keepAliveTimeoutMs: 5_000,
  maxConnections: 1024,
});

// A probe request is a request line and a few short headers: a head over 64 KiB is never one
// (node:http's own default stops at 16 KiB). A probe port needs no more than 65 536 connections,
// each a file descriptor. Durations stop at the timer maximum, as every duration option does.
const MAX_HEADER_SIZE = 65_536;
const MAX_CONNECTIONS = 65_536;

/** Checks the server limits among a probe's options (`argument` names the options object) and applies the defaults. */
export function resolveLimits(given: { readonly [K in keyof ServerLimits]?: unknown }, argument: string): ServerLimits {
  const pick = (name: keyof ServerLimits, check: (value: unknown, argument: string) => number): number =>
    given[name] === undefined ? DEFAULT_LIMITS[name] : check(given[name], `${argument}.${name}`);
  const limits: ServerLimits = Object.freeze({
    maxHeaderSize: pick('maxHeaderSize', (value, name) => toPositiveInteger(value, name, MAX_HEADER_SIZE)),
    headersTimeoutMs: pick('headersTimeoutMs', toDuration),
    requestTimeoutMs: pick('requestTimeoutMs', toDuration),
    keepAliveTimeoutMs: pick('keepAliveTimeoutMs', toDuration),
    maxConnections: pick('maxConnections', (value, name) => toPositiveInteger(value, name, MAX_CONNECTIONS)),
  });
  if (limits.requestTimeoutMs < limits.headersTimeoutMs) {
    throw new ProbeArgumentError(`${argument}.requestTimeoutMs`, `at least headersTimeoutMs (${limits.headersTimeoutMs})`, limits.requestTimeoutMs);
  }
  return limits;
}

/** Where the server listens. */
export interface BoundAddress {
  readonly address: string;
  readonly port: number;
}

/** A listening probe server, whatever its transport. */
export interface ProbeServer {
  readonly bound: BoundAddress;
  /** Connections open now. */
  readonly connections: number;
  /**
   * Stops accepting, closes idle connections at once, lets in-flight requests finish (their
   * answers carry `Connection: close`), and destroys whatever is still open after `graceMs`.
   * Resolves `true` if everything closed in time. Idempotent.
   */
  stop(graceMs: number): Promise<boolean>;
}

/** Starts a transport's server: what raw-server.ts and http-server.ts each export. */
export type Listen = (
  answerer: Answerer,
  host: string | undefined,
  port: number,
  limits: ServerLimits,
  log: Log,
  /** Takes over a connection whose first bytes are the HTTP/2 preface (gRPC); transports that cannot tell leave it out. */
  onHttp2?: (socket: Socket) => void,
) => Promise<ProbeServer>;

// ---- The serializer -------------------------------------------------------------------------

// node:http caches the Date header per second; so do we.
let dateText = '';
let dateExpires = 0;
/** The `Date` header's value for `now` (ms since the epoch), computed once a second. */
export function currentDate(now: number): string {
  if (now >= dateExpires) {
    dateText = new Date(now).toUTCString();
    dateExpires = now - (now % 1000) + 1000;
  }
  return dateText;
}

/**
 * The bytes of a response exactly as node:http writes them for `writeHead(status, headers)` and
 * `end(body)`: the status line, the given headers in order, then `Date` (left out when `date` is
 * undefined, as node:http leaves it out of what its clientError listener writes), then
 * `Connection` (and `Keep-Alive`) unless the response sets `Connection` itself. `head`: no body.
 */
export function serialize(response: RenderedResponse, date: string | undefined, keepAlive: boolean, head: boolean, keepAliveSeconds: number): Buffer {
  let text = `HTTP/1.1 ${response.status} ${reasonPhrase(response.status)}\r\n`;
  let ownConnection = false;
  const headers = response.headers;
  for (let i = 0; i < headers.length; i += 2) {
    const name = headers[i]!;
    if (name.length === 10 && name.toLowerCase() === 'connection') ownConnection = true;
    text += `${name}: ${headers[i + 1]!}\r\n`;
  }
  if (date !== undefined) text += `Date: ${date}\r\n`;
  if (!ownConnection) text += keepAlive ? `Connection: keep-alive\r\nKeep-Alive: timeout=${keepAliveSeconds}\r\n` : 'Connection: close\r\n';
  text += '\r\n';
  const headBytes = Buffer.from(text, 'latin1');
  return head || response.body.length === 0 ? headBytes : Buffer.concat([headBytes, response.body]);
}

const refusals = new WeakMap<RenderedResponse, Buffer>();
/**
 * The fixed bytes of a refusal written before any request could be read (400, 408, 431, and 405 to
 * CONNECT): no `Date`, `Connection: close`, computed once per response. Nothing from the request
 * is echoed.
 */
export function refusalBytes(response: RenderedResponse): Buffer {
  let bytes = refusals.get(response);
  if (bytes === undefined) {
    bytes = serialize(response, undefined, false, false, 0);
    refusals.set(response, bytes);
  }
  return bytes;
}

type Mode = 0 | 1 | 2 | 3; // keep-alive, close, keep-alive HEAD, close HEAD
interface CachedBytes {
  date: string;
  bytes: (Buffer | undefined)[];
}

/**
 * The serializer with a cache for a server's answers: `(response, keepAlive, head, now) → bytes`.
 * Precomputed answers (the plain state words) are serialized once a second per mode, so the hot
 * path is a WeakMap lookup.
 */
export function cachedSerializer(keepAliveTimeoutMs: number): (response: RenderedResponse, keepAlive: boolean, head: boolean, now: number) => Buffer {
  const keepAliveSeconds = Math.floor(keepAliveTimeoutMs / 1000);
  const cache = new WeakMap<RenderedResponse, CachedBytes>();
  return (response, keepAlive, head, now) => {
    const date = currentDate(now);
    let cached = cache.get(response);
    if (cached === undefined || cached.date !== date) {
      cached = { date, bytes: [] };
      cache.set(response, cached);
    }
    const mode = ((keepAlive ? 0 : 1) + (head ? 2 : 0)) as Mode;
    return (cached.bytes[mode] ??= serialize(response, date, keepAlive, head, keepAliveSeconds));
  };
}

// ---- Connections ----------------------------------------------------------------------------

/**
 * Ends a connection after writing `bytes`, and destroys it one second later if it is still open:
 * a client that never reads its answer, or keeps writing, must not keep the socket half-open. A
 * fixed deadline, not an inactivity timeout that the client's own writes would keep resetting.
 */
export function endThenDestroy(socket: Socket, bytes: Buffer): void {
  socket.end(bytes);
  const deadline = setTimeout(() => socket.destroy(), 1000).unref();
  socket.once('close', () => clearTimeout(deadline));
}

/**
 * The connection cap: past `maxConnections` the *oldest* connection is closed, so a client
 * hoarding connections cannot lock kubelet out. A flood closes one connection per new one, so the
 * warning is logged once a second at most, with a count: an attacker cannot turn connections into
 * a flood of log lines. Call it with the open count after each new one.
 */
export function connectionCap(maxConnections: number, log: Log): (openCount: number, oldest: () => Socket) => void {
  let closedByCap = 0;
  let lastWarning = -Infinity;
  return (openCount, oldest) => {
    if (openCount <= maxConnections) return;
    oldest().destroy();
    closedByCap++;
    const now = performance.now();
    if (now - lastWarning >= 1000) {
      log.warn(
        { event: 'connection-cap', maxConnections, closed: closedByCap },
        `probe server: more than ${maxConnections} connections; closed the oldest (${closedByCap} since the last warning)`,
      );
      lastWarning = now;
      closedByCap = 0;
    }
  };
}

/**
 * A server's open connections, each with the transport's own state `T`, oldest first, under the
 * connection cap: adding one past `maxConnections` closes the oldest.
 */
export class OpenConnections<T> {
  readonly #open = new Map<Socket, T>();
  readonly #cap: (openCount: number, oldest: () => Socket) => void;
  readonly #oldest = (): Socket => this.#open.keys().next().value as Socket;

  constructor(maxConnections: number, log: Log) {
    this.#cap = connectionCap(maxConnections, log);
  }

  /** Tracks `socket` until it closes, then applies the cap. */
  add(socket: Socket, state: T): void {
    this.#open.set(socket, state);
    socket.once('close', () => this.#open.delete(socket));
    // Map iteration is insertion order: the first is the oldest.
    this.#cap(this.#open.size, this.#oldest);
  }

  get size(): number {
    return this.#open.size;
  }

  sockets(): IterableIterator<Socket> {
    return this.#open.keys();
  }

  states(): IterableIterator<T> {
    return this.#open.values();
  }
}

// ---- Bind and stop --------------------------------------------------------------------------

/**
 * Binds a node:http or node:net server to `host:port` and resolves to where it listens. When it
 * cannot bind, the server is closed, `onFailure` runs, and the promise rejects a ProbeStartError
 * `SOCKET_UNAVAILABLE` with the OS error as `cause`: nothing is left listening.
 */
export function bind(server: NetServer, host: string | undefined, port: number, log: Log, onFailure: () => void = () => {}): Promise<BoundAddress> {
  return new Promise<BoundAddress>((resolve, reject) => {
    const onListenError = (error: NodeJS.ErrnoException) => {
      onFailure();
      server.removeAllListeners();
      server.close();
      const where = `${host ?? 'all interfaces'} port ${port}`;
      // listen() looks a host name up first; its failure is the name's, not the port's.
      const why = error.syscall === 'getaddrinfo' ? `the host name does not resolve (${error.code})` : (error.code ?? error.message);
      reject(new ProbeStartError('SOCKET_UNAVAILABLE', `Cannot listen on ${where}: ${why}`, { cause: error }));
    };
    server.once('error', onListenError);
    server.listen({ host, port, exclusive: true }, () => {
      server.off('error', onListenError);
      server.on('error', (error) => log.error({ event: 'server-error', reason: error.message, err: error }, `probe server error: ${error.message}`));
      const info = server.address();
      resolve(info !== null && typeof info === 'object' ? { address: info.address, port: info.port } : { address: String(host), port });
    });
  });
}

/**
 * The handle of a bound standalone server: its connection count, and its stop (once, whatever
 * the number of calls): `beginStop` first (the transport's own flag, so answers from then on close
 * their connections), then {@link stopWithin}, then `afterStop` (the transport's own timers).
 */
export function serverHandle(
  bound: BoundAddress,
  server: NetServer,
  open: OpenConnections<unknown>,
  closeIdle: () => void,
  log: Log,
  beginStop: () => void,
  afterStop: () => void = () => {},
): ProbeServer {
  let stopped: Promise<boolean> | undefined;
  return {
    bound,
    get connections() {
      return open.size;
    },
    stop(graceMs: number): Promise<boolean> {
      beginStop();
      stopped ??= stopWithin(server, open, closeIdle, graceMs, log).finally(afterStop);
      return stopped;
    },
  };
}

/**
 * The graceful stop of both servers: stop accepting; close idle connections now and again every
 * 25 ms (a request in flight when the stop began answers with `Connection: close` and goes idle);
 * destroy whatever is still open after `graceMs`. Resolves `true` if everything closed in time.
 * `closeIdle` is the transport's own: it alone knows which of its connections are idle.
 */
export function stopWithin(server: NetServer, open: OpenConnections<unknown>, closeIdle: () => void, graceMs: number, log: Log): Promise<boolean> {
  return new Promise<boolean>((resolve) => {
    let forced = false;
    const graceTimer = setTimeout(() => {
      forced = true;
      log.error(
        { event: 'connections-forced-closed', connections: open.size, graceMs },
        `probe server: ${open.size} connection(s) still open after the ${graceMs} ms grace period; closing them`,
      );
      for (const socket of open.sockets()) socket.destroy();
    }, graceMs);
    const idleSweep = setInterval(closeIdle, 25);
    // The callback runs once the listening socket and every connection are closed.
    server.close(() => {
      clearTimeout(graceTimer);
      clearInterval(idleSweep);
      resolve(!forced);
    });
    closeIdle();
  });
}
