// The messages between the main thread and the probe's worker thread. Types only.

import type { CheckInfo, Selection } from '../checks.js';
import type { ProbeLogFields } from '../log.js';
import type { PathTable } from '../routes.js';
import type { BoundAddress, ServerLimits } from '../server-core.js';
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
}

/** On the update port, main → worker. */
export type Update = { readonly kind: 'checks'; readonly checks: readonly CheckInfo[] } | { readonly kind: 'outcome'; readonly outcome: CheckOutcome };

/** Worker → main. */
export type FromWorker =
  | { readonly type: 'listening'; readonly bound: BoundAddress }
  | { readonly type: 'failed'; readonly code: string; readonly message: string; readonly cause: { readonly code?: string; readonly message: string } | undefined }
  | { readonly type: 'log'; readonly level: 'debug' | 'info' | 'warn' | 'error'; readonly fields: ProbeLogFields; readonly message: string }
  | { readonly type: 'evaluate'; readonly id: number; readonly selection: Selection }
  | { readonly type: 'stopped'; readonly inTime: boolean };

/** Main → worker. */
export type ToWorker =
  | { readonly type: 'outcomes'; readonly id: number; readonly outcomes: readonly CheckOutcome[] | undefined }
  | { readonly type: 'stop'; readonly graceMs: number };
