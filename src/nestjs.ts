// service-probe/nestjs: the probe as a NestJS dynamic module, without importing anything of Nest.
// Nest reads a dynamic module as a plain object ({ module, imports, providers, exports }), builds
// factory providers from `useFactory` and `inject` alone (no decorator, no reflect-metadata: those
// only describe constructor parameters, which a factory provider does not have), and calls each
// lifecycle hook on every provider instance that has a method of that name. So the module is an
// undecorated class with two static methods, and its work is done by one factory-made object:
//
//   onModuleInit            the probe server starts on its own port (state UP: /health 200, /ready 503)
//   onApplicationBootstrap  Nest's HTTP server is tracked (given `httpAdapterHost`); READY, once it listens
//   onModuleDestroy         the first hook of Nest's shutdown, before Nest closes its HTTP server:
//                           Probe.shutdown() with `exit: false` (Nest exits) and `stopProbe: false`:
//                           DRAINING, the drain delay, the tracked server drained, holds, hooks
//   onApplicationShutdown   after Nest closed its HTTP server: the probe stops
//
// Nest owns the signals (`app.enableShutdownHooks()`): the probe installs no handler of its own.

import { ProbeArgumentError } from './errors.js';
import { toBoolean, toFunction, toOptions } from './options.js';
import { createProbe, Probe, type ProbeOptions } from './probe.js';
import type { CheckFunction, CheckOptions } from './checks.js';
import { shutdownDefaults, toShutdownOptions, type ShutdownOptions, type TrackableServer } from './shutdown.js';
import { ServiceState } from './state.js';

/** A check of {@link ServiceProbeModuleOptions.checks} with its {@link CheckOptions}. */
export interface ServiceProbeCheck extends CheckOptions {
  /** The check function, as given to `probe.addCheck()`. */
  check: CheckFunction;
}

/**
 * The shutdown options the module takes: the timing of the sequence. `exit` and `signals` are
 * Nest's (`app.enableShutdownHooks()`), and the module stops the probe itself.
 */
export type ServiceProbeShutdownOptions = Pick<ShutdownOptions, 'drainDelayMs' | 'timeoutMs' | 'hookTimeoutMs' | 'readyWhileDraining'>;

/**
 * Options of {@link ServiceProbeModule.forRoot}, and what the factory of
 * {@link ServiceProbeModule.forRootAsync} returns: every `createProbe()` option (`port`, `host`,
 * `logger`, …), and the module's own. Every one is optional.
 */
export interface ServiceProbeModuleOptions extends ProbeOptions {
  /**
   * Checks to add, by name: a check function, or `{ check, ...checkOptions }`
   * (`{ database: () => dataSource.query('select 1') }`). See `probe.addCheck()`.
   */
  checks?: Readonly<Record<string, CheckFunction | ServiceProbeCheck>>;
  /**
   * Start the probe's own server (on `port`, default 11333) in `onModuleInit`. `false` when the
   * probe answers on Nest's port instead: `app.use(connectMiddleware(app.get(Probe), { prefix }))`
   * in main.ts. Default `true`.
   */
  start?: boolean;
  /**
   * Move the state from UP to READY once Nest has bootstrapped (`onApplicationBootstrap`) and, with
   * `httpAdapterHost`, once Nest's HTTP server listens. `false` leaves it to the application
   * (`probe.setState('READY')`, e.g. after a warm-up). Default `true`.
   */
  markReady?: boolean;
  /** Timing of the graceful shutdown that Nest's shutdown hooks run. Default: `shutdownDefaults()`. */
  shutdown?: ServiceProbeShutdownOptions;
}

/** What the module reads from Nest's `HttpAdapterHost`: the HTTP adapter, if the application has one. */
export interface HttpAdapterHostLike {
  readonly httpAdapter?: { getHttpServer(): unknown } | undefined;
}

/**
 * What shapes the module itself rather than its probe: Nest's `HttpAdapterHost` class, which the
 * module injects to reach Nest's HTTP server (it imports nothing of Nest, so it needs the class
 * from you).
 */
