// The probe's worker thread (worker mode): transport glue. It builds the same responder as the main
// thread (responder.ts) from this thread's view of the probe: the state in shared memory, a mirror of
// the check registry (check-mirror.ts) and the main thread's beat as the stall source; then serves
// it with the node:net reader (gRPC health and `/metrics` included when the probe serves them),
// applies the updates the main thread posts, and relays log events back. Loaded only by
// main-side.ts, as a file of its own.

import { parentPort, receiveMessageOnPort, workerData } from 'node:worker_threads';
import type { Log, ProbeLogFields } from '../log.js';
import { listenRaw } from '../raw-server.js';
import { Responder, type ProbeView } from '../responder.js';
import type { ProbeServer } from '../server-core.js';
import { CheckMirror } from './check-mirror.js';
import type { FromWorker, ToWorker, Update, WorkerData } from './protocol.js';
import { SharedState } from './shared-state.js';
import { observedStallMs } from './stall.js';

const data = workerData as WorkerData;
const toMain = parentPort!;
const shared = new SharedState(data.shared);
const post = (message: FromWorker) => toMain.postMessage(message);

// Log events go to the main thread's log (its logger and NODE_DEBUG), which writes them once it
// runs and decides there which levels are on. Fields cross as a structured clone: plain values only.
const at = (level: 'debug' | 'info' | 'warn' | 'error') => (fields: ProbeLogFields, message: string) => {
  try {
    post({ type: 'log', level, fields, message });
  } catch {
    // A field that cannot be cloned (an error carrying a function) must not throw into the server.
    post({ type: 'log', level, fields: { event: fields.event }, message });
  }
};
const log: Log = { enabled: () => true, debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') };

const stallMs = (): number => observedStallMs(shared.msSinceBeat(), data.stall.beatMs);

const checks = new CheckMirror(
  data.checks,
  { ask: (id, selection, freshness, askedAtMs) => post({ type: 'evaluate', id, selection, freshness, askedAtMs }), stallMs },
  data.mainThreadWaitMs,
  data.stall,
);

// While a 'state' update is told: the state gRPC Watch streams evaluate (the shared memory may
// already hold a later one, which its own update tells next), so that they hear each state in
// turn, as inline.
let announced: (Update & { kind: 'state' }) | undefined;
// While updates are applied: a decision made meanwhile does not take further updates out of order.
let applying = false;
let server: ProbeServer | undefined;

const view: ProbeView = {
  get state() {
    return announced?.state ?? shared.state;
  },
  get started() {
    return announced?.started ?? shared.started;
  },
  get readyWhileDraining() {
    return announced?.readyWhileDraining ?? shared.readyWhileDraining;
  },
  exposeDetails: data.exposeDetails,
  checks,
  stall: { thresholds: data.stall, stallMs },
  // Before every decision: the updates announced so far (a check added on the main thread counts
  // from the next request on, like a state change), and the connection count for the main thread.
  refresh() {
    if (!applying) takeUpdates();
    if (server !== undefined) shared.connections = server.connections;
  },
};

// The worker thread has no `handle()`: the mounted table is the standalone one, never used.
const responder = new Responder(view, { paths: { standalone: data.paths, mounted: data.paths }, limits: data.limits, log, grpc: data.grpc, metrics: data.metrics });

function apply(update: Update): void {
  switch (update.kind) {
    case 'checks':
      checks.replace(update.checks);
      break;
    case 'outcome':
      // The check's latest outcome, as the registry keeps it; `/metrics` counts it.
      checks.record(update.outcome);
      break;
    case 'counts':
      void responder.metricsEndpoint()?.then((metrics) => metrics.replaceCounts(update.counts));
      return;
    case 'state':
      announced = update;
      try {
        responder.notify();
      } finally {
        announced = undefined;
      }
      return;
  }
  responder.notify();
}

function applyInOrder(update: Update): void {
  applying = true;
  try {
    apply(update);
  } finally {
    applying = false;
  }
}

// Updates arrive as messages when this thread is idle; a decision takes those not yet delivered
// synchronously first (refresh above). The main thread posts, then announces: an announced update
// is always there to take.
data.updates.on('message', applyInOrder);
let seenUpdates = shared.updates;
function takeUpdates(): void {
  const count = shared.updates;
  if (count === seenUpdates) return;
  seenUpdates = count;
  for (let message = receiveMessageOnPort(data.updates); message !== undefined; message = receiveMessageOnPort(data.updates)) applyInOrder(message.message as Update);
}

toMain.on('message', (message: ToWorker) => {
  switch (message.type) {
    case 'evaluating':
      checks.taken(message.id);
      break;
    case 'outcomes':
      checks.answered(message.id, message.outcomes);
      break;
    case 'stop': {
      const stopped = [responder.stop(message.graceMs), server === undefined ? Promise.resolve(true) : server.stop(message.graceMs)] as const;
      void Promise.all(stopped).then(([, inTime]) => post({ type: 'stopped', inTime }));
      break;
    }
  }
});

// `/metrics` answers from the main thread's counters (carried in `counts`, then kept current by the
// relayed outcomes and 'counts' updates), so a scrape answers while the main thread is blocked.
// Loaded before listening, and only when the probe serves it.
const metrics = responder.metricsEndpoint();
if (metrics !== undefined) (await metrics).replaceCounts(data.counts);

listenRaw(responder, data.host, data.port, data.limits, log, responder.acceptHttp2).then(
  (started) => {
    server = started;
    post({ type: 'listening', bound: started.bound });
  },
  (error: Error & { code?: string; cause?: Error & { code?: string } }) => {
    const cause = error.cause === undefined ? undefined : { code: error.cause.code, message: error.cause.message };
    post({ type: 'failed', code: error.code ?? 'SOCKET_UNAVAILABLE', message: error.message, cause });
  },
);
