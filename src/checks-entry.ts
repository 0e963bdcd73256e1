// service-probe/checks: every ready-made check in one entry, loaded only by services that import
// it. The node-core checks are also re-exported by the main entry (as before); the checks over
// database and broker clients are only here, so the main entry does not pay for them.

export { eventLoopDelay, heapUsage, rssUsage, diskSpace, tcp, http } from './builtin-checks.js';
export type { EventLoopDelayOptions, HeapUsageOptions, RssUsageOptions, DiskSpaceOptions, TcpOptions, HttpOptions } from './builtin-checks.js';
export { postgres, mysql, redis, amqp } from './client-checks.js';
export type { QueryCheckOptions } from './client-checks.js';
export { redactCredentials } from './failure-reason.js';
// So that a checks-only import has the types and the error class at hand; the same as in `service-probe`.
export type { CheckFunction, CheckResult } from './checks.js';
export { ProbeArgumentError } from './errors.js';
