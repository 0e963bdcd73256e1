// grpc.health.v1's status values, apart from the message codec (messages.ts): syncGrpcHealth in
// the main entry needs the values, and the codec loads only with the gRPC transport.

/** grpc.health.v1 `HealthCheckResponse.ServingStatus`. */
export const ServingStatus = Object.freeze({
  UNKNOWN: 0,
  SERVING: 1,
  NOT_SERVING: 2,
  /** Used only by Watch, for a service the server does not know (yet). */
  SERVICE_UNKNOWN: 3,
} as const);
export type ServingStatusValue = (typeof ServingStatus)[keyof typeof ServingStatus];
