// The recipes of docs/metrics.md, run as written: the probe's families beside prom-client's on an
// Express app's /metrics, and feeding your own meters with the real prom-client and
// @opentelemetry/api + @opentelemetry/sdk-metrics, with the metrics read back from each library.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import express from 'express';
import client from 'prom-client';
import { metrics } from '@opentelemetry/api';
import { MeterProvider, MetricReader } from '@opentelemetry/sdk-metrics';
import * as serviceProbe from '../../dist/index.js';
import { serve, get } from '../helpers/checks.js';
import { hasPythonParser, parseWithPython, PROMETHEUS_ACCEPTS, requireTool } from '../helpers/metrics.js';

const page = readFileSync(new URL('../../docs/metrics.md', import.meta.url), 'utf8');
const AsyncFunction = (async () => {}).constructor;
/** What the recipes import, by module name. */
const MODULES = { express: { default: express }, 'prom-client': { default: client }, '@opentelemetry/api': { metrics }, 'service-probe': serviceProbe };

/**
 * The page's ```js block that starts with `firstLine`, as an async function: its import lines
 * (first, in the forms `import x from 'm'` and `import { a, b } from 'm'`) are replaced by the
 * names they import, `given` supplies names the block uses without declaring (`probe`), and the
 * function returns the block's own `returns` names. Nothing else is changed.
 */
function recipe(firstLine, { given = {}, returns = [] } = {}) {
  const block = [...page.matchAll(/^```js\n([\s\S]*?)^```$/gm)].map((m) => m[1]).find((code) => code.startsWith(`${firstLine}\n`));
  assert.ok(block, `docs/metrics.md has no js block starting with ${firstLine}`);
  const lines = block.split('\n');
  const names = { ...given };
  while (lines[0].startsWith('import ')) {
    const line = lines.shift();
    const [, single, list, from] = /^import (?:(\w+)|\{ ([\w, ]+) \}) from '([^']+)';$/.exec(line) ?? [];
    assert.ok(MODULES[from], `an import this test provides: ${line}`);
    if (single !== undefined) names[single] = MODULES[from].default;
    else for (const name of list.split(', ')) names[name] = MODULES[from][name];
  }
  const body = lines.join('\n');
  assert.ok(!/^import /m.test(body), 'the recipe imports on its first lines only');
  return () => new AsyncFunction(...Object.keys(names), `${body}\nreturn { ${returns.join(', ')} };`)(...Object.values(names));
}

/** A probe behind its own server with a check whose result the test decides, and its base URL. */
async function probeWithCheck(t) {
  const { probe, base } = await serve(t, 'standalone', { state: 'READY' });
  const control = { ok: true };
  probe.addCheck('db', () => control.ok);
  probe.addCheck('loop', () => true, { affects: 'liveness' });
  return { probe, base, control };
}

test("the beside-prom-client recipe serves prom-client's metrics and the probe's on the app's one /metrics, in either format of the registry", async (t) => {
  const register = client.register;
  register.clear();
  t.after(() => {
    register.clear();
    register.setContentType(client.prometheusContentType);
  });
  const { probe, app } = await recipe("import express from 'express';", { returns: ['probe', 'app'] })();
  t.after(() => probe.stop());
  const control = { ok: true };
  probe.addCheck('db', () => control.ok);
  const server = app.listen(0, '127.0.0.1');
  await once(server, 'listening');
  t.after(() => new Promise((resolve) => {
    server.closeAllConnections();
    server.close(resolve);
  }));
  const base = `http://127.0.0.1:${server.address().port}`;
  const scrape = async () => {
    const response = await get(`${base}/metrics`, { headers: { accept: PROMETHEUS_ACCEPTS['Prometheus 3'] } });
    assert.equal(response.status, 200);
    return response;
  };

  assert.equal((await get(`${base}/ready`)).status, 200);
  let { headers, body } = await scrape();
  assert.equal(headers['content-type'], client.prometheusContentType);
  assert.match(body, /^service_probe_ready 1$/m);
  assert.match(body, /^service_probe_check_runs_total\{check="db",outcome="pass"\} 1$/m);
  assert.match(body, /^process_cpu_user_seconds_total \d/m);

  control.ok = false;
  assert.equal((await get(`${base}/ready`)).status, 503);
  probe.setState('DRAINING');
  register.setContentType(client.openMetricsContentType);
  ({ headers, body } = await scrape());
  assert.equal(headers['content-type'], client.openMetricsContentType);
  assert.match(body, /^service_probe_ready 0$/m);
  assert.match(body, /^service_probe_state\{state="DRAINING"\} 1$/m);
  assert.match(body, /^service_probe_check_runs_total\{check="db",outcome="fail"\} 1$/m);
  assert.match(body, /^process_cpu_user_seconds_total \d/m);
  assert.deepEqual(body.split('\n').filter((line) => line.startsWith('# EOF')), ['# EOF']);
  assert.ok(body.endsWith('\n# EOF\n'));
  if (requireTool(t, hasPythonParser(), 'python3-prometheus-client', "Debian's python3-prometheus-client package")) {
    const families = await parseWithPython(body, 'openmetrics');
    assert.ok(families.some((family) => family.name === 'service_probe_check_runs') && families.some((family) => family.name === 'process_cpu_user_seconds'));
  }
});

