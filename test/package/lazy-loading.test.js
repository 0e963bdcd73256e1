// What each use of the package loads of node core, read from the running process
// (process.moduleLoadList) of a fresh Node: a module a service does not use is never loaded, so
// that it costs neither start-up time nor memory. Each scenario runs in a child process that first
// imports an empty ES module (Node's own ES module loader brings some core modules with it).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';

const run = promisify(execFile);
const dist = (file) => new URL(`../../dist/${file}`, import.meta.url).href;

/** The node core modules (public names, as `node:x` ids) that `body` loads in a fresh process. */
async function loadedBy(body) {
  const dir = mkdtempSync(join(tmpdir(), 'service-probe-lazy-'));
  try {
    const empty = join(dir, 'empty.mjs');
    writeFileSync(empty, '');
    const program = `
      await import(${JSON.stringify(pathToFileURL(empty).href)});
      const before = new Set(process.moduleLoadList);
      ${body}
      const loaded = process.moduleLoadList.filter((m) => !before.has(m) && m.startsWith('NativeModule ') && !m.includes('internal/'));
      process.stdout.write(JSON.stringify(loaded.map((m) => 'node:' + m.slice('NativeModule '.length))));
    `;
    // Each scenario names its server itself: npm test's second run on node:http does not apply.
    const { SERVICE_PROBE_SERVER: _, ...env } = process.env;
    const { stdout } = await run(process.execPath, ['--input-type=module', '-e', program], { env });
    return new Set(JSON.parse(stdout));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const HEAVY = ['node:http', 'node:net', 'node:v8', 'node:perf_hooks', 'node:os', 'node:fs/promises', 'node:worker_threads', 'node:http2', 'node:tls'];

function assertNone(loaded, modules, what) {
  const found = modules.filter((m) => loaded.has(m));
  assert.deepEqual(found, [], `${what} loads ${found.join(', ')}`);
}

test('importing any public entry loads no node module it could do without', async () => {
  for (const entry of ['index.js', 'client.js', 'checks-entry.js', 'nestjs.js']) {
    assertNone(await loadedBy(`await import(${JSON.stringify(dist(entry))});`), HEAVY, entry);
  }
});

test('a probe on the default server loads node:net but never node:http; server: http loads node:http when started', async () => {
  const start = (options) => `
    const { createProbe } = await import(${JSON.stringify(dist('index.js'))});
    const probe = createProbe({ host: '127.0.0.1', port: 0, ...${JSON.stringify(options)} });
    await probe.start();
    await probe.stop();
  `;
  const net = await loadedBy(start({ server: 'net' }));
  assert.ok(net.has('node:net'), 'the default server runs on node:net');
  assertNone(net, HEAVY.filter((m) => m !== 'node:net'), 'the default server');
  const http = await loadedBy(start({ server: 'http' }));
  assert.ok(http.has('node:http'), 'server: http runs on node:http');
  assertNone(http, ['node:v8', 'node:perf_hooks', 'node:os', 'node:fs/promises', 'node:worker_threads', 'node:http2', 'node:tls'], 'server: http');
});

test('a built-in check loads its node module when it is created, and only that one', async () => {
  const made = (factory) => `
    const checks = await import(${JSON.stringify(dist('checks-entry.js'))});
    checks.${factory};
  `;
  const cases = [
    ['heapUsage()', 'node:v8'],
    ['diskSpace()', 'node:fs/promises'],
    ['tcp({ port: 1 })', 'node:net'],
  ];
  for (const [factory, module] of cases) {
    const loaded = await loadedBy(made(factory));
    assert.ok(loaded.has(module), `${factory} loads ${module}`);
    // What node itself loads with that module (node:fs/promises brings node:os on Node 24) is not
    // the check's doing.
    const withIt = await loadedBy(`process.getBuiltinModule(${JSON.stringify(module)});`);
    assertNone(loaded, HEAVY.filter((m) => m !== module && !withIt.has(m)), factory);
  }
  // On Node the event loop check samples with perf_hooks' histogram, started with the check.
  const delay = await loadedBy(`
    const { eventLoopDelay } = await import(${JSON.stringify(dist('checks-entry.js'))});
    const check = eventLoopDelay();
    check.start();
    check.stop();
  `);
  assert.ok(delay.has('node:perf_hooks'), 'eventLoopDelay samples with perf_hooks');
  assertNone(delay, HEAVY.filter((m) => m !== 'node:perf_hooks'), 'eventLoopDelay');
});

test('handle() inside a host server loads nothing of the probe\'s own servers', async () => {
  // The host's server is already loaded; the probe's node:net server is not.
  const loaded = await loadedBy(`
    const http = process.getBuiltinModule('node:http');
    const { createProbe } = await import(${JSON.stringify(dist('index.js'))});
    const probe = createProbe();
    const server = http.createServer((req, res) => probe.handle(req, res));
    await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
    const status = await new Promise((resolve, reject) => {
      http.get('http://127.0.0.1:' + server.address().port + '/live', (res) => resolve(res.resume().statusCode)).on('error', reject);
    });
    if (status !== 200) throw new Error('handle answered ' + status);
    await new Promise((resolve) => server.close(resolve));
  `);
  assert.ok(loaded.has('node:http'));
  assertNone(loaded, ['node:v8', 'node:perf_hooks', 'node:os', 'node:fs/promises', 'node:worker_threads', 'node:http2'], 'handle()');
});
