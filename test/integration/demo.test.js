// `npm start` runs this demo: it must start UP, turn READY, and stop cleanly on SIGTERM and SIGINT.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';

const demo = fileURLToPath(new URL('../../examples/demo.mjs', import.meta.url));

async function runDemo(t) {
  const child = spawn(process.execPath, [demo], { env: { ...process.env, PORT: '0', WARM_UP_MS: '1000' }, stdio: ['ignore', 'pipe', 'pipe'] });
  t.after(() => child.kill('SIGKILL'));
  let out = '';
  child.stdout.setEncoding('utf8');
  child.stdout.on('data', (d) => (out += d));
  const waitFor = async (pattern) => {
    for (let i = 0; i < 200 && !pattern.test(out); i++) await new Promise((r) => setTimeout(r, 25));
    assert.match(out, pattern);
    return pattern.exec(out);
  };
  const [, base] = await waitFor(/listening on (http:\/\/127\.0\.0\.1:\d+)\//);
  return { child, base, waitFor, output: () => out };
}

for (const signal of ['SIGTERM', 'SIGINT']) {
  test(`the demo starts UP, turns READY, and exits 0 on ${signal}`, async (t) => {
    const { child, base, waitFor, output } = await runDemo(t);
    const early = await fetch(`${base}/ready`);
    assert.equal(`${early.status} ${await early.text()}`, '503 UP');
    await waitFor(/state: UP -> READY/);
    const ready = await fetch(`${base}/ready`);
    assert.equal(`${ready.status} ${await ready.text()}`, '200 READY');
    assert.match(output(), /curl -i http:\/\/127\.0\.0\.1:\d+\/ready/);
    // How to stop it and what PORT does, before anyone has to ask.
    assert.match(output(), /^stop: Ctrl-C, or kill -TERM \d+: a graceful shutdown/m);
    assert.match(output(), /^port: the probe listens on PORT \(default 11333; PORT=0 picks a free one\)/m);
    child.kill(signal);
    const [code] = await once(child, 'exit');
    assert.equal(code, 0);
    assert.match(output(), /shutdown hook: closing the database pool/);
  });
}

test('with its port taken, the demo exits 1 with a one-line hint naming PORT, and no stack trace', async (t) => {
  const { createServer } = await import('node:net');
  const taken = createServer();
  await new Promise((resolve) => taken.listen(0, resolve));
  t.after(() => taken.close());
  const { port } = taken.address();
  const child = spawn(process.execPath, [demo], { env: { ...process.env, PORT: String(port) }, stdio: ['ignore', 'pipe', 'pipe'] });
  t.after(() => child.kill('SIGKILL'));
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (d) => (stderr += d));
  const [code] = await once(child, 'exit');
  assert.equal(code, 1);
  assert.equal(stderr, `demo: port ${port} is already in use; pick another with PORT=<port> npm start (PORT=0 picks a free one)\n`);
});
