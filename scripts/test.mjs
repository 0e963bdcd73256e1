// `npm test`: every suite once on the default standalone server (the node:net reader); the suites
// that start a standalone server again on node:http (SERVICE_PROBE_SERVER=http); and the endpoint
// suites again in worker mode (SERVICE_PROBE_WORKER=1). A change that breaks any of the three
// fails here, not only in CI, and each failing test is reported by name in its run's report.
//
// The suites live in folders by area:
//   test/unit/         pure modules of the shipped code, no socket
//   test/wire/         the probe port on real sockets: endpoints, limits, gRPC, /metrics
//   test/integration/  the probe inside a service: frameworks, shutdown, the CLI, the client, worker mode
//   test/package/      what ships and what is written about it: the packed package, types, docs, examples
//
// Two lanes run side by side (the suites spend most of their time waiting on sockets and timers):
// the node:net run streams its report; the node:http run and then the worker-mode run follow it.
//
//   npm test                                  every run, every suite
//   npm test -- test/wire/hardening.test.js   every run that applies, the suites named
import { spawn } from 'node:child_process';
import { readdirSync } from 'node:fs';

const AREAS = ['unit', 'wire', 'integration', 'package'];

// Areas whose suites start standalone servers: they run again on node:http. Unit and package
// suites never start one (or compare both servers themselves).
const SERVER_AREAS = new Set(['wire', 'integration']);

// Suites of those areas that pick their server themselves (both, or worker mode), so that
// SERVICE_PROBE_SERVER changes nothing in them.
const OWN_SERVER = new Set(['test/wire/raw-server.test.js', 'test/wire/differential.test.js', 'test/integration/worker.test.js', 'test/integration/worker-grpc-metrics.test.js']);

// The suites run again in worker mode: every answer of the probe port (endpoints, checks, limits,
// gRPC health, /metrics) and the sequences built on them. SERVICE_PROBE_WORKER=1 applies to probes
// that set neither `worker` nor `server`.
const WORKER_MODE = new Set([
  'test/wire/endpoints.test.js',
  'test/wire/checks.test.js',
  'test/wire/started.test.js',
  'test/wire/module-api.test.js',
  'test/wire/probe-instance.test.js',
  'test/wire/hardening.test.js',
  'test/wire/grpc.test.js',
  'test/wire/grpc-wire.test.js',
  'test/wire/metrics.test.js',
  'test/integration/kubelet-model.test.js',
  'test/integration/shutdown.test.js',
]);

const areaOf = (suite) => suite.split('/')[1];
const named = process.argv.slice(2);
const all =
  named.length > 0
    ? named
    : AREAS.flatMap((area) =>
        readdirSync(`test/${area}`)
          .filter((name) => name.endsWith('.test.js'))
          .sort()
          .map((name) => `test/${area}/${name}`),
      );
// In reverse order, so that the longest suites of the two lanes do not load the machine at the
// same moment.
const onHttp = all.filter((suite) => SERVER_AREAS.has(areaOf(suite)) && !OWN_SERVER.has(suite)).toReversed();
const inWorker = all.filter((suite) => WORKER_MODE.has(suite));

function run(files, env, streamed) {
  if (files.length === 0) return Promise.resolve({ ok: true, output: Buffer.alloc(0), code: 0 });
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

const secondLane = async () => {
  const http = await run(onHttp, { SERVICE_PROBE_SERVER: 'http' }, false);
  // These suites pin worker mode's answers to inline mode's, which holds while the main thread
  // answers within mainThreadWaitMs: on a machine this loaded (two runs side by side), a main
  // thread can be off the CPU for longer than the default 50 ms without being blocked. What the
  // bound itself does is test/integration/worker.test.js's business.
  const worker = await run(inWorker, { SERVICE_PROBE_WORKER: '{"mainThreadWaitMs":2000}', SERVICE_PROBE_SERVER: '' }, false);
  return { http, worker };
};
const [net, { http, worker }] = await Promise.all([run(all, { SERVICE_PROBE_SERVER: 'net' }, true), secondLane()]);
process.stdout.write(`\n── the suites that start a server, on the node:http server (SERVICE_PROBE_SERVER=http) ──\n`);
process.stdout.write(http.output);
process.stdout.write(`\n── the endpoint suites in worker mode (SERVICE_PROBE_WORKER=1) ──\n`);
process.stdout.write(worker.output);
const runs = [
  ['the node:net server', net],
  ['the node:http server', http],
  ['worker mode', worker],
];
for (const [name, result] of runs) if (!result.ok) console.error(`npm test: the suites failed on ${name} (exit ${result.code})`);
process.exit(runs.every(([, result]) => result.ok) ? 0 : 1);
