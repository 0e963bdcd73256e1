// The differential run: the same seeded requests sent to the node:net reader (`server: 'net'`) and
// to node:http (`server: 'http'`) over fresh connections, and what comes back compared: status
// lines, headers (but Date), bodies, the number of answers, whether the server closed, and whether
// it answered at once or only at a timeout. A difference fails unless it is one of KEPT_DIFFERENCES,
// the list docs/design.md gives ("node:http vs node:net"). Used by test/wire/differential.test.js
// (2,000+ cases) and by stress scenario 7 (20,000+).

import { connect } from 'node:net';
import { randomSource } from './prng.mjs';

/** Server limits for both servers: small, so that heads around the limit and timeouts are cheap. */
export const LIMITS = Object.freeze({ maxHeaderSize: 1024, headersTimeoutMs: 400, keepAliveTimeoutMs: 400, requestTimeoutMs: 5000 });
// An answer or a close within this time after the last write counts as "at once". Timeouts come
// after LIMITS' 400 ms at the earliest.
const PROMPT_MS = 250;
// Cases that watch the timeouts too wait this long (node:http closes an idle keep-alive
// connection about 1 s after keepAliveTimeoutMs).
const PATIENT_MS = 2200;

const PATHS = ['/ready', '/live', '/started', '/health', '/ready/', '/livez', '/healthz', '/readyz', '/ready?verbose', '/health?format=json', '/nope', '/', '*', 'http://probe/ready', '/ready#frag', '/ready?exclude=x'];
const ACCEPTS = [undefined, '*/*', 'application/health+json', 'application/json', 'text/plain', 'application/health+json;q=0.5, text/plain'];
const OTHER_METHODS = ['POST', 'PUT', 'OPTIONS', 'DELETE', 'M-SEARCH', 'PATCH', 'TRACE', 'CONNECT'];

function request(rnd, { method, path, version = '1.1', host = true, headers = [] } = {}) {
  method ??= rnd.chance(0.85) ? rnd.pick(['GET', 'GET', 'HEAD']) : rnd.pick(OTHER_METHODS);
  path ??= method === 'CONNECT' ? 'probe:443' : rnd.pick(PATHS);
  const lines = [`${method} ${path} HTTP/${version}`];
  if (host) lines.push('Host: probe');
  const accept = rnd.pick(ACCEPTS);
  if (accept !== undefined) lines.push(`Accept: ${accept}`);
  if (rnd.chance(0.3)) lines.push(`Connection: ${rnd.pick(['close', 'keep-alive', 'Close', 'upgrade', 'close, foo'])}`);
  if (rnd.chance(0.2)) lines.push('User-Agent: kube-probe/1.31');
  if (rnd.chance(0.05)) lines.push(`Expect: ${rnd.pick(['100-continue', 'nothing'])}`);
  lines.push(...headers);
  return `${lines.join('\r\n')}\r\n\r\n`;
}

const TLS_HELLO = Buffer.from('16030100c8010000c40303' + 'ab'.repeat(32) + '00001ac02bc02fc02cc030cca9cca8c013c014009c009d002f0035000a0100', 'hex');
const H2_PREFACE = 'PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n';
const CONTROL = [0, 1, 8, 11, 12, 13, 10, 27, 127, 9];

// One mutation of a valid request's text at a random place.
function mutate(rnd, text) {
  const at = rnd.int(0, text.length - 1);
  switch (rnd.int(0, 5)) {
    case 0:
      return text.slice(0, at) + String.fromCharCode(rnd.pick(CONTROL)) + text.slice(at);
    case 1:
      return text.slice(0, at) + String.fromCharCode(rnd.int(0, 255)) + text.slice(at + 1);
    case 2:
      return text.slice(0, at) + text.slice(at + 1);
    case 3:
      return text.slice(0, at) + rnd.pick([' ', '\t', ':', '\r', '\n', '\r\n', '\x80', '\xff', '"', '(']) + text.slice(at);
    case 4:
      return text.replace(/\r\n/, rnd.pick(['\n', '\r', '\r\r\n', '\r\n ', '\n\r']));
    default:
      return text.toLowerCase();
  }
}

