// The node:net server (the default; `server: 'net'`) must be indistinguishable on the
// wire from the node:http one: same status lines, headers in the same order, same bodies, same
// connection handling. Each request below goes to both; only the Date value may differ.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createProbe } from '../../dist/index.js';
import { connect } from 'node:net';
import { once } from 'node:events';
import { rawExchange } from '../helpers/http.js';

async function startBoth(t, options) {
  const http = createProbe({ host: '127.0.0.1', port: 0, ...options, server: 'http' });
  const net = createProbe({ host: '127.0.0.1', port: 0, ...options, server: 'net' });
  const { port: httpPort } = await http.start();
  const { port: netPort } = await net.start();
  t.after(() => Promise.all([http.stop(), net.stop()]));
  return { httpPort, netPort, http, net };
}

const withoutDate = (text) => text.replace(/\r\nDate: [^\r]*\r\n/g, '\r\nDate: -\r\n');

const SAME_BYTES = [
  'GET /ready HTTP/1.1\r\nHost: x\r\n\r\n',
  'GET /ready HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n',
  'GET /ready HTTP/1.1\r\nHost: x\r\nUser-Agent: kube-probe/1.31\r\nAccept: */*\r\nConnection: close\r\n\r\n',
  'GET /ready HTTP/1.0\r\n\r\n',
  'GET /ready HTTP/1.0\r\nConnection: keep-alive\r\n\r\n',
  'HEAD /ready HTTP/1.1\r\nHost: x\r\n\r\n',
  'HEAD /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n',
  'GET / HTTP/1.1\r\nHost: x\r\n\r\n',
  'GET /live/ HTTP/1.1\r\nHost: x\r\n\r\n',
  'GET /started HTTP/1.1\r\nHost: x\r\n\r\n',
  'GET /ready?verbose HTTP/1.1\r\nHost: x\r\n\r\n',
  'GET http://x:1/ready HTTP/1.1\r\nHost: x\r\n\r\n',
  'GET /nope HTTP/1.1\r\nHost: x\r\n\r\n',
  'HEAD /nope HTTP/1.1\r\nHost: x\r\n\r\n',
  'GET /ready HTTP/1.1\r\nHost: x\r\n\r\nGET /health HTTP/1.1\r\nHost: x\r\n\r\nHEAD /ready HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n',
  '\r\nGET /ready HTTP/1.1\r\nHost: x\r\n\r\n',
  'GET /ready HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nffffff\r\nendless',
  'GET /ready HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello',
  'GET /ready HTTP/9.9\r\n\r\n',
  '\x00\x01\x02<script>\r\n\r\n',
  'GET /ready HTTP/1.1\r\nHost: x\r\nBad Header\r\n\r\n',
  'GET /ready HTTP/1.1\r\nHost: x\r\nX: a\nb\r\n\r\n',
  'GET /ready HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n',
  'GET /ready HTTP/1.1\nHost: x\n\n',
  'GET /ready HTTP/1.1\r\nHost: x\n\r\n',
  'GET /re\x01ady HTTP/1.1\r\nHost: x\r\n\r\n',
  'GET /rea\xffdy HTTP/1.1\r\nHost: x\r\n\r\n',
  'GET /ready HTTP/1.1\r\nHost: x\r\n folded\r\n\r\n',
  'GET /ready HTTP/1.1\r\nHost : x\r\n\r\n',
  'FOO /ready HTTP/1.1\r\nHost: x\r\n\r\n',
  `GET /ready HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(10_000)}\r\n\r\n`,
];

for (const state of ['READY', 'UP']) {
  test(`the node:net server sends the same bytes as the node:http one (${state})`, async (t) => {
    const { httpPort, netPort } = await startBoth(t, { state, keepAliveTimeoutMs: 5000 });
    // All at once, each on its own connections: most exchanges end by waiting for silence.
    const exchanges = await Promise.all(
      SAME_BYTES.map((request) => Promise.all([rawExchange(httpPort, request, { idleMs: 200 }), rawExchange(netPort, request, { idleMs: 200 })])),
    );
    SAME_BYTES.forEach((request, i) => {
      const [viaHttp, viaNet] = exchanges[i];
      assert.equal(withoutDate(viaNet.text), withoutDate(viaHttp.text), JSON.stringify(request));
      assert.equal(viaNet.closed, viaHttp.closed, `closed after ${JSON.stringify(request)}`);
    });
  });
}

