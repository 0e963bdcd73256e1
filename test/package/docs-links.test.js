// Every link of the README works where the README is read: on the npm registry's page, in
// node_modules and on the repository. The package ships README.md, LICENSE, package.json and dist/
// only, so a relative link to docs/ or examples/ would be dead in two of the three: the README links
// to its own headings, or by absolute https URL, and into the repository by URL into its main
// branch (`https://github.com/service-probe/service-probe/blob/main/docs/api.md`), which must name a
// file (and heading) of this checkout. The docs/ pages, read on the repository, link relatively, to
// files and headings that exist.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, normalize, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const rootDir = fileURLToPath(new URL('../..', import.meta.url));
const read = (path) => readFileSync(join(rootDir, path), 'utf8');
const pkg = JSON.parse(read('package.json'));

/** The text outside fenced code blocks (links inside code are not links). */
function prose(text) {
  return text.replace(/^```[\s\S]*?^```$/gm, '');
}

/** Every link target of a markdown text: inline links and images, reference definitions, HTML src/href. */
function linkTargets(text) {
  const body = prose(text).replace(/`[^`\n]*`/g, '');
  return [
    ...[...body.matchAll(/!?\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)/g)].map((m) => m[1]),
    ...[...body.matchAll(/^\s{0,3}\[[^\]]+\]:\s*<?(\S+?)>?(?:\s|$)/gm)].map((m) => m[1]),
    ...[...body.matchAll(/\b(?:src|href)\s*=\s*["']([^"']+)["']/g)].map((m) => m[1]),
  ];
}

/** GitHub's anchor for a heading. */
function slug(heading) {
  return heading.trim().toLowerCase().replace(/[^\w\- ]/g, '').replace(/ /g, '-');
}

function anchors(text) {
  return new Set([...prose(text).matchAll(/^#{1,6} (.+)$/gm)].map((m) => slug(m[1])));
}

const isExternal = (target) => /^[a-z][a-z\d+.-]*:/i.test(target);

// The repository, as package.json names it; every link into it points at its main branch.
const REPOSITORY = 'https://github.com/service-probe/service-probe';
const IN_REPOSITORY = /^https:\/\/github\.com\/service-probe\/service-probe\/(?:blob|tree)\/([^/#]+)\/([^#]*)(?:#(.*))?$/;

/** What is wrong with one README link target (`undefined` when nothing), given the README's own headings. */
function readmeLinkProblem(target, own) {
  if (target.startsWith('#')) return own.has(target.slice(1)) ? undefined : 'no such heading in README.md';
  if (!target.startsWith('https://')) return 'neither an anchor nor an absolute https URL: dead on the npm page or in node_modules';
  if (!target.startsWith(`${REPOSITORY}/blob/`) && !target.startsWith(`${REPOSITORY}/tree/`)) return undefined;
  const [, branch, path, anchor] = IN_REPOSITORY.exec(target) ?? [];
  if (branch !== 'main') return `not a link into the main branch (${REPOSITORY}/blob/main/<path>)`;
  const file = decodeURIComponent(path).replace(/\/$/, '');
  if (file === '' || !existsSync(join(rootDir, file))) return `${file}: no such file in the repository`;
  if (anchor !== undefined && !(file.endsWith('.md') && anchors(read(file)).has(anchor))) return `${file}: no heading '${anchor}'`;
  return undefined;
}

test('package.json names the repository, its home page and where to report bugs', () => {
  assert.deepEqual(pkg.repository, { type: 'git', url: `git+${REPOSITORY}.git` });
  assert.equal(pkg.homepage, `${REPOSITORY}#readme`);
  assert.deepEqual(pkg.bugs, { url: `${REPOSITORY}/issues` });
});

test('every README link is an anchor of its own or an absolute https URL, and a link into the repository names a file and heading that exist', () => {
  const readme = read('README.md');
  const own = anchors(readme);
  const problems = [];
  for (const target of linkTargets(readme)) {
    const problem = readmeLinkProblem(target, own);
    if (problem !== undefined) problems.push(`${target}: ${problem}`);
  }
  assert.deepEqual(problems, []);
});

test('the rule catches relative links, plain http, and repository links to a missing file, heading or branch, in every form of link', () => {
  const own = new Set(['usage']);
  const links = [
    '[the API](docs/api.md)',
    '![chart](bench/results.svg)',
    '<a href="examples/demo.mjs">demo</a>',
    '[license](LICENSE)',
    '[plain](http://example.com/)',
    `[gone](${REPOSITORY}/blob/main/docs/no-such-page.md)`,
    `[no heading](${REPOSITORY}/blob/main/docs/api.md#no-such-heading)`,
    `[old branch](${REPOSITORY}/blob/master/docs/api.md)`,
    '[nowhere](#no-such-heading)',
  ];
  const fine = ['[ok](https://example.com/)', '[ok](#usage)', `[ok](${REPOSITORY}/blob/main/docs/api.md)`, `[ok](${REPOSITORY}/blob/main/docs/api.md#errors)`, `[ok](${REPOSITORY}/tree/main/examples/kubernetes)`, `[ok](${REPOSITORY}/issues)`];
  const text = `${links.join(' ')}\n[x]: SECURITY.md\n\n${fine.join(' ')}\n`;
  const flagged = linkTargets(text).filter((target) => readmeLinkProblem(target, own) !== undefined);
  assert.equal(flagged.length, links.length + 1, flagged.join('\n'));
  assert.ok(flagged.includes('SECURITY.md'));
  // Paths in code spans and code blocks are names, not links.
  assert.deepEqual(linkTargets('`[api](docs/api.md)`\n```md\n[api](docs/api.md)\n```\n'), []);
});

test('every docs/ page is linked from the README', () => {
  const linked = new Set(linkTargets(read('README.md')).map((target) => IN_REPOSITORY.exec(target)?.[2]).filter((path) => path?.startsWith('docs/')));
  const pages = readdirSync(join(rootDir, 'docs')).filter((f) => f.endsWith('.md')).map((f) => `docs/${f}`);
  assert.deepEqual(pages.filter((p) => !linked.has(p)), [], 'pages the README never links to');
});

test('the relative links of the docs/ pages and SECURITY.md point at files (and headings) that exist', () => {
  const problems = [];
  const files = [...readdirSync(join(rootDir, 'docs')).filter((f) => f.endsWith('.md')).map((f) => `docs/${f}`), 'SECURITY.md', 'CHANGELOG.md'];
  for (const file of files) {
    const text = read(file);
    for (const target of linkTargets(text)) {
      if (isExternal(target)) continue;
      const [path, anchor] = target.split('#');
      const resolved = path === '' ? file : relative(rootDir, join(rootDir, dirname(file), path));
      if (!existsSync(join(rootDir, resolved))) problems.push(`${file}: ${target}: no such file`);
      else if (anchor && resolved.endsWith('.md') && !anchors(read(resolved)).has(anchor)) problems.push(`${file}: ${target}: no such heading`);
    }
  }
  assert.deepEqual(problems, []);
});
