// Scenario 5: lifecycle. A thousand start/stop cycles of one probe, some with idle keep-alive
// clients attached and a few with a client stuck mid-request (which forces the grace period):
// every stop must end within the grace period, every client must be closed, and the process must
// end with the handles, file descriptors and heap it started with. A start on a taken port must
// fail cleanly and leave nothing behind.

import { connect } from 'node:net';
import { startProbeProcess } from '../lib/child.mjs';
import { randomSource } from '../lib/prng.mjs';
import { Findings, checkProcessClean, settle } from '../lib/scenario.mjs';
import { latencyFigures, mb, nowMs, seconds, sleep } from '../lib/stats.mjs';
import { KeepAliveClient } from '../lib/wire.mjs';

export const title = 'lifecycle';

const GRACE_MS = 500; // STOP_GRACE_PERIOD_MS
// A forced stop ends once the grace timer has fired and the sockets it destroyed have closed: a
// few ms past the grace period on a quiet machine. The short variant, inside `npm test` next to
// other suites, allows more.
const graceSlackMs = (short) => (short ? 250 : 50);

function countByType(resources) {
  const counts = {};
  for (const type of resources) counts[type] = (counts[type] ?? 0) + 1;
  return counts;
}

function closedPromise(socket) {
  return new Promise((resolve) => {
    if (socket.destroyed) resolve();
    else socket.once('close', resolve);
  });
}

