// The "feeding your own meters" recipes of docs/metrics.md, run as written against the real prom-client and
// @opentelemetry/api + @opentelemetry/sdk-metrics, with the metrics read back from each library.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import client from 'prom-client';
import { metrics } from '@opentelemetry/api';
import { MeterProvider, MetricReader } from '@opentelemetry/sdk-metrics';
import { serve, get } from '../helpers/checks.js';

const page = readFileSync(new URL('../../docs/metrics.md', import.meta.url), 'utf8');
const AsyncFunction = (async () => {}).constructor;

/**
 * The page's ```js block that starts with `importLine`, as a function of `probe` and the names
 * it imports (its import line is replaced by parameters; nothing else is changed).
 */
function recipe(importLine, names) {
  const block = [...page.matchAll(/^```js\n([\s\S]*?)^```$/gm)].map((m) => m[1]).find((code) => code.startsWith(`${importLine}\n`));
  assert.ok(block, `docs/metrics.md has no js block starting with ${importLine}`);
  const body = block.slice(importLine.length + 1);
  assert.ok(!/^import /m.test(body), 'the recipe imports only what its first line does');
  return new AsyncFunction('probe', ...names, body);
}

/** A probe behind its own server with a check whose result the test decides, and its base URL. */
async function probeWithCheck(t) {
  const { probe, base } = await serve(t, 'standalone', { state: 'READY' });
  const control = { ok: true };
  probe.addCheck('db', () => control.ok);
  probe.addCheck('loop', () => true, { affects: 'liveness' });
  return { probe, base, control };
}

test('the prom-client recipe counts runs by outcome, observes durations and keeps the latest status', async (t) => {
  const register = client.register;
  register.clear();
  t.after(() => register.clear());
  const { probe, base, control } = await probeWithCheck(t);
  await recipe("import client from 'prom-client';", ['client'])(probe, client);

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
  await recipe("import { metrics } from '@opentelemetry/api';", ['metrics'])(probe, metrics);

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
