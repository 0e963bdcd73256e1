// mysql(poolOrConnection) against a real MariaDB server (Debian's package, MySQL protocol),
// through a real probe, with mysql2's callback and promise APIs: passes while the server
// answers; fails within the timeout when it is paused, stopped or refuses the password, saying
// why and without the password; passes again once it is back.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import mysql2 from 'mysql2';
import mysql2Promise from 'mysql2/promise';
import { mysql } from '../../../dist/checks-entry.js';
import { PASSWORD, USER, startMariaDB } from './servers.js';
import { TIMEOUT_MS, assertFails, assertPasses, eventuallyPasses, probeWith } from './probe-harness.js';
import { eventually } from './servers.js';

let db;
before(async () => {
  db = await startMariaDB();
});
after(() => db?.close());

const config = () => ({ host: '127.0.0.1', port: db.port, user: USER, password: PASSWORD });

// The four shapes a service may hold, each closed when the test ends.
const shapes = {
  'callback pool': (t, extra = {}) => {
    const pool = mysql2.createPool({ ...config(), connectionLimit: 2, ...extra });
    t.after(() => new Promise((resolve) => pool.end(resolve)));
    return pool;
  },
  'promise pool': (t, extra = {}) => {
    const pool = mysql2Promise.createPool({ ...config(), connectionLimit: 2, ...extra });
    t.after(() => pool.end());
    return pool;
  },
  'callback connection': async (t) => {
    const connection = mysql2.createConnection(config());
    connection.on('error', () => {});
    await new Promise((resolve, reject) => connection.connect((error) => (error ? reject(error) : resolve())));
    t.after(() => connection.destroy());
    return connection;
  },
  'promise connection': async (t) => {
    const connection = await mysql2Promise.createConnection(config());
    connection.on('error', () => {});
    t.after(() => connection.destroy());
    return connection;
  },
};

for (const [shape, create] of Object.entries(shapes)) {
  test(`a mysql2 ${shape}: passes while MariaDB answers, fails within the timeout while it is paused, and passes after it resumes`, async (t) => {
    const target = await create(t);
    const probe = await probeWith(t, mysql(target));
    assertPasses(await probe.run());
    await db.server.pause();
    try {
      for (let i = 0; i < 2; i++) assertFails(await probe.run(), TIMEOUT_MS, /timed out after 1000 ms/, `paused run ${i + 1}`);
    } finally {
      db.server.resume();
    }
    await eventuallyPasses(probe);
  });
}

for (const shape of ['callback pool', 'promise pool']) {
  test(`a mysql2 ${shape}: fails with "connection refused" while MariaDB is stopped, and passes once it is started again`, async (t) => {
    const pool = shapes[shape](t);
    const probe = await probeWith(t, mysql(pool));
    assertPasses(await probe.run());
    await db.server.stop('SIGTERM');
    try {
      // The idle connection the server closed may be lent first; then the refusal shows.
      const results = [await probe.run(), await probe.run()];
      for (const result of results) assertFails(result, TIMEOUT_MS, /^mysql: (connection refused|connection lost)/);
      assert.match(results[1].outcome.output, /^mysql: connection refused: .*ECONNREFUSED/);
    } finally {
      await db.server.start();
    }
    await eventuallyPasses(probe);
  });
}

test('a wrong password fails with "authentication failed", and the reason never shows the password', async (t) => {
  const wrong = 'not-the-password-2718';
  for (const pool of [
    shapes['callback pool'](t, { password: wrong }),
    mysql2Promise.createPool(`mysql://${USER}:${wrong}@127.0.0.1:${db.port}/mysql`),
  ]) {
    if (typeof pool.end === 'function' && pool.pool) t.after(() => pool.end());
    const result = await (await probeWith(t, mysql(pool))).run();
    assertFails(result, TIMEOUT_MS, /^mysql: authentication failed: Access denied for user 'probe'@'127.0.0.1'/);
    assert.ok(!result.outcome.output.includes(wrong));
  }
});

test('options.query runs instead of SELECT 1; an SQL error fails the check with the server message', async (t) => {
  const pool = shapes['promise pool'](t);
  assertPasses(await (await probeWith(t, mysql(pool, { query: 'SELECT COUNT(*) FROM mysql.user' }))).run());
  const result = await (await probeWith(t, mysql(pool, { query: 'SELECT * FROM mysql.no_such_table' }))).run();
  assertFails(result, TIMEOUT_MS, /^mysql: failed: Table 'mysql.no_such_table' doesn't exist/);
});

test('a server that starts refusing the password fails the check with "authentication failed", and it passes once the password is accepted again', async (t) => {
  // maxIdle: 0 closes idle connections within a second, so that runs log in anew.
  const pool = shapes['promise pool'](t, { maxIdle: 0, idleTimeout: 100 });
  const admin = await shapes['promise connection'](t);
  const probe = await probeWith(t, mysql(pool));
  assertPasses(await probe.run());
  const changed = 'a-changed-password-1618';
  await admin.query(`ALTER USER '${USER}'@'127.0.0.1' IDENTIFIED BY '${changed}'`);
  try {
    let result;
    await eventually(async () => {
      result = await probe.run();
      assertFails(result, TIMEOUT_MS, /^mysql: /);
      return /^mysql: authentication failed: Access denied for user 'probe'@'127.0.0.1'/.test(result.outcome.output);
    }, 10_000, 'the refusal shows');
    assert.ok(!result.outcome.output.includes(PASSWORD) && !result.outcome.output.includes(changed));
  } finally {
    await admin.query(`ALTER USER '${USER}'@'127.0.0.1' IDENTIFIED BY '${PASSWORD}'`);
  }
  await eventuallyPasses(probe);
});
