// The gRPC health service names with a fixed meaning. Apart from the rest of src/grpc/ so that
// probe.ts can refuse them as check names without loading the gRPC code.

/** Service names with a fixed meaning (`liveness`, `readiness`, `startup`); a check cannot take one of them. */
export const RESERVED_SERVICE_NAMES: ReadonlySet<string> = new Set(['liveness', 'readiness', 'startup']);
