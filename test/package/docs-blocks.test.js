// Docs that run: every ```ts / ```js block of the README compiles on its own, as a whole file, with
// `strict` and `module`/`moduleResolution` `nodenext` against the built package (the package
// resolves itself by name through its `exports`), so a block declares every name it uses. Each block
// is preceded by an HTML comment (invisible on the package page) that says how it is tested:
//
//   <!-- docs-test: GET /ready 200 READY; GET / 200 the app -->   run it, then ask these paths
//   <!-- docs-test: stdout UP -> READY; exit 0 -->                run it; it prints that and ends
//   <!-- docs-test: GET /ready 200 READY; SIGTERM exit 0 -->      …then SIGTERM ends it with code 0
//   <!-- docs-test: compile only: <reason> -->                    not run (a database, placeholder hosts)
//
// A run is the block as written, transpiled, in a child process, with one documented change: the
// ports the examples use (11333 for probes, 8080 for app servers) become free ephemeral ports, and
// every GET goes to the probe's port when the block uses 11333, else to the app's. A GET body matches when it equals the text
// or one of its lines does.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { createRequire } from 'node:module';
import { freePort } from '../helpers/servers.js';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const require = createRequire(import.meta.url);
const ts = require('typescript');
const rootDir = fileURLToPath(new URL('../..', import.meta.url));
const readme = readFileSync(join(rootDir, 'README.md'), 'utf8');

/** Each code block with its language, its line in the README and the docs-test comment above it. */
function blocks(text) {
  const found = [];
  for (const m of text.matchAll(/^```(\w*)\n([\s\S]*?)^```$/gm)) {
    const line = text.slice(0, m.index).split('\n').length;
    const before = text.slice(0, m.index).trimEnd().split('\n').pop();
    const marker = /^<!-- docs-test: (.*) -->$/.exec(before);
    found.push({ lang: m[1], code: m[2], line, directive: marker ? marker[1].trim() : undefined });
  }
  return found;
}

const codeBlocks = blocks(readme).filter((b) => b.lang === 'ts' || b.lang === 'js');

/** Parses a docs-test directive into what to run and expect. */
function plan(directive) {
  if (directive.startsWith('compile only:')) return { run: false, reason: directive.slice('compile only:'.length).trim() };
  const steps = directive.split(';').map((s) => s.trim()).filter(Boolean);
  const result = { run: true, gets: [], stdout: [], exit: undefined, sigterm: undefined };
  for (const step of steps) {
    let m;
    if ((m = /^GET (\S+) (\d{3})(?: (.+))?$/.exec(step))) result.gets.push({ path: m[1], status: Number(m[2]), body: m[3] });
    else if ((m = /^stdout (.+)$/.exec(step))) result.stdout.push(m[1]);
    else if ((m = /^SIGTERM exit (\d+)$/.exec(step))) result.sigterm = Number(m[1]);
    else if ((m = /^exit (\d+)$/.exec(step))) result.exit = Number(m[1]);
    else throw new Error(`unknown docs-test step '${step}'`);
  }
  return result;
}

test('the README has code examples, and each says how it is tested', () => {
  assert.ok(codeBlocks.length >= 10, `only ${codeBlocks.length} ts/js blocks`);
  const problems = [];
  for (const block of codeBlocks) {
    if (block.directive === undefined) problems.push(`README.md:${block.line}: no <!-- docs-test: … --> comment right above the block`);
    else {
      try {
        const p = plan(block.directive);
        if (!p.run && p.reason.length < 10) problems.push(`README.md:${block.line}: 'compile only' needs a reason`);
        if (p.run && p.gets.length + p.stdout.length === 0 && p.exit === undefined) problems.push(`README.md:${block.line}: a run that checks nothing`);
      } catch (error) {
        problems.push(`README.md:${block.line}: ${error.message}`);
      }
    }
  }
  // Blocks in other languages never carry a directive (it would silently test nothing).
  for (const block of blocks(readme).filter((b) => b.lang !== 'ts' && b.lang !== 'js' && b.directive !== undefined)) {
    problems.push(`README.md:${block.line}: a docs-test comment on a ${block.lang || 'plain'} block`);
  }
  assert.deepEqual(problems, []);
});

test('every ts/js block of the README compiles alone as a whole file: strict, nodenext, against the built package', () => {
  const files = new Map(codeBlocks.map((block) => [join(rootDir, `readme-block-line-${block.line}.${block.lang === 'ts' ? 'ts' : 'mjs'}`), block]));
  const options = {
    strict: true,
    noEmit: true,
    target: ts.ScriptTarget.ES2022,
    module: ts.ModuleKind.NodeNext,
    moduleResolution: ts.ModuleResolutionKind.NodeNext,
    // A file without import or export is a script, where top-level await is an error.
    moduleDetection: ts.ModuleDetectionKind.Legacy,
    allowJs: true,
    checkJs: true,
    types: ['node'],
    skipLibCheck: true,
  };
  const host = ts.createCompilerHost(options);
  const getSourceFile = host.getSourceFile.bind(host);
  host.getSourceFile = (name, version) => (files.has(name) ? ts.createSourceFile(name, files.get(name).code, version) : getSourceFile(name, version));
  const fileExists = host.fileExists.bind(host);
  host.fileExists = (name) => files.has(name) || fileExists(name);
  const readFile = host.readFile.bind(host);
  host.readFile = (name) => (files.has(name) ? files.get(name).code : readFile(name));
  const program = ts.createProgram([...files.keys()], options, host);
  // The package resolves to its built declarations, not to src/ (as an ES module's import: the
  // blocks are ES modules).
  for (const file of files.keys()) {
    const resolved = ts.resolveModuleName('service-probe', file, options, host, undefined, undefined, ts.ModuleKind.ESNext).resolvedModule;
    assert.equal(resolved?.resolvedFileName, join(rootDir, 'dist', 'index.d.ts'));
    break;
  }
  const messages = ts.getPreEmitDiagnostics(program).map((d) => {
    const block = d.file && files.get(d.file.fileName);
    const where = block && d.start !== undefined ? `README.md:${block.line + 1 + d.file.getLineAndCharacterOfPosition(d.start).line}` : d.file?.fileName ?? '';
    return `${where}: TS${d.code} ${ts.flattenDiagnosticMessageText(d.messageText, ' ')}`;
  });
  assert.deepEqual(messages, []);
});

