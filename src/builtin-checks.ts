// Ready-made checks on node core only: event loop delay, heap and RSS, free disk space, a TCP
// connect and an HTTP request. Each reports an observed value and unit, honours the AbortSignal
// the probe passes (its timeout), and keeps monitors running only between start() and stop().

//
// The node modules a check needs are loaded when that check is created, with
// process.getBuiltinModule (sync, so a factory stays sync; Node, Bun and Deno have it): importing
// the checks costs nothing a service does not use.

import type { IncomingMessage, OutgoingHttpHeaders } from 'node:http';
import type { IntervalHistogram } from 'node:perf_hooks';
import type { CheckFunction, CheckResult } from './checks.js';
import { ProbeArgumentError, ProbeUnsupportedError } from './errors.js';
import { toDuration, toInteger, toOptions, toPositiveInteger, toPositiveNumber, toRatio } from './options.js';

/** Options of {@link eventLoopDelay}. */
export interface EventLoopDelayOptions {
  /** Fail when the 99th percentile of the delay since the previous run exceeds this, in ms. Default 500. */
  maxMs?: number;
  /** Sampling interval of the monitor, in ms. Default 20. */
  resolutionMs?: number;
}

// Which runtime runs us: Bun and Deno implement node:perf_hooks and node:v8 on engines of their own,
// and some of it only in shape. `undefined` means Node.
function otherRuntime(): string | undefined {
  const versions = process.versions as NodeJS.ProcessVersions & { bun?: string; deno?: string };
  if (versions.bun !== undefined) return `bun ${versions.bun}`;
  if (versions.deno !== undefined) return `deno ${versions.deno}`;
  return undefined;
}

// What the event loop check reads between two runs: the worst delay since the last reset.
interface DelayMonitor {
  /** The delay in ms since the last call (undefined when nothing was sampled yet); resets. */
  take(): number | undefined;
  stop(): void;
}

// Node: the perf_hooks histogram, which samples in native code. It records whole timer intervals,
// so the delay is what exceeds the resolution.
function histogramMonitor(resolutionMs: number): DelayMonitor {
  const histogram: IntervalHistogram = process.getBuiltinModule('node:perf_hooks').monitorEventLoopDelay({ resolution: resolutionMs });
  histogram.enable();
  return {
    take() {
      if (histogram.count === 0) return undefined;
      const delayMs = Math.max(0, histogram.percentile(99) / 1e6 - resolutionMs);
      histogram.reset();
      return delayMs;
    },
    stop: () => histogram.disable(),
  };
}

// Elsewhere: timer drift, measured in JavaScript. Deno's monitorEventLoopDelay records samples that
// never see a blocked loop (a 300 ms busy loop reads as 0.03 ms), and Bun's records a different
// quantity than Node's (the delay alone, not the interval); a timer that notes how late it fires
// means the same on every runtime. The worst lateness since the last run is kept, plus the lateness
// of a tick still pending, so a check answered right after a block sees it even when the request is
// served before the late timer fires.
function driftMonitor(resolutionMs: number): DelayMonitor {
  let last = performance.now();
  let worstMs = 0;
  let samples = 0;
  const timer = setInterval(() => {
    const now = performance.now();
    worstMs = Math.max(worstMs, now - last - resolutionMs);
    last = now;
    samples++;
  }, resolutionMs);
  timer.unref?.();
  return {
    take() {
      const now = performance.now();
      const pendingMs = now - last - resolutionMs;
      if (samples === 0 && pendingMs <= 0) return undefined;
      const delayMs = Math.max(0, worstMs, pendingMs);
      worstMs = 0;
      samples = 0;
      // A pending lateness is counted now; the late tick then measures from here, not twice.
      if (pendingMs > 0) last = now;
      return delayMs;
    },
    stop: () => clearInterval(timer),
  };
}

