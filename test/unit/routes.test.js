// The pure router, as a table: request line and Accept → endpoint, format, options.
import { test } from 'node:test';
import assert from 'node:assert/strict';
// A pure module, tested on its own in the shipped code (dist/internal.js re-exports it).
import { route, formatFromAccept } from '../../dist/internal.js';

const PROBE_TABLE = [
  // [method, target, endpoint]: HEAD routes as GET does (no body is the transport's business)
  ['GET', '/', 'health'],
  ['GET', '/health', 'health'],
  ['GET', '/health/', 'health'],
  ['GET', '/live', 'health'],
  ['GET', '/live/', 'health'],
  ['GET', '/ready', 'ready'],
  ['GET', '/ready/', 'ready'],
  ['GET', '/started', 'started'],
  ['GET', '/started/', 'started'],
  ['HEAD', '/ready', 'ready'],
  ['GET', '/ready?x=1', 'ready'],
  ['GET', 'http://h:1/ready', 'ready'],
  ['GET', 'HTTP://h/ready?x', 'ready'],
  ['GET', 'http://h', 'health'],
  ['GET', 'http://h?x', 'health'],
];

for (const [method, target, endpoint] of PROBE_TABLE) {
  test(`${method} ${target} routes to ${endpoint}`, () => {
    const r = route(method, target);
    assert.equal(r.kind, 'probe');
    assert.equal(r.endpoint, endpoint);
    assert.equal(r.check, undefined);
  });
}

const NOT_FOUND = ['/nope', '//ready', '/ready//', '/READY', '/re%61dy', '/x/../ready', '*', '', 'ready', 'ftp://h/ready', '/ready#x', '/started/x'];
for (const target of NOT_FOUND) {
  test(`GET ${JSON.stringify(target)} is not found and not owned`, () => {
    assert.deepEqual({ ...route('GET', target) }, { kind: 'not-found', owned: false });
  });
}

test('other methods: 405 on the probe paths (owned), 405 but not owned elsewhere', () => {
  assert.deepEqual({ ...route('POST', '/ready') }, { kind: 'method-not-allowed', owned: true });
  assert.deepEqual({ ...route('DELETE', '/api') }, { kind: 'method-not-allowed', owned: false });
  assert.equal(route(undefined, '/ready').kind, 'method-not-allowed');
});

test('the plain path returns shared objects (no allocation per request)', () => {
  assert.equal(route('GET', '/ready'), route('GET', '/ready/'));
  assert.equal(route('GET', '/ready', '*/*'), route('GET', '/ready'));
  assert.ok(Object.isFrozen(route('GET', '/ready')));
});

test('per-check paths name the check, decoded', () => {
  assert.equal(route('GET', '/ready/postgres').check, 'postgres');
  assert.equal(route('GET', '/ready/postgres/').check, 'postgres');
  assert.equal(route('GET', '/health/event-loop').endpoint, 'health');
  assert.equal(route('GET', '/live/disk%20space').check, 'disk space');
  assert.equal(route('GET', '/ready/%E0%A4%A').kind, 'not-found');
});

test('query options: verbose, repeated exclude, format', () => {
  const r = route('GET', '/ready?verbose&exclude=a&exclude=b&exclude=');
  assert.equal(r.verbose, true);
  assert.deepEqual(r.exclude, ['a', 'b']);
  assert.equal(r.format, 'text');
  assert.equal(route('GET', '/ready?verbose=0').verbose, false);
  assert.equal(route('GET', '/ready?verbose=false').verbose, false);
  assert.equal(route('GET', '/ready?format=json').format, 'json');
  assert.equal(route('GET', '/ready?format=text', 'application/json').format, 'text');
});

test('JSON only when Accept names application/health+json or application/json', () => {
  assert.equal(formatFromAccept(undefined), 'text');
  assert.equal(formatFromAccept('*/*'), 'text');
  assert.equal(formatFromAccept('application/*'), 'text');
  assert.equal(formatFromAccept('text/plain, */*;q=0.8'), 'text');
  assert.equal(formatFromAccept('application/health+json'), 'json');
  assert.equal(formatFromAccept('text/html, Application/JSON;q=0.9'), 'json');
  assert.equal(formatFromAccept('application/json;q=0'), 'text');
  assert.equal(formatFromAccept('application/jsonx'), 'text');
});

