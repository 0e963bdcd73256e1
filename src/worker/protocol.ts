// The messages between the main thread and the probe's worker thread. Types only.

import type { CheckInfo, Freshness, Selection } from '../checks.js';
import type { ProbeLogFields } from '../log.js';
import type { PathTable } from '../routes.js';
import type { BoundAddress, ServerLimits } from '../server-core.js';
import type { ServiceState } from '../state.js';
import type { CheckCounts } from '../metrics-endpoint.js';
import type { CheckOutcome } from '../verdict.js';
import type { StallThresholds } from './stall.js';

/** What the worker is started with. */
export interface WorkerData {
  readonly shared: SharedArrayBuffer;
  /** Check registrations and outcomes, read with receiveMessageOnPort when `updates` moved. */
  readonly updates: import('node:worker_threads').MessagePort;
  readonly checks: readonly CheckInfo[];
  readonly host: string | undefined;
  readonly port: number;
  readonly limits: ServerLimits;
  /** The probe's compiled endpoint paths (its standalone table), cloned into the worker. */
  readonly paths: PathTable;
  readonly exposeDetails: boolean;
  readonly stall: StallThresholds;
  /** How long an answer waits for the main thread (worker option `mainThreadWaitMs`). */
  readonly mainThreadWaitMs: number;
  /** Serve gRPC health on connections that start with the HTTP/2 preface. */
  readonly grpc: boolean;
  /** Serve `/metrics` (the path table has it then). */
  readonly metrics: boolean;
  /** The main thread's `/metrics` counters when the worker was started (made exact by a `counts` update). */
  readonly counts: CheckCounts;
}

/**
 * On the update port, main → worker. `state` repeats what the shared memory holds: requests read
 * the shared memory (always the newest), while gRPC Watch streams are told of each state in turn,
 * as inline (two changes in a row are two messages on a Watch, not only the last). `counts` replaces
 * the worker's `/metrics` counters with the main thread's, at this point of the update stream (a
 * worker started or restarted counts from the probe's creation, as inline).
 */
export type Update =
  | { readonly kind: 'checks'; readonly checks: readonly CheckInfo[] }
  | { readonly kind: 'outcome'; readonly outcome: CheckOutcome }
  | { readonly kind: 'state'; readonly state: ServiceState; readonly started: boolean; readonly readyWhileDraining: boolean }
  | { readonly kind: 'counts'; readonly counts: CheckCounts };

/** Worker → main. */
export type FromWorker =
  | { readonly type: 'listening'; readonly bound: BoundAddress }
  | { readonly type: 'failed'; readonly code: string; readonly message: string; readonly cause: { readonly code?: string; readonly message: string } | undefined }
  | { readonly type: 'log'; readonly level: 'debug' | 'info' | 'warn' | 'error'; readonly fields: ProbeLogFields; readonly message: string }
  | { readonly type: 'evaluate'; readonly id: number; readonly selection: Selection; readonly freshness: Freshness; readonly askedAtMs: number }
  | { readonly type: 'stopped'; readonly inTime: boolean };

/**
 * Main → worker. `evaluating`: the main thread took an evaluation up and runs checks for it (its
 * `outcomes` follow); an evaluation answered at once gets `outcomes` alone.
 */
export type ToWorker =
  | { readonly type: 'evaluating'; readonly id: number }
  | { readonly type: 'outcomes'; readonly id: number; readonly outcomes: readonly CheckOutcome[] | undefined }
  | { readonly type: 'stop'; readonly graceMs: number };
