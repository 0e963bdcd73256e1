import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { once } from 'node:events';
import { get } from 'node:http';
import { createServer as createNetServer } from 'node:net';
import { createRequire } from 'node:module';
import { setTimeout as delay } from 'node:timers/promises';
import {
  CLIENT_DEFAULTS,
  fetchServiceState,
  isReady,
  parseProbeBody,
  probeOnce,
  waitUntilReady,
  whyNotReady,
} from '../../dist/client.js';
import { ProbeArgumentError, ProbeClientError } from '../../dist/index.js';
import { closedPort, rawServer, silentServer, startedProbe } from '../helpers/servers.js';
import { controlTimer } from '../helpers/timing.js';

const require = createRequire(import.meta.url);
const { version } = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8'));

function isClientError(code, extra = {}) {
  return (error) => {
    assert.ok(error instanceof ProbeClientError, `expected a ProbeClientError, got ${error}`);
    assert.equal(error.code, code);
    for (const [key, value] of Object.entries(extra)) assert.deepEqual(error[key], value, key);
    return true;
  };
}

test('fetchServiceState reads the state word of each endpoint, whatever its status (200 or 503)', async (t) => {
  const { probe, url } = await startedProbe(t, { state: 'UP' });
  for (const state of ['UP', 'READY', 'DRAINING', 'DOWN']) {
    probe.setState(state);
    assert.equal(await fetchServiceState(url('/ready')), state, `/ready while ${state}`);
    assert.equal(await fetchServiceState(url('/health')), state, `/health while ${state}`);
  }
});

test('a body line READY means READY even after other lines', async (t) => {
  const server = await rawServer(t, (req, res) => res.end('checks: ok\r\ndb: fine\nREADY\n'));
  assert.equal(await fetchServiceState(server.url()), 'READY');
});

test("a crate-style body 'UP' (no newline, no Content-Type) gives UP, and READY beats an earlier state word", async (t) => {
  const bodies = { '/crate-up': 'UP', '/crate-ready': 'READY', '/both': 'DRAINING\nREADY', '/draining': '  DRAINING \r\nUP' };
  const server = await rawServer(t, (req, res) => {
    res.removeHeader('Content-Type');
    res.end(bodies[req.url]);
  });
  assert.equal(await fetchServiceState(server.url('/crate-up')), 'UP');
  assert.equal(await fetchServiceState(server.url('/crate-ready')), 'READY');
  assert.equal(await fetchServiceState(server.url('/both')), 'READY');
  assert.equal(await fetchServiceState(server.url('/draining')), 'DRAINING');
});

test('a body with no state word (or a lower-case one) gives UP, as in the Rust client', async (t) => {
  const bodies = { '/ok': 'OK', '/empty': '', '/lower': 'ready', '/json': '{"status":"READY"}' };
  const server = await rawServer(t, (req, res) => res.end(bodies[req.url]));
  for (const path of Object.keys(bodies)) assert.equal(await fetchServiceState(server.url(path)), 'UP', path);
});

test('parseProbeBody applies the same rule without a request', () => {
  assert.equal(parseProbeBody('READY'), 'READY');
  assert.equal(parseProbeBody('x\nREADY\r\n'), 'READY');
  assert.equal(parseProbeBody('DOWN\nUP'), 'DOWN');
  assert.equal(parseProbeBody('Not found'), 'UP');
});

test('a 3xx answer is read as a probe answer and its redirect is not followed', async (t) => {
  const server = await rawServer(t, (req, res) => {
    res.writeHead(302, { Location: '/elsewhere' });
    res.end('READY');
  });
  assert.deepEqual(await probeOnce(server.url()), { status: 302, state: 'READY' });
  assert.equal(await fetchServiceState(server.url()), 'READY');
  assert.equal(server.seen.requests, 2, 'one request per call, no redirect followed');
});

test('a status that is no probe answer (404, 500) rejects BAD_STATUS with the status and URL', async (t) => {
  const { url } = await startedProbe(t, { state: 'READY' });
  await assert.rejects(fetchServiceState(url('/nope')), isClientError('BAD_STATUS', { status: 404, url: url('/nope') }));
  const server = await rawServer(t, (req, res) => {
    res.statusCode = 500;
    res.end('READY');
  });
  await assert.rejects(fetchServiceState(server.url()), isClientError('BAD_STATUS', { status: 500 }));
  assert.deepEqual(await probeOnce(server.url()), { status: 500, state: undefined });
});

