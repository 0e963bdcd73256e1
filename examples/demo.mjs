// The demo service of `npm start`: a probe on port 11333 (PORT overrides; 0 picks a free port),
// UP while it "warms up", then READY, with this library's graceful shutdown on SIGTERM/SIGINT.
// Try the printed commands in another terminal; Ctrl-C stops it (a second Ctrl-C forces it).
import { createServer } from 'node:http';
import { createProbe, ProbeStartError, ServiceState } from 'service-probe';

const port = process.env.PORT === undefined ? 11333 : Number(process.env.PORT);
const warmUpMs = process.env.WARM_UP_MS === undefined ? 3000 : Number(process.env.WARM_UP_MS);

// The probe's info, warn and error lines (start, each shutdown step, failing checks) go to the console;
// state changes are printed by the 'change' listener below.
const logger = { info: (m) => console.log(`[probe] ${m}`), warn: (m) => console.log(`[probe] ${m}`), error: (m) => console.error(`[probe] ${m}`) };
const probe = createProbe({ port, state: ServiceState.Up, logger });
probe.on('change', (next, previous) => console.log(`state: ${previous} -> ${next}`));

// The service's own work: here a tiny app server on a free port, drained on shutdown.
const app = createServer((req, res) => res.end('hello from the app\n'));
await new Promise((resolve) => app.listen(0, '127.0.0.1', resolve));
probe.trackServer(app);
probe.onShutdown(() => console.log('shutdown hook: closing the database pool (pretend)'));
probe.handleSignals();

let bound;
try {
  ({ port: bound } = await probe.start());
} catch (error) {
  // A taken port is the usual first-run problem: say what to do in one line, not with a stack.
  if (!(error instanceof ProbeStartError && error.code === 'SOCKET_UNAVAILABLE')) throw error;
  const reason = error.cause?.code === 'EADDRINUSE' ? `port ${port} is already in use` : `cannot listen on port ${port} (${error.cause?.code ?? error.message})`;
  console.error(`demo: ${reason}; pick another with PORT=<port> npm start (PORT=0 picks a free one)`);
  app.close();
  process.exit(1);
}
const base = `http://127.0.0.1:${bound}`;
console.log(`probe listening on ${base}/ (state UP, warming up for ${warmUpMs} ms); app on http://127.0.0.1:${app.address().port}/`);
console.log('try:');
console.log(`  curl -i ${base}/ready      # 503 UP now, 200 READY once warmed up`);
console.log(`  curl -i ${base}/health     # 200 while the process is alive`);
console.log(`  curl -I ${base}/ready      # HEAD: same status, no body`);
console.log(`  curl -s '${base}/ready?verbose'   # one line per health check`);
console.log(`  npx service-probe check ${base}/ready && echo healthy`);
console.log(`stop: Ctrl-C, or kill -TERM ${process.pid}: a graceful shutdown (DRAINING, then exit 0); a second Ctrl-C forces it`);
console.log(`port: the probe listens on PORT (default 11333; PORT=0 picks a free one), e.g. PORT=8081 npm start`);

// A health check of the demo's own: the app server must be listening.
probe.addCheck('app-server', () => app.listening, { affects: 'readiness' });

const warmUp = setTimeout(() => probe.setState(ServiceState.Ready), warmUpMs);
probe.on('change', (next) => {
  if (next === ServiceState.Draining) clearTimeout(warmUp);
});