test('the node:net server answers other methods like node:http, then closes the connection', async (t) => {
  const { httpPort, netPort } = await startBoth(t, { state: 'READY' });
  const request = 'POST /ready HTTP/1.1\r\nHost: x\r\n\r\n';
  const [viaHttp, viaNet] = await Promise.all([rawExchange(httpPort, request), rawExchange(netPort, request)]);
  // node:http keeps the connection; the strict reader hangs up after anything but GET and HEAD.
  assert.equal(withoutDate(viaNet.text), withoutDate(viaHttp.text).replace('\r\nConnection: keep-alive\r\nKeep-Alive: timeout=5', '').replace('Allow: GET, HEAD\r\n', 'Allow: GET, HEAD\r\nConnection: close\r\n'));
  assert.equal(viaNet.closed, true);
});

test('HTTP/1.1 without Host gets the fixed 400 answer from the node:net server too', async (t) => {
  // node:http answers this one itself (an empty chunked 400) before the probe sees it; the
  // node:net reader gives it the same fixed "Bad Request" as every other malformed head.
  const { netPort } = await startBoth(t, { state: 'READY' });
  const viaNet = await rawExchange(netPort, 'GET /ready HTTP/1.1\r\n\r\n');
  assert.match(viaNet.text, /^HTTP\/1\.1 400 Bad Request\r\n[^]*\r\n\r\nBad Request$/);
  assert.equal(viaNet.closed, true);
});

test('the node:net reader refuses with 400 what node:http lets through but HTTP/1.1 forbids', async (t) => {
  const { netPort } = await startBoth(t, { state: 'READY' });
  for (const request of [
    'GET  /ready HTTP/1.1\r\nHost: x\r\n\r\n', // RFC 9112 §3: single spaces
    'GET /ready HTTP/1.1\r\nHost: x\r\nHost: y\r\n\r\n', // §3.2: exactly one Host
    'GET /ready HTTP/2.0\r\nHost: x\r\n\r\n', // not HTTP/1.x
    'GET /ready\r\n\r\n', // HTTP/0.9
  ]) {
    const viaNet = await rawExchange(netPort, request);
    assert.match(viaNet.text, /^HTTP\/1\.1 400 Bad Request\r\n/, JSON.stringify(request));
    assert.equal(viaNet.closed, true);
  }
});

test('a client that pipelines requests without reading the answers is paused or closed, not buffered without bound', async (t) => {
  const { httpPort, netPort } = await startBoth(t, { state: 'READY' });
  const chunk = Buffer.from('GET /ready HTTP/1.1\r\nHost: x\r\n\r\n'.repeat(10_000));
  const cap = 32 * 1024 * 1024;
  const flood = async (port) => {
    const socket = connect({ host: '127.0.0.1', port });
    socket.on('error', () => {});
    t.after(() => socket.destroy());
    await once(socket, 'connect');
    // Each request is answered with ~5x its size: a server that kept reading would have to hold
    // every answer in memory. One that stops reading stops draining our writes.
    let written = 0;
    while (written < cap) {
      written += chunk.length;
      if (socket.write(chunk)) continue;
      // The node:http server closes a connection with too many answers queued: that ends the flood too.
      const drained = await Promise.race([once(socket, 'drain').then(() => true, () => false), new Promise((r) => setTimeout(r, 1500, false))]);
      if (!drained) break;
    }
    socket.destroy();
    return written;
  };
  const [viaHttp, viaNet] = await Promise.all([flood(httpPort), flood(netPort)]);
  assert.ok(viaHttp < cap, `node:http read all ${viaHttp} bytes`);
  assert.ok(viaNet < cap, `node:net read all ${viaNet} bytes`);
});

test('with a check that takes its time, pipelined answers come back in order and the same on both servers', async (t) => {
  const { httpPort, netPort, http, net } = await startBoth(t, { state: 'READY' });
  for (const probe of [http, net]) probe.addCheck('slow', () => new Promise((resolve) => setTimeout(resolve, 30)));
  const request =
    'GET /ready HTTP/1.1\r\nHost: x\r\n\r\n' +
    'GET /ready?verbose HTTP/1.1\r\nHost: x\r\n\r\n' +
    'GET /started HTTP/1.1\r\nHost: x\r\n\r\n' +
    'GET /ready/slow HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n';
  const [viaHttp, viaNet] = await Promise.all([rawExchange(httpPort, request), rawExchange(netPort, request)]);
  assert.equal((viaNet.text.match(/HTTP\/1\.1 /g) ?? []).length, 4);
  assert.equal(withoutDate(viaNet.text), withoutDate(viaHttp.text));
  assert.equal(viaNet.closed, true);
});
