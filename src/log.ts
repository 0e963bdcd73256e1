
/**
 * Where probe events go besides `NODE_DEBUG=service-probe`: any object with some of these methods,
 * so `console`, pino and winston all fit. Each is called with one message string.
 */
export interface ProbeLogger {
  debug?(message: string): void;
  info?(message: string): void;
  warn?(message: string): void;
  error?(message: string): void;
}

type Level = keyof ProbeLogger;

/** The probe's own log: util.debuglog plus the caller's logger. */
export interface Log {
  debug(message: string): void;
  info(message: string): void;
  warn(message: string): void;
  error(message: string): void;
}

// Not `import … from 'node:util'`: an ES import of it evaluates every export (parseArgs, MIME…).
const debug = process.getBuiltinModule('node:util').debuglog('service-probe');

/** A log that writes to `NODE_DEBUG=service-probe` and to `logger`, if given. A throwing logger is ignored. */
export function createLog(logger?: ProbeLogger): Log {
  const at = (level: Level) => (message: string) => {
    debug('%s %s', level, message);
    const write = logger?.[level];
    if (typeof write !== 'function') return;
    try {
      write.call(logger, message);
    } catch {
      // A broken logger must never take the probe (or a request) down with it.
    }
  };
  return { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') };
}
