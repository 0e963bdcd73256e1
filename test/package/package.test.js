// The package as consumers get it: `npm pack`, installed offline into a fresh directory (it has no
// dependencies), then used from an ES module, from CommonJS (Node's require() of ES modules, with
// no flag and no warning), from TypeScript under `module: nodenext`, and through its bin; and read
// as a user reads it when an error reaches them: the stack trace and the files it names.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { staticGraph } from '../helpers/bundle.js';

const run = promisify(execFile);
const require = createRequire(import.meta.url);
const root = fileURLToPath(new URL('../..', import.meta.url));
const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url)));
const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';

let work; // the temp directory: the tarball and the consumer project
let consumer; // the consumer project, with service-probe installed from the tarball
let packed; // npm pack's report: files and sizes
let installed; // node_modules/service-probe

before(async () => {
  work = mkdtempSync(join(tmpdir(), 'service-probe-package-'));
  // dist/ is built by `pretest`; --ignore-scripts keeps prepack from building it again.
  const { stdout } = await run(npm, ['pack', '--json', '--ignore-scripts', '--pack-destination', work], { cwd: root });
  [packed] = JSON.parse(stdout);
  consumer = join(work, 'consumer');
  mkdirSync(consumer);
  writeFileSync(join(consumer, 'package.json'), '{ "name": "consumer", "private": true }\n');
  await run(npm, ['install', '--offline', '--no-audit', '--no-fund', '--ignore-scripts', '--no-package-lock', join(work, packed.filename)], { cwd: consumer });
  installed = join(consumer, 'node_modules', 'service-probe');
});

after(() => rmSync(work, { recursive: true, force: true }));

/** Runs `node ...args` in the consumer project. */
function node(args) {
  return run(process.execPath, args, { cwd: consumer });
}

test('the tarball holds the bundles, the declarations, README, LICENSE and package.json: nothing else', () => {
  const unexpected = packed.files
    .map((file) => file.path)
    .filter((path) => !/^dist\/[\w/-]+\.(js|d\.ts|d\.cts)$/.test(path) && !['README.md', 'LICENSE', 'package.json'].includes(path));
  assert.deepEqual(unexpected, [], 'no source maps, build info, sources or tests');
  assert.ok(!packed.files.some((file) => file.path === 'dist/internal.js'), 'not the tests\' way into the modules');
  assert.deepEqual(Object.keys(pkg.dependencies ?? {}), [], 'zero dependencies');
});


