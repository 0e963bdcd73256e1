// Pure: the HTTP/1 rules every HTTP/1 transport applies around an answer: which requests are
// refused before they are routed and with what, when a body counts as announced, HEAD, and whether
// the connection stays open after an answer. The node:net reader (raw-server.ts), the node:http
// server (http-server.ts) and `probe.handle()` (http-response.ts) each read their request their
// own way and ask here, so the three cannot drift apart. The order of the refusals is node:http's
// (its events fire in that order), which the reader follows: CONNECT, then Expect, then the
// pipeline limit, then a missing Host.

import type { Log } from './log.js';
import { BAD_REQUEST, EXPECTATION_FAILED, METHOD_NOT_ALLOWED, withConnectionClose, type RenderedResponse } from './render.js';

/** CONNECT is refused with this 405, as fixed bytes and without reading further (node:http hands it to 'connect'). */
export const CONNECT_REFUSAL: RenderedResponse = METHOD_NOT_ALLOWED;

/** An `Expect` other than `100-continue` (RFC 9110 §10.1.1) is refused with this 417, and the connection closed. */
export const EXPECTATION_REFUSAL: RenderedResponse = EXPECTATION_FAILED;

/** An HTTP/1.1 request without `Host` is refused with this 400 (RFC 9112 §3.2). */
export const MISSING_HOST_REFUSAL: RenderedResponse = BAD_REQUEST;

/** What node:http's writeContinue() sends before the answer to `Expect: 100-continue`. */
export const CONTINUE_BYTES = Buffer.from('HTTP/1.1 100 Continue\r\n\r\n', 'latin1');

/**
 * RFC 9112 §3.2: a server must answer 400 to an HTTP/1.1 request without Host. HTTP/1.0 needs none
 * (old health checkers send none), so only 1.1 is held to it.
 */
export function missingHost(http11: boolean, hostFields: number): boolean {
  return http11 && hostFields === 0;
}

/**
 * A body the probe will not read: a `Content-Length` other than 0, or any `Transfer-Encoding`.
 * The answer then closes the connection instead of reading and discarding an arbitrary amount of data.
 */
export function announcesBody(contentLength: string | undefined, transferEncoding: boolean): boolean {
  return transferEncoding || (contentLength !== undefined && contentLength !== '0');
}

// node:http answers pipelined requests in order: each answer waits, in memory, behind the one
// before it. A client that pipelines without reading makes it hold about 50 bytes per request,
// read a megabyte at a time (1.5 MB per connection measured, so 1.5 GB at the connection cap).
// Probe clients never pipeline deeply.
/** Most answers queued unread on one connection; past it the connection is closed, on both servers. */
export const MAX_QUEUED_ANSWERS = 64;

/** Logs (at debug) that a connection is closed for pipelining past {@link MAX_QUEUED_ANSWERS}. */
export function logPipelineLimit(log: Log, remoteAddress: string | undefined): void {
  if (!log.enabled('debug')) return;
  log.debug(
    { event: 'pipeline-limit', limit: MAX_QUEUED_ANSWERS, remoteAddress },
    `probe server: more than ${MAX_QUEUED_ANSWERS} pipelined answers unread; closing the connection`,
  );
}

/** What the policy reads of one request, however the transport read it. */
export interface Http1Request {
  readonly method: string;
  /** The client wants the connection kept open (HTTP/1.1 without `close`, or HTTP/1.0 with `keep-alive`). */
  readonly keepAlive: boolean;
  readonly announcesBody: boolean;
}

/** How one answer goes out. */
export interface Delivery {
  /** The answer as written: with `Connection: close` among its headers when the probe closes. */
  readonly response: RenderedResponse;
  /** The connection stays open for another request. */
  readonly keepAlive: boolean;
  /** Write the body (not for HEAD, which gets GET's status and headers). */
  readonly body: boolean;
}

/**
 * How an answer goes out. The connection closes after it when the client asks for that, and when
 * the probe has a reason of its own: `serverCloses` (the server is stopping, or a transport rule
 * such as the node:net reader's "GET and HEAD only"), or a body was announced that the probe will
 * not read. For the probe's own reasons the answer carries `Connection: close` among its headers,
 * where node:http writes a response that sets it.
 */
export function deliver(answer: RenderedResponse, request: Http1Request, serverCloses: boolean): Delivery {
  const probeCloses = serverCloses || request.announcesBody;
  return {
    response: probeCloses ? withConnectionClose(answer) : answer,
    keepAlive: !probeCloses && request.keepAlive,
    body: request.method !== 'HEAD',
  };
}

/** GET and HEAD: the only methods a probe answers with a verdict. */
export function isProbeMethod(method: string): boolean {
  return method === 'GET' || method === 'HEAD';
}