export interface ServiceProbeModuleDefinition {
  /**
   * `HttpAdapterHost` from `@nestjs/core`. Given it, the module drains Nest's HTTP server in the
   * shutdown sequence (`Connection: close` from the first moment, in-flight requests finished
   * before the rest of Nest's teardown) and marks READY only once that server listens. Without
   * it, Nest closes its server itself after the drain, and READY follows the bootstrap.
   */
  httpAdapterHost?: abstract new (...args: never[]) => HttpAdapterHostLike;
}

/** A Nest injection token: a class, a string or a symbol (Nest's `InjectionToken`). */
export type NestInjectionToken = string | symbol | Function;

/** Options of {@link ServiceProbeModule.forRootAsync}. */
export interface ServiceProbeAsyncOptions<Import = never> extends ServiceProbeModuleDefinition {
  /** Modules that export what `useFactory` injects (e.g. the one that provides a TypeORM `DataSource`). */
  imports?: readonly Import[];
  /** Tokens whose providers are passed to `useFactory`, in order (`[DataSource]`). */
  inject?: readonly (NestInjectionToken | { token: NestInjectionToken; optional: boolean })[];
  /** Returns (or resolves to) the {@link ServiceProbeModuleOptions}; called once per application. */
  useFactory: (...injected: any[]) => ServiceProbeModuleOptions | Promise<ServiceProbeModuleOptions>;
}

/** A provider of the dynamic module, as Nest's `ValueProvider` or `FactoryProvider`. */
export type ServiceProbeProvider =
  | { provide: NestInjectionToken; useValue: unknown }
  | { provide: NestInjectionToken; useFactory: (...injected: any[]) => unknown; inject: (NestInjectionToken | { token: NestInjectionToken; optional: boolean })[] };

/**
 * What `forRoot()` and `forRootAsync()` return: a Nest dynamic module (it fits `@Module({ imports })`
 * as it is) that provides and exports the application's {@link Probe}, under the `Probe` class.
 */
export interface ServiceProbeDynamicModule<Import = never> {
  module: typeof ServiceProbeModule;
  imports: Import[];
  providers: ServiceProbeProvider[];
  exports: [typeof Probe];
}

// Nest tells tokens apart by identity: these are the module's own, never exported.
const SETTINGS = Symbol('service-probe: module settings');
const LIFECYCLE = Symbol('service-probe: lifecycle');

const SHUTDOWN_OPTION_NAMES = ['drainDelayMs', 'timeoutMs', 'hookTimeoutMs', 'readyWhileDraining'] as const;
const ASYNC_OPTION_NAMES = ['imports', 'inject', 'useFactory', 'httpAdapterHost'] as const;

/** The module options, validated and split: what createProbe() takes, and the module's own. */
interface Settings {
  readonly probe: ProbeOptions;
  readonly checks: readonly (readonly [name: string, check: CheckFunction, options: CheckOptions])[];
  readonly start: boolean;
  readonly markReady: boolean;
  readonly shutdown: ServiceProbeShutdownOptions;
}

/**
 * The probe as a NestJS module: `imports: [ServiceProbeModule.forRoot({ checks })]` gives the
 * application a probe on its own port that turns READY once Nest has bootstrapped and drains
 * through Nest's shutdown hooks (call `app.enableShutdownHooks()`; do not call
 * `probe.handleSignals()`). Inject it anywhere in the importing module as `Probe`
 * (`constructor(private readonly probe: Probe)`). See docs/nestjs.md.
 *
 * ```ts
 * import { HttpAdapterHost } from '@nestjs/core';
 * import { ServiceProbeModule } from 'service-probe/nestjs';
 *
 * @Module({
 *   imports: [
 *     ServiceProbeModule.forRootAsync({
 *       imports: [DatabaseModule],
 *       inject: [DataSource],
 *       useFactory: (dataSource: DataSource) => ({ checks: { database: () => dataSource.query('select 1') } }),
 *       httpAdapterHost: HttpAdapterHost,
 *     }),
 *   ],
 * })
 * export class AppModule {}
 * ```
 */
