// createProbe(): independent probes, options, start and stop, the 'change' event, answer() (the
// one decision entry) and handle() inside another server.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { connect, isIP } from 'node:net';
import { lookup } from 'node:dns/promises';
import { once } from 'node:events';
import { createProbe, Probe, ProbeArgumentError, ProbeStartError, ServiceState, DEFAULT_PORT } from '../../dist/index.js';
import { rawRequest } from '../helpers/http.js';
import { startedProbe } from '../helpers/servers.js';

test('several probes run side by side, each with its own state and server', async (t) => {
  const a = createProbe({ host: '127.0.0.1', port: 0 });
  const b = createProbe({ host: '127.0.0.1', port: 0, state: 'READY' });
  const [pa, pb] = await Promise.all([a.start(), b.start()]);
  t.after(() => Promise.all([a.stop(), b.stop()]));
  assert.notEqual(pa.port, pb.port);
  assert.equal((await fetch(`http://127.0.0.1:${pa.port}/ready`)).status, 503);
  assert.equal((await fetch(`http://127.0.0.1:${pb.port}/ready`)).status, 200);
  a.setState('READY');
  b.setState('DOWN');
  assert.equal((await fetch(`http://127.0.0.1:${pa.port}/ready`)).status, 200);
  assert.equal((await fetch(`http://127.0.0.1:${pb.port}/health`)).status, 503);
  assert.deepEqual(a.address, pa);
});

test('defaults: port 11333, state UP', () => {
  const probe = createProbe();
  assert.ok(probe instanceof Probe);
  assert.equal(DEFAULT_PORT, 11333);
  assert.equal(probe.state, 'UP');
  assert.equal(probe.address, undefined);
});

test("'change' fires with (next, previous) on every real change and never for a repeat", () => {
  const probe = createProbe({ port: 0 });
  const seen = [];
  probe.on('change', (next, previous) => seen.push([next, previous]));
  probe.setState(ServiceState.Ready);
  probe.setState(ServiceState.Ready);
  probe.setState(ServiceState.Draining);
  probe.setState(ServiceState.Down);
  probe.setState(ServiceState.Down);
  assert.deepEqual(seen, [
    ['READY', 'UP'],
    ['DRAINING', 'READY'],
    ['DOWN', 'DRAINING'],
  ]);
});

test('bad options are rejected with the option and value named, before anything starts', () => {
  const cases = [
    [{ port: 65536 }, /"options\.port".*65536/],
    [{ host: 'not a host!' }, /"options\.host".*not a host!/],
    [{ state: 'LIVE' }, /"options\.state".*LIVE/],
    [{ logger: 'console' }, /"options\.logger"/],
    [{ maxConnections: 0 }, /"options\.maxConnections".*0/],
    // Upper bounds: a probe head never needs 64 KiB, a port never 65 536 connections, a timer
    // cannot wait past 2^31-1 ms; integers are safe integers.
    [{ maxHeaderSize: 65_537 }, /"options\.maxHeaderSize".*65537/],
    [{ maxConnections: 1_000_000 }, /"options\.maxConnections".*1000000/],
    [{ keepAliveTimeoutMs: 2 ** 31 }, /"options\.keepAliveTimeoutMs".*2147483648/],
    [{ headersTimeoutMs: 1.5 }, /"options\.headersTimeoutMs".*1\.5/],
    [{ maxHeaderSize: 2 ** 53 }, /"options\.maxHeaderSize"/],
    [{ exposeDetails: 'yes' }, /"options\.exposeDetails".*true or false/],
    [{ headersTimeoutMs: 20_000, requestTimeoutMs: 10_000 }, /"options\.requestTimeoutMs".*10000/],
    [{ prot: 1 }, /"options\.prot"/],
    ['11333', /"options".*'11333'/],
  ];
  for (const [options, message] of cases) {
    assert.throws(() => createProbe(options), (error) => {
      assert.ok(error instanceof ProbeArgumentError, String(error));
      assert.match(error.message, message);
      return true;
    });
  }
});

// The node:net server, the node:http one and worker mode (which listens in its own thread).
const LISTENERS = [
  ['node:net', { server: 'net' }],
  ['node:http', { server: 'http' }],
  ['worker mode', { worker: true }],
];