/** The kinds of case; each (rnd) → { text?: string, bytes?: Buffer } with what to send. */
export const KINDS = {
  valid: (rnd) => ({ text: request(rnd) }),
  'valid HTTP/1.0': (rnd) => ({ text: request(rnd, { version: '1.0', host: rnd.chance(0.5) }) }),
  'without Host': (rnd) => ({ text: request(rnd, { host: false }) }),
  'empty lines before': (rnd) => ({ text: rnd.pick(['\r\n', '\n', '\r', '\r\n\r\n', '\n\n']) + request(rnd) }),
  pipelined: (rnd) => ({ text: Array.from({ length: rnd.pick([rnd.int(2, 10), rnd.int(2, 64), rnd.int(60, 100)]) }, () => request(rnd, { method: rnd.pick(['GET', 'HEAD']) })).join('') }),
  'pipelined, one bad': (rnd) => {
    const n = rnd.int(2, 8);
    return { text: Array.from({ length: n }, (_, i) => (i === n - 1 ? mutate(rnd, request(rnd)) : request(rnd, { method: 'GET' }))).join('') };
  },
  'random bytes': (rnd) => ({ bytes: rnd.bytes(rnd.int(1, 100)) }),
  'random text': (rnd) => ({ text: Array.from({ length: rnd.int(1, 80) }, () => String.fromCharCode(rnd.int(32, 126))).join('') + rnd.pick(['', '\r\n', '\r\n\r\n']) }),
  'TLS ClientHello': (rnd) => ({ bytes: TLS_HELLO.subarray(0, rnd.int(1, TLS_HELLO.length)) }),
  'HTTP/2 preface': (rnd) => ({ text: H2_PREFACE.slice(0, rnd.int(3, H2_PREFACE.length)) }),
  mutated: (rnd) => ({ text: mutate(rnd, request(rnd, { method: rnd.pick(['GET', 'HEAD']) })) }),
  'mutated twice': (rnd) => ({ text: mutate(rnd, mutate(rnd, request(rnd, { method: 'GET' }))) }),
  'bare LF': (rnd) => ({ text: request(rnd).replaceAll('\r\n', (m) => (rnd.chance(0.3) ? '\n' : m)) }),
  'lone CR': (rnd) => ({ text: request(rnd).replace(/\r\n/g, (m) => (rnd.chance(0.2) ? '\r' : m)) }),
  'obs-fold': (rnd) => ({ text: request(rnd, { method: 'GET', headers: [`X-A: one\r\n${rnd.pick([' ', '\t'])}two`] }) }),
  'control byte in a header': (rnd) => ({ text: request(rnd, { method: 'GET', headers: [`X-${rnd.pick(['', 'A'])}${String.fromCharCode(rnd.pick(CONTROL))}: v`, `X-B: a${String.fromCharCode(rnd.pick(CONTROL))}b`].slice(rnd.int(0, 1), 2) }) }),
  'framing headers': (rnd) => ({
    text: request(rnd, {
      method: rnd.pick(['GET', 'HEAD', 'POST']),
      headers: Array.from({ length: rnd.int(1, 3) }, () =>
        rnd.pick([
          'Content-Length: 0',
          'Content-Length: 0',
          'Content-Length: 5',
          'Content-Length: 00',
          'Content-Length: -1',
          'Content-Length: 1 2',
          'Content-Length: ',
          `Content-Length: ${rnd.pick(['18446744073709551615', '18446744073709551616', '99999999999999999999999'])}`,
          'Transfer-Encoding: chunked',
          'Transfer-Encoding: gzip',
          'Transfer-Encoding: gzip, chunked',
          'Transfer-Encoding: chunked, gzip',
          'Transfer-Encoding: identity',
        ]),
      ),
    }) + rnd.pick(['', '', 'hello', '0\r\n\r\n']),
  }),
  'around maxHeaderSize': (rnd) => {
    const size = LIMITS.maxHeaderSize + rnd.int(-40, 40);
    const where = rnd.int(0, 2);
    const filler = (n) => 'a'.repeat(Math.max(1, n));
    if (where === 0) return { text: `GET /ready?${filler(size - 20)} HTTP/1.1\r\nHost: probe\r\n\r\n` };
    if (where === 1) return { text: `GET /ready HTTP/1.1\r\nHost: probe\r\nX-Big: ${filler(size - 20)}${rnd.pick(['', '   ', '\t'])}\r\n\r\n` };
    return { text: `GET /ready HTTP/1.1\r\nHost: probe\r\n${filler(size - 20)}: v\r\n\r\n` };
  },
  'many headers': (rnd) => ({ text: request(rnd, { method: 'GET', headers: Array.from({ length: rnd.int(20, 260) }, (_, i) => rnd.pick([`a:`, `X-${i}: ${i}`, 'b: '])) }) }),
  'padded with whitespace': (rnd) => ({ text: request(rnd, { method: 'GET', headers: [`X-Pad:${' '.repeat(rnd.int(100, 2500))}v`] }) }),
  'incomplete head': (rnd) => {
    const text = request(rnd, { method: 'GET' });
    return { text: text.slice(0, rnd.int(1, text.length - 2)) };
  },
  'kept differences': (rnd) => ({
    text: rnd.pick([
      'GET  /ready HTTP/1.1\r\nHost: probe\r\n\r\n',
      'GET /ready  HTTP/1.1\r\nHost: probe\r\n\r\n',
      'GET /ready HTTP/2.0\r\nHost: probe\r\n\r\n',
      'GET /ready HTTP/0.9\r\n\r\n',
      'GET /ready HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n',
      'GET /ready HTTP/1.1\r\nHost: a\r\nConnection: keep-alive, close\r\n\r\n',
      'GET /ready HTTP/1.1\r\nHost: a\r\nConnection: close\t\r\n\r\n',
      'POST /ready HTTP/1.1\r\nHost: a\r\n\r\n',
    ]),
  }),
};
const KIND_NAMES = Object.keys(KINDS);

