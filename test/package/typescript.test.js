// The types resolve for every TypeScript setup a consumer may have: a tiny consumer of every entry
// compiles against the packed package under moduleResolution node10 (with module commonjs, the
// NestJS default), node16, nodenext (ES module and CommonJS files) and bundler.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, mkdir, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { fileURLToPath } from 'node:url';

const run = promisify(execFile);
const root = fileURLToPath(new URL('../..', import.meta.url));

const CONSUMER = `
import { createProbe, connectMiddleware, eventLoopDelay, ServiceState, type ProbeOptions, type ProbePaths } from 'service-probe';
import { fetchServiceState, ProbeClientError, type FetchStateOptions } from 'service-probe/client';
import { postgres, type QueryCheckOptions } from 'service-probe/checks';
import { ServiceProbeModule, type ServiceProbeModuleOptions } from 'service-probe/nestjs';

const paths: ProbePaths = { ready: '/readyz' };
const options: ProbeOptions = { port: 0, paths };
const probe = createProbe(options);
probe.addCheck('event-loop', eventLoopDelay(), { affects: 'liveness' });
const queryOptions: QueryCheckOptions = { query: 'select 1' };
probe.addCheck('db', postgres({ query: async () => ({}) }, queryOptions));
probe.setState(ServiceState.Ready);
const middleware: (req: any, res: any, next: () => void) => void = connectMiddleware(probe);
const fetchOptions: FetchStateOptions = { timeoutMs: 500 };
const state: Promise<ServiceState> = fetchServiceState('http://127.0.0.1:11333/ready', fetchOptions);
const isClientError = (error: unknown): boolean => error instanceof ProbeClientError && error.code === 'TIMEOUT';
// @ts-expect-error: a state word the types do not know
probe.setState('STARTING');
const moduleOptions: ServiceProbeModuleOptions = { port: 0, checks: { db: () => true, cache: { check: () => true, affects: 'liveness' } }, shutdown: { drainDelayMs: 0 } };
const probeModule = ServiceProbeModule.forRoot(moduleOptions);
// @ts-expect-error: the exit is Nest's, not an option of the module
ServiceProbeModule.forRoot({ shutdown: { exit: false } });
export { middleware, state, isClientError, probeModule };
`;

// [module, moduleResolution, consumer file]
const SETUPS = [
  ['commonjs', 'node10', 'consumer.ts'],
  ['node16', 'node16', 'consumer.mts'],
  ['nodenext', 'nodenext', 'consumer.mts'],
  ['nodenext', 'nodenext', 'consumer.cts'],
  ['esnext', 'bundler', 'consumer.ts'],
  ['preserve', 'bundler', 'consumer.ts'],
];

test('every entry type-checks for consumers under node10 (module commonjs), node16, nodenext and bundler', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'service-probe-types-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  // The package as published: `npm pack` holds only the files a consumer gets.
  const { stdout } = await run('npm', ['pack', '--ignore-scripts', '--silent', '--pack-destination', dir], { cwd: root });
  const tarball = join(dir, stdout.trim().split('\n').pop());
  const installed = join(dir, 'node_modules', 'service-probe');
  await mkdir(installed, { recursive: true });
  await run('tar', ['-xzf', tarball, '-C', installed, '--strip-components=1']);
  await symlink(join(root, 'node_modules', '@types'), join(dir, 'node_modules', '@types'));
  await writeFile(join(dir, 'package.json'), '{"private":true}\n');
  for (const file of new Set(SETUPS.map((setup) => setup[2]))) await writeFile(join(dir, file), CONSUMER);
  // One process, the compiler API, and the standard library and @types/node parsed once for all setups.
  const { default: ts } = await import('typescript');
  const parsed = new Map();
  for (const [module, moduleResolution, file] of SETUPS) {
    const { options, errors } = ts.convertCompilerOptionsFromJson(
      // The package's own declarations are checked in full once (the first setup); after that only
      // resolution and the consumer's use of them differ, so skipLibCheck keeps the test quick.
      { noEmit: true, strict: true, target: 'es2022', module, moduleResolution, types: ['node'], skipLibCheck: module !== SETUPS[0][0] || file !== SETUPS[0][2] },
      dir,
    );
    assert.deepEqual(errors, []);
    const host = ts.createCompilerHost(options);
    const getSourceFile = host.getSourceFile.bind(host);
    host.getSourceFile = (name, language, ...rest) => {
      // Declaration files are parsed once; the consumer is parsed per setup (its module kind differs).
      if (!name.endsWith('.d.ts')) return getSourceFile(name, language, ...rest);
      const key = `${name} ${JSON.stringify(language)}`;
      if (!parsed.has(key)) parsed.set(key, getSourceFile(name, language, ...rest));
      return parsed.get(key);
    };
    const program = ts.createProgram([join(dir, file)], options, host);
    const diagnostics = ts.getPreEmitDiagnostics(program);
    const shown = ts.formatDiagnostics(diagnostics, { getCanonicalFileName: (f) => f, getCurrentDirectory: () => dir, getNewLine: () => '\n' });
    assert.equal(shown, '', `module ${module}, moduleResolution ${moduleResolution}, ${file}`);
  }
});
