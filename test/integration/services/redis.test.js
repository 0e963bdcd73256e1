// redis(client) against a real Redis server (Debian's package), through a real probe, with
// node-redis 4, 5 and 6 and ioredis 5 and 6: passes while the server answers; fails within the
// timeout when it is paused, stopped or refuses the password, saying why and without the
// password; passes again once it is back.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createClient as createRedis6 } from 'redis';
import { createClient as createRedis5 } from 'redis5';
import { createClient as createRedis4 } from 'redis4';
import IORedis6 from 'ioredis';
import IORedis5 from 'ioredis5';
import { redis } from '../../../dist/checks-entry.js';
import { PASSWORD, startRedis } from './servers.js';
import { TIMEOUT_MS, assertFails, assertPasses, eventuallyPasses, probeWith } from './probe-harness.js';

let server;
before(async () => {
  server = await startRedis();
});
after(() => server?.close());

const nodeRedis = (createClient) => ({
  // Connected unless the password is refused (then connect() never settles: it keeps retrying).
  async open(t, password = PASSWORD) {
    const client = createClient({ url: `redis://:${password}@127.0.0.1:${server.port}`, socket: { reconnectStrategy: () => 100 } });
    client.on('error', () => {});
    t.after(() => (typeof client.destroy === 'function' ? client.destroy() : client.disconnect().catch(() => {})));
    const connecting = client.connect();
    connecting.catch(() => {});
    if (password === PASSWORD) await connecting;
    return client;
  },
});

const ioredis = (IORedis) => ({
  async open(t, password = PASSWORD) {
    const client = new IORedis({ host: '127.0.0.1', port: server.port, password, retryStrategy: () => 100, lazyConnect: true });
    client.on('error', () => {});
    t.after(() => client.disconnect());
    const connecting = client.connect();
    connecting.catch(() => {});
    if (password === PASSWORD) await connecting;
    return client;
  },
});

const clients = {
  'node-redis 4': nodeRedis(createRedis4),
  'node-redis 5': nodeRedis(createRedis5),
  'node-redis 6': nodeRedis(createRedis6),
  'ioredis 5': ioredis(IORedis5),
  'ioredis 6': ioredis(IORedis6),
};

/** Runs the check until its reason matches (the client noticed), asserting each run fails in time. */
async function failsUntil(probe, reason) {
  for (let i = 0; i < 100; i++) {
    const result = await probe.run();
    assertFails(result, TIMEOUT_MS, /^redis: /);
    if (reason.test(result.outcome.output)) return result;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  assert.fail(`the reason never matched ${reason}`);
}

for (const [name, library] of Object.entries(clients)) {
  test(`${name}: passes while Redis answers PING, fails within the timeout while it is paused, and passes after it resumes`, async (t) => {
    const client = await library.open(t);
    const probe = await probeWith(t, redis(client));
    assertPasses(await probe.run());
    await server.server.pause();
    try {
      for (let i = 0; i < 2; i++) assertFails(await probe.run(), TIMEOUT_MS, /timed out after 1000 ms/, `paused run ${i + 1}`);
    } finally {
      server.server.resume();
    }
    await eventuallyPasses(probe);
  });

  test(`${name}: fails at once as "not connected" with the client's error while Redis is stopped, and passes once it reconnects`, async (t) => {
    const client = await library.open(t);
    const probe = await probeWith(t, redis(client));
    assertPasses(await probe.run());
    await server.server.stop('SIGTERM');
    try {
      await failsUntil(probe, /^redis: connection refused: .*ECONNREFUSED.* \(not connected: (reconnecting|status reconnecting)\)$/);
    } finally {
      await server.server.start();
    }
    await eventuallyPasses(probe);
  });

  test(`${name}: a refused password fails with "authentication failed", and the reason never shows the password`, async (t) => {
    const wrong = 'not-the-password-2718';
    const client = await library.open(t, wrong);
    const probe = await probeWith(t, redis(client));
    const result = await failsUntil(probe, /^redis: authentication failed: WRONGPASS/);
    assert.ok(!result.outcome.output.includes(wrong));
  });

  test(`${name}: a server that starts refusing the password fails the check with "authentication failed", and it passes once the password is accepted again`, async (t) => {
    const client = await library.open(t);
    const admin = await clients['ioredis 6'].open(t);
    const probe = await probeWith(t, redis(client));
    assertPasses(await probe.run());
    const changed = 'a-changed-password-1618';
    await admin.config('SET', 'requirepass', changed);
    try {
      // Connections already in stay logged in: drop the others (not the admin's), so they log in anew.
      await admin.client('KILL', 'TYPE', 'normal', 'SKIPME', 'yes');
      const result = await failsUntil(probe, /^redis: authentication failed: WRONGPASS/);
      assert.ok(!result.outcome.output.includes(PASSWORD) && !result.outcome.output.includes(changed));
    } finally {
      await admin.config('SET', 'requirepass', PASSWORD);
    }
    await eventuallyPasses(probe);
  });
}
