// Pure-ish: which probe verdict answers which gRPC health service name. The verdicts come from the
// probe's own decision code, asked the same question the HTTP endpoints answer; nothing here
// decides health itself.

import { ServingStatus, type ServingStatusValue } from './serving-status.js';

// Check names (checks.ts NAME_PATTERN): only such a name can be a check's service, and it is
// path-safe as it is.
const CHECK_NAME = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,99}$/;

/**
 * The HTTP endpoint whose verdict a service name follows, or `undefined` for a name that can never
 * be known (not a valid check name).
 *
 * | service | follows |
 * | --- | --- |
 * | `""`, `readiness` | `/ready` |
 * | `liveness` | `/health` |
 * | `startup` | `/started` |
 * | a check's name | `/ready/<name>`: that check alone |
 */
export function targetOf(service: string): string | undefined {
  switch (service) {
    case '':
    case 'readiness':
      return '/ready';
    case 'liveness':
      return '/health';
    case 'startup':
      return '/started';
  }
  return CHECK_NAME.test(service) ? `/ready/${service}` : undefined;
}

/** 200 → SERVING, 404 (no such check) → `undefined` (unknown service), anything else → NOT_SERVING. */
export function servingStatusOf(httpStatus: number): ServingStatusValue | undefined {
  if (httpStatus === 200) return ServingStatus.SERVING;
  if (httpStatus === 404) return undefined;
  return ServingStatus.NOT_SERVING;
}

/**
 * What the gRPC transport needs from a probe. `status` is the HTTP status `GET target` answers;
 * with `latest`, on-demand checks that already have a result are not run again (Watch re-asks on
 * every event, and must not start the runs it then hears about).
 */
export interface HealthSource {
  status(target: string, latest: boolean): number | Promise<number>;
  /** Registered check names, in registration order. */
  checkNames(): readonly string[];
  /** Calls `listener` after anything that may change a verdict: a state change, a check run, a check added or removed. Returns the unsubscribe. */
  subscribe(listener: () => void): () => void;
}

/** The services `List` reports: the fixed names, then every check. */
export function knownServices(source: HealthSource): string[] {
  return ['', 'readiness', 'liveness', 'startup', ...source.checkNames()];
}

/** The serving status of a service (`undefined`: unknown), at once or once its checks have run. */
export function servingStatus(source: HealthSource, service: string, latest: boolean): ServingStatusValue | undefined | Promise<ServingStatusValue | undefined> {
  const target = targetOf(service);
  if (target === undefined) return undefined;
  const status = source.status(target, latest);
  return typeof status === 'number' ? servingStatusOf(status) : status.then(servingStatusOf);
}
