// The node:http transport: the standalone server on node:http (`server: 'http'`), loaded by
// `Probe.start()` only for that server kind (node:http costs a few ms to load). It carries bytes
// only: it asks `Probe.answer` and writes what it gets back, adding HEAD, `Connection: close` and
// framing from its own request and its own state. Limits, bind, the cap, the refusal bytes and the
// stop come from the server core.

import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { Log } from './log.js';
import { acceptOf, respond } from './http-response.js';
import { BAD_REQUEST, EXPECTATION_FAILED, HEADERS_TOO_LARGE, METHOD_NOT_ALLOWED, REQUEST_TIMEOUT } from './render.js';
import { bind, endThenDestroy, MAX_QUEUED_ANSWERS, OpenConnections, refusalBytes, serverHandle, type Answerer, type Listen } from './server-core.js';

// Not `import … from 'node:http'`: on Node 22 and 24 that evaluates node:http's lazy WebSocket
// getters, which load undici and tls (see client.ts).
const { createServer } = process.getBuiltinModule('node:http');

// ---- The standalone node:http server --------------------------------------------------------

// RFC 9112 §3.2: a server MUST answer 400 to an HTTP/1.1 request without Host. HTTP/1.0 needs
// none (old health checkers send none), so only 1.1 is held to it.
function requireHost(req: IncomingMessage, res: ServerResponse): boolean {
  if (req.httpVersionMajor !== 1 || req.httpVersionMinor !== 1) return true;
  const raw = req.rawHeaders;
  for (let i = 0; i < raw.length; i += 2) if (raw[i]!.length === 4 && raw[i]!.toLowerCase() === 'host') return true;
  res.writeHead(BAD_REQUEST.status, BAD_REQUEST.headers as string[]);
  res.end(BAD_REQUEST.body);
  return false;
}

const queuedAnswers = Symbol('service-probe.queuedAnswers');
type CountedSocket = Socket & { [queuedAnswers]?: number };

// Counted only for queued answers, so the plain one-at-a-time path pays nothing.
function withinPipelineLimit(req: IncomingMessage, res: ServerResponse, log: Log): boolean {
  // node:http gives a response its socket at once unless an earlier answer is still being written.
  if (res.socket !== null) return true;
  const socket = req.socket as CountedSocket;
  const queued = (socket[queuedAnswers] ?? 0) + 1;
  if (queued > MAX_QUEUED_ANSWERS) {
    if (!socket.destroyed && log.enabled('debug')) {
      log.debug(
        { event: 'pipeline-limit', limit: MAX_QUEUED_ANSWERS, remoteAddress: socket.remoteAddress },
        `probe server: more than ${MAX_QUEUED_ANSWERS} pipelined answers unread; closing the connection`,
      );
    }
    socket.destroy();
    return false;
  }
  socket[queuedAnswers] = queued;
  res.once('finish', () => {
    socket[queuedAnswers] = (socket[queuedAnswers] ?? 1) - 1;
  });
  return true;
}

function onClientError(error: NodeJS.ErrnoException, socket: Socket, log: Log): void {
  if (log.enabled('debug')) {
    const reason = error.code ?? error.message;
    log.debug({ event: 'client-error', reason, remoteAddress: socket.remoteAddress }, `probe server: client error ${reason}`);
  }
  // A response is under way on this socket (node:http's own check): it can only be cut.
  const inFlight = (socket as unknown as { _httpMessage?: { headersSent?: boolean } })._httpMessage;
  if (error.code === 'ECONNRESET' || !socket.writable || inFlight?.headersSent) {
    socket.destroy();
    return;
  }
  const answer = error.code === 'HPE_HEADER_OVERFLOW' ? HEADERS_TOO_LARGE : error.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? REQUEST_TIMEOUT : BAD_REQUEST;
  endThenDestroy(socket, refusalBytes(answer));
}

// node:http's closeIdleConnections() leaves alone a connection that has not sent a byte yet (it
// counts as a request under way, so that headersTimeout applies to it). Such a connection has no
// request to finish: a stop closes it at once instead of waiting out the grace period for it.
function closeIdle(server: Server, open: OpenConnections<unknown>): void {
  server.closeIdleConnections();
  for (const socket of open.sockets()) if (socket.bytesRead === 0) socket.destroy();
}

/** Starts the node:http probe server; rejects a ProbeStartError `SOCKET_UNAVAILABLE` and leaves nothing behind if it cannot bind. */
export const listenHttp: Listen = (answerer: Answerer, host, port, limits, log) => {
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
  let stopping = false;
  const closing = (): boolean => stopping;
  server.on('request', (req: IncomingMessage, res: ServerResponse) => {
    if (!withinPipelineLimit(req, res, log) || !requireHost(req, res)) return;
    respond(req, res, answerer.answer(req.method ?? '', req.url ?? '', acceptOf(req)), closing, log);
  });

  const open = new OpenConnections<undefined>(limits.maxConnections, log);
  server.on('connection', (socket: Socket) => open.add(socket, undefined));
  server.on('clientError', (error: NodeJS.ErrnoException, socket: Socket) => onClientError(error, socket, log));
  // node:http gives CONNECT requests to 'connect' listeners and, with none, drops the connection
  // without a word; the probe answers it like any other method it does not serve.
  server.on('connect', (_req: IncomingMessage, socket: Socket) => {
    // node:http hands the socket over without its error listener: a client that resets while the
    // answer is written (EPIPE) must not become an uncaught exception in the host process.
    socket.on('error', () => socket.destroy());
    endThenDestroy(socket, refusalBytes(METHOD_NOT_ALLOWED));
  });
  // node:http's own answer to an unknown `Expect` is a bare 417 without the probe's headers.
  server.on('checkExpectation', (_req: IncomingMessage, res: ServerResponse) => {
    res.writeHead(EXPECTATION_FAILED.status, EXPECTATION_FAILED.headers as string[]);
    res.end(EXPECTATION_FAILED.body);
  });

  return bind(server, host, port, log).then((bound) =>
    serverHandle(bound, server, open, () => closeIdle(server, open), log, () => {
      stopping = true;
    }),
  );
};
