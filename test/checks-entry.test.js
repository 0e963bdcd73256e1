// The `service-probe/checks` entry as consumers see it: importable and requirable by name with no
// flag and no warning, holding every built-in check (the very functions the main entry still
// re-exports) plus the client checks, which the main entry never loads.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import * as checks from '../dist/checks-entry.js';
import * as main from '../dist/index.js';

const run = promisify(execFile);
const root = fileURLToPath(new URL('..', import.meta.url));

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

/** Every dist file a module imports, statically, transitively (relative imports only). */
function importGraph(file, seen = new Set()) {
  if (seen.has(file)) return seen;
  seen.add(file);
  const text = readFileSync(file, 'utf8');
  for (const [, path] of text.matchAll(/^(?:import|export)\s[^;]*?from\s+'(\.[^']+)'/gm)) importGraph(join(dirname(file), path), seen);
  for (const [, path] of text.matchAll(/require\("(\.[^"]+)"\)/g)) importGraph(join(dirname(file), path.endsWith('.js') ? path : `${path}.js`), seen);
  return seen;
}

test('the main entry never loads the client checks; only service-probe/checks does', () => {
  for (const dist of ['dist']) {
    const fromMain = [...importGraph(join(root, dist, 'index.js'))].map((f) => f.slice(join(root, dist).length + 1));
    assert.ok(fromMain.includes('builtin-checks.js'), `${dist}: the main entry still re-exports the built-in checks`);
    assert.ok(!fromMain.includes('client-checks.js'), `${dist}: the main entry loads client-checks.js`);
    assert.ok(!fromMain.includes('failure-reason.js'), `${dist}: the main entry loads failure-reason.js`);
    const fromChecks = [...importGraph(join(root, dist, 'checks-entry.js'))].map((f) => f.slice(join(root, dist).length + 1));
    assert.ok(fromChecks.includes('client-checks.js') && fromChecks.includes('builtin-checks.js'));
    // Neither entry imports a database or broker library: the checks are duck-typed.
    for (const file of [...importGraph(join(root, dist, 'checks-entry.js'))]) {
      assert.doesNotMatch(readFileSync(file, 'utf8'), /(?:from |require\()['"](?:pg|mysql2|redis|ioredis|amqplib)(?:\/[^'"]*)?['"]/, file);
    }
  }
});
