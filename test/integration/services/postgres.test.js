// postgres(poolOrClient) against a real PostgreSQL server (Debian's package), through a real
// probe: passes while the server answers; fails within the timeout when it is paused, stopped or
// refuses the password, saying why and without the password; passes again once it is back.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import pg from 'pg';
import { postgres } from '../../../dist/checks-entry.js';
import { PASSWORD, USER, startPostgres } from './servers.js';
import { TIMEOUT_MS, assertFails, assertPasses, countOutstanding, eventuallyPasses, probeWith } from './probe-harness.js';

let db;
before(async () => {
  db = await startPostgres();
});
after(() => db?.close());

const config = () => ({ host: '127.0.0.1', port: db.port, user: USER, password: PASSWORD, database: 'postgres' });

function newPool(t, extra = {}) {
  const pool = new pg.Pool({ ...config(), max: 2, ...extra });
  // Connections the server ends are reported here; a service has this handler too.
  pool.on('error', () => {});
  t.after(() => pool.end());
  return pool;
}

test('a pg Pool: passes while PostgreSQL answers, fails within the timeout while it is paused, never piling up connection requests, and passes after it resumes', async (t) => {
  const pool = newPool(t);
  const counted = countOutstanding(pool, 'connect');
  const probe = await probeWith(t, postgres(counted.proxy));
  assertPasses(await probe.run());

  await db.server.pause();
  try {
    // The pool's idle connection is lent to the check, its query gets no answer: timeout. That
    // connection is destroyed, so the pool holds none stuck on the paused server...
    assertFails(await probe.run(), TIMEOUT_MS, /timed out after 1000 ms/, 'paused run 1');
    assert.equal(pool.totalCount, 0, 'the connection whose query timed out left the pool');
    // ...and the next runs wait on the pool for a new one, one at a time.
    for (let i = 1; i < 3; i++) assertFails(await probe.run(), TIMEOUT_MS, /timed out after 1000 ms/, `paused run ${i + 1}`);
  } finally {
    db.server.resume();
  }
  assert.ok(counted.most <= 1, `at most one connection request outstanding, saw ${counted.most}`);
  await eventuallyPasses(probe);
  assertPasses(await probe.run());
  // Nothing of the timed-out runs stays with the pool: no waiting request, every connection idle.
  assert.equal(pool.waitingCount, 0);
  assert.equal(pool.idleCount, pool.totalCount);
});

test('a pg Client: fails within the timeout while PostgreSQL is paused, with one query outstanding at most, and passes after it resumes', async (t) => {
  const client = new pg.Client(config());
  client.on('error', () => {});
  await client.connect();
  t.after(() => client.end());
  const counted = countOutstanding(client, 'query');
  const probe = await probeWith(t, postgres(counted.proxy));
  assertPasses(await probe.run());

  await db.server.pause();
  try {
    for (let i = 0; i < 3; i++) assertFails(await probe.run(), TIMEOUT_MS, /timed out after 1000 ms/, `paused run ${i + 1}`);
  } finally {
    db.server.resume();
  }
  assert.equal(counted.most, 1, 'the check never sent a second query while the first was unanswered');
  await eventuallyPasses(probe);
  // The service's own queries still work on the same client.
  assert.deepEqual((await client.query('SELECT 2 AS two')).rows, [{ two: 2 }]);
});

test('a pg Pool: fails with "connection refused" while PostgreSQL is stopped, and passes once it is started again', async (t) => {
  const pool = newPool(t);
  const probe = await probeWith(t, postgres(pool));
  assertPasses(await probe.run());

  await db.server.stop('SIGINT');
  try {
    const result = await probe.run();
    assertFails(result, TIMEOUT_MS, /^postgres: (connection refused|connection lost)/);
    // Once the pool has dropped the ended connection, the reason is the refusal itself.
    const next = await probe.run();
    assertFails(next, TIMEOUT_MS, /^postgres: connection refused: .*ECONNREFUSED/);
  } finally {
    await db.server.start();
  }
  await eventuallyPasses(probe);
});

test('a wrong password fails with "authentication failed", and the reason never shows the password', async (t) => {
  const wrong = 'not-the-password-2718';
  for (const pool of [
    newPool(t, { password: wrong }),
    newPool(t, { connectionString: `postgres://${USER}:${wrong}@127.0.0.1:${db.port}/postgres`, host: undefined, port: undefined, user: undefined, password: undefined }),
  ]) {
    const probe = await probeWith(t, postgres(pool));
    const result = await probe.run();
    assertFails(result, TIMEOUT_MS, /^postgres: authentication failed: password authentication failed for user "probe"/);
    assert.ok(!result.outcome.output.includes(wrong));
  }
});

test('options.query runs instead of SELECT 1; an SQL error fails the check with the server message', async (t) => {
  const pool = newPool(t);
  assertPasses(await (await probeWith(t, postgres(pool, { query: 'SELECT count(*) FROM pg_database' }))).run());
  const result = await (await probeWith(t, postgres(pool, { query: 'SELECT * FROM no_such_table' }))).run();
  assertFails(result, TIMEOUT_MS, /^postgres: failed: relation "no_such_table" does not exist/);
  // The failed query returned its connection to the pool.
  assert.equal(pool.idleCount, pool.totalCount);
});

test('a server that starts refusing the password fails the check with "authentication failed", and it passes once the password is accepted again', async (t) => {
  // maxUses: 1 closes each connection after one use, so every run logs in anew.
  const pool = newPool(t, { maxUses: 1 });
  const admin = new pg.Client(config());
  await admin.connect();
  t.after(() => admin.end());
  const probe = await probeWith(t, postgres(pool));
  assertPasses(await probe.run());
  const changed = 'a-changed-password-1618';
  await admin.query(`ALTER ROLE ${USER} PASSWORD '${changed}'`);
  try {
    const result = await probe.run();
    assertFails(result, TIMEOUT_MS, /^postgres: authentication failed: password authentication failed for user "probe"$/);
    assert.ok(!result.outcome.output.includes(PASSWORD) && !result.outcome.output.includes(changed));
  } finally {
    await admin.query(`ALTER ROLE ${USER} PASSWORD '${PASSWORD}'`);
  }
  assertPasses(await probe.run());
});
