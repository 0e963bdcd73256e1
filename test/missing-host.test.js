import { test } from 'node:test';
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { createProbe } from '../dist/index.js';

function exchange(port, bytes) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    const socket = connect({ port, host: '127.0.0.1' }, () => socket.end(bytes));
    socket.on('data', (chunk) => chunks.push(chunk));
    socket.on('error', reject);
    socket.on('close', () => resolve(Buffer.concat(chunks).toString('latin1')));
  });
}

test('an HTTP/1.1 request without Host gets the probe\'s own 400, with every probe header and a fixed body', async (t) => {
  const probe = createProbe({ host: '127.0.0.1', port: 0, state: 'READY' });
  const { port } = await probe.start();
  t.after(() => probe.stop());
  const raw = await exchange(port, 'GET /ready HTTP/1.1\r\n\r\n');
  const [head, body] = raw.split('\r\n\r\n');
  assert.match(head, /^HTTP\/1\.1 400 Bad Request\r\n/);
  assert.match(head, /\r\nContent-Type: text\/plain; charset=utf-8\r\n/);
  assert.match(head, /\r\nContent-Length: 11\r\n/);
  assert.match(head, /\r\nCache-Control: no-store\r\n/);
  assert.match(head, /\r\nX-Content-Type-Options: nosniff\r\n/);
  assert.match(head, /\r\nConnection: close/);
  assert.doesNotMatch(head, /Transfer-Encoding/i);
  assert.equal(body, 'Bad Request');
});

test('an HTTP/1.0 request without Host is answered with the state, as old health checkers expect', async (t) => {
  const probe = createProbe({ host: '127.0.0.1', port: 0, state: 'READY' });
  const { port } = await probe.start();
  t.after(() => probe.stop());
  const raw = await exchange(port, 'GET /ready HTTP/1.0\r\n\r\n');
  assert.match(raw, /^HTTP\/1\.1 200 OK\r\n/);
  assert.ok(raw.endsWith('\r\n\r\nREADY'));
});
