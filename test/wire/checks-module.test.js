// addCheck/removeCheck at module level act on the default probe behind startProbe().
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { addCheck, removeCheck, startProbe, stopProbe, ServiceState, ProbeArgumentError, defaultProbe } from '../../dist/index.js';
import { get } from '../helpers/checks.js';

test('module-level addCheck and removeCheck act on the default probe', async (t) => {
  const { port } = await startProbe('127.0.0.1', 0, ServiceState.Ready);
  t.after(() => stopProbe());
  const base = `http://127.0.0.1:${port}`;
  addCheck('db', () => false);
  assert.equal(defaultProbe().hasCheck('db'), true);
  assert.deepEqual(await statusAndBody(`${base}/ready?verbose`), [503, '[-]db failed: reason withheld\nUP\n']);
  assert.throws(() => addCheck('db', () => true), ProbeArgumentError);
  assert.equal(removeCheck('db'), true);
  assert.equal(removeCheck('db'), false);
  assert.deepEqual(await statusAndBody(`${base}/ready`), [200, 'READY']);
});

async function statusAndBody(url) {
  const { status, body } = await get(url);
  return [status, body];
}
