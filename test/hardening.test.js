// The standalone server against slow, oversized and broken clients.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { once } from 'node:events';
import { createProbe } from '../dist/index.js';
import { rawRequest } from './helpers/http.js';

async function startedProbe(t, options = {}) {
  const probe = createProbe({ host: '127.0.0.1', port: 0, state: 'READY', ...options });
  const { port } = await probe.start();
  t.after(() => probe.stop());
  return { probe, port };
}

async function stillAnswers(port) {
  const res = await fetch(`http://127.0.0.1:${port}/ready`);
  assert.equal(res.status, 200);
  assert.equal(await res.text(), 'READY');
}

test('a request head over maxHeaderSize is answered 431 and the probe keeps answering', async (t) => {
  const { port } = await startedProbe(t);
  const res = await rawRequest(port, `GET /ready HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(10_000)}\r\n\r\n`);
  assert.equal(res.status, 431);
  assert.equal(res.closed, true);
  await stillAnswers(port);
});

test('garbage on the wire is answered 400 with a fixed body, never echoed, and the connection closed', async (t) => {
  const { port } = await startedProbe(t);
  for (const garbage of ['\x00\x01\x02<script>\r\n\r\n', 'GET /ready HTTP/9.9\r\n\r\n', 'GET /ready HTTP/1.1\r\nHost: x\r\nBad Header\r\n\r\n', 'GET /ready HTTP/1.1\r\nHost: x\r\nX: a\nb\r\n\r\n']) {
    const res = await rawRequest(port, garbage);
    assert.equal(res.status, 400, JSON.stringify(garbage));
    assert.equal(res.body, 'Bad Request');
    assert.ok(!res.text.includes('script'));
    assert.equal(res.closed, true);
  }
  await stillAnswers(port);
});

test('HTTP/1.1 without Host is refused with 400 (RFC 9112 §3.2)', async (t) => {
  const { port } = await startedProbe(t);
  const res = await rawRequest(port, 'GET /ready HTTP/1.1\r\n\r\n');
  assert.equal(res.status, 400);
});

test('a request that announces a body is answered without reading it, and the connection is closed', async (t) => {
  const { port } = await startedProbe(t);
  const chunked = await rawRequest(port, 'GET /ready HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nffffff\r\nendless');
  assert.equal(chunked.status, 200);
  assert.equal(chunked.headers.connection, 'close');
  assert.equal(chunked.closed, true);
  const lying = await rawRequest(port, 'POST /ready HTTP/1.1\r\nHost: x\r\nContent-Length: 1000000\r\n\r\nshort');
  assert.equal(lying.status, 405);
  assert.equal(lying.headers.connection, 'close');
  assert.equal(lying.closed, true);
  await stillAnswers(port);
});

test('a silent connection and a slowloris one are closed by the timeouts (the slow one gets 408)', { timeout: 15_000 }, async (t) => {
  const { port } = await startedProbe(t, { headersTimeoutMs: 300, requestTimeoutMs: 300 });
  const silent = connect({ host: '127.0.0.1', port });
  const slow = connect({ host: '127.0.0.1', port });
  const closed = (socket) => new Promise((resolve) => socket.once('close', resolve));
  const received = [];
  for (const s of [silent, slow]) s.on('error', () => {});
  // A paused socket never emits 'end' (so never 'close') for the server's FIN: read both.
  silent.resume();
  slow.on('data', (chunk) => received.push(chunk));
  t.after(() => { silent.destroy(); slow.destroy(); });
  await Promise.all([once(silent, 'connect'), once(slow, 'connect')]);
  const startedAt = Date.now();
  slow.write('GET /ready HTTP/1.1\r\n');
  const drip = setInterval(() => slow.writable && slow.write('X-A: b\r\n'), 50);
  t.after(() => clearInterval(drip));
  await Promise.all([closed(silent), closed(slow)]);
  clearInterval(drip);
  const took = Date.now() - startedAt;
  assert.ok(took < 3000, `closed after ${took} ms`);
  assert.match(Buffer.concat(received).toString(), /^HTTP\/1\.1 408 /);
  await stillAnswers(port);
});

test('an idle keep-alive connection is closed after keepAliveTimeoutMs', async (t) => {
  const { port } = await startedProbe(t, { keepAliveTimeoutMs: 200 });
  const socket = connect({ host: '127.0.0.1', port });
  t.after(() => socket.destroy());
  await once(socket, 'connect');
  socket.write('GET /ready HTTP/1.1\r\nHost: x\r\n\r\n');
  const [data] = await once(socket, 'data');
  assert.match(data.toString(), /^HTTP\/1\.1 200/);
  const startedAt = Date.now();
  await once(socket, 'close');
  assert.ok(Date.now() - startedAt < 2000);
});

test('past maxConnections the oldest connection is closed, so a new client (kubelet) is still answered', async (t) => {
  const { probe, port } = await startedProbe(t, { maxConnections: 5 });
  const held = [];
  for (let i = 0; i < 5; i++) {
    const socket = connect({ host: '127.0.0.1', port });
    socket.on('error', () => {});
    held.push(socket);
    await once(socket, 'connect');
  }
  t.after(() => held.forEach((s) => s.destroy()));
  const oldestClosed = once(held[0], 'close');
  await stillAnswers(port);
  await oldestClosed;
  assert.equal(held[1].destroyed, false, 'only the oldest is closed');
  assert.ok(probe.address);
});

test('a client that resets its connection mid-request does not disturb the probe', async (t) => {
  const { port } = await startedProbe(t);
  for (let i = 0; i < 20; i++) {
    const socket = connect({ host: '127.0.0.1', port });
    socket.on('error', () => {});
    await once(socket, 'connect');
    socket.write('GET /ready HTTP/1.1\r\nHost: x\r\n');
    socket.resetAndDestroy();
  }
  await stillAnswers(port);
});