/** GET http://127.0.0.1:port/path, retried while the block's server is not listening yet. */
async function get(port, path) {
  const deadline = Date.now() + 5000;
  for (;;) {
    try {
      return await new Promise((resolve, reject) => {
        const req = request({ host: '127.0.0.1', port, path, headers: { connection: 'close' } }, (res) => {
          let body = '';
          res.setEncoding('utf8');
          res.on('data', (chunk) => (body += chunk));
          res.on('end', () => resolve({ status: res.statusCode, body }));
          res.on('error', reject);
        });
        req.on('error', reject);
        req.setTimeout(5000, () => req.destroy(new Error('no answer in 5 s')));
        req.end();
      });
    } catch (error) {
      if (error.code !== 'ECONNREFUSED' || Date.now() > deadline) throw error;
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
  }
}

const EVALUATED = '[docs-test: block evaluated]';

for (const block of codeBlocks) {
  const directive = block.directive ?? 'compile only: (no directive: see the test above)';
  const p = plan(directive);
  if (!p.run) continue;
  test(`README.md:${block.line} runs: ${directive}`, async (t) => {
    const ports = { 11333: await freePort(), 8080: await freePort() };
    const used = ['11333', '8080'].filter((port) => new RegExp(`\\b${port}\\b`).test(block.code));
    assert.ok(p.gets.length === 0 || used.length > 0, 'a block asked over HTTP must listen on 11333 or 8080');
    const code = block.code.replace(/\b(11333|8080)\b/g, (port) => String(ports[port]));
    const js = ts.transpileModule(code, { compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022 } }).outputText;

    // Inside the package, so that 'service-probe' resolves to itself and the dev dependencies resolve.
    const dir = mkdtempSync(join(rootDir, 'test', '.readme-run-'));
    t.after(() => rmSync(dir, { recursive: true, force: true }));
    writeFileSync(join(dir, 'block.mjs'), js);
    writeFileSync(join(dir, 'run.mjs'), `await import('./block.mjs');\nprocess.stdout.write(${JSON.stringify(`\n${EVALUATED}\n`)});\n`);

    const env = { ...process.env };
    delete env.KUBERNETES_SERVICE_HOST; // the local shutdown defaults: no drain delay
    delete env.NODE_DEBUG;
    const child = spawn(process.execPath, [join(dir, 'run.mjs')], { cwd: rootDir, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk) => (stdout += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk) => (stderr += chunk));
    const exited = new Promise((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
    t.after(() => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    });

    // Until the block has been evaluated (its top-level awaits done), or the process ended.
    const evaluated = await Promise.race([
      exited.then((result) => ({ exited: result })),
      new Promise((resolve) => {
        const poll = setInterval(() => {
          if (stdout.includes(EVALUATED)) {
            clearInterval(poll);
            resolve({ exited: undefined });
          }
        }, 10);
        exited.then(() => clearInterval(poll));
      }),
    ]);
    const context = () => `\n--- block (ports ${JSON.stringify(ports)})\n${code}\n--- stdout\n${stdout}\n--- stderr\n${stderr}`;
    if (evaluated.exited) assert.ok(stdout.includes(EVALUATED), `the block failed: exit ${JSON.stringify(evaluated.exited)}${context()}`);

    for (const expected of p.gets) {
      const answer = await get(ports[used[0]], expected.path);
      assert.equal(answer.status, expected.status, `GET ${expected.path}${context()}`);
      if (expected.body !== undefined) {
        assert.ok(answer.body === expected.body || answer.body.split('\n').includes(expected.body), `GET ${expected.path} body ${JSON.stringify(answer.body)} ≠ ${expected.body}${context()}`);
      }
    }
    if (p.sigterm !== undefined) {
      child.kill('SIGTERM');
      const { code, signal } = await exited;
      assert.deepEqual({ code, signal }, { code: p.sigterm, signal: null }, `SIGTERM${context()}`);
    }
    if (p.exit !== undefined) {
      const { code, signal } = await exited;
      assert.deepEqual({ code, signal }, { code: p.exit, signal: null }, `exit${context()}`);
    }
    for (const text of p.stdout) assert.ok(stdout.includes(text), `stdout has ${JSON.stringify(text)}${context()}`);
    assert.doesNotMatch(stderr, /Error|Warning/, `stderr${context()}`);
  });
}
