// The probe's metrics beside prom-client's on the service's own /metrics (combineMetrics,
// probeMetrics): a real node:http service with prom-client's default metrics, scraped with the
// Accept headers Prometheus sends, and read by promtool and python3-prometheus-client's parsers in
// both formats. The naive way (the two expositions one after the other) is shown to break
// OpenMetrics, which ends at its first `# EOF`.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import client from 'prom-client';
import { combineMetrics, createProbe, probeMetrics, ProbeArgumentError } from '../../dist/index.js';
import { get } from '../helpers/checks.js';
import { hasPromtool, hasPythonParser, parsePrometheus, parseWithPython, PROMETHEUS_ACCEPTS, promtoolCheck, requireTool } from '../helpers/metrics.js';

const FORMATS = { prometheus: client.prometheusContentType, openmetrics: client.openMetricsContentType };
const PROBE_FAMILIES = 8;

/**
 * A service as the docs show it: its own node:http server answering the probe paths through
 * `probe.handle()`, `/metrics` from combineMetrics over a registry with prom-client's default
 * metrics and a counter of the app's own, and everything else as the app. Resolves the probe,
 * the registry, the base URL and the check's switch.
 */
async function service(t, contentType, probeOptions = {}) {
  const registry = new client.Registry(contentType);
  client.collectDefaultMetrics({ register: registry });
  const requests = new client.Counter({ name: 'app_requests_total', help: 'Requests the app answered.', registers: [registry] });
  const probe = createProbe({ host: '127.0.0.1', port: 0, state: 'READY', metrics: 'collect', ...probeOptions });
  const flags = { db: true };
  probe.addCheck('db', () => flags.db);
  const server = createServer(async (req, res) => {
    if (probe.handle(req, res)) return;
    if (req.url === '/metrics') {
      const { contentType: type, body } = await combineMetrics(probe, registry);
      res.writeHead(200, { 'Content-Type': type }).end(body);
      return;
    }
    requests.inc();
    res.end('app');
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
    await probe.stop();
  });
  return { probe, registry, flags, base: `http://127.0.0.1:${server.address().port}` };
}

/** Asserts that the exposition has the sample line `key value`. */
function assertSample(body, key, value) {
  assert.ok(body.split('\n').includes(`${key} ${value}`), `no sample ${key} ${value} in\n${body}`);
}

/** The names in the `# TYPE` lines: every family once. */
function typeNames(body) {
  return body.split('\n').filter((line) => line.startsWith('# TYPE ')).map((line) => line.split(' ')[2]);
}