export class ServiceProbeModule {
  /**
   * The module with options known up front. Everything is validated here, before Nest sees the
   * module: a bad option throws a `ProbeArgumentError` that names it, and nothing runs (no check
   * is called, no server starts). Each application built from the module gets a probe of its own.
   */
  static forRoot(options?: ServiceProbeModuleOptions & ServiceProbeModuleDefinition): ServiceProbeDynamicModule {
    const { httpAdapterHost, ...moduleOptions } = toObject(options === undefined ? {} : options, 'options', 'an object');
    const settings = toSettings(moduleOptions, 'options');
    return dynamicModule([], { provide: SETTINGS, useValue: settings }, toHttpAdapterHost(httpAdapterHost));
  }

  /**
   * The module with options made by a factory from injected providers (a TypeORM `DataSource`, a
   * Prisma client, a `ConfigService`), which the checks may use. The factory runs when Nest builds
   * the application; what it returns is validated then, as `forRoot()` validates its options.
   */
  static forRootAsync<Import = never>(options: ServiceProbeAsyncOptions<Import>): ServiceProbeDynamicModule<Import> {
    toObject(options, 'options', 'an object with a useFactory function');
    const given = toOptions<ServiceProbeAsyncOptions<Import>>(options, 'options', ASYNC_OPTION_NAMES);
    const useFactory = toFunction<ServiceProbeAsyncOptions<Import>['useFactory']>(given.useFactory, 'options.useFactory');
    const imports = toArray(given.imports, 'options.imports');
    const inject = toArray(given.inject, 'options.inject');
    const settings: ServiceProbeProvider = {
      provide: SETTINGS,
      useFactory: async (...injected: unknown[]) => toSettings(toObject(await useFactory(...injected), 'useFactory()', 'an object of module options'), 'options'),
      inject,
    };
    return dynamicModule(imports, settings, toHttpAdapterHost(given.httpAdapterHost));
  }
}

function dynamicModule<Import>(imports: Import[], settings: ServiceProbeProvider, httpAdapterHost: NestInjectionToken | undefined): ServiceProbeDynamicModule<Import> {
  return {
    module: ServiceProbeModule,
    imports,
    providers: [
      settings,
      { provide: Probe, useFactory: buildProbe, inject: [SETTINGS] },
      {
        provide: LIFECYCLE,
        useFactory: (probe: Probe, given: Settings, host?: HttpAdapterHostLike) => new ProbeLifecycle(probe, given, host),
        inject: httpAdapterHost === undefined ? [Probe, SETTINGS] : [Probe, SETTINGS, httpAdapterHost],
      },
    ],
    exports: [Probe],
  };
}

// Validation at the door. The probe's and the checks' own rules apply, through the same code that
// builds the real probe later, on a trial probe that is stopped before its checks are added: a
// stopped probe runs no check and starts no monitor, so validating calls nothing of the caller's.
function toSettings(options: ServiceProbeModuleOptions, argument: string): Settings {
  const { checks, start, markReady, shutdown, ...probe } = options;
  const settings: Settings = {
    probe,
    checks: toChecks(checks, `${argument}.checks`),
    start: start === undefined ? true : toBoolean(start, `${argument}.start`),
    markReady: markReady === undefined ? true : toBoolean(markReady, `${argument}.markReady`),
    shutdown: toShutdown(shutdown, `${argument}.shutdown`),
  };
  const trial = createProbe(probe);
  void trial.stop();
  addChecks(trial, settings.checks);
  return settings;
}

function toObject<T>(value: T, argument: string, expected: string): T & object {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new ProbeArgumentError(argument, expected, value);
  return value;
}

function toChecks(checks: unknown, argument: string): Settings['checks'] {
  if (checks === undefined) return [];
  if (typeof checks !== 'object' || checks === null || Array.isArray(checks)) {
    throw new ProbeArgumentError(argument, 'an object of checks by name', checks);
  }
  return Object.entries(checks).map(([name, entry]: [string, unknown]) => {
    if (typeof entry === 'function') return [name, entry as CheckFunction, {}] as const;
    if (typeof entry !== 'object' || entry === null || typeof (entry as ServiceProbeCheck).check !== 'function') {
      throw new ProbeArgumentError(`${argument}.${name}`, 'a check function, or an object with a check function and its options', entry);
    }
    const { check, ...checkOptions } = entry as ServiceProbeCheck;
    return [name, check, checkOptions] as const;
  });
}

