// Checks over the clients a service already holds: a pg pool or client, a mysql2 pool or
// connection, a node-redis or ioredis client, an amqplib connection. Duck-typed: this module
// imports none of those libraries, and refuses a wrong object when the check is created.
//
// Every check is one round trip on what it was given (it never opens a connection of its own),
// timed in ms. At most one round trip per check is ever outstanding: when the server stops
// answering, a run that times out leaves its query to the driver, and the next run waits for that
// query to finish (or for its own timeout) before it sends another, so a paused server never
// collects a queue of health queries. A pool's connection whose query timed out is destroyed
// rather than handed back, so the pool can replace it.

import type { CheckFunction, CheckResult } from './checks.js';
import { ProbeArgumentError } from './errors.js';
import { failureReason } from './failure-reason.js';
import { toOptions } from './options.js';

/** Options of {@link postgres} and {@link mysql}. */
export interface QueryCheckOptions {
  /** The statement to run; its rows are ignored, an error fails the check. Default `'SELECT 1'`. */
  query?: string;
}

// One round trip on a driver, as the runner sees it.
interface RoundTrip {
  /** Resolves when the server answered; rejects with the driver's error. */
  readonly answered: Promise<unknown>;
  /** Settles (never rejects) once the driver holds nothing of this round trip for the check. */
  readonly finished: Promise<void>;
  /** The check stopped waiting (timeout, probe stopped): release what can be released. */
  abandon(): void;
}

const noop = () => {};
const MAX_QUERY_LENGTH = 10_000;

/**
 * A check for PostgreSQL through node-postgres (`pg`): runs `options.query` (default `SELECT 1`)
 * on the `Pool` or `Client` it is given and reports the round trip in `ms`. A pool lends it a
 * connection for the query (and destroys that connection instead of returning it when the check
 * times out); a client runs it among its own queries. It never opens a connection of its own:
 * a `Client` that lost its connection fails until the service replaces it (use a `Pool` to have
 * connections replaced).
 *
 * @throws ProbeArgumentError when `poolOrClient` is no pg `Pool` or `Client`, or an option is bad.
 */
export function postgres(poolOrClient: unknown, options?: QueryCheckOptions): CheckFunction {
  const query = toQuery(options);
  const target = poolOrClient as PgPoolLike & PgClientLike;
  if (!isObject(target) || typeof target.query !== 'function') {
    throw new ProbeArgumentError('poolOrClient', 'a pg Pool or Client (an object with query() and connect())', poolOrClient);
  }
  if (isPgPool(target)) {
    const pool = target;
    return roundTripCheck('postgres', () =>
      pooled(
        () => pool.connect(),
        (client) => client.query(query),
        (client, destroy) => client.release(destroy || undefined),
      ),
    );
  }
  if (typeof target.connect !== 'function') {
    throw new ProbeArgumentError('poolOrClient', 'a pg Pool or Client (an object with query() and connect())', poolOrClient);
  }
  const client = target;
  return roundTripCheck('postgres', () => direct(() => client.query(query)));
}

/**
 * A check for MySQL and MariaDB through mysql2: runs `options.query` (default `SELECT 1`) on the
 * pool or connection it is given, from either API (`mysql2` callbacks or `mysql2/promise`), and
 * reports the round trip in `ms`. A pool lends it a connection (destroyed instead of returned when
 * the check times out); a connection runs it among its own queries. It never opens a connection
 * of its own: a connection that was closed fails until the service replaces it.
 *
 * @throws ProbeArgumentError when `poolOrConnection` is no mysql2 pool or connection, or an option is bad.
 */
export function mysql(poolOrConnection: unknown, options?: QueryCheckOptions): CheckFunction {
  const query = toQuery(options);
  const core = mysqlCallbackObject(poolOrConnection);
  if (core === undefined) {
    throw new ProbeArgumentError(
      'poolOrConnection',
      'a mysql2 pool or connection (from createPool() or createConnection() of mysql2 or mysql2/promise)',
      poolOrConnection,
    );
  }
  const run = (connection: MysqlConnectionLike) =>
    new Promise<unknown>((resolve, reject) => {
      connection.query(query, (error: unknown) => (error ? reject(error) : resolve(undefined)));
    });
  if (typeof (core as MysqlPoolLike).getConnection === 'function') {
    const pool = core as MysqlPoolLike;
    return roundTripCheck('mysql', () =>
      pooled(
        () => new Promise<MysqlPoolConnectionLike>((resolve, reject) => pool.getConnection((error, connection) => (error ? reject(error) : resolve(connection)))),
        run,
        (connection, destroy) => (destroy ? connection.destroy() : connection.release()),
      ),
    );
  }
  const connection = core as MysqlConnectionLike;
  return roundTripCheck('mysql', () => direct(() => run(connection)));
}

