// The standalone probe server on node:net with a tiny, strict HTTP/1.1 request-head
// reader instead of node:http. A probe only ever needs GET and HEAD without a body, so it reads
// the request line and the few headers that matter, answers from precomputed bytes, and closes
// the connection on anything else. It sends the same bytes as the node:http server (same headers
// in the same order, Date, Connection and Keep-Alive as node:http writes them), obeys the same
// limits (431 past maxHeaderSize, 400 for a malformed head, 408 for a slow one, keep-alive and
// silence timeouts, the connection cap that closes the oldest) and stops within the same grace.
// Like every transport it only carries bytes: each request goes to the probe's responder (an
// Answerer, responder.ts), HEAD, `Connection` and the fixed refusals follow the HTTP/1 policy
// (http1-policy.ts), and the limits, bind, the cap, the serializer and the stop are the server
// core's (server-core.ts).
//
// The default (`server: 'net'`) since it passed the whole test and reliability suite; node:http
// stays available as `server: 'http'`. Why, and the figures: docs/design.md, "Standalone server:
// node:http or node:net".

import type { Socket } from 'node:net';
import type { Log } from './log.js';
import { EXPECT_FAILED, EXPECT_NONE, HeadReader, INCOMPLETE, TOO_LARGE, type Head } from './http1-head.js';
import {
  CONNECT_REFUSAL,
  CONTINUE_BYTES,
  deliver,
  EXPECTATION_REFUSAL,
  isProbeMethod,
  logPipelineLimit,
  MAX_QUEUED_ANSWERS,
  MISSING_HOST_REFUSAL,
} from './http1-policy.js';
import { BAD_REQUEST, HEADERS_TOO_LARGE, REQUEST_TIMEOUT, type RenderedResponse } from './render.js';
import {
  bind,
  cachedSerializer,
  currentDate,
  endThenDestroy,
  OpenConnections,
  refusalBytes,
  serialize,
  serverHandle,
  type Answerer,
  type Listen,
  type ServerLimits,
  type ProbeServer,
} from './server-core.js';


// The HTTP/2 connection preface (RFC 9113 §3.4), which a prior-knowledge client (gRPC over
// cleartext, as kubelet's grpc probe) sends first.
const HTTP2_PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1');

/** Takes over a connection that starts with the HTTP/2 preface: paused, with the bytes read so far put back. */
export type Http2Handoff = (socket: Socket) => void;

/**
 * Starts the node:net probe server: the server core's `Listen` contract, as `listenHttp`. With
 * `onHttp2`, a connection whose first bytes are the HTTP/2 preface is handed over instead of read
 * as HTTP/1.1.
 */
