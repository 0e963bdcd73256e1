// The types resolve for every TypeScript setup a consumer may have: a tiny consumer of every entry
// compiles against the packed package under moduleResolution node10 (with module commonjs, the
// NestJS default), node16 (an ES module file, and a plain .ts file of a CommonJS package), nodenext
// (ES module and CommonJS files) and bundler; with TypeScript 5.9, 6 and 7 (dev dependencies
// `typescript`, `typescript6` and `typescript7`, npm aliases).
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, mkdir, rm, symlink, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { fileURLToPath } from 'node:url';

const run = promisify(execFile);
const require = createRequire(import.meta.url);
const root = fileURLToPath(new URL('../..', import.meta.url));

const CONSUMER = `
import { createProbe, connectMiddleware, ServiceState, type ProbeOptions, type ProbePaths } from 'service-probe';
import { fetchServiceState, ProbeClientError, type FetchStateOptions } from 'service-probe/client';
import { eventLoopDelay, postgres, type QueryCheckOptions } from 'service-probe/checks';
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

// [module, moduleResolution, consumer file]. The consumer's package.json has no "type", so
// consumer.ts is a CommonJS file: under node16 it resolves the `require` condition's .d.cts (the
// ES module declarations there fail with TS1479, "cannot be imported with require").
const SETUPS = [
  ['commonjs', 'node10', 'consumer.ts'],
  ['node16', 'node16', 'consumer.ts'],
  ['node16', 'node16', 'consumer.mts'],
  ['nodenext', 'nodenext', 'consumer.mts'],
  ['nodenext', 'nodenext', 'consumer.cts'],
  ['esnext', 'bundler', 'consumer.ts'],
  ['preserve', 'bundler', 'consumer.ts'],
];

const describe = ([module, moduleResolution, file]) => `module ${module}, moduleResolution ${moduleResolution}, ${file}`;

let dir; // the consumer project, with the packed package in node_modules

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'service-probe-types-'));
  // The package as published: `npm pack` holds only the files a consumer gets.
  const { stdout } = await run('npm', ['pack', '--ignore-scripts', '--silent', '--pack-destination', dir], { cwd: root });
  const tarball = join(dir, stdout.trim().split('\n').pop());
  const installed = join(dir, 'node_modules', 'service-probe');
  await mkdir(installed, { recursive: true });
  await run('tar', ['-xzf', tarball, '-C', installed, '--strip-components=1']);
  await symlink(join(root, 'node_modules', '@types'), join(dir, 'node_modules', '@types'));
  await writeFile(join(dir, 'package.json'), '{"private":true}\n');
  for (const file of new Set(SETUPS.map((setup) => setup[2]))) await writeFile(join(dir, file), CONSUMER);
});

after(() => rm(dir, { recursive: true, force: true }));

/**
 * Compiles every setup in this process with the compiler API of `ts` (the standard library and
 * @types/node parsed once for all setups); returns the diagnostics per setup.
 */
function compileAll(ts, extraOptions = () => ({})) {
  const parsed = new Map();
  const results = [];
  for (const setup of SETUPS) {
    const [module, moduleResolution, file] = setup;
    const { options, errors } = ts.convertCompilerOptionsFromJson(
      // The package's own declarations are checked in full once (the first setup); after that only
      // resolution and the consumer's use of them differ, so skipLibCheck keeps the test quick.
      { noEmit: true, strict: true, target: 'es2022', module, moduleResolution, types: ['node'], skipLibCheck: setup !== SETUPS[0], ...extraOptions(setup) },
      dir,
    );
    assert.deepEqual(errors, []);
    const host = ts.createCompilerHost(options);
    const getSourceFile = host.getSourceFile.bind(host);
    host.getSourceFile = (name, language, ...rest) => {
      // Declaration files are parsed once; the consumer is parsed per setup (its module kind differs).
      if (!/\.d\.c?ts$/.test(name)) return getSourceFile(name, language, ...rest);
      const key = `${name} ${JSON.stringify(language)}`;
      if (!parsed.has(key)) parsed.set(key, getSourceFile(name, language, ...rest));
      return parsed.get(key);
    };
    const program = ts.createProgram([join(dir, file)], options, host);
    const diagnostics = ts.getPreEmitDiagnostics(program);
    results.push([setup, ts.formatDiagnostics(diagnostics, { getCanonicalFileName: (f) => f, getCurrentDirectory: () => dir, getNewLine: () => '\n' })]);
  }
  return results;
}

test('TypeScript 5.9: every entry type-checks under node10 (module commonjs), node16 (ESM and CommonJS), nodenext and bundler', () => {
  const ts = require('typescript');
  assert.match(ts.version, /^5\.9\./);
  for (const [setup, shown] of compileAll(ts)) assert.equal(shown, '', describe(setup));
});

test('TypeScript 6: the same setups (node10 behind ignoreDeprecations, as TypeScript 6 asks)', () => {
  const ts = require('typescript6');
  assert.match(ts.version, /^6\./);
  const results = compileAll(ts, ([, moduleResolution]) => (moduleResolution === 'node10' ? { ignoreDeprecations: '6.0' } : {}));
  for (const [setup, shown] of results) assert.equal(shown, '', describe(setup));
});

test('TypeScript 7 (the native tsc): the same setups but node10, which TypeScript 7 removed', async () => {
  // Its package exports no bin path; package.json names it.
  const manifest = require.resolve('typescript7/package.json');
  const tsc = join(dirname(manifest), require(manifest).bin.tsc);
  assert.match((await run(process.execPath, [tsc, '--version'])).stdout, /Version 7\./);
  const setups = SETUPS.filter(([, moduleResolution]) => moduleResolution !== 'node10');
  for (const [i, setup] of setups.entries()) {
    const [module, moduleResolution, file] = setup;
    const project = join(dir, `tsconfig.ts7-${i}.json`);
    const compilerOptions = { noEmit: true, strict: true, target: 'es2022', module, moduleResolution, types: ['node'], skipLibCheck: i !== 0 };
    await writeFile(project, JSON.stringify({ compilerOptions, files: [file] }));
    const { stdout } = await run(process.execPath, [tsc, '-p', project, '--pretty', 'false']).catch((error) => error);
    assert.equal(stdout, '', describe(setup));
  }
});