test('declarations ship per public entry (plus the types entries share), with their TSDoc, no @internal member and no internal module\'s', () => {
  const entries = Object.values(pkg.exports).flatMap((entry) => (entry.types === undefined ? [] : [entry.types, entry.require.types].map((path) => path.replace(/^\.\//, ''))));
  const declarations = packed.files.map((file) => file.path).filter((path) => /\.d\.c?ts$/.test(path));
  for (const entry of entries) assert.ok(declarations.includes(entry), `${entry} ships`);
  assert.deepEqual(declarations.filter((path) => !entries.includes(path) && !/^dist\/types-[\w-]+\.d\.cts$/.test(path)), [], 'no per-module declarations');
  // The TSDoc of a class and of a re-exported function from a shared file, as a consumer's editor shows it.
  const text = declarations.map((path) => readFileSync(join(installed, path), 'utf8')).join('\n');
  assert.match(text, /\*\/\ndeclare class Probe\b/);
  assert.match(text, /\*\/\ndeclare function eventLoopDelay\b/);
  // stripInternal: a member marked @internal (Probe#healthSource, for the gRPC code) is no part of
  // the types, and neither is its comment.
  assert.doesNotMatch(text, /@internal/);
  assert.doesNotMatch(text, /\bhealthSource\b/);
});

// Readable JavaScript (not minified) is about twice the bytes of minified: about 250 KB, of which
// 33 KB is the CLI (one file with its own copy of the client and its HTTP reader, so that a
// HEALTHCHECK loads one file), plus the declarations with their TSDoc (57 KB): about 310 KB without
// the README (31 KB), the NestJS entry and the metrics beside prom-client included. This keeps what
// ships from growing unnoticed; the bench reports the figure (docs/performance.md).
test('the package without its README stays within 315 KB installed', () => {
  const bytes = packed.files.filter((file) => file.path !== 'README.md').reduce((sum, file) => sum + file.size, 0);
  assert.ok(bytes <= 315_000, `${bytes} bytes`);
});

test('the shipped JavaScript reads like its source: one statement a line, the source\'s names, each module\'s code under its path', () => {
  const scripts = packed.files.map((file) => file.path).filter((path) => path.endsWith('.js'));
  assert.ok(scripts.length >= 3);
  for (const path of scripts) {
    const text = readFileSync(join(installed, path), 'utf8');
    // A minified file is a few lines of kilobytes; here only a file's import and export lists are long.
    const long = text.split('\n').filter((line) => line.length > 400 && !/^(?:import|export) \{/.test(line));
    assert.deepEqual(long, [], path);
    assert.match(text, /^\/\/ src\/[\w/-]+\.ts$/m, `${path} names the source of its code`);
  }
  const shared = readFileSync(join(installed, 'dist', 'shared.js'), 'utf8');
  assert.match(shared, /^class ProbeArgumentError extends TypeError \{$/m);
  assert.match(shared, /^function toPort\(/m);
});

test('a few named files: `service-probe` loads three (index, core, shared), the client and the checks two', () => {
  const loads = (entry) => [...staticGraph(join(installed, pkg.exports[entry].default)).files].map((file) => file.slice(join(installed, 'dist').length + 1)).sort();
  // What each costs to import is the bench's business (bench/import-time.mjs, docs/performance.md).
  assert.deepEqual(loads('.'), ['core.js', 'index.js', 'shared.js']);
  assert.deepEqual(loads('./client'), ['client.js', 'shared.js']);
  assert.deepEqual(loads('./checks'), ['checks-entry.js', 'shared.js']);
});

test('an uncaught ProbeArgumentError from the installed package prints its name, its message and frames a user can follow', async () => {
  writeFileSync(join(consumer, 'uncaught.mjs'), "import { createProbe } from 'service-probe';\ncreateProbe({ port: -1 });\n");
  const { code, stderr } = await node(['uncaught.mjs']).catch((error) => error);
  assert.equal(code, 1);
  const lines = stderr.split('\n');
  // Node prints the throwing line of the library's own source, then the error and its stack.
  assert.match(lines[0], /node_modules\/service-probe\/dist\/shared\.js:\d+$/);
  assert.match(lines[1], /^\s*throw new ProbeArgumentError\(/);
  assert.ok(lines.includes('ProbeArgumentError: The "options.port" argument must be an integer from 0 to 65535. Received type number (-1)'), stderr);
  const frames = lines.filter((line) => /^\s+at /.test(line));
  for (const name of ['toPort', 'new Probe', 'createProbe']) {
    assert.ok(frames.some((frame) => frame.includes(`at ${name} (`) && /\/service-probe\/dist\/(?:shared|index|core)\.js:\d+:\d+\)$/.test(frame)), `a frame of ${name}: ${frames.join('\n')}`);
  }
  assert.match(stderr, /code: 'INVALID_ARGUMENT',\n\s+argument: 'options\.port',\n\s+value: -1/);
  assert.ok(lines.every((line) => line.length < 300), 'no minified line');
});

test('the error classes print and inspect under their own names, from every entry', async () => {
  const code = `
    import { inspect } from 'node:util';
    import * as main from 'service-probe';
    import * as client from 'service-probe/client';
    import * as checks from 'service-probe/checks';
    const classes = [main.ProbeStartError, main.ProbeArgumentError, main.ProbeClientError, main.ProbeUnsupportedError, client.ProbeClientError, checks.ProbeArgumentError];
    console.log(classes.map((c) => c.name).join(' '));
    try { checks.tcp({ port: 0 }); } catch (error) { console.log(inspect(error).split('\\n')[0]); }
  `;
  const { stdout } = await node(['--input-type=module', '-e', code]);
  const [names, inspected] = stdout.trim().split('\n');
  assert.equal(names, 'ProbeStartError ProbeArgumentError ProbeClientError ProbeUnsupportedError ProbeClientError ProbeArgumentError');
  // Not `s [ProbeArgumentError]`: the constructor keeps its name, so inspect shows no second one.
  assert.match(inspected, /^ProbeArgumentError: The "options\.port" argument must be/);
});

test('an ES module consumer imports both entries by name; they share one set of error classes', async () => {
  const code = `
    import { createProbe, ServiceState, ProbeClientError } from 'service-probe';
    import { fetchServiceState, ProbeClientError as ClientError } from 'service-probe/client';
    const probe = createProbe({ host: '127.0.0.1', port: 0, state: ServiceState.Ready });
    const { port } = await probe.start();
    console.log(await fetchServiceState('http://127.0.0.1:' + port + '/ready'), ProbeClientError === ClientError);
    await probe.stop();
  `;
  const { stdout, stderr } = await node(['--input-type=module', '-e', code]);
  assert.equal(stdout.trim(), 'READY true');
  assert.equal(stderr, '');
});

test('a CommonJS consumer can require("service-probe") and its client with no flag and no warning', async () => {
  const code = `
    const probe = require('service-probe');
    const client = require('service-probe/client');
    (async () => {
      const p = probe.createProbe({ host: '127.0.0.1', port: 0, state: probe.ServiceState.Ready });
      const { port } = await p.start();
      const res = await fetch('http://127.0.0.1:' + port + '/ready');
      console.log(res.status, await res.text(), typeof probe.startProbe, await client.isReady('http://127.0.0.1:' + port + '/ready'));
      await p.stop();
    })();
  `;
  const { stdout, stderr } = await node(['-e', code]);
  assert.equal(stdout.trim(), '200 READY function true');
  assert.equal(stderr, '', 'no warning');
});

test('require() and import load one module: one default probe, one set of error classes', async () => {
  const code = `
    import { createRequire } from 'node:module';
    import * as esm from 'service-probe';
    const cjs = createRequire(import.meta.url)('service-probe');
    esm.setServiceState('READY');
    const error = await cjs.startProbe('127.0.0.1', -1, 'UP').catch((e) => e);
    console.log(cjs.getServiceState(), esm.defaultProbe() === cjs.defaultProbe(), error instanceof esm.ProbeArgumentError);
  `;
  const { stdout } = await node(['--input-type=module', '-e', code]);
  assert.equal(stdout.trim(), 'READY true true');
});

test('a TypeScript consumer compiles under module nodenext, and every export of every entry carries its TSDoc', () => {
  const ts = require('typescript');
  const file = join(consumer, 'consumer.ts');
  writeFileSync(
    file,
    `import { createProbe, ServiceState, ProbeArgumentError, type Probe, type CheckResult } from 'service-probe';
import { fetchServiceState, type ProbeAnswer } from 'service-probe/client';
export * as probeEntry from 'service-probe';
export * as clientEntry from 'service-probe/client';
const probe: Probe = createProbe({ port: 0, state: ServiceState.Ready });
probe.addCheck('db', async (): Promise<CheckResult> => ({ ok: true }));
const state: Promise<ServiceState> = fetchServiceState('http://127.0.0.1:11333/ready');
const answer: ProbeAnswer | undefined = undefined;
export { probe, state, answer, ProbeArgumentError };
`,
  );
  const options = {
    strict: true,
    noEmit: true,
    module: ts.ModuleKind.NodeNext,
    moduleResolution: ts.ModuleResolutionKind.NodeNext,
    target: ts.ScriptTarget.ES2022,
    types: ['node'],
    typeRoots: [join(root, 'node_modules', '@types')],
  };
  const program = ts.createProgram([file], options);
  const problems = ts.getPreEmitDiagnostics(program).map((d) => ts.flattenDiagnosticMessageText(d.messageText, ' '));
  assert.deepEqual(problems, []);
  const checker = program.getTypeChecker();
  const source = program.getSourceFile(file);
  const undocumented = [];
  for (const [entry, alias] of [['service-probe', 'probeEntry'], ['service-probe/client', 'clientEntry']]) {
    const namespace = checker.getExportsOfModule(checker.getSymbolAtLocation(source)).find((s) => s.name === alias);
    const exports = checker.getExportsOfModule(checker.getAliasedSymbol(namespace));
    assert.ok(exports.length > 5, entry);
    for (const symbol of exports) {
      const target = symbol.flags & ts.SymbolFlags.Alias ? checker.getAliasedSymbol(symbol) : symbol;
      if (target.getDocumentationComment(checker).length === 0) undocumented.push(`${entry}: ${symbol.name}`);
    }
  }
  assert.deepEqual(undocumented, []);
});

test('the bin: service-probe check exits 0 for a READY probe and 1 for a draining one, --version prints the version', async (t) => {
  const bin = join(consumer, 'node_modules', '.bin', 'service-probe');
  assert.ok(existsSync(bin), 'npm linked the bin');
  assert.equal((await run(bin, ['--version'])).stdout, `${pkg.version}\n`);
  const { createProbe } = await import(pathToFileURL(join(installed, pkg.exports['.'].default)).href);
  const probe = createProbe({ host: '127.0.0.1', port: 0, state: 'READY' });
  t.after(() => probe.stop());
  const { port } = await probe.start();
  const ready = await run(bin, ['check', `http://127.0.0.1:${port}/ready`]);
  assert.deepEqual(ready, { stdout: 'READY\n', stderr: '' }, 'exit 0, the state on stdout');
  probe.setState('DRAINING');
  const draining = await run(bin, ['check', `http://127.0.0.1:${port}/ready`]).catch((error) => error);
  assert.equal(draining.code, 1);
  assert.match(draining.stderr, /answered HTTP 503/);
});

test('package.json: ESM only, engines where require() of ESM needs no flag, exports with types, a bin', () => {
  assert.equal(pkg.type, 'module');
  // require(esm) is on without a flag or a warning from Node 20.19 and 22.12.
  assert.equal(pkg.engines.node, '^20.19.0 || >=22.12.0');
  assert.deepEqual(Object.keys(pkg.dependencies ?? {}), []);
  for (const [entry, target] of Object.entries(pkg.exports)) {
    if (entry === './package.json') continue;
    assert.ok(existsSync(join(installed, target.default)), `${entry} default`);
    assert.ok(existsSync(join(installed, target.types)), `${entry} types`);
  }
  assert.equal(pkg.bin['service-probe'], './dist/cli.js');
});
