// What the main thread and the probe's worker thread share without a message: the service
// state, the started and readyWhileDraining flags, the main thread's last beat, and a counter of
// updates (check registrations and outcomes) waiting on the update port. One SharedArrayBuffer
// read with Atomics: a request in the worker sees a state the main thread set at once, even
// while the main thread is blocked. Why this and not messages: docs/worker.md, "Mechanism". And
// the clock both read (the process's monotonic one) to tell how old a beat or a question is.

import { SERVICE_STATES, type ServiceState } from '../state.js';

// Int32 slots after the 8-byte beat.
const STATE = 0;
const STARTED = 1;
const READY_WHILE_DRAINING = 2;
const UPDATES = 3;
const CONNECTIONS = 4;
const INT_SLOTS = 5;

/** A view of the shared memory; both threads build one over the same buffer. */
export class SharedState {
  readonly buffer: SharedArrayBuffer;
  readonly #beat: BigInt64Array;
  readonly #ints: Int32Array;

  constructor(buffer: SharedArrayBuffer = new SharedArrayBuffer(8 + 4 * INT_SLOTS)) {
    this.buffer = buffer;
    this.#beat = new BigInt64Array(buffer, 0, 1);
    this.#ints = new Int32Array(buffer, 8, INT_SLOTS);
  }

  /** Main thread: publishes the state and flags the answers depend on. */
  writeState(state: ServiceState, started: boolean, readyWhileDraining: boolean): void {
    Atomics.store(this.#ints, STATE, SERVICE_STATES.indexOf(state));
    Atomics.store(this.#ints, STARTED, started ? 1 : 0);
    Atomics.store(this.#ints, READY_WHILE_DRAINING, readyWhileDraining ? 1 : 0);
  }

  get state(): ServiceState {
    return SERVICE_STATES[Atomics.load(this.#ints, STATE)]!;
  }

  get started(): boolean {
    return Atomics.load(this.#ints, STARTED) === 1;
  }

  get readyWhileDraining(): boolean {
    return Atomics.load(this.#ints, READY_WHILE_DRAINING) === 1;
  }

  /**
   * Main thread: "I ran just now". The monotonic clock (process.hrtime) is the same for every
   * thread of the process, unlike performance.now(), whose origin is each thread's own start.
   */
  beat(): void {
    Atomics.store(this.#beat, 0, process.hrtime.bigint());
  }

  /** Milliseconds since the main thread's last beat. */
  msSinceBeat(): number {
    return Number(process.hrtime.bigint() - Atomics.load(this.#beat, 0)) / 1e6;
  }

  /** Main thread: an update was posted on the update port. */
  announceUpdate(): void {
    Atomics.add(this.#ints, UPDATES, 1);
  }

  /** How many updates have been announced (wraps; compared for equality only). */
  get updates(): number {
    return Atomics.load(this.#ints, UPDATES);
  }

  /** Worker: the open connection count, for the main thread's `ProbeServer.connections`. */
  set connections(count: number) {
    Atomics.store(this.#ints, CONNECTIONS, count);
  }

  get connections(): number {
    return Atomics.load(this.#ints, CONNECTIONS);
  }
}

/**
 * The clock both threads read to agree on a question's age (ms): the process's monotonic clock,
 * the same in every thread (performance.now() starts at each thread's own start).
 */
export function sharedClockMs(): number {
  return Number(process.hrtime.bigint()) / 1e6;
}

/**
 * Whether a question the main thread takes up now is still waited for: one asked more than
 * `waitMs` ago has been answered without the main thread (or is about to be), so running checks
 * for it would only repeat them after a block, once per request that came meanwhile.
 */
export function stillWaitedFor(askedAtMs: number, waitMs: number): boolean {
  return sharedClockMs() - askedAtMs <= waitMs;
}
