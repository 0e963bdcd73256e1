// The probe's own node:http server: limits and timeouts against slow or hostile clients,
// connection tracking, and a stop that closes every connection within a grace period.
// It knows nothing of routing: every request goes to the handler it is given.

import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Server as NetServer, Socket } from 'node:net';
import { ProbeStartError } from './errors.js';
import type { Log } from './log.js';
import { BAD_REQUEST as MISSING_HOST, EXPECTATION_FAILED, METHOD_NOT_ALLOWED, type RenderedResponse } from './render.js';

/** Limits of the standalone probe server. All durations in milliseconds. */
export interface ServerLimits {
  /**
   * Request-head size limit: the bytes of the target, field names and field values (node:http's
   * count, which the node:net reader applies too); once they reach it the client gets 431. Default 8192.
   */
  readonly maxHeaderSize: number;
  /**
   * Time a client has to send the whole request head, counted from the connection's start for its
   * first request: a connection that stays silent gets a 408 and is closed. Default 10 000.
   */
  readonly headersTimeoutMs: number;
  /** Time a client has to send the whole request. Default 15 000. */
  readonly requestTimeoutMs: number;
  /** How long an idle keep-alive connection stays open. Default 5 000. */
  readonly keepAliveTimeoutMs: number;
  /**
   * Most connections open at once. Past it the *oldest* connection is closed, not the new one:
   * a client holding connections open cannot lock kubelet out. Default 1024.
   */
  readonly maxConnections: number;
}

export const DEFAULT_LIMITS: ServerLimits = Object.freeze({
  maxHeaderSize: 8192,
  headersTimeoutMs: 10_000,
  requestTimeoutMs: 15_000,
  keepAliveTimeoutMs: 5_000,
  maxConnections: 1024,
});

/** Where the server listens. */
export interface BoundAddress {
  readonly address: string;
  readonly port: number;
}

/** A listening probe server. */
export interface ProbeServer {
  readonly bound: BoundAddress;
  /** True from the moment `stop` is called: responses then carry `Connection: close`. */
  readonly stopping: boolean;
  /** Connections open now. */
  readonly connections: number;
  /**
   * Stops accepting, closes idle connections at once, lets in-flight requests finish, and
   * destroys whatever is still open after `graceMs`. Resolves `true` if everything closed in time.
   */
  stop(graceMs: number): Promise<boolean>;
}

type Handler = (req: IncomingMessage, res: ServerResponse) => void;

// Answers written straight to the socket for requests node:http could not parse. Fixed bytes:
// nothing from the request is echoed.
function clientErrorBytes(status: number, reason: string): Buffer {
  return Buffer.from(
    `HTTP/1.1 ${status} ${reason}\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: ${reason.length}\r\n` +
      `Cache-Control: no-store\r\nX-Content-Type-Options: nosniff\r\nConnection: close\r\n\r\n${reason}`,
    'latin1',
  );
}
// A rendered response as raw bytes with `Connection: close`, for sockets node:http hands over
// without a response object (CONNECT).
function rawBytes(response: RenderedResponse, reason: string): Buffer {
  let head = `HTTP/1.1 ${response.status} ${reason}\r\n`;
  for (let i = 0; i < response.headers.length; i += 2) head += `${response.headers[i]}: ${response.headers[i + 1]}\r\n`;
  return Buffer.concat([Buffer.from(`${head}Connection: close\r\n\r\n`, 'latin1'), response.body]);
}
// node:http gives CONNECT requests to 'connect' listeners and, with none, drops the connection
// without a word; the probe answers it like any other method it does not serve.
export const CONNECT_NOT_ALLOWED = rawBytes(METHOD_NOT_ALLOWED, 'Method Not Allowed');

export const BAD_REQUEST = clientErrorBytes(400, 'Bad Request');
export const HEADERS_TOO_LARGE = clientErrorBytes(431, 'Request Header Fields Too Large');
export const REQUEST_TIMEOUT = clientErrorBytes(408, 'Request Timeout');

