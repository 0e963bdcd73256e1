// The client checks without a server: what they accept (duck typing, refused with a
// ProbeArgumentError that says what was expected), how they name a failure, how credentials are
// redacted, and the runner's promises (timeout honoured, one round trip outstanding at most,
// a pool's connection given back or destroyed). Stand-in clients here have the shape the checks
// rely on; test/integration/services/ runs the same checks against real servers with the real libraries.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { postgres, mysql, redis, amqp, redactCredentials, ProbeArgumentError } from '../../dist/checks-entry.js';
import { ProbeArgumentError as MainProbeArgumentError } from '../../dist/index.js';
import { failureKind, failureReason } from '../../dist/internal.js';

const expectRefused = (fn, argument, expected) =>
  assert.throws(fn, (error) => {
    assert.ok(error instanceof ProbeArgumentError);
    assert.ok(error instanceof MainProbeArgumentError);
    assert.equal(error.code, 'INVALID_ARGUMENT');
    assert.equal(error.argument, argument);
    assert.match(error.message, expected);
    return true;
  });

test('each client check refuses, at creation, an object that is not the client it expects, saying what it expected and what it got', () => {
  for (const wrong of [undefined, null, 42, 'postgres://localhost', {}, { query: 'no function' }, () => {}]) {
    expectRefused(() => postgres(wrong), 'poolOrClient', /must be a pg Pool or Client \(an object with query\(\) and connect\(\)\)\. Received/);
    expectRefused(() => mysql(wrong), 'poolOrConnection', /must be a mysql2 pool or connection .* Received/);
    expectRefused(() => redis(wrong), 'client', /must be a node-redis or ioredis client .* Received/);
    expectRefused(() => amqp(wrong), 'connection', /must be an amqplib connection .* Received/);
  }
  // Near misses: a pg-like object without connect(), a mysql connection of another library, a
  // Redis-like object with ping() but neither isReady nor status, an amqplib channel.
  expectRefused(() => postgres({ query() {} }), 'poolOrClient', /Received an instance of Object/);
  expectRefused(() => mysql({ query() {}, getConnection() {} }), 'poolOrConnection', /mysql2/);
  expectRefused(() => redis({ ping() {} }), 'client', /isReady or status/);
  expectRefused(() => amqp({ assertQueue() {}, close() {} }), 'connection', /amqplib connection/);
});

test('postgres and mysql validate options.query; unknown options are refused', () => {
  const pgClient = { query: async () => ({}), connect() {} };
  const mysqlConnection = { query() {}, promise() {} };
  for (const create of [(o) => postgres(pgClient, o), (o) => mysql(mysqlConnection, o)]) {
    for (const bad of ['', '   ', 42, null, 'x'.repeat(10_001)]) expectRefused(() => create({ query: bad }), 'options.query', /non-empty SQL statement/);
    expectRefused(() => create({ timeout: 5 }), 'options.timeout', /known options \(query\)/);
    expectRefused(() => create('SELECT 1'), 'options', /an object/);
    assert.equal(typeof create({ query: 'SELECT 2' }), 'function');
  }
});

test('redactCredentials removes URL user-info and password-like pairs, and leaves the rest', () => {
  const cases = [
    ['connect to postgres://app:s3cret@db:5432/app failed', 'connect to postgres://***@db:5432/app failed'],
    ['redis://:hunter2@cache:6379 refused', 'redis://***@cache:6379 refused'],
    ['amqps://guest:guest@mq/vhost and mysql://root@db', 'amqps://***@mq/vhost and mysql://***@db'],
    ['host=db user=app password=s3cret dbname=app', 'host=db user=app password=*** dbname=app'],
    ["password='with spaces' port=5432", 'password=*** port=5432'],
    ['{"user":"app","password":"s3cret"}', '{"user":"app","password":***}'],
    ['?sslmode=require&pwd=abc&x=1', '?sslmode=require&pwd=***&x=1'],
    ['Token: abc.def', 'Token: ***'],
    ['password authentication failed for user "app"', 'password authentication failed for user "app"'],
    ['connect ECONNREFUSED 127.0.0.1:5432', 'connect ECONNREFUSED 127.0.0.1:5432'],
    ['https://example.com/path', 'https://example.com/path'],
  ];
  for (const [input, expected] of cases) assert.equal(redactCredentials(input), expected, input);
});