/**
 * A check for Redis: sends `PING` on the node-redis (4 and later) or ioredis client it is given and
 * reports the round trip in `ms`. A client that is not connected (connecting, reconnecting,
 * closed) fails at once with its status, rather than queueing the `PING` until it reconnects.
 * When the service listens for the client's `'error'` events (node-redis asks it to), the check
 * listens too while it is registered, so that the reason names the client's latest error
 * (`authentication failed: WRONGPASS ...`); it never adds the first `'error'` listener, which
 * would change what an unhandled client error does.
 *
 * @throws ProbeArgumentError when `client` is no node-redis or ioredis client.
 */
export function redis(client: unknown): CheckFunction {
  const target = client as RedisLike;
  if (!isObject(target) || typeof target.ping !== 'function' || (typeof target.isReady !== 'boolean' && typeof target.status !== 'string')) {
    throw new ProbeArgumentError('client', 'a node-redis or ioredis client (an object with ping() and isReady or status)', client);
  }
  const canListen = typeof target.on === 'function' && typeof target.off === 'function' && typeof target.listenerCount === 'function';
  let users = 0;
  let listening = false;
  let lastError: unknown;
  const remember = (error: unknown) => {
    lastError = error;
  };
  const listen = () => {
    if (canListen && users > 0 && !listening && target.listenerCount!('error') > 0) {
      target.on!('error', remember);
      listening = true;
    }
  };
  const status = (): string | undefined => {
    // node-redis: isReady and isOpen. ioredis: status.
    if (typeof target.isReady === 'boolean') {
      if (target.isReady) return undefined;
      return target.isOpen ? 'reconnecting' : 'the client is closed';
    }
    return target.status === 'ready' ? undefined : `status ${String(target.status)}`;
  };
  const notConnected = (): string | undefined => {
    listen();
    const current = status();
    if (current === undefined) return undefined;
    return lastError === undefined ? `redis: not connected (${current})` : `${failureReason('redis', lastError)} (not connected: ${current})`;
  };
  const check = roundTripCheck('redis', () => direct(() => target.ping()), notConnected, () => {
    lastError = undefined;
  });
  check.start = () => {
    users++;
    listen();
  };
  check.stop = () => {
    if (users === 0 || --users > 0) return;
    if (listening) target.off!('error', remember);
    listening = false;
    lastError = undefined;
  };
  return check;
}

/**
 * A check for RabbitMQ (or another AMQP 0-9-1 broker) through amqplib: opens a channel on the
 * connection it is given and closes it again, and reports that round trip in `ms`. Takes the
 * promise API's connection (`amqplib`) and the callback API's (`amqplib/callback_api`), with or
 * without amqplib's `recovery` option. While registered it follows the connection's `'close'`
 * (and, with recovery, `'disconnect'`, `'connect'` and `'connect-failed'`) events, so that a
 * connection that is down fails at once with why (`authentication failed: ... ACCESS-REFUSED`)
 * rather than waiting for a channel. A closed connection without recovery fails until the service
 * replaces it.
 *
 * @throws ProbeArgumentError when `connection` is no amqplib connection.
 */