/** Case `index` of the run seeded `seed`: the same case on every machine. */
export function generateCase(seed, index) {
  const rnd = randomSource((Math.imul(seed >>> 0, 2654435761) ^ Math.imul(index + 1, 40503)) >>> 0);
  const kind = rnd.pick(KIND_NAMES);
  const made = KINDS[kind](rnd);
  const bytes = made.bytes ?? Buffer.from(made.text, 'latin1');
  // 1-byte writes for a few short cases; a few watch the timeouts too.
  const oneByteWrites = bytes.length <= 400 && rnd.chance(0.06);
  const patient = rnd.chance(0.03);
  return { index, kind, bytes, oneByteWrites, patient };
}

/**
 * Sends the case on a fresh connection; resolves what came back: the raw bytes, and the times of
 * the first and last byte and of the close, from the last write (or undefined).
 */
export function exchange(port, { bytes, oneByteWrites, patient }) {
  return new Promise((resolve) => {
    const chunks = [];
    let wroteAt;
    let firstAt;
    let lastAt;
    let closedAt;
    const socket = connect({ port, host: '127.0.0.1', noDelay: true });
    const finish = () => {
      clearTimeout(timer);
      socket.destroy();
      resolve({ raw: Buffer.concat(chunks).toString('latin1'), firstAt, lastAt, closedAt, wroteAt });
    };
    let timer;
    const startTimer = () => {
      wroteAt = performance.now();
      timer = setTimeout(finish, patient ? PATIENT_MS : PROMPT_MS);
    };
    socket.on('data', (chunk) => {
      const t = performance.now() - (wroteAt ?? performance.now());
      firstAt ??= t;
      lastAt = t;
      chunks.push(chunk);
    });
    socket.on('error', () => {});
    socket.on('close', () => {
      closedAt = performance.now() - (wroteAt ?? performance.now());
      if (timer === undefined) startTimer();
      clearTimeout(timer);
      finish();
    });
    socket.on('connect', async () => {
      if (!oneByteWrites) {
        socket.write(bytes, startTimer);
        return;
      }
      for (let i = 0; i < bytes.length && !socket.destroyed; i++) {
        await new Promise((done) => socket.write(bytes.subarray(i, i + 1), done));
        await new Promise((done) => setImmediate(done));
      }
      startTimer();
    });
  });
}

