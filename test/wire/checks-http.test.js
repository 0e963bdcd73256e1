// Detailed responses over HTTP: ?verbose, ?exclude=, /ready/<name> and /health/<name>, the
// application/health+json form, HEAD, and exposeDetails — through the standalone server and handle().
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MODES, serve, get, withoutTimes } from '../helpers/checks.js';

// postgres passes with a measurement, cache warns, queue fails; loop is a liveness check.
function addChecks(probe) {
  probe.addCheck('postgres', () => ({ observedValue: 3, observedUnit: 'ms' }));
  probe.addCheck('cache', () => {
    throw new Error('ECONNREFUSED 127.0.0.1:6379');
  }, { critical: false });
  probe.addCheck('queue', () => false);
  probe.addCheck('loop', () => true, { affects: 'liveness' });
}

for (const mode of MODES) {
  test(`[${mode}] ?verbose lists each check the endpoint evaluates, then the state word`, async (t) => {
    const { probe, base } = await serve(t, mode, { state: 'READY' });
    addChecks(probe);
    const ready = await get(`${base}/ready?verbose`);
    assert.equal(ready.status, 503);
    assert.equal(ready.headers['content-type'], 'text/plain; charset=utf-8');
    assert.equal(ready.body, '[+]postgres ok\n[+]cache warn: reason withheld\n[-]queue failed: reason withheld\n[+]loop ok\nUP\n');
    const health = await get(`${base}/health/?verbose=1`);
    assert.equal(health.status, 200);
    assert.equal(health.body, '[+]loop ok\nREADY\n');
    // Without checks there are no lines, only the word.
    probe.removeCheck('loop');
    assert.equal((await get(`${base}/live?verbose`)).body, 'READY\n');
  });

  test(`[${mode}] reasons are shown only with exposeDetails`, async (t) => {
    const { probe, base } = await serve(t, mode, { state: 'READY', exposeDetails: true });
    addChecks(probe);
    const ready = await get(`${base}/ready?verbose`);
    assert.equal(ready.body, '[+]postgres ok\n[+]cache warn: ECONNREFUSED 127.0.0.1:6379\n[-]queue failed: returned false\n[+]loop ok\nUP\n');
    const json = JSON.parse((await get(`${base}/ready?format=json`)).body);
    assert.equal(json.checks.cache[0].output, 'ECONNREFUSED 127.0.0.1:6379');
    assert.equal(json.checks.queue[0].output, 'returned false');
  });

  test(`[${mode}] ?exclude= (repeatable) skips those checks for that request`, async (t) => {
    const { probe, base } = await serve(t, mode, { state: 'READY' });
    addChecks(probe);
    assert.equal((await get(`${base}/ready?exclude=queue`)).status, 200);
    const both = await get(`${base}/ready?verbose&exclude=queue&exclude=cache&exclude=unknown`);
    assert.deepEqual([both.status, both.body], [200, '[+]postgres ok\n[+]loop ok\nREADY\n']);
    // Only for that request.
    assert.equal((await get(`${base}/ready`)).status, 503);
    assert.equal((await get(`${base}/health?exclude=loop&verbose`)).body, 'READY\n');
  });

  test(`[${mode}] /ready/<name> and /health/<name> evaluate one check alone; unknown names are 404`, async (t) => {
    const { probe, base } = await serve(t, mode, { state: 'UP' });
    addChecks(probe);
    // Alone: the state (UP) does not matter.
    assert.deepEqual(pick(await get(`${base}/ready/postgres`)), [200, '[+]postgres ok\n']);
    assert.deepEqual(pick(await get(`${base}/ready/queue/`)), [503, '[-]queue failed: reason withheld\n']);
    assert.deepEqual(pick(await get(`${base}/ready/cache`)), [200, '[+]cache warn: reason withheld\n']);
    assert.deepEqual(pick(await get(`${base}/health/loop`)), [200, '[+]loop ok\n']);
    assert.deepEqual(pick(await get(`${base}/live/loop`)), [200, '[+]loop ok\n']);
    // /ready also evaluates liveness checks; /health never evaluates readiness checks.
    assert.equal((await get(`${base}/ready/loop`)).status, 200);
    assert.deepEqual(pick(await get(`${base}/health/postgres`)), [404, 'Not found']);
    assert.deepEqual(pick(await get(`${base}/ready/nope`)), [404, 'Not found']);
    const json = await get(`${base}/ready/postgres?format=json`);
    assert.equal(json.headers['content-type'], 'application/health+json');
    assert.deepEqual(withoutTimes(json.body), {
      status: 'pass',
      state: 'UP',
      checks: { postgres: [{ status: 'pass', observedValue: 3, observedUnit: 'ms', time: '<time>', durationMs: '<ms>' }] },
    });
  });

  test(`[${mode}] golden JSON: Accept application/health+json or application/json, or ?format=json`, async (t) => {
    const { probe, base } = await serve(t, mode, { state: 'READY' });
    addChecks(probe);
    const expected = {
      status: 'fail',
      state: 'UP',
      checks: {
        postgres: [{ status: 'pass', observedValue: 3, observedUnit: 'ms', time: '<time>', durationMs: '<ms>' }],
        cache: [{ status: 'warn', time: '<time>', durationMs: '<ms>' }],
        queue: [{ status: 'fail', time: '<time>', durationMs: '<ms>' }],
        loop: [{ status: 'pass', time: '<time>', durationMs: '<ms>' }],
      },
    };
    for (const [query, accept] of [['', 'application/health+json'], ['', 'text/html, application/json;q=0.5'], ['?format=json', undefined]]) {
      const res = await get(`${base}/ready${query}`, { headers: accept ? { accept } : {} });
      assert.equal(res.status, 503);
      assert.equal(res.headers['content-type'], 'application/health+json');
      assert.equal(res.headers['cache-control'], 'no-store');
      assert.equal(Number(res.headers['content-length']), Buffer.byteLength(res.body));
      assert.deepEqual(withoutTimes(res.body), expected, `${query} ${accept}`);
    }
    const health = await get(`${base}/health`, { headers: { accept: 'application/health+json' } });
    assert.equal(health.status, 200);
    assert.deepEqual(withoutTimes(health.body), { status: 'pass', state: 'READY', checks: { loop: [{ status: 'pass', time: '<time>', durationMs: '<ms>' }] } });
  });

  test(`[${mode}] */*, application/* and no Accept keep the plain text body`, async (t) => {
    const { probe, base } = await serve(t, mode, { state: 'READY' });
    addChecks(probe);
    for (const accept of [undefined, '*/*', 'application/*', 'application/json;q=0']) {
      const res = await get(`${base}/ready`, { headers: accept ? { accept } : {} });
      assert.deepEqual([res.status, res.headers['content-type'], res.body], [503, 'text/plain; charset=utf-8', 'UP'], String(accept));
    }
  });

  test(`[${mode}] HEAD returns the same status and headers as GET, with no body`, async (t) => {
    const { probe, base } = await serve(t, mode, { state: 'READY' });
    // Cached results: the JSON (durations included) is the same for the HEAD and the GET after it.
    // HEAD goes first, so it takes the path that waits for a run; GET answers from the cache.
    probe.addCheck('postgres', () => ({ observedValue: 3, observedUnit: 'ms' }), { cacheMs: 60_000 });
    probe.addCheck('queue', () => false, { cacheMs: 60_000 });
    probe.addCheck('loop', () => true, { affects: 'liveness', cacheMs: 60_000 });
    for (const path of ['/ready', '/ready?verbose', '/ready?format=json', '/health/loop', '/ready/queue', '/ready/nope', '/started?verbose']) {
      const headRes = await get(`${base}${path}`, { method: 'HEAD' });
      const getRes = await get(`${base}${path}`);
      assert.equal(headRes.status, getRes.status, path);
      assert.equal(headRes.body, '', path);
      assert.notEqual(getRes.body, '', path);
      for (const name of ['content-type', 'content-length', 'cache-control', 'x-content-type-options']) {
        assert.equal(headRes.headers[name], getRes.headers[name], `${path} ${name}`);
      }
    }
  });

  test(`[${mode}] /started ignores checks; ?verbose there shows only the word`, async (t) => {
    const { probe, base } = await serve(t, mode, { state: 'READY' });
    addChecks(probe);
    assert.deepEqual(pick(await get(`${base}/started`)), [200, 'READY']);
    assert.deepEqual(pick(await get(`${base}/started?verbose`)), [200, 'READY\n']);
    // /started has no per-check paths: not the probe's (handle() leaves it to the host).
    assert.deepEqual(pick(await get(`${base}/started/queue`)), mode === 'standalone' ? [404, 'Not found'] : [418, 'host app']);
  });
}

test('handle() leaves paths it does not own to the host, checks or not', async (t) => {
  const { probe, base } = await serve(t, 'handle', { state: 'READY' });
  addChecks(probe);
  assert.deepEqual(pick(await get(`${base}/api/ready`)), [418, 'host app']);
  assert.deepEqual(pick(await get(`${base}/readyz/queue`)), [418, 'host app']);
});

function pick({ status, body }) {
  return [status, body];
}
