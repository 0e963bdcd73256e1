// The server side of bench/grpc.mjs, in a process of its own so that its CPU time is its own:
// `probe` (service-probe, HTTP and gRPC on one port) or `grpc-js` (@grpc/grpc-js with
// grpc-health-check). Prints its port on IPC, then answers { cmd: 'cpu' } with its CPU time.
import { createRequire } from 'node:module';

const kind = process.argv[2];
const dist = process.argv[3] ?? '../dist/index.js';
const require = createRequire(import.meta.url);
let port;
if (kind === 'probe') {
  const { createProbe } = await import(dist);
  const probe = createProbe({ host: '127.0.0.1', port: 0, state: 'READY' });
  ({ port } = await probe.start());
} else {
  const grpc = require('@grpc/grpc-js');
  const { HealthImplementation } = require('grpc-health-check');
  const server = new grpc.Server();
  new HealthImplementation({ '': 'SERVING' }).addToServer(server);
  port = await new Promise((resolve, reject) => server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (e, p) => (e ? reject(e) : resolve(p))));
}
process.on('message', (message) => {
  if (message.cmd === 'cpu') {
    const { user, system } = process.cpuUsage();
    process.send({ cpuUs: user + system, rss: process.memoryUsage().rss, http2Loaded: process.moduleLoadList.some((m) => m.includes('http2')) });
  }
});
process.send({ port, startMs: performance.now(), rss: process.memoryUsage().rss, http2Loaded: process.moduleLoadList.some((m) => m.includes('http2')) });
