import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';
import { staticGraph } from '../helpers/bundle.js';
import { closedPort, rawServer, silentServer, startedProbe, within } from '../helpers/servers.js';

const root = fileURLToPath(new URL('../..', import.meta.url));
const { version } = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8'));

/** Starts `service-probe ...args` as a child process; `done` resolves to its exit and output. */
function start(args, nodeArgs = []) {
  const child = spawn(process.execPath, [...nodeArgs, 'dist/cli.js', ...args], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (chunk) => (stdout += chunk));
  child.stderr.setEncoding('utf8').on('data', (chunk) => (stderr += chunk));
  const done = once(child, 'close').then(([code, signal]) => ({ code, signal, stdout, stderr }));
  // A CLI that hangs fails its test instead of hanging the suite.
  const killer = setTimeout(() => child.kill('SIGKILL'), 15_000);
  done.finally(() => clearTimeout(killer));
  return { child, done, stdout: () => stdout };
}

const run = (...args) => start(args).done;

test('check exits 0 and prints READY when /ready answers 200', async (t) => {
  const { url } = await startedProbe(t, { state: 'READY' });
  assert.deepEqual(await run('check', url()), { code: 0, signal: null, stdout: 'READY\n', stderr: '' });
});

test('check exits 1 when /ready answers 503, printing the state and the status', async (t) => {
  const { url } = await startedProbe(t, { state: 'UP' });
  const result = await run('check', url());
  assert.equal(result.code, 1);
  assert.equal(result.stdout, 'UP\n');
  assert.equal(result.stderr, `service-probe: ${url()} answered HTTP 503\n`);
});

test('check follows the kubelet rule: 200-399 passes (a 302 too), 404 fails with nothing on stdout', async (t) => {
  const server = await rawServer(t, (req, res) => {
    res.writeHead(req.url === '/moved' ? 302 : 404, { Location: '/elsewhere' });
    res.end('READY');
  });
  const moved = await run('check', server.url('/moved'));
  assert.equal(moved.code, 0);
  assert.equal(moved.stdout, 'READY\n');
  const missing = await run('check', server.url('/missing'));
  assert.equal(missing.code, 1);
  assert.equal(missing.stdout, '');
  assert.match(missing.stderr, /answered HTTP 404/);
  assert.equal(server.seen.requests, 2, 'no redirect followed');
});

test('check exits 1 when the probe is unreachable, with the reason on stderr', async () => {
  const url = `http://127.0.0.1:${await closedPort()}/ready`;
  const result = await run('check', url);
  assert.equal(result.code, 1);
  assert.equal(result.stdout, '');
  assert.equal(result.stderr, `service-probe: ${url} is unreachable: connect ECONNREFUSED ${url.slice(7, -6)}\n`);
});

test('check exits 1 when the probe does not answer within --timeout (a bare number is seconds)', async (t) => {
  const server = await silentServer(t);
  const result = await run('check', server.url(), '--timeout', '0.3');
  assert.equal(result.code, 1);
  assert.equal(result.stdout, '');
  assert.equal(result.stderr, `service-probe: ${server.url()} did not answer within 300 ms\n`);
  assert.equal(server.connections(), 1);
});

test('durations accept 500ms, 2s, 1m, a bare number and --timeout=…', async (t) => {
  const { url } = await startedProbe(t, { state: 'READY' });
  const accepted = [['--timeout', '500ms'], ['-t', '2s'], ['--timeout', '1m'], ['--timeout', '3'], ['--timeout', '1.5'], ['--timeout=250ms']];
  const results = await Promise.all(accepted.map((args) => run('check', url(), ...args)));
  results.forEach((result, i) => assert.equal(result.code, 0, `${accepted[i].join(' ')}: ${result.stderr}`));
});

test('a bad duration is a usage error (exit 2)', async (t) => {
  const { url } = await startedProbe(t, { state: 'READY' });
  const rejected = ['5x', '1h', 'ms', '0', '0ms', '1e3', '.5', '', '-1', '2 s', '99999999999'];
  const results = await Promise.all(rejected.map((bad) => run('check', url(), `--timeout=${bad}`)));
  results.forEach((result, i) => {
    assert.equal(result.code, 2, `--timeout=${rejected[i]}`);
    assert.match(result.stderr, /^service-probe: --timeout must be a duration .*\n$/, `--timeout=${rejected[i]}`);
  });
  const waitResult = await run('wait', url(), '--interval', 'soon');
  assert.equal(waitResult.code, 2);
  assert.match(waitResult.stderr, /--interval must be a duration/);
});

