// examples/docker/Dockerfile: a slim or distroless image whose HEALTHCHECK runs the package's own
// CLI (no curl). This runs that exact command against a live probe and checks its exit codes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { createProbe, DEFAULT_PORT, ServiceState } from '../../dist/index.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const dockerfile = readFileSync(new URL('../../examples/docker/Dockerfile', import.meta.url), 'utf8');
const instructions = dockerfile
  .replace(/\\\n/g, ' ')
  .split('\n')
  .filter((line) => line.trim() !== '' && !line.trimStart().startsWith('#'));
const healthcheck = instructions.find((line) => line.startsWith('HEALTHCHECK'));
const command = JSON.parse(healthcheck.slice(healthcheck.indexOf('CMD') + 3).trim());
const packageJson = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8'));

test('the image is a slim or distroless Node image and its HEALTHCHECK runs the CLI in exec form, without curl', () => {
  const runtime = instructions.filter((line) => line.startsWith('FROM ')).at(-1);
  assert.match(runtime, /distroless\/nodejs|node:\S*-slim/);
  assert.doesNotMatch(instructions.join('\n'), /curl|wget/);
  assert.deepEqual(command.slice(2, 3), ['check']);
  // The script the HEALTHCHECK runs is the package's `bin`, as installed under node_modules.
  assert.equal(command[1], `/app/node_modules/${packageJson.name}/${packageJson.bin['service-probe'].replace(/^\.\//, '')}`);
  assert.equal(new URL(command[3]).port, String(DEFAULT_PORT));
});

test('the build comment builds the user’s own service, and .dockerignore keeps the host node_modules out of COPY . .', () => {
  // Run in the service's directory with the Dockerfile copied there: not `-f examples/docker/...`
  // from this repository, which would build the library itself.
  assert.match(dockerfile, /^#\s+docker build -t my-service \.$/m);
  assert.doesNotMatch(dockerfile, /-f examples\/docker/);
  const copyAll = instructions.findIndex((line) => /^COPY \. \.$/.test(line));
  const install = instructions.findIndex((line) => /^RUN npm ci\b/.test(line));
  assert.ok(install !== -1 && copyAll > install, 'npm ci runs before COPY . .');
  const ignored = readFileSync(new URL('../../examples/docker/.dockerignore', import.meta.url), 'utf8')
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line !== '' && !line.startsWith('#'));
  for (const entry of ['node_modules', '.git']) assert.ok(ignored.includes(entry), entry);
});

test('the container runs node itself in exec form, never through npm, npx or a shell (they do not forward SIGTERM)', () => {
  const cmd = instructions.filter((line) => line.startsWith('CMD ')).at(-1);
  const argv = JSON.parse(cmd.slice(4));
  assert.doesNotMatch(argv.join(' '), /\b(npm|npx|sh)\b/);
  assert.match(argv[0], /\.m?js$/);
  assert.ok(!instructions.some((line) => line.startsWith('ENTRYPOINT')), 'the distroless image runs node as its entrypoint');
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
