// The package version as a constant, so that the client can name itself in User-Agent without
// reading package.json at import time (the CLI's `check` starts every few seconds in every
// container). test/integration/client.test.js fails when it drifts from package.json.

/** The version of service-probe, as in its package.json. */
export const VERSION = '0.1.0';