// RFC 9112 §3.2: a server MUST answer 400 to an HTTP/1.1 request without Host. HTTP/1.0 needs
// none (old health checkers send none), so only 1.1 is held to it.
function requireHost(req: IncomingMessage, res: ServerResponse): boolean {
  if (req.httpVersionMajor !== 1 || req.httpVersionMinor !== 1) return true;
  const raw = req.rawHeaders;
  for (let i = 0; i < raw.length; i += 2) if (raw[i]!.length === 4 && raw[i]!.toLowerCase() === 'host') return true;
  res.writeHead(MISSING_HOST.status, MISSING_HOST.headers as string[]);
  res.end(MISSING_HOST.body);
  return false;
}

// node:http answers pipelined requests in order: each answer waits, in memory, behind the one
// before it. A client that pipelines without reading makes it hold about 50 bytes per request,
// read a megabyte at a time (1.5 MB per connection measured, so 1.5 GB at the connection cap).
// Probe clients never pipeline deeply; past this many answers queued on one connection it is
// closed. Counted only for queued answers, so the plain one-at-a-time path pays nothing.
export const MAX_QUEUED_ANSWERS = 64;
const queuedAnswers = Symbol('service-probe.queuedAnswers');
type CountedSocket = Socket & { [queuedAnswers]?: number };

function withinPipelineLimit(req: IncomingMessage, res: ServerResponse, log: Log): boolean {
  // node:http gives a response its socket at once unless an earlier answer is still being written.
  if (res.socket !== null) return true;
  const socket = req.socket as CountedSocket;
  const queued = (socket[queuedAnswers] ?? 0) + 1;
  if (queued > MAX_QUEUED_ANSWERS) {
    if (!socket.destroyed) log.debug(`probe server: more than ${MAX_QUEUED_ANSWERS} pipelined answers unread; closing the connection`);
    socket.destroy();
    return false;
  }
  socket[queuedAnswers] = queued;
  res.once('finish', () => {
    socket[queuedAnswers] = (socket[queuedAnswers] ?? 1) - 1;
  });
  return true;
}

/** Starts a server on `host:port`; rejects a ProbeStartError `SOCKET_UNAVAILABLE` and leaves nothing behind if it cannot bind. */
export function listen(handler: Handler, host: string | undefined, port: number, limits: ServerLimits, log: Log): Promise<ProbeServer> {
  const server = createServer({
    maxHeaderSize: limits.maxHeaderSize,
    headersTimeout: limits.headersTimeoutMs,
    requestTimeout: limits.requestTimeoutMs,
    keepAliveTimeout: limits.keepAliveTimeoutMs,
    // How often node:http enforces the two timeouts above; its default (30 s) would let a
    // slowloris hold a connection for up to 30 s past the limit.
    connectionsCheckingInterval: Math.min(1000, limits.headersTimeoutMs),
    // node:http's own answer to a missing Host is a bare chunked 400 without the headers every
    // probe response carries; the probe sends its own fixed 400 instead (see requireHost).
    requireHostHeader: false,
  });
  server.on('request', (req: IncomingMessage, res: ServerResponse) => {
    if (withinPipelineLimit(req, res, log) && requireHost(req, res)) handler(req, res);
  });

  const open = new Set<Socket>();
  const cap = connectionCap(limits.maxConnections, log);
  server.on('connection', (socket: Socket) => {
    open.add(socket);
    socket.once('close', () => open.delete(socket));
    // Set iteration is insertion order: the first is the oldest.
    cap(open.size, () => open.values().next().value as Socket);
  });
  server.on('clientError', (error: NodeJS.ErrnoException, socket: Socket) => onClientError(error, socket, log));
  server.on('connect', (_req: IncomingMessage, socket: Socket) => {
    // node:http hands the socket over without its error listener: a client that resets while the
    // answer is written (EPIPE) must not become an uncaught exception in the host process.
    socket.on('error', () => socket.destroy());
    socket.end(CONNECT_NOT_ALLOWED);
    // As for client errors: a fixed deadline that the client's own writes cannot keep resetting.
    const deadline = setTimeout(() => socket.destroy(), 1000).unref();
    socket.once('close', () => clearTimeout(deadline));
  });
  // node:http's own answer to an unknown `Expect` is a bare 417 without the probe's headers.
  server.on('checkExpectation', (_req: IncomingMessage, res: ServerResponse) => {
    res.writeHead(EXPECTATION_FAILED.status, EXPECTATION_FAILED.headers as string[]);
    res.end(EXPECTATION_FAILED.body);
  });

  return bind(server, host, port, log).then((bound) => createHandle(server, open, bound, log));
}

