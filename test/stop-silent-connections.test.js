import { test } from 'node:test';
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { createProbe } from '../dist/index.js';

test('stop closes connections that never sent a byte at once, without waiting out the grace period or logging an error', async (t) => {
  const errors = [];
  const probe = createProbe({ host: '127.0.0.1', port: 0, logger: { error: (message) => errors.push(message) } });
  const { port } = await probe.start();
  const sockets = [];
  t.after(async () => {
    for (const socket of sockets) socket.destroy();
    await probe.stop();
  });
  for (let i = 0; i < 20; i++) {
    const socket = connect({ port, host: '127.0.0.1' });
    socket.on('error', () => {});
    socket.resume();
    sockets.push(socket);
  }
  await Promise.all(sockets.map((socket) => new Promise((resolve) => socket.once('connect', resolve))));
  // Let the probe accept them all.
  await new Promise((resolve) => setTimeout(resolve, 50));
  const closed = Promise.all(sockets.map((socket) => new Promise((resolve) => socket.once('close', resolve))));
  const started = performance.now();
  await probe.stop();
  const ms = performance.now() - started;
  await closed;
  // The grace period is 500 ms; a forced stop takes all of it.
  assert.ok(ms < 400, `stop took ${ms.toFixed(0)} ms`);
  assert.deepEqual(errors, []);
});
