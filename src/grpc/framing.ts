// Pure: gRPC over HTTP/2 framing (https://github.com/grpc/grpc/blob/master/doc/PROTOCOL-HTTP2.md):
// the 5-byte message prefix, the status codes, `grpc-timeout`, `grpc-message` and the content type.

/** gRPC status codes this server sends. */
export const GrpcStatus = Object.freeze({
  OK: 0,
  CANCELLED: 1,
  INVALID_ARGUMENT: 3,
  DEADLINE_EXCEEDED: 4,
  NOT_FOUND: 5,
  RESOURCE_EXHAUSTED: 8,
  UNIMPLEMENTED: 12,
  INTERNAL: 13,
  UNAVAILABLE: 14,
} as const);
export type GrpcStatusCode = (typeof GrpcStatus)[keyof typeof GrpcStatus];

/**
 * The largest request message accepted. A health request is a service name: a few bytes. Larger
 * ones are refused with RESOURCE_EXHAUSTED before they are buffered.
 */
export const MAX_REQUEST_MESSAGE_BYTES = 4096;

/** One length-prefixed message: flag byte 0 (not compressed), 4-byte big-endian length, the bytes. */
export function frame(message: Uint8Array): Buffer {
  const out = Buffer.allocUnsafe(5 + message.length);
  out[0] = 0;
  out.writeUInt32BE(message.length, 1);
  out.set(message, 5);
  return out;
}

/** Why a request's messages cannot be read. */
export interface FramingError {
  readonly status: GrpcStatusCode;
  readonly message: string;
}

/**
 * Collects a request stream's DATA into messages. Stops at the first error: a compressed message
 * (this server announces no compression, so a client must not send one), or one over
 * {@link MAX_REQUEST_MESSAGE_BYTES}.
 */
export class MessageReader {
  #pending: Buffer = Buffer.alloc(0);
  readonly messages: Buffer[] = [];
  error: FramingError | undefined;

  /** Adds received bytes; returns false once an error was found (then stop reading). */
  push(chunk: Buffer): boolean {
    if (this.error !== undefined) return false;
    let buffer = this.#pending.length === 0 ? chunk : Buffer.concat([this.#pending, chunk]);
    while (buffer.length >= 5) {
      const compressed = buffer[0]!;
      const length = buffer.readUInt32BE(1);
      if (compressed !== 0) {
        this.error =
          compressed === 1
            ? { status: GrpcStatus.UNIMPLEMENTED, message: 'compressed messages are not supported (grpc-accept-encoding: identity)' }
            : { status: GrpcStatus.INTERNAL, message: `invalid message flag ${compressed}` };
        return false;
      }
      if (length > MAX_REQUEST_MESSAGE_BYTES) {
        this.error = { status: GrpcStatus.RESOURCE_EXHAUSTED, message: `request message larger than ${MAX_REQUEST_MESSAGE_BYTES} bytes` };
        return false;
      }
      if (buffer.length < 5 + length) break;
      this.messages.push(buffer.subarray(5, 5 + length));
      buffer = buffer.subarray(5 + length);
      if (this.messages.length > 1) {
        // Check, Watch and List take exactly one request message.
        this.error = { status: GrpcStatus.UNIMPLEMENTED, message: 'more than one request message for a unary or server-streaming method' };
        return false;
      }
    }
    this.#pending = buffer;
    return true;
  }

  /** At the end of the request: the one message, or the error. */
  finish(): Buffer | FramingError {
    if (this.error !== undefined) return this.error;
    if (this.#pending.length > 0) return { status: GrpcStatus.INTERNAL, message: 'request ended inside a message' };
    if (this.messages.length !== 1) return { status: GrpcStatus.UNIMPLEMENTED, message: 'no request message' };
    return this.messages[0]!;
  }
}

const TIMEOUT_UNITS_MS: Record<string, number> = { H: 3_600_000, M: 60_000, S: 1000, m: 1, u: 0.001, n: 0.000001 };

/**
 * `grpc-timeout` in ms: up to 8 digits and a unit (H, M, S, m, u, n). `undefined` when absent,
 * `NaN` when malformed.
 */
export function parseTimeout(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const match = /^(\d{1,8})([HMSmun])$/.exec(value);
  if (match === null) return NaN;
  return Number(match[1]) * TIMEOUT_UNITS_MS[match[2]!]!;
}

/** `application/grpc`, alone or followed by `+format` or `;parameters`. */
export function isGrpcContentType(value: string | undefined): boolean {
  if (value === undefined || !value.toLowerCase().startsWith('application/grpc')) return false;
  const next = value.charCodeAt(16);
  return Number.isNaN(next) || next === 0x2b /* + */ || next === 0x3b /* ; */;
}

/** `grpc-message` is percent-encoded: every byte outside printable ASCII, and `%` itself. */
export function encodeGrpcMessage(text: string): string {
  let out = '';
  for (const byte of Buffer.from(text, 'utf8')) {
    out += byte >= 0x20 && byte <= 0x7e && byte !== 0x25 ? String.fromCharCode(byte) : `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}
