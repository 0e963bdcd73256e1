// Scenario 6: sustained load while the state changes 100 times a second. Every answer must show a
// state that held at some instant between the request's send and its answer (checked against the
// probe process's own timeline of changes, on the monotonic clock both processes share), with the
// status that state gives the endpoint, and no answer may be an error.

import { startProbeProcess } from '../lib/child.mjs';
import { randomSource } from '../lib/prng.mjs';
import { Findings, checkProcessClean, settle } from '../lib/scenario.mjs';
import { latencyFigures, mb, nowMs, seconds, sleep } from '../lib/stats.mjs';
import { KeepAliveClient } from '../lib/wire.mjs';

export const title = 'load with state changes';

const STATES = ['UP', 'READY', 'DRAINING', 'DOWN'];
const PATHS = ['/ready', '/health', '/', '/live', '/ready/', '/health/'];
const IS_READY_PATH = PATHS.map((p) => p.startsWith('/ready'));
const FLIP_EVERY_MS = 10;

function expectedStatus(readyPath, word) {
  if (readyPath) return word === 'READY' ? 200 : 503;
  return word === 'DOWN' ? 503 : 200;
}

// Index of the last element ≤ value in a sorted array (-1 if none).
function lastAtMost(sorted, value) {
  let lo = 0;
  let hi = sorted.length - 1;
  let found = -1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    if (sorted[mid] <= value) {
      found = mid;
      lo = mid + 1;
    } else hi = mid - 1;
  }
  return found;
}

/**
 * The timeline is [before ns, after ns, state index] per change; change k's state held from
 * before_k (it may already be visible then) to after_{k+1} (it may still be visible then).
 * Returns the states that held at some instant of [sentNs, receivedNs].
 */
function statesDuring(before, after, stateAt, sentNs, receivedNs) {
  const last = lastAtMost(before, receivedNs);
  // The first change still in force at sentNs: the one whose successor was not done by then.
  let first = lastAtMost(after, sentNs - 1); // changes done strictly before sentNs
  if (first < 0) first = 0;
  const states = new Set();
  for (let k = first; k <= last; k++) {
    if (k + 1 < after.length && after[k + 1] < sentNs) continue;
    states.add(stateAt[k]);
  }
  return states;
}

export async function run({ seed, short }) {
  const durationMs = short ? 3_000 : 60_000;
  const clientCount = short ? 8 : 16;
  const findings = new Findings();
  const rnd = randomSource(seed);
  const probe = await startProbeProcess({}, { state: 'UP' });
  const clients = [];
  try {
    const baseFds = probe.fds();
    for (let i = 0; i < clientCount; i++) clients.push(new KeepAliveClient(probe.port));
    await Promise.all(clients.map((c) => c.ready()));
    const base = await probe.call('stats', { gc: true });
    await probe.call('flip', { everyMs: FLIP_EVERY_MS, seed: rnd.int(0, 2 ** 31), states: STATES });
    await sleep(50);

    const sent = [];
    const received = [];
    const pathIndex = [];
    const status = [];
    const word = [];
    let errors = 0;
    let peakRss = 0;
    const started = nowMs();
    const until = started + durationMs;
    const sampler = setInterval(() => {
      probe.call('stats').then((s) => {
        peakRss = Math.max(peakRss, s.rss);
      }, () => {});
    }, 1000);
    await Promise.all(
      clients.map(async (client, c) => {
        let n = c;
        while (nowMs() < until) {
          const p = n++ % PATHS.length;
          try {
            const answer = await client.request(PATHS[p]);
            sent.push(answer.sentNs);
            received.push(answer.receivedNs);
            pathIndex.push(p);
            status.push(answer.status);
            word.push(STATES.indexOf(answer.body)); // -1: not a state word
          } catch (error) {
            errors++;
            findings.fail('request failed', String(error));
            return;
          }
        }
      }),
    );
    const elapsedMs = nowMs() - started;
    clearInterval(sampler);
    await sleep(50);
    const { timeline } = await probe.call('stopFlipping');

    const before = timeline.map((t) => t[0]);
    const after = timeline.map((t) => t[1]);
    const stateAt = timeline.map((t) => STATES[t[2]]);
    let straddled = 0;
    let inconsistent = 0;
    const perWord = {};
    const latencies = new Float64Array(sent.length);
    for (let i = 0; i < sent.length; i++) {
      latencies[i] = (received[i] - sent[i]) / 1e6;
      const w = STATES[word[i]] ?? 'not a state word';
      perWord[w] = (perWord[w] ?? 0) + 1;
      if (status[i] !== 200 && status[i] !== 503) {
        findings.fail('error response', { status: status[i], body: w });
        continue;
      }
      findings.check(status[i] === expectedStatus(IS_READY_PATH[pathIndex[i]], w), 'status does not match the state word', () => ({ path: PATHS[pathIndex[i]], status: status[i], word: w }));
      const live = statesDuring(before, after, stateAt, sent[i], received[i]);
      if (live.size > 1) straddled++;
      if (!live.has(w)) {
        inconsistent++;
        findings.fail('answer shows a state that did not hold during the request', { word: w, live: [...live], ms: latencies[i] });
      }
    }
    const changes = timeline.length - 1;
    const flipSpanMs = (after[after.length - 1] - after[1]) / 1e6;
    const changesPerSecond = changes / (flipSpanMs / 1000);
    // The timer may lag under load; the scenario is only honest if the changes kept coming.
    findings.check(changesPerSecond >= 50, 'states changed fewer than 50 times a second', changesPerSecond.toFixed(0));
    for (const client of clients) client.close();
    const fds = await settle(() => probe.fds(), baseFds);
    const end = await probe.call('stats', { gc: true });
    checkProcessClean(findings, probe, end);
    findings.check(fds <= baseFds, 'file descriptors leaked', { before: baseFds, after: fds });
    const lat = latencyFigures(latencies);
    const rate = sent.length / (elapsedMs / 1000);
    return {
      findings,
      figures: { durationMs: elapsedMs, clients: clientCount, requests: sent.length, rate, changes, changesPerSecond, straddled, latency: lat, errors, rssBefore: base.rss, rssPeak: peakRss, heapBefore: base.heapUsed, heapAfter: end.heapUsed },
      line:
        `${sent.length} requests in ${seconds(elapsedMs)} s over ${clientCount} keep-alive connections (${rate.toFixed(0)}/s), ${changes} state changes (${changesPerSecond.toFixed(0)}/s): ` +
        `${inconsistent === 0 ? 'every' : `${inconsistent} did not show a state that held during their request; every other`} answer showed a state that held during its request (${straddled} requests spanned a change), ${errors} errors; ` +
        `latency ${lat.text}; words ${Object.entries(perWord).map(([k, v]) => `${k}×${v}`).join(' ')}; rss ${mb(base.rss)} MB → peak ${mb(peakRss)} MB, heap after GC ${mb(base.heapUsed)} → ${mb(end.heapUsed)} MB; fds ${baseFds} → ${fds}`,
    };
  } finally {
    for (const client of clients) client.close();
    await probe.close();
  }
}