for (const [format, contentType] of Object.entries(FORMATS)) {
  test(`[${format}] one /metrics carries prom-client's default metrics, the app's and the probe's families, with values that follow the state and the checks`, async (t) => {
    const { probe, registry, flags, base } = await service(t, contentType);
    const scrape = async (accept) => {
      const response = await get(`${base}/metrics`, { headers: accept === undefined ? {} : { accept } });
      assert.equal(response.status, 200);
      // The registry's format, whatever the Accept: prom-client renders one format per registry.
      assert.equal(response.headers['content-type'], contentType);
      return response.body;
    };
    assert.equal((await get(`${base}/ready`)).status, 200);
    assert.equal((await get(`${base}/orders`)).body, 'app');
    let body = await scrape(PROMETHEUS_ACCEPTS['Prometheus 3']);
    assertSample(body, 'service_probe_ready', 1);
    assertSample(body, 'service_probe_state{state="READY"}', 1);
    assertSample(body, 'service_probe_check_status{check="db",affects="readiness"}', 1);
    assertSample(body, 'service_probe_check_runs_total{check="db",outcome="pass"}', 1);
    assertSample(body, 'service_probe_check_runs_total{check="db",outcome="fail"}', 0);
    assertSample(body, 'app_requests_total', 1);
    assert.match(body, /^process_cpu_user_seconds_total \d/m);
    assert.match(body, /^nodejs_heap_size_used_bytes \d/m);

    flags.db = false;
    assert.equal((await get(`${base}/ready`)).status, 503);
    probe.setState('DOWN');
    const bodies = [];
    for (const accept of Object.values(PROMETHEUS_ACCEPTS)) bodies.push(await scrape(accept));
    bodies.push(await scrape(undefined));
    for (const each of bodies) {
      assertSample(each, 'service_probe_up', 0);
      assertSample(each, 'service_probe_ready', 0);
      assertSample(each, 'service_probe_state{state="READY"}', 0);
      assertSample(each, 'service_probe_state{state="DOWN"}', 1);
      assertSample(each, 'service_probe_check_status{check="db",affects="readiness"}', 0);
      assertSample(each, 'service_probe_check_runs_total{check="db",outcome="pass"}', 1);
      assertSample(each, 'service_probe_check_runs_total{check="db",outcome="fail"}', 1);
      // Each family once: the probe's names are not prom-client's.
      const names = typeNames(each);
      assert.deepEqual(names.length, new Set(names).size);
      assert.equal(names.filter((name) => name.startsWith('service_probe_')).length, PROBE_FAMILIES);
      assert.ok(names.length > PROBE_FAMILIES + 20, `prom-client's default metrics are there too (${names.length} families)`);
      // The probe's families first; in OpenMetrics one # EOF, last.
      assert.ok(each.startsWith('# HELP service_probe_up '));
      assert.equal(each.split('\n').filter((line) => line === '# EOF').length, format === 'openmetrics' ? 1 : 0);
      if (format === 'openmetrics') assert.ok(each.endsWith('\n# EOF\n'));
    }
    body = bodies[0];

    if (format === 'prometheus') {
      const { values } = parsePrometheus(body);
      assert.equal(values.get('service_probe_state{state="DOWN"}'), 1);
      assert.equal(values.get('app_requests_total'), 1);
    }
    if (format === 'prometheus' && requireTool(t, hasPromtool(), 'promtool', "Debian's prometheus package")) {
      // prom-client's default metrics have lint findings of their own (gauges named *_total):
      // the combined exposition parses (exit 1 is a parse error) and adds none.
      const alone = await promtoolCheck(await registry.metrics());
      const combined = await promtoolCheck(body);
      assert.notEqual(combined.code, 1, combined.output);
      const findings = (output) => [...new Set(output.split('\n').filter(Boolean))].sort();
      assert.deepEqual(findings(combined.output), findings(alone.output));
      assert.ok(!combined.output.includes('service_probe_'), combined.output);
    }
    if (requireTool(t, hasPythonParser(), 'python3-prometheus-client', "Debian's python3-prometheus-client package")) {
      const families = await parseWithPython(body, format);
      const byName = new Map(families.map((family) => [family.name, family]));
      assert.equal(byName.size, families.length);
      assert.equal(byName.get('service_probe_check_runs').type, 'counter');
      assert.equal(byName.get('service_probe_check_duration_seconds').type, 'gauge');
      assert.equal(byName.get('service_probe_state').samples.find((s) => s.labels.state === 'DOWN').value, 1);
      assert.equal(byName.get('app_requests').samples.find((s) => s.name === 'app_requests_total').value, 1);
      assert.equal(byName.get('process_cpu_user_seconds').type, 'counter');
      if (format === 'openmetrics') assert.equal(byName.get('service_probe_check_last_success_timestamp_seconds').unit, 'seconds');
    }
  });
}

