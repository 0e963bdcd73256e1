// Checks: how a check passes or fails, timeouts, sharing one run between concurrent requests,
// caching, background runs, validation, removal — through the standalone server and handle().
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Agent, createServer } from 'node:http';
import { connect } from 'node:net';
import { once } from 'node:events';
import { createProbe, ProbeArgumentError } from '../../dist/index.js';
import { MODES, serve, get, gate, delay, watchUnhandledRejections } from '../helpers/checks.js';
import { controlTimer } from '../helpers/timing.js';

const unhandled = watchUnhandledRejections();

for (const mode of MODES) {
  test(`[${mode}] /ready is 200 only while READY and every critical readiness check passes`, async (t) => {
    const { probe, base } = await serve(t, mode, { state: 'READY' });
    let healthy = true;
    probe.addCheck('db', () => healthy);
    assert.deepEqual(await statusAndBody(`${base}/ready`), [200, 'READY']);
    healthy = false;
    assert.deepEqual(await statusAndBody(`${base}/ready`), [503, 'UP']);
    // A readiness check never touches liveness.
    assert.deepEqual(await statusAndBody(`${base}/health`), [200, 'READY']);
    healthy = true;
    probe.setState('UP');
    assert.deepEqual(await statusAndBody(`${base}/ready`), [503, 'UP']);
  });

  test(`[${mode}] a failing liveness check makes /health 503 DOWN (and /live, /, and /ready)`, async (t) => {
    const { probe, base } = await serve(t, mode, { state: 'READY' });
    let alive = true;
    probe.addCheck('loop', () => alive, { affects: 'liveness' });
    assert.deepEqual(await statusAndBody(`${base}/health`), [200, 'READY']);
    alive = false;
    // `/` is the probe's on its own server only; mounted without a prefix it is the host app's.
    for (const path of ['/health', '/live', ...(mode === 'standalone' ? ['/'] : []), '/ready']) assert.deepEqual(await statusAndBody(`${base}${path}`), [503, 'DOWN'], path);
  });

  test(`[${mode}] affects: 'both' counts for /ready and /health`, async (t) => {
    const { probe, base } = await serve(t, mode, { state: 'READY' });
    probe.addCheck('both', () => false, { affects: 'both' });
    assert.equal((await get(`${base}/health`)).status, 503);
    assert.equal((await get(`${base}/ready`)).status, 503);
  });

  test(`[${mode}] a non-critical failure is a warning that never flips a status`, async (t) => {
    const { probe, base } = await serve(t, mode, { state: 'READY' });
    probe.addCheck('cache', () => false, { critical: false });
    probe.addCheck('loop', () => false, { critical: false, affects: 'liveness' });
    assert.deepEqual(await statusAndBody(`${base}/ready`), [200, 'READY']);
    assert.deepEqual(await statusAndBody(`${base}/health`), [200, 'READY']);
    assert.equal((await get(`${base}/ready?verbose`)).body, '[+]cache warn: reason withheld\n[+]loop warn: reason withheld\nREADY\n');
  });

  test(`[${mode}] every way a check can fail fails it cleanly, with no unhandled rejection`, async (t) => {
    const { probe, base } = await serve(t, mode, { state: 'READY', exposeDetails: true });
    const failing = {
      'returns-false': [() => false, 'returned false'],
      'ok-false': [() => ({ ok: false }), 'returned ok: false'],
      'throws-sync': [() => { throw new Error('sync boom'); }, 'sync boom'],
      'throws-null': [() => { throw null; }, 'threw null'],
      'throws-undefined': [() => { throw undefined; }, 'threw undefined'],
      'throws-string': [() => { throw 'plain string'; }, 'plain string'],
      'rejects': [async () => { throw new Error('async boom'); }, 'async boom'],
      'rejects-number': [() => Promise.reject(42), 'threw type number (42)'],
      'bad-thenable': [() => ({ get then() { throw new Error('then getter'); } }), 'then getter'],
      'throwing-getter': [() => ({ get ok() { throw new Error('ok getter'); } }), 'ok getter'],
      'multi-line': [() => { throw new Error('line one\nline two'); }, 'line one line two'],
      // `ok` present but no boolean: a typo or a serialised value is a failure that says so.
      'ok-string': [() => ({ ok: 'false' }), "returned ok: 'false' (not a boolean)"],
      'ok-string-true': [async () => ({ ok: 'true', output: 'all good' }), "returned ok: 'true' (not a boolean)"],
      'ok-number': [() => ({ ok: 1 }), 'returned ok: 1 (not a boolean)'],
      'ok-null': [() => ({ ok: null }), 'returned ok: null (not a boolean)'],
      'ok-object': [() => ({ ok: {} }), 'returned ok: an instance of Object (not a boolean)'],
      // A thrown object that is no Error: its own code and message, when it has them.
      'throws-object': [() => { throw { code: 'ECONNREFUSED', message: 'connect refused' }; }, 'threw an object: code ECONNREFUSED, message "connect refused"'],
      'rejects-object-message': [() => Promise.reject({ message: 'no\nroute' }), 'threw an object: message "no route"'],
      'rejects-object-code': [() => Promise.reject(Object.assign(Object.create(null), { code: 'E_DOWN', detail: 7 })), 'threw an object: code E_DOWN'],
      'throws-instance': [() => { throw new (class Failure { code = 'E_FAIL'; })(); }, 'threw an instance of Failure: code E_FAIL'],
      'throws-long-object': [() => { throw { message: 'x'.repeat(400) }; }, `threw an object: message "${'x'.repeat(300 - 'threw an object: message "'.length - 1)}…`],
      'throws-empty-object': [() => { throw {}; }, 'threw an instance of Object'],
      'throws-inherited-message': [() => { throw Object.create({ message: 'from the prototype' }); }, 'threw an instance of Object'],
    };
    for (const [name, [fn]] of Object.entries(failing)) probe.addCheck(name, fn);
    const { status, body } = await get(`${base}/ready?verbose`);
    assert.equal(status, 503);
    const expected = Object.entries(failing).map(([name, [, reason]]) => `[-]${name} failed: ${reason}`);
    assert.equal(body, `${expected.join('\n')}\nUP\n`);
    await delay(20);
    assert.deepEqual(unhandled, []);
  });

  test(`[${mode}] nothing, true, a result object and any other value pass`, async (t) => {
    const { probe, base } = await serve(t, mode, { state: 'READY' });
    probe.addCheck('nothing', () => {});
    probe.addCheck('true', async () => true);
    probe.addCheck('result', () => ({ observedValue: 7, observedUnit: 'ms' }));
    probe.addCheck('query-result', async () => ({ rows: [], rowCount: 0 }));
    probe.addCheck('number', () => 0);
    const { status, body } = await get(`${base}/ready?verbose`);
    assert.equal(status, 200);
    assert.equal(body, '[+]nothing ok\n[+]true ok\n[+]result ok\n[+]query-result ok\n[+]number ok\nREADY\n');
  });

  test(`[${mode}] a check that never settles answers within timeoutMs + 50 ms, and aborts its signal`, { timeout: 10_000 }, async (t) => {
    const { probe, base } = await serve(t, mode, { state: 'READY', exposeDetails: true });
    let signal;
    probe.addCheck('hangs', (s) => {
      signal = s;
      return new Promise(() => {});
    }, { timeoutMs: 300 });
    // One warm keep-alive connection: only the request itself is timed.
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    t.after(() => agent.destroy());
    await get(`${base}/started`, { agent });
    // The answer must follow a plain 300 ms timer closely, not wait for the check.
    const control = controlTimer(300);
    const { status, body, ms } = await get(`${base}/ready?verbose`, { agent });
    const controlMs = await control;
    assert.equal(status, 503);
    assert.equal(body, '[-]hangs failed: timed out after 300 ms\nUP\n');
    assert.ok(ms >= 290 && ms < controlMs + 50, `answered after ${ms} ms; a 300 ms timer fired after ${controlMs} ms`);
    // In worker mode the worker answers at its own timer, which may fire just before the main
    // thread's: the abort follows within moments, never later than a second.
    if (!signal.aborted) await Promise.race([once(signal, 'abort'), delay(1000)]);
    assert.equal(signal.aborted, true);
  });

  test(`[${mode}] a result that arrives after the timeout is swallowed`, { timeout: 10_000 }, async (t) => {
    const { probe, base } = await serve(t, mode, { state: 'READY', exposeDetails: true });
    const late = gate();
    let calls = 0;
    probe.addCheck('late', () => {
      calls++;
      return calls === 1 ? late.promise.then(() => { throw new Error('too late'); }) : true;
    }, { timeoutMs: 100 });
    assert.equal((await get(`${base}/ready?verbose`)).body, '[-]late failed: timed out after 100 ms\nUP\n');
    late.open();
    await delay(20);
    // The late rejection neither surfaced nor overwrote anything; the next run counts.
    assert.equal((await get(`${base}/ready?verbose`)).body, '[+]late ok\nREADY\n');
    assert.deepEqual(unhandled, []);
  });

  test(`[${mode}] 200 concurrent /ready requests run a slow check once`, { timeout: 10_000 }, async (t) => {
    const { probe, base } = await serve(t, mode, { state: 'READY', maxConnections: 1024 });
    let calls = 0;
    let running = 0;
    let most = 0;
    probe.addCheck('slow', async () => {
      calls++;
      most = Math.max(most, ++running);
      await delay(1000);
      running--;
    }, { timeoutMs: 5000 });
    const answers = await Promise.all(Array.from({ length: 200 }, () => get(`${base}/ready`)));
    assert.ok(answers.every((a) => a.status === 200 && a.body === 'READY'));
    assert.equal(calls, 1);
    assert.equal(most, 1);
  });

  test(`[${mode}] cacheMs reuses a result for that long, then runs again`, async (t) => {
    const { probe, base } = await serve(t, mode, { state: 'READY' });
    let calls = 0;
    probe.addCheck('cached', () => {
      calls++;
    }, { cacheMs: 300 });
    for (let i = 0; i < 5; i++) await get(`${base}/ready`);
    assert.equal(calls, 1);
    await delay(350);
    await get(`${base}/ready`);
    assert.equal(calls, 2);
  });

  test(`[${mode}] without cacheMs each request after the last run runs the check again`, async (t) => {
    const { probe, base } = await serve(t, mode, { state: 'READY' });
    let calls = 0;
    probe.addCheck('fresh', () => {
      calls++;
    });
    for (let i = 0; i < 3; i++) await get(`${base}/ready`);
    assert.equal(calls, 3);
  });

  test(`[${mode}] a background check answers from its latest result without running per request`, async (t) => {
    const { probe, base } = await serve(t, mode, { state: 'READY', exposeDetails: true });
    const first = gate();
    let calls = 0;
    let healthy = true;
    probe.addCheck('bg', async () => {
      calls++;
      if (calls === 1) await first.promise;
      return healthy;
    }, { intervalMs: 100 });
    // Until its first result it counts as failing.
    assert.deepEqual(await statusAndBody(`${base}/ready?verbose`), [503, '[-]bg failed: no result yet\nUP\n']);
    first.open();
    await delay(30);
    const before = calls;
    for (let i = 0; i < 20; i++) assert.equal((await get(`${base}/ready`)).status, 200);
    // 20 requests, but at most the timer's own runs.
    assert.ok(calls - before <= 2, `ran ${calls - before} times during 20 requests`);
    healthy = false;
    await delay(250);
    assert.deepEqual(await statusAndBody(`${base}/ready`), [503, 'UP']);
  });

  test(`[${mode}] removeCheck stops counting a check; addCheck rejects duplicates`, async (t) => {
    const { probe, base } = await serve(t, mode, { state: 'READY' });
    probe.addCheck('db', () => false);
    assert.throws(() => probe.addCheck('db', () => true), (error) => error instanceof ProbeArgumentError && /'db'/.test(error.message));
    assert.equal((await get(`${base}/ready`)).status, 503);
    assert.equal(probe.removeCheck('db'), true);
    assert.equal(probe.removeCheck('db'), false);
    assert.equal((await get(`${base}/ready`)).status, 200);
  });
}

