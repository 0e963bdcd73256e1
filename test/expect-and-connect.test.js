import { test } from 'node:test';
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { createProbe } from '../dist/index.js';

// Writes `bytes`, collects everything until the server closes (or 2 s pass).
function exchange(port, bytes) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    let closedByServer = false;
    const socket = connect({ port, host: '127.0.0.1' }, () => socket.write(bytes));
    const timer = setTimeout(() => socket.destroy(), 2000);
    socket.on('data', (chunk) => chunks.push(chunk));
    socket.on('end', () => {
      closedByServer = true;
    });
    socket.on('error', reject);
    socket.on('close', () => {
      clearTimeout(timer);
      resolve({ raw: Buffer.concat(chunks).toString('latin1'), closedByServer });
    });
  });
}

const PROBE_HEADERS = [/\r\nContent-Type: text\/plain; charset=utf-8\r\n/, /\r\nCache-Control: no-store\r\n/, /\r\nX-Content-Type-Options: nosniff\r\n/];

async function startedProbe(t) {
  const probe = createProbe({ host: '127.0.0.1', port: 0, state: 'READY' });
  const { port } = await probe.start();
  t.after(() => probe.stop());
  return port;
}

test('an Expect other than 100-continue gets the probe\'s own 417, with every probe header, and the connection closed', async (t) => {
  const port = await startedProbe(t);
  const { raw, closedByServer } = await exchange(port, 'GET /ready HTTP/1.1\r\nHost: p\r\nExpect: x-unknown\r\n\r\n');
  assert.match(raw, /^HTTP\/1\.1 417 /);
  for (const header of PROBE_HEADERS) assert.match(raw, header);
  assert.doesNotMatch(raw, /Transfer-Encoding/i);
  assert.ok(raw.endsWith('\r\n\r\nExpectation failed'));
  assert.ok(closedByServer);
});

test('CONNECT is answered 405 with Allow: GET, HEAD and the connection closed, instead of being dropped', async (t) => {
  const port = await startedProbe(t);
  const { raw, closedByServer } = await exchange(port, 'CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n');
  assert.match(raw, /^HTTP\/1\.1 405 /);
  assert.match(raw, /\r\nAllow: GET, HEAD\r\n/);
  for (const header of PROBE_HEADERS) assert.match(raw, header);
  assert.ok(raw.endsWith('\r\n\r\nMethod not allowed'));
  assert.ok(closedByServer);
  // And the probe goes on answering.
  const res = await fetch(`http://127.0.0.1:${port}/ready`);
  assert.equal(await res.text(), 'READY');
});
