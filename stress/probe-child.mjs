// The probe under test, in a process of its own: the driver (the parent) measures it from outside
// (its file descriptors in /proc/<pid>/fd, its memory, whatever it writes to stderr) and drives it
// over IPC. Anything the probe throws or leaves unhandled is counted here and reported, never hidden.

import { createServer } from 'node:net';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { createProbe } from '../dist/index.js';

// node:net compares every destroyed socket with process.stdout/stderr, which creates those
// streams (a PipeWrap each) on first use. Create them now so they are in every baseline count.
void process.stdout;
void process.stderr;

const counters = { uncaught: [], unhandled: [], warnings: [], logged: { error: [], warn: [] } };
process.on('uncaughtException', (error) => counters.uncaught.push(String(error?.stack ?? error)));
process.on('unhandledRejection', (reason) => counters.unhandled.push(String(reason?.stack ?? reason)));
process.on('warning', (warning) => counters.warnings.push(`${warning.name}: ${warning.message}`));

// Keep the first few messages of each kind and count the rest.
const logger = {
  error: (message) => counters.logged.error.push(message),
  warn: (message) => counters.logged.warn.push(message),
};

let probe;
let flipper;
// How long the probe process's event loop was held up: separates the probe's own stalls from the
// machine's (a slow answer with a quiet loop was the driver's or the scheduler's).
const loopDelay = monitorEventLoopDelay({ resolution: 10 });
loopDelay.enable();

function hr() {
  return Number(process.hrtime.bigint());
}

function stats({ gc = false } = {}) {
  if (gc && typeof globalThis.gc === 'function') {
    globalThis.gc();
    globalThis.gc();
  }
  const memory = process.memoryUsage();
  return {
    heapUsed: memory.heapUsed,
    rss: memory.rss,
    resources: process.getActiveResourcesInfo(),
    uncaught: counters.uncaught.length,
    unhandled: counters.unhandled.length,
    warnings: counters.warnings.length,
    loggedErrors: counters.logged.error.length,
    loggedWarnings: counters.logged.warn.length,
    firstProblems: [...counters.uncaught, ...counters.unhandled, ...counters.warnings, ...counters.logged.error].slice(0, 5),
    state: probe?.state,
    loopDelayMaxMs: loopDelay.max / 1e6,
    loopDelayP99Ms: loopDelay.percentile(99) / 1e6,
  };
}

// States change on a timer, each change recorded as [ns before setState, ns after, state index]
// on the monotonic clock the parent shares (CLOCK_MONOTONIC via process.hrtime).
function startFlipping({ everyMs, seed, states }) {
  let s = seed >>> 0;
  const timeline = [];
  let current = states.indexOf(probe.state);
  timeline.push([0, 0, current]);
  const timer = setInterval(() => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    let next = s % (states.length - 1);
    if (next >= current) next++; // always a real change
    const before = hr();
    probe.setState(states[next]);
    const after = hr();
    timeline.push([before, after, next]);
    current = next;
  }, everyMs);
  flipper = { timer, timeline };
}

