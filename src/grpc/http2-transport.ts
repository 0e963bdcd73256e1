// The I/O shell of gRPC health checking: HTTP/2 sessions on sockets the probe server hands over
// after seeing the HTTP/2 preface, the Health service's three methods, deadlines, limits and stop.
// node:http2 is loaded only when the first such connection arrives (this module itself is loaded
// lazily by probe.ts), so a service that is never asked over gRPC does not pay for it.

import type { Http2Server, IncomingHttpHeaders, ServerHttp2Session, ServerHttp2Stream } from 'node:http2';
import type { Socket } from 'node:net';
import type { Freshness } from '../checks.js';
import type { Log } from '../log.js';
import { encodeGrpcMessage, frame, GrpcStatus, isGrpcContentType, MessageReader, parseTimeout, type GrpcStatusCode } from './framing.js';
import { knownServices, servingStatus, type HealthSource } from './health-service.js';
import {
  decodeHealthCheckRequest,
  decodeHealthListRequest,
  encodeHealthCheckResponse,
  encodeHealthListResponse,
  MalformedMessage,
  ServingStatus,
  type ServingStatusValue,
} from './messages.js';

/** Streams one HTTP/2 session may have open at once (SETTINGS_MAX_CONCURRENT_STREAMS). */
export const MAX_CONCURRENT_STREAMS = 100;

/**
 * Most services one `List` reports; past it, List answers RESOURCE_EXHAUSTED, as the health proto
 * allows and grpc-health-check does at the same number.
 */
export const MAX_LISTED_SERVICES = 100;

// Watch messages a client leaves unread before its stream is ended (RESOURCE_EXHAUSTED): a status
// change is a few bytes, so this is thousands of changes.
const MAX_UNREAD_WATCH_BYTES = 64 * 1024;

/** The server limits the transport applies to HTTP/2 connections. All durations in ms. */
export interface GrpcLimits {
  /** Largest header list of a request (SETTINGS_MAX_HEADER_LIST_SIZE). */
  readonly maxHeaderSize: number;
  /** Time a call has to send its whole request (its one message and END_STREAM). */
  readonly requestTimeoutMs: number;
  /** A session with no open stream for this long is closed (GOAWAY). */
  readonly keepAliveTimeoutMs: number;
}

type Method = 'Check' | 'Watch' | 'List';
const METHODS: ReadonlyMap<string, Method> = new Map([
  ['/grpc.health.v1.Health/Check', 'Check'],
  ['/grpc.health.v1.Health/Watch', 'Watch'],
  ['/grpc.health.v1.Health/List', 'List'],
]);

interface SessionInfo {
  streams: number;
  idleSince: number;
  closing: boolean;
}

/** One call: its response headers, messages and trailers, written once. */
class Call {
  done = false;
  requestDeadline: number;
  #trailers: Record<string, string> | undefined;
  #cleanups: (() => void)[] = [];

  constructor(
    readonly stream: ServerHttp2Stream,
    requestTimeoutMs: number,
  ) {
    this.requestDeadline = Date.now() + requestTimeoutMs;
    stream.once('close', () => {
      this.done = true;
      this.#cleanup();
    });
  }

  onDone(cleanup: () => void): void {
    this.#cleanups.push(cleanup);
  }

  send(message: Uint8Array): void {
    if (this.done || this.stream.destroyed) return;
    if (!this.stream.headersSent) {
      this.stream.respond({ ':status': 200, 'content-type': 'application/grpc', 'grpc-accept-encoding': 'identity' }, { waitForTrailers: true });
      this.stream.once('wantTrailers', () => {
        if (!this.stream.destroyed) this.stream.sendTrailers(this.#trailers ?? { 'grpc-status': String(GrpcStatus.OK) });
      });
    }
    this.stream.write(frame(message));
  }

  /** Ends the call with a status: in the trailers, or a trailers-only response when nothing was sent. */
  finish(status: GrpcStatusCode, message?: string, extra?: Record<string, string>): void {
    if (this.done) return;
    this.done = true;
    this.#cleanup();
    if (this.stream.destroyed || this.stream.closed) return;
    const trailers: Record<string, string> = { 'grpc-status': String(status), ...extra };
    if (message !== undefined) trailers['grpc-message'] = encodeGrpcMessage(message);
    try {
      if (!this.stream.headersSent) {
        this.stream.respond({ ':status': 200, 'content-type': 'application/grpc', ...trailers }, { endStream: true });
      } else {
        this.#trailers = trailers;
        this.stream.end();
      }
    } catch {
      // The session went away in between: nothing left to tell.
      this.stream.destroy();
    }
  }

  #cleanup(): void {
    const cleanups = this.#cleanups;
    this.#cleanups = [];
    for (const cleanup of cleanups) cleanup();
  }
}

