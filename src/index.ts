// The public entry: the Probe API, and the seed-compatible module functions over one default
// probe per process.

import { createProbe, type Probe } from './probe.js';
import { toHost, toPort, toState, type AddressInput } from './options.js';
import type { BoundAddress } from './server-core.js';
import type { ServiceState } from './state.js';
import type { CheckFunction, CheckOptions } from './checks.js';

export { createProbe, Probe, STOP_GRACE_PERIOD_MS, DEFAULT_PORT } from './probe.js';
export type { ProbeOptions, StartOptions, ProbeEvents, ServerKind } from './probe.js';
export { SHUTDOWN_DEFAULTS, shutdownDefaults, inKubernetes } from './shutdown.js';
export type { ShutdownOptions, ResolvedShutdownOptions, ShutdownHook, ShutdownHookOptions, ShutdownResult, TrackableServer } from './shutdown.js';
export { connectMiddleware, koaMiddleware } from './integrations.js';
export type { MountOptions, ConnectMiddleware, KoaMiddleware, KoaContextLike } from './integrations.js';
export { ServiceState, SERVICE_STATES, isServiceState, parseServiceState } from './state.js';
export { ProbeStartError, ProbeArgumentError, ProbeClientError, ProbeUnsupportedError } from './errors.js';
export type { ProbeStartErrorCode, ProbeClientErrorCode } from './errors.js';
export type { ProbeLogger, ProbeLogFields } from './log.js';
export type { ProbePaths } from './routes.js';
export type { AddressInput } from './options.js';
export type { BoundAddress } from './server-core.js';
export { DEFAULT_CHECK_TIMEOUT_MS } from './checks.js';
export type { CheckFunction, CheckOptions, CheckResult, CheckAffects } from './checks.js';
export type { CheckOutcome } from './verdict.js';
export type { RenderedResponse } from './render.js';
export { WORKER_DEFAULTS } from './worker/options.js';
export type { WorkerOptions } from './worker/options.js';
export { probeMetrics, combineMetrics } from './probe-metrics.js';
export type { MetricsFormat } from './routes.js';
export { syncGrpcHealth } from './grpc/adapter.js';
export type { GrpcHealthStatusSetter, GrpcHealthSyncOptions } from './grpc/adapter.js';

// The package is ESM only, so `import` and `require()` share this one module instance, and with it
// one default probe per process.
let theDefaultProbe: Probe | undefined;

/** The process-wide probe behind `startProbe`, `setServiceState` and the other module functions. */
export function defaultProbe(): Probe {
  return (theDefaultProbe ??= createProbe());
}

/**
 * Starts the default probe on `address:port` with `initialState` (the crate's `start_probe`).
 * `address` is an IP string or host name, or 4/16 byte values (`[0, 0, 0, 0]`); port 0 picks a
 * free port.
 * Rejects a `ProbeArgumentError` for a bad argument and a `ProbeStartError` (`ALREADY_STARTED`,
 * `SOCKET_UNAVAILABLE`) when it cannot start; either way nothing changes.
 */
export async function startProbe(address: AddressInput, port: number, initialState: ServiceState): Promise<BoundAddress> {
  const host = toHost(address, 'address');
  const checkedPort = toPort(port, 'port');
  const state = toState(initialState, 'initialState');
  return defaultProbe().start({ host, port: checkedPort, state });
}

/** Stops the default probe within `STOP_GRACE_PERIOD_MS`. Idempotent. */
export function stopProbe(): Promise<void> {
  return defaultProbe().stop();
}

/** Sets the default probe's state (the crate's `set_service_state`). */
export function setServiceState(state: ServiceState): void {
  defaultProbe().setState(state);
}

/** The default probe's state; `UP` before anything was set (the crate's `get_service_state`). */
export function getServiceState(): ServiceState {
  return defaultProbe().state;
}

/** Adds a check to the default probe. See `Probe.addCheck`. */
export function addCheck(name: string, check: CheckFunction, options?: CheckOptions): void {
  defaultProbe().addCheck(name, check, options);
}

/** Removes a check from the default probe. Returns `false` if there was none of that name. */
export function removeCheck(name: string): boolean {
  return defaultProbe().removeCheck(name);
}
