// The load generator: a small HTTP/1.1 client on node:net, in its own process so the server under
// test keeps a core to itself. Forked once by bench/run.mjs; each IPC message is one measurement.
//
// Why not autocannon: 8.x keeps latencies in whole milliseconds (p50 of a probe reads 0 ms), and
// with `reconnectRate: 1` (a new connection per request) it drops every response from its counts.
// This client records each response time in microseconds and handles both modes; for keep-alive it
// reaches the same request rates as autocannon on this machine (checked when it was written).
import { connect } from 'node:net';
import { performance } from 'node:perf_hooks';

const HEAD_END = Buffer.from('\r\n\r\n');
const CHUNKED_END = Buffer.from('\r\n0\r\n\r\n');
const MAX_US = 1_000_000;

// Latency histogram with 1 µs buckets up to 1 s.
class Histogram {
  counts = new Uint32Array(MAX_US + 1);
  total = 0;
  record(us) {
    this.counts[Math.min(MAX_US, Math.round(us))]++;
    this.total++;
  }
  percentile(p) {
    if (this.total === 0) return null;
    const rank = Math.ceil((p / 100) * this.total);
    let seen = 0;
    for (let i = 0; i <= MAX_US; i++) {
      seen += this.counts[i];
      if (seen >= rank) return i;
    }
    return MAX_US;
  }
}

// Length of the first complete response in `buf`, or -1 while it is incomplete.
function responseLength(buf) {
  const headEnd = buf.indexOf(HEAD_END);
  if (headEnd === -1) return -1;
  const head = buf.latin1Slice(0, headEnd);
  const length = /\r\ncontent-length: *(\d+)/i.exec(head);
  if (length !== null) {
    const total = headEnd + 4 + Number(length[1]);
    return buf.length >= total ? total : -1;
  }
  if (/\r\ntransfer-encoding: *chunked/i.test(head)) {
    const end = buf.indexOf(CHUNKED_END, headEnd + 2);
    return end === -1 ? -1 : end + CHUNKED_END.length;
  }
  return headEnd + 4; // no body (HEAD, 204, 304)
}

function statusOf(buf) {
  return buf.latin1Slice(9, 12);
}

function measure({ port, path, connections, warmupS, durationS, close }) {
  const request = Buffer.from(
    `GET ${path} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nUser-Agent: kube-probe/1.31\r\nAccept: */*\r\n${close ? 'Connection: close\r\n' : ''}\r\n`,
    'latin1',
  );
  const histogram = new Histogram();
  let counting = false;
  let running = true;
  let ok = 0;
  let bad = 0;
  let errors = 0;
  const sockets = new Set();

  const done = (started, buf) => {
    if (!counting) return;
    if (statusOf(buf) === '200') {
      ok++;
      histogram.record((performance.now() - started) * 1000);
    } else bad++;
  };

  // Keep-alive: one request at a time on each connection, for the whole run.
  const keepAlive = () => {
    const socket = connect(port, '127.0.0.1');
    sockets.add(socket);
    socket.setNoDelay(true);
    let pending = null;
    let started = 0;
    const send = () => {
      started = performance.now();
      socket.write(request);
    };
    socket.on('connect', send);
    socket.on('data', (chunk) => {
      pending = pending === null ? chunk : Buffer.concat([pending, chunk]);
      let length;
      while (pending !== null && (length = responseLength(pending)) !== -1) {
        done(started, pending);
        pending = length === pending.length ? null : pending.subarray(length);
        if (running) send();
      }
    });
    socket.on('error', () => {
      if (running) errors++;
    });
    socket.on('close', () => {
      sockets.delete(socket);
      if (running) keepAlive();
    });
  };

  // Kubelet-style: connect, one request with `Connection: close`, read to the end, again.
  const oneShot = () => {
    const started = performance.now();
    const socket = connect(port, '127.0.0.1');
    sockets.add(socket);
    socket.setNoDelay(true);
    const chunks = [];
    socket.on('connect', () => socket.write(request));
    socket.on('data', (chunk) => chunks.push(chunk));
    socket.on('error', () => {
      if (running) errors++;
    });
    socket.on('close', () => {
      sockets.delete(socket);
      if (chunks.length > 0) done(started, Buffer.concat(chunks));
      if (running) oneShot();
    });
  };

  for (let i = 0; i < connections; i++) (close ? oneShot : keepAlive)();

  return new Promise((resolve) => {
    let t0 = 0;
    setTimeout(() => {
      counting = true;
      t0 = performance.now();
      setTimeout(() => {
        counting = false;
        running = false;
        const seconds = (performance.now() - t0) / 1000;
        for (const socket of sockets) socket.destroy();
        resolve({
          requests: ok,
          rps: ok / seconds,
          p50us: histogram.percentile(50),
          p99us: histogram.percentile(99),
          non200: bad,
          errors,
          seconds,
        });
      }, durationS * 1000);
    }, warmupS * 1000);
  });
}

process.on('message', async (job) => {
  try {
    process.send({ ok: true, ...(await measure(job)) });
  } catch (error) {
    process.send({ ok: false, error: String(error?.stack ?? error) });
  }
});
process.on('disconnect', () => process.exit(0));
