// Reads a /metrics exposition with real parsers: parse-prometheus-text-format (npm) for the
// Prometheus text format, and Debian's python3-prometheus-client for both formats (its OpenMetrics
// parser is strict: `# EOF`, counter family names, escaping).
import assert from 'node:assert/strict';
import { execFile, spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const parsePrometheusText = require('parse-prometheus-text-format');

/**
 * Parses the Prometheus text format; returns a Map from `name{label="value",…}` (labels sorted by
 * name) to the numeric value, and the parsed families.
 */
export function parsePrometheus(text) {
  const families = parsePrometheusText(text);
  const values = new Map();
  for (const family of families) {
    for (const metric of family.metrics) {
      values.set(sampleKey(family.name, metric.labels ?? {}), Number(metric.value));
    }
  }
  return { families, values };
}

/** `name{a="x",b="y"}` with the labels sorted by name; `name` alone without labels. */
export function sampleKey(name, labels) {
  const entries = Object.entries(labels).sort(([a], [b]) => (a < b ? -1 : 1));
  return entries.length === 0 ? name : `${name}{${entries.map(([k, v]) => `${k}=${JSON.stringify(v)}`).join(',')}}`;
}

// Debian's interpreter, where python3-prometheus-client lives (a pyenv shim on PATH may not see it).
const PYTHON = '/usr/bin/python3';

const PYTHON_PARSE = `
import json, math, sys
from prometheus_client.parser import text_string_to_metric_families as prometheus
from prometheus_client.openmetrics.parser import text_string_to_metric_families as openmetrics
parse = openmetrics if sys.argv[1] == 'openmetrics' else prometheus
families = []
for family in parse(sys.stdin.read()):
    families.append({'name': family.name, 'type': family.type, 'unit': family.unit, 'help': family.documentation,
                     'samples': [{'name': s.name, 'labels': s.labels, 'value': s.value if math.isfinite(s.value) else str(s.value)} for s in family.samples]})
print(json.dumps(families))
`;

/** Whether Debian's python3-prometheus-client is importable. */
export function hasPythonParser() {
  return spawnSync(PYTHON, ['-c', 'import prometheus_client.openmetrics.parser'], { stdio: 'ignore' }).status === 0;
}

/**
 * Parses with python3-prometheus-client (`format`: 'prometheus' or 'openmetrics'); rejects on a
 * parse error. Sample values are numbers, or 'nan', 'inf', '-inf' (which JSON has no number for).
 */
export function parseWithPython(text, format) {
  return new Promise((resolve, reject) => {
    const child = execFile(PYTHON, ['-c', PYTHON_PARSE, format], (error, stdout, stderr) => {
      if (error) reject(new Error(`python3-prometheus-client refused the ${format} exposition: ${stderr || error.message}\n${text}`));
      else resolve(JSON.parse(stdout));
    });
    child.stdin.end(text);
  });
}

/** Whether `promtool` is on PATH. */
export function hasPromtool() {
  return spawnSync('promtool', ['--version'], { stdio: 'ignore' }).status === 0;
}

/** `promtool check metrics` on the text: resolves { code, output } (its lint findings go to stdout/stderr). */
export function promtoolCheck(text) {
  return new Promise((resolve) => {
    const child = execFile('promtool', ['check', 'metrics'], (error, stdout, stderr) => {
      resolve({ code: error ? (error.code ?? 1) : 0, output: `${stdout}${stderr}` });
    });
    child.stdin.end(text);
  });
}

/**
 * The `Accept` headers Prometheus scrapes with by default, by version (scrape/scrape.go's
 * acceptHeader over config.DefaultScrapeProtocols); all prefer OpenMetrics 1.0.
 */
export const PROMETHEUS_ACCEPTS = Object.freeze({
  'Prometheus 2 before scrape_protocols': 'application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1',
  'Prometheus 2 with scrape_protocols': 'application/openmetrics-text;version=1.0.0;q=0.5,application/openmetrics-text;version=0.0.1;q=0.4,text/plain;version=0.0.4;q=0.3,*/*;q=0.2',
  'Prometheus 3': 'application/openmetrics-text;version=1.0.0;escaping=allow-utf-8;q=0.6,application/openmetrics-text;version=0.0.1;q=0.5,text/plain;version=1.0.0;escaping=allow-utf-8;q=0.4,text/plain;version=0.0.4;q=0.3,*/*;q=0.2',
});

/**
 * Whether a tool's checks can run: true when it is installed. In CI (CI set) a missing tool fails
 * the test; elsewhere it is reported as a diagnostic, and the caller skips that tool's checks.
 */
export function requireTool(t, available, name, install) {
  if (available) return true;
  assert.ok(!process.env.CI, `${name} is required in CI (${install}); .ci/run installs it`);
  t.diagnostic(`${name} is not installed (${install}): its checks did not run`);
  return false;
}
