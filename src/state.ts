/**
 * The service states a probe reports, as a const object usable both as a value
 * (`ServiceState.Ready`) and as a type (`ServiceState`).
 *
 * - `UP`: the process runs but does not take traffic yet (starting, warming up).
 * - `READY`: the process takes traffic.
 * - `DRAINING`: shutting down; alive, but routing must stop (`/ready` answers 503).
 * - `DOWN`: broken; an orchestrator should restart it (`/health` answers 503).
 */
export const ServiceState = {
  Up: 'UP',
  Ready: 'READY',
  Draining: 'DRAINING',
  Down: 'DOWN',
} as const;

/** One of `'UP' | 'READY' | 'DRAINING' | 'DOWN'`. */
export type ServiceState = (typeof ServiceState)[keyof typeof ServiceState];

/** Every state word, in lifecycle order. */
export const SERVICE_STATES: readonly ServiceState[] = Object.freeze([
  ServiceState.Up,
  ServiceState.Ready,
  ServiceState.Draining,
  ServiceState.Down,
]);

/** True when `value` is exactly one of the state words. */
export function isServiceState(value: unknown): value is ServiceState {
  return value === 'UP' || value === 'READY' || value === 'DRAINING' || value === 'DOWN';
}

/**
 * Reads a state word case-insensitively (`ready`, `READY`), as typed on a command line;
 * returns `undefined` for anything else.
 */
export function parseServiceState(word: string): ServiceState | undefined {
  const upper = word.trim().toUpperCase();
  return isServiceState(upper) ? upper : undefined;
}