/** What is compared: the answers with Date blanked, how many, and when the server answered and closed. */
export function observe(result) {
  const answers = result.raw.replace(/\r\nDate: [^\r]*/g, '\r\nDate: -');
  const statuses = [...answers.matchAll(/HTTP\/1\.1 (\d{3}) /g)].map((m) => Number(m[1]));
  const when = (t) => (t === undefined ? 'never' : t <= PROMPT_MS ? 'at once' : 'later');
  return { answers, statuses, answered: when(result.firstAt), closed: when(result.closedAt) };
}

function same(a, b) {
  return a.answers === b.answers && a.answered === b.answered && a.closed === b.closed;
}

// Normalizations that erase one kept difference from an observation, so that two kept differences
// in one case (a pipelined batch with a POST and an Expect) are both allowed.
const withoutConnectionHeaders = (o) => ({ ...o, closed: '-', answers: o.answers.replace(/\r\n(Connection|Keep-Alive): [^\r]*/g, '') });
const withoutContinue = (o) => ({ ...o, statuses: o.statuses.filter((s) => s !== 100), answers: o.answers.replaceAll('HTTP/1.1 100 Continue\r\n\r\n', '') });
const requestLines = (bytes) => bytes.toString('latin1').replace(/^[\r\n]+/, '').split('\r\n\r\n').map((head) => head.replace(/^[\r\n]+/, '').split(/\r?\n/)[0]);
const headText = (bytes) => bytes.toString('latin1').split('\r\n\r\n')[0];
// The answers of an observation, one string each, without the headers that differ on closing.
const answerList = (o) => o.answers.split(/(?=HTTP\/1\.1 \d{3} )/).filter(Boolean).map((a) => a.replace(/\r\n(Connection|Keep-Alive): [^\r]*/g, ''));
function isSubsequence(short, long) {
  let j = 0;
  for (const item of long) if (j < short.length && item === short[j]) j++;
  return j === short.length;
}

/**
 * The differences the reader keeps on purpose (all safer or stricter than node:http); docs/design.md
 * lists the same names. `applies` looks at the request; then either `normalize`
 * erases the difference from both observations (several can apply to one case), or `allows`
 * judges the two (normalized) observations.
 */
export const KEPT_DIFFERENCES = [
  {
    name: 'a connection that starts with the HTTP/2 preface is served as gRPC health on HTTP/2 (with `grpc: false`, it gets the 400 node:http sends)',
    applies: (bytes) => bytes.toString('latin1').startsWith('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n'),
    allows: (net) => net.statuses.length === 0,
  },
  {
    name: 'a method other than GET or HEAD closes the connection after its answer',
    applies: (bytes) => /(?:^|[\r\n])(?!GET |HEAD )[A-Z-]+ \S+ HTTP\/1\.[01]\r\n/.test(bytes.toString('latin1')),
    normalize: withoutConnectionHeaders,
  },
  {
    name: 'stricter request line: one space between its parts and a version, HTTP/1.0 or 1.1 only',
    applies: (bytes) => requestLines(bytes).some((line) => line !== '' && !/^[^ ]+ [^ ]+ HTTP\/1\.[01]$/.test(line)),
    allows: (net) => net.statuses.at(-1) === 400 && net.closed === 'at once',
  },
  {
    name: 'two Host lines are refused (RFC 9112 §3.2)',
    applies: (bytes) => bytes.toString('latin1').split('\r\n\r\n').some((head) => (head.match(/\r\nhost:/gi)?.length ?? 0) > 1),
    allows: (net) => net.statuses.at(-1) === 400 && net.closed === 'at once',
  },
  {
    name: '`Connection: close` wins over keep-alive, and HTAB around a Connection token is whitespace (RFC 9110 §5.6.3)',
    applies: (bytes) => /\r\nconnection:[^\r]*(close[^\r]*keep-alive|keep-alive[^\r]*close|close[ \t]*\t|\tclose)/i.test(bytes.toString('latin1')),
    normalize: withoutConnectionHeaders,
  },
  {
    name: 'the `100 Continue` of a pipelined request goes out after the answers before it (node:http may write it ahead of answers still queued)',
    applies: (bytes) => /\r\nexpect:/i.test(bytes.toString('latin1')),
    normalize: withoutContinue,
  },
  {
    name: 'answers to pipelined requests before a malformed, `Connection: close` or CONNECT one are all sent (node:http drops those still queued)',
    applies: (bytes) => {
      const text = bytes.toString('latin1').replace(/^[\r\n]+/, '');
      const end = text.indexOf('\r\n\r\n');
      return end !== -1 && end + 4 < text.length;
    },
    allows: (net, http) => net.statuses.length > http.statuses.length && (http.closed === 'at once' || http.closed === '-') && isSubsequence(answerList(http), answerList(net)),
  },
  {
    name: 'more than 64 pipelined requests: the reader answers up to 65 before it closes, node:http fewer',
    applies: (bytes) => (bytes.toString('latin1').match(/ HTTP\/1\.[01]\r\n/g)?.length ?? 0) > 64,
    allows: (net, http) => net.closed === 'at once' && http.closed === 'at once' && net.statuses.length <= 65,
  },
  {
    name: 'a head of more than 2 × maxHeaderSize raw bytes (whitespace node:http does not count) gets 431',
    applies: (bytes) => headText(bytes).length + 4 > 2 * LIMITS.maxHeaderSize,
    allows: (net) => net.statuses.at(-1) === 431 && net.closed === 'at once',
  },
];

