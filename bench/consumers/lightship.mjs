// lightship on a fixed port (outside Kubernetes it would pick a free one by itself).
import { createLightship } from 'lightship';

const lightship = await createLightship({ detectKubernetes: false, port: Number(process.env.PORT) });
lightship.signalReady();
