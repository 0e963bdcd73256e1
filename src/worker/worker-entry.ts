// The probe's worker thread (worker mode): the node:net probe server, answering with the same
// decision code as the main thread (answer.ts) from the shared state, the mirrored check registry
// and the main thread's beat. Loaded only by main-side.ts, as a file of its own.

import { parentPort, receiveMessageOnPort, workerData } from 'node:worker_threads';
import { answerRoute, type AnswerSource } from '../answer.js';
import { selectChecks, type CheckInfo, type Selection } from '../checks.js';
import type { Log, ProbeLogFields } from '../log.js';
import { listenRaw } from '../raw-server.js';
import { route } from '../routes.js';
import { evaluates, type CheckOutcome } from '../verdict.js';
import type { FromWorker, ToWorker, Update, WorkerData } from './protocol.js';
import { SharedState } from './shared-state.js';
import { observedStallMs, singleStallOutcome, stallOutcome, STALL_CHECK_NAME } from './stall.js';

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

function apply(update: Update): void {
  if (update.kind === 'checks') {
    mirror(update.checks);
    return;
  }
  const check = checks.get(update.outcome.name);
  if (check !== undefined && check.background) checks.set(check.name, { ...check, last: update.outcome });
}

// Updates arrive as messages when this thread is idle; a request takes those not yet delivered
// synchronously first, so a check added on the main thread counts from the next request on, like
// a state change. (The main thread posts, then announces: an announced update is always there.)
data.updates.on('message', apply);
let seenUpdates = shared.updates;
function takeUpdates(): void {
  const announced = shared.updates;
  if (announced === seenUpdates) return;
  seenUpdates = announced;
  for (let message = receiveMessageOnPort(data.updates); message !== undefined; message = receiveMessageOnPort(data.updates)) apply(message.message as Update);
}

// On-demand checks run on the main thread: asked by message, answered by its registry. A main
// thread that cannot answer in time has them fail at their timeout.
let nextId = 0;
const asked = new Map<number, (outcomes: readonly CheckOutcome[] | undefined) => void>();

function askMain(selection: Selection, selected: readonly CheckInfo[]): Promise<readonly CheckOutcome[]> {
  const id = nextId++;
  let timeoutMs = 0;
  for (const check of selected) if (!check.background && check.timeoutMs > timeoutMs) timeoutMs = check.timeoutMs;
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      asked.delete(id);
      resolve(selected.map((check) => (check.background ? lastOf(check) : failure(check, `timed out after ${check.timeoutMs} ms`, check.timeoutMs))));
    }, timeoutMs);
    asked.set(id, (outcomes) => {
      clearTimeout(timer);
      asked.delete(id);
      // undefined: the check was removed while the question was on its way.
      resolve(outcomes ?? selected.map((check) => failure(check, 'check removed', 0)));
    });
    post({ type: 'evaluate', id, selection });
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

const source: AnswerSource = {
  get state() {
    return shared.state;
  },
  get started() {
    return shared.started;
  },
  get readyWhileDraining() {
    return shared.readyWhileDraining;
  },
  exposeDetails: data.exposeDetails,
  get hasChecks() {
    return checks.size > 0 || stallMs > data.stall.readinessStallMs;
  },
  evaluate(selection) {
    const now = Date.now();
    if (selection.only === STALL_CHECK_NAME && !checks.has(STALL_CHECK_NAME)) return [singleStallOutcome(selection.endpoint, stallMs, data.stall, now)];
    const selected = selectChecks(checks, selection);
    if (selected === undefined) return undefined;
    const stall = selection.only === undefined && !selection.exclude.includes(STALL_CHECK_NAME) ? stallOutcome(stallMs, data.stall, now) : undefined;
    const withStall = (outcomes: readonly CheckOutcome[]) => (stall === undefined || !evaluates(selection.endpoint, stall) ? outcomes : [...outcomes, stall]);
    if (selected.every((check) => check.background)) return withStall(selected.map(lastOf));
    return askMain(selection, selected).then(withStall);
  },
  evaluationFailed: (error) => log.error({ event: 'evaluation-failed', reason: String(error) }, `probe: evaluating checks failed: ${String(error)}`),
};

toMain.on('message', (message: ToWorker) => {
  if (message.type === 'outcomes') asked.get(message.id)?.(message.outcomes);
  else if (message.type === 'stop') {
    server?.stop(message.graceMs).then((inTime) => post({ type: 'stopped', inTime }));
    if (server === undefined) post({ type: 'stopped', inTime: true });
  }
});

let server: Awaited<ReturnType<typeof listenRaw>> | undefined;
listenRaw(
  {
    answer(method, target, accept) {
      takeUpdates();
      stallMs = observedStallMs(shared.msSinceBeat(), data.stall.beatMs);
      if (server !== undefined) shared.connections = server.connections;
      return answerRoute(route(method, target, accept, '', data.paths), source);
    },
  },
  data.host,
  data.port,
  data.limits,
  log,
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
