// examples/docker/Dockerfile: a slim or distroless image whose HEALTHCHECK runs the package's own
// CLI (no curl). This runs that exact command against a live probe and checks its exit codes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { createProbe, DEFAULT_PORT, ServiceState } from '../dist/index.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const dockerfile = readFileSync(new URL('../examples/docker/Dockerfile', import.meta.url), 'utf8');
const instructions = dockerfile
  .replace(/\\\n/g, ' ')
  .split('\n')
  .filter((line) => line.trim() !== '' && !line.trimStart().startsWith('#'));
const healthcheck = instructions.find((line) => line.startsWith('HEALTHCHECK'));
const command = JSON.parse(healthcheck.slice(healthcheck.indexOf('CMD') + 3).trim());
const packageJson = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8'));

test('the image is a slim or distroless Node image and its HEALTHCHECK runs the CLI in exec form, without curl', () => {
  const runtime = instructions.filter((line) => line.startsWith('FROM ')).at(-1);
  assert.match(runtime, /distroless\/nodejs|node:\S*-slim/);
  assert.doesNotMatch(instructions.join('\n'), /curl|wget/);
  assert.deepEqual(command.slice(2, 3), ['check']);
  // The script the HEALTHCHECK runs is the package's `bin`, as installed under node_modules.
  assert.equal(command[1], `/app/node_modules/${packageJson.name}/${packageJson.bin['service-probe'].replace(/^\.\//, '')}`);
  assert.equal(new URL(command[3]).port, String(DEFAULT_PORT));
});

// The command as the container would run it, with the container's node and package paths
// mapped onto this checkout, and the probe's port onto the live one.
function runHealthcheck(port) {
  const [, script, ...args] = command;
  const local = script.replace(`/app/node_modules/${packageJson.name}/`, ROOT);
  const mapped = args.map((arg) => arg.replace(`:${DEFAULT_PORT}/`, `:${port}/`));
  return new Promise((resolve) => {
    execFile(process.execPath, [local, ...mapped], { timeout: 10_000 }, (error, stdout, stderr) => {
      resolve({ code: error === null ? 0 : error.code, stdout, stderr });
    });
  });
}

test('the HEALTHCHECK command exits 0 while the probe is READY and 1 otherwise (not ready, or nothing listening)', async (t) => {
  const probe = createProbe({ host: '127.0.0.1', port: 0, state: ServiceState.Ready });
  const { port } = await probe.start();
  t.after(() => probe.stop());

  const ready = await runHealthcheck(port);
  assert.equal(ready.code, 0, ready.stderr);

  probe.setState(ServiceState.Up);
  const notReady = await runHealthcheck(port);
  assert.equal(notReady.code, 1, notReady.stderr);

  await probe.stop();
  const unreachable = await runHealthcheck(port);
  assert.equal(unreachable.code, 1, unreachable.stderr);
});