export function amqp(connection: unknown): CheckFunction {
  const target = connection as AmqpConnectionLike;
  if (!isObject(target) || typeof target.createChannel !== 'function' || typeof target.close !== 'function') {
    throw new ProbeArgumentError('connection', 'an amqplib connection (from connect() of amqplib or amqplib/callback_api)', connection);
  }
  // The callback API's createChannel takes (options, callback), the promise API's (options).
  const callbacks = target.createChannel.length >= 2;
  const open = (): Promise<AmqpChannelLike> =>
    callbacks
      ? new Promise((resolve, reject) => {
          target.createChannel((error: unknown, channel: AmqpChannelLike) => (error ? reject(error) : resolve(channel)));
        })
      : Promise.resolve(target.createChannel() as Promise<AmqpChannelLike>);
  const close = (channel: AmqpChannelLike): Promise<unknown> =>
    callbacks
      ? new Promise<void>((resolve, reject) => {
          channel.close((error: unknown) => (error ? reject(error) : resolve()));
        })
      : Promise.resolve(channel.close());

  // What the connection's events said: undefined while it is (believed) up.
  let down: { state: string; error: unknown } | undefined;
  const listeners: Record<string, (error?: unknown) => void> = {
    close: (error) => (down = { state: 'closed', error: error ?? down?.error }),
    disconnect: (error) => (down = { state: 'reconnecting', error }),
    'connect-failed': (error) => (down = { state: 'reconnecting', error }),
    connect: () => (down = undefined),
  };
  const canListen = typeof target.on === 'function' && typeof target.off === 'function';
  let users = 0;
  const notConnected = (): string | undefined => {
    if (down === undefined) return undefined;
    return down.error === undefined ? `amqp: not connected (${down.state})` : `${failureReason('amqp', down.error)} (not connected: ${down.state})`;
  };
  // The channel is closed whether or not the check still waits: closing is the clean-up.
  const check = roundTripCheck('amqp', () => direct(() => open().then(close)), notConnected);
  check.start = () => {
    if (users++ > 0 || !canListen) return;
    for (const [event, listener] of Object.entries(listeners)) target.on!(event, listener);
  };
  check.stop = () => {
    if (users === 0 || --users > 0 || !canListen) return;
    for (const [event, listener] of Object.entries(listeners)) target.off!(event, listener);
    down = undefined;
  };
  return check;
}

// The runner shared by every client check: one round trip at a time, timed, with its failure
// described and the check's signal honoured.
function roundTripCheck(what: string, begin: () => RoundTrip, notConnected?: () => string | undefined, onAnswer?: () => void): CheckFunction {
  let unfinished: Promise<void> | undefined;
  return async (signal?: AbortSignal): Promise<CheckResult> => {
    // The previous run's round trip is still with the driver (its server has not answered): wait
    // for it rather than adding another.
    if (unfinished !== undefined) await untilAborted(unfinished, signal);
    signal?.throwIfAborted();
    const reason = notConnected?.();
    if (reason !== undefined) throw new Error(reason);
    const began = performance.now();
    let trip: RoundTrip;
    try {
      trip = begin();
    } catch (error) {
      throw new Error(failureReason(what, error), { cause: error });
    }
    trip.answered.catch(noop);
    const current: Promise<void> = trip.finished.then(() => {
      if (unfinished === current) unfinished = undefined;
    });
    unfinished = current;
    try {
      await untilAborted(trip.answered, signal);
    } catch (error) {
      if (signal?.aborted) {
        trip.abandon();
        throw signal.reason;
      }
      throw new Error(failureReason(what, error), { cause: error });
    }
    const ms = Math.round((performance.now() - began) * 100) / 100;
    onAnswer?.();
    return { ok: true, observedValue: ms, observedUnit: 'ms', output: `${what} answered in ${ms} ms` };
  };
}

// A round trip on a connection the service owns: nothing to release, nothing to abandon.
function direct(send: () => unknown): RoundTrip {
  let answered: Promise<unknown>;
  try {
    answered = Promise.resolve(send());
  } catch (error) {
    answered = Promise.reject(error);
  }
  return { answered, finished: answered.then(noop, noop), abandon: noop };
}

