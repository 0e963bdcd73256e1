// service-probe/checks: every ready-made check, and the only entry that exports them, so that a
// service that uses none does not load them: the node-core checks (event loop, memory, disk, TCP,
// HTTP) and the checks over database and broker clients.

export { eventLoopDelay, heapUsage, rssUsage, diskSpace, tcp, http } from './builtin-checks.js';
export type { EventLoopDelayOptions, HeapUsageOptions, RssUsageOptions, DiskSpaceOptions, TcpOptions, HttpOptions } from './builtin-checks.js';
export { postgres, mysql, redis, amqp } from './client-checks.js';
export type { QueryCheckOptions } from './client-checks.js';
export { redactCredentials } from './failure-reason.js';
// So that a checks-only import has the types and the error class at hand; the same as in `service-probe`.
export type { CheckFunction, CheckResult } from './checks.js';
export { ProbeArgumentError } from './errors.js';