test('usage errors exit 2 with a one-line reason on stderr and nothing on stdout', async () => {
  const cases = [
    [[], /missing command/],
    [['chek'], /unknown command 'chek'/],
    [['--foo'], /unknown option '--foo'/],
    [['check', '--foo'], /unknown option '--foo'/],
    [['check', 'http://a/', 'http://b/'], /check takes one URL, got 2/],
    [['check', 'ftp://127.0.0.1/ready'], /Invalid probe URL 'ftp:\/\/127\.0\.0\.1\/ready'/],
    [['check', 'not a url'], /Invalid probe URL 'not a url'/],
    [['check', '--timeout'], /argument missing/],
    [['wait'], /wait needs at least one URL/],
    [['wait', 'http://127.0.0.1:1/', 'localhost:80'], /Invalid probe URL 'localhost:80'/],
    [['serve', '--port', '70000'], /--port must be an integer from 0 to 65535, got '70000'/],
    [['serve', '--port', '-p'], /./],
    [['serve', '--port', '8x'], /--port must be/],
    [['serve', '--state', 'sleepy'], /--state must be up, ready, draining or down, got 'sleepy'/],
    [['serve', '--host', 'not a host!'], /--host must be an IPv4 or IPv6 address or a host name, got 'not a host!'/],
    [['serve', '--host', ''], /--host must be an IPv4 or IPv6 address or a host name, got ''/],
    [['serve', 'now'], /serve takes no arguments/],
    [['help', 'nope'], /unknown command 'nope'/],
  ];
  const results = await Promise.all(cases.map(([args]) => run(...args)));
  for (const [i, [args, reason]] of cases.entries()) {
    const result = results[i];
    assert.equal(result.code, 2, `${args.join(' ')}: ${result.stderr}`);
    assert.equal(result.stdout, '', args.join(' '));
    assert.match(result.stderr, /^service-probe: [^\n]+\n$/, args.join(' '));
    assert.match(result.stderr, reason, args.join(' '));
  }
});

test('--help shows the commands; each command has its own help', async () => {
  const main = await run('--help');
  assert.equal(main.code, 0);
  assert.match(main.stdout, /^Usage: service-probe <command>/);
  for (const command of ['check', 'wait', 'serve']) assert.match(main.stdout, new RegExp(`^  ${command}\\b`, 'm'));
  assert.deepEqual(await run('-h'), main);
  assert.deepEqual(await run('help'), main);
  const check = await run('check', '--help');
  assert.equal(check.code, 0);
  assert.match(check.stdout, /^Usage: service-probe check \[URL\]/);
  assert.match(check.stdout, /http:\/\/127\.0\.0\.1:11333\/ready/);
  assert.deepEqual(await run('help', 'check'), check);
  assert.match((await run('wait', '-h')).stdout, /^Usage: service-probe wait URL\.\.\./);
  assert.match((await run('serve', '--help')).stdout, /^Usage: service-probe serve/);
});

test('--version prints the version from package.json', async () => {
  assert.deepEqual(await run('--version'), { code: 0, signal: null, stdout: `${version}\n`, stderr: '' });
  assert.equal((await run('-v')).stdout, `${version}\n`);
});

test('check loads only what it needs: node:https, tls and undici stay unloaded and the probe is not imported', async (t) => {
  const { url } = await startedProbe(t, { state: 'READY' });
  const report = 'process.on("exit", () => process.stderr.write(JSON.stringify(process.moduleLoadList.filter((m) => /https|tls|undici/.test(m)))))';
  const result = await start(['check', url()], ['--import', `data:text/javascript,${encodeURIComponent(report)}`]).done;
  assert.equal(result.code, 0);
  assert.deepEqual(JSON.parse(result.stderr), []);
  // What loads with the CLI's bundle: one file (its own copy of the client's code) and node core
  // modules, nothing of the probe, which `serve` imports (the package's main entry) when it runs.
  const cli = staticGraph(fileURLToPath(new URL('../../dist/cli.js', import.meta.url)));
  assert.equal(cli.files.size, 1, `check loads ${[...cli.files].join(', ')}`);
  const client = staticGraph(fileURLToPath(new URL('../../dist/client.js', import.meta.url)));
  // node:http (and https, for https URLs), node:net and node:util come through
  // process.getBuiltinModule when used, not an import (which evaluates every export).
  assert.deepEqual([...cli.builtins].sort(), ['node:events']);
  assert.ok(cli.dynamic.size >= 1, 'serve imports the probe lazily');
  for (const lazy of cli.dynamic) {
    const shared = [...staticGraph(lazy).files].filter((file) => cli.files.has(file) && !client.files.has(file));
    assert.deepEqual(shared, [], `the CLI loads only client code of what ${lazy} needs`);
  }
});

