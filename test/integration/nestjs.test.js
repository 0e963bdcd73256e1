// docs/nestjs.md as it is: its two apps (the module, and the recipe by hand), with the files an app
// of the reader's own adds (test/helpers/nest.js), compiled by the real tsc under each tsconfig Nest
// generates and run with node against the real Nest: Nest 11 (the dev dependencies) on every Node
// line, and Nest 12, installed from the npm registry into a temporary directory, where it runs
// (Node 22 and later: the committed lock file stays installable on Node 20). Each app turns READY
// once it listens, answers 503 while its database check fails, and on SIGTERM drains: /ready 503
// DRAINING with a request in flight, which still finishes with 200, the database closed only after
// it, the probe stopped, and the process ended by SIGTERM, as Nest ends it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { freePort } from '../helpers/servers.js';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { get } from '../helpers/checks.js';
import { compile, docApps, installNest12, nestVersion, ownFiles, root, TSCONFIGS, writeProject } from '../helpers/nest.js';

const doc = readFileSync(join(root, 'docs', 'nestjs.md'), 'utf8');
const { apps, loose } = docApps(doc);
const MODULE_APP = 'The module';
const BY_HAND = 'By hand, without the module';
const PROBE_PORT = '11333';

test('every TypeScript block of docs/nestjs.md is a file of one of its two apps, and each app has its main.ts', () => {
  assert.deepEqual(loose, []);
  assert.deepEqual([...apps.keys()], [MODULE_APP, BY_HAND]);
  for (const files of apps.values()) {
    assert.ok(files['src/main.ts'] && files['src/app.module.ts']);
    // The one change the test makes to the page's code: the probe's port, written once per app.
    assert.equal(Object.values(files).join('').split(PROBE_PORT).length - 1, 1);
  }
});

/** The two apps of the page, with the reader's own files, each probe on its port of `probePorts`. */
function projectApps(probePorts) {
  const withPort = (files, port) => Object.fromEntries(Object.entries(files).map(([path, code]) => [path, code.replaceAll(PROBE_PORT, String(port))]));
  return {
    'module-app': { ...withPort(apps.get(MODULE_APP), probePorts['module-app']), ...ownFiles({ injectsProbe: true }) },
    'wired-app': { ...withPort(apps.get(BY_HAND), probePorts['wired-app']), ...ownFiles({ injectsProbe: false }) },
  };
}

