// amqp(connection) against a real RabbitMQ broker (Debian's package), through a real probe, with
// amqplib 2's and 0.10's promise and callback APIs, with and without amqplib 2's recovery: passes
// while the broker opens channels; fails within the timeout when it is paused, stopped or refuses
// the password, saying why and without the password; passes again once it is back.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import amqplib from 'amqplib';
import callbackApi from 'amqplib/callback_api';
import amqplib010 from 'amqplib010';
import callbackApi010 from 'amqplib010/callback_api.js';
import { amqp } from '../../../dist/checks-entry.js';
import { PASSWORD, USER, startRabbitMQ } from './servers.js';
import { TIMEOUT_MS, assertFails, assertPasses, eventuallyPasses, probeWith } from './probe-harness.js';

let broker;
before(async () => {
  broker = await startRabbitMQ();
});
after(() => broker?.close());

const url = (password = PASSWORD) => `amqp://${USER}:${password}@127.0.0.1:${broker.port}`;

const connectWithCallback = (api) => new Promise((resolve, reject) => api.connect(url(), (error, connection) => (error ? reject(error) : resolve(connection))));

const connections = {
  'promise API': async (t) => closing(t, await amqplib.connect(url())),
  'callback API': async (t) => closing(t, await connectWithCallback(callbackApi)),
  '0.10 promise API': async (t) => closing(t, await amqplib010.connect(url())),
  '0.10 callback API': async (t) => closing(t, await connectWithCallback(callbackApi010)),
  'promise API with recovery': async (t) => closing(t, await amqplib.connect(url(), { recovery: { initialDelay: 100, maxDelay: 500 } })),
};

function closing(t, connection) {
  connection.on('error', () => {});
  t.after(async () => {
    try {
      await new Promise((resolve) => {
        const returned = connection.close(resolve);
        if (returned && typeof returned.then === 'function') returned.then(resolve, resolve);
      });
    } catch {
      // Closed already.
    }
  });
  return connection;
}

/** Runs the check until its reason matches (the connection noticed), asserting each run fails in time. */
async function failsUntil(probe, reason, timeoutMs = 30_000) {
  const deadline = Date.now() + timeoutMs;
  let last;
  while (Date.now() < deadline) {
    last = await probe.run();
    assertFails(last, TIMEOUT_MS, /^amqp: |timed out/);
    if (reason.test(last.outcome.output)) return last;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  assert.fail(`the reason never matched ${reason} (last: ${last?.outcome.output})`);
}

for (const [name, connect] of Object.entries(connections)) {
  test(`amqplib ${name}: passes while RabbitMQ opens a channel, fails within the timeout while it is paused, and passes after it resumes`, async (t) => {
    const connection = await connect(t);
    const probe = await probeWith(t, amqp(connection));
    assertPasses(await probe.run());
    await broker.server.pause();
    try {
      for (let i = 0; i < 2; i++) assertFails(await probe.run(), TIMEOUT_MS, /timed out after 1000 ms/, `paused run ${i + 1}`);
    } finally {
      broker.server.resume();
    }
    await eventuallyPasses(probe);
  });
}

test('amqplib without recovery: a broker that stops fails the check at once as "connection lost", and a closed connection keeps failing', async (t) => {
  const connection = await connections['promise API'](t);
  const probe = await probeWith(t, amqp(connection));
  assertPasses(await probe.run());
  await broker.server.stop('SIGTERM');
  try {
    await failsUntil(probe, /^amqp: connection lost: .*CONNECTION[-_]FORCED.* \(not connected: closed\)$/);
  } finally {
    await broker.server.start();
  }
  // amqplib does not reconnect by itself: the service replaces the connection (or uses recovery).
  assertFails(await probe.run(), TIMEOUT_MS, /\(not connected: closed\)$/);
});

test('amqplib with recovery: fails while RabbitMQ is stopped, then while it refuses the password ("authentication failed", password never shown), and passes once it accepts it again', async (t) => {
  const connection = await connections['promise API with recovery'](t);
  const probe = await probeWith(t, amqp(connection));
  assertPasses(await probe.run());

  await broker.server.stop('SIGTERM');
  try {
    await failsUntil(probe, /^amqp: connection refused: .*ECONNREFUSED.* \(not connected: reconnecting\)$/);
  } finally {
    await broker.server.start();
  }
  await eventuallyPasses(probe);

  const changed = 'a-changed-password-1618';
  broker.ctl(['change_password', USER, changed]);
  broker.ctl(['close_all_connections', 'password changed']);
  try {
    const result = await failsUntil(probe, /^amqp: authentication failed: .*ACCESS[-_]REFUSED.* \(not connected: reconnecting\)$/);
    assert.ok(!result.outcome.output.includes(PASSWORD));
    assert.ok(!result.outcome.output.includes(changed));
  } finally {
    broker.ctl(['change_password', USER, PASSWORD]);
  }
  await eventuallyPasses(probe);
});
