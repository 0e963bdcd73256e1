// A service as the README's graceful shutdown shows it, for the smoke suite: an app server tracked
// by the probe, a shutdown hook, handleSignals. Prints its probe port, its state changes and its hook.
import { createServer } from 'node:http';
import { createProbe } from '../../dist/index.js';

const probe = createProbe({ host: '127.0.0.1', port: 0 });
probe.on('change', (next, previous) => console.log(`state ${previous} -> ${next}`));
const app = createServer((req, res) => res.end('hello'));
await new Promise((resolve) => app.listen(0, '127.0.0.1', resolve));
probe.trackServer(app);
probe.onShutdown(() => console.log('hook ran'));
probe.handleSignals({ drainDelayMs: 50, timeoutMs: 5000 });
const { port } = await probe.start({ state: 'READY' });
console.log(`listening ${port}`);
