// Scenario 7: gRPC health under abuse. Kubelet-style gRPC Checks (a new HTTP/2 connection each)
// and HTTP/1.1 probes on the same port, while other clients send garbage after the HTTP/2
// preface, stop halfway through it, open Watch streams and vanish, reset streams, and open more
// streams than a session allows. Every probe must get the right answer, the probe process must
// stay clean, and its file descriptors must come back to where they started.

import { connect as connectTcp } from 'node:net';
import { connect } from 'node:http2';
import { startProbeProcess } from '../lib/child.mjs';
import { randomSource } from '../lib/prng.mjs';
import { Findings, checkProcessClean, settle } from '../lib/scenario.mjs';
import { latencyFigures, nowMs, seconds, sleep } from '../lib/stats.mjs';
import { kubeProbe } from '../lib/wire.mjs';

export const title = 'gRPC health under abuse';

const PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1');
const CHECK = '/grpc.health.v1.Health/Check';
const WATCH = '/grpc.health.v1.Health/Watch';
const EMPTY_REQUEST = Buffer.from([0, 0, 0, 0, 0]);
const SERVING = Buffer.from([0, 0, 0, 0, 2, 0x08, 0x01]);

// One gRPC Check on a new connection, as kubelet's grpc-go client: resolves { ok, ms }.
function grpcCheck(port, timeoutMs = 5000) {
  return new Promise((resolve) => {
    const started = nowMs();
    const session = connect(`http://127.0.0.1:${port}`);
    const timer = setTimeout(() => done(false, 'timeout'), timeoutMs);
    let body = Buffer.alloc(0);
    let trailers;
    function done(ok, why) {
      clearTimeout(timer);
      session.destroy();
      resolve({ ok, why, ms: nowMs() - started });
    }
    session.on('error', (error) => done(false, String(error)));
    const stream = session.request({ ':method': 'POST', ':path': CHECK, 'content-type': 'application/grpc', te: 'trailers', 'grpc-timeout': '2S' });
    stream.on('error', (error) => done(false, String(error)));
    stream.on('data', (chunk) => (body = Buffer.concat([body, chunk])));
    stream.on('trailers', (t) => (trailers = t));
    stream.on('close', () => done(body.equals(SERVING) && trailers?.['grpc-status'] === '0', { body: body.toString('hex'), trailers }));
    stream.end(EMPTY_REQUEST);
  });
}

// One abusive client, chosen at random; resolves when it has done its damage.
async function abuse(port, rnd, open) {
  const r = rnd.next();
  if (r < 0.2) {
    // Garbage after the preface.
    const socket = connectTcp(port, '127.0.0.1');
    socket.on('error', () => {});
    socket.resume();
    socket.write(Buffer.concat([PREFACE, Buffer.from(Array.from({ length: 64 }, () => Math.floor(rnd.next() * 256)))]));
    open.add(socket);
    socket.on('close', () => open.delete(socket));
  } else if (r < 0.35) {
    // Half a preface, then silence (the probe's head timeout closes it).
    const socket = connectTcp(port, '127.0.0.1');
    socket.on('error', () => {});
    socket.resume();
    socket.write(PREFACE.subarray(0, 1 + Math.floor(rnd.next() * 20)));
    open.add(socket);
    socket.on('close', () => open.delete(socket));
  } else if (r < 0.6) {
    // Watch streams, then the client vanishes without a word.
    const session = connect(`http://127.0.0.1:${port}`);
    session.on('error', () => {});
    for (let i = 0; i < 5; i++) {
      const stream = session.request({ ':method': 'POST', ':path': WATCH, 'content-type': 'application/grpc' });
      stream.on('error', () => {});
      stream.resume();
      stream.end(EMPTY_REQUEST);
    }
    await sleep(20 + rnd.next() * 100);
    session.destroy();
  } else if (r < 0.8) {
    // Streams reset right after they open, and requests that never end.
    const session = connect(`http://127.0.0.1:${port}`);
    session.on('error', () => {});
    for (let i = 0; i < 20; i++) {
      const stream = session.request({ ':method': 'POST', ':path': CHECK, 'content-type': 'application/grpc' });
      stream.on('error', () => {});
      if (i % 2 === 0) stream.close(0x8);
      else stream.write(EMPTY_REQUEST.subarray(0, 3));
    }
    await sleep(50);
    session.destroy();
  } else {
    // More streams at once than the session allows, then goes away.
    const session = connect(`http://127.0.0.1:${port}`, { peerMaxConcurrentStreams: 1000 });
    session.on('error', () => {});
    for (let i = 0; i < 150; i++) {
      const stream = session.request({ ':method': 'POST', ':path': CHECK, 'content-type': 'application/grpc' });
      stream.on('error', () => {});
      stream.resume();
      stream.end(EMPTY_REQUEST);
    }
    await sleep(100);
    session.destroy();
  }
}

export async function run({ seed, short }) {
  const durationMs = short ? 3000 : 15000;
  const findings = new Findings();
  const rnd = randomSource(seed);
  // gRPC needs the default server, whatever SERVICE_PROBE_SERVER says.
  const probe = await startProbeProcess({ server: 'net', headersTimeoutMs: 1000, requestTimeoutMs: 1000, keepAliveTimeoutMs: 1000 }, { state: 'READY' });
  const started = nowMs();
  const open = new Set();
  try {
    // node:http2 is loaded on the first gRPC connection: count fds from after it.
    for (let i = 0; i < 3; i++) await grpcCheck(probe.port);
    const baseFds = await settle(() => probe.fds(), 0, 300);
    const grpcLatencies = [];
    const httpLatencies = [];
    let abusers = 0;
    const until = nowMs() + durationMs;
    const attackers = (async () => {
      while (nowMs() < until) {
        await Promise.all(Array.from({ length: 4 }, () => abuse(probe.port, rnd, open)));
        abusers += 4;
        await sleep(10);
      }
    })();
    while (nowMs() < until) {
      const grpc = await grpcCheck(probe.port);
      grpcLatencies.push(grpc.ms);
      findings.check(grpc.ok, 'gRPC Check not SERVING during abuse', () => grpc.why);
      try {
        const http = await kubeProbe(probe.port, '/ready', 5000);
        httpLatencies.push(http.ms);
        findings.check(http.status === 200 && http.body === 'READY', 'wrong HTTP answer during abuse', () => http);
      } catch (error) {
        findings.fail('HTTP probe failed during abuse', String(error));
      }
      await sleep(10);
    }
    await attackers;
    for (const socket of open) socket.destroy();
    const fds = await settle(() => probe.fds(), baseFds, 5000);
    findings.check(fds <= baseFds, 'file descriptors leaked after the abuse', () => ({ before: baseFds, after: fds }));
    const end = await probe.call('stats', { gc: true });
    checkProcessClean(findings, probe, end);
    const g = latencyFigures(grpcLatencies);
    const h = latencyFigures(httpLatencies);
    return {
      findings,
      figures: { abusers, grpc: g, http: h, baseFds, fds },
      line: `${abusers} abusive HTTP/2 clients over ${seconds(durationMs)} s; ${grpcLatencies.length} gRPC Checks (new connection each) ${g.text}; ${httpLatencies.length} HTTP probes ${h.text}; fds ${fds} (${baseFds} at rest); ${seconds(nowMs() - started)} s`,
    };
  } finally {
    for (const socket of open) socket.destroy();
    await probe.close();
  }
}
