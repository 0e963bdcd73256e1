// examples/kubernetes/deployment.yaml agrees with the library: probe paths, the probe port, and
// timings that fit the shutdown defaults used in Kubernetes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { parseAllDocuments } from 'yaml';
import { DEFAULT_CHECK_TIMEOUT_MS, DEFAULT_PORT, SHUTDOWN_DEFAULTS } from '../../dist/index.js';

const documents = parseAllDocuments(readFileSync(new URL('../../examples/kubernetes/deployment.yaml', import.meta.url), 'utf8')).map((d) => {
  assert.deepEqual(d.errors, []);
  return d.toJS();
});
const deployment = documents.find((d) => d.kind === 'Deployment');
const pod = deployment.spec.template.spec;
const container = pod.containers[0];
const defaults = SHUTDOWN_DEFAULTS.kubernetes;

function portOf(probe) {
  const port = probe.httpGet.port;
  return typeof port === 'number' ? port : container.ports.find((p) => p.name === port)?.containerPort;
}

test('the Deployment probes /started, /health and /ready on the probe port', () => {
  assert.equal(container.startupProbe.httpGet.path, '/started');
  assert.equal(container.livenessProbe.httpGet.path, '/health');
  assert.equal(container.readinessProbe.httpGet.path, '/ready');
  for (const probe of [container.startupProbe, container.livenessProbe, container.readinessProbe]) {
    assert.equal(portOf(probe), DEFAULT_PORT);
    assert.ok(probe.timeoutSeconds >= 1);
  }
  // Kubernetes rejects any other successThreshold for these two.
  assert.equal(container.startupProbe.successThreshold ?? 1, 1);
  assert.equal(container.livenessProbe.successThreshold ?? 1, 1);
});

test('terminationGracePeriodSeconds is above drainDelayMs + timeoutMs of the Kubernetes defaults', () => {
  assert.ok(pod.terminationGracePeriodSeconds * 1000 > defaults.drainDelayMs + defaults.timeoutMs, `${pod.terminationGracePeriodSeconds} s`);
});

test('a load balancer watching /ready with these settings sees the pod unready within the drain delay', () => {
  const { periodSeconds, failureThreshold } = container.readinessProbe;
  assert.ok(periodSeconds * failureThreshold * 1000 <= defaults.drainDelayMs, `${periodSeconds} s × ${failureThreshold}`);
});

test('a rolling update starts the new pod before it drains an old one', () => {
  assert.equal(deployment.spec.strategy.rollingUpdate.maxUnavailable, 0);
});

test('readiness survives a single slow check: failureThreshold above 1, and a timeout above the checks’ own', () => {
  const { failureThreshold, timeoutSeconds } = container.readinessProbe;
  // One failed probe (a slow database check shared by every replica) must not empty the Service.
  assert.ok(failureThreshold >= 2, `failureThreshold ${failureThreshold}`);
  // A check that outlasts its timeoutMs answers 503 with a reason before kubelet gives up waiting.
  assert.ok(timeoutSeconds * 1000 > DEFAULT_CHECK_TIMEOUT_MS, `timeoutSeconds ${timeoutSeconds}`);
});
