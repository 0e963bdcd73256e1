// gRPC health on the wire: raw node:http2 calls and hand-made bytes. Malformed, compressed,
// oversized messages, wrong content types, protocol errors: the right status or a closed
// connection, never a crash. HTTP/1.1 and gRPC on one port, the limits, and no leak over 1,000
// kubelet-style calls (a new connection each).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { connect as connectTcp } from 'node:net';
import { connect } from 'node:http2';
import { once } from 'node:events';
import { createProbe } from '../../dist/index.js';
import { checkRequest, frameMessage, rawCall } from '../helpers/grpc.js';
import { WORKER_MODE_FROM_ENVIRONMENT } from '../helpers/servers.js';

const PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1');
const SERVING = Buffer.from([0, 0, 0, 0, 2, 0x08, 0x01]);
const NOT_SERVING = Buffer.from([0, 0, 0, 0, 2, 0x08, 0x02]);

async function started(t, options = {}) {
  // gRPC needs the default server, whatever SERVICE_PROBE_SERVER says; under SERVICE_PROBE_WORKER
  // (npm test's worker-mode run) `server` is left out so that the probe runs in worker mode.
  const server = WORKER_MODE_FROM_ENVIRONMENT ? {} : { server: 'net' };
  const probe = createProbe({ host: '127.0.0.1', port: 0, state: 'READY', ...server, ...options });
  const { port } = await probe.start();
  t.after(() => probe.stop());
  return { probe, port };
}

test('a Check is answered with the gRPC framing: content-type, one length-prefixed message, grpc-status 0 in the trailers', async (t) => {
  const { port } = await started(t);
  const answer = await rawCall(port);
  assert.equal(answer.headers[':status'], 200);
  assert.equal(answer.headers['content-type'], 'application/grpc');
  assert.deepEqual(answer.body, SERVING);
  assert.equal(answer.trailers['grpc-status'], '0');
  // Content types with a format or parameters are gRPC too.
  for (const type of ['application/grpc+proto', 'application/grpc; charset=utf-8']) {
    assert.deepEqual((await rawCall(port, { headers: { 'content-type': type } })).body, SERVING, type);
  }
});

const REFUSED = [
  ['an unknown method', { path: '/grpc.health.v1.Health/Nope' }, 12],
  ['another service', { path: '/my.Service/Check' }, 12],
  ['a compressed message', { body: frameMessage(Buffer.from([0x0a, 0x00]), 1) }, 12],
  ['a message with an invalid flag', { body: frameMessage(Buffer.alloc(0), 7) }, 13],
  ['grpc-encoding gzip', { headers: { 'grpc-encoding': 'gzip' } }, 12],
  ['an oversized message', { body: frameMessage(Buffer.alloc(5000)) }, 8],
  ['an oversized length prefix without the bytes', { body: Buffer.from([0, 0xff, 0xff, 0xff, 0xff]) }, 8],
  ['a truncated message', { body: checkRequest('readiness').subarray(0, 8) }, 13],
  ['no message at all', { body: Buffer.alloc(0) }, 12],
  ['two messages', { body: Buffer.concat([checkRequest(''), checkRequest('')]) }, 12],
  ['a string field with a length past the end', { body: frameMessage(Buffer.from([0x0a, 0x20, 0x41])) }, 13],
  ['service as a varint', { body: frameMessage(Buffer.from([0x08, 0x01])) }, 13],
  ['field number 0', { body: frameMessage(Buffer.from([0x02, 0x00])) }, 13],
  ['a group wire type', { body: frameMessage(Buffer.from([0x0b])) }, 13],
  ['an endless varint', { body: frameMessage(Buffer.alloc(12, 0xff)) }, 13],
  ['invalid UTF-8 in the name', { body: frameMessage(Buffer.from([0x0a, 0x02, 0xc3, 0x28])) }, 13],
  ['a malformed grpc-timeout', { headers: { 'grpc-timeout': '10x' } }, 13],
  ['a grpc-timeout of nine digits', { headers: { 'grpc-timeout': '123456789S' } }, 13],
  ['an unknown service', { body: checkRequest('nope') }, 5],
];

