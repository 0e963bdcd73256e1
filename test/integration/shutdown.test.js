// The graceful shutdown sequence, in process with `exit: false`, and through signals in a child
// process for the exit codes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import http from 'node:http';
import net from 'node:net';
import { once } from 'node:events';
import { setTimeout as sleep } from 'node:timers/promises';
import { createProbe, ServiceState, ProbeArgumentError, SHUTDOWN_DEFAULTS, shutdownDefaults, inKubernetes } from '../../dist/index.js';
import { startInstance } from '../fixtures/instance.js';
import { startedProbe, within } from '../helpers/servers.js';

function recordingLogger() {
  const lines = [];
  const at = (level) => (message) => lines.push(`${level} ${message}`);
  return { lines, logger: { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') } };
}

test('importing the package and creating a probe installs no signal handler and no timer', () => {
  const script = `
    const before = ['SIGTERM', 'SIGINT'].map((s) => process.listenerCount(s));
    const timers = () => process.getActiveResourcesInfo().filter((r) => r === 'Timeout' || r === 'Immediate').length;
    const resources = timers();
    const { createProbe } = await import(${JSON.stringify(new URL('../../dist/index.js', import.meta.url).href)});
    const probe = createProbe();
    probe.onShutdown(() => {});
    probe.hold('x');
    const after = ['SIGTERM', 'SIGINT'].map((s) => process.listenerCount(s));
    console.log(JSON.stringify({ before, after, resources, resourcesAfter: timers() }));`;
  const run = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8', timeout: 10_000 });
  assert.equal(run.status, 0, run.stderr);
  const seen = JSON.parse(run.stdout);
  assert.deepEqual(seen.after, seen.before);
  assert.equal(seen.resourcesAfter, seen.resources);
});

test('shutdown turns DRAINING at once: /ready 503 and /health 200 during the drain delay', async (t) => {
  const { probe, get } = await startedProbe(t, { state: 'READY' });
  // A hold keeps the probe server up until the requests below are answered, however slow the
  // machine: without it a loaded machine can reach the end of the sequence (and the probe's stop)
  // between two requests.
  const release = probe.hold('requests of this test');
  const done = probe.shutdown({ drainDelayMs: 300, exit: false });
  assert.equal(probe.state, ServiceState.Draining);
  assert.equal(await get('/ready'), '503 DRAINING');
  assert.equal(await get('/health'), '200 DRAINING');
  release();
  assert.deepEqual(await done, { exitCode: 0, timedOut: false, failedHooks: [], openHolds: [] });
  assert.equal(probe.address, undefined, 'the probe server is stopped at the end');
});

test('stopProbe: false ends the sequence with the probe still answering DRAINING; stop() ends it later', async (t) => {
  const { lines, logger } = recordingLogger();
  const { probe, get } = await startedProbe(t, { state: 'READY', logger });
  const result = await probe.shutdown({ exit: false, stopProbe: false });
  assert.deepEqual(result, { exitCode: 0, timedOut: false, failedHooks: [], openHolds: [] });
  assert.notEqual(probe.address, undefined, 'the probe server still runs');
  assert.equal(await get('/ready'), '503 DRAINING');
  assert.equal(await get('/health'), '200 DRAINING');
  assert.ok(!lines.some((line) => line.includes('stopping the probe server')), lines.join('\n'));
  await probe.stop();
  assert.equal(probe.address, undefined);
  assert.match(lines.at(-1), /^info Service probe stopped/);
});

test('readyWhileDraining keeps /ready at 200 (body DRAINING) while draining', async (t) => {
  const { probe, get } = await startedProbe(t, { state: 'READY' });
  const release = probe.hold('requests of this test');
  const done = probe.shutdown({ drainDelayMs: 200, exit: false, readyWhileDraining: true });
  assert.equal(await get('/ready'), '200 DRAINING');
  release();
  assert.equal((await done).exitCode, 0);
});

test('readyWhileDraining holds with health checks registered too, and a failing check still fails /ready', async (t) => {
  const { probe, get } = await startedProbe(t, { state: 'READY' });
  let passing = true;
  probe.addCheck('postgres', () => passing);
  const release = probe.hold('requests of this test');
  const done = probe.shutdown({ drainDelayMs: 300, exit: false, readyWhileDraining: true });
  assert.equal(await get('/ready'), '200 DRAINING');
  passing = false;
  assert.equal((await get('/ready')).slice(0, 3), '503');
  release();
  assert.equal((await done).exitCode, 0);
});

test('the sequence runs in order: drain delay, tracked servers, holds, hooks newest first, probe stop; a log line at each step', async (t) => {
  const { lines, logger } = recordingLogger();
  const { probe } = await startedProbe(t, { state: 'READY', logger });
  const order = [];
  const app = http.createServer((req, res) => res.end('app'));
  await new Promise((resolve) => app.listen(0, '127.0.0.1', resolve));
  t.after(() => app.close());
  probe.trackServer(app);
  app.on('close', () => order.push('server closed'));
  const release = probe.hold('job 42');
  probe.onShutdown(async function first() {
    order.push('first');
  });
  probe.onShutdown(async function second() {
    order.push('second');
  });
  probe.on('change', (next) => order.push(next));
  setTimeout(() => {
    order.push('hold released');
    release();
  }, 200);

  const result = await probe.shutdown({ drainDelayMs: 50, exit: false });
  assert.deepEqual(order, ['DRAINING', 'server closed', 'hold released', 'second', 'first']);
  assert.deepEqual(result, { exitCode: 0, timedOut: false, failedHooks: [], openHolds: [] });
  const log = lines.join('\n');
  for (const step of [/begun \(shutdown\(\) called\); state DRAINING/, /waiting drainDelayMs \(50 ms\)/, /closing 1 tracked server/, /tracked servers closed/, /waiting for 1 hold\(s\): job 42/, /every hold released/, /running 2 hook\(s\)/, /hook 'second' done/, /hook 'first' done/, /stopping the probe server/, /done \(exit code 0/]) {
    assert.match(log, step);
  }
});

test('a failing hook is logged, the rest still run, and the exit code is 1', async (t) => {
  const { lines, logger } = recordingLogger();
  const { probe } = await startedProbe(t, { state: 'READY', logger });
  const ran = [];
  probe.onShutdown(() => ran.push('closeDatabase'), { name: 'closeDatabase' });
  probe.onShutdown(() => {
    throw new Error('queue unreachable');
  }, { name: 'flushQueue' });
  probe.onShutdown(() => new Promise(() => {}), { name: 'stuck', timeoutMs: 100 });
  // A rejection that is no Error reads as a check's does: its own code and message, on one line.
  probe.onShutdown(() => Promise.reject({ code: 'ECONNRESET', message: 'socket hang up\nat the broker' }), { name: 'closeBroker' });
  const result = await probe.shutdown({ exit: false });
  assert.deepEqual(ran, ['closeDatabase']);
  assert.deepEqual(result, { exitCode: 1, timedOut: false, failedHooks: ['closeBroker', 'stuck', 'flushQueue'], openHolds: [] });
  assert.match(lines.join('\n'), /hook 'flushQueue' failed: queue unreachable/);
  assert.match(lines.join('\n'), /hook 'stuck' failed: timed out after 100 ms/);
  assert.match(lines.join('\n'), /hook 'closeBroker' failed: threw an object: code ECONNRESET, message "socket hang up at the broker"; running the rest/);
});

test('timeoutMs bounds the wait for holds: it gives up, names the open holds, and the exit code is 1', async (t) => {
  const { lines, logger } = recordingLogger();
  const { probe } = await startedProbe(t, { state: 'READY', logger });
  probe.hold('job 42');
  const released = probe.hold('job 43');
  released();
  const began = performance.now();
  const done = probe.shutdown({ timeoutMs: 200, exit: false });
  // Order, not milliseconds: the sequence gives up (and says so) before a plain timer of twice
  // timeoutMs fires. Timers fire in deadline order and the give-up runs in the timeout's own
  // callback, so a loaded or stalled loop delays both alike.
  const gaveUpBefore = await new Promise((resolve) => setTimeout(() => resolve(lines.some((line) => /cutting the sequence short/.test(line))), 400));
  const result = await done;
  assert.ok(performance.now() - began >= 190, 'not before timeoutMs');
  assert.equal(gaveUpBefore, true, 'gave up at timeoutMs');
  assert.deepEqual(result, { exitCode: 1, timedOut: true, failedHooks: [], openHolds: ['job 42'] });
  assert.match(lines.join('\n'), /holds still open: job 42/);
});

test('shutdown() is idempotent: every call returns the same promise', async (t) => {
  const { probe } = await startedProbe(t, { state: 'READY' });
  let runs = 0;
  probe.onShutdown(() => runs++);
  const first = probe.shutdown({ exit: false });
  const second = probe.shutdown({ exit: false, drainDelayMs: 1000 });
  assert.equal(first, second);
  await first;
  assert.equal(probe.shutdown(), first);
  assert.equal(runs, 1);
});

test('a tracked server closes idle keep-alive connections and answers requests made while draining with Connection: close', async (t) => {
  const { probe } = await startedProbe(t, { state: 'READY' });
  let release;
  const app = http.createServer((req, res) => {
    if (req.url === '/wait') release = () => res.end('late');
    else res.end('now');
  });
  await new Promise((resolve) => app.listen(0, '127.0.0.1', resolve));
  t.after(() => app.close());
  probe.trackServer(app);
  const { port } = app.address();

  // One idle keep-alive connection, one busy with a request that is answered during the drain.
  const idle = net.connect(port, '127.0.0.1');
  idle.write('GET / HTTP/1.1\r\nHost: x\r\n\r\n');
  await once(idle, 'data');
  const idleClosed = once(idle, 'close');
  const busy = net.connect(port, '127.0.0.1');
  let busyBytes = '';
  busy.setEncoding('latin1').on('data', (chunk) => (busyBytes += chunk));
  busy.write('GET /wait HTTP/1.1\r\nHost: x\r\n\r\n');
  while (release === undefined) await sleep(5);

  const done = probe.shutdown({ exit: false });
  await idleClosed;
  await sleep(50);
  const [refused] = await once(net.connect(port, '127.0.0.1'), 'error');
  assert.equal(refused.code, 'ECONNREFUSED', 'the tracked server stopped accepting');
  release();
  await once(busy, 'close');
  assert.match(busyBytes, /^HTTP\/1\.1 200 OK\r\n/);
  assert.match(busyBytes, /\r\nConnection: close\r\n/i);
  assert.match(busyBytes, /\r\n\r\nlate$/);
  assert.equal((await done).exitCode, 0);
});

test('bad shutdown options are rejected naming the value, and nothing changes', async (t) => {
  const { probe } = await startedProbe(t, { state: 'READY' });
  const listeners = process.listenerCount('SIGTERM');
  for (const [options, name] of [
    [{ drainDelayMs: -1 }, 'drainDelayMs'],
    [{ timeoutMs: 0 }, 'timeoutMs'],
    [{ timeoutMs: 1.5 }, 'timeoutMs'],
    [{ exit: 'no' }, 'exit'],
    [{ signals: ['SIGKILL'] }, 'signals'],
    [{ signals: 'SIGTERM' }, 'signals'],
    [{ drainDelay: 5 }, 'drainDelay'],
  ]) {
    assert.throws(() => probe.handleSignals(options), (error) => error instanceof ProbeArgumentError && error.message.includes(name));
    await assert.rejects(probe.shutdown(options), (error) => error instanceof ProbeArgumentError && error.message.includes(name));
  }
  assert.throws(() => probe.onShutdown('close'), ProbeArgumentError);
  assert.throws(() => probe.trackServer({}), ProbeArgumentError);
  assert.equal(process.listenerCount('SIGTERM'), listeners);
  assert.equal(probe.state, ServiceState.Ready);
  assert.equal(probe.shuttingDown, false);
});

test('handleSignals returns a function that removes its handlers', async (t) => {
  const { probe } = await startedProbe(t, { state: 'READY' });
  const before = process.listenerCount('SIGTERM');
  const remove = probe.handleSignals({ exit: false });
  assert.equal(process.listenerCount('SIGTERM'), before + 1);
  assert.equal(process.listenerCount('SIGINT') > 0, true);
  remove();
  assert.equal(process.listenerCount('SIGTERM'), before);
});

test('the defaults: a drain delay in Kubernetes (KUBERNETES_SERVICE_HOST set), none elsewhere; both fit a 30 s grace period', () => {
  assert.equal(inKubernetes({ KUBERNETES_SERVICE_HOST: '10.96.0.1' }), true);
  assert.equal(inKubernetes({}), false);
  assert.equal(shutdownDefaults({ KUBERNETES_SERVICE_HOST: '10.96.0.1' }), SHUTDOWN_DEFAULTS.kubernetes);
  assert.equal(shutdownDefaults({}), SHUTDOWN_DEFAULTS.local);
  assert.ok(SHUTDOWN_DEFAULTS.kubernetes.drainDelayMs >= 5000);
  assert.equal(SHUTDOWN_DEFAULTS.local.drainDelayMs, 0);
  for (const defaults of Object.values(SHUTDOWN_DEFAULTS)) {
    assert.ok(defaults.drainDelayMs + defaults.timeoutMs < 30_000);
    assert.equal(defaults.readyWhileDraining, false);
    assert.deepEqual(defaults.signals, ['SIGTERM', 'SIGINT']);
    assert.equal(defaults.stopProbe, true);
  }
});

// Exit codes, through real signals.
const quick = { DRAIN_DELAY_MS: '0', TIMEOUT_MS: '3000' };

test('on SIGTERM the process runs its hooks and exits 0', async (t) => {
  const instance = await startInstance({ ...quick, HOOKS: 'ok' });
  t.after(() => instance.kill());
  instance.child.kill('SIGTERM');
  const { code } = await instance.exited;
  assert.equal(code, 0, instance.stderr());
  assert.match(instance.stderr(), /hook closeDatabase ran/);
  assert.match(instance.stderr(), /exiting with code 0/);
});

test('a failing hook makes the process exit 1 after the other hooks ran', async (t) => {
  const instance = await startInstance({ ...quick, HOOKS: 'ok,fail' });
  t.after(() => instance.kill());
  instance.child.kill('SIGTERM');
  const { code } = await instance.exited;
  assert.equal(code, 1, instance.stderr());
  assert.match(instance.stderr(), /hook 'flushQueue' failed: queue unreachable/);
  assert.match(instance.stderr(), /hook closeDatabase ran/);
});

test('when timeoutMs runs out the exit is forced with code 1', async (t) => {
  const instance = await startInstance({ DRAIN_DELAY_MS: '0', TIMEOUT_MS: '300', HOOK_TIMEOUT_MS: '10000', HOOKS: 'hang' });
  t.after(() => instance.kill());
  instance.child.kill('SIGTERM');
  const { code } = await instance.exited;
  assert.equal(code, 1, instance.stderr());
  // The cause, not a number of milliseconds (another process's timing is not this one's to
  // bound): the 300 ms timeoutMs forced the exit, long before the hung hook's own 10 s timeout.
  assert.match(instance.stderr(), /shutdown: timeoutMs \(300 ms\) ran out; exiting with code 1 now/);
  assert.doesNotMatch(instance.stderr(), /hook .* failed/);
});

test('a second signal during shutdown forces the exit at once with code 1', async (t) => {
  const instance = await startInstance({ DRAIN_DELAY_MS: '10000', TIMEOUT_MS: '10000' });
  t.after(() => instance.kill());
  instance.child.kill('SIGTERM');
  await waitFor(() => /waiting drainDelayMs/.test(instance.stderr()));
  instance.child.kill('SIGINT');
  const { code } = await instance.exited;
  assert.equal(code, 1, instance.stderr());
  assert.match(instance.stderr(), /shutdown: received SIGINT, a second signal, during the shutdown that SIGTERM began: forcing exit\n/);
  assert.match(instance.stderr(), /shutdown: SIGINT, a second signal, during the shutdown that SIGTERM began; exiting with code 1 now\n/);
});

// In process, with exit: false: a signal sent to this very process, handled by the probe.
for (const [first, second, said] of [
  ['SIGTERM', 'SIGINT', 'SIGINT, a second signal, during the shutdown that SIGTERM began'],
  ['SIGINT', 'SIGINT', 'SIGINT, a second signal, during the shutdown that SIGINT began'],
]) {
  test(`${second} during the shutdown ${first} began cuts the sequence short (exit: false), and the log says which signal came when`, async (t) => {
    const { lines, logger } = recordingLogger();
    const { probe } = await startedProbe(t, { state: 'READY', logger });
    const remove = probe.handleSignals({ exit: false, drainDelayMs: 10_000 });
    t.after(remove);
    const draining = once(probe, 'change');
    process.kill(process.pid, first);
    await draining;
    // shutdown() while the sequence runs returns its promise.
    const done = probe.shutdown();
    process.kill(process.pid, second);
    const result = await within(done, 5000, 'the sequence cut short');
    assert.equal(result.timedOut, true);
    assert.equal(result.exitCode, 1);
    assert.ok(lines.includes(`warn shutdown: received ${said}: cutting the sequence short`), lines.join('\n'));
    assert.ok(lines.some((line) => line.startsWith('error shutdown: +') && line.endsWith(` ${said}; cutting the sequence short`)), lines.join('\n'));
  });
}

test('a signal during a shutdown that a shutdown() call began lets it go on; a second one cuts it short', async (t) => {
  const { lines, logger } = recordingLogger();
  const { probe } = await startedProbe(t, { state: 'READY', logger });
  const remove = probe.handleSignals({ exit: false, drainDelayMs: 10_000 });
  t.after(remove);
  const done = probe.shutdown();
  // kubelet's SIGTERM after the application began its own shutdown: the drain goes on.
  const joined = 'info shutdown: received SIGTERM during the shutdown that a shutdown() call began; it goes on (a second signal cuts it short)';
  process.kill(process.pid, 'SIGTERM');
  await waitFor(() => lines.includes(joined));
  const settled = await Promise.race([done.then(() => 'settled'), sleep(200).then(() => 'running')]);
  assert.equal(settled, 'running', 'the sequence still waits out its drain delay');
  assert.ok(!lines.some((line) => line.includes('cutting the sequence short')), lines.join('\n'));
  process.kill(process.pid, 'SIGINT');
  const result = await within(done, 5000, 'the sequence cut short');
  assert.deepEqual([result.timedOut, result.exitCode], [true, 1]);
  const said = 'SIGINT, a second signal, during the shutdown that a shutdown() call began and SIGTERM asked for';
  assert.ok(lines.includes(`warn shutdown: received ${said}: cutting the sequence short`), lines.join('\n'));
});

async function waitFor(condition, timeoutMs = 5000) {
  const until = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > until) throw new Error('condition not met in time');
    await sleep(10);
  }
}
