// Thin adapters that mount the probe inside other frameworks' servers. They import no framework
// (the package has zero runtime dependencies): each only reaches the raw node:http request and
// response the framework hands over and calls `probe.handle()`, so the bytes are the standalone
// server's.

import type { IncomingMessage, ServerResponse } from 'node:http';
import { ProbeArgumentError } from './errors.js';
import { toOptions, toPrefix } from './options.js';
import type { Probe } from './probe.js';

/** Options of the framework adapters. */
export interface MountOptions {
  /**
   * Serve the probe paths under this prefix: `'/internal/health'` answers
   * `/internal/health/ready`, `/internal/health/health`, … and `/internal/health` itself (as `/`).
   * Leading slash, no trailing slash. Default `''`: the probe's named paths (`/health`, `/ready`,
   * …) but never `/`, which stays the app's. Recommended for apps with routes of their own.
   */
  prefix?: string;
}

/** A Connect-style middleware: Express 4/5, Connect, and node:http with a `next` callback. */
export type ConnectMiddleware = (req: IncomingMessage, res: ServerResponse, next: (error?: unknown) => void) => void;

/** The part of a Koa context the adapter uses (`ctx.req`, `ctx.res`, `ctx.respond`). */
export interface KoaContextLike {
  req: IncomingMessage;
  res: ServerResponse;
  respond?: boolean;
}

/** A Koa 2/3 middleware. */
export type KoaMiddleware = (ctx: KoaContextLike, next: () => Promise<unknown>) => Promise<void>;

// Checked when the middleware is made: a missing probe would otherwise fail every request of the
// app (its own routes too) with a TypeError. Duck-typed, as the adapters only call `handle()`.
function checkProbe(probe: unknown, adapter: string): asserts probe is Probe {
  if (typeof (probe as { handle?: unknown } | null | undefined)?.handle !== 'function') {
    throw new ProbeArgumentError('probe', `a Probe from createProbe() (the options come second: ${adapter}(probe, { prefix }))`, probe);
  }
}

function prefixOf(options: unknown): string {
  const given = toOptions<MountOptions>(options, 'options', ['prefix']);
  return given.prefix === undefined ? '' : toPrefix(given.prefix, 'options.prefix');
}

/**
 * Connect/Express middleware: answers the probe's paths, calls `next()` for every other one.
 * `app.use(connectMiddleware(probe))`, or under a prefix `app.use(connectMiddleware(probe, { prefix: '/internal/health' }))`.
 */
export function connectMiddleware(probe: Probe, options?: MountOptions): ConnectMiddleware {
  checkProbe(probe, 'connectMiddleware');
  const prefix = prefixOf(options);
  return (req, res, next) => {
    if (!probe.handle(req, res, prefix)) next();
  };
}

/**
 * Koa middleware: answers the probe's paths on the raw response (and sets `ctx.respond = false` so
 * Koa leaves it alone), awaits `next()` for every other one.
 */
export function koaMiddleware(probe: Probe, options?: MountOptions): KoaMiddleware {
  checkProbe(probe, 'koaMiddleware');
  const prefix = prefixOf(options);
  return async (ctx, next) => {
    if (probe.handle(ctx.req, ctx.res, prefix)) {
      ctx.respond = false;
      return;
    }
    await next();
  };
}
