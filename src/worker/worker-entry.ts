// The probe's worker thread (worker mode): the node:net probe server, with gRPC health and
// `/metrics` when the probe serves them, answering with the same decision code as the main thread
// (answer.ts, the gRPC transport, the metrics endpoint) from the shared state, the mirrored check
// registry and the main thread's beat. Loaded only by main-side.ts, as a file of its own.

import type { Socket } from 'node:net';
import { parentPort, receiveMessageOnPort, workerData } from 'node:worker_threads';
import { answerRoute, type AnswerSource } from '../answer.js';
import { selectChecks, type CheckInfo, type Selection } from '../checks.js';
import type { GrpcTransport } from '../grpc/http2-transport.js';
import type { HealthSource } from '../grpc/health-service.js';
import type { Log, ProbeLogFields } from '../log.js';
import type { MetricsEndpoint } from '../metrics-endpoint.js';
import { listenRaw } from '../raw-server.js';
import type { RenderedResponse } from '../render.js';
import { route, type Route } from '../routes.js';
import { evaluates, stateVerdict, type CheckOutcome } from '../verdict.js';
import type { FromWorker, ToWorker, Update, WorkerData } from './protocol.js';
import { SharedState } from './shared-state.js';
import { observedStallMs, singleStallOutcome, stallOutcome, STALL_CHECK_NAME, type StallThresholds } from './stall.js';

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

// The mirror of the main thread's check registry, in registration order.
let checks = new Map<string, CheckInfo>();
function mirror(list: readonly CheckInfo[]): void {
  checks = new Map(list.map((check) => [check.name, check]));
}
mirror(data.checks);

// Told after anything that may change a verdict (gRPC Watch listens), as on the main thread: a
// state change (its 'state' update, told with the state it announces), a check added, removed or
// finished, and the stall crossing a threshold (watched below while anyone listens).
const verdictListeners = new Set<() => void>();
// While a 'state' update is told: the state Watch streams evaluate (the shared memory may already
// hold a later one, which its own update tells next).
let announced: (Update & { kind: 'state' }) | undefined;
// While updates are applied: a status asked meanwhile does not take further updates out of order.
let applying = false;
function verdictMayHaveChanged(): void {
  for (const listener of verdictListeners) {
    try {
      listener();
    } catch (error) {
      log.error({ event: 'verdict-listener-failed', err: error }, `probe: a verdict listener failed: ${String(error)}`);
    }
  }
}

// `/metrics`, when served (loaded below, before listening).
let metrics: MetricsEndpoint | undefined;

// What a check run tells (the probe's 'check' event, relayed): the `/metrics` counters listen.
const checkListeners: ((outcome: CheckOutcome) => void)[] = [];

function apply(update: Update): void {
  switch (update.kind) {
    case 'checks':
      mirror(update.checks);
      break;
    case 'outcome': {
      // Every check's latest outcome, as the registry keeps it: background checks are answered
      // from it, and gRPC Watch and `/metrics` read it for on-demand ones too.
      const check = checks.get(update.outcome.name);
      if (check !== undefined) checks.set(check.name, { ...check, last: update.outcome });
      for (const listener of checkListeners) listener(update.outcome);
      break;
    }
    case 'counts':
      metrics?.replaceCounts(update.counts);
      return;
    case 'state':
      announced = update;
      try {
        verdictMayHaveChanged();
      } finally {
        announced = undefined;
      }
      return;
  }
  verdictMayHaveChanged();
}

function applyInOrder(update: Update): void {
  applying = true;
  try {
    apply(update);
  } finally {
    applying = false;
  }
}

// Updates arrive as messages when this thread is idle; a request takes those not yet delivered
// synchronously first, so a check added on the main thread counts from the next request on, like
// a state change. (The main thread posts, then announces: an announced update is always there.)
data.updates.on('message', applyInOrder);
let seenUpdates = shared.updates;
function takeUpdates(): void {
  const count = shared.updates;
  if (count === seenUpdates) return;
  seenUpdates = count;
  for (let message = receiveMessageOnPort(data.updates); message !== undefined; message = receiveMessageOnPort(data.updates)) applyInOrder(message.message as Update);
}

