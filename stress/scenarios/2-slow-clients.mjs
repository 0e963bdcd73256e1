// Scenario 2: slow clients. Half the connections send their request head one byte a second
// (slowloris), half connect and send nothing, and a few make one request and then sit idle. Meanwhile kubelet-style probes on fresh connections
// must be answered fast, and the probe's timeouts must close every slow connection.

import { connect } from 'node:net';
import { startProbeProcess } from '../lib/child.mjs';
import { randomSource } from '../lib/prng.mjs';
import { Findings, checkProcessClean, settle } from '../lib/scenario.mjs';
import { latencyFigures, nowMs, seconds, sleep } from '../lib/stats.mjs';
import { kubeProbe } from '../lib/wire.mjs';

export const title = 'slow clients';

function openSlow(port, kind, rnd) {
  const socket = connect({ port, host: '127.0.0.1' });
  const conn = { kind, socket, openedAt: nowMs(), closedAt: undefined, answer: '' };
  socket.setEncoding('latin1');
  socket.on('data', (chunk) => {
    conn.answer += chunk;
  });
  socket.on('error', () => {});
  socket.on('close', () => {
    conn.closedAt = nowMs();
  });
  if (kind === 'keep-alive') {
    // One complete request, then silence: closed by keepAliveTimeoutMs.
    socket.once('connect', () => socket.write('GET /ready HTTP/1.1\r\nHost: probe\r\n\r\n'));
  }
  if (kind === 'slowloris') {
    socket.once('connect', () => {
      // A real head start, then the rest one byte at a time: it never completes.
      socket.write(`GET /ready HTTP/1.1\r\nHost: probe\r\nX-Slow-${rnd.int(0, 1e6)}: `);
    });
  }
  return conn;
}