test('the body is read up to 64 KiB only: READY past the cap is not seen, and an endless body still gets an answer', async (t) => {
  const filler = 'x'.repeat(99) + '\n';
  const server = await rawServer(t, (req, res) => {
    if (req.url === '/long') {
      res.end(filler.repeat(Math.ceil(CLIENT_DEFAULTS.maxBodyBytes / filler.length) + 1) + 'READY\n');
      return;
    }
    res.writeHead(200);
    const timer = setInterval(() => res.write(filler.repeat(100)), 1);
    res.on('close', () => clearInterval(timer));
  });
  assert.equal(await fetchServiceState(server.url('/long')), 'UP');
  assert.equal(await fetchServiceState(server.url('/endless'), { timeoutMs: 10_000 }), 'UP');
  await delay(50);
  assert.equal(server.seen.closed, server.seen.connections, 'the client closed the endless response');
});

test('a refused connection rejects UNREACHABLE with the socket error as cause', async () => {
  const url = `http://127.0.0.1:${await closedPort()}/ready`;
  await assert.rejects(fetchServiceState(url), (error) => {
    isClientError('UNREACHABLE', { url })(error);
    assert.equal(error.cause.code, 'ECONNREFUSED');
    assert.match(error.message, /ECONNREFUSED/);
    assert.ok(error.message.includes(url));
    return true;
  });
});

test('a server that never answers rejects TIMEOUT after timeoutMs and the client hangs up', async (t) => {
  const server = await silentServer(t);
  const began = performance.now();
  const control = controlTimer(200);
  await assert.rejects(fetchServiceState(server.url(), { timeoutMs: 200 }), isClientError('TIMEOUT', { url: server.url() }));
  const elapsed = performance.now() - began;
  const controlMs = await control;
  assert.ok(elapsed >= 190, `rejected after ${elapsed} ms, before the timeout`);
  assert.ok(elapsed < controlMs + 1000, `rejected after ${elapsed} ms; a 200 ms timer fired after ${controlMs} ms`);
  await server.closed();
});

test('a response that stops halfway rejects UNREACHABLE', async (t) => {
  const server = await rawServer(t, (req, res) => {
    res.writeHead(200, { 'Content-Length': '100' });
    res.write('REA');
    setTimeout(() => res.destroy(), 20);
  });
  await assert.rejects(fetchServiceState(server.url()), isClientError('UNREACHABLE'));
});

test('an https URL against a plain HTTP server rejects UNREACHABLE (TLS fails), from import and require()', async (t) => {
  const server = await rawServer(t);
  const url = `https://127.0.0.1:${server.port}/ready`;
  await assert.rejects(fetchServiceState(url), isClientError('UNREACHABLE', { url }));
  const cjs = require('service-probe/client');
  await assert.rejects(cjs.fetchServiceState(url), isClientError('UNREACHABLE', { url }));
});

test('the signal aborts a request in flight: ABORTED with its reason, and the socket is closed', async (t) => {
  const server = await silentServer(t);
  const controller = new AbortController();
  const pending = fetchServiceState(server.url(), { signal: controller.signal, timeoutMs: 10_000 });
  while (server.connections() === 0) await delay(5);
  const reason = new Error('shutting down');
  controller.abort(reason);
  await assert.rejects(pending, isClientError('ABORTED', { url: server.url(), cause: reason }));
  await server.closed();
});

test('an aborted signal rejects ABORTED before any connection is made', async (t) => {
  const server = await rawServer(t);
  await assert.rejects(fetchServiceState(server.url(), { signal: AbortSignal.abort() }), isClientError('ABORTED'));
  await assert.rejects(waitUntilReady(server.url(), { signal: AbortSignal.abort() }), isClientError('ABORTED'));
  await delay(50);
  assert.equal(server.seen.connections, 0);
});

test('invalid URLs reject INVALID_URL before any request, naming the URL', async (t) => {
  const server = await rawServer(t);
  const hostPort = `127.0.0.1:${server.port}`;
  const invalid = [`ftp://${hostPort}/ready`, `http//${hostPort}/ready`, `${hostPort}/ready`, '', 'not a url', `file:///ready`, `ws://${hostPort}/`];
  for (const url of invalid) {
    for (const call of [fetchServiceState, probeOnce, isReady, waitUntilReady]) {
      await assert.rejects(call(url), (error) => {
        isClientError('INVALID_URL', { url })(error);
        assert.ok(error.message.includes(`'${url}'`), error.message);
        return true;
      });
    }
  }
  await assert.rejects(waitUntilReady([server.url(), `ftp://${hostPort}/`]), isClientError('INVALID_URL'));
  await delay(50);
  assert.equal(server.seen.connections, 0);
});

