// The probe's log: silent by default; NODE_DEBUG=service-probe and the `logger` option show its
// events. pino gets fields first, `console` and message-only loggers one readable line; every event
// the code emits is listed in docs/logging.md with its level.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFile, readdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import net from 'node:net';
import { once } from 'node:events';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { fileURLToPath } from 'node:url';
import pino from 'pino';
import { createProbe, ProbeArgumentError } from '../../dist/index.js';
import { within } from '../helpers/servers.js';

const run = promisify(execFile);
const root = fileURLToPath(new URL('../..', import.meta.url));
const entry = join(root, 'dist', 'index.js');

// A pino logger at its default level (info) writing JSON lines to a stream read back here.
function pinoLines(options = {}) {
  const records = [];
  const stream = { write: (line) => records.push(JSON.parse(line)) };
  return { records, logger: pino(options, stream), events: (name) => records.filter((record) => record.event === name) };
}

function fields(record) {
  const { level, time, pid, hostname, msg, ...rest } = record;
  return rest;
}

// Sends bytes on a raw connection and waits until the server closes it.
async function sendRaw(port, bytes) {
  const socket = net.connect(port, '127.0.0.1');
  socket.on('error', () => {});
  socket.resume();
  await once(socket, 'connect');
  socket.write(bytes);
  await within(once(socket, 'close'), 5000, 'the server closing the connection');
}

test('the probe prints nothing by default', async () => {
  const script = `
    const { startProbe, setServiceState, stopProbe } = await import(${JSON.stringify(entry)});
    await startProbe('127.0.0.1', 0, 'UP');
    setServiceState('READY');
    await stopProbe();`;
  const { stdout, stderr } = await run(process.execPath, ['--input-type=module', '-e', script], { env: { ...process.env, NODE_DEBUG: '' } });
  assert.equal(stdout, '');
  assert.equal(stderr, '');
});

