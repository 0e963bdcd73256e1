// The probe's own node:http server: limits and timeouts against slow or hostile clients,
// connection tracking, and a stop that closes every connection within a grace period.
// It knows nothing of routing: every request goes to the handler it is given.

import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { ProbeStartError } from './errors.js';
import type { Log } from './log.js';

/** Limits of the standalone probe server. All durations in milliseconds. */
export interface ServerLimits {
  /** Largest request head in bytes; over it the client gets 431. Default 8192. */
  readonly maxHeaderSize: number;
  /** Time a client has to send the whole request head. Default 10 000. */
  readonly headersTimeoutMs: number;
  /**
   * Time a client has to send the whole request; also how long a connection may stay silent before
   * its first request. Default 15 000.
   */
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
export const BAD_REQUEST = clientErrorBytes(400, 'Bad Request');
export const HEADERS_TOO_LARGE = clientErrorBytes(431, 'Request Header Fields Too Large');
export const REQUEST_TIMEOUT = clientErrorBytes(408, 'Request Timeout');

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
  });
  // node:http enforces headersTimeout only once a request has begun: a connection that sends
  // nothing at all would stay open for ever. An inactivity timeout closes those too; a request in
  // flight is bounded by requestTimeout anyway.
  server.timeout = limits.requestTimeoutMs;
  server.on('request', handler);

  const open = new Set<Socket>();
  server.on('connection', (socket: Socket) => {
    open.add(socket);
    socket.once('close', () => open.delete(socket));
    if (open.size > limits.maxConnections) {
      // Set iteration is insertion order: the first is the oldest.
      const oldest = open.values().next().value as Socket;
      log.warn(`probe server: more than ${limits.maxConnections} connections; closing the oldest`);
      oldest.destroy();
    }
  });
  server.on('clientError', (error: NodeJS.ErrnoException, socket: Socket) => onClientError(error, socket, log));

  return new Promise<ProbeServer>((resolve, reject) => {
    const onListenError = (error: NodeJS.ErrnoException) => {
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
      const bound =
        info !== null && typeof info === 'object' ? { address: info.address, port: info.port } : { address: String(host), port };
      resolve(createHandle(server, open, bound, log));
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
        const idleSweep = setInterval(() => server.closeIdleConnections(), 25);
        // The callback runs once the listening socket and every connection are closed.
        server.close(() => {
          clearTimeout(graceTimer);
          clearInterval(idleSweep);
          resolve(!forced);
        });
        server.closeIdleConnections();
      });
      return stopped;
    },
  };
  return handle;
}
