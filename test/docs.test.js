// The README against the package: every exported name, every CLI command and flag and every
// createProbe option is documented, and the README's code examples import names that exist and
// (for the Usage section) type-check against the built declarations.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const require = createRequire(import.meta.url);
const root = new URL('..', import.meta.url);
const read = (path) => readFileSync(new URL(path, root), 'utf8');
const readme = read('README.md');

/** The text of a `## ` section, up to the next `## ` heading (outside code blocks). */
function section(title) {
  const start = readme.indexOf(`\n## ${title}\n`);
  assert.notEqual(start, -1, `README has no '## ${title}' section`);
  const rest = readme.slice(start + 1);
  let inFence = false;
  let offset = 0;
  for (const line of rest.split('\n')) {
    if (line.startsWith('```')) inFence = !inFence;
    else if (!inFence && offset > 0 && line.startsWith('## ')) return rest.slice(0, offset);
    offset += line.length + 1;
  }
  return rest;
}

/** Every inline code span (`…`) of a text. */
function codeSpans(text) {
  return [...text.matchAll(/`([^`\n]+)`/g)].map((m) => m[1]);
}

/** Whether `name` appears as a whole word inside some code span. */
function inCode(spans, name) {
  const word = new RegExp(`(?<![\\w$-])${name.replace(/[$]/g, '\\$')}(?![\\w$])`);
  return spans.some((span) => word.test(span));
}

/**
 * Names a .d.ts exports that may be types: `export type { A, B }`, `export interface A`,
 * `export type A =`, and the re-exports of the bundled declarations (`export { A, B } from './types-….js'`),
 * which mix types and values.
 */
function typeExports(dts) {
  const names = [];
  for (const [, list] of dts.matchAll(/^export (?:type )?\{([^}]*)\}/gm)) names.push(...list.split(',').map((n) => n.trim().replace(/^type\s+/, '').split(/\s+as\s+/).pop()));
  for (const [, name] of dts.matchAll(/^export (?:declare )?(?:interface|type) (\w+)/gm)) names.push(name);
  return names.filter(Boolean);
}

test("every name the package exports (values and types, main entry, client and checks) is in backticks in the README's API section", async () => {
  const spans = codeSpans(section('API'));
  const missing = [];
  for (const [entry, dts] of [
    ['../dist/index.js', 'dist/index.d.ts'],
    ['../dist/client.js', 'dist/client.d.ts'],
    ['../dist/checks-entry.js', 'dist/checks-entry.d.ts'],
  ]) {
    const names = [...Object.keys(await import(entry)), ...typeExports(read(dts))];
    assert.ok(names.length > 5, `found too few exports in ${entry}`);
    for (const name of names) if (!inCode(spans, name)) missing.push(`${name} (${entry.slice(3)})`);
  }
  assert.deepEqual(missing, [], `missing from the README's API section: ${missing.join(', ')}`);
});

test('require() of each entry gives the same names as import', async () => {
  for (const entry of ['service-probe', 'service-probe/client', 'service-probe/checks']) {
    assert.deepEqual(Object.keys(require(entry)).sort(), Object.keys(await import(entry)).sort(), entry);
  }
});

const run = promisify(execFile);
const cli = fileURLToPath(new URL('dist/cli.js', root));

test("every command and flag the CLI's help prints is in the README's CLI section", async () => {
  const main = (await run(process.execPath, [cli, '--help'])).stdout;
  const commandBlock = main.slice(main.indexOf('Commands:'), main.indexOf('\nOptions:'));
  const commands = [...commandBlock.matchAll(/^ {2}(\w+)/gm)].map((m) => m[1]);
  assert.deepEqual(commands, ['check', 'wait', 'serve']);
  const helps = [main, ...(await Promise.all(commands.map((c) => run(process.execPath, [cli, c, '--help'])))).map((r) => r.stdout)];

  const cliSection = section('CLI');
  const spans = codeSpans(cliSection);
  const missing = [];
  for (const command of commands) {
    if (!cliSection.includes(`### \`service-probe ${command}`)) missing.push(`### service-probe ${command}`);
  }
  for (const help of helps) {
    // Option lines start with a flag: `  -t, --timeout <dur>   …`, `  --host <ip>   …`.
    for (const line of help.split('\n').filter((l) => /^ {2}-/.test(l))) {
      for (const [flag] of line.split(/ {2,}/)[1].matchAll(/--?[a-z][\w-]*/g)) {
        if (!inCode(spans, flag)) missing.push(flag);
      }
    }
  }
  assert.ok(helps.every((h) => h.includes('--help')), 'every help names --help');
  assert.deepEqual([...new Set(missing)], [], `missing from the README's CLI section: ${missing.join(', ')}`);
});

