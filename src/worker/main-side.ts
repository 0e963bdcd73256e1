// Worker mode, main thread side: starts the probe's worker thread (worker-entry.ts) and keeps it
// fed from the probe's view: the state and the beat in shared memory, check registrations and
// outcomes on the update port, on-demand check runs on request. Loaded with import() only when
// worker mode is used, and node:worker_threads with it.

import type { MessagePort, Worker } from 'node:worker_threads';
import type { Freshness, Selection } from '../checks.js';
import { ProbeStartError, type ProbeStartErrorCode } from '../errors.js';
import type { Log } from '../log.js';
import type { CheckCounts } from '../metrics-endpoint.js';
import type { ProbeView } from '../responder.js';
import type { PathTable } from '../routes.js';
import type { BoundAddress, ProbeServer, ServerLimits } from '../server-core.js';
import type { CheckOutcome } from '../verdict.js';
import type { ResolvedWorkerOptions } from './options.js';
import type { FromWorker, ToWorker, Update, WorkerData } from './protocol.js';
import { SharedState, stillWaitedFor } from './shared-state.js';

// The worker's own bundle, an entry of the build next to the chunk this code is in (dist/worker-entry.js).
const WORKER_URL = new URL('./worker-entry.js', import.meta.url);

// A worker that crashes is restarted at once, then after a doubling delay while it keeps
// crashing within a second of its start (up to 5 s), so a crash loop cannot spin a core.
const FIRST_RESTART_DELAY_MS = 100;
const MAX_RESTART_DELAY_MS = 5000;
const STABLE_AFTER_MS = 1000;
// How long a stop waits for the worker's own graceful stop past the grace period before it
// terminates the thread anyway.
const STOP_MARGIN_MS = 2000;

/** What the worker serves besides the HTTP/1.1 endpoints. */
export interface WorkerFeatures {
  /** gRPC health on connections that start with the HTTP/2 preface. */
  readonly grpc: boolean;
  /** `/metrics`: the main thread's counters, handed to every worker started (`undefined`: off). */
  readonly metricsCounts: (() => CheckCounts) | undefined;
}

/** The probe server running in a worker thread, and the calls that keep its view current. */
export interface WorkerServer extends ProbeServer {
  /** The state or a flag changed: the worker answers with it from its next request on. */
  stateChanged(): void;
  /** A check was added or removed. */
  checksChanged(): void;
  /** A check run finished (the probe's 'check' event). */
  checkFinished(outcome: CheckOutcome): void;
}

interface Running {
  readonly worker: Worker;
  readonly updates: MessagePort;
  readonly startedAt: number;
  onStopped?: (inTime: boolean) => void;
}

/**
 * Starts the probe server in a worker thread on `host:port`. Resolves once it listens; rejects
 * a ProbeStartError `SOCKET_UNAVAILABLE` (with the OS error as `cause`) and leaves no thread,
 * port or timer behind when it cannot.
 */
