// Real database and broker servers for the service tests, from Debian's packages: each runs in a
// temporary directory on free ports, in its own process group (so that SIGSTOP pauses every
// process of it, PostgreSQL's backends included), and is stopped and removed by the test.
// scripts/install-services.sh installs the packages.

import { spawn, execFileSync } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { freePort } from '../../helpers/servers.js';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const START_TIMEOUT_MS = 90_000;
const STOP_TIMEOUT_MS = 30_000;

// Every process group started here, killed when the test process exits, also when it is
// interrupted or terminated (the servers run detached and would outlive it).
const running = new Set();
const directories = new Set();
function killAll() {
  for (const pid of running) {
    try {
      process.kill(-pid, 'SIGKILL');
    } catch {
      // Gone already.
    }
  }
  for (const directory of directories) rmSync(directory, { recursive: true, force: true });
}
process.once('exit', killAll);
for (const signal of ['SIGINT', 'SIGTERM']) {
  process.once(signal, () => {
    killAll();
    process.exit(1);
  });
}

/** One server process: start, pause (SIGSTOP), resume, stop, start again. */
export class ServerProcess {
  #child;
  #output = '';
  #paused = false;

  constructor(name, command, args, { env, uid, gid, ready, cwd } = {}) {
    this.name = name;
    this.command = command;
    this.args = args;
    this.options = { env: { ...process.env, ...env }, uid, gid, cwd };
    this.ready = ready;
  }

  get output() {
    return this.#output;
  }

