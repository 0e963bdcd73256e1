// One validation module for every option of the package: each kind of option (duration, boolean,
// integer, options object) follows one rule and fails with one wording, wherever it is given.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createProbe, ProbeArgumentError } from '../../dist/index.js';
import { eventLoopDelay, rssUsage } from '../../dist/checks-entry.js';
import { waitUntilReady, fetchServiceState } from '../../dist/client.js';

const TIMER_MAX_MS = 2 ** 31 - 1;

// Each entry gives a bad value to one option and returns what that throws (or rejects with).
async function thrown(give) {
  try {
    await give();
  } catch (error) {
    return error;
  }
  assert.fail('no error');
}

const DURATIONS = [
  // [argument, min, give(value)]
  ['options.headersTimeoutMs', 1, (value) => createProbe({ headersTimeoutMs: value, requestTimeoutMs: TIMER_MAX_MS })],
  ['options.keepAliveTimeoutMs', 1, (value) => createProbe({ keepAliveTimeoutMs: value })],
  ['options.timeoutMs', 1, (value) => createProbe().addCheck('c', () => true, { timeoutMs: value })],
  ['options.intervalMs', 1, (value) => createProbe().addCheck('c', () => true, { intervalMs: value })],
  ['options.cacheMs', 0, (value) => createProbe().addCheck('c', () => true, { cacheMs: value })],
  ['options.drainDelayMs', 0, (value) => createProbe().shutdown({ drainDelayMs: value, exit: false })],
  ['options.hookTimeoutMs', 1, (value) => createProbe().shutdown({ hookTimeoutMs: value, exit: false })],
  ['options.timeoutMs', 1, (value) => createProbe().onShutdown(() => {}, { timeoutMs: value })],
  ['options.resolutionMs', 1, (value) => eventLoopDelay({ resolutionMs: value })],
  ['options.timeoutMs', 1, (value) => fetchServiceState('http://127.0.0.1:1/ready', { timeoutMs: value })],
  ['options.requestTimeoutMs', 1, (value) => waitUntilReady('http://127.0.0.1:1/ready', { requestTimeoutMs: value })],
];

test('every duration option is an integer number of ms up to 2^31-1, with one wording', async () => {
  for (const [argument, min, give] of DURATIONS) {
    for (const value of [min - 1, 1.5, TIMER_MAX_MS + 1, '100', Number.NaN]) {
      const error = await thrown(() => give(value));
      assert.ok(error instanceof ProbeArgumentError, `${argument} = ${value}: ${error}`);
      assert.equal(error.argument, argument);
      assert.match(error.message, new RegExp(`must be an integer number of milliseconds from ${min} to ${TIMER_MAX_MS}\\. Received`), argument);
    }
  }
});

test('every boolean option takes true or false only, with one wording', async () => {
  const booleans = [
    ['options.exposeDetails', (value) => createProbe({ exposeDetails: value })],
    ['options.critical', (value) => createProbe().addCheck('c', () => true, { critical: value })],
    ['options.exit', (value) => createProbe().shutdown({ exit: value })],
    ['options.readyWhileDraining', (value) => createProbe().handleSignals({ readyWhileDraining: value })],
    ['options.stopProbe', (value) => createProbe().shutdown({ stopProbe: value })],
  ];
  for (const [argument, give] of booleans) {
    for (const value of [1, 'true', null]) {
      const error = await thrown(() => give(value));
      assert.equal(error.argument, argument);
      assert.match(error.message, /must be true or false\. Received/, argument);
    }
  }
});

test('integer options are safe integers within their bounds, with one wording', async () => {
  const integers = [
    ['options.maxHeaderSize', 65_536, (value) => createProbe({ maxHeaderSize: value })],
    ['options.maxConnections', 65_536, (value) => createProbe({ maxConnections: value })],
    ['options.maxBytes', Number.MAX_SAFE_INTEGER, (value) => rssUsage({ maxBytes: value })],
  ];
  for (const [argument, max, give] of integers) {
    for (const value of [0, 2.5, max + 2]) {
      const error = await thrown(() => give(value));
      assert.equal(error.argument, argument);
      assert.match(error.message, new RegExp(`must be an integer from 1 to ${max}\\. Received`), argument);
    }
    // The bound itself is accepted.
    give(max);
  }
});

test('an options argument is an object with known keys only, everywhere', async () => {
  const objects = [
    ['options', (value) => createProbe(value)],
    ['options', (value) => createProbe().addCheck('c', () => true, value)],
    ['options', (value) => createProbe().shutdown(value)],
    ['options', (value) => rssUsage(value)],
    ['options', (value) => fetchServiceState('http://127.0.0.1:1/ready', value)],
  ];
  for (const [argument, give] of objects) {
    const notObject = await thrown(() => give('x'));
    assert.equal(notObject.argument, argument);
    assert.match(notObject.message, /must be an object\. Received/);
    const unknown = await thrown(() => give({ unknownOption: 1 }));
    assert.equal(unknown.argument, `${argument}.unknownOption`);
    assert.match(unknown.message, /must be one of the known options \(/);
  }
});

test('a host is an IP literal or a host name (RFC 1123: letters, digits, hyphens, dots); anything else is refused naming the value', async () => {
  const longest = `${'a'.repeat(63)}.${'b'.repeat(63)}.${'c'.repeat(63)}.${'d'.repeat(61)}`; // 253 characters
  for (const host of ['localhost', 'LOCALHOST', 'probe-1.internal', 'localhost.', '1-2.example', 'x', longest, '127.0.0.1', '::1', '[::1]', [127, 0, 0, 1]]) {
    assert.doesNotThrow(() => createProbe({ host }), `${host}`);
    // Refused for its port: the host passed.
    assert.equal((await thrown(() => createProbe().start({ host, port: 70_000 }))).argument, 'overrides.port', `${host}`);
  }
  const refused = ['not a host!', '', ' localhost', 'localhost:80', 'under_score', '-leading', 'trailing-', 'a..b', '.', 'ünïcode',
    // A name's last label is never all digits (RFC 1123 2.1): these are bad addresses, not names.
    '999.0.0.1', '1.2.3', '10.0.0.1.', `${longest}x`, `${'a'.repeat(64)}.example`, 42, true, null, {}];
  for (const host of refused) {
    for (const [argument, give] of [
      ['options.host', () => createProbe({ host })],
      ['overrides.host', () => createProbe().start({ host })],
    ]) {
      const error = await thrown(give);
      assert.ok(error instanceof ProbeArgumentError, `${argument} ${JSON.stringify(host)}: ${error}`);
      assert.equal(error.argument, argument);
      assert.equal(error.value, host);
      assert.match(error.message, /must be an IPv4 or IPv6 address or a host name/);
      if (typeof host === 'string') assert.ok(error.message.includes(`'${host.slice(0, 30)}`), error.message);
    }
  }
});
