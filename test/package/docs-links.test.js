// No link inside the package points at a file it does not contain. The package ships README.md,
// LICENSE, package.json and what package.json `files` lists (dist/), so a relative link from the
// README to docs/ or examples/ would be dead on the registry page and in node_modules: the README
// names those files as plain paths in code spans instead. The docs/ pages, which stay in the
// repository, may link relatively, but only to files that exist.

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

/** Whether a path (relative to the package root) is in the tarball: npm's fixed files and `files`. */
function shipped(path) {
  const clean = normalize(path).replace(/\/$/, '');
  if (['README.md', 'LICENSE', 'package.json'].includes(clean)) return true;
  return pkg.files.some((entry) => clean === entry || clean.startsWith(`${entry.replace(/\/$/, '')}/`));
}

test('the README links only to what the package ships, and its anchors exist', () => {
  const readme = read('README.md');
  const own = anchors(readme);
  const targets = linkTargets(readme);
  const problems = [];
  for (const target of targets) {
    if (isExternal(target)) continue;
    const [path, anchor] = target.split('#');
    if (path === '') {
      if (!own.has(anchor)) problems.push(`${target}: no such heading in README.md`);
    } else if (!shipped(path) || !existsSync(join(rootDir, path))) {
      problems.push(`${target}: not in the package (files: README.md, LICENSE, package.json, ${pkg.files.join(', ')})`);
    }
  }
  assert.deepEqual(problems, []);
});

test('the rule catches a relative link to an unshipped file, as a link, an image or an HTML attribute', () => {
  const bad = 'See [the API](docs/api.md), ![chart](bench/results.svg), <a href="examples/demo.mjs">demo</a>\n[x]: SECURITY.md\n\n[ok](https://example.com/) [ok](#top) [ok](LICENSE) [ok](dist/index.js)\n';
  const flagged = linkTargets(bad).filter((t) => !isExternal(t) && !t.startsWith('#') && !shipped(t.split('#')[0]));
  assert.deepEqual(flagged.sort(), ['SECURITY.md', 'bench/results.svg', 'docs/api.md', 'examples/demo.mjs']);
  // Paths in code spans and code blocks are names, not links.
  assert.deepEqual(linkTargets('`[api](docs/api.md)`\n```md\n[api](docs/api.md)\n```\n'), []);
});

test("every docs/ page the README names exists, and every docs/ page is named in the README", () => {
  const readme = read('README.md');
  const named = new Set([...readme.matchAll(/`(docs\/[\w.-]+\.md)`/g)].map((m) => m[1]));
  const pages = readdirSync(join(rootDir, 'docs')).filter((f) => f.endsWith('.md')).map((f) => `docs/${f}`);
  assert.deepEqual([...named].filter((p) => !pages.includes(p)), [], 'named but missing');
  assert.deepEqual(pages.filter((p) => !named.has(p)), [], 'pages the README never names');
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