// A round trip on a connection borrowed from a pool: returned when done; destroyed when the check
// gave up on its query; returned unused when it arrives after the check gave up.
function pooled<C>(acquire: () => Promise<C>, use: (connection: C) => Promise<unknown>, release: (connection: C, destroy: boolean) => void): RoundTrip {
  let abandoned = false;
  let held: C | undefined;
  let markFinished!: () => void;
  const finished = new Promise<void>((resolve) => (markFinished = resolve));
  const giveBack = (destroy: boolean) => {
    if (held === undefined) return;
    const connection = held;
    held = undefined;
    try {
      release(connection, destroy);
    } catch {
      // A pool that throws on release has nothing more to give back.
    }
    markFinished();
  };
  let acquiring: Promise<C>;
  try {
    acquiring = Promise.resolve(acquire());
  } catch (error) {
    acquiring = Promise.reject(error);
  }
  const answered = acquiring.then(
    (connection) => {
      held = connection;
      if (abandoned) return giveBack(false);
      return Promise.resolve(connection)
        .then(use)
        .finally(() => giveBack(false));
    },
    (error: unknown) => {
      markFinished();
      throw error;
    },
  );
  return {
    answered,
    finished,
    abandon: () => {
      abandoned = true;
      giveBack(true);
    },
  };
}

function untilAborted<T>(promise: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (signal === undefined) return promise;
  return new Promise<T>((resolve, reject) => {
    if (signal.aborted) return reject(signal.reason);
    const onAbort = () => reject(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(
      (value) => {
        signal.removeEventListener('abort', onAbort);
        resolve(value);
      },
      (error: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(error);
      },
    );
  });
}

function toQuery(options: unknown): string {
  const given = toOptions<QueryCheckOptions>(options, 'options', ['query']);
  if (given.query === undefined) return 'SELECT 1';
  if (typeof given.query !== 'string' || given.query.trim() === '' || given.query.length > MAX_QUERY_LENGTH) {
    throw new ProbeArgumentError('options.query', `a non-empty SQL statement of at most ${MAX_QUERY_LENGTH} characters`, given.query);
  }
  return given.query;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return (typeof value === 'object' || typeof value === 'function') && value !== null;
}

// pg-pool's Pool counts its clients; a pg Client does not.
function isPgPool(value: PgPoolLike & PgClientLike): boolean {
  return typeof value.connect === 'function' && typeof value.totalCount === 'number' && typeof value.idleCount === 'number';
}

// mysql2's callback objects have promise(); its promise wrappers hold the callback object they
// wrap (`pool` of a PromisePool, `connection` of a PromiseConnection). Both APIs are driven
// through the callback object.
function mysqlCallbackObject(value: unknown): MysqlPoolLike | MysqlConnectionLike | undefined {
  if (!isObject(value)) return undefined;
  const isCallbackObject = (candidate: unknown): candidate is MysqlPoolLike | MysqlConnectionLike =>
    isObject(candidate) && typeof candidate.promise === 'function' && (typeof candidate.getConnection === 'function' || typeof candidate.query === 'function');
  if (isCallbackObject(value)) return value;
  if (isCallbackObject(value.pool)) return value.pool;
  if (isCallbackObject(value.connection)) return value.connection;
  return undefined;
}

// The shapes the checks rely on, no more.
interface PgClientLike {
  query(text: string): Promise<unknown>;
  connect?: unknown;
}
interface PgPoolLike {
  connect(): Promise<PgPoolClientLike>;
  totalCount?: unknown;
  idleCount?: unknown;
}
interface PgPoolClientLike {
  query(text: string): Promise<unknown>;
  release(destroy?: boolean): void;
}
interface MysqlConnectionLike {
  query(sql: string, callback: (error: unknown) => void): unknown;
}
interface MysqlPoolConnectionLike extends MysqlConnectionLike {
  release(): void;
  destroy(): void;
}
interface MysqlPoolLike {
  getConnection(callback: (error: unknown, connection: MysqlPoolConnectionLike) => void): void;
}
interface RedisLike {
  ping(): Promise<unknown>;
  on?(event: 'error', listener: (error: unknown) => void): unknown;
  off?(event: 'error', listener: (error: unknown) => void): unknown;
  listenerCount?(event: 'error'): number;
  isReady?: unknown;
  isOpen?: unknown;
  status?: unknown;
}
interface AmqpChannelLike {
  close(callback?: (error: unknown) => void): unknown;
}
interface AmqpConnectionLike {
  createChannel(callback?: (error: unknown, channel: AmqpChannelLike) => void): unknown;
  close: unknown;
  on?(event: string, listener: (error?: unknown) => void): unknown;
  off?(event: string, listener: (error?: unknown) => void): unknown;
}
