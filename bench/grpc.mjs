// `node bench/grpc.mjs`: what gRPC health costs. A gRPC Check on the probe next to GET /ready on
// the same probe, and next to @grpc/grpc-js with grpc-health-check, each server in a process of its
// own (CPU per call is the server's), interleaved round by round. Also the start-up RSS of a probe
// that never sees a gRPC connection (node:http2 must not be loaded). Writes bench/grpc-results.md.
//
//   node bench/grpc.mjs [--rounds N] [--calls N] [--base DIST]   (--base: another build's dist/index.js to compare start-up with)
import { fork } from 'node:child_process';
import { once } from 'node:events';
import { writeFileSync } from 'node:fs';
import { connect } from 'node:http2';
import { connect as connectTcp } from 'node:net';
import { cpus } from 'node:os';
import { parseArgs } from 'node:util';

const { values: args } = parseArgs({ options: { rounds: { type: 'string' }, calls: { type: 'string' }, base: { type: 'string' }, out: { type: 'string' } } });
const rounds = Number(args.rounds ?? 3);
const calls = Number(args.calls ?? 2000);
const fresh = Math.round(calls / 10);
const SERVER = new URL('./grpc-server.mjs', import.meta.url);
const CHECK = Buffer.from([0, 0, 0, 0, 0]);

async function startServer(kind, dist) {
  const child = fork(SERVER, dist ? [kind, dist] : [kind], { stdio: 'inherit' });
  const [ready] = await once(child, 'message');
  const cpu = async () => {
    child.send({ cmd: 'cpu' });
    const [message] = await once(child, 'message');
    return message;
  };
  return { ...ready, cpu, close: () => child.kill() };
}

function grpcCall(session) {
  return new Promise((resolve, reject) => {
    const stream = session.request({ ':method': 'POST', ':path': '/grpc.health.v1.Health/Check', 'content-type': 'application/grpc', te: 'trailers' });
    let body = 0;
    stream.on('data', (chunk) => (body += chunk.length));
    stream.on('error', reject);
    stream.on('close', () => (body === 7 ? resolve() : reject(new Error(`unexpected answer (${body} bytes)`))));
    stream.end(CHECK);
  });
}

async function grpcOnOneSession(port, n) {
  const session = connect(`http://127.0.0.1:${port}`);
  await grpcCall(session);
  const times = [];
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    await grpcCall(session);
    times.push(performance.now() - t0);
  }
  session.close();
  return times;
}

async function grpcNewConnections(port, n) {
  const times = [];
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    const session = connect(`http://127.0.0.1:${port}`);
    await grpcCall(session);
    times.push(performance.now() - t0);
    session.destroy();
  }
  return times;
}

const REQUEST = Buffer.from('GET /ready HTTP/1.1\r\nHost: probe\r\n\r\n');
async function httpOnOneConnection(port, n) {
  const socket = connectTcp(port, '127.0.0.1');
  socket.setNoDelay(true);
  await once(socket, 'connect');
  const times = [];
  let wake;
  socket.on('data', (chunk) => {
    if (chunk.includes('READY')) wake();
  });
  for (let i = 0; i <= n; i++) {
    const t0 = performance.now();
    await new Promise((resolve) => {
      wake = resolve;
      socket.write(REQUEST);
    });
    if (i > 0) times.push(performance.now() - t0);
  }
  socket.destroy();
  return times;
}

async function httpNewConnections(port, n) {
  const times = [];
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    const socket = connectTcp(port, '127.0.0.1');
    socket.on('connect', () => socket.write('GET /ready HTTP/1.1\r\nHost: probe\r\nConnection: close\r\n\r\n'));
    socket.resume();
    await once(socket, 'close');
    times.push(performance.now() - t0);
  }
  return times;
}

