// Pure: a snapshot of the probe's state, verdicts and check results → the text of `/metrics`, in
// the Prometheus text exposition format 0.0.4 or in OpenMetrics 1.0, alone or joined with another
// exposition (a prom-client registry's, for `combineMetrics()`). Knows nothing of HTTP (the
// content types are in routes.ts, with the negotiation), of the registry or of time: the caller
// takes the snapshot.
//
// Formats: https://prometheus.io/docs/instrumenting/exposition_formats/ and
// https://github.com/OpenObservability/OpenMetrics/blob/main/specification/OpenMetrics.md

import type { CheckAffects } from './checks.js';
import type { MetricsFormat } from './routes.js';
import { SERVICE_STATES, type ServiceState } from './state.js';

/** What `/metrics` shows, taken at one moment. */
export interface MetricsSnapshot {
  /** The state the service set. */
  readonly state: ServiceState;
  /** `/health` would answer 200, from the state and the checks' latest outcomes. */
  readonly up: boolean;
  /** `/ready` would answer 200, from the state and the checks' latest outcomes. */
  readonly ready: boolean;
  /** `/started` answers 200. */
  readonly started: boolean;
  /** Every registered check, in registration order. */
  readonly checks: readonly CheckMetrics[];
  /**
   * Worker mode only: how long the main thread has not run past its beat, in seconds (the
   * `event-loop-stall` verdict's observed value). `undefined` inline: the family is left out.
   */
  readonly eventLoopStallSeconds?: number | undefined;
}

/** One check's figures in a {@link MetricsSnapshot}. */
export interface CheckMetrics {
  readonly name: string;
  readonly affects: CheckAffects;
  /** The latest outcome the endpoints count: passed, failed, or `undefined` when there is none yet. */
  readonly ok: boolean | undefined;
  /** How long the latest finished run took; `undefined` before the first. */
  readonly durationSeconds: number | undefined;
  /** Finished runs that passed. */
  readonly passes: number;
  /** Finished runs that failed (timeouts included). */
  readonly failures: number;
  /** When a run last passed, in seconds since the epoch; `undefined` before the first pass. */
  readonly lastSuccessSeconds: number | undefined;
}

/** A metric family: the name of its samples, its type, unit and help text. Stable: see docs/metrics.md. */
export interface MetricFamily {
  /** The sample name (counters end in `_total`). */
  readonly name: string;
  readonly type: 'gauge' | 'counter';
  /** OpenMetrics `# UNIT`, when the name ends with one. */
  readonly unit: string | undefined;
  readonly labels: readonly string[];
  readonly help: string;
}

const NO_RUN = 'Reading /metrics never runs a check.';

/** Every family `/metrics` exposes, in the order it shows them. */
export const METRIC_FAMILIES = Object.freeze({
  up: family('service_probe_up', 'gauge', [], `1 while /health would answer 200: the state is not DOWN and no critical liveness check failed in its latest outcome. ${NO_RUN}`),
  ready: family('service_probe_ready', 'gauge', [], `1 while /ready would answer 200: the state passes /ready and no critical check /ready counts failed in its latest outcome. ${NO_RUN}`),
  started: family('service_probe_started', 'gauge', [], '1 once /started answers 200: the probe has been READY or was marked started.'),
  state: family('service_probe_state', 'gauge', ['state'], 'The state the service set: 1 for the current one of UP, READY, DRAINING, DOWN and 0 for the others.'),
  status: family('service_probe_check_status', 'gauge', ['check', 'affects'], `Latest outcome of each check as the endpoints count it: 1 pass, 0 fail (a background check before its first result fails). ${NO_RUN} No sample before a first result.`),
  duration: family('service_probe_check_duration_seconds', 'gauge', ['check'], 'How long the latest finished run of each check took, in seconds. No sample before a first run.', 'seconds'),
  runs: family('service_probe_check_runs_total', 'counter', ['check', 'outcome'], 'Finished runs of each check by outcome, pass or fail (a timeout fails), counted since the probe was created.'),
  lastSuccess: family('service_probe_check_last_success_timestamp_seconds', 'gauge', ['check'], 'When each check last passed, in seconds since the Unix epoch. No sample before a first pass.', 'seconds'),
});

/**
 * Worker mode only (after `service_probe_state`): the family inline probes leave out, as only a
 * probe in worker mode sees its main thread stall from another thread.
 */
export const EVENT_LOOP_STALL_FAMILY = family(
  'service_probe_event_loop_stall_seconds',
  'gauge',
  [],
  "Worker mode only: how long the service's main thread has not run past its beat, in seconds (0 while it runs). Past readinessStallMs /ready fails, past livenessStallMs /health too.",
  'seconds',
);

function family(name: string, type: MetricFamily['type'], labels: readonly string[], help: string, unit?: string): MetricFamily {
  return Object.freeze({ name, type, unit, labels: Object.freeze([...labels]), help });
}