/**
 * Event loop delay: fails when the delay since the previous run is above `maxMs`; reports it in
 * `ms`. On Node it is the 99th percentile of perf_hooks `monitorEventLoopDelay`; on Bun and Deno,
 * whose monitors do not measure the same thing (Deno's never sees a blocked loop), it is the worst
 * timer drift since the previous run. The monitor runs only while the check is registered and its
 * probe is not stopped (from `addCheck` until `stop()`, and again from `start()`). A good liveness
 * check: a loop that lags for seconds serves nobody.
 */
export function eventLoopDelay(options?: EventLoopDelayOptions): CheckFunction {
  const given = toOptions<EventLoopDelayOptions>(options, 'options', ['maxMs', 'resolutionMs']);
  const maxMs = given.maxMs === undefined ? 500 : toPositiveNumber(given.maxMs, 'options.maxMs');
  const resolutionMs = given.resolutionMs === undefined ? 20 : toDuration(given.resolutionMs, 'options.resolutionMs');
  const measure = otherRuntime() === undefined ? 'p99' : 'max timer drift';
  const createMonitor = otherRuntime() === undefined ? histogramMonitor : driftMonitor;
  let monitor: DelayMonitor | undefined;
  let users = 0;
  const verdict = (delayMs: number): CheckResult => {
    const observedValue = round(delayMs, 2);
    return { ok: delayMs <= maxMs, observedValue, observedUnit: 'ms', output: `event loop delay ${measure} ${observedValue} ms (limit ${maxMs} ms)` };
  };
  const check: CheckFunction = () => {
    const delayMs = monitor?.take();
    if (delayMs !== undefined) return verdict(delayMs);
    // No samples yet (just started, or used outside a probe): measure one turn of the loop.
    const began = performance.now();
    return new Promise<CheckResult>((resolve) => setImmediate(() => resolve(verdict(performance.now() - began))));
  };
  check.start = () => {
    if (users++ === 0) monitor = createMonitor(resolutionMs);
  };
  check.stop = () => {
    if (users === 0) return;
    if (--users === 0) {
      monitor?.stop();
      monitor = undefined;
    }
  };
  return check;
}

/** Options of {@link heapUsage}. */
export interface HeapUsageOptions {
  /** Fail when used heap / heap size limit exceeds this ratio (0 < maxRatio ≤ 1). Default 0.9. */
  maxRatio?: number;
}

/**
 * V8 heap usage: fails when the used heap is above `maxRatio` of the heap limit. Reports the ratio
 * (`ratio`). Node and Deno (both V8). On Bun it throws a {@link ProbeUnsupportedError}: JavaScriptCore
 * has no fixed heap limit, and the `heap_size_limit` Bun reports moves with the heap, so the ratio
 * would not say how close the process is to running out; use {@link rssUsage} there.
 */
export function heapUsage(options?: HeapUsageOptions): CheckFunction {
  const given = toOptions<HeapUsageOptions>(options, 'options', ['maxRatio']);
  const maxRatio = given.maxRatio === undefined ? 0.9 : toRatio(given.maxRatio, 'options.maxRatio');
  const runtime = otherRuntime();
  if (runtime?.startsWith('bun') === true) {
    throw new ProbeUnsupportedError('heapUsage', runtime, 'JavaScriptCore has no fixed heap limit to compare the used heap with; use rssUsage({ maxBytes })');
  }
  const { getHeapStatistics } = process.getBuiltinModule('node:v8');
  return () => {
    const { used_heap_size: used, heap_size_limit: limit } = getHeapStatistics();
    const ratio = used / limit;
    return {
      ok: ratio <= maxRatio,
      observedValue: round(ratio, 4),
      observedUnit: 'ratio',
      output: `heap ${used} of ${limit} bytes used (limit ratio ${maxRatio})`,
    };
  };
}

/** Options of {@link rssUsage}. */
export interface RssUsageOptions {
  /** Fail when the resident set size exceeds this many bytes. Required. */
  maxBytes: number;
}

