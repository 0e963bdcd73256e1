// One HTTP/1.1 GET over node:net, for the client's http: URLs (the CLI's `check` among them).
// The client needs one status and at most 64 KiB of body from one request on a connection of its
// own: node:http's client (agent, llhttp binding, request and response streams) costs more CPU to
// load and set up than the whole exchange, in a command that starts every few seconds in every
// container (docs/performance.md, "The CLI"). https: URLs stay on node:https.
//
// The response is read as node:http reads it, and refused where node:http refuses it: a status
// line, header or framing it would not accept is an error (code MALFORMED_RESPONSE), never a guess.
// The reader is pure (bytes in, events out); getOverNet() connects it to a socket.

import type { Socket } from 'node:net';

/** What a GET reports. `response` comes once before any `data`; `end` or `error` comes last, once. */
export interface GetListener {
  /** The final status (1xx interim answers are skipped). */
  response(status: number): void;
  data(chunk: Buffer): void;
  end(): void;
  error(error: Error): void;
}

/** A GET in flight. `destroy()` closes its connection; nothing is reported after it. */
export interface GetHandle {
  destroy(): void;
}

// node:http's default maxHeaderSize, which its client applies to response heads too.
const MAX_HEAD_BYTES = 16_384;
// A chunk-size line is hex digits and extensions; node:http bounds the whole head instead, which
// an endless size line never ends.
const MAX_LINE_BYTES = 4096;
const CRLF = Buffer.from('\r\n', 'latin1');
const HEAD_END = Buffer.from('\r\n\r\n', 'latin1');

