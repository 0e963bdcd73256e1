// gRPC health clients for tests: @grpc/grpc-js with grpc-health-check's service definition (a
// client nobody here wrote), and a raw node:http2 call that shows every header and byte.
import { connect } from 'node:http2';
import { once } from 'node:events';
import { createRequire } from 'node:module';
import { createProbe } from '../../dist/index.js';
import { WORKER_MODE_FROM_ENVIRONMENT } from './servers.js';

const require = createRequire(import.meta.url);
export const grpc = require('@grpc/grpc-js');
export const { service: healthService, HealthImplementation } = require('grpc-health-check');

const HealthClient = grpc.makeGenericClientConstructor(healthService, 'Health');

/**
 * A started probe on 127.0.0.1 and a grpc-js health client on its port; both closed after the test.
 * On the default server (`server: 'net'`) whatever SERVICE_PROBE_SERVER says: gRPC needs it. Under
 * SERVICE_PROBE_WORKER (npm test's worker-mode run) `server` is left out, so that the
 * probe runs in worker mode, whose thread always runs the node:net reader.
 */
export async function probeWithClient(t, options = {}) {
  const server = WORKER_MODE_FROM_ENVIRONMENT ? {} : { server: 'net' };
  const probe = createProbe({ host: '127.0.0.1', port: 0, ...server, ...options });
  const { port } = await probe.start();
  const client = new HealthClient(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
  t.after(async () => {
    client.close();
    await probe.stop();
  });
  return { probe, port, client, url: (path) => `http://127.0.0.1:${port}${path}` };
}

/** Check → the status word, or `{ code, details }` for an error status. */
export function check(client, service, deadlineMs = 5000) {
  return new Promise((resolve) => {
    client.check({ service }, { deadline: Date.now() + deadlineMs }, (error, response) => {
      resolve(error ? { code: error.code, details: error.details } : response.status);
    });
  });
}

/** List → `{ service: word }`, or `{ code }`. */
export function list(client) {
  return new Promise((resolve) => {
    client.list({}, (error, response) => {
      if (error) resolve({ code: error.code });
      else resolve(Object.fromEntries(Object.entries(response.statuses).map(([name, value]) => [name, value.status])));
    });
  });
}

/** A Watch call collecting its messages and its final status. */
export function watch(client, service) {
  const call = client.watch({ service });
  const seen = { statuses: [], end: undefined };
  let wake = () => {};
  call.on('data', (message) => {
    seen.statuses.push(message.status);
    wake();
  });
  call.on('error', (error) => {
    seen.end = { code: error.code, details: error.details };
    wake();
  });
  /** Resolves once `count` messages have come (or the call ended). */
  seen.until = async (count, timeoutMs = 5000) => {
    const deadline = Date.now() + timeoutMs;
    while (seen.statuses.length < count && seen.end === undefined && Date.now() < deadline) {
      await new Promise((resolve) => {
        wake = resolve;
        setTimeout(resolve, 50);
      });
    }
    return seen.statuses;
  };
  seen.ended = async (timeoutMs = 5000) => {
    const deadline = Date.now() + timeoutMs;
    while (seen.end === undefined && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 10));
    return seen.end;
  };
  seen.call = call;
  return seen;
}

/** A HealthCheckRequest for `service`, framed. */
export function checkRequest(service) {
  const name = Buffer.from(service, 'utf8');
  const message = service === '' ? Buffer.alloc(0) : Buffer.concat([Buffer.from([0x0a, name.length]), name]);
  return frameMessage(message);
}

export function frameMessage(message, flag = 0) {
  const prefix = Buffer.alloc(5);
  prefix[0] = flag;
  prefix.writeUInt32BE(message.length, 1);
  return Buffer.concat([prefix, message]);
}

/**
 * One call on a node:http2 session (a new one unless `session` is given): the response headers,
 * the body bytes, the trailers, and how the stream ended.
 */
export async function rawCall(port, { path = '/grpc.health.v1.Health/Check', headers = {}, body = checkRequest(''), session } = {}) {
  const own = session === undefined;
  session ??= connect(`http://127.0.0.1:${port}`);
  session.on('error', () => {});
  try {
    const stream = session.request({ ':method': 'POST', ':path': path, 'content-type': 'application/grpc', te: 'trailers', ...headers });
    const result = { headers: undefined, trailers: undefined, body: Buffer.alloc(0), rstCode: undefined };
    stream.on('response', (h) => (result.headers = h));
    stream.on('trailers', (h) => (result.trailers = h));
    stream.on('data', (chunk) => (result.body = Buffer.concat([result.body, chunk])));
    stream.on('error', () => {});
    stream.end(body);
    await once(stream, 'close');
    result.rstCode = stream.rstCode;
    /** grpc-status from the trailers, or from a trailers-only response's headers. */
    result.status = Number((result.trailers ?? result.headers ?? {})['grpc-status']);
    result.message = (result.trailers ?? result.headers ?? {})['grpc-message'];
    return result;
  } finally {
    if (own) session.close();
  }
}
