// The standalone server against slow, oversized, broken and odd clients: the fixed refusals
// (400, 408, 417, 431, 405 to CONNECT) with every probe header, Host, pipelining, the timeouts and
// the connection cap. Runs on the server SERVICE_PROBE_SERVER names; `npm test` runs it on both.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { once } from 'node:events';
import { rawExchange, rawRequest } from '../helpers/http.js';
import { startedProbe } from '../helpers/servers.js';
import { controlTimer } from '../helpers/timing.js';

// Headers every probe answer carries, refusals included.
const PROBE_HEADERS = [/\r\nContent-Type: text\/plain; charset=utf-8\r\n/, /\r\nCache-Control: no-store\r\n/, /\r\nX-Content-Type-Options: nosniff\r\n/];

async function stillAnswers(port) {
  const res = await fetch(`http://127.0.0.1:${port}/ready`);
  assert.equal(res.status, 200);
  assert.equal(await res.text(), 'READY');
}

test('a request head over maxHeaderSize is answered 431 and the probe keeps answering', async (t) => {
  const { port } = await startedProbe(t, { state: 'READY' });
  const res = await rawRequest(port, `GET /ready HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(10_000)}\r\n\r\n`);
  assert.equal(res.status, 431);
  assert.equal(res.closed, true);
  await stillAnswers(port);
});

test('garbage on the wire is answered 400 with a fixed body, never echoed, and the connection closed', async (t) => {
  const { port } = await startedProbe(t, { state: 'READY' });
  for (const garbage of ['\x00\x01\x02<script>\r\n\r\n', 'GET /ready HTTP/9.9\r\n\r\n', 'GET /ready HTTP/1.1\r\nHost: x\r\nBad Header\r\n\r\n', 'GET /ready HTTP/1.1\r\nHost: x\r\nX: a\nb\r\n\r\n']) {
    const res = await rawRequest(port, garbage);
    assert.equal(res.status, 400, JSON.stringify(garbage));
    assert.equal(res.body, 'Bad Request');
    assert.ok(!res.text.includes('script'));
    assert.equal(res.closed, true);
  }
  await stillAnswers(port);
});

test('the refusals of unreadable requests are fixed bytes: probe headers, Connection: close, the reason as body, no Date', async (t) => {
  const { port } = await startedProbe(t, { state: 'READY', maxHeaderSize: 1024 });
  const fixed = (status, reason) =>
    `HTTP/1.1 ${status} ${reason}\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: ${reason.length}\r\n` +
    `Cache-Control: no-store\r\nX-Content-Type-Options: nosniff\r\nConnection: close\r\n\r\n${reason}`;
  assert.equal((await rawExchange(port, 'GET /ready HTTP/1.1\r\nHost: x\r\nBad Header\r\n\r\n')).text, fixed(400, 'Bad Request'));
  assert.equal((await rawExchange(port, `GET /ready HTTP/1.1\r\nHost: x\r\nX: ${'a'.repeat(2000)}\r\n\r\n`)).text, fixed(431, 'Request Header Fields Too Large'));
  const connect = await rawExchange(port, 'CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n');
  assert.equal(
    connect.text,
    'HTTP/1.1 405 Method Not Allowed\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: 18\r\nCache-Control: no-store\r\n' +
      'X-Content-Type-Options: nosniff\r\nAllow: GET, HEAD\r\nConnection: close\r\n\r\nMethod not allowed',
  );
});

test('HTTP/1.1 without Host is refused with 400 (RFC 9112 §3.2)', async (t) => {
  const { port } = await startedProbe(t, { state: 'READY' });
  const res = await rawRequest(port, 'GET /ready HTTP/1.1\r\n\r\n');
  assert.equal(res.status, 400);
});

test('an HTTP/1.1 request without Host gets the probe\'s own 400, with every probe header and a fixed body', async (t) => {
  const { port } = await startedProbe(t, { state: 'READY' });
  const { text: raw, closed } = await rawExchange(port, 'GET /ready HTTP/1.1\r\n\r\n');
  const [head, body] = raw.split('\r\n\r\n');
  assert.match(head, /^HTTP\/1\.1 400 Bad Request\r\n/);
  for (const header of PROBE_HEADERS) assert.match(head, header);
  assert.match(head, /\r\nContent-Length: 11\r\n/);
  assert.match(head, /\r\nConnection: close/);
  assert.doesNotMatch(head, /Transfer-Encoding/i);
  assert.equal(body, 'Bad Request');
  assert.ok(closed);
});

test('an HTTP/1.0 request without Host is answered with the state, as old health checkers expect', async (t) => {
  const { port } = await startedProbe(t, { state: 'READY' });
  const { text: raw } = await rawExchange(port, 'GET /ready HTTP/1.0\r\n\r\n');
  assert.match(raw, /^HTTP\/1\.1 200 OK\r\n/);
  assert.ok(raw.endsWith('\r\n\r\nREADY'));
});

test('an Expect other than 100-continue gets the probe\'s own 417, with every probe header, and the connection closed', async (t) => {
  const { port } = await startedProbe(t, { state: 'READY' });
  const { text: raw, closed } = await rawExchange(port, 'GET /ready HTTP/1.1\r\nHost: p\r\nExpect: x-unknown\r\n\r\n');
  assert.match(raw, /^HTTP\/1\.1 417 /);
  for (const header of PROBE_HEADERS) assert.match(raw, header);
  assert.doesNotMatch(raw, /Transfer-Encoding/i);
  assert.ok(raw.endsWith('\r\n\r\nExpectation failed'));
  assert.ok(closed);
});

