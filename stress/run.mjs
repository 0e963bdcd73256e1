#!/usr/bin/env node
// `npm run stress`: runs the reliability scenarios against a real probe in a child process and
// prints one figure line per scenario. Exits 1 when any scenario loses.
//
//   node stress/run.mjs [--seed N] [--short] [--only 1,3]      (or STRESS_SEED=N; default DEFAULT_SEED)

import { parseArgs } from 'node:util';
import os from 'node:os';
import { DEFAULT_SEED, scenarioSeed } from './lib/prng.mjs';
import { SCENARIOS } from './scenarios/index.mjs';

const { values } = parseArgs({
  options: { seed: { type: 'string' }, short: { type: 'boolean', default: false }, only: { type: 'string' } },
});
const seedText = values.seed ?? process.env.STRESS_SEED ?? String(DEFAULT_SEED);
const seed = Number(seedText);
if (!Number.isInteger(seed) || seed < 0 || seed >= 2 ** 32) {
  console.error(`stress: --seed must be an integer from 0 to 2^32-1, got ${JSON.stringify(seedText)}`);
  process.exit(2);
}
const only = values.only ? new Set(values.only.split(',').map((s) => s.trim())) : undefined;

console.log(
  `service-probe stress: seed ${seed} (rerun: npm run stress -- --seed ${seed})${values.short ? ', short' : ''}; ` +
    `node ${process.version}, ${os.cpus().length} × ${os.cpus()[0]?.model.trim()}, ${new Date().toISOString()}`,
);
const startedAt = performance.now();
let lost = 0;
for (const scenario of SCENARIOS) {
  if (only && !only.has(String(scenario.number))) continue;
  let result;
  try {
    result = await scenario.run({ seed: scenarioSeed(seed, scenario.number), short: values.short });
  } catch (error) {
    result = { findings: { ok: false, list: () => [`scenario crashed: ${error?.stack ?? error}`] }, line: 'did not finish' };
  }
  const ok = result.findings.ok;
  if (!ok) lost++;
  // The load average says how busy the (possibly shared) machine was while the figures were taken.
  console.log(`${scenario.number} ${scenario.title}: ${ok ? 'PASS' : 'FAIL'} ${result.line} [load avg ${os.loadavg()[0].toFixed(1)}]`);
  if (!ok) for (const finding of result.findings.list()) console.log(`    ✗ ${finding}`);
}
console.log(`${lost === 0 ? 'all scenarios passed' : `${lost} scenario(s) failed`} in ${((performance.now() - startedAt) / 1000).toFixed(0)} s (seed ${seed})`);
process.exit(lost === 0 ? 0 : 1);
