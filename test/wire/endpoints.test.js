// The endpoint table, state by state, over real sockets: the crate's table plus this project's
// fixes (HEAD, DRAINING/DOWN, /live, fixed headers).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createProbe, ServiceState } from '../../dist/index.js';
import { rawRequest } from '../helpers/http.js';
import { startedProbe } from '../helpers/servers.js';


const HEALTH_PATHS = ['/', '/health', '/health/', '/live', '/live/', '/health?x=1', '/?a=b'];
const READY_PATHS = ['/ready', '/ready/', '/ready?x=1', '/ready/?a=b&c'];

// [state, health status, ready status]
const TABLE = [
  [ServiceState.Up, 200, 503],
  [ServiceState.Ready, 200, 200],
  [ServiceState.Draining, 200, 503],
  [ServiceState.Down, 503, 503],
];

for (const [state, healthStatus, readyStatus] of TABLE) {
  test(`in state ${state}, health paths answer ${healthStatus} and ready paths ${readyStatus}, body the state word`, async (t) => {
    const { probe, base } = await startedProbe(t);
    probe.setState(state);
    for (const path of HEALTH_PATHS) {
      const res = await fetch(base + path);
      assert.equal(res.status, healthStatus, path);
      assert.equal(await res.text(), state, path);
    }
    for (const path of READY_PATHS) {
      const res = await fetch(base + path);
      assert.equal(res.status, readyStatus, path);
      assert.equal(await res.text(), state, path);
    }
  });
}

test('every response carries Content-Type, Content-Length, Cache-Control: no-store and nosniff', async (t) => {
  const { port } = await startedProbe(t);
  for (const request of [
    'GET /ready HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n',
    'GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n',
    'GET /nope HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n',
    'DELETE /ready HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n',
  ]) {
    const res = await rawRequest(port, request);
    assert.equal(res.headers['content-type'], 'text/plain; charset=utf-8', request);
    assert.equal(res.headers['content-length'], String(Buffer.byteLength(res.body)), request);
    assert.equal(res.headers['cache-control'], 'no-store', request);
    assert.equal(res.headers['x-content-type-options'], 'nosniff', request);
  }
});