type Evaluation = ServingStatusValue | Promise<ServingStatusValue>;

/** A Watch stream: sends the status when it changes, never twice the same. */
class Watch {
  last: ServingStatusValue | undefined;
  #busy = false;
  #again = false;

  constructor(
    readonly call: Call,
    readonly service: string,
    readonly source: HealthSource,
    readonly log: Log,
  ) {}

  // Re-asks the probe; one evaluation at a time, and one more if an event came in meanwhile.
  // `shared` holds the answers already asked for this event: Watches of one service ask once.
  update(freshness: Freshness, shared?: Map<string, Evaluation>): void {
    if (this.call.done) return;
    if (this.#busy) {
      this.#again = true;
      return;
    }
    this.#busy = true;
    let status = shared?.get(this.service);
    try {
      if (status === undefined) {
        status = servingStatus(this.source, this.service, freshness);
        shared?.set(this.service, status);
      }
    } catch (error) {
      this.#busy = false;
      this.log.error({ event: 'grpc-evaluation-failed', service: this.service, err: error }, `grpc: evaluating service '${this.service}' failed: ${String(error)}`);
      return;
    }
    if (status instanceof Promise) {
      status.then(
        (settled) => this.#settle(settled),
        (error: unknown) => {
          this.log.error({ event: 'grpc-evaluation-failed', service: this.service, err: error }, `grpc: evaluating service '${this.service}' failed: ${String(error)}`);
          this.#settle(ServingStatus.SERVICE_UNKNOWN);
        },
      );
    } else {
      this.#settle(status);
    }
  }

  #settle(shown: ServingStatusValue): void {
    this.#busy = false;
    if (!this.call.done && shown !== this.last) {
      this.last = shown;
      if (this.call.stream.writableLength > MAX_UNREAD_WATCH_BYTES) {
        this.call.finish(GrpcStatus.RESOURCE_EXHAUSTED, 'watch messages left unread');
        return;
      }
      this.call.send(encodeHealthCheckResponse(shown));
    }
    if (this.#again) {
      this.#again = false;
      this.update('reuse');
    }
  }
}

/** Serves grpc.health.v1.Health on HTTP/2 connections handed over by the probe server. */
export class GrpcTransport {
  readonly #source: HealthSource;
  readonly #limits: GrpcLimits;
  readonly #log: Log;
  #server: Promise<Http2Server> | undefined;
  readonly #sessions = new Map<ServerHttp2Session, SessionInfo>();
  readonly #calls = new Set<Call>();
  readonly #watches = new Set<Watch>();
  #unsubscribe: (() => void) | undefined;
  #sweep: NodeJS.Timeout | undefined;
  #stopping = false;
  #handedOver: Socket | undefined;

  constructor(source: HealthSource, limits: GrpcLimits, log: Log) {
    this.#source = source;
    this.#limits = limits;
    this.#log = log;
  }

  /** Open HTTP/2 sessions. */
  get sessions(): number {
    return this.#sessions.size;
  }

  /** Open Watch streams. */
  get watches(): number {
    return this.#watches.size;
  }

