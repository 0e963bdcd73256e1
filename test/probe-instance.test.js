// createProbe(): independent probes, the 'change' event, and handle() inside another server.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { once } from 'node:events';
import { createProbe, Probe, ProbeArgumentError, ProbeStartError, ServiceState, DEFAULT_PORT } from '../dist/index.js';
import { rawRequest } from './helpers/http.js';

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
    [{ host: 'not-an-ip' }, /"options\.host".*not-an-ip/],
    [{ state: 'LIVE' }, /"options\.state".*LIVE/],
    [{ logger: 'console' }, /"options\.logger"/],
    [{ maxConnections: 0 }, /"options\.maxConnections".*0/],
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
