// Pure: the grpc.health.v1 messages in protobuf wire format, by hand. Each has one or two fields,
// so a generic protobuf library would cost more than it saves (see docs/grpc.md).
//
//   message HealthCheckRequest  { string service = 1; }
//   message HealthCheckResponse { ServingStatus status = 1; }
//   message HealthListRequest   {}
//   message HealthListResponse  { map<string, HealthCheckResponse> statuses = 1; }
//
// A map field is encoded as a repeated message { key = 1; value = 2; }.

import { ServingStatus, type ServingStatusValue } from './serving-status.js';

export { ServingStatus, type ServingStatusValue } from './serving-status.js';

// Protobuf wire types.
const VARINT = 0;
const FIXED64 = 1;
const LENGTH_DELIMITED = 2;
const FIXED32 = 5;

const UTF8 = new TextDecoder('utf-8', { fatal: true });

/** Thrown by the decoders on bytes that are not a valid message; the caller answers INTERNAL. */
export class MalformedMessage extends Error {
  override readonly name = 'MalformedMessage';
}

// A varint of at most 10 bytes; values beyond 2^53 are not needed here (lengths, tags, enums), so
// they are refused rather than rounded.
function readVarint(bytes: Uint8Array, at: number): [value: number, next: number] {
  let value = 0;
  let factor = 1;
  for (let i = at; i < bytes.length && i < at + 10; i++) {
    const byte = bytes[i]!;
    value += (byte & 0x7f) * factor;
    if (byte < 0x80) {
      if (!Number.isSafeInteger(value)) throw new MalformedMessage('varint out of range');
      return [value, i + 1];
    }
    factor *= 128;
  }
  throw new MalformedMessage('truncated varint');
}

// Skips a field of a type we do not read: proto3 parsers must ignore unknown fields.
function skipField(bytes: Uint8Array, at: number, wireType: number): number {
  switch (wireType) {
    case VARINT:
      return readVarint(bytes, at)[1];
    case FIXED64:
      return within(bytes, at + 8);
    case LENGTH_DELIMITED: {
      const [length, start] = readVarint(bytes, at);
      return within(bytes, start + length);
    }
    case FIXED32:
      return within(bytes, at + 4);
    default:
      // Groups (3, 4) are gone from proto3, and 6, 7 do not exist.
      throw new MalformedMessage(`unsupported wire type ${wireType}`);
  }
}

function within(bytes: Uint8Array, end: number): number {
  if (end > bytes.length) throw new MalformedMessage('field runs past the end of the message');
  return end;
}

/** Decodes a `HealthCheckRequest` to its service name. Throws {@link MalformedMessage}. */
export function decodeHealthCheckRequest(bytes: Uint8Array): string {
  let service = '';
  let at = 0;
  while (at < bytes.length) {
    const [tag, afterTag] = readVarint(bytes, at);
    const field = Math.floor(tag / 8);
    const wireType = tag % 8;
    if (field === 0) throw new MalformedMessage('field number 0');
    if (field === 1) {
      if (wireType !== LENGTH_DELIMITED) throw new MalformedMessage('service is not a string');
      const [length, start] = readVarint(bytes, afterTag);
      const end = within(bytes, start + length);
      try {
        service = UTF8.decode(bytes.subarray(start, end));
      } catch {
        throw new MalformedMessage('service is not valid UTF-8');
      }
      // As protobuf: the last occurrence of a non-repeated field wins.
      at = end;
    } else {
      at = skipField(bytes, afterTag, wireType);
    }
  }
  return service;
}

/** Checks a `HealthListRequest` (no fields; unknown ones are skipped). Throws {@link MalformedMessage}. */
export function decodeHealthListRequest(bytes: Uint8Array): void {
  let at = 0;
  while (at < bytes.length) {
    const [tag, afterTag] = readVarint(bytes, at);
    if (tag < 8) throw new MalformedMessage('field number 0');
    at = skipField(bytes, afterTag, tag % 8);
  }
}

function varintBytes(value: number): number[] {
  const out: number[] = [];
  while (value >= 0x80) {
    out.push((value % 0x80) | 0x80);
    value = Math.floor(value / 0x80);
  }
  out.push(value);
  return out;
}

// Status 0 (UNKNOWN) is proto3's default and so is not written: the message is empty.
const RESPONSES = [
  new Uint8Array(0),
  Uint8Array.of(0x08, ServingStatus.SERVING),
  Uint8Array.of(0x08, ServingStatus.NOT_SERVING),
  Uint8Array.of(0x08, ServingStatus.SERVICE_UNKNOWN),
] as const;

/** Encodes a `HealthCheckResponse`. */
export function encodeHealthCheckResponse(status: ServingStatusValue): Uint8Array {
  return RESPONSES[status];
}

/** Encodes a `HealthListResponse` from service names and their statuses, in the given order. */
export function encodeHealthListResponse(statuses: Iterable<readonly [service: string, status: ServingStatusValue]>): Uint8Array {
  const parts: number[] = [];
  const encoder = new TextEncoder();
  for (const [service, status] of statuses) {
    const key = encoder.encode(service);
    const value = RESPONSES[status];
    const entry = [0x0a, ...varintBytes(key.length), ...key, 0x12, ...varintBytes(value.length), ...value];
    parts.push(0x0a, ...varintBytes(entry.length), ...entry);
  }
  return Uint8Array.from(parts);
}

/** Decodes a `HealthCheckResponse` (for tests and the client side). Throws {@link MalformedMessage}. */
export function decodeHealthCheckResponse(bytes: Uint8Array): ServingStatusValue {
  let status = 0;
  let at = 0;
  while (at < bytes.length) {
    const [tag, afterTag] = readVarint(bytes, at);
    if (tag === 0x08) [status, at] = readVarint(bytes, afterTag);
    else {
      if (tag < 8) throw new MalformedMessage('field number 0');
      at = skipField(bytes, afterTag, tag % 8);
    }
  }
  return status as ServingStatusValue;
}