test("the README's createProbe options table lists exactly the options src/probe.ts accepts", async () => {
  const source = read('src/probe.ts');
  const list = /const OPTION_NAMES = \[([^\]]*)\]/.exec(source);
  assert.ok(list, 'OPTION_NAMES not found in src/probe.ts');
  const accepted = [...list[1].matchAll(/'(\w+)'/g)].map((m) => m[1]);
  assert.ok(accepted.length >= 10);

  // The list is what the built probe accepts: each key alone passes validation, others do not.
  const { createProbe, ProbeArgumentError } = await import('../dist/index.js');
  for (const key of accepted) createProbe({ [key]: undefined });
  assert.throws(() => createProbe({ notAnOption: undefined }), ProbeArgumentError);

  const api = section('API');
  const heading = api.indexOf('### `createProbe(');
  assert.notEqual(heading, -1, "API has no '### `createProbe(…)`' subsection");
  const table = api.slice(heading, api.indexOf('\n### ', heading + 1));
  const documented = [...table.matchAll(/^\| `(\w+)` \|/gm)].map((m) => m[1]);
  assert.deepEqual(
    { missing: accepted.filter((k) => !documented.includes(k)), unknown: documented.filter((k) => !accepted.includes(k)) },
    { missing: [], unknown: [] },
  );
});

/** The ```ts / ```js blocks of a text. */
function snippets(text) {
  return [...text.matchAll(/^```(ts|js)\n([\s\S]*?)^```$/gm)].map((m) => m[2]);
}

test("every name the README's code examples import from the package or node core exists", async () => {
  const blocks = snippets(readme);
  assert.ok(blocks.length > 10);
  const ts = require('typescript');
  const types = {
    'service-probe': typeExports(read('dist/index.d.ts')),
    'service-probe/client': typeExports(read('dist/client.d.ts')),
    'service-probe/checks': typeExports(read('dist/checks-entry.d.ts')),
  };
  const modules = { 'service-probe': '../dist/index.js', 'service-probe/client': '../dist/client.js', 'service-probe/checks': '../dist/checks-entry.js' };
  const problems = [];
  for (const block of blocks) {
    const { diagnostics } = ts.transpileModule(block, { reportDiagnostics: true, compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022 } });
    for (const d of diagnostics) problems.push(`syntax: ${ts.flattenDiagnosticMessageText(d.messageText, ' ')} in\n${block}`);
    for (const [, list, from] of block.matchAll(/^import\s*\{([^}]*)\}\s*from\s*'([^']+)'/gm)) {
      const exported = Object.keys(await import(modules[from] ?? from));
      for (const name of list.split(',').map((n) => n.trim().replace(/^type\s+/, '')).filter(Boolean)) {
        if (!exported.includes(name) && !(types[from] ?? []).includes(name)) problems.push(`'${name}' is not exported by '${from}'`);
      }
    }
  }
  assert.deepEqual(problems, []);
});

test("the Usage section's examples type-check against the built declarations", () => {
  const ts = require('typescript');
  const blocks = snippets(section('Usage'));
  assert.ok(blocks.length >= 3);
  // The examples read as one program; `app` stands for the user's own request handler.
  const prelude = "import type { IncomingMessage, ServerResponse } from 'node:http';\ndeclare const app: (req: IncomingMessage, res: ServerResponse) => void;\n";
  const file = fileURLToPath(new URL('test/readme-usage.ts', root));
  const text = `${prelude}${blocks.join('\n')}\nexport {};\n`;
  const options = {
    strict: true,
    noEmit: true,
    target: ts.ScriptTarget.ES2022,
    module: ts.ModuleKind.ES2022,
    moduleResolution: ts.ModuleResolutionKind.Bundler,
    types: ['node'],
    skipLibCheck: true,
    baseUrl: fileURLToPath(root),
    paths: { 'service-probe': ['dist/index.d.ts'], 'service-probe/client': ['dist/client.d.ts'], 'service-probe/checks': ['dist/checks-entry.d.ts'] },
  };
  const host = ts.createCompilerHost(options);
  const getSourceFile = host.getSourceFile.bind(host);
  host.getSourceFile = (name, version) => (name === file ? ts.createSourceFile(name, text, version) : getSourceFile(name, version));
  const fileExists = host.fileExists.bind(host);
  host.fileExists = (name) => name === file || fileExists(name);
  const program = ts.createProgram([file], options, host);
  const messages = ts.getPreEmitDiagnostics(program).map((d) => {
    const line = d.file && d.start !== undefined ? d.file.getLineAndCharacterOfPosition(d.start).line + 1 : 0;
    return `${line}: ${ts.flattenDiagnosticMessageText(d.messageText, ' ')}`;
  });
  assert.deepEqual(messages, [], `\n${text}`);
});
