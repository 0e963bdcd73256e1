// How the main thread should tell the probe's worker thread what it answers from: measured, not
// guessed (docs/worker.md, "Mechanism"). Prints a Markdown table.
//
//   1. publishing a state change: Atomics.store into a SharedArrayBuffer vs postMessage;
//   2. how soon the worker sees it: SAB at its next read vs a message at its next 'message' event
//      (idle worker), and vs a message taken with receiveMessageOnPort at request time;
//   3. a beat: Atomics.store of process.hrtime.bigint() vs postMessage of a number, and what the
//      worker pays per beat (a wakeup for each message; nothing for the SAB);
//   4. a check outcome: postMessage (structured clone) vs JSON into a SharedArrayBuffer;
//   5. what reading shared state costs the worker per request.
import { MessageChannel, Worker, receiveMessageOnPort } from 'node:worker_threads';
import { once } from 'node:events';
import { cpus } from 'node:os';

const N = 200_000;

function nsPerOp(n, fn) {
  for (let i = 0; i < 1000; i++) fn(i);
  const began = process.hrtime.bigint();
  for (let i = 0; i < n; i++) fn(i);
  return Number(process.hrtime.bigint() - began) / n;
}

const sab = new SharedArrayBuffer(32);
const ints = new Int32Array(sab, 8, 5);
const beat = new BigInt64Array(sab, 0, 1);
const rows = [];
const row = (what, sab, message, note = '') => rows.push(`| ${what} | ${sab} | ${message} | ${note} |`);
const f = (n) => (n >= 100 ? n.toFixed(0) : n.toFixed(1));

// 1. Publishing a state change on the main thread.
{
  const { port1, port2 } = new MessageChannel();
  const sabNs = nsPerOp(N, (i) => {
    Atomics.store(ints, 0, i & 3);
    Atomics.store(ints, 1, 1);
    Atomics.store(ints, 2, 0);
  });
  const msgNs = nsPerOp(N / 10, (i) => port1.postMessage({ state: i & 3, started: true, readyWhileDraining: false }));
  while (receiveMessageOnPort(port2) !== undefined);
  port1.close();
  row('publish a state change (main thread), ns', f(sabNs), f(msgNs), 'three Atomics.store vs one postMessage of {state, started, readyWhileDraining}');
}

// 2 and 3. A worker that reports when it sees a change, and what beats cost it.
const worker = new Worker(
  `
  const { parentPort, workerData } = require('node:worker_threads');
  const ints = new Int32Array(workerData.sab, 8, 5);
  parentPort.on('message', (m) => {
    if (m === 'spin') {
      // Poll the SAB as a request would, until the main thread's store shows.
      const began = process.hrtime.bigint();
      while (Atomics.load(ints, 3) === 0);
      parentPort.postMessage(Number(process.hrtime.bigint() - BigInt(Atomics.load(new BigInt64Array(workerData.sab, 0, 1), 0))));
    } else if (m === 'read') {
      const beat = new BigInt64Array(workerData.sab, 0, 1);
      const n = 1e6;
      let sink = 0;
      const began = process.hrtime.bigint();
      for (let i = 0; i < n; i++) {
        sink += Atomics.load(ints, 0) + Atomics.load(ints, 1) + Atomics.load(ints, 2);
        sink += Number(process.hrtime.bigint() - Atomics.load(beat, 0));
      }
      parentPort.postMessage({ ns: Number(process.hrtime.bigint() - began) / n, sink });
    }
  });
  `,
  { eval: true, workerData: { sab } },
);
await once(worker, 'online');