test('a failure reason names the kind of failure from the error code or message, then the redacted message', () => {
  const error = (message, code) => Object.assign(new Error(message), code === undefined ? {} : { code });
  const table = [
    [error('connect ECONNREFUSED 127.0.0.1:5432', 'ECONNREFUSED'), 'connection refused'],
    [Object.assign(new AggregateError([error('connect ECONNREFUSED ::1:5432', 'ECONNREFUSED')], ''), { code: 'ECONNREFUSED' }), 'connection refused'],
    [new AggregateError([error('connect ECONNREFUSED ::1:5432', 'ECONNREFUSED')], ''), 'connection refused'],
    [error('read ECONNRESET', 'ECONNRESET'), 'connection lost'],
    [error('Connection terminated unexpectedly'), 'connection lost'],
    [error('getaddrinfo ENOTFOUND db', 'ENOTFOUND'), 'host not found'],
    [error('password authentication failed for user "app"', '28P01'), 'authentication failed'],
    [error("Access denied for user 'app'@'10.0.0.1' (using password: YES)", 'ER_ACCESS_DENIED_ERROR'), 'authentication failed'],
    [error('WRONGPASS invalid username-password pair or user is disabled.'), 'authentication failed'],
    [error('Handshake terminated by server: 403 (ACCESS-REFUSED)'), 'authentication failed'],
    [error('timeout exceeded when trying to connect'), 'connection timed out'],
    [error('relation "x" does not exist', '42P01'), 'failed'],
    ['a string', 'failed'],
    [undefined, 'failed'],
  ];
  for (const [thrown, kind] of table) assert.equal(failureKind(thrown), kind, String(thrown?.message ?? thrown));
  assert.equal(
    failureReason('postgres', error('could not connect to postgres://app:s3cret@db/app: connect ECONNREFUSED', 'ECONNREFUSED')),
    'postgres: connection refused: could not connect to postgres://***@db/app: connect ECONNREFUSED',
  );
  assert.equal(failureReason('redis', new AggregateError([], '')), 'redis: failed');
});

// A pg-like pool whose queries answer only when the test says so.
function stubPgPool() {
  const pending = [];
  const pool = {
    totalCount: 0,
    idleCount: 0,
    connects: 0,
    released: [],
    connect: async () => {
      pool.connects++;
      return {
        query: () => new Promise((resolve, reject) => pending.push({ resolve, reject })),
        release: (destroy) => pool.released.push(destroy === true ? 'destroyed' : 'returned'),
      };
    },
    query() {},
    answerAll: () => pending.splice(0).forEach((p) => p.resolve({ rows: [] })),
    pending,
  };
  return pool;
}

test("a check's AbortSignal ends its wait at once; the pool's connection is destroyed, and no second query is sent while the first is unanswered", async () => {
  const pool = stubPgPool();
  const check = postgres(pool);
  const first = new AbortController();
  const run = check(first.signal);
  await new Promise((resolve) => setImmediate(resolve));
  assert.equal(pool.pending.length, 1);
  first.abort(new Error('check timed out after 1000 ms'));
  await assert.rejects(run, /timed out after 1000 ms/);
  assert.deepEqual(pool.released, ['destroyed']);

  // The destroyed connection's query is the pool's business now: the next run borrows anew.
  const second = check(AbortSignal.timeout(5000));
  await new Promise((resolve) => setImmediate(resolve));
  assert.equal(pool.connects, 2);
  pool.pending[1].resolve({ rows: [] });
  const result = await second;
  assert.equal(result.ok, true);
  assert.equal(result.observedUnit, 'ms');
  assert.deepEqual(pool.released, ['destroyed', 'returned']);
});