/** Resident set size of the process: fails above `maxBytes`. Reports it in `bytes`. */
export function rssUsage(options: RssUsageOptions): CheckFunction {
  const given = toOptions<RssUsageOptions>(options, 'options', ['maxBytes']);
  const maxBytes = toPositiveInteger(given.maxBytes, 'options.maxBytes');
  return () => {
    const rss = process.memoryUsage.rss();
    return { ok: rss <= maxBytes, observedValue: rss, observedUnit: 'bytes', output: `rss ${rss} bytes (limit ${maxBytes})` };
  };
}

/** Options of {@link diskSpace}. Without `minFreeBytes` or `minFreeRatio`, `minFreeRatio` is 0.05. */
export interface DiskSpaceOptions {
  /** A path on the file system to watch. Default `'/'`. */
  path?: string;
  /** Fail when fewer bytes than this are available to the process. */
  minFreeBytes?: number;
  /** Fail when less than this share of the file system is available (0 < ratio ≤ 1). */
  minFreeRatio?: number;
}

/**
 * Free disk space (fs.statfs): fails when the space available to unprivileged users is below
 * `minFreeBytes` or `minFreeRatio`. Reports the free bytes (`bytes`).
 */
export function diskSpace(options?: DiskSpaceOptions): CheckFunction {
  const given = toOptions<DiskSpaceOptions>(options, 'options', ['path', 'minFreeBytes', 'minFreeRatio']);
  const path = given.path ?? '/';
  if (typeof path !== 'string' || path === '') throw new ProbeArgumentError('options.path', 'a non-empty path string', path);
  const minFreeBytes = given.minFreeBytes === undefined ? undefined : toInteger(given.minFreeBytes, 'options.minFreeBytes', 0);
  const minFreeRatio =
    given.minFreeRatio === undefined ? (minFreeBytes === undefined ? 0.05 : undefined) : toRatio(given.minFreeRatio, 'options.minFreeRatio');
  const { statfs } = process.getBuiltinModule('node:fs/promises');
  return async () => {
    const stats = await statfs(path);
    const free = stats.bavail * stats.bsize;
    const total = stats.blocks * stats.bsize;
    const ratio = total > 0 ? free / total : 0;
    const ok = (minFreeBytes === undefined || free >= minFreeBytes) && (minFreeRatio === undefined || ratio >= minFreeRatio);
    const limits = [minFreeBytes === undefined ? '' : `${minFreeBytes} bytes`, minFreeRatio === undefined ? '' : `ratio ${minFreeRatio}`].filter(Boolean);
    return {
      ok,
      observedValue: free,
      observedUnit: 'bytes',
      output: `${free} of ${total} bytes free on ${path} (ratio ${round(ratio, 4)}; minimum ${limits.join(' and ')})`,
    };
  };
}

/** Options of {@link tcp}. */
export interface TcpOptions {
  /** Host name or IP address. Default `'127.0.0.1'`. */
  host?: string;
  /** TCP port (1–65535). Required. */
  port: number;
}

