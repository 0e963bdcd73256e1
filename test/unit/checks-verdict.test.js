// The pure decisions with check results: state × check results → status and effective state word,
// and the golden verbose text and application/health+json bodies.
import { test } from 'node:test';
import assert from 'node:assert/strict';
// Pure modules, tested on their own in the shipped code (dist/internal.js re-exports them).
import { checksVerdict as fromBase, singleCheckVerdict, stateVerdict, renderDetailed, renderHealthJson, renderVerboseText, stateText } from '../../dist/internal.js';

const checksVerdict = (endpoint, state, started, outcomes) => fromBase(endpoint, stateVerdict(endpoint, state, started), outcomes);

const TIME = Date.UTC(2026, 0, 2, 3, 4, 5, 678);
const outcome = (name, ok, extra = {}) => ({
  name,
  ok,
  critical: true,
  readiness: true,
  liveness: false,
  time: TIME,
  durationMs: 1.234,
  ...extra,
});
const liveness = { readiness: false, liveness: true };

test('verdicts with checks follow the endpoint rules (table)', () => {
  const rows = [
    // endpoint, state, outcomes, passes, word
    ['ready', 'READY', [], true, 'READY'],
    ['ready', 'READY', [outcome('db', true)], true, 'READY'],
    ['ready', 'READY', [outcome('db', false)], false, 'UP'],
    ['ready', 'READY', [outcome('db', false, { critical: false })], true, 'READY'],
    ['ready', 'UP', [outcome('db', true)], false, 'UP'],
    ['ready', 'DRAINING', [outcome('db', false)], false, 'DRAINING'],
    ['ready', 'READY', [outcome('loop', false, liveness)], false, 'DOWN'],
    ['health', 'READY', [outcome('loop', true, liveness)], true, 'READY'],
    ['health', 'READY', [outcome('loop', false, liveness)], false, 'DOWN'],
    ['health', 'UP', [outcome('loop', false, { ...liveness, critical: false })], true, 'UP'],
    ['health', 'DOWN', [outcome('loop', true, liveness)], false, 'DOWN'],
    ['health', 'DRAINING', [outcome('loop', true, liveness)], true, 'DRAINING'],
    ['started', 'UP', [outcome('db', false)], false, 'UP'],
  ];
  for (const [endpoint, state, outcomes, passes, word] of rows) {
    const verdict = checksVerdict(endpoint, state, false, outcomes);
    assert.deepEqual([verdict.pass, verdict.word], [passes, word], `${endpoint} ${state} ${JSON.stringify(outcomes.map((o) => [o.name, o.ok, o.critical]))}`);
  }
});

test('the overall JSON status is fail for a 503, warn when a non-critical check fails, else pass', () => {
  assert.equal(checksVerdict('ready', 'READY', true, [outcome('a', true)]).health, 'pass');
  assert.equal(checksVerdict('ready', 'READY', true, [outcome('a', false, { critical: false })]).health, 'warn');
  assert.equal(checksVerdict('ready', 'READY', true, [outcome('a', false)]).health, 'fail');
  assert.equal(checksVerdict('ready', 'UP', false, [outcome('a', true)]).health, 'fail');
});

test('one check alone fails only when it fails and is critical, whatever the state', () => {
  assert.equal(singleCheckVerdict('UP', outcome('db', true)).pass, true);
  assert.equal(singleCheckVerdict('READY', outcome('db', false)).pass, false);
  assert.equal(singleCheckVerdict('READY', outcome('db', false, { critical: false })).pass, true);
});

const MIXED = [
  outcome('postgres', true, { observedValue: 3.2, observedUnit: 'ms' }),
  outcome('cache', false, { critical: false, output: 'ECONNREFUSED 127.0.0.1:6379' }),
  outcome('queue', false, { output: 'timed out after 1000 ms' }),
];

test('golden: verbose text withholds reasons by default', () => {
  const verdict = checksVerdict('ready', 'READY', true, MIXED);
  assert.equal(
    renderVerboseText(verdict, false),
    '[+]postgres ok\n[+]cache warn: reason withheld\n[-]queue failed: reason withheld\nUP\n',
  );
});

test('golden: verbose text shows reasons with exposeDetails', () => {
  const verdict = checksVerdict('ready', 'READY', true, MIXED);
  assert.equal(
    renderVerboseText(verdict, true),
    '[+]postgres ok\n[+]cache warn: ECONNREFUSED 127.0.0.1:6379\n[-]queue failed: timed out after 1000 ms\nUP\n',
  );
});

test('golden: application/health+json without and with exposeDetails', () => {
  const verdict = checksVerdict('ready', 'READY', true, MIXED);
  const time = '2026-01-02T03:04:05.678Z';
  assert.equal(
    renderHealthJson(verdict, false),
    `{
  "status": "fail",
  "state": "UP",
  "checks": {
    "postgres": [
      {
        "status": "pass",
        "observedValue": 3.2,
        "observedUnit": "ms",
        "time": "${time}",
        "durationMs": 1.23
      }
    ],
    "cache": [
      {
        "status": "warn",
        "time": "${time}",
        "durationMs": 1.23
      }
    ],
    "queue": [
      {
        "status": "fail",
        "time": "${time}",
        "durationMs": 1.23
      }
    ]
  }
}
`,
  );
  const exposed = JSON.parse(renderHealthJson(verdict, true));
  assert.equal(exposed.checks.cache[0].output, 'ECONNREFUSED 127.0.0.1:6379');
  assert.equal(exposed.checks.queue[0].output, 'timed out after 1000 ms');
  assert.equal('output' in exposed.checks.postgres[0], false);
});

test('plain text with checks is the same precomputed state-word answer', () => {
  const verdict = checksVerdict('ready', 'READY', true, [outcome('db', false)]);
  assert.equal(renderDetailed(verdict, 'text', false, false), stateText({ pass: false, word: 'UP' }));
  assert.equal(renderDetailed(verdict, 'text', false, false).status, 503);
  const json = renderDetailed(verdict, 'json', false, false);
  assert.equal(json.status, 503);
  assert.deepEqual(json.headers.slice(0, 2), ['Content-Type', 'application/health+json']);
  assert.equal(json.headers[3], String(json.body.length));
});

test('checks build on the state verdict they are given: a passing DRAINING /ready passes until a check fails', () => {
  const passingDraining = { pass: true, word: 'DRAINING' };
  assert.deepEqual(pickVerdict(fromBase('ready', passingDraining, [outcome('db', true)])), [true, 'DRAINING']);
  assert.deepEqual(pickVerdict(fromBase('ready', passingDraining, [outcome('db', false)])), [false, 'DRAINING']);
});

function pickVerdict({ pass, word }) {
  return [pass, word];
}