test('a URL object is accepted and reported as its href', async (t) => {
  const { url } = await startedProbe(t, { state: 'READY' });
  assert.equal(await fetchServiceState(new URL(url())), 'READY');
  await assert.rejects(fetchServiceState(new URL('ftp://x/')), isClientError('INVALID_URL', { url: 'ftp://x/' }));
});

test('bad arguments and options throw ProbeArgumentError naming the value, before any request', async (t) => {
  const server = await rawServer(t);
  const url = server.url();
  const cases = [
    [() => fetchServiceState(42), 'url', '42'],
    [() => fetchServiceState(url, { timeoutMs: -1 }), 'options.timeoutMs', '-1'],
    [() => fetchServiceState(url, { timeoutMs: 0 }), 'options.timeoutMs', '0'],
    [() => fetchServiceState(url, { timeoutMs: 1.5 }), 'options.timeoutMs', '1.5'],
    [() => fetchServiceState(url, { timeoutMs: '2s' }), 'options.timeoutMs', "'2s'"],
    [() => fetchServiceState(url, { timeoutMs: 2 ** 31 }), 'options.timeoutMs', '2147483648'],
    [() => fetchServiceState(url, { timeout: 100 }), 'options.timeout', "'timeout'"],
    [() => fetchServiceState(url, { signal: {} }), 'options.signal', 'Object'],
    [() => isReady(url, 'fast'), 'options', "'fast'"],
    [() => probeOnce(url, { timeoutMs: NaN }), 'options.timeoutMs', 'NaN'],
    [() => waitUntilReady([]), 'urls', 'array'],
    [() => waitUntilReady([url, null]), 'urls[1]', 'null'],
    [() => waitUntilReady(url, { intervalMs: 0 }), 'options.intervalMs', '0'],
    [() => waitUntilReady(url, { timeoutMs: -5 }), 'options.timeoutMs', '-5'],
    [() => waitUntilReady(url, { requestTimeoutMs: Infinity }), 'options.requestTimeoutMs', 'Infinity'],
    [() => waitUntilReady(url, { onProgress: 'log' }), 'options.onProgress', "'log'"],
  ];
  for (const [call, argument, shown] of cases) {
    await assert.rejects(call(), (error) => {
      assert.ok(error instanceof ProbeArgumentError, `${argument}: ${error}`);
      assert.equal(error.code, 'INVALID_ARGUMENT');
      assert.equal(error.argument, argument);
      assert.ok(error.message.includes(shown), `${error.message} should show ${shown}`);
      return true;
    });
  }
  await delay(50);
  assert.equal(server.seen.connections, 0);
});

test('requests say who they are: GET, Accept text/plain, User-Agent service-probe/<version>, Connection close', async (t) => {
  const server = await rawServer(t);
  await fetchServiceState(server.url());
  assert.equal(server.seen.method, 'GET');
  assert.equal(server.seen.headers.accept, 'text/plain');
  assert.equal(server.seen.headers['user-agent'], `service-probe/${version}`);
  assert.equal(server.seen.headers.connection, 'close');
});

test('isReady is true only for READY; an unreachable, silent or failing probe is simply not ready', async (t) => {
  const { probe, url } = await startedProbe(t, { state: 'READY' });
  assert.equal(await isReady(url()), true);
  probe.setState('DRAINING');
  assert.equal(await isReady(url()), false);
  assert.equal(await isReady(url('/nope')), false);
  assert.equal(await isReady(`http://127.0.0.1:${await closedPort()}/ready`), false);
  const silent = await silentServer(t);
  assert.equal(await isReady(silent.url(), { timeoutMs: 100 }), false);
  await assert.rejects(isReady(url(), { signal: AbortSignal.abort() }), isClientError('ABORTED'));
});