// 2a. Message latency to an idle worker's 'message' event.
{
  const { port1, port2 } = new MessageChannel();
  const w = new Worker(
    `const { parentPort, workerData } = require('node:worker_threads');
     workerData.port.on('message', (m) => parentPort.postMessage(Number(process.hrtime.bigint() - BigInt(m))));`,
    { eval: true, workerData: { port: port2 }, transferList: [port2] },
  );
  await once(w, 'online');
  const latencies = [];
  for (let i = 0; i < 200; i++) {
    port1.postMessage(String(process.hrtime.bigint()));
    const [ns] = await once(w, 'message');
    latencies.push(ns / 1000);
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
  latencies.sort((a, b) => a - b);
  // 2b. The SAB: the worker polls as a request would; the main thread stores.
  const sabLatencies = [];
  for (let i = 0; i < 50; i++) {
    Atomics.store(ints, 3, 0);
    worker.postMessage('spin');
    await new Promise((resolve) => setTimeout(resolve, 5));
    Atomics.store(beat, 0, process.hrtime.bigint());
    Atomics.store(ints, 3, 1);
    const [ns] = await once(worker, 'message');
    sabLatencies.push(ns / 1000);
  }
  sabLatencies.sort((a, b) => a - b);
  row(
    'a change seen by an idle worker, µs (median / p99)',
    `${f(sabLatencies[25])} / ${f(sabLatencies[49])}`,
    `${f(latencies[100])} / ${f(latencies[198])}`,
    "SAB: at the worker's next read (a request); message: at its next 'message' event. A worker busy with a request sees the message only after it",
  );
  await w.terminate();
  port1.close();
}

// 3. Beats: main-thread cost, and worker CPU for 10 beats a second for 3 s.
{
  const sabNs = nsPerOp(N, () => Atomics.store(beat, 0, process.hrtime.bigint()));
  const { port1, port2 } = new MessageChannel();
  const msgNs = nsPerOp(N / 10, () => port1.postMessage(Date.now()));
  while (receiveMessageOnPort(port2) !== undefined);
  port1.close();
  // Worker CPU per beat: a worker listening to 100 beats a second.
  const listening = new Worker(
    `const { parentPort } = require('node:worker_threads');
     parentPort.on('message', (m) => { if (m === 'cpu') parentPort.postMessage(process.cpuUsage()); });`,
    { eval: true },
  );
  await once(listening, 'online');
  listening.postMessage('cpu');
  const [before] = await once(listening, 'message');
  const timer = setInterval(() => listening.postMessage(Date.now()), 10);
  await new Promise((resolve) => setTimeout(resolve, 3000));
  clearInterval(timer);
  listening.postMessage('cpu');
  const [after] = await once(listening, 'message');
  const perBeatUs = (after.user + after.system - before.user - before.system) / 300;
  await listening.terminate();
  row('a beat (main thread), ns', f(sabNs), f(msgNs), 'Atomics.store(process.hrtime.bigint()) vs postMessage(Date.now())');
  row('a beat (worker thread), µs of CPU', '0 (nothing runs)', f(perBeatUs), 'a message wakes the worker for every beat; the SAB is read only when a request comes');
}

// 4. A check outcome.
{
  const outcome = { name: 'postgres', ok: true, critical: true, readiness: true, liveness: false, time: Date.now(), durationMs: 1.23, observedValue: 12, observedUnit: 'ms', output: undefined };
  const { port1, port2 } = new MessageChannel();
  const msgNs = nsPerOp(N / 10, () => port1.postMessage({ kind: 'outcome', outcome }));
  const takeNs = nsPerOp(N / 10, () => receiveMessageOnPort(port2));
  port1.close();
  const ring = new Uint8Array(new SharedArrayBuffer(4096));
  const encoder = new TextEncoder();
  const decoder = new TextDecoder();
  let written = 0;
  const sabNs = nsPerOp(N / 10, () => {
    written = encoder.encodeInto(JSON.stringify(outcome), ring.subarray(4)).written;
    Atomics.store(new Int32Array(ring.buffer, 0, 1), 0, written);
  });
  const readNs = nsPerOp(N / 10, () => JSON.parse(decoder.decode(ring.slice(4, 4 + written))));
  row('publish a check outcome (main thread), ns', f(sabNs), f(msgNs), 'JSON into a shared buffer (and a protocol for its size, order and overflow) vs postMessage');
  row('take a check outcome (worker thread), ns', f(readNs), f(takeNs), 'JSON.parse vs receiveMessageOnPort');
}

// 5. What a request pays in the worker to read the shared state and the beat.
{
  worker.postMessage('read');
  const [{ ns }] = await once(worker, 'message');
  row('read state, flags and the beat per request (worker thread), ns', f(ns), '–', 'three Atomics.load, one BigInt64 load, one process.hrtime.bigint()');
}
await worker.terminate();

console.log(`Node ${process.version}, ${cpus().length} × ${cpus()[0]?.model ?? '?'}, ${new Date().toISOString().slice(0, 10)}\n`);
console.log('| | SharedArrayBuffer + Atomics | postMessage | note |\n| --- | --- | --- | --- |');
console.log(rows.join('\n'));
