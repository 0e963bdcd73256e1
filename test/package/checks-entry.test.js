// The `service-probe/checks` entry as consumers see it: importable and requirable by name with no
// flag and no warning, holding every built-in check (the very functions the main entry still
// re-exports) plus the client checks, which the main entry never loads.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import * as checks from '../../dist/checks-entry.js';
import * as main from '../../dist/index.js';
import { staticGraph } from '../helpers/bundle.js';

const run = promisify(execFile);
const root = fileURLToPath(new URL('../..', import.meta.url));

const BUILT_IN = ['eventLoopDelay', 'heapUsage', 'rssUsage', 'diskSpace', 'tcp', 'http'];
const CLIENT = ['postgres', 'mysql', 'redis', 'amqp'];

test('service-probe/checks exports every built-in check and the client checks; the main entry keeps the built-in ones, the same functions', () => {
  for (const name of [...BUILT_IN, ...CLIENT, 'redactCredentials']) assert.equal(typeof checks[name], 'function', name);
  for (const name of BUILT_IN) assert.equal(main[name], checks[name], `${name} is one function in both entries`);
  for (const name of [...CLIENT, 'redactCredentials']) assert.equal(main[name], undefined, `${name} is not in the main entry`);
  assert.equal(checks.ProbeArgumentError, main.ProbeArgumentError);
});

test('ES module and CommonJS consumers load service-probe/checks by name, with no warning', async () => {
  const esm = `import { postgres, eventLoopDelay } from 'service-probe/checks'; console.log(typeof postgres, typeof eventLoopDelay);`;
  const cjs = `const { redis, diskSpace, ProbeArgumentError } = require('service-probe/checks'); try { redis({}) } catch (e) { console.log(typeof diskSpace, e instanceof ProbeArgumentError) }`;
  const a = await run(process.execPath, ['--input-type=module', '-e', esm], { cwd: root });
  assert.equal(a.stdout.trim(), 'function function');
  assert.equal(a.stderr, '');
  const b = await run(process.execPath, ['-e', cjs], { cwd: root });
  assert.equal(b.stdout.trim(), 'function true');
  assert.equal(b.stderr, '');
});

test('the main entry never loads the client checks; only service-probe/checks does', () => {
  const graph = (entry) => staticGraph(join(root, 'dist', entry));
  const text = (files) => [...files].map((file) => readFileSync(file, 'utf8')).join('\n');
  const main = text(graph('index.js').files);
  const checksEntry = text(graph('checks-entry.js').files);
  // Error texts only the client checks carry, as the bundles keep string literals intact.
  for (const marker of ['a pg Pool or Client', 'a node-redis or ioredis client']) {
    assert.ok(!main.includes(marker), `the main entry loads the client checks (${marker})`);
    assert.ok(checksEntry.includes(marker), `service-probe/checks has the client checks (${marker})`);
  }
  // Neither entry imports a database or broker library: the checks are duck-typed.
  for (const entry of ['index.js', 'checks-entry.js']) {
    for (const specifier of graph(entry).builtins) {
      assert.doesNotMatch(specifier, /^(?:pg|mysql2|redis|ioredis|amqplib)(?:\/|$)/, entry);
    }
  }
});
