// docs/nestjs.md's recipe against the real @nestjs/core and @nestjs/platform-express: a Nest app
// with the standalone probe drains on SIGTERM without failing the request in flight.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { get } from '../helpers/checks.js';

const app = fileURLToPath(new URL('../fixtures/nest-app.mjs', import.meta.url));

test('Nest with enableShutdownHooks: SIGTERM turns /ready 503 DRAINING, finishes the request in flight, runs the hooks in order', async (t) => {
  const child = spawn(process.execPath, [app], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, DRAIN_DELAY_MS: '300' } });
  t.after(() => child.kill('SIGKILL'));
  let out = '';
  let err = '';
  child.stdout.setEncoding('utf8').on('data', (d) => (out += d));
  child.stderr.setEncoding('utf8').on('data', (d) => (err += d));
  const waitFor = async (pattern) => {
    for (let i = 0; i < 400 && !pattern.test(out); i++) await new Promise((r) => setTimeout(r, 25));
    assert.match(out, pattern, err);
    return pattern.exec(out);
  };
  const ports = JSON.parse((await waitFor(/^\{.*\}$/m))[0]);
  const probe = `http://127.0.0.1:${ports.probe}`;
  assert.deepEqual([(await get(`${probe}/ready`)).status, (await get(`${probe}/ready`)).body], [200, 'READY']);

  const slow = get(`http://127.0.0.1:${ports.app}/slow`);
  await waitFor(/slow request begun/);
  child.kill('SIGTERM');
  await waitFor(/state READY -> DRAINING/);
  const draining = await get(`${probe}/ready`);
  assert.deepEqual([draining.status, draining.body], [503, 'DRAINING']);
  assert.deepEqual([(await get(`${probe}/health`)).status], [200]);

  const answered = await slow;
  assert.deepEqual([answered.status, answered.body], [200, 'slow done']);
  const [code, signal] = await once(child, 'exit');
  // Nest re-raises the signal once its hooks are done: the process ends by SIGTERM, as a plain one would.
  assert.deepEqual([code, signal], [null, 'SIGTERM']);
  assert.equal(err, '');
  const steps = out.split('\n').filter((line) => line !== '' && !line.startsWith('{') && line !== 'slow request begun');
  assert.deepEqual(steps, [
    'state UP -> READY',
    'beforeApplicationShutdown SIGTERM',
    'state READY -> DRAINING',
    'probe hook: closing the pool',
    'drained 0',
    'onApplicationShutdown SIGTERM',
  ]);
});