export const listenRaw: Listen = (answerer: Answerer, host: string | undefined, port: number, limits: ServerLimits, log: Log, onHttp2?: Http2Handoff): Promise<ProbeServer> => {
  // Taken here, not at import: this module comes with the package's main entry. The CommonJS
  // exports object, since an ES import of a built-in evaluates all its exports.
  const { createServer } = process.getBuiltinModule('node:net');
  const keepAliveSeconds = Math.floor(limits.keepAliveTimeoutMs / 1000);
  const bytesFor = cachedSerializer(limits.keepAliveTimeoutMs);
  let stopping = false;

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
    readonly heads = new HeadReader(limits.maxHeaderSize);
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
        const head = this.heads.read(buffer);
        if (typeof head === 'number') {
          // Empty lines before a request line are dropped; they do not start a head's time.
          const rest = this.heads.consumed === 0 ? buffer : buffer.subarray(this.heads.consumed);
          if (head !== INCOMPLETE) return this.refuse(head === TOO_LARGE ? HEADERS_TOO_LARGE : BAD_REQUEST);
          if (rest.length === 0) break;
          if (!this.reading) {
            this.reading = true;
            this.deadline = now + limits.headersTimeoutMs;
          }
          this.pending = rest;
          return;
        }
        buffer = buffer.subarray(this.heads.consumed);
        this.reading = false;
        // The order in which node:http (with the node:http path's listeners) looks at a request.
        if (head.method === 'CONNECT') {
          // node:http hands CONNECT to the 'connect' listener, which answers fixed bytes.
          this.finish(refusalBytes(CONNECT_REFUSAL));
          return;
        }
        if (head.expect !== EXPECT_NONE) {
          if (head.expect === EXPECT_FAILED) {
            // Any Expect other than 100-continue goes to the checkExpectation listener: the
            // fixed 417 (with its own `Connection: close`), the request neither routed nor
            // checked for Host.
            this.finish(bytesFor(EXPECTATION_REFUSAL, false, head.method === 'HEAD', now));
            return;
          }
          this.socket.write(CONTINUE_BYTES);
        }
        if (++this.inBatch > MAX_QUEUED_ANSWERS + 1) {
          // node:http queues the answer to a pipelined request while the answers before it are
          // unwritten, and the node:http path closes a connection past MAX_QUEUED_ANSWERS.
          this.done = true;
          this.pending = undefined;
          logPipelineLimit(log, this.socket.remoteAddress);
          this.socket.destroy();
          return;
        }
        if (head.missingHost) {
          this.finish(bytesFor(MISSING_HOST_REFUSAL, false, head.method === 'HEAD', now));
          return;
        }
        const answer = answerer.answer(head.method, head.target, head.accept);
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

    // Writes the answer as the HTTP/1 policy delivers it; false once the connection is closing.
    // The reader reads request heads only, so it closes after any method other than GET and HEAD.
    write(head: Head, answer: RenderedResponse, now: number): boolean {
      const { response, keepAlive, body } = deliver(answer, head, stopping || !isProbeMethod(head.method));
      // A response of the policy's own (with `Connection: close` added) is not a cached answer.
      const bytes = response === answer ? bytesFor(response, keepAlive, !body, now) : serialize(response, currentDate(now), false, !body, keepAliveSeconds);
      if (keepAlive) {
        this.socket.write(bytes);
        return true;
      }
      this.finish(bytes);
      return false;
    }

    finish(bytes: Buffer): void {
      this.done = true;
      endThenDestroy(this.socket, bytes);
    }

    refuse(response: RenderedResponse): void {
      if (log.enabled('debug')) {
        log.debug({ event: 'request-refused', status: response.status, remoteAddress: this.socket.remoteAddress }, `probe server: refused a request (${response.status})`);
      }
      this.pending = undefined;
      this.finish(refusalBytes(response));
    }

    // Called by the sweep once the deadline has passed.
    expire(): void {
      if (this.done) return;
      if (this.reading) this.refuse(REQUEST_TIMEOUT);
      else this.socket.destroy();
    }
  }

  const open = new OpenConnections<Connection>(limits.maxConnections, log);
  const server = createServer({ noDelay: true }, (socket) => {
    if (stopping) {
      socket.destroy();
      return;
    }
    const connection = new Connection(socket);
    socket.on('data', (chunk: Buffer) => connection.onData(chunk));
    socket.on('error', (error: NodeJS.ErrnoException) => {
      if (log.enabled('debug')) {
        const reason = error.code ?? error.message;
        log.debug({ event: 'client-error', reason, remoteAddress: socket.remoteAddress }, `probe server: client error ${reason}`);
      }
      socket.destroy();
    });
    open.add(socket, connection);
  });

  // One timer for every connection, as node:http's connectionsCheckingInterval: a request costs
  // no timer work, and a deadline is enforced within one sweep interval.
  const sweepMs = Math.max(10, Math.min(1000, limits.headersTimeoutMs, limits.keepAliveTimeoutMs) / 4);
  const sweep = setInterval(() => {
    const now = Date.now();
    for (const connection of open.states()) if (now > connection.deadline) connection.expire();
  }, sweepMs);
  sweep.unref();

  // Idle connections close now; one in the middle of a head is answered with `Connection: close`
  // when it completes (or cut at the end of the grace period).
  const closeIdle = (): void => {
    for (const connection of open.states()) {
      if (connection.done) continue;
      if (connection.socket.bytesRead === 0) {
        // Never sent a byte: no request to finish, so it does not wait out the grace period (as
        // on node:http, see closeIdle in http-server.ts).
        connection.done = true;
        connection.socket.destroy();
        continue;
      }
      if (connection.reading || connection.waiting) continue;
      connection.done = true;
      connection.socket.end();
    }
  };

  return bind(server, host, port, log, () => clearInterval(sweep)).then((bound) =>
    serverHandle(
      bound,
      server,
      open,
      closeIdle,
      log,
      () => {
        stopping = true;
      },
      () => clearInterval(sweep),
    ),
  );
};
