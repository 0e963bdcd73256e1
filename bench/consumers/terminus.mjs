// @godaddy/terminus as its README sets it up, on a bare node:http server.
import { createServer } from 'node:http';
import { createTerminus } from '@godaddy/terminus';

const server = createServer((req, res) => res.end('the app'));
createTerminus(server, { healthChecks: { '/ready': async () => 'READY' } });
server.listen(Number(process.env.PORT));
