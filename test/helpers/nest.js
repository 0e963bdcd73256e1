// Nest applications for the NestJS tests: the TypeScript of docs/nestjs.md with the files an app of
// the reader's own would add, compiled by the real tsc (the project's typescript) under each
// tsconfig Nest generates, in a temporary project whose node_modules links the Nest in use and this
// package (as a consumer has them: `service-probe` resolves through its package.json).
import { execFile } from 'node:child_process';
import { mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const run = promisify(execFile);
const require = createRequire(import.meta.url);
export const root = fileURLToPath(new URL('../..', import.meta.url));

/**
 * The tsconfig each @nestjs/schematics writes for `nest new --strict` (read from their npm
 * packages' application templates), and the package.json type that goes with it.
 */
export const TSCONFIGS = {
  // @nestjs/schematics 12, the default (an ES module app): files/ts-esm/tsconfig.json.
  'nodenext, ES module (schematics 12)': {
    type: 'module',
    compilerOptions: {
      module: 'nodenext',
      moduleResolution: 'nodenext',
      resolvePackageJsonExports: true,
      esModuleInterop: true,
      isolatedModules: true,
      declaration: true,
      removeComments: true,
      emitDecoratorMetadata: true,
      experimentalDecorators: true,
      allowSyntheticDefaultImports: true,
      target: 'ES2023',
      sourceMap: true,
      outDir: './dist',
      rootDir: '.',
      incremental: true,
      skipLibCheck: true,
      strict: true,
      strictPropertyInitialization: false,
      types: ['node'],
    },
  },
  // @nestjs/schematics 11.1 (and 12 with `--type cjs`): files/ts/tsconfig.json, no "type".
  'nodenext, CommonJS (schematics 11.1)': {
    type: undefined,
    compilerOptions: {
      module: 'nodenext',
      moduleResolution: 'nodenext',
      resolvePackageJsonExports: true,
      esModuleInterop: true,
      isolatedModules: true,
      declaration: true,
      removeComments: true,
      emitDecoratorMetadata: true,
      experimentalDecorators: true,
      allowSyntheticDefaultImports: true,
      target: 'ES2023',
      sourceMap: true,
      outDir: './dist',
      baseUrl: './',
      incremental: true,
      skipLibCheck: true,
      strictNullChecks: true,
      forceConsistentCasingInFileNames: true,
      noImplicitAny: true,
      strictBindCallApply: true,
      noFallthroughCasesInSwitch: true,
    },
  },
  // @nestjs/schematics 10: module commonjs, moduleResolution left to its default (node10).
  'commonjs, node10 (schematics 10)': {
    type: undefined,
    compilerOptions: {
      module: 'commonjs',
      declaration: true,
      removeComments: true,
      emitDecoratorMetadata: true,
      experimentalDecorators: true,
      allowSyntheticDefaultImports: true,
      target: 'ES2021',
      sourceMap: true,
      outDir: './dist',
      baseUrl: './',
      incremental: true,
      skipLibCheck: true,
      strictNullChecks: true,
      noImplicitAny: true,
      strictBindCallApply: true,
      forceConsistentCasingInFileNames: true,
      noFallthroughCasesInSwitch: true,
    },
  },
};

/**
 * The apps of docs/nestjs.md: for each `## ` section, its ```ts blocks that open with a
 * `// src/<file>.ts` line, as { 'src/main.ts': code }. Also every ```ts block that is not such a
 * file, so that a test can insist there is none (nothing in the page escapes compilation).
 */
export function docApps(text) {
  const apps = new Map();
  const loose = [];
  for (const section of text.split(/^(?=## )/m)) {
    const title = /^## (.*)$/m.exec(section)?.[1];
    for (const [, code] of section.matchAll(/^```ts\n([\s\S]*?)^```$/gm)) {
      const file = /^\/\/ (src\/[\w./-]+\.ts)\n/.exec(code)?.[1];
      if (title === undefined || file === undefined) {
        loose.push(code);
        continue;
      }
      if (!apps.has(title)) apps.set(title, {});
      apps.get(title)[file] = code;
    }
  }
  return { apps, loose };
}

/**
 * The files an app of the reader's own has beside the page's: the database that the checks ping
 * (down on request), and a controller with a slow route, which reports what it does on stderr.
 * With `injectsProbe`, the controller also gets the module's probe by its type.
 */
export function ownFiles({ injectsProbe }) {
  return {
    'src/database.ts': `import { Injectable, Module, type OnApplicationShutdown } from '@nestjs/common';

@Injectable()
export class Database implements OnApplicationShutdown {
  down = false;

  ping(): void {
    if (this.down) throw new Error('database down');
  }

  onApplicationShutdown(): void {
    console.error('database closed');
  }
}

@Module({ providers: [Database], exports: [Database] })
export class DatabaseModule {}
`,
    'src/app.controller.ts': `import { Controller, Get, Post } from '@nestjs/common';
${injectsProbe ? "import { Probe } from 'service-probe';\n" : ''}import { Database } from './database.js';

@Controller()
export class AppController {
  constructor(private readonly database: Database${injectsProbe ? ', private readonly probe: Probe' : ''}) {}

  @Get('slow')
  async slow(): Promise<string> {
    console.error('slow request begun');
    await new Promise((resolve) => setTimeout(resolve, 800));
    console.error('slow request done');
    return 'slow done';
  }
${
  injectsProbe
    ? `
  @Get('state')
  state(): string {
    return this.probe.state;
  }
`
    : ''
}
  @Post('database/down')
  databaseDown(): string {
    this.database.down = true;
    return 'down';
  }

  @Post('database/up')
  databaseUp(): string {
    this.database.down = false;
    return 'up';
  }
}
`,
  };
}

/**
 * Writes a Nest project into `dir`: package.json and tsconfig.json for `tsconfig` (a TSCONFIGS
 * entry), node_modules linking `nestModules` (a node_modules that holds @nestjs/*), this package and
 * @types, and each app's files under `<app>/`. `apps` maps an app's folder name to its files.
 */
export function writeProject(dir, tsconfig, nestModules, apps) {
  mkdirSync(join(dir, 'node_modules'), { recursive: true });
  writeFileSync(join(dir, 'package.json'), `${JSON.stringify({ private: true, ...(tsconfig.type && { type: tsconfig.type }) }, null, 2)}\n`);
  writeFileSync(join(dir, 'tsconfig.json'), `${JSON.stringify({ compilerOptions: tsconfig.compilerOptions }, null, 2)}\n`);
  symlinkSync(join(nestModules, '@nestjs'), join(dir, 'node_modules', '@nestjs'));
  symlinkSync(root, join(dir, 'node_modules', 'service-probe'));
  symlinkSync(join(root, 'node_modules', '@types'), join(dir, 'node_modules', '@types'));
  for (const [app, files] of Object.entries(apps)) {
    for (const [path, code] of Object.entries(files)) {
      mkdirSync(dirname(join(dir, app, path)), { recursive: true });
      writeFileSync(join(dir, app, path), code);
    }
  }
}

/** Runs the project's tsc on `dir`; rejects with tsc's report when it finds an error. */
export async function compile(dir) {
  try {
    await run(process.execPath, [require.resolve('typescript/bin/tsc'), '-p', join(dir, 'tsconfig.json')], { cwd: dir });
  } catch (error) {
    throw new Error(`tsc failed in ${dir}:\n${error.stdout}${error.stderr}`);
  }
}

/** The Nest versions tested: 11 from the dev dependencies; 12 (which needs Node 22) installed on demand. */
export const NEST_12 = ['@nestjs/common@12.6.3', '@nestjs/core@12.6.3', '@nestjs/platform-express@12.6.3', 'reflect-metadata@0.2.2', 'rxjs@7.8.2'];

/**
 * Installs Nest 12 from the npm registry into `dir` (outside the committed lock file, which stays
 * installable on Node 20) and returns its node_modules.
 */
export async function installNest12(dir) {
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'package.json'), '{ "private": true }\n');
  const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
  await run(npm, ['install', '--no-audit', '--no-fund', '--ignore-scripts', '--no-package-lock', '--loglevel=error', ...NEST_12], { cwd: dir, timeout: 240_000 });
  return join(dir, 'node_modules');
}

/** The version of @nestjs/core in a node_modules. */
export function nestVersion(nestModules) {
  return JSON.parse(readFileSync(join(nestModules, '@nestjs', 'core', 'package.json'), 'utf8')).version;
}