test('waitUntilReady resolves once every probe is READY, reporting progress on the way', async (t) => {
  const ready = await startedProbe(t, { state: 'READY' });
  const warming = await startedProbe(t, { state: 'UP' });
  const progress = [];
  // The warming probe turns READY once the first round has seen it UP: after an event, not a sleep.
  const onProgress = (p) => {
    progress.push(p);
    if (progress.length === 1) warming.probe.setState('READY');
  };
  await waitUntilReady([ready.url(), warming.url()], { timeoutMs: 10_000, intervalMs: 50, onProgress });
  assert.equal(warming.probe.state, 'READY');
  const first = progress[0];
  assert.equal(first.attempt, 1);
  assert.deepEqual(first.ready, [ready.url()]);
  assert.deepEqual(first.pending, [{ url: warming.url(), state: 'UP', error: undefined }]);
  const last = progress.at(-1);
  assert.deepEqual(last.ready, [ready.url(), warming.url()]);
  assert.deepEqual(last.pending, []);
  assert.ok(progress.length >= 2);
});

test('waitUntilReady asks a READY probe once and stops asking it', async (t) => {
  const server = await rawServer(t);
  await waitUntilReady(server.url(), { intervalMs: 20 });
  await delay(100);
  assert.equal(server.seen.requests, 1);
});

test('waitUntilReady rejects NOT_READY after timeoutMs, naming each URL that was not ready and why', async (t) => {
  const ready = await startedProbe(t, { state: 'READY' });
  const up = await startedProbe(t, { state: 'UP' });
  const refused = `http://127.0.0.1:${await closedPort()}/ready`;
  const began = performance.now();
  const control = controlTimer(500);
  await assert.rejects(waitUntilReady([ready.url(), up.url(), refused], { timeoutMs: 500, intervalMs: 50 }), (error) => {
    isClientError('NOT_READY', { notReady: [up.url(), refused], url: up.url() })(error);
    assert.ok(error.message.includes(`${up.url()} (UP)`), error.message);
    assert.ok(error.message.includes(`${refused} (unreachable: ECONNREFUSED)`), error.message);
    assert.ok(!error.message.includes(ready.url()), error.message);
    return true;
  });
  const elapsed = performance.now() - began;
  const controlMs = await control;
  assert.ok(elapsed >= 490 && elapsed < controlMs + 1000, `rejected after ${elapsed} ms; a 500 ms timer fired after ${controlMs} ms`);
});

test('waitUntilReady gives up at the deadline even while a request hangs', async (t) => {
  const silent = await silentServer(t);
  await assert.rejects(waitUntilReady(silent.url(), { timeoutMs: 300, requestTimeoutMs: 10_000 }), (error) => {
    isClientError('NOT_READY', { notReady: [silent.url()] })(error);
    assert.ok(error.message.includes('(no answer yet)'), error.message);
    return true;
  });
  await silent.closed();
});

test('waitUntilReady stops on abort: ABORTED with the reason, and no request after it', async (t) => {
  const server = await rawServer(t, (req, res) => {
    res.statusCode = 503;
    res.end('UP');
  });
  const controller = new AbortController();
  const waiting = waitUntilReady(server.url(), { intervalMs: 20, signal: controller.signal });
  while (server.seen.requests < 2) await delay(5);
  controller.abort('enough');
  await assert.rejects(waiting, isClientError('ABORTED', { cause: 'enough', url: server.url() }));
  const asked = server.seen.requests;
  await delay(100);
  assert.equal(server.seen.requests, asked);
});

test('an onProgress that throws rejects the wait with its error', async (t) => {
  const { url } = await startedProbe(t, { state: 'UP' });
  const boom = new Error('boom');
  await assert.rejects(waitUntilReady(url(), { intervalMs: 20, onProgress: () => { throw boom; } }), boom);
});

test('whyNotReady names a state, a status or a failure in a few words', () => {
  const error = (code, details = {}) => new ProbeClientError(code, code, { url: 'http://x/', ...details });
  assert.equal(whyNotReady('UP', undefined), 'UP');
  assert.equal(whyNotReady(undefined, undefined), 'no answer yet');
  assert.equal(whyNotReady(undefined, error('BAD_STATUS', { status: 500 })), 'HTTP 500');
  assert.equal(whyNotReady(undefined, error('TIMEOUT')), 'no answer in time');
  assert.equal(whyNotReady(undefined, error('UNREACHABLE', { cause: Object.assign(new Error('x'), { code: 'ENOTFOUND' }) })), 'unreachable: ENOTFOUND');
});

test('require("service-probe/client") gives the same client, and its errors match instanceof', async (t) => {
  const cjs = require('service-probe/client');
  const { url } = await startedProbe(t, { state: 'READY' });
  assert.equal(await cjs.fetchServiceState(url()), 'READY');
  assert.equal(await cjs.isReady(url()), true);
  await assert.rejects(cjs.fetchServiceState('ftp://x'), (error) => error instanceof ProbeClientError && error.code === 'INVALID_URL');
  await assert.rejects(cjs.fetchServiceState(url(), { timeoutMs: -1 }), ProbeArgumentError);
});

