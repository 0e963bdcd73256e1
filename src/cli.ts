#!/usr/bin/env node
// The `service-probe` command: check, wait, serve.
//
// `check` is a Docker HEALTHCHECK for images without curl: it starts every few seconds in every
// container. So this file imports only the client at the top; `serve` loads the
// probe when asked for, and --version reads package.json only then. Every command ends with
// process.exit() once its answer is written, so that nothing still pending (a slow DNS lookup
// behind a timed-out request, say) delays the exit. stdout and stderr writes to pipes, files and
// terminals are synchronous on Linux, so nothing written is lost.

import { CLIENT_DEFAULTS, probeOnce, waitUntilReady, whyNotReady, type WaitProgress } from './client.js';
import { ProbeArgumentError, ProbeClientError } from './errors.js';
import { TIMER_MAX_MS, toHost, toPort } from './options.js';
import { parseServiceState } from './state.js';

const DEFAULT_URL = 'http://127.0.0.1:11333/ready';
const DEFAULT_CHECK_TIMEOUT = '2s';
const DEFAULT_WAIT_TIMEOUT = '60s';
const DEFAULT_INTERVAL = '1s';

const HELP = {
  main: `Usage: service-probe <command> [options]

Commands:
  check [URL]     Ask a probe once: exit 0 if it answers HTTP 200-399, else 1.
                  URL defaults to ${DEFAULT_URL}
  wait URL...     Wait until every URL answers READY: exit 0, or 1 on timeout.
  serve           Run a standalone probe until SIGTERM or SIGINT.

Options:
  -h, --help      Show help; 'service-probe <command> --help' for a command.
  -v, --version   Show the version.

Durations: 500ms, 2s, 1m, or a bare number of seconds (1.5).
Exit codes: 0 healthy/ready/stopped cleanly, 1 not (or failed), 2 usage error.
`,
  check: `Usage: service-probe check [URL] [--timeout 2s]

Asks the probe at URL once (GET) and exits 0 when it answers HTTP 200-399 (the kubelet rule),
1 otherwise: another status, unreachable, or no answer in time.
Prints the state word from the body (READY, UP, DRAINING, DOWN) on stdout, and on failure the
reason on stderr.

Arguments:
  URL                   http or https URL. Default: ${DEFAULT_URL}
Options:
  -t, --timeout <dur>   Time the whole request may take. Default: ${DEFAULT_CHECK_TIMEOUT}
  -h, --help            Show this help.

Docker: HEALTHCHECK CMD ["node", "node_modules/service-probe/dist/cli.js", "check"]
`,
  wait: `Usage: service-probe wait URL... [--timeout 60s] [--interval 1s]

Asks every URL, round after round, until each has answered READY, then exits 0.
Exits 1 when the timeout passes first, naming the URLs that were not ready.
Shows progress on stderr when stderr is a terminal.

Options:
  -t, --timeout <dur>    Total time to wait. Default: ${DEFAULT_WAIT_TIMEOUT}
  -i, --interval <dur>   Time between the starts of two rounds. Default: ${DEFAULT_INTERVAL}
  -h, --help             Show this help.
`,
  serve: `Usage: service-probe serve [--host H] [--port P] [--state up|ready]

Runs a standalone probe and prints its URL. SIGTERM or SIGINT stops it (exit 0).

Options:
  --host <host>     IP address or host name to listen on. Default: every interface (:: or 0.0.0.0)
  -p, --port <n>    TCP port, 0 for any free port. Default: 11333
  -s, --state <s>   Initial state: up, ready, draining or down. Default: up
  -h, --help        Show this help.
`,
} as const;

type Command = keyof typeof HELP;

/** A mistake in the command line: exit 2 with a one-line reason. */
class UsageError extends Error {
  constructor(
    message: string,
    readonly command: Command = 'main',
  ) {
    super(message);
  }
}

