// service-probe/client: asks a probe (this package's, the Rust crate's, or any endpoint that
// answers a state word) for its state, from another service, a script or the CLI.
//
// It speaks HTTP/1.1 over node:net itself for http: URLs (http1-get.ts) rather than node:http or
// global fetch: loading and setting up either costs more than the request, and the CLI's `check`
// starts every few seconds in every container. node:https is loaded only when an https URL is
// asked for. Every request uses its own non-keep-alive connection that is destroyed once the
// answer is in, so nothing keeps the process alive.
//
// This module must stay lean: it imports errors, state and version, never the probe or server.

import { setMaxListeners } from 'node:events';
import type { IncomingMessage } from 'node:http';
import { ProbeArgumentError, ProbeClientError } from './errors.js';
import { getOverNet, type GetHandle, type GetListener } from './http1-get.js';
import { toDuration, toFunction, toOptions } from './options.js';
import { ServiceState, isServiceState } from './state.js';
import { VERSION } from './version.js';

// node:net and node:https are loaded at the first request, not at import (a service importing
// the client for its types or errors pays nothing), and not with `import … from`: an ES module
// import of a built-in evaluates every export (on Node 22 and 24 node:https's lazy getters would
// load undici). The CommonJS exports object leaves them unevaluated.

// So that a client-only user needs one import; the same classes as in `service-probe`.
export { ProbeArgumentError, ProbeClientError } from './errors.js';
export type { ProbeClientErrorCode } from './errors.js';
export { ServiceState } from './state.js';

/** The client's defaults, in one place. Durations in milliseconds. */
export const CLIENT_DEFAULTS = Object.freeze({
  /** Time one request may take, connect to last body byte (`timeoutMs` of `fetchServiceState`, `requestTimeoutMs` of `waitUntilReady`). */
  timeoutMs: 2000,
  /** Total time `waitUntilReady` waits. */
  waitTimeoutMs: 60_000,
  /** Time from the start of one `waitUntilReady` round to the start of the next. */
  intervalMs: 1000,
  /** A probe body is a few bytes; past this many the rest is not read. */
  maxBodyBytes: 65_536,
});

/** A probe URL: an `http:` or `https:` URL, as a string or a `URL`. */
export type ProbeUrl = string | URL;

/** Options of {@link fetchServiceState}, {@link isReady} and {@link probeOnce}. */
export interface FetchStateOptions {
  /** Time the whole request may take (connect, answer, body), in ms. Default 2000. */
  timeoutMs?: number;
  /** Aborts the request: it then rejects with code `'ABORTED'` and the signal's reason as `cause`. */
  signal?: AbortSignal;
}

/** What {@link probeOnce} saw: the HTTP status, and the state the body shows. */
export interface ProbeAnswer {
  /** The HTTP status code. */
  readonly status: number;
  /**
   * The state read from the body (see {@link parseProbeBody}); `undefined` when the status is no
   * probe answer (not 2xx, 3xx or 503), in which case the body was not read.
   */
  readonly state: ServiceState | undefined;
}

/** Options of {@link waitUntilReady}. */
export interface WaitOptions {
  /** Total time to wait, in ms; past it the wait rejects with code `'NOT_READY'`. Default 60 000. */
  timeoutMs?: number;
  /** Time from the start of one round of requests to the start of the next, in ms. Default 1000. */
  intervalMs?: number;
  /** Time one request may take, in ms. Default 2000. */
  requestTimeoutMs?: number;
  /** Aborts the wait: it then rejects with code `'ABORTED'` and the signal's reason as `cause`. */
  signal?: AbortSignal;
  /** Called after every round with what is ready and what is not yet. A throw rejects the wait with it. */
  onProgress?: (progress: WaitProgress) => void;
}

/** What {@link waitUntilReady} reports to `onProgress` after each round. */
export interface WaitProgress {
  /** The round just finished, from 1. */
  readonly attempt: number;
  /** Time since the wait began, in ms. */
  readonly elapsedMs: number;
  /** URLs that have answered READY (each counts as ready from its first READY answer on). */
  readonly ready: readonly string[];
  /** URLs not ready yet, with their last answer. */
  readonly pending: readonly PendingProbe[];
}