// Checks that misbehave in every way the issue lists. Functions cannot cross IPC, so they are
// defined here and chosen by name. `timeoutMs` is the checks' timeout.
function misbehavingChecks(timeoutMs) {
  const never = () => new Promise(() => {});
  const hostileObject = new Proxy({}, { get() { throw new Error('boom-proxy'); } });
  return {
    // name: [function, options, expected status of /ready/<name> (200 pass, 503 fail)]
    'passes': [() => true, {}, 200],
    'slow-pass': [() => new Promise((resolve) => setTimeout(resolve, timeoutMs / 4, true)), { affects: 'liveness' }, 200],
    'huge-return': [() => 'x'.repeat(1 << 20), {}, 200],
    'throws-sync': [() => { throw new Error('boom-sync'); }, {}, 503],
    'throws-null': [() => { throw null; }, {}, 503],
    'rejects-string': [() => Promise.reject('boom-string'), {}, 503],
    'rejects-undefined': [() => Promise.reject(undefined), {}, 503],
    'rejects-symbol': [() => Promise.reject(Symbol('boom-symbol')), {}, 503],
    'rejects-proxy': [() => Promise.reject(hostileObject), {}, 503],
    'returns-proxy': [() => hostileObject, {}, 503],
    'rejects-bad-tostring': [() => Promise.reject({ toString() { throw new Error('boom-tostring'); } }), {}, 503],
    'never-settles': [never, {}, 503],
    'settles-late': [() => new Promise((resolve) => setTimeout(resolve, timeoutMs * 2, true)), {}, 503],
    'rejects-late': [() => new Promise((_, reject) => setTimeout(reject, timeoutMs * 1.5, new Error('boom-late'))), {}, 503],
    'huge-output': [() => ({ ok: false, output: 'y'.repeat(1 << 20), observedValue: 'z'.repeat(1 << 16) }), {}, 503],
    'returns-false': [() => false, {}, 503],
    'warns-liveness': [() => { throw new Error('boom-noncritical'); }, { affects: 'liveness', critical: false }, 200],
    'background-throws': [() => { throw new Error('boom-background'); }, { intervalMs: Math.max(5, timeoutMs / 10) }, 503],
  };
}

let churn;

const commands = {
  // One passing check, so hostile requests also reach the check paths (/ready/<name>, verbose, JSON).
  addPassingCheck({ name }) {
    probe.addCheck(name, () => ({ observedValue: 1, observedUnit: 'ms' }));
    return {};
  },
  addChecks({ timeoutMs }) {
    const expected = {};
    for (const [name, [fn, options, status]] of Object.entries(misbehavingChecks(timeoutMs))) {
      probe.addCheck(name, fn, { timeoutMs, ...options });
      expected[name] = status;
    }
    return { expected };
  },
  // A check added and removed every few ms, failing or hanging on alternate turns, while
  // requests are in flight.
  startChurn({ everyMs, timeoutMs }) {
    let turn = 0;
    churn = setInterval(() => {
      if (probe.hasCheck('churn')) probe.removeCheck('churn');
      else probe.addCheck('churn', turn++ % 2 ? () => new Promise(() => {}) : () => Promise.reject(new Error('boom-churn')), { timeoutMs });
    }, everyMs);
    return {};
  },
  stopChurn() {
    clearInterval(churn);
    return {};
  },

  create({ options }) {
    probe = createProbe({ ...options, logger });
    return {};
  },
  async start({ overrides }) {
    const bound = await probe.start(overrides);
    return { port: bound.port };
  },
  async stop() {
    const t0 = performance.now();
    await probe.stop();
    return { ms: performance.now() - t0 };
  },
  setState({ state }) {
    probe.setState(state);
    return {};
  },
  stats,
  resetLoopDelay() {
    loopDelay.reset();
    return {};
  },
  flip(args) {
    startFlipping(args);
    return {};
  },
  stopFlipping() {
    clearInterval(flipper.timer);
    const { timeline } = flipper;
    flipper = undefined;
    return { timeline };
  },
  // A start on a port another socket holds must fail with SOCKET_UNAVAILABLE and leave nothing:
  // same resources, same state, and the probe starts fine afterwards.
  async startOnTakenPort() {
    const blocker = createServer();
    await new Promise((resolve) => blocker.listen(0, '127.0.0.1', resolve));
    const { port } = blocker.address();
    const before = { state: probe.state, resources: process.getActiveResourcesInfo() };
    let code;
    try {
      await probe.start({ host: '127.0.0.1', port, state: 'DOWN' });
      code = 'STARTED';
    } catch (error) {
      code = error.code;
    }
    // The failed server's handle closes on the next turns of the loop; give it those.
    await new Promise((resolve) => setTimeout(resolve, 50));
    const after = { state: probe.state, resources: process.getActiveResourcesInfo() };
    await new Promise((resolve) => blocker.close(resolve));
    return { code, before, after };
  },
};

process.on('message', async ({ id, cmd, args }) => {
  try {
    const result = await commands[cmd](args ?? {});
    process.send({ id, ok: true, result });
  } catch (error) {
    process.send({ id, ok: false, error: String(error?.stack ?? error) });
  }
});
process.send({ ready: true });