export async function run({ seed, short }) {
  const cycles = short ? 150 : 1000;
  const stuckEvery = short ? 75 : 100;
  const crowdEvery = short ? 50 : 125;
  const crowdSize = short ? 50 : 300;
  const findings = new Findings();
  const rnd = randomSource(seed);
  const probe = await startProbeProcess({}, { start: false });
  const started = nowMs();
  try {
    // Warm-up cycles, then the baseline.
    for (let i = 0; i < 20; i++) {
      await probe.call('start');
      await probe.call('stop');
    }
    const baseFds = probe.fds();
    const base = await probe.call('stats', { gc: true });
    const baseResources = countByType(base.resources);

    const stopMs = [];
    let withClients = 0;
    let clientsAttached = 0;
    let forced = 0;
    let crowded = 0;
    let mid;
    for (let cycle = 0; cycle < cycles; cycle++) {
      if (cycle === cycles / 2) mid = await probe.call('stats', { gc: true });
      const { port } = await probe.call('start', { overrides: { host: '127.0.0.1', port: 0, state: rnd.pick(['UP', 'READY']) } });
      const sockets = [];
      if (rnd.chance(0.2)) {
        withClients++;
        const clients = Array.from({ length: rnd.int(1, 4) }, () => new KeepAliveClient(port));
        clientsAttached += clients.length;
        for (const client of clients) {
          await client.ready();
          const answer = await client.request(rnd.pick(['/ready', '/health']));
          findings.check(answer.status === 200 || answer.status === 503, 'bad answer from a started probe', answer.status);
          sockets.push(client);
        }
      }
      if (cycle % crowdEvery === crowdEvery - 1) {
        // A crowd of silent connections (no request yet) attached when stop is called.
        crowded++;
        const crowd = Array.from({ length: crowdSize }, () => {
          const socket = connect({ port, host: '127.0.0.1' });
          socket.on('error', () => {});
          socket.resume();
          return socket;
        });
        await Promise.all(crowd.map((socket) => new Promise((resolve) => socket.once('connect', resolve))));
        await sleep(20);
        for (const socket of crowd) sockets.push({ closed: () => closedPromise(socket), close: () => socket.destroy() });
      }
      let stuck;
      if (cycle % stuckEvery === stuckEvery - 1) {
        // A request head that never completes: the connection is not idle, so stop must wait for
        // it, then close it when the grace period is over.
        forced++;
        stuck = connect({ port, host: '127.0.0.1' });
        stuck.on('error', () => {});
        await new Promise((resolve) => stuck.once('connect', resolve));
        stuck.write('GET /ready HTTP/1.1\r\nHost: probe\r\n');
        await sleep(20);
      }
      const { ms } = await probe.call('stop');
      stopMs.push(ms);
      findings.check(ms <= GRACE_MS + graceSlackMs(short), `stop took longer than the ${GRACE_MS} ms grace period (+ ${graceSlackMs(short)} ms to close)`, () => ({ cycle, ms: Math.round(ms) }));
      const closing = [...sockets.map((c) => c.closed()), ...(stuck ? [closedPromise(stuck)] : [])];
      const allClosed = await Promise.race([Promise.all(closing).then(() => true), sleep(1000).then(() => false)]);
      findings.check(allClosed, 'a client connection was still open after stop', cycle);
      for (const client of sockets) client.close();
      stuck?.destroy();
      if (cycle % 50 === 0) {
        // Nothing listens after stop.
        const refused = await new Promise((resolve) => {
          const s = connect({ port, host: '127.0.0.1' });
          s.on('connect', () => {
            s.destroy();
            resolve(false);
          });
          s.on('error', (e) => resolve(e.code === 'ECONNREFUSED'));
        });
        findings.check(refused, 'the port still accepted connections after stop', { cycle, port });
      }
    }

    const failed = await probe.call('startOnTakenPort');
    findings.check(failed.code === 'SOCKET_UNAVAILABLE', 'a start on a taken port did not fail with SOCKET_UNAVAILABLE', failed.code);
    findings.check(failed.after.state === failed.before.state, 'a failed start changed the state', failed);
    // A leak is a kind of resource with more open after than before; one that closed meanwhile (a
    // socket of an earlier cycle finishing) is none.
    const beforeByType = countByType(failed.before.resources);
    const grew = Object.entries(countByType(failed.after.resources)).filter(([type, count]) => count > (beforeByType[type] ?? 0));
    findings.check(grew.length === 0, 'a failed start left a handle behind', { ...failed, grew });

    const fds = await settle(() => probe.fds(), baseFds);
    // Handles being closed stay listed until libuv's close callback: give them a moment.
    let end;
    let endResources;
    for (let i = 0; i < 20; i++) {
      end = await probe.call('stats', { gc: i === 0 });
      endResources = countByType(end.resources);
      if (JSON.stringify(endResources) === JSON.stringify(baseResources)) break;
      await sleep(50);
    }
    findings.check(JSON.stringify(endResources) === JSON.stringify(baseResources), 'handles or timers left behind', () => ({ before: baseResources, after: endResources }));
    findings.check(fds <= baseFds, 'file descriptors leaked', () => ({ before: baseFds, after: fds }));
    // As in scenario 1: a leak grows with the cycle count, warm-up does not.
    findings.check(end.heapUsed <= mid.heapUsed + 524288, 'heap grew during the second half of the cycles', () => ({ mid: mb(mid.heapUsed), end: mb(end.heapUsed) }));
    findings.check(end.heapUsed <= base.heapUsed + 2097152, 'heap grew over the cycles', () => ({ before: mb(base.heapUsed), after: mb(end.heapUsed) }));
    // Each forced stop logs two errors (server, probe); nothing else may log one.
    findings.check(end.loggedErrors === 2 * forced, 'unexpected errors logged', () => end.firstProblems);
    checkProcessClean(findings, probe, end, { allowLoggedErrors: true });

    const normal = latencyFigures(stopMs.filter((_, i) => i % stuckEvery !== stuckEvery - 1));
    const slow = latencyFigures(stopMs.filter((_, i) => i % stuckEvery === stuckEvery - 1));
    const handles = Object.entries(endResources).map(([k, v]) => `${k}×${v}`).join(' ');
    return {
      findings,
      figures: { cycles, withClients, clientsAttached, crowded, crowdSize, forced, stop: normal, forcedStop: slow, heapBefore: base.heapUsed, heapAfter: end.heapUsed, fdsBefore: baseFds, fdsAfter: fds },
      line:
        `${cycles} start/stop cycles (${withClients} with ${clientsAttached} keep-alive clients attached, ${crowded} with ${crowdSize} silent connections, ${forced} with a stuck request): ` +
        `stop ${normal.text}; forced stops max ${slow.max.toFixed(0)} ms (grace ${GRACE_MS} ms); all clients closed; ` +
        `failed start on a taken port: ${failed.code}, nothing left; handles after: ${handles}; fds ${baseFds} → ${fds}; ` +
        `heap after GC ${mb(base.heapUsed)} → ${mb(mid.heapUsed)} (half-way) → ${mb(end.heapUsed)} MB; ${seconds(nowMs() - started)} s`,
    };
  } finally {
    await probe.close();
  }
}
