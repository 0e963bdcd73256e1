// The README's first example: the crate's API, one probe per process.
import { startProbe, setServiceState, ServiceState } from 'service-probe';

await startProbe([0, 0, 0, 0], Number(process.env.PORT), ServiceState.Up);
setServiceState(ServiceState.Ready);