for (const [what, call, status] of REFUSED) {
  test(`${what}: grpc-status ${status}, and the connection keeps serving`, async (t) => {
    const { port } = await started(t);
    const session = connect(`http://127.0.0.1:${port}`);
    t.after(() => session.close());
    const answer = await rawCall(port, { ...call, session });
    assert.equal(answer.headers[':status'], 200);
    assert.equal(answer.status, status, JSON.stringify(answer.headers));
    if (status === 12 && what === 'grpc-encoding gzip') assert.equal(answer.headers['grpc-accept-encoding'], 'identity');
    const next = await rawCall(port, { session });
    assert.deepEqual(next.body, SERVING);
  });
}

test('unknown fields in a request are skipped, and the last service field wins (protobuf rules)', async (t) => {
  const { probe, port } = await started(t, { state: 'UP' });
  const body = frameMessage(
    Buffer.concat([
      Buffer.from([0x10, 0x96, 0x01]), // field 2 varint
      Buffer.from([0x19, 1, 2, 3, 4, 5, 6, 7, 8]), // field 3 fixed64
      Buffer.from([0x25, 1, 2, 3, 4]), // field 4 fixed32
      Buffer.from([0x0a, 0x03]), Buffer.from('xyz'),
      Buffer.from([0x0a, 0x08]), Buffer.from('liveness'),
      Buffer.from([0x2a, 0x01, 0x00]), // field 5 bytes
    ]),
  );
  assert.deepEqual((await rawCall(port, { body })).body, SERVING);
  probe.setState('DOWN');
  assert.deepEqual((await rawCall(port, { body })).body, NOT_SERVING);
  // The message prefix split over several DATA frames is reassembled.
  const session = connect(`http://127.0.0.1:${port}`);
  t.after(() => session.close());
  const stream = session.request({ ':method': 'POST', ':path': '/grpc.health.v1.Health/Check', 'content-type': 'application/grpc' });
  const request = checkRequest('liveness');
  let body2 = Buffer.alloc(0);
  stream.on('data', (chunk) => (body2 = Buffer.concat([body2, chunk])));
  for (const byte of request) {
    stream.write(Buffer.from([byte]));
    await new Promise((resolve) => setImmediate(resolve));
  }
  stream.end();
  await once(stream, 'close');
  assert.deepEqual(body2, NOT_SERVING);
});

test('a wrong content type is answered HTTP 415, another method than POST 405', async (t) => {
  const { port } = await started(t);
  const session = connect(`http://127.0.0.1:${port}`);
  t.after(() => session.close());
  for (const type of ['application/json', 'application/grpcx', 'text/plain']) {
    const answer = await rawCall(port, { session, headers: { 'content-type': type } });
    assert.equal(answer.headers[':status'], 415, type);
  }
  const stream = session.request({ ':method': 'GET', ':path': '/grpc.health.v1.Health/Check' });
  const [headers] = await once(stream, 'response');
  assert.equal(headers[':status'], 405);
  stream.resume();
  await once(stream, 'close');
});

test('a gRPC deadline ends a Check waiting for a check with DEADLINE_EXCEEDED (grpc-timeout units)', async (t) => {
  const { probe, port } = await started(t);
  probe.addCheck('slow', () => new Promise((resolve) => setTimeout(() => resolve(true), 300)), { timeoutMs: 2000 });
  for (const timeout of ['50m', '50000u', '50000000n']) {
    const answer = await rawCall(port, { headers: { 'grpc-timeout': timeout } });
    assert.equal(answer.status, 4, timeout);
  }
  assert.deepEqual((await rawCall(port, { headers: { 'grpc-timeout': '5S' } })).body, SERVING);
  assert.deepEqual((await rawCall(port, { headers: { 'grpc-timeout': '1M' } })).body, SERVING);
});

