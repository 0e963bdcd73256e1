import { build } from 'esbuild';
import { bundleOptions } from '/work/wt/build/scripts/build.mjs';
import { readdirSync, statSync, rmSync } from 'node:fs';
import { join } from 'node:path';
const size = (dir) => readdirSync(dir, { recursive: true }).reduce((s, f) => s + (statSync(join(dir, f)).isFile() ? statSync(join(dir, f)).size : 0), 0);
for (const [name, extra] of Object.entries({ plain: {}, ws: { minifyWhitespace: true }, wsSyntax: { minifyWhitespace: true, minifySyntax: true }, full: { minify: true }, fullKeepNames: { minify: true, keepNames: true } })) {
  const out = `/tmp/variant-${name}`; rmSync(out, { recursive: true, force: true });
  await build({ ...bundleOptions(undefined, out), ...extra });
  console.log(name, size(out));
}
