// The standalone probe server on node:net with a tiny, strict HTTP/1.1 request-head
// reader instead of node:http. A probe only ever needs GET and HEAD without a body, so it reads
// the request line and the few headers that matter, answers from precomputed bytes, and closes
// the connection on anything else. It sends the same bytes as the node:http server (same headers
// in the same order, Date, Connection and Keep-Alive as node:http writes them), obeys the same
// limits (431 past maxHeaderSize, 400 for a malformed head, 408 for a slow one, keep-alive and
// silence timeouts, the connection cap that closes the oldest) and stops within the same grace.
//
// The default (`server: 'net'`) since it passed the whole test and reliability suite; node:http
// stays available as `server: 'http'`. Why, and the figures: README, "Standalone server: node:http
// or node:net".

import { METHODS, STATUS_CODES } from 'node:http';
import { createServer, type Socket } from 'node:net';
import type { Log } from './log.js';
import { BAD_REQUEST as MISSING_HOST, EXPECTATION_FAILED, type RenderedResponse } from './render.js';
import {
  BAD_REQUEST,
  bind,
  connectionCap,
  CONNECT_NOT_ALLOWED,
  HEADERS_TOO_LARGE,
  MAX_QUEUED_ANSWERS,
  REQUEST_TIMEOUT,
  type ProbeServer,
  type ServerLimits,
} from './server.js';

/** What the probe answers to one request head. */
export interface RawAnswer {
  readonly response: RenderedResponse;
  readonly head: boolean;
}

/** Decides the answer to a parsed request: the same route → verdict → render as the node:http path. */
export type RawHandler = (method: string, target: string, accept: string | undefined) => RawAnswer | Promise<RawAnswer>;

