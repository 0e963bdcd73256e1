// Reading the shipped files as a module graph: what a file imports statically (loaded with it) and
// dynamically (loaded on first use), parsed with TypeScript rather than matched with patterns.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

const ts = createRequire(import.meta.url)('typescript');

function parse(file) {
  return ts.createSourceFile(file, readFileSync(file, 'utf8'), ts.ScriptTarget.Latest, true, ts.ScriptKind.JS);
}

/** The specifiers one file imports: `static` (import/export ... from) and `dynamic` (import()). */
export function importsOf(file) {
  const found = { static: [], dynamic: [] };
  const visit = (node) => {
    if ((ts.isImportDeclaration(node) || ts.isExportDeclaration(node)) && node.moduleSpecifier !== undefined) {
      found.static.push(node.moduleSpecifier.text);
    } else if (ts.isCallExpression(node) && node.expression.kind === ts.SyntaxKind.ImportKeyword && ts.isStringLiteralLike(node.arguments[0])) {
      found.dynamic.push(node.arguments[0].text);
    }
    ts.forEachChild(node, visit);
  };
  visit(parse(file));
  return found;
}

/**
 * Everything that loads with `file`: the files of its static import closure, the node core
 * modules they import, and the files they import dynamically (not loaded until used).
 */
export function staticGraph(file) {
  const files = new Set();
  const builtins = new Set();
  const dynamic = new Set();
  const visit = (path) => {
    if (files.has(path)) return;
    files.add(path);
    const imports = importsOf(path);
    for (const spec of imports.static) {
      if (spec.startsWith('.')) visit(join(dirname(path), spec));
      else builtins.add(spec);
    }
    for (const spec of imports.dynamic) if (spec.startsWith('.')) dynamic.add(join(dirname(path), spec));
  };
  visit(file);
  return { files, builtins, dynamic };
}