for (const [name, listener] of LISTENERS) {
  test(`${name}: a host name is resolved when the probe listens, and the start line shows the bound address`, async (t) => {
    const lines = [];
    const probe = createProbe({ host: 'localhost', port: 0, ...listener, logger: { info: (line) => lines.push(line) } });
    t.after(() => probe.stop());
    const { address, port } = await probe.start();
    assert.notEqual(isIP(address), 0, `bound to ${address}`);
    assert.ok((await lookup('localhost', { all: true })).some((found) => found.address === address), `${address} is an address of localhost`);
    const shown = address.includes(':') ? `[${address}]` : address;
    assert.equal((await fetch(`http://${shown}:${port}/health`)).status, 200);
    assert.ok(lines.includes(`Service readiness probe listening on http://${shown}:${port}/ with initial state UP`), lines.join('\n'));
  });

  test(`${name}: a host name that does not resolve rejects SOCKET_UNAVAILABLE with the lookup error as cause, and leaves nothing behind`, async (t) => {
    const resources = () => process.getActiveResourcesInfo().filter((r) => r === 'TCPServerWrap' || r === 'Timeout' || r === 'MessagePort').length;
    const before = resources();
    const probe = createProbe({ host: 'no-such-host.invalid', port: 0, ...listener });
    await assert.rejects(probe.start(), (error) => {
      assert.ok(error instanceof ProbeStartError, String(error));
      assert.equal(error.code, 'SOCKET_UNAVAILABLE');
      assert.match(error.message, /^Cannot listen on no-such-host\.invalid port 0: the host name does not resolve \(\w+\)$/);
      assert.match(error.cause.code, /^(?:ENOTFOUND|EAI_AGAIN|EAI_NONAME)$/);
      assert.match(error.cause.message, /no-such-host\.invalid/);
      return true;
    });
    assert.equal(probe.address, undefined);
    await new Promise((resolve) => setTimeout(resolve, 20));
    assert.ok(resources() <= before, 'no server, timer or worker port left behind');
    // The failed start left the probe startable.
    const { port } = await probe.start({ host: '127.0.0.1' });
    t.after(() => probe.stop());
    assert.equal((await fetch(`http://127.0.0.1:${port}/health`)).status, 200);
  });
}

test('start() twice on one probe rejects ALREADY_STARTED, even while the first start is pending', async (t) => {
  const probe = createProbe({ host: '127.0.0.1', port: 0 });
  const first = probe.start();
  await assert.rejects(probe.start(), (error) => error instanceof ProbeStartError && error.code === 'ALREADY_STARTED');
  await first;
  t.after(() => probe.stop());
  await assert.rejects(probe.start(), (error) => error.code === 'ALREADY_STARTED');
});

test('a probe can be stopped and started again, and stop() on a probe never started resolves', async () => {
  const probe = createProbe({ host: '127.0.0.1', port: 0 });
  await probe.stop();
  for (let i = 0; i < 3; i++) {
    const { port } = await probe.start();
    assert.equal((await fetch(`http://127.0.0.1:${port}/health`)).status, 200);
    await probe.stop();
    assert.equal(probe.address, undefined);
  }
});

test('stop closes connections that never sent a byte at once, without waiting out the grace period or logging an error', async (t) => {
  const errors = [];
  const { probe, port } = await startedProbe(t, { logger: { error: (message) => errors.push(message) } });
  const sockets = [];
  t.after(() => sockets.forEach((socket) => socket.destroy()));
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
  await probe.stop();
  await closed;
  // A stop that waited out its grace period (connections taken for busy ones) would have logged
  // an error when it ran out: the order of the two, not a number of milliseconds.
  assert.deepEqual(errors, []);
});

