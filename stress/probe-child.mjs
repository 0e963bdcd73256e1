// The probe under test, in a process of its own: the driver (the parent) measures it from outside
// (its file descriptors in /proc/<pid>/fd, its memory, whatever it writes to stderr) and drives it
// over IPC. Anything the probe throws or leaves unhandled is counted here and reported, never hidden.

import { createServer } from 'node:net';
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

const commands = {
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
    const before = { state: probe.state, resources: process.getActiveResourcesInfo().length };
    let code;
    try {
      await probe.start({ host: '127.0.0.1', port, state: 'DOWN' });
      code = 'STARTED';
    } catch (error) {
      code = error.code;
    }
    // The failed server's handle closes on the next turns of the loop; give it those.
    await new Promise((resolve) => setTimeout(resolve, 50));
    const after = { state: probe.state, resources: process.getActiveResourcesInfo().length };
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
