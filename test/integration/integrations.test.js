// The probe mounted inside node:http, Connect, Express 5, Fastify 5 and Koa 3 answers byte for byte
// what the standalone server answers (minus the Date header, and Keep-Alive, whose timeout is the
// host server's own), at the root and under a prefix; other paths fall through to the app, and so
// does `/` when the probe is mounted without a prefix: the app's own route there stays the app's.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import net from 'node:net';
import { once } from 'node:events';
import connect from 'connect';
import express from 'express';
import Fastify from 'fastify';
import Koa from 'koa';
import { createProbe, connectMiddleware, koaMiddleware, ProbeArgumentError, ServiceState } from '../../dist/index.js';
import { rawExchange } from '../helpers/http.js';

const PREFIX = '/internal/health';

// `{p}` is the mount prefix; `{root}` is `/` on the standalone server and the bare prefix when mounted
// under one (a mount without a prefix leaves `/` to the app, tested below).
const REQUESTS = [
  'GET {p}/ready HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n',
  'HEAD {p}/ready HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n',
  'GET {p}/health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n',
  'GET {p}/live/ HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n',
  'GET {p}/started HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n',
  'GET {p}/ready?probe=1 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n',
  'POST {p}/ready HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nConnection: close\r\n\r\n',
  'GET {p}/health HTTP/1.1\r\nHost: 10.0.0.7:11333\r\nUser-Agent: kube-probe/1.31\r\nAccept: */*\r\nConnection: close\r\n\r\n',
  'GET {p}/ready HTTP/1.0\r\n\r\n',
  // Keep-alive, pipelined: two answers on one connection.
  'GET {p}/ready HTTP/1.1\r\nHost: x\r\n\r\nGET {p}/health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n',
];

const fill = (request, prefix) => request.replaceAll('{root}', prefix === '' ? '/' : prefix).replaceAll('{p}', prefix);
const normalise = (text) => text.replace(/\r\nDate: [^\r]*/gi, '').replace(/\r\nKeep-Alive: [^\r]*/gi, '');

async function listening(server) {
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return server.address().port;
}

const ROOT_REQUEST = 'GET {root} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n';

// Each mounts the probe at `prefix` and answers `app <path>` for every other path, `/` included.
const FRAMEWORKS = {
  'node:http (probe.handle)': async (probe, prefix) => {
    const server = http.createServer((req, res) => {
      if (!probe.handle(req, res, prefix)) res.end(`app ${req.url}`);
    });
    return { port: await listening(server), close: () => server.close() };
  },
  Connect: async (probe, prefix) => {
    const app = connect();
    app.use(connectMiddleware(probe, { prefix }));
    app.use((req, res) => res.end(`app ${req.url}`));
    const server = http.createServer(app);
    return { port: await listening(server), close: () => server.close() };
  },
  'Express 5': async (probe, prefix) => {
    const app = express();
    app.use(connectMiddleware(probe, { prefix }));
    app.use((req, res) => res.send(`app ${req.url}`));
    const server = http.createServer(app);
    return { port: await listening(server), close: () => server.close() };
  },
  'Express 5 (app.use(prefix, middleware))': async (probe, prefix) => {
    const app = express();
    if (prefix === '') app.use(connectMiddleware(probe));
    else app.use(prefix, connectMiddleware(probe));
    app.use((req, res) => res.send(`app ${req.originalUrl}`));
    const server = http.createServer(app);
    return { port: await listening(server), close: () => server.close() };
  },
  'Fastify 5': async (probe, prefix) => {
    const app = Fastify();
    app.addHook('onRequest', async (request, reply) => {
      if (probe.handle(request.raw, reply.raw, prefix)) reply.hijack();
    });
    app.get('/*', async (request) => `app ${request.url}`);
    await app.listen({ port: 0, host: '127.0.0.1' });
    return { port: app.server.address().port, close: () => app.close() };
  },
  'Koa 3': async (probe, prefix) => {
    const app = new Koa();
    app.use(koaMiddleware(probe, { prefix }));
    app.use((ctx) => {
      ctx.body = `app ${ctx.url}`;
    });
    const server = http.createServer(app.callback());
    return { port: await listening(server), close: () => server.close() };
  },
};

async function standalone(t) {
  const probe = createProbe({ host: '127.0.0.1', port: 0 });
  const { port } = await probe.start();
  t.after(() => probe.stop());
  probe.markStarted(); // /started then answers the same in every pass
  const expected = new Map();
  for (const state of [ServiceState.Up, ServiceState.Ready]) {
    probe.setState(state);
    for (const request of [...REQUESTS, ROOT_REQUEST]) {
      const { text } = await rawExchange(port, fill(request, ''), { idleMs: 200 });
      expected.set(`${state} ${request}`, normalise(text));
    }
  }
  return { probe, expected };
}

