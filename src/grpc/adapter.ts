// For services that already run a gRPC server (@grpc/grpc-js with grpc-health-check): keeps its
// health service's statuses in step with the probe's verdicts. Duck-typed (anything with
// `setStatus(service, status)`), so the probe depends on neither package.

import type { Freshness } from '../checks.js';
import { ProbeArgumentError } from '../errors.js';
import { responderOf, type Probe } from '../probe.js';
import { knownServices, servingStatus } from './health-service.js';
import { ServingStatus, type ServingStatusValue } from './serving-status.js';

/** What {@link syncGrpcHealth} drives: grpc-health-check's `HealthImplementation`, or anything with this method. */
export interface GrpcHealthStatusSetter {
  setStatus(service: string, status: 'SERVING' | 'NOT_SERVING'): void;
}

/** Options of {@link syncGrpcHealth}. */
export interface GrpcHealthSyncOptions {
  /**
   * The service names to keep in step. Default: `''`, `readiness`, `liveness`, `startup` and every
   * check's name (checks added later included), as the probe's own gRPC `List` shows them.
   */
  services?: readonly string[];
}

const WORDS: Record<ServingStatusValue, 'SERVING' | 'NOT_SERVING'> = {
  [ServingStatus.UNKNOWN]: 'NOT_SERVING',
  [ServingStatus.SERVING]: 'SERVING',
  [ServingStatus.NOT_SERVING]: 'NOT_SERVING',
  [ServingStatus.SERVICE_UNKNOWN]: 'NOT_SERVING',
};

/**
 * Keeps a grpc-health-check `HealthImplementation` (or any object with `setStatus(service,
 * status)`) in step with the probe: every service gets `SERVING` or `NOT_SERVING` at once and again
 * whenever its verdict changes (the same verdicts as the probe's own gRPC health service and its
 * HTTP endpoints). A check removed later is set to `NOT_SERVING` (a `HealthImplementation` cannot
 * forget a service). Returns a function that stops following the probe.
 *
 * ```ts
 * const health = new HealthImplementation();
 * health.addToServer(grpcServer);
 * syncGrpcHealth(probe, health);
 * ```
 */
export function syncGrpcHealth(probe: Probe, health: GrpcHealthStatusSetter, options?: GrpcHealthSyncOptions): () => void {
  const source = responderOf(probe);
  if (source === undefined) throw new ProbeArgumentError('probe', 'a Probe (from createProbe)', probe);
  if (typeof (health as { setStatus?: unknown } | null)?.setStatus !== 'function') {
    throw new ProbeArgumentError('health', 'an object with a setStatus(service, status) method, such as grpc-health-check\'s HealthImplementation', health);
  }
  if (options !== undefined && (typeof options !== 'object' || options === null)) throw new ProbeArgumentError('options', 'an object', options);
  const fixed = options?.services;
  if (fixed !== undefined && (!Array.isArray(fixed) || !fixed.every((name) => typeof name === 'string'))) {
    throw new ProbeArgumentError('options.services', 'an array of service names (strings)', fixed);
  }
  const shown = new Map<string, 'SERVING' | 'NOT_SERVING'>();
  let stopped = false;
  let busy = false;
  let again = false;

  const set = (service: string, word: 'SERVING' | 'NOT_SERVING') => {
    if (stopped || shown.get(service) === word) return;
    shown.set(service, word);
    health.setStatus(service, word);
  };

  // One pass over every service; one at a time, and one more if something changed meanwhile.
  const update = (freshness: Freshness) => {
    if (stopped) return;
    if (busy) {
      again = true;
      return;
    }
    busy = true;
    const services = fixed ?? knownServices(source);
    for (const service of shown.keys()) if (!services.includes(service)) set(service, 'NOT_SERVING');
    const statuses = services.map((service) => servingStatus(source, service, freshness));
    const apply = (settled: readonly ServingStatusValue[]) => {
      busy = false;
      settled.forEach((status, i) => set(services[i]!, WORDS[status]));
      if (again) {
        again = false;
        update('reuse');
      }
    };
    if (statuses.some((status) => status instanceof Promise)) Promise.all(statuses).then(apply, () => apply([]));
    else apply(statuses as ServingStatusValue[]);
  };

  const unsubscribe = source.subscribe(() => update('reuse'));
  update('run');
  return () => {
    stopped = true;
    unsubscribe();
  };
}