function toShutdown(shutdown: unknown, argument: string): ServiceProbeShutdownOptions {
  const given = toOptions<ServiceProbeShutdownOptions>(shutdown, argument, SHUTDOWN_OPTION_NAMES);
  toShutdownOptions(given, argument, shutdownDefaults());
  return given;
}

function toArray<T>(value: readonly T[] | undefined, argument: string): T[] {
  if (value === undefined) return [];
  if (!Array.isArray(value)) throw new ProbeArgumentError(argument, 'an array', value);
  return [...value];
}

function toHttpAdapterHost(value: unknown): NestInjectionToken | undefined {
  if (value === undefined || typeof value === 'function') return value;
  throw new ProbeArgumentError('options.httpAdapterHost', "the HttpAdapterHost class of '@nestjs/core'", value);
}

function addChecks(probe: Probe, checks: Settings['checks']): void {
  for (const [name, check, options] of checks) probe.addCheck(name, check, options);
}

// A probe per application: the module may be built more than once in a process (an e2e test that
// creates the application per test), and a probe that has run its shutdown stays shut down.
function buildProbe(settings: Settings): Probe {
  const probe = createProbe(settings.probe);
  addChecks(probe, settings.checks);
  return probe;
}

/** Nest's HTTP server as the module uses it: drained by the shutdown, and watched for `listening`. */
interface AppServer extends TrackableServer {
  readonly listening: boolean;
  once(event: 'listening', listener: () => void): unknown;
}

// The lifecycle hooks Nest calls on this provider's instance; see the top of the file.
class ProbeLifecycle {
  readonly #probe: Probe;
  readonly #settings: Settings;
  readonly #httpAdapterHost: HttpAdapterHostLike | undefined;

  constructor(probe: Probe, settings: Settings, httpAdapterHost: HttpAdapterHostLike | undefined) {
    this.#probe = probe;
    this.#settings = settings;
    this.#httpAdapterHost = httpAdapterHost;
  }

  // Before any onApplicationBootstrap, so /health answers while the application starts.
  async onModuleInit(): Promise<void> {
    if (this.#settings.start) await this.#probe.start();
  }

  // Nest creates its HTTP server before the first hook and binds it in app.listen(), after the last
  // onApplicationBootstrap: READY waits for `listening`, so no load balancer is sent to a closed port.
  onApplicationBootstrap(): void {
    // An application context (NestFactory.createApplicationContext) has no HTTP adapter.
    const server = this.#httpAdapterHost?.httpAdapter?.getHttpServer() as AppServer | undefined;
    if (server !== undefined) this.#probe.trackServer(server);
    if (!this.#settings.markReady) return;
    if (server === undefined || server.listening) this.#markReady();
    else server.once('listening', () => this.#markReady());
  }

  // onModuleDestroy, not beforeApplicationShutdown: it is the first hook Nest calls on shutdown,
  // so the drain (and the in-flight requests of a tracked server) comes before the resources that
  // other modules release in their later hooks. Nest calls it on the root module's own providers
  // first, then module by module in import order: docs/nestjs.md says where to release resources.
  async onModuleDestroy(): Promise<void> {
    await this.#probe.shutdown({ ...this.#settings.shutdown, exit: false, stopProbe: false });
  }

  // The probe has answered DRAINING while Nest closed its HTTP server and ran its other hooks.
  async onApplicationShutdown(): Promise<void> {
    await this.#probe.stop();
  }

  // Only from UP: a state set meanwhile (DOWN by the application, DRAINING by a shutdown) stands.
  #markReady(): void {
    if (this.#probe.state === ServiceState.Up) this.#probe.setState(ServiceState.Ready);
  }
}