const CRLF_CRLF = Buffer.from('\r\n\r\n');
// Methods llhttp knows; any other is a malformed request (400), as with node:http.
const KNOWN_METHODS = new Set(METHODS);
// The target: visible ASCII only (RFC 9112 §3.2, RFC 3986), as llhttp requires.
const REQUEST_LINE = /^([A-Z]+) ([\x21-\x7e]+) HTTP\/1\.([01])$/;
// RFC 9110 §5.1 field-name token, then optional whitespace around the value.
const HEADER_LINE = /^([!#$%&'*+\-.^_`|~0-9A-Za-z]+):[ \t]*(.*?)[ \t]*$/;
// Control characters other than HTAB are never valid in a field value (RFC 9110 §5.5); a bare LF
// inside a line is how request smuggling starts.
const INVALID_VALUE = /[\x00-\x08\x0a-\x1f\x7f]/;
// node:http's test for `Expect: 100-continue` (its continueExpression), applied to every Expect
// value joined, as node:http joins them.
const CONTINUE = /(?:^|\W)100-continue(?:$|\W)/i;
// What node:http's writeContinue() sends before the answer.
const CONTINUE_BYTES = Buffer.from('HTTP/1.1 100 Continue\r\n\r\n', 'latin1');

// node:http caches the Date header per second; so do we.
let dateText = '';
let dateExpires = 0;
function currentDate(now: number): string {
  if (now >= dateExpires) {
    dateText = new Date(now).toUTCString();
    dateExpires = now - (now % 1000) + 1000;
  }
  return dateText;
}

type Mode = 0 | 1 | 2 | 3; // keep-alive, close, keep-alive HEAD, close HEAD
interface CachedBytes {
  date: string;
  bytes: (Buffer | undefined)[];
}

// The bytes of a response exactly as node:http writes them for `writeHead(status, headers)` and
// `end(body)`: the given headers in order, then Date, then Connection (and Keep-Alive) unless the
// response sets Connection itself.
function serialize(response: RenderedResponse, date: string, keepAlive: boolean, head: boolean, keepAliveSeconds: number): Buffer {
  let text = `HTTP/1.1 ${response.status} ${STATUS_CODES[response.status] ?? 'unknown'}\r\n`;
  let ownConnection = false;
  const headers = response.headers;
  for (let i = 0; i < headers.length; i += 2) {
    const name = headers[i]!;
    if (name.length === 10 && name.toLowerCase() === 'connection') ownConnection = true;
    text += `${name}: ${headers[i + 1]!}\r\n`;
  }
  text += `Date: ${date}\r\n`;
  if (!ownConnection) text += keepAlive ? `Connection: keep-alive\r\nKeep-Alive: timeout=${keepAliveSeconds}\r\n` : 'Connection: close\r\n';
  text += '\r\n';
  const headBytes = Buffer.from(text, 'latin1');
  return head || response.body.length === 0 ? headBytes : Buffer.concat([headBytes, response.body]);
}

// Kubelet, load balancers and the CLI send the same bytes every time: a parsed head is kept by its
// text, so a repeated request costs a string lookup instead of a parse (measured: ~0.2 µs instead
// of ~1.1 µs). Bounded in count and size: a client sending ever-new heads only pays the parse.
const RECENT_HEADS = new Map<string, Head>();
function rememberHead(text: string, head: Head): void {
  if (text.length > 512) return;
  if (RECENT_HEADS.size >= 64) RECENT_HEADS.clear();
  RECENT_HEADS.set(text, head);
}

// Node's Buffer has a latin1Slice method that its typings do not declare; it skips toString's
// argument handling on every request.
type Latin1Buffer = Buffer & { latin1Slice(start: number, end: number): string };

/** A parsed request head. Shared between requests (see RECENT_HEADS): never mutated. */
interface Head {
  readonly method: string;
  readonly target: string;
  readonly accept: string | undefined;
  readonly keepAlive: boolean;
  readonly announcesBody: boolean;
  /** HTTP/1.1 `Expect`, as node:http reads it (it ignores Expect in HTTP/1.0). */
  readonly expect: Expectation;
  /** HTTP/1.1 without `Host`: answered 400 after the Expect check, as node:http orders them. */
  readonly missingHost: boolean;
}

// No Expect; `Expect: 100-continue` (a `100 Continue` goes out first); any other (417).
type Expectation = 0 | 1 | 2;
const EXPECT_NONE = 0;
const EXPECT_CONTINUE = 1;
const EXPECT_FAILED = 2;

function parseHead(text: string): Head | undefined {
  const lines = text.split('\r\n');
  const requestLine = REQUEST_LINE.exec(lines[0]!);
  if (requestLine === null || !KNOWN_METHODS.has(requestLine[1]!)) return undefined;
  const http11 = requestLine[3] === '1';
  let hosts = 0;
  let accept: string | undefined;
  let contentLength: string | undefined;
  let chunked = false;
  let connectionClose = false;
  let connectionKeepAlive = false;
  let expect: string | undefined;
  for (let i = 1; i < lines.length; i++) {
    const line = lines[i]!;
    const field = HEADER_LINE.exec(line);
    if (field === null || INVALID_VALUE.test(field[2]!)) return undefined;
    const name = field[1]!.toLowerCase();
    const value = field[2]!;
    switch (name) {
      case 'host':
        hosts++;
        break;
      case 'accept':
        accept = accept === undefined ? value : `${accept}, ${value}`;
        break;
      case 'content-length':
        if (!/^\d+$/.test(value) || (contentLength !== undefined && contentLength !== value)) return undefined;
        contentLength = value;
        break;
      case 'transfer-encoding':
        chunked = true;
        break;
      case 'expect':
        expect = expect === undefined ? value : `${expect}, ${value}`;
        break;
      case 'connection':
        for (const token of value.toLowerCase().split(',')) {
          const option = token.trim();
          if (option === 'close') connectionClose = true;
          else if (option === 'keep-alive') connectionKeepAlive = true;
        }
        break;
    }
  }
  // RFC 9112 §3.2: never more than one Host; §6.3: never both framings. (A missing Host is
  // answered later, as on node:http: see missingHost.)
  if (hosts > 1 || (chunked && contentLength !== undefined)) return undefined;
  return Object.freeze({
    method: requestLine[1]!,
    target: requestLine[2]!,
    accept,
    keepAlive: !connectionClose && (http11 || connectionKeepAlive),
    // As announcesBody in probe.ts, which the node:http path uses.
    announcesBody: chunked || (contentLength !== undefined && contentLength !== '0'),
    expect: !http11 || expect === undefined ? EXPECT_NONE : CONTINUE.test(expect) ? EXPECT_CONTINUE : EXPECT_FAILED,
    missingHost: http11 && hosts === 0,
  });
}

function hasBareLf(buffer: Buffer): boolean {
  for (let i = buffer.indexOf(10); i !== -1; i = buffer.indexOf(10, i + 1)) if (i === 0 || buffer[i - 1] !== 13) return true;
  return false;
}

// The HTTP/2 connection preface (RFC 9113 §3.4), which a prior-knowledge client (gRPC over
// cleartext, as kubelet's grpc probe) sends first.
const HTTP2_PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1');

/** Takes over a connection that starts with the HTTP/2 preface: paused, with the bytes read so far put back. */
export type Http2Handoff = (socket: Socket) => void;

/**
 * Starts the node:net probe server. Same contract as `listen` in server.ts. With `onHttp2`, a
 * connection whose first bytes are the HTTP/2 preface is handed over instead of read as HTTP/1.1.
 */
export function listenRaw(handler: RawHandler, host: string | undefined, port: number, limits: ServerLimits, log: Log, onHttp2?: Http2Handoff): Promise<ProbeServer> {
  const keepAliveSeconds = Math.floor(limits.keepAliveTimeoutMs / 1000);
  const cache = new WeakMap<RenderedResponse, CachedBytes>();
  let stopping = false;

  function bytesFor(response: RenderedResponse, keepAlive: boolean, head: boolean, now: number): Buffer {
    const date = currentDate(now);
    let cached = cache.get(response);
    if (cached === undefined || cached.date !== date) {
      cached = { date, bytes: [] };
      cache.set(response, cached);
    }
    const mode = ((keepAlive ? 0 : 1) + (head ? 2 : 0)) as Mode;
    return (cached.bytes[mode] ??= serialize(response, date, keepAlive, head, keepAliveSeconds));
  }

  // One connection's reader. `deadline` is when it must have made progress: the end of the head
  // being read (a new connection counts as reading its first head, so a silent one gets its 408
  // after headersTimeoutMs, as on node:http) or of the keep-alive idle time.
  class Connection {
    pending: Buffer | undefined;
    deadline: number;
    reading = true; // a request head is due
    waiting = false; // for an answer that runs checks
    done = false;
    inBatch = 0; // requests read since the socket's output was last empty
    sniffing = onHttp2 !== undefined; // the first bytes may still turn out to be the HTTP/2 preface

    constructor(readonly socket: Socket) {
      this.deadline = Date.now() + limits.headersTimeoutMs;
    }

    onData(chunk: Buffer): void {
      if (this.done) return;
      let buffer = this.pending === undefined ? chunk : Buffer.concat([this.pending, chunk]);
      if (this.sniffing) {
        const length = Math.min(buffer.length, HTTP2_PREFACE.length);
        if (buffer.compare(HTTP2_PREFACE, 0, length, 0, length) === 0) {
          if (length < HTTP2_PREFACE.length) {
            this.pending = buffer;
            return;
          }
          // From here the socket is the HTTP/2 transport's; it stays in `open` for the connection
          // cap and for stop's grace period.
          this.done = true;
          this.deadline = Infinity;
          this.pending = undefined;
          this.socket.pause();
          this.socket.removeAllListeners('data');
          this.socket.unshift(buffer);
          onHttp2!(this.socket);
          return;
        }
        this.sniffing = false;
      }
      if (this.waiting) {
        // Paused for an answer; a chunk already on its way is kept for later.
        this.pending = buffer;
        return;
      }
      this.pending = undefined;
      // A new batch of pipelined requests once every earlier answer has been written out.
      if (this.socket.writableLength === 0) this.inBatch = 0;
      const now = Date.now();
      let answered = false;
      while (buffer.length > 0) {
        // RFC 9112 §2.2: empty lines before a request line are ignored.
        let start = 0;
        while (start + 1 < buffer.length && buffer[start] === 13 && buffer[start + 1] === 10) start += 2;
        if (start > 0) buffer = buffer.subarray(start);
        if (buffer.length === 0) break;
        if (!this.reading) {
          this.reading = true;
          this.deadline = now + limits.headersTimeoutMs;
        }
        const end = buffer.indexOf(CRLF_CRLF);
        if (end === -1 || end + 4 > limits.maxHeaderSize) {
          if (end !== -1 || buffer.length > limits.maxHeaderSize) return this.refuse(HEADERS_TOO_LARGE);
          // A line ended by a bare LF can never complete a valid head: refuse it now rather than
          // at the timeout (node:http does the same).
          if (hasBareLf(buffer)) return this.refuse(BAD_REQUEST);
          this.pending = buffer;
          return;
        }
        const text = (buffer as Latin1Buffer).latin1Slice(0, end);
        let head = RECENT_HEADS.get(text);
        if (head === undefined) {
          head = parseHead(text);
          if (head === undefined) return this.refuse(BAD_REQUEST);
          rememberHead(text, head);
        }
        buffer = buffer.subarray(end + 4);
        this.reading = false;
        // The order in which node:http (with the node:http path's listeners) looks at a request.
        if (head.method === 'CONNECT') {
          // node:http hands CONNECT to the 'connect' listener, which answers fixed bytes.
          this.finish(CONNECT_NOT_ALLOWED);
          return;
        }
        if (head.expect !== EXPECT_NONE) {
          if (head.expect === EXPECT_FAILED) {
            // Any Expect other than 100-continue goes to the checkExpectation listener: the
            // fixed 417 (with its own `Connection: close`), the request neither routed nor
            // checked for Host.
            this.finish(bytesFor(EXPECTATION_FAILED, false, head.method === 'HEAD', now));
            return;
          }
          this.socket.write(CONTINUE_BYTES);
        }
        if (++this.inBatch > MAX_QUEUED_ANSWERS + 1) {
          // node:http queues the answer to a pipelined request while the answers before it are
          // unwritten, and the node:http path closes a connection past MAX_QUEUED_ANSWERS.
          this.done = true;
          this.pending = undefined;
          log.debug(`probe server: more than ${MAX_QUEUED_ANSWERS} pipelined answers unread; closing the connection`);
          this.socket.destroy();
          return;
        }
        if (head.missingHost) {
          this.finish(bytesFor(MISSING_HOST, false, head.method === 'HEAD', now));
          return;
        }
        const answer = handler(head.method, head.target, head.accept);
        if (answer instanceof Promise) {
          // A check has to run first. Answers go out in request order, so reading waits too;
          // the checks' own timeouts bound the wait.
          this.pause(buffer);
          this.deadline = Infinity;
          this.waiting = true;
          const request = head;
          answer.then(
            (settled) => {
              this.waiting = false;
              if (this.done || this.socket.destroyed) return;
              const later = Date.now();
              this.deadline = later + limits.keepAliveTimeoutMs;
              if (this.write(request, settled, later)) this.resumeWhenDrained();
            },
            () => this.socket.destroy(),
          );
          return;
        }
        if (!this.write(head, answer, now)) return;
        answered = true;
        if (this.socket.writableNeedDrain) {
          // The client sends faster than it reads: stop reading until it catches up, as
          // node:http does. A client that never reads is closed by the keep-alive deadline.
          this.pause(buffer);
          this.deadline = now + limits.keepAliveTimeoutMs;
          this.resumeWhenDrained();
          return;
        }
      }
      // Idle from here on. Only an answer restarts the keep-alive time: empty lines alone
      // (ignored above) must not keep a connection open for ever.
      if (answered) this.deadline = now + limits.keepAliveTimeoutMs;
    }

    pause(rest: Buffer): void {
      this.pending = rest.length > 0 ? rest : undefined;
      this.socket.pause();
    }

    resumeWhenDrained(): void {
      const resume = () => {
        if (this.done) return;
        this.socket.resume();
        const rest = this.pending;
        this.pending = undefined;
        if (rest !== undefined) this.onData(rest);
      };
      if (this.socket.writableNeedDrain) this.socket.once('drain', resume);
      else resume();
    }

    // Writes the answer; false once the connection is closing.
    write(head: Head, answer: RawAnswer, now: number): boolean {
      const { response, head: isHead } = answer;
      const simple = head.method === 'GET' || head.method === 'HEAD';
      const keepAlive = head.keepAlive && simple && !head.announcesBody && !stopping;
      if (!keepAlive && (head.announcesBody || stopping || !simple)) {
        // Same as the node:http path: an explicit `Connection: close` among the headers.
        const closing = { status: response.status, headers: [...response.headers, 'Connection', 'close'], body: response.body };
        this.finish(serialize(closing, currentDate(now), false, isHead, keepAliveSeconds));
        return false;
      }
      const bytes = bytesFor(response, keepAlive, isHead, now);
      if (keepAlive) {
        this.socket.write(bytes);
        return true;
      }
      this.finish(bytes);
      return false;
    }

    finish(bytes: Buffer): void {
      this.done = true;
      this.socket.end(bytes);
      // A client that never reads its answer, or keeps writing, must not keep the socket
      // half-open: a fixed deadline that the client's own writes cannot reset.
      const socket = this.socket;
      const deadline = setTimeout(() => socket.destroy(), 1000).unref();
      socket.once('close', () => clearTimeout(deadline));
    }

    refuse(bytes: Buffer): void {
      log.debug(`probe server: refused a request (${(bytes as Latin1Buffer).latin1Slice(9, 12)})`);
      this.pending = undefined;
      this.finish(bytes);
    }

    // Called by the sweep once the deadline has passed.
    expire(): void {
      if (this.done) return;
      if (this.reading) this.refuse(REQUEST_TIMEOUT);
      else this.socket.destroy();
    }
  }

  const open = new Map<Socket, Connection>();
  const cap = connectionCap(limits.maxConnections, log);
  const server = createServer({ noDelay: true }, (socket) => {
    const connection = new Connection(socket);
    open.set(socket, connection);
    socket.on('data', (chunk: Buffer) => connection.onData(chunk));
    socket.on('error', (error: NodeJS.ErrnoException) => {
      log.debug(`probe server: client error ${error.code ?? error.message}`);
      socket.destroy();
    });
    socket.once('close', () => open.delete(socket));
    if (stopping) {
      socket.destroy();
      return;
    }
    // Map iteration is insertion order: the first is the oldest.
    cap(open.size, () => open.keys().next().value as Socket);
  });

  // One timer for every connection, as node:http's connectionsCheckingInterval: a request costs
  // no timer work, and a deadline is enforced within one sweep interval.
  const sweepMs = Math.max(10, Math.min(1000, limits.headersTimeoutMs, limits.keepAliveTimeoutMs) / 4);
  const sweep = setInterval(() => {
    const now = Date.now();
    for (const connection of open.values()) if (now > connection.deadline) connection.expire();
  }, sweepMs);
  sweep.unref();

  return bind(server, host, port, log, () => clearInterval(sweep)).then((bound): ProbeServer => {
    let stopped: Promise<boolean> | undefined;
    return {
      bound,
      get stopping() {
        return stopping;
      },
      get connections() {
        return open.size;
      },
      stop(graceMs: number): Promise<boolean> {
        stopped ??= new Promise<boolean>((done) => {
          stopping = true;
          let forced = false;
          const graceTimer = setTimeout(() => {
            forced = true;
            log.error(`probe server: ${open.size} connection(s) still open after the ${graceMs} ms grace period; closing them`);
            for (const socket of open.keys()) socket.destroy();
          }, graceMs);
          server.close(() => {
            clearTimeout(graceTimer);
            clearInterval(sweep);
            done(!forced);
          });
          // Idle connections close now; one in the middle of a head is answered with
          // `Connection: close` when it completes (or cut at the end of the grace period).
          for (const connection of open.values()) {
            if (connection.done) continue;
            if (connection.socket.bytesRead === 0) {
              // Never sent a byte: no request to finish, so it does not wait out the grace
              // period (as on node:http, see closeIdle in server.ts).
              connection.done = true;
              connection.socket.destroy();
              continue;
            }
            if (connection.reading || connection.waiting) continue;
            connection.done = true;
            connection.socket.end();
          }
        });
        return stopped;
      },
    };
  });
}