  async start() {
    this.#output = '';
    const child = spawn(this.command, this.args, {
      ...this.options,
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.#child = child;
    running.add(child.pid);
    const collect = (chunk) => {
      this.#output = (this.#output + chunk).slice(-64_000);
    };
    child.stdout.setEncoding('utf8').on('data', collect);
    child.stderr.setEncoding('utf8').on('data', collect);
    child.once('exit', () => running.delete(child.pid));
    await new Promise((resolve, reject) => {
      const timer = setTimeout(() => finish(new Error(`${this.name} did not start within ${START_TIMEOUT_MS} ms:\n${this.#output}`)), START_TIMEOUT_MS);
      const onData = () => {
        if (this.ready.test(this.#output)) finish();
      };
      const onExit = (code, signal) => finish(new Error(`${this.name} exited (${code ?? signal}) while starting:\n${this.#output}`));
      const onError = (error) => finish(error);
      function finish(error) {
        clearTimeout(timer);
        child.stdout.off('data', onData);
        child.stderr.off('data', onData);
        child.off('exit', onExit);
        child.off('error', onError);
        if (error) reject(error);
        else resolve();
      }
      child.stdout.on('data', onData);
      child.stderr.on('data', onData);
      child.once('exit', onExit);
      child.once('error', onError);
    });
  }

  /**
   * Freezes every process of the server (SIGSTOP to it and all its descendants: PostgreSQL's
   * backends leave the process group): sockets stay open, nothing answers.
   */
  async pause() {
    const pids = [this.#child.pid, ...descendants(this.#child.pid)];
    for (const pid of pids) signal(pid, 'SIGSTOP');
    this.#paused = true;
    // A stop reaches each thread of a process on its way out of the kernel: wait until every
    // thread is stopped, so that no request sent from now on is answered.
    const deadline = Date.now() + 5000;
    while (!pids.every(stopped)) {
      if (Date.now() > deadline) throw new Error(`${this.name} did not stop on SIGSTOP`);
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
  }

  resume() {
    for (const pid of [this.#child.pid, ...descendants(this.#child.pid)]) signal(pid, 'SIGCONT');
    this.#paused = false;
  }

  /** Stops the server with `signal` (its fast shutdown), and kills what is left after the timeout. */
  async stop(signal = 'SIGTERM') {
    const child = this.#child;
    if (child === undefined || child.exitCode !== null || child.signalCode !== null) return;
    if (this.#paused) this.resume();
    const exited = new Promise((resolve) => child.once('exit', resolve));
    process.kill(child.pid, signal);
    const timer = setTimeout(() => {
      try {
        process.kill(-child.pid, 'SIGKILL');
      } catch {
        // Gone already.
      }
    }, STOP_TIMEOUT_MS);
    await exited;
    clearTimeout(timer);
    // Helpers the server forked into its group (none should outlive it).
    try {
      process.kill(-child.pid, 'SIGKILL');
    } catch {
      // None left.
    }
  }
}

function signal(pid, name) {
  try {
    process.kill(pid, name);
  } catch {
    // Exited meanwhile.
  }
}

/** Whether every thread of `pid` is stopped (or the process is gone). */
function stopped(pid) {
  let threads;
  try {
    threads = readdirSync(`/proc/${pid}/task`);
  } catch {
    return true;
  }
  return threads.every((thread) => {
    try {
      const stat = readFileSync(`/proc/${pid}/task/${thread}/stat`, 'utf8');
      return /^[tTXZ]/.test(stat.slice(stat.lastIndexOf(')') + 2));
    } catch {
      return true;
    }
  });
}

/** Every process below `pid`, from /proc (Linux). */
function descendants(pid) {
  const children = new Map();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    let stat;
    try {
      stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
    } catch {
      continue;
    }
    // The command name is in parentheses and may hold spaces: the fields after it are fixed.
    const parent = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
    if (!children.has(parent)) children.set(parent, []);
    children.get(parent).push(Number(entry));
  }
  const found = [];
  const queue = [pid];
  while (queue.length > 0) {
    for (const child of children.get(queue.shift()) ?? []) {
      found.push(child);
      queue.push(child);
    }
  }
  return found;
}

function temporaryDirectory(name) {
  const directory = mkdtempSync(join(tmpdir(), `service-probe-${name}-`));
  directories.add(directory);
  return directory;
}

// PostgreSQL refuses to run as root: under root (CI) it runs as the package's `postgres` user.
function unprivileged(directory) {
  if (process.getuid() !== 0) return {};
  const uid = Number(execFileSync('id', ['-u', 'postgres'], { encoding: 'utf8' }).trim());
  const gid = Number(execFileSync('id', ['-g', 'postgres'], { encoding: 'utf8' }).trim());
  chownSync(directory, uid, gid);
  return { uid, gid };
}

function postgresBin(name) {
  const versions = existsSync('/usr/lib/postgresql') ? readdirSync('/usr/lib/postgresql').sort((a, b) => Number(b) - Number(a)) : [];
  for (const version of versions) {
    const path = `/usr/lib/postgresql/${version}/bin/${name}`;
    if (existsSync(path)) return path;
  }
  return name;
}

/** A credentialled server: where it listens, who may log in, the process, and clean-up. */
export const PASSWORD = 'probe-secret-3141';
export const USER = 'probe';

/** PostgreSQL: initdb in a temporary directory, password (SCRAM) authentication on 127.0.0.1. */
export async function startPostgres() {
  const directory = temporaryDirectory('postgres');
  const owner = unprivileged(directory);
  const data = join(directory, 'data');
  const passwordFile = join(directory, 'password');
  writeFileSync(passwordFile, `${PASSWORD}\n`);
  if (owner.uid !== undefined) chownSync(passwordFile, owner.uid, owner.gid);
  execFileSync(postgresBin('initdb'), ['-D', data, '-U', USER, `--pwfile=${passwordFile}`, '--auth=scram-sha-256', '--no-sync', '-E', 'UTF8'], {
    ...owner,
    stdio: 'pipe',
  });
  const port = await freePort();
  const server = new ServerProcess(
    'postgres',
    postgresBin('postgres'),
    ['-D', data, '-p', String(port), '-k', directory, '-c', 'listen_addresses=127.0.0.1', '-c', 'fsync=off', '-c', 'shared_buffers=16MB'],
    { ...owner, ready: /ready to accept connections/ },
  );
  await server.start();
  return {
    server,
    port,
    async close() {
      await server.stop('SIGINT');
      rmSync(directory, { recursive: true, force: true });
    },
  };
}

/** MariaDB: mariadb-install-db in a temporary directory, a password user on 127.0.0.1. */
export async function startMariaDB() {
  const directory = temporaryDirectory('mariadb');
  const data = join(directory, 'data');
  const asRoot = process.getuid() === 0 ? ['--user=root'] : [];
  execFileSync('mariadb-install-db', ['--no-defaults', `--datadir=${data}`, '--auth-root-authentication-method=socket', '--skip-test-db', ...asRoot], {
    stdio: 'pipe',
  });
  const init = join(directory, 'init.sql');
  writeFileSync(init, `CREATE USER IF NOT EXISTS '${USER}'@'127.0.0.1' IDENTIFIED BY '${PASSWORD}';\nGRANT ALL ON *.* TO '${USER}'@'127.0.0.1';\n`);
  const port = await freePort();
  const server = new ServerProcess(
    'mariadb',
    'mariadbd',
    [
      '--no-defaults',
      `--datadir=${data}`,
      `--port=${port}`,
      '--bind-address=127.0.0.1',
      `--socket=${join(directory, 'mysqld.sock')}`,
      `--pid-file=${join(directory, 'mysqld.pid')}`,
      `--init-file=${init}`,
      '--skip-name-resolve',
      '--innodb-buffer-pool-size=16M',
      '--skip-log-bin',
      ...asRoot,
    ],
    { ready: /ready for connections/ },
  );
  await server.start();
  return {
    server,
    port,
    async close() {
      await server.stop('SIGTERM');
      rmSync(directory, { recursive: true, force: true });
    },
  };
}

/** Redis: no persistence, `requirepass`, on 127.0.0.1. */
export async function startRedis() {
  const directory = temporaryDirectory('redis');
  const port = await freePort();
  const server = new ServerProcess(
    'redis',
    'redis-server',
    ['--port', String(port), '--bind', '127.0.0.1', '--dir', directory, '--save', '', '--appendonly', 'no', '--requirepass', PASSWORD, '--daemonize', 'no'],
    { ready: /Ready to accept connections/ },
  );
  await server.start();
  return {
    server,
    port,
    async close() {
      await server.stop('SIGTERM');
      rmSync(directory, { recursive: true, force: true });
    },
  };
}

/**
 * RabbitMQ: a node of its own name, with its own Erlang port mapper (epmd) and distribution port,
 * so that runs in parallel (and a system RabbitMQ) never meet. No plugins; the guest user may
 * connect from 127.0.0.1, and a user with the test password is added on boot.
 */
export async function startRabbitMQ() {
  const directory = temporaryDirectory('rabbitmq');
  const [port, distributionPort, epmdPort] = [await freePort(), await freePort(), await freePort()];
  writeFileSync(join(directory, 'enabled_plugins'), '[].\n');
  writeFileSync(
    join(directory, 'rabbitmq.conf'),
    [`listeners.tcp.default = 127.0.0.1:${port}`, `default_user = ${USER}`, `default_pass = ${PASSWORD}`, 'loopback_users = none', ''].join('\n'),
  );
  const epmd = new ServerProcess('epmd', 'epmd', ['-port', String(epmdPort), '-d'], { ready: /epmd running/ });
  await epmd.start();
  const env = {
    HOME: directory,
    ERL_EPMD_PORT: String(epmdPort),
    RABBITMQ_NODENAME: `probe${port}@localhost`,
    RABBITMQ_NODE_PORT: String(port),
    RABBITMQ_DIST_PORT: String(distributionPort),
    RABBITMQ_CONFIG_FILE: join(directory, 'rabbitmq.conf'),
    RABBITMQ_ENABLED_PLUGINS_FILE: join(directory, 'enabled_plugins'),
    RABBITMQ_MNESIA_BASE: join(directory, 'mnesia'),
    RABBITMQ_LOG_BASE: join(directory, 'log'),
    RABBITMQ_LOGS: '-',
    RABBITMQ_CONF_ENV_FILE: join(directory, 'rabbitmq-env.conf'),
    RABBITMQ_PID_FILE: join(directory, 'rabbitmq.pid'),
  };
  const server = new ServerProcess('rabbitmq', '/usr/lib/rabbitmq/bin/rabbitmq-server', [], {
    env,
    cwd: directory,
    ready: /Server startup complete/,
  });
  await server.start();
  return {
    server,
    port,
    /** Runs rabbitmqctl against this node (e.g. `['change_password', user, password]`). */
    ctl(args) {
      execFileSync('/usr/lib/rabbitmq/bin/rabbitmqctl', ['-n', env.RABBITMQ_NODENAME, ...args], { env: { ...process.env, ...env }, cwd: directory, stdio: 'pipe' });
    },
    async close() {
      await server.stop('SIGTERM');
      await epmd.stop('SIGTERM');
      rmSync(directory, { recursive: true, force: true });
    },
  };
}

/** Polls `condition` every 50 ms until it returns true, for at most `timeoutMs`. */
export async function eventually(condition, timeoutMs = 30_000, what = 'condition') {
  const deadline = Date.now() + timeoutMs;
  let last;
  while (Date.now() < deadline) {
    try {
      last = await condition();
      if (last === true) return;
    } catch (error) {
      last = error;
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`${what} not met within ${timeoutMs} ms (last: ${last instanceof Error ? last.message : JSON.stringify(last)})`);
}