/** Opens a TCP connection and closes it: fails when it cannot connect. Reports the connect time (`ms`). */
export function tcp(options: TcpOptions): CheckFunction {
  const given = toOptions<TcpOptions>(options, 'options', ['host', 'port']);
  const host = given.host ?? '127.0.0.1';
  if (typeof host !== 'string' || host === '') throw new ProbeArgumentError('options.host', 'a host name or IP address', host);
  const port = toInteger(given.port, 'options.port', 1, 65535);
  const where = host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
  const { connect } = process.getBuiltinModule('node:net');
  return (signal?: AbortSignal) =>
    new Promise<CheckResult>((resolve, reject) => {
      if (signal?.aborted) return reject(signal.reason);
      const began = performance.now();
      const socket = connect({ host, port });
      const onAbort = () => {
        socket.destroy();
        reject(signal!.reason);
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      socket.once('connect', () => {
        signal?.removeEventListener('abort', onAbort);
        const ms = round(performance.now() - began, 2);
        socket.destroy();
        resolve({ ok: true, observedValue: ms, observedUnit: 'ms', output: `connected to ${where} in ${ms} ms` });
      });
      socket.once('error', (error: NodeJS.ErrnoException) => {
        signal?.removeEventListener('abort', onAbort);
        socket.destroy();
        reject(new Error(`cannot connect to ${where}: ${error.code ?? error.message}`));
      });
    });
}

/** Options of {@link http}. */
export interface HttpOptions {
  /** An `http:` or `https:` URL. Required. */
  url: string | URL;
  /** The status (or statuses) that pass. Default: any 200–399 (the kubelet rule). */
  expectStatus?: number | readonly number[];
  /** Request method. Default `'GET'`. */
  method?: string;
  /** Extra request headers. */
  headers?: Record<string, string>;
}

/**
 * Sends one HTTP(S) request on its own connection and reads only the status: fails on another
 * status or no answer. Reports the time to the response head (`ms`).
 */
export function http(options: HttpOptions): CheckFunction {
  const given = toOptions<HttpOptions>(options, 'options', ['url', 'expectStatus', 'method', 'headers']);
  let target: URL;
  try {
    target = new URL(given.url as string);
  } catch {
    throw new ProbeArgumentError('options.url', 'an http: or https: URL', given.url);
  }
  if (target.protocol !== 'http:' && target.protocol !== 'https:') throw new ProbeArgumentError('options.url', 'an http: or https: URL', given.url);
  const expected = given.expectStatus === undefined ? undefined : Array.isArray(given.expectStatus) ? given.expectStatus : [given.expectStatus];
  if (expected !== undefined && (expected.length === 0 || !expected.every((s) => Number.isInteger(s) && s >= 100 && s <= 599))) {
    throw new ProbeArgumentError('options.expectStatus', 'an HTTP status (100–599) or a non-empty array of them', given.expectStatus);
  }
  const method = given.method ?? 'GET';
  if (typeof method !== 'string' || !/^[A-Z]+$/.test(method)) throw new ProbeArgumentError('options.method', 'an upper-case HTTP method', method);
  const headers = given.headers ?? {};
  if (typeof headers !== 'object' || headers === null || Object.values(headers).some((v) => typeof v !== 'string')) {
    throw new ProbeArgumentError('options.headers', 'an object of string header values', headers);
  }
  // Never show credentials or a query string in messages.
  const shown = `${target.origin}${target.pathname}`;
  const passes = (status: number) => (expected === undefined ? status >= 200 && status <= 399 : expected.includes(status));
  const requestHeaders: OutgoingHttpHeaders = { 'user-agent': 'service-probe', ...headers, connection: 'close' };

  return async (signal?: AbortSignal) => {
    // node:https (and TLS with it) is loaded only by checks that need it.
    const send = target.protocol === 'https:' ? process.getBuiltinModule('node:https').request : process.getBuiltinModule('node:http').request;
    if (signal?.aborted) throw signal.reason;
    return new Promise<CheckResult>((resolve, reject) => {
      const began = performance.now();
      // agent: false: a connection of its own, closed after the answer, so nothing stays open.
      const req = send(target, { method, headers: requestHeaders, agent: false, ...(signal ? { signal } : {}) });
      req.once('response', (res: IncomingMessage) => {
        const ms = round(performance.now() - began, 2);
        const status = res.statusCode ?? 0;
        // Only the status matters: drop the body and the connection.
        res.destroy();
        req.destroy();
        resolve({ ok: passes(status), observedValue: ms, observedUnit: 'ms', output: `${method} ${shown} answered ${status} in ${ms} ms` });
      });
      req.on('error', (error: NodeJS.ErrnoException) => {
        if (signal?.aborted) reject(signal.reason);
        else reject(new Error(`${method} ${shown} failed: ${error.code ?? error.message}`));
      });
      req.end();
    });
  };
}

function round(value: number, digits: number): number {
  const factor = 10 ** digits;
  return Math.round(value * factor) / factor;
}
