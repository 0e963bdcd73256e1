// The request-head reader of the node:net server (src/http1-head.ts), on bytes alone: what it
// refuses, how early, the header-size rule, and heads that arrive a byte at a time.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { METHODS, STATUS_CODES } from 'node:http';
import { HeadReader, INCOMPLETE, INVALID, KNOWN_METHODS, TOO_LARGE, reasonPhrase } from '../../dist/internal.js';

// Feeds `text` one byte at a time as the server does (unconsumed bytes, then the next one) and
// returns the first verdict that is not INCOMPLETE, with the number of bytes it took.
function feedBytewise(text, maxHeaderSize = 8192) {
  const reader = new HeadReader(maxHeaderSize);
  let pending = Buffer.alloc(0);
  const bytes = Buffer.from(text, 'latin1');
  for (let i = 0; i < bytes.length; i++) {
    const buffer = Buffer.concat([pending, bytes.subarray(i, i + 1)]);
    const result = reader.read(buffer);
    if (result !== INCOMPLETE) return { result, at: i + 1 };
    pending = buffer.subarray(reader.consumed);
  }
  return { result: INCOMPLETE, at: bytes.length };
}

test('a valid head is read whole or a byte at a time, with what the probe needs from it', () => {
  const text = 'GET /ready HTTP/1.1\r\nHost: probe\r\nAccept: application/health+json\r\nConnection: close\r\n\r\n';
  const whole = new HeadReader(8192);
  const head = whole.read(Buffer.from(text + 'GET /next'));
  assert.equal(whole.consumed, text.length);
  assert.deepEqual(
    { method: head.method, target: head.target, accept: head.accept, keepAlive: head.keepAlive, missingHost: head.missingHost },
    { method: 'GET', target: '/ready', accept: 'application/health+json', keepAlive: false, missingHost: false },
  );
  const { result, at } = feedBytewise(text);
  assert.equal(result.target, '/ready');
  assert.equal(at, text.length);
});

test('bytes that can never become a request are refused at the first byte that shows it', () => {
  const cases = [
    ['\x16\x03\x01\x02\x00', 1], // TLS ClientHello
    ['get /ready HTTP/1.1\r\n', 1], // lower-case method
    ['GEX /', 3],
    ['GET ready HTTP/1.1', 10], // a target not starting with / or * must be scheme://
    ['GET ?x HTTP/1.1', 5],
    ['GET /re\x01ady', 8], // control byte in the target
    ['GET / HTTP/9.9', 14],
    ['GET / HTTP/1.1\rX', 16], // lone CR
    ['GET / HTTP/1.1\nHost: a', 15], // bare LF
    ['GET / HTTP/1.1\r\nHost\r\n', 21], // header line without a colon
    ['GET / HTTP/1.1\r\nHo\x00st: a', 19], // NUL in a name
    ['GET / HTTP/1.1\r\nHost: a\x00', 24], // NUL in a value
    ['GET / HTTP/1.1\r\nHost : a', 21], // space before the colon
    ['GET / HTTP/1.1\r\nHost: a\r\n folded', 26], // obs-fold
  ];
  for (const [text, at] of cases) assert.deepEqual(feedBytewise(text), { result: INVALID, at }, JSON.stringify(text));
});