test('wait exits 0 once a probe turns READY mid-wait, silent when stderr is no terminal', async (t) => {
  const ready = await startedProbe(t, { state: 'READY' });
  const warming = await startedProbe(t, { state: 'UP' });
  // A readiness check runs on every /ready request: it tells when the CLI has asked the warming
  // probe (and seen it UP), so the probe turns READY mid-wait, after an event rather than a sleep.
  let asked;
  const firstAsk = new Promise((resolve) => (asked = resolve));
  warming.probe.addCheck('asked', () => {
    asked();
    return true;
  });
  const waiting = start(['wait', ready.url(), warming.url(), '--timeout', '20s', '--interval', '100ms']).done;
  await within(firstAsk, 10_000, 'the CLI asking the warming probe');
  warming.probe.setState('READY');
  assert.deepEqual(await waiting, { code: 0, signal: null, stdout: '', stderr: '' });
});

test('wait exits 1 on timeout, naming only the URLs that were not ready', async (t) => {
  const ready = await startedProbe(t, { state: 'READY' });
  const up = await startedProbe(t, { state: 'UP' });
  const refused = `http://127.0.0.1:${await closedPort()}/ready`;
  const result = await run('wait', ready.url(), up.url(), refused, '-t', '700ms', '-i', '100ms');
  assert.equal(result.code, 1);
  assert.equal(result.stdout, '');
  assert.equal(
    result.stderr,
    `service-probe: Not ready after 700 ms: ${up.url()} (UP), ${refused} (unreachable: ECONNREFUSED)\n`,
  );
});

/** Starts `serve` and resolves once it printed its URL. */
async function serve(t, ...args) {
  const server = start(['serve', '--host', '127.0.0.1', '--port', '0', ...args]);
  t.after(() => server.child.kill('SIGKILL'));
  await within(
    (async () => {
      while (!server.stdout().includes('\n')) await Promise.race([once(server.child.stdout, 'data'), server.done]);
    })(),
    10_000,
    'serve printing its URL',
  );
  const match = /listening on (http:\/\/127\.0\.0\.1:\d+\/) with initial state (\w+)\n/.exec(server.stdout());
  assert.ok(match, server.stdout());
  return { ...server, url: match[1], state: match[2] };
}

for (const signal of ['SIGTERM', 'SIGINT']) {
  test(`serve prints its URL, answers probes, and exits 0 on ${signal}`, async (t) => {
    const server = await serve(t, '--state', 'ready');
    assert.equal(server.state, 'READY');
    const res = await fetch(`${server.url}ready`);
    assert.equal(res.status, 200);
    assert.equal(await res.text(), 'READY');
    server.child.kill(signal);
    const result = await server.done;
    assert.equal(result.code, 0);
    assert.equal(result.signal, null);
    assert.match(result.stdout, new RegExp(`Service probe stopped \\(${signal}\\)\\n$`));
    assert.equal(result.stderr, '');
  });
}

test('serve starts UP by default (/ready answers 503) and the CLI check agrees', async (t) => {
  const server = await serve(t);
  assert.equal(server.state, 'UP');
  const check = await run('check', `${server.url}ready`);
  assert.equal(check.code, 1);
  assert.equal(check.stdout, 'UP\n');
  assert.equal((await run('check', `${server.url}health`)).code, 0);
  server.child.kill('SIGTERM');
  assert.equal((await server.done).code, 0);
});

test('serve --host takes a host name: it listens on the address the name resolves to and prints that', async (t) => {
  const server = start(['serve', '--host', 'localhost', '--port', '0']);
  t.after(() => server.child.kill('SIGKILL'));
  await within(
    (async () => {
      while (!server.stdout().includes('\n')) await Promise.race([once(server.child.stdout, 'data'), server.done]);
    })(),
    10_000,
    'serve printing its URL',
  );
  const match = /listening on (http:\/\/(?:127\.0\.0\.1|\[::1\]):\d+\/) with initial state UP\n/.exec(server.stdout());
  assert.ok(match, server.stdout());
  assert.equal((await fetch(`${match[1]}health`)).status, 200);
  server.child.kill('SIGTERM');
  assert.equal((await server.done).code, 0);
});

test('serve exits 1 naming the host when a host name does not resolve', async () => {
  const result = await run('serve', '--host', 'no-such-host.invalid', '--port', '0');
  assert.equal(result.code, 1);
  assert.equal(result.stdout, '');
  assert.match(result.stderr, /^service-probe: Cannot listen on no-such-host\.invalid port 0: the host name does not resolve \((?:ENOTFOUND|EAI_AGAIN|EAI_NONAME)\)\n$/);
});

test('serve exits 1 with the reason when the port is taken', async (t) => {
  const holder = createServer();
  holder.listen(0, '127.0.0.1');
  await once(holder, 'listening');
  t.after(() => holder.close());
  const result = await run('serve', '--host', '127.0.0.1', '--port', String(holder.address().port));
  assert.equal(result.code, 1);
  assert.equal(result.stdout, '');
  assert.match(result.stderr, /^service-probe: .*\n$/);
  assert.match(result.stderr, /EADDRINUSE|in use|could not/i);
});
