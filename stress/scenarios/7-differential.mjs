// Scenario 7: the node:net reader against node:http, 20,000 seeded requests (stress/lib/
// differential.mjs). Each server runs in a process of its own; every difference not on the kept
// list (docs/design.md, "node:http vs node:net") fails, and neither process may throw or log an error.

import { startProbeProcess } from '../lib/child.mjs';
import { KEPT_DIFFERENCES, LIMITS, runDifferential } from '../lib/differential.mjs';
import { Findings, checkProcessClean } from '../lib/scenario.mjs';
import { nowMs, seconds } from '../lib/stats.mjs';

export const title = 'node:net reader vs node:http';

export async function run({ seed, short }) {
  const count = short ? 300 : 20_000;
  const findings = new Findings();
  const net = await startProbeProcess({ server: 'net', ...LIMITS }, { state: 'READY' });
  const http = await startProbeProcess({ server: 'http', ...LIMITS }, { state: 'READY' });
  const started = nowMs();
  try {
    const result = await runDifferential({ seed, count, netPort: net.port, httpPort: http.port, concurrency: 64 });
    for (const difference of result.differences) findings.fail(`a difference not on the kept list (${difference.kind})`, difference);
    for (const [name, probe] of [['net', net], ['http', http]]) {
      const stats = await probe.call('stats');
      const before = findings.ok;
      checkProcessClean(findings, probe, stats);
      if (before && !findings.ok) findings.fail(`the ${name} server's process was not clean`);
    }
    const kept = KEPT_DIFFERENCES.map((k, i) => `${i + 1}:${result.kept.get(k.name) ?? 0}`).join(' ');
    return {
      findings,
      figures: { cases: count, differences: result.differences.length, rerun: result.retried, kept: Object.fromEntries(result.kept) },
      line: `${count} cases in ${seconds(nowMs() - started)} s: ${result.differences.length} differences not on the kept list; kept differences seen (docs/design.md order) ${kept}; ${result.retried} rerun alone`,
    };
  } finally {
    await Promise.all([net.close(), http.close()]);
  }
}
