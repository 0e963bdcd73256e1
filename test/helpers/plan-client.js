// A probe client in a worker thread of its own, for tests that block the main thread: it sends
// the planned requests at their times, whatever the main thread is doing, and reports what it
// saw once all are answered. Times are process.hrtime (the same clock in every thread). A step
// with `grpc: '<service>'` is a grpc.health.v1 Check on a new HTTP/2 connection (as kubelet sends
// it); its `status` is the serving status word, or `grpc-status <n>` for an error status.
import { request } from 'node:http';
import { connect } from 'node:http2';
import { parentPort, workerData } from 'node:worker_threads';

const { port, plan } = workerData;

function send({ method = 'GET', path, headers = {} }) {
  return new Promise((resolve) => {
    const sentNs = process.hrtime.bigint();
    const req = request({ host: '127.0.0.1', port, method, path, headers, agent: false }, (res) => {
      const chunks = [];
      res.on('data', (chunk) => chunks.push(chunk));
      res.on('end', () =>
        resolve({ method, path, sentNs, receivedNs: process.hrtime.bigint(), status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks).toString() }),
      );
    });
    req.on('error', (error) => resolve({ method, path, sentNs, receivedNs: process.hrtime.bigint(), error: error.message }));
    req.end();
  });
}

const SERVING_WORDS = { 1: 'SERVING', 2: 'NOT_SERVING' };

function grpcCheck(service) {
  return new Promise((resolve) => {
    const sentNs = process.hrtime.bigint();
    const done = (result) => resolve({ grpc: service, sentNs, receivedNs: process.hrtime.bigint(), ...result });
    const session = connect(`http://127.0.0.1:${port}`);
    session.on('error', (error) => done({ error: error.message }));
    const name = Buffer.from(service);
    const message = service === '' ? Buffer.alloc(0) : Buffer.concat([Buffer.from([0x0a, name.length]), name]);
    const prefix = Buffer.alloc(5);
    prefix.writeUInt32BE(message.length, 1);
    const stream = session.request({ ':method': 'POST', ':path': '/grpc.health.v1.Health/Check', 'content-type': 'application/grpc', te: 'trailers' });
    let body = Buffer.alloc(0);
    let trailers;
    stream.on('response', (headers) => (trailers = headers));
    stream.on('trailers', (headers) => (trailers = headers));
    stream.on('data', (chunk) => (body = Buffer.concat([body, chunk])));
    stream.on('error', (error) => done({ error: error.message }));
    stream.on('close', () => {
      session.close();
      const grpcStatus = Number(trailers?.['grpc-status']);
      // The response message: 5-byte prefix, then field 1 (status) as a varint: 0x08 <status>.
      done({ status: grpcStatus === 0 && body.length === 7 ? SERVING_WORDS[body[6]] : `grpc-status ${grpcStatus}` });
    });
    stream.end(Buffer.concat([prefix, message]));
  });
}

// { startNs }: the plan's time zero.
parentPort.once('message', async ({ startNs }) => {
  const results = await Promise.all(
    plan.map(async (step) => {
      const waitMs = Number(BigInt(startNs) + BigInt(Math.round(step.atMs * 1e6)) - process.hrtime.bigint()) / 1e6;
      if (waitMs > 0) await new Promise((resolve) => setTimeout(resolve, waitMs));
      return { ...(await (step.grpc === undefined ? send(step) : grpcCheck(step.grpc))), atMs: step.atMs };
    }),
  );
  parentPort.postMessage(results);
});
