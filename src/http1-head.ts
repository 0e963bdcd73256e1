// Reads and validates HTTP/1.1 request heads for the node:net reader (raw-server.ts): bytes in,
// a verdict out. Pure: no sockets, no timers, so every rule is unit-tested on bytes alone.
//
// It refuses what llhttp (node:http's parser) refuses, as early as llhttp does: each byte is
// checked as it arrives, so bytes that can no longer become a valid request (a TLS ClientHello, a
// lower-case method, `HTTP/9.9`, a control byte, a lone CR, a header line without a colon) are
// refused at once, not held until the headers timeout. The header-size rule is node:http's: the
// bytes of the target, the field names and the field values (without the whitespace before a
// value) count, and a head is refused with 431 as soon as they reach `maxHeaderSize`. Where the
// reader stays stricter than llhttp, docs/design.md says why ("node:http vs node:net").

import { announcesBody, missingHost } from './http1-policy.js';

/** A parsed request head. Shared between requests (see the head cache): never mutated. */
export interface Head {
  readonly method: string;
  readonly target: string;
  readonly accept: string | undefined;
  readonly keepAlive: boolean;
  /** `Content-Length` other than 0, or `Transfer-Encoding`: a body the probe will not read. */
  readonly announcesBody: boolean;
  /** HTTP/1.1 `Expect`, as node:http reads it (it ignores Expect in HTTP/1.0). */
  readonly expect: Expectation;
  /** HTTP/1.1 without `Host`: answered 400 after the Expect check, as node:http orders them. */
  readonly missingHost: boolean;
  /** The bytes that count against maxHeaderSize (target, field names and values). */
  readonly counted: number;
}

/** No Expect; `Expect: 100-continue` (a `100 Continue` goes out first); any other (417). */
export type Expectation = 0 | 1 | 2;
export const EXPECT_NONE = 0;
export const EXPECT_CONTINUE = 1;
export const EXPECT_FAILED = 2;

/** The head is not complete yet, and the bytes so far can still become a valid one. */
export const INCOMPLETE = 0;
/** The bytes can never become a valid request head: answer 400 and close. */
export const INVALID = 400;
/** The head is over the size limit: answer 431 and close. */
export const TOO_LARGE = 431;
export type HeadVerdict = typeof INCOMPLETE | typeof INVALID | typeof TOO_LARGE;

/**
 * Most raw bytes of one head held while it is read, as a multiple of maxHeaderSize. node:http
 * does not count the whitespace, colons and line ends, and holds nothing (llhttp streams); the
 * reader keeps the head's bytes, so it bounds them too: only a head padded with more whitespace
 * than it has content reaches this (a kept difference, see docs/design.md).
 */
export const RAW_HEAD_FACTOR = 2;

// Every prefix of a method llhttp knows: a byte that leaves this set is refused at once. llhttp
// also knows PRI, the start of the HTTP/2 preface (`PRI * HTTP/2.0`): it is read to the end of its
// head like node:http does, then refused for its version (parseHead).
// The list is node:http's METHODS (the test compares them): importing node:http for it would cost
// the default server, which never loads node:http, a few ms of start-up.
export const KNOWN_METHODS: ReadonlySet<string> = new Set([
  'ACL', 'BIND', 'CHECKOUT', 'CONNECT', 'COPY', 'DELETE', 'GET', 'HEAD', 'LINK', 'LOCK', 'M-SEARCH', 'MERGE',
  'MKACTIVITY', 'MKCALENDAR', 'MKCOL', 'MOVE', 'NOTIFY', 'OPTIONS', 'PATCH', 'POST', 'PROPFIND', 'PROPPATCH',
  'PURGE', 'PUT', 'QUERY', 'REBIND', 'REPORT', 'SEARCH', 'SOURCE', 'SUBSCRIBE', 'TRACE', 'UNBIND', 'UNLINK',
  'UNLOCK', 'UNSUBSCRIBE', 'PRI',
]);
const METHOD_PREFIXES = new Set<string>();
for (const method of KNOWN_METHODS) for (let i = 1; i <= method.length; i++) METHOD_PREFIXES.add(method.slice(0, i));

