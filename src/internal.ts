// Not a public entry (package.json `exports` does not name it, and the tarball leaves it out): the
// unit tests and the benches reach the pure modules through dist/internal.js, so that they run the
// shipped files. It holds no code of its own: the build places every module named here in one of
// the shared files (dist/core.js, dist/shared.js, or a file loaded on first use) and this file
// re-exports from there. A module a test needs is a line.

export * from './errors.js';
export * from './failure-reason.js';
export * from './grpc/framing.js';
export * from './grpc/health-service.js';
export * from './grpc/messages.js';
export * from './http1-get.js';
export * from './http1-head.js';
export * from './http1-policy.js';
export * from './metrics.js';
export * from './render.js';
export * from './routes.js';
export * from './server-core.js';
export * from './verdict.js';
export * from './worker/options.js';
export * from './worker/stall.js';
