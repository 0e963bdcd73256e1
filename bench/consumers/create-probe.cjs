// The README's second example, from CommonJS (require() of the ES module package).
const { createProbe } = require('service-probe');

const probe = createProbe({ port: Number(process.env.PORT) });
probe.start().then(() => probe.setState('READY'));