async function until(what, predicate, timeoutMs = 15_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    let last;
    try {
      last = await predicate();
      if (last === true) return;
    } catch (error) {
      last = error;
    }
    if (Date.now() > deadline) assert.fail(`${what}: not within ${timeoutMs} ms (last: ${last})`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/**
 * Runs one compiled app and drives it through readiness, a failing check and a SIGTERM with a
 * request in flight. Returns what the process wrote on stderr, line by line.
 */
async function drive(t, main, probePort) {
  const appPort = await freePort();
  const child = spawn(process.execPath, [main], {
    stdio: ['ignore', 'ignore', 'pipe'],
    // NODE_DEBUG: the probe's own log lines, which say what its shutdown did and when.
    env: { ...process.env, PORT: String(appPort), NODE_DEBUG: 'service-probe' },
  });
  t.after(() => child.kill('SIGKILL'));
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (chunk) => (stderr += chunk));
  const exited = once(child, 'exit');
  const probe = `http://127.0.0.1:${probePort}`;
  const app = `http://127.0.0.1:${appPort}`;
  const answer = async (url, method) => {
    const { status, body } = await get(url, { method });
    return `${status} ${body}`;
  };

  await until(`READY on ${probe}/ready (stderr: ${stderr})`, async () => (await answer(`${probe}/ready`)) === '200 READY');
  // READY only once the app's port answers (app.listen() came first).
  assert.equal((await get(`${app}/nope`)).status, 404);
  assert.equal(await answer(`${app}/database/down`, 'POST'), '201 down');
  assert.equal((await get(`${probe}/ready`)).status, 503, 'the database check fails');
  assert.equal((await get(`${probe}/ready/database`)).status, 503);
  assert.equal(await answer(`${app}/database/up`, 'POST'), '201 up');
  assert.equal(await answer(`${probe}/ready`), '200 READY');

  const slow = get(`${app}/slow`);
  await until('the slow request begun', () => stderr.includes('slow request begun'));
  child.kill('SIGTERM');
  await until('/ready 503 DRAINING', async () => (await answer(`${probe}/ready`)) === '503 DRAINING');
  assert.ok(!stderr.includes('slow request done'), 'DRAINING while the request is still in flight');
  assert.equal((await get(`${probe}/health`)).status, 200, 'a draining instance is alive');
  const answered = await slow;
  assert.deepEqual([answered.status, answered.body, answered.headers.connection], [200, 'slow done', 'close']);
  const [code, signal] = await exited;
  assert.deepEqual([code, signal], [null, 'SIGTERM'], stderr);
  return stderr.split('\n').filter((line) => line !== '');
}

/** Asserts the order of the shutdown's steps in an app's stderr, and that it wrote nothing else. */
function assertShutdownSteps(lines) {
  const own = lines.filter((line) => !line.startsWith('SERVICE-PROBE '));
  assert.deepEqual(own, ['slow request begun', 'slow request done', 'database closed'], 'nothing else on stderr (no warning)');
  const at = (pattern) => {
    const index = lines.findIndex((line) => pattern.test(line));
    assert.notEqual(index, -1, `no line matches ${pattern}:\n${lines.join('\n')}`);
    return index;
  };
  const order = [
    at(/Service state change: UP to READY/),
    at(/^slow request begun$/),
    at(/shutdown: begun/),
    at(/closing 1 tracked server/),
    at(/^slow request done$/),
    at(/tracked servers closed/),
    at(/shutdown: .* done \(exit code 0, left to the application\)/),
    at(/^database closed$/),
  ];
  assert.deepEqual(order, order.toSorted((a, b) => a - b), lines.join('\n'));
  // The probe stopped, after the sequence, and not by the sequence itself (stopProbe: false).
  assert.ok(at(/Service probe stopped/) > at(/shutdown: .* done/));
  assert.equal(lines.filter((line) => /stopping the probe server/.test(line)).length, 0);
}

/** Compiles both apps under every tsconfig against the Nest in `nestModules`, and drives each. */
async function testNest(t, nestModules) {
  const work = mkdtempSync(join(tmpdir(), 'service-probe-nest-'));
  t.after(() => rmSync(work, { recursive: true, force: true }));
  const version = nestVersion(nestModules);
  for (const [name, tsconfig] of Object.entries(TSCONFIGS)) {
    await t.test(`Nest ${version}, ${name}: both apps compile with tsc, turn READY, fail on the check, and drain on SIGTERM`, async (t) => {
      const dir = join(work, name.replace(/\W+/g, '-'));
      const probePorts = { 'module-app': await freePort(), 'wired-app': await freePort() };
      writeProject(dir, tsconfig, nestModules, projectApps(probePorts));
      await compile(dir);
      for (const app of ['module-app', 'wired-app']) {
        const lines = await drive(t, join(dir, 'dist', app, 'src', 'main.js'), probePorts[app]);
        assertShutdownSteps(lines);
      }
    });
  }
}

test('Nest 11 (the dev dependencies): the page compiles and runs under every tsconfig Nest generates', async (t) => {
  const nestModules = join(root, 'node_modules');
  assert.match(nestVersion(nestModules), /^11\./);
  await testNest(t, nestModules);
});

// Nest 12 requires Node 22 (file-type@22): it runs where CI runs Node 22 and 24.
if (Number(process.versions.node.split('.')[0]) >= 22) {
  test('Nest 12 (installed from the npm registry): the page compiles and runs under every tsconfig Nest generates', async (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'service-probe-nest12-'));
    t.after(() => rmSync(dir, { recursive: true, force: true }));
    const nestModules = await installNest12(dir);
    assert.match(nestVersion(nestModules), /^12\./);
    await testNest(t, nestModules);
  });
}