/** Compares one case's two observations: agreeing, a kept difference (its names), or a difference to report. */
export function compare(testCase, net, http) {
  if (same(net, http)) return { kept: undefined };
  const applicable = KEPT_DIFFERENCES.filter((kept) => kept.applies(testCase.bytes));
  let a = net;
  let b = http;
  const used = [];
  for (const kept of applicable) {
    if (kept.normalize === undefined) continue;
    a = kept.normalize(a);
    b = kept.normalize(b);
    used.push(kept.name);
  }
  if (used.length > 0 && same(a, b)) return { kept: used };
  for (const kept of applicable) if (kept.allows !== undefined && kept.allows(a, b)) return { kept: [...used, kept.name] };
  return {
    difference: {
      index: testCase.index,
      kind: testCase.kind,
      oneByteWrites: testCase.oneByteWrites,
      sent: testCase.bytes.toString('latin1').slice(0, 300),
      net: { statuses: net.statuses, answered: net.answered, closed: net.closed, answers: net.answers.slice(0, 400) },
      http: { statuses: http.statuses, answered: http.answered, closed: http.closed, answers: http.answers.slice(0, 400) },
    },
  };
}

/**
 * Runs `count` cases of the run seeded `seed` against the two ports, `concurrency` at a time. A
 * case whose two answers differ is run again, alone, after the others (twice at most): a machine
 * too busy to answer within PROMPT_MS must not show up as a difference; a real one differs every
 * time.
 */
export async function runDifferential({ seed, count, netPort, httpPort, concurrency = 48 }) {
  const kept = new Map();
  const suspects = [];
  let next = 0;
  const judge = async (testCase) => {
    const [net, http] = await Promise.all([exchange(netPort, testCase), exchange(httpPort, testCase)]);
    return compare(testCase, observe(net), observe(http));
  };
  const tally = (verdict) => {
    for (const name of verdict.kept ?? []) kept.set(name, (kept.get(name) ?? 0) + 1);
  };
  async function worker() {
    while (next < count) {
      const testCase = generateCase(seed, next++);
      const verdict = await judge(testCase);
      if (verdict.difference === undefined) tally(verdict);
      else suspects.push(testCase);
    }
  }
  await Promise.all(Array.from({ length: concurrency }, worker));
  const differences = [];
  for (const testCase of suspects.sort((a, b) => a.index - b.index)) {
    let verdict;
    for (let attempt = 0; attempt < 2; attempt++) {
      verdict = await judge(testCase);
      if (verdict.difference === undefined) break;
    }
    if (verdict.difference === undefined) tally(verdict);
    else differences.push(verdict.difference);
  }
  return { count, differences, kept, retried: suspects.length };
}
