// Worker mode answers with the same endpoints, bytes, formats and limits as inline mode: the
// endpoint table, the check paths, the server's limits, gRPC health and /metrics, run again with
// every probe in worker mode (SERVICE_PROBE_WORKER=1 applies to probes that set neither `worker`
// nor `server`; the gRPC suites' helpers leave `server` out under it).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const SUITES = [
  'endpoints',
  'checks',
  'checks-verdict',
  'started',
  'module-api',
  'probe-instance',
  'hardening',
  'kubelet-model',
  'shutdown',
  'grpc',
  'grpc-wire',
  'metrics',
];

test(`the ${SUITES.join(', ')} suites pass in worker mode`, { timeout: 300_000 }, async () => {
  // A test file runs as a child of the test runner, which marks it (NODE_TEST_CONTEXT) so that a
  // nested runner would skip its files: this one is a runner of its own.
  const { NODE_TEST_CONTEXT: _, ...env } = process.env;
  const files = SUITES.map((name) => fileURLToPath(new URL(`./${name}.test.js`, import.meta.url)));
  const { code, output } = await new Promise((resolve) => {
    execFile(
      process.execPath,
      ['--test', '--test-reporter=tap', ...files],
      { env: { ...env, SERVICE_PROBE_WORKER: '1', SERVICE_PROBE_SERVER: '' }, maxBuffer: 64 * 1024 * 1024 },
      (error, stdout, stderr) => resolve({ code: error?.code ?? 0, output: stdout + stderr }),
    );
  });
  // Each failure with the lines that explain it.
  const lines = output.split('\n');
  const failed = lines.flatMap((line, i) => (/^\s*not ok /.test(line) ? lines.slice(i, i + 16) : []));
  assert.equal(code, 0, `worker mode: ${failed.join('\n') || output.slice(-4000)}`);
  assert.match(output, /^# fail 0$/m);
  const passed = Number(/^# pass (\d+)$/m.exec(output)?.[1]);
  assert.ok(passed > 100, `only ${passed} tests ran`);
});
