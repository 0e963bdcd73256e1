// GET /metrics on a running probe (standalone and through handle()): off by default, the HTTP
// rules of the other endpoints, values that follow the state and the checks' outcomes exactly as
// /health and /ready decide, counters that follow every finished run — and never running a check.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createProbe, ProbeArgumentError } from '../../dist/index.js';
import { MODES, serve, get, gate, delay, watchUnhandledRejections } from '../helpers/checks.js';
import { rawRequest } from '../helpers/http.js';
import { parsePrometheus } from '../helpers/metrics.js';

const unhandled = watchUnhandledRejections();
const OPENMETRICS_ACCEPT = 'application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1';

async function scrape(base, headers = {}) {
  const response = await get(`${base}/metrics`, { headers });
  assert.equal(response.status, 200, response.body);
  return parsePrometheus(response.body).values;
}

test("metrics takes true, false or 'collect'", () => {
  for (const bad of ['yes', 'serve', 1, null, {}]) {
    assert.throws(() => createProbe({ metrics: bad }), (error) => error instanceof ProbeArgumentError && error.argument === 'options.metrics' && error.message.includes("'collect'"));
  }
  createProbe({ metrics: false });
  createProbe({ metrics: 'collect' });
});

for (const mode of MODES) {
  test(`[${mode}] without metrics: true, /metrics is not the probe's (404 standalone, left to the host under handle())`, async (t) => {
    const { base } = await serve(t, mode, { state: 'READY' });
    const response = await get(`${base}/metrics`);
    if (mode === 'standalone') assert.deepEqual([response.status, response.body], [404, 'Not found']);
    else assert.deepEqual([response.status, response.body], [418, 'host app']);
  });

  test(`[${mode}] GET /metrics answers 200 in the Prometheus text format, OpenMetrics when asked, with the probe's fixed headers`, async (t) => {
    const { base } = await serve(t, mode, { state: 'DOWN', metrics: true });
    const plain = await get(`${base}/metrics`);
    assert.equal(plain.status, 200);
    assert.equal(plain.headers['content-type'], 'text/plain; version=0.0.4; charset=utf-8');
    assert.equal(plain.headers['cache-control'], 'no-store');
    assert.equal(plain.headers['x-content-type-options'], 'nosniff');
    assert.equal(Number(plain.headers['content-length']), Buffer.byteLength(plain.body));
    assert.match(plain.body, /^service_probe_up 0$/m);
    assert.ok(!plain.body.includes('# EOF'));

    const open = await get(`${base}/metrics/`, { headers: { accept: OPENMETRICS_ACCEPT } });
    assert.equal(open.status, 200);
    assert.equal(open.headers['content-type'], 'application/openmetrics-text; version=1.0.0; charset=utf-8');
    assert.ok(open.body.endsWith('# EOF\n'));
  });

  test(`[${mode}] HEAD /metrics has GET's status and headers and no body; other methods get 405 with Allow`, async (t) => {
    const { base } = await serve(t, mode, { metrics: true });
    const got = await get(`${base}/metrics`);
    const head = await get(`${base}/metrics`, { method: 'HEAD' });
    assert.equal(head.status, 200);
    assert.equal(head.body, '');
    assert.equal(head.headers['content-type'], got.headers['content-type']);
    // In worker mode the body carries a live figure (the event-loop stall, in seconds), whose digits
    // may differ between two scrapes; everything else in it is the same.
    if (/^service_probe_event_loop_stall_seconds /m.test(got.body)) {
      const apart = Math.abs(Number(head.headers['content-length']) - Number(got.headers['content-length']));
      assert.ok(apart <= 8, `HEAD ${head.headers['content-length']} bytes, GET ${got.headers['content-length']}`);
    } else {
      assert.equal(head.headers['content-length'], got.headers['content-length']);
    }
    for (const method of ['POST', 'PUT', 'DELETE']) {
      const refused = await get(`${base}/metrics`, { method });
      assert.deepEqual([refused.status, refused.headers.allow, refused.body], [405, 'GET, HEAD', 'Method not allowed'], method);
    }
  });

  test(`[${mode}] up, ready and state follow every state and check outcome exactly as /health and /ready answer`, async (t) => {
    const { probe, base } = await serve(t, mode, { metrics: true });
    const flags = { db: true, loop: true, cache: true };
    probe.addCheck('db', () => flags.db);
    probe.addCheck('loop', () => flags.loop, { affects: 'liveness' });
    probe.addCheck('cache', () => flags.cache, { critical: false, affects: 'both' });
    for (const state of ['UP', 'READY', 'DRAINING', 'DOWN']) {
      probe.setState(state);
      for (let bits = 0; bits < 8; bits++) {
        Object.assign(flags, { db: (bits & 1) === 0, loop: (bits & 2) === 0, cache: (bits & 4) === 0 });
        const label = `${state} ${JSON.stringify(flags)}`;
        // /ready runs every check; /metrics then reports those latest outcomes.
        const ready = await get(`${base}/ready`);
        let values = await scrape(base);
        assert.equal(values.get('service_probe_ready'), ready.status === 200 ? 1 : 0, label);
        const health = await get(`${base}/health`);
        values = await scrape(base);
        assert.equal(values.get('service_probe_up'), health.status === 200 ? 1 : 0, label);
        for (const word of ['UP', 'READY', 'DRAINING', 'DOWN']) assert.equal(values.get(`service_probe_state{state="${word}"}`), word === state ? 1 : 0, label);
        assert.equal(values.get('service_probe_check_status{affects="readiness",check="db"}'), flags.db ? 1 : 0, label);
        assert.equal(values.get('service_probe_check_status{affects="liveness",check="loop"}'), flags.loop ? 1 : 0, label);
        assert.equal(values.get('service_probe_check_status{affects="both",check="cache"}'), flags.cache ? 1 : 0, label);
      }
    }
    // Spot checks of the table the loop compared against.
    probe.setState('READY');
    Object.assign(flags, { db: false, loop: true, cache: false });
    await get(`${base}/ready`);
    let values = await scrape(base);
    assert.deepEqual([values.get('service_probe_up'), values.get('service_probe_ready')], [1, 0]);
    Object.assign(flags, { db: true, loop: false });
    await get(`${base}/ready`);
    values = await scrape(base);
    assert.deepEqual([values.get('service_probe_up'), values.get('service_probe_ready')], [0, 0]);
  });

  test(`[${mode}] started is 0 until the probe has been READY (or marked started), then 1 for good`, async (t) => {
    const { probe, base } = await serve(t, mode, { metrics: true });
    assert.equal((await scrape(base)).get('service_probe_started'), 0);
    probe.setState('READY');
    probe.setState('DOWN');
    assert.equal((await scrape(base)).get('service_probe_started'), 1);
  });

  test(`[${mode}] reading /metrics never runs a check, nor waits for one in flight`, async (t) => {
    const { probe, base } = await serve(t, mode, { state: 'READY', metrics: true });
    let runs = 0;
    let hold;
    probe.addCheck('db', () => {
      runs++;
      return hold?.promise;
    }, { timeoutMs: 5000 });
    for (let i = 0; i < 3; i++) await scrape(base);
    assert.equal(runs, 0);
    // Before any run the check has no status sample, and /ready's verdict is not guessed from it.
    let values = await scrape(base);
    assert.equal(values.has('service_probe_check_status{affects="readiness",check="db"}'), false);
    assert.equal(values.get('service_probe_check_runs_total{check="db",outcome="pass"}'), 0);
    assert.equal(values.get('service_probe_ready'), 1);

    hold = gate();
    const pending = get(`${base}/ready`);
    await delay(50);
    assert.equal(runs, 1);
    values = await scrape(base); // answered while the run is held
    assert.equal(values.get('service_probe_check_runs_total{check="db",outcome="pass"}'), 0);
    hold.open();
    assert.equal((await pending).status, 200);
    values = await scrape(base);
    assert.equal(values.get('service_probe_check_runs_total{check="db",outcome="pass"}'), 1);
    assert.equal(runs, 1);
  });

  test(`[${mode}] runs_total, duration and last success follow every 'check' event`, async (t) => {
    const { probe, base } = await serve(t, mode, { state: 'READY', metrics: true });
    const heard = [];
    probe.on('check', (outcome) => heard.push(outcome));
    let result = true;
    probe.addCheck('db', async () => {
      await delay(30);
      return result;
    }, { timeoutMs: 200 });
    let never = false;
    probe.addCheck('slow', () => (never ? new Promise(() => {}) : true), { timeoutMs: 50 });
    await get(`${base}/ready`);
    await get(`${base}/ready`);
    result = false;
    never = true;
    await get(`${base}/ready`); // db fails, slow times out
    const values = await scrape(base);
    assert.equal(values.get('service_probe_check_runs_total{check="db",outcome="pass"}'), 2);
    assert.equal(values.get('service_probe_check_runs_total{check="db",outcome="fail"}'), 1);
    assert.equal(values.get('service_probe_check_runs_total{check="slow",outcome="pass"}'), 2);
    assert.equal(values.get('service_probe_check_runs_total{check="slow",outcome="fail"}'), 1);
    assert.equal(values.get('service_probe_check_status{affects="readiness",check="slow"}'), 0);

    const lastOf = (name) => heard.filter((o) => o.name === name).at(-1);
    const lastPassOf = (name) => heard.filter((o) => o.name === name && o.ok).at(-1);
    assert.equal(values.get('service_probe_check_duration_seconds{check="db"}'), Math.round(lastOf('db').durationMs * 1000) / 1e6);
    assert.ok(values.get('service_probe_check_duration_seconds{check="db"}') >= 0.025); // it waited 30 ms
    assert.ok(values.get('service_probe_check_duration_seconds{check="slow"}') >= 0.045); // its 50 ms timeout
    assert.equal(values.get('service_probe_check_last_success_timestamp_seconds{check="db"}'), lastPassOf('db').time / 1000);
    assert.equal(values.get('service_probe_check_last_success_timestamp_seconds{check="slow"}'), lastPassOf('slow').time / 1000);
    assert.equal(heard.length, 6);
  });

  test(`[${mode}] background checks: counted from creation (before the first scrape), failing until their first result`, async (t) => {
    const { probe, base } = await serve(t, mode, { state: 'READY', metrics: true });
    const heard = [];
    probe.on('check', (outcome) => heard.push(outcome));
    probe.addCheck('loop', () => true, { intervalMs: 20, affects: 'liveness' });
    probe.addCheck('pending', () => new Promise(() => {}), { intervalMs: 10_000, timeoutMs: 5000 });
    await delay(120);
    const values = await scrape(base);
    const passes = values.get('service_probe_check_runs_total{check="loop",outcome="pass"}');
    assert.ok(passes >= 2, `passes ${passes}`);
    assert.ok(passes >= heard.filter((o) => o.name === 'loop').length - 1 && passes <= heard.length + 1);
    assert.equal(values.get('service_probe_check_status{affects="readiness",check="pending"}'), 0);
    assert.equal(values.has('service_probe_check_duration_seconds{check="pending"}'), false);
    assert.equal(values.get('service_probe_ready'), 0);
    assert.equal((await get(`${base}/ready`)).status, 503);
    assert.equal(values.get('service_probe_up'), 1);
  });

  test(`[${mode}] a removed check leaves the exposition`, async (t) => {
    const { probe, base } = await serve(t, mode, { state: 'READY', metrics: true });
    probe.addCheck('db', () => true);
    await get(`${base}/ready`);
    assert.equal((await scrape(base)).get('service_probe_check_runs_total{check="db",outcome="pass"}'), 1);
    probe.removeCheck('db');
    const values = await scrape(base);
    assert.ok(![...values.keys()].some((key) => key.includes('check="db"')));
  });
}

