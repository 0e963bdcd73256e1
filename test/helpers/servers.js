// Real servers for tests: probes on port 0, raw node:http servers that answer
// what a test needs, servers that never answer, and ports that were just closed.
import { createServer as createHttpServer } from 'node:http';
import { createServer as createNetServer } from 'node:net';
import { once } from 'node:events';
import { createProbe } from '../../dist/index.js';

/**
 * Whether probes that set neither `worker` nor `server` run in worker mode here: npm test's
 * worker-mode run sets SERVICE_PROBE_WORKER (1, true, or a JSON object of worker options).
 */
export const WORKER_MODE_FROM_ENVIRONMENT = /^\s*(1|true|\{)/.test(process.env.SERVICE_PROBE_WORKER ?? '');

/**
 * A started probe on 127.0.0.1, port 0, with `options` (createProbe's); stopped after the test. On
 * the server SERVICE_PROBE_SERVER names (net by default), so each suite runs on both.
 * `base` is its origin, `url(path)` a URL (`/ready` by default), `get(path)` resolves `"<status> <body>"`.
 */
export async function startedProbe(t, options = {}) {
  const probe = createProbe({ host: '127.0.0.1', port: 0, ...options });
  const { port } = await probe.start();
  t.after(() => probe.stop());
  const base = `http://127.0.0.1:${port}`;
  const get = async (path) => {
    const res = await fetch(base + path);
    return `${res.status} ${await res.text()}`;
  };
  return { probe, port, base, url: (path = '/ready') => base + path, get };
}

/**
 * A node:http server running `handler`, counting connections and requests and keeping the last
 * request's headers. Closed, with every connection, after the test.
 */
export async function rawServer(t, handler = (req, res) => res.end('READY')) {
  const seen = { connections: 0, requests: 0, headers: undefined, method: undefined, closed: 0 };
  const server = createHttpServer((req, res) => {
    seen.requests += 1;
    seen.headers = req.headers;
    seen.method = req.method;
    handler(req, res);
  });
  server.on('connection', (socket) => {
    seen.connections += 1;
    socket.on('close', () => (seen.closed += 1));
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  t.after(() => {
    server.closeAllConnections();
    server.close();
  });
  const { port } = server.address();
  return { seen, port, url: (path = '/ready') => `http://127.0.0.1:${port}${path}` };
}

/** Resolves as `promise` does, or rejects after `ms` saying what did not happen: a broken test fails, it never hangs. */
export function within(promise, ms, what) {
  let timer;
  const late = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not happen within ${ms} ms`)), ms);
  });
  return Promise.race([promise, late]).finally(() => clearTimeout(timer));
}

/**
 * A TCP server that accepts connections and never says a word. `closed()` resolves when a client
 * has hung up (and fails the test if none does within 2 s).
 */
export async function silentServer(t) {
  const sockets = new Set();
  let connections = 0;
  let onClose;
  const closed = new Promise((resolve) => (onClose = resolve));
  const server = createNetServer((socket) => {
    connections += 1;
    sockets.add(socket);
    socket.on('error', () => {});
    // Read (and drop) what the client sends, so that its hang-up is noticed.
    socket.resume();
    socket.on('close', () => {
      sockets.delete(socket);
      onClose();
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  t.after(() => {
    for (const socket of sockets) socket.destroy();
    server.close();
  });
  const { port } = server.address();
  return { port, closed: () => within(closed, 2000, 'the client hanging up'), connections: () => connections, url: (path = '/ready') => `http://127.0.0.1:${port}${path}` };
}

/** A free TCP port on 127.0.0.1: the OS picks it, and it is closed again at once. */
export async function freePort() {
  const server = createNetServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address();
  server.close();
  await once(server, 'close');
  return port;
}

/** A port that was listening a moment ago and is closed now: connecting to it is refused. */
export const closedPort = freePort;
