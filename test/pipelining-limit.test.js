import { test } from 'node:test';
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { createProbe } from '../dist/index.js';

// Sends `count` pipelined GET /ready in one write, reads everything until the server closes
// (or `waitMs` passes), and returns how many answers came back and whether the server closed.
function pipeline(port, count, { close = false, waitMs = 3000 } = {}) {
  return new Promise((resolve, reject) => {
    let raw = '';
    let closedByServer = false;
    const socket = connect({ port, host: '127.0.0.1' });
    const timer = setTimeout(() => socket.destroy(), waitMs);
    socket.setEncoding('latin1');
    socket.on('data', (chunk) => {
      raw += chunk;
    });
    socket.on('end', () => {
      closedByServer = true;
    });
    socket.on('error', (error) => {
      if (error.code === 'ECONNRESET') closedByServer = true;
      else reject(error);
    });
    socket.on('close', () => {
      clearTimeout(timer);
      resolve({ answers: raw.split('HTTP/1.1 200 OK').length - 1, closedByServer });
    });
    const last = close ? 'GET /ready HTTP/1.1\r\nHost: p\r\nConnection: close\r\n\r\n' : 'GET /ready HTTP/1.1\r\nHost: p\r\n\r\n';
    socket.write('GET /ready HTTP/1.1\r\nHost: p\r\n\r\n'.repeat(count - 1) + last);
  });
}

test('a connection that pipelines thousands of requests is closed instead of queueing every answer in memory', async (t) => {
  const probe = createProbe({ host: '127.0.0.1', port: 0, state: 'READY' });
  const { port } = await probe.start();
  t.after(() => probe.stop());
  const { answers, closedByServer } = await pipeline(port, 5000);
  assert.ok(closedByServer, 'the probe closed the connection');
  assert.ok(answers < 5000, `only part of the answers were sent (${answers})`);
  // The probe still answers everyone else.
  const res = await fetch(`http://127.0.0.1:${port}/ready`);
  assert.equal(await res.text(), 'READY');
});

test('a client pipelining a few dozen requests gets every answer, in order', async (t) => {
  const probe = createProbe({ host: '127.0.0.1', port: 0, state: 'READY' });
  const { port } = await probe.start();
  t.after(() => probe.stop());
  const { answers } = await pipeline(port, 40, { close: true });
  assert.equal(answers, 40);
});