/** A URL {@link waitUntilReady} still waits for, and why. */
export interface PendingProbe {
  readonly url: string;
  /** The state its last answer showed, if it answered. */
  readonly state: ServiceState | undefined;
  /** Why its last request failed (`UNREACHABLE`, `TIMEOUT`, `BAD_STATUS`), if it failed. */
  readonly error: ProbeClientError | undefined;
}

const FETCH_OPTIONS = ['timeoutMs', 'signal'] as const;
const WAIT_OPTIONS = ['timeoutMs', 'intervalMs', 'requestTimeoutMs', 'signal', 'onProgress'] as const;

// Accept: a probe that can also answer JSON (Accept: application/health+json) answers text here,
// the format the body rule reads. The User-Agent lets a service's logs tell this client apart.
const HEADERS = Object.freeze({ accept: 'text/plain', 'user-agent': `service-probe/${VERSION}` });

/**
 * Reads a state from a probe body, with the Rust client's rule: a line `READY` means READY, even
 * among other lines; otherwise the first line that is a state word (`UP`, `DRAINING`, `DOWN`);
 * otherwise UP. Lines are trimmed; words are case-sensitive.
 */
export function parseProbeBody(body: string): ServiceState {
  let first: ServiceState | undefined;
  for (const raw of body.split('\n')) {
    const line = raw.trim();
    if (line === ServiceState.Ready) return ServiceState.Ready;
    if (first === undefined && isServiceState(line)) first = line;
  }
  return first ?? ServiceState.Up;
}

/**
 * Asks a probe once and returns the HTTP status with the state its body shows, without judging
 * the status (the CLI's `check` applies the kubelet rule, 200–399, to it). The body is read only
 * for probe answers (2xx, 3xx, 503). Redirects are not followed.
 *
 * Rejects a `ProbeClientError`: `INVALID_URL` (before any request), `UNREACHABLE`, `TIMEOUT` or
 * `ABORTED`; a `ProbeArgumentError` for a bad option.
 */
export async function probeOnce(url: ProbeUrl, options?: FetchStateOptions): Promise<ProbeAnswer> {
  const { timeoutMs, signal } = toFetchOptions(options);
  return exchange(toTarget(url, 'url'), timeoutMs, signal);
}

/**
 * Fetches a probe's state (the Rust client's `fetch_service_state`): GETs `url` and reads the
 * body with {@link parseProbeBody}.
 *
 * Status codes: 2xx, 3xx (not followed) and 503 are probe answers, and their body decides the
 * state, as in the Rust client, so a `/ready` that answers 503 `UP` gives `UP`. Any other status
 * (404, 500, …) is no probe answer and rejects `BAD_STATUS` with `status`.
 *
 * Rejects a `ProbeClientError` with `code` `INVALID_URL` (not http/https or unparsable; no
 * request is made), `UNREACHABLE` (no usable HTTP answer: refused, reset, DNS, TLS, malformed
 * response; the error is `cause`), `TIMEOUT`, `BAD_STATUS` or `ABORTED`; and a `ProbeArgumentError`
 * for a bad option. `url` on the error is the URL as given.
 */
export async function fetchServiceState(url: ProbeUrl, options?: FetchStateOptions): Promise<ServiceState> {
  const { timeoutMs, signal } = toFetchOptions(options);
  const target = toTarget(url, 'url');
  const answer = await exchange(target, timeoutMs, signal);
  if (answer.state === undefined) throw badStatus(target.shown, answer.status);
  return answer.state;
}

/**
 * True when the probe's state is READY (the Rust client's `is_ready`). A probe that cannot be
 * asked (`UNREACHABLE`, `TIMEOUT`, `BAD_STATUS`) is not ready: that gives `false`. Still rejects
 * for `INVALID_URL`, `ABORTED` and bad options, which are the caller's doing.
 */