async function main(argv: readonly string[]): Promise<number> {
  const [command, ...rest] = argv;
  switch (command) {
    case 'check':
      return check(rest);
    case 'wait':
      return wait(rest);
    case 'serve':
      return serve(rest);
    case 'help':
    case '--help':
    case '-h': {
      const topic = rest[0];
      if (topic === undefined) return print(HELP.main);
      if (isCommand(topic)) return print(HELP[topic]);
      throw new UsageError(`unknown command '${topic}'`);
    }
    case '--version':
    case '-v':
      return print(`${await readVersion()}\n`);
    case undefined:
      throw new UsageError('missing command (check, wait or serve)');
    default:
      throw new UsageError(command.startsWith('-') ? `unknown option '${command}'` : `unknown command '${command}'`);
  }
}

async function check(args: readonly string[]): Promise<number> {
  const { values, positionals } = parse('check', args, {
    timeout: { type: 'string', short: 't' },
    help: { type: 'boolean', short: 'h' },
  });
  if (values.help === true) return print(HELP.check);
  if (positionals.length > 1) throw new UsageError(`check takes one URL, got ${positionals.length}`, 'check');
  const url = positionals[0] ?? DEFAULT_URL;
  const timeoutMs = duration(values.timeout ?? DEFAULT_CHECK_TIMEOUT, '--timeout', 'check');

  let answer;
  try {
    answer = await probeOnce(url, { timeoutMs });
  } catch (error) {
    return clientFailure(error, 'check');
  }
  if (answer.state !== undefined) process.stdout.write(`${answer.state}\n`);
  if (answer.status >= 200 && answer.status < 400) return 0;
  process.stderr.write(`service-probe: ${JSON.stringify(url).slice(1, -1)} answered HTTP ${answer.status}\n`);
  return 1;
}

async function wait(args: readonly string[]): Promise<number> {
  const { values, positionals } = parse('wait', args, {
    timeout: { type: 'string', short: 't' },
    interval: { type: 'string', short: 'i' },
    help: { type: 'boolean', short: 'h' },
  });
  if (values.help === true) return print(HELP.wait);
  if (positionals.length === 0) throw new UsageError('wait needs at least one URL', 'wait');
  const timeoutMs = duration(values.timeout ?? DEFAULT_WAIT_TIMEOUT, '--timeout', 'wait');
  const intervalMs = duration(values.interval ?? DEFAULT_INTERVAL, '--interval', 'wait');

  const tty = process.stderr.isTTY === true;
  let shown = false;
  const onProgress = tty
    ? (progress: WaitProgress): void => {
        const waiting = progress.pending.map((p) => `${p.url} (${whyNotReady(p.state, p.error)})`).join(', ');
        const line = waiting === '' ? `all ${progress.ready.length} ready` : `waiting ${(progress.elapsedMs / 1000).toFixed(1)}s: ${waiting}`;
        // One line, rewritten in place, cut to the terminal width so it never wraps.
        process.stderr.write(`\r\x1b[K${line.slice(0, Math.max(20, (process.stderr.columns || 80) - 1))}`);
        shown = true;
      }
    : undefined;
  try {
    await waitUntilReady(positionals, { timeoutMs, intervalMs, requestTimeoutMs: Math.min(timeoutMs, CLIENT_DEFAULTS.timeoutMs), onProgress });
    if (shown) process.stderr.write('\n');
    return 0;
  } catch (error) {
    if (shown) process.stderr.write('\n');
    return clientFailure(error, 'wait');
  }
}