test('bad names, non-functions and bad options are rejected naming the value; nothing is added', () => {
  const probe = createProbe();
  const bad = [
    [[123, () => {}], 'name'],
    [['', () => {}], 'name'],
    [['has space', () => {}], 'name'],
    [['a/b', () => {}], 'name'],
    [['line\nbreak', () => {}], 'name'],
    [['x'.repeat(101), () => {}], 'name'],
    [['db', 'not a function'], 'check'],
    [['db', () => {}, { affects: 'startup' }], 'options.affects'],
    [['db', () => {}, { critical: 'no' }], 'options.critical'],
    [['db', () => {}, { timeoutMs: 0 }], 'options.timeoutMs'],
    [['db', () => {}, { timeoutMs: 1.5 }], 'options.timeoutMs'],
    [['db', () => {}, { timeoutMs: 2 ** 31 }], 'options.timeoutMs'],
    [['db', () => {}, { cacheMs: -1 }], 'options.cacheMs'],
    [['db', () => {}, { intervalMs: 0 }], 'options.intervalMs'],
    [['db', () => {}, { intervalMs: 1000, cacheMs: 10 }], 'options.cacheMs'],
    [['db', () => {}, { timeout: 10 }], 'options.timeout'],
    [['db', () => {}, 'fast'], 'options'],
  ];
  for (const [args, argument] of bad) {
    assert.throws(() => probe.addCheck(...args), (error) => {
      assert.ok(error instanceof ProbeArgumentError, `${args[0]}: ${error}`);
      assert.equal(error.code, 'INVALID_ARGUMENT');
      assert.equal(error.argument, argument);
      assert.match(error.message, /Received/);
      return true;
    });
  }
  assert.equal(probe.hasCheck('db'), false);
});