test('what only the whole head shows is refused at its end: framing conflicts, two Hosts, HTTP/2 preface', () => {
  const heads = [
    'Content-Length: 0\r\nContent-Length: 0',
    'Content-Length: 18446744073709551616',
    'Content-Length: 1\r\nTransfer-Encoding: chunked',
    'Transfer-Encoding: chunked, gzip',
    'Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked',
    'Host: b',
  ];
  for (const extra of heads) {
    const reader = new HeadReader(8192);
    assert.equal(reader.read(Buffer.from(`GET /ready HTTP/1.1\r\nHost: a\r\n${extra}\r\n\r\n`)), INVALID, extra);
  }
  assert.equal(new HeadReader(8192).read(Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n')), INVALID);
  assert.equal(feedBytewise('PRI * HTTP/2.0\r\n\r').result, INCOMPLETE, 'the preface is read to the end of its head, as by node:http');
  const ok = new HeadReader(8192).read(Buffer.from('GET /ready HTTP/1.1\r\nHost: a\r\nContent-Length: 18446744073709551615\r\nTransfer-Encoding-X: y\r\n\r\n'));
  assert.equal(ok.announcesBody, true);
});

test('empty lines before a request line, CR or LF alone included, are skipped as llhttp skips them', () => {
  for (const prefix of ['\r\n', '\n', '\r', '\r\n\r\n\n']) {
    const reader = new HeadReader(8192);
    const text = `${prefix}GET /ready HTTP/1.0\r\n\r\n`;
    assert.equal(reader.read(Buffer.from(text)).target, '/ready', JSON.stringify(prefix));
    assert.equal(reader.consumed, text.length);
  }
  const reader = new HeadReader(8192);
  assert.equal(reader.read(Buffer.from('\r\n\r\n')), INCOMPLETE);
  assert.equal(reader.consumed, 4, 'empty lines alone are consumed, not held');
});

test('the header-size rule is node:http’s: target, names and values count, refused as soon as they reach the limit', () => {
  // 1 (target) + 4 (Host) + n (value) < 100: n = 94 passes, 95 is refused, with or without the rest of the head.
  assert.equal(new HeadReader(100).read(Buffer.from(`GET / HTTP/1.1\r\nHost: ${'h'.repeat(94)}\r\n\r\n`)).method, 'GET');
  assert.equal(new HeadReader(100).read(Buffer.from(`GET / HTTP/1.1\r\nHost: ${'h'.repeat(95)}\r\n\r\n`)), TOO_LARGE);
  assert.equal(new HeadReader(100).read(Buffer.from(`GET / HTTP/1.1\r\nHost: ${'h'.repeat(95)}`)), TOO_LARGE);
  // Whitespace before a value does not count; trailing whitespace does.
  assert.equal(new HeadReader(100).read(Buffer.from(`GET / HTTP/1.1\r\nHost:          ${'h'.repeat(94)}\r\n\r\n`)).method, 'GET');
  assert.equal(new HeadReader(100).read(Buffer.from(`GET / HTTP/1.1\r\nHost: ${'h'.repeat(85)}          \r\n\r\n`)), TOO_LARGE);
  // Many empty fields: 12 KB of `a:` lines count 3,001 bytes, under 8,192.
  assert.equal(new HeadReader(8192).read(Buffer.from(`GET / HTTP/1.1\r\n${'a:\r\n'.repeat(3000)}\r\n`)).method, 'GET');
  // The reader's own bound: at most 2 × maxHeaderSize raw bytes.
  assert.equal(new HeadReader(100).read(Buffer.from(`GET / HTTP/1.1\r\nX:${' '.repeat(200)}v\r\n\r\n`)), TOO_LARGE);
  // A cached head is held to the limit of the reader that meets it again.
  const text = `GET /${'c'.repeat(150)} HTTP/1.1\r\nHost: a\r\n\r\n`;
  assert.equal(new HeadReader(8192).read(Buffer.from(text)).method, 'GET');
  assert.equal(new HeadReader(100).read(Buffer.from(text)), TOO_LARGE);
  const padded = `GET / HTTP/1.1\r\nX:${' '.repeat(250)}v\r\n\r\n`;
  assert.equal(new HeadReader(8192).read(Buffer.from(padded)).method, 'GET');
  assert.equal(new HeadReader(100).read(Buffer.from(padded)), TOO_LARGE);
});

// The same rules on a running server (the default, or SERVICE_PROBE_SERVER=http): bytes that can
// never become a request are answered 400 and closed at once, not held until the headers timeout.
test('the probe server refuses never-valid bytes with 400 and closes at once, long before the headers timeout', async (t) => {
  const { createProbe } = await import('../../dist/index.js');
  const { connect } = await import('node:net');
  const probe = createProbe({ host: '127.0.0.1', port: 0, state: 'READY', headersTimeoutMs: 60_000, requestTimeoutMs: 120_000 });
  const { port } = await probe.start();
  t.after(() => probe.stop());
  const inputs = [
    '\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03', // TLS ClientHello
    'get /ready HTTP/1.1\r\n',
    'GET /ready HTTP/9.9\r\n',
    'GET /re\x01ady HTTP/1.1\r\n',
    'GET /ready HTTP/1.1\r\nHost: a\rX',
    'GET /ready HTTP/1.1\r\nHost a\r\n',
    'GET /ready HTTP/1.1\r\nHo\x00st: a',
    'GET ready HTTP/1.1\r\n',
  ];
  for (const input of inputs) {
    // The connection stays open on the client's side: only the server can end this exchange
    // before the test's own 60 s timeout.
    const raw = await new Promise((resolve, reject) => {
      let text = '';
      const socket = connect({ port, host: '127.0.0.1' }, () => socket.write(Buffer.from(input, 'latin1')));
      socket.setEncoding('latin1');
      socket.on('data', (chunk) => (text += chunk));
      socket.on('error', reject);
      socket.on('close', () => resolve(text));
    });
    assert.match(raw, /^HTTP\/1\.1 400 Bad Request\r\n/, JSON.stringify(input));
  }
});

// The reader keeps its own copy of llhttp's method list (so the default server never loads
// node:http), and the serializer its own reason phrases: both must stay node:http's.
test('the known methods are node:http\'s METHODS plus PRI, the HTTP/2 preface', () => {
  assert.deepEqual([...KNOWN_METHODS].sort(), [...METHODS, 'PRI'].sort());
});

test('every reason phrase is node:http\'s', () => {
  for (const status of [200, 400, 404, 405, 406, 408, 413, 417, 431, 500, 503]) assert.equal(reasonPhrase(status), STATUS_CODES[status], `status ${status}`);
  assert.equal(reasonPhrase(299), 'unknown');
});
