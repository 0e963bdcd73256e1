// service-probe/nestjs inside the real Nest 11 (@nestjs/core, @nestjs/platform-express), in process:
// the dynamic module's wiring, READY after the bootstrap (and once Nest's HTTP server listens), an
// injected check, the drain through Nest's shutdown hooks, options refused at the door, the probe
// on Nest's own port, and nothing left running once the application is closed. The page's
// TypeScript, compiled under each tsconfig and against Nest 12 too, is test/integration/nestjs.test.js.
// Nest's decorators are applied as the functions they are (plain JavaScript).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { Controller, Get, Inject, Injectable, Module } from '@nestjs/common';
import { HttpAdapterHost, NestFactory } from '@nestjs/core';
import { connectMiddleware, Probe, ProbeArgumentError } from '../../dist/index.js';
import { ServiceProbeModule } from '../../dist/nestjs.js';
import { delay, gate, get } from '../helpers/checks.js';

const local = { host: '127.0.0.1', port: 0 };

/** A class with Nest's decorators applied: `decorate(class {}, Module({ … }))`. */
function decorate(cls, ...decorators) {
  for (const decorator of decorators) decorator(cls);
  return cls;
}

/** A route handler decorator applied to `cls.prototype[name]`. */
function route(cls, name, decorator) {
  decorator(cls.prototype, name, Object.getOwnPropertyDescriptor(cls.prototype, name));
}

/** The database of these tests: a provider of its own module, whose health the test sets. */
function databaseModule(events = []) {
  const Database = decorate(
    class Database {
      healthy = true;
      ping() {
        if (!this.healthy) throw new Error('database down');
      }
      onApplicationShutdown() {
        events.push('database closed');
      }
    },
    Injectable(),
  );
  const DatabaseModule = decorate(class DatabaseModule {}, Module({ providers: [Database], exports: [Database] }));
  return { Database, DatabaseModule };
}

/** A controller whose GET /slow stays in flight until `release` opens. */
function slowController(events, release) {
  class SlowController {
    async slow() {
      events.push('slow request begun');
      await release.promise;
      events.push('slow request done');
      return 'slow done';
    }
    fast() {
      return 'fast';
    }
  }
  route(SlowController, 'slow', Get('slow'));
  route(SlowController, 'fast', Get('fast'));
  return decorate(SlowController, Controller());
}

/** Creates the application (Nest's own logger off), closed after the test. */
async function createApp(t, AppModule) {
  const app = await NestFactory.create(AppModule, { logger: false, abortOnError: false });
  t.after(() => app.close());
  return app;
}

const text = async (url, options) => {
  const { status, body } = await get(url, options);
  return `${status} ${body}`;
};

test('forRoot() is a dynamic module that provides and exports the Probe class of service-probe, a new probe per application', async (t) => {
  const dynamic = ServiceProbeModule.forRoot(local);
  assert.equal(dynamic.module, ServiceProbeModule);
  assert.deepEqual(dynamic.exports, [Probe]);
  const AppModule = decorate(class AppModule {}, Module({ imports: [dynamic] }));
  const first = await createApp(t, AppModule);
  const second = await createApp(t, AppModule);
  assert.ok(first.get(Probe) instanceof Probe);
  assert.notEqual(first.get(Probe), second.get(Probe), 'each application gets its own probe');
});

test('the probe starts in onModuleInit (UP), turns READY once Nest listens, and is injected by its class', async (t) => {
  const Consumer = decorate(
    class Consumer {
      constructor(probe) {
        this.probe = probe;
      }
    },
    Injectable(),
  );
  Inject(Probe)(Consumer, undefined, 0);
  const AppModule = decorate(
    class AppModule {},
    Module({ imports: [ServiceProbeModule.forRoot({ ...local, httpAdapterHost: HttpAdapterHost })], providers: [Consumer] }),
  );
  const app = await createApp(t, AppModule);
  const probe = app.get(Probe);
  assert.equal(app.get(Consumer).probe, probe);
  assert.equal(probe.address, undefined, 'nothing starts before Nest initializes');

  await app.init();
  const base = `http://127.0.0.1:${probe.address.port}`;
  // Bootstrapped, but Nest's HTTP server is not listening yet: no load balancer may be sent here.
  assert.deepEqual([await text(`${base}/health`), await text(`${base}/ready`)], ['200 UP', '503 UP']);
  await app.listen(0, '127.0.0.1');
  assert.equal(await text(`${base}/ready`), '200 READY');
  assert.equal(await text(`${base}/started`), '200 READY');
});

