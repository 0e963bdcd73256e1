// The pure parts of gRPC health: protobuf messages, framing, grpc-timeout, content types,
// grpc-message encoding, and which HTTP verdict each service name follows.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  decodeHealthCheckRequest,
  decodeHealthCheckResponse,
  decodeHealthListRequest,
  encodeHealthCheckResponse,
  encodeHealthListResponse,
  MalformedMessage,
  ServingStatus,
  encodeGrpcMessage,
  frame,
  GrpcStatus,
  isGrpcContentType,
  MAX_REQUEST_MESSAGE_BYTES,
  MessageReader,
  parseTimeout,
  queryOf,
  servingStatusOf,
} from '../../dist/internal.js';

test('HealthCheckRequest: the service name, with unknown fields skipped and the last value kept', () => {
  assert.equal(decodeHealthCheckRequest(Buffer.alloc(0)), '');
  assert.equal(decodeHealthCheckRequest(Buffer.from([0x0a, 0x02, 0x64, 0x62])), 'db');
  const long = 'é'.repeat(100); // 200 bytes: a two-byte length varint
  const bytes = Buffer.from(long, 'utf8');
  assert.equal(decodeHealthCheckRequest(Buffer.concat([Buffer.from([0x0a, 0xc8, 0x01]), bytes])), long);
  assert.equal(decodeHealthCheckRequest(Buffer.from([0x0a, 0x01, 0x61, 0x10, 0x05, 0x0a, 0x01, 0x62])), 'b');
  for (const bad of [[0x0a, 0x05, 0x61], [0x08, 0x01], [0x0b], [0x00], [0x0a, 0x02, 0xc3, 0x28], Array(11).fill(0xff), [0x0a]]) {
    assert.throws(() => decodeHealthCheckRequest(Buffer.from(bad)), MalformedMessage, JSON.stringify(bad));
  }
  decodeHealthListRequest(Buffer.from([0x10, 0x01]));
  assert.throws(() => decodeHealthListRequest(Buffer.from([0x0f])), MalformedMessage);
});

test('HealthCheckResponse and HealthListResponse encode as protobuf does', () => {
  assert.deepEqual([...encodeHealthCheckResponse(ServingStatus.SERVING)], [0x08, 0x01]);
  assert.deepEqual([...encodeHealthCheckResponse(ServingStatus.NOT_SERVING)], [0x08, 0x02]);
  assert.deepEqual([...encodeHealthCheckResponse(ServingStatus.SERVICE_UNKNOWN)], [0x08, 0x03]);
  assert.equal(encodeHealthCheckResponse(ServingStatus.UNKNOWN).length, 0);
  assert.equal(decodeHealthCheckResponse(encodeHealthCheckResponse(ServingStatus.NOT_SERVING)), ServingStatus.NOT_SERVING);
  // map<string, HealthCheckResponse>: entry { key = 1, value = 2 }.
  assert.deepEqual(
    [...encodeHealthListResponse([['', 1], ['db', 2]])],
    [0x0a, 0x06, 0x0a, 0x00, 0x12, 0x02, 0x08, 0x01, 0x0a, 0x08, 0x0a, 0x02, 0x64, 0x62, 0x12, 0x02, 0x08, 0x02],
  );
});

test('framing: 5-byte prefix; the reader reassembles split messages and refuses compressed, oversized and extra ones', () => {
  assert.deepEqual([...frame(Uint8Array.of(8, 1))], [0, 0, 0, 0, 2, 8, 1]);
  const reader = new MessageReader();
  const whole = frame(Uint8Array.of(0x0a, 0x01, 0x61));
  for (const byte of whole) assert.equal(reader.push(Buffer.from([byte])), true);
  assert.deepEqual([...reader.finish()], [0x0a, 0x01, 0x61]);
  const cases = [
    [Buffer.from([1, 0, 0, 0, 0]), GrpcStatus.UNIMPLEMENTED],
    [Buffer.from([2, 0, 0, 0, 0]), GrpcStatus.INTERNAL],
    [Buffer.from([0, 0, 0, 0x10, 0x01]), GrpcStatus.RESOURCE_EXHAUSTED],
    [Buffer.concat([frame(new Uint8Array(0)), frame(new Uint8Array(0))]), GrpcStatus.UNIMPLEMENTED],
    [Buffer.from([0, 0, 0, 0, 3, 1]), GrpcStatus.INTERNAL],
    [Buffer.alloc(0), GrpcStatus.UNIMPLEMENTED],
  ];
  for (const [bytes, status] of cases) {
    const each = new MessageReader();
    each.push(bytes);
    assert.equal(each.finish().status, status, bytes.toString('hex'));
  }
  assert.equal(MAX_REQUEST_MESSAGE_BYTES, 4096);
});

test('grpc-timeout: up to 8 digits and a unit, in ms; anything else is malformed', () => {
  assert.equal(parseTimeout(undefined), undefined);
  assert.equal(parseTimeout('1H'), 3_600_000);
  assert.equal(parseTimeout('2M'), 120_000);
  assert.equal(parseTimeout('3S'), 3000);
  assert.equal(parseTimeout('250m'), 250);
  assert.equal(parseTimeout('5000u'), 5);
  assert.equal(parseTimeout('99999999n'), 99.999999);
  for (const bad of ['', 'S', '1', '1s', '123456789S', '-1S', '1.5S', ' 1S']) assert.ok(Number.isNaN(parseTimeout(bad)), bad);
});

test('content type: application/grpc alone, with +format or ;parameters', () => {
  for (const ok of ['application/grpc', 'application/grpc+proto', 'application/grpc;charset=utf-8', 'Application/GRPC']) assert.equal(isGrpcContentType(ok), true, ok);
  for (const bad of [undefined, '', 'application/grpcx', 'application/json', 'application/grpc-web']) assert.equal(isGrpcContentType(bad), false, String(bad));
});

test('grpc-message is percent-encoded outside printable ASCII and for %', () => {
  assert.equal(encodeGrpcMessage('unknown service x'), 'unknown service x');
  assert.equal(encodeGrpcMessage('100% é\n'), '100%25 %C3%A9%0A');
});

test('service names: the verdict each follows, and the serving status of a verdict', () => {
  assert.deepEqual(queryOf(''), { endpoint: 'ready', check: undefined });
  assert.deepEqual(queryOf('readiness'), { endpoint: 'ready', check: undefined });
  assert.deepEqual(queryOf('liveness'), { endpoint: 'health', check: undefined });
  assert.deepEqual(queryOf('startup'), { endpoint: 'started', check: undefined });
  assert.deepEqual(queryOf('db'), { endpoint: 'ready', check: 'db' });
  assert.deepEqual(queryOf('my.db:5432'), { endpoint: 'ready', check: 'my.db:5432' });
  for (const never of ['a/b', '../x', ' db', 'x'.repeat(101), 'db?x', '-db']) assert.equal(queryOf(never), undefined, never);
  assert.equal(servingStatusOf({ pass: true, word: 'READY' }), ServingStatus.SERVING);
  assert.equal(servingStatusOf({ pass: false, word: 'UP' }), ServingStatus.NOT_SERVING);
  assert.equal(servingStatusOf(undefined), ServingStatus.SERVICE_UNKNOWN);
});