test('a mount prefix: only paths under it are the probe’s', () => {
  assert.equal(route('GET', '/internal/health/ready', undefined, '/internal/health').endpoint, 'ready');
  assert.equal(route('GET', '/internal/health', undefined, '/internal/health').endpoint, 'health');
  assert.equal(route('GET', '/internal/health?x', undefined, '/internal/health').endpoint, 'health');
  assert.equal(route('GET', '/internal/healthy', undefined, '/internal/health').owned, false);
  assert.equal(route('GET', '/ready', undefined, '/internal/health').owned, false);
  assert.equal(route('POST', '/internal/health/ready', undefined, '/internal/health').owned, true);
});

test('mounted without a prefix, `/` is not the probe’s; the named paths are', async () => {
  const { compilePaths } = await import('../../dist/internal.js');
  const { standalone, mounted } = compilePaths(undefined, 'options.paths');
  assert.equal(route('GET', '/', undefined, '', standalone).endpoint, 'health');
  assert.deepEqual({ ...route('GET', '/', undefined, '', mounted) }, { kind: 'not-found', owned: false });
  assert.deepEqual({ ...route('GET', '/?x', undefined, '', mounted) }, { kind: 'not-found', owned: false });
  assert.equal(route('POST', '/', undefined, '', mounted).owned, false);
  assert.equal(route('GET', 'http://h', undefined, '', mounted).owned, false);
  assert.equal(route('GET', '/live', undefined, '', mounted).endpoint, 'health');
  assert.equal(route('GET', '/ready/db', undefined, '', mounted).check, 'db');
  // Under a prefix the prefix itself is the probe's root, mounted or not.
  assert.equal(route('GET', '/internal/health', undefined, '/internal/health', mounted).endpoint, 'health');
  assert.equal(route('GET', '/internal/health/', undefined, '/internal/health', mounted).endpoint, 'health');
});

test('configured paths: renamed and aliased, with per-check paths, HEAD, verbose and JSON; the old names are gone', async () => {
  const { compilePaths } = await import('../../dist/internal.js');
  const { standalone: k8s } = compilePaths({ health: ['/livez', '/healthz'], ready: '/readyz', started: '/k8s/startupz' }, 'options.paths');
  for (const [target, endpoint] of [['/livez', 'health'], ['/healthz/', 'health'], ['/readyz', 'ready'], ['/k8s/startupz', 'started'], ['/', 'health']]) {
    assert.equal(route('GET', target, undefined, '', k8s).endpoint, endpoint, target);
  }
  for (const target of ['/health', '/live', '/ready', '/started', '/startupz', '/k8s', '/k8s/startupz/x', '/readyz//']) {
    assert.equal(route('GET', target, undefined, '', k8s).kind, 'not-found', target);
  }
  assert.equal(route('HEAD', '/readyz', undefined, '', k8s).endpoint, 'ready');
  assert.equal(route('GET', '/readyz?verbose', undefined, '', k8s).verbose, true);
  assert.equal(route('GET', '/readyz', 'application/health+json', '', k8s).format, 'json');
  assert.equal(route('GET', '/healthz/disk%20space/', undefined, '', k8s).check, 'disk space');
  assert.equal(route('GET', '/readyz/db', undefined, '/p', k8s).owned, false);
  assert.equal(route('GET', '/p/readyz/db', undefined, '/p', k8s).check, 'db');
  assert.equal(route('POST', '/readyz', undefined, '', k8s).owned, true);
  // The plain path still returns shared objects with a table of one's own.
  assert.equal(route('GET', '/readyz', undefined, '', k8s), route('GET', '/readyz/', undefined, '', k8s));
  assert.equal(route('GET', '/readyz', undefined, '', k8s), route('GET', '/ready'));
  // Multi-segment bases have per-check paths too.
  const { standalone: nested } = compilePaths({ ready: '/k8s/readyz' }, 'options.paths');
  assert.equal(route('GET', '/k8s/readyz/db', undefined, '', nested).check, 'db');
  assert.equal(route('GET', '/k8s/readyz/a/b', undefined, '', nested).kind, 'not-found');
});

