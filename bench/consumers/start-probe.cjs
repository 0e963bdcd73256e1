// The README's first example, from CommonJS (require() of the ES module package).
const { startProbe, setServiceState, ServiceState } = require('service-probe');

startProbe([0, 0, 0, 0], Number(process.env.PORT), ServiceState.Up).then(() => setServiceState(ServiceState.Ready));
