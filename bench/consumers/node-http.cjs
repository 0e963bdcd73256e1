// Bare node:http answering GET /ready: the reference of every start-up ratio.
const { createServer } = require('node:http');

const server = createServer((req, res) => {
  if (req.url === '/ready') res.end('READY');
  else {
    res.statusCode = 404;
    res.end();
  }
});
server.listen(Number(process.env.PORT));