test('handle() answers probe paths inside an existing node:http server and returns false for the rest', async (t) => {
  const probe = createProbe({ state: 'READY' });
  const server = createServer((req, res) => {
    if (probe.handle(req, res)) return;
    res.writeHead(200, { 'Content-Type': 'text/plain' }).end(`app: ${req.method} ${req.url}`);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  t.after(() => server.close());
  const { port } = server.address();
  const url = `http://127.0.0.1:${port}`;

  const ready = await fetch(`${url}/ready`);
  assert.equal(ready.status, 200);
  assert.equal(await ready.text(), 'READY');
  assert.equal((await fetch(`${url}/health/`)).status, 200);
  // Not the probe's: the app answers, whatever the method.
  assert.equal(await (await fetch(`${url}/api/users`)).text(), 'app: GET /api/users');
  assert.equal(await (await fetch(`${url}/api/users`, { method: 'POST', body: '{}' })).text(), 'app: POST /api/users');
  // The probe's paths with a wrong method: the probe answers 405.
  const post = await fetch(`${url}/ready`, { method: 'POST', body: 'x' });
  assert.equal(post.status, 405);
  assert.equal(post.headers.get('allow'), 'GET, HEAD');
  probe.setState('DRAINING');
  assert.equal((await fetch(`${url}/ready`)).status, 503);
});

test('handle() sends the same bytes as the standalone server', async (t) => {
  const probe = createProbe({ host: '127.0.0.1', port: 0, state: 'READY' });
  const standalone = await probe.start();
  const host = createServer((req, res) => {
    if (!probe.handle(req, res)) res.writeHead(418).end();
  });
  host.listen(0, '127.0.0.1');
  await once(host, 'listening');
  t.after(() => Promise.all([probe.stop(), new Promise((r) => host.close(r))]));
  const withoutDate = (text) => text.replace(/\r\nDate: [^\r]*/, '');
  for (const request of ['GET /ready HTTP/1.1', 'HEAD /health HTTP/1.1', 'GET /live HTTP/1.0', 'PUT /ready HTTP/1.1']) {
    const wire = `${request}\r\nHost: x\r\nConnection: close\r\n\r\n`;
    const a = await rawRequest(standalone.port, wire, { head: request.startsWith('HEAD') });
    const b = await rawRequest(host.address().port, wire, { head: request.startsWith('HEAD') });
    assert.equal(withoutDate(b.text), withoutDate(a.text), request);
  }
  // `/` is the host app's when the probe is mounted without a prefix.
  const root = await rawRequest(host.address().port, 'GET / HTTP/1.0\r\nHost: x\r\n\r\n', { head: false });
  assert.match(root.text, /^HTTP\/1\.1 418 /);
});

test('answer() is the one decision entry: the rendered response, a promise of it with checks, undefined for a path a mounted probe does not own', async () => {
  const probe = createProbe({ state: 'READY' });
  const ready = probe.answer('GET', '/ready', undefined);
  assert.equal(ready.status, 200);
  assert.equal(ready.body.toString(), 'READY');
  assert.deepEqual(ready.headers.slice(0, 2), ['Content-Type', 'text/plain; charset=utf-8']);
  // The plain answer is one shared precomputed object: nothing allocated per request, and HEAD is
  // the transport's business (same answer, the transport drops the body).
  assert.equal(probe.answer('GET', '/ready', undefined), ready);
  assert.equal(probe.answer('HEAD', '/ready/', '*/*'), ready);
  // Standalone (no prefix): every path has an answer. Mounted: a foreign path is not the probe's.
  assert.equal(probe.answer('GET', '/elsewhere', undefined).status, 404);
  assert.equal(probe.answer('POST', '/elsewhere', undefined).status, 405);
  assert.equal(probe.answer('GET', '/elsewhere', undefined, ''), undefined);
  assert.equal(probe.answer('GET', '/ready', undefined, '/internal/health'), undefined);
  assert.equal(probe.answer('GET', '/internal/health/ready', undefined, '/internal/health'), ready);
  assert.equal(probe.answer('DELETE', '/internal/health/ready', undefined, '/internal/health').status, 405);

  probe.addCheck('db', async () => false);
  const pending = probe.answer('GET', '/ready', 'application/health+json');
  assert.ok(pending instanceof Promise);
  const json = await pending;
  assert.equal(json.status, 503);
  assert.equal(JSON.parse(json.body.toString()).checks.db[0].status, 'fail');

  for (const args of [[undefined, '/ready'], ['GET', 7], ['GET', '/ready', 5], ['GET', '/ready', undefined, 'internal/']]) {
    assert.throws(() => probe.answer(...args), (error) => error instanceof ProbeArgumentError && /Received/.test(error.message), JSON.stringify(args));
  }
});
