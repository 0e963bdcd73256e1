// The probe's worker threads (worker mode), seen from outside: node:diagnostics_channel publishes
// every Worker a process creates on the 'worker_threads' channel, so the tests count the probe's
// threads and end them as a crash would without any hook in the package. Threads a test creates
// itself (its clients) are registered with `clientWorker` and left out.
import dc from 'node:diagnostics_channel';
import { Worker } from 'node:worker_threads';

const alive = new Set();
const clients = new WeakSet();

dc.subscribe('worker_threads', ({ worker }) => {
  if (clients.has(worker)) return;
  alive.add(worker);
  worker.once('exit', () => alive.delete(worker));
});

/** A worker thread of the test's own (a client), not counted among the probe's. */
export function clientWorker(url, options) {
  const worker = new Worker(url, options);
  clients.add(worker);
  alive.delete(worker);
  return worker;
}

/** How many probe worker threads are alive in this process. */
export function liveWorkerCount() {
  return alive.size;
}

/** Ends every probe worker thread as a crash would; resolves once they have exited. */
export async function terminateProbeWorkers() {
  await Promise.all([...alive].map((worker) => worker.terminate()));
}