/**
 * The connection cap of both standalone servers: past `maxConnections` the *oldest* connection is
 * closed, so a client hoarding connections cannot lock kubelet out. A flood closes one connection
 * per new one, so the warning is logged once a second at most, with a count: an attacker cannot
 * turn connections into a flood of log lines. Call it with the open count after each new one.
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
      log.warn(`probe server: more than ${maxConnections} connections; closed the oldest (${closedByCap} since the last warning)`);
      lastWarning = now;
      closedByCap = 0;
    }
  };
}

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
      reject(new ProbeStartError('SOCKET_UNAVAILABLE', `Cannot listen on ${where}: ${error.code ?? error.message}`, { cause: error }));
    };
    server.once('error', onListenError);
    server.listen({ host, port, exclusive: true }, () => {
      server.off('error', onListenError);
      server.on('error', (error) => log.error(`probe server error: ${error.message}`));
      const info = server.address();
      resolve(info !== null && typeof info === 'object' ? { address: info.address, port: info.port } : { address: String(host), port });
    });
  });
}

function onClientError(error: NodeJS.ErrnoException, socket: Socket, log: Log): void {
  log.debug(`probe server: client error ${error.code ?? error.message}`);
  // A response is under way on this socket (node:http's own check): it can only be cut.
  const inFlight = (socket as unknown as { _httpMessage?: { headersSent?: boolean } })._httpMessage;
  if (error.code === 'ECONNRESET' || !socket.writable || inFlight?.headersSent) {
    socket.destroy();
    return;
  }
  const answer =
    error.code === 'HPE_HEADER_OVERFLOW'
      ? HEADERS_TOO_LARGE
      : error.code === 'ERR_HTTP_REQUEST_TIMEOUT'
        ? REQUEST_TIMEOUT
        : BAD_REQUEST;
  socket.end(answer);
  // A client that never reads its answer, or keeps writing, must not keep the socket half-open:
  // a fixed deadline, not an inactivity timeout that the client's own writes would keep resetting.
  const deadline = setTimeout(() => socket.destroy(), 1000).unref();
  socket.once('close', () => clearTimeout(deadline));
}

// node:http's closeIdleConnections() leaves alone a connection that has not sent a byte yet (it
// counts as a request under way, so that headersTimeout applies to it). Such a connection has no
// request to finish: a stop closes it at once instead of waiting out the grace period for it.
function closeIdle(server: Server, open: ReadonlySet<Socket>): void {
  server.closeIdleConnections();
  for (const socket of open) if (socket.bytesRead === 0) socket.destroy();
}

function createHandle(server: Server, open: Set<Socket>, bound: BoundAddress, log: Log): ProbeServer {
  let stopped: Promise<boolean> | undefined;
  const handle = {
    bound,
    stopping: false,
    get connections() {
      return open.size;
    },
    stop(graceMs: number): Promise<boolean> {
      stopped ??= new Promise<boolean>((resolve) => {
        handle.stopping = true;
        let forced = false;
        const graceTimer = setTimeout(() => {
          forced = true;
          log.error(`probe server: ${open.size} connection(s) still open after the ${graceMs} ms grace period; closing them`);
          for (const socket of open) socket.destroy();
        }, graceMs);
        // A request in flight when stop began answers with `Connection: close`; sweeping idle
        // connections again closes those that finished and went back to idle in the meantime.
        const idleSweep = setInterval(() => closeIdle(server, open), 25);
        // The callback runs once the listening socket and every connection are closed.
        server.close(() => {
          clearTimeout(graceTimer);
          clearInterval(idleSweep);
          resolve(!forced);
        });
        closeIdle(server, open);
      });
      return stopped;
    },
  };
  return handle;
}