test('the preface split over many writes is still recognised; garbage after it closes only that connection', async (t) => {
  const { port } = await started(t);
  // Byte by byte: the reader waits for the whole preface before it decides.
  const socket = connectTcp(port, '127.0.0.1');
  await once(socket, 'connect');
  const firstData = once(socket, 'data');
  for (const byte of PREFACE) {
    socket.write(Buffer.from([byte]));
    await new Promise((resolve) => setTimeout(resolve, 1));
  }
  // An empty SETTINGS frame, then read the server's SETTINGS.
  socket.write(Buffer.from([0, 0, 0, 4, 0, 0, 0, 0, 0]));
  const [first] = await firstData;
  assert.equal(first[3], 4, 'the server answered with a SETTINGS frame');
  socket.destroy();
  // Garbage after the preface: a connection error (GOAWAY or reset), never a crash.
  const bad = connectTcp(port, '127.0.0.1');
  bad.on('error', () => {});
  bad.resume();
  await once(bad, 'connect');
  bad.end(Buffer.concat([PREFACE, Buffer.from('\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff', 'latin1')]));
  await once(bad, 'close');
  assert.deepEqual((await rawCall(port)).body, SERVING);
});

test('HTTP/1.1 and gRPC alternate on one port', async (t) => {
  const { probe, port } = await started(t);
  for (let i = 0; i < 20; i++) {
    const ready = i % 4 < 2;
    probe.setState(ready ? 'READY' : 'UP');
    if (i % 2 === 0) {
      assert.equal((await fetch(`http://127.0.0.1:${port}/ready`)).status, ready ? 200 : 503);
    } else {
      assert.deepEqual((await rawCall(port)).body, ready ? SERVING : NOT_SERVING);
    }
  }
  // A keep-alive HTTP/1.1 connection and an HTTP/2 session open at once.
  const session = connect(`http://127.0.0.1:${port}`);
  t.after(() => session.close());
  probe.setState('READY');
  const [http, grpc] = await Promise.all([fetch(`http://127.0.0.1:${port}/ready`), rawCall(port, { session })]);
  assert.equal(http.status, 200);
  assert.deepEqual(grpc.body, SERVING);
});

test('with grpc: false the preface is refused as a bad request (400)', async (t) => {
  const { port } = await started(t, { grpc: false });
  const socket = connectTcp(port, '127.0.0.1');
  socket.write(PREFACE);
  let text = '';
  socket.on('data', (chunk) => (text += chunk.toString('latin1')));
  await once(socket, 'close');
  assert.match(text, /^HTTP\/1\.1 400 Bad Request\r\n/);
});

test('limits: SETTINGS_MAX_CONCURRENT_STREAMS is announced, an idle session is closed, a silent call is reset', async (t) => {
  const { port } = await started(t, { keepAliveTimeoutMs: 200, headersTimeoutMs: 200, requestTimeoutMs: 300 });
  const session = connect(`http://127.0.0.1:${port}`);
  session.on('error', () => {});
  await once(session, 'remoteSettings');
  assert.equal(session.remoteSettings.maxConcurrentStreams, 100);
  // A call that never ends its request is reset after requestTimeoutMs.
  const stream = session.request({ ':method': 'POST', ':path': '/grpc.health.v1.Health/Check', 'content-type': 'application/grpc' });
  stream.on('error', () => {});
  const began = Date.now();
  await once(stream, 'close');
  assert.ok(Date.now() - began >= 250, 'not before requestTimeoutMs');
  // Then, with no stream open, the session is closed (GOAWAY) after keepAliveTimeoutMs.
  await once(session, 'close');
  // A connection that sends only the preface and goes silent is closed too.
  const silent = connectTcp(port, '127.0.0.1');
  silent.on('error', () => {});
  silent.write(PREFACE);
  silent.resume();
  await once(silent, 'close');
});

test('the connection cap counts HTTP/2 connections: past maxConnections the oldest is closed', async (t) => {
  const { port } = await started(t, { maxConnections: 2 });
  const sessions = [];
  let firstClosed;
  for (let i = 0; i < 3; i++) {
    const session = connect(`http://127.0.0.1:${port}`);
    session.on('error', () => {});
    if (i === 0) firstClosed = once(session, 'close');
    await rawCall(port, { session });
    sessions.push(session);
  }
  await firstClosed;
  assert.deepEqual((await rawCall(port, { session: sessions[2] })).body, SERVING);
  for (const session of sessions) session.destroy();
});

