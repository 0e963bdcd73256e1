// The node:http transport: the standalone server on node:http (`server: 'http'`), loaded by
// `Probe.start()` only for that server kind (node:http costs a few ms to load). It carries bytes
// only: it asks the probe's responder (an Answerer) and writes what it gets back, with HEAD,
// `Connection` and the fixed refusals as the HTTP/1 policy (http1-policy.ts) has them. Limits,
// bind, the cap, the refusal bytes and the stop come from the server core.

import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { Log } from './log.js';
import { acceptOf, respond } from './http-response.js';
import { CONNECT_REFUSAL, EXPECTATION_REFUSAL, logPipelineLimit, MAX_QUEUED_ANSWERS, missingHost, MISSING_HOST_REFUSAL } from './http1-policy.js';
import { BAD_REQUEST, HEADERS_TOO_LARGE, REQUEST_TIMEOUT } from './render.js';
import { bind, endThenDestroy, OpenConnections, refusalBytes, serverHandle, type Answerer, type Listen } from './server-core.js';

// Not `import … from 'node:http'`: on Node 22 and 24 that evaluates node:http's lazy WebSocket
// getters, which load undici and tls (see client.ts).
const { createServer } = process.getBuiltinModule('node:http');

// ---- The standalone node:http server --------------------------------------------------------

// node:http leaves Host to its listeners here (requireHostHeader: false below, see there).
function requireHost(req: IncomingMessage, res: ServerResponse): boolean {
  const http11 = req.httpVersionMajor === 1 && req.httpVersionMinor === 1;
  const raw = req.rawHeaders;
  let hosts = 0;
  for (let i = 0; i < raw.length; i += 2) if (raw[i]!.length === 4 && raw[i]!.toLowerCase() === 'host') hosts++;
  if (!missingHost(http11, hosts)) return true;
  res.writeHead(MISSING_HOST_REFUSAL.status, MISSING_HOST_REFUSAL.headers as string[]);
  res.end(MISSING_HOST_REFUSAL.body);
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
    if (!socket.destroyed) logPipelineLimit(log, socket.remoteAddress);
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
    endThenDestroy(socket, refusalBytes(CONNECT_REFUSAL));
  });
  // node:http's own answer to an unknown `Expect` is a bare 417 without the probe's headers.
  server.on('checkExpectation', (_req: IncomingMessage, res: ServerResponse) => {
    res.writeHead(EXPECTATION_REFUSAL.status, EXPECTATION_REFUSAL.headers as string[]);
    res.end(EXPECTATION_REFUSAL.body);
  });

  return bind(server, host, port, log).then((bound) =>
    serverHandle(bound, server, open, () => closeIdle(server, open), log, () => {
      stopping = true;
    }),
  );
};
