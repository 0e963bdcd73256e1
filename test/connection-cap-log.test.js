import { test } from 'node:test';
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { createProbe } from '../dist/index.js';

async function startedProbe(server, options) {
  const probe = createProbe({ host: '127.0.0.1', port: 0, ...options, server });
  const { port } = await probe.start();
  return { probe, port };
}

for (const server of ['http', 'net']) {
  test(`a connection flood past the cap logs one warning a second at most, with a count, not one per connection (${server} server)`, async (t) => {
    const warnings = [];
    const { probe, port } = await startedProbe(server, { maxConnections: 5, logger: { warn: (message) => warnings.push(message) } });
    const sockets = [];
    t.after(async () => {
      for (const socket of sockets) socket.destroy();
      await probe.stop();
    });
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
}
