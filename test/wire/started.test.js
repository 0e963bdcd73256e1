// /started, for a Kubernetes startupProbe: 503 until the probe has been READY once (or
// markStarted()), then 200 for the rest of the process; whenStarted() resolves at that moment.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createProbe } from '../../dist/index.js';
import { MODES, serve, get } from '../helpers/checks.js';

for (const mode of MODES) {
  test(`[${mode}] /started answers 503 until READY once, then 200 for good, whatever the state`, async (t) => {
    const { probe, base } = await serve(t, mode);
    for (const path of ['/started', '/started/']) {
      const res = await get(`${base}${path}`);
      assert.deepEqual([res.status, res.body], [503, 'UP'], path);
    }
    probe.setState('READY');
    assert.deepEqual(pick(await get(`${base}/started`)), [200, 'READY']);
    for (const state of ['UP', 'DRAINING', 'DOWN']) {
      probe.setState(state);
      assert.deepEqual(pick(await get(`${base}/started/`)), [200, state], state);
    }
  });

  test(`[${mode}] markStarted() turns /started 200 without becoming READY`, async (t) => {
    const { probe, base } = await serve(t, mode);
    assert.equal(probe.started, false);
    probe.markStarted();
    assert.equal(probe.started, true);
    assert.deepEqual(pick(await get(`${base}/started`)), [200, 'UP']);
    assert.deepEqual(pick(await get(`${base}/ready`)), [503, 'UP']);
  });

  test(`[${mode}] HEAD /started answers the same status and headers as GET, no body`, async (t) => {
    const { probe, base } = await serve(t, mode);
    for (const expected of [503, 200]) {
      const getRes = await get(`${base}/started`);
      const headRes = await get(`${base}/started`, { method: 'HEAD' });
      assert.equal(getRes.status, expected);
      assert.equal(headRes.status, expected);
      assert.equal(headRes.body, '');
      assert.equal(headRes.headers['content-length'], getRes.headers['content-length']);
      assert.equal(headRes.headers['content-type'], getRes.headers['content-type']);
      probe.markStarted();
    }
  });
}

test('whenStarted() resolves when the probe first becomes READY, and at once afterwards', async () => {
  const probe = createProbe();
  let resolved = false;
  const waiting = probe.whenStarted().then(() => {
    resolved = true;
  });
  await new Promise((resolve) => setImmediate(resolve));
  assert.equal(resolved, false);
  probe.setState('READY');
  await waiting;
  assert.equal(resolved, true);
  probe.setState('DOWN');
  await probe.whenStarted();
});

test('whenStarted() resolves on markStarted(); a probe created READY has started', async () => {
  const probe = createProbe();
  const waiting = probe.whenStarted();
  probe.markStarted();
  await waiting;
  assert.equal(createProbe({ state: 'READY' }).started, true);
});

function pick({ status, body }) {
  return [status, body];
}
