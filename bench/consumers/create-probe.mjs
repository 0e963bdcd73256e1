// The README's second example: a probe of its own.
import { createProbe } from 'service-probe';

const probe = createProbe({ port: Number(process.env.PORT) });
await probe.start();
probe.setState('READY');