// Runs the client in a child process against servers in this one: the child must exit by itself
// (no socket or timer left), report no leftover handles, and never load node:https or undici.
test('after every kind of outcome the client leaves no socket or timer, and loads neither https nor undici', async (t) => {
  const ready = await startedProbe(t, { state: 'READY' });
  const up = await startedProbe(t, { state: 'UP' });
  const silent = await silentServer(t);
  const refused = `http://127.0.0.1:${await closedPort()}/ready`;
  const script = `
    import { fetchServiceState, isReady, waitUntilReady } from './dist/client.js';
    const [ready, up, silent, refused] = process.argv.slice(1);
    const before = process.getActiveResourcesInfo();
    const outcomes = [];
    const settle = (p) => p.then((v) => outcomes.push(v ?? 'resolved'), (e) => outcomes.push(e.code));
    await settle(fetchServiceState(ready));
    await settle(fetchServiceState(up + '/../nope'));
    await settle(fetchServiceState(silent, { timeoutMs: 100 }));
    await settle(fetchServiceState(refused));
    const controller = new AbortController();
    const aborted = settle(fetchServiceState(silent, { signal: controller.signal }));
    setTimeout(() => controller.abort(), 50);
    await aborted;
    await settle(isReady(up));
    await settle(waitUntilReady([ready, up], { timeoutMs: 300, intervalMs: 50 }));
    await settle(waitUntilReady(ready, { timeoutMs: 300 }));
    // A destroyed socket's handle closes on a later turn of the loop.
    await new Promise((resolve) => setTimeout(resolve, 50));
    const after = process.getActiveResourcesInfo();
    const loaded = process.moduleLoadList.filter((m) => /https|tls|undici/.test(m));
    console.log(JSON.stringify({ before, after, outcomes, loaded }));
  `;
  const output = await new Promise((resolve, reject) => {
    execFile(
      process.execPath,
      ['--input-type=module', '-e', script, ready.url(), up.url(), silent.url(), refused],
      { cwd: new URL('../..', import.meta.url), timeout: 10_000 },
      (error, stdout, stderr) => (error ? reject(Object.assign(error, { stderr })) : resolve(stdout)),
    );
  });
  const { before, after, outcomes, loaded } = JSON.parse(output);
  assert.deepEqual(outcomes, ['READY', 'BAD_STATUS', 'TIMEOUT', 'UNREACHABLE', 'ABORTED', false, 'NOT_READY', 'resolved']);
  const leftover = (list) => list.filter((name) => name === 'TCPSocketWrap' || name === 'Timeout' || name === 'TCPWRAP');
  assert.deepEqual(leftover(after), leftover(before));
  assert.deepEqual(loaded, []);
});

test('the client re-exports the same error classes and states as the main entry', async () => {
  const client = await import('../../dist/client.js');
  const main = await import('../../dist/index.js');
  assert.equal(client.ProbeClientError, main.ProbeClientError);
  assert.equal(client.ProbeArgumentError, main.ProbeArgumentError);
  assert.equal(client.ServiceState, main.ServiceState);
});

