// `npm test`: every suite on the default standalone server (the node:net reader), and at the same
// time every suite that starts a standalone server again on node:http (SERVICE_PROBE_SERVER=http),
// so a change that breaks either server fails here, not only in CI. The two runs go side by side:
// the suites spend most of their time waiting on sockets and timers, so this costs little more
// than one run. The node:net run streams its report; the node:http run's report follows it.
//
//   npm test                           both runs, every suite
//   npm test -- test/hardening.test.js both runs, the suites named
import { spawn } from 'node:child_process';
import { readdirSync } from 'node:fs';

// Suites that never start a standalone probe server, or that compare both servers themselves:
// a second run on node:http would test nothing new.
const SAME_ON_EITHER_SERVER = new Set([
  'test/routes.test.js',
  'test/checks-verdict.test.js',
  'test/docs.test.js',
  'test/docs-links.test.js',
  'test/options.test.js',
  'test/package.test.js',
  'test/raw-server.test.js',
  'test/differential.test.js',
  'test/worker.test.js',
  'test/worker-mode-suites.test.js',
  'test/worker-grpc-metrics.test.js',
  'test/stall.test.js',
  'test/typescript.test.js',
  'test/client-checks.test.js',
  'test/checks-entry.test.js',
  'test/metrics-format.test.js',
  'test/lazy-loading.test.js',
]);

// Suites that set their own server (worker mode re-runs the endpoint suites in a worker thread):
// they run once, in the second pass, so that the two passes take about as long.
const SECOND_PASS_ONLY = new Set(['test/worker-mode-suites.test.js']);

const named = process.argv.slice(2);
const all = named.length > 0 ? named : readdirSync('test').filter((name) => name.endsWith('.test.js')).sort().map((name) => `test/${name}`);
const suites = named.length > 0 ? named : all.filter((suite) => !SECOND_PASS_ONLY.has(suite));
// In reverse order, so that the longest suites (the CLI's, the short stress run) of the two runs do
// not load the machine at the same moment.
const onHttp = (named.length > 0 ? named : all.filter((suite) => SECOND_PASS_ONLY.has(suite) || !SAME_ON_EITHER_SERVER.has(suite))).toReversed();

function run(files, env, streamed) {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--test', '--test-reporter=spec', ...files], {
      env: { ...process.env, ...env },
      stdio: streamed ? 'inherit' : ['ignore', 'pipe', 'pipe'],
    });
    const output = [];
    if (!streamed) {
      child.stdout.on('data', (chunk) => output.push(chunk));
      child.stderr.on('data', (chunk) => output.push(chunk));
    }
    child.on('close', (code, signal) => resolve({ ok: code === 0, output: Buffer.concat(output), code: code ?? signal }));
  });
}

const [net, http] = await Promise.all([run(suites, { SERVICE_PROBE_SERVER: 'net' }, true), run(onHttp, { SERVICE_PROBE_SERVER: 'http' }, false)]);
process.stdout.write(`\n── the same suites on the node:http server (SERVICE_PROBE_SERVER=http) ──\n`);
process.stdout.write(http.output);
if (!net.ok) console.error(`npm test: the suites failed on the node:net server (exit ${net.code})`);
if (!http.ok) console.error(`npm test: the suites failed on the node:http server (exit ${http.code})`);
process.exit(net.ok && http.ok ? 0 : 1);
