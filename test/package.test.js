// The package as consumers see it: ESM import, and require() from CommonJS (Node's require of ES
// modules) by name, with no flag and no warning, types and bin in place.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { readFileSync, existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const run = promisify(execFile);
const root = fileURLToPath(new URL('..', import.meta.url));
const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url)));

test('a CommonJS consumer can require("service-probe") and its client with no flag and no warning', async () => {
  const code = `
    const probe = require('service-probe');
    const client = require('service-probe/client');
    (async () => {
      const p = probe.createProbe({ host: '127.0.0.1', port: 0, state: probe.ServiceState.Ready });
      const { port } = await p.start();
      const res = await fetch('http://127.0.0.1:' + port + '/ready');
      console.log(res.status, await res.text(), typeof probe.startProbe, typeof client);
      await p.stop();
    })();
  `;
  const { stdout, stderr } = await run(process.execPath, ['-e', code], { cwd: root });
  assert.equal(stdout.trim(), '200 READY function object');
  assert.equal(stderr, '', 'no warning');
});

test('an ES module consumer can import "service-probe" by name', async () => {
  const code = `import { startProbe, ServiceState } from 'service-probe'; console.log(typeof startProbe, ServiceState.Ready);`;
  const { stdout, stderr } = await run(process.execPath, ['--input-type=module', '-e', code], { cwd: root });
  assert.equal(stdout.trim(), 'function READY');
  assert.equal(stderr, '');
});

test('require() and import load one module: one default probe, one set of error classes', async () => {
  const code = `
    import { createRequire } from 'node:module';
    import * as esm from 'service-probe';
    const cjs = createRequire(import.meta.url)('service-probe');
    esm.setServiceState('READY');
    const error = await cjs.startProbe('127.0.0.1', -1, 'UP').catch((e) => e);
    console.log(cjs.getServiceState(), esm.defaultProbe() === cjs.defaultProbe(), error instanceof esm.ProbeArgumentError);
  `;
  const { stdout } = await run(process.execPath, ['--input-type=module', '-e', code], { cwd: root });
  assert.equal(stdout.trim(), 'READY true true');
});

test('package.json: ESM only, engines where require() of ESM needs no flag, no runtime dependencies, exports with types, a bin', () => {
  assert.equal(pkg.type, 'module');
  // require(esm) is on without a flag or a warning from Node 20.19 and 22.12.
  assert.equal(pkg.engines.node, '^20.19.0 || >=22.12.0');
  assert.deepEqual(Object.keys(pkg.dependencies ?? {}), []);
  for (const entry of ['.', './client', './checks']) {
    const target = pkg.exports[entry];
    assert.ok(existsSync(new URL(`../${target.default}`, import.meta.url)), `${entry} default`);
    assert.ok(existsSync(new URL(`../${target.types}`, import.meta.url)), `${entry} types`);
  }
  assert.ok(!existsSync(new URL('../dist/cjs', import.meta.url)), 'one build only');
  assert.equal(pkg.bin['service-probe'], './dist/cli.js');
});
