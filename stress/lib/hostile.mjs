// A seeded generator of malformed and hostile HTTP requests. Every input carries MARKER somewhere
// it could be echoed from (target, header names and values, body), so a response that reflects
// request input is caught by a plain substring search.

export const MARKER = 'zq9xEVIL';

const GOOD_PATHS = ['/', '/ready', '/health', '/live', '/started', '/ready/', '/health/', '/ready/db', '/ready?verbose', '/health?format=json', '/ready/db?verbose&exclude=db'];
const METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'OPTIONS', 'TRACE', 'CONNECT', 'PATCH', 'PROPFIND'];

const good = (path = '/ready', method = 'GET') => `${method} ${path} HTTP/1.1\r\nHost: probe\r\n\r\n`;

/** The kinds of input, each (rnd) → { bytes: Buffer, end: boolean }. */
export const KINDS = {
  'random bytes'(rnd) {
    const parts = [rnd.bytes(rnd.int(1, 1500))];
    if (rnd.chance(0.5)) parts.push(Buffer.from(`${MARKER}\r\n\r\n`));
    return { bytes: Buffer.concat(parts), end: rnd.chance(0.7) };
  },
  'random bytes after a good request line'(rnd) {
    return { bytes: Buffer.concat([Buffer.from(`GET /ready HTTP/1.1\r\n${MARKER}`), rnd.bytes(rnd.int(1, 800)), Buffer.from('\r\n\r\n')]), end: rnd.chance(0.5) };
  },
  'broken request line'(rnd) {
    const lines = [
      'GET\r\n\r\n',
      `GET /${MARKER}\r\n\r\n`,
      `GET  /ready  HTTP/1.1\r\n\r\n`,
      `/ready HTTP/1.1\r\nHost: x\r\n\r\n`,
      `GET /${MARKER} HTTP/1.1 extra\r\n\r\n`,
      `\r\n\r\n\r\nGET /ready HTTP/1.1\r\n\r\n`,
      `GET /ready HTTP/1.1\n\n`,
      `GET /ready HTTP/1.1\r\r\r\r`,
      `GET\t/ready\tHTTP/1.1\r\n\r\n`,
      ` GET /ready HTTP/1.1\r\n\r\n`,
      `GET /ready?${MARKER} HTTP/1.1`,
    ];
    return { bytes: Buffer.from(rnd.pick(lines)), end: rnd.chance(0.8) };
  },
  'invalid method'(rnd) {
    const methods = ['G3T', 'get', 'Get', 'BREW', `${MARKER}`, 'X'.repeat(rnd.int(20, 2000)), 'GE\0T', 'GET\x7f', '', 'M-SEARCH', 'SOURCE', 'PRI'];
    return { bytes: Buffer.from(`${rnd.pick(methods)} ${rnd.pick(GOOD_PATHS)} HTTP/1.1\r\nHost: probe\r\n\r\n`), end: rnd.chance(0.5) };
  },
  'valid but unusual method'(rnd) {
    return { bytes: Buffer.from(good(rnd.pick(GOOD_PATHS) + `?${MARKER}`, rnd.pick(METHODS))), end: rnd.chance(0.5) };
  },
  'invalid version'(rnd) {
    const versions = ['HTTP/2.0', 'HTTP/1.2', 'HTTP/0.9', 'HTTP/1', 'http/1.1', 'HTTP/11.1', 'HTTP/1.1.1', 'HTTPS/1.1', `HTTP/${MARKER}`, 'HTTP/9.9', ''];
    return { bytes: Buffer.from(`GET /ready ${rnd.pick(versions)}\r\nHost: probe\r\n\r\n`), end: rnd.chance(0.5) };
  },
  'oversized header'(rnd) {
    const size = rnd.pick([rnd.int(7000, 8300), rnd.int(8193, 20000), rnd.int(20000, 200000)]);
    const many = rnd.chance(0.5);
    const headers = many
      ? Array.from({ length: Math.ceil(size / 40) }, (_, i) => `X-${MARKER}-${i}: ${'v'.repeat(30)}\r\n`).join('')
      : `X-Big: ${MARKER}${'a'.repeat(size)}\r\n`;
    return { bytes: Buffer.from(`GET /ready HTTP/1.1\r\nHost: probe\r\n${headers}\r\n`), end: rnd.chance(0.3) };
  },
  'duplicated headers'(rnd) {
    const dup = rnd.pick([
      'Host: a\r\nHost: b\r\n',
      'Content-Length: 0\r\nContent-Length: 5\r\n',
      'Content-Length: 3\r\nContent-Length: 3\r\n',
      'Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n',
      'Transfer-Encoding: chunked\r\nContent-Length: 4\r\n',
      `Accept: application/json\r\nAccept: ${MARKER}\r\n`,
      `Connection: close\r\nConnection: keep-alive\r\nConnection: ${MARKER}\r\n`,
      `${`X-Dup: ${MARKER}\r\n`.repeat(rnd.int(2, 500))}`,
    ]);
    return { bytes: Buffer.from(`GET ${rnd.pick(GOOD_PATHS)} HTTP/1.1\r\nHost: probe\r\n${dup}\r\n0\r\n\r\n`), end: rnd.chance(0.5) };
  },
  'header injection'(rnd) {
    const bad = rnd.pick([
      `X-A: a\rX-Injected: ${MARKER}\r\n`,
      `X-A: a\nX-Injected: ${MARKER}\r\n`,
      `X-A: ${MARKER}\0\r\n`,
      `X-${MARKER}\0: 1\r\n`,
      `X A: ${MARKER}\r\n`,
      `: ${MARKER}\r\n`,
      `X-A:: ${MARKER}\r\n`,
      `X-A: a\r\n ${MARKER} folded\r\n`,
      `X-A: a\r\n\t${MARKER}\r\n`,
      `Host: ${MARKER}\r\n\r\nHTTP/1.1 200 OK\r\n`,
      `X-A: \x1b[31m${MARKER}\r\n`,
      `X-A: ${Buffer.from([0xc3, 0x28, 0xff]).toString('latin1')}${MARKER}\r\n`,
    ]);
    const target = rnd.chance(0.3) ? `/ready%0d%0aX-Injected:%20${MARKER}` : rnd.pick(GOOD_PATHS);
    return { bytes: Buffer.from(`GET ${target} HTTP/1.1\r\nHost: probe\r\n${bad}\r\n`, 'latin1'), end: rnd.chance(0.5) };
  },
  'absolute-form and asterisk targets'(rnd) {
    const target = rnd.pick([
      'http://probe/ready',
      `http://${MARKER}:11333/health`,
      'HTTP://PROBE/ready?verbose',
      'https://probe',
      'http://probe?x=1',
      '*',
      `ftp://${MARKER}/ready`,
      'http:/ready',
      'probe:80',
      `//${MARKER}/ready`,
    ]);
    const method = target === 'probe:80' ? 'CONNECT' : target === '*' ? rnd.pick(['OPTIONS', 'GET']) : rnd.pick(['GET', 'HEAD']);
    return { bytes: Buffer.from(`${method} ${target} HTTP/1.1\r\nHost: probe\r\n\r\n`), end: rnd.chance(0.5) };
  },
  'odd paths'(rnd) {
    const path = rnd.pick([
      '/..',
      '/ready/..',
      '/../../etc/passwd',
      '//ready',
      '/%2e%2e/ready',
      '/re%61dy',
      `/ready/%ff%fe${MARKER}`,
      `/health/%${MARKER}`,
      `/ready/${'%zz'.repeat(rnd.int(1, 50))}`,
      `/ready/${MARKER}`,
      `/ready/db${MARKER}`,
      `/ready?exclude=${MARKER}&verbose`,
      `/ready?format=json&exclude=db&exclude=%ff${MARKER}`,
      `/health/%64b`,
      `/${Buffer.from([0x80, 0xfe, 0xc0, 0xaf]).toString('latin1')}`,
      `/${'a/'.repeat(rnd.int(100, 2500))}`,
      `/ready?${'&exclude='.repeat(rnd.int(1, 600))}${MARKER}`,
      `/ready?verbose&format=${MARKER}`,
      `/ready#${MARKER}`,
      `/ready;${MARKER}`,
      '/ready\\..\\',
      `/ready/${encodeURIComponent('\u0000\u202e')}`,
    ]);
    return { bytes: Buffer.from(`${rnd.pick(['GET', 'HEAD'])} ${path} HTTP/1.1\r\nHost: probe\r\n\r\n`, 'latin1'), end: rnd.chance(0.5) };
  },
  pipelined(rnd) {
    const count = rnd.int(2, 60);
    const parts = [];
    for (let i = 0; i < count; i++) {
      const r = rnd.next();
      if (r < 0.7) parts.push(good(rnd.pick(GOOD_PATHS), rnd.pick(['GET', 'HEAD'])));
      else if (r < 0.85) parts.push(good(`/${MARKER}`));
      else if (r < 0.95) parts.push(`POST /ready HTTP/1.1\r\nHost: p\r\nContent-Length: 5\r\n\r\n${MARKER.slice(0, 5)}`);
      else parts.push(`GARBAGE ${MARKER}\r\n\r\n`);
    }
    return { bytes: Buffer.from(parts.join('')), end: rnd.chance(0.5) };
  },
  'deep pipeline'(rnd) {
    // More pipelined requests than the probe queues answers for: it closes the connection.
    return { bytes: Buffer.from(good(rnd.pick(GOOD_PATHS)).repeat(rnd.int(65, 600))), end: rnd.chance(0.5) };
  },
  'lying Content-Length'(rnd) {
    const declared = rnd.pick(['1000', '5', '-1', '99999999999999999999', ' 12', '0x10', `${MARKER}`, '1e3', '4294967296']);
    const body = MARKER.repeat(rnd.int(0, 3));
    return { bytes: Buffer.from(`${rnd.pick(['POST', 'GET', 'PUT'])} /ready HTTP/1.1\r\nHost: probe\r\nContent-Length: ${declared}\r\n\r\n${body}`), end: rnd.chance(0.4) };
  },
  'chunked body that never ends'(rnd) {
    const chunks = rnd.pick([
      `5\r\n${MARKER.slice(0, 5)}\r\n`,
      `ffffffffffffffff\r\n${MARKER}`,
      `zz\r\n${MARKER}\r\n`,
      `${'1\r\na\r\n'.repeat(rnd.int(1, 200))}`,
      `5;ext=${MARKER}\r\nhello\r\n`,
      '',
    ]);
    const te = rnd.pick(['chunked', 'Chunked', 'gzip, chunked', 'chunked, gzip', `${MARKER}`, ' chunked']);
    return { bytes: Buffer.from(`${rnd.pick(['POST', 'GET'])} /ready HTTP/1.1\r\nHost: probe\r\nTransfer-Encoding: ${te}\r\n\r\n${chunks}`), end: rnd.chance(0.3) };
  },
  'Expect, Upgrade and CONNECT'(rnd) {
    const req = rnd.pick([
      `GET /ready HTTP/1.1\r\nHost: p\r\nExpect: 100-continue\r\n\r\n`,
      `POST /ready HTTP/1.1\r\nHost: p\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n`,
      `GET /ready HTTP/1.1\r\nHost: p\r\nExpect: ${MARKER}\r\n\r\n`,
      `GET /ready HTTP/1.1\r\nHost: p\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Key: ${MARKER}\r\n\r\n`,
      `GET /ready HTTP/1.1\r\nHost: p\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: ${MARKER}\r\n\r\n`,
      `CONNECT ${MARKER}:443 HTTP/1.1\r\nHost: ${MARKER}:443\r\n\r\n`,
      `CONNECT p:443 HTTP/1.1\r\nHost: p:443\r\n\r\n${MARKER}`,
      'PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n',
    ]);
    return { bytes: Buffer.from(req), end: rnd.chance(0.5) };
  },
  'HTTP/1.0 and no Host'(rnd) {
    const req = rnd.pick([`GET /ready HTTP/1.0\r\n\r\n`, `GET /ready HTTP/1.1\r\n\r\n`, `GET /ready HTTP/1.0\r\nConnection: keep-alive\r\n\r\n`, `HEAD /health HTTP/1.0\r\nX-M: ${MARKER}\r\n\r\n`]);
    return { bytes: Buffer.from(req), end: rnd.chance(0.5) };
  },
  'request split into many writes'(rnd) {
    // A complete good request sent with a partial head (the rest never comes): held until the timeout.
    const full = good(rnd.pick(GOOD_PATHS));
    return { bytes: Buffer.from(full.slice(0, rnd.int(1, full.length - 3))), end: rnd.chance(0.6) };
  },
};

const KIND_NAMES = Object.keys(KINDS);

/** The next hostile request: { kind, bytes, end }. */
export function nextHostile(rnd) {
  const kind = rnd.pick(KIND_NAMES);
  return { kind, ...KINDS[kind](rnd) };
}
