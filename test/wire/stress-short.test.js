// The reliability scenarios of `npm run stress` (stress/), with smaller counts and shorter
// timeouts so they fit in `npm test`. Seeded, with a fixed seed by default (the same inputs on every
// run); a failure prints its seed. Try another with STRESS_SEED=<seed> npm test, or the full run
// with npm run stress -- --seed <seed>.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DEFAULT_SEED, scenarioSeed } from '../../stress/lib/prng.mjs';
import { SCENARIOS } from '../../stress/scenarios/index.mjs';

const seed = process.env.STRESS_SEED === undefined ? DEFAULT_SEED : Number(process.env.STRESS_SEED);

const CLAIMS = {
  1: 'hostile and malformed HTTP never crashes, echoes, leaks or slows the probe',
  2: 'slowloris and idle connections are closed by the timeouts while probes are answered',
  3: 'connection floods past the cap leave the probe answering and leak no file descriptor',
  4: 'misbehaving checks under load never hold a request past its timeout or leave a rejection unhandled',
  5: 'start/stop cycles leave no handle, timer or socket behind and stop within the grace period',
  6: 'under load with 100 state changes a second every answer shows a state that held during its request',
  7: 'the node:net reader answers seeded requests as node:http does, but for the kept differences',
  8: 'abusive HTTP/2 clients never crash or leak, while gRPC and HTTP probes on the same port keep their answers',
};

for (const scenario of SCENARIOS) {
  test(`stress (short): ${CLAIMS[scenario.number] ?? scenario.title}`, async (t) => {
    const result = await scenario.run({ seed: scenarioSeed(seed, scenario.number), short: true });
    t.diagnostic(`seed ${seed}: ${result.line}`);
    assert.ok(result.findings.ok, `seed ${seed} (rerun: STRESS_SEED=${seed} npm test):\n${result.findings.list().join('\n')}`);
  });
}