test('the naive concatenation puts # EOF mid-body and the OpenMetrics parser refuses it; combineMetrics places one # EOF at the end', async (t) => {
  // A probe that serves /metrics itself too: combineMetrics works beside it, with the same families.
  const { probe, registry, base } = await service(t, client.openMetricsContentType, { metrics: true });
  await probe.answer('GET', '/ready', undefined);
  // That probe answers /metrics itself through handle() at the root, before the app's route: what
  // metrics: 'collect' is for.
  const shadowed = (await get(`${base}/metrics`)).body;
  assert.match(shadowed, /^service_probe_up 1$/m);
  assert.ok(!shadowed.includes('process_cpu'));
  const own = (await probe.answer('GET', '/metrics', PROMETHEUS_ACCEPTS['Prometheus 3'])).body.toString();
  assert.ok(own.endsWith('\n# EOF\n'));
  const theirs = await registry.metrics();
  const naive = [own + theirs, theirs + own];
  const { contentType, body } = await combineMetrics(probe, registry);
  assert.equal(contentType, client.openMetricsContentType);
  assert.ok(body.startsWith(own.slice(0, -'# EOF\n'.length)), 'the probe part is what its own /metrics shows');
  for (const text of naive) assert.equal(text.split('\n').filter((line) => line === '# EOF').length, 2);
  assert.equal(body.split('\n').filter((line) => line === '# EOF').length, 1);
  if (!requireTool(t, hasPythonParser(), 'python3-prometheus-client', "Debian's python3-prometheus-client package")) return;
  for (const text of naive) await assert.rejects(parseWithPython(text, 'openmetrics'), /after # EOF/);
  const families = await parseWithPython(body, 'openmetrics');
  assert.equal(families.filter((family) => family.name.startsWith('service_probe_')).length, PROBE_FAMILIES);
  assert.ok(families.some((family) => family.name === 'process_cpu_user_seconds'));
});

test("prom-client renders one format per registry: after one OpenMetrics render its text format drops counters' _total (so the registry's format decides, not Accept)", async () => {
  const registry = new client.Registry();
  new client.Counter({ name: 'app_requests_total', help: 'Requests.', registers: [registry] }).inc();
  assert.match(await registry.metrics(), /^app_requests_total 1$/m);
  registry.setContentType(client.openMetricsContentType);
  await registry.metrics();
  registry.setContentType(client.prometheusContentType);
  assert.match(await registry.metrics(), /^app_requests 1$/m);
});

test("metrics: 'collect' serves no /metrics on the probe's port, and leaves /metrics to the app under handle()", async (t) => {
  const { probe, base } = await service(t, client.prometheusContentType);
  const { port } = await probe.start();
  assert.deepEqual([(await get(`http://127.0.0.1:${port}/metrics`)).status], [404]);
  assert.equal((await get(`http://127.0.0.1:${port}/ready`)).status, 200);
  // The app's /metrics (handle() did not take it) and probeMetrics agree.
  const response = await get(`${base}/metrics`);
  assert.ok(response.body.startsWith(await probeMetrics(probe)));
});

test("in worker mode with metrics: 'collect' the worker serves no /metrics and the main thread counts every run", async (t) => {
  const probe = createProbe({ host: '127.0.0.1', port: 0, state: 'READY', worker: true, metrics: 'collect' });
  t.after(() => probe.stop());
  probe.addCheck('db', () => true);
  const { port } = await probe.start();
  assert.equal((await get(`http://127.0.0.1:${port}/metrics`)).status, 404);
  assert.equal((await get(`http://127.0.0.1:${port}/ready`)).status, 200);
  await probe.answer('GET', '/ready', undefined);
  const text = await probeMetrics(probe);
  assert.match(text, /^service_probe_check_runs_total\{check="db",outcome="pass"\} 2$/m);
  // Answered on the main thread, which is running: no stall gauge.
  assert.ok(!text.includes('service_probe_event_loop_stall_seconds'));
});

test('probeMetrics gives the families without # EOF in both formats, runs no check, and misses no run', async (t) => {
  const probe = createProbe({ metrics: 'collect' });
  t.after(() => probe.stop());
  let runs = 0;
  probe.addCheck('db', () => {
    runs++;
    return true;
  });
  // A run that finishes before the metrics code has loaded, and one after every 'check' listener is gone.
  await probe.answer('GET', '/ready', undefined);
  probe.removeAllListeners('check');
  await probe.answer('GET', '/ready', undefined);
  assert.equal(runs, 2);
  const prometheus = await probeMetrics(probe);
  const openmetrics = await probeMetrics(probe, { format: 'openmetrics' });
  await probeMetrics(probe, { format: 'prometheus' });
  assert.equal(runs, 2, 'reading the metrics ran no check');
  for (const text of [prometheus, openmetrics]) {
    assert.ok(!text.includes('# EOF'));
    assert.ok(text.endsWith('\n'));
    assertSample(text, 'service_probe_check_runs_total{check="db",outcome="pass"}', 2);
  }
  assert.match(prometheus, /^# TYPE service_probe_check_runs_total counter$/m);
  assert.match(openmetrics, /^# TYPE service_probe_check_runs counter$/m);
  assert.match(openmetrics, /^# UNIT service_probe_check_duration_seconds seconds$/m);
});

test('bad arguments reject a ProbeArgumentError naming them, and nothing is read', async () => {
  const isArgumentError = (argument, text) => (error) => error instanceof ProbeArgumentError && error.argument === argument && error.message.includes(text);
  const probe = createProbe({ metrics: 'collect' });
  const registry = new client.Registry();
  for (const notCounting of [createProbe(), {}, undefined]) {
    await assert.rejects(probeMetrics(notCounting), isArgumentError('probe', "metrics: 'collect' or true"));
    await assert.rejects(combineMetrics(notCounting, registry), isArgumentError('probe', "metrics: 'collect' or true"));
  }
  await assert.rejects(probeMetrics(probe, { format: 'json' }), isArgumentError('options.format', "'json'"));
  await assert.rejects(probeMetrics(probe, { accept: 'text/plain' }), isArgumentError('options.accept', 'known options'));
  await assert.rejects(probeMetrics(probe, 'openmetrics'), isArgumentError('options', 'an object'));
  for (const notARegistry of [undefined, null, 'text', { contentType: client.prometheusContentType }]) {
    await assert.rejects(combineMetrics(probe, notARegistry), isArgumentError('registry', 'a prom-client Registry'));
  }
  let read = 0;
  const reading = (contentType, text) => ({ contentType, metrics: async () => (read++, text) });
  await assert.rejects(combineMetrics(probe, reading('text/plain', '')), isArgumentError('registry.contentType', "'text/plain'"));
  assert.equal(read, 0, 'a registry in an unknown format is not read');
  await assert.rejects(combineMetrics(probe, reading(client.prometheusContentType, 42)), isArgumentError('registry.metrics()', 'a string'));
  const failure = new Error('collect failed');
  await assert.rejects(combineMetrics(probe, { contentType: client.prometheusContentType, metrics: async () => Promise.reject(failure) }), (error) => error === failure);
});