// One measurement: calls against a fresh server process; latency per call and server CPU per call.
async function measure(kind, run, n) {
  const server = await startServer(kind);
  await run(server.port, 50); // warm-up (loads node:http2 and the gRPC code on the probe)
  const before = await server.cpu();
  const times = await run(server.port, n);
  const after = await server.cpu();
  server.close();
  return { times, cpuUsPerCall: (after.cpuUs - before.cpuUs) / n };
}

const CASES = [
  ['probe: GET /ready (keep-alive)', 'probe', httpOnOneConnection, calls],
  ['probe: gRPC Check (one session)', 'probe', grpcOnOneSession, calls],
  ['grpc-js + grpc-health-check: Check (one session)', 'grpc-js', grpcOnOneSession, calls],
  ['probe: GET /ready (new connection each)', 'probe', httpNewConnections, fresh],
  ['probe: gRPC Check (new connection each, as kubelet)', 'probe', grpcNewConnections, fresh],
  ['grpc-js + grpc-health-check: Check (new connection each)', 'grpc-js', grpcNewConnections, fresh],
];

const results = new Map(CASES.map(([name]) => [name, { times: [], cpu: [] }]));
for (let round = 0; round < rounds; round++) {
  for (const [name, kind, run, n] of CASES) {
    const { times, cpuUsPerCall } = await measure(kind, run, n);
    results.get(name).times.push(...times);
    results.get(name).cpu.push(cpuUsPerCall);
  }
}

const median = (values) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
};
const p99 = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length * 0.99)];

// Start-up: a probe that never sees a gRPC connection, and the same after its first one.
async function startup(dist) {
  const server = await startServer('probe', dist);
  const result = { rss: server.rss, startMs: server.startMs, http2Loaded: server.http2Loaded };
  server.close();
  return result;
}
const startSamples = [];
for (let i = 0; i < 9; i++) startSamples.push(await startup());
const baseSamples = [];
if (args.base) for (let i = 0; i < 9; i++) baseSamples.push(await startup(args.base));
const afterFirst = await (async () => {
  const server = await startServer('probe');
  await grpcNewConnections(server.port, 1);
  const after = await server.cpu();
  server.close();
  return after;
})();

const lines = [
  `# gRPC health: what it costs`,
  '',
  `\`node bench/grpc.mjs\` on ${new Date().toISOString().slice(0, 10)}, node ${process.version}, ${cpus().length} × ${cpus()[0]?.model.trim()}; ${rounds} rounds, ${calls} sequential calls per keep-alive case, ${fresh} per new-connection case. Latency is the client's, one call at a time; CPU is the server process's, per call (median of the rounds). A shared, busy machine: compare the rows with each other (ratios), not with other machines.`,
  '',
  '| case | median latency (ms) | p99 (ms) | server CPU per call (µs) |',
  '| --- | --- | --- | --- |',
  ...CASES.map(([name]) => {
    const r = results.get(name);
    return `| ${name} | ${median(r.times).toFixed(3)} | ${p99(r.times).toFixed(3)} | ${median(r.cpu).toFixed(0)} |`;
  }),
  '',
  `Start-up of a started probe that has never seen a gRPC connection (process start to listening, and RSS; medians of 9): ${median(startSamples.map((s) => s.startMs)).toFixed(1)} ms, ${(median(startSamples.map((s) => s.rss)) / 1048576).toFixed(1)} MB, node:http2 loaded: ${startSamples.some((s) => s.http2Loaded) ? 'yes' : 'no'}` +
    (baseSamples.length ? `; the build before gRPC support: ${median(baseSamples.map((s) => s.startMs)).toFixed(1)} ms, ${(median(baseSamples.map((s) => s.rss)) / 1048576).toFixed(1)} MB` : '') +
    `. After its first gRPC connection: ${(afterFirst.rss / 1048576).toFixed(1)} MB, node:http2 loaded: ${afterFirst.http2Loaded ? 'yes' : 'no'}.`,
  '',
];
const text = lines.join('\n');
console.log(text);
writeFileSync(args.out ?? new URL('./grpc-results.md', import.meta.url), text);