test('without httpAdapterHost READY follows the bootstrap; an application context (no HTTP server) turns READY too', async (t) => {
  const AppModule = decorate(class AppModule {}, Module({ imports: [ServiceProbeModule.forRoot(local)] }));
  const app = await createApp(t, AppModule);
  await app.init();
  assert.equal(app.get(Probe).state, 'READY');

  const ContextModule = decorate(class ContextModule {}, Module({ imports: [ServiceProbeModule.forRoot({ ...local, httpAdapterHost: HttpAdapterHost })] }));
  const context = await NestFactory.createApplicationContext(ContextModule, { logger: false, abortOnError: false });
  t.after(() => context.close());
  await context.init();
  const probe = context.get(Probe);
  assert.equal(await text(`http://127.0.0.1:${probe.address.port}/ready`), '200 READY');
  await context.close();
  assert.equal(probe.address, undefined);
});

test('markReady: false leaves READY to the application', async (t) => {
  const AppModule = decorate(class AppModule {}, Module({ imports: [ServiceProbeModule.forRoot({ ...local, markReady: false, httpAdapterHost: HttpAdapterHost })] }));
  const app = await createApp(t, AppModule);
  await app.listen(0, '127.0.0.1');
  const probe = app.get(Probe);
  assert.equal(probe.state, 'UP');
  probe.setState('READY');
  assert.equal(await text(`http://127.0.0.1:${probe.address.port}/ready`), '200 READY');
});

test('forRootAsync: the factory gets the injected providers, and a failing injected check turns /ready 503', async (t) => {
  const { Database, DatabaseModule } = databaseModule();
  const AppModule = decorate(
    class AppModule {},
    Module({
      imports: [
        ServiceProbeModule.forRootAsync({
          imports: [DatabaseModule],
          inject: [Database],
          useFactory: async (database) => ({ ...local, checks: { database: () => database.ping(), 'always-fine': { check: () => true, affects: 'liveness' } } }),
          httpAdapterHost: HttpAdapterHost,
        }),
      ],
    }),
  );
  const app = await createApp(t, AppModule);
  await app.listen(0, '127.0.0.1');
  const base = `http://127.0.0.1:${app.get(Probe).address.port}`;
  assert.equal(await text(`${base}/ready`), '200 READY');
  app.get(Database).healthy = false;
  assert.equal((await get(`${base}/ready`)).status, 503);
  assert.equal((await get(`${base}/ready/database`)).status, 503);
  assert.equal((await get(`${base}/health`)).status, 200, 'a readiness check does not fail liveness');
  app.get(Database).healthy = true;
  assert.equal(await text(`${base}/ready`), '200 READY');
  assert.equal((await get(`${base}/health/always-fine`)).status, 200);
});

test('app.close() with a request in flight: DRAINING, the drain delay, the request finishes, then Nest tears down, then the probe stops', async (t) => {
  const events = [];
  const release = gate();
  const { DatabaseModule } = databaseModule(events);
  const RootService = decorate(
    class RootService {
      constructor(probe) {
        this.probe = probe;
      }
      onModuleDestroy() {
        // Nest calls the root module's own providers first: before the drain (docs/nestjs.md).
        events.push(`root onModuleDestroy, state ${this.probe.state}`);
      }
    },
    Injectable(),
  );
  Inject(Probe)(RootService, undefined, 0);
  const AppModule = decorate(
    class AppModule {},
    Module({
      imports: [DatabaseModule, ServiceProbeModule.forRoot({ ...local, shutdown: { drainDelayMs: 300 }, httpAdapterHost: HttpAdapterHost })],
      controllers: [slowController(events, release)],
      providers: [RootService],
    }),
  );
  const app = await createApp(t, AppModule);
  await app.listen(0, '127.0.0.1');
  const probe = app.get(Probe);
  probe.on('change', (next, previous) => events.push(`state ${previous} -> ${next}`));
  const base = `http://127.0.0.1:${probe.address.port}`;
  const appBase = `http://127.0.0.1:${app.getHttpServer().address().port}`;

  const slow = get(`${appBase}/slow`);
  while (!events.includes('slow request begun')) await delay(10);
  const closed = app.close();
  while (probe.state !== 'DRAINING') await delay(10);
  assert.equal(await text(`${base}/ready`), '503 DRAINING');
  assert.equal(await text(`${base}/health`), '200 DRAINING');
  // During the drain delay the app still serves what reaches it, and asks the client to reconnect elsewhere.
  const fast = await get(`${appBase}/fast`);
  assert.deepEqual([fast.status, fast.body, fast.headers.connection], [200, 'fast', 'close']);
  await delay(400);
  release.open();
  const answered = await slow;
  assert.deepEqual([answered.status, answered.body, answered.headers.connection], [200, 'slow done', 'close']);
  await closed;
  assert.deepEqual(events, [
    'slow request begun',
    'root onModuleDestroy, state READY',
    'state READY -> DRAINING',
    'slow request done',
    'database closed',
  ]);
  assert.equal(probe.address, undefined, 'the probe stopped');
  assert.equal(probe.state, 'DRAINING');
});

