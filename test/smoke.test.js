import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createProbe } from '../dist/index.js';

test('a started probe answers GET /ready with its state word', async (t) => {
  const probe = createProbe({ host: '127.0.0.1', port: 0 });
  const { port } = await probe.start();
  t.after(() => probe.stop());
  const res = await fetch(`http://127.0.0.1:${port}/ready`);
  assert.equal(res.status, 503);
  assert.equal(await res.text(), 'UP');
});
