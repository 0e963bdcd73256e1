// @cloudnative/health-connect's readiness endpoint on a bare node:http server.
const { createServer } = require('node:http');
const { HealthChecker, ReadinessEndpoint } = require('@cloudnative/health-connect');

const readiness = ReadinessEndpoint(new HealthChecker());
const server = createServer((req, res) => {
  if (req.url === '/ready') readiness(req, res, () => {});
  else res.end('the app');
});
server.listen(Number(process.env.PORT));