// Byte classes. RFC 9110 §5.6.2 token (field names, methods), RFC 9112 §3.2 target (visible
// ASCII, as llhttp requires), RFC 9110 §5.5 field value (HTAB, SP, visible ASCII, obs-text).
const TOKEN = new Uint8Array(256);
for (const c of "!#$%&'*+-.^_`|~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz") TOKEN[c.charCodeAt(0)] = 1;
const TARGET = new Uint8Array(256);
for (let c = 0x21; c <= 0x7e; c++) TARGET[c] = 1;
const VALUE = new Uint8Array(256);
VALUE[9] = 1;
for (let c = 0x20; c <= 0x7e; c++) VALUE[c] = 1;
for (let c = 0x80; c <= 0xff; c++) VALUE[c] = 1;

const CR = 13;
const LF = 10;
const SP = 32;
const HTAB = 9;

// Scanner states.
const METHOD = 0;
const TARGET_START = 1;
const TARGET_SCHEME = 2; // absolute-form: letters up to ':'
const TARGET_SLASH1 = 3;
const TARGET_SLASH2 = 4;
const TARGET_REST = 5;
const VERSION = 6; // "HTTP/d.d"
const LINE_CR = 7; // after the request line's version: CR expected
const LINE_LF = 8;
const FIELD_START = 9; // a field name, or CR for the end of the head
const NAME = 10;
const VALUE_START = 11; // whitespace before the value
const VALUE_REST = 12;
const VALUE_LF = 13;
const END_LF = 14;

const VERSION_TEXT = 'HTTP/';
// The versions llhttp accepts; the reader answers only 1.0 and 1.1 (parseHead).
const ACCEPTED_VERSIONS = new Set(['0.9', '1.0', '1.1', '2.0']);

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

const CRLF_CRLF = Buffer.from('\r\n\r\n');

/**
 * Reads one connection's request heads, one after the other. Feed it the unread bytes (the bytes
 * it was given before and not consumed, followed by new ones): `read` returns the head once it is
 * complete (`consumed` then says how many bytes it took), or a verdict. State carries over between
 * calls, so a head arriving a byte at a time is scanned once, not once per byte.
 */
export class HeadReader {
  /** After `read`: bytes of the buffer used (a complete head), or skippable (empty lines before one). */
  consumed = 0;
  #scanned = 0;
  #state = METHOD;
  #counted = 0;
  #mark = 0; // where the version began, from the head's start

  constructor(readonly maxHeaderSize: number) {}

  /**
   * Reads from the start of `buffer`: the parsed head (bytes used in `consumed`), INCOMPLETE (keep
   * `buffer.subarray(consumed)` and call again with more bytes after it), INVALID or TOO_LARGE.
   */
  read(buffer: Buffer): Head | HeadVerdict {
    let start = 0;
    if (this.#scanned === 0) {
      // RFC 9112 §2.2: empty lines before a request line are ignored; llhttp skips any CR or LF.
      while (start < buffer.length && (buffer[start] === CR || buffer[start] === LF)) start++;
      this.consumed = start;
      if (start === buffer.length) return INCOMPLETE;
      // The hot path: a whole head seen before (kubelet's, every few seconds).
      const end = buffer.indexOf(CRLF_CRLF, start);
      if (end !== -1) {
        const cached = RECENT_HEADS.get((buffer as Latin1Buffer).latin1Slice(start, end));
        // Held to this reader's limits: the cache is shared by servers with different ones.
        if (cached !== undefined && cached.counted < this.maxHeaderSize && end - start + 4 <= RAW_HEAD_FACTOR * this.maxHeaderSize) {
          this.consumed = end + 4;
          return cached;
        }
      }
    }
    return this.#scan(buffer, start);
  }

