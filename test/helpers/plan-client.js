// A probe client in a worker thread of its own, for tests that block the main thread: it sends
// the planned requests at their times, whatever the main thread is doing, and reports what it
// saw once all are answered. Times are process.hrtime (the same clock in every thread).
import { request } from 'node:http';
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

// { startNs }: the plan's time zero.
parentPort.once('message', async ({ startNs }) => {
  const results = await Promise.all(
    plan.map(async (step) => {
      const waitMs = Number(BigInt(startNs) + BigInt(Math.round(step.atMs * 1e6)) - process.hrtime.bigint()) / 1e6;
      if (waitMs > 0) await new Promise((resolve) => setTimeout(resolve, waitMs));
      return { ...(await send(step)), atMs: step.atMs };
    }),
  );
  parentPort.postMessage(results);
});