test('on a single client, a run waits for the previous unanswered query instead of sending another, and passes once it is answered', async () => {
  const pending = [];
  const client = { connect() {}, query: () => new Promise((resolve) => pending.push(resolve)) };
  const check = postgres(client);
  const first = new AbortController();
  const firstRun = check(first.signal);
  first.abort(new Error('timed out'));
  await assert.rejects(firstRun, /timed out/);

  const second = new AbortController();
  const secondRun = check(second.signal);
  await new Promise((resolve) => setImmediate(resolve));
  assert.equal(pending.length, 1, 'no second query while the first is unanswered');
  second.abort(new Error('timed out again'));
  await assert.rejects(secondRun, /timed out again/);
  assert.equal(pending.length, 1);

  // Answered at last: the next run sends its own query, and passes when that one is answered.
  pending[0]({ rows: [] });
  const thirdRun = check(AbortSignal.timeout(5000));
  await new Promise((resolve) => setImmediate(resolve));
  assert.equal(pending.length, 2);
  pending[1]({ rows: [] });
  assert.equal((await thirdRun).ok, true);
});

test('a driver error becomes a reason with the kind and the redacted message; nothing is left unhandled', async () => {
  const client = {
    connect() {},
    query: async () => {
      throw Object.assign(new Error('connect to postgres://app:s3cret@db failed: ECONNREFUSED'), { code: 'ECONNREFUSED' });
    },
  };
  await assert.rejects(postgres(client)(AbortSignal.timeout(5000)), (error) => {
    assert.equal(error.message, 'postgres: connection refused: connect to postgres://***@db failed: ECONNREFUSED');
    return true;
  });
  // A query that throws synchronously is a failure too, not an exception out of the probe.
  const throwing = { connect() {}, query: () => { throw new Error('Client was closed and is not queryable'); } };
  await assert.rejects(postgres(throwing)(AbortSignal.timeout(5000)), /^Error: postgres: connection lost: Client was closed/);
});

test('redis: a client that is not connected fails at once with its status, without a PING', async () => {
  let pings = 0;
  const nodeRedis = { isReady: false, isOpen: true, ping: async () => pings++ };
  await assert.rejects(redis(nodeRedis)(AbortSignal.timeout(5000)), /^Error: redis: not connected \(reconnecting\)$/);
  const closed = { isReady: false, isOpen: false, ping: async () => pings++ };
  await assert.rejects(redis(closed)(AbortSignal.timeout(5000)), /^Error: redis: not connected \(the client is closed\)$/);
  const ioredis = { status: 'connecting', ping: async () => pings++ };
  await assert.rejects(redis(ioredis)(AbortSignal.timeout(5000)), /^Error: redis: not connected \(status connecting\)$/);
  assert.equal(pings, 0);
  ioredis.status = 'ready';
  assert.equal((await redis(ioredis)(AbortSignal.timeout(5000))).ok, true);
});

test('amqp: promise and callback connections are told apart and each channel opened is closed again', async () => {
  const log = [];
  const channel = (api) => ({
    close: api === 'promise' ? async () => log.push('closed') : (callback) => (log.push('closed'), callback(null)),
  });
  const promiseConnection = { createChannel: async (options) => (log.push(`opened ${options}`), channel('promise')), close() {} };
  // eslint-disable-next-line no-unused-vars
  const callbackConnection = { createChannel: (options, callback) => (log.push('opened cb'), (callback ?? options)(null, channel('callback'))), close() {} };
  assert.equal((await amqp(promiseConnection)(AbortSignal.timeout(5000))).ok, true);
  assert.equal((await amqp(callbackConnection)(AbortSignal.timeout(5000))).ok, true);
  assert.deepEqual(log, ['opened undefined', 'closed', 'opened cb', 'closed']);
});
