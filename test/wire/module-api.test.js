// The seed-compatible module API: one default probe per process, as the crate's functions.
// node:test runs each file in its own process, so this file owns the default probe.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { once } from 'node:events';
import {
  startProbe,
  stopProbe,
  setServiceState,
  getServiceState,
  ServiceState,
  ProbeStartError,
  ProbeArgumentError,
  STOP_GRACE_PERIOD_MS,
} from '../../dist/index.js';
import * as packageEntry from '../../dist/index.js';
import { rawRequest } from '../helpers/http.js';
import { controlTimer } from '../helpers/timing.js';

async function listening(port) {
  return fetch(`http://127.0.0.1:${port}/health`).then(() => true, () => false);
}

test('the state is UP before anything is started or set, as in the crate', () => {
  assert.equal(getServiceState(), 'UP');
  assert.equal(STOP_GRACE_PERIOD_MS, 500);
  // Renamed before the first release (it is stop()'s, not the shutdown sequence's): no alias.
  assert.equal('SHUTDOWN_GRACE_PERIOD_MS' in packageEntry, false);
});

test('startProbe takes the crate-style byte array, binds port 0 to a free port, and sets the initial state', async () => {
  const { address, port } = await startProbe([127, 0, 0, 1], 0, ServiceState.Up);
  try {
    assert.equal(address, '127.0.0.1');
    assert.ok(port > 0);
    assert.equal(getServiceState(), 'UP');
    assert.equal((await fetch(`http://127.0.0.1:${port}/ready`)).status, 503);
    setServiceState(ServiceState.Ready);
    assert.equal(getServiceState(), 'READY');
    const res = await fetch(`http://127.0.0.1:${port}/ready`);
    assert.equal(res.status, 200);
    assert.equal(await res.text(), 'READY');
  } finally {
    await stopProbe();
  }
  setServiceState(ServiceState.Up);
});

test('starting twice rejects ProbeStartError ALREADY_STARTED and leaves the running probe alone', async () => {
  const { port } = await startProbe('127.0.0.1', 0, ServiceState.Ready);
  try {
    await assert.rejects(startProbe('127.0.0.1', 0, ServiceState.Down), (error) => {
      assert.ok(error instanceof ProbeStartError);
      assert.equal(error.code, 'ALREADY_STARTED');
      return true;
    });
    assert.equal(getServiceState(), 'READY');
    assert.equal((await fetch(`http://127.0.0.1:${port}/ready`)).status, 200);
  } finally {
    await stopProbe();
  }
  setServiceState(ServiceState.Up);
});

test('a port that is taken rejects SOCKET_UNAVAILABLE with the OS error as cause, and changes nothing', async (t) => {
  const blocker = createServer();
  blocker.listen(0, '127.0.0.1');
  await once(blocker, 'listening');
  t.after(() => blocker.close());
  const { port } = blocker.address();
  // Servers and timers are what a half-started probe would leave (earlier tests' client sockets
  // may still be closing, so those are not counted).
  const resources = () => process.getActiveResourcesInfo().filter((r) => r === 'TCPServerWrap' || r === 'Timeout').length;
  const before = resources();

  await assert.rejects(startProbe('127.0.0.1', port, ServiceState.Ready), (error) => {
    assert.ok(error instanceof ProbeStartError);
    assert.equal(error.code, 'SOCKET_UNAVAILABLE');
    assert.equal(error.cause.code, 'EADDRINUSE');
    assert.match(error.message, new RegExp(String(port)));
    return true;
  });
  assert.equal(getServiceState(), 'UP', 'the initial state is only set once bound');
  await new Promise((r) => setTimeout(r, 20));
  assert.ok(resources() <= before, 'no server handle or timer left behind');

  // The failed start left the probe startable.
  const started = await startProbe('127.0.0.1', 0, ServiceState.Up);
  assert.ok(await listening(started.port));
  await stopProbe();
});

test('startProbe takes a host name too, and listens on the address it resolves to', async () => {
  const { address, port } = await startProbe('localhost', 0, ServiceState.Up);
  try {
    assert.ok(['127.0.0.1', '::1'].includes(address), address);
    assert.equal((await fetch(`http://${address.includes(':') ? `[${address}]` : address}:${port}/health`)).status, 200);
  } finally {
    await stopProbe();
  }
});

