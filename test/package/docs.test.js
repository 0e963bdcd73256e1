// The README against the package: every exported name is in its API index, every CLI command and
// flag is in its CLI section (and docs/cli.md), every createProbe option in docs/api.md's table and
// the README's index, and the names its code examples import exist. Compiling and running each
// example is test/package/docs-blocks.test.js; links, test/package/docs-links.test.js.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const require = createRequire(import.meta.url);
const root = new URL('../..', import.meta.url);
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
 * `export type A =`, and the re-exports of the bundled declarations (`export { A, B } from './types-….cjs'`),
 * which mix types and values.
 */
function typeExports(dts) {
  const names = [];
  for (const [, list] of dts.matchAll(/^export (?:type )?\{([^}]*)\}/gm)) names.push(...list.split(',').map((n) => n.trim().replace(/^type\s+/, '').split(/\s+as\s+/).pop()));
  for (const [, name] of dts.matchAll(/^export (?:declare )?(?:interface|type) (\w+)/gm)) names.push(name);
  return names.filter(Boolean);
}

test("every name the package exports (values and types, of every entry) is in backticks in the README's API section", async () => {
  const spans = codeSpans(section('API'));
  const missing = [];
  for (const [entry, dts] of [
    // The declarations are bundled once per entry as .d.cts; each .d.ts re-exports its .d.cts.
    ['../../dist/index.js', 'dist/index.d.cts'],
    ['../../dist/client.js', 'dist/client.d.cts'],
    ['../../dist/checks-entry.js', 'dist/checks-entry.d.cts'],
    ['../../dist/nestjs.js', 'dist/nestjs.d.cts'],
  ]) {
    const names = [...Object.keys(await import(entry)), ...typeExports(read(dts))];
    assert.ok(names.length > 5, `found too few exports in ${entry}`);
    for (const name of names) if (!inCode(spans, name)) missing.push(`${name} (${entry.slice(3)})`);
  }
  assert.deepEqual(missing, [], `missing from the README's API section: ${missing.join(', ')}`);
});

test('require() of each entry gives the same names as import', async () => {
  for (const entry of ['service-probe', 'service-probe/client', 'service-probe/checks', 'service-probe/nestjs']) {
    assert.deepEqual(Object.keys(require(entry)).sort(), Object.keys(await import(entry)).sort(), entry);
  }
});

const run = promisify(execFile);
const cli = fileURLToPath(new URL('dist/cli.js', root));

test("every command and flag the CLI's help prints is in the README's CLI section and in docs/cli.md", async () => {
  const main = (await run(process.execPath, [cli, '--help'])).stdout;
  const commandBlock = main.slice(main.indexOf('Commands:'), main.indexOf('\nOptions:'));
  const commands = [...commandBlock.matchAll(/^ {2}(\w+)/gm)].map((m) => m[1]);
  assert.deepEqual(commands, ['check', 'wait', 'serve']);
  const helps = [main, ...(await Promise.all(commands.map((c) => run(process.execPath, [cli, c, '--help'])))).map((r) => r.stdout)];
  assert.ok(helps.every((h) => h.includes('--help')), 'every help names --help');

  for (const [name, text] of [['README.md', section('CLI')], ['docs/cli.md', read('docs/cli.md')]]) {
    const spans = codeSpans(text);
    const missing = [];
    for (const command of commands) {
      if (!text.includes(`### \`service-probe ${command}`)) missing.push(`### service-probe ${command}`);
    }
    for (const help of helps) {
      // Option lines start with a flag: `  -t, --timeout <dur>   …`, `  --host <ip>   …`.
      for (const line of help.split('\n').filter((l) => /^ {2}-/.test(l))) {
        for (const [flag] of line.split(/ {2,}/)[1].matchAll(/--?[a-z][\w-]*/g)) {
          if (!inCode(spans, flag)) missing.push(flag);
        }
      }
    }
    assert.deepEqual([...new Set(missing)], [], `missing from ${name}: ${missing.join(', ')}`);
  }
});

test("docs/api.md's createProbe options table, and the README's API index, list exactly the options src/probe.ts accepts", async () => {
  const source = read('src/probe.ts');
  const list = /const OPTION_NAMES = \[([^\]]*)\]/.exec(source);
  assert.ok(list, 'OPTION_NAMES not found in src/probe.ts');
  const accepted = [...list[1].matchAll(/'(\w+)'/g)].map((m) => m[1]);
  assert.ok(accepted.length >= 10);

  // The list is what the built probe accepts: each key alone passes validation, others do not.
  const { createProbe, ProbeArgumentError } = await import('../../dist/index.js');
  for (const key of accepted) createProbe({ [key]: undefined });
  assert.throws(() => createProbe({ notAnOption: undefined }), ProbeArgumentError);

  const reference = read('docs/api.md');
  const heading = reference.indexOf('### `createProbe(');
  assert.notEqual(heading, -1, "docs/api.md has no '### `createProbe(…)`' subsection");
  const table = reference.slice(heading, reference.indexOf('\n### ', heading + 1));
  const documented = [...table.matchAll(/^\| `(\w+)` \|/gm)].map((m) => m[1]);
  assert.deepEqual(
    { missing: accepted.filter((k) => !documented.includes(k)), unknown: documented.filter((k) => !accepted.includes(k)) },
    { missing: [], unknown: [] },
    'docs/api.md',
  );

  // The README names each option in its API section's createProbe paragraph, and no other word
  // there passes for one.
  const api = section('API');
  const start = api.indexOf('### `createProbe(');
  assert.notEqual(start, -1, "README's API has no '### `createProbe(…)`' subsection");
  const paragraph = api.slice(start, api.indexOf('\n### ', start + 1) === -1 ? undefined : api.indexOf('\n### ', start + 1));
  const named = codeSpans(paragraph).filter((span) => /^[a-z]\w*$/.test(span) && span !== 'http' && span !== 'net');
  assert.deepEqual(
    { missing: accepted.filter((k) => !named.includes(k)), unknown: named.filter((k) => !accepted.includes(k)) },
    { missing: [], unknown: [] },
    'README API index',
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
    'service-probe/nestjs': typeExports(read('dist/nestjs.d.ts')),
  };
  const modules = {
    'service-probe': '../../dist/index.js',
    'service-probe/client': '../../dist/client.js',
    'service-probe/checks': '../../dist/checks-entry.js',
    'service-probe/nestjs': '../../dist/nestjs.js',
  };
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