test('CONNECT is answered 405 with Allow: GET, HEAD and the connection closed, instead of being dropped', async (t) => {
  const { port } = await startedProbe(t, { state: 'READY' });
  const { text: raw, closed } = await rawExchange(port, 'CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n');
  assert.match(raw, /^HTTP\/1\.1 405 /);
  assert.match(raw, /\r\nAllow: GET, HEAD\r\n/);
  for (const header of PROBE_HEADERS) assert.match(raw, header);
  assert.ok(raw.endsWith('\r\n\r\nMethod not allowed'));
  assert.ok(closed);
  await stillAnswers(port);
});

test('a request that announces a body is answered without reading it, and the connection is closed', async (t) => {
  const { port } = await startedProbe(t, { state: 'READY' });
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
  const { port } = await startedProbe(t, { state: 'READY', headersTimeoutMs: 300, requestTimeoutMs: 300 });
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
  const startedAt = performance.now();
  const control = controlTimer(300);
  slow.write('GET /ready HTTP/1.1\r\n');
  const drip = setInterval(() => slow.writable && slow.write('X-A: b\r\n'), 50);
  t.after(() => clearInterval(drip));
  await Promise.all([closed(silent), closed(slow)]);
  clearInterval(drip);
  const took = performance.now() - startedAt;
  const controlMs = await control;
  // Enforced within one sweep of the connections (node:http checks every 300 ms here), far below
  // the 10 s / 15 s defaults.
  assert.ok(took < controlMs + 1000, `closed after ${took} ms; a 300 ms timer fired after ${controlMs} ms`);
  assert.equal(
    Buffer.concat(received).toString(),
    'HTTP/1.1 408 Request Timeout\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: 15\r\nCache-Control: no-store\r\n' +
      'X-Content-Type-Options: nosniff\r\nConnection: close\r\n\r\nRequest Timeout',
  );
  await stillAnswers(port);
});

test('an idle keep-alive connection is closed after keepAliveTimeoutMs', async (t) => {
  const { port } = await startedProbe(t, { state: 'READY', keepAliveTimeoutMs: 200 });
  const socket = connect({ host: '127.0.0.1', port });
  t.after(() => socket.destroy());
  await once(socket, 'connect');
  socket.write('GET /ready HTTP/1.1\r\nHost: x\r\n\r\n');
  const [data] = await once(socket, 'data');
  assert.match(data.toString(), /^HTTP\/1\.1 200/);
  const startedAt = performance.now();
  const control = controlTimer(200);
  await once(socket, 'close');
  const took = performance.now() - startedAt;
  const controlMs = await control;
  // Far below the 5 s default: within a sweep of the deadline on the node:net server, about 1 s
  // past it on node:http (which adds a second to its keep-alive socket timeout).
  assert.ok(took < controlMs + 1500, `closed after ${took} ms; a 200 ms timer fired after ${controlMs} ms`);
});

test('past maxConnections the oldest connection is closed, so a new client (kubelet) is still answered', async (t) => {
  const { probe, port } = await startedProbe(t, { state: 'READY', maxConnections: 5 });
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
  const { port } = await startedProbe(t, { state: 'READY' });
  for (let i = 0; i < 20; i++) {
    const socket = connect({ host: '127.0.0.1', port });
    socket.on('error', () => {});
    await once(socket, 'connect');
    socket.write('GET /ready HTTP/1.1\r\nHost: x\r\n');
    socket.resetAndDestroy();
  }
  await stillAnswers(port);
});

// `count` pipelined GET /ready in one write (the last with `Connection: close` if `close`): how
// many answers came back, and whether the server closed the connection.
async function pipeline(port, count, { close = false } = {}) {
  const last = close ? 'GET /ready HTTP/1.1\r\nHost: p\r\nConnection: close\r\n\r\n' : 'GET /ready HTTP/1.1\r\nHost: p\r\n\r\n';
  const { text, closed } = await rawExchange(port, 'GET /ready HTTP/1.1\r\nHost: p\r\n\r\n'.repeat(count - 1) + last);
  return { answers: text.split('HTTP/1.1 200 OK').length - 1, closedByServer: closed };
}

test('a connection that pipelines thousands of requests is closed instead of queueing every answer in memory', async (t) => {
  const { port } = await startedProbe(t, { state: 'READY' });
  const { answers, closedByServer } = await pipeline(port, 5000);
  assert.ok(closedByServer, 'the probe closed the connection');
  assert.ok(answers < 5000, `only part of the answers were sent (${answers})`);
  await stillAnswers(port);
});

test('a client pipelining a few dozen requests gets every answer, in order', async (t) => {
  const { port } = await startedProbe(t, { state: 'READY' });
  const { answers } = await pipeline(port, 40, { close: true });
  assert.equal(answers, 40);
});

test('a connection flood past the cap logs one warning a second at most, with a count, not one per connection', async (t) => {
  const warnings = [];
  const { port } = await startedProbe(t, { maxConnections: 5, logger: { warn: (message) => warnings.push(message) } });
  const sockets = [];
  t.after(() => sockets.forEach((socket) => socket.destroy()));
  // 200 connections against a cap of 5: 195 are closed by the cap (whichever were oldest).
  let closedCount = 0;
  const allClosedByCap = new Promise((resolve) => {
    for (let i = 0; i < 200; i++) {
      const socket = connect({ port, host: '127.0.0.1' });
      socket.on('error', () => {});
      socket.once('close', () => {
        if (++closedCount === 195) resolve();
      });
      sockets.push(socket);
    }
  });
  await allClosedByCap;
  assert.ok(warnings.length >= 1, 'the first closure is logged');
  assert.ok(warnings.length <= 3, `at most about one warning a second (got ${warnings.length})`);
  assert.match(warnings[0], /more than 5 connections; closed the oldest \(1 since the last warning\)/);
});