  #fail(verdict: HeadVerdict): HeadVerdict {
    this.#reset();
    return verdict;
  }

  #reset(): void {
    this.#scanned = 0;
    this.#state = METHOD;
    this.#counted = 0;
    this.#mark = 0;
  }

  #scan(buffer: Buffer, base: number): Head | HeadVerdict {
    // The head starts at `base` (after skipped empty lines); the state is kept relative to it,
    // because the caller drops what comes before.
    const max = this.maxHeaderSize;
    const rawLimit = RAW_HEAD_FACTOR * max;
    let state = this.#state;
    let counted = this.#counted;
    let i = base + this.#scanned;
    for (; i < buffer.length; i++) {
      const c = buffer[i]!;
      switch (state) {
        case METHOD:
          if (c === SP) {
            if (!KNOWN_METHODS.has((buffer as Latin1Buffer).latin1Slice(base, i))) return this.#fail(INVALID);
            state = TARGET_START;
          } else if (!METHOD_PREFIXES.has((buffer as Latin1Buffer).latin1Slice(base, i + 1))) return this.#fail(INVALID);
          break;
        case TARGET_START:
          // origin-form `/…`, asterisk-form `*`, absolute-form `scheme://…`; CONNECT's
          // authority-form `host:port` is any visible text.
          if (c === 47 /* / */ || c === 42 /* * */ || (buffer[base] === 67 /* C */ && (buffer as Latin1Buffer).latin1Slice(base, base + 8) === 'CONNECT ' && TARGET[c] === 1)) state = TARGET_REST;
          else if ((c | 0x20) >= 97 && (c | 0x20) <= 122) state = TARGET_SCHEME;
          else return this.#fail(INVALID);
          counted++;
          break;
        case TARGET_SCHEME:
          if (c === 58 /* : */) state = TARGET_SLASH1;
          else if (!((c | 0x20) >= 97 && (c | 0x20) <= 122)) return this.#fail(INVALID);
          counted++;
          break;
        case TARGET_SLASH1:
        case TARGET_SLASH2:
          if (c !== 47) return this.#fail(INVALID);
          state = state === TARGET_SLASH1 ? TARGET_SLASH2 : TARGET_REST;
          counted++;
          break;
        case TARGET_REST: {
          // The long runs (target, values) in a tight loop: one table lookup per byte.
          const from = i;
          while (TARGET[c] === 1 && i + 1 < buffer.length && TARGET[buffer[i + 1]!] === 1) i++;
          counted += i - from;
          if (c === SP) {
            state = VERSION;
            this.#mark = i + 1 - base;
          } else if (TARGET[c] === 1) counted++;
          else return this.#fail(INVALID);
          break;
        }
        case VERSION: {
          const at = i - base - this.#mark; // "HTTP/" then digit, '.', digit
          if (at < 5 ? c !== VERSION_TEXT.charCodeAt(at) : at === 6 ? c !== 46 : c < 48 || c > 57) return this.#fail(INVALID);
          if (at === 7) {
            if (!ACCEPTED_VERSIONS.has((buffer as Latin1Buffer).latin1Slice(i - 2, i + 1))) return this.#fail(INVALID);
            state = LINE_CR;
          }
          break;
        }
        case VALUE_REST: {
          const from = i;
          while (VALUE[c] === 1 && i + 1 < buffer.length && VALUE[buffer[i + 1]!] === 1) i++;
          counted += i - from;
          if (c === CR) state = VALUE_LF;
          else if (VALUE[c] === 1) counted++;
          else return this.#fail(INVALID);
          break;
        }
        case LINE_CR:
          if (c === CR) state = LINE_LF;
          else return this.#fail(INVALID);
          break;
        case LINE_LF:
        case VALUE_LF:
          if (c !== LF) return this.#fail(INVALID);
          state = FIELD_START;
          break;
        case FIELD_START:
          if (c === CR) state = END_LF;
          else if (TOKEN[c] === 1) {
            // A line starting with whitespace (obs-fold) or any other byte is refused, as by llhttp.
            state = NAME;
            counted++;
          } else return this.#fail(INVALID);
          break;
        case NAME: {
          const from = i;
          while (TOKEN[c] === 1 && i + 1 < buffer.length && TOKEN[buffer[i + 1]!] === 1) i++;
          counted += i - from;
          if (c === 58 /* : */) state = VALUE_START;
          else if (TOKEN[c] === 1) counted++;
          else return this.#fail(INVALID);
          break;
        }
        case VALUE_START:
          if (c === SP || c === HTAB) break;
          if (c === CR) state = VALUE_LF;
          else if (VALUE[c] === 1) {
            state = VALUE_REST;
            counted++;
          } else return this.#fail(INVALID);
          break;
        case END_LF: {
          if (c !== LF) return this.#fail(INVALID);
          const end = i + 1;
          this.#reset();
          this.consumed = end;
          const text = (buffer as Latin1Buffer).latin1Slice(base, end - 4);
          const head = parseHead(text, counted);
          if (head === undefined) return INVALID;
          rememberHead(text, head);
          return head;
        }
      }
      // node:http's rule, checked byte by byte as llhttp does: refused once the count reaches it.
      if (counted >= max || i - base >= rawLimit) return this.#fail(TOO_LARGE);
    }
    this.#state = state;
    this.#counted = counted;
    this.#scanned = i - base;
    this.consumed = base;
    return INCOMPLETE;
  }
}

