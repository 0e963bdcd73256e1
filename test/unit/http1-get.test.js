// The client's response reader (src/http1-get.ts), on bytes alone: framing, interim answers, what
// it refuses, and responses that arrive a byte at a time. That it reads what node:http reads, the
// same way, is test/integration/client.test.js's differential test, on real sockets.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ResponseReader, requestBytes } from '../../dist/internal.js';

/** Feeds `text` to a reader (whole, or one byte at a time), then closes if asked: what it reported. */
function read(text, { bytewise = false, close = false } = {}) {
  const events = [];
  const body = [];
  const reader = new ResponseReader({
    response: (status) => events.push(`response ${status}`),
    data: (chunk) => body.push(chunk),
    end: () => events.push(`end ${Buffer.concat(body).toString('latin1')}`),
    error: (error) => events.push(`error ${error.code ?? ''} ${error.message}`),
  });
  const bytes = Buffer.from(text, 'latin1');
  if (bytewise) for (let i = 0; i < bytes.length; i++) reader.push(bytes.subarray(i, i + 1));
  else reader.push(bytes);
  if (close) reader.close();
  return events;
}

const FRAMED = [
  ['Content-Length', 'HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nREADY', 200, 'READY'],
  ['chunked, with extensions and trailers', 'HTTP/1.1 503 Service Unavailable\r\nTransfer-Encoding: chunked\r\n\r\n3;x=1\r\nDRA\r\n5\r\nINING\r\n0\r\nX-T: 1\r\n\r\n', 503, 'DRAINING'],
  ['a 100 Continue before the answer', 'HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nUP', 200, 'UP'],
  ['204: no body whatever the headers say', 'HTTP/1.1 204 No Content\r\nContent-Length: 5\r\n\r\n', 204, ''],
  ['Content-Length: 0', 'HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n', 404, ''],
];

test('a framed body ends the response without waiting for the connection to close, whole or byte by byte', () => {
  for (const [what, text, status, body] of FRAMED) {
    for (const bytewise of [false, true]) {
      assert.deepEqual(read(text, { bytewise }), [`response ${status}`, `end ${body}`], `${what}${bytewise ? ', byte by byte' : ''}`);
    }
  }
});

test('a body without Content-Length or chunked coding is read to the close', () => {
  const text = 'HTTP/1.0 200 OK\r\nTransfer-Encoding: gzip\r\n\r\nREADY';
  assert.deepEqual(read(text), ['response 200'], 'no end before the close');
  assert.deepEqual(read(text, { close: true }), ['response 200', 'end READY']);
});

test('a connection closed early is an error: before the answer (ECONNRESET) or within its body', () => {
  assert.deepEqual(read('', { close: true }), ['error ECONNRESET socket hang up']);
  assert.deepEqual(read('HTTP/1.1 200 OK\r\nContent-Le', { close: true }), ['error ECONNRESET socket hang up']);
  assert.deepEqual(read('HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\nREADY', { close: true }), ['response 200', 'error  the connection closed before the body ended']);
  assert.deepEqual(read('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nREADY\r\n', { close: true }), ['response 200', 'error  the connection closed before the body ended']);
});

test('what node:http refuses is refused as soon as it arrives, with code MALFORMED_RESPONSE', () => {
  const refused = [
    ['no status line', 'garbage\r\n\r\n'],
    ['HTTP/1.2', 'HTTP/1.2 200 OK\r\n\r\n'],
    ['a letter in the status', 'HTTP/1.1 2OO OK\r\n\r\n'],
    ['a header line without a colon', 'HTTP/1.1 200 OK\r\nBad Header\r\n\r\n'],
    ['a folded header line', 'HTTP/1.1 200 OK\r\n Folded: x\r\n\r\n'],
    ['a control byte in a value', 'HTTP/1.1 200 OK\r\nX: a\x01b\r\n\r\n'],
    ['a bare line feed', 'HTTP/1.1 200 OK\nContent-Length: 5\n\nREADY'],
    ['two Content-Length headers, even equal', 'HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\nREADY'],
    ['a Content-Length list', 'HTTP/1.1 200 OK\r\nContent-Length: 5, 5\r\n\r\nREADY'],
    ['a signed Content-Length', 'HTTP/1.1 200 OK\r\nContent-Length: +5\r\n\r\nREADY'],
    ['Content-Length with Transfer-Encoding', 'HTTP/1.1 200 OK\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nREADY\r\n0\r\n\r\n'],
    ['a chunk size that is not hex', 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nZZ\r\n'],
    ['a space after the chunk size', 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5 \r\nREADY\r\n0\r\n\r\n'],
    ['a chunk longer than its size', 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nREADYxx0\r\n\r\n'],
    ['a head over 16 KiB', `HTTP/1.1 200 OK\r\nX: ${'a'.repeat(16_384)}`],
  ];
  for (const [what, text] of refused) {
    for (const bytewise of [false, true]) {
      const events = read(text, { bytewise });
      assert.equal(events.length, events[0].startsWith('response') ? 2 : 1, `${what}: ${events}`);
      assert.match(events.at(-1), /^error MALFORMED_RESPONSE malformed response: /, what);
    }
  }
});

test('bytes that arrive with the end of the body are refused; once the end is reported, later bytes are not read', () => {
  const text = 'HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nREADYMORE';
  assert.deepEqual(read(text), ['response 200', 'error MALFORMED_RESPONSE malformed response: bytes after the end of the response']);
  assert.deepEqual(read(text, { bytewise: true }), ['response 200', 'end READY']);
});

test('nothing is reported after the end, an error or stop()', () => {
  const events = [];
  const listener = { response: () => events.push('response'), data: () => events.push('data'), end: () => events.push('end'), error: () => events.push('error') };
  const reader = new ResponseReader(listener);
  reader.push(Buffer.from('HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nREA'));
  reader.stop();
  reader.push(Buffer.from('DY'));
  reader.close();
  reader.abort(new Error('late'));
  assert.deepEqual(events, ['response', 'data']);
});

test('the request is what node:http sends for a GET without an agent: Host with its port, Authorization from the URL, Connection close', () => {
  const headers = { accept: 'text/plain', 'user-agent': 'service-probe/1' };
  assert.equal(
    requestBytes(new URL('http://127.0.0.1:8080/ready?verbose'), headers).toString('latin1'),
    'GET /ready?verbose HTTP/1.1\r\naccept: text/plain\r\nuser-agent: service-probe/1\r\nHost: 127.0.0.1:8080\r\nConnection: close\r\n\r\n',
  );
  assert.match(requestBytes(new URL('http://[::1]/'), {}).toString('latin1'), /^GET \/ HTTP\/1\.1\r\nHost: \[::1\]\r\n/);
  const auth = requestBytes(new URL('http://us%20er:p%C3%A4ss@host/'), {}).toString('latin1');
  assert.ok(auth.includes(`Authorization: Basic ${Buffer.from('us er:päss').toString('base64')}\r\n`), auth);
  assert.throws(() => requestBytes(new URL('http://a%ZZ@host/'), {}), URIError);
});
