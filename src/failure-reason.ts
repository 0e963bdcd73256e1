// What a driver's error means, in words an operator reads in a log line: the kind of failure
// first (connection refused, authentication failed, ...), then the driver's own message with any
// credentials taken out. Pure: no I/O, no driver imported.

/** What kind of failure a driver error shows. */
export type FailureKind =
  | 'connection refused'
  | 'connection lost'
  | 'connection timed out'
  | 'host not found'
  | 'authentication failed'
  | 'failed';

// Codes as drivers set them on `error.code`: node's socket errors, PostgreSQL SQLSTATEs, mysql2's
// names. Authentication is also recognised from the message (Redis and AMQP put it only there).
const KIND_BY_CODE: Readonly<Record<string, FailureKind>> = {
  ECONNREFUSED: 'connection refused',
  ECONNRESET: 'connection lost',
  EPIPE: 'connection lost',
  PROTOCOL_CONNECTION_LOST: 'connection lost',
  ETIMEDOUT: 'connection timed out',
  ENOTFOUND: 'host not found',
  EAI_AGAIN: 'host not found',
  // PostgreSQL: invalid_password, invalid_authorization_specification.
  '28P01': 'authentication failed',
  '28000': 'authentication failed',
  ER_ACCESS_DENIED_ERROR: 'authentication failed',
  ER_DBACCESS_DENIED_ERROR: 'authentication failed',
  ER_NOT_SUPPORTED_AUTH_MODE: 'authentication failed',
};

const AUTHENTICATION_WORDS = /WRONGPASS|NOAUTH|ACCESS[-_]REFUSED|authentication failed|access denied|invalid password|invalid username/i;
// pg-pool's connectionTimeoutMillis, mysql2's connectTimeout.
const TIMEOUT_WORDS = /timeout exceeded|timed out|ETIMEDOUT/i;
const CONNECTION_LOST_WORDS = /connection terminated|connection (?:is )?closed|socket closed|connection lost|client (?:is|was) closed|in closed state/i;

/** The kind of failure an error shows, from its code (or a nested one) and its message. */
export function failureKind(error: unknown): FailureKind {
  const code = codeOf(error);
  if (code !== undefined && KIND_BY_CODE[code] !== undefined) return KIND_BY_CODE[code];
  const message = messageOf(error);
  if (AUTHENTICATION_WORDS.test(message)) return 'authentication failed';
  if (CONNECTION_LOST_WORDS.test(message)) return 'connection lost';
  if (TIMEOUT_WORDS.test(message)) return 'connection timed out';
  return 'failed';
}

/**
 * A failure reason for a check's `output`: `<what>: <kind>: <message>`, credentials redacted.
 * The message is the driver's own (the first of an AggregateError's errors when it has none).
 */
export function failureReason(what: string, error: unknown): string {
  const kind = failureKind(error);
  const message = redactCredentials(messageOf(error));
  if (message === '' || message === kind) return `${what}: ${kind}`;
  return `${what}: ${kind}: ${message}`;
}

/**
 * Removes credentials from a text before it is shown or logged: the user-info part of URLs
 * (`postgres://user:secret@db` → `postgres://***@db`) and the values of `password=`,
 * `password:`, `pass=`, `pwd=`, `secret=`, `token=` and `apikey=` pairs (connection strings,
 * query strings, JSON).
 */
export function redactCredentials(text: string): string {
  return text
    .replace(/\b([a-z][a-z0-9+.-]*:\/\/)[^\s/?#@]*@/gi, '$1***@')
    .replace(
      /(["']?\b(?:password|passwd|pass|pwd|secret|token|api[-_]?key|auth)["']?\s*[=:]\s*)("[^"]*"|'[^']*'|[^\s;,&"'}]+)/gi,
      '$1***',
    );
}

function codeOf(error: unknown): string | undefined {
  if (typeof error !== 'object' || error === null) return undefined;
  const { code, errors } = error as { code?: unknown; errors?: unknown };
  if (typeof code === 'string' && code !== '') return code;
  // net's autoSelectFamily rejects an AggregateError holding one error per address tried.
  if (Array.isArray(errors) && errors.length > 0) return codeOf(errors[0]);
  return undefined;
}

function messageOf(error: unknown): string {
  if (typeof error === 'string') return error;
  if (typeof error !== 'object' || error === null) return String(error);
  const { message, errors, code } = error as { message?: unknown; errors?: unknown; code?: unknown };
  if (typeof message === 'string' && message !== '') return message;
  if (Array.isArray(errors) && errors.length > 0) return messageOf(errors[0]);
  return typeof code === 'string' ? code : '';
}