// The semantics of a head the scanner has accepted: the framing headers and the few the probe
// reads. Syntax is the scanner's; this refuses what only the whole head shows.
const REQUEST_LINE = /^([A-Z-]+) (\S+) HTTP\/(\d\.\d)$/;
const CONTINUE = /(?:^|\W)100-continue(?:$|\W)/i;
// Largest Content-Length llhttp accepts: it keeps the length in 64 bits.
const MAX_CONTENT_LENGTH = 2n ** 64n - 1n;

/** The meaning of a syntactically valid head (`text`: up to, without, the blank line), or undefined to refuse it with 400. */
export function parseHead(text: string, counted: number): Head | undefined {
  const lines = text.split('\r\n');
  const requestLine = REQUEST_LINE.exec(lines[0]!);
  if (requestLine === null) return undefined;
  const version = requestLine[3]!;
  // HTTP/2.0 and HTTP/0.9 request lines pass llhttp; the reader answers only 1.0 and 1.1.
  if (version !== '1.1' && version !== '1.0') return undefined;
  const http11 = version === '1.1';
  let hosts = 0;
  let accept: string | undefined;
  let contentLength: string | undefined;
  let transferEncoding = false;
  let chunked = false;
  let connectionClose = false;
  let connectionKeepAlive = false;
  let expect: string | undefined;
  for (let i = 1; i < lines.length; i++) {
    const line = lines[i]!;
    const colon = line.indexOf(':');
    const name = line.slice(0, colon).toLowerCase();
    const value = line.slice(colon + 1).replace(/^[ \t]+|[ \t]+$/g, '');
    switch (name) {
      case 'host':
        hosts++;
        break;
      case 'accept':
        accept = accept === undefined ? value : `${accept}, ${value}`;
        break;
      case 'content-length':
        // As llhttp: digits only, at most one Content-Length (even a repeated equal one), and a
        // value that fits in 64 bits.
        if (contentLength !== undefined || !/^\d+$/.test(value) || (value.length > 19 && BigInt(value) > MAX_CONTENT_LENGTH)) return undefined;
        contentLength = value;
        break;
      case 'transfer-encoding':
        // As llhttp: once `chunked` has been the last coding, nothing may follow it (`chunked,
        // gzip`, or a second Transfer-Encoding line after a chunked one).
        transferEncoding = true;
        for (const coding of value.split(',')) {
          if (chunked) return undefined;
          if (coding.trim().toLowerCase() === 'chunked') chunked = true;
        }
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
  if (hosts > 1 || (transferEncoding && contentLength !== undefined)) return undefined;
  return Object.freeze({
    method: requestLine[1]!,
    target: requestLine[2]!,
    accept,
    keepAlive: !connectionClose && (http11 || connectionKeepAlive),
    announcesBody: announcesBody(contentLength, transferEncoding),
    expect: !http11 || expect === undefined ? EXPECT_NONE : CONTINUE.test(expect) ? EXPECT_CONTINUE : EXPECT_FAILED,
    missingHost: missingHost(http11, hosts),
    counted,
  });
}