test('the body is exactly the state word, with no trailing newline', async (t) => {
  const { probe, port } = await startedProbe(t);
  probe.setState('READY');
  const res = await rawRequest(port, 'GET /ready HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
  assert.equal(res.status, 200);
  assert.equal(res.body, 'READY');
  assert.ok(res.text.endsWith('\r\n\r\nREADY'));
});

test('HEAD answers the same status and headers as GET, with no body (the crate answered 200 to every HEAD)', async (t) => {
  const { port } = await startedProbe(t);
  for (const path of ['/ready', '/health', '/nope']) {
    const get = await rawRequest(port, `GET ${path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`);
    const head = await rawRequest(port, `HEAD ${path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`, { head: true });
    assert.equal(head.status, get.status, path);
    const strip = (headers) => headers.filter(([name]) => name !== 'date');
    assert.deepEqual(strip(head.rawHeaders), strip(get.rawHeaders), path);
    assert.ok(head.text.endsWith('\r\n\r\n'), `HEAD ${path} must have no body`);
  }
  const ready = await rawRequest(port, 'HEAD /ready HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n', { head: true });
  assert.equal(ready.status, 503);
});

test('methods other than GET and HEAD answer 405 with Allow: GET, HEAD', async (t) => {
  const { port } = await startedProbe(t);
  for (const method of ['POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS']) {
    for (const path of ['/ready', '/health', '/elsewhere']) {
      const res = await rawRequest(port, `${method} ${path} HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nConnection: close\r\n\r\n`);
      assert.equal(res.status, 405, `${method} ${path}`);
      assert.equal(res.headers.allow, 'GET, HEAD');
      assert.equal(res.body, 'Method not allowed');
    }
  }
});

test('unknown paths answer 404 with a fixed body that never echoes the request', async (t) => {
  const { port } = await startedProbe(t);
  for (const path of ['/nope', '/<script>alert(1)</script>', '/ready/x/y', '//ready', '/re%61dy', '/x/../ready', '/READY', '/ready//']) {
    const res = await rawRequest(port, `GET ${path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`);
    assert.equal(res.status, 404, path);
    assert.equal(res.body, 'Not found', path);
    assert.ok(!res.text.includes('script'), path);
  }
});

test('the query string never changes routing', async (t) => {
  const { probe, base } = await startedProbe(t);
  probe.setState('READY');
  for (const path of ['/ready?', '/ready?ready=false', '/ready?/health', '/health?/ready']) {
    const res = await fetch(base + path);
    assert.equal(res.status, 200, path);
  }
  probe.setState('UP');
  assert.equal((await fetch(`${base}/ready?/health`)).status, 503);
});

test('absolute-form targets route by their path', async (t) => {
  const { probe, port } = await startedProbe(t);
  probe.setState('READY');
  const res = await rawRequest(port, 'GET http://example.test:11333/ready HTTP/1.1\r\nHost: example.test\r\nConnection: close\r\n\r\n');
  assert.equal(res.status, 200);
  assert.equal(res.body, 'READY');
  const root = await rawRequest(port, 'GET http://example.test HTTP/1.1\r\nHost: example.test\r\nConnection: close\r\n\r\n');
  assert.equal(root.status, 200);
});

test('a kubelet-style request (Connection: close, kube-probe user agent, Accept */*) gets a text answer and a closed connection', async (t) => {
  const { probe, port } = await startedProbe(t);
  probe.setState('READY');
  const res = await rawRequest(
    port,
    'GET /ready HTTP/1.1\r\nHost: 10.0.0.7:11333\r\nUser-Agent: kube-probe/1.31\r\nAccept: */*\r\nConnection: close\r\n\r\n',
  );
  assert.equal(res.status, 200);
  assert.equal(res.body, 'READY');
  assert.equal(res.headers['content-type'], 'text/plain; charset=utf-8');
  assert.equal(res.headers.connection, 'close');
  assert.equal(res.closed, true);
});

test('HTTP/1.0 without a Host header is answered', async (t) => {
  const { probe, port } = await startedProbe(t);
  probe.setState('READY');
  const res = await rawRequest(port, 'GET /ready HTTP/1.0\r\n\r\n');
  assert.equal(res.status, 200);
  assert.equal(res.body, 'READY');
  assert.equal(res.closed, true);
});

test('a keep-alive client gets several answers on one connection, each reflecting the state at that time', async (t) => {
  const { probe, port } = await startedProbe(t);
  const { connect } = await import('node:net');
  const socket = connect({ host: '127.0.0.1', port });
  t.after(() => socket.destroy());
  let buffer = '';
  socket.setEncoding('latin1');
  socket.on('data', (d) => (buffer += d));
  const ask = async () => {
    buffer = '';
    socket.write('GET /ready HTTP/1.1\r\nHost: x\r\n\r\n');
    while (!/\r\n\r\n(UP|READY|DRAINING|DOWN)$/.test(buffer)) await new Promise((r) => setTimeout(r, 5));
    return buffer;
  };
  assert.match(await ask(), /^HTTP\/1\.1 503[^]*\r\n\r\nUP$/);
  probe.setState('READY');
  assert.match(await ask(), /^HTTP\/1\.1 200[^]*\r\n\r\nREADY$/);
  probe.setState('DRAINING');
  assert.match(await ask(), /^HTTP\/1\.1 503[^]*\r\n\r\nDRAINING$/);
});

test('pipelined requests are answered in order', async (t) => {
  const { probe, port } = await startedProbe(t);
  probe.setState('READY');
  const { parseResponses, rawExchange } = await import('../helpers/http.js');
  const { text } = await rawExchange(
    port,
    'GET /ready HTTP/1.1\r\nHost: x\r\n\r\nGET /nope HTTP/1.1\r\nHost: x\r\n\r\nGET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n',
  );
  const responses = parseResponses(text);
  assert.deepEqual(responses.map((r) => [r.status, r.body]), [[200, 'READY'], [404, 'Not found'], [200, 'READY']]);
});

test('curl sees the same answers (where curl is installed)', async (t) => {
  const { execFile } = await import('node:child_process');
  const { promisify } = await import('node:util');
  const run = promisify(execFile);
  try {
    await run('curl', ['--version']);
  } catch {
    // CI installs curl (.ci/run); a developer machine without it still runs every other test.
    t.diagnostic('curl not installed; the raw-socket and fetch tests above cover the same answers');
    return;
  }
  const { probe, base } = await startedProbe(t);
  const ask = async (path, ...args) => (await run('curl', ['-s', '-o', '-', '-w', ' %{http_code}', ...args, base + path])).stdout;
  assert.equal(await ask('/ready'), 'UP 503');
  probe.setState('READY');
  assert.equal(await ask('/ready/'), 'READY 200');
  assert.equal(await ask('/health', '-I').then((s) => / 200$/.test(s)), true);
  assert.equal(await ask('/ready', '-X', 'POST'), 'Method not allowed 405');
});