async function serve(args: readonly string[]): Promise<number> {
  const { values, positionals } = parse('serve', args, {
    host: { type: 'string' },
    port: { type: 'string', short: 'p' },
    state: { type: 'string', short: 's' },
    help: { type: 'boolean', short: 'h' },
  });
  if (values.help === true) return print(HELP.serve);
  if (positionals.length > 0) throw new UsageError(`serve takes no arguments, got '${positionals[0]}'`, 'serve');
  // The package's main entry, not probe.js: the bundle then keeps the probe inside dist/index.js
  // instead of a chunk of its own that every import of the package would load too.
  const { createProbe, DEFAULT_PORT } = await import('./index.js');

  let port = DEFAULT_PORT;
  if (values.port !== undefined) {
    // Digits only (no '1e3', no '0x50'), then the library's own port rule.
    try {
      port = toPort(/^\d{1,5}$/.test(values.port) ? Number(values.port) : NaN, '--port');
    } catch {
      throw new UsageError(`--port must be an integer from 0 to 65535, got '${values.port}'`, 'serve');
    }
  }
  const state = values.state === undefined ? 'UP' : parseServiceState(values.state);
  if (state === undefined) throw new UsageError(`--state must be up, ready, draining or down, got '${values.state}'`, 'serve');

  // Checked here, with the CLI's own rule and error class: the CLI is bundled apart from the
  // package's main entry, whose classes are not the CLI's.
  let given: string | undefined;
  try {
    given = values.host === undefined ? undefined : toHost(values.host, '--host');
  } catch (error) {
    if (error instanceof ProbeArgumentError) throw new UsageError(`--host must be an IPv4 or IPv6 address or a host name, got '${values.host}'`, 'serve');
    throw error;
  }
  const probe = createProbe({ ...(given === undefined ? {} : { host: given }), port, state });
  let bound;
  try {
    bound = await probe.start();
  } catch (error) {
    process.stderr.write(`service-probe: ${(error as Error).message}\n`);
    return 1;
  }
  const host = bound.address.includes(':') ? `[${bound.address}]` : bound.address;
  process.stdout.write(`Service readiness probe listening on http://${host}:${bound.port}/ with initial state ${probe.state}\n`);

  const signal = await new Promise<NodeJS.Signals>((resolve) => {
    const stop = (received: NodeJS.Signals): void => {
      process.off('SIGTERM', stop);
      process.off('SIGINT', stop);
      resolve(received);
    };
    process.on('SIGTERM', stop);
    process.on('SIGINT', stop);
  });
  await probe.stop();
  process.stdout.write(`Service probe stopped (${signal})\n`);
  return 0;
}

// ---------------------------------------------------------------------------------------------

type OptionSpec = Record<string, { type: 'string' | 'boolean'; short?: string }>;

function parse<T extends OptionSpec>(command: Command, args: readonly string[], options: T) {
  try {
    // The CommonJS exports object: an ES import of node:util evaluates all of its exports.
    return process.getBuiltinModule('node:util').parseArgs({ args: [...args], options, allowPositionals: true, strict: true });
  } catch (error) {
    // parseArgs messages go on with advice over several sentences; the first one is the reason.
    const message = (error as Error).message.split(/\.\s/)[0]!;
    throw new UsageError(message.charAt(0).toLowerCase() + message.slice(1), command);
  }
}

/** `500ms`, `2s`, `1m`, or a bare number of seconds, in milliseconds. */
function duration(text: string, option: string, command: Command): number {
  const match = /^(\d+(?:\.\d+)?)(ms|s|m)?$/.exec(text);
  const ms = match === null ? NaN : Math.round(Number(match[1]) * (match[2] === 'ms' ? 1 : match[2] === 'm' ? 60_000 : 1000));
  if (!(ms >= 1 && ms <= TIMER_MAX_MS)) {
    throw new UsageError(`${option} must be a duration from 1ms to 24 days such as 500ms, 2s, 1m or 3 (seconds), got '${text}'`, command);
  }
  return ms;
}

function clientFailure(error: unknown, command: Command): number {
  if (error instanceof ProbeClientError && error.code === 'INVALID_URL') throw new UsageError(error.message, command);
  process.stderr.write(`service-probe: ${error instanceof Error ? error.message : String(error)}\n`);
  return 1;
}

function isCommand(word: string): word is Exclude<Command, 'main'> {
  return word === 'check' || word === 'wait' || word === 'serve';
}

function print(text: string): number {
  process.stdout.write(text);
  return 0;
}

async function readVersion(): Promise<string> {
  const { readFileSync } = await import('node:fs');
  const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string };
  return pkg.version;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: unknown) => {
    if (error instanceof UsageError) {
      const help = error.command === 'main' ? 'service-probe --help' : `service-probe ${error.command} --help`;
      process.stderr.write(`service-probe: ${error.message} (see '${help}')\n`);
      process.exit(2);
    }
    process.stderr.write(`service-probe: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exit(1);
  },
);
