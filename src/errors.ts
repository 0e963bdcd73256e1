// One small error class per kind of failure, each with a stable `code` string that callers and
// tests branch on, and the underlying error as `cause`.

/** Why {@link ProbeStartError} was thrown. */
export type ProbeStartErrorCode = 'ALREADY_STARTED' | 'SOCKET_UNAVAILABLE';

/**
 * A probe could not start. `code` is `'ALREADY_STARTED'` when it runs already, or
 * `'SOCKET_UNAVAILABLE'` when the address or port could not be bound (the OS error is `cause`).
 */
export class ProbeStartError extends Error {
  override readonly name = 'ProbeStartError';
  readonly code: ProbeStartErrorCode;

  constructor(code: ProbeStartErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
  }
}

/**
 * An argument or option had a value the probe cannot use. `code` is always `'INVALID_ARGUMENT'`;
 * `argument` names the argument (`'port'`, `'options.state'`) and `value` holds what was received.
 */
export class ProbeArgumentError extends TypeError {
  override readonly name = 'ProbeArgumentError';
  readonly code = 'INVALID_ARGUMENT' as const;
  readonly argument: string;
  readonly value: unknown;

  constructor(argument: string, expected: string, value: unknown) {
    super(`The "${argument}" argument must be ${expected}. Received ${describe(value)}`);
    this.argument = argument;
    this.value = value;
  }
}

/**
 * A built-in check cannot measure what it promises on this runtime, so it refuses to be created
 * rather than pass without measuring. `code` is always `'UNSUPPORTED_RUNTIME'`; `runtime` names the
 * runtime (`'bun 1.2.0'`), `check` the built-in (`'heapUsage'`).
 */
export class ProbeUnsupportedError extends Error {
  override readonly name = 'ProbeUnsupportedError';
  readonly code = 'UNSUPPORTED_RUNTIME' as const;
  readonly runtime: string;
  readonly check: string;

  constructor(check: string, runtime: string, reason: string) {
    super(`${check}() is not supported on ${runtime}: ${reason}`);
    this.check = check;
    this.runtime = runtime;
  }
}

/** Why {@link ProbeClientError} was thrown. */
export type ProbeClientErrorCode =
  | 'INVALID_URL'
  | 'UNREACHABLE'
  | 'TIMEOUT'
  | 'BAD_STATUS'
  | 'ABORTED'
  | 'NOT_READY';

/**
 * A client request failed. `code` says how: `'INVALID_URL'` (rejected before any request),
 * `'UNREACHABLE'` (connection failed; the socket error is `cause`), `'TIMEOUT'`, `'BAD_STATUS'`
 * (an HTTP status that is no probe answer), `'ABORTED'` (the caller's signal), or `'NOT_READY'`
 * (`waitUntilReady` ran out of time; `notReady` lists the URLs that never became ready).
 */
export class ProbeClientError extends Error {
  override readonly name = 'ProbeClientError';
  readonly code: ProbeClientErrorCode;
  /** The URL the failed request was for (for `waitUntilReady`, the first one not ready). */
  readonly url: string;
  /** The HTTP status, for `'BAD_STATUS'`. */
  readonly status: number | undefined;
  /** For `waitUntilReady`: every URL that was not ready when it gave up. */
  readonly notReady: readonly string[];

  constructor(
    code: ProbeClientErrorCode,
    message: string,
    details: { url: string; cause?: unknown; status?: number; notReady?: readonly string[] },
  ) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause });
    this.code = code;
    this.url = details.url;
    this.status = details.status;
    this.notReady = details.notReady ?? [];
  }
}

/** Renders a received value for an error message, the way Node core does (`Received type string ('x')`). */
export function describe(value: unknown): string {
  if (value === null) return 'null';
  if (value === undefined) return 'undefined';
  if (typeof value === 'function') return `function ${value.name || '<anonymous>'}`;
  if (typeof value === 'object') {
    if (Array.isArray(value)) return `an array [${value.slice(0, 20).map(String).join(', ')}${value.length > 20 ? ', …' : ''}]`;
    return `an instance of ${value.constructor?.name ?? 'Object'}`;
  }
  let shown = typeof value === 'string' ? `'${value}'` : String(value);
  if (shown.length > 40) shown = `${shown.slice(0, 37)}...`;
  return `type ${typeof value} (${shown})`;
}

// Reasons and messages go on one verbose line or a log line: one line, bounded.
const MAX_TEXT = 300;

/** A text on one line (control characters as spaces), at most 300 characters. */
export function oneLine(text: string): string {
  // eslint-disable-next-line no-control-regex
  const flat = text.replace(/[\u0000-\u001f\u007f]+/g, ' ').trim();
  return flat.length > MAX_TEXT ? `${flat.slice(0, MAX_TEXT - 1)}…` : flat;
}

/**
 * Why something the service gave the probe failed (a check, a shutdown hook), from whatever it
 * threw, on one line: an Error's message, a string, another object's own `code` and `message`
 * (drivers and hand-made rejections throw `{ code, message }`), or a description.
 */
export function reasonOf(thrown: unknown): string {
  try {
    if (thrown instanceof Error) return oneLine(thrown.message || thrown.name || 'Error');
    if (typeof thrown === 'string') return oneLine(thrown || 'threw an empty string');
    if (typeof thrown === 'object' && thrown !== null) {
      const fields = [ownString(thrown, 'code', (code) => `code ${code}`), ownString(thrown, 'message', (message) => `message "${message}"`)].filter((field) => field !== undefined);
      if (fields.length > 0) {
        const prototype = Object.getPrototypeOf(thrown) as unknown;
        const what = prototype === Object.prototype || prototype === null ? 'an object' : describe(thrown);
        return oneLine(`threw ${what}: ${fields.join(', ')}`);
      }
    }
    return `threw ${describe(thrown)}`;
  } catch {
    return 'threw an unreadable value';
  }
}

function ownString(object: object, key: string, show: (value: string) => string): string | undefined {
  const value: unknown = Object.hasOwn(object, key) ? (object as Record<string, unknown>)[key] : undefined;
  return typeof value === 'string' && value !== '' ? show(value) : undefined;
}