// OpenMetrics' last line: nothing after it is read.
const EOF_LINE = '# EOF\n';

/** The exposition of a snapshot: Prometheus text 0.0.4, or OpenMetrics 1.0 (ending with `# EOF`). */
export function renderMetrics(snapshot: MetricsSnapshot, format: MetricsFormat): string {
  const families = renderFamilies(snapshot, format);
  return format === 'openmetrics' ? `${families}${EOF_LINE}` : families;
}

/**
 * The families of a snapshot without OpenMetrics' closing `# EOF`: what another exposition is
 * joined with ({@link joinExpositions}). Every line ends with a line feed.
 */
export function renderFamilies(snapshot: MetricsSnapshot, format: MetricsFormat): string {
  const open = format === 'openmetrics';
  const families = METRIC_FAMILIES;
  let text = '';
  const header = (metric: MetricFamily): void => {
    // OpenMetrics names a counter's family without the `_total` its samples carry.
    const name = open && metric.type === 'counter' ? metric.name.slice(0, -'_total'.length) : metric.name;
    text += `# HELP ${name} ${escapeHelp(metric.help, open)}\n# TYPE ${name} ${metric.type}\n`;
    if (open && metric.unit !== undefined) text += `# UNIT ${name} ${metric.unit}\n`;
  };
  const sample = (name: string, labels: string, value: number): void => {
    text += `${name}${labels} ${formatValue(value)}\n`;
  };

  header(families.up);
  sample(families.up.name, '', snapshot.up ? 1 : 0);
  header(families.ready);
  sample(families.ready.name, '', snapshot.ready ? 1 : 0);
  header(families.started);
  sample(families.started.name, '', snapshot.started ? 1 : 0);
  header(families.state);
  for (const state of SERVICE_STATES) sample(families.state.name, `{state="${escapeLabelValue(state)}"}`, state === snapshot.state ? 1 : 0);
  if (snapshot.eventLoopStallSeconds !== undefined) {
    header(EVENT_LOOP_STALL_FAMILY);
    sample(EVENT_LOOP_STALL_FAMILY.name, '', snapshot.eventLoopStallSeconds);
  }

  header(families.status);
  for (const check of snapshot.checks) {
    if (check.ok !== undefined) sample(families.status.name, `{check="${escapeLabelValue(check.name)}",affects="${check.affects}"}`, check.ok ? 1 : 0);
  }
  header(families.duration);
  for (const check of snapshot.checks) {
    if (check.durationSeconds !== undefined) sample(families.duration.name, checkLabel(check), check.durationSeconds);
  }
  header(families.runs);
  for (const check of snapshot.checks) {
    const name = escapeLabelValue(check.name);
    sample(families.runs.name, `{check="${name}",outcome="pass"}`, check.passes);
    sample(families.runs.name, `{check="${name}",outcome="fail"}`, check.failures);
  }
  header(families.lastSuccess);
  for (const check of snapshot.checks) {
    if (check.lastSuccessSeconds !== undefined) sample(families.lastSuccess.name, checkLabel(check), check.lastSuccessSeconds);
  }
  return text;
}

/**
 * One exposition from the probe's families ({@link renderFamilies}) and another one in the same
 * format (a prom-client registry's): the probe's first, then the other's. An OpenMetrics exposition
 * ends at its first `# EOF`, so the other's own `# EOF` is taken off and exactly one closes the
 * whole; blank lines at its end go too (an empty prom-client registry writes one before its
 * `# EOF`, and OpenMetrics allows none).
 */
export function joinExpositions(probeFamilies: string, other: string, format: MetricsFormat): string {
  let rest = other.replace(/\n+$/, '');
  if (format === 'openmetrics' && (rest === '# EOF' || rest.endsWith('\n# EOF'))) rest = rest.slice(0, -'# EOF'.length).replace(/\n+$/, '');
  const joined = rest === '' ? probeFamilies : `${probeFamilies}${rest}\n`;
  return format === 'openmetrics' ? `${joined}${EOF_LINE}` : joined;
}

function checkLabel(check: CheckMetrics): string {
  return `{check="${escapeLabelValue(check.name)}"}`;
}

/** A label value as both formats require: backslash, double quote and line feed escaped. */
export function escapeLabelValue(value: string): string {
  return /[\\"\n]/.test(value) ? value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n') : value;
}

/** A HELP text: backslash and line feed escaped, and in OpenMetrics the double quote too. */
export function escapeHelp(help: string, openMetrics: boolean): string {
  const escaped = help.replace(/\\/g, '\\\\').replace(/\n/g, '\\n');
  return openMetrics ? escaped.replace(/"/g, '\\"') : escaped;
}

/** A sample value: both formats read Go's float syntax, which JavaScript's number text matches. */
export function formatValue(value: number): string {
  if (Number.isNaN(value)) return 'NaN';
  if (value === Infinity) return '+Inf';
  if (value === -Infinity) return '-Inf';
  return String(value);
}
