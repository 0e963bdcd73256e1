// Builds dist/ (ESM, the package's primary format) and dist/cjs/ (CommonJS, so that
// `require('service-probe')` works on every Node version in `engines` without require(esm)).
import { execFileSync } from 'node:child_process';
import { chmodSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const tsc = require.resolve('typescript/bin/tsc');

rmSync('dist', { recursive: true, force: true });
for (const project of ['tsconfig.json', 'tsconfig.cjs.json']) {
  try {
    execFileSync(process.execPath, [tsc, '-p', project], { stdio: 'inherit' });
  } catch {
    console.error(`build: tsc -p ${project} failed (errors above)`);
    process.exit(1);
  }
}
// The package is "type": "module"; this marker makes Node read dist/cjs/*.js as CommonJS.
writeFileSync('dist/cjs/package.json', '{ "type": "commonjs" }\n');
chmodSync('dist/cli.js', 0o755);
