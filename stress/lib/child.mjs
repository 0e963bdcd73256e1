// Starts the probe under test in a child process and talks to it over IPC.

import { fork } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const CHILD = fileURLToPath(new URL('../probe-child.mjs', import.meta.url));

/**
 * Forks the probe process. `options` go to createProbe (host 127.0.0.1 and port 0 by default).
 * Returns { pid, port, call(cmd, args), fds(), stderr(), exited(), close() }.
 */
export async function startProbeProcess(options = {}, { start = true, state } = {}) {
  const child = fork(CHILD, [], {
    execArgv: ['--expose-gc'],
    stdio: ['ignore', 'inherit', 'pipe', 'ipc'],
  });
  let stderr = '';
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (chunk) => {
    stderr += chunk;
  });
  let exit;
  const pending = new Map();
  let nextId = 1;
  child.on('exit', (code, signal) => {
    exit = { code, signal };
    for (const { reject } of pending.values()) reject(new Error(`probe process exited (${code ?? signal}) ${stderr.slice(0, 500)}`));
    pending.clear();
  });
  const ready = new Promise((resolve, reject) => {
    child.once('message', resolve);
    child.once('exit', () => reject(new Error(`probe process exited before it was ready: ${stderr.slice(0, 500)}`)));
  });
  child.on('message', (message) => {
    const waiting = pending.get(message.id);
    if (!waiting) return;
    pending.delete(message.id);
    if (message.ok) waiting.resolve(message.result);
    else waiting.reject(new Error(message.error));
  });
  await ready;

  const call = (cmd, args) =>
    new Promise((resolve, reject) => {
      if (exit) return reject(new Error(`probe process has exited (${exit.code ?? exit.signal})`));
      const id = nextId++;
      pending.set(id, { resolve, reject });
      child.send({ id, cmd, args });
    });

  await call('create', { options: { host: '127.0.0.1', port: 0, ...options } });
  let port;
  if (start) ({ port } = await call('start', state ? { overrides: { state } } : {}));

  return {
    pid: child.pid,
    port,
    call,
    /** Open file descriptors of the probe process, counted from outside. */
    fds: () => readdirSync(`/proc/${child.pid}/fd`).length,
    stderr: () => stderr,
    exited: () => exit,
    async close() {
      if (exit) return;
      const gone = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGKILL');
      await gone;
    },
  };
}
