// Figures: percentiles, megabytes, short durations.

export function percentile(sorted, p) {
  if (sorted.length === 0) return NaN;
  const index = Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1);
  return sorted[Math.max(0, index)];
}

/** "p50 0.4 ms, p99 1.2 ms, max 3.0 ms" over latencies in ms. */
export function latencyFigures(latencies) {
  const sorted = Float64Array.from(latencies).sort();
  const ms = (v) => (Number.isNaN(v) ? '-' : v < 10 ? v.toFixed(2) : v.toFixed(1));
  return {
    p50: percentile(sorted, 50),
    p99: percentile(sorted, 99),
    max: sorted.length ? sorted[sorted.length - 1] : NaN,
    text: `p50 ${ms(percentile(sorted, 50))} ms, p99 ${ms(percentile(sorted, 99))} ms, max ${ms(sorted.length ? sorted[sorted.length - 1] : NaN)} ms`,
  };
}

export const mb = (bytes) => (bytes / 1048576).toFixed(1);

export const seconds = (ms) => (ms / 1000).toFixed(1);

export const nowMs = () => Number(process.hrtime.bigint()) / 1e6;

export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