test('runs that finish while the metrics module loads are counted', async (t) => {
  const probe = createProbe({ metrics: true, state: 'READY' });
  t.after(() => probe.stop());
  const heard = [];
  probe.on('check', (outcome) => heard.push(outcome));
  // A background check starts at once and its first run ends within microtasks, before the
  // endpoint's module has loaded.
  probe.addCheck('early', () => true, { intervalMs: 60_000 });
  const { port } = await probe.start({ host: '127.0.0.1', port: 0 });
  const values = parsePrometheus((await get(`http://127.0.0.1:${port}/metrics`)).body).values;
  assert.equal(heard.length, 1);
  assert.equal(values.get('service_probe_check_runs_total{check="early",outcome="pass"}'), 1);
});

test('under handle() with a prefix, /metrics is served below it', async (t) => {
  const probe = createProbe({ metrics: true, state: 'READY' });
  t.after(() => probe.stop());
  const { createServer } = await import('node:http');
  const server = createServer((req, res) => {
    if (!probe.handle(req, res, '/internal')) {
      res.writeHead(418);
      res.end('host app');
    }
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(() => new Promise((resolve) => server.close(resolve)));
  const base = `http://127.0.0.1:${server.address().port}`;
  assert.equal((await get(`${base}/internal/metrics`)).status, 200);
  assert.equal((await get(`${base}/metrics`)).status, 418);
});

test('/metrics obeys the server limits: an oversized request head gets 431 and the connection closes', async (t) => {
  const probe = createProbe({ host: '127.0.0.1', port: 0, metrics: true, maxHeaderSize: 1024 });
  t.after(() => probe.stop());
  const { port } = await probe.start();
  const response = await rawRequest(port, `GET /metrics HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(2048)}\r\n\r\n`);
  assert.equal(response.status, 431);
  assert.equal(response.closed, true);
  const fine = await rawRequest(port, 'GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
  assert.equal(fine.status, 200);
  assert.match(fine.body, /^service_probe_up 1$/m);
});

test('while draining with readyWhileDraining, service_probe_ready follows /ready (1), and 0 without it', async (t) => {
  for (const readyWhileDraining of [true, false]) {
    const probe = createProbe({ host: '127.0.0.1', port: 0, metrics: true, state: 'READY' });
    t.after(() => probe.stop());
    const { port } = await probe.start();
    const base = `http://127.0.0.1:${port}`;
    const done = probe.shutdown({ drainDelayMs: 300, exit: false, readyWhileDraining });
    const ready = await get(`${base}/ready`);
    const values = await scrape(base);
    assert.equal(ready.status, readyWhileDraining ? 200 : 503);
    assert.equal(values.get('service_probe_ready'), readyWhileDraining ? 1 : 0);
    assert.equal(values.get('service_probe_state{state="DRAINING"}'), 1);
    assert.equal(values.get('service_probe_up'), 1);
    await done;
  }
});

test('no unhandled rejection in this file', () => {
  assert.deepEqual(unhandled, []);
});