  /**
   * Takes over a paused socket that starts with the HTTP/2 connection preface (the bytes read so
   * far put back with `unshift`). The socket stays the probe server's for the connection cap and
   * its stop.
   */
  accept(socket: Socket): void {
    if (this.#stopping) {
      socket.destroy();
      return;
    }
    this.#server ??= this.#createServer();
    this.#server.then(
      (server) => {
        if (socket.destroyed) return;
        if (this.#stopping) {
          socket.destroy();
          return;
        }
        // node:http2 creates the session synchronously inside this emit ('session' below).
        this.#handedOver = socket;
        try {
          server.emit('connection', socket);
        } finally {
          this.#handedOver = undefined;
        }
      },
      (error: unknown) => {
        this.#log.error({ event: 'grpc-http2-load-failed', err: error }, `grpc: cannot load node:http2: ${String(error)}`);
        socket.destroy();
      },
    );
  }

  /**
   * Ends every Watch stream (UNAVAILABLE), sends GOAWAY on every session and lets calls in flight
   * finish; whatever is still open after `graceMs` is destroyed. Resolves when every session closed.
   */
  stop(graceMs: number): Promise<void> {
    this.#stopping = true;
    for (const watch of [...this.#watches]) watch.call.finish(GrpcStatus.UNAVAILABLE, 'the probe is stopping');
    for (const session of this.#sessions.keys()) this.#closeSession(session);
    if (this.#sessions.size === 0) {
      this.#stopSweep();
      return Promise.resolve();
    }
    return new Promise<void>((resolve) => {
      const forced = setTimeout(() => {
        for (const session of this.#sessions.keys()) session.destroy();
      }, graceMs);
      forced.unref();
      const check = setInterval(() => {
        if (this.#sessions.size > 0) return;
        clearInterval(check);
        clearTimeout(forced);
        this.#stopSweep();
        resolve();
      }, 10);
    });
  }

  async #createServer(): Promise<Http2Server> {
    const http2 = await import('node:http2');
    const server = http2.createServer({
      settings: { maxConcurrentStreams: MAX_CONCURRENT_STREAMS, maxHeaderListSize: this.#limits.maxHeaderSize },
      // A client that keeps opening streams past the limit, or sends frames nghttp2 rejects, loses
      // its session (node:http2 defaults, stated here because the probe relies on them).
      maxSessionRejectedStreams: 100,
      maxSessionInvalidFrames: 1000,
      // A probe session has no use for large header tables.
      maxHeaderListPairs: 64,
      maxSessionMemory: 4,
    });
    server.on('session', (session: ServerHttp2Session) => this.#onSession(session));
    server.on('stream', (stream: ServerHttp2Stream, headers: IncomingHttpHeaders) => this.#onStream(stream, headers));
    server.on('sessionError', (error: NodeJS.ErrnoException) => this.#logSessionError(error));
    return server;
  }

  #onSession(session: ServerHttp2Session): void {
    this.#sessions.set(session, { streams: 0, idleSince: Date.now(), closing: false });
    session.on('error', (error: NodeJS.ErrnoException) => this.#logSessionError(error));
    const socket = this.#handedOver;
    // When a session ends, node:http2 ends its side of the socket (after the GOAWAY) and then
    // waits for the client to close its own. A client that never does would hold the socket (and
    // a stop) open: once our side is finished, nothing more is to be read or written.
    socket?.once('finish', () => setImmediate(() => socket.destroy()));
    session.once('close', () => {
      this.#sessions.delete(session);
      if (this.#sessions.size === 0) this.#stopSweep();
    });
    this.#startSweep();
  }

  // One timer for every session: idle sessions are closed after keepAliveTimeoutMs, and calls that
  // do not finish sending their request within requestTimeoutMs are reset.
  #startSweep(): void {
    if (this.#sweep !== undefined) return;
    const everyMs = Math.max(10, Math.min(1000, this.#limits.keepAliveTimeoutMs, this.#limits.requestTimeoutMs) / 4);
    this.#sweep = setInterval(() => {
      const now = Date.now();
      for (const [session, info] of this.#sessions) {
        if (info.streams === 0 && now - info.idleSince > this.#limits.keepAliveTimeoutMs) this.#closeSession(session);
      }
      for (const call of this.#calls) {
        if (now > call.requestDeadline) {
          if (this.#log.enabled('debug')) {
            this.#log.debug({ event: 'grpc-call-timeout', requestTimeoutMs: this.#limits.requestTimeoutMs }, 'grpc: a call did not send its request in time; resetting it');
          }
          call.done = true;
          call.stream.close(0x8 /* CANCEL */);
        }
      }
    }, everyMs);
    this.#sweep.unref();
  }

  #logSessionError(error: NodeJS.ErrnoException): void {
    if (!this.#log.enabled('debug')) return;
    const reason = error.code ?? error.message;
    this.#log.debug({ event: 'grpc-session-error', reason }, `grpc: session error ${reason}`);
  }

  #stopSweep(): void {
    if (this.#sweep !== undefined) clearInterval(this.#sweep);
    this.#sweep = undefined;
  }

  #closeSession(session: ServerHttp2Session): void {
    const info = this.#sessions.get(session);
    if (info === undefined || info.closing) return;
    info.closing = true;
    session.close();
    // A client that never reads must not keep a closing session open: a fixed deadline.
    const deadline = setTimeout(() => session.destroy(), 1000);
    deadline.unref();
    session.once('close', () => clearTimeout(deadline));
  }

  #onStream(stream: ServerHttp2Stream, headers: IncomingHttpHeaders): void {
    stream.on('error', (error: NodeJS.ErrnoException) => {
      if (!this.#log.enabled('debug')) return;
      const reason = error.code ?? error.message;
      this.#log.debug({ event: 'grpc-stream-error', reason }, `grpc: stream error ${reason}`);
    });
    const info = this.#sessions.get(stream.session as ServerHttp2Session);
    if (info !== undefined) {
      info.streams++;
      stream.once('close', () => {
        info.streams--;
        info.idleSince = Date.now();
      });
    }
    if (headers[':method'] !== 'POST') {
      stream.respond({ ':status': 405, allow: 'POST' }, { endStream: true });
      return;
    }
    const contentType = headers['content-type'];
    if (!isGrpcContentType(contentType)) {
      // PROTOCOL-HTTP2.md: a content type other than application/grpc is answered with HTTP 415.
      stream.respond({ ':status': 415 }, { endStream: true });
      return;
    }
    const call = new Call(stream, this.#limits.requestTimeoutMs);
    const method = METHODS.get(String(headers[':path']));
    if (method === undefined) {
      call.finish(GrpcStatus.UNIMPLEMENTED, `unknown method ${String(headers[':path'])}`);
      return;
    }
    const encoding = headers['grpc-encoding'];
    if (encoding !== undefined && encoding !== 'identity') {
      call.finish(GrpcStatus.UNIMPLEMENTED, `message encoding ${String(encoding)} is not supported`, { 'grpc-accept-encoding': 'identity' });
      return;
    }
    const timeoutMs = parseTimeout(headers['grpc-timeout'] as string | undefined);
    if (Number.isNaN(timeoutMs)) {
      call.finish(GrpcStatus.INTERNAL, 'malformed grpc-timeout');
      return;
    }
    if (timeoutMs !== undefined) {
      // The call's deadline: its status once it passes, whatever the call is waiting for.
      const deadline = setTimeout(() => call.finish(GrpcStatus.DEADLINE_EXCEEDED, 'deadline exceeded'), timeoutMs);
      call.onDone(() => clearTimeout(deadline));
    }
    this.#calls.add(call);
    call.onDone(() => this.#calls.delete(call));
    const reader = new MessageReader();
    stream.on('data', (chunk: Buffer) => {
      if (call.done) return;
      if (!reader.push(chunk)) call.finish(reader.error!.status, reader.error!.message);
    });
    stream.once('end', () => {
      if (call.done) return;
      this.#calls.delete(call);
      const request = reader.finish();
      if (!(request instanceof Uint8Array)) {
        call.finish(request.status, request.message);
        return;
      }
      try {
        this.#dispatch(method, call, request);
      } catch (error) {
        if (error instanceof MalformedMessage) call.finish(GrpcStatus.INTERNAL, `malformed request message: ${error.message}`);
        else {
          this.#log.error({ event: 'grpc-call-failed', method, err: error }, `grpc: ${method} failed: ${String(error)}`);
          call.finish(GrpcStatus.INTERNAL, 'internal error');
        }
      }
    });
  }

  #dispatch(method: Method, call: Call, request: Uint8Array): void {
    switch (method) {
      case 'Check': {
        const service = decodeHealthCheckRequest(request);
        settle(servingStatus(this.#source, service, 'run'), (status) => {
          if (status === ServingStatus.SERVICE_UNKNOWN) call.finish(GrpcStatus.NOT_FOUND, `unknown service ${service}`);
          else {
            call.send(encodeHealthCheckResponse(status));
            call.finish(GrpcStatus.OK);
          }
        }, call, this.#log);
        return;
      }
      case 'List': {
        decodeHealthListRequest(request);
        const services = knownServices(this.#source);
        if (services.length > MAX_LISTED_SERVICES) {
          call.finish(GrpcStatus.RESOURCE_EXHAUSTED, `${services.length} services, more than the ${MAX_LISTED_SERVICES} List reports`);
          return;
        }
        // A snapshot (the health proto's word): recorded results, so that a List runs no check
        // that has one; a check that never finished a run runs once.
        const statuses = services.map((service) => servingStatus(this.#source, service, 'reuse'));
        settle(Promise.all(statuses), (settled) => {
          const known = services.map((service, i) => [service, settled[i]!] as const).filter((entry) => entry[1] !== ServingStatus.SERVICE_UNKNOWN);
          call.send(encodeHealthListResponse(known));
          call.finish(GrpcStatus.OK);
        }, call, this.#log);
        return;
      }
      case 'Watch': {
        const service = decodeHealthCheckRequest(request);
        if (this.#stopping) {
          call.finish(GrpcStatus.UNAVAILABLE, 'the probe is stopping');
          return;
        }
        const watch = new Watch(call, service, this.#source, this.#log);
        this.#watches.add(watch);
        this.#unsubscribe ??= this.#source.subscribe(() => {
          const shared = new Map<string, Evaluation>();
          for (const each of this.#watches) each.update('reuse', shared);
        });
        call.onDone(() => {
          this.#watches.delete(watch);
          if (this.#watches.size === 0) {
            this.#unsubscribe?.();
            this.#unsubscribe = undefined;
          }
        });
        // The first message: the status as a Check would see it (on-demand checks run).
        watch.update('run');
        return;
      }
    }
  }
}

function settle<T>(value: T | Promise<T>, then: (settled: T) => void, call: Call, log: Log): void {
  if (!(value instanceof Promise)) {
    then(value);
    return;
  }
  value.then(
    (settled) => {
      if (!call.done) then(settled);
    },
    (error: unknown) => {
      log.error({ event: 'grpc-evaluation-failed', err: error }, `grpc: evaluating failed: ${String(error)}`);
      call.finish(GrpcStatus.INTERNAL, 'internal error');
    },
  );
}