test('configured paths are validated at creation, naming the value', async () => {
  const { compilePaths, ProbeArgumentError } = await import('../../dist/internal.js');
  const bad = [
    [{ health: '/' }, 'options.paths.health', "'/'"],
    [{ ready: 'readyz' }, 'options.paths.ready', 'readyz'],
    [{ ready: '/readyz/' }, 'options.paths.ready', '/readyz/'],
    [{ ready: '/ready z' }, 'options.paths.ready', '/ready z'],
    [{ ready: '/re%61dy' }, 'options.paths.ready', '/re%61dy'],
    [{ ready: '/ready?x' }, 'options.paths.ready', '/ready?x'],
    [{ ready: '//ready' }, 'options.paths.ready', '//ready'],
    [{ ready: [] }, 'options.paths.ready', 'array'],
    [{ ready: 42 }, 'options.paths.ready', '42'],
    [{ ready: '/health' }, 'options.paths.ready', "clashes with '/health'"],
    [{ health: ['/livez', '/livez'] }, 'options.paths.health', "clashes with '/livez'"],
    [{ ready: '/health/ready' }, 'options.paths.ready', "clashes with '/health'"],
    [{ started: '/k' , ready: '/k/ready' }, 'options.paths.started', "clashes with '/k/ready'"],
    [{ metrics: '/metrics' }, 'options.paths.metrics', 'metrics'],
    ['/ready', 'options.paths', 'ready'],
  ];
  for (const [paths, argument, shown] of bad) {
    assert.throws(
      () => compilePaths(paths, 'options.paths'),
      (error) => error instanceof ProbeArgumentError && error.argument === argument && error.message.includes(shown),
      JSON.stringify(paths),
    );
  }
});

test('a path clash names the key the user set, whichever endpoint is compiled first; with both set, the later one and the other', async () => {
  const { compilePaths, ProbeArgumentError } = await import('../../dist/internal.js');
  const clashes = [
    // [paths, metrics, blamed key, its value, the message's end]
    // A set path against a default of an endpoint compiled after it (health, ready, started).
    [{ health: '/ready' }, false, 'health', '/ready', "'/ready' clashes with '/ready', the default of options.paths.ready"],
    [{ health: '/started' }, false, 'health', '/started', "'/started' clashes with '/started', the default of options.paths.started"],
    [{ health: '/ready/x' }, false, 'health', '/ready/x', "'/ready/x' clashes with '/ready', the default of options.paths.ready"],
    [{ ready: '/started' }, false, 'ready', '/started', "'/started' clashes with '/started', the default of options.paths.started"],
    [{ health: ['/livez', '/started/x'] }, false, 'health', '/started/x', "'/started/x' clashes with '/started', the default of options.paths.started"],
    // ... and compiled before it.
    [{ ready: '/live' }, false, 'ready', '/live', "'/live' clashes with '/live', the default of options.paths.health"],
    [{ ready: '/health/x' }, false, 'ready', '/health/x', "'/health/x' clashes with '/health', the default of options.paths.health"],
    [{ started: '/health' }, false, 'started', '/health', "'/health' clashes with '/health', the default of options.paths.health"],
    [{ started: '/ready/x' }, false, 'started', '/ready/x', "'/ready/x' clashes with '/ready', the default of options.paths.ready"],
    // Both set: the later one is named, with the other.
    [{ health: '/x', ready: '/x' }, false, 'ready', '/x', "'/x' clashes with '/x' of options.paths.health"],
    [{ ready: '/x', health: '/x/y' }, false, 'ready', '/x', "'/x' clashes with '/x/y' of options.paths.health"],
    [{ started: '/k', ready: '/k/ready' }, false, 'started', '/k', "'/k' clashes with '/k/ready' of options.paths.ready"],
    [{ health: ['/livez', '/livez'] }, false, 'health', '/livez', "'/livez' clashes with '/livez' of options.paths.health"],
    // /metrics, served with metrics: true.
    [{ health: '/metrics' }, true, 'health', '/metrics', "'/metrics' clashes with '/metrics', served with metrics: true"],
    [{ ready: '/metrics/x' }, true, 'ready', '/metrics/x', "'/metrics/x' clashes with '/metrics', served with metrics: true"],
    [{ started: '/metrics' }, true, 'started', '/metrics', "'/metrics' clashes with '/metrics', served with metrics: true"],
  ];
  for (const [paths, metrics, key, value, end] of clashes) {
    assert.throws(
      () => compilePaths(paths, 'options.paths', metrics),
      (error) => {
        assert.ok(error instanceof ProbeArgumentError, String(error));
        assert.equal(error.argument, `options.paths.${key}`, JSON.stringify(paths));
        assert.equal(error.value, value, JSON.stringify(paths));
        assert.ok(error.message.endsWith(`(${end}). Received type string ('${value}')`), error.message);
        return true;
      },
    );
  }
  // The same paths without /metrics served, and the defaults with it, are fine.
  assert.doesNotThrow(() => compilePaths({ health: '/metrics' }, 'options.paths'));
  assert.doesNotThrow(() => compilePaths(undefined, 'options.paths', true));
});