export async function isReady(url: ProbeUrl, options?: FetchStateOptions): Promise<boolean> {
  try {
    return (await fetchServiceState(url, options)) === ServiceState.Ready;
  } catch (error) {
    if (error instanceof ProbeClientError && isNotAnAnswer(error)) return false;
    throw error;
  }
}

/**
 * Resolves once every URL has answered READY. All URLs are asked at once, round after round,
 * `intervalMs` apart; each counts as ready from its first READY answer on and is not asked again.
 * Failed requests (`UNREACHABLE`, `TIMEOUT`, `BAD_STATUS`) count as not ready yet.
 *
 * Rejects a `ProbeClientError`: `NOT_READY` after `timeoutMs`, with `notReady` listing the URLs
 * that never were and a message naming each with its last answer; `ABORTED` when `signal`
 * aborts; `INVALID_URL` before any request. A `ProbeArgumentError` for bad options or an empty
 * list. In-flight requests are cancelled and every timer cleared when it settles.
 */
export async function waitUntilReady(urls: ProbeUrl | readonly ProbeUrl[], options?: WaitOptions): Promise<void> {
  const given = toOptions<WaitOptions>(options, 'options', WAIT_OPTIONS);
  const timeoutMs = durationOr(given.timeoutMs, 'options.timeoutMs', CLIENT_DEFAULTS.waitTimeoutMs);
  const intervalMs = durationOr(given.intervalMs, 'options.intervalMs', CLIENT_DEFAULTS.intervalMs);
  const requestTimeoutMs = durationOr(given.requestTimeoutMs, 'options.requestTimeoutMs', CLIENT_DEFAULTS.timeoutMs);
  const signal = toSignal(given.signal, 'options.signal');
  const onProgress = given.onProgress;
  if (onProgress !== undefined) toFunction(onProgress, 'options.onProgress');
  const list: readonly unknown[] = Array.isArray(urls) ? urls : [urls];
  if (list.length === 0) throw new ProbeArgumentError('urls', 'a URL or a non-empty array of URLs', urls);
  const targets = list.map((url, i) => toTarget(url, Array.isArray(urls) ? `urls[${i}]` : 'urls'));
  if (signal?.aborted) throw aborted(targets[0]!.shown, signal.reason);

  // Keyed by the URL as given, so a duplicate is asked once.
  const pending = new Map<string, { target: Target; state: ServiceState | undefined; error: ProbeClientError | undefined }>();
  for (const target of targets) pending.set(target.shown, { target, state: undefined, error: undefined });
  const ready: string[] = [];
  const began = performance.now();

  return new Promise<void>((resolve, reject) => {
    // Cancels the requests of the round in flight when the wait settles. A round has one listener
    // per pending URL on it, so the default limit of 10 would warn for long lists.
    const inFlight = new AbortController();
    setMaxListeners(0, inFlight.signal);
    let done = false;
    let attempt = 0;
    let nextRound: ReturnType<typeof setTimeout> | undefined;

    const finish = (failed: boolean, error?: unknown): void => {
      if (done) return;
      done = true;
      clearTimeout(deadline);
      clearTimeout(nextRound);
      signal?.removeEventListener('abort', onAbort);
      inFlight.abort();
      if (failed) reject(error);
      else resolve();
    };
    const firstPending = (): string => pending.keys().next().value ?? targets[0]!.shown;
    const onAbort = (): void => finish(true, aborted(firstPending(), signal!.reason));
    const deadline = setTimeout(() => finish(true, notReady(timeoutMs, [...pending.values()])), timeoutMs);
    signal?.addEventListener('abort', onAbort, { once: true });

    const round = async (): Promise<void> => {
      attempt += 1;
      const roundBegan = performance.now();
      await Promise.all(
        [...pending.values()].map(async (entry) => {
          try {
            const answer = await exchange(entry.target, requestTimeoutMs, inFlight.signal);
            if (answer.state === undefined) {
              entry.state = undefined;
              entry.error = badStatus(entry.target.shown, answer.status);
            } else if (answer.state === ServiceState.Ready) {
              pending.delete(entry.target.shown);
              ready.push(entry.target.shown);
            } else {
              entry.state = answer.state;
              entry.error = undefined;
            }
          } catch (error) {
            entry.state = undefined;
            entry.error = error as ProbeClientError;
          }
        }),
      );
      if (done) return;
      onProgress?.({
        attempt,
        elapsedMs: Math.round(performance.now() - began),
        ready: [...ready],
        pending: [...pending.values()].map(({ target, state, error }) => ({ url: target.shown, state, error })),
      });
      if (pending.size === 0) return finish(false);
      const wait = Math.max(0, intervalMs - (performance.now() - roundBegan));
      nextRound = setTimeout(run, wait);
    };
    const run = (): void => {
      round().catch((error: unknown) => finish(true, error));
    };
    run();
  });
}

