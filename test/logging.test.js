// Silent by default; NODE_DEBUG=service-probe and the logger option show the crate's log lines.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { fileURLToPath } from 'node:url';
import { createProbe } from '../dist/index.js';

const run = promisify(execFile);
const entry = fileURLToPath(new URL('../dist/index.js', import.meta.url));
const script = `
  const { startProbe, setServiceState, stopProbe } = await import(${JSON.stringify(entry)});
  await startProbe('127.0.0.1', 0, 'UP');
  setServiceState('READY');
  await stopProbe();
`;

test('the probe prints nothing by default', async () => {
  const { stdout, stderr } = await run(process.execPath, ['--input-type=module', '-e', script], { env: { ...process.env, NODE_DEBUG: '' } });
  assert.equal(stdout, '');
  assert.equal(stderr, '');
});

test('NODE_DEBUG=service-probe shows the start line with URL and initial state, and state changes', async () => {
  const { stderr } = await run(process.execPath, ['--input-type=module', '-e', script], { env: { ...process.env, NODE_DEBUG: 'service-probe' } });
  assert.match(stderr, /Service readiness probe listening on http:\/\/127\.0\.0\.1:\d+\/ with initial state UP/);
  assert.match(stderr, /Service state change: UP to READY\./);
});

test('a logger option receives the same events at their levels, and a throwing logger is ignored', async () => {
  const lines = [];
  const logger = {
    info: (m) => lines.push(['info', m]),
    debug: (m) => lines.push(['debug', m]),
    warn: (m) => lines.push(['warn', m]),
    error: (m) => lines.push(['error', m]),
  };
  const probe = createProbe({ host: '127.0.0.1', port: 0, logger });
  const { port } = await probe.start();
  probe.setState('READY');
  await probe.stop();
  assert.deepEqual(lines[0], ['info', `Service readiness probe listening on http://127.0.0.1:${port}/ with initial state UP`]);
  assert.ok(lines.some(([level, m]) => level === 'info' && m === 'Service state change: UP to READY.'));

  const broken = createProbe({ host: '127.0.0.1', port: 0, logger: { info() { throw new Error('logger down'); } } });
  await broken.start();
  broken.setState('READY');
  await broken.stop();
});

test('console fits as a logger', async () => {
  const probe = createProbe({ host: '127.0.0.1', port: 0, logger: console });
  const original = console.info;
  const seen = [];
  console.info = (m) => seen.push(m);
  try {
    await probe.start();
  } finally {
    console.info = original;
    await probe.stop();
  }
  assert.match(seen[0], /listening on/);
});
