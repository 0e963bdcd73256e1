// Shared by the checks tests: a probe behind its own server or behind probe.handle() in a plain
// node:http server, and a GET that opens a connection of its own (nothing pooled stays open).
import { createServer, request } from 'node:http';
import { createProbe } from '../../dist/index.js';

/** The two ways a probe answers: its standalone server, and handle() inside someone else's server. */
export const MODES = ['standalone', 'handle'];

/** Starts a probe in `mode`; everything is closed in t.after. Resolves { probe, base }. */
export async function serve(t, mode, options = {}) {
  const probe = createProbe({ host: '127.0.0.1', port: 0, ...options });
  t.after(() => probe.stop());
  if (mode === 'standalone') {
    const { port } = await probe.start();
    return { probe, base: `http://127.0.0.1:${port}` };
  }
  const server = createServer((req, res) => {
    if (!probe.handle(req, res)) {
      res.writeHead(418, { 'content-type': 'text/plain' });
      res.end('host app');
    }
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(() => new Promise((resolve) => {
    server.closeAllConnections();
    server.close(resolve);
  }));
  return { probe, base: `http://127.0.0.1:${server.address().port}` };
}

/** GET (or `method`) on a connection of its own (or `agent`'s). Resolves { status, headers, body, ms }. */
export function get(url, { method = 'GET', headers = {}, agent = false } = {}) {
  return new Promise((resolve, reject) => {
    const began = performance.now();
    const req = request(url, { method, headers, agent }, (res) => {
      const chunks = [];
      res.on('data', (chunk) => chunks.push(chunk));
      res.on('end', () =>
        resolve({ status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks).toString('utf8'), ms: performance.now() - began }),
      );
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

/** A promise with its resolve function, to hold a check until the test lets it go. */
export function gate() {
  let open;
  const promise = new Promise((resolve) => {
    open = resolve;
  });
  return { promise, open };
}

export const delay = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** Records unhandled rejections while a test file runs. */
export function watchUnhandledRejections() {
  const seen = [];
  process.on('unhandledRejection', (reason) => seen.push(reason));
  return seen;
}

/** Replaces the times in a JSON body, for golden comparisons. */
export function withoutTimes(json) {
  const copy = JSON.parse(json);
  for (const results of Object.values(copy.checks)) {
    for (const result of results) {
      if (typeof result.time === 'string' && !Number.isNaN(Date.parse(result.time))) result.time = '<time>';
      if (typeof result.durationMs === 'number' && result.durationMs >= 0) result.durationMs = '<ms>';
    }
  }
  return copy;
}
