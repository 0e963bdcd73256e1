// The `service-probe/checks` entry as consumers see it: importable and requirable by name with no
// flag and no warning, the one place that exports the built-in checks and the client checks,
// neither of which the main entry loads.
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

test('service-probe/checks exports every built-in check and the client checks; the main entry exports none of them', () => {
  for (const name of [...BUILT_IN, ...CLIENT, 'redactCredentials']) assert.equal(typeof checks[name], 'function', name);
  for (const name of [...BUILT_IN, ...CLIENT, 'redactCredentials']) assert.equal(main[name], undefined, `${name} is not in the main entry`);
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

test('the main entry never loads the checks; only service-probe/checks does', () => {
  const graph = (entry) => staticGraph(join(root, 'dist', entry));
  const text = (files) => [...files].map((file) => readFileSync(file, 'utf8')).join('\n');
  const main = text(graph('index.js').files);
  const checksEntry = text(graph('checks-entry.js').files);
  // Texts only the checks carry, as the bundles keep string literals intact: the client checks'
  // argument rules, and the built-in checks' failure reasons.
  for (const marker of ['a pg Pool or Client', 'a node-redis or ioredis client', 'max timer drift', 'bytes free on']) {
    assert.ok(!main.includes(marker), `the main entry loads the checks (${marker})`);
    assert.ok(checksEntry.includes(marker), `service-probe/checks has the checks (${marker})`);
  }
  // Neither entry imports a database or broker library: the checks are duck-typed.
  for (const entry of ['index.js', 'checks-entry.js']) {
    for (const specifier of graph(entry).builtins) {
      assert.doesNotMatch(specifier, /^(?:pg|mysql2|redis|ioredis|amqplib)(?:\/|$)/, entry);
    }
  }
});