test('NODE_DEBUG=service-probe shows readable lines with their level: the start line with URL and initial state, and state changes at info', async () => {
  const script = `
    const { createProbe } = await import(${JSON.stringify(entry)});
    const probe = createProbe({ host: '127.0.0.1', port: 0 });
    probe.addCheck('db', () => { throw new Error('connection refused'); });
    const { port } = await probe.start();
    probe.setState('READY');
    await fetch('http://127.0.0.1:' + port + '/ready');
    await probe.shutdown({ exit: false });`;
  const { stderr } = await run(process.execPath, ['--input-type=module', '-e', script], { env: { ...process.env, NODE_DEBUG: 'service-probe' } });
  assert.match(stderr, /^SERVICE-PROBE \d+: info Service readiness probe listening on http:\/\/127\.0\.0\.1:\d+\/ with initial state UP$/m);
  assert.match(stderr, /^SERVICE-PROBE \d+: info Service state change: UP to READY\.$/m);
  assert.match(stderr, /^SERVICE-PROBE \d+: warn check db failed: connection refused$/m);
  assert.match(stderr, /^SERVICE-PROBE \d+: info shutdown: \+\d+ ms done \(exit code 0, left to the application\)$/m);
  assert.doesNotMatch(stderr, /\[object Object\]|\{ ?"?event/);
});

test('pino at its default level sees the service become READY, with fields to filter on', async (t) => {
  const { records, logger, events } = pinoLines();
  const probe = createProbe({ host: '127.0.0.1', port: 0, logger });
  t.after(() => probe.stop());
  let healthy = false;
  probe.addCheck('postgres', () => {
    if (!healthy) throw new Error('connection refused');
  });
  const { port } = await probe.start();
  probe.setState('READY');
  await fetch(`http://127.0.0.1:${port}/ready`);
  await fetch(`http://127.0.0.1:${port}/ready`);
  healthy = true;
  await fetch(`http://127.0.0.1:${port}/ready`);

  const [listening] = events('listening');
  assert.equal(listening.level, 30);
  assert.deepEqual(fields(listening), { event: 'listening', address: '127.0.0.1', port, url: `http://127.0.0.1:${port}/`, state: 'UP' });
  assert.equal(listening.msg, `Service readiness probe listening on http://127.0.0.1:${port}/ with initial state UP`);

  const changes = events('state-change');
  assert.deepEqual(changes.map((record) => [record.level, fields(record)]), [[30, { event: 'state-change', state: 'READY', previous: 'UP' }]]);
  assert.equal(changes[0].msg, 'Service state change: UP to READY.');

  const [failed, ...more] = events('check-failed');
  assert.equal(more.length, 0, 'a failure is logged once, not on every run');
  assert.equal(failed.level, 40);
  assert.equal(failed.check, 'postgres');
  assert.equal(failed.reason, 'connection refused');
  assert.equal(failed.critical, true);
  assert.equal(typeof failed.durationMs, 'number');
  assert.equal(failed.msg, 'check postgres failed: connection refused');
  assert.equal(events('check-still-failing').length, 0, 'debug events stay below pino\'s default level');
  assert.deepEqual(events('check-recovered').map((record) => [record.level, record.check]), [[30, 'postgres']]);

  // Every record has an event name and a message.
  for (const record of records) {
    assert.equal(typeof record.event, 'string');
    assert.equal(typeof record.msg, 'string');
  }
});

test('durations in log fields are ms rounded to 2 decimals, as in the JSON body: check runs and shutdown hooks', async (t) => {
  const { logger, records } = pinoLines({ level: 'debug' });
  const probe = createProbe({ host: '127.0.0.1', port: 0, logger });
  t.after(() => probe.stop());
  const { port } = await probe.start();
  let healthy = false;
  // A run that spans a turn of the event loop: its duration is a fraction of a millisecond with
  // many digits on the monotonic clock.
  probe.addCheck('db', () => new Promise((resolve) => setImmediate(() => resolve(healthy))));
  for (let i = 0; i < 3; i++) await fetch(`http://127.0.0.1:${port}/ready`);
  healthy = true;
  await fetch(`http://127.0.0.1:${port}/ready`);
  probe.onShutdown(async function flush() {
    await new Promise((resolve) => setImmediate(resolve));
  });
  await probe.shutdown({ exit: false });

  const timed = records.filter((record) => 'durationMs' in record);
  assert.deepEqual([...new Set(timed.map((record) => record.event))].sort(), ['check-failed', 'check-recovered', 'check-still-failing', 'shutdown-hook-done']);
  for (const record of timed) {
    assert.ok(Number.isFinite(record.durationMs) && record.durationMs >= 0, JSON.stringify(record));
    assert.equal(record.durationMs, Math.round(record.durationMs * 100) / 100, `${record.event}: ${record.durationMs}`);
  }
});

test('shutdown steps reach pino at info, hooks named after their function or their source', async (t) => {
  const { logger, events } = pinoLines();
  const probe = createProbe({ host: '127.0.0.1', port: 0, state: 'READY', logger });
  t.after(() => probe.stop());
  await probe.start();
  const release = probe.hold('job 42');
  setTimeout(release, 50);
  probe.onShutdown(async function cleanup() {});
  probe.onShutdown(() => Promise.reject(new Error('queue unreachable')));
  const result = await probe.shutdown({ drainDelayMs: 20, exit: false });

  const anonymous = 'hook #2: () => Promise.reject(new Error(\'queue u…';
  assert.deepEqual(result.failedHooks, [anonymous]);
  const [begun] = events('shutdown-begun');
  assert.deepEqual([begun.level, begun.reason, begun.state, begun.readyStatus], [30, 'shutdown() called', 'DRAINING', 503]);
  assert.deepEqual(events('state-change').map((record) => [record.level, record.state, record.previous]), [[30, 'DRAINING', 'READY']]);
  assert.deepEqual(events('shutdown-drain-delay').map((record) => record.drainDelayMs), [20]);
  assert.deepEqual(events('shutdown-waiting-for-holds').map((record) => record.holds), [['job 42']]);
  assert.deepEqual(events('shutdown-running-hooks').map((record) => record.hooks), [[anonymous, 'cleanup']]);
  const [failed] = events('shutdown-hook-failed');
  assert.deepEqual([failed.level, failed.hook, failed.reason], [50, anonymous, 'queue unreachable']);
  assert.equal(failed.msg, `shutdown: +${failed.elapsedMs} ms hook '${anonymous}' failed: queue unreachable; running the rest`);
  const [done] = events('shutdown-hook-done');
  assert.deepEqual([done.level, done.hook, done.msg], [30, 'cleanup', `shutdown: +${done.elapsedMs} ms hook 'cleanup' done`]);
  assert.equal(typeof done.durationMs, 'number');
  const [finished] = events('shutdown-done');
  assert.deepEqual([finished.level, finished.exitCode, finished.exit], [30, 1, false]);
  assert.equal(events('stopped').length, 1);
});

test('console prints one readable line per event, on stdout for info and stderr for warn', async () => {
  const script = `
    const { createProbe } = await import(${JSON.stringify(entry)});
    const probe = createProbe({ host: '127.0.0.1', port: 0, logger: console });
    probe.addCheck('db', () => { throw new Error('connection refused'); });
    const { port } = await probe.start();
    probe.setState('READY');
    await fetch('http://127.0.0.1:' + port + '/ready');
    probe.onShutdown(() => {});
    await probe.shutdown({ exit: false });
    console.log('port ' + port);`;
  const { stdout, stderr } = await run(process.execPath, ['--input-type=module', '-e', script], { env: { ...process.env, NODE_DEBUG: '' } });
  const port = /^port (\d+)$/m.exec(stdout)[1];
  const out = stdout.split('\n');
  assert.ok(out.includes(`Service readiness probe listening on http://127.0.0.1:${port}/ with initial state UP`), stdout);
  assert.ok(out.includes('Service state change: UP to READY.'), stdout);
  assert.ok(out.includes('Service state change: READY to DRAINING.'), stdout);
  assert.ok(out.some((line) => /^shutdown: \+\d+ ms hook 'hook #1: \(\) => \{\}' done$/.test(line)), stdout);
  assert.equal(stderr, 'check db failed: connection refused\n');
  assert.doesNotMatch(stdout + stderr, /\[object Object\]|event:|\{ ?event/);
});

test('a message-only logger gets one string per event at its level, and a throwing logger is ignored', async () => {
  const calls = [];
  const at = (level) => (...args) => calls.push([level, ...args]);
  const logger = { info: at('info'), debug: at('debug'), warn: at('warn'), error: at('error') };
  const probe = createProbe({ host: '127.0.0.1', port: 0, logger });
  const { port } = await probe.start();
  probe.setState('READY');
  await probe.stop();
  assert.deepEqual(calls, [
    ['info', `Service readiness probe listening on http://127.0.0.1:${port}/ with initial state UP`],
    ['info', 'Service state change: UP to READY.'],
    ['info', 'Service probe stopped'],
  ]);

  const broken = createProbe({ host: '127.0.0.1', port: 0, logger: { info() { throw new Error('logger down'); } } });
  await broken.start();
  broken.setState('READY');
  await broken.stop();
});

test('logFields overrides the rule: true gives any logger (fields, message), false gives pino the message alone', async () => {
  const calls = [];
  const logger = { info: (...args) => calls.push(args) };
  const probe = createProbe({ host: '127.0.0.1', port: 0, logger, logFields: true });
  await probe.start();
  probe.setState('READY');
  await probe.stop();
  assert.deepEqual(calls[1], [{ event: 'state-change', state: 'READY', previous: 'UP' }, 'Service state change: UP to READY.']);

  const { records, logger: json } = pinoLines();
  const plain = createProbe({ host: '127.0.0.1', port: 0, logger: json, logFields: false });
  await plain.start();
  plain.setState('READY');
  await plain.stop();
  assert.ok(records.some((record) => record.msg === 'Service state change: UP to READY.'));
  assert.ok(records.every((record) => record.event === undefined && record.state === undefined));

  for (const bad of ['yes', 1, null]) {
    assert.throws(() => createProbe({ logger: json, logFields: bad }), (error) => error instanceof ProbeArgumentError && error.argument === 'options.logFields');
  }
});

for (const server of ['net', 'http']) {
  test(`a client's bad request on the ${server} server builds no debug event while debug is off, and logs one with fields when on`, async (t) => {
    let debugOn = false;
    const debugCalls = [];
    // pino-shaped: child() and bindings(), and a level check the probe asks before building fields.
    const logger = {
      child: () => logger,
      bindings: () => ({}),
      isLevelEnabled: (level) => level !== 'debug' || debugOn,
      debug: (...args) => debugCalls.push(args),
      info() {},
    };
    const probe = createProbe({ host: '127.0.0.1', port: 0, logger, server });
    t.after(() => probe.stop());
    const { port } = await probe.start();
    await sendRaw(port, 'NOT HTTP AT ALL\r\n\r\n');
    assert.deepEqual(debugCalls, []);
    debugOn = true;
    await sendRaw(port, 'NOT HTTP AT ALL\r\n\r\n');
    assert.equal(debugCalls.length, 1);
    const [recorded, message] = debugCalls[0];
    assert.equal(recorded.event, server === 'net' ? 'request-refused' : 'client-error');
    assert.equal(recorded.remoteAddress, '127.0.0.1');
    assert.match(message, /^probe server: (refused a request \(400\)|client error \w+)$/);
  });
}

test('worker mode: events of the worker thread reach pino with their fields', async (t) => {
  const { logger, events } = pinoLines({ level: 'debug' });
  const probe = createProbe({ host: '127.0.0.1', port: 0, logger, worker: true });
  t.after(() => probe.stop());
  const { port } = await probe.start();
  await sendRaw(port, 'NOT HTTP AT ALL\r\n\r\n');
  const deadline = Date.now() + 5000;
  while (events('request-refused').length === 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 10));
  const [refused] = events('request-refused');
  assert.deepEqual([refused.level, refused.status, refused.remoteAddress, refused.msg], [20, 400, '127.0.0.1', 'probe server: refused a request (400)']);
});

// The event table of docs/logging.md against the log calls in src/: every call names its event in
// a literal, at one level, and the doc lists exactly those (level and name).
test('docs/logging.md lists every event the code emits, at its level, and no other', async () => {
  const files = (await readdir(join(root, 'src'), { recursive: true })).filter((file) => file.endsWith('.ts'));
  const emitted = new Map();
  let calls = 0;
  for (const file of files) {
    const source = await readFile(join(root, 'src', file), 'utf8');
    calls += source.match(/\blog\.(debug|info|warn|error)\(/g)?.length ?? 0;
    for (const [, level, event] of source.matchAll(/\blog\.(debug|info|warn|error)\(\s*\{\s*event: '([a-z0-9-]+)'/g)) {
      const levels = emitted.get(event) ?? new Set();
      levels.add(level);
      emitted.set(event, levels);
    }
  }
  const named = [...emitted.values()].reduce((sum, levels) => sum + levels.size, 0);
  assert.ok(emitted.size > 40, `found only ${emitted.size} events: the pattern no longer matches the code`);
  let withEvent = 0;
  for (const file of files) {
    const source = await readFile(join(root, 'src', file), 'utf8');
    withEvent += source.match(/\blog\.(debug|info|warn|error)\(\s*\{\s*event: '/g)?.length ?? 0;
  }
  assert.equal(withEvent, calls, 'every log call starts with { event: \'name\', … }');
  assert.equal(named, emitted.size, `an event is emitted at two levels: ${[...emitted].filter(([, levels]) => levels.size > 1).map(([event]) => event)}`);

  const doc = await readFile(join(root, 'docs', 'logging.md'), 'utf8');
  const listed = new Map();
  for (const [, level, event] of doc.matchAll(/^\| (debug|info|warn|error) \| `([a-z0-9-]+)` \|/gm)) {
    assert.ok(!listed.has(event), `docs/logging.md lists ${event} twice`);
    listed.set(event, level);
  }
  const code = Object.fromEntries([...emitted].map(([event, levels]) => [event, [...levels][0]]));
  assert.deepEqual(Object.fromEntries(listed), code);
});

test('ProbeLogger fits pino, console, winston-like and message-only loggers in TypeScript', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'service-probe-logger-types-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const file = join(dir, 'consumer.ts');
  await writeFile(
    file,
    `
import pino from 'pino';
import { createProbe, type ProbeLogger, type ProbeLogFields } from 'service-probe';
createProbe({ logger: pino() });
createProbe({ logger: pino().child({ component: 'probe' }) });
createProbe({ logger: console, logFields: false });
const messageOnly: ProbeLogger = { info: (message: string) => void message, warn(message: string) { void message; } };
const structured: ProbeLogger = { info: (fields: ProbeLogFields | string, message?: string) => void [fields, message] };
const winstonLike = { info: (message: string, ...meta: unknown[]) => ({ message, meta }) };
createProbe({ logger: messageOnly });
createProbe({ logger: structured, logFields: true });
createProbe({ logger: winstonLike });
`,
  );
  const { default: ts } = await import('typescript');
  const program = ts.createProgram([file], {
    strict: true,
    noEmit: true,
    module: ts.ModuleKind.NodeNext,
    moduleResolution: ts.ModuleResolutionKind.NodeNext,
    target: ts.ScriptTarget.ES2022,
    types: ['node'],
    typeRoots: [join(root, 'node_modules', '@types')],
    baseUrl: dir,
    paths: { 'service-probe': [join(root, 'dist', 'index.d.ts')], pino: [join(root, 'node_modules', 'pino', 'pino.d.ts')] },
    skipLibCheck: true,
  });
  const diagnostics = ts.getPreEmitDiagnostics(program).map((d) => ts.flattenDiagnosticMessageText(d.messageText, '\n'));
  assert.deepEqual(diagnostics, []);
});
