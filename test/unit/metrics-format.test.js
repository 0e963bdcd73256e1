// The pure parts of /metrics: the exposition text for a snapshot (both formats, escaping), the
// Accept negotiation and the route — without sockets.
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { compilePaths, escapeHelp, escapeLabelValue, EVENT_LOOP_STALL_FAMILY, formatValue, joinExpositions, METRIC_FAMILIES, metricsFormatFromAccept, metricsFormatOfContentType, OPENMETRICS_CONTENT_TYPE, PROMETHEUS_CONTENT_TYPE, renderFamilies, renderMetrics, route as routeWith } from '../../dist/internal.js';
import { staticGraph } from '../helpers/bundle.js';

// The tables a probe with `metrics: true` routes with: its own server's, and handle()'s.
const WITH_METRICS = compilePaths(undefined, 'paths', true);
const route = (method, target, accept, prefix = '', metrics = false) =>
  routeWith(method, target, accept, prefix, metrics ? (prefix === '' ? WITH_METRICS.standalone : WITH_METRICS.mounted) : undefined);
import { parsePrometheus } from '../helpers/metrics.js';

const SNAPSHOT = Object.freeze({
  state: 'READY',
  up: true,
  ready: false,
  started: true,
  checks: [
    { name: 'db', affects: 'readiness', ok: false, durationSeconds: 0.25, passes: 2, failures: 1, lastSuccessSeconds: 1764550000.5 },
    { name: 'loop', affects: 'liveness', ok: true, durationSeconds: 0.000012, passes: 7, failures: 0, lastSuccessSeconds: 1764550001 },
    { name: 'fresh', affects: 'both', ok: undefined, durationSeconds: undefined, passes: 0, failures: 0, lastSuccessSeconds: undefined },
  ],
});

test('the Prometheus text shows every family with HELP and TYPE, and a sample per state and check', () => {
  const text = renderMetrics(SNAPSHOT, 'prometheus');
  assert.ok(!text.includes('# EOF'));
  assert.ok(text.endsWith('\n'));
  const { values, families } = parsePrometheus(text);
  assert.deepEqual(
    families.map((f) => [f.name, f.type.toLowerCase()]),
    Object.values(METRIC_FAMILIES).map((f) => [f.name, f.type]),
  );
  for (const family of families) assert.equal(family.help, Object.values(METRIC_FAMILIES).find((f) => f.name === family.name).help);
  assert.deepEqual(Object.fromEntries(values), {
    service_probe_up: 1,
    service_probe_ready: 0,
    service_probe_started: 1,
    'service_probe_state{state="UP"}': 0,
    'service_probe_state{state="READY"}': 1,
    'service_probe_state{state="DRAINING"}': 0,
    'service_probe_state{state="DOWN"}': 0,
    'service_probe_check_status{affects="readiness",check="db"}': 0,
    'service_probe_check_status{affects="liveness",check="loop"}': 1,
    'service_probe_check_duration_seconds{check="db"}': 0.25,
    'service_probe_check_duration_seconds{check="loop"}': 0.000012,
    'service_probe_check_runs_total{check="db",outcome="pass"}': 2,
    'service_probe_check_runs_total{check="db",outcome="fail"}': 1,
    'service_probe_check_runs_total{check="loop",outcome="pass"}': 7,
    'service_probe_check_runs_total{check="loop",outcome="fail"}': 0,
    'service_probe_check_runs_total{check="fresh",outcome="pass"}': 0,
    'service_probe_check_runs_total{check="fresh",outcome="fail"}': 0,
    'service_probe_check_last_success_timestamp_seconds{check="db"}': 1764550000.5,
    'service_probe_check_last_success_timestamp_seconds{check="loop"}': 1764550001,
  });
});