test('a check added while the probe runs starts counting at once; exposeDetails must be a boolean', async (t) => {
  assert.throws(() => createProbe({ exposeDetails: 'yes' }), (error) => error instanceof ProbeArgumentError && error.argument === 'options.exposeDetails');
  const probe = createProbe({ host: '127.0.0.1', port: 0, state: 'READY' });
  const { port } = await probe.start();
  t.after(() => probe.stop());
  assert.equal((await get(`http://127.0.0.1:${port}/ready`)).status, 200);
  probe.addCheck('late', () => false);
  assert.equal((await get(`http://127.0.0.1:${port}/ready`)).status, 503);
});

test('an answer waiting for checks is dropped, not written, when the client has gone', async (t) => {
  const probe = createProbe({ state: 'READY' });
  t.after(() => probe.stop());
  const released = gate();
  probe.addCheck('slow', () => released.promise, { timeoutMs: 5000 });
  const errors = [];
  let closedRes;
  const server = createServer((req, res) => {
    closedRes = res;
    res.on('error', (e) => errors.push(e));
    probe.handle(req, res);
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(() => new Promise((resolve) => {
    server.closeAllConnections();
    server.close(resolve);
  }));
  const socket = connect(server.address().port, '127.0.0.1');
  socket.on('error', () => {});
  socket.write('GET /ready HTTP/1.1\r\nHost: x\r\n\r\n');
  while (closedRes === undefined) await delay(5);
  socket.destroy();
  await delay(30);
  released.open();
  await delay(30);
  assert.equal(closedRes.headersSent, false);
  assert.deepEqual(errors, []);
  assert.deepEqual(unhandled, []);
});

test('a host that already answered keeps its answer; the probe never writes twice', async (t) => {
  const probe = createProbe({ state: 'READY' });
  t.after(() => probe.stop());
  probe.addCheck('slow', () => delay(50));
  const server = createServer((req, res) => {
    probe.handle(req, res);
    // A framework that answers too, before the checks are in.
    res.writeHead(299, { 'content-type': 'text/plain' });
    res.end('host');
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(() => new Promise((resolve) => server.close(resolve)));
  const answer = await get(`http://127.0.0.1:${server.address().port}/ready`);
  assert.deepEqual([answer.status, answer.body], [299, 'host']);
  await delay(80);
});

test('failures are always logged with their reason, even when responses withhold it', async (t) => {
  const lines = [];
  const logger = { warn: (m) => lines.push(`warn ${m}`), info: (m) => lines.push(`info ${m}`) };
  const { probe, base } = await serve(t, 'standalone', { state: 'READY', logger });
  let fail = true;
  probe.addCheck('db', () => {
    if (fail) throw new Error('connection refused');
  });
  assert.equal((await get(`${base}/ready?verbose`)).body, '[-]db failed: reason withheld\nUP\n');
  assert.equal((await get(`${base}/ready`)).status, 503);
  fail = false;
  assert.equal((await get(`${base}/ready`)).status, 200);
  assert.deepEqual(lines.filter((l) => l.includes('check db')), ['warn check db failed: connection refused', 'info check db passes again']);
});

test('a check returning a fetch Response fails when the response is not ok', async (t) => {
  let answer = 200;
  const upstream = createServer((req, res) => {
    res.writeHead(answer);
    res.end();
  });
  await new Promise((resolve) => upstream.listen(0, '127.0.0.1', resolve));
  t.after(() => new Promise((resolve) => {
    upstream.closeAllConnections();
    upstream.close(resolve);
  }));
  const { probe, base } = await serve(t, 'standalone', { state: 'READY', exposeDetails: true });
  probe.addCheck('upstream', async (signal) => {
    const res = await fetch(`http://127.0.0.1:${upstream.address().port}/`, { signal });
    await res.arrayBuffer();
    return res;
  });
  assert.equal((await get(`${base}/ready?verbose`)).body, '[+]upstream ok\nREADY\n');
  answer = 500;
  assert.equal((await get(`${base}/ready?verbose`)).body, '[-]upstream failed: returned ok: false\nUP\n');
});

async function statusAndBody(url) {
  const { status, body } = await get(url);
  return [status, body];
}

test("'check' events carry every finished run, background and on demand, and a throwing listener harms nothing", async (t) => {
  const probe = createProbe({ host: '127.0.0.1', port: 0, state: 'READY' });
  t.after(() => probe.stop());
  const heard = [];
  probe.on('check', (outcome) => heard.push(outcome));
  let healthy = true;
  probe.addCheck('db', () => (healthy ? { observedValue: 3, observedUnit: 'ms' } : false));
  const { port } = await probe.start();
  assert.equal((await fetch(`http://127.0.0.1:${port}/ready`)).status, 200);
  healthy = false;
  assert.equal((await fetch(`http://127.0.0.1:${port}/ready`)).status, 503);
  assert.deepEqual(
    heard.map(({ name, ok, observedValue, output }) => ({ name, ok, observedValue, output })),
    [
      { name: 'db', ok: true, observedValue: 3, output: undefined },
      { name: 'db', ok: false, observedValue: undefined, output: 'returned false' },
    ],
  );
  assert.ok(heard.every((outcome) => typeof outcome.durationMs === 'number' && typeof outcome.time === 'number'));

  // A listener that throws is logged; the run still settles and the request is answered.
  probe.once('check', () => {
    throw new Error('listener bug');
  });
  assert.equal((await fetch(`http://127.0.0.1:${port}/ready`)).status, 503);

  // A background check reports each run, not its 'no result yet' placeholder.
  let runs = 0;
  const background = new Promise((resolve) => probe.on('check', (outcome) => outcome.name === 'tick' && ++runs === 2 && resolve()));
  probe.addCheck('tick', () => true, { intervalMs: 5 });
  await background;
  assert.ok(heard.filter((o) => o.name === 'tick').every((o) => o.ok));

  // A run cut short by removeCheck() is not an outcome of the check.
  const before = heard.length;
  probe.addCheck('slow', () => new Promise(() => {}), { timeoutMs: 10_000 });
  const pending = fetch(`http://127.0.0.1:${port}/ready/slow`);
  await delay(20);
  probe.removeCheck('slow');
  probe.removeCheck('tick');
  await pending.catch(() => undefined);
  assert.equal(heard.slice(before).filter((o) => o.name === 'slow').length, 0);
});