test('the prom-client recipe counts runs by outcome, observes durations and keeps the latest status', async (t) => {
  const register = client.register;
  register.clear();
  t.after(() => register.clear());
  const { probe, base, control } = await probeWithCheck(t);
  await recipe("import client from 'prom-client';", { given: { probe } })();

  await get(`${base}/ready`);
  await get(`${base}/ready`);
  control.ok = false;
  await get(`${base}/ready`);

  const byName = Object.fromEntries((await register.getMetricsAsJSON()).map((m) => [m.name, m]));
  const value = (name, labels) => byName[name].values.find((v) => Object.entries(labels).every(([k, x]) => v.labels[k] === x) && Object.keys(v.labels).length === Object.keys(labels).length)?.value;
  assert.equal(value('app_health_check_runs_total', { check: 'db', outcome: 'pass' }), 2);
  assert.equal(value('app_health_check_runs_total', { check: 'db', outcome: 'fail' }), 1);
  assert.equal(value('app_health_check_runs_total', { check: 'loop', outcome: 'pass' }), 3);
  assert.equal(value('app_health_check_status', { check: 'db' }), 0);
  assert.equal(value('app_health_check_status', { check: 'loop' }), 1);
  const count = byName.app_health_check_duration_seconds.values.find((v) => v.metricName === 'app_health_check_duration_seconds_count' && v.labels.check === 'db');
  assert.equal(count.value, 3);
  // And what a scrape of the service's own registry shows.
  assert.match(await register.metrics(), /^app_health_check_runs_total\{check="db",outcome="fail"\} 1$/m);
});

class CollectingReader extends MetricReader {
  async onForceFlush() {}
  async onShutdown() {}
}

test('the OpenTelemetry recipe counts runs, records durations and observes the latest status through the SDK', async (t) => {
  const reader = new CollectingReader();
  const provider = new MeterProvider({ readers: [reader] });
  metrics.setGlobalMeterProvider(provider);
  t.after(async () => {
    metrics.disable();
    await provider.shutdown();
  });
  const { probe, base, control } = await probeWithCheck(t);
  await recipe("import { metrics } from '@opentelemetry/api';", { given: { probe } })();

  await get(`${base}/ready`);
  control.ok = false;
  await get(`${base}/ready`);
  await get(`${base}/ready`);

  const { resourceMetrics, errors } = await reader.collect();
  assert.deepEqual(errors, []);
  const all = resourceMetrics.scopeMetrics.flatMap((scope) => scope.metrics);
  const points = (name) => {
    const metric = all.find((m) => m.descriptor.name === name);
    assert.ok(metric, `${name} not collected`);
    return metric.dataPoints;
  };
  const point = (name, attributes) =>
    points(name).find((p) => Object.keys(attributes).length === Object.keys(p.attributes).length && Object.entries(attributes).every(([k, v]) => p.attributes[k] === v));
  assert.equal(point('app.health_check.runs', { check: 'db', outcome: 'pass' }).value, 1);
  assert.equal(point('app.health_check.runs', { check: 'db', outcome: 'fail' }).value, 2);
  assert.equal(point('app.health_check.runs', { check: 'loop', outcome: 'pass' }).value, 3);
  assert.equal(point('app.health_check.duration', { check: 'db' }).value.count, 3);
  assert.equal(all.find((m) => m.descriptor.name === 'app.health_check.duration').descriptor.unit, 's');
  assert.equal(point('app.health_check.status', { check: 'db' }).value, 0);
  assert.equal(point('app.health_check.status', { check: 'loop' }).value, 1);
});