test('150 calls at once on one session, past its stream limit: answered or refused cleanly, and the session keeps serving', async (t) => {
  const { probe, port } = await started(t);
  probe.addCheck('slow', () => new Promise((resolve) => setTimeout(() => resolve(true), 100)));
  const session = connect(`http://127.0.0.1:${port}`, { peerMaxConcurrentStreams: 1000 });
  session.on('error', () => {});
  t.after(() => session.destroy());
  await once(session, 'remoteSettings');
  const calls = await Promise.all(Array.from({ length: 150 }, () => rawCall(port, { session }).catch(() => undefined)));
  const served = calls.filter((call) => call?.status === 0).length;
  assert.ok(served >= 100, `${served} served`);
  assert.deepEqual((await rawCall(port, { session })).body, SERVING);
});

test('1,000 sequential Checks, each on a new connection (as kubelet probes), leave no session, socket or timer behind', async (t) => {
  const { probe, port } = await started(t);
  const resources = () => process.getActiveResourcesInfo().filter((name) => name !== 'TTYWrap').sort();
  // Warm up: node:http2 and the gRPC code are loaded on the first connection.
  await rawCall(port);
  await new Promise((resolve) => setTimeout(resolve, 50));
  const before = resources();
  for (let i = 0; i < 1000; i++) {
    if (i === 500) probe.setState('UP');
    const answer = await rawCall(port);
    assert.deepEqual(answer.body, i < 500 ? SERVING : NOT_SERVING);
  }
  await new Promise((resolve) => setTimeout(resolve, 200));
  const after = resources();
  assert.deepEqual(after, before);
});

test('require("service-probe") from CommonJS serves gRPC health too', async (t) => {
  const { createRequire } = await import('node:module');
  const { createProbe: createCjsProbe } = createRequire(import.meta.url)('service-probe');
  const probe = createCjsProbe({ host: '127.0.0.1', port: 0, state: 'READY', server: 'net' });
  const { port } = await probe.start();
  t.after(() => probe.stop());
  assert.deepEqual((await rawCall(port)).body, SERVING);
});

test('a Watch with a deadline sends the status, then ends with DEADLINE_EXCEEDED', async (t) => {
  const { port } = await started(t);
  const started_ = Date.now();
  const answer = await rawCall(port, { path: '/grpc.health.v1.Health/Watch', headers: { 'grpc-timeout': '150m' } });
  assert.ok(Date.now() - started_ >= 140, 'not before the deadline');
  assert.deepEqual(answer.body, SERVING);
  assert.equal(answer.trailers['grpc-status'], '4');
});

test('stop() closes an HTTP/2 connection whose client never closes its side, within the grace period and without forcing', async () => {
  const errors = [];
  const logger = { debug() {}, info() {}, warn() {}, error: (message) => errors.push(message) };
  const probe = createProbe({ host: '127.0.0.1', port: 0, state: 'READY', server: 'net', logger });
  const { port } = await probe.start();
  // A client that keeps its side open after the probe's FIN.
  const socket = connectTcp({ port, host: '127.0.0.1', allowHalfOpen: true });
  socket.on('error', () => {});
  socket.resume();
  const settings = once(socket, 'data');
  socket.write(Buffer.concat([PREFACE, Buffer.from([0, 0, 0, 4, 0, 0, 0, 0, 0])]));
  await settings;
  const closed = once(socket, 'close');
  await probe.stop();
  // stop() logs an error when its grace period ran out first: none means it closed in time.
  assert.deepEqual(errors, []);
  socket.destroy();
  await closed;
});

test('service names follow the verdicts whatever `paths` renames, inline and in worker mode', async (t) => {
  for (const worker of [false, true]) {
    const probe = createProbe({ host: '127.0.0.1', port: 0, state: 'READY', server: 'net', worker, grpc: true, paths: { ready: '/readyz', health: '/livez' } });
    const { port } = await probe.start();
    t.after(() => probe.stop());
    assert.deepEqual((await rawCall(port, { body: checkRequest('readiness') })).body, SERVING, `worker ${worker}`);
    probe.setState('DRAINING');
    assert.deepEqual((await rawCall(port, { body: checkRequest('readiness') })).body, NOT_SERVING, `worker ${worker}`);
    assert.deepEqual((await rawCall(port, { body: checkRequest('liveness') })).body, SERVING, `worker ${worker}`);
  }
});