test('a closed application leaves nothing running: its process ends by itself; the module installs no signal handler', async () => {
  const child = spawn(process.execPath, [fileURLToPath(new URL('../fixtures/nest-module-app.mjs', import.meta.url))], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (chunk) => (stdout += chunk));
  child.stderr.setEncoding('utf8').on('data', (chunk) => (stderr += chunk));
  // A server, socket or ref'd timer left behind would keep the process alive past this.
  const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
  const [code, signal] = await once(child, 'exit');
  clearTimeout(timer);
  assert.deepEqual([code, signal, stderr], [0, null, '']);
  assert.deepEqual(JSON.parse(stdout), { ready: '200 READY', signals: { before: [0, 0], during: [0, 0], after: [0, 0] }, probeAddress: null });
});

test('start: false: no probe server; connectMiddleware serves the probe on Nest\'s own port', async (t) => {
  const AppModule = decorate(class AppModule {}, Module({ imports: [ServiceProbeModule.forRoot({ start: false, httpAdapterHost: HttpAdapterHost })] }));
  const app = await createApp(t, AppModule);
  app.use(connectMiddleware(app.get(Probe), { prefix: '/internal/health' }));
  await app.listen(0, '127.0.0.1');
  assert.equal(app.get(Probe).address, undefined);
  const appBase = `http://127.0.0.1:${app.getHttpServer().address().port}`;
  assert.equal(await text(`${appBase}/internal/health/ready`), '200 READY');
  assert.equal((await get(`${appBase}/ready`)).status, 404, "the app's own paths stay the app's");
});

test('forRoot() refuses a bad option with a ProbeArgumentError that names it, before any check runs', () => {
  const calls = [];
  const check = Object.assign(() => calls.push('check'), { start: () => calls.push('start'), stop: () => calls.push('stop') });
  const cases = [
    ['options', 'not options'],
    ['options', null],
    ['options.port', { port: 70_000 }],
    ['options.chekcs', { chekcs: {} }],
    ['options.checks', { checks: [check] }],
    ['options.checks.database', { checks: { database: 'select 1' } }],
    ['options.checks.database', { checks: { database: { timeoutMs: 100 } } }],
    ['name', { checks: { 'no spaces': check } }],
    ['options.timeoutMs', { checks: { database: { check, intervalMs: 10, timeoutMs: -1 } } }],
    ['options.start', { start: 'yes' }],
    ['options.markReady', { markReady: 1 }],
    ['options.shutdown.exit', { shutdown: { exit: true } }],
    ['options.shutdown.signals', { shutdown: { signals: ['SIGTERM'] } }],
    ['options.shutdown.drainDelayMs', { shutdown: { drainDelayMs: -1 } }],
    ['options.httpAdapterHost', { httpAdapterHost: {} }],
  ];
  for (const [argument, options] of cases) {
    // A good background check first: validating the ones after it must not run or start it.
    const given = typeof options === 'object' && options !== null && options.checks === undefined ? { ...options, checks: { first: { check, intervalMs: 10 } } } : options;
    assert.throws(
      () => ServiceProbeModule.forRoot(given),
      (error) => error instanceof ProbeArgumentError && error.argument === argument && error.message.includes('Received'),
      argument,
    );
  }
  ServiceProbeModule.forRoot({ ...local, checks: { database: { check, intervalMs: 10, affects: 'both' } } });
  assert.deepEqual(calls, [], 'validating calls nothing of the caller');
});

test('forRootAsync() refuses bad options at once, and what useFactory returns when Nest calls it', async () => {
  const useFactory = () => ({});
  for (const [argument, options] of [
    ['options', undefined],
    ['options.useFactory', {}],
    ['options.imports', { useFactory, imports: 'DatabaseModule' }],
    ['options.inject', { useFactory, inject: 'Database' }],
    ['options.provide', { useFactory, provide: 'x' }],
    ['options.httpAdapterHost', { useFactory, httpAdapterHost: 'HttpAdapterHost' }],
  ]) {
    assert.throws(() => ServiceProbeModule.forRootAsync(options), (error) => error instanceof ProbeArgumentError && error.argument === argument, argument);
  }
  for (const [argument, made] of [
    ['useFactory()', undefined],
    ['options.port', { port: -1 }],
    ['options.shutdown.timeoutMs', { shutdown: { timeoutMs: 0 } }],
  ]) {
    const AppModule = decorate(class AppModule {}, Module({ imports: [ServiceProbeModule.forRootAsync({ useFactory: async () => made })] }));
    await assert.rejects(NestFactory.create(AppModule, { logger: false, abortOnError: false }), (error) => error instanceof ProbeArgumentError && error.argument === argument, argument);
  }
});
