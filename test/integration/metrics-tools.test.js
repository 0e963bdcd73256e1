// /metrics read by the real tools: `promtool check metrics` (Debian's prometheus package) on the
// Prometheus text format, and python3-prometheus-client's parsers (Debian) on both formats — for
// expositions taken from a live probe through every state and check outcome. .ci/run installs both;
// in CI (CI set) a missing tool fails the test. Elsewhere a missing tool is reported as a
// diagnostic, and the npm parser's checks still run.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { METRIC_FAMILIES } from '../../dist/internal.js';
import { serve, get } from '../helpers/checks.js';
import { hasPromtool, hasPythonParser, parsePrometheus, parseWithPython, PROMETHEUS_ACCEPTS, promtoolCheck, requireTool } from '../helpers/metrics.js';

const OPENMETRICS_ACCEPT = PROMETHEUS_ACCEPTS['Prometheus 2 before scrape_protocols'];

/** Expositions of a live probe in every state and several check outcomes, both formats. */
async function expositions(t) {
  const { probe, base } = await serve(t, 'standalone', { metrics: true });
  const flags = { db: true, loop: true };
  probe.addCheck('db', () => flags.db);
  probe.addCheck('loop', () => flags.loop, { affects: 'liveness' });
  probe.addCheck('cache.redis:primary', () => ({ ok: true, observedValue: 3, observedUnit: 'ms' }), { critical: false, affects: 'both' });
  probe.addCheck('never-run', () => true);
  probe.addCheck('bg', () => new Promise(() => {}), { intervalMs: 60_000, timeoutMs: 60_000 });
  const taken = [];
  for (const state of ['UP', 'READY', 'DRAINING', 'DOWN']) {
    probe.setState(state);
    for (const [db, loop] of [[true, true], [false, true], [true, false]]) {
      Object.assign(flags, { db, loop });
      await get(`${base}/ready?exclude=never-run`);
      for (const format of ['prometheus', 'openmetrics']) {
        const response = await get(`${base}/metrics`, { headers: format === 'openmetrics' ? { accept: OPENMETRICS_ACCEPT } : {} });
        assert.equal(response.status, 200);
        taken.push({ label: `${state} db=${db} loop=${loop} ${format}`, format, text: response.body });
      }
    }
  }
  return taken;
}

test('promtool check metrics accepts the Prometheus text exposition in every state, without a lint finding', async (t) => {
  const taken = await expositions(t);
  for (const { label, format, text } of taken) {
    if (format !== 'prometheus') continue;
    const { families } = parsePrometheus(text);
    assert.equal(families.length, Object.keys(METRIC_FAMILIES).length, label);
  }
  if (!requireTool(t, hasPromtool(), 'promtool', "Debian's prometheus package")) return;
  for (const { label, format, text } of taken) {
    // promtool reads the Prometheus text format only (its parser has no OpenMetrics counters).
    if (format !== 'prometheus') continue;
    const { code, output } = await promtoolCheck(text);
    assert.deepEqual({ code, output }, { code: 0, output: '' }, `${label}\n${text}`);
  }
  // promtool does find faults: the check is not a no-op.
  const broken = await promtoolCheck('service_probe_up 1\nservice_probe_up 2\n');
  assert.notEqual(broken.code, 0);
});

test("python3-prometheus-client's parsers read both formats with the documented families, types, units and help", async (t) => {
  if (!requireTool(t, hasPythonParser(), 'python3-prometheus-client', "Debian's python3-prometheus-client package")) return;
  const taken = await expositions(t);
  const expected = Object.values(METRIC_FAMILIES).map((f) => ({
    name: f.type === 'counter' ? f.name.slice(0, -'_total'.length) : f.name,
    type: f.type,
    help: f.help,
  }));
  for (const { label, format, text } of taken) {
    const families = await parseWithPython(text, format);
    assert.deepEqual(families.map(({ name, type, help }) => ({ name, type, help })), expected, label);
    const unitOf = Object.fromEntries(families.map((f) => [f.name, f.unit]));
    if (format === 'openmetrics') {
      assert.equal(unitOf.service_probe_check_duration_seconds, 'seconds');
      assert.equal(unitOf.service_probe_check_last_success_timestamp_seconds, 'seconds');
    }
    // Both formats carry the same samples.
    const samples = families.flatMap((f) => f.samples.map((s) => `${s.name}${JSON.stringify(s.labels)} ${s.value}`));
    const mine = [...parsePrometheus(taken.find((x) => x.label === label.replace(/openmetrics$/, 'prometheus')).text).values.keys()];
    assert.equal(samples.length, mine.length, label);
  }
  // The OpenMetrics parser is strict: a missing # EOF is refused, so the check is not a no-op.
  const withoutEof = taken.find((x) => x.format === 'openmetrics').text.replace('# EOF\n', '');
  await assert.rejects(parseWithPython(withoutEof, 'openmetrics'));
});