test('invalid arguments reject with an error naming the bad value, and nothing starts', async () => {
  const cases = [
    [['127.0.0.1', 70000, 'UP'], /"port".*70000/],
    [['127.0.0.1', -1, 'UP'], /"port".*-1/],
    [['127.0.0.1', 1.5, 'UP'], /"port".*1\.5/],
    [['127.0.0.1', '8080', 'UP'], /"port".*'8080'/],
    [['999.0.0.1', 0, 'UP'], /"address".*999\.0\.0\.1/],
    [['localhost:80', 0, 'UP'], /"address".*localhost:80/],
    [['not a host!', 0, 'UP'], /"address".*not a host!/],
    [[[1, 2, 3], 0, 'UP'], /"address".*\[1, 2, 3\]/],
    [[[256, 0, 0, 1], 0, 'UP'], /"address".*256/],
    [['127.0.0.1', 0, 'STARTING'], /"initialState".*STARTING/],
    [['127.0.0.1', 0, 'ready'], /"initialState".*'ready'/],
  ];
  for (const [args, message] of cases) {
    await assert.rejects(startProbe(...args), (error) => {
      assert.ok(error instanceof ProbeArgumentError, `${JSON.stringify(args)}: ${error}`);
      assert.equal(error.code, 'INVALID_ARGUMENT');
      assert.match(error.message, message);
      return true;
    });
  }
  assert.equal(getServiceState(), 'UP');
  // Nothing started: a valid start still works.
  const { port } = await startProbe('127.0.0.1', 0, ServiceState.Up);
  assert.ok(await listening(port));
  await stopProbe();
});

test('setServiceState rejects an unknown state and keeps the current one', () => {
  assert.throws(() => setServiceState('BROKEN'), (error) => error.code === 'INVALID_ARGUMENT' && /BROKEN/.test(error.message));
  assert.equal(getServiceState(), 'UP');
});

test('stopProbe closes keep-alive connections within the grace period, is idempotent, and the same port can be reused', async () => {
  const { port } = await startProbe('127.0.0.1', 0, ServiceState.Up);
  // A keep-alive connection that stays open after its answer.
  const { connect } = await import('node:net');
  const socket = connect({ host: '127.0.0.1', port });
  await once(socket, 'connect');
  socket.write('GET /health HTTP/1.1\r\nHost: x\r\n\r\n');
  await once(socket, 'data');
  const closed = once(socket, 'close');

  const startedAt = performance.now();
  const control = controlTimer(STOP_GRACE_PERIOD_MS);
  await Promise.all([stopProbe(), stopProbe()]);
  await stopProbe();
  await closed;
  const took = performance.now() - startedAt;
  const controlMs = await control;
  assert.ok(took < controlMs + 200, `stopped within the grace period (${took} ms; a ${STOP_GRACE_PERIOD_MS} ms timer fired after ${controlMs} ms)`);
  assert.equal(await listening(port), false);

  const again = await startProbe('127.0.0.1', port, ServiceState.Ready);
  assert.equal(again.port, port);
  assert.equal((await fetch(`http://127.0.0.1:${port}/ready`)).status, 200);
  await stopProbe();
  setServiceState(ServiceState.Up);
});

test('stopProbe closes a connection stuck mid-request after the grace period and logs an error', async () => {
  const { port } = await startProbe('127.0.0.1', 0, ServiceState.Up);
  const { connect } = await import('node:net');
  const socket = connect({ host: '127.0.0.1', port });
  socket.on('error', () => {});
  await once(socket, 'connect');
  socket.write('GET /health HTTP/1.1\r\nHost: x\r\n'); // head never finished
  await new Promise((r) => setTimeout(r, 50));
  const closed = once(socket, 'close');
  const startedAt = performance.now();
  const control = controlTimer(STOP_GRACE_PERIOD_MS);
  await stopProbe();
  const took = performance.now() - startedAt;
  await closed;
  const controlMs = await control;
  assert.ok(took >= STOP_GRACE_PERIOD_MS - 50, `waited for the grace period (${took} ms)`);
  assert.ok(took < controlMs + 300, `but not much longer (${took} ms; a ${STOP_GRACE_PERIOD_MS} ms timer fired after ${controlMs} ms)`);
});

test('an IPv6 address string and a 16-byte array are accepted', async (t) => {
  let started;
  try {
    started = await startProbe([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1], 0, ServiceState.Up);
  } catch (error) {
    if (error.code === 'SOCKET_UNAVAILABLE') {
      t.diagnostic('IPv6 loopback is not available on this machine');
      return;
    }
    throw error;
  }
  try {
    assert.equal(started.address, '::1');
    const res = await rawRequest(started.port, 'GET /health HTTP/1.1\r\nHost: [::1]\r\nConnection: close\r\n\r\n', { host: '::1' });
    assert.equal(res.status, 200);
  } finally {
    await stopProbe();
  }
});
