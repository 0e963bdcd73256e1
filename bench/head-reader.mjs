// Microbenchmark of the node:net reader's head reading (src/http1-head.ts) on kubelet's request:
// the repeated-head cache path against the bare lookup it wraps (indexOf + latin1 slice + Map
// get, what the reader did before the incremental validator), and the cost of a head seen for the
// first time (the byte scanner and parse). Interleaved rounds; prints ns per head.
//
//   node bench/head-reader.mjs   (after npm run build)

import { HeadReader } from '../dist/internal.js';

const KUBELET = Buffer.from('GET /ready HTTP/1.1\r\nHost: 10.0.0.7:11333\r\nUser-Agent: kube-probe/1.31\r\nAccept: */*\r\nConnection: close\r\n\r\n');
const CRLF_CRLF = Buffer.from('\r\n\r\n');
const ROUNDS = 7;
const N = 400_000;

const reader = new HeadReader(8192);
reader.read(KUBELET); // fills the cache
const baselineCache = new Map([[KUBELET.latin1Slice(0, KUBELET.length - 4), {}]]);

function cached() {
  let sink = 0;
  for (let i = 0; i < N; i++) if (typeof reader.read(KUBELET) !== 'number') sink += reader.consumed;
  return sink;
}
function baseline() {
  let sink = 0;
  for (let i = 0; i < N; i++) {
    const end = KUBELET.indexOf(CRLF_CRLF);
    if (baselineCache.get(KUBELET.latin1Slice(0, end)) !== undefined) sink += end + 4;
  }
  return sink;
}
// A different head each time (a changing query string, longer than the cache keeps): always scanned.
const fresh = Array.from({ length: 1024 }, (_, i) => Buffer.from(`GET /ready?n=${i}${'x'.repeat(500)} HTTP/1.1\r\nHost: 10.0.0.7:11333\r\nUser-Agent: kube-probe/1.31\r\nAccept: */*\r\n\r\n`));
function uncached() {
  let sink = 0;
  for (let i = 0; i < N / 10; i++) if (typeof reader.read(fresh[i & 1023]) !== 'number') sink += reader.consumed;
  return sink;
}

const results = { baseline: [], cached: [], uncached: [] };
for (let round = 0; round < ROUNDS; round++) {
  for (const [name, fn, n] of [['baseline', baseline, N], ['cached', cached, N], ['uncached', uncached, N / 10]]) {
    const t0 = process.hrtime.bigint();
    fn();
    results[name].push(Number(process.hrtime.bigint() - t0) / n);
  }
}
const median = (list) => list.sort((a, b) => a - b)[list.length >> 1];
const b = median(results.baseline);
const c = median(results.cached);
const u = median(results.uncached);
console.log(`kubelet head, cached: ${c.toFixed(0)} ns (bare lookup ${b.toFixed(0)} ns, ${(c / b).toFixed(2)}x); a head seen for the first time (~600 bytes): ${(u / 1000).toFixed(2)} µs`);