// On-demand checks run on the main thread: asked by message, answered by its registry. A main
// thread that cannot answer in time has them fail at their timeout. The fallback waits one beat
// period longer than the check's timeout: a main thread that runs times the check out itself (and
// aborts its signal) a moment after this thread asked, and its answer must win that race.
let nextId = 0;
const asked = new Map<number, (outcomes: readonly CheckOutcome[] | undefined) => void>();

function askMain(selection: Selection, selected: readonly CheckInfo[], latest: boolean): Promise<readonly CheckOutcome[]> {
  const id = nextId++;
  let timeoutMs = 0;
  for (const check of selected) if (!check.background && check.timeoutMs > timeoutMs) timeoutMs = check.timeoutMs;
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      asked.delete(id);
      resolve(selected.map((check) => (check.background ? lastOf(check) : failure(check, `timed out after ${check.timeoutMs} ms`, check.timeoutMs))));
    }, timeoutMs + data.stall.beatMs);
    asked.set(id, (outcomes) => {
      clearTimeout(timer);
      asked.delete(id);
      // undefined: the check was removed while the question was on its way.
      resolve(outcomes ?? selected.map((check) => failure(check, 'check removed', 0)));
    });
    post({ type: 'evaluate', id, selection, latest });
  });
}

function lastOf(check: CheckInfo): CheckOutcome {
  return check.last ?? failure(check, 'no result yet', 0);
}

function failure(check: CheckInfo, output: string, durationMs: number): CheckOutcome {
  const { name, critical, readiness, liveness } = check;
  return { name, ok: false, critical, readiness, liveness, time: Date.now(), durationMs, observedValue: undefined, observedUnit: undefined, output };
}

// The stall observed when the request arrived.
let stallMs = 0;
let server: Awaited<ReturnType<typeof listenRaw>> | undefined;

const source: AnswerSource = {
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
  get hasChecks() {
    return checks.size > 0 || stallMs > data.stall.readinessStallMs;
  },
  evaluate(selection, latest = false) {
    const now = Date.now();
    if (selection.only === STALL_CHECK_NAME && !checks.has(STALL_CHECK_NAME)) return [singleStallOutcome(selection.endpoint, stallMs, data.stall, now)];
    const selected = selectChecks(checks, selection);
    if (selected === undefined) return undefined;
    const stall = selection.only === undefined && !selection.exclude.includes(STALL_CHECK_NAME) ? stallOutcome(stallMs, data.stall, now) : undefined;
    const withStall = (outcomes: readonly CheckOutcome[]) => (stall === undefined || !evaluates(selection.endpoint, stall) ? outcomes : [...outcomes, stall]);
    // With `latest` (gRPC Watch), an on-demand check that has a result is not run again (as
    // CheckRegistry.evaluate does); a run in flight shows when its outcome arrives.
    if (selected.every((check) => check.background || (latest && check.last !== undefined))) return withStall(selected.map(lastOf));
    return askMain(selection, selected, latest).then(withStall);
  },
  evaluationFailed: (error) => log.error({ event: 'evaluation-failed', reason: String(error) }, `probe: evaluating checks failed: ${String(error)}`),
};

// Before every answer: the updates announced so far, and the stall as it is now.
function refresh(): void {
  takeUpdates();
  stallMs = observedStallMs(shared.msSinceBeat(), data.stall.beatMs);
  if (server !== undefined) shared.connections = server.connections;
}

function answer(routed: Route): RenderedResponse | Promise<RenderedResponse> {
  if (routed.kind === 'metrics') return metrics!.answer(routed.format);
  return answerRoute(routed, source);
}