test('OpenMetrics names a counter family without _total, adds UNIT for seconds and ends with # EOF', () => {
  const text = renderMetrics(SNAPSHOT, 'openmetrics');
  assert.ok(text.endsWith('\n# EOF\n'));
  assert.match(text, /^# TYPE service_probe_check_runs counter$/m);
  assert.match(text, /^# HELP service_probe_check_runs Finished runs/m);
  assert.match(text, /^service_probe_check_runs_total\{check="db",outcome="pass"\} 2$/m);
  assert.match(text, /^# UNIT service_probe_check_duration_seconds seconds$/m);
  assert.match(text, /^# UNIT service_probe_check_last_success_timestamp_seconds seconds$/m);
  // Apart from those lines, the samples are the Prometheus text's.
  const samples = (t) => t.split('\n').filter((line) => line !== '' && !line.startsWith('#'));
  assert.deepEqual(samples(text), samples(renderMetrics(SNAPSHOT, 'prometheus')));
});

test('the families alone are the exposition without # EOF, in both formats', () => {
  assert.equal(renderFamilies(SNAPSHOT, 'prometheus'), renderMetrics(SNAPSHOT, 'prometheus'));
  const families = renderFamilies(SNAPSHOT, 'openmetrics');
  assert.ok(!families.includes('# EOF'));
  assert.ok(families.endsWith('\n'));
  assert.equal(`${families}# EOF\n`, renderMetrics(SNAPSHOT, 'openmetrics'));
});

test('joining puts the probe\'s families first and, in OpenMetrics, exactly one # EOF at the very end', () => {
  const probe = '# TYPE service_probe_up gauge\nservice_probe_up 1\n';
  const theirs = '# HELP app_up Up.\n# TYPE app_up gauge\napp_up 1';
  // prom-client's shapes: families joined by a blank line (Prometheus text), `# EOF` last (OpenMetrics).
  assert.equal(joinExpositions(probe, `${theirs}\n\n${theirs.replaceAll('app_up', 'app_ok')}\n`, 'prometheus'), `${probe}${theirs}\n\n${theirs.replaceAll('app_up', 'app_ok')}\n`);
  assert.equal(joinExpositions(probe, `${theirs}\n# EOF\n`, 'openmetrics'), `${probe}${theirs}\n# EOF\n`);
  // An exposition without its # EOF, or without a final line feed, gets them.
  assert.equal(joinExpositions(probe, theirs, 'openmetrics'), `${probe}${theirs}\n# EOF\n`);
  assert.equal(joinExpositions(probe, theirs, 'prometheus'), `${probe}${theirs}\n`);
  // An empty registry: prom-client writes '\n' and '\n# EOF\n'; OpenMetrics allows no blank line.
  assert.equal(joinExpositions(probe, '\n', 'prometheus'), probe);
  assert.equal(joinExpositions(probe, '\n# EOF\n', 'openmetrics'), `${probe}# EOF\n`);
  assert.equal(joinExpositions(probe, '# EOF', 'openmetrics'), `${probe}# EOF\n`);
  // Only a whole last line is OpenMetrics' end; in the Prometheus text nothing is taken off.
  assert.equal(joinExpositions(probe, 'a 1\nb 2 # EOF\n', 'openmetrics'), `${probe}a 1\nb 2 # EOF\n# EOF\n`);
  assert.equal(joinExpositions(probe, `${theirs}\n# EOF\n`, 'prometheus'), `${probe}${theirs}\n# EOF\n`);
});

test('a registry content type names its format only when it is exactly one of the two /metrics sends', () => {
  assert.equal(metricsFormatOfContentType(PROMETHEUS_CONTENT_TYPE), 'prometheus');
  assert.equal(metricsFormatOfContentType(OPENMETRICS_CONTENT_TYPE), 'openmetrics');
  for (const other of ['text/plain', 'application/openmetrics-text', 'application/json', '', undefined, 1]) assert.equal(metricsFormatOfContentType(other), undefined, String(other));
});

test('worker mode adds the stall gauge after the state, in both formats; inline snapshots have none', () => {
  assert.ok(!renderMetrics(SNAPSHOT, 'prometheus').includes('event_loop_stall'));
  const stalled = { ...SNAPSHOT, eventLoopStallSeconds: 1.283 };
  const text = renderMetrics(stalled, 'prometheus');
  const { families, values } = parsePrometheus(text);
  const names = families.map((f) => f.name);
  assert.equal(names.indexOf(EVENT_LOOP_STALL_FAMILY.name), names.indexOf('service_probe_state') + 1);
  assert.equal(values.get('service_probe_event_loop_stall_seconds'), 1.283);
  assert.equal(families.find((f) => f.name === EVENT_LOOP_STALL_FAMILY.name).help, EVENT_LOOP_STALL_FAMILY.help);
  const open = renderMetrics(stalled, 'openmetrics');
  assert.match(open, /^# UNIT service_probe_event_loop_stall_seconds seconds\nservice_probe_event_loop_stall_seconds 1\.283$/m);
  assert.equal(escapeHelp(EVENT_LOOP_STALL_FAMILY.help, true), EVENT_LOOP_STALL_FAMILY.help);
});

test('a probe without checks still shows the state families, and empty check families', () => {
  const text = renderMetrics({ state: 'DOWN', up: false, ready: false, started: false, checks: [] }, 'prometheus');
  const { values } = parsePrometheus(text);
  assert.equal(values.get('service_probe_up'), 0);
  assert.equal(values.get('service_probe_state{state="DOWN"}'), 1);
  assert.match(text, /^# TYPE service_probe_check_status gauge$/m);
  assert.ok(![...values.keys()].some((key) => key.includes('check=')));
});

test('label values escape backslash, double quote and line feed; HELP escapes per format', () => {
  assert.equal(escapeLabelValue('plain-name.1:x'), 'plain-name.1:x');
  assert.equal(escapeLabelValue('a\\b"c\nd'), 'a\\\\b\\"c\\nd');
  assert.equal(escapeHelp('x\\y\nz "q"', false), 'x\\\\y\\nz "q"');
  assert.equal(escapeHelp('x\\y\nz "q"', true), 'x\\\\y\\nz \\"q\\"');
  // Through a real parser: the value comes back as it was.
  const odd = 'a\\b"c\nd';
  const text = renderMetrics({ ...SNAPSHOT, checks: [{ ...SNAPSHOT.checks[0], name: odd }] }, 'prometheus');
  assert.equal(parsePrometheus(text).values.get(`service_probe_check_runs_total{check=${JSON.stringify(odd)},outcome="pass"}`), 2);
});

test('values use the formats\' float syntax', () => {
  assert.deepEqual([1, 0, 0.5, 1e-7, 1764550000.123, NaN, Infinity, -Infinity].map(formatValue), ['1', '0', '0.5', '1e-7', '1764550000.123', 'NaN', '+Inf', '-Inf']);
});

test('HELP texts say that reading /metrics never runs a check, and need no escaping', () => {
  for (const family of Object.values(METRIC_FAMILIES)) {
    assert.equal(escapeHelp(family.help, true), family.help, family.name);
    assert.match(family.name, /^service_probe_[a-z_]+$/);
  }
  for (const name of ['up', 'ready', 'status']) assert.match(METRIC_FAMILIES[name].help, /never runs a check/);
});

test('OpenMetrics is chosen only when the client prefers it', () => {
  const table = [
    [undefined, 'prometheus'],
    ['*/*', 'prometheus'],
    ['text/plain', 'prometheus'],
    ['text/plain;version=0.0.4;q=0.9,*/*;q=0.1', 'prometheus'],
    // Prometheus 2.x's scrape header.
    ['application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1', 'openmetrics'],
    ['application/openmetrics-text', 'openmetrics'],
    ['Application/OpenMetrics-Text; version=1.0.0', 'openmetrics'],
    ['application/openmetrics-text;version=0.0.1', 'openmetrics'],
    ['application/openmetrics-text;q=0', 'prometheus'],
    ['application/openmetrics-text;version=2.0.0', 'prometheus'],
    ['text/plain;q=1,application/openmetrics-text;q=0.5', 'prometheus'],
    ['text/plain;q=0.5,application/openmetrics-text;q=0.5', 'openmetrics'],
    ['application/openmetrics-text;q=abc', 'prometheus'],
    ['application/openmetrics-text;charset', 'openmetrics'],
  ];
  for (const [accept, expected] of table) assert.equal(metricsFormatFromAccept(accept), expected, String(accept));
});

test('/metrics is a probe path only when metrics are on; GET and HEAD are served, other methods 405', () => {
  assert.deepEqual(route('GET', '/metrics'), { kind: 'not-found', owned: false });
  assert.deepEqual(route('POST', '/metrics'), { kind: 'method-not-allowed', owned: false });
  assert.deepEqual(route('GET', '/metrics', undefined, '', true), { kind: 'metrics', format: 'prometheus' });
  assert.deepEqual(route('GET', '/metrics/?x=1', 'application/openmetrics-text', '', true), { kind: 'metrics', format: 'openmetrics' });
  assert.deepEqual(route('HEAD', 'http://host/metrics', undefined, '', true), { kind: 'metrics', format: 'prometheus' });
  assert.deepEqual(route('DELETE', '/metrics', undefined, '', true), { kind: 'method-not-allowed', owned: true });
  assert.deepEqual(route('GET', '/internal/metrics', undefined, '/internal', true), { kind: 'metrics', format: 'prometheus' });
  for (const path of ['/metrics/x', '/Metrics', '/metric', '/metrics//', '/internal/metrics']) {
    assert.equal(route('GET', path, undefined, '', true).kind, 'not-found', path);
  }
  // Shared route objects: the same request twice allocates no new route.
  assert.equal(route('GET', '/metrics', undefined, '', true), route('GET', '/metrics', undefined, '', true));
});

test('docs/metrics.md lists every family with its exact type, labels and HELP text', () => {
  const doc = readFileSync(new URL('../../docs/metrics.md', import.meta.url), 'utf8');
  const rows = [...doc.matchAll(/^\| `(service_probe_\w+)` \| (\w+) \| ([^|]*) \| (.*) \|$/gm)].map(([, name, type, labels, help]) => ({
    name,
    type,
    labels: labels.trim() === '—' ? [] : [...labels.matchAll(/`(\w+)`/g)].map((m) => m[1]),
    help,
  }));
  // Worker mode's stall gauge last: it is documented with the others.
  assert.deepEqual(rows, [...Object.values(METRIC_FAMILIES), EVENT_LOOP_STALL_FAMILY].map(({ name, type, labels, help }) => ({ name, type, labels: [...labels], help })));
});

test('a service that does not turn metrics on does not load their code: no static import reaches it', () => {
  const main = staticGraph(fileURLToPath(new URL('../../dist/index.js', import.meta.url)));
  const metricsChunks = [...main.dynamic].filter((file) => /\/metrics-endpoint\.js$/.test(file));
  assert.equal(metricsChunks.length, 1, 'the metrics code is a file of its own, imported on first use');
  assert.ok(!main.files.has(metricsChunks[0]), 'and no static import loads it');
  assert.ok(![...main.files].some((file) => readFileSync(file, 'utf8').includes('service_probe_check_runs')), 'no metric family name in the static graph');
});

test('require("service-probe") from CommonJS serves /metrics too', async () => {
  const { createProbe } = createRequire(import.meta.url)('service-probe');
  const probe = createProbe({ host: '127.0.0.1', port: 0, metrics: true, state: 'READY' });
  const { port } = await probe.start();
  try {
    const response = await fetch(`http://127.0.0.1:${port}/metrics`, { headers: { connection: 'close' } });
    assert.equal(response.status, 200);
    assert.match(await response.text(), /^service_probe_ready 1$/m);
  } finally {
    await probe.stop();
  }
});
