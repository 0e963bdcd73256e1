// The node:net reader (the default server) against node:http, request by request: thousands of
// seeded requests (valid ones of every shape the probe answers, random bytes, TLS and HTTP/2
// prefaces, bare LF, lone CR, obs-fold, control bytes, framing headers, heads around
// maxHeaderSize, pipelined batches, 1-byte writes) go to both servers over fresh connections, and
// the answers must be the same: status lines, headers but Date, bodies, how many, whether the
// server closed, and whether it answered at once or only at a timeout. Only the kept differences
// listed in docs/design.md ("node:http vs node:net") are allowed.
//
// Fixed seed by default; explore others with DIFFERENTIAL_SEED=<n> (and DIFFERENTIAL_CASES=<n>),
// or `node test/wire/differential.test.js --seed <n> --cases <n>`. `npm run stress` runs 20,000.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseArgs } from 'node:util';
import { createProbe } from '../../dist/index.js';
import { KEPT_DIFFERENCES, LIMITS, runDifferential } from '../../stress/lib/differential.mjs';

const { values } = parseArgs({ options: { seed: { type: 'string' }, cases: { type: 'string' } }, strict: false });
const seed = Number(values.seed ?? process.env.DIFFERENTIAL_SEED ?? 20261201);
const count = Number(values.cases ?? process.env.DIFFERENTIAL_CASES ?? 2400);

async function bothServers(t) {
  const net = createProbe({ host: '127.0.0.1', port: 0, state: 'READY', server: 'net', ...LIMITS });
  const http = createProbe({ host: '127.0.0.1', port: 0, state: 'READY', server: 'http', ...LIMITS });
  t.after(() => Promise.all([net.stop(), http.stop()]));
  const [{ port: netPort }, { port: httpPort }] = await Promise.all([net.start(), http.start()]);
  return { netPort, httpPort };
}

test(`the node:net reader answers ${count} seeded requests as node:http does, but for the documented kept differences (seed ${seed})`, async (t) => {
  const ports = await bothServers(t);
  const started = performance.now();
  const result = await runDifferential({ seed, count, ...ports });
  const kept = [...result.kept].map(([name, n]) => `${n}× ${name}`).join('\n  ');
  t.diagnostic(`${count} cases in ${((performance.now() - started) / 1000).toFixed(1)} s; ${result.retried} rerun alone; kept differences seen:\n  ${kept}`);
  assert.deepEqual(result.differences.slice(0, 5), [], `seed ${seed}: ${result.differences.length} difference(s) not on the kept list (rerun: DIFFERENTIAL_SEED=${seed} node --test test/wire/differential.test.js)`);
});

test("every kept difference is one docs/design.md lists, in its kept-differences section", async () => {
  const { readFile } = await import('node:fs/promises');
  const page = await readFile(new URL('../../docs/design.md', import.meta.url), 'utf8');
  const start = page.indexOf('Kept differences, each safer or stricter than node:http');
  assert.notEqual(start, -1, 'docs/design.md has no kept-differences list');
  const list = page.slice(start, page.indexOf('\n\n', page.indexOf('\n- ', start))).replace(/\s+/g, ' ');
  for (const kept of KEPT_DIFFERENCES) assert.ok(list.includes(kept.name), `docs/design.md lists: ${kept.name}`);
});