// The client reads http: answers itself on node:net (src/http1-get.ts); node:http's client is the
// reference it must match. Each response below is written byte for byte by a node:net server; the
// client and node:http (agent: false) each GET it: both must see the same status and state, or
// both refuse it (UNREACHABLE for the client).
const RESPONSES = [
  'HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nREADY',
  'HTTP/1.1 503 Service Unavailable\r\ncontent-length:2\r\n\r\nUP',
  'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nREA\r\n2;ext=1\r\nDY\r\n0\r\nX-Trailer: 1\r\n\r\n',
  'HTTP/1.1 200 OK\r\nTransfer-Encoding: Chunked\r\n\r\n0005\r\nREADY\r\n0\r\n\r\n',
  'HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n5\r\nREADY\r\n0\r\n\r\n',
  'HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\nREADY',
  'HTTP/1.1 200 OK\r\n\r\nREADY',
  'HTTP/1.0 200 OK\r\n\r\nDRAINING\n',
  'HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nREADY',
  'HTTP/1.1 103 Early Hints\r\nLink: </x>\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nREADY',
  'HTTP/1.1 101 Switching Protocols\r\n\r\n',
  'HTTP/1.1 204 No Content\r\n\r\n',
  'HTTP/1.1 304 Not Modified\r\nContent-Length: 5\r\n\r\n',
  'HTTP/1.1 200\r\nContent-Length: 5\r\n\r\nREADY',
  'HTTP/1.1 200 Fine, thanks\r\nX: caf\u00e9\tau lait\r\nContent-Length: 5\r\n\r\nREADY',
  'HTTP/1.1 099 Odd\r\nContent-Length: 5\r\n\r\nREADY',
  'HTTP/2.0 200 OK\r\nContent-Length: 5\r\n\r\nREADY',
  'HTTP/1.1 200 OK\r\n\r\n',
  'HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\nREADY',
  'HTTP/1.1 200 OK\r\nContent-Length: 5, 5\r\n\r\nREADY',
  'HTTP/1.1 200 OK\r\nContent-Length: 0x5\r\n\r\nREADY',
  'HTTP/1.1 200 OK\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nREADY\r\n0\r\n\r\n',
  'HTTP/1.1 200 OK\r\nContent-Length : 5\r\n\r\nREADY',
  'HTTP/1.1 200 OK\r\n Folded: x\r\nContent-Length: 5\r\n\r\nREADY',
  'HTTP/1.1 200 OK\r\nX: a\x01b\r\nContent-Length: 5\r\n\r\nREADY',
  'HTTP/1.1 200 OK\nContent-Length: 5\n\nREADY',
  'HTTP/1.1  200 OK\r\n\r\nREADY',
  'HTTP/1.2 200 OK\r\n\r\nREADY',
  'http/1.1 200 OK\r\n\r\nREADY',
  'garbage\r\n\r\n',
  'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nZZ\r\n',
  'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5 \r\nREADY\r\n0\r\n\r\n',
  'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nREADYxx0\r\n\r\n',
  'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nREADY\r\n0\r\nbad trailer\r\n\r\n',
  'HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nREADYMORE',
  'HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nREADY',
  'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nREA',
  '',
];

/** A node:net server that answers every request head with `bytes` in one write, then closes. */
async function scriptedServer(t, bytes) {
  const server = createNetServer((socket) => {
    socket.on('error', () => {});
    let head = '';
    socket.on('data', (chunk) => {
      head += chunk.toString('latin1');
      if (head.includes('\r\n\r\n')) socket.end(Buffer.from(bytes, 'latin1'));
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  t.after(() => server.close());
  return `http://127.0.0.1:${server.address().port}/ready`;
}

function nodeHttpSees(url) {
  return new Promise((resolve) => {
    const request = get(url, { agent: false }, (res) => {
      const chunks = [];
      res.on('data', (chunk) => chunks.push(chunk));
      res.on('end', () => {
        const answer = (res.statusCode >= 200 && res.statusCode < 400) || res.statusCode === 503;
        resolve(`${res.statusCode} ${answer ? parseProbeBody(Buffer.concat(chunks).toString('utf8')) : '-'}`);
      });
      res.on('error', () => resolve('refused'));
      res.on('aborted', () => resolve('refused'));
    });
    request.on('error', () => resolve('refused'));
  });
}

async function clientSees(url) {
  try {
    const { status, state } = await probeOnce(url);
    return `${status} ${state ?? '-'}`;
  } catch (error) {
    assert.equal(error.code, 'UNREACHABLE', `${url}: ${error}`);
    return 'refused';
  }
}

test('the client reads every response as node:http does: the same status and state, or both refuse it', async (t) => {
  for (const bytes of RESPONSES) {
    const url = await scriptedServer(t, bytes);
    assert.equal(await clientSees(url), await nodeHttpSees(url), JSON.stringify(bytes));
  }
});

test('a malformed answer rejects UNREACHABLE with a MALFORMED_RESPONSE cause, and the CLI names it', async (t) => {
  const url = await scriptedServer(t, 'HTTP/1.1 200 OK\r\nContent-Length: 5, 5\r\n\r\nREADY');
  await assert.rejects(fetchServiceState(url), (error) => {
    isClientError('UNREACHABLE', { url })(error);
    assert.equal(error.cause.code, 'MALFORMED_RESPONSE');
    assert.match(error.message, /malformed response: an invalid Content-Length/);
    return true;
  });
  assert.equal(whyNotReady(undefined, await fetchServiceState(url).catch((error) => error)), 'unreachable: MALFORMED_RESPONSE');
});
