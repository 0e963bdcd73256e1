// Reads a /metrics exposition with real parsers: parse-prometheus-text-format (npm) for the
// Prometheus text format, and Debian's python3-prometheus-client for both formats (its OpenMetrics
// parser is strict: `# EOF`, counter family names, escaping).
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
import json, sys
from prometheus_client.parser import text_string_to_metric_families as prometheus
from prometheus_client.openmetrics.parser import text_string_to_metric_families as openmetrics
parse = openmetrics if sys.argv[1] == 'openmetrics' else prometheus
families = []
for family in parse(sys.stdin.read()):
    families.append({'name': family.name, 'type': family.type, 'unit': family.unit, 'help': family.documentation,
                     'samples': [{'name': s.name, 'labels': s.labels, 'value': s.value} for s in family.samples]})
print(json.dumps(families))
`;

/** Whether Debian's python3-prometheus-client is importable. */
export function hasPythonParser() {
  return spawnSync(PYTHON, ['-c', 'import prometheus_client.openmetrics.parser'], { stdio: 'ignore' }).status === 0;
}

/** Parses with python3-prometheus-client (`format`: 'prometheus' or 'openmetrics'); rejects on a parse error. */
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
