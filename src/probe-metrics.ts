// The probe's metrics on the service's own `/metrics`, beside prom-client's: the probe's families as
// text, or joined with a prom-client registry's exposition into one that Prometheus reads (in
// OpenMetrics, one `# EOF`, last). Both read what the probe recorded, as its own `/metrics` does:
// never a check run. The rendering code loads with the probe's metrics endpoint, not with the package.

import { ProbeArgumentError } from './errors.js';
import type { MetricsEndpoint } from './metrics-endpoint.js';
import { toOptions } from './options.js';
import { responderOf, type Probe } from './probe.js';
import { metricsFormatOfContentType, type MetricsFormat } from './routes.js';

/**
 * The probe's metric families for your own exposition, without `# EOF`. Runs no check. The probe
 * needs `metrics: 'collect'` (or `true`). See docs/metrics.md.
 */
export async function probeMetrics(probe: Probe, options?: { format?: MetricsFormat }): Promise<string> {
  const endpoint = metricsEndpointOf(probe);
  const { format = 'prometheus' } = toOptions<{ format: MetricsFormat }>(options, 'options', ['format']);
  if (format !== 'prometheus' && format !== 'openmetrics') throw new ProbeArgumentError('options.format', "'prometheus' or 'openmetrics'", format);
  return (await endpoint).families(format);
}

/**
 * A `/metrics` answer: the probe's families, then a prom-client registry's, in the registry's
 * format (one `# EOF`, last, in OpenMetrics). Runs no check. The probe needs `metrics: 'collect'`
 * (or `true`). See docs/metrics.md.
 *
 * ```ts
 * const { contentType, body } = await combineMetrics(probe, client.register);
 * ```
 */
export async function combineMetrics(probe: Probe, registry: { contentType: string; metrics(): Promise<string> }): Promise<{ contentType: string; body: string }> {
  const endpoint = metricsEndpointOf(probe);
  if (typeof (registry as { metrics?: unknown } | null)?.metrics !== 'function') throw new ProbeArgumentError('registry', 'a prom-client Registry', registry);
  // Read right before metrics() is called, which is when prom-client reads it to pick its format.
  const { contentType } = registry;
  const format = metricsFormatOfContentType(contentType);
  if (format === undefined) throw new ProbeArgumentError('registry.contentType', "prom-client's prometheusContentType or openMetricsContentType", contentType);
  const [loaded, text] = await Promise.all([endpoint, registry.metrics()]);
  if (typeof text !== 'string') throw new ProbeArgumentError('registry.metrics()', 'a string', text);
  return { contentType, body: loaded.joinedWith(text, format) };
}

function metricsEndpointOf(probe: Probe): Promise<MetricsEndpoint> {
  const endpoint = responderOf(probe)?.metricsEndpoint();
  if (endpoint === undefined) throw new ProbeArgumentError('probe', "a probe created with metrics: 'collect' or true", probe);
  return endpoint;
}
