// Writing a probe answer on a node:http response, as the HTTP/1 policy (http1-policy.ts) delivers
// it: what `probe.handle()` needs inside someone else's node:http server, and what the standalone
// node:http server (http-server.ts) writes with. Types only from node:http: the host's server is
// already loaded, and a probe on the default server never loads node:http at all.

import type { IncomingMessage, OutgoingHttpHeader, ServerResponse } from 'node:http';
import type { Log } from './log.js';
import { announcesBody, deliver, type Http1Request } from './http1-policy.js';
import type { RenderedResponse } from './render.js';

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

/** The request's `Accept` header, read without building `req.headers`. */
export function acceptOf(req: IncomingMessage): string | undefined {
  return rawHeader(req, 'accept');
}

// What the policy reads of a node:http request. Whether the client asked to keep the connection
// is node:http's own business: it closes or keeps it by the request's headers, and the policy only
// adds the probe's reasons to close (an explicit `Connection: close` header).
function requestOf(req: IncomingMessage): Http1Request {
  return {
    method: req.method ?? '',
    keepAlive: true,
    announcesBody: announcesBody(rawHeader(req, 'content-length'), rawHeader(req, 'transfer-encoding') !== undefined),
  };
}

/**
 * A probe answer is the same bytes wherever it is mounted: headers a framework or an earlier
 * middleware set on the response (Express's X-Powered-By, CORS, …) are dropped. `Connection`
 * stays: a draining tracked server sets it to ask the client to close.
 */
export function clearHostHeaders(res: ServerResponse): void {
  for (const name of res.getHeaderNames()) if (name !== 'connection') res.removeHeader(name);
}

function writeResponse(req: IncomingMessage, res: ServerResponse, answer: RenderedResponse, closing: boolean): void {
  // A response that waited for checks may find its client gone, or an answer already written
  // (by a framework, or a second call of handle()): it is then dropped, never written twice.
  if (res.headersSent || res.writableEnded || res.destroyed || req.socket?.destroyed === true) return;
  const { response, body } = deliver(answer, requestOf(req), closing);
  res.writeHead(response.status, response.headers as OutgoingHttpHeader[]);
  res.end(body ? response.body : undefined);
}

/**
 * Writes a probe answer on a node:http response, now or once it settles, as the HTTP/1 policy
 * delivers it: HEAD gets no body; `closing()` (asked when the answer is written) and a request
 * that announces a body add `Connection: close`.
 */
export function respond(req: IncomingMessage, res: ServerResponse, answer: RenderedResponse | Promise<RenderedResponse>, closing: () => boolean, log: Log): void {
  if (!(answer instanceof Promise)) {
    writeResponse(req, res, answer, closing());
    return;
  }
  // An answer never rejects; the guard keeps a bug from becoming an unhandled rejection.
  answer.then(
    (settled) => writeResponse(req, res, settled, closing()),
    (error: unknown) => log.error({ event: 'answer-failed', err: error }, `probe: answering failed: ${String(error)}`),
  );
}

/** For `probe.handle()`: the host server decides when its connections close. */
export const NEVER_CLOSING = (): boolean => false;
