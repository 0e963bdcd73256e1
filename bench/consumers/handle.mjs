// The README's third example: the probe paths on the service's own node:http server.
import { createServer } from 'node:http';
import { createProbe } from 'service-probe';

const probe = createProbe({ state: 'READY' });
const server = createServer((req, res) => {
  if (probe.handle(req, res)) return;
  res.end('the app');
});
server.listen(Number(process.env.PORT));
