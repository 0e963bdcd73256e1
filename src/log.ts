
/**
 * The fields of one log event: always `event` (a stable name, listed in docs/logging.md), then
 * what the event is about (`state`, `previous`, `check`, `durationMs`, `reason`, `address`, …).
 */
export interface ProbeLogFields {
  /** The event's stable name, e.g. `'state-change'`. */
  readonly event: string;
  readonly [field: string]: unknown;
}

/**
 * Where probe events go besides `NODE_DEBUG=service-probe`: any object with some of these methods,
 * so `console`, pino and winston all fit. A pino-style logger (one with `child()` and
 * `bindings()`, or any logger with the probe's `logFields: true`) is called as
 * `logger.info(fields, message)`; every other logger, `console` included, gets one readable
 * message string, `logger.info(message)`. See docs/logging.md.
 */
export interface ProbeLogger {
  debug?(fieldsOrMessage: ProbeLogFields | string, message?: string): void;
  info?(fieldsOrMessage: ProbeLogFields | string, message?: string): void;
  warn?(fieldsOrMessage: ProbeLogFields | string, message?: string): void;
  error?(fieldsOrMessage: ProbeLogFields | string, message?: string): void;
}

/** A log level of the probe's events. */
export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

/** The probe's own log: util.debuglog plus the caller's logger. */
export interface Log {
  /**
   * Whether an event at `level` reaches anyone. Calls on a request path ask first, so that a log
   * that is off builds neither fields nor message.
   */
  enabled(level: LogLevel): boolean;
  debug(fields: ProbeLogFields, message: string): void;
  info(fields: ProbeLogFields, message: string): void;
  warn(fields: ProbeLogFields, message: string): void;
  error(fields: ProbeLogFields, message: string): void;
}

// Not `import … from 'node:util'`: an ES import of it evaluates every export (parseArgs, MIME…).
const debug = process.getBuiltinModule('node:util').debuglog('service-probe');

/**
 * The rule for `logFields` left out: pino (and what is built on it, such as Fastify's `app.log`)
 * has `child()` and `bindings()`. Winston has `child()` too but takes the message first, and
 * `console` prints an object as an object: both get one string.
 */
export function isFieldsFirstLogger(logger: ProbeLogger | undefined): boolean {
  if (logger === undefined || logger === console) return false;
  const shaped = logger as { child?: unknown; bindings?: unknown };
  return typeof shaped.child === 'function' && typeof shaped.bindings === 'function';
}

/**
 * A log that writes to `NODE_DEBUG=service-probe` (level and message) and to `logger`, if given:
 * `(fields, message)` when `fieldsFirst`, else the message alone. A throwing logger is ignored.
 */
export function createLog(logger?: ProbeLogger, fieldsFirst = isFieldsFirstLogger(logger)): Log {
  const levelCheck = logger === undefined ? undefined : (logger as { isLevelEnabled?: unknown }).isLevelEnabled;
  const enabled = (level: LogLevel): boolean => {
    if (debug.enabled) return true;
    if (logger === undefined || typeof logger[level] !== 'function') return false;
    if (typeof levelCheck !== 'function') return true;
    try {
      return levelCheck.call(logger, level) !== false;
    } catch {
      return true;
    }
  };
  const at = (level: LogLevel) => (fields: ProbeLogFields, message: string) => {
    if (debug.enabled) debug('%s %s', level, message);
    const write = logger?.[level];
    if (typeof write !== 'function') return;
    try {
      if (fieldsFirst) write.call(logger, fields, message);
      else write.call(logger, message);
    } catch {
      // A broken logger must never take the probe (or a request) down with it.
    }
  };
  return { enabled, debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') };
}