for (const [name, mount] of Object.entries(FRAMEWORKS)) {
  test(`${name}: mounted endpoints answer the standalone server's bytes, at the root and under ${PREFIX}`, async (t) => {
    const { probe, expected } = await standalone(t);
    for (const prefix of ['', PREFIX]) {
      const { port, close } = await mount(probe, prefix);
      t.after(close);
      // Express's app.use(path, middleware) hides the mount path, so the probe sees a mount without
      // a prefix: the bare mount path is the app's there.
      const answersRoot = prefix !== '' && !name.includes('app.use(prefix');
      for (const state of [ServiceState.Up, ServiceState.Ready]) {
        probe.setState(state);
        for (const request of answersRoot ? [...REQUESTS, ROOT_REQUEST] : REQUESTS) {
          const { text } = await rawExchange(port, fill(request, prefix), { idleMs: 200 });
          assert.equal(normalise(text), expected.get(`${state} ${request}`), `${state} ${JSON.stringify(fill(request, prefix))}`);
        }
      }
      // Paths that are not the probe's reach the app.
      for (const path of ['/app', `${PREFIX}z/ready`, ...(prefix === '' ? ['/', '/?x=1'] : ['/ready']), ...(answersRoot ? [] : [PREFIX])]) {
        const res = await fetch(`http://127.0.0.1:${port}${path}`);
        assert.equal(`${res.status} ${await res.text()}`, `200 app ${path}`, `${path} with prefix '${prefix}'`);
      }
    }
  });
}

test('a bad prefix is rejected naming the value', () => {
  const probe = createProbe();
  for (const prefix of ['internal', '/internal/', '/a?b', 42]) {
    assert.throws(() => connectMiddleware(probe, { prefix }), (error) => error instanceof ProbeArgumentError && error.message.includes(String(prefix)));
    assert.throws(() => koaMiddleware(probe, { prefix }), ProbeArgumentError);
  }
  assert.throws(() => connectMiddleware(probe, { prefx: '/x' }), ProbeArgumentError);
});

test('an adapter given anything but a probe throws at creation naming "probe", and nothing is mounted', async (t) => {
  // The probe argument forgotten: the options land in its place.
  const wrongs = [{ prefix: '/internal/health' }, undefined, null, 'probe', {}, { handle: 'not a function' }];
  const refused = (received) => (error) => {
    assert.ok(error instanceof ProbeArgumentError, String(error));
    assert.equal(error.code, 'INVALID_ARGUMENT');
    assert.equal(error.argument, 'probe');
    assert.equal(error.value, received);
    assert.match(error.message, /"probe" argument must be a Probe/);
    return true;
  };
  for (const wrong of wrongs) {
    assert.throws(() => connectMiddleware(wrong), refused(wrong));
    assert.throws(() => connectMiddleware(wrong, { prefix: '/internal/health' }), refused(wrong));
    assert.throws(() => koaMiddleware(wrong), refused(wrong));
  }
  assert.throws(() => connectMiddleware({ prefix: '/x' }), /the options come second: connectMiddleware\(probe, \{ prefix \}\)\)\. Received an instance of Object/);

  // In real apps: the mistake surfaces where the app is built, and the app's routes stay the app's.
  const app = express();
  assert.throws(() => app.use(connectMiddleware({ prefix: '/internal/health' })), /"probe" argument must be a Probe/);
  app.get('/', (req, res) => res.send('the app'));
  const server = http.createServer(app);
  const port = await listening(server);
  t.after(() => server.close());
  const koa = new Koa();
  assert.throws(() => koa.use(koaMiddleware({ prefix: '/internal/health' })), /"probe" argument must be a Probe/);
  koa.use((ctx) => {
    if (ctx.path === '/') ctx.body = 'the koa app';
  });
  const koaServer = http.createServer(koa.callback());
  const koaPort = await listening(koaServer);
  t.after(() => koaServer.close());
  for (const [where, body] of [[port, 'the app'], [koaPort, 'the koa app']]) {
    const res = await fetch(`http://127.0.0.1:${where}/`);
    assert.equal(`${res.status} ${await res.text()}`, `200 ${body}`);
    assert.equal((await fetch(`http://127.0.0.1:${where}/internal/health/ready`)).status, 404);
  }
});

test('while a tracked Express server drains, probe answers mounted on it also carry Connection: close', async (t) => {
  const probe = createProbe({ host: '127.0.0.1', port: 0, state: ServiceState.Ready });
  const app = express();
  app.use(connectMiddleware(probe));
  const server = http.createServer(app);
  const port = await listening(server);
  t.after(() => server.close());
  probe.trackServer(server);
  const socket = await new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1', () => resolve(s));
  });
  t.after(() => socket.destroy());
  let bytes = '';
  socket.setEncoding('latin1').on('data', (chunk) => (bytes += chunk));
  socket.write('GET /health HTTP/1.1\r\nHost: x\r\n\r\n');
  while (!bytes.endsWith('READY')) await new Promise((resolve) => setTimeout(resolve, 5));
  assert.doesNotMatch(bytes, /Connection: close/i);

  const done = probe.shutdown({ drainDelayMs: 300, exit: false });
  socket.write('GET /health HTTP/1.1\r\nHost: x\r\n\r\n');
  await once(socket, 'close');
  assert.match(bytes.slice(bytes.indexOf('READY') + 5), /^HTTP\/1\.1 200 OK\r\n(?:[^]*\r\n)?Connection: close\r\n[^]*DRAINING$/);
  assert.equal((await done).exitCode, 0);
});
