// One server under test for the throughput runs, in its own process:
// `node bench/server.mjs <contender> [service-probe entry URL]` (the entry of the package installed
// from its tarball; dist/ by default). It listens on 127.0.0.1 (port 0), makes GET /ready answer
// 200, then tells the parent its port over IPC. The parent asks it for its CPU time over the same
// channel, and kills it. Start-up and memory are measured elsewhere (bench/startup.mjs), from
// outside, without this IPC channel, which loads node:net and child_process into every process.
// Every contender is imported lazily, so a process pays only for the code it measures.
import { createServer } from 'node:http';

const contender = process.argv[2];
const PACKAGE = process.argv[3] ?? new URL('../dist/index.js', import.meta.url).href;
const HOST = '127.0.0.1';

function listening(server) {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, HOST, () => resolve(server.address().port));
  });
}

// The probe's own 200 READY bytes, for the servers that stand for "the limit".
const PROBE_HEADERS = [
  'Content-Type', 'text/plain; charset=utf-8',
  'Content-Length', '5',
  'Cache-Control', 'no-store',
  'X-Content-Type-Options', 'nosniff',
];
const READY_BODY = Buffer.from('READY');

const starters = {
  async standalone() {
    const { createProbe } = await import(PACKAGE);
    const probe = createProbe({ host: HOST, port: 0, state: 'READY', server: 'http' });
    return (await probe.start()).port;
  },

  // The standalone server on the probe's own node:net request reader (the default since it passed
  // the whole test and reliability suite).
  async 'standalone-net'() {
    const { createProbe } = await import(PACKAGE);
    const probe = createProbe({ host: HOST, port: 0, state: 'READY', server: 'net' });
    return (await probe.start()).port;
  },

  async handle() {
    const { createProbe } = await import(PACKAGE);
    const probe = createProbe({ state: 'READY' });
    const server = createServer((req, res) => {
      if (!probe.handle(req, res)) {
        res.statusCode = 404;
        res.end();
      }
    });
    return listening(server);
  },

  // A bare node:http server answering the probe's exact bytes: the reference of every ratio.
  async bare() {
    const server = createServer((req, res) => {
      res.writeHead(200, PROBE_HEADERS);
      res.end(READY_BODY);
    });
    return listening(server);
  },

  // The practical limit: node:net writing a precomputed response per request head, no parsing
  // beyond finding the end of each head. Not a server anyone should ship; a ceiling.
  async 'raw-net'() {
    const net = await import('node:net');
    let response;
    const refresh = () => {
      response = Buffer.from(
        'HTTP/1.1 200 OK\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: 5\r\nCache-Control: no-store\r\n' +
          `X-Content-Type-Options: nosniff\r\nDate: ${new Date().toUTCString()}\r\nConnection: keep-alive\r\nKeep-Alive: timeout=5\r\n\r\nREADY`,
        'latin1',
      );
    };
    refresh();
    setInterval(refresh, 1000).unref();
    const closeResponse = () => Buffer.from(response.toString('latin1').replace('Connection: keep-alive\r\nKeep-Alive: timeout=5', 'Connection: close'), 'latin1');
    const server = net.createServer((socket) => {
      socket.setNoDelay(true);
      let pending = '';
      socket.on('data', (chunk) => {
        pending += chunk.toString('latin1');
        let end;
        while ((end = pending.indexOf('\r\n\r\n')) !== -1) {
          const head = pending.slice(0, end);
          pending = pending.slice(end + 4);
          if (/\r\nconnection: *close/i.test(head)) {
            socket.end(closeResponse());
            return;
          }
          socket.write(response);
        }
      });
      socket.on('error', () => socket.destroy());
    });
    return listening(server);
  },

  async lightship() {
    const { createLightship } = await import('lightship');
    // Outside Kubernetes lightship runs in "local mode" and picks a free port.
    const lightship = await createLightship({ detectKubernetes: true });
    lightship.signalReady();
    return lightship.server.address().port;
  },

  async terminus() {
    const { createTerminus } = await import('@godaddy/terminus');
    const server = createServer((req, res) => {
      res.statusCode = 404;
      res.end();
    });
    createTerminus(server, { healthChecks: { '/ready': async () => 'READY' } });
    return listening(server);
  },

  async 'health-connect'() {
    const { HealthChecker, ReadinessEndpoint } = await import('@cloudnative/health-connect');
    const checker = new HealthChecker();
    const readiness = ReadinessEndpoint(checker);
    const server = createServer((req, res) => {
      if (req.url === '/ready') return readiness(req, res, () => {});
      res.statusCode = 404;
      res.end();
    });
    return listening(server);
  },
};

const start = starters[contender];
if (start === undefined) {
  console.error(`bench/server.mjs: unknown contender ${contender}`);
  process.exit(2);
}
const port = await start();
process.send({ type: 'listening', port });
process.on('message', (message) => {
  if (message.type === 'cpu') process.send({ type: 'cpu', cpu: process.cpuUsage() });
});
process.on('disconnect', () => process.exit(0));
