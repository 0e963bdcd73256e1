// Builds dist/: the package's ES modules and their declarations. The package is ESM only: Node
// 20.19+ and 22.12+ load it with require() too, without a flag or a warning.
import { execFileSync } from 'node:child_process';
import { chmodSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const tsc = require.resolve('typescript/bin/tsc');

rmSync('dist', { recursive: true, force: true });
try {
  execFileSync(process.execPath, [tsc, '-p', 'tsconfig.json'], { stdio: 'inherit' });
} catch {
  console.error('build: tsc -p tsconfig.json failed (errors above)');
  process.exit(1);
}
chmodSync('dist/cli.js', 0o755);
