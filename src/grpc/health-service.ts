// Which verdict a gRPC health service name follows, and the one table from a verdict to a serving
// status. The verdicts are the responder's (responder.ts), the very ones the HTTP endpoints
// answer with; nothing here decides health itself.

import type { Freshness } from '../checks.js';
import type { Responder } from '../responder.js';
import type { Endpoint } from '../routes.js';
import type { Verdict } from '../verdict.js';
import { ServingStatus, type ServingStatusValue } from './serving-status.js';

// Check names (checks.ts NAME_PATTERN): only such a name can be a check's service.
const CHECK_NAME = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,99}$/;

/** What a service name asks about: an endpoint's verdict, or one check's verdict on `/ready`. */
export interface ServiceQuery {
  readonly endpoint: Endpoint;
  readonly check: string | undefined;
}

const FIXED: ReadonlyMap<string, ServiceQuery> = new Map([
  ['', { endpoint: 'ready', check: undefined }],
  ['readiness', { endpoint: 'ready', check: undefined }],
  ['liveness', { endpoint: 'health', check: undefined }],
  ['startup', { endpoint: 'started', check: undefined }],
]);

/** Service names with a fixed meaning (`liveness`, `readiness`, `startup`); a check cannot take one of them. */
export const RESERVED_SERVICE_NAMES: ReadonlySet<string> = new Set([...FIXED.keys()].filter((name) => name !== ''));

/**
 * The verdict a service name follows, or `undefined` for a name that can never be known (not a
 * valid check name). Whatever the probe's `paths` option renames, the names stay these:
 *
 * | service | follows |
 * | --- | --- |
 * | `""`, `readiness` | `/ready` |
 * | `liveness` | `/health` |
 * | `startup` | `/started` |
 * | a check's name | `/ready/<name>`: that check alone |
 */
export function queryOf(service: string): ServiceQuery | undefined {
  return FIXED.get(service) ?? (CHECK_NAME.test(service) ? { endpoint: 'ready', check: service } : undefined);
}

// The one table: a verdict that passes is SERVING, one that fails NOT_SERVING, and a service with
// no verdict (no such check) SERVICE_UNKNOWN; Check answers the last with NOT_FOUND, List leaves it out.
const SERVING_STATUS = { pass: ServingStatus.SERVING, fail: ServingStatus.NOT_SERVING, unknown: ServingStatus.SERVICE_UNKNOWN } as const;

/** The serving status of a verdict (`undefined`: the service is unknown). */
export function servingStatusOf(verdict: Verdict | undefined): ServingStatusValue {
  return SERVING_STATUS[verdict === undefined ? 'unknown' : verdict.pass ? 'pass' : 'fail'];
}

/** What gRPC health reads of a probe: its responder, on the main thread or the worker thread. */
export type HealthSource = Pick<Responder, 'verdict' | 'checkNames' | 'subscribe'>;

/** The services `List` reports: the fixed names, then every check. */
export function knownServices(source: HealthSource): string[] {
  return [...FIXED.keys(), ...source.checkNames()];
}

/** The serving status of a service, at once or once its checks have run. */
export function servingStatus(source: HealthSource, service: string, freshness: Freshness): ServingStatusValue | Promise<ServingStatusValue> {
  const query = queryOf(service);
  if (query === undefined) return ServingStatus.SERVICE_UNKNOWN;
  const verdict = source.verdict(query.endpoint, query.check, freshness);
  return verdict instanceof Promise ? verdict.then(servingStatusOf) : servingStatusOf(verdict);
}