// The stall verdict changes with time alone: while someone listens, it is looked at every beat
// period, and a crossing of either threshold (either way) is told.
let stallWatch: NodeJS.Timeout | undefined;
let stallLevel = 0;
function levelOf(ms: number, thresholds: StallThresholds): number {
  return ms > thresholds.livenessStallMs ? 2 : ms > thresholds.readinessStallMs ? 1 : 0;
}
function watchStall(on: boolean): void {
  if (!on) {
    clearInterval(stallWatch);
    stallWatch = undefined;
    return;
  }
  if (stallWatch !== undefined) return;
  stallLevel = levelOf(observedStallMs(shared.msSinceBeat(), data.stall.beatMs), data.stall);
  stallWatch = setInterval(() => {
    const level = levelOf(observedStallMs(shared.msSinceBeat(), data.stall.beatMs), data.stall);
    if (level === stallLevel) return;
    stallLevel = level;
    verdictMayHaveChanged();
  }, data.stall.beatMs);
  stallWatch.unref();
}

// gRPC health's view of this thread: the same decision as the HTTP endpoints (answerRoute on the
// default path table, as Probe.healthSource does on the main thread), from this thread's source.
const health: HealthSource = {
  status(target, latest) {
    if (applying) stallMs = observedStallMs(shared.msSinceBeat(), data.stall.beatMs);
    else refresh();
    const answered = answerRoute(route('GET', target, undefined), source, latest);
    return answered instanceof Promise ? answered.then((settled) => settled.status) : answered.status;
  },
  checkNames() {
    // List: a check added on the main thread is a service from the next call on, as inline.
    if (!applying) takeUpdates();
    return [...checks.keys()];
  },
  subscribe(listener) {
    verdictListeners.add(listener);
    watchStall(true);
    return () => {
      verdictListeners.delete(listener);
      if (verdictListeners.size === 0) watchStall(false);
    };
  },
};

// Loaded on the first HTTP/2 connection, as on the main thread.
let grpc: Promise<GrpcTransport> | undefined;
let stopping = false;
function serveGrpc(socket: Socket): void {
  if (stopping) {
    socket.destroy();
    return;
  }
  grpc ??= import('../grpc/http2-transport.js').then(({ GrpcTransport }) => new GrpcTransport(health, data.limits, log));
  grpc.then(
    (transport) => transport.accept(socket),
    (error: unknown) => {
      log.error({ event: 'grpc-load-failed', err: error }, `probe: cannot load the gRPC transport: ${String(error)}`);
      socket.destroy();
    },
  );
}

// `/metrics`: the same endpoint as the main thread's, its counters fed by the relayed outcomes and
// then set to the main thread's (a 'counts' update), so a scrape answers while the main thread is
// blocked. Loaded before listening, and only when the probe serves it.
if (data.metrics) {
  const { MetricsEndpoint } = await import('../metrics-endpoint.js');
  metrics = new MetricsEndpoint({
    onCheck: (listener) => checkListeners.push(listener),
    state: () => shared.state,
    stateVerdict: (endpoint) => stateVerdict(endpoint, shared.state, shared.started, shared.readyWhileDraining),
    checks: () => [...checks.values()],
    stall: () => ({ ms: stallMs, outcome: stallOutcome(stallMs, data.stall, Date.now()) }),
  });
  metrics.replaceCounts(data.counts);
}

toMain.on('message', (message: ToWorker) => {
  if (message.type === 'outcomes') asked.get(message.id)?.(message.outcomes);
  else if (message.type === 'stop') {
    stopping = true;
    watchStall(false);
    const grpcStopped = grpc?.then((transport) => transport.stop(message.graceMs), () => undefined);
    if (server === undefined) post({ type: 'stopped', inTime: true });
    else void Promise.all([server.stop(message.graceMs), grpcStopped]).then(([inTime]) => post({ type: 'stopped', inTime }));
  }
});

listenRaw(
  {
    answer(method, target, accept) {
      refresh();
      return answer(route(method, target, accept, '', data.paths));
    },
  },
  data.host,
  data.port,
  data.limits,
  log,
  data.grpc ? serveGrpc : undefined,
).then(
  (started) => {
    server = started;
    post({ type: 'listening', bound: started.bound });
  },
  (error: Error & { code?: string; cause?: Error & { code?: string } }) => {
    const cause = error.cause === undefined ? undefined : { code: error.cause.code, message: error.cause.message };
    post({ type: 'failed', code: error.code ?? 'SOCKET_UNAVAILABLE', message: error.message, cause });
  },
);