// llhttp's rules: versions 1.0, 1.1 and (it knows no better) 2.0, any three digits.
const STATUS_LINE = /^HTTP\/(?:1\.[01]|2\.0) (\d\d\d)(?: [^\x00-\x08\x0a-\x1f\x7f]*)?$/;
const HEADER_LINE = /^([!#$%&'*+\-.^_`|~0-9A-Za-z]+):[ \t]*([^\x00-\x08\x0a-\x1f\x7f]*?)[ \t]*$/;
const CHUNK_SIZE = /^([0-9A-Fa-f]{1,12})(?:;[^\x00-\x08\x0a-\x1f\x7f]*)?$/;

/** The response could not be read as HTTP/1.1; `code` is always `'MALFORMED_RESPONSE'`. */
export class MalformedResponseError extends Error {
  readonly code = 'MALFORMED_RESPONSE';

  constructor(reason: string) {
    super(`malformed response: ${reason}`);
  }
}

type Framing = { kind: 'none' } | { kind: 'length'; length: number } | { kind: 'chunked' } | { kind: 'close' };

// Status and framing of one response head (without its final CRLF CRLF), as RFC 9112 §6.3 and
// node:http decide them for a GET.
function parseHead(head: string): { status: number; framing: Framing } {
  const lines = head.split('\r\n');
  const statusLine = STATUS_LINE.exec(lines[0]!);
  if (statusLine === null) throw new MalformedResponseError('not an HTTP/1.x status line');
  const status = Number(statusLine[1]);
  let length: number | undefined;
  let transferEncoding: string | undefined;
  for (let i = 1; i < lines.length; i++) {
    const field = HEADER_LINE.exec(lines[i]!);
    if (field === null) throw new MalformedResponseError('a header line without a name and colon');
    const name = field[1]!.toLowerCase();
    const value = field[2]!;
    if (name === 'content-length') {
      if (!/^\d{1,15}$/.test(value)) throw new MalformedResponseError('an invalid Content-Length');
      if (length !== undefined) throw new MalformedResponseError('two Content-Length headers');
      length = Number(value);
    } else if (name === 'transfer-encoding') {
      transferEncoding = transferEncoding === undefined ? value : `${transferEncoding}, ${value}`;
    }
  }
  // Below 200 only what is not an interim answer comes here (101, and 0xx, which llhttp passes).
  if (status === 204 || status === 304 || status < 200) return { status, framing: { kind: 'none' } };
  if (transferEncoding !== undefined) {
    if (length !== undefined) throw new MalformedResponseError('both Content-Length and Transfer-Encoding');
    const codings = transferEncoding.split(',').map((coding) => coding.trim().toLowerCase());
    return { status, framing: codings[codings.length - 1] === 'chunked' ? { kind: 'chunked' } : { kind: 'close' } };
  }
  return { status, framing: length === undefined ? { kind: 'close' } : length === 0 ? { kind: 'none' } : { kind: 'length', length } };
}

// A line feed without its carriage return, before `end`: node:http refuses it at once.
function checkLineEnds(bytes: Buffer, end: number): void {
  for (let at = bytes.indexOf(0x0a); at !== -1 && at < end; at = bytes.indexOf(0x0a, at + 1)) {
    if (at === 0 || bytes[at - 1] !== 0x0d) throw new MalformedResponseError('a line feed without a carriage return');
  }
}

/**
 * Reads one response from the bytes of a connection: `push` each chunk as it arrives, then
 * `close()` when the peer has closed. Reports to a GetListener; after `end` or `error` it reads
 * nothing more. Pure: no socket, no timer.
 */
export class ResponseReader {
  // `complete`: the response was read and its end is reported once the bytes that came with it
  // turn out to be all; `done`: reported (or stopped), nothing more is read.
  #state: 'head' | 'length' | 'close' | 'size' | 'data' | 'data-end' | 'trailers' | 'complete' | 'done' = 'head';
  #pending: Buffer | undefined;
  #remaining = 0;
  #responded = false;

  constructor(private readonly listener: GetListener) {}

  push(chunk: Buffer): void {
    if (this.#state === 'done') return;
    let bytes = this.#pending === undefined ? chunk : Buffer.concat([this.#pending, chunk]);
    this.#pending = undefined;
    try {
      while (bytes.length > 0 && this.#reading()) bytes = this.#step(bytes);
      if (this.#state !== 'complete') return;
      // More bytes after a complete response to a `Connection: close` request: node:http reads
      // them as the start of another response, and refuses them.
      if (bytes.length > 0) throw new MalformedResponseError('bytes after the end of the response');
      this.#state = 'done';
      this.listener.end();
    } catch (error) {
      this.#fail(error as Error);
    }
  }

  /** The peer closed the connection: the end of a body read to the close, an error otherwise. */
  close(): void {
    if (this.#state === 'done') return;
    if (this.#state === 'close' || this.#state === 'complete') {
      this.#state = 'done';
      this.listener.end();
      return;
    }
    // node:http's words for a connection closed before any response, and ours for one cut short.
    const error = this.#responded ? new Error('the connection closed before the body ended') : Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' });
    this.#fail(error);
  }

  /** The connection failed: reported unless the response was read already. */
  abort(error: Error): void {
    this.#fail(error);
  }

  /** Reads and reports nothing more. */
  stop(): void {
    this.#state = 'done';
  }

  // Consumes what it can of `bytes` and returns the rest; keeps an incomplete line or head.
  #step(bytes: Buffer): Buffer {
    switch (this.#state) {
      case 'head': {
        const end = bytes.indexOf(HEAD_END);
        checkLineEnds(bytes, end === -1 ? bytes.length : end);
        if (end === -1 || end + HEAD_END.length > MAX_HEAD_BYTES) {
          if (bytes.length >= MAX_HEAD_BYTES) throw new MalformedResponseError(`a head over ${MAX_HEAD_BYTES} bytes`);
          this.#pending = bytes;
          return Buffer.alloc(0);
        }
        const { status, framing } = parseHead(bytes.toString('latin1', 0, end));
        const rest = bytes.subarray(end + HEAD_END.length);
        // An interim answer (100 Continue, 103 Early Hints): the final one follows. node:http
        // gives 101 Switching Protocols as the answer.
        if (status >= 100 && status < 200 && status !== 101) return rest;
        this.#responded = true;
        this.listener.response(status);
        if (framing.kind === 'none') this.#end();
        else if (framing.kind === 'length') {
          this.#state = 'length';
          this.#remaining = framing.length;
        } else this.#state = framing.kind === 'chunked' ? 'size' : 'close';
        return rest;
      }
      case 'length':
      case 'data': {
        const take = Math.min(this.#remaining, bytes.length);
        this.#remaining -= take;
        this.listener.data(bytes.subarray(0, take));
        if (this.#remaining === 0) {
          if (this.#state === 'length') this.#end();
          else this.#state = 'data-end';
        }
        return bytes.subarray(take);
      }
      case 'close':
        this.listener.data(bytes);
        return Buffer.alloc(0);
      case 'data-end': {
        if (bytes.length < CRLF.length) {
          if (bytes[0] !== 0x0d) throw new MalformedResponseError('no CRLF after a chunk');
          this.#pending = bytes;
          return Buffer.alloc(0);
        }
        if (bytes[0] !== 0x0d || bytes[1] !== 0x0a) throw new MalformedResponseError('no CRLF after a chunk');
        this.#state = 'size';
        return bytes.subarray(CRLF.length);
      }
      case 'size':
      case 'trailers': {
        const end = bytes.indexOf(CRLF);
        checkLineEnds(bytes, end === -1 ? bytes.length : end);
        if (end === -1) {
          if (bytes.length > MAX_LINE_BYTES) throw new MalformedResponseError(`a chunk line over ${MAX_LINE_BYTES} bytes`);
          this.#pending = bytes;
          return Buffer.alloc(0);
        }
        const line = bytes.toString('latin1', 0, end);
        if (this.#state === 'trailers') {
          if (line === '') this.#end();
          else if (!HEADER_LINE.test(line)) throw new MalformedResponseError('a trailer line without a name and colon');
        } else {
          const size = CHUNK_SIZE.exec(line);
          if (size === null) throw new MalformedResponseError('an invalid chunk size');
          this.#remaining = Number.parseInt(size[1]!, 16);
          this.#state = this.#remaining === 0 ? 'trailers' : 'data';
        }
        return bytes.subarray(end + CRLF.length);
      }
      default:
        return Buffer.alloc(0);
    }
  }

  #reading(): boolean {
    return this.#state !== 'complete' && this.#state !== 'done';
  }

  // The end of the body; reported by push() (or close()) once no byte follows it.
  #end(): void {
    this.#state = 'complete';
  }

  #fail(error: Error): void {
    if (this.#state === 'done') return;
    this.#state = 'done';
    this.listener.error(error);
  }
}

/**
 * The request bytes node:http sends for `request(url, { method: 'GET', agent: false, headers })`:
 * the given headers, then Host (with the port when it is not 80), Authorization from the URL's
 * user and password, and `Connection: close`. Throws, before anything is sent, where node:http
 * would (a user or password with a broken %-escape).
 */
export function requestBytes(url: URL, headers: Readonly<Record<string, string>>): Buffer {
  let text = `GET ${url.pathname}${url.search} HTTP/1.1\r\n`;
  for (const [name, value] of Object.entries(headers)) text += `${name}: ${value}\r\n`;
  text += `Host: ${url.host}\r\n`;
  if (url.username !== '' || url.password !== '') {
    const credentials = `${decodeURIComponent(url.username)}:${decodeURIComponent(url.password)}`;
    text += `Authorization: Basic ${Buffer.from(credentials, 'utf8').toString('base64')}\r\n`;
  }
  return Buffer.from(`${text}Connection: close\r\n\r\n`, 'latin1');
}

/** GETs an http: `url` on a connection of its own, closed once the answer is in or on destroy(). */
export function getOverNet(url: URL, headers: Readonly<Record<string, string>>, listener: GetListener): GetHandle {
  const request = requestBytes(url, headers);
  // The CommonJS exports object: an ES import of a built-in evaluates all of its exports.
  const { connect } = process.getBuiltinModule('node:net');
  const host = url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname;
  const reader = new ResponseReader(listener);
  const socket: Socket = connect({ host, port: url.port === '' ? 80 : Number(url.port) });
  socket.on('connect', () => socket.write(request));
  socket.on('data', (chunk: Buffer) => reader.push(chunk));
  socket.on('end', () => reader.close());
  socket.on('close', () => reader.close());
  // Stays attached for the socket's whole life: destroy() may emit an error after the end.
  socket.on('error', (error) => reader.abort(error));
  return {
    destroy: () => {
      reader.stop();
      socket.destroy();
    },
  };
}