export async function run({ seed, short }) {
  const perKind = short ? 60 : 500;
  // The full run proves the defaults (headers timeout 10 s); the short one uses 1 s to stay short.
  const limits = short ? { headersTimeoutMs: 1000, requestTimeoutMs: 2000, keepAliveTimeoutMs: 500 } : {};
  const headersTimeoutMs = limits.headersTimeoutMs ?? 10_000;
  const keepAliveTimeoutMs = limits.keepAliveTimeoutMs ?? 5_000;
  // A few, so that all the connections stay under the default cap (1024) and none is closed by it.
  const keepAliveCount = short ? 12 : 20;
  const checkingIntervalMs = Math.min(1000, headersTimeoutMs);
  // A connection may live for the timeout, plus one check interval of node:http, plus scheduling slack.
  const closeLimitMs = headersTimeoutMs + checkingIntervalMs + 1000;
  // The bound (p99 50 ms); the short variant, inside `npm test`, allows kubelet's default
  // probe timeout (1 s): it proves the probe is not held up, not how fast it is.
  const latencyLimitMs = short ? 1000 : 50;
  const findings = new Findings();
  const rnd = randomSource(seed);
  const probe = await startProbeProcess(limits, { state: 'READY' });
  const started = nowMs();
  const conns = [];
  let drip;
  try {
    for (let i = 0; i < 5; i++) await kubeProbe(probe.port);
    const baseFds = probe.fds();

    // Open in steps, so the listen backlog is not what is measured.
    for (let i = 0; i < perKind; i += 50) {
      for (let j = i; j < Math.min(perKind, i + 50); j++) {
        conns.push(openSlow(probe.port, 'slowloris', rnd), openSlow(probe.port, 'idle', rnd));
      }
      await sleep(10);
    }
    for (let i = 0; i < keepAliveCount; i++) conns.push(openSlow(probe.port, 'keep-alive', rnd));
    const opened = nowMs();
    drip = setInterval(() => {
      for (const c of conns) if (c.kind === 'slowloris' && c.closedAt === undefined && !c.socket.destroyed) c.socket.write('a');
    }, 1000);

    let peakHeld = 0;
    let peakFds = 0;
    const latencies = [];
    const deadline = opened + closeLimitMs + 2000;
    while (nowMs() < deadline) {
      const held = conns.filter((c) => c.closedAt === undefined).length;
      peakHeld = Math.max(peakHeld, held);
      if (held === 0) break;
      if (latencies.length % 10 === 0) peakFds = Math.max(peakFds, probe.fds());
      try {
        const answer = await kubeProbe(probe.port, '/ready', 5000);
        latencies.push(answer.ms);
        findings.check(answer.status === 200 && answer.body === 'READY', 'wrong answer to a probe request', () => answer);
      } catch (error) {
        findings.fail('probe request failed', String(error));
      }
      await sleep(20);
    }
    clearInterval(drip);

    const lived = { slowloris: [], idle: [], 'keep-alive': [] };
    let answered408 = 0;
    for (const c of conns) {
      if (c.closedAt === undefined) {
        findings.fail(`${c.kind} connection still open after ${closeLimitMs} ms`);
        continue;
      }
      lived[c.kind].push(c.closedAt - c.openedAt);
      if (c.kind === 'keep-alive') {
        // Answered, then closed by the keep-alive timeout: a socket timer that node:http sets 1 s
        // past keepAliveTimeout (so a client honouring `Keep-Alive: timeout=N` never races the
        // close), plus scheduling slack.
        const keepAliveLimitMs = keepAliveTimeoutMs + 1000 + 1000;
        findings.check(c.answer.startsWith('HTTP/1.1 200 '), 'keep-alive connection not answered', () => c.answer.slice(0, 80));
        findings.check(c.closedAt - c.openedAt <= keepAliveLimitMs, `idle keep-alive connection held longer than ${keepAliveLimitMs} ms`, () => Math.round(c.closedAt - c.openedAt));
        continue;
      }
      if (c.answer.startsWith('HTTP/1.1 408 ')) answered408++;
      findings.check(c.closedAt - c.openedAt <= closeLimitMs, `${c.kind} connection held longer than ${closeLimitMs} ms`, () => Math.round(c.closedAt - c.openedAt));
      findings.check(c.answer === '' || /^HTTP\/1\.1 408 /.test(c.answer), `${c.kind} connection got an unexpected answer`, () => c.answer.slice(0, 80));
    }
    const lat = latencyFigures(latencies);
    findings.check(lat.p99 <= latencyLimitMs, `probe p99 over ${latencyLimitMs} ms while slow clients were held`, lat.text);
    const fds = await settle(() => probe.fds(), baseFds);
    findings.check(fds <= baseFds, 'file descriptors leaked', () => ({ before: baseFds, after: fds }));
    const end = await probe.call('stats', { gc: true });
    checkProcessClean(findings, probe, end);

    const maxLived = (list) => (list.length ? Math.max(...list) : NaN);
    return {
      findings,
      figures: { connections: conns.length, peakHeld, probes: latencies.length, probeLatency: lat, slowlorisMaxMs: maxLived(lived.slowloris), idleMaxMs: maxLived(lived.idle), keepAliveMaxMs: maxLived(lived['keep-alive']), headersTimeoutMs, keepAliveTimeoutMs },
      line:
        `${perKind} slowloris + ${perKind} silent + ${keepAliveCount} keep-alive connections (peak ${peakHeld} held, probe fds peak ${peakFds}), headersTimeoutMs ${headersTimeoutMs}${short ? ' (shortened)' : ' (default)'}: ` +
        `all closed by the probe, slowloris after ≤ ${seconds(maxLived(lived.slowloris))} s (${answered408} answered 408), idle after ≤ ${seconds(maxLived(lived.idle))} s (limit ${seconds(closeLimitMs)} s), ` +
        `${keepAliveCount} idle keep-alive after ≤ ${seconds(maxLived(lived['keep-alive']))} s (keepAliveTimeoutMs ${keepAliveTimeoutMs}${short ? ', shortened' : ', default'}, + node's 1 s buffer); ` +
        `${latencies.length} kubelet-style probes meanwhile ${lat.text} (p99 limit ${latencyLimitMs} ms); fds ${baseFds} → ${fds}; ${seconds(nowMs() - started)} s`,
    };
  } finally {
    clearInterval(drip);
    for (const c of conns) c.socket.destroy();
    await probe.close();
  }
}