export async function listenInWorker(
  view: ProbeView,
  host: string | undefined,
  port: number,
  limits: ServerLimits,
  paths: PathTable,
  log: Log,
  options: ResolvedWorkerOptions,
  features: WorkerFeatures,
): Promise<WorkerServer> {
  const { Worker, MessageChannel } = await import('node:worker_threads');
  const shared = new SharedState();
  shared.writeState(view.state, view.started, view.readyWhileDraining);
  shared.beat();
  const stall = { readinessStallMs: options.readinessStallMs, livenessStallMs: options.livenessStallMs, beatMs: options.beatMs };
  const failed = (error: unknown) => log.error({ event: 'evaluation-failed', err: error }, `probe: evaluating checks failed: ${String(error)}`);

  let current: Running | undefined;
  let stopping = false;
  let restartTimer: NodeJS.Timeout | undefined;
  // A restart under way, which a stop waits for (so that no thread outlives the stop).
  let restarting: Promise<unknown> | undefined;
  let restartDelayMs = FIRST_RESTART_DELAY_MS;

  // An evaluation the worker asks for. One that runs checks is acknowledged at once: the worker
  // then knows this thread is answering, and waits for the checks' own timeouts. One the worker no
  // longer waits for (this thread was blocked) is dropped: the worker answered without it.
  function answerEvaluate(running: Running, id: number, selection: Selection, freshness: Freshness, askedAtMs: number): void {
    if (!stillWaitedFor(askedAtMs, options.mainThreadWaitMs)) return;
    const send = (message: ToWorker) => {
      if (current === running) running.worker.postMessage(message);
    };
    let result;
    try {
      result = view.checks.evaluate(selection, freshness);
    } catch (error) {
      failed(error);
      return;
    }
    if (!(result instanceof Promise)) {
      send({ type: 'outcomes', id, outcomes: result });
      return;
    }
    send({ type: 'evaluating', id });
    result.then((outcomes) => send({ type: 'outcomes', id, outcomes }), failed);
  }

  // Starts one worker thread; resolves once it listens.
  function spawn(bindPort: number): Promise<{ running: Running; bound: BoundAddress }> {
    const channel = new MessageChannel();
    const data: WorkerData = {
      shared: shared.buffer,
      updates: channel.port2,
      checks: view.checks.list(),
      host,
      port: bindPort,
      limits,
      paths,
      exposeDetails: view.exposeDetails,
      stall,
      mainThreadWaitMs: options.mainThreadWaitMs,
      grpc: features.grpc,
      metrics: features.metricsCounts !== undefined,
      counts: features.metricsCounts?.() ?? [],
    };
    // execArgv []: the service's own preloads (--import of an APM agent, loaders) have no business
    // in the probe's thread.
    const worker = new Worker(WORKER_URL, { workerData: data, transferList: [channel.port2], execArgv: [] });
    const running: Running = { worker, updates: channel.port1, startedAt: performance.now() };
    return new Promise((resolve, reject) => {
      let listening = false;
      let failure: ProbeStartError | undefined;
      worker.on('message', (message: FromWorker) => {
        switch (message.type) {
          case 'log':
            log[message.level](message.fields, message.message);
            break;
          case 'evaluate':
            answerEvaluate(running, message.id, message.selection, message.freshness, message.askedAtMs);
            break;
          case 'listening':
            listening = true;
            resolve({ running, bound: message.bound });
            break;
          case 'failed': {
            const cause = message.cause === undefined ? undefined : Object.assign(new Error(message.cause.message), { code: message.cause.code });
            failure = new ProbeStartError(message.code as ProbeStartErrorCode, message.message, { cause });
            void worker.terminate();
            break;
          }
          case 'stopped':
            running.onStopped?.(message.inTime);
            break;
        }
      });
      worker.on('error', (error) => {
        log.error({ event: 'worker-failed', err: error }, `probe worker failed: ${error.stack ?? String(error)}`);
        failure ??= new ProbeStartError('SOCKET_UNAVAILABLE', `The probe's worker thread failed before listening: ${error.message}`, { cause: error });
      });
      worker.once('exit', (code) => {
        channel.port1.close();
        if (!listening) {
          reject(failure ?? new ProbeStartError('SOCKET_UNAVAILABLE', `The probe's worker thread exited (code ${code}) before listening`));
          return;
        }
        running.onStopped?.(false);
        if (current === running && !stopping) crashed(code);
      });
    });
  }

  function crashed(code: number): void {
    const lived = performance.now() - current!.startedAt;
    current = undefined;
    restartDelayMs = lived > STABLE_AFTER_MS ? 0 : Math.min(MAX_RESTART_DELAY_MS, Math.max(FIRST_RESTART_DELAY_MS, restartDelayMs * 2));
    log.error(
      { event: 'worker-exited', exitCode: code, port: bound.port, restartDelayMs },
      `probe worker exited unexpectedly (code ${code}); restarting it on port ${bound.port}${restartDelayMs > 0 ? ` in ${restartDelayMs} ms` : ''}`,
    );
    restartTimer = setTimeout(restart, restartDelayMs);
  }

  function restart(): void {
    restartTimer = undefined;
    if (stopping) return;
    restarting = spawn(bound.port).then(
      ({ running }) => {
        if (stopping) {
          void running.worker.terminate();
          return;
        }
        current = running;
        // Checks added or removed, and outcomes, while it started went nowhere: send them again.
        resync();
        log.info({ event: 'worker-restarted', port: bound.port }, `probe worker restarted on port ${bound.port}`);
      },
      (error: Error) => {
        if (stopping) return;
        restartDelayMs = Math.min(MAX_RESTART_DELAY_MS, Math.max(FIRST_RESTART_DELAY_MS, restartDelayMs * 2));
        log.error({ event: 'worker-restart-failed', reason: error.message, restartDelayMs }, `probe worker could not restart: ${error.message}; trying again in ${restartDelayMs} ms`);
        restartTimer = setTimeout(restart, restartDelayMs);
      },
    );
  }

  function post(update: Update): void {
    if (current === undefined) return;
    current.updates.postMessage(update);
    // Posted first, announced second: the worker never misses an announced update.
    shared.announceUpdate();
  }

  const first = await spawn(port);
  current = first.running;
  const bound = first.bound;
  // What changed while the worker started: the state (written again here) and the checks (the
  // list is sent again at the end).
  shared.writeState(view.state, view.started, view.readyWhileDraining);
  // The beat: an unref'd timer, so it never keeps the process alive on its own.
  const beat = setInterval(() => shared.beat(), options.beatMs);
  beat.unref();

  // What the worker learns again once it is `current` (started or restarted): the check list with
  // the latest outcomes, and the /metrics counters as they stand at this point of the updates.
  function resync(): void {
    server.checksChanged();
    if (features.metricsCounts !== undefined) post({ kind: 'counts', counts: features.metricsCounts() });
  }

  let stopped: Promise<boolean> | undefined;
  const server: WorkerServer = {
    bound,
    get connections() {
      return current === undefined ? 0 : shared.connections;
    },
    stop(graceMs: number): Promise<boolean> {
      stopped ??= (async () => {
        stopping = true;
        clearInterval(beat);
        clearTimeout(restartTimer);
        await restarting;
        const running = current;
        if (running === undefined) return true;
        const inTime = await new Promise<boolean>((resolve) => {
          const late = setTimeout(() => resolve(false), graceMs + STOP_MARGIN_MS);
          running.onStopped = (settled) => {
            clearTimeout(late);
            resolve(settled);
          };
          running.worker.postMessage({ type: 'stop', graceMs } satisfies ToWorker);
        });
        current = undefined;
        await running.worker.terminate();
        return inTime;
      })();
      return stopped;
    },
    stateChanged() {
      shared.writeState(view.state, view.started, view.readyWhileDraining);
      // Requests read the shared memory; the message tells the worker's gRPC Watch streams.
      post({ kind: 'state', state: view.state, started: view.started, readyWhileDraining: view.readyWhileDraining });
    },
    checksChanged() {
      post({ kind: 'checks', checks: view.checks.list() });
    },
    checkFinished(outcome) {
      post({ kind: 'outcome', outcome });
    },
  };
  resync();
  return server;
}
