// The `paths` option: the endpoints renamed or aliased (Kubernetes-style /livez, /readyz), on both
// standalone servers and mounted in Express, with per-check paths, ?verbose, JSON and HEAD.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import express from 'express';
import { createProbe, connectMiddleware, ProbeArgumentError } from '../../dist/index.js';
import { get } from '../helpers/checks.js';

const K8S = { health: ['/livez', '/healthz'], ready: '/readyz', started: '/startupz' };

for (const server of ['net', 'http']) {
  test(`standalone (${server}): Kubernetes-style paths answer, the default names are gone`, async (t) => {
    const probe = createProbe({ host: '127.0.0.1', port: 0, server, paths: K8S, exposeDetails: true });
    probe.addCheck('db', () => false);
    const { port } = await probe.start();
    t.after(() => probe.stop());
    const base = `http://127.0.0.1:${port}`;
    assert.deepEqual([(await get(`${base}/livez`)).status, (await get(`${base}/livez`)).body], [200, 'UP']);
    assert.equal((await get(`${base}/healthz/`)).status, 200);
    assert.equal((await get(`${base}/`)).status, 200);
    assert.equal((await get(`${base}/startupz`)).status, 503);
    probe.setState('READY');
    const ready = await get(`${base}/readyz?verbose`);
    assert.equal(ready.status, 503);
    assert.match(ready.body, /\[-\]db failed/);
    assert.equal((await get(`${base}/readyz/db`)).status, 503);
    assert.equal(JSON.parse((await get(`${base}/readyz`, { headers: { accept: 'application/health+json' } })).body).status, 'fail');
    const head = await get(`${base}/livez`, { method: 'HEAD' });
    assert.deepEqual([head.status, head.body, head.headers['content-length']], [200, '', '5']);
    for (const path of ['/health', '/live', '/ready', '/started', '/ready/db']) assert.equal((await get(base + path)).status, 404, path);
  });
}

test('mounted without a prefix in Express: the configured paths are the probe’s, `/` and the rest the app’s', async (t) => {
  const probe = createProbe({ paths: K8S, state: 'READY' });
  const app = express();
  app.get('/', (req, res) => res.send('home page'));
  app.use(connectMiddleware(probe));
  app.use((req, res) => res.status(404).send(`app 404 ${req.url}`));
  const server = http.createServer(app);
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(() => server.close());
  const base = `http://127.0.0.1:${server.address().port}`;
  assert.deepEqual([(await get(`${base}/readyz`)).status, (await get(`${base}/readyz`)).body], [200, 'READY']);
  assert.equal((await get(`${base}/healthz`)).body, 'READY');
  assert.equal((await get(`${base}/`)).body, 'home page');
  assert.equal((await get(`${base}/ready`)).body, 'app 404 /ready');
});

test('a bad paths option throws at createProbe, naming the value', () => {
  for (const [paths, shown] of [
    [{ ready: '/' }, "'/'"],
    [{ ready: '/livez', health: '/livez' }, '/livez'],
    [{ health: 'healthz' }, 'healthz'],
    [{ readyz: '/readyz' }, 'readyz'],
  ]) {
    assert.throws(() => createProbe({ paths }), (error) => error instanceof ProbeArgumentError && error.message.includes(shown), JSON.stringify(paths));
  }
});

test('with metrics on, no endpoint path may take /metrics; with it off, one may', async (t) => {
  assert.throws(
    () => createProbe({ metrics: true, paths: { ready: '/metrics' } }),
    (error) => error instanceof ProbeArgumentError && error.argument === 'options.paths.ready' && /clashes with '\/metrics'/.test(error.message),
  );
  assert.throws(() => createProbe({ metrics: true, paths: { health: '/metrics/live' } }), ProbeArgumentError);
  const probe = createProbe({ host: '127.0.0.1', port: 0, state: 'READY', paths: { ready: '/metrics' } });
  const { port } = await probe.start();
  t.after(() => probe.stop());
  const response = await fetch(`http://127.0.0.1:${port}/metrics`);
  assert.deepEqual([response.status, await response.text()], [200, 'READY']);
});

test('worker mode answers on the configured paths too, /metrics among them', async (t) => {
  const probe = createProbe({ host: '127.0.0.1', port: 0, state: 'READY', worker: true, metrics: true, paths: { ready: '/readyz', health: ['/livez', '/healthz'] } });
  const { port } = await probe.start();
  t.after(() => probe.stop());
  for (const [path, status] of [['/readyz', 200], ['/livez', 200], ['/healthz/', 200], ['/ready', 404], ['/health', 404]]) {
    assert.equal((await fetch(`http://127.0.0.1:${port}${path}`)).status, status, path);
  }
  probe.setState('DRAINING');
  assert.deepEqual(await fetch(`http://127.0.0.1:${port}/readyz`).then(async (r) => [r.status, await r.text()]), [503, 'DRAINING']);
  const metrics = await fetch(`http://127.0.0.1:${port}/metrics`).then(async (r) => [r.status, await r.text()]);
  assert.equal(metrics[0], 200);
  assert.match(metrics[1], /^service_probe_ready 0$/m);
  assert.match(metrics[1], /^service_probe_state\{state="DRAINING"\} 1$/m);
});
