// The demo service of `npm start`: a probe on port 11333 (PORT overrides; 0 picks a free port),
// UP while it "warms up", then READY. Try the printed commands in another terminal; Ctrl-C stops it.
import { createProbe, ServiceState } from 'service-probe';

const port = process.env.PORT === undefined ? 11333 : Number(process.env.PORT);
const warmUpMs = process.env.WARM_UP_MS === undefined ? 3000 : Number(process.env.WARM_UP_MS);

const probe = createProbe({ port, state: ServiceState.Up });
probe.on('change', (next, previous) => console.log(`state: ${previous} -> ${next}`));

const { port: bound } = await probe.start();
const base = `http://127.0.0.1:${bound}`;
console.log(`probe listening on ${base}/ (state UP, warming up for ${warmUpMs} ms)`);
console.log('try:');
console.log(`  curl -i ${base}/ready      # 503 UP now, 200 READY once warmed up`);
console.log(`  curl -i ${base}/health     # 200 while the process is alive`);
console.log(`  curl -I ${base}/ready      # HEAD: same status, no body`);
console.log(`  npx service-probe check ${base}/ready && echo healthy`);

const warmUp = setTimeout(() => probe.setState(ServiceState.Ready), warmUpMs);

let stopping = false;
for (const signal of ['SIGTERM', 'SIGINT']) {
  process.on(signal, async () => {
    if (stopping) process.exit(1); // a second Ctrl-C: leave at once
    stopping = true;
    clearTimeout(warmUp);
    console.log(`${signal}: stopping`);
    probe.setState(ServiceState.Draining);
    await probe.stop();
    console.log('stopped');
  });
}