// ---------------------------------------------------------------------------------------------

interface Target {
  readonly url: URL;
  /** The URL as the caller gave it, for messages and `error.url`. */
  readonly shown: string;
}

let https: typeof import('node:https') | undefined;

// The same GET over node:https, reported to the same listener.
function getOverHttps(url: URL, headers: Readonly<Record<string, string>>, listener: GetListener): GetHandle {
  https ??= process.getBuiltinModule('node:https');
  const request = https.request(url, { method: 'GET', agent: false, headers });
  let response: IncomingMessage | undefined;
  // Stays attached for the request's whole life: destroy() may emit an error after settling.
  request.on('error', (error) => listener.error(error));
  request.on('response', (res) => {
    response = res;
    res.on('error', (error) => listener.error(error));
    listener.response(res.statusCode ?? 0);
    res.on('data', (chunk: Buffer) => listener.data(chunk));
    res.on('end', () => listener.end());
    res.on('close', () => listener.error(new Error('the connection closed before the body ended')));
  });
  request.end();
  return {
    destroy: () => {
      response?.destroy();
      request.destroy();
    },
  };
}

// One GET with its own connection. Settles exactly once; on every path the timer is cleared, the
// abort listener removed and the connection destroyed.
async function exchange(target: Target, timeoutMs: number, signal: AbortSignal | undefined): Promise<ProbeAnswer> {
  const { url, shown } = target;
  if (signal?.aborted) throw aborted(shown, signal.reason);
  const get = url.protocol === 'https:' ? getOverHttps : getOverNet;

  return new Promise<ProbeAnswer>((resolve, reject) => {
    let settled = false;
    let status = 0;
    const chunks: Buffer[] = [];
    let size = 0;
    const settle = (): void => {
      settled = true;
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      handle.destroy();
    };
    const fail = (error: ProbeClientError): void => {
      if (settled) return;
      settle();
      reject(error);
    };
    const succeed = (answer: ProbeAnswer): void => {
      if (settled) return;
      settle();
      resolve(answer);
    };

    let handle: GetHandle;
    try {
      handle = get(url, HEADERS, {
        response: (answered) => {
          status = answered;
          if (!isProbeAnswerStatus(status)) succeed({ status, state: undefined });
        },
        data: (chunk) => {
          if (settled) return;
          const room = CLIENT_DEFAULTS.maxBodyBytes - size;
          if (chunk.length < room) {
            chunks.push(chunk);
            size += chunk.length;
            return;
          }
          // Past the cap: stop reading, and ignore the last line, which may be cut.
          chunks.push(chunk.subarray(0, room));
          const text = Buffer.concat(chunks).toString('utf8');
          succeed({ status, state: parseProbeBody(text.slice(0, text.lastIndexOf('\n') + 1)) });
        },
        end: () => succeed({ status, state: parseProbeBody(Buffer.concat(chunks, size).toString('utf8')) }),
        error: (error) => fail(unreachable(shown, error)),
      });
    } catch (error) {
      // A URL that WHATWG URL parsing accepts but no request can be made of (node:http refuses
      // some, and a user or password with a broken %-escape); nothing was sent.
      reject(new ProbeClientError('INVALID_URL', `Invalid probe URL ${quote(shown)}: ${(error as Error).message}`, { url: shown, cause: error }));
      return;
    }
    const onAbort = (): void => fail(aborted(shown, signal!.reason));
    const timer = setTimeout(
      () => fail(new ProbeClientError('TIMEOUT', `${clean(shown)} did not answer within ${timeoutMs} ms`, { url: shown })),
      timeoutMs,
    );
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

function isProbeAnswerStatus(status: number): boolean {
  return (status >= 200 && status < 400) || status === 503;
}

function isNotAnAnswer(error: ProbeClientError): boolean {
  return error.code === 'UNREACHABLE' || error.code === 'TIMEOUT' || error.code === 'BAD_STATUS';
}

function unreachable(shown: string, error: Error): ProbeClientError {
  return new ProbeClientError('UNREACHABLE', `${clean(shown)} is unreachable: ${error.message}`, { url: shown, cause: error });
}

function badStatus(shown: string, status: number): ProbeClientError {
  return new ProbeClientError('BAD_STATUS', `${clean(shown)} answered HTTP ${status}, which is no probe answer`, { url: shown, status });
}

function aborted(shown: string, reason: unknown): ProbeClientError {
  return new ProbeClientError('ABORTED', `The request to ${clean(shown)} was aborted`, { url: shown, cause: reason });
}

function notReady(timeoutMs: number, entries: readonly { target: Target; state: ServiceState | undefined; error: ProbeClientError | undefined }[]): ProbeClientError {
  const named = entries.map(({ target, state, error }) => `${clean(target.shown)} (${whyNotReady(state, error)})`);
  const first = entries[0]!;
  return new ProbeClientError('NOT_READY', `Not ready after ${timeoutMs} ms: ${named.join(', ')}`, {
    url: first.target.shown,
    notReady: entries.map(({ target }) => target.shown),
    cause: first.error,
  });
}

/** A short reason for a URL that is not ready: its state word, or how its last request failed. */
export function whyNotReady(state: ServiceState | undefined, error: ProbeClientError | undefined): string {
  if (error !== undefined) {
    if (error.code === 'BAD_STATUS') return `HTTP ${error.status}`;
    if (error.code === 'TIMEOUT') return 'no answer in time';
    if (error.code === 'UNREACHABLE') {
      const code = (error.cause as { code?: unknown } | undefined)?.code;
      return typeof code === 'string' ? `unreachable: ${code}` : 'unreachable';
    }
    return error.code;
  }
  return state ?? 'no answer yet';
}

function toTarget(value: unknown, argument: string): Target {
  let shown: string;
  if (typeof value === 'string') shown = value;
  else if (value instanceof URL) shown = value.href;
  else throw new ProbeArgumentError(argument, 'a URL string or a URL object', value);
  let url: URL;
  try {
    url = new URL(shown);
  } catch (error) {
    throw new ProbeClientError('INVALID_URL', `Invalid probe URL ${quote(shown)}: not an absolute URL`, { url: shown, cause: error });
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new ProbeClientError('INVALID_URL', `Invalid probe URL ${quote(shown)}: the scheme must be http or https`, { url: shown });
  }
  return { url, shown };
}

// Messages stay on one line whatever the caller passed (URL parsing drops tabs and newlines, so
// a URL that works can still hold them), and an unusable value is shown cut short.
function clean(text: string): string {
  return text.replace(/[\x00-\x1f\x7f]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
}

function quote(text: string): string {
  return `'${clean(text.length > 200 ? `${text.slice(0, 197)}...` : text)}'`;
}

function toFetchOptions(options: unknown): { timeoutMs: number; signal: AbortSignal | undefined } {
  const given = toOptions<FetchStateOptions>(options, 'options', FETCH_OPTIONS);
  return {
    timeoutMs: durationOr(given.timeoutMs, 'options.timeoutMs', CLIENT_DEFAULTS.timeoutMs),
    signal: toSignal(given.signal, 'options.signal'),
  };
}

function durationOr(value: unknown, argument: string, fallback: number): number {
  return value === undefined ? fallback : toDuration(value, argument);
}

function toSignal(value: unknown, argument: string): AbortSignal | undefined {
  if (value === undefined || value instanceof AbortSignal) return value;
  throw new ProbeArgumentError(argument, 'an AbortSignal', value);
}
